"""The synthetic demo feed: labelled, deterministic, published at 08:00 New York, honest about time, and its
"good" source really is better than its "poor" one (modestly: this is a demo, not magic)."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from autotrader.adapters import synthetic_signals as feed_module
from autotrader.adapters.synthetic_data import FUNDS, SyntheticMarketData
from autotrader.adapters.synthetic_signals import BREAKOUT, COINFLIP, HYPE, QUALITY, SyntheticSignalFeed
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.domain.models import CATEGORIES
from autotrader.policy.signal_files import parse_document
from autotrader.ports import SignalSource
from tests.factories import et

CAL = MarketCalendar.xnys()
SESSION = date(2026, 3, 2)


def make_feed(at: datetime, *, seed: int = 42, sources=feed_module.SOURCES):
    clock = SimulatedClock(at)
    data = SyntheticMarketData(clock, CAL, seed=seed)
    return SyntheticSignalFeed(data, CAL, clock, seed=seed, sources=sources), data, clock


def rows(documents: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [row for _, text in documents for row in csv.DictReader(io.StringIO(text))]


def test_it_is_a_signal_source_named_synthetic():
    feed, _, _ = make_feed(et("2026-03-02 09:00"))
    assert isinstance(feed, SignalSource) and feed.name == "synthetic"


def test_published_at_eight_new_york_on_session_days_only():
    feed, _, clock = make_feed(et("2026-03-02 07:59"), sources=(QUALITY,))
    assert feed.documents(SESSION) == []
    clock.set(et("2026-03-02 08:00"))
    assert feed.documents(SESSION) != []
    clock.set(et("2026-03-09 08:00"))  # the first session after the DST change: still 08:00 New York
    assert feed.documents(date(2026, 3, 9)) != []
    clock.set(et("2026-03-09 07:59"))
    assert feed.documents(date(2026, 3, 9)) == []
    clock.set(et("2026-04-10 12:00"))
    assert feed.documents(date(2026, 3, 7)) == []  # a Saturday
    assert feed.documents(date(2026, 4, 3)) == []  # Good Friday
    assert feed.documents(date(2026, 4, 13)) == []  # a session, but not yet published at the clock


@pytest.mark.slow
def test_labelled_valid_in_every_category_with_convictions_and_cent_prices():
    feed, data, _ = make_feed(et("2026-03-20 09:00"))
    sessions = CAL.sessions_between(date(2026, 3, 2), date(2026, 3, 13))
    for session in sessions:
        documents = feed.documents(session)
        table = rows(documents)
        assert 6 <= len(table) <= 12
        assert {r["category"] for r in table} == set(CATEGORIES)
        assert {r["source"] for r in table} == {QUALITY, HYPE, BREAKOUT, COINFLIP}
        for name, text in documents:
            assert name.startswith("synthetic-") and name.endswith(f"-{session}.csv")
            parsed = parse_document(
                name,
                text.encode(),
                as_of=et(f"{session} 09:00"),
                max_age=timedelta(days=5),
                known_symbol=data.has_symbol,
            )
            assert parsed.skipped == ()  # every row passes the same checks as an inbox file
            for signal in parsed.signals:
                assert signal.source.startswith("synthetic:") and signal.note == "synthetic demo signal"
                assert signal.generated_at == et(f"{session} 08:00")
                assert 1 <= signal.conviction <= 10
                for price in (signal.entry, signal.stop, signal.target):
                    assert price == round(price, 2)
                assert signal.stop < signal.entry < signal.target
        for row in table:
            assert row["entry"] == f"{float(row['entry']):.2f}"


def test_deterministic_for_seed_and_session():
    at = et("2026-03-02 09:00")
    first = make_feed(at)[0].documents(SESSION)
    assert make_feed(at)[0].documents(SESSION) == first
    other_world = make_feed(at, seed=43, sources=(QUALITY, COINFLIP))[0].documents(SESSION)
    assert other_world != [d for d in first if "quality" in d[0] or "coinflip" in d[0]]
    assert make_feed(at)[0].documents(date(2026, 3, 3)) == []


def test_never_reads_after_the_clock_and_the_past_does_not_change_later():
    class Spy:
        def __init__(self, data):
            self.data, self.ends = data, []

        def daily_bars(self, symbol, start, end):
            frame = self.data.daily_bars(symbol, start, end)
            self.ends.append(end)
            assert len(frame) == 0 or frame.index[-1].date() < SESSION
            return frame

        def __getattr__(self, name):
            return getattr(self.data, name)

    at_publication = et("2026-03-02 08:00")
    clock = SimulatedClock(at_publication)
    spy = Spy(SyntheticMarketData(clock, CAL, seed=42))
    documents = SyntheticSignalFeed(spy, CAL, clock, seed=42).documents(SESSION)  # type: ignore[arg-type]
    assert spy.ends and max(spy.ends) == date(2026, 2, 27)  # the previous session: its close is complete
    # Months later the feed publishes exactly the same documents for that morning: nothing after 08:00 leaked.
    assert make_feed(et("2026-06-01 12:00"))[0].documents(SESSION) == documents


def _wilder_atr(high, low, close, period=14):
    tr = np.maximum.reduce([high[1:] - low[1:], np.abs(high[1:] - close[:-1]), np.abs(low[1:] - close[:-1])])
    atr = tr[:period].mean()
    for value in tr[period:]:
        atr += (value - atr) / period
    return atr


def test_breakout_scanner_levels_from_previous_close_and_wilder_atr():
    feed, data, _ = make_feed(et("2026-03-02 09:00"), sources=(BREAKOUT,))
    table = rows(feed.documents(SESSION))
    momentum, atr, close = {}, {}, {}
    for symbol in data.universe:
        frame = data.daily_bars(symbol, date(2025, 11, 1), date(2026, 2, 27))
        closes = frame["close"].to_numpy()
        momentum[symbol] = closes[-1] / closes[-21] - 1
        recent = frame.iloc[-61:]
        atr[symbol] = _wilder_atr(*(recent[c].to_numpy() for c in ("high", "low", "close")))
        close[symbol] = closes[-1]
    leaders = sorted(momentum, key=lambda s: -momentum[s])[: len(table)]
    assert [r["symbol"] for r in table] == leaders
    for r in table:
        s = r["symbol"]
        assert r["category"] == "swing" and r["horizon_days"] == "10"
        assert float(r["entry"]) == pytest.approx(close[s])
        assert float(r["stop"]) == pytest.approx(close[s] - 2 * atr[s], abs=0.006)
        assert float(r["target"]) == pytest.approx(close[s] + 3 * atr[s], abs=0.006)


def test_coinflip_day_trades_levels():
    feed, _, _ = make_feed(et("2026-03-02 09:00"), sources=(COINFLIP,))
    for r in rows(feed.documents(SESSION)):
        entry = float(r["entry"])
        assert r["category"] == "day_trade" and r["horizon_days"] == "1"
        assert float(r["stop"]) == round(entry * 0.99, 2) and float(r["target"]) == round(entry * 1.02, 2)


def test_expected_annual_drift_is_the_hidden_truth():
    data = SyntheticMarketData(SimulatedClock(datetime(2026, 3, 2, tzinfo=UTC)), CAL, seed=42)
    funds = {data.expected_annual_drift(s) for s in FUNDS}
    assert len(funds) == 1  # funds carry no alpha: the market's drift only
    market = funds.pop()
    stocks = [data.expected_annual_drift(s) for s in data.universe if s not in FUNDS]
    assert all(abs(d - market) <= 0.05 + 1e-12 for d in stocks)  # alpha is within ±5 % a year
    assert len(set(stocks)) == len(stocks)
    assert data.expected_annual_drift("NOPE") == 0.0
    other = SyntheticMarketData(SimulatedClock(datetime(2026, 3, 2, tzinfo=UTC)), CAL, seed=7)
    assert other.expected_annual_drift("AAPL") - other.expected_annual_drift("SPY") == pytest.approx(
        data.expected_annual_drift("AAPL") - market
    )  # a name's own alpha does not depend on the seed


@pytest.mark.slow
def test_the_good_source_beats_the_poor_one_over_two_years():
    """Mean 60-session forward return (open of the signal's session to the close 59 sessions later) and the
    share of picks that rose, over every other session of 2025-2026. The gap is real but modest: drifts differ
    by a few percent a year against double-digit volatility."""
    horizon = 60
    feed, data, _ = make_feed(datetime(2030, 1, 1, tzinfo=UTC), sources=(QUALITY, HYPE))
    sessions = CAL.sessions_between(date(2025, 1, 1), date(2026, 12, 31))[::2]
    picks: dict[str, list[tuple[date, str, int]]] = {QUALITY: [], HYPE: []}
    for session in sessions:
        for r in rows(feed.documents(session)):
            picks[r["source"]].append((session, r["symbol"], int(r["conviction"])))
    frames: dict[str, object] = {}
    returns: dict[str, list[float]] = {QUALITY: [], HYPE: []}
    for source, chosen in picks.items():
        for session, symbol, _ in chosen:
            if symbol not in frames:
                frames[symbol] = data.daily_bars(symbol, date(2025, 1, 1), date(2027, 6, 30))
            frame = frames[symbol]
            i = frame.index.get_loc(pd.Timestamp(session))
            returns[source].append(frame["close"].iloc[i + horizon - 1] / frame["open"].iloc[i] - 1)
    good, poor = np.array(returns[QUALITY]), np.array(returns[HYPE])
    assert len(good) >= 2 * len(sessions) and len(poor) >= 2 * len(sessions)
    assert good.mean() > poor.mean() + 0.01
    assert (good > 0).mean() > (poor > 0).mean()

    # The good source's conviction is mildly informative: it rises with the (hidden) drift of its picks.
    drift = np.array([data.expected_annual_drift(s) for _, s, _ in picks[QUALITY]])
    conviction = np.array([c for _, _, c in picks[QUALITY]], dtype=float)
    correlation = float(np.corrcoef(drift, conviction)[0, 1])
    assert 0.1 < correlation < 0.9 and not math.isnan(correlation)
    # ... and the poor one's is loud and says nothing.
    assert min(c for _, _, c in picks[HYPE]) >= 7
