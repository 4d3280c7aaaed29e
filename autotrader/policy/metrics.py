"""Standard statistics for judging signals and trades. Pure: numbers in, numbers out.

Every function accepts array-likes (lists, tuples, numpy arrays, pandas Series), converts them to
``float64`` and **ignores NaN entries** (a NaN is "no value", e.g. an outcome that is not known yet).
Results are python floats; where a statistic is undefined for the sample the function returns ``nan``
unless its docstring names ``None`` (``profit_factor``, ``sqn``), as the scorecard's contract asks.
Randomness comes only from the ``numpy.random.Generator`` passed in, so a seeded generator gives the
same interval every time.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "average_loss",
    "average_ranks",
    "average_win",
    "bootstrap_ci",
    "expectancy_r",
    "normal_quantile",
    "profit_factor",
    "spearman",
    "spearman_bootstrap_ci",
    "spearman_resamples",
    "sqn",
    "wilson_interval",
    "win_rate",
]

#: z for a two-sided 95% interval: Φ⁻¹(0.975).
Z95 = 1.959963984540054

#: Upper bound on the elements of one resampling chunk (indices and gathered values are each 8 bytes per
#: element, so a chunk holds ~16 MB however large the sample or the resample count).
CHUNK_ELEMENTS = 1 << 20

NAN = float("nan")


def _clean(values: ArrayLike) -> np.ndarray:
    """``values`` as a 1-D float64 array without its NaN entries."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[~np.isnan(array)]


def normal_quantile(p: float) -> float:
    """Φ⁻¹(p), the standard normal quantile (stdlib ``statistics.NormalDist``; no scipy needed)."""
    return NormalDist().inv_cdf(p)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    With p̂ = successes / n:

        centre    = (p̂ + z²/(2n)) / (1 + z²/n)
        halfwidth = z / (1 + z²/n) · √(p̂(1 − p̂)/n + z²/(4n²))
        interval  = (centre − halfwidth, centre + halfwidth)

    Unlike the normal (Wald) interval it stays inside [0, 1] and is sensible at p̂ = 0 or 1 and small n.
    Example: 8 successes in 10 at z = 1.96 → (0.4902, 0.9433). Returns ``(nan, nan)`` for n = 0.
    Raises ``ValueError`` unless 0 ≤ successes ≤ n.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (NAN, NAN)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    halfwidth = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At p̂ = 0 (p̂ = 1) the lower (upper) bound is exactly 0 (1); elsewhere clip only last-ulp rounding.
    lo = 0.0 if successes == 0 else max(0.0, centre - halfwidth)
    hi = 1.0 if successes == n else min(1.0, centre + halfwidth)
    return (lo, hi)


def _binomial_half_quantile(n: int, p: float) -> int:
    """Smallest k with P(B ≤ k) ≥ p for B ~ Binomial(n, 1/2), from the exact pmf (log-factorials, O(n))."""
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))))
    k = np.arange(n + 1)
    log_pmf = log_factorial[n] - log_factorial[k] - log_factorial[n - k] - n * math.log(2.0)
    cdf = np.cumsum(np.exp(log_pmf))
    return int(np.searchsorted(cdf, p, side="left"))


