"""Time: the Clock port's implementations and the NYSE session calendar.

Nothing in the toolkit reads the wall clock except ``SystemClock``. Every market decision is taken in the
America/New_York session of exchange-calendars' ``XNYS`` (holidays, 13:00 early closes). The calendar is
built once per process and flattened into plain dicts so that replay's many lookups stay cheap.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")

# The calendar window. exchange-calendars raises outside the window it was built for, so it is explicit:
# from well before any data we use to well after any session we could trade.
CALENDAR_START = "2000-01-01"
CALENDAR_END = "2035-12-31"
MIN_AS_OF = datetime(2000, 1, 1, tzinfo=UTC)
MAX_AS_OF = datetime(2035, 12, 31, tzinfo=UTC)


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that says what it is told: ``--as-of`` runs, replay and tests."""

    def __init__(self, at: datetime) -> None:
        self._at = _require_aware(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _require_aware(at)


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamps must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def parse_as_of(text: str) -> datetime:
    """Parse ``--as-of``: ISO 8601; a value without an offset is New York time; a bare date is 00:00 there."""
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(0, 0))
        else:
            parsed = datetime.fromisoformat(text)
    except ValueError as e:
        from autotrader.errors import InputError

        raise InputError(
            f"--as-of: cannot read {text!r} as a date or time",
            hint="use ISO 8601, e.g. 2026-03-02T10:30:00-05:00 (no offset means New York time)",
        ) from e
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ET)
    try:
        at = parsed.astimezone(UTC)
    except OverflowError:
        at = None
    if at is None or not MIN_AS_OF <= at <= MAX_AS_OF:
        from autotrader.errors import InputError

        raise InputError(
            f"--as-of {text!r}: outside the calendar the toolkit knows ({CALENDAR_START} to {CALENDAR_END})"
        )
    return at


@dataclass(frozen=True, slots=True)
class SessionState:
    """Where an instant stands relative to the NYSE session (a plain-English ``reason`` when closed)."""

    session_date: date | None  # the trading session the instant's New York date belongs to, if any
    is_open: bool
    reason: str  # "open", or why not: "weekend", "holiday: Thanksgiving", "before the open", ...
    open_at: datetime | None = None
    close_at: datetime | None = None
    early_close: bool = False


# The broker's opening-auction window (Alpaca): market/limit-on-open orders are taken before 09:28 New York on a
# session day, or from 19:00 (queued for the next open), or at any time on a day without a session.
OPG_CUTOFF = time(9, 28)
AUCTION_REOPEN = time(19, 0)


