"""`autotrader run-daily`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import RunDailyReport


def run_daily(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Run every step of the current schedule slot, in order, in one process (cron's single entry)."""
    from autotrader.pipeline import run_daily as step
    from autotrader.pipeline.context import invoke

    outcome = invoke("run-daily", step.run, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=_render, title="run-daily")


def _render(report: RunDailyReport) -> None:
    render.table(
        f"slot: {report.slot}",
        ["step", "ok", "orders", "skipped", "notes"],
        [[s.command, s.ok, len(s.orders), len(s.skipped), s.reason or "; ".join(s.notes or ())] for s in report.steps],
    )
    render.render_orders(report)