def _resampled_stats(
    x: np.ndarray, stat: Literal["mean", "median"], rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """``resamples`` values of ``stat`` over samples of len(x) drawn from x with replacement, in chunks."""
    n = len(x)
    rows_per_chunk = max(1, CHUNK_ELEMENTS // n)
    out = np.empty(resamples, dtype=np.float64)
    reduce = np.mean if stat == "mean" else np.median
    for start in range(0, resamples, rows_per_chunk):
        rows = min(rows_per_chunk, resamples - start)
        index = rng.integers(0, n, size=(rows, n))
        out[start : start + rows] = reduce(x[index], axis=1)
    return out


def bootstrap_ci(
    values: ArrayLike,
    stat: Literal["mean", "median"],
    rng: np.random.Generator,
    *,
    resamples: int = 2000,
    level: float = 0.95,
    exact_above: int = 5000,
) -> tuple[float, float]:
    """Two-sided ``level`` confidence interval for the mean or the median of ``values`` (NaNs ignored).

    n ≤ ``exact_above``: **percentile bootstrap**. Draw ``resamples`` samples of size n with replacement
    from the data (``rng.integers``), compute the statistic of each, and return the empirical
    α/2 and 1 − α/2 quantiles of those statistics (α = 1 − level; numpy's linear interpolation).
    Resampling runs in chunks of at most ``CHUNK_ELEMENTS`` draws, so memory stays bounded.

    n > ``exact_above``: resampling is slow there and the bootstrap has converged to the asymptotic answer,
    so the closed forms are used instead (no random numbers are drawn):

    - mean: the normal approximation  x̄ ± z·s/√n  with s the standard deviation (ddof = 1) and
      z = Φ⁻¹(1 − α/2);
    - median: the distribution-free order-statistic interval  [x₍ⱼ₎, x₍ₙ₋ⱼ₊₁₎]  (1-based ranks of the sorted
      data) with j the α/2 quantile of Binomial(n, 1/2), i.e. the smallest j with P(B ≤ j) ≥ α/2.
      Its coverage is 1 − 2·P(B ≤ j − 1) ≥ level whatever the distribution.

    Returns ``(nan, nan)`` for fewer than 2 values. A constant sample gives a degenerate interval (c, c).
    The same generator state gives the same interval.
    """
    if stat not in ("mean", "median"):
        raise ValueError(f"stat must be 'mean' or 'median', got {stat!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    x = _clean(values)
    n = len(x)
    if n < 2:
        return (NAN, NAN)
    alpha = 1.0 - level
    if n > exact_above:
        if stat == "mean":
            mean = float(x.mean())
            halfwidth = normal_quantile(1.0 - alpha / 2) * float(x.std(ddof=1)) / math.sqrt(n)
            return (mean - halfwidth, mean + halfwidth)
        j = max(1, _binomial_half_quantile(n, alpha / 2))
        ordered = np.sort(x)
        return (float(ordered[j - 1]), float(ordered[n - j]))
    stats = _resampled_stats(x, stat, rng, resamples)
    lo, hi = np.quantile(stats, [alpha / 2, 1.0 - alpha / 2])
    return (float(lo), float(hi))


def profit_factor(pnls: ArrayLike) -> float | None:
    """Gross profit / gross loss = Σ max(p, 0) / Σ max(−p, 0).

    ``None`` when there is no loss (the ratio is undefined or infinite: empty input, only wins or only
    zeros); ``0.0`` when there are losses but no wins. Zero P&Ls count as neither.
    """
    p = _clean(pnls)
    gross_loss = float(-p[p < 0].sum())
    if gross_loss == 0.0:
        return None
    return float(p[p > 0].sum()) / gross_loss


def win_rate(pnls: ArrayLike) -> float:
    """Fraction of entries that are > 0: #{p > 0} / N. A zero is not a win but counts in N. ``nan`` if N = 0."""
    p = _clean(pnls)
    return float(np.count_nonzero(p > 0) / len(p)) if len(p) else NAN


def average_win(pnls: ArrayLike) -> float:
    """Mean of the entries that are > 0. ``nan`` when there is none."""
    p = _clean(pnls)
    wins = p[p > 0]
    return float(wins.mean()) if len(wins) else NAN


def average_loss(pnls: ArrayLike) -> float:
    """Mean size of the entries that are < 0, as a positive number: mean(−p | p < 0). ``nan`` when there is none."""
    p = _clean(pnls)
    losses = p[p < 0]
    return float(-losses.mean()) if len(losses) else NAN


def expectancy_r(r_multiples: ArrayLike) -> float:
    """Expectancy in R: the mean R multiple, Σ Rᵢ / N (R = P&L / initial risk). ``nan`` if N = 0."""
    r = _clean(r_multiples)
    return float(r.mean()) if len(r) else NAN


def sqn(r_multiples: ArrayLike) -> float | None:
    """Van Tharp's System Quality Number: √N · mean(R) / std(R, ddof = 1).

    No cap on N is applied (Tharp later suggested using min(N, 100); the raw form is what the scorecard
    reports). ``None`` for N < 2 or when every R is the same (zero standard deviation).
    """
    r = _clean(r_multiples)
    n = len(r)
    # Testing "all equal" rather than std == 0: the std of equal floats can come out as 1e-17, not 0.
    if n < 2 or float(np.ptp(r)) == 0.0:
        return None
    return math.sqrt(n) * float(r.mean()) / float(r.std(ddof=1))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given the average of the ranks they span (the "fractional" ranking)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)  # rank of each distinct value's last copy
    return (ends - (counts - 1) / 2.0)[inverse]


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's rank correlation: the Pearson correlation of the average ranks of x and of y.

        ρ = Σ (rxᵢ − r̄)(ryᵢ − r̄) / √(Σ (rxᵢ − r̄)² · Σ (ryᵢ − r̄)²),   r̄ = (N + 1)/2

    Only pairs where both values are present count. Ties get average ranks, so the ``1 − 6Σd²/(N(N²−1))``
    shortcut (exact only without ties) is not used. ``nan`` for N < 2 or when either side is constant.
    """
    xa, ya = _clean_pairs(x, y)
    if len(xa) < 2:
        return NAN
    rx = average_ranks(xa) - (len(xa) + 1) / 2.0
    ry = average_ranks(ya) - (len(ya) + 1) / 2.0
    denominator = math.sqrt(float(rx @ rx) * float(ry @ ry))
    if denominator == 0.0:
        return NAN
    return float(rx @ ry) / denominator


class _RankLayout:
    """The pairs sorted once by (y, x), with their distinct values: what every resample's ranks are built from."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        order = np.lexsort((x, y))
        self.x, self.y = x[order], y[order]
        self.n = len(order)
        new_y = np.r_[True, self.y[1:] != self.y[:-1]]
        self.y_starts = np.flatnonzero(new_y)  # first position of each distinct y (ascending)
        self.y_group = np.cumsum(new_y) - 1
        self.y_tied = len(self.y_starts) < self.n
        x_values, self.x_group = np.unique(self.x, return_inverse=True)
        self.x_levels = len(x_values)
        # Few distinct x (conviction has ten at most): per-level sums are one small matrix product.
        self.x_onehot = np.eye(self.x_levels)[self.x_group] if self.x_levels * self.n <= CHUNK_ELEMENTS else None

    def per_x_level(self, weights: np.ndarray) -> np.ndarray:
        """Row-wise sums of ``weights`` (b, n) over the positions of each distinct x → (b, levels)."""
        if self.x_onehot is not None:
            return weights @ self.x_onehot
        b = weights.shape[0]
        keys = (self.x_group + (np.arange(b) * self.x_levels)[:, None]).ravel()
        return np.bincount(keys, weights=weights.ravel(), minlength=b * self.x_levels).reshape(b, self.x_levels)

    def rho(self, counts: np.ndarray) -> np.ndarray:
        """Spearman's ρ of each resample, given as multiplicities (b, n) of the sorted pairs.

        An item's average rank in a resample is (copies of smaller values) + (copies of its value + 1)/2: a
        cumulative sum of the counts per distinct value, so no resample is sorted. ρ is the count-weighted
        Pearson correlation of those ranks, whose mean is always (n + 1)/2. Exact: the same number as
        ``spearman`` on the expanded resample. O(b·n).
        """
        centre = (self.n + 1) / 2.0
        gy = np.add.reduceat(counts, self.y_starts, axis=1) if self.y_tied else counts
        ry = np.cumsum(gy, axis=1)
        ry -= (gy - 1.0) / 2.0 + centre  # centred average rank of each distinct y
        gx = self.per_x_level(counts)
        rx = np.cumsum(gx, axis=1) - (gx - 1.0) / 2.0 - centre
        ry_items = ry[:, self.y_group] if self.y_tied else ry
        weighted_ry = counts * ry_items
        sxy = np.einsum("ij,ij->i", rx, self.per_x_level(weighted_ry))
        sxx = np.einsum("ij,ij->i", gx * rx, rx)
        syy = np.einsum("ij,ij->i", gy * ry, ry)
        defined = (sxx > 0) & (syy > 0)  # a constant side in the resample leaves ρ undefined
        return np.where(defined, sxy / np.sqrt(np.where(defined, sxx * syy, 1.0)), np.nan)


def _clean_pairs(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y differ in length: {xa.shape[0]} != {ya.shape[0]}")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    return xa[keep], ya[keep]


def spearman_resamples(x: ArrayLike, y: ArrayLike, index: np.ndarray) -> np.ndarray:
    """Spearman's ρ of ``(x[i], y[i])`` for each row ``i`` of the (b, m) integer array ``index``.

    x and y must be free of NaN (indices refer to their positions). ``nan`` for a resample with a constant
    side. This is the engine of ``spearman_bootstrap_ci``, exposed so it can be checked against ``spearman``.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    index = np.atleast_2d(np.asarray(index))
    b, n = index.shape[0], len(xa)
    counts = np.bincount((index + (np.arange(b) * n)[:, None]).ravel(), minlength=b * n).reshape(b, n)
    layout = _RankLayout(xa, ya)
    order = np.lexsort((xa, ya))
    return layout.rho(counts[:, order].astype(np.float64))


def spearman_bootstrap_ci(
    x: ArrayLike,
    y: ArrayLike,
    rng: np.random.Generator,
    *,
    resamples: int = 500,
    level: float = 0.95,
    exact_above: int = 5000,
) -> tuple[float, float]:
    """Two-sided ``level`` confidence interval for Spearman's ρ (pairs with a missing side are dropped).

    n ≤ ``exact_above`` pairs: **percentile bootstrap** resampling (x, y) *pairs* with replacement. Each
    resample's ρ is computed exactly from the pairs' multiplicities (``_RankLayout.rho``: O(n), no sort per
    resample), in chunks of at most ``CHUNK_ELEMENTS`` draws; resamples with a constant side (ρ undefined)
    are left out. The interval is the α/2 and 1 − α/2 quantiles of the resampled ρ (α = 1 − level).

    n > ``exact_above``: the Fisher-z interval with Bonett & Wright's (2000) variance for Spearman's ρ,
    tanh(atanh(ρ) ± z·√((1 + ρ²/2)/(n − 3))) with z = Φ⁻¹(1 − α/2) — at that size it agrees with the
    bootstrap (tested) and costs nothing; no random numbers are drawn.

    ``(nan, nan)`` for fewer than 4 pairs, when ρ is undefined or |ρ| = 1 on the asymptotic path, or when
    no resample has a defined ρ.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    xa, ya = _clean_pairs(x, y)
    n = len(xa)
    alpha = 1.0 - level
    if n < 4:
        return (NAN, NAN)
    if n > exact_above:
        rho = spearman(xa, ya)
        if not abs(rho) < 1.0:  # also catches nan
            return (NAN, NAN)
        halfwidth = normal_quantile(1.0 - alpha / 2) * math.sqrt((1.0 + rho * rho / 2.0) / (n - 3))
        z = math.atanh(rho)
        return (math.tanh(z - halfwidth), math.tanh(z + halfwidth))
    layout = _RankLayout(xa, ya)
    rows_per_chunk = max(1, CHUNK_ELEMENTS // n)
    out = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, rows_per_chunk):
        rows = min(rows_per_chunk, resamples - start)
        # Indices into the sorted pairs: a uniform draw is a uniform draw whatever the order.
        draws = rng.integers(0, n, size=(rows, n))
        draws += (np.arange(rows) * n)[:, None]
        counts = np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)
        out[start : start + rows] = layout.rho(counts)
    out = out[~np.isnan(out)]
    if len(out) == 0:
        return (NAN, NAN)
    lo, hi = np.quantile(out, [alpha / 2, 1.0 - alpha / 2])
    return (float(lo), float(hi))
