"""Ranking skill, calibration and shrinkage across sources. Pure: numpy/pandas in, floats and frozen
dataclasses out.

- :func:`rank_ic`: does a higher conviction pick a better signal on the same day? Per entry date, Spearman's
  rank correlation of conviction and (side-adjusted abnormal) return; its mean over dates and t-statistics.
  :func:`ic_by_horizon` repeats it per horizon (the decay of the skill).
- :func:`reliability` and :func:`brier_score`: does a forecast probability of a hit match the hit rate?
- :func:`shrink_hit_rates` (beta-binomial) and :func:`shrink_means` (normal-normal): empirical-Bayes estimates
  that pull small samples toward the whole population, so a source that went 3 for 3 cannot top a
  leaderboard. **The leaderboard orders sources by** :func:`shrink_means` **of the mean abnormal return at the
  primary horizon**, fed with the date-block bootstrap standard errors
  (:func:`autotrader.policy.inference.block_bootstrap_mean`), because the verdicts are about abnormal return and
  those errors carry the signals' dependence; the shrunk hit rate is shown beside it.

Usage::

    from autotrader.policy import skill
    ic = skill.rank_ic(entry_dates, conviction, car[:, k], maxlags=h - 1)
    decay = skill.ic_by_horizon(entry_dates, conviction, car, horizons)
    table = skill.reliability(prob_hit, hit, bucket=conviction)
    board = skill.shrink_means(mean_per_source, se_per_source)   # order sources by board.posterior
    hits = skill.shrink_hit_rates(hits_per_source, n_per_source)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from autotrader.policy.inference import ols_hac

__all__ = [
    "BetaBinomial",
    "NormalShrinkage",
    "RankIC",
    "ReliabilityRow",
    "brier_score",
    "ic_by_horizon",
    "rank_ic",
    "reliability",
    "shrink_hit_rates",
    "shrink_means",
]

NAN = float("nan")

#: A date's IC needs at least this many signals (two points always correlate perfectly).
MIN_EVENTS_PER_DATE = 3


@dataclass(frozen=True)
class RankIC:
    per_date: pd.Series  # Spearman ρ per qualifying entry date, indexed by date (ascending)
    mean: float
    sd: float  # ddof=1 over dates
    t_stat: float  # mean / (sd / √n_dates)
    t_stat_hac: float  # mean / Newey–West standard error over dates (lags ``maxlags``)
    n_dates: int
    maxlags: int


def _ranks_within(groups: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks (1-based, ties share their mean rank) of ``values`` within each group of ``groups``
    (integer codes), and per group the number of distinct values. One sort for every group at once: a
    scorecard asks for the IC of every horizon and source, and a group-by per call was most of its cost."""
    n = len(values)
    order = np.lexsort((values, groups))
    g, v = groups[order], values[order]
    group_start = np.ones(n, dtype=bool)
    group_start[1:] = g[1:] != g[:-1]
    run_start = group_start.copy()
    run_start[1:] |= v[1:] != v[:-1]
    run = np.cumsum(run_start) - 1
    position = np.arange(1, n + 1, dtype=np.float64)
    average = (np.bincount(run, weights=position) / np.bincount(run))[run]
    offset = (position[group_start] - 1)[np.cumsum(group_start) - 1]
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = average - offset
    distinct = np.bincount(g[run_start], minlength=int(groups.max()) + 1 if n else 0)
    return ranks, distinct


