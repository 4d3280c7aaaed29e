"""The SQL of the daily-bar cache (migration 0008): bars, complete grouped sessions, tracked symbols, ranges.

Coverage, i.e. "the cache knows what the vendor had for this symbol on this session, bar or no bar", comes
from two sources:
  - a grouped-daily (whole-market) response stored for the session, fetched *after* the symbol became
    tracked (``bar_cache_sessions.seq > bar_cache_symbols.seq``): only tracked symbols' rows are kept from
    those responses, which are ~10,000 rows a session, so the ledger does not grow by the whole market;
  - a per-symbol range (``bar_cache_ranges``) recorded by a per-symbol backfill.
Both sequence numbers come from one counter, so the comparison is exact whatever the clock says (replay and
``--as-of`` runs move time backwards).

Every function takes the ``Ledger``; writes happen inside the caller's ``with ledger.write():``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

import numpy as np

from autotrader.ledger.db import Ledger


class CachedBar(NamedTuple):
    symbol: str
    session_date: date
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: float | None
    problem: str | None


class BarColumns(NamedTuple):
    """A symbol's cached bars column by column, oldest first: what a reader of thousands of bars needs without
    one Python object per bar."""

    days: np.ndarray  # datetime64[D] session dates
    values: np.ndarray  # (n, 5) float64 open, high, low, close, volume; NaN where the vendor sent none
    problems: tuple[str | None, ...]  # the flag stored with each bar (None: none)


class GroupedSession(NamedTuple):
    seq: int
    fetched_at: datetime


def _iso(at: datetime) -> str:
    return at.isoformat()


# -- reads -----------------------------------------------------------------------------------------


def grouped_sessions(ledger: Ledger) -> dict[date, GroupedSession]:
    rows = ledger.conn.execute("SELECT session_date, seq, fetched_at FROM bar_cache_sessions").fetchall()
    return {date.fromisoformat(d): GroupedSession(int(seq), datetime.fromisoformat(at)) for d, seq, at in rows}


def tracked_symbols(ledger: Ledger) -> dict[str, int]:
    return {symbol: int(seq) for symbol, seq in ledger.conn.execute("SELECT symbol, seq FROM bar_cache_symbols")}


def symbol_ranges(ledger: Ledger, symbol: str) -> list[tuple[date, date]]:
    rows = ledger.conn.execute(
        "SELECT first_session, last_session FROM bar_cache_ranges WHERE symbol = ? ORDER BY first_session",
        [symbol],
    ).fetchall()
    return [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in rows]


def read_bars(ledger: Ledger, symbol: str, first: date, last: date) -> BarColumns:
    """The symbol's cached bars for sessions in [first, last], oldest first (problem rows included)."""
    rows = ledger.conn.execute(
        "SELECT session_date, open, high, low, close, volume, problem FROM bar_cache "
        "WHERE symbol = ? AND session_date BETWEEN ? AND ? ORDER BY session_date",
        [symbol, first.isoformat(), last.isoformat()],
    ).fetchall()
    if not rows:
        return BarColumns(np.empty(0, "datetime64[D]"), np.empty((0, 5)), ())
    columns = list(zip(*rows, strict=True))
    values = np.array(columns[1:6], dtype=np.float64).T  # NULL becomes NaN
    return BarColumns(np.array(columns[0], dtype="datetime64[D]"), values, columns[6])


def problem_sessions(ledger: Ledger, symbol: str, first: date, last: date) -> set[date]:
    """Sessions in [first, last] where the symbol's cached bar is flagged as unusable."""
    rows = ledger.conn.execute(
        "SELECT session_date FROM bar_cache WHERE symbol = ? AND session_date BETWEEN ? AND ? AND problem IS NOT NULL",
        [symbol, first.isoformat(), last.isoformat()],
    ).fetchall()
    return {date.fromisoformat(d) for (d,) in rows}


def has_bars(ledger: Ledger, symbol: str) -> bool:
    return ledger.conn.execute("SELECT 1 FROM bar_cache WHERE symbol = ? LIMIT 1", [symbol]).fetchone() is not None


def _next_seq(ledger: Ledger) -> int:
    row = ledger.conn.execute(
        "SELECT MAX(m) FROM (SELECT MAX(seq) AS m FROM bar_cache_sessions "
        "UNION ALL SELECT MAX(seq) FROM bar_cache_symbols)"
    ).fetchone()
    return int(row[0] or 0) + 1


# -- writes (inside ``ledger.write()``) ---------------------------------------------------------------


def track(ledger: Ledger, symbols: Iterable[str], *, now: datetime) -> dict[str, int]:
    """Start keeping these symbols' rows from grouped responses; returns the seq given to each new one."""
    added: dict[str, int] = {}
    seq = _next_seq(ledger)
    for symbol in symbols:
        cursor = ledger.conn.execute(
            "INSERT INTO bar_cache_symbols (symbol, seq, tracked_at) VALUES (?, ?, ?) ON CONFLICT (symbol) DO NOTHING",
            [symbol, seq, _iso(now)],
        )
        if cursor.rowcount:
            added[symbol] = seq
    return added


_UPSERT_BAR = (
    "INSERT INTO bar_cache (symbol, session_date, open, high, low, close, volume, source, fetched_at, problem) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (symbol, session_date) DO UPDATE SET "
    "open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, "
    "volume = excluded.volume, source = excluded.source, fetched_at = excluded.fetched_at, problem = excluded.problem"
)


def _store(ledger: Ledger, bars: Iterable[CachedBar], source: str, now: datetime) -> None:
    # Rows are written in the order given: a later row for the same session (a duplicate, flagged as a
    # problem by the caller) replaces the earlier one, so the flag survives.
    fetched = _iso(now)
    ledger.conn.executemany(
        _UPSERT_BAR,
        (
            (b.symbol, b.session_date.isoformat(), b.open, b.high, b.low, b.close, b.volume, source, fetched, b.problem)
            for b in bars
        ),
    )


def store_grouped_session(
    ledger: Ledger, session: date, bars: list[CachedBar], *, response_rows: int, now: datetime
) -> GroupedSession:
    """Store one session's grouped rows (tracked symbols only) and mark the session fetched."""
    _store(ledger, bars, "grouped", now)
    seq = _next_seq(ledger)
    ledger.conn.execute(
        "INSERT INTO bar_cache_sessions (session_date, seq, rows, fetched_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (session_date) DO UPDATE SET seq = excluded.seq, rows = excluded.rows, "
        "fetched_at = excluded.fetched_at",
        [session.isoformat(), seq, response_rows, _iso(now)],
    )
    return GroupedSession(seq, now)


def store_symbol_range(
    ledger: Ledger, symbol: str, bars: list[CachedBar], covered: tuple[date, date] | None, *, now: datetime
) -> None:
    """Store one symbol's backfilled bars and, when given, the sessions the response covered."""
    _store(ledger, bars, "aggs", now)
    if covered is not None:
        ledger.conn.execute(
            "INSERT INTO bar_cache_ranges (symbol, first_session, last_session, fetched_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (symbol, first_session, last_session) DO UPDATE SET fetched_at = excluded.fetched_at",
            [symbol, covered[0].isoformat(), covered[1].isoformat(), _iso(now)],
        )
