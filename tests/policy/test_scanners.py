"""The built-in daily scanners fire on series made to trigger them, and not when one condition is broken; their
levels are checked against independent computations (the standard library's mean and population standard
deviation, a least-squares fit by numpy.polyfit, the 1-D Wilder ATR of policy.indicators)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from autotrader.policy import scanners
from autotrader.policy.indicators import wilder_atr

COMMON = scanners.Common(atr_period=14, stop_atr_multiplier=1.5, max_per_day=10)


def _bars(*closes: list[float]) -> scanners.Bars:
    """Columns of closes; each bar's high and low 0.5% around its close."""
    close = np.column_stack([np.asarray(c, dtype=float) for c in closes])
    return scanners.Bars(tuple(f"S{i}" for i in range(close.shape[1])), close * 1.005, close * 0.995, close)


def _calm(n: int = 40, start: float = 100.0) -> list[float]:
    """A close that wobbles ±0.5 around ``start``: a narrow band."""
    return [start + 0.5 * math.sin(i) for i in range(n)]


def _bollinger(bars: scanners.Bars, target: str = "middle") -> list[scanners.Hit]:
    return scanners.bollinger(bars, COMMON, period=20, k=2.0, target=target)


def test_a_close_below_the_lower_band_is_a_buy_with_its_levels():
    closes = [*_calm(), 97.0]
    (hit,) = _bollinger(_bars(closes))
    window = closes[-20:]
    mid, sd = statistics.mean(window), statistics.pstdev(window)
    lower = mid - 2 * sd
    assert hit.symbol == "S0" and hit.entry == 97.0
    assert hit.target == pytest.approx(mid) and hit.strength == pytest.approx((lower - 97.0) / sd)
    atr = wilder_atr(np.array(closes) * 1.005, np.array(closes) * 0.995, np.array(closes), 14)[-1]
    assert hit.stop == pytest.approx(97.0 - 1.5 * atr)
    assert hit.conviction == min(10, max(1, round(1 + 9 * hit.strength / 2.0)))
    upper = _bollinger(_bars(closes), target="upper")[0]
    assert upper.target == pytest.approx(mid + 2 * sd)


def test_bollinger_does_not_fire_when_a_condition_is_broken():
    assert _bollinger(_bars([*_calm(), 99.6])) == []  # inside the band
    assert _bollinger(_bars([*_calm(15), 97.0])) == []  # too few sessions for a 20-session band
    assert _bollinger(_bars([*_calm(), math.nan])) == []  # no bar on the last session: not judged
    assert _bollinger(_bars([100.0] * 40)) == []  # no spread at all: no band to fall through


def _climb(n: int = 40, daily: float = 0.002, noise: float = 0.0, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(100.0 * np.exp(daily * np.arange(n) + rng.normal(0, noise, n)))


def _regression(bars: scanners.Bars) -> list[scanners.Hit]:
    return scanners.regression(bars, COMMON, window=20, min_r2=0.6, min_annual_pct=20.0, horizon_days=10)


def test_a_steady_climb_is_a_buy_and_its_target_is_the_line_carried_forward():
    closes = _climb(noise=0.001)
    (hit,) = _regression(_bars(closes))
    y = np.log(closes[-20:])
    slope, intercept = np.polyfit(np.arange(20), y, 1)
    r2 = np.corrcoef(np.arange(20), y)[0, 1] ** 2
    annual = math.expm1(252 * slope)
    assert hit.strength == pytest.approx(annual * r2)
    assert hit.target == pytest.approx(closes[-1] * math.exp(slope * 10))
    assert hit.conviction == min(10, max(1, round(1 + 9 * (r2 - 0.6) / 0.4)))


def test_regression_does_not_fire_when_a_condition_is_broken():
    assert _regression(_bars(_climb(daily=0.0005, noise=0.0005))) == []  # steady, but ~13% a year < 20%
    assert _regression(_bars(_climb(daily=0.002, noise=0.03))) == []  # climbing, but jumpy: R² < 0.6
    assert _regression(_bars(_climb(daily=-0.002, noise=0.001))) == []  # a steady fall
    assert _regression(_bars(_climb(n=15))) == []  # too few sessions


def test_each_scanner_keeps_its_strongest_signals():
    deep, shallow = [*_calm(), 96.0], [*_calm(), 98.5]
    few = scanners.Common(14, 1.5, max_per_day=1)
    (kept,) = scanners.bollinger(_bars(shallow, deep), few, period=20, k=2.0, target="middle")
    assert kept.symbol == "S1"
