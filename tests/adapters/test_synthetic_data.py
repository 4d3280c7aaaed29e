"""SyntheticMarketData / SyntheticReference: determinism, no look-ahead, minute/daily agreement, realism."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autotrader.adapters import synthetic_data
from autotrader.adapters.synthetic_data import DEFAULT_UNIVERSE, FUNDS, SyntheticMarketData
from autotrader.adapters.synthetic_reference import GICS_SECTORS, SyntheticReference
from autotrader.clock import ET, MarketCalendar, SimulatedClock
from autotrader.ports import MarketData, Reference

CAL = MarketCalendar.xnys()
COLUMNS = ["open", "high", "low", "close", "volume"]
FAR_FUTURE = datetime(2035, 6, 1, tzinfo=UTC)


def et(day: str, hhmm: str, second: int = 0) -> datetime:
    return CAL.at_et(date.fromisoformat(day), hhmm) + timedelta(seconds=second)


def data_at(at: datetime, *, seed: int = 42, extra: tuple[str, ...] = ()) -> SyntheticMarketData:
    return SyntheticMarketData(SimulatedClock(at), CAL, seed=seed, extra_symbols=extra)


def session_minutes(md: SyntheticMarketData, symbol: str, day: str) -> pd.DataFrame:
    d = date.fromisoformat(day)
    start = datetime(d.year, d.month, d.day, tzinfo=ET)
    return md.minute_bars(symbol, start, start + timedelta(days=1))


def _clear_caches() -> None:
    for cached in (
        synthetic_data._span,
        synthetic_data._market,
        synthetic_data._symbol_path,
        synthetic_data._session_minutes,
        synthetic_data._profile,
        synthetic_data._earnings_index,
    ):
        cached.cache_clear()


@pytest.fixture
def fresh_caches():
    _clear_caches()
    yield
    _clear_caches()


# -- determinism -----------------------------------------------------------------------------------

_DIGEST = """
import hashlib
from datetime import UTC, date, datetime
from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import MarketCalendar, SimulatedClock
md = SyntheticMarketData(SimulatedClock(datetime(2027, 1, 1, tzinfo=UTC)), MarketCalendar.xnys(), seed=7)
h = hashlib.sha256()
for sym in ("SPY", "QBTS", "VIX"):
    h.update(md.daily_bars(sym, date(2024, 1, 1), date(2026, 12, 31)).to_csv().encode())
