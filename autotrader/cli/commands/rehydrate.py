"""`autotrader rehydrate`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import RehydrateReport


def rehydrate(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """End of day: sync, recompute outcomes, snapshot the portfolio, review closed trades, update portfolio value."""
    from autotrader.pipeline import rehydrate as step
    from autotrader.pipeline.context import invoke

    outcome = invoke("rehydrate", step.run, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=_render)


def _render(report: RehydrateReport) -> None:
    snapshot = report.snapshot
    render.table(
        f"snapshot {snapshot.session_date}",
        ["equity", "cash", "deployed by book", "deployed by category"],
        [[snapshot.equity, snapshot.cash, snapshot.deployed, snapshot.by_category]],
    )
    render.table(
        "closed trades reviewed",
        ["symbol", "category", "exit", "managed P&L", "pick-only P&L", "management alpha", "R", "beat SPY"],
        [
            [r.symbol, r.category, r.exit_reason, r.managed_pnl, r.pick_pnl, r.management_alpha, r.r_multiple,
             r.beat_benchmark]
            for r in report.reviews
        ],
    )  # fmt: skip