def _per_date_spearman(codes: np.ndarray, x: np.ndarray, y: np.ndarray, n_groups: int) -> np.ndarray:
    """Spearman's ρ per group: the Pearson correlation of within-group average ranks."""
    rx, _ = _ranks_within(codes, x)
    ry, _ = _ranks_within(codes, y)
    count = np.bincount(codes, minlength=n_groups).astype(np.float64)
    dx = rx - (np.bincount(codes, weights=rx, minlength=n_groups) / count)[codes]
    dy = ry - (np.bincount(codes, weights=ry, minlength=n_groups) / count)[codes]
    xy = np.bincount(codes, weights=dx * dy, minlength=n_groups)
    xx = np.bincount(codes, weights=dx * dx, minlength=n_groups)
    yy = np.bincount(codes, weights=dy * dy, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return xy / np.sqrt(xx * yy)


def rank_ic(dates: ArrayLike, conviction: ArrayLike, outcome: ArrayLike, *, maxlags: int = 0) -> RankIC:
    """Per-date rank information coefficient of ``conviction`` against ``outcome``.

    Pairs with a NaN are dropped. A date qualifies with at least 3 signals, at least two distinct convictions
    and two distinct outcomes; its IC is Spearman's ρ (average ranks for ties). Over the n qualifying dates:
    mean, sd (ddof=1), ``t_stat = mean / (sd/√n)``, and ``t_stat_hac`` with a Newey–West standard error of the
    mean over dates in date order (``maxlags``: use h − 1 for horizon h, whose windows overlap). Statistics
    that need two dates are NaN with fewer.
    """
    d = np.asarray(dates).ravel()
    x = np.asarray(conviction, dtype=np.float64).ravel()
    y = np.asarray(outcome, dtype=np.float64).ravel()
    keep = ~(pd.isna(d) | np.isnan(x) | np.isnan(y))
    d, x, y = d[keep], x[keep], y[keep]
    codes, uniques = pd.factorize(d, sort=True)
    # The qualifying dates: 3+ signals, two distinct convictions and two distinct outcomes.
    size = np.bincount(codes, minlength=len(uniques))
    ok = (size >= MIN_EVENTS_PER_DATE) & (_ranks_within(codes, x)[1] >= 2) & (_ranks_within(codes, y)[1] >= 2)
    rows = ok[codes]
    if rows.any():
        qualifying = np.flatnonzero(ok)
        remap = np.full(len(uniques), -1)
        remap[qualifying] = np.arange(len(qualifying))
        ic = _per_date_spearman(remap[codes[rows]], x[rows], y[rows], len(qualifying))
        per_date = pd.Series(ic, index=pd.Index(uniques[qualifying], name="date"))
    else:
        ic = np.array([], dtype=np.float64)
        per_date = pd.Series(dtype=np.float64)
    n = len(ic)
    mean = float(ic.mean()) if n else NAN
    sd = float(ic.std(ddof=1)) if n >= 2 else NAN
    t = mean / (sd / math.sqrt(n)) if n >= 2 and sd > 0 else NAN
    fit = ols_hac(ic, np.ones((n, 1)), maxlags) if n >= 2 else None
    t_hac = fit.t[0] if fit is not None and fit.se[0] > 0 else NAN
    return RankIC(per_date, mean, sd, t, t_hac, n, fit.maxlags if fit is not None else maxlags)


def ic_by_horizon(
    dates: ArrayLike, conviction: ArrayLike, outcomes: ArrayLike, horizons: Sequence[int]
) -> dict[int, RankIC]:
    """:func:`rank_ic` for each column of ``outcomes`` (E, H), one per horizon h, with ``maxlags = h − 1``."""
    values = np.asarray(outcomes, dtype=np.float64).reshape(len(np.asarray(dates).ravel()), -1)
    return {
        int(h): rank_ic(dates, conviction, values[:, j], maxlags=max(0, int(h) - 1)) for j, h in enumerate(horizons)
    }


@dataclass(frozen=True)
class ReliabilityRow:
    bucket: object  # the bucket's label (conviction level, or the bin's lower edge)
    predicted: float  # mean forecast probability in the bucket
    observed: float  # hit rate in the bucket
    n: int


def _forecasts(forecast: ArrayLike, hit: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = np.asarray(forecast, dtype=np.float64).ravel()
    o = np.asarray(hit, dtype=np.float64).ravel()
    if f.shape != o.shape:
        raise ValueError(f"forecast and hit differ in length: {f.shape[0]} != {o.shape[0]}")
    keep = ~(np.isnan(f) | np.isnan(o))
    return f, o, keep


def reliability(
    forecast: ArrayLike, hit: ArrayLike, *, bucket: ArrayLike | None = None, bins: int = 10
) -> tuple[ReliabilityRow, ...]:
    """The reliability table of probability forecasts: per bucket, the mean forecast, the observed hit rate
    (hits are 1/0 or booleans) and the count, buckets ascending. ``bucket`` labels each forecast (e.g. its
    conviction); without it the forecasts fall in ``bins`` equal-width bins of [0, 1] (labelled by the lower
    edge; 1.0 goes in the last bin). Pairs with a NaN are dropped (as are NaN bucket labels)."""
    f, o, keep = _forecasts(forecast, hit)
    if bucket is None:
        labels = np.minimum(np.floor(f * bins), bins - 1) / bins
    else:
        labels = np.asarray(bucket).ravel()
    frame = pd.DataFrame({"bucket": labels, "f": f, "o": o})[keep].dropna()
    table = frame.groupby("bucket", sort=True).agg(predicted=("f", "mean"), observed=("o", "mean"), n=("o", "size"))
    return tuple(
        ReliabilityRow(
            label.item() if isinstance(label, np.generic) else label,
            float(row.predicted),
            float(row.observed),
            int(row.n),
        )
        for label, row in table.iterrows()
    )


def brier_score(forecast: ArrayLike, hit: ArrayLike) -> float:
    """``mean((fᵢ − oᵢ)²)`` over pairs without NaN (0 is perfect; always forecasting 0.5 scores 0.25)."""
    f, o, keep = _forecasts(forecast, hit)
    return float(np.mean((f[keep] - o[keep]) ** 2)) if keep.any() else NAN


@dataclass(frozen=True)
class BetaBinomial:
    prior_mean: float  # μ = Σ hits / Σ n
    rho: float  # between-source intra-class correlation 1 / (a + b + 1); 0 = no spread beyond chance
    prior_a: float  # Beta(a, b) prior; inf when ρ = 0 (complete pooling)
    prior_b: float
    posterior: np.ndarray  # (hits + a) / (n + a + b) per source


def shrink_hit_rates(hits: ArrayLike, n: ArrayLike) -> BetaBinomial:
    """Empirical-Bayes beta-binomial shrinkage of per-source hit rates by the method of moments.

    With pᵢ = kᵢ/nᵢ, N = Σnᵢ, m sources and μ = Σkᵢ/N: if pᵢ has the beta-binomial variance
    ``μ(1−μ)(1 + (nᵢ−1)ρ)/nᵢ`` then ``E[Σ nᵢ(pᵢ − μ)²] ≈ μ(1−μ)((m − 1) + ρ(N − m))``, so

        ρ̂ = clip((Σ nᵢ(pᵢ − μ)² / (μ(1−μ)) − (m − 1)) / (N − m), 0, 1),   a + b = 1/ρ̂ − 1,   a = μ(a + b)

    and each source's posterior mean is ``(kᵢ + a)/(nᵢ + a + b)``. ρ̂ = 0 (no more spread than chance) pools
    completely: every posterior is μ. Sources with n = 0 get μ. Fewer than two sources with signals, or μ at
    0 or 1, leave ρ̂ = 0 too.
    """
    k = np.asarray(hits, dtype=np.float64).ravel()
    size = np.asarray(n, dtype=np.float64).ravel()
    if k.shape != size.shape or np.any(k < 0) or np.any(k > size):
        raise ValueError("need 0 <= hits <= n per source, same lengths")
    seen = size > 0
    total = float(size.sum())
    mu = float(k.sum()) / total if total > 0 else NAN
    m = int(seen.sum())
    rho = 0.0
    if m >= 2 and 0 < mu < 1 and total > m:
        spread = float(np.sum(size[seen] * (k[seen] / size[seen] - mu) ** 2))
        rho = min(1.0, max(0.0, (spread / (mu * (1 - mu)) - (m - 1)) / (total - m)))
    if rho == 0.0:
        return BetaBinomial(mu, 0.0, math.inf, math.inf, np.full(k.shape, mu))
    strength = 1.0 / rho - 1.0
    a, b = mu * strength, (1 - mu) * strength
    return BetaBinomial(mu, rho, a, b, (k + a) / (size + a + b))


@dataclass(frozen=True)
class NormalShrinkage:
    grand_mean: float  # random-effects mean Σ wᵢ xᵢ / Σ wᵢ, wᵢ = 1/(seᵢ² + τ²)
    tau2: float  # between-source variance (DerSimonian–Laird)
    posterior: np.ndarray  # μ + Bᵢ (xᵢ − μ), Bᵢ = τ² / (τ² + seᵢ²)
    weight: np.ndarray  # Bᵢ: how much of each source's own mean survives


def shrink_means(means: ArrayLike, se: ArrayLike) -> NormalShrinkage:
    """Empirical-Bayes normal-normal shrinkage of per-source means xᵢ with standard errors seᵢ.

    τ² is the DerSimonian–Laird moment estimate: with vᵢ = 1/seᵢ², x̄ = Σvᵢxᵢ/Σvᵢ, Q = Σvᵢ(xᵢ − x̄)²,

        τ² = max(0, (Q − (m − 1)) / (Σvᵢ − Σvᵢ²/Σvᵢ))

    then the grand mean μ = Σwᵢxᵢ/Σwᵢ with wᵢ = 1/(seᵢ² + τ²) and the posterior mean μ + Bᵢ(xᵢ − μ),
    Bᵢ = τ²/(τ² + seᵢ²). A source with a large standard error (few or strongly clustered signals) is pulled
    toward μ; τ² = 0 pools completely. Sources with a NaN mean or a non-positive/NaN se get a NaN posterior
    and do not enter the estimates; fewer than two usable sources give τ² = NaN.
    """
    x = np.asarray(means, dtype=np.float64).ravel()
    s = np.asarray(se, dtype=np.float64).ravel()
    if x.shape != s.shape:
        raise ValueError(f"means and se differ in length: {x.shape[0]} != {s.shape[0]}")
    ok = ~np.isnan(x) & (s > 0)
    if ok.sum() < 2:
        return NormalShrinkage(NAN, NAN, np.full(x.shape, NAN), np.full(x.shape, NAN))
    v = 1.0 / s[ok] ** 2
    fixed = float(np.sum(v * x[ok]) / v.sum())
    q = float(np.sum(v * (x[ok] - fixed) ** 2))
    tau2 = max(0.0, (q - (ok.sum() - 1)) / (v.sum() - np.sum(v**2) / v.sum()))
    w = 1.0 / (s[ok] ** 2 + tau2)
    mu = float(np.sum(w * x[ok]) / w.sum())
    weight = np.full(x.shape, NAN)
    weight[ok] = tau2 / (tau2 + s[ok] ** 2)
    return NormalShrinkage(mu, tau2, np.where(ok, mu + weight * (x - mu), NAN), weight)
