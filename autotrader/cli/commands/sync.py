"""`autotrader sync`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import SyncReport


def sync(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
    clear_halt: Annotated[
        list[str] | None,
        typer.Option(
            "--clear-halt",
            metavar="SYMBOL",
            help="Clear a symbol's halt after checking it (e.g. a real 50% drop that looked like a split).",
        ),
    ] = None,
) -> None:
    """Reconcile broker orders, fills and positions into the ledger; keep protective stops matching it
    (exit 3 on an unexplained difference)."""
    from functools import partial

    from autotrader.pipeline import sync as step
    from autotrader.pipeline.context import invoke

    symbols = tuple(s.strip().upper() for s in clear_halt or ())
    outcome = invoke("sync", partial(step.run, clear_halt=symbols), config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=_render)


def _render(report: SyncReport) -> None:
    render.table(
        "differences",
        ["kind", "symbol", "broker qty", "ledger qty", "by book"],
        [
            [d.kind, d.symbol if d.symbol is not None else d.fill_id, d.broker_qty, d.ledger_qty,
             d.by_book or d.reason]
            for d in report.diffs
        ],
    )  # fmt: skip
    render.table(
        "splits applied",
        ["symbol", "ratio", "ledger qty", "broker qty", "effective"],
        [[s.symbol, s.ratio, s.ledger_qty, s.broker_qty, s.effective_at] for s in report.splits],
    )
    render.table(
        "settled in-flight orders",
        ["client_order_id", "status", "message"],
        [[s.client_order_id, s.status, s.message] for s in report.settled],
    )
