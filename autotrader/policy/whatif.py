"""What-if comparisons: the same signals replayed under other rules, compared signal by signal. Pure.

Every variant replays the same history with the same sources, so each signal exists in every variant (keyed by
what it is, not by a ledger's row id) and the comparison is *paired*: for each signal, its P&L under the variant
minus its P&L under the base (the trades it led to, realized and marked at the end; 0 where it was not traded).
Summed, the differences are what the rule change made over those signals.

Signals of the same session share that session's market, and a change of rules moves money between them (the
cash a skipped dip-buy left is spent on the next signal), so their differences are not independent. The interval
therefore resamples whole sessions: the sessions with signals are drawn with replacement and each brings all its
signals' differences (a cluster bootstrap, percentile interval). With several variants against one base, each
interval is widened for the number of comparisons (Bonferroni), so that "added money" holds for all of them at
once at the stated level; a verdict needs ``MIN_SESSIONS`` sessions with signals, fewer say so instead.

A change that works outside the signals' trades (the nightly rebalancer's choice of strategy, its book's capital)
moves no signal's P&L, so each variant's whole account is compared with the base's too (``paired_account``):
session by session, the same sessions in both, with a moving-block bootstrap over sessions. Its intervals count
among the comparisons the correction is made for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial

import numpy as np

from autotrader.exports import fmt
from autotrader.policy import inference

dollars = partial(fmt.usd, cents=False)  # whole dollars: a what-if's totals are thousands, not cents

MIN_SESSIONS = 10  # fewer sessions with signals: too few clusters for a bootstrap interval to mean anything
DRAWS = 4000
LEVEL = 0.95
ADDED, COST, NO_EVIDENCE, TOO_FEW = "added", "cost", "no evidence", "too few sessions"


@dataclass(frozen=True)
class SignalResult:
    """One signal in one variant: the session it arrived in and the P&L of the trades it led to."""

    session: date
    pnl: float
    traded: bool


@dataclass(frozen=True)
class Difference:
    """A variant against the base, over the signals both saw."""

    variant: str
    base: str
    signals: int
    traded: int  # signals traded in either
    sessions: int  # sessions with signals: the clusters resampled
    total: float  # Σ (variant − base) over the signals, in dollars
    lo: float | None
    hi: float | None
    level: float  # the interval's confidence, after the correction for the number of comparisons
    verdict: str  # added | cost | no evidence | too few sessions
    statement: str


def level_for(comparisons: int, level: float = LEVEL) -> float:
    """The per-comparison confidence that keeps ``level`` for ``comparisons`` intervals at once (Bonferroni)."""
    return 1 - (1 - level) / max(1, comparisons)


def paired(
    variant: str,
    base: str,
    results: Mapping[str, SignalResult],
    base_results: Mapping[str, SignalResult],
    *,
    level: float = LEVEL,
    draws: int = DRAWS,
    seed: int = 0,
) -> Difference:
    """``variant`` against ``base`` over the signals of either (a signal one of them lacks counts 0 there: it
    was not traded), with the session-clustered bootstrap interval of the total at ``level``."""
    by_session: dict[date, float] = defaultdict(float)
    traded = 0
    for key in sorted(set(results) | set(base_results)):
        mine, theirs = results.get(key), base_results.get(key)
        session = (mine or theirs).session  # type: ignore[union-attr]  # at least one holds the key
        by_session[session] += (mine.pnl if mine else 0.0) - (theirs.pnl if theirs else 0.0)
        traded += bool((mine and mine.traded) or (theirs and theirs.traded))
    sums = np.array([by_session[d] for d in sorted(by_session)], dtype=np.float64)
    total = float(sums.sum())
    signals = len(set(results) | set(base_results))
    if len(sums) < MIN_SESSIONS:
        statement = (
            f"{variant} vs {base}: {dollars(total)} over {signals} signals, but only {len(sums)} sessions with signals "
            f"(a verdict needs {MIN_SESSIONS})"
        )
        return Difference(variant, base, signals, traded, len(sums), total, None, None, level, TOO_FEW, statement)
    lo, hi = cluster_interval(sums, level=level, draws=draws, seed=seed)
    where = f"({dollars(lo)} to {dollars(hi)}, {level:.1%} interval over {len(sums)} sessions)"
    verdict, statement = _verdict(
        lo, hi,
        added=f"{variant} added {dollars(total)} {where} over {signals} signals vs {base}",
        cost=f"{variant} cost {dollars(-total)} {where} over {signals} signals vs {base}",
        neither=f"no evidence that {variant} differs from {base}: {dollars(total, signed=True)} {where}",
    )  # fmt: skip
    return Difference(variant, base, signals, traded, len(sums), total, lo, hi, level, verdict, statement)


def _verdict(lo: float, hi: float, *, added: str, cost: str, neither: str) -> tuple[str, str]:
    """The verdict an interval of a difference supports, with the statement given for it."""
    if lo > 0:
        return ADDED, added
    if hi < 0:
        return COST, cost
    return NO_EVIDENCE, neither


@dataclass(frozen=True)
class AccountDifference:
    """A variant's whole account against the base's, session by session."""

    variant: str
    base: str
    sessions: int  # session P&L differences (the first session's from the starting cash)
    total: float  # Σ over the sessions of (variant's P&L − base's): the difference in final equity
    lo: float | None
    hi: float | None
    level: float
    block: int  # sessions per bootstrap block
    verdict: str
    statement: str


def paired_account(
    variant: str,
    base: str,
    equity: Sequence[tuple[str, float]],
    base_equity: Sequence[tuple[str, float]],
    *,
    level: float = LEVEL,
    draws: int = DRAWS,
    seed: int = 0,
) -> AccountDifference:
    """``variant``'s account against ``base``'s over the sessions both have: each session's P&L difference, and
    the interval of their total from a moving-block bootstrap over sessions (``inference.block_bootstrap_mean``,
    blocks of at least a week: a rule change's effect on the account persists for as long as the positions it
    changed are held, so neighbouring sessions' differences are not independent).

    This is the question a change outside the signals' trades asks (the rebalancer's selection, its book's
    capital): per-signal pairing sees none of it, the account sees all of it, the signals' trades included."""
    mine, theirs = dict(equity), dict(base_equity)
    days = sorted(set(mine) & set(theirs))
    steps = np.array(
        [(mine[b] - mine[a]) - (theirs[b] - theirs[a]) for a, b in zip(days, days[1:], strict=False)], dtype=np.float64
    )
    total, n = float(steps.sum()), len(steps)
    block = inference.block_length(5, n)
    if n < MIN_SESSIONS:
        statement = (
            f"{variant} vs {base}, the account: {dollars(total, signed=True)} over {n} sessions "
            f"(a verdict needs {MIN_SESSIONS})"
        )
        return AccountDifference(variant, base, n, total, None, None, level, block, TOO_FEW, statement)
    fit = inference.block_bootstrap_mean(
        steps, np.arange(n), np.random.default_rng(seed), block=block, resamples=draws, level=level
    )
    lo, hi = fit.lo * n, fit.hi * n
    if not (np.isfinite(lo) and np.isfinite(hi)):
        statement = f"{variant} vs {base}, the account: {dollars(total, signed=True)}; too few blocks for an interval"
        return AccountDifference(variant, base, n, total, None, None, level, block, TOO_FEW, statement)
    where = f"({dollars(lo)} to {dollars(hi)}, {level:.1%} interval over {n} sessions)"
    verdict, statement = _verdict(
        lo, hi,
        added=f"{variant}'s account ended {dollars(total)} above {base}'s {where}",
        cost=f"{variant}'s account ended {dollars(-total)} below {base}'s {where}",
        neither=f"no evidence that {variant}'s account differs from {base}'s: {dollars(total, signed=True)} {where}",
    )  # fmt: skip
    return AccountDifference(variant, base, n, total, float(lo), float(hi), level, block, verdict, statement)


def cluster_interval(sums: np.ndarray, *, level: float, draws: int, seed: int) -> tuple[float, float]:
    """The percentile interval of the total of ``sums`` (one per cluster) when the clusters are resampled."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sums), size=(draws, len(sums)))
    totals = sums[picks].sum(axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(totals, [tail, 1 - tail])
    return float(lo), float(hi)
