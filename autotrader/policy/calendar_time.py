"""Calendar-time portfolio of a source's picks: one return per session instead of one per signal, so signals
that share dates and overlap are weighed as the portfolio that holds them would be. Pure numpy (the
probabilistic Sharpe ratio is the rebalancer's, :func:`autotrader.policy.rebalance.probabilistic_sharpe`).

**Portfolio.** Each signal i holds its pick over sessions ``entry_i + 1 … entry_i + h``; ``paths[i, j]`` is
its (side-adjusted) return in session ``entry_i + 1 + j`` (raw, or abnormal from
:func:`autotrader.policy.event_study.paths`). The portfolio's return in session t is the equal-weight mean of
the returns of the picks live in t (rebalanced daily to equal weights); sessions with no live pick have none.

**Regression.** The portfolio's daily return on SPY's (``y_t = α + β m_t + ε_t``, total returns, no
risk-free rate: at daily frequency it is a few basis points a month and α absorbs ``r_f (1 − β)``), with
Newey–West standard errors (:func:`autotrader.policy.inference.ols_hac`), lags ``⌊4 (T/100)^(2/9)⌋`` unless
given. α is per session; ``alpha_annual`` = 252 α.

**Sharpe.** ``mean / std (ddof=1) × √252`` of the daily series (with abnormal paths this is an information
ratio), its probabilistic Sharpe ratio against an annualised benchmark Sharpe (0 by default), and the
minimum track record length: the sessions of this Sharpe, skew and kurtosis that a PSR ≥ ``level`` needs.

Usage::

    from autotrader.policy import calendar_time as ct
    raw = es.paths(stock, market, symbol, entry, range(1, h + 1), side=side)
    result = ct.calendar_time(entry, raw, market)   # CalendarTime or None (too few sessions)
    series, live = ct.portfolio_returns(entry, raw, n_sessions=len(market))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from autotrader.policy.inference import newey_west_lags, ols_hac
from autotrader.policy.metrics import normal_quantile
from autotrader.policy.rebalance import PERIODS_PER_YEAR, ZERO_STD, per_period_sharpe, probabilistic_sharpe

__all__ = [
    "CalendarTime",
    "SharpeStats",
    "calendar_time",
    "min_track_record",
    "portfolio_returns",
    "sharpe_stats",
]

NAN = float("nan")


def portfolio_returns(entry: ArrayLike, paths: ArrayLike, n_sessions: int) -> tuple[np.ndarray, np.ndarray]:
    """``(returns, live)``, both (n_sessions,): the equal-weight mean of ``paths[i, j]`` over every pick with
    ``entry_i + 1 + j = t`` and a finite value, and how many picks that is. ``returns`` is NaN where none."""
    e = np.asarray(entry, dtype=np.int64).ravel()
    values = np.asarray(paths, dtype=np.float64).reshape(len(e), -1)
    sessions = e[:, None] + 1 + np.arange(values.shape[1])
    keep = ~np.isnan(values) & (sessions >= 0) & (sessions < n_sessions)
    total = np.bincount(sessions[keep], weights=values[keep], minlength=n_sessions)
    live = np.bincount(sessions[keep], minlength=n_sessions)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(live > 0, total / np.where(live > 0, live, 1), NAN), live


def _moments(x: np.ndarray) -> tuple[float, float, float]:
    """(per-period Sharpe, skew γ₃ = m₃/m₂^1.5, kurtosis γ₄ = m₄/m₂²) with biased central moments, as the PSR."""
    deviations = x - x.mean()
    m2 = float(np.mean(deviations**2))
    return per_period_sharpe(x), float(np.mean(deviations**3)) / m2**1.5, float(np.mean(deviations**4)) / m2**2


def min_track_record(returns: ArrayLike, benchmark_sharpe: float = 0.0, level: float = 0.95) -> float:
    """Minimum track record length (Bailey & López de Prado, 2012), in periods:

        MinTRL = 1 + (1 − γ₃ SR̂ + (γ₄ − 1)/4 SR̂²) · (Φ⁻¹(level) / (SR̂ − SR*))²

    all per period (``benchmark_sharpe`` SR* per period), γ₃, γ₄ as in the PSR; the PSR of a series this
    long with these moments reaches ``level``. ``inf`` when SR̂ ≤ SR*; NaN for fewer than 3 values or a
    zero standard deviation."""
    x = np.asarray(returns, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if x.size < 3 or float(x.std()) <= ZERO_STD:
        return NAN
    sr, skew, kurtosis = _moments(x)
    if not sr > benchmark_sharpe:
        return math.inf
    spread = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    return 1.0 + spread * (normal_quantile(level) / (sr - benchmark_sharpe)) ** 2


@dataclass(frozen=True)
class SharpeStats:
    sharpe: float  # annualised: per-period Sharpe × √252
    psr: float  # P(true Sharpe > benchmark), probabilistic Sharpe ratio
    min_track_record: float  # sessions needed for PSR ≥ level (inf when the Sharpe does not beat the benchmark)
    n: int
    benchmark_sharpe: float  # annualised
    level: float


def sharpe_stats(returns: ArrayLike, *, benchmark_sharpe: float = 0.0, level: float = 0.95) -> SharpeStats:
    """Sharpe, PSR and minimum track record of a daily series (NaN dropped); ``benchmark_sharpe`` is annualised
    and divided by √252 for the per-period formulas."""
    x = np.asarray(returns, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    per_period = benchmark_sharpe / math.sqrt(PERIODS_PER_YEAR)
    return SharpeStats(
        per_period_sharpe(x) * math.sqrt(PERIODS_PER_YEAR),
        probabilistic_sharpe(x, per_period),
        min_track_record(x, per_period, level),
        int(x.size),
        benchmark_sharpe,
        level,
    )


@dataclass(frozen=True)
class CalendarTime:
    alpha: float  # per session
    alpha_annual: float  # 252 α
    beta: float
    alpha_se: float  # Newey–West
    beta_se: float
    alpha_t: float
    alpha_p: float  # two-sided, normal
    maxlags: int
    sessions: int  # sessions with at least one live pick (and a market return)
    mean_live: float  # average live picks per such session
    sharpe: SharpeStats


def calendar_time(
    entry: ArrayLike,
    paths: ArrayLike,
    market: ArrayLike,
    *,
    maxlags: int | None = None,
    benchmark_sharpe: float = 0.0,
    level: float = 0.95,
) -> CalendarTime | None:
    """The calendar-time portfolio of the picks (:func:`portfolio_returns` on ``len(market)`` sessions), its
    regression on the market with Newey–West errors (``maxlags`` default ``⌊4 (T/100)^(2/9)⌋`` for T sessions)
    and its :func:`sharpe_stats`. None when fewer than 3 sessions have both a portfolio and a market return or
    the market is constant over them."""
    m = np.asarray(market, dtype=np.float64).ravel()
    series, live = portfolio_returns(entry, paths, len(m))
    usable = ~np.isnan(series) & ~np.isnan(m)
    y, x = series[usable], m[usable]
    if y.size < 3:
        return None
    lags = newey_west_lags(y.size) if maxlags is None else int(maxlags)
    fit = ols_hac(y, np.column_stack([np.ones_like(x), x]), lags)
    if fit is None:
        return None
    (alpha, beta), (alpha_se, beta_se) = fit.params, fit.se
    return CalendarTime(
        alpha, alpha * PERIODS_PER_YEAR, beta, alpha_se, beta_se, fit.t[0], fit.p[0], fit.maxlags, int(y.size),
        float(live[usable].mean()), sharpe_stats(y, benchmark_sharpe=benchmark_sharpe, level=level),
    )  # fmt: skip
