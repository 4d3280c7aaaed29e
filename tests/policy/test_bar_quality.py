"""The column-wise bar check agrees with the per-bar rules it stands in for."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from autotrader.policy.bar_quality import bar_problem, first_bad_bar, implausible_price

SPECIALS = (math.nan, math.inf, -math.inf, 0.0, -1.0)


def _bars(rng: np.random.Generator, n: int) -> np.ndarray:
    close = rng.uniform(10, 100, n)
    values = np.column_stack([close * 1.01, close * 1.02, close * 0.98, close, rng.uniform(0, 1e6, n)])
    spoiled = rng.random(n) < 0.02
    rows, cols = np.flatnonzero(spoiled), rng.integers(0, 5, spoiled.sum())
    values[rows, cols] = rng.choice(SPECIALS, len(rows))
    inverted = rng.random(n) < 0.01  # a high below its low
    values[inverted, 1], values[inverted, 2] = values[inverted, 2], values[inverted, 1]
    return values


@pytest.mark.parametrize("volume_required", [True, False])
@pytest.mark.parametrize("seed", range(20))
def test_first_bad_bar_is_the_first_row_bar_problem_rejects(seed, volume_required):
    values = _bars(np.random.default_rng(seed), 300)
    expected = next(
        (i for i, row in enumerate(values) if bar_problem(*map(float, row), volume_required=volume_required)), None
    )
    assert first_bad_bar(values, volume_required=volume_required) == expected


def test_clean_bars_and_no_bars_have_no_bad_row():
    clean = np.array([[10.0, 11.0, 9.0, 10.5, 0.0], [10.5, 10.5, 10.5, 10.5, 3.0]])
    assert first_bad_bar(clean) is None
    assert first_bad_bar(np.empty((0, 5))) is None
    index_like = clean.copy()
    index_like[:, 4] = math.nan  # an index has no volume: bad only where volume is required
    assert first_bad_bar(index_like, volume_required=False) is None and first_bad_bar(index_like) == 0


DAYS = [date(2026, 3, d) for d in (2, 3, 4, 5, 6)]


@pytest.mark.parametrize(
    ("closes", "expected"),
    [
        ([100, 101, 99, 100, 149], None),  # +49%: a big day, believable
        ([100, 101, 99, 100, 151], "daily bar 2026-03-06: close 151.00 moved +51% from 100.00"),
        ([100, 40, 41, 40, 40], "daily bar 2026-03-03: close 40.00 moved -60% from 100.00"),
        ([100_000, 100_000, 100_000, 100_000, 100_000], None),  # at the limit, not above it
        ([100, 100, 100, 100, 100_000.01], "daily bar 2026-03-06: close 100,000.01 is above [data] max_price"),
    ],
)
def test_implausible_prices_by_hand(closes, expected):
    found = implausible_price(DAYS, [float(c) for c in closes], max_move_pct=50, max_price=100_000)
    assert (found is None) if expected is None else (found is not None and found.startswith(expected)), found


def test_a_move_on_a_splits_ex_date_is_explained():
    closes = [100.0, 100.0, 50.0, 50.0, 50.0]  # 2:1 on 2026-03-04
    assert implausible_price(DAYS, closes, max_move_pct=30, max_price=1e6, split_days=[date(2026, 3, 4)]) is None
    assert "2026-03-04" in implausible_price(DAYS, closes, max_move_pct=30, max_price=1e6)
