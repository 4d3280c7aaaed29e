"""The paired what-if comparison: the total is the sum of the per-signal differences, the interval resamples
whole sessions, and the verdict follows the interval (checked against hand computations and the normal
approximation, not against the code's own output)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from autotrader.policy import whatif
from autotrader.policy.whatif import SignalResult

DAY = date(2026, 3, 2)


def _results(pnls: list[float], sessions: int) -> dict[str, SignalResult]:
    return {f"s{i}": SignalResult(DAY + timedelta(days=i % sessions), p, p != 0) for i, p in enumerate(pnls)}


def test_the_total_is_the_sum_of_paired_differences_and_a_missing_signal_counts_zero():
    base = _results([10.0] * 20, 10)
    variant = dict(_results([12.0] * 20, 10))
    del variant["s0"]  # not seen (not traded) in the variant: −10 for it
    d = whatif.paired("v", "base", variant, base)
    assert d.total == pytest.approx(19 * 2.0 - 10.0)
    assert d.signals == 20 and d.sessions == 10 and d.traded == 20


def test_the_same_difference_every_session_has_no_spread():
    d = whatif.paired("v", "base", _results([3.0] * 30, 15), _results([1.0] * 30, 15))
    assert d.lo == pytest.approx(60.0) and d.hi == pytest.approx(60.0) and d.verdict == whatif.ADDED
    assert d.statement.startswith("v added $60")


def test_the_interval_resamples_sessions_and_matches_the_normal_approximation():
    """Session sums drawn with sd σ: the total's interval is about ±1.96·σ·√T; signals of one session move
    together, so the width depends on the number of sessions, not of signals."""
    rng = np.random.default_rng(5)
    sessions, per = 200, 5
    by_session = rng.normal(0.0, 100.0, sessions)
    base = {f"s{i}": SignalResult(DAY + timedelta(days=i // per), 0.0, False) for i in range(sessions * per)}
    variant = {k: SignalResult(r.session, by_session[i // per] / per, True) for i, (k, r) in enumerate(base.items())}
    d = whatif.paired("v", "base", variant, base, draws=4000, seed=1)
    sums = by_session
    half = 1.96 * sums.std(ddof=0) * np.sqrt(sessions)
    assert d.total == pytest.approx(sums.sum())
    assert (d.hi - d.lo) / 2 == pytest.approx(half, rel=0.08)


def test_verdicts_follow_the_interval_and_need_enough_sessions():
    assert whatif.paired("v", "b", _results([-5.0] * 20, 10), _results([0.0] * 20, 10)).verdict == whatif.COST
    noisy = [(-1.0) ** i * 50 for i in range(40)]
    assert whatif.paired("v", "b", _results(noisy, 20), _results([0.0] * 40, 20)).verdict == whatif.NO_EVIDENCE
    few = whatif.paired("v", "b", _results([5.0] * 9, 9), _results([0.0] * 9, 9))
    assert few.verdict == whatif.TOO_FEW and few.lo is None and "only 9 sessions" in few.statement


def test_several_comparisons_widen_each_interval():
    assert whatif.level_for(1) == pytest.approx(0.95) and whatif.level_for(4) == pytest.approx(0.9875)
    sums = np.random.default_rng(2).normal(0, 1, 50)
    narrow = whatif.cluster_interval(sums, level=0.95, draws=4000, seed=0)
    wide = whatif.cluster_interval(sums, level=0.9875, draws=4000, seed=0)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


def _curve(steps: list[float], start: float = 100_000.0) -> list[tuple[str, float]]:
    """(session, equity) from ``start``, then each session's P&L added."""
    days = [(DAY + timedelta(days=i)).isoformat() for i in range(len(steps) + 1)]
    return list(zip(days, np.cumsum([start, *steps]).tolist(), strict=True))


def test_the_account_total_is_the_difference_in_final_equity_over_the_common_sessions():
    rng = np.random.default_rng(3)
    base = _curve(rng.normal(0, 500, 40).tolist())
    variant = _curve(rng.normal(0, 500, 40).tolist(), start=100_000.0)
    a = whatif.paired_account("v", "base", variant, base)
    assert a.sessions == 40 and a.total == pytest.approx((variant[-1][1] - variant[0][1]) - (base[-1][1] - base[0][1]))
    # A session only one of them has is left out: the variant's curve is cut short by ten sessions.
    short = whatif.paired_account("v", "base", variant[:31], base)
    assert short.sessions == 30
    assert short.total == pytest.approx((variant[30][1] - base[30][1]) - (variant[0][1] - base[0][1]))


def test_the_account_verdict_has_the_sign_of_a_steady_difference_and_none_for_noise():
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 400, 60)
    base = _curve(noise.tolist())
    better = _curve((noise + 150.0 + rng.normal(0, 40, 60)).tolist())  # +$150 a session, little spread
    worse = _curve((noise - 150.0 + rng.normal(0, 40, 60)).tolist())
    unrelated = _curve(rng.normal(0, 400, 60).tolist())
    assert whatif.paired_account("better", "base", better, base).verdict == whatif.ADDED
    assert whatif.paired_account("worse", "base", worse, base).verdict == whatif.COST
    assert whatif.paired_account("same", "base", unrelated, base).verdict == whatif.NO_EVIDENCE
    few = whatif.paired_account("v", "base", better[:6], base[:6])
    assert few.verdict == whatif.TOO_FEW and few.lo is None and "needs 10" in few.statement


def test_the_account_interval_is_the_block_bootstrap_of_the_mean_scaled_to_the_sessions():
    """For iid session differences the block bootstrap's interval of the total is about n · (mean ± z·sd/√n)."""
    rng = np.random.default_rng(5)
    steps = rng.normal(20.0, 300.0, 400)
    a = whatif.paired_account("v", "base", _curve(steps.tolist()), _curve([0.0] * 400), level=0.95, draws=4000)
    half = 1.96 * steps.std(ddof=1) * np.sqrt(len(steps))
    assert a.block == 5 * 3  # three times the five-session minimum, with 400 sessions to fill forty blocks
    assert a.lo == pytest.approx(steps.sum() - half, rel=0.35, abs=0.35 * half)
    assert a.hi == pytest.approx(steps.sum() + half, rel=0.35, abs=0.35 * half)
