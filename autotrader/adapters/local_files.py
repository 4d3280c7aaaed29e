"""``LocalFilesData`` / ``LocalFilesReference``: market data from a folder of CSV files.

Layout of the folder::

    SYMBOL.csv        daily bars    date,open,high,low,close,volume            (date: YYYY-MM-DD)
    SYMBOL.1m.csv     minute bars   timestamp,open,high,low,close,volume       (bar start, ISO 8601;
                                                                                 no offset = New York time)
    VIX.csv           the volatility index, daily, same format as SYMBOL.csv
    reference.csv     symbol,sector,earnings_dates                              (dates ';'-separated)

Parsing is strict, with the csv module rather than pandas' guessing: a file either reads exactly as
written or raises ``DataError`` naming ``file:line``, what is wrong and what is allowed. Corrupt data is
worse than no data: a silently skipped row would be a silently wrong backtest. Each file is parsed once per
process (re-parsed only if it changes on disk) and served under the same no-look-ahead rule as every
MarketData adapter.
"""

from __future__ import annotations

import csv
import io
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from autotrader.adapters.frames import (
    BAR_COLUMNS,
    daily_frame,
    day_ns,
    minute_frame,
    quote_from_last,
    require_aware,
    to_ns,
)
from autotrader.clock import ET, MarketCalendar
from autotrader.domain.models import Quote
from autotrader.errors import DataError
from autotrader.ports import Clock

DAILY_HEADER: tuple[str, ...] = ("date", *BAR_COLUMNS)
MINUTE_HEADER: tuple[str, ...] = ("timestamp", *BAR_COLUMNS)
REFERENCE_HEADER: tuple[str, ...] = ("symbol", "sector", "earnings_dates")
REFERENCE_FILE = "reference.csv"
SPLITS_FILE = "splits.csv"
SPLITS_HEADER = ("symbol", "ex_date", "ratio")
VIX_SYMBOL = "VIX"

_MINUTE_NS = 60 * 10**9
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE = {"nan", "inf", "infinity"}
# Symbols map to file names: keep them to ticker characters so no symbol can name a path elsewhere.
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-]*")


# -- strict CSV reading ----------------------------------------------------------------------------


def _fail(path: Path, line: int, what: str) -> DataError:
    return DataError(f"{path}:{line}: {what}")


def _rows(path: Path, header: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) for each data row, after checking the header and the row's width."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # utf-8-sig: a BOM from Excel is not an error
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror})") from e
    expected = ",".join(header)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        first = next(reader, None)
        if first is None:
            raise _fail(path, 1, f"the file is empty; the first line must be the header {expected!r}")
        if [cell.strip() for cell in first] != list(header):
            raise _fail(path, 1, f"header is {','.join(first)!r}; expected exactly {expected!r}")
        while True:
            line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                return
            if not row or all(not cell.strip() for cell in row):
                rest = text.splitlines()[line:]
                if all(not r.strip() for r in rest):
                    return  # trailing blank lines are harmless
                raise _fail(path, line, f"blank line; every line after the header must have {len(header)} values")
            if len(row) != len(header):
                last_line = not text.endswith(("\n", "\r")) and next(reader, None) is None
                if last_line and len(row) < len(header):
                    raise _fail(path, line, f"truncated line: the file ends after {len(row)} of {len(header)} values")
                kind = "missing" if len(row) < len(header) else "extra"
                raise _fail(path, line, f"{kind} columns: {len(row)} values, expected {len(header)} ({expected})")
            yield line, [cell.strip() for cell in row]
    except csv.Error as e:
        raise _fail(path, reader.line_num, f"malformed CSV ({e})") from e


def _number(path: Path, line: int, column: str, text: str) -> float:
    if not text:
        raise _fail(path, line, f"{column} is empty; expected a number")
    if text.lstrip("+-").lower() in _NON_FINITE:
        raise _fail(path, line, f"{column} is {text!r}; NaN and infinity are not allowed, only finite numbers")
    if not _NUMBER.fullmatch(text):
        raise _fail(path, line, f"{column}: cannot read {text!r} as a number (expected e.g. 123.45)")
    value = float(text)
    if not math.isfinite(value):
        raise _fail(path, line, f"{column} {text!r} overflows; only finite numbers are allowed")
    return value


