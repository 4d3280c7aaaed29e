"""The NYSE calendar and the clock: holidays, 13:00 early closes, DST, --as-of parsing, schedule slots."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from autotrader.clock import ET, MarketCalendar, SimulatedClock, parse_as_of
from autotrader.errors import InputError
from autotrader.policy.schedule import slot_for


@pytest.fixture(scope="module")
def cal() -> MarketCalendar:
    return MarketCalendar.xnys()


def et(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ET).astimezone(UTC)


@pytest.mark.parametrize(
    ("instant", "is_open", "reason_part"),
    [
        ("2026-11-26 10:00", False, "holiday: Thanksgiving"),
        ("2026-11-27 12:30", True, "open"),
        ("2026-11-27 12:59", True, "open"),
        ("2026-11-27 13:00", False, "after the early close (13:00 ET)"),
        ("2026-11-27 14:00", False, "after the early close (13:00 ET)"),
        ("2026-11-30 09:29", False, "before the open (09:30 ET)"),
        ("2026-11-30 09:30", True, "open"),
        ("2026-11-30 15:59", True, "open"),
        ("2026-11-30 16:00", False, "after the close (16:00 ET)"),
        ("2026-11-28 11:00", False, "weekend"),
        ("2026-12-25 11:00", False, "holiday: Christmas"),
        ("2026-12-24 13:30", False, "after the early close (13:00 ET)"),
    ],
)
def test_session_state(cal, instant, is_open, reason_part):
    state = cal.state(et(instant))
    assert state.is_open is is_open
    assert reason_part in state.reason


def test_early_close_is_13_00_new_york(cal):
    assert cal.is_early_close(date(2026, 11, 27))
    assert cal.session_close(date(2026, 11, 27)) == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert not cal.is_early_close(date(2026, 11, 30))


@pytest.mark.parametrize(
    ("day", "open_utc"),
    [
        # US DST starts 2026-03-08: the open moves from 14:30 UTC to 13:30 UTC, still 09:30 in New York.
        (date(2026, 3, 6), datetime(2026, 3, 6, 14, 30, tzinfo=UTC)),
        (date(2026, 3, 9), datetime(2026, 3, 9, 13, 30, tzinfo=UTC)),
        # DST ends 2026-11-01.
        (date(2026, 10, 30), datetime(2026, 10, 30, 13, 30, tzinfo=UTC)),
        (date(2026, 11, 2), datetime(2026, 11, 2, 14, 30, tzinfo=UTC)),
    ],
)
def test_dst_weeks_keep_the_new_york_open(cal, day, open_utc):
    assert cal.session_open(day) == open_utc
    assert cal.at_et(day, "09:30") == open_utc


def test_a_friday_evening_in_new_york_is_saturday_in_utc(cal):
    # Friday 22:30 EDT = Saturday 02:30 UTC: the session date is Friday's, and it has closed (not "weekend").
    at = et("2026-10-30 22:30")
    assert at.weekday() == 5
    state = cal.state(at)
    assert state.session_date == date(2026, 10, 30)
    assert "after the close" in state.reason


def test_session_navigation(cal):
    assert cal.next_session(date(2026, 11, 25)) == date(2026, 11, 27)
    assert cal.previous_session(date(2026, 11, 27)) == date(2026, 11, 25)
    assert cal.sessions_between(date(2026, 11, 23), date(2026, 11, 29)) == [
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 27),
    ]
    assert cal.last_closed_session(et("2026-11-27 12:00")) == date(2026, 11, 25)
    assert cal.last_closed_session(et("2026-11-27 13:00")) == date(2026, 11, 27)
    assert cal.next_open(et("2026-11-25 17:00")) == cal.session_open(date(2026, 11, 27))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T10:30:00-05:00", datetime(2026, 3, 2, 15, 30, tzinfo=UTC)),
        ("2026-03-02T10:30:00", datetime(2026, 3, 2, 15, 30, tzinfo=UTC)),  # no offset: New York
        ("2026-07-02T10:30:00", datetime(2026, 7, 2, 14, 30, tzinfo=UTC)),  # ... in daylight time
        ("2026-03-02T15:30:00Z", datetime(2026, 3, 2, 15, 30, tzinfo=UTC)),
        ("2026-03-02", datetime(2026, 3, 2, 5, 0, tzinfo=UTC)),
    ],
)
def test_parse_as_of(text, expected):
    assert parse_as_of(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026-03-02T25:00"])
def test_parse_as_of_rejects_nonsense(text):
    with pytest.raises(InputError, match="--as-of"):
        parse_as_of(text)


def test_simulated_clock_refuses_naive_times():
    with pytest.raises(ValueError):
        SimulatedClock(datetime(2026, 3, 2, 10, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("instant", "slot"),
    [
        ("2026-11-30 09:00", "premarket"),
        ("2026-11-30 09:30", "intraday"),
        ("2026-11-30 16:00", "close"),
        ("2026-11-30 16:15", "eod"),
        ("2026-11-27 16:20", "eod"),
        ("2026-11-30 16:30", "evening"),
        ("2026-11-27 13:30", "close"),
        ("2026-11-26 10:00", "closed"),
        ("2026-11-28 10:00", "closed"),
    ],
)
def test_schedule_slots(cal, instant, slot):
    at = et(instant)
    assert slot_for(at, cal.state(at)).name == slot
