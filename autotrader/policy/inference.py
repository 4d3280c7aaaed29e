"""Dependence-robust inference for a recommendation source's results. Pure: numpy in, floats and frozen
dataclasses out; randomness only from the ``numpy.random.Generator`` passed in; scipy is imported inside the
one function that needs it, so importing this module stays cheap.

Signals cluster on the same entry dates and, at horizons longer than a session, overlap (a symbol picked on
consecutive days shares most of its holding window with itself), so an i.i.d. bootstrap over signals is too
narrow. Everything here treats the **entry date** as the unit that is resampled or monitored.

Usage (``values`` = one number per signal, e.g. its side-adjusted cumulative abnormal return at horizon h;
``dates`` = its entry session, any sortable labels)::

    from autotrader.policy import inference as inf
    rng = np.random.default_rng(seed)
    block = inf.block_length(h, len(np.unique(dates)))
    row = inf.block_bootstrap_mean(values, dates, rng, block=block)  # mean, 95% interval, robust se, p, deff
    q = inf.bh_qvalues([r.p_value for r in rows])                    # one q per row, all rows and horizons
    hits = inf.binomial_vs_base(n_hits, n, base_rate)                # hit rate vs its universe's base rate
    plc = inf.placebo_test(values, dates, pool_values, pool_dates, rng, draws=200)
    more = inf.evidence_needed(row.mean, row.iid_sd, row.n, design_effect=row.design_effect,
                               alpha=fdr, signals_per_session=rate)  # None when nothing to say
    roll = inf.rolling_mean(dates, values, window=60)
    alarm = inf.cusum_drop(dates, values)                            # None, or the first alarm
    fit = inf.ols_hac(y, X, maxlags)                                 # OLS with Newey-West standard errors

Each function's docstring states its exact definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from autotrader.policy.metrics import normal_quantile, wilson_interval

__all__ = [
    "BinomialTest",
    "CusumAlarm",
    "Evidence",
    "HacFit",
    "MeanInference",
    "Placebo",
    "Rolling",
    "bh_qvalues",
    "binomial_vs_base",
    "block_bootstrap_mean",
    "block_bootstrap_means",
    "block_length",
    "block_starts",
    "cusum_drop",
    "evidence_needed",
    "newey_west_lags",
    "normal_two_sided_p",
    "ols_hac",
    "placebo_test",
    "rolling_mean",
    "small_sample_widening",
]

NAN = float("nan")

#: Upper bound on the elements of one block of resampling work (bounded memory whatever the sample size).
CHUNK_ELEMENTS = 1 << 22


def normal_two_sided_p(z: float) -> float:
    """2 (1 − Φ(|z|)) via the complementary error function (accurate far in the tail); NaN for NaN."""
    if not math.isfinite(z):
        return NAN if math.isnan(z) else 0.0
    return math.erfc(abs(z) / math.sqrt(2.0))


def _present(dates: ArrayLike, values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(dates, values)`` as 1-D arrays without the signals whose value is NaN."""
    t = np.asarray(dates).ravel()
    x = np.asarray(values, dtype=np.float64).ravel()
    if t.shape != x.shape:
        raise ValueError(f"dates and values differ in length: {t.shape[0]} != {x.shape[0]}")
    keep = ~np.isnan(x)
    return t[keep], x[keep]


