"""`autotrader replay`."""

from __future__ import annotations

from typing import Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish


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


def render_summary(payload: dict) -> None:
    from autotrader.cli.commands.scorecard import render_scorecard

    if payload.get("rows"):
        render_scorecard(payload)
    render.table(
        "replay",
        ["sessions", "slots", "seconds", "sessions/s", "orders", "fills", "final equity"],
        [
            [
                payload.get("sessions"),
                payload.get("slots"),
                payload.get("seconds"),
                payload.get("sessions_per_second"),
                payload.get("orders_total"),
                payload.get("fills_total"),
                payload.get("final_equity"),
            ]
        ],
    )
