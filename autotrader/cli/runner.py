"""The end of every command: render the outcome and exit with its code (never a traceback for expected errors)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

from autotrader.cli import render

if TYPE_CHECKING:
    from autotrader.pipeline.context import Outcome


def finish(
    outcome: Outcome,
    *,
    json_output: bool,
    renderer: render.Renderer | None = None,
    title: str = "",
    plain: bool = False,
) -> NoReturn:
    """Print the outcome and exit with its code. ``plain``: the renderer's output is all there is (a file to
    install, with no header line before it)."""
    if outcome.error is not None:
        if json_output:
            render.print_json(
                render.error_payload(outcome.command, outcome.error, as_of=outcome.as_of, dry_run=outcome.dry_run)
            )
        render.print_error(outcome.error)
    elif outcome.report is not None:
        if json_output:
            render.print_json(outcome.report.to_json())
        else:
            if not plain:
                render.print_notes(title or outcome.command, outcome.report)
            (renderer or render.render_orders)(outcome.report)
    raise typer.Exit(outcome.exit_code)
