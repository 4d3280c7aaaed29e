"""policy.metrics against hand-worked numbers, direct numpy re-computations and brute-force references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autotrader.policy import metrics
from autotrader.policy.metrics import (
    average_loss,
    average_win,
    bootstrap_ci,
    expectancy_r,
    profit_factor,
    spearman,
    spearman_bootstrap_ci,
    spearman_resamples,
    sqn,
    wilson_interval,
    win_rate,
)

Z95 = 1.959963984540054


# ------------------------------------------------------------------------------------------------ Wilson


@pytest.mark.parametrize(
    ("successes", "n", "z", "expected"),
    [
        # p = 0.8, z² = 3.841459, z²/n = 0.384146
        # centre = (0.8 + 0.192073) / 1.384146 = 0.716740
        # half   = 1.959964 / 1.384146 · √(0.8·0.2/10 + 3.841459/400) = 1.416011 · √0.025604 = 0.226577
        # → (0.4902, 0.9433)
        (8, 10, Z95, (0.4902, 0.9433)),
        # p = 0: centre = 0.192073 / 1.384146 = 0.138766; half = 1.416011 · √(0.0096036) = 0.138766 → (0, 0.2775)
        (0, 10, Z95, (0.0, 0.2775)),
        # p = 1 mirrors p = 0: (1 − 0.2775, 1)
        (10, 10, Z95, (0.7225, 1.0)),
        # p = 0.5: centre = 0.5; half = 1.416011 · √(0.025 + 0.0096036) = 1.416011 · 0.186021 = 0.263407
        (5, 10, Z95, (0.2366, 0.7634)),
        # z = 1: centre = (0.8 + 0.05) / 1.1 = 0.772727; half = (1/1.1) · √(0.016 + 0.0025) = 0.123650
        (8, 10, 1.0, (0.6491, 0.8964)),
        # 4/5: centre = (0.8 + 0.384146) / 1.768292 = 0.669656; half = 1.108394 · √(0.032 + 0.038415) = 0.294121
        (4, 5, Z95, (0.3755, 0.9638)),
    ],
)
def test_wilson_interval_hand_worked(successes, n, z, expected):
    lo, hi = wilson_interval(successes, n, z)
    assert lo == pytest.approx(expected[0], abs=5e-5)
    assert hi == pytest.approx(expected[1], abs=5e-5)
    assert 0.0 <= lo <= successes / n <= hi <= 1.0


def test_wilson_interval_empty_is_nan():
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


@pytest.mark.parametrize(("successes", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_interval_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


# ------------------------------------------------------------------------------------------------ bootstrap


@pytest.mark.parametrize("stat", ["mean", "median"])
@pytest.mark.parametrize("exact_above", [5000, 0])  # bootstrap path, closed-form path
def test_bootstrap_ci_of_a_constant_is_degenerate(stat, exact_above):
    lo, hi = bootstrap_ci(np.full(50, 0.25), stat, np.random.default_rng(1), exact_above=exact_above)
    assert lo == hi
    assert lo == pytest.approx(0.25, abs=1e-15)


@pytest.mark.parametrize("values", [[], [1.0], [np.nan, 3.0, np.nan]])
def test_bootstrap_ci_needs_two_values(values):
    assert all(math.isnan(v) for v in bootstrap_ci(values, "mean", np.random.default_rng(0)))


@pytest.mark.parametrize("stat", ["mean", "median"])
def test_bootstrap_ci_same_seed_same_interval_other_seed_other_interval(stat):
    data = np.random.default_rng(3).normal(size=200)
    first = bootstrap_ci(data, stat, np.random.default_rng(11))
    again = bootstrap_ci(data, stat, np.random.default_rng(11))
    other = bootstrap_ci(data, stat, np.random.default_rng(12))
    assert first == again
    assert first != other


@pytest.mark.parametrize("stat", ["mean", "median"])
def test_bootstrap_ci_shrinks_with_n(stat):
    data = np.random.default_rng(5).normal(size=3200)
    widths = []
    for n in (50, 200, 800, 3200):
        lo, hi = bootstrap_ci(data[:n], stat, np.random.default_rng(0), resamples=1000)
        widths.append(hi - lo)
    assert widths == sorted(widths, reverse=True)
    # Width scales as 1/√n: 64× the data, about 1/8 of the width (the median's, from few distinct order
    # statistics at n = 50, only roughly).
    assert widths[-1] / widths[0] == pytest.approx(1 / 8, rel=0.25 if stat == "mean" else 0.5)


def test_bootstrap_ci_mean_matches_the_textbook_interval_at_moderate_n():
    data = np.random.default_rng(8).normal(loc=1.0, scale=2.0, size=2000)
    lo, hi = bootstrap_ci(data, "mean", np.random.default_rng(2))
    half = Z95 * data.std(ddof=1) / math.sqrt(len(data))  # direct numpy re-computation
    assert lo == pytest.approx(data.mean() - half, abs=0.1 * half)
    assert hi == pytest.approx(data.mean() + half, abs=0.1 * half)


def test_bootstrap_ci_ignores_nan():
    data = np.random.default_rng(4).normal(size=40)
    with_gaps = np.insert(data, [3, 10, 10, 39], np.nan)
    assert bootstrap_ci(with_gaps, "mean", np.random.default_rng(9)) == bootstrap_ci(
        data, "mean", np.random.default_rng(9)
    )


def test_bootstrap_ci_normal_path_is_the_closed_form():
    data = np.random.default_rng(6).exponential(size=6000)
    lo, hi = bootstrap_ci(data, "mean", np.random.default_rng(0))  # n = 6000 > 5000
    half = Z95 * np.std(data, ddof=1) / math.sqrt(6000)
    assert (lo, hi) == pytest.approx((data.mean() - half, data.mean() + half), rel=1e-12)


def test_bootstrap_ci_closed_form_median_uses_binomial_ranks():
    # n = 10, data 1..10 (shuffled). Binomial(10, ½) cdf: P(B≤0) = 1/1024, P(B≤1) = 11/1024 = 0.0107,
    # P(B≤2) = 56/1024 = 0.0547. The smallest j with P(B≤j) ≥ 0.025 is 2, so the interval is
    # [x₍₂₎, x₍₁₀₋₂₊₁₎] = [x₍₂₎, x₍₉₎] = [2, 9], coverage 1 − 2·11/1024 = 0.9785.
    data = np.array([7, 3, 10, 1, 5, 9, 2, 8, 6, 4], dtype=float)
    assert bootstrap_ci(data, "median", np.random.default_rng(0), exact_above=0) == (2.0, 9.0)


@pytest.mark.parametrize("stat", ["mean", "median"])
def test_closed_form_agrees_with_the_bootstrap_around_the_threshold(stat):
    data = np.random.default_rng(10).lognormal(sigma=0.5, size=5001)
    closed = bootstrap_ci(data, stat, np.random.default_rng(1), exact_above=5000)
    resampled = bootstrap_ci(data, stat, np.random.default_rng(1), exact_above=5001)
    width = resampled[1] - resampled[0]
    assert closed[0] == pytest.approx(resampled[0], abs=0.1 * width)
    assert closed[1] == pytest.approx(resampled[1], abs=0.1 * width)


def test_bootstrap_resamples_in_bounded_chunks(monkeypatch):
    sizes: list[tuple[int, int]] = []
    real = np.random.default_rng(0)

    class Spy:
        def integers(self, low, high, size):
            sizes.append(size)
            return real.integers(low, high, size=size)

    monkeypatch.setattr(metrics, "CHUNK_ELEMENTS", 100)
    lo, hi = bootstrap_ci(np.arange(50.0), "mean", Spy(), resamples=7)  # type: ignore[arg-type]
    assert sum(rows for rows, _ in sizes) == 7
    assert all(rows * n <= 100 and n == 50 for rows, n in sizes)
    assert lo < 24.5 < hi


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"stat": "mode"}, "stat"), ({"level": 1.0}, "level"), ({"resamples": 0}, "resamples")],
)
def test_bootstrap_ci_rejects_bad_arguments(kwargs, message):
    arguments = {"stat": "mean", **kwargs}
    with pytest.raises(ValueError, match=message):
        bootstrap_ci([1.0, 2.0], rng=np.random.default_rng(0), **arguments)


# ------------------------------------------------------------------------------------------------ trade statistics

PNLS = [100.0, -50.0, 30.0, -20.0, 0.0, np.nan]  # the NaN is ignored; the zero is neither a win nor a loss


@pytest.mark.parametrize(
    ("function", "values", "expected"),
    [
        # gross profit 100 + 30 = 130, gross loss 50 + 20 = 70 → 130/70
        (profit_factor, PNLS, 130 / 70),
        (profit_factor, [10.0, 0.0], None),  # no loss: undefined
        (profit_factor, [], None),
        (profit_factor, [-1.0, -2.0, np.nan], 0.0),  # losses, no win
        # wins 100, 30 among N = 5 (100, −50, 30, −20, 0) → 2/5
        (win_rate, PNLS, 0.4),
        (win_rate, [0.0, 0.0], 0.0),
        (average_win, PNLS, 65.0),  # (100 + 30)/2
        (average_loss, PNLS, 35.0),  # (50 + 20)/2, reported positive
        (expectancy_r, [2.0, -1.0, 1.0, -1.0, 3.0], 0.8),  # 4/5
        (expectancy_r, [1.0, np.nan, 2.0], 1.5),
        # R = [2, −1, 1, −1, 3]: mean 0.8; deviations 1.2, −1.8, 0.2, −1.8, 2.2; squares sum 12.8;
        # var = 12.8/4 = 3.2, sd = 1.788854; SQN = √5 · 0.8 / 1.788854 = 2.236068 · 0.447214 = 1.0
        (sqn, [2.0, -1.0, 1.0, -1.0, 3.0], 1.0),
        # R = [1, 2, 3]: mean 2, sd 1 → √3 · 2 = 3.464102
        (sqn, [1.0, 2.0, 3.0, np.nan], 2 * math.sqrt(3)),
        (sqn, [1.5], None),  # N < 2
        (sqn, [0.1, 0.1, 0.1], None),  # zero standard deviation
    ],
)
def test_trade_statistics_hand_worked(function, values, expected):
    result = function(values)
    if expected is None:
        assert result is None
    else:
        assert isinstance(result, float)
        assert result == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("function", [win_rate, average_win, average_loss, expectancy_r])
def test_undefined_trade_statistics_are_nan(function):
    assert math.isnan(function([np.nan]))


def test_trade_statistics_match_numpy_on_random_data():
    p = np.random.default_rng(12).normal(size=500)
    assert win_rate(p) == pytest.approx(np.mean(p > 0))
    assert average_win(p) == pytest.approx(p[p > 0].mean())
    assert average_loss(p) == pytest.approx(-p[p < 0].mean())
    assert profit_factor(p) == pytest.approx(p[p > 0].sum() / -p[p < 0].sum())
    assert sqn(p) == pytest.approx(math.sqrt(500) * p.mean() / p.std(ddof=1))


# ------------------------------------------------------------------------------------------------ Spearman


def _brute_ranks(values: list[float]) -> list[float]:
    """Average ranks by the definition: 1 + (number smaller) + (number of other equal values)/2."""
    return [1 + sum(w < v for w in values) + (sum(w == v for w in values) - 1) / 2 for v in values]


def _brute_spearman(x: list[float], y: list[float]) -> float:
    rx, ry = _brute_ranks(x), _brute_ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy)


def test_spearman_hand_worked_with_ties():
    # ranks x = 1..5; y = [5, 6, 7, 8, 7] → ranks [1, 2, 3.5, 5, 3.5]
    # centred: x [−2, −1, 0, 1, 2], y [−2, −1, 0.5, 2, 0.5]; Σxy = 4 + 1 + 0 + 2 + 1 = 8,
    # Σx² = 10, Σy² = 9.5 → ρ = 8/√95 = 0.820783
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.820783, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_spearman_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, size=40).astype(float)  # heavy ties
    y = np.round(rng.normal(size=40) + 0.3 * x, 1)  # some ties
    assert spearman(x, y) == pytest.approx(_brute_spearman(list(x), list(y)), abs=1e-12)


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        ([1, 2, 3, 4], [10, 20, 30, 1000], 1.0),  # monotone, not linear
        ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
        ([1, 2, np.nan, 3], [1, 2, 100, 3], 1.0),  # the NaN pair is dropped
    ],
)
def test_spearman_extremes(x, y, expected):
    assert spearman(x, y) == pytest.approx(expected)


@pytest.mark.parametrize(("x", "y"), [([1, 1, 1], [1, 2, 3]), ([1.0], [2.0]), ([], [])])
def test_spearman_undefined_is_nan(x, y):
    assert math.isnan(spearman(x, y))


def test_spearman_rejects_unequal_lengths():
    with pytest.raises(ValueError):
        spearman([1, 2, 3], [1, 2])


@pytest.mark.parametrize("tied_y", [True, False])
def test_spearman_resamples_match_brute_force_on_each_resample(tied_y):
    rng = np.random.default_rng(21)
    x = rng.integers(1, 11, size=30).astype(float)
    y = rng.normal(size=30) + 0.1 * x
    if tied_y:
        y = np.round(y, 1)
    index = rng.integers(0, 30, size=(12, 30))
    expected = [_brute_spearman(list(x[row]), list(y[row])) for row in index]
    assert spearman_resamples(x, y, index) == pytest.approx(expected, abs=1e-12)


def test_spearman_bootstrap_ci_properties():
    rng = np.random.default_rng(30)
    x = rng.integers(1, 11, size=300).astype(float)
    y = rng.normal(size=300) + 0.1 * x
    first = spearman_bootstrap_ci(x, y, np.random.default_rng(1))
    assert first == spearman_bootstrap_ci(x, y, np.random.default_rng(1))
    assert first[0] < spearman(x, y) < first[1]
    # A perfectly monotone relation stays perfectly monotone in every resample.
    assert spearman_bootstrap_ci(x, 2 * x + 1, np.random.default_rng(1)) == (1.0, 1.0)
    assert all(math.isnan(v) for v in spearman_bootstrap_ci([1, 2, 3], [3, 1, 2], np.random.default_rng(1)))


def test_spearman_asymptotic_path_is_fisher_z_with_bonett_wright_variance():
    rng = np.random.default_rng(31)
    x = rng.integers(1, 11, size=8000).astype(float)
    y = rng.normal(size=8000) + 0.05 * x
    rho = _brute_spearman(list(x[:200]), list(y[:200]))  # the formula, on a sample small enough to brute-force
    half = Z95 * math.sqrt((1 + rho**2 / 2) / (200 - 3))
    expected = (math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half))
    assert spearman_bootstrap_ci(x[:200], y[:200], np.random.default_rng(0), exact_above=100) == pytest.approx(expected)


def test_spearman_asymptotic_path_agrees_with_the_bootstrap_around_the_threshold():
    rng = np.random.default_rng(32)
    x = rng.integers(1, 11, size=5001).astype(float)  # conviction-like: ten tied levels
    y = rng.standard_t(3, size=5001) + 0.1 * x
    closed = spearman_bootstrap_ci(x, y, np.random.default_rng(1), exact_above=5000)
    resampled = spearman_bootstrap_ci(x, y, np.random.default_rng(1), exact_above=5001)
    width = resampled[1] - resampled[0]
    assert closed == pytest.approx(resampled, abs=0.1 * width)
