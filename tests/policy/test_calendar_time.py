"""The calendar-time portfolio against a loop over sessions, statsmodels' HAC regression, and the Sharpe
statistics against scipy's moments and the published formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autotrader.policy import calendar_time as ct
from autotrader.policy.inference import newey_west_lags


def test_portfolio_returns_equal_weight_the_live_picks_each_session():
    entry = np.array([0, 1, 1, 5])
    paths = np.array([[0.01, 0.02, 0.03], [0.10, np.nan, 0.30], [-0.10, -0.20, -0.30], [1.0, 2.0, 3.0]])
    returns, live = ct.portfolio_returns(entry, paths, n_sessions=8)
    # Session 1: pick 0 (0.01); 2: picks 0, 1, 2 (0.02, 0.10, −0.10); 3: 0.03, NaN, −0.20; 4: 0.30, −0.30;
    # 5: none; 6, 7: pick 3 (1.0, 2.0); its third session (8) is past the panel.
    expected = [np.nan, 0.01, 0.02 / 3, (0.03 - 0.20) / 2, 0.0, np.nan, 1.0, 2.0]
    np.testing.assert_allclose(returns, expected, atol=1e-15)
    assert list(live) == [0, 1, 3, 2, 2, 0, 1, 1]


def _world(seed=0, sessions=400, events=300, horizon=10):
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.01, sessions)
    entry = rng.integers(0, sessions - horizon, events)
    offsets = entry[:, None] + 1 + np.arange(horizon)
    paths = 0.0002 + 1.2 * market[offsets] + rng.normal(0, 0.02, (events, horizon))
    return market, entry, paths


def test_calendar_time_regression_matches_statsmodels_hac():
    from statsmodels.regression.linear_model import OLS

    market, entry, paths = _world()
    result = ct.calendar_time(entry, paths, market)
    series, live = ct.portfolio_returns(entry, paths, len(market))
    keep = ~np.isnan(series)
    y, x = series[keep], market[keep]
    lags = math.floor(4 * (len(y) / 100) ** (2 / 9))
    reference = OLS(y, np.column_stack([np.ones(len(y)), x])).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    assert result is not None and result.maxlags == lags == newey_west_lags(len(y))
    assert result.sessions == len(y) and result.mean_live == pytest.approx(live[keep].mean())
    assert (result.alpha, result.beta) == pytest.approx(tuple(reference.params), rel=1e-10)
    assert (result.alpha_se, result.beta_se) == pytest.approx(tuple(reference.bse), rel=1e-10)
    assert result.alpha_t == pytest.approx(reference.tvalues[0], rel=1e-10)
    assert result.alpha_p == pytest.approx(reference.pvalues[0], rel=1e-8)
    assert result.alpha_annual == pytest.approx(252 * result.alpha)
    assert result.beta == pytest.approx(1.2, abs=0.15)
    explicit = ct.calendar_time(entry, paths, market, maxlags=10)
    assert explicit is not None and explicit.maxlags == 10


def test_calendar_time_needs_sessions():
    assert ct.calendar_time([0], [[0.01]], [0.0, 0.01]) is None


def _psr_reference(x: np.ndarray, sr_star: float) -> float:
    from scipy.stats import kurtosis, norm, skew

    sr = x.mean() / x.std(ddof=1)
    spread = 1 - skew(x) * sr + (kurtosis(x, fisher=False) - 1) / 4 * sr**2
    return float(norm.cdf((sr - sr_star) * math.sqrt(len(x) - 1) / math.sqrt(spread)))


def test_sharpe_stats_against_scipy_moments_and_the_published_formulas():
    from scipy.stats import kurtosis, norm, skew

    rng = np.random.default_rng(2)
    x = rng.standard_t(5, 500) * 0.01 + 0.004  # SR̂ ≈ 0.3 per session, above the benchmark
    stats = ct.sharpe_stats(x, benchmark_sharpe=0.5)
    sr_star = 0.5 / math.sqrt(252)
    sr = x.mean() / x.std(ddof=1)
    assert stats.sharpe == pytest.approx(sr * math.sqrt(252))
    assert stats.psr == pytest.approx(_psr_reference(x, sr_star), rel=1e-10)
    spread = 1 - skew(x) * sr + (kurtosis(x, fisher=False) - 1) / 4 * sr**2
    assert stats.min_track_record == pytest.approx(1 + spread * (norm.ppf(0.95) / (sr - sr_star)) ** 2, rel=1e-10)
    assert sr > sr_star and stats.n == 500


def test_min_track_record_hand_worked_and_undefined_cases():
    # 1.5 and −0.5, fifty each: deviations ±1, so m₂ = m₄ = 1, m₃ = 0 (γ₃ = 0, γ₄ = 1) and the variance term
    # is 1; SR = 0.5 / √(100/99) = 0.497494; MinTRL = 1 + (1.644854 / 0.497494)² = 11.9315.
    x = np.array([1.5, -0.5] * 50)
    assert ct.min_track_record(x) == pytest.approx(11.9315, abs=1e-4)
    assert ct.min_track_record(-x) == math.inf  # no edge: no track record is long enough
    assert math.isnan(ct.min_track_record([0.01, 0.01, 0.01]))
    assert math.isnan(ct.min_track_record([0.01, 0.02]))
