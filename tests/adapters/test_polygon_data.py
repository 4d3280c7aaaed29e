"""PolygonData / PolygonReference through the real ``massive`` SDK against a loopback fake vendor.

Covers: the port's frame rules and no look-ahead; next_url paging; the ledger cache (a warm 500-symbol daily
sync costs at most 3 requests); the rate limiter on a fake clock (request timestamps, not wall time); the
VIX proxy fallback; bad data skipped with reasons; 429 and timeouts bounded, then TransientError; API keys
kept out of errors and logs; SIC sectors; split events; the bootstrap wiring.
"""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from autotrader.adapters import http
from autotrader.adapters.cached_reference import POLYGON_SECTOR_TTL, CachedReference
from autotrader.adapters.http import MAX_ATTEMPTS, RateLimiter
from autotrader.adapters.polygon_data import PolygonApi, PolygonData
from autotrader.adapters.sic_sectors import ETF, PolygonReference, sector_for_sic
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.errors import ConfigError, TransientError
from autotrader.ledger import bar_cache
from autotrader.ledger.db import open_ledger
from autotrader.policy.bar_quality import bar_problem
from autotrader.ports import MarketData, Reference
from tests.fakes.polygon_server import FakePolygon, FakeTimer, daily_bar, minute_bar, split_row

CAL = MarketCalendar.xnys()
KEY = "test-polygon-key"
COLUMNS = ["open", "high", "low", "close", "volume"]
WED = date(2026, 3, 4)  # a regular Wednesday session
THU = date(2026, 3, 5)


def et(day: date, hhmm: str) -> datetime:
    return CAL.at_et(day, hhmm)


