"""`autotrader replay`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import check_page, finish

if TYPE_CHECKING:
    from autotrader.domain.reports import ReplayReport


def replay(
    start: Annotated[str, typer.Option("--start", help="First session to replay (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last session to replay (YYYY-MM-DD).")],
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Also write a page: equity vs SPY, trades, the scorecard.")
    ] = None,
    notify: Annotated[
        bool, typer.Option("--notify", help="Send each replayed slot's alerts to [notify] urls: a rehearsal.")
    ] = False,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="SECTION.KEY=VALUE",
            help='What-if: run with this setting instead of the config\'s (the value as TOML: false, 5, "text", '
            "[1, 2]); repeatable. This replay only: the config file is not changed.",
        ),
    ] = None,
    signals: Annotated[
        Path | None,
        typer.Option(
            "--signals",
            metavar="FOLDER",
            help="Replay your own recommendation files (CSV, subfolders too, e.g. signals/archive), each row fed "
            "at its arrival; the synthetic feed is off.",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Every step of every slot as cron runs it (slower; the same orders and equity)."),
    ] = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the schedule over past sessions with a simulated clock and the simulated broker (ledger-replay.db)."""
    from autotrader.pipeline import replay as step
    from autotrader.pipeline.replay_inputs import ReplayInputs

    inputs = ReplayInputs(config, overrides or (), signals)

    def body(ctx):
        # Like every report page, the one asked for is written under --dry-run too: the ledger is what a dry run
        # leaves untouched, not the file the owner named.
        page = html_file
        ctx = inputs.attach(ctx)
        with render.progress("replaying", render.wants_progress(json_output)) as advance:
            return inputs.annotate(step.run(ctx, step.parse_day(start, "--start"), step.parse_day(end, "--end"),
                                            html=page, notify=notify, progress=advance, full=full))  # fmt: skip

    check_page("replay", "--html", html_file, json_output, dry_run)
    outcome = step.invoke_replay(
        "replay",
        body,
        config_path=config,
        as_of=as_of,
        dry_run=dry_run,
        # Every replay starts from an empty ledger: the real run deletes the old file, a dry run ignores it.
        prepare=None if dry_run else step.discard_previous,
        fresh=True,
        # --set and --signals are read and checked before anything runs: a bad one is exit 2, nothing written.
        load=inputs.load,
    )
    finish(outcome, json_output=json_output, renderer=render_summary)


def render_summary(report: ReplayReport) -> None:
    from autotrader.cli.commands.scorecard import render_rows
    from autotrader.domain.reports import plain_json
    from autotrader.exports import fmt
    from autotrader.exports.replay import PERFORMANCE_HEADERS, performance_rows

    if report.rows and report.calibration is not None:
        render_rows(report.rows, report.calibration, report.horizons or (), report.primary_horizon or "")
    render.table(
        "replay",
        ["sessions", "slots", "orders", "fills", "final equity", "time"],
        [[fmt.count(report.sessions), fmt.count(report.slots), fmt.count(report.orders_total),
          fmt.count(report.fills_total), fmt.usd(report.final_equity), f"{report.seconds:.1f} s"]],
    )  # fmt: skip
    comparison = plain_json(report.performance) if report.performance is not None else None
    render.table("performance", PERFORMANCE_HEADERS[:7], [row[:7] for row in performance_rows(comparison)])