def _day(path: Path, line: int, column: str, text: str) -> date:
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(path, line, f"{column}: cannot read {text!r} as a date; expected YYYY-MM-DD") from None


def _instant(path: Path, line: int, text: str) -> datetime:
    allowed = "expected ISO 8601 like 2026-03-02T09:30:00-05:00 (no offset means New York time)"
    try:
        if len(text) <= 10:  # a bare date is not a bar start
            raise ValueError(text)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(path, line, f"timestamp: cannot read {text!r}; {allowed}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=ET)
    if at.second or at.microsecond:
        raise _fail(path, line, f"timestamp {text!r} is not on a whole minute; 1-minute bars start at :00 seconds")
    return at.astimezone(UTC)


def _bar(path: Path, line: int, fields: list[str]) -> list[float]:
    """open, high, low, close, volume from a row's last five fields, checked for sense."""
    o, h, low, c, v = (_number(path, line, col, text) for col, text in zip(BAR_COLUMNS, fields[1:], strict=True))
    for column, value in (("open", o), ("high", h), ("low", low), ("close", c)):
        if value <= 0:
            raise _fail(path, line, f"{column} is {value:g}; prices must be > 0")
    if v < 0:
        raise _fail(path, line, f"volume is {v:g}; volume must be >= 0")
    if h < max(o, c):
        raise _fail(path, line, f"high {h:g} is below max(open, close) = {max(o, c):g}; need high >= open, close")
    if low > min(o, c):
        raise _fail(path, line, f"low {low:g} is above min(open, close) = {min(o, c):g}; need low <= open, close")
    return [o, h, low, c, v]


_Seen = tuple[int, int, str]  # (sort key, line, as shown) of the previous row


def _check_order(path: Path, line: int, key: int, shown: str, previous: _Seen | None, label: str) -> _Seen:
    if previous is not None:
        previous_key, previous_line, previous_shown = previous
        if key == previous_key:
            raise _fail(path, line, f"duplicate {label} {shown} (first at line {previous_line}); each {label} once")
        if key < previous_key:
            raise _fail(
                path,
                line,
                f"{label} {shown} comes after {previous_shown} (line {previous_line}); rows must be in ascending order",
            )
    return key, line, shown


# -- parsed files ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Bars:
    """One parsed file: rows in ascending order, and the instant each row becomes visible."""

    index_ns: np.ndarray  # int64: session day at midnight (daily) or bar start in UTC (minute)
    visible_ns: np.ndarray  # int64: session close (daily) or bar start + 1 minute (minute)
    values: np.ndarray  # (n, 5) float64, read-only


def _parse_daily(path: Path, calendar: MarketCalendar) -> _Bars:
    days: list[int] = []
    closes: list[int] = []
    values: list[list[float]] = []
    previous: _Seen | None = None
    for line, fields in _rows(path, DAILY_HEADER):
        day = _day(path, line, "date", fields[0])
        bar = _bar(path, line, fields)
        if not calendar.is_session(day):
            reason = calendar.state(calendar.at_et(day, "12:00")).reason
            raise _fail(path, line, f"{day} is not an NYSE session ({reason}); daily rows are for sessions only")
        previous = _check_order(path, line, day.toordinal(), day.isoformat(), previous, "date")
        days.append(day_ns(day))
        closes.append(to_ns(calendar.session_close(day)))
        values.append(bar)
    return _bars(days, closes, values)


def _parse_minutes(path: Path) -> _Bars:
    starts: list[int] = []
    values: list[list[float]] = []
    previous: _Seen | None = None
    for line, fields in _rows(path, MINUTE_HEADER):
        start = _instant(path, line, fields[0])
        bar = _bar(path, line, fields)
        start_ns = to_ns(start)
        previous = _check_order(path, line, start_ns, start.isoformat(), previous, "timestamp")
        starts.append(start_ns)
        values.append(bar)
    return _bars(starts, [s + _MINUTE_NS for s in starts], values)


def _bars(index: list[int], visible: list[int], values: list[list[float]]) -> _Bars:
    array = np.array(values, dtype=np.float64).reshape(len(values), len(BAR_COLUMNS))
    array.setflags(write=False)
    return _Bars(np.array(index, dtype=np.int64), np.array(visible, dtype=np.int64), array)


# Parsed files, shared by every instance in the process. The key carries the file's size and mtime so an
# edited file is read again rather than served stale.
_CACHE: dict[tuple[object, ...], _Bars] = {}


def _cached(path: Path, kind: str, calendar: MarketCalendar | None, parse: Callable[[], _Bars]) -> _Bars:
    stat = path.stat()
    key = (kind, str(path.resolve()), stat.st_mtime_ns, stat.st_size, calendar)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = parse()
    return found


def _frame(build: Callable[[np.ndarray, np.ndarray], pd.DataFrame], bars: _Bars, rows: slice) -> pd.DataFrame:
    return build(bars.index_ns[rows], bars.values[rows])


_NO_BARS = _Bars(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, len(BAR_COLUMNS))))