@pytest.fixture
def server():
    with FakePolygon(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def ledger(tmp_path, migrated_ledger):
    opened = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    yield opened
    opened.close()


def make_data(
    server: FakePolygon,
    ledger,
    at: datetime,
    *,
    timer: FakeTimer | None = None,
    rpm: float = 5.0,
    timeout: float = 2.0,
    key: str = KEY,
    **options,
) -> PolygonData:
    timer = timer or FakeTimer()
    limiter = RateLimiter(rpm, monotonic=timer.monotonic, sleep=timer.sleep)
    api = PolygonApi(key, base_url=server.url, timeout_seconds=timeout, limiter=limiter)
    return PolygonData(api, ledger, SimulatedClock(at), CAL, **options)


def expected_daily(symbol: str, sessions: list[date]) -> np.ndarray:
    return np.array([daily_bar(symbol, d) for d in sessions])


# -- the port's rules --------------------------------------------------------------------------------------


def test_it_implements_the_ports(server, ledger):
    data = make_data(server, ledger, et(WED, "10:30"))
    assert isinstance(data, MarketData)
    assert isinstance(PolygonReference(data.api), Reference)


def test_daily_frame_follows_the_port_rules_and_stops_at_the_last_closed_session(server, ledger):
    data = make_data(server, ledger, et(WED, "10:30"))  # Wednesday's session is open, not complete
    frame = data.daily_bars("AAPL", date(2026, 2, 2), date(2026, 3, 6))
    sessions = CAL.sessions_between(date(2026, 2, 2), date(2026, 3, 3))
    assert list(frame.columns) == COLUMNS
    assert frame.index.name == "date" and frame.index.tz is None
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert [ts.date() for ts in frame.index] == sessions  # the fake served Wednesday too: dropped
    np.testing.assert_allclose(frame.to_numpy(), expected_daily("AAPL", sessions))
    assert server.counts["aggs"] == 1  # 21 missing sessions for one symbol: one per-symbol request


def test_no_bar_is_served_before_it_is_complete(server, ledger):
    instants = [
        et(WED, "09:00"),  # before the open
        et(WED, "09:30"),  # the open: no minute complete yet
        et(WED, "11:00") + timedelta(seconds=30),
        et(WED, "15:59"),
        et(WED, "16:00"),  # the close: Wednesday's daily bar is complete
        datetime(2026, 3, 7, 15, tzinfo=UTC),  # Saturday
    ]
    for at in instants:
        data = make_data(server, ledger, at)
        daily = data.daily_bars("MSFT", date(2026, 2, 23), date(2026, 3, 9))
        last_closed = CAL.last_closed_session(at)
        assert daily.index[-1].date() == last_closed
        assert all(CAL.session_close(ts.date()) <= at for ts in daily.index)
        minutes = data.minute_bars("MSFT", et(WED, "09:30"), et(THU, "16:00"))
        assert all(ts + pd.Timedelta(minutes=1) <= at for ts in minutes.index)
        if at == et(WED, "11:00") + timedelta(seconds=30):
            assert minutes.index[-1] == pd.Timestamp(et(WED, "10:59"))  # 11:00's bar is still forming
        quote = data.latest_quote("MSFT")
        assert quote is not None and quote.quoted_at <= at


def test_minute_bars_follow_next_url_and_keep_the_regular_session(server, ledger):
    server.page_size = 40
    data = make_data(server, ledger, et(WED, "11:00") + timedelta(seconds=30))
    frame = data.minute_bars("AAPL", et(WED, "09:00"), et(WED, "16:00"))
    # The request covered 09:00-10:59 (120 bars, 30 of them pre-market): three pages of 40.
    assert server.counts["aggs"] == 3
    pages = server.requests_to("aggs")
    assert "cursor" not in pages[0].query and [p.query.get("cursor") for p in pages[1:]] == ["40", "80"]
    assert len(frame) == 90  # 09:30 to 10:59, pre-market dropped
    assert frame.index.name == "timestamp" and str(frame.index.tz) == "UTC"
    assert frame.index[0] == pd.Timestamp(et(WED, "09:30")) and frame.index.is_monotonic_increasing
    assert tuple(frame.iloc[0]) == minute_bar("AAPL", et(WED, "09:30"))


def test_daily_backfill_follows_next_url(server, ledger):
    server.page_size = 10
    data = make_data(server, ledger, et(WED, "20:00"))
    frame = data.daily_bars("JNJ", date(2026, 1, 20), WED)
    sessions = CAL.sessions_between(date(2026, 1, 20), WED)
    assert len(sessions) == 31 and len(frame) == 31
    assert server.counts["aggs"] == 4  # pages of 10, 10, 10, 1
    np.testing.assert_allclose(frame.to_numpy(), expected_daily("JNJ", sessions))


def test_latest_quote_is_the_last_complete_minute_while_open_else_the_last_close(server, ledger):
    at = et(WED, "10:15") + timedelta(seconds=10)
    quote = make_data(server, ledger, at).latest_quote("AAPL")
    assert quote is not None
    assert quote.quoted_at == et(WED, "10:15")  # the 10:14 bar, complete at 10:15
    assert quote.last == quote.bid == quote.ask == minute_bar("AAPL", et(WED, "10:14"))[3]

    evening = make_data(server, ledger, et(WED, "18:00")).latest_quote("AAPL")
    assert evening is not None
    assert evening.last == daily_bar("AAPL", WED)[3] and evening.quoted_at == CAL.session_close(WED)


def test_latest_quote_is_memoized_within_a_clock_minute(server, ledger):
    data = make_data(server, ledger, et(WED, "10:15") + timedelta(seconds=10))
    data.latest_quote("AAPL")
    spent = server.total
    data.latest_quote("AAPL")
    assert server.total == spent


def test_has_symbol_asks_ticker_details_once(server, ledger):
    data = make_data(server, ledger, et(WED, "10:30"))
    assert data.has_symbol("AAPL") and data.has_symbol("AAPL")
    assert not data.has_symbol("NOPE")
    assert server.counts["ticker_details"] == 2


# -- the ledger cache ---------------------------------------------------------------------------------------


def universe(n: int) -> tuple[str, ...]:
    return tuple(f"S{i:03d}" for i in range(n))


@pytest.mark.slow
def test_a_warm_daily_sync_of_500_symbols_costs_at_most_3_requests(server, ledger):
    symbols = universe(500)
    server.symbols = (*symbols, "VIXY")
    start = CAL.sessions_back(WED, 10)
    cold = make_data(server, ledger, et(WED, "20:00"))
    report = cold.sync_daily(symbols, start, WED)
    # Cold: one grouped request per session, not one per symbol.
    assert report.requests == len(CAL.sessions_between(start, WED)) == server.counts["grouped"]
    assert report.rejected == {}

    before = server.total
    warm = make_data(server, ledger, et(THU, "20:00"))  # the next run, a session later
    frames = {s: warm.daily_bars(s, start, THU) for s in symbols}
    vix = warm.vix_daily(start, THU)
    assert server.total - before <= 3
    assert server.counts["grouped"] == report.requests + 1  # Thursday, once, for all 500
    assert all(f.index[-1].date() == THU and len(f) == len(CAL.sessions_between(start, THU)) for f in frames.values())
    np.testing.assert_allclose(frames["S123"].to_numpy(), expected_daily("S123", CAL.sessions_between(start, THU)))
    assert vix.index[-1].date() == THU


def test_the_cache_survives_the_run_and_serves_the_same_bars(server, ledger):
    first = make_data(server, ledger, et(WED, "20:00")).daily_bars("XOM", date(2026, 2, 2), WED)
    spent = server.total
    again = make_data(server, ledger, et(WED, "21:00")).daily_bars("XOM", date(2026, 2, 2), WED)
    assert server.total == spent
    pd.testing.assert_frame_equal(first, again)
    # Another clock reading the same cache still gets nothing after its own clock.
    earlier = make_data(server, ledger, et(date(2026, 2, 20), "12:00")).daily_bars("XOM", date(2026, 2, 2), WED)
    assert server.total == spent and earlier.index[-1].date() == date(2026, 2, 19)


def test_a_session_fetched_just_after_the_close_is_fetched_again_by_a_later_run_once(server, ledger):
    start = CAL.sessions_back(WED, 4)
    make_data(server, ledger, et(WED, "20:00")).sync_daily(["AAPL", "MSFT"], start, WED)
    assert server.counts["grouped"] == 5
    early = make_data(server, ledger, et(THU, "16:05"))  # five minutes after the close: not settled
    for symbol in ("AAPL", "MSFT", "AAPL"):
        assert early.daily_bars(symbol, start, THU).index[-1].date() == THU
    assert server.counts["grouped"] == 5 + 1  # once in that run, not once per call
    later = make_data(server, ledger, et(THU, "20:00"))
    later.daily_bars("AAPL", start, THU)
    later.daily_bars("MSFT", start, THU)
    assert server.counts["grouped"] == 5 + 2  # settled now: fetched once more, then trusted
    assert server.total == 7


def test_one_run_reads_and_checks_a_range_once_until_new_bars_arrive(server, ledger, monkeypatch):
    reads: list[str] = []
    real_read = bar_cache.read_bars

    def counted(ledger, symbol, *args):
        reads.append(symbol)
        return real_read(ledger, symbol, *args)

    monkeypatch.setattr(bar_cache, "read_bars", counted)
    data = make_data(server, ledger, et(WED, "20:00"))
    start = CAL.sessions_back(WED, 4)
    data.sync_daily(["AAPL", "MSFT"], start, THU)  # the universe sync reads and checks each symbol once
    first = data.daily_bars("AAPL", start, THU)
    first.loc[first.index[-1], "close"] = -1.0  # a caller's edit stays in the caller's copy
    again = data.daily_bars("AAPL", start, THU)
    assert reads == ["AAPL", "MSFT"] and server.total == 5
    np.testing.assert_allclose(again.to_numpy(), expected_daily("AAPL", CAL.sessions_between(start, WED)))
    # The same instance, a session later: Thursday is fetched, and the frame read again includes it.
    data._clock.set(et(THU, "20:00"))
    later = data.daily_bars("AAPL", start, THU)
    assert later.index[-1].date() == THU and server.counts["grouped"] == 6
    np.testing.assert_allclose(later.to_numpy(), expected_daily("AAPL", CAL.sessions_between(start, THU)))


def test_a_symbol_tracked_after_a_session_was_fetched_is_not_taken_as_absent_from_it(server, ledger):
    make_data(server, ledger, et(WED, "20:00")).sync_daily(["AAPL"], date(2026, 3, 2), WED)
    frame = make_data(server, ledger, et(WED, "21:00")).daily_bars("JPM", date(2026, 3, 2), WED)
    assert [ts.date() for ts in frame.index] == CAL.sessions_between(date(2026, 3, 2), WED)


def test_the_migration_creates_the_cache_tables(ledger):
    tables = set(ledger.db.table_names())
    assert {"bar_cache", "bar_cache_sessions", "bar_cache_symbols", "bar_cache_ranges"} <= tables
    assert bar_cache.grouped_sessions(ledger) == {} and bar_cache.tracked_symbols(ledger) == {}


# -- the rate limit -------------------------------------------------------------------------------------------


def test_the_rate_limiter_grants_at_most_the_budget_in_any_window():
    timer = FakeTimer()
    limiter = RateLimiter(5, monotonic=timer.monotonic, sleep=timer.sleep)
    grants = [limiter.acquire() for _ in range(11)]
    # A second's margin past each window: a request is never sent exactly at the edge.
    assert grants == [0.0] * 5 + [61.0] * 5 + [122.0]
    half = RateLimiter(0.5, monotonic=timer.monotonic, sleep=timer.sleep)
    first, second = half.acquire(), half.acquire()
    assert second - first == pytest.approx(121.0)


def test_the_rate_limiter_does_not_grant_exactly_at_the_window_edge():
    timer = FakeTimer()
    limiter = RateLimiter(5, monotonic=timer.monotonic, sleep=timer.sleep)
    for _ in range(5):
        limiter.acquire()
    timer.now = 60.0  # exactly one window after the first five: a server could still count them
    assert limiter.acquire() == pytest.approx(61.0)


def test_a_cold_backfill_stays_within_the_configured_rate(server, ledger):
    server.page_size = 20  # every symbol's 40 sessions take two pages: pagination is budgeted too
    timer = FakeTimer()
    data = make_data(server, ledger, et(WED, "20:00"), timer=timer, rpm=5)
    symbols = ("AAPL", "MSFT", "JPM", "XOM", "JNJ", "SPY", "VIXY", "GOOD")
    for symbol in symbols:
        assert len(data.daily_bars(symbol, CAL.sessions_back(WED, 39), WED)) == 40
    stamps = list(data.api.limiter.history)
    assert len(stamps) == server.total == 2 * len(symbols)
    # Any six consecutive requests span at least a minute: never more than 5 in 60 seconds.
    assert all(later - earlier >= 60.0 for earlier, later in zip(stamps, stamps[5:], strict=False))
    assert timer.now >= 60.0 * (len(stamps) // 5 - 1)


# -- VIX ------------------------------------------------------------------------------------------------------


def test_vix_comes_from_the_index_when_the_plan_has_it(server, ledger):
    frame = make_data(server, ledger, et(WED, "20:00")).vix_daily(date(2026, 2, 23), WED)
    assert [r.path.split("/")[4] for r in server.requests_to("aggs")] == ["I:VIX"]
    np.testing.assert_allclose(frame.to_numpy(), expected_daily("I:VIX", CAL.sessions_between(date(2026, 2, 23), WED)))


def test_vix_falls_back_to_the_proxy_with_one_warning(server, ledger, caplog):
    server.faults.indices_not_authorized = True
    data = make_data(server, ledger, et(WED, "20:00"))
    with caplog.at_level(logging.WARNING, logger="autotrader"):
        first = data.vix_daily(date(2026, 2, 23), WED)
        second = data.vix_daily(date(2026, 2, 2), WED)
    sessions = CAL.sessions_between(date(2026, 2, 23), WED)
    np.testing.assert_allclose(first.to_numpy(), expected_daily("VIXY", sessions))
    assert second.index[-1].date() == WED
    warnings = [r for r in caplog.records if "VIXY" in r.getMessage()]
    assert len(warnings) == 1 and "I:VIX" in warnings[0].getMessage()
    assert sum("I:VIX" in r.path for r in server.log) == 1  # not asked again in the run


# -- bad data -----------------------------------------------------------------------------------------------


BAD_BARS = [
    ("zero", "close is 0"),
    ("negative", "low is -1"),
    ("nan", "open is missing or not a number"),
    ("high_below_low", "is below low"),
    ("duplicate", "duplicated"),
]
GROUPED, PER_SYMBOL = 3, 30  # window lengths (sessions) fetched with grouped requests / one per-symbol request


@pytest.mark.parametrize(
    ("kind", "reason", "window_sessions"),
    [(kind, reason, GROUPED) for kind, reason in BAD_BARS]
    # A grouped response has one bar per symbol: order can only break in a per-symbol series.
    + [(kind, reason, PER_SYMBOL) for kind, reason in [*BAD_BARS, ("out_of_order", "out of order")]],
)
def test_a_bad_bar_gets_the_symbol_skipped_with_its_reason(server, ledger, caplog, kind, reason, window_sessions):
    server.faults.bad_bars = {"BAD": kind}
    data = make_data(server, ledger, et(WED, "20:00"))
    start = CAL.sessions_back(WED, window_sessions - 1)
    with caplog.at_level(logging.WARNING, logger="autotrader"):
        report = data.sync_daily(["GOOD", "BAD"], start, WED)
    assert server.counts["grouped" if window_sessions == GROUPED else "aggs"] == report.requests > 0
    assert set(report.rejected) == {"BAD"} and reason in report.rejected["BAD"]
    assert reason in data.rejected["BAD"]
    assert any("BAD" in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    assert data.daily_bars("BAD", start, WED).empty
    assert data.latest_quote("BAD") is None
    assert len(data.daily_bars("GOOD", start, WED)) == window_sessions


def test_a_stale_last_bar_gets_the_symbol_skipped(server, ledger):
    server.faults.stale_after = {"BAD": CAL.sessions_back(WED, 3)}
    data = make_data(server, ledger, et(WED, "20:00"), max_bar_age_sessions=1)
    assert data.daily_bars("BAD", CAL.sessions_back(WED, 30), WED).empty
    assert "stale" in data.rejected["BAD"] and "3 sessions" in data.rejected["BAD"]
    assert data.latest_quote("BAD") is None
    assert not data.daily_bars("GOOD", CAL.sessions_back(WED, 30), WED).empty


def test_a_bar_one_session_old_is_within_the_allowed_age(server, ledger):
    server.faults.stale_after = {"BAD": CAL.sessions_back(WED, 1)}
    data = make_data(server, ledger, et(WED, "20:00"), max_bar_age_sessions=1)
    assert data.daily_bars("BAD", CAL.sessions_back(WED, 30), WED).index[-1].date() == CAL.sessions_back(WED, 1)
    assert data.rejected == {}


def test_a_bad_minute_bar_gets_the_symbol_skipped(server, ledger):
    server.faults.bad_bars = {"BAD": "zero"}
    data = make_data(server, ledger, et(WED, "10:15"))
    assert data.minute_bars("BAD", et(WED, "09:30"), et(WED, "10:15")).empty
    assert "close is 0" in data.rejected["BAD"]
    assert data.latest_quote("BAD") is None


def test_an_index_has_minute_bars_from_the_aggregates_endpoint_with_nan_volume(server, ledger):
    data = make_data(server, ledger, et(WED, "10:15"))
    frame = data.minute_bars("I:SPX", et(WED, "09:00"), et(WED, "10:15"))
    [request] = server.requests_to("aggs")
    assert request.path.startswith("/v2/aggs/ticker/I:SPX/range/1/minute/")
    starts = [et(WED, "09:30") + timedelta(minutes=k) for k in range(45)]  # 09:30 to 10:14, pre-market dropped
    assert list(frame.index) == [pd.Timestamp(at) for at in starts] and str(frame.index.tz) == "UTC"
    assert list(frame.columns) == COLUMNS and all(dtype == np.float64 for dtype in frame.dtypes)
    ohlc = np.array([minute_bar("I:SPX", at)[:4] for at in starts])
    np.testing.assert_array_equal(frame[["open", "high", "low", "close"]].to_numpy(), ohlc)
    assert frame["volume"].isna().all()  # the vendor sends no volume for an index: NaN, not zero
    assert data.rejected == {}


def test_an_index_minute_bar_with_a_bad_price_is_still_rejected(server, ledger):
    server.faults.bad_bars = {"I:SPX": "zero"}
    data = make_data(server, ledger, et(WED, "10:15"))
    assert data.minute_bars("I:SPX", et(WED, "09:30"), et(WED, "10:15")).empty
    assert "close is 0" in data.rejected["I:SPX"]


def test_a_plan_without_indices_refuses_index_minute_bars_once_and_keeps_stock_minute_bars(server, ledger, caplog):
    server.faults.indices_not_authorized = True
    data = make_data(server, ledger, et(WED, "10:15"))
    with caplog.at_level(logging.WARNING, logger="autotrader"):
        first = data.minute_bars("I:SPX", et(WED, "09:30"), et(WED, "10:15"))
        stock = data.minute_bars("AAPL", et(WED, "09:30"), et(WED, "10:15"))
        again = data.minute_bars("I:SPX", et(WED, "09:30"), et(WED, "10:15"))
    assert first.empty and again.empty and data.rejected == {}
    assert len(stock) == 45 and stock["volume"].notna().all()
    quote = data.latest_quote("MSFT")
    assert quote is not None and quote.quoted_at == et(WED, "10:15")  # from a minute bar: stocks' still served
    assert sum("I:SPX" in r.path for r in server.log) == 1  # not asked again in the run
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "I:SPX" in warnings[0]


def test_a_bad_bar_cached_by_an_earlier_run_is_asked_for_again_once(server, ledger):
    server.faults.bad_bars, server.faults.bad_session = {"BAD": "zero"}, WED
    make_data(server, ledger, et(WED, "20:00")).sync_daily(["BAD"], CAL.sessions_back(WED, 2), WED)
    server.faults.bad_bars = {}  # the vendor corrected it
    spent = server.total
    data = make_data(server, ledger, et(WED, "21:00"))
    assert len(data.daily_bars("BAD", CAL.sessions_back(WED, 2), WED)) == 3
    assert data.rejected == {} and server.total == spent + 1  # only the flagged session


def test_bar_problem_names_what_is_wrong():
    assert bar_problem(1, 2, 0.5, 1.5, 10) is None
    assert bar_problem(1, 2, 0.5, 1.5, None, volume_required=False) is None
    assert "volume" in (bar_problem(1, 2, 0.5, 1.5, -1) or "")
    assert "high 1 is below low 2" in (bar_problem(1.5, 1, 2, 1.5, 10) or "")


# -- 429, timeouts, keys ---------------------------------------------------------------------------------------


def test_a_429_is_retried_and_then_succeeds(server, ledger):
    server.faults.rate_limit = 2
    timer = FakeTimer()
    frame = make_data(server, ledger, et(WED, "20:00"), timer=timer).daily_bars("AAPL", date(2026, 2, 2), WED)
    assert not frame.empty and server.total == 3
    assert len(timer.slept) == 2 and all(0 < s <= 31 for s in timer.slept)  # backoff, on the fake clock


def test_persistent_429s_end_in_a_transient_error_after_bounded_retries(server, ledger):
    server.faults.rate_limit = 100
    server.faults.retry_after = "7"
    timer = FakeTimer()
    data = make_data(server, ledger, et(WED, "20:00"), timer=timer)
    with pytest.raises(TransientError, match=r"rate limited \(HTTP 429\).*4 attempts") as caught:
        data.daily_bars("AAPL", date(2026, 2, 2), WED)
    assert caught.value.exit_code == 75
    assert server.total == MAX_ATTEMPTS
    assert timer.slept == [7.0] * (MAX_ATTEMPTS - 1)  # Retry-After honoured between attempts


@pytest.mark.slow  # waits out a real socket timeout
def test_a_response_that_never_comes_times_out_into_a_transient_error(server, ledger):
    server.faults.hang = 100
    data = make_data(server, ledger, et(WED, "20:00"), timeout=0.05)
    with pytest.raises(TransientError, match="no answer from Polygon"):
        data.daily_bars("AAPL", date(2026, 2, 2), WED)
    assert server.total == MAX_ATTEMPTS


def test_server_errors_are_retried(server, ledger):
    server.faults.server_error = 1
    assert len(make_data(server, ledger, et(WED, "20:00")).daily_bars("AAPL", date(2026, 3, 2), WED)) == 3
    assert server.total == 3 + 1  # three grouped sessions, one of them asked twice


def _all_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error) + str(getattr(error, "hint", ""))


@pytest.mark.slow
def test_the_key_never_appears_in_errors_or_logs(ledger, caplog):
    canary = "CANARY-polygon-7f3e9a1d"
    caplog.set_level(logging.DEBUG)  # urllib3 and the SDK included
    errors: list[BaseException] = []
    with FakePolygon(api_key="another-key") as wrong_key:
        with pytest.raises(ConfigError, match="rejected the API key") as refused:
            make_data(wrong_key, ledger, et(WED, "20:00"), key=canary).daily_bars("AAPL", date(2026, 2, 2), WED)
        errors.append(refused.value)
    with FakePolygon(api_key=canary) as server:
        server.faults.rate_limit = 100
        with pytest.raises(TransientError) as limited:
            make_data(server, ledger, et(WED, "20:00"), key=canary).daily_bars("AAPL", date(2026, 2, 2), WED)
        errors.append(limited.value)
        server.faults.rate_limit, server.faults.hang = 0, 100
        with pytest.raises(TransientError) as hung:
            make_data(server, ledger, et(WED, "20:00"), key=canary, timeout=0.1).daily_bars("MSFT", WED, WED)
        errors.append(hung.value)
        assert all(r.headers["authorization"] == f"Bearer {canary}" for r in server.log)  # it was sent...
    assert caplog.records  # ...and the debug log was on
    for error in errors:
        assert canary not in _all_text(error)
    assert canary not in caplog.text


# -- SIC sectors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "sector"),
    [
        ("3571", "Information Technology"),
        ("3674", "Information Technology"),
        ("7372", "Information Technology"),
        ("2834", "Health Care"),
        ("3841", "Health Care"),
        ("6021", "Financials"),
        ("6798", "Real Estate"),
        ("6512", "Real Estate"),
        ("1311", "Energy"),
        ("2911", "Energy"),
        ("1040", "Materials"),
        ("2080", "Consumer Staples"),
        ("5331", "Consumer Staples"),
        ("3711", "Consumer Discretionary"),
        ("5812", "Consumer Discretionary"),
        ("3721", "Industrials"),
        ("4911", "Utilities"),
        ("4813", "Communication Services"),
        (9995, None),
        ("not a code", None),
        (None, None),
    ],
)
def test_sic_codes_map_to_sectors(code, sector):
    assert sector_for_sic(code) == sector


def cached(reference: PolygonReference, ledger, at: datetime) -> CachedReference:
    return CachedReference(
        reference, ledger, SimulatedClock(at), sector_ttl=POLYGON_SECTOR_TTL, unknown_sector_ttl=timedelta(days=1)
    )


def test_polygon_reference_sectors_from_ticker_details_cached_in_the_ledger(server, ledger):
    data = make_data(server, ledger, et(WED, "10:30"))
    reference = cached(PolygonReference(data.api), ledger, et(WED, "10:30"))
    assert reference.sector("AAPL") == "Information Technology"
    assert reference.sector("JPM") == "Financials"
    assert reference.sector("SPY") == ETF  # funds have no SIC code
    assert reference.sector("NOPE") is None  # 404
    assert reference.next_earnings("AAPL", WED) is None  # not on Polygon's free plan: the policy decides
    assert server.counts["ticker_details"] == 4
    fresh = cached(PolygonReference(make_data(server, ledger, et(THU, "10:30")).api), ledger, et(THU, "09:00"))
    assert fresh.sector("AAPL") == "Information Technology" and fresh.sector("NOPE") is None
    assert server.counts["ticker_details"] == 4  # answered from the ledger by another run


def test_has_symbol_and_sector_share_one_ticker_details_request(server, ledger):
    data = make_data(server, ledger, et(WED, "10:30"))
    assert data.has_symbol("XOM")
    assert PolygonReference(data.api).sector("XOM") == "Energy"
    assert server.counts["ticker_details"] == 1


# -- bootstrap ------------------------------------------------------------------------------------------------


def _config(write_config, server_url: str, extra: str = ""):
    from autotrader.settings import load_config

    text = f'[data]\nkind = "polygon"\nbase_url = "{server_url}"\nrequests_per_minute = 7\ntimeout_seconds = 3\n'
    return load_config(write_config(text + extra))


def test_bootstrap_builds_polygon_data_from_the_config(server, ledger, write_config, monkeypatch):
    from autotrader.bootstrap import build_market_data, build_reference

    monkeypatch.setenv("MASSIVE_API_KEY", KEY)
    config = _config(write_config, server.url)
    clock = SimulatedClock(et(WED, "20:00"))
    data = build_market_data(config, clock, CAL, ledger)
    assert isinstance(data, PolygonData)
    assert data.api.limiter.capacity == 7
    assert len(data.daily_bars("AAPL", date(2026, 3, 2), WED)) == 3
    reference = build_reference(config, data, ledger=ledger, clock=clock)
    assert isinstance(reference, CachedReference) and reference.sector_ttl == POLYGON_SECTOR_TTL
    assert isinstance(reference.source, PolygonReference)  # no FINNHUB_API_KEY: SIC sectors
    assert reference.sector("MSFT") == "Information Technology"


def test_bootstrap_without_a_key_names_the_variable(server, ledger, write_config):
    from autotrader.bootstrap import build_market_data

    config = _config(write_config, server.url)
    with pytest.raises(ConfigError, match="MASSIVE_API_KEY"):
        build_market_data(config, SimulatedClock(et(WED, "20:00")), CAL, ledger)


def test_the_sdk_retries_are_off_and_timeouts_set(server, ledger):
    data = make_data(server, ledger, et(WED, "20:00"), timeout=3.0)
    assert data.api.client.retries == 0  # every retry goes through the limiter and the one policy
    assert data.api._pool._timeout.read_timeout == 3.0 and data.api._pool._timeout.connect_timeout == 3.0
    assert http.MAX_ATTEMPTS >= 2


# -- splits ---------------------------------------------------------------------------------------------------


def test_splits_are_parsed_with_new_shares_per_old_for_the_symbols_asked_about(server, ledger):
    server.splits = [
        split_row("AAPL", "2025-06-02", 1, 2),  # 2:1
        split_row("MSFT", "2025-09-15", 10, 1),  # 1:10 reverse
        split_row("JPM", "2024-05-20", 2, 3),  # 3:2
        split_row("ZZZZ", "2025-01-10", 1, 4),  # never asked about
        split_row("XOM", "2023-01-03", 1, 2),  # more than three years before the clock
    ]
    data = make_data(server, ledger, et(WED, "10:30"))
    for symbol in ("AAPL", "MSFT", "JPM", "XOM"):
        assert data.has_symbol(symbol)
    assert data.splits() == [
        ("JPM", date(2024, 5, 20), 1.5),
        ("AAPL", date(2025, 6, 2), 2.0),
        ("MSFT", date(2025, 9, 15), 0.1),
    ]
    (sent,) = server.requests_to("splits")  # one market-wide request, not one per ticker
    assert sent.query["execution_date.gte"] == "2023-03-04" and sent.query["execution_date.lte"] == WED.isoformat()
    assert "ticker" not in sent.query


def test_splits_of_symbols_tracked_by_an_earlier_run_are_listed_without_asking_again(server, ledger):
    server.splits = [split_row("AAPL", "2025-06-02", 1, 2), split_row("MSFT", "2025-09-15", 10, 1)]
    make_data(server, ledger, et(WED, "20:00")).daily_bars("AAPL", date(2026, 3, 2), WED)
    later = make_data(server, ledger, et(THU, "20:00"))  # a broker applying splits asks before any bar
    assert later.splits() == [("AAPL", date(2025, 6, 2), 2.0)]


def test_splits_follow_next_url(server, ledger):
    server.splits_page_size = 2
    server.splits = [
        split_row(s, date(2025, m, 3), 1, 2) for m, s in enumerate(("AAPL", "MSFT", "JPM", "XOM", "JNJ"), 1)
    ]
    server.splits.append(split_row("AAPL", "2022-06-06", 1, 20))  # filtered out by the server on every page
    data = make_data(server, ledger, et(WED, "10:30"))
    for symbol in ("AAPL", "MSFT", "JPM", "XOM", "JNJ"):
        data.has_symbol(symbol)
    assert [s[0] for s in data.splits()] == ["AAPL", "MSFT", "JPM", "XOM", "JNJ"]
    pages = server.requests_to("splits")
    assert len(pages) == 3
    assert all(set(p.query) == {"cursor"} for p in pages[1:])  # the SDK sends next_url's query only


@pytest.mark.parametrize("server_filters_dates", [True, False])
def test_no_split_dated_after_the_clock_is_returned(server, ledger, server_filters_dates):
    server.faults.splits_ignore_dates = not server_filters_dates
    server.splits = [
        split_row("AAPL", WED, 1, 2),  # the clock's date: announced, and effective at today's open
        split_row("MSFT", THU, 1, 4),  # tomorrow
        split_row("JPM", "2026-09-01", 1, 3),
    ]
    data = make_data(server, ledger, et(WED, "08:00"))
    for symbol in ("AAPL", "MSFT", "JPM"):
        data.daily_bars(symbol, date(2026, 3, 2), WED)
    assert data.splits() == [("AAPL", WED, 2.0)]
    # A later clock sees it, with one more request: the listing the ledger holds ends at Wednesday.
    later = make_data(server, ledger, et(THU, "08:00"))
    assert later.splits() == [("AAPL", WED, 2.0), ("MSFT", THU, 4.0)]


@pytest.mark.parametrize("fault", ["server_error", "not_authorized"])
def test_a_failure_to_list_splits_gives_none_with_one_warning(server, ledger, caplog, fault):
    server.splits = [split_row("AAPL", "2025-06-02", 1, 2)]
    data = make_data(server, ledger, et(WED, "10:30"))
    assert data.has_symbol("AAPL")
    if fault == "server_error":
        server.faults.server_error = 100
    else:
        server.faults.splits_not_authorized = True
    with caplog.at_level(logging.WARNING, logger="autotrader"):
        assert data.splits() == []
        assert data.splits() == []  # not asked again in the run
    warnings = [r for r in caplog.records if "split" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert server.counts["splits"] == (MAX_ATTEMPTS if fault == "server_error" else 1)
    assert KEY not in caplog.text


def test_a_refused_splits_listing_is_not_asked_again_until_the_next_day(server, ledger, caplog):
    server.faults.splits_not_authorized = True
    with caplog.at_level(logging.WARNING, logger="autotrader"):
        assert make_data(server, ledger, et(WED, "10:30")).splits() == []
        assert make_data(server, ledger, et(WED, "12:55")).splits() == []  # a later run the same day
    assert server.counts["splits"] == 1
    assert len([r for r in caplog.records if "split" in r.getMessage()]) == 1  # the refusal warns once
    assert make_data(server, ledger, et(THU, "10:30")).splits() == []
    assert server.counts["splits"] == 2  # the next day asks again


def test_a_failed_splits_listing_from_a_server_error_is_asked_again_by_the_next_run(server, ledger):
    server.faults.server_error = 100
    assert make_data(server, ledger, et(WED, "10:30")).splits() == []
    server.faults.server_error = 0
    server.splits = [split_row("AAPL", "2025-06-02", 1, 2)]
    data = make_data(server, ledger, et(WED, "12:55"))
    data.has_symbol("AAPL")
    assert data.splits() == [("AAPL", date(2025, 6, 2), 2.0)]


def test_splits_are_cached_for_the_process_and_in_the_ledger_for_the_day(server, ledger):
    server.splits = [split_row("AAPL", "2025-06-02", 1, 2)]
    data = make_data(server, ledger, et(WED, "10:30"))
    data.has_symbol("AAPL")
    first = data.splits()
    assert data.splits() == first == [("AAPL", date(2025, 6, 2), 2.0)]
    assert server.counts["splits"] == 1
    again = make_data(server, ledger, et(WED, "15:00"))  # another run the same day
    again.has_symbol("AAPL")
    assert again.splits() == first and server.counts["splits"] == 1

    # The next day: only the last month is asked for again (a split listed late is picked up).
    server.splits += [split_row("AAPL", "2026-02-20", 1, 3), split_row("AAPL", THU, 2, 1)]
    tomorrow = make_data(server, ledger, et(THU, "10:30"))
    tomorrow.has_symbol("AAPL")
    assert tomorrow.splits() == [*first, ("AAPL", date(2026, 2, 20), 3.0), ("AAPL", THU, 0.5)]
    assert server.counts["splits"] == 2
    assert server.requests_to("splits")[-1].query["execution_date.gte"] == (WED - timedelta(days=30)).isoformat()
    assert tomorrow.splits() and server.counts["splits"] == 2


def test_an_as_of_run_in_the_past_does_not_replace_the_ledgers_later_split_listing(server, ledger):
    server.splits = [split_row("AAPL", "2025-06-02", 1, 2), split_row("AAPL", "2022-06-06", 1, 20)]
    current = make_data(server, ledger, et(WED, "10:30"))
    current.has_symbol("AAPL")
    assert current.splits() == [("AAPL", date(2025, 6, 2), 2.0)]
    past = make_data(server, ledger, et(date(2024, 3, 5), "10:30"))
    past.has_symbol("AAPL")
    assert past.splits() == [("AAPL", date(2022, 6, 6), 20.0)]
    assert server.counts["splits"] == 2
    again = make_data(server, ledger, et(WED, "16:30"))
    again.has_symbol("AAPL")
    assert again.splits() == current.splits() and server.counts["splits"] == 2


def test_the_rebalancers_split_lookup_reads_polygon_splits(server, ledger):
    from types import SimpleNamespace

    from autotrader.pipeline.rebalance import known_splits
    from tests.factories import make_deps

    server.splits = [split_row("AAPL", "2025-06-02", 1, 2)]
    data = make_data(server, ledger, et(WED, "20:00"))
    data.has_symbol("AAPL")
    ctx = SimpleNamespace(deps=make_deps(SimulatedClock(et(WED, "20:00")), market_data=data), ledger=ledger)
    assert known_splits(ctx) == {"AAPL": {date(2025, 6, 2): 2.0}}


def test_unusable_split_rows_are_ignored_and_a_failed_day_keeps_the_ledgers_listing(server, ledger, caplog):
    server.splits = [
        split_row("AAPL", "2025-06-02", 1, 2),
        split_row("AAPL", "2025-06-02", 1, 2),  # listed twice: one event
        split_row("MSFT", "2025-07-01", 0, 2),
        split_row("JPM", "2025-07-01", 1, 1),
        {**split_row("XOM", "2025-07-01", 1, 2), "execution_date": None},
        {**split_row("JNJ", "2025-07-01", 1, 2), "split_to": None},
    ]
    data = make_data(server, ledger, et(WED, "10:30"))
    for symbol in ("AAPL", "MSFT", "JPM", "XOM", "JNJ"):
        data.has_symbol(symbol)
    assert data.splits() == [("AAPL", date(2025, 6, 2), 2.0)]

    tomorrow = make_data(server, ledger, et(THU, "10:30"))
    tomorrow.has_symbol("AAPL")
    server.faults.server_error = 100
    with caplog.at_level(logging.WARNING, logger="autotrader"):
        assert tomorrow.splits() == [("AAPL", date(2025, 6, 2), 2.0)]
    assert sum("could not list splits" in r.getMessage() for r in caplog.records) == 1
