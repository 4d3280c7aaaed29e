"""The dependence-robust statistics, each against an independent computation (statsmodels, scipy, a plain
loop over the documented definition, or a case worked by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotrader.policy import inference as inf
from autotrader.policy.metrics import bootstrap_ci, wilson_interval

# ------------------------------------------------------------------------------------- date-block bootstrap


def _clustered(rng, n_dates=40, per_date=3, horizon=5, mu=0.01):
    """Signals sharing each date's shock and, via overlapping h-session windows, their neighbours' shocks."""
    shocks = np.concatenate([[0.0], np.cumsum(rng.normal(0, 0.01, n_dates + horizon + 1))])
    dates = np.repeat(np.arange(n_dates), per_date)
    values = mu + shocks[dates + horizon + 1] - shocks[dates + 1] + rng.normal(0, 0.01, len(dates))
    return values, dates


def test_bootstrap_draws_are_the_means_of_the_documented_block_resamples():
    rng = np.random.default_rng(3)
    values, dates = _clustered(rng, n_dates=23, per_date=2)
    values[[4, 9]] = np.nan  # ignored
    labels = dates * 7 + 100  # any sortable labels
    _, draws = inf.block_bootstrap_means(values, labels, np.random.default_rng(42), block=5, resamples=50)

    replay = np.random.default_rng(42)
    n_dates, length = 23, 5
    k = math.ceil(n_dates / length)
    starts = replay.integers(0, n_dates, size=(50, k))
    distinct = np.unique(labels)
    expected = []
    for row in starts:
        picked = []
        for j, start in enumerate(row):
            size = length if j < k - 1 else n_dates - (k - 1) * length
            picked += [(start + i) % n_dates for i in range(size)]
        assert len(picked) == n_dates
        pooled = np.concatenate([values[labels == distinct[d]] for d in picked])
        expected.append(np.nanmean(pooled))
    np.testing.assert_allclose(draws[:, 0], expected, rtol=1e-12)


def test_bootstrap_se_matches_statsmodels_cluster_robust_se():
    from statsmodels.regression.linear_model import OLS

    rng = np.random.default_rng(8)
    values, dates = _clustered(rng, n_dates=80, per_date=4, horizon=1)
    fit = OLS(values, np.ones(len(values))).fit(cov_type="cluster", cov_kwds={"groups": dates, "use_correction": False})
    row = inf.block_bootstrap_mean(values, dates, rng, block=1, resamples=4000)
    assert row.se == pytest.approx(float(fit.bse[0]), rel=0.08)
    assert row.mean == pytest.approx(float(values.mean()), rel=1e-12)
    assert row.iid_sd == pytest.approx(float(values.std(ddof=1)))
    assert row.design_effect == pytest.approx(row.se**2 / (row.iid_sd**2 / row.n))
    assert row.effective_n == pytest.approx(row.n / row.design_effect)


def test_copies_on_one_date_inflate_the_design_effect_by_their_number():
    rng = np.random.default_rng(1)
    base = rng.normal(0.0, 1.0, 300)
    copies = np.repeat(base, 10)  # every value ten times on its own date: ten signals, one observation
    row = inf.block_bootstrap_mean(copies, np.repeat(np.arange(300), 10), rng, block=1, resamples=3000)
    assert row.design_effect == pytest.approx(10.0, rel=0.12)
    assert row.effective_n == pytest.approx(300, rel=0.12)


@pytest.mark.parametrize("seed", range(6))
def test_p_value_below_the_level_exactly_when_the_interval_excludes_zero(seed):
    rng = np.random.default_rng(seed)
    values, dates = _clustered(rng, n_dates=60, mu=0.004 * seed)
    row = inf.block_bootstrap_mean(values, dates, rng, block=5, resamples=999)
    excluded = row.lo > 0 or row.hi < 0
    assert (row.p_value < 0.05 + 2 / 1000) == excluded or abs(row.p_value - 0.05) < 2 / 1000
    assert row.lo <= row.mean <= row.hi


def test_degenerate_samples_give_nan_not_an_error():
    rng = np.random.default_rng(0)
    one_date = inf.block_bootstrap_mean([0.1, 0.2, 0.3], [5, 5, 5], rng, block=3)
    assert one_date.mean == pytest.approx(0.2) and math.isnan(one_date.lo) and one_date.n_dates == 1
    empty = inf.block_bootstrap_mean([np.nan], [1], rng, block=1)
    assert empty.n == 0 and math.isnan(empty.mean)


def test_block_length_spans_the_horizon_and_keeps_ten_blocks():
    assert inf.block_length(5, 250) == 15
    assert inf.block_length(5, 80) == 8
    assert inf.block_length(60, 250) == 60  # never shorter than the horizon
    assert inf.block_length(1, 5) == 1


def _coverage(reps: int, seed: int) -> tuple[float, float]:
    """Share of ``reps`` clustered, overlapping samples whose 95% interval holds the true mean: the date-block
    bootstrap's, and the i.i.d. percentile bootstrap's that the scorecard used before (``bootstrap_ci``)."""
    rng = np.random.default_rng(seed)
    mu, horizon, block_hits, iid_hits = 0.01, 5, 0, 0
    for _ in range(reps):
        values, dates = _clustered(rng, n_dates=250, per_date=2, horizon=horizon, mu=mu)
        robust = inf.block_bootstrap_mean(values, dates, rng, block=inf.block_length(horizon, 250), resamples=400)
        lo, hi = bootstrap_ci(values, "mean", rng, resamples=400)
        block_hits += robust.lo <= mu <= robust.hi
        iid_hits += lo <= mu <= hi
    return block_hits / reps, iid_hits / reps


def test_block_interval_covers_a_clustered_overlapping_mean_where_iid_does_not():
    block, iid = _coverage(reps=120, seed=5)
    assert block >= 0.88
    assert iid <= 0.70


@pytest.mark.slow
def test_block_interval_coverage_at_least_ninety_percent():
    block, iid = _coverage(reps=400, seed=6)
    assert block >= 0.90
    assert iid <= 0.60


def test_few_blocks_widen_the_interval_and_one_block_gives_none():
    from scipy.stats import t

    assert inf.small_sample_widening(17) == pytest.approx(t.ppf(0.975, 16) / 1.959963984540054)
    assert inf.small_sample_widening(5) == pytest.approx(2.776445 / 1.959964, rel=1e-6)
    rng = np.random.default_rng(0)
    values, dates = _clustered(rng, n_dates=30)
    single = inf.block_bootstrap_mean(values, dates, rng, block=60)  # a 60-session horizon, 30 dates
    assert single.blocks == 1 and math.isnan(single.lo) and math.isnan(single.p_value)
    few = inf.block_bootstrap_mean(values, dates, np.random.default_rng(1), block=6)
    _, draws = inf.block_bootstrap_means(values, dates, np.random.default_rng(1), block=6, resamples=2000)
    plain = np.quantile(draws[:, 0], [0.025, 0.975])
    assert few.blocks == 5 and few.widening == pytest.approx(inf.small_sample_widening(5))
    assert few.hi - few.lo == pytest.approx(few.widening * (plain[1] - plain[0]))


# --------------------------------------------------------------------------------------------- BH q-values


def test_bh_qvalues_match_statsmodels_with_nans_and_ties():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, np.nan, 0.04, 0.03, 0.04, 0.5, 0.001, np.nan, 0.2, 0.9])
    q = inf.bh_qvalues(p)
    finite = ~np.isnan(p)
    expected = multipletests(p[finite], method="fdr_bh")[1]
    np.testing.assert_allclose(q[finite], expected, rtol=1e-12)
    assert np.isnan(q[~finite]).all()
    assert inf.bh_qvalues([]).shape == (0,)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_bh_qvalues_property_against_statsmodels(p):
    from statsmodels.stats.multitest import multipletests

    np.testing.assert_allclose(inf.bh_qvalues(p), multipletests(p, method="fdr_bh")[1], rtol=1e-10, atol=1e-15)


# ------------------------------------------------------------------------------------------ binomial test


def _two_sided_binomial(k: int, n: int, p: float) -> float:
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return min(1.0, sum(x for x in pmf if x <= pmf[k] * (1 + 1e-7)))


@pytest.mark.parametrize(("hits", "n", "base"), [(7, 10, 0.5), (58, 100, 0.39), (3, 3, 0.6), (0, 12, 0.2)])
def test_binomial_vs_base_is_the_exact_two_sided_test(hits, n, base):
    result = inf.binomial_vs_base(hits, n, base)
    assert result.p_value == pytest.approx(_two_sided_binomial(hits, n, base), rel=1e-9)
    assert (result.lo, result.hi) == pytest.approx(wilson_interval(hits, n))
    assert result.rate == hits / n


@pytest.mark.parametrize(
    ("hits", "n", "base"), [(5_210, 10_000, 0.5), (391, 1_000, 0.41), (0, 2_000, 0.001), (1, 1, 0.5)]
)
def test_binomial_vs_base_agrees_with_scipy_at_large_counts(hits, n, base):
    from scipy.stats import binomtest

    expected = binomtest(hits, n, base, alternative="two-sided").pvalue
    assert inf.binomial_vs_base(hits, n, base).p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_binomial_vs_base_without_signals_or_base_rate():
    assert math.isnan(inf.binomial_vs_base(0, 0, 0.5).p_value)
    assert math.isnan(inf.binomial_vs_base(3, 5, 1.0).p_value)


# ------------------------------------------------------------------------------------------------ placebo


def test_placebo_replays_the_documented_draws():
    pool_values = np.array([0.0, 1.0, 2.0, 10.0, 20.0, 5.0])
    pool_dates = np.array([1, 1, 1, 2, 2, 3])
    values, dates = np.array([2.0, 20.0, 20.0]), np.array([1, 2, 2])
    result = inf.placebo_test(values, dates, pool_values, pool_dates, np.random.default_rng(4), draws=9)
    u = np.random.default_rng(4).random((9, 3))
    # Per pick: its date's pool, ordered as given; an index floor(u × size) into it.
    pools = {1: [0.0, 1.0, 2.0], 2: [10.0, 20.0], 3: [5.0]}
    means = [np.mean([pools[d][int(u[r, i] * len(pools[d]))] for i, d in enumerate(dates)]) for r in range(9)]
    observed = 14.0
    assert result.observed == pytest.approx(observed)
    assert result.p_value == pytest.approx((1 + sum(m >= observed for m in means)) / 10)
    assert result.placebo_mean == pytest.approx(np.mean(means))


def test_placebo_ranks_a_skilled_source_first_and_a_random_one_in_the_middle():
    rng = np.random.default_rng(0)
    pool_dates = np.repeat(np.arange(50), 20)
    pool_values = rng.normal(0, 1, len(pool_dates))
    # The two best of each date's twenty.
    best = np.concatenate([np.flatnonzero(pool_dates == d)[np.argsort(-pool_values[pool_dates == d])[:2]]
                           for d in range(50)])  # fmt: skip
    skilled = inf.placebo_test(pool_values[best], pool_dates[best], pool_values, pool_dates, rng, draws=199)
    assert skilled.p_value == pytest.approx(1 / 200)
    random_pick = rng.choice(len(pool_dates), 100, replace=False)
    luck = inf.placebo_test(pool_values[random_pick], pool_dates[random_pick], pool_values, pool_dates, rng)
    assert 0.02 < luck.p_value < 0.98
    with pytest.raises(ValueError, match="without a pool"):
        inf.placebo_test([1.0], [99], pool_values, pool_dates, rng)


# ------------------------------------------------------------------------------------- how much evidence


def test_evidence_needed_hand_worked_and_against_statsmodels_power():
    from statsmodels.stats.power import NormalIndPower

    result = inf.evidence_needed(0.01, 0.05, 100, design_effect=2.0, alpha=0.05, power=0.8, signals_per_session=5)
    # (1.959964 + 0.841621)² × (0.05 / 0.01)² × 2 = 7.848879 × 25 × 2 = 392.44 → 393 signals.
    assert result is not None and result.n_needed == 393
    assert result.more_signals == 293 and result.more_sessions == pytest.approx(58.6)
    one_sample = NormalIndPower().solve_power(effect_size=0.2, alpha=0.05, power=0.8, ratio=0)
    assert result.n_needed / 2 == pytest.approx(one_sample, rel=0.01)


def test_evidence_needed_is_none_without_an_effect_or_once_settled():
    assert inf.evidence_needed(0.0, 0.05, 10) is None
    assert inf.evidence_needed(0.01, 0.05, 10, settled=True) is None
    assert inf.evidence_needed(float("nan"), 0.05, 10) is None
    enough = inf.evidence_needed(-0.05, 0.05, 1000)
    assert enough is not None and enough.more_signals == 0 and enough.more_sessions is None


# ----------------------------------------------------------------------------------------------- stability


def test_rolling_mean_matches_a_loop_over_sessions():
    rng = np.random.default_rng(2)
    dates = rng.integers(0, 200, 300)
    values = rng.normal(0, 1, 300)
    values[::17] = np.nan
    result = inf.rolling_mean(dates, values, window=60)
    for t, mean, n in zip(result.dates, result.mean, result.n, strict=True):
        inside = (dates > t - 60) & (dates <= t) & ~np.isnan(values)
        assert n == inside.sum() and mean == pytest.approx(values[inside].mean())
    assert list(result.dates) == sorted(set(dates[~np.isnan(values)]))


def _page_cusum(z, k, h):
    s = 0.0
    for i, value in enumerate(z):
        s = max(0.0, s - value - k)
        if s > h:
            return i, s
    return None


def test_cusum_alarm_matches_pages_recursion_after_the_edge_breaks():
    rng = np.random.default_rng(9)
    values = np.concatenate([rng.normal(1.0, 1.0, 80), rng.normal(-0.5, 1.0, 80)])
    dates = np.arange(160)
    alarm = inf.cusum_drop(dates, values, warmup=30)
    mu0, sigma = values[:30].mean(), values[:30].std(ddof=1)
    i, stat = _page_cusum((values[30:] - mu0) / sigma, mu0 / (2 * sigma), 5.0)
    assert alarm is not None and alarm.position == 30 + i and alarm.date == 30 + i
    assert alarm.statistic == pytest.approx(stat) and alarm.mu0 == pytest.approx(mu0)
    assert alarm.position >= 80  # raised after the break, not before


def test_cusum_quiet_while_the_edge_holds_and_none_without_an_edge():
    rng = np.random.default_rng(1)
    steady = 1.0 + rng.normal(0, 0.1, 300)
    assert inf.cusum_drop(np.arange(300), steady) is None
    assert inf.cusum_drop(np.arange(300), steady - 2.0) is None  # μ₀ ≤ 0: no edge to lose
    assert inf.cusum_drop(np.arange(10), steady[:10]) is None  # not past the warm-up


def test_cusum_hand_worked():
    # μ₀ = 1, σ = 1, k = 0.5, h = 2: steps −(x − 1) − 0.5 for x = 1, 0, −1 are −0.5, 0.5, 1.5 → S = 0, 0.5, 2.0;
    # then x = −1 again: 3.5 > 2 at the fourth monitored signal.
    alarm = inf.cusum_drop([0, 1, 2, 3], [1.0, 0.0, -1.0, -1.0], warmup=0, mu0=1.0, sigma=1.0, h=2.0)
    assert alarm is not None and alarm.position == 3 and alarm.statistic == pytest.approx(3.5)


# ----------------------------------------------------------------------------------------- OLS with HAC


def test_ols_hac_matches_statsmodels():
    from statsmodels.regression.linear_model import OLS

    rng = np.random.default_rng(4)
    x = rng.normal(0, 0.01, 300)
    noise = np.convolve(rng.normal(0, 0.01, 305), np.ones(5) / 5, mode="valid")[:300]
    y = 0.0005 + 1.3 * x + noise
    design = np.column_stack([np.ones(300), x])
    fit = inf.ols_hac(y, design, 7)
    reference = OLS(y, design).fit(cov_type="HAC", cov_kwds={"maxlags": 7})
    assert fit is not None and fit.maxlags == 7 and fit.n_obs == 300
    np.testing.assert_allclose(fit.params, reference.params, rtol=1e-10)
    np.testing.assert_allclose(fit.se, reference.bse, rtol=1e-10)
    np.testing.assert_allclose(fit.p, reference.pvalues, rtol=1e-8)


def test_newey_west_lags_rule():
    assert inf.newey_west_lags(100) == 4
    assert inf.newey_west_lags(1000) == math.floor(4 * 10 ** (2 / 9))  # 6
    assert inf.ols_hac([1.0, 2.0], np.ones((2, 2)), 1) is None  # singular


def test_cusum_needs_an_established_edge_before_it_can_say_the_edge_dropped():
    # A warm-up whose mean is positive only by noise (t ≈ 1.8 < 2), then a run of losses: nothing was lost.
    warm = [0.1, -0.05] * 15
    values = np.array(warm + [-0.05] * 60)
    dates = np.arange(len(values))
    assert inf.cusum_drop(dates, values) is None
    # The same run after a warm-up that does establish an edge raises the alarm.
    strong = np.array([0.1, 0.0] * 15 + [-0.05] * 60)
    assert inf.cusum_drop(dates, strong) is not None


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["2026-03-04", "2026-03-02", "2026-03-04", "2026-03-03"], dtype=object),
        np.array([7, 3, 3, 11, 7]),
        np.array(["2026-03-04", "2026-03-02", "2026-03-04"], dtype="datetime64[D]"),
        np.array([], dtype=object),
    ],
)
def test_date_codes_match_numpys_sorted_distinct_labels_and_inverse(labels):
    distinct, codes = inf.date_codes(labels)
    expected_distinct, expected_codes = np.unique(labels, return_inverse=True)
    assert list(distinct) == list(expected_distinct) and list(codes) == list(expected_codes)
