"""`autotrader report`."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import check_options, check_page, finish

if TYPE_CHECKING:
    from autotrader.domain.reports import DailyReport


def report(
    day: Annotated[
        str | None, typer.Option("--date", help="The New York day to report (YYYY-MM-DD; default: the as-of's).")
    ] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write the page (with charts) here.")] = None,
    markdown: Annotated[
        bool, typer.Option("--md", help="Print the report as Markdown instead of tables (--json wins).")
    ] = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """The daily report: the day's orders, fills and P&L, open positions, performance against SPY, breakers,
    approvals, signals and the day's runs with their errors."""
    from autotrader.pipeline import report as step
    from autotrader.pipeline.context import invoke

    chosen = None if day is None else check_options("report", partial(step.check_day, day, as_of), json_output, dry_run)
    check_page("report", "--html", html_file, json_output, dry_run)
    body = partial(step.run, day=chosen, html=html_file)
    outcome = invoke("report", body, config_path=config, as_of=as_of, dry_run=dry_run)
    if markdown and not json_output:
        finish(outcome, json_output=False, renderer=_markdown, plain=True)
    finish(outcome, json_output=json_output, renderer=_render)


def _markdown(report: DailyReport) -> None:
    from autotrader.exports import daily

    sys.stdout.write(daily.markdown(report))


def _render(report: DailyReport) -> None:
    from autotrader.exports import daily

    render.table(daily.title(report), ["figure", "value"], [[f.label, f.text] for f in daily.headline(report)])
    for section in daily.sections(report):
        if not section.rows:
            render.lines([f"{section.title}: {section.empty}"], indent="")
            continue
        keep = section.short if section.short is not None else range(len(section.headers))
        rows = [[row[i] for i in keep] for row in section.rows]
        render.table(section.title, [section.headers[i] for i in keep], rows)
