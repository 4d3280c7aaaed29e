"""Output: one JSON object on stdout (``--json``), or rich text for people. Errors go to stderr.

Each command has one renderer, which receives that command's typed report (``domain/reports.py``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
    from autotrader.exports.fmt import ny_time

    console.print(f"[bold]{escape(title)}[/] as of {ny_time(report.as_of)}  {status}{flag}")
    for note in report.notes:
        console.print(f"  {escape(str(note))}")


def lines(texts: Sequence[str], indent: str = "  ") -> None:
    """Plain lines under a table (nothing for none)."""
    from rich.markup import escape

    console = _console()
    for text in texts:
        console.print(f"{indent}{escape(text)}")


# The widest a column is kept from shrinking: a word longer than this (an order id) folds; shorter ones
# (symbol, accepted, profit_take) never split across lines.
WORD_CAP = 24
NAME_CAP = 34


def _widths(columns: list[str], cells: list[list[str]], width: int) -> list[int]:
    """Each column's width so the table fits ``width`` (two spaces between columns): its natural width
    while that fits; otherwise the columns with the most room above their longest word give way first (their
    text wraps between words), and only when every column is down to its longest word (capped at
    ``WORD_CAP``) do words fold."""
    texts = [[header, *(row[i] for row in cells)] for i, header in enumerate(columns)]
    natural = [max(len(line) for text in column for line in (text.splitlines() or [""])) for column in texts]
    # The first column names the row (a source, a symbol): it keeps up to NAME_CAP, the others WORD_CAP.
    words = [
        min(max((len(w) for text in column for w in text.split()), default=1), NAME_CAP if i == 0 else WORD_CAP)
        for i, column in enumerate(texts)
    ]
    widths = [max(n, 1) for n in natural]
    room = width - 2 * (len(columns) - 1)
    while sum(widths) > room:
        slack = [w - floor for w, floor in zip(widths, words, strict=True)]
        i = max(range(len(widths)), key=lambda j: (slack[j], widths[j]))
        if slack[i] <= 0:
            i = max(range(len(widths)), key=lambda j: widths[j])
            if widths[i] <= 4:
                break  # a console too narrow for any table: let it wrap as it must
        widths[i] -= 1
    return widths


def table(title: str, columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table for a person: plain values (``fmt.plain``: no Python reprs), no markup read from the data
    (a ``[rebalance]`` in a reason stays visible), and words kept whole at the console's width."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from autotrader.exports.fmt import plain

    if not rows:
        return
    console = _console()
    cells = [["" if v is None else (v if isinstance(v, str) else plain(v)) for v in row] for row in rows]
    widths = _widths(columns, cells, console.width)
    # The title is a line of its own: as the table's title it would wrap to the width of a narrow table.
    console.print(Text(title, style="bold"))
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
              show_header=any(columns))  # fmt: skip
    for i, column in enumerate(columns):
        # The first column names the row: keep it on one line (long names are cut with an ellipsis).
        t.add_column(
            Text(column), no_wrap=i == 0, overflow="ellipsis" if i == 0 else "fold",
            width=min(widths[i], NAME_CAP) if i == 0 else widths[i],
        )  # fmt: skip
    for row in cells:
        t.add_row(*(Text(v) for v in row))
    console.print(t)


def wants_progress(json_output: bool, stream: Any = None) -> bool:
    """A progress bar only for a person at a terminal: never with ``--json``, never into a pipe or a file
    (cron's mail, a log) where it would be a smear of control characters."""
    stream = sys.stdout if stream is None else stream
    return not json_output and bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def progress(label: str, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A transient bar on stderr, advanced by the callback it yields (``done, total``); None when disabled."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=_console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


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
