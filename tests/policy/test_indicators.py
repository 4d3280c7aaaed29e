"""Wilder's true range and ATR with TA-Lib seeding, against hand-worked numbers and a plain-Python reference."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from autotrader.policy.indicators import last_atr, true_range, wilder_atr

# Six bars, period 3, worked by hand:
#
#   bar  high  low   close  prev close  H-L  |H-Cp|  |L-Cp|  TR
#   0    20    2     9      -           18   -       -       NaN  (no previous close; its wide range is ignored)
#   1    11    9     10     9           2    2       0       2
#   2    13    11.5  12.5   10          1.5  3       1.5     3    (gap up: the high against the previous close)
#   3    12    10    11     12.5        2    0.5     2.5     2.5  (the low against the previous close)
#   4    9     8     8.5    11          1    2       3       3    (gap down: the low against the previous close)
#   5    9.5   8.5   9      8.5         1    1       0       1
#
#   ATR[0..2] NaN (fewer than 3 true ranges)
#   ATR[3] = (2 + 3 + 2.5) / 3           = 2.5           (the simple mean of TR[1..3]: TA-Lib's seed)
#   ATR[4] = (2.5 * 2 + 3) / 3           = 8/3
#   ATR[5] = (8/3 * 2 + 1) / 3           = 19/9
HIGH = [20, 11, 13, 12, 9, 9.5]
LOW = [2, 9, 11.5, 10, 8, 8.5]
CLOSE = [9, 10, 12.5, 11, 8.5, 9]


def test_true_range_by_hand():
    tr = true_range(np.array(HIGH), np.array(LOW), np.array(CLOSE))
    assert math.isnan(tr[0])
    assert tr[1:].tolist() == pytest.approx([2, 3, 2.5, 3, 1])


def test_wilder_atr_by_hand():
    atr = wilder_atr(np.array(HIGH), np.array(LOW), np.array(CLOSE), period=3)
    assert len(atr) == 6
    assert all(math.isnan(x) for x in atr[:3])
    assert atr[3:].tolist() == pytest.approx([2.5, 8 / 3, 19 / 9])


def test_last_atr_by_hand():
    assert last_atr(np.array(HIGH), np.array(LOW), np.array(CLOSE), period=3) == pytest.approx(19 / 9)
    assert last_atr(np.array(HIGH[:5]), np.array(LOW[:5]), np.array(CLOSE[:5]), period=3) == pytest.approx(8 / 3)
    assert last_atr(np.array(HIGH[:4]), np.array(LOW[:4]), np.array(CLOSE[:4]), period=3) == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("bar", "previous_close", "expected"),
    [
        ((10.0, 9.0), 9.5, 1.0),  # inside the previous close: high − low
        ((15.0, 14.0), 10.0, 5.0),  # gap up: high − previous close
        ((6.0, 5.0), 10.0, 5.0),  # gap down: previous close − low
        ((10.5, 7.0), 10.0, 3.5),  # a wide bar still wins over a small gap
    ],
)
def test_true_range_uses_the_previous_close(bar, previous_close, expected):
    high, low = bar
    tr = true_range(np.array([previous_close, high]), np.array([previous_close, low]), np.array([previous_close, 0]))
    assert tr[1] == pytest.approx(expected)


def test_true_range_of_one_bar_is_nan():
    tr = true_range(np.array([10.0]), np.array([9.0]), np.array([9.5]))
    assert len(tr) == 1 and math.isnan(tr[0])


def reference_atr(bars: list[tuple[float, float, float]], period: int) -> list[float | None]:
    """ATR the long way: true ranges bar by bar, the first ``period`` of them averaged, then Wilder's smoothing."""
    ranges: list[float] = []
    out: list[float | None] = [None]
    previous_close = bars[0][2]
    atr = None
    for high, low, close in bars[1:]:
        ranges.append(max(high, previous_close) - min(low, previous_close))
        previous_close = close
        if len(ranges) < period:
            out.append(None)
            continue
        if atr is None:
            atr = sum(ranges) / period
        else:
            atr = atr + (ranges[-1] - atr) / period
        out.append(atr)
    return out


def random_bars(seed: int, n: int) -> list[tuple[float, float, float]]:
    rng = random.Random(seed)
    bars, close = [], 100.0
    for _ in range(n):
        open_ = close * math.exp(rng.gauss(0, 0.02))  # overnight gaps either way
        close = open_ * math.exp(rng.gauss(0, 0.015))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.01)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.01)))
        bars.append((high, low, close))
    return bars


@pytest.mark.parametrize(("seed", "n", "period"), [(1, 60, 14), (2, 15, 14), (3, 40, 5), (4, 30, 1), (5, 200, 20)])
def test_wilder_atr_matches_a_plain_python_computation(seed, n, period):
    bars = random_bars(seed, n)
    high, low, close = (np.array(column) for column in zip(*bars, strict=True))
    got = wilder_atr(high, low, close, period)
    want = reference_atr(bars, period)
    assert len(got) == len(want) == n
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is None:
            assert math.isnan(g), i
        else:
            assert g == pytest.approx(w, rel=1e-12), i
    assert last_atr(high, low, close, period) == pytest.approx(want[-1], rel=1e-12)


def test_period_one_is_the_true_range_itself():
    bars = random_bars(6, 20)
    high, low, close = (np.array(column) for column in zip(*bars, strict=True))
    atr = wilder_atr(high, low, close, period=1)
    assert math.isnan(atr[0])
    for i in range(1, 20):
        assert atr[i] == pytest.approx(max(high[i], close[i - 1]) - min(low[i], close[i - 1]))


def test_the_seed_is_a_simple_mean_not_a_smoothed_start():
    # True ranges 4, 1, 1 over period 3: the simple mean is 2. Smoothing from the first range would give
    # (4·2/3 + 1/3)·2/3 + 1/3 = 7/3 instead.
    high = [10, 14, 11, 11]
    low = [10, 10, 10, 10]
    close = [10, 10, 10, 10]
    atr = wilder_atr(np.array(high), np.array(low), np.array(close), period=3)
    assert atr[3] == pytest.approx(2.0)


@pytest.mark.parametrize(("n", "period"), [(0, 14), (1, 14), (14, 14), (3, 3), (2, 3)])
def test_too_few_bars_give_nan_and_no_last_atr(n, period):
    bars = random_bars(7, n)
    high, low, close = (np.array([b[i] for b in bars], dtype=float) for i in range(3))
    atr = wilder_atr(high, low, close, period)
    assert len(atr) == n and all(math.isnan(x) for x in atr)
    assert last_atr(high, low, close, period) is None


def test_period_plus_one_bars_give_the_first_value():
    bars = random_bars(8, 15)
    high, low, close = (np.array([b[i] for b in bars], dtype=float) for i in range(3))
    assert last_atr(high, low, close, 14) == pytest.approx(reference_atr(bars, 14)[-1], rel=1e-12)
    assert last_atr(high[:-1], low[:-1], close[:-1], 14) is None


def test_a_missing_last_bar_gives_no_last_atr():
    bars = random_bars(9, 30)
    high, low, close = (np.array([b[i] for b in bars], dtype=float) for i in range(3))
    close[-1] = high[-1] = low[-1] = np.nan
    assert last_atr(high, low, close, 14) is None


@pytest.mark.parametrize("period", [0, -1])
def test_a_period_below_one_is_refused(period):
    with pytest.raises(ValueError, match="period"):
        wilder_atr(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([1.0, 2.0]), period)
