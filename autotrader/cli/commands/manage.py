"""`autotrader dipbuy` and `autotrader profittake`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish


class ManagedBook(StrEnum):
    signals = "signals"


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
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Exits first (day-trade close-out, time stop, loss cut, stops, targets), then long-term profit-take tiers."""
    from autotrader.pipeline import manage
    from autotrader.pipeline.context import invoke

    outcome = invoke("profittake", manage.run_profittake, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=render_legs)


def render_legs(payload: dict) -> None:
    render.table(
        "management legs",
        ["symbol", "side", "qty", "leg", "tier", "trigger", "status", "reason"],
        [
            [o["symbol"], o["side"], o["qty"], o["leg"], o["tier"], o.get("trigger_price"), o["status"], o["reason"]]
            for o in payload.get("orders", [])
        ],
    )  # fmt: skip
    render.table(
        "positions",
        ["symbol", "category", "qty", "avg cost", "price", "stop", "target", "high-water", "fired"],
        [
            [p["symbol"], p["category"], p["qty"], p["avg_cost"], p["price"], p["stop"], p["target"],
             p["high_water"], ", ".join(p["fired"])]
            for p in payload.get("positions", [])
        ],
    )  # fmt: skip
    render.table("skipped", ["symbol", "reason"], [[s["symbol"], s["reason"]] for s in payload.get("skipped", [])])