def _in_entry_order(dates: ArrayLike, values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_present`, sorted by date (ties keep the input order)."""
    t, x = _present(dates, values)
    order = np.argsort(t, kind="stable")
    return t[order], x[order]


# ------------------------------------------------------------------------------------- date-block bootstrap


@dataclass(frozen=True)
class MeanInference:
    """The mean of per-signal values with a date-block bootstrap interval (see :func:`block_bootstrap_mean`)."""

    mean: float
    lo: float  # percentile interval at ``level`` of the widened draws
    hi: float
    se: float  # robust standard error: the standard deviation (ddof=1) of the bootstrap means
    p_value: float  # two-sided, for mean = 0, from the bootstrap distribution
    n: int  # signals with a value
    n_dates: int  # distinct entry dates among them
    block: int  # block length in distinct entry dates
    blocks: int  # blocks per resample, ⌈n_dates / block⌉
    widening: float  # small-sample factor applied to the draws' spread (see :func:`small_sample_widening`)
    resamples: int
    level: float
    iid_sd: float  # standard deviation (ddof=1) of the values, one per signal
    iid_se: float  # iid_sd / √n, the standard error if every signal were independent
    design_effect: float  # se² / iid_se²: how many times the variance dependence inflates
    effective_n: float  # n / design_effect: the number of independent signals the sample is worth


def block_length(horizon: int, n_dates: int) -> int:
    """The recommended block length, in distinct entry dates: ``max(h, min(3h, ⌊D/10⌋))``.

    Signals whose h-session windows overlap are dependent, so a block must span at least h dates. A block of
    exactly h still misses part of that dependence (the blocks' variance of the mean falls short by about a
    third for overlapping windows), so three horizons are used when the sample holds at least ten such
    blocks; fewer blocks make the interval itself noisy, so the length then shrinks back toward h.
    """
    h = max(1, int(horizon))
    return max(h, min(3 * h, int(n_dates) // 10))


def block_starts(n_dates: int, block: int, resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The draws of a circular moving-block bootstrap over ``n_dates`` ordered dates: ``(starts, lengths)``.

    One resample is ``k = ⌈D / L⌉`` blocks (L = ``block`` clipped to ``1..D``). ``starts`` is
    ``rng.integers(0, D, size=(resamples, k))``; block j of a resample covers the ``lengths[j]`` consecutive
    dates from its start, wrapping from the last date to the first. Every block is L long except the last,
    which covers ``D − (k−1)L`` dates, so every resample holds exactly D dates.
    """
    if n_dates < 1 or resamples < 1:
        raise ValueError(f"need n_dates >= 1 and resamples >= 1, got {n_dates}, {resamples}")
    length = min(max(1, int(block)), n_dates)
    k = -(-n_dates // length)
    starts = rng.integers(0, n_dates, size=(resamples, k))
    lengths = np.full(k, length)
    lengths[-1] = n_dates - (k - 1) * length
    return starts, lengths


def date_codes(dates: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct, codes)``: the distinct labels sorted, and each label's index among them (as
    ``np.unique(..., return_inverse=True)``). Hashing the labels and sorting only the distinct ones is an order
    of magnitude faster than sorting every label when they are strings, as the ledger's session dates are."""
    labels = np.asarray(dates).ravel()
    import pandas as pd

    codes, distinct = pd.factorize(labels, sort=True)
    if len(codes) and codes.min() < 0:  # a missing label: let numpy's ordering (or its error) decide
        distinct, codes = np.unique(labels, return_inverse=True)
    return np.asarray(distinct), np.asarray(codes, dtype=np.intp)


def _date_sums(values: np.ndarray, dates: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct date (sorted): the sums of ``values`` (n, m) ignoring NaN, and the counts of non-NaN."""
    labels = np.asarray(dates).ravel()
    if labels.shape[0] != values.shape[0]:
        raise ValueError(f"values and dates differ in length: {values.shape[0]} != {labels.shape[0]}")
    distinct, group = date_codes(labels)
    if len(distinct) == 0:
        return np.zeros((0, values.shape[1])), np.zeros((0, values.shape[1]))
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    size, width = len(distinct), values.shape[1]
    sums = np.column_stack([np.bincount(group, weights=filled[:, j], minlength=size) for j in range(width)])
    counts = np.column_stack([np.bincount(group, weights=present[:, j], minlength=size) for j in range(width)])
    return sums, counts


def block_bootstrap_means(
    values: ArrayLike, dates: ArrayLike, rng: np.random.Generator, *, block: int, resamples: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """Column means of ``values`` (n signals × m columns, NaN = no value) and their date-block bootstrap draws.

    The distinct dates are sorted; each resample is a set of blocks of consecutive dates (:func:`block_starts`),
    and a column's resampled mean is ``Σ_d w_d S_d / Σ_d w_d N_d`` with w_d how many times the resample holds
    date d and S_d, N_d that date's sum and count of values in the column: every date carries all its signals.
    Dates without a value in any column are dropped first.
    Returns ``(means (m,), draws (resamples, m))``; a draw whose resample has no value in a column is NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x.reshape(len(x), -1)
    labels = np.asarray(dates).ravel()
    keep = ~np.all(np.isnan(x), axis=1)
    sums, counts = _date_sums(x, labels) if keep.all() else _date_sums(x[keep], labels[keep])
    if sums.shape[0] == 0:
        return np.full(x.shape[1], NAN), np.full((resamples, x.shape[1]), NAN)
    total = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(total > 0, sums.sum(axis=0) / np.where(total > 0, total, 1.0), NAN)
    numerator, denominator = _resampled_totals(sums, counts, *block_starts(len(sums), block, resamples, rng))
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), NAN)
    return means, draws


def _resampled_totals(
    sums: np.ndarray, counts: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per resample and column, the total of ``sums`` and of ``counts`` (D, m) over its blocks.

    A block's total is a difference of prefix sums over the dates laid out twice (so a block that wraps
    past the last date is one difference too): O(resamples × k × m) work, never a (resamples × D) matrix.
    """
    n_dates, width = sums.shape
    both = np.concatenate([sums, counts], axis=1)
    # Column-major, so each column's prefix is contiguous and ``np.take`` on it is a plain 1-D gather.
    prefix = np.asfortranarray(np.concatenate([np.zeros((1, 2 * width)), np.cumsum(np.vstack([both, both]), axis=0)]))
    resamples, k = starts.shape
    out = np.empty((resamples, 2 * width))
    rows = max(1, CHUNK_ELEMENTS // k)
    for first in range(0, resamples, rows):
        begin = starts[first : first + rows]
        end = begin + lengths
        for column in range(2 * width):
            line = prefix[:, column]
            out[first : first + rows, column] = (np.take(line, end) - np.take(line, begin)).sum(axis=1)
    return out[:, :width], out[:, width:]


def _bootstrap_p(draws: np.ndarray) -> float:
    """Two-sided p for "the mean is 0" by inverting the percentile interval: the smallest α whose interval
    excludes 0, ``min(1, 2 · min(1 + #{θ* ≤ 0}, 1 + #{θ* ≥ 0}) / (B + 1))``."""
    b = len(draws)
    below, above = int(np.sum(draws <= 0.0)), int(np.sum(draws >= 0.0))
    return min(1.0, 2.0 * (1 + min(below, above)) / (b + 1))


def small_sample_widening(blocks: int, level: float = 0.95) -> float:
    """``t_{G−1}((1 + level)/2) / z((1 + level)/2)`` for G resampled blocks: the factor by which a bootstrap
    interval from G blocks is widened, as a cluster-robust interval uses a t with G − 1 degrees of freedom.

    With few blocks the bootstrap's spread is itself a noisy estimate of the true one; this is the usual
    finite-sample correction for it (1.08 at 17 blocks, 1.42 at 5, → 1 as the sample grows). NaN below 2.
    """
    if blocks < 2:
        return NAN
    from scipy.special import stdtrit

    tail = 0.5 + level / 2
    return float(stdtrit(blocks - 1, tail)) / normal_quantile(tail)


def block_bootstrap_mean(
    values: ArrayLike,
    dates: ArrayLike,
    rng: np.random.Generator,
    *,
    block: int,
    resamples: int = 2000,
    level: float = 0.95,
) -> MeanInference:
    """The mean of ``values`` (NaN ignored) with a circular moving-block bootstrap over entry dates.

    ``dates`` labels each value's entry session (ints, datetimes, strings: anything sortable). The distinct
    dates are sorted and resampled in blocks of L = ``block`` consecutive distinct dates (at least the horizon
    in sessions, so signals whose holding windows overlap can land in the same block: :func:`block_length`),
    each date carrying all its signals (:func:`block_bootstrap_means`). With θ* the ``resamples`` bootstrap
    means, G = ⌈D/L⌉ the blocks per resample and f = :func:`small_sample_widening` (G):

    - ``se``: std(θ*, ddof=1), the robust standard error;
    - ``lo, hi``: the (1 − level)/2 and (1 + level)/2 quantiles (numpy's linear interpolation) of the widened
      draws θ̂ + f (θ* − θ̂), so a sample of few blocks gets the wider interval it deserves;
    - ``p_value``: :func:`_bootstrap_p` of the widened draws (below 1 − level exactly when 0 is outside the
      interval, up to the 1/(B + 1) resolution);
    - ``design_effect`` = se² / (s²/n), s the values' sample std (ddof=1); ``effective_n`` = n / design_effect.

    Fewer than two values, or fewer than two blocks (G < 2: every resample would hold every date once, a
    spread of zero): every statistic but ``mean`` and ``iid_sd`` is NaN.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    labels, x = _present(dates, values)
    n, n_dates = len(x), len(date_codes(labels)[0])
    iid_sd = float(x.std(ddof=1)) if n >= 2 else NAN
    mean = float(x.mean()) if n else NAN
    length = min(max(1, int(block)), max(1, n_dates))
    blocks = -(-n_dates // length)
    if n < 2 or blocks < 2:
        return MeanInference(mean, NAN, NAN, NAN, NAN, n, n_dates, length, blocks, NAN, resamples, level, iid_sd,
                             NAN, NAN, NAN)  # fmt: skip
    _, draws = block_bootstrap_means(x, labels, rng, block=length, resamples=resamples)
    theta = draws[:, 0]
    widening = small_sample_widening(blocks, level)
    widened = mean + widening * (theta - mean)
    lo, hi = np.quantile(widened, [(1.0 - level) / 2, (1.0 + level) / 2])
    se = float(theta.std(ddof=1))
    iid_se = iid_sd / math.sqrt(n)
    deff = se**2 / iid_se**2 if iid_se > 0 else NAN
    effective = n / deff if deff > 0 else NAN
    return MeanInference(
        mean, float(lo), float(hi), se, _bootstrap_p(widened), n, n_dates, length, blocks, widening, resamples,
        level, iid_sd, iid_se, deff, effective,
    )  # fmt: skip


# --------------------------------------------------------------------------------------- multiple testing


def bh_qvalues(p_values: ArrayLike) -> np.ndarray:
    """Benjamini–Hochberg q-values: with the m finite p-values sorted ascending p₍₁₎ ≤ … ≤ p₍ₘ₎,

        q₍ᵢ₎ = min(1, min_{j ≥ i} p₍ⱼ₎ · m / j)

    returned in the input order. NaN p-values stay NaN and do not count in m. Rejecting every row with
    q ≤ Q controls the false discovery rate at Q (independent or positively dependent tests).
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    q = np.full(p.shape, NAN)
    finite = np.flatnonzero(~np.isnan(p))
    m = len(finite)
    if m == 0:
        return q
    order = np.argsort(p[finite], kind="stable")
    scaled = p[finite][order] * m / np.arange(1, m + 1)
    q[finite[order]] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return q


# --------------------------------------------------------------------------------------- hits vs base rate


@dataclass(frozen=True)
class BinomialTest:
    hits: int
    n: int
    rate: float  # hits / n
    base_rate: float
    p_value: float  # exact two-sided binomial test of rate = base_rate
    lo: float  # Wilson interval of the rate at ``level``
    hi: float
    level: float


def binomial_vs_base(hits: int, n: int, base_rate: float, *, level: float = 0.95) -> BinomialTest:
    """Exact two-sided binomial test of ``hits`` in ``n`` against ``base_rate`` (the definition scipy's
    ``binomtest`` uses: the p-value sums the probabilities of every count no more likely than the one
    observed, with a relative slack of 1e-7 for ties), with the Wilson interval of the rate. n = 0 or a base
    rate outside (0, 1) gives a NaN p-value."""
    lo, hi = wilson_interval(hits, n, normal_quantile(0.5 + level / 2))
    if n == 0 or not 0.0 < base_rate < 1.0:
        return BinomialTest(hits, n, hits / n if n else NAN, base_rate, NAN, lo, hi, level)
    log_pmf = _binomial_log_pmf(int(n), float(base_rate))
    # Summing in probability space from the least likely counts up; each term is exact to rounding.
    pmf = np.exp(log_pmf)
    p = float(min(1.0, np.sort(pmf[log_pmf <= log_pmf[int(hits)] + math.log1p(1e-7)]).sum()))
    return BinomialTest(hits, n, hits / n, base_rate, p, lo, hi, level)


def _binomial_log_pmf(n: int, p: float) -> np.ndarray:
    """log P(K = k) for k = 0 … n under Binomial(n, p). scipy.special, not scipy.stats: the scorecard needs
    one distribution, and importing scipy.stats costs the command about 0.6 s."""
    from scipy.special import gammaln

    k = np.arange(n + 1, dtype=np.float64)
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0) + k * math.log(p) + (n - k) * math.log1p(-p)


# ------------------------------------------------------------------------------------------------ placebo


@dataclass(frozen=True)
class Placebo:
    observed: float  # the source's mean value
    p_value: float  # (1 + #{placebo ≥ observed}) / (draws + 1)
    draws: int
    placebo_mean: float  # mean of the placebo portfolios' means
    placebo_sd: float  # their standard deviation (ddof=1)


def placebo_test(
    values: ArrayLike,
    dates: ArrayLike,
    pool_values: ArrayLike,
    pool_dates: ArrayLike,
    rng: np.random.Generator,
    *,
    draws: int = 200,
) -> Placebo:
    """Where the source's mean ranks among ``draws`` random-pick portfolios with its own dates and counts.

    The source has picked n_d signals on entry date d (``values``, ``dates``; NaN values dropped). One placebo
    portfolio draws, for every d, n_d values uniformly **with replacement** from that date's pool (the
    universe's values on d: ``pool_values``/``pool_dates``, NaN dropped) and takes the mean of all its picks.
    Drawing with replacement keeps this one vectorised gather; against a pool much larger than the picks it is
    indistinguishable from drawing without. The one-sided empirical p-value is
    ``(1 + #{placebo mean ≥ observed mean}) / (draws + 1)`` (values are side-adjusted, so higher is better).
    A pick date with no pool is a ``ValueError``; no picks gives NaN.
    """
    labels, x = _present(dates, values)
    pool_labels, pool = _present(pool_dates, pool_values)
    if len(x) == 0:
        return Placebo(NAN, NAN, draws, NAN, NAN)
    distinct, codes = date_codes(pool_labels)
    pool = pool[np.argsort(codes, kind="stable")]
    sizes = np.bincount(codes, minlength=len(distinct))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    where = np.searchsorted(distinct, labels)
    found = where < len(distinct)
    found[found] = distinct[where[found]] == labels[found]
    if not found.all():
        raise ValueError(f"{int((~found).sum())} pick(s) on a date without a pool, e.g. {labels[~found][0]!r}")
    start, size = starts[where], sizes[where].astype(np.float64)
    observed = float(x.mean())
    means = np.empty(draws)
    rows = max(1, CHUNK_ELEMENTS // len(x))
    for first in range(0, draws, rows):
        count = min(rows, draws - first)
        position = rng.random((count, len(x)))
        position *= size  # in place: this is the hot loop
        index = position.astype(np.int64)  # ⌊u · size⌋, u ∈ [0, 1)
        index += start
        means[first : first + count] = np.take(pool, index).mean(axis=1)
    p = (1 + int(np.sum(means >= observed))) / (draws + 1)
    sd = float(means.std(ddof=1)) if draws > 1 else NAN
    return Placebo(observed, p, draws, float(means.mean()), sd)


# ------------------------------------------------------------------------------------- how much evidence


@dataclass(frozen=True)
class Evidence:
    n_needed: int  # signals a test at this effect size and dispersion would need in total
    more_signals: int  # max(0, n_needed − n)
    more_sessions: float | None  # more_signals / signals per session; None without a rate


def evidence_needed(
    mean: float,
    sd: float,
    n: int,
    *,
    design_effect: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
    signals_per_session: float | None = None,
    settled: bool = False,
) -> Evidence | None:
    """About how many signals would settle "the mean is 0" at the current effect size.

        n_needed = ⌈ deff · ((z_{1−α/2} + z_{power}) · sd / |mean|)² ⌉

    the sample size at which a two-sided z-test at level α rejects with probability ``power`` when the true
    mean is ``mean`` and one signal's standard deviation is ``sd`` (the i.i.d. one), inflated by the design
    effect of the signals' dependence (robust variance / i.i.d. variance, so the count is in signals as they
    actually arrive). ``more_sessions`` converts the remainder at ``signals_per_session``. None when the row is
    ``settled``, or the mean is 0 or any input is not finite/positive: there is no effect size to plan for.
    For a false-discovery-controlled verdict pass the FDR level as ``alpha`` (approximate: BH's per-row
    threshold depends on the other rows).
    """
    deff = design_effect if math.isfinite(design_effect) and design_effect > 0 else NAN
    if settled or not (math.isfinite(mean) and mean != 0 and math.isfinite(sd) and sd > 0 and deff > 0):
        return None
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha}, {power}")
    z = normal_quantile(1 - alpha / 2) + normal_quantile(power)
    needed = math.ceil(deff * (z * sd / abs(mean)) ** 2)
    more = max(0, needed - int(n))
    sessions = more / signals_per_session if signals_per_session and signals_per_session > 0 else None
    return Evidence(needed, more, sessions)


# ----------------------------------------------------------------------------------------------- stability


@dataclass(frozen=True)
class Rolling:
    dates: np.ndarray  # each distinct entry date, ascending
    mean: np.ndarray  # mean value of the signals entered in the window ending at that date
    n: np.ndarray  # how many signals that window holds


def rolling_mean(dates: ArrayLike, values: ArrayLike, *, window: int = 60) -> Rolling:
    """Trailing-window mean by entry session: for each distinct entry session t (integer session indices),
    the mean of the values of signals entered in sessions ``t − window + 1 … t`` (NaN values dropped)."""
    t, x = _in_entry_order(dates, values)
    cumulative = np.concatenate(([0.0], np.cumsum(x)))
    distinct = np.unique(t)
    hi = np.searchsorted(t, distinct, side="right")
    lo = np.searchsorted(t, distinct - window, side="right")
    counts = hi - lo
    return Rolling(distinct, (cumulative[hi] - cumulative[lo]) / counts, counts)


@dataclass(frozen=True)
class CusumAlarm:
    date: object  # entry date of the signal at which the statistic first crossed h
    position: int  # that signal's position in entry order (0-based, warm-up included)
    statistic: float
    mu0: float  # in-control mean and standard deviation (from the warm-up unless given)
    sigma: float
    k: float
    h: float


def cusum_drop(
    dates: ArrayLike,
    values: ArrayLike,
    *,
    warmup: int = 30,
    h: float = 5.0,
    k: float | None = None,
    mu0: float | None = None,
    sigma: float | None = None,
    min_t: float = 2.0,
) -> CusumAlarm | None:
    """A one-sided Page CUSUM that raises an alarm when a source's mean value drops to zero or below.

    Signals are taken in entry order (ties: input order), NaN values dropped. The in-control mean μ₀ and
    standard deviation σ (ddof=1) come from the first ``warmup`` signals unless given; monitoring starts
    after them. With zᵢ = (xᵢ − μ₀)/σ and the reference value k (default μ₀/(2σ), half the standardised
    distance from μ₀ to 0, the shift the chart is tuned to detect):

        S₀ = 0,   Sᵢ = max(0, Sᵢ₋₁ − zᵢ − k)

    and the alarm is the first signal with Sᵢ > h (default 5 standard deviations: for k = 0.5 that is about
    a false alarm per ~900 in-control signals, and ~10 signals to detect a drop of one σ). None when there is
    no alarm, no in-control edge to lose, σ is not positive, or too few signals. When μ₀ and σ come from the
    warm-up, the edge must be established there (its t-statistic √warmup·μ₀/σ at least ``min_t``): a source
    with no skill has a positive warm-up mean half the time, and an alarm that its "edge" dropped would be
    a false claim.
    """
    t, x = _in_entry_order(dates, values)
    if len(x) <= warmup or (warmup < 2 and (mu0 is None or sigma is None)):
        return None
    m0 = float(x[:warmup].mean()) if mu0 is None else float(mu0)
    s0 = float(x[:warmup].std(ddof=1)) if sigma is None else float(sigma)
    if not (m0 > 0 and s0 > 0):
        return None
    if mu0 is None and m0 * np.sqrt(warmup) / s0 < min_t:
        return None
    ref = m0 / (2 * s0) if k is None else float(k)
    step = -(x[warmup:] - m0) / s0 - ref
    # Lindley's recursion in closed form: Sᵢ = Cᵢ − min(0, C₁ … Cᵢ) with C the running sum of the steps.
    running = np.cumsum(step)
    stat = running - np.minimum(0.0, np.minimum.accumulate(running))
    crossed = np.flatnonzero(stat > h)
    if len(crossed) == 0:
        return None
    i = int(crossed[0])
    label = t[warmup + i]
    return CusumAlarm(label.item() if isinstance(label, np.generic) else label, warmup + i, float(stat[i]), m0, s0,
                      ref, h)  # fmt: skip


# ----------------------------------------------------------------------------------- OLS with HAC errors


def newey_west_lags(n_obs: int) -> int:
    """The Newey–West (1994) rule of thumb ``⌊4 (T/100)^(2/9)⌋`` for the Bartlett kernel's lag truncation."""
    return int(math.floor(4 * (n_obs / 100.0) ** (2.0 / 9.0))) if n_obs > 0 else 0


@dataclass(frozen=True)
class HacFit:
    params: tuple[float, ...]
    se: tuple[float, ...]  # Newey–West (Bartlett kernel) standard errors, no small-sample correction
    t: tuple[float, ...]
    p: tuple[float, ...]  # two-sided, normal reference distribution
    n_obs: int
    maxlags: int


def ols_hac(y: ArrayLike, x: ArrayLike, maxlags: int) -> HacFit | None:
    """OLS of ``y`` on the columns of ``x`` (include a constant column yourself) with Newey–West errors.

    β̂ = (X'X)⁻¹X'y, uₜ = yₜ − xₜβ̂, gₜ = xₜuₜ, and with Bartlett weights w_ℓ = 1 − ℓ/(L + 1):

        S = Σₜ gₜgₜ' + Σ_{ℓ=1..L} w_ℓ Σₜ (gₜgₜ₋ℓ' + gₜ₋ℓgₜ'),   V = (X'X)⁻¹ S (X'X)⁻¹

    se = √diag V; t = β̂/se; p = 2(1 − Φ(|t|)). This is statsmodels' ``OLS.fit(cov_type="HAC",
    cov_kwds={"maxlags": L})`` (no small-sample correction, normal p-values). Rows with any NaN are dropped;
    None when fewer rows remain than columns + 1 or X'X is singular.
    """
    yv = np.asarray(y, dtype=np.float64).ravel()
    xm = np.asarray(x, dtype=np.float64).reshape(len(yv), -1)
    keep = ~(np.isnan(yv) | np.isnan(xm).any(axis=1))
    yv, xm = yv[keep], xm[keep]
    n, k = xm.shape
    if n < k + 1:
        return None
    xtx = xm.T @ xm
    if np.linalg.matrix_rank(xtx) < k:
        return None
    inverse = np.linalg.inv(xtx)
    beta = inverse @ (xm.T @ yv)
    g = xm * (yv - xm @ beta)[:, None]
    lags = max(0, min(int(maxlags), n - 1))
    s = g.T @ g
    for lag in range(1, lags + 1):
        cross = g[lag:].T @ g[:-lag]
        s += (1.0 - lag / (lags + 1.0)) * (cross + cross.T)
    se = np.sqrt(np.diag(inverse @ s @ inverse))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
    p = tuple(normal_two_sided_p(float(v)) for v in t)
    return HacFit(tuple(map(float, beta)), tuple(map(float, se)), tuple(map(float, t)), p, n, lags)
