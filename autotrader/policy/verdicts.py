"""The scorecard's per-row inference and verdicts: abnormal returns with dependence-robust intervals, the beat
rate against its base rate, false discovery control across the report, and how much more evidence a row
needs. Pure: numpy/pandas in, JSON-ready dicts out; randomness only from the generator passed in.

Definitions (per row and horizon h; "values" are the complete outcomes' side-adjusted cumulative abnormal
log returns under each symbol's market model, ``outcomes.abnormal``)
--------------------------------------------------------------------------------------------------------
- ``abnormal_return_mean`` / ``_ci`` / ``_p``: the mean of the values, the 95% interval and two-sided p of a
  circular moving-block bootstrap over entry sessions (``inference.block_bootstrap_mean``; blocks of
  ``inference.block_length(h, distinct entry sessions)`` sessions, never shorter than h), so signals entered
  on the same or neighbouring sessions, whose windows overlap, are resampled together.
- ``abnormal_return_q``: Benjamini–Hochberg q-value of that p among every row's and horizon's p in the
  report (``inference.bh_qvalues``); the report's ``hypotheses`` is how many p-values that step covered.
- ``beat_rate``: the share of values > 0 (the signal beat its market-model benchmark), Wilson 95% interval.
- ``base_rate``: what beating looks like without skill, from the same report: for each of the row's values,
  the share of values > 0 among *all* the report's signals of the same category entered on the same session
  at the same horizon (every category for a category row), averaged over the row's values. It is the row's
  date-matched peer universe; because the row's own signals are part of it, the comparison is conservative.
- ``beat_rate_p``: exact two-sided binomial test of the beats against ``base_rate`` (``binomial_vs_base``).
- ``up_rate``: the share of side-adjusted raw returns > 0 (what ``hit_rate`` has always meant).
- ``verdict`` at the row's ``primary_horizon``: n < ``min_signals`` → "too few signals: n < min"; the
  interval entirely above 0 and q < ``fdr`` → "beats SPY"; entirely below 0 and q < ``fdr`` → "trails SPY";
  otherwise "no evidence".
- ``needs_more`` (rows without a "beats"/"trails" verdict): ``{signals, sessions}``, about how many more
  signals a test at level ``fdr`` with power 0.8 needs at the row's current mean, dispersion and design
  effect (``inference.evidence_needed``; a design effect of 1 while there are too few blocks to measure
  one), at least enough to reach ``min_signals``; sessions at the row's signals per weekday session between
  its first and last entry. ``None`` when there is no effect to plan for, or the sample should already do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autotrader.policy import inference as inf

__all__ = [
    "HorizonSample",
    "Estimate",
    "date_shares",
    "horizon_figures",
    "needs_more",
    "row_primary_horizon",
    "settle",
    "verdict",
]

NAN = float("nan")
#: Power of the test the "needs ~N more" planning assumes.
POWER = 0.8


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _pair(lo: float, hi: float) -> list[float] | None:
    a, b = _num(lo), _num(hi)
    return None if a is None or b is None else [a, b]


def verdict(n: int, ci: Sequence[float] | None, min_signals: int, *, q: float | None, fdr: float) -> str:
    """The verdict rule (module docstring): sample size first, then the interval's side and the q-value."""
    if n < min_signals:
        return f"too few signals: {n} < {min_signals}"
    discovered = q is not None and q < fdr
    if discovered and ci is not None and ci[0] > 0:
        return "beats SPY"
    if discovered and ci is not None and ci[1] < 0:
        return "trails SPY"
    return "no evidence"


