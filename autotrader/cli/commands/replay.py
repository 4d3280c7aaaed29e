"""`autotrader replay`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import ReplayReport


def replay(
    start: Annotated[str, typer.Option("--start", help="First session to replay (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last session to replay (YYYY-MM-DD).")],
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the schedule over past sessions with a simulated clock and the simulated broker (ledger-replay.db)."""
    from autotrader.pipeline import replay as step
    from autotrader.pipeline.context import invoke

    def body(ctx):
        return step.run(ctx, step.parse_day(start, "--start"), step.parse_day(end, "--end"))

    outcome = invoke(
        "replay",
        body,
        config_path=config,
        as_of=as_of,
        dry_run=dry_run,
        ledger_mode=step.REPLAY_MODE,
        force_sim=True,
        simulated_clock=True,
        durable=False,
        # Every replay starts from an empty ledger: the real run deletes the old file, a dry run ignores it.
        prepare=None if dry_run else step.discard_previous,
        fresh=True,
    )
    finish(outcome, json_output=json_output, renderer=render_summary)


def render_summary(report: ReplayReport) -> None:
    from autotrader.cli.commands.scorecard import render_rows

    if report.rows and report.calibration is not None:
        render_rows(report.rows, report.calibration, report.horizons or (), report.primary_horizon or "")
    render.table(
        "replay",
        ["sessions", "slots", "seconds", "sessions/s", "orders", "fills", "final equity"],
        [
            [
                report.sessions,
                report.slots,
                report.seconds,
                report.sessions_per_second,
                report.orders_total,
                report.fills_total,
                report.final_equity,
            ]
        ],
    )
