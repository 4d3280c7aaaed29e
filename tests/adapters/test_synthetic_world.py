"""The synthetic world's known truth: news episodes, the drift they add, and each demo source's true abnormal
return, checked against prices with a plain numpy market model (never against the world's own sums)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import numpy as np
import pytest

from autotrader.adapters import synthetic_data
from autotrader.adapters.synthetic_data import (
    BAD,
    FUNDS,
    GOOD,
    HIDDEN,
    NEWS_HORIZON,
    NEWS_KINDS,
    SyntheticMarketData,
)
from autotrader.adapters.synthetic_signals import (
    CATALYST,
    COINFLIP,
    HIGH_BETA,
    HYPE,
    SOURCES,
    SyntheticSignalFeed,
    news_window_sessions,
)
from autotrader.clock import MarketCalendar, SimulatedClock

CAL = MarketCalendar.xnys()
LATE = datetime(2035, 6, 1, tzinfo=UTC)
ESTIMATION = (250, 11)  # market model fitted on the sessions entry-250 .. entry-11


def world(seed: int, kind: str = "default") -> SyntheticMarketData:
    return SyntheticMarketData(SimulatedClock(LATE), CAL, seed=seed, world=kind)


def feed(data: SyntheticMarketData, sources=SOURCES) -> SyntheticSignalFeed:
    return SyntheticSignalFeed(data, CAL, SimulatedClock(LATE), seed=7, sources=sources)


def log_bars(data: SyntheticMarketData, symbol: str, start: date, end: date) -> tuple[np.ndarray, np.ndarray]:
    bars = data.daily_bars(symbol, start, end)
    return np.log(bars["open"].to_numpy()), np.log(bars["close"].to_numpy())


SPAN = list(synthetic_data._span(CAL).dates)


def span_logs(seed: int, symbol: str, kind: str = "default") -> tuple[np.ndarray, np.ndarray]:
    """Log open and close over the whole span, straight from the generated path: the statistical tests need
    decades of bars, and ``daily_bars`` would also build every session's minutes for highs and lows."""
    path = synthetic_data._symbol_path(CAL, seed, symbol, kind)
    return np.log(path.open), np.log(path.close)


def test_span_arrays_are_the_bars_daily_bars_returns():
    data = world(21)
    o, c = span_logs(21, "AAPL")
    first = SPAN.index(date(2026, 3, 2))
    bars = data.daily_bars("AAPL", date(2026, 3, 2), date(2026, 3, 31))
    assert np.allclose(np.log(bars["open"]), o[first : first + len(bars)], rtol=0, atol=1e-12)
    assert np.allclose(np.log(bars["close"]), c[first : first + len(bars)], rtol=0, atol=1e-12)


def market_model_car(stock: tuple, spy: tuple, entries: np.ndarray, horizon: int) -> np.ndarray:
    """Cumulative abnormal log return from the open of each entry session to the close ``horizon`` sessions
    later (entry counts as 1): log(C/O) - b log(C_m/O_m) - a h, with a and b the OLS intercept and slope of the
    stock's daily close-to-close log returns on SPY's over entry-250 .. entry-11 (rolling sums: plain numpy)."""
    (o, c), (om, cm) = stock, spy
    y, x = np.diff(c), np.diff(cm)  # y[i]: the return of session i + 1
    far, near = ESTIMATION
    n = far - near + 1

    def window_sum(v: np.ndarray) -> np.ndarray:
        s = np.concatenate([[0.0], np.cumsum(v)])
        lo = entries - far - 1  # the return of session entry-250 is y[entry-251]
        return s[lo + n] - s[lo]

    sx, sy, sxx, sxy = (window_sum(v) for v in (x, y, x * x, x * y))
    b = (sxy - sx * sy / n) / (sxx - sx * sx / n)
    a = (sy - b * sx) / n
    last = entries + horizon - 1
    return (c[last] - o[entries]) - b * (cm[last] - om[entries]) - a * horizon


def clustered_mean(values: list[np.ndarray]) -> tuple[float, float]:
    """The mean over all values and its standard error with each array as one cluster (a symbol of a seed:
    its overlapping windows and its market-model error are shared; different symbols' noise is independent)."""
    sums = np.array([v.sum() for v in values])
    counts = np.array([len(v) for v in values], dtype=float)
    mean = sums.sum() / counts.sum()
    resid = sums - mean * counts
    g = len(values)
    se = np.sqrt(g / (g - 1) * (resid**2).sum()) / counts.sum()
    return float(mean), float(se)


