"""`autotrader scan`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import ExplainReport, ScanReport

FileOption = Annotated[
    list[str] | None,
    typer.Option(
        "--file",
        help="Import this CSV or JSON file instead of the inbox (repeatable; - reads stdin). "
        "Files outside the inbox are never moved.",
        metavar="PATH",
    ),
]


def scan(
    file: FileOption = None,
    explain: Annotated[
        str | None,
        typer.Option("--explain", help="Import nothing: show each built-in scanner's conditions for SYMBOL.",
                     metavar="SYMBOL"),
    ] = None,
    setup: Annotated[
        str | None, typer.Option("--setup", help="With --explain: only this scanner (bollinger, regression).")
    ] = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Import signal files from the inbox (or --file) and the built-in sources; archive imported inbox files.

    A structurally bad file (missing/unknown column, bad number or date, truncated line, not UTF-8) imports
    nothing and exits 2; bad rows in a good file are skipped and listed with their line.
    """
    from autotrader.pipeline import scan as step
    from autotrader.pipeline.context import invoke

    if explain is not None:
        from functools import partial

        from autotrader.pipeline import scanners

        body = partial(scanners.explain, symbol=explain, setup=setup)
        prepare = partial(scanners.check_setup, setup)
        outcome = invoke("scan --explain", body, config_path=config, as_of=as_of, dry_run=dry_run, prepare=prepare)
        finish(outcome, json_output=json_output, renderer=_render_explained)
    intake = step.Intake(file)
    outcome = invoke("scan", intake.run, config_path=config, as_of=as_of, dry_run=dry_run, prepare=intake.prepare)
    finish(outcome, json_output=json_output, renderer=_render)


def _render_explained(report: ExplainReport) -> None:
    from autotrader.exports import fmt

    for s in report.setups:
        verdict = "fires" if s.fired else "does not fire"
        render.table(
            f"{s.source} on {report.session}: {verdict}",
            ["condition", "held"],
            [[c.name, "yes" if c.held else "NO"] for c in s.conditions],
        )
        render.lines([", ".join(f"{name} {fmt.number(v)}" for name, v in s.values.items())])
        if s.signal is not None:
            render.lines([f"signal: {s.signal['note']}; stop {fmt.number(s.signal['stop'], 2)}, conviction "
                          f"{s.signal['conviction']}"])  # fmt: skip


def _render(report: ScanReport) -> None:
    render.table(
        "imported signals",
        ["id", "symbol", "category", "source", "conviction"],
        [[s.id, s.symbol, s.category, s.source, s.conviction] for s in report.signals],
    )
    render.table(
        "skipped rows",
        ["file", "line", "symbol", "reason"],
        [[s.file, s.line, s.symbol, s.reason] for s in report.skipped],
    )
    render.table(
        "documents",
        ["origin", "status", "rows", "imported", "skipped", "archived to"],
        [[d.origin, d.status, d.rows, d.imported, d.skipped, d.archived_to] for d in report.documents],
    )
