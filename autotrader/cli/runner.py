"""The end of every command: render the outcome and exit with its code (never a traceback for expected errors)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer

from autotrader.cli import render

if TYPE_CHECKING:
    from autotrader.pipeline.context import Outcome

T = TypeVar("T")


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


def check_page(command: str, option: str, path: Path | None, json_output: bool, dry_run: bool) -> None:
    """A page path that cannot be written: exit 2 before the workspace is locked or the ledger opened."""
    if path is not None:
        from autotrader.exports.html_page import check_writable

        check_options(command, lambda: check_writable(option, path), json_output, dry_run)


def check_options(command: str, check: Callable[[], T], json_output: bool, dry_run: bool) -> T:
    """``check()``'s value (the options parsed); for bad options exit 2 before the workspace is locked or the
    ledger opened: nothing is written."""
    from autotrader.errors import InputError
    from autotrader.pipeline.context import Outcome

    try:
        return check()
    except InputError as error:
        finish(Outcome(command, error.exit_code, error=error, dry_run=dry_run), json_output=json_output)