def pick_kinds(data: SyntheticMarketData, symbol: str, sessions: list[date]) -> np.ndarray:
    """Per session of ``sessions``: the index in NEWS_KINDS of the episode whose pick day it is, else -1."""
    index = {s: i for i, s in enumerate(sessions)}
    kinds = np.full(len(sessions), -1)
    for e in data.episodes(symbol, sessions[0], sessions[-1]):
        first = index[e.start]
        kinds[first : first + e.pick_days] = NEWS_KINDS.index(e.kind)
    return kinds


def pick_entries(data: SyntheticMarketData, symbol: str, sessions: list[date], kind: str) -> np.ndarray:
    """Positions (in ``sessions``) of the symbol's pick days of ``kind`` episodes."""
    return np.flatnonzero(pick_kinds(data, symbol, sessions) == NEWS_KINDS.index(kind))


# -- the truth accessor ------------------------------------------------------------------------------------------


def test_news_window_sessions_by_hand():
    # k = 1..4 pick days, held 10 sessions: a pick on day j of a k-day episode has k + 9 - j episode sessions ahead.
    # Ten picks per cycle of episodes k = 1, 2, 3, 4 (weights 1, 2, 3, 4): k=1 -> 10; k=2 -> 11, 10; k=3 -> 12,
    # 11, 10; k=4 -> 13, 12, 11, 10. Beyond 13 sessions: (10 + 21 + 33 + 46) / 10 = 11.
    assert news_window_sessions(1) == 1.0
    assert news_window_sessions(NEWS_HORIZON) == 10.0
    assert news_window_sessions(12) == pytest.approx((10 + 21 + 33 + 45) / 10)
    assert news_window_sessions(20) == news_window_sessions(60) == pytest.approx(11.0)
    with pytest.raises(ValueError):
        news_window_sessions(0)


def test_true_abnormal_returns_per_source_and_horizon():
    f = feed(world(3))
    catalyst, hype = f.truth(CATALYST), f.truth(HYPE)
    assert catalyst.annual_abnormal == pytest.approx(0.25) and catalyst.daily_abnormal == pytest.approx(0.25 / 252)
    assert hype.annual_abnormal == pytest.approx(-0.12)
    assert (catalyst.category, catalyst.horizon_sessions) == ("swing", 10)
    for h in (1, 5, 10):
        assert f.true_abnormal_return(CATALYST, h) == pytest.approx(0.25 / 252 * h)
        assert f.true_abnormal_return(HYPE, h) == pytest.approx(-0.12 / 252 * h)
    assert f.true_abnormal_return(CATALYST, 20) == pytest.approx(0.25 / 252 * 11.0)
    for source in (HIGH_BETA, COINFLIP):
        assert f.truth(source).daily_abnormal == 0.0
        assert all(f.true_abnormal_return(source, h) == 0.0 for h in (1, 10, 60))
    # Plausible edges only: between -15 % and +25 % a year.
    assert all(-0.15 <= f.truth(s).annual_abnormal <= 0.25 for s in SOURCES)
    # The scanner's names are high-beta; the news desks pick ordinary large caps.
    assert f.truth(HIGH_BETA).pick_beta > 1.5 > 1.2 > catalyst.pick_beta == hype.pick_beta
    assert 0.8 < f.truth(COINFLIP).pick_beta < 1.2
    with pytest.raises(ValueError):
        f.truth("synthetic:nope")


def test_no_skill_world_has_no_edge_anywhere():
    f = feed(world(3, "no_skill"))
    assert all(f.true_abnormal_return(s, h) == 0.0 for s in SOURCES for h in (1, 10, 20, 60))
    with pytest.raises(ValueError):
        world(3, "lucky")


# -- the episodes ------------------------------------------------------------------------------------------------


def test_episodes_tile_the_timeline_of_large_and_defensive_names_only():
    data = world(11)
    news = set(data.news_symbols())
    assert news and not news & FUNDS
    assert {"AAPL", "KO", "JPM"} <= news and not {"NVDA", "PLTR", "QBTS"} & news  # growth/speculative: no news
    assert data.news("SPY", date(2026, 3, 2)) is None and data.news("AAPL", date(2026, 3, 7)) is None  # a Saturday
    sessions = CAL.sessions_between(date(2026, 1, 2), date(2026, 12, 31))
    kinds = []
    for symbol in ("AAPL", "KO"):
        previous = None
        for session in sessions:
            e = data.news(symbol, session)
            assert e is not None and 1 <= e.pick_days <= 4 and e.sessions == e.pick_days + NEWS_HORIZON - 1
            assert 0 <= e.day < e.sessions and CAL.sessions_back(session, e.day) == e.start
            if previous is not None and e.start != previous.start:  # a new episode begins right after the last ends
                assert e.day == 0 and previous.day == previous.sessions - 1
                kinds.append(e.kind)
            previous = e
    assert set(kinds) == set(NEWS_KINDS)
    # The schedule is the seed's: another seed has other episodes.
    assert [world(12).news("AAPL", s) for s in sessions[:60]] != [data.news("AAPL", s) for s in sessions[:60]]


