"""`autotrader demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autotrader.cli import render
from autotrader.cli.commands.replay import render_summary
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish
from autotrader.domain.enums import ExitCode
from autotrader.pipeline.demo import DEFAULT_SESSIONS


def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Workspace folder to create.")] = Path("autotrader-demo"),
    sessions: Annotated[int, typer.Option("--sessions", help="How many past sessions to replay.")] = DEFAULT_SESSIONS,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a fresh workspace and replay about a quarter of a year of synthetic sessions through every step."""
    from autotrader.errors import AutotraderError
    from autotrader.pipeline import demo as step
    from autotrader.pipeline.context import Outcome, invoke
    from autotrader.settings import load_config

    if config is not None:
        outcome = Outcome("demo", ExitCode.BAD_INPUT, error=_config_not_used())
        finish(outcome, json_output=json_output)
    scratch = None
    try:
        if dry_run:
            # Nothing may be written where the user pointed: rehearse in a throw-away folder instead.
            import tempfile

            scratch = tempfile.TemporaryDirectory(prefix="autotrader-demo-dry-run-")
            workspace = step.create_workspace(Path(scratch.name) / "workspace")
        else:
            workspace = step.create_workspace(folder)
    except AutotraderError as error:
        finish(Outcome("demo", error.exit_code, error=error, dry_run=dry_run), json_output=json_output)

    def body(ctx):
        with render.progress("demo", render.wants_progress(json_output)) as advance:
            return step.run(ctx, sessions, workspace=None if scratch is not None else workspace, progress=advance)

    outcome = invoke(
        "demo",
        body,
        config_path=None,
        as_of=as_of,
        dry_run=dry_run,
        load=lambda: load_config(workspace / "config.toml"),
        simulated_clock=True,
        # The workspace is new: its ledger is built in memory, as a replay's, and written when the demo ends.
        durable=False,
    )
    if scratch is not None:
        scratch.cleanup()
    finish(outcome, json_output=json_output, renderer=render_demo, title="demo")


def render_demo(report) -> None:
    """The replay's summary, then where to look: the pages the demo wrote, last, where the eye ends up."""
    render_summary(report)
    render.lines([f"open: {page}" for page in report.reports], indent="")


def _config_not_used():
    from autotrader.errors import InputError

    return InputError("demo makes its own workspace and config; --config is not used", hint="use --dir PATH")
