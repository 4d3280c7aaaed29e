"""Ranking skill, calibration and shrinkage against scipy, statsmodels and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autotrader.policy import skill


def _signals(seed=0, dates=40, per_date=6, skill_level=0.3):
    rng = np.random.default_rng(seed)
    date = np.repeat(np.arange(dates), per_date)
    conviction = rng.integers(1, 11, len(date)).astype(float)
    outcome = skill_level * conviction / 10 + rng.normal(0, 0.3, len(date))
    return date, conviction, outcome


def test_rank_ic_per_date_is_scipys_spearman_and_its_t_statistics():
    from scipy.stats import spearmanr, ttest_1samp
    from statsmodels.regression.linear_model import OLS

    date, conviction, outcome = _signals()
    conviction[3] = np.nan  # dropped
    conviction[date == 5] = 7.0  # one conviction all day: no ranking to judge
    keep_two = (date == 6) & (np.arange(len(date)) % 6 >= 2)  # only two signals left on date 6
    outcome[keep_two] = np.nan
    result = skill.rank_ic(date, conviction, outcome, maxlags=2)
    expected = {}
    for d in np.unique(date):
        mask = (date == d) & ~np.isnan(conviction) & ~np.isnan(outcome)
        if mask.sum() >= 3 and len(set(conviction[mask])) >= 2:
            expected[d] = spearmanr(conviction[mask], outcome[mask]).statistic
    assert 5 not in result.per_date.index and 6 not in result.per_date.index
    assert list(result.per_date.index) == list(expected)
    np.testing.assert_allclose(result.per_date.to_numpy(), list(expected.values()), rtol=1e-12)
    values = np.array(list(expected.values()))
    assert result.n_dates == len(values) and result.mean == pytest.approx(values.mean())
    assert result.t_stat == pytest.approx(ttest_1samp(values, 0.0).statistic)
    hac = OLS(values, np.ones(len(values))).fit(cov_type="HAC", cov_kwds={"maxlags": 2})
    assert result.t_stat_hac == pytest.approx(hac.tvalues[0], rel=1e-10)
    assert result.mean > 0.1  # the skill planted in the outcomes


def test_ic_by_horizon_shows_decay_and_uses_overlap_lags():
    date, conviction, outcome = _signals(seed=1, skill_level=1.0)
    rng = np.random.default_rng(2)
    outcomes = np.column_stack([outcome, outcome + rng.normal(0, 1.0, len(outcome)), rng.normal(0, 1, len(outcome))])
    decay = skill.ic_by_horizon(date, conviction, outcomes, (1, 5, 20))
    assert list(decay) == [1, 5, 20]
    assert [decay[h].maxlags for h in (1, 5, 20)] == [0, 4, 19]
    assert decay[1].mean > decay[5].mean > decay[20].mean


def test_rank_ic_without_qualifying_dates_is_nan():
    result = skill.rank_ic([1, 1, 2, 2], [1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4])
    assert result.n_dates == 0 and math.isnan(result.mean) and math.isnan(result.t_stat)


def test_reliability_table_and_brier_hand_worked():
    forecast = [0.9, 0.9, 0.9, 0.9, 0.2, 0.2, 0.6, np.nan]
    hit = [1, 1, 1, 0, 0, 1, 1, 1]
    rows = skill.reliability(forecast, hit, bucket=[9, 9, 9, 9, 2, 2, 6, 6])
    assert [(r.bucket, r.predicted, r.observed, r.n) for r in rows] == [
        (2, pytest.approx(0.2), 0.5, 2),
        (6, pytest.approx(0.6), 1.0, 1),
        (9, pytest.approx(0.9), 0.75, 4),
    ]
    binned = skill.reliability(forecast, hit, bins=5)  # [0.2, 0.4), [0.6, 0.8), [0.8, 1.0]
    assert [(r.bucket, r.n) for r in binned] == [(0.2, 2), (0.6, 1), (0.8, 4)]
    # (0.1² × 3 + 0.9² + 0.2² + 0.8² + 0.4²) / 7 = (0.03 + 0.81 + 0.04 + 0.64 + 0.16) / 7 = 0.24
    assert skill.brier_score(forecast, hit) == pytest.approx(0.24)
    assert skill.brier_score([0.5] * 4, [1, 0, 1, 0]) == pytest.approx(0.25)


def test_beta_binomial_shrinkage_hand_worked_and_a_three_for_three_source_does_not_rank_first():
    hits, n = np.array([3, 60, 40, 45]), np.array([3, 100, 100, 100])
    result = skill.shrink_hit_rates(hits, n)
    # μ = 148/303; spread = Σ nᵢ(pᵢ − μ)²; ρ = (spread/(μ(1−μ)) − 3) / (303 − 4).
    mu = 148 / 303
    spread = 3 * (1 - mu) ** 2 + 100 * ((0.6 - mu) ** 2 + (0.4 - mu) ** 2 + (0.45 - mu) ** 2)
    rho = (spread / (mu * (1 - mu)) - 3) / 299
    a, b = mu * (1 / rho - 1), (1 - mu) * (1 / rho - 1)
    assert result.prior_mean == pytest.approx(mu) and result.rho == pytest.approx(rho)
    np.testing.assert_allclose(result.posterior, (hits + a) / (n + a + b))
    assert int(np.argmax(result.posterior)) == 1  # 60/100 beats 3/3
    assert result.posterior[0] < 1.0


def test_beta_binomial_moments_recover_a_known_prior():
    rng = np.random.default_rng(3)
    p = rng.beta(8, 12, 2000)  # μ = 0.4, ρ = 1/21
    n = rng.integers(20, 80, 2000)
    result = skill.shrink_hit_rates(rng.binomial(n, p), n)
    assert result.prior_mean == pytest.approx(0.4, abs=0.01)
    assert result.rho == pytest.approx(1 / 21, rel=0.15)


def test_beta_binomial_pools_completely_without_spread():
    result = skill.shrink_hit_rates([50, 50, 0], [100, 100, 0])
    assert result.rho == 0.0 and math.isinf(result.prior_a)
    np.testing.assert_allclose(result.posterior, 0.5)
    with pytest.raises(ValueError):
        skill.shrink_hit_rates([5], [3])


def test_normal_shrinkage_matches_statsmodels_dersimonian_laird():
    from statsmodels.stats.meta_analysis import combine_effects

    means = np.array([0.020, 0.004, -0.003, 0.010, 0.060])
    se = np.array([0.004, 0.003, 0.005, 0.006, 0.040])
    result = skill.shrink_means(means, se)
    reference = combine_effects(means, se**2, method_re="dl")
    assert result.tau2 == pytest.approx(reference.tau2, rel=1e-10)
    assert result.grand_mean == pytest.approx(reference.mean_effect_re, rel=1e-10)
    weight = result.tau2 / (result.tau2 + se**2)
    np.testing.assert_allclose(result.posterior, result.grand_mean + weight * (means - result.grand_mean))
    assert int(np.argmax(result.posterior)) == 0  # the noisy 6% source does not lead


def test_normal_shrinkage_skips_unusable_sources():
    result = skill.shrink_means([0.01, np.nan, 0.02, 0.03], [0.01, 0.01, 0.0, 0.01])
    assert np.isnan(result.posterior[1]) and np.isnan(result.posterior[2])
    assert np.isfinite(result.posterior[[0, 3]]).all()
    lonely = skill.shrink_means([0.01], [0.01])
    assert math.isnan(lonely.tau2)