def test_the_drift_of_a_window_is_exactly_the_episodes_drift_whatever_the_noise():
    """Monte-Carlo free: the no-skill world has the same noise and no drift, so for any entry the log return from
    its open to a later close differs between the two worlds by exactly the sum of its sessions' news drift
    (up to cents rounding), for every kind and horizon - including the overnight gaps inside the window."""
    default, none = world(5), world(5, "no_skill")
    start, end = date(2025, 1, 2), date(2026, 6, 30)
    sessions = CAL.sessions_between(start, end)
    checked = 0
    for symbol in ("AAPL", "KO", "JPM", "HD"):
        (o1, c1), (o0, c0) = log_bars(default, symbol, start, end), log_bars(none, symbol, start, end)
        drift = np.array([default.news(symbol, s).daily_drift for s in sessions])
        for kind in NEWS_KINDS:
            for t in pick_entries(default, symbol, sessions[:-70], kind):
                for h in (1, 5, 10, 20, 60):
                    expected = drift[t : t + h].sum()
                    got = (c1[t + h - 1] - o1[t]) - (c0[t + h - 1] - o0[t])
                    rounding = 0.006 * (
                        np.exp(-c1[t + h - 1]) + np.exp(-o1[t]) + np.exp(-c0[t + h - 1]) + np.exp(-o0[t])
                    )
                    assert abs(got - expected) <= rounding
                    checked += 1
        # ... and a pick of a published kind collects its own episode's drift over its whole horizon.
        for t in pick_entries(default, symbol, sessions[:-70], GOOD):
            assert drift[t : t + NEWS_HORIZON].sum() == pytest.approx(default.news_drift(GOOD) * NEWS_HORIZON)
    assert checked > 500
    # Only the open-to-close part moves: the overnight gaps of the two worlds are the same.
    (o1, c1), (o0, c0) = log_bars(default, "AAPL", start, end), log_bars(none, "AAPL", start, end)
    assert np.abs((o1[1:] - c1[:-1]) - (o0[1:] - c0[:-1])).max() < 0.001


@pytest.mark.slow
def test_realized_market_model_car_matches_the_truth_for_every_kind():
    """Mean CAR of all pick days of each kind over the span of three seeds, with a market model the test fits
    itself, against the truth; tolerance four clustered standard errors. Random entries (every third session of
    every news name) average zero: the episodes' kinds balance, so a market model fitted on earlier sessions is
    unbiased. In the no-skill world every kind averages zero."""
    usable = np.arange(300, len(SPAN) - 70)
    for kind_of_world in ("default", "no_skill"):
        cars: dict[tuple[str, int], list[np.ndarray]] = {}
        for seed in (21, 22, 23):
            data = world(seed, kind_of_world)
            spy = span_logs(seed, "SPY", kind_of_world)
            for symbol in data.news_symbols():
                stock = span_logs(seed, symbol, kind_of_world)
                kinds = pick_kinds(data, symbol, SPAN)
                for h in (10, 20):
                    for k, kind in enumerate(NEWS_KINDS):
                        entries = usable[kinds[usable] == k]
                        cars.setdefault((kind, h), []).append(market_model_car(stock, spy, entries, h))
                    cars.setdefault(("random", h), []).append(market_model_car(stock, spy, usable[::3], h))
        for (kind, h), values in cars.items():
            mean, se = clustered_mean(values)
            if kind == "random" or kind_of_world == "no_skill":
                truth = 0.0
            else:
                truth = world(21).news_drift(kind) * news_window_sessions(h)
            assert abs(mean - truth) < 4 * se, (kind_of_world, kind, h, mean, truth, se)
            assert se < 0.0015  # the check has power: the good kind's truth at 10 sessions is about 0.01
    assert world(21).news_drift(HIDDEN) < world(21).news_drift(BAD) < 0.0 < world(21).news_drift(GOOD)
    assert feed(world(21)).true_abnormal_return(CATALYST, 10) == pytest.approx(world(21).news_drift(GOOD) * 10)