class MarketCalendar:
    """NYSE sessions from exchange-calendars, flattened for fast lookups. Build with ``MarketCalendar.xnys()``."""

    def __init__(
        self,
        sessions: list[date],
        opens: list[datetime],
        closes: list[datetime],
        early_closes: set[date],
        holidays: dict[date, str],
    ) -> None:
        self._sessions = sessions
        self._index = {d: i for i, d in enumerate(sessions)}
        self._opens = opens
        self._closes = closes
        self._early = early_closes
        self._holidays = holidays

    @staticmethod
    @cache
    def xnys() -> MarketCalendar:
        import exchange_calendars as xcals

        cal = xcals.get_calendar("XNYS", start=CALENDAR_START, end=CALENDAR_END)
        sessions = [ts.date() for ts in cal.sessions]
        opens = [ts.to_pydatetime() for ts in cal.opens]
        closes = [ts.to_pydatetime() for ts in cal.closes]
        early = {ts.date() for ts in cal.early_closes}
        holidays: dict[date, str] = {}
        named = cal.regular_holidays.holidays(start=CALENDAR_START, end=CALENDAR_END, return_name=True)
        for ts, name in named.items():
            holidays[ts.date()] = str(name)
        for ts in cal.adhoc_holidays:
            holidays.setdefault(ts.date(), "special closure")
        return MarketCalendar(sessions, opens, closes, early, holidays)

    # -- sessions -----------------------------------------------------------------------------------
    def is_session(self, day: date) -> bool:
        return day in self._index

    def sessions_between(self, start: date, end: date) -> list[date]:
        lo = bisect.bisect_left(self._sessions, start)
        hi = bisect.bisect_right(self._sessions, end)
        return self._sessions[lo:hi]

    def opens_between(self, start: date, end: date) -> list[datetime]:
        """``session_open`` of each of ``sessions_between(start, end)``, in one slice."""
        return self._opens[bisect.bisect_left(self._sessions, start) : bisect.bisect_right(self._sessions, end)]

    def closes_between(self, start: date, end: date) -> list[datetime]:
        """``session_close`` of each of ``sessions_between(start, end)``, in one slice."""
        return self._closes[bisect.bisect_left(self._sessions, start) : bisect.bisect_right(self._sessions, end)]

    def session_open(self, day: date) -> datetime:
        return self._opens[self._index[day]]

    def session_close(self, day: date) -> datetime:
        return self._closes[self._index[day]]

    def is_early_close(self, day: date) -> bool:
        return day in self._early

    def previous_session(self, day: date) -> date:
        i = bisect.bisect_left(self._sessions, day)
        return self._sessions[i - 1]

    def next_session(self, day: date) -> date:
        i = bisect.bisect_right(self._sessions, day)
        return self._sessions[i]

    def sessions_back(self, day: date, count: int) -> date:
        """The session ``count`` sessions before ``day`` (``day`` itself need not be a session)."""
        i = bisect.bisect_left(self._sessions, day)
        return self._sessions[max(0, i - count)]

    def last_closed_session(self, at: datetime) -> date:
        """The most recent session whose close is at or before ``at``."""
        day = at.astimezone(ET).date()
        i = bisect.bisect_right(self._sessions, day) - 1
        while i >= 0 and self._closes[i] > at:
            i -= 1
        return self._sessions[i]

    # -- instants ----------------------------------------------------------------------------------
    def state(self, at: datetime) -> SessionState:
        """Is the regular session open at ``at``, and if not, why not (in words a person reads in cron mail)."""
        local = at.astimezone(ET)
        day = local.date()
        if day not in self._index:
            if day in self._holidays:
                return SessionState(None, False, f"holiday: {self._holidays[day]}")
            if local.weekday() >= 5:
                return SessionState(None, False, "weekend")
            return SessionState(None, False, "no session")
        i = self._index[day]
        open_at, close_at = self._opens[i], self._closes[i]
        early = day in self._early
        if at < open_at:
            reason = f"before the open ({open_at.astimezone(ET):%H:%M} ET)"
            return SessionState(day, False, reason, open_at, close_at, early)
        if at >= close_at:
            label = "early close" if early else "close"
            reason = f"after the {label} ({close_at.astimezone(ET):%H:%M} ET)"
            return SessionState(day, False, reason, open_at, close_at, early)
        return SessionState(day, True, "open", open_at, close_at, early)

    def is_open(self, at: datetime) -> bool:
        return self.state(at).is_open

    def next_open(self, at: datetime) -> datetime:
        day = at.astimezone(ET).date()
        i = bisect.bisect_left(self._sessions, day)
        while self._opens[i] <= at:
            i += 1
        return self._opens[i]

    def next_close(self, at: datetime) -> datetime:
        day = at.astimezone(ET).date()
        i = bisect.bisect_left(self._sessions, day)
        while self._closes[i] <= at:
            i += 1
        return self._closes[i]

    def opg_accepted(self, at: datetime) -> bool:
        """Whether a market-on-open (``opg``) order is accepted at ``at`` (see ``OPG_CUTOFF``)."""
        local = at.astimezone(ET)
        if not self.is_session(local.date()):
            return True
        return local.time() < OPG_CUTOFF or local.time() >= AUCTION_REOPEN

    def at_et(self, day: date, hhmm: str) -> datetime:
        """``day`` at ``HH:MM`` New York time, in UTC (DST handled by zoneinfo)."""
        hour, minute = (int(part) for part in hhmm.split(":"))
        return datetime.combine(day, time(hour, minute), tzinfo=ET).astimezone(UTC)


def session_date_for(at: datetime) -> str:
    """The New York calendar date of an instant, as YYYY-MM-DD (what client order ids are keyed on)."""
    return at.astimezone(ET).date().isoformat()


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)