# -- the adapters ----------------------------------------------------------------------------------


class LocalFilesData:
    """MarketData from a folder of ``SYMBOL.csv`` (daily) and ``SYMBOL.1m.csv`` (minute) files.

    Args:
        path: the folder.
        clock: the Clock port; rows are returned only once complete at ``clock.now()``.
        calendar: the XNYS calendar; daily rows must fall on its sessions.

    Raises:
        DataError: from any method that reads a malformed file (names ``file:line``).
    """

    def __init__(self, path: Path, clock: Clock, calendar: MarketCalendar) -> None:
        self._path = Path(path)
        self._clock = clock
        self._calendar = calendar
        self._splits: list[tuple[str, date, float]] | None = None

    def has_symbol(self, symbol: str) -> bool:
        return self._daily_file(symbol) is not None

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        bars = self._daily(symbol)
        lo = int(np.searchsorted(bars.index_ns, day_ns(start), side="left"))
        hi = int(np.searchsorted(bars.index_ns, day_ns(end), side="right"))
        hi = min(hi, int(np.searchsorted(bars.visible_ns, to_ns(self._clock.now()), side="right")))
        return _frame(daily_frame, bars, slice(lo, max(lo, hi)))

    def vix_daily(self, start: date, end: date) -> pd.DataFrame:
        return self.daily_bars(VIX_SYMBOL, start, end)

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        require_aware("start", start)
        require_aware("end", end)
        bars = self._minutes(symbol)
        lo = int(np.searchsorted(bars.index_ns, to_ns(start), side="left"))
        hi = int(np.searchsorted(bars.index_ns, to_ns(end), side="left"))  # end is exclusive
        hi = min(hi, int(np.searchsorted(bars.visible_ns, to_ns(self._clock.now()), side="right")))
        return _frame(minute_frame, bars, slice(lo, max(lo, hi)))

    def latest_quote(self, symbol: str) -> Quote | None:
        """The last complete minute bar of the open session if there is one, else the last daily close.

        Files carry trades, not quotes: bid = ask = last.
        """
        if not self.has_symbol(symbol):
            return None
        now = self._clock.now()
        now_ns = to_ns(now)
        state = self._calendar.state(now)
        if state.is_open and state.open_at is not None:
            minutes = self._minutes(symbol)
            i = int(np.searchsorted(minutes.visible_ns, now_ns, side="right")) - 1
            if i >= 0 and minutes.index_ns[i] >= to_ns(state.open_at):
                return quote_from_last(symbol, float(minutes.values[i, 3]), int(minutes.visible_ns[i]))
        daily = self._daily(symbol)
        j = int(np.searchsorted(daily.visible_ns, now_ns, side="right")) - 1
        if j < 0:
            return None
        return quote_from_last(symbol, float(daily.values[j, 3]), int(daily.visible_ns[j]))

    # -- files -------------------------------------------------------------------------------------
    def splits(self) -> list[tuple[str, date, float]]:
        """``(symbol, ex_date, ratio)`` from ``splits.csv`` (ratio = new shares per old: 2 for 2:1, 0.1 for
        1:10). The bars stay as the files give them (raw prices show the gap): only a broker that holds
        positions (the simulator) applies these. Empty when the file is absent."""
        if self._splits is None:
            path = self._path / SPLITS_FILE
            self._splits = _parse_splits(path) if path.is_file() else []
        return list(self._splits)

    def _daily_file(self, symbol: str) -> Path | None:
        # Upper-case tickers only: on a case-insensitive disk "aapl" would otherwise open AAPL.csv, and
        # "AAPL.1M" would open the minute file as a daily one.
        if not _SYMBOL.fullmatch(symbol) or symbol.endswith(".1M"):
            return None
        path = self._path / f"{symbol}.csv"
        return path if path.is_file() else None

    def _daily(self, symbol: str) -> _Bars:
        path = self._daily_file(symbol)
        if path is None:
            return _NO_BARS
        return _cached(path, "daily", self._calendar, lambda: _parse_daily(path, self._calendar))

    def _minutes(self, symbol: str) -> _Bars:
        if self._daily_file(symbol) is None:
            return _NO_BARS
        path = self._path / f"{symbol}.1m.csv"
        if not path.is_file():
            return _NO_BARS
        return _cached(path, "minute", None, lambda: _parse_minutes(path))