# -- the feed's picks --------------------------------------------------------------------------------------------


def rows_of(f: SyntheticSignalFeed, session: date) -> list[dict[str, str]]:
    return [row for _, text in f.documents(session) for row in csv.DictReader(io.StringIO(text))]


@pytest.mark.slow
def test_news_desks_publish_exactly_their_episodes_pick_days_and_cluster():
    data = world(42)
    f = feed(data, sources=(CATALYST, HYPE))
    sessions = CAL.sessions_between(date(2026, 3, 2), date(2026, 4, 30))
    per_day: list[int] = []
    picked: dict[str, list[date]] = {}
    for session in sessions:
        table = rows_of(f, session)
        for source, kind in ((CATALYST, GOOD), (HYPE, BAD)):
            expected = sorted(
                s
                for s in data.news_symbols()
                if (e := data.news(s, session)).kind == kind and e.day < e.pick_days  # type: ignore[union-attr]
            )
            assert sorted(r["symbol"] for r in table if r["source"] == source) == expected
        for r in table:
            assert r["category"] == "swing" and r["horizon_days"] == str(NEWS_HORIZON)
            if r["source"] == CATALYST:
                picked.setdefault(r["symbol"], []).append(session)
        per_day.append(sum(r["source"] == CATALYST for r in table))
    assert np.mean(per_day) > 4 and max(per_day) >= 6  # several picks share a date...
    runs = [len(days) for days in picked.values()]
    assert max(runs) >= 3  # ... and the same name is picked on consecutive days (overlapping windows)
    assert any(CAL.next_session(a) == b for days in picked.values() for a, b in zip(days, days[1:], strict=False))


def test_no_skill_world_publishes_the_same_picks():
    session = date(2026, 3, 10)
    symbols = {kind: [(r["source"], r["symbol"]) for r in rows_of(feed(world(9, kind)), session)]
               for kind in ("default", "no_skill")}  # fmt: skip
    assert symbols["default"] == symbols["no_skill"] and symbols["default"]


def test_high_beta_scanner_picks_only_the_highest_beta_names_each_as_likely():
    data = world(8)
    f = feed(data, sources=(HIGH_BETA,))
    stocks = sorted((s for s in data.universe if s not in FUNDS), key=lambda s: -(data.beta(s) or 0.0))
    counts = dict.fromkeys(stocks[:10], 0)
    for session in CAL.sessions_between(date(2026, 1, 2), date(2026, 6, 30)):
        table = rows_of(f, session)
        assert 2 <= len(table) <= 3
        for r in table:
            assert r["category"] == "long_term" and r["horizon_days"] == "60"
            counts[r["symbol"]] += 1  # a KeyError here: a name outside the pool
    assert min(data.beta(s) or 0.0 for s in counts) > 1.2 and min(counts.values()) > 0
    assert f.truth(HIGH_BETA).pick_beta == pytest.approx(np.mean([data.beta(s) for s in counts]))


def test_high_beta_names_look_skilled_against_spy_in_rising_markets_but_have_no_abnormal_return():
    """The scanner's pool (its picks, each name as likely, chosen without looking at prices), entered every other
    session of the span of six seeds and held 60 sessions: when SPY rose over the window, the raw excess over SPY
    is clearly positive, while the market-model CAR stays zero within four clustered standard errors. The
    market-model adjustment exposes the beta."""
    f = feed(world(30), sources=(HIGH_BETA,))
    pool = f._high_beta_pool()
    h = 60
    raw, car = [], []
    for seed in range(30, 36):
        spy = span_logs(seed, "SPY")
        entries = np.arange(300, len(SPAN) - 70, 2)
        up = entries[spy[1][entries + h - 1] - spy[0][entries] > 0]
        for symbol in pool:
            stock = span_logs(seed, symbol)
            raw.append((stock[1][up + h - 1] - stock[0][up]) - (spy[1][up + h - 1] - spy[0][up]))
            car.append(market_model_car(stock, spy, up, h))
    raw_mean, raw_se = clustered_mean(raw)
    car_mean, car_se = clustered_mean(car)
    assert raw_mean > 5 * raw_se and raw_mean > 0.02  # "beats SPY" by several percent per 60 sessions...
    assert abs(car_mean) < 4 * car_se < 0.02  # ... with no abnormal return at all
    assert f.true_abnormal_return(HIGH_BETA, h) == 0.0
