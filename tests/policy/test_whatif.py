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
