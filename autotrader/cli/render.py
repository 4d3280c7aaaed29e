"""Output: one JSON object on stdout (``--json``), or rich text for people. Errors go to stderr.

Each command has one renderer, which receives that command's typed report (``domain/reports.py``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from autotrader.errors import AutotraderError

if TYPE_CHECKING:  # the report types cost tens of milliseconds to build: not on `--help`'s path
    from autotrader.domain.reports import Report


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str, indent=2) + "\n")
    sys.stdout.flush()


def error_payload(command: str, error: AutotraderError, *, as_of: Any, dry_run: bool) -> dict[str, Any]:
    return {
        "command": command,
        "as_of": as_of.isoformat() if as_of is not None else None,
        "dry_run": dry_run,
        "ok": False,
        "exit_code": error.exit_code,
        "orders": [],
        "skipped": [],
        "error": {"code": error.code, "message": error.message, "hint": error.hint},
    }


def print_error(error: AutotraderError) -> None:
    from rich.markup import escape

    console = _console(stderr=True)
    console.print(f"[bold red]error[/]: {escape(error.message)}")
    if error.hint:
        console.print(f"[dim]hint[/]: {escape(error.hint)}")


def print_notes(title: str, report: Report) -> None:
    from rich.markup import escape

    console = _console()
    flag = " [yellow](dry run: nothing sent, ledger unchanged)[/]" if report.dry_run else ""
    status = "[green]ok[/]" if report.ok else f"[red]exit {report.exit_code}[/]"
    console.print(f"[bold]{escape(title)}[/] as of {report.as_of.isoformat()}  {status}{flag}")
    for note in report.notes:
        console.print(f"  {escape(str(note))}")


def lines(texts: Sequence[str], indent: str = "  ") -> None:
    """Plain lines under a table (nothing for none)."""
    from rich.markup import escape

    console = _console()
    for text in texts:
        console.print(f"{indent}{escape(text)}")


def table(title: str, columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    if not rows:
        return
    t = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        # The first column names the row: keep it on one line (long names are cut with an ellipsis).
        t.add_column(
            column, no_wrap=i == 0, overflow="ellipsis" if i == 0 else "fold", max_width=34 if i == 0 else None
        )
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    _console().print(t)


def render_orders(report: Report) -> None:
    table(
        "orders",
        ["symbol", "side", "qty", "type", "tif", "book", "leg", "client_order_id", "reason"],
        [
            [o.symbol, o.side, o.qty, o.type, o.time_in_force, o.book, o.leg, o.client_order_id, o.reason]
            for o in report.orders
        ],
    )
    table("skipped", ["symbol", "reason"], [[s.symbol, s.reason] for s in report.skipped])


# A renderer takes its own command's report type; ``finish`` hands it the report the command returned.
Renderer = Callable[[Any], None]