@dataclass(frozen=True, slots=True)
class _ReferenceRow:
    sector: str | None
    earnings: tuple[date, ...]  # ascending


class LocalFilesReference:
    """Reference data from the folder's optional ``reference.csv`` (``symbol,sector,earnings_dates``).

    Args:
        path: the folder (the same one ``LocalFilesData`` reads).

    Raises:
        DataError: on first use, if ``reference.csv`` is malformed (names ``file:line``).
    """

    def __init__(self, path: Path) -> None:
        self._file = Path(path) / REFERENCE_FILE
        self._rows: dict[str, _ReferenceRow] | None = None

    def sector(self, symbol: str) -> str | None:
        row = self._table().get(symbol)
        return row.sector if row else None

    def next_earnings(self, symbol: str, on_or_after: date) -> date | None:
        row = self._table().get(symbol)
        if row is None:
            return None
        i = bisect_left(row.earnings, on_or_after)
        return row.earnings[i] if i < len(row.earnings) else None

    def _table(self) -> dict[str, _ReferenceRow]:
        if self._rows is None:
            self._rows = _parse_reference(self._file) if self._file.is_file() else {}
        return self._rows


def _parse_reference(path: Path) -> dict[str, _ReferenceRow]:
    table: dict[str, _ReferenceRow] = {}
    first_seen: dict[str, int] = {}
    for line, (symbol, sector, listed) in _rows(path, REFERENCE_HEADER):
        if not _SYMBOL.fullmatch(symbol):
            raise _fail(path, line, f"symbol {symbol!r} is not a ticker; use upper-case letters, digits, '.', '-'")
        if symbol in first_seen:
            raise _fail(path, line, f"duplicate symbol {symbol} (first at line {first_seen[symbol]}); one row each")
        first_seen[symbol] = line
        dates = set()
        if listed:
            for item in listed.split(";"):
                dates.add(_day(path, line, "earnings_dates", item.strip()))
        table[symbol] = _ReferenceRow(sector or None, tuple(sorted(dates)))
    return table


def _parse_splits(path: Path) -> list[tuple[str, date, float]]:
    out = []
    for line, (symbol, ex_date, ratio_text) in _rows(path, SPLITS_HEADER):
        if not _SYMBOL.fullmatch(symbol):
            raise _fail(path, line, f"symbol {symbol!r} is not a ticker; use upper-case letters, digits, '.', '-'")
        day = _day(path, line, "ex_date", ex_date)
        try:
            ratio = float(ratio_text)
        except ValueError:
            ratio = math.nan
        if not math.isfinite(ratio) or ratio <= 0:
            raise _fail(path, line, f"ratio {ratio_text!r} must be a positive number (2 for 2:1, 0.1 for 1:10)")
        out.append((symbol, day, ratio))
    return sorted(out, key=lambda s: (s[1], s[0]))
