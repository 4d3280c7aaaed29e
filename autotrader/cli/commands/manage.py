"""`autotrader dipbuy` and `autotrader profittake`."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import ManageReport


class ManagedBook(StrEnum):
    signals = "signals"
    rebalance = "rebalance"


BookOption = Annotated[
    ManagedBook, typer.Option("--book", help="Which book's positions to manage.", case_sensitive=False)
]


def dipbuy(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Add to long-term positions that fell, in tiers (cooldown, max position, allocation cap, regime)."""
    from autotrader.pipeline import manage
    from autotrader.pipeline.context import invoke

    outcome = invoke("dipbuy", manage.run_dipbuy, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=render_legs)


def profittake(
    book: BookOption = ManagedBook.signals,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            help="--book rebalance: the trailing-stop preset (conservative, moderate, aggressive; default "
            "[rebalance] profit_taker_preset).",
        ),
    ] = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Signals book: exits first (day-trade close-out, time stop, loss cut, stops, targets), then long-term
    profit-take tiers. Rebalance book: the trailing-stop profit taker."""
    from functools import partial

    from autotrader.pipeline import manage
    from autotrader.pipeline.context import invoke

    body = partial(manage.run_profittake, book=str(book), preset=preset)
    prepare = partial(_check_preset, book=str(book), preset=preset)
    outcome = invoke("profittake", body, config_path=config, as_of=as_of, dry_run=dry_run, prepare=prepare)
    finish(outcome, json_output=json_output, renderer=render_legs)


def render_legs(report: ManageReport) -> None:
    render.table(
        "management legs",
        ["symbol", "side", "qty", "leg", "tier", "trigger", "status", "reason"],
        [[o.symbol, o.side, o.qty, o.leg, o.tier, o.trigger_price, o.status, o.reason] for o in report.orders],
    )
    render.table(
        "positions",
        ["symbol", "category", "qty", "avg cost", "price", "stop", "target", "high-water", "fired"],
        [
            [p.symbol, p.category, p.qty, p.avg_cost, p.price, p.stop, p.target, p.high_water, ", ".join(p.fired)]
            for p in report.positions
        ],
    )
    render.table("skipped", ["symbol", "reason"], [[s.symbol, s.reason] for s in report.skipped])


def _check_preset(config, *, book: str, preset: str | None) -> None:
    """A preset names one of the configured ones, and only the rebalance book has presets (exit 2 otherwise)."""
    from autotrader.errors import InputError

    if preset is None:
        return
    presets = config.settings.rebalance.profit_taker_presets
    if book != "rebalance":
        raise InputError("--preset applies to --book rebalance only")
    if preset not in presets:
        raise InputError(f"--preset {preset!r}: not a preset; choose one of {', '.join(presets)}")
