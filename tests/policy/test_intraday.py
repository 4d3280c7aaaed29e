"""The intraday setups: each fires on a minute series made to trigger it, and not with each one condition broken
(every other condition still holding, so the broken one is the reason)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from autotrader.policy import engine
from autotrader.policy import intraday as policy


def _bars(
    close: list[float] | np.ndarray,
    volume: list[float] | np.ndarray | None = None,
    daily: policy.DailyTrend | None = None,
) -> policy.MinuteBars:
    c = np.asarray(close, dtype=float)[:, None]
    v = np.full(c.shape, 1000.0) if volume is None else np.asarray(volume, dtype=float)[:, None]
    return policy.MinuteBars(("AAA",), c + 0.05, c - 0.05, c, v, daily)


def _trend(close: float = 110.0, sma: float = 100.0, score: float = 3.0) -> policy.DailyTrend:
    return policy.DailyTrend(np.array([close]), np.array([sma]), np.array([score]), {})


def _cross_series() -> tuple[np.ndarray, int]:
    """Down for 60 bars then up: the row where EMA20 first closes above EMA50."""
    close = np.concatenate([np.linspace(105, 100, 60), np.linspace(100.1, 104, 60)])
    fast, slow = engine.ema(close, 20), engine.ema(close, 50)
    above = np.flatnonzero(fast > slow)
    return close, int(above[above > 60][0])


def ema_cross(case: str) -> tuple[policy.MinuteBars, policy.Params, list[int]]:
    close, t = _cross_series()
    cut = {"fires": t + 1, "before": t + 2, "this": t}.get(case, t + 1)
    return _bars(close[:cut]), policy.Params(), []


def vwap_reclaim(case: str) -> tuple[policy.MinuteBars, policy.Params, list[int]]:
    # flat at 100, a dip, a reclaim on volume at row 53, a dip again, the reclaim on volume at row 58
    close = [100.0] * 50 + [99.5] * 3 + [100.5] + [99.5] * 4 + [100.5]
    volume = [1000.0] * 53 + [3000.0] + [1000.0] * 4 + [3000.0]
    params = policy.Params(vwap_reclaim=policy.VwapReclaim(below_within=4, cooldown_minutes=30))
    earlier: list[int] = []
    if case == "above":
        close[-1] = 99.6
    elif case == "below":
        close[54:58] = [100.3] * 4
    elif case == "volume":
        volume[-1] = 1000.0
    elif case == "cooldown":
        earlier = [53]  # the setup was evaluated at row 53, where it fired: 5 minutes ago
    return _bars(close, volume), params, earlier


def sigma_fade(case: str) -> tuple[policy.MinuteBars, policy.Params, list[int]]:
    trend = np.linspace(103, 100, 80) if case == "trend" else np.linspace(100, 103, 80)
    close = [*trend, 101.0 if case == "band" else 99.0]
    volume = [1000.0] * 80 + [1000.0 if case == "volume" else 2000.0]
    return _bars(close, volume), policy.Params(), []


def hod_failure(case: str) -> tuple[policy.MinuteBars, policy.Params, list[int]]:
    last = {"pullback": 105.95, "rising": 104.9}.get(case, 105.5)
    close = [*np.linspace(100.1, 106, 60), 105.8, 105.7, last]
    volume = [1000.0] * 63
    if case == "vwap":
        volume[55:60] = [1e6] * 5  # most of the day's volume traded at the top: VWAP above the close
    within = 2 if case == "fresh" else 15
    return _bars(close, volume), policy.Params(hod_failure=policy.HodFailure(within=within)), []


def orb(case: str) -> tuple[policy.MinuteBars, policy.Params, list[int]]:
    opening = [100.0 + 0.5 * (-1) ** i for i in range(30)]  # the range: 99.5 to 100.5 (highs 100.55)
    after = np.linspace(106.0, 101.0, 50) if case == "trend" else np.linspace(100, 101.2, 50)
    last = 100.4 if case == "range" else (101.0 if case == "trend" else 101.5)
    close = [*opening, *after, last]
    volume = [1000.0] * 80 + [1000.0 if case == "volume" else 3000.0]
    return _bars(close, volume), policy.Params(), []


def trend_pullback(case: str) -> tuple[policy.MinuteBars, policy.Params, list[int]]:
    # Up for 80 bars; the last close just above the EMA20 of the bars before (so above its own EMA20), its low
    # (close − 0.05) below it: a touch that held.
    trend = np.linspace(103, 100, 80) if case == "minute" else np.linspace(100, 103, 80)
    before = float(engine.ema(trend, 20)[-1])
    last = before + {"touch": 0.5, "close": -0.02}.get(case, 0.02)
    daily = _trend(close=95.0 if case == "daily" else 110.0, score=-1.0 if case == "regime" else 1.0)
    return _bars([*trend, last], daily=daily), policy.Params(), []


def vwap_mean_reversion(case: str) -> tuple[policy.MinuteBars, policy.Params, list[int]]:
    # Flat at 100, then a close 1.5% below: VWAP stays near 100.
    close = [100.0] * 60 + [99.5 if case == "discount" else 98.5]
    return _bars(close, daily=_trend(score=-1.0 if case == "regime" else 1.0)), policy.Params(), []


BUILDERS = {"ema_cross": ema_cross, "vwap_reclaim": vwap_reclaim, "sigma_fade": sigma_fade,
            "hod_failure": hod_failure, "orb": orb, "trend_pullback": trend_pullback,
            "vwap_mean_reversion": vwap_mean_reversion}  # fmt: skip

BROKEN = [
    ("ema_cross", "before", "EMA20 at or below EMA50 on the bar before"),
    ("ema_cross", "this", "EMA20 above EMA50 on this bar"),
    ("vwap_reclaim", "above", "close above VWAP"),
    ("vwap_reclaim", "below", "a close below VWAP in the last 4 bars"),
    ("vwap_reclaim", "volume", "relative volume at least 1.5"),
    ("vwap_reclaim", "cooldown", "no vwap_reclaim hit in the last 30 minutes"),
    ("sigma_fade", "band", "close at or below VWAP − 2σ"),
    ("sigma_fade", "trend", "EMA20 above EMA50"),
    ("sigma_fade", "volume", "relative volume at least 1.2"),
    ("hod_failure", "fresh", "a fresh high of day in the last 2 bars"),
    ("hod_failure", "pullback", "pulled back at least 0.3% from it"),
    ("hod_failure", "vwap", "close above VWAP"),
    ("hod_failure", "rising", "EMA20 rising"),
    ("orb", "range", "close above the 30-minute opening-range high (after it)"),
    ("orb", "trend", "EMA20 above EMA50"),
    ("orb", "volume", "relative volume at least 1.5"),
    ("trend_pullback", "minute", "EMA20 above EMA50 (the minute trend)"),
    ("trend_pullback", "daily", "daily close above its SMA50 (the daily trend)"),
    ("trend_pullback", "touch", "the low within 0.1% of EMA20"),
    ("trend_pullback", "close", "close above EMA20"),
    ("trend_pullback", "regime", "regime score at least 1"),
    ("vwap_mean_reversion", "discount", "close at least 1% below VWAP"),
    ("vwap_mean_reversion", "regime", "regime score at least 1"),
]


def _evaluate(setup: str, case: str, **params: object) -> policy.Evaluation:
    bars, p, earlier = BUILDERS[setup](case)
    return policy.evaluate(setup, bars, replace(p, **params), earlier_rows=earlier)  # type: ignore[arg-type]


@pytest.mark.parametrize("setup", policy.SETUPS)
def test_each_setup_fires_on_its_series(setup: str) -> None:
    e = _evaluate(setup, "fires")
    assert e.fired[0], {name: bool(held[0]) for name, held in e.conditions.items()}
    assert e.stop[0] == pytest.approx(e.entry[0] - e.values["atr"][0])  # 1 ATR below the close by default
    assert e.target[0] == pytest.approx(e.entry[0] + 2 * e.values["atr"][0])
    assert e.values["target_one"][0] == pytest.approx(e.entry[0] + e.values["atr"][0])
    assert 1 <= e.conviction[0] <= 10


@pytest.mark.parametrize(("setup", "case", "condition"), BROKEN, ids=[f"{s}-{c}" for s, c, _ in BROKEN])
def test_one_condition_broken_does_not_fire(setup: str, case: str, condition: str) -> None:
    e = _evaluate(setup, case)
    held = {name: bool(v[0]) for name, v in e.conditions.items()}
    assert not e.fired[0]
    assert held == {name: name != condition for name in held}, held


@pytest.mark.parametrize("setup", policy.SETUPS)
def test_no_atr_for_the_stop_does_not_fire(setup: str) -> None:
    bars, _, _ = BUILDERS[setup]("fires")
    e = _evaluate(setup, "fires", atr_period=len(bars.close))  # too few bars for the ATR
    held = {name: bool(v[0]) for name, v in e.conditions.items()}
    assert held == {name: name != "an ATR for the stop" for name in held}


def test_ema_cross_close_above_ema50_is_its_own_condition() -> None:
    # With EMAs of the closes, a cross from below already implies a close above EMA50; indicators that cross
    # while the close is below EMA50 (e.g. computed from other prices) are refused by the third condition.
    bars, p, _ = ema_cross("fires")
    ind = policy.indicators(bars, p)
    close = bars.close[-1, 0]
    fast, slow = ind.fast.copy(), ind.slow.copy()
    slow[-1], fast[-1] = close + 0.1, close + 0.2
    e = policy.evaluate_ema_cross(bars, p, ind._replace(fast=fast, slow=slow))
    held = {name: bool(v[0]) for name, v in e.conditions.items()}
    assert held == {name: name != "close above EMA50" for name in held}


def test_cooldown_counts_only_earlier_hits() -> None:
    # An earlier evaluation that did not fire (row 52: still below VWAP) starts no cooldown.
    bars, p, _ = vwap_reclaim("fires")
    assert policy.evaluate("vwap_reclaim", bars, p, earlier_rows=[52]).fired[0]
    # A hit more than the cooldown ago does not block: the same reclaim 5 minutes later with a 5-minute cooldown.
    short = replace(p, vwap_reclaim=replace(p.vwap_reclaim, cooldown_minutes=5))
    assert policy.evaluate("vwap_reclaim", bars, short, earlier_rows=[53]).fired[0]


def test_the_decision_reads_only_bars_up_to_the_last() -> None:
    close, t = _cross_series()
    bars = _bars(close[: t + 1])
    longer = _bars(close)
    cut = policy.MinuteBars(
        longer.symbols, *(a[: t + 1] for a in (longer.high, longer.low, longer.close, longer.volume))
    )
    for setup in policy.SETUPS:
        a, b = policy.evaluate(setup, bars, policy.Params()), policy.evaluate(setup, cut, policy.Params())
        assert a.notes == b.notes and {k: bool(v[0]) for k, v in a.conditions.items()} == {
            k: bool(v[0]) for k, v in b.conditions.items()
        }


def test_session_policies_allow_only_their_setups_in_their_windows():
    from autotrader.policy.intraday import Playbook, allowed

    power_hour = Playbook("power-hour", "15:00", "15:55", ("orb", "hod_failure"), ("SPY", "QQQ"))
    morning = Playbook("morning", "09:35", "11:00", ("orb",))
    books = (power_hour, morning)
    assert allowed(books, "12:30", "ema_cross", "AAPL") is None  # no playbook then: the trading window applies
    assert allowed(books, "10:00", "orb", "AAPL") is None  # the morning allows orb for every symbol
    assert "not in the playbook of 10:00 (morning)" in allowed(books, "10:00", "ema_cross", "AAPL")
    assert allowed(books, "15:30", "hod_failure", "SPY") is None
    assert "for AAPL" in allowed(books, "15:30", "hod_failure", "AAPL")  # power hour is for SPY and QQQ only
    assert allowed(books, "15:55", "ema_cross", "AAPL") is None  # the window's end is not in it


def test_a_hit_on_an_index_goes_out_on_its_fund_at_the_funds_price():
    from autotrader.policy.intraday import on_fund
    from autotrader.policy.scanners import Hit

    hit = Hit("orb", "I:SPX", 0.8, 5, entry=5000.0, stop=4990.0, target=5020.0, note="orb", target_one=5010.0)
    fund = on_fund(hit, "SPY", 499.0)
    assert fund.target_one == pytest.approx(5010.0 * 0.0998)
    assert (fund.symbol, fund.entry) == ("SPY", 499.0)
    assert fund.stop == pytest.approx(4990.0 * 499.0 / 5000.0) and fund.target == pytest.approx(5020.0 * 0.0998)
    assert (fund.entry - fund.stop) / fund.entry == pytest.approx((hit.entry - hit.stop) / hit.entry)  # same %
    assert "computed on I:SPX, traded on SPY" in fund.note and fund.strength == 0.8


@pytest.mark.parametrize("setup", policy.DAILY_SETUPS)
def test_without_a_daily_trend_the_daily_setups_do_not_fire(setup: str) -> None:
    bars, p, _ = BUILDERS[setup]("fires")
    e = policy.evaluate(setup, replace(bars, daily=None), p)
    held = {name: bool(v[0]) for name, v in e.conditions.items()}
    assert not e.fired[0] and not held[f"regime score at least {p.trend_pullback.min_regime_score:g}"]


def test_the_regime_score_is_three_votes_checked_against_a_direct_computation() -> None:
    """Each vote recomputed with plain numpy (means of the windows, np.polyfit's slope of the log closes) on
    random walks; the score is their sum; a symbol with too short a history has none."""
    rng = np.random.default_rng(7)
    closes = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, size=(70, 40)), axis=0))
    closes[:30, -1] = np.nan  # 40 sessions of history: not enough for SMA50
    r = policy.Regime()
    trend = policy.daily_trend(closes, r)
    for j in range(39):
        c = closes[:, j]
        sma20, sma50 = c[-20:].mean(), c[-50:].mean()
        slope = np.polyfit(np.arange(20), np.log(c[-20:]), 1)[0]
        votes = [c[-1] > sma50, sma20 > sma50, slope > 0]
        assert trend.score[j] == sum(1 if v else -1 for v in votes), j
        assert trend.sma[j] == pytest.approx(sma50, rel=1e-12) and trend.close[j] == c[-1]
    assert np.isnan(trend.score[-1])
    assert set(np.unique(trend.score[:-1])) <= {-3.0, -1.0, 1.0, 3.0}
