"""The options side of the scorecard: per strategy, what its closed structures made, and for those opened on
a signal, whether the options expression did better than the shares would have. Pure.

Per strategy, over its closed structures (``abandoned`` ones, never filled, are not trades):

- ``structures``, ``total_pnl`` (dollars, after commissions), ``win_rate`` with its Wilson 95 % interval;
- ``expectancy_r``: the mean result in units of the structure's maximum loss at entry (``pnl / risk``, risk =
  maximum loss per unit x units), with a 95 % interval from the moving-block bootstrap over opening sessions
  (``inference.block_bootstrap_mean``, blocks of ``block_length(BLOCK_HORIZON, sessions)``): structures opened
  on nearby sessions share the market's moves, and an interval that treated them as independent would be too
  narrow.
- For gamma positions: ``options_pnl``, the straddle's result (the puts and the base shares), and
  ``scalping_pnl``, what the hedging made (``policy.gamma``); the two add up to ``total_pnl``.
- For structures opened on a signal with a debit: ``vs_shares``, the paired difference per structure between
  the options' return on the debit paid (``pnl / debit``) and the shares' own return over the same holding
  (the underlying's close on the session the structure opened to its close on the session it closed, in the
  signal's direction), its mean with the same block-bootstrap interval, and a verdict: the options expression
  added (or cost) that much per trade when the interval excludes zero, else "no evidence either way". Fewer
  than ``MIN_PAIRS`` pairs: no interval and no verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from autotrader.policy.inference import block_bootstrap_mean, block_length
from autotrader.policy.metrics import wilson_interval

BLOCK_HORIZON = 10  # sessions a structure is typically held: the block of the bootstrap is at least this
MIN_PAIRS = 10


@dataclass(frozen=True)
class ClosedStructure:
    strategy: str
    opened: date
    pnl: float
    risk: float  # maximum loss at entry, dollars (per unit x units)
    debit: float  # dollars paid to open (negative: a credit received)
    shares_return: float | None  # the underlying's return over the holding, signed by the signal; None: no signal
    scalping: float | None = None  # dollars a gamma position's hedging made (in ``pnl``); None: not one


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def _mean_row(values: Sequence[float], dates: Sequence[date], rng: np.random.Generator, resamples: int):
    if not values:
        return None, None, None
    n_dates = len(set(dates))
    ordinals = [d.toordinal() for d in dates]
    inference = block_bootstrap_mean(values, ordinals, rng, block=block_length(BLOCK_HORIZON, n_dates),
                                     resamples=resamples)  # fmt: skip
    return _num(inference.mean), _num(inference.lo), _num(inference.hi)


def _verdict(mean: float | None, lo: float | None, hi: float | None, n: int) -> str:
    if n < MIN_PAIRS or lo is None or hi is None or mean is None:
        return f"too few pairs ({n}, {MIN_PAIRS} needed)"
    if lo > 0:
        return f"the options added {mean:+.1%} per trade over the shares ({lo:+.1%} to {hi:+.1%}, {n} trades)"
    if hi < 0:
        return f"the options cost {mean:+.1%} per trade against the shares ({lo:+.1%} to {hi:+.1%}, {n} trades)"
    return f"no evidence either way ({mean:+.1%}, {lo:+.1%} to {hi:+.1%}, {n} trades)"


def _scalping(mine: Sequence[ClosedStructure]) -> dict[str, float | None]:
    """Gamma's split of its P&L: the options' (the straddle's) and the scalping's; None for other strategies."""
    split = [c for c in mine if c.scalping is not None]
    if not split:
        return {"options_pnl": None, "scalping_pnl": None}
    scalping = sum(c.scalping or 0.0 for c in split)
    return {"options_pnl": round(sum(c.pnl for c in split) - scalping, 2), "scalping_pnl": round(scalping, 2)}


def strategy_rows(
    closed: Sequence[ClosedStructure], rng: np.random.Generator, *, resamples: int = 2000
) -> list[dict[str, object]]:
    """One row per strategy (module docstring), in strategy order."""
    rows = []
    for strategy in sorted({c.strategy for c in closed}):
        mine = [c for c in closed if c.strategy == strategy]
        wins = sum(c.pnl > 0 for c in mine)
        lo, hi = wilson_interval(wins, len(mine))
        priced = [c for c in mine if c.risk > 0]
        r_mean, r_lo, r_hi = _mean_row([c.pnl / c.risk for c in priced], [c.opened for c in priced], rng, resamples)
        paired = [c for c in mine if c.shares_return is not None and c.debit > 0]
        diffs = [c.pnl / c.debit - (c.shares_return or 0.0) for c in paired]
        enough = len(paired) >= MIN_PAIRS
        d_mean, d_lo, d_hi = _mean_row(diffs, [c.opened for c in paired], rng, resamples) if diffs else (None,) * 3
        if not enough:
            d_lo = d_hi = None
        rows.append({
            "strategy": strategy,
            "structures": len(mine),
            "total_pnl": round(sum(c.pnl for c in mine), 2),
            "win_rate": _num(wins / len(mine)),
            "win_rate_ci": [_num(lo), _num(hi)],
            "expectancy_r": r_mean,
            "expectancy_r_ci": [r_lo, r_hi],
            "paired": len(paired),
            "options_return": _num(float(np.mean([c.pnl / c.debit for c in paired]))) if paired else None,
            "shares_return": _num(float(np.mean([c.shares_return for c in paired]))) if paired else None,
            "vs_shares": d_mean,
            "vs_shares_ci": [d_lo, d_hi],
            "verdict": _verdict(d_mean, d_lo, d_hi, len(paired)) if paired else "no structure opened on a signal",
            **_scalping(mine),
        })  # fmt: skip
    return rows
