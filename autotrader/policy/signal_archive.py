"""The owner's recommendation files, cut into the parts a replay feeds its ``scan`` point in time. Pure.

``replay --signals FOLDER`` replays files of the inbox's format (an archive, ``signals/archive/<date>/``) as
they arrived. Each row *arrives* at the later of

- its ``generated_at`` (when the pick was known, as its file says), and
- the start (00:00 New York) of the innermost folder the file sits in whose name is a date (``YYYY-MM-DD``).
  ``scan`` archives every imported file under the New York date of the scan that imported it, so a file in
  ``archive/2026-03-12/`` was first seen on 03-12 whatever it claims,

rounded up to the next whole minute (never earlier than either). This is the scorecard's rule: a signal is
scored from when it became knowable, the later of its ``generated_at`` and its import
(``policy.outcomes``), so a backdated file is never credited for moves that had already happened. A replay
imports the row at its first scan at or after the arrival, and that scan's instant is its import. The
archive records the import's day, not its minute: a file imported in the afternoon that claims the morning
of the same day is replayed from the morning. A file outside any dated folder arrives at its ``generated_at``.

Each file becomes one part per arrival minute (``split_file``): a CSV document holding the file's rows of
that minute, each on the physical line it has in the file (blank lines in between), so ``scan`` parses it
with the one parser and the one set of checks, and its skip messages name the file's own lines. A part is
the same text at every slot that offers it, so its content hash imports it once, and a file fed in parts
across slots loses no row. A row without a ``generated_at`` has no arrival of its own: it goes with the
file's earliest part (its folder's date when the file has no dated row), or is offered from the replay's
first scan (``arrival`` None), where ``scan`` skips it for the missing value.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from autotrader.clock import ET
from autotrader.policy import signal_files

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Part:
    """The rows of one file that arrive in the same minute, as a CSV document."""

    arrival: datetime | None  # UTC, a whole minute: offered from this instant on; None: from the first scan
    origin: str  # ``file@YYYY-MM-DDTHH:MM`` (New York time): the same at every slot, so messages and ledger agree
    text: str
    rows: int


@dataclass(frozen=True)
class SignalFolder:
    """A folder of recommendation files, read and cut into parts once (``adapters.archive_signals``)."""

    path: str  # as messages show it
    files: int
    rows: int
    parts: tuple[Part, ...]  # by arrival (None first), then origin
    skipped_files: tuple[str, ...] = ()  # files of another format in the folder, not replayed (JSON)


def folder_date(folders: Iterable[str]) -> datetime | None:
    """00:00 New York (as UTC) of the innermost folder whose name is a date, or None; ``folders`` outermost first."""
    found: date | None = None
    for name in folders:
        if _DATE.fullmatch(name):
            try:
                found = date.fromisoformat(name)
            except ValueError:
                continue  # 2026-13-45: a name that looks like a date and is not one
    if found is None:
        return None
    return datetime.combine(found, time(0, 0), tzinfo=ET).astimezone(UTC)


def arrival(generated_at: datetime | None, earliest: datetime | None) -> datetime | None:
    """The later of the two, rounded up to a whole minute; None when neither is known."""
    known = [at for at in (generated_at, earliest) if at is not None]
    if not known:
        return None
    at = max(known).astimezone(UTC)
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + timedelta(minutes=1)


def split_file(origin: str, raw: bytes, *, earliest: datetime | None) -> list[Part]:
    """One file's parts, by arrival. Raises ``InputError`` (exit 2, naming ``file:line``) for a structurally bad
    file, with the checks ``scan --file`` applies (``signal_files.read_rows``)."""
    rows = signal_files.read_rows(origin, raw)
    dated: dict[int, datetime] = {}
    for row in rows:
        at = arrival(row.values["generated_at"], earliest) if row.values["generated_at"] is not None else None
        if at is not None:
            dated[row.line] = at
    undated = min(dated.values()) if dated else arrival(None, earliest)
    groups: dict[datetime | None, list[signal_files.Row]] = {}
    for row in rows:
        groups.setdefault(dated.get(row.line, undated), []).append(row)
    return list(by_arrival(Part(at, part_origin(origin, at), _csv(group), len(group)) for at, group in groups.items()))


def part_origin(origin: str, at: datetime | None) -> str:
    return f"{origin}@{at.astimezone(ET):%Y-%m-%dT%H:%M}" if at is not None else f"{origin}@first-scan"


def by_arrival(parts: Iterable[Part]) -> tuple[Part, ...]:
    return tuple(sorted(parts, key=lambda p: (p.arrival is not None, p.arrival or _BEFORE_ALL, p.origin)))


def _csv(rows: Sequence[signal_files.Row]) -> str:
    """The rows as a signal file: every column, each row on its own line number (blank lines before it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(signal_files.ALL_COLUMNS)
    lines = 1  # written so far
    for row in rows:
        pad = max(0, row.line - 1 - lines)
        out.write("\n" * pad)
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerow([_cell(row.values[name]) for name in signal_files.ALL_COLUMNS])
        out.write(record.getvalue())
        lines += pad + record.getvalue().count("\n")  # a quoted note with a line break takes two
    return out.getvalue()


def _cell(value: Any) -> str:
    """A typed cell written back so the parser reads the same value: instants in UTC, numbers exactly."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)
