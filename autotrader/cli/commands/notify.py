"""`autotrader notify test`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import NotifyReport

notify_app = typer.Typer(help="Notifications through apprise ([notify] urls).", no_args_is_help=True,
                         add_completion=False)  # fmt: skip


@notify_app.command("test")
def test(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Send one test message to each [notify] URL, whatever its level; exit 1 when any URL failed."""
    from autotrader.pipeline import notify
    from autotrader.pipeline.context import invoke_readonly

    outcome = invoke_readonly("notify test", notify.test, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=_render)


def _render(report: NotifyReport) -> None:
    render.table(
        "notification URLs",
        ["url", "level", "sent", "error"],
        [[f"#{t.index} {t.target}", t.level, t.sent, t.error or ""] for t in report.targets],
    )