def date_shares(abnormal: np.ndarray, dates: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per value: the share of values > 0 among the values of the same group entered on the same date
    (NaN values neither count nor get a share)."""
    positive = np.where(np.isnan(abnormal), np.nan, (abnormal > 0).astype(np.float64))
    frame = pd.DataFrame({"group": groups, "date": dates, "positive": positive})
    shares = frame.groupby(["group", "date"], dropna=False)["positive"].transform("mean").to_numpy(np.float64)
    return np.where(np.isnan(abnormal), np.nan, shares)


@dataclass(frozen=True)
class HorizonSample:
    """The complete outcomes of one row at one horizon."""

    abnormal: np.ndarray  # side-adjusted cumulative abnormal return (NaN: none)
    dates: np.ndarray  # entry session of each
    base: np.ndarray  # each outcome's base-rate share (``date_shares`` of its pool)
    ret: np.ndarray  # side-adjusted raw return


def horizon_figures(
    sample: HorizonSample, horizon: int, rng: np.random.Generator, *, resamples: int
) -> tuple[dict[str, Any], Estimate]:
    """The row's figures at one horizon (module docstring) and the bootstrap they came from."""
    keep = ~np.isnan(sample.abnormal)
    values, dates = sample.abnormal[keep], sample.dates[keep]
    block = inf.block_length(horizon, len(pd.unique(dates)))
    mean = inf.block_bootstrap_mean(values, dates, rng, block=block, resamples=resamples)
    base = float(sample.base[keep].mean()) if keep.any() else NAN
    beats = inf.binomial_vs_base(int((values > 0).sum()), len(values), base)
    ret = sample.ret[~np.isnan(sample.ret)]
    figures = {
        "abnormal_return_mean": _num(mean.mean),
        "abnormal_return_ci": _pair(mean.lo, mean.hi),
        "abnormal_return_p": _num(mean.p_value),
        "beat_rate": _num(beats.rate),
        "beat_rate_ci": _pair(beats.lo, beats.hi) if len(values) else None,
        "base_rate": _num(base),
        "beat_rate_p": _num(beats.p_value),
        "up_rate": _num((ret > 0).mean()) if len(ret) else None,
    }
    return figures, Estimate(mean, dates)


def row_primary_horizon(categories: Sequence[str], primary_horizons: Mapping[str, int] | None, mixed: int) -> int:
    """A row whose signals all share one category is judged at that category's horizon; any other row
    (several categories, or no per-category setting) at ``mixed``."""
    distinct = set(categories)
    if primary_horizons is not None and len(distinct) == 1:
        (category,) = distinct
        return int(primary_horizons.get(category, mixed))
    return mixed


def _sessions_spanned(dates: np.ndarray) -> int:
    """Weekday sessions from the first to the last entry (holidays are not known here: an approximation)."""
    try:
        days = np.asarray(dates).astype("datetime64[D]")
    except ValueError:  # labels that are not dates: count the distinct ones
        return len(pd.unique(np.asarray(dates)))
    return int(np.busday_count(days.min(), days.max())) + 1


@dataclass(frozen=True)
class Estimate:
    """One row's bootstrap at one horizon and the entry dates it ran over."""

    mean: inf.MeanInference
    dates: np.ndarray


def needs_more(test: Estimate, min_signals: int, fdr: float) -> dict[str, int] | None:
    """``{signals, sessions}`` still needed for a verdict at the current effect (module docstring)."""
    mean = test.mean
    if mean.n < 2:
        return None
    deff = mean.design_effect if math.isfinite(mean.design_effect) and mean.design_effect > 0 else 1.0
    evidence = inf.evidence_needed(mean.mean, mean.iid_sd, mean.n, design_effect=deff, alpha=fdr, power=POWER)
    if evidence is None:
        return None
    more = max(evidence.more_signals, min_signals - mean.n)
    if more <= 0:
        return None
    rate = mean.n / _sessions_spanned(test.dates)
    return {"signals": int(more), "sessions": int(math.ceil(more / rate))}


def settle(rows: list[dict[str, Any]], tests: list[dict[str, Estimate]], *, min_signals: int, fdr: float) -> int:
    """Fills every row's ``abnormal_return_q``, ``verdict`` and ``needs_more`` (in place; ``tests[i]`` is row
    i's bootstrap per horizon) and returns how many hypotheses the Benjamini–Hochberg step covered."""
    keys = [(i, h) for i, row in enumerate(rows) for h in row["abnormal_return_p"]]
    p = np.array([_nan(rows[i]["abnormal_return_p"][h]) for i, h in keys], dtype=np.float64)
    q = inf.bh_qvalues(p)
    for row in rows:
        row["abnormal_return_q"] = {}
    for (i, h), value in zip(keys, q, strict=True):
        rows[i]["abnormal_return_q"][h] = _num(value)
    for row, by_h in zip(rows, tests, strict=True):
        h = row["primary_horizon"]
        test = by_h[h]
        row["verdict"] = verdict(
            test.mean.n, row["abnormal_return_ci"][h], min_signals, q=row["abnormal_return_q"][h], fdr=fdr
        )
        settled = row["verdict"] in ("beats SPY", "trails SPY")
        row["needs_more"] = None if settled else needs_more(test, min_signals, fdr)
    return int(np.isfinite(p).sum())


def _nan(value: float | None) -> float:
    return NAN if value is None else float(value)
