"""Output: one JSON object on stdout (``--json``), or rich text for people. Errors go to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from autotrader.errors import AutotraderError


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


def print_notes(title: str, payload: dict[str, Any]) -> None:
    from rich.markup import escape

    console = _console()
    flag = " [yellow](dry run: nothing sent, ledger unchanged)[/]" if payload.get("dry_run") else ""
    status = "[green]ok[/]" if payload.get("ok") else f"[red]exit {payload.get('exit_code')}[/]"
    console.print(f"[bold]{escape(title)}[/] as of {payload.get('as_of')}  {status}{flag}")
    for note in payload.get("notes", []):
        console.print(f"  {escape(str(note))}")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
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


def render_orders(payload: dict[str, Any]) -> None:
    table(
        "orders",
        ["symbol", "side", "qty", "type", "tif", "book", "leg", "client_order_id", "reason"],
        [
            [
                o["symbol"],
                o["side"],
                o["qty"],
                o["type"],
                o["time_in_force"],
                o["book"],
                o["leg"],
                o["client_order_id"],
                o["reason"],
            ]
            for o in payload.get("orders", [])
        ],
    )
    table("skipped", ["symbol", "reason"], [[s["symbol"], s["reason"]] for s in payload.get("skipped", [])])


Renderer = Callable[[dict[str, Any]], None]