minutes = md.minute_bars("NVDA", datetime(2026, 11, 27, 14, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))
h.update(minutes.to_csv().encode())
print(h.hexdigest())
"""


@pytest.mark.slow
def test_same_seed_gives_the_same_bars_in_another_process(capsys: pytest.CaptureFixture[str]) -> None:
    # Arrange: a child with a fixed str-hash salt; this process has another (would expose any hash()).
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONHASHSEED": "12345" if os.environ.get("PYTHONHASHSEED") != "12345" else "54321",
    }
    # Act
    child = subprocess.run(
        [sys.executable, "-c", _DIGEST], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    exec(compile(_DIGEST, "<digest>", "exec"), {})  # noqa: S102 - the same code, in this process
    # Assert
    here = capsys.readouterr().out
    assert child.stdout == here
    assert len(here.strip()) == 64


def test_two_instances_with_cold_caches_agree(fresh_caches: None) -> None:
    first = data_at(FAR_FUTURE).daily_bars("TSLA", date(2020, 1, 1), date(2021, 1, 1))
    _clear_caches()
    second = data_at(FAR_FUTURE).daily_bars("TSLA", date(2020, 1, 1), date(2021, 1, 1))
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 253


@pytest.mark.parametrize("symbol", ["SPY", "AAPL", "VIX"])
def test_different_seeds_give_different_worlds(symbol: str) -> None:
    a = data_at(FAR_FUTURE, seed=1).daily_bars(symbol, date(2024, 1, 1), date(2024, 3, 1))
    b = data_at(FAR_FUTURE, seed=2).daily_bars(symbol, date(2024, 1, 1), date(2024, 3, 1))
    assert len(a) == len(b) > 30
    assert not np.allclose(a["close"].to_numpy(), b["close"].to_numpy())


def test_bars_do_not_depend_on_the_order_ranges_are_first_requested(fresh_caches: None) -> None:
    # Arrange: the late range first, in cold caches, then the early one.
    md = data_at(FAR_FUTURE)
    md.daily_bars("PLTR", date(2031, 1, 1), date(2031, 2, 1))
    late_first = md.daily_bars("PLTR", date(2018, 5, 1), date(2018, 9, 1))
    _clear_caches()
    # Act
    direct = data_at(FAR_FUTURE).daily_bars("PLTR", date(2018, 5, 1), date(2018, 9, 1))
    # Assert
    pd.testing.assert_frame_equal(late_first, direct)


def test_a_universe_built_at_once_on_threads_has_the_bars_each_symbol_builds_alone(fresh_caches: None) -> None:
    # Arrange: twelve symbols' year built together (``sync_daily``, several symbols a thread), in cold caches.
    symbols = [*DEFAULT_UNIVERSE[:10], "SYN001", "SYN002"]
    start, end = date(2023, 3, 1), date(2024, 3, 1)
    together = data_at(FAR_FUTURE, extra=("SYN001", "SYN002"))
    # Act
    filled = together.sync_daily([*symbols, "NOPE", symbols[0]], start, end)
    built = {s: together.daily_bars(s, start, end) for s in symbols}
    again = together.sync_daily(symbols, start, end)
    _clear_caches()
    alone = data_at(FAR_FUTURE, extra=("SYN001", "SYN002"))
    # Assert: the same frames as one symbol at a time; an unknown symbol and a repeat are no work, nor is a
    # second call; the threads' highs and lows are those of the sessions' own minutes.
    assert (filled, again) == (len(symbols), 0)
    for symbol in symbols:
        pd.testing.assert_frame_equal(built[symbol], alone.daily_bars(symbol, start, end))
    day = built["SYN001"].index[100].date().isoformat()
    minutes = session_minutes(together, "SYN001", day)
    assert built["SYN001"].loc[day, "high"] == minutes["high"].max()
    assert built["SYN001"].loc[day, "low"] == minutes["low"].min()


def test_the_world_fetches_a_universe_at_once() -> None:
    from autotrader.ports import UniverseDailyBars

    assert isinstance(data_at(FAR_FUTURE), UniverseDailyBars)


# -- no look-ahead ---------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["SPY", "QBTS", "GLD", "VIX"])
@pytest.mark.parametrize("day", ["2019-06-14", "2026-03-10"])
def test_past_bars_are_the_same_whatever_the_clock_and_range(symbol: str, day: str) -> None:
    # Arrange: a clock at D's close and one 200 sessions later.
    d = date.fromisoformat(day)
    later = CAL.sessions_between(d, d + timedelta(days=400))[200]
    now = data_at(CAL.session_close(d))
    future = data_at(CAL.session_close(later))
    start = d - timedelta(days=400)
    # Act
    seen_then = now.daily_bars(symbol, start, later)
    seen_later = future.daily_bars(symbol, start, later)
    narrow = future.daily_bars(symbol, d - timedelta(days=6), d)
    # Assert
    assert seen_then.index[-1] == pd.Timestamp(d)
    assert seen_later.index[-1] == pd.Timestamp(later)
    pd.testing.assert_frame_equal(seen_then, seen_later.loc[: pd.Timestamp(d)])
    pd.testing.assert_frame_equal(narrow, seen_then.loc[pd.Timestamp(d - timedelta(days=6)) :])


def test_past_minute_bars_are_the_same_whatever_the_clock() -> None:
    morning = session_minutes(data_at(et("2026-03-10", "11:17", 30)), "NVDA", "2026-03-10")
    full = session_minutes(data_at(FAR_FUTURE), "NVDA", "2026-03-10")
    assert len(morning) == 107  # 09:30 .. 11:16 have ended at 11:17:30
    pd.testing.assert_frame_equal(morning, full.iloc[: len(morning)])


@pytest.mark.parametrize(
    ("day", "hhmm", "expected_last"),
    [
        ("2026-03-10", "15:59", "2026-03-09"),  # D's bar is not complete a minute before the close
        ("2026-03-10", "16:00", "2026-03-10"),
        ("2026-11-27", "12:59", "2026-11-25"),  # early close; 26th is Thanksgiving
        ("2026-11-27", "13:00", "2026-11-27"),
        ("2026-11-28", "10:00", "2026-11-27"),  # a Saturday
        ("2026-03-10", "09:00", "2026-03-09"),
    ],
)
@pytest.mark.parametrize("symbol", ["MSFT", "VIX"])
def test_a_daily_bar_appears_at_its_sessions_close(symbol: str, day: str, hhmm: str, expected_last: str) -> None:
    bars = data_at(et(day, hhmm)).daily_bars(symbol, date(2026, 3, 1), date(2026, 12, 31))
    assert bars.index[-1] == pd.Timestamp(expected_last)


@pytest.mark.parametrize(
    ("hhmm", "second", "expected_count", "expected_last"),
    [
        ("09:30", 0, 0, None),
        ("09:30", 59, 0, None),  # the first bar ends at 09:31
        ("09:31", 0, 1, "09:30"),
        ("10:00", 0, 30, "09:59"),
        ("10:00", 59, 30, "09:59"),
        ("15:59", 59, 389, "15:58"),
        ("16:00", 0, 390, "15:59"),
        ("20:00", 0, 390, "15:59"),
    ],
)
def test_a_minute_bar_appears_once_its_minute_has_ended(
    hhmm: str, second: int, expected_count: int, expected_last: str | None
) -> None:
    bars = session_minutes(data_at(et("2026-03-10", hhmm, second)), "AMD", "2026-03-10")
    assert len(bars) == expected_count
    if expected_last is not None:
        assert bars.index[-1] == et("2026-03-10", expected_last)


def test_minute_range_is_start_inclusive_end_exclusive() -> None:
    md = data_at(FAR_FUTURE)
    bars = md.minute_bars("SPY", et("2026-03-10", "10:00"), et("2026-03-10", "10:05"))
    assert list(bars.index) == [et("2026-03-10", f"10:0{m}") for m in range(5)]


# -- minute bars and daily bars agree --------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "day"),
    [
        ("SPY", "2026-03-10"),
        ("QBTS", "2026-11-27"),  # early close
        ("NVDA", "2019-03-11"),  # first session after the switch to daylight time
        ("TLT", "2015-01-02"),  # first session of the span
        ("IREN", "2034-12-29"),  # last session of the span
    ],
)
def test_minute_bars_aggregate_exactly_to_the_daily_bar(symbol: str, day: str) -> None:
    # Arrange
    md = data_at(FAR_FUTURE)
    d = date.fromisoformat(day)
    # Act
    minutes = session_minutes(md, symbol, day)
    daily = md.daily_bars(symbol, d, d).iloc[0]
    # Assert: an independent OHLCV aggregation of the minutes
    assert minutes["open"].iloc[0] == daily["open"]
    assert minutes["high"].max() == daily["high"]
    assert minutes["low"].min() == daily["low"]
    assert minutes["close"].iloc[-1] == daily["close"]
    assert minutes["volume"].sum() == daily["volume"]
    assert (minutes["open"].iloc[1:].to_numpy() == minutes["close"].iloc[:-1].to_numpy()).all()
    # The whole session's range, as the simulated exchange reads it, is the minutes' extremes, also while the
    # session is under way (the clock at its open); none on a day without a session or for an unknown symbol.
    assert md.session_range(symbol, d) == (minutes["low"].min(), minutes["high"].max())
    assert data_at(CAL.session_open(d)).session_range(symbol, d) == md.session_range(symbol, d)
    assert md.session_range(symbol, date(2026, 11, 26)) is None and md.session_range("NOPE", d) is None


@pytest.mark.parametrize(
    ("day", "count", "first", "last"),
    [
        ("2026-03-10", 390, "09:30", "15:59"),
        ("2026-07-15", 390, "09:30", "15:59"),
        ("2026-11-27", 210, "09:30", "12:59"),  # day after Thanksgiving closes at 13:00
        ("2026-12-24", 210, "09:30", "12:59"),
        ("2026-11-26", 0, None, None),  # Thanksgiving
        ("2026-11-28", 0, None, None),  # Saturday
    ],
)
def test_minute_bar_count_follows_the_session(day: str, count: int, first: str | None, last: str | None) -> None:
    minutes = session_minutes(data_at(FAR_FUTURE), "AAPL", day)
    assert len(minutes) == count
    if count:
        assert minutes.index[0] == et(day, first)
        assert minutes.index[-1] == et(day, last)
        assert (np.diff(minutes.index.asi8) == 60 * 10**9).all()


def test_holidays_have_no_daily_bar() -> None:
    bars = data_at(FAR_FUTURE).daily_bars("AAPL", date(2026, 11, 20), date(2026, 11, 30))
    days = [ts.date() for ts in bars.index]
    assert days == CAL.sessions_between(date(2026, 11, 20), date(2026, 11, 30))
    assert date(2026, 11, 26) not in days


def test_minute_volume_is_u_shaped() -> None:
    md = data_at(FAR_FUTURE)
    frames = [
        session_minutes(md, "SPY", d.isoformat()) for d in CAL.sessions_between(date(2026, 4, 1), date(2026, 4, 30))
    ]
    volume = np.mean([f["volume"].to_numpy() for f in frames], axis=0)
    first, midday, last = volume[:30].mean(), volume[150:240].mean(), volume[-30:].mean()
    assert first > 1.5 * midday
    assert last > 1.3 * midday
    assert all((f["volume"] == f["volume"].round()).all() for f in frames)


# -- realism ---------------------------------------------------------------------------------------

WILD = ["QBTS", "SOFI", "IREN"]  # the wildest paths: the ones that could reach zero


@pytest.mark.parametrize("symbol", WILD)
def test_prices_are_positive_and_bars_are_consistent_over_the_span(symbol: str) -> None:
    bars = data_at(FAR_FUTURE).daily_bars(symbol, date(2000, 1, 1), date(2040, 1, 1))
    o, h, low, c, v = (bars[col].to_numpy() for col in COLUMNS)
    assert len(bars) == len(CAL.sessions_between(date(2015, 1, 2), date(2034, 12, 29)))
    assert (low > 0).all()
    assert (h >= np.maximum(o, c)).all() and (low <= np.minimum(o, c)).all()
    assert (v > 0).all()
    assert np.array_equal(np.round(c, 2), c)
    assert 0.5 < c.max() < 50_000


@pytest.mark.parametrize(("symbol", "lo", "hi"), [("SPY", 0.95, 1.05), ("QBTS", 1.2, 2.6), ("GLD", -0.2, 0.3)])
def test_beta_to_the_market_follows_the_profile(symbol: str, lo: float, hi: float) -> None:
    md = data_at(FAR_FUTURE)
    market = np.log(md.daily_bars("SPY", date(2021, 1, 1), date(2025, 12, 31))["close"]).diff().dropna()
    stock = np.log(md.daily_bars(symbol, date(2021, 1, 1), date(2025, 12, 31))["close"]).diff().dropna()
    beta = np.cov(stock, market)[0, 1] / market.var()
    assert lo < beta < hi


def test_volatility_clusters_in_regimes() -> None:
    spy = data_at(FAR_FUTURE).daily_bars("SPY", date(2015, 1, 1), date(2034, 12, 31))["close"]
    moves = np.log(spy).diff().dropna().abs().to_numpy()
    assert np.corrcoef(moves[1:], moves[:-1])[0, 1] > 0.1


def test_the_open_gaps_from_the_previous_close() -> None:
    bars = data_at(FAR_FUTURE).daily_bars("AAPL", date(2020, 1, 1), date(2024, 12, 31))
    gapped = (bars["open"].iloc[1:].to_numpy() != bars["close"].iloc[:-1].to_numpy()).mean()
    assert gapped > 0.8


@pytest.mark.parametrize("symbol", ["NVDA", "JPM", "KO", "SOFI"])
def test_earnings_days_gap_more_and_trade_more(symbol: str) -> None:
    md = data_at(FAR_FUTURE)
    bars = md.daily_bars(symbol, date(2019, 1, 1), date(2026, 12, 31))
    gap = np.abs(np.log(bars["open"] / bars["close"].shift(1)))
    on_earnings = bars.index.isin(pd.DatetimeIndex(md.earnings_dates(symbol)))
    assert on_earnings.sum() == sum(date(2019, 1, 1) <= d <= date(2026, 12, 31) for d in md.earnings_dates(symbol))
    assert on_earnings.sum() >= 30
    assert gap[on_earnings].mean() > 2.5 * gap[~on_earnings].mean()
    assert bars["volume"][on_earnings].median() > 1.8 * bars["volume"][~on_earnings].median()


def test_vix_is_plausible_and_rises_when_the_market_falls() -> None:
    md = data_at(FAR_FUTURE)
    vix = md.vix_daily(date(2016, 1, 1), date(2025, 12, 31))
    spy = md.daily_bars("SPY", date(2016, 1, 1), date(2025, 12, 31))
    closes = vix["close"].to_numpy()
    assert 8.5 <= closes.min() and closes.max() <= 90
    low, high = np.quantile(closes, [0.05, 0.95])
    assert 10 <= low and high <= 45
    assert 13 <= np.median(closes) <= 24
    correlation = np.corrcoef(np.diff(np.log(spy["close"])), np.diff(np.log(closes)))[0, 1]
    assert correlation < -0.5
    pd.testing.assert_frame_equal(vix, md.daily_bars("VIX", date(2016, 1, 1), date(2025, 12, 31)))


# -- frame conventions (ports.py) ------------------------------------------------------------------

_FRAMES = {
    "daily": lambda md: md.daily_bars("SPY", date(2026, 1, 1), date(2026, 3, 1)),
    "vix": lambda md: md.vix_daily(date(2026, 1, 1), date(2026, 3, 1)),
    "minute": lambda md: session_minutes(md, "SPY", "2026-03-10"),
    "empty daily (before the span)": lambda md: md.daily_bars("SPY", date(2010, 1, 1), date(2010, 3, 1)),
    "empty daily (unknown)": lambda md: md.daily_bars("NOPE", date(2026, 1, 1), date(2026, 3, 1)),
    "empty minute (holiday)": lambda md: session_minutes(md, "SPY", "2026-11-26"),
    "empty minute (VIX)": lambda md: session_minutes(md, "VIX", "2026-03-10"),
}


@pytest.mark.parametrize("kind", list(_FRAMES))
def test_frames_follow_the_port_conventions(kind: str) -> None:
    frame = _FRAMES[kind](data_at(FAR_FUTURE))
    assert list(frame.columns) == COLUMNS
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert frame.empty == kind.startswith("empty")
    if "minute" in kind:
        assert frame.index.name == "timestamp"
        assert str(frame.index.tz) == "UTC"
    else:
        assert frame.index.name == "date"
        assert frame.index.tz is None
        assert (frame.index == frame.index.normalize()).all()


def test_returned_frames_do_not_share_memory_with_the_cache() -> None:
    md = data_at(FAR_FUTURE)
    first = md.daily_bars("SPY", date(2026, 1, 1), date(2026, 3, 1))
    first.loc[:, "close"] = -1.0
    again = md.daily_bars("SPY", date(2026, 1, 1), date(2026, 3, 1))
    assert (again["close"] > 0).all()


def test_adapters_satisfy_the_ports() -> None:
    md = data_at(FAR_FUTURE)
    assert isinstance(md, MarketData)
    assert isinstance(SyntheticReference(md), Reference)


def test_naive_minute_range_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        data_at(FAR_FUTURE).minute_bars("SPY", datetime(2026, 3, 10, 10), datetime(2026, 3, 10, 11))  # noqa: DTZ001


# -- universe and unknown symbols ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "known"),
    [
        ("SPY", True),
        ("NVDA", True),
        ("VIX", True),
        ("CPER", True),
        ("ZZZZ", False),
        ("spy", False),
        ("", False),
    ],
)
def test_has_symbol_covers_the_universe_only(symbol: str, known: bool) -> None:
    assert data_at(FAR_FUTURE).has_symbol(symbol) is known


def test_unknown_symbol_has_no_data() -> None:
    md = data_at(FAR_FUTURE)
    assert md.daily_bars("ZZZZ", date(2026, 1, 1), date(2026, 3, 1)).empty
    assert session_minutes(md, "ZZZZ", "2026-03-10").empty
    assert md.latest_quote("ZZZZ") is None
    assert md.earnings_dates("ZZZZ") == []


def test_extra_symbols_join_the_universe() -> None:
    md = data_at(FAR_FUTURE, extra=("ACME",))
    bars = md.daily_bars("ACME", date(2026, 1, 1), date(2026, 3, 1))
    assert md.has_symbol("ACME") and not data_at(FAR_FUTURE).has_symbol("ACME")
    assert len(bars) == len(CAL.sessions_between(date(2026, 1, 1), date(2026, 3, 1)))
    assert (bars["close"] > 0).all()
    assert "ACME" in md.universe
    assert md.earnings_dates("ACME")


def test_the_universe_spans_every_sector_and_the_named_tickers() -> None:
    required = {
        "SPY",
        "QQQ",
        "IWM",
        "DIA",
        "GLD",
        "SLX",
        "JEF",
        "CPER",
        "NVDA",
        "PLTR",
        "TSLA",
        "MSFT",
        "OKLO",
        "RMBS",
        "QBTS",
        "IREN",
        "AFRM",
        "SOFI",
        "AAPL",
        "AMZN",
        "GOOGL",
        "META",
        "JPM",
        "XOM",
        "JNJ",
        "UNH",
    }
    assert required <= set(DEFAULT_UNIVERSE)
    assert 55 <= len(DEFAULT_UNIVERSE) <= 70
    assert len(set(DEFAULT_UNIVERSE)) == len(DEFAULT_UNIVERSE)
    assert set(GICS_SECTORS) == set(DEFAULT_UNIVERSE)
    assert len(set(GICS_SECTORS.values()) - {"ETF"}) == 11


# -- quotes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "source", "quoted_at"),
    [
        (et("2026-03-10", "10:00", 30), ("minute", "2026-03-10", "09:59"), et("2026-03-10", "10:00")),
        (et("2026-03-10", "15:59", 59), ("minute", "2026-03-10", "15:58"), et("2026-03-10", "15:59")),
        (
            et("2026-03-10", "09:30", 30),
            ("daily", "2026-03-09"),
            et("2026-03-09", "16:00"),
        ),  # no minute done yet
        (et("2026-03-10", "16:00"), ("daily", "2026-03-10"), et("2026-03-10", "16:00")),
        (et("2026-03-14", "11:00"), ("daily", "2026-03-13"), et("2026-03-13", "16:00")),  # Saturday
        (
            et("2026-11-27", "14:00"),
            ("daily", "2026-11-27"),
            et("2026-11-27", "13:00"),
        ),  # after the early close
    ],
)
def test_latest_quote_comes_from_the_last_complete_bar(
    now: datetime, source: tuple[str, ...], quoted_at: datetime
) -> None:
    # Arrange: the expected last price, read independently from bars at a far-future clock.
    later = data_at(FAR_FUTURE)
    if source[0] == "minute":
        expected = later.minute_bars("TSLA", et(source[1], source[2]), et(source[1], source[2]) + timedelta(minutes=1))
    else:
        d = date.fromisoformat(source[1])
        expected = later.daily_bars("TSLA", d, d)
    # Act
    quote = data_at(now).latest_quote("TSLA")
    # Assert
    assert quote is not None
    assert quote.last == expected["close"].iloc[0]
    assert quote.quoted_at == quoted_at
    assert quote.bid < quote.last < quote.ask
    assert quote.spread_bps < 25


@pytest.mark.parametrize("now", [datetime(2014, 12, 31, 20, tzinfo=UTC), et("2015-01-02", "09:30", 30)])
def test_no_quote_before_any_bar_exists(now: datetime) -> None:
    assert data_at(now).latest_quote("SPY") is None


def test_vix_quote_is_its_last_close() -> None:
    quote = data_at(et("2026-03-10", "11:00")).latest_quote("VIX")
    last = data_at(FAR_FUTURE).vix_daily(date(2026, 3, 9), date(2026, 3, 9))["close"].iloc[0]
    assert quote is not None and quote.last == quote.bid == quote.ask == last


# -- earnings and reference ------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", sorted(FUNDS))
def test_funds_have_no_earnings(symbol: str) -> None:
    md = data_at(FAR_FUTURE)
    assert md.earnings_dates(symbol) == []
    assert SyntheticReference(md).next_earnings(symbol, date(2026, 1, 1)) is None


@pytest.mark.parametrize("symbol", ["AAPL", "QBTS", "JEF", "DUK"])
def test_earnings_are_quarterly_sessions(symbol: str) -> None:
    dates = data_at(FAR_FUTURE).earnings_dates(symbol)
    sessions = CAL.sessions_between(date(2015, 1, 1), date(2034, 12, 31))
    position = {d: i for i, d in enumerate(sessions)}
    assert all(d in position for d in dates)
    gaps = np.diff([position[d] for d in dates])
    assert 56 <= gaps.min() and gaps.max() <= 70
    assert 4 * 19 <= len(dates) <= 4 * 20 + 1


def test_earnings_offsets_differ_between_symbols() -> None:
    md = data_at(FAR_FUTURE)
    firsts = {md.earnings_dates(s)[0] for s in ("AAPL", "MSFT", "JPM", "XOM", "NVDA", "KO", "PG", "BA")}
    assert len(firsts) >= 5


@pytest.mark.parametrize(
    ("symbol", "sector"),
    [
        ("NVDA", "Information Technology"),
        ("GOOGL", "Communication Services"),
        ("TSLA", "Consumer Discretionary"),
        ("KO", "Consumer Staples"),
        ("XOM", "Energy"),
        ("JPM", "Financials"),
        ("AFRM", "Financials"),
        ("UNH", "Health Care"),
        ("CAT", "Industrials"),
        ("FCX", "Materials"),
        ("PLD", "Real Estate"),
        ("OKLO", "Utilities"),
        ("SPY", "ETF"),
        ("SLX", "ETF"),
        ("ZZZZ", None),
        ("VIX", None),
    ],
)
def test_reference_sectors(symbol: str, sector: str | None) -> None:
    assert SyntheticReference(data_at(FAR_FUTURE)).sector(symbol) == sector


@pytest.mark.parametrize("symbol", ["AAPL", "SOFI", "WMT"])
@pytest.mark.parametrize("on_or_after", [date(2015, 1, 1), date(2026, 2, 14), date(2030, 7, 4)])
def test_next_earnings_is_the_first_scheduled_date_on_or_after(symbol: str, on_or_after: date) -> None:
    md = data_at(FAR_FUTURE)
    schedule = md.earnings_dates(symbol)
    expected = min(d for d in schedule if d >= on_or_after)
    reference = SyntheticReference(md)
    assert reference.next_earnings(symbol, on_or_after) == expected
    assert reference.next_earnings(symbol, expected) == expected  # on the day itself
    assert reference.next_earnings(symbol, expected + timedelta(days=1)) > expected


def test_next_earnings_past_the_schedule_or_unknown_is_none() -> None:
    reference = SyntheticReference(data_at(FAR_FUTURE))
    assert reference.next_earnings("AAPL", date(2036, 1, 1)) is None
    assert reference.next_earnings("ZZZZ", date(2026, 1, 1)) is None
