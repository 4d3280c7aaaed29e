"""The column-wise bar check agrees with the per-bar rules it stands in for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autotrader.policy.bar_quality import bar_problem, first_bad_bar

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
