"""The scorecard's options rows against direct computations: counts, P&L, win rate and its Wilson interval,
expectancy in units of risk, and the paired options-versus-shares verdict in both directions and without one."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from autotrader.policy.metrics import wilson_interval
from autotrader.policy.option_scorecard import ClosedStructure, strategy_rows


def structures(n: int, pnl, shares, strategy: str = "verticals", debit: float = 200.0) -> list[ClosedStructure]:
    start = date(2026, 1, 5)
    return [ClosedStructure(strategy, start + timedelta(days=3 * i), pnl(i), risk=debit, debit=debit,
                            shares_return=shares(i)) for i in range(n)]  # fmt: skip


def test_a_row_per_strategy_with_its_counts_and_rates():
    rng = np.random.default_rng(1)
    mine = structures(30, lambda i: 100.0 if i % 3 else -200.0, lambda i: 0.01)
    mine += structures(4, lambda i: 50.0, lambda i: None, strategy="wheel", debit=-100.0)
    by = {r["strategy"]: r for r in strategy_rows(mine, rng, resamples=500)}
    v = by["verticals"]
    assert v["structures"] == 30 and v["total_pnl"] == pytest.approx(20 * 100 - 10 * 200)
    assert v["win_rate"] == pytest.approx(20 / 30) and v["win_rate_ci"] == pytest.approx(list(wilson_interval(20, 30)))
    assert v["expectancy_r"] == pytest.approx(np.mean([0.5 if i % 3 else -1.0 for i in range(30)]))
    lo, hi = v["expectancy_r_ci"]
    assert lo < v["expectancy_r"] < hi
    w = by["wheel"]  # credits: no risk recorded, no signal: no expectancy interval, no comparison
    assert w["paired"] == 0 and w["verdict"] == "no structure opened on a signal" and w["expectancy_r"] is None


def test_the_verdict_follows_the_paired_difference():
    rng = np.random.default_rng(2)
    noise = np.random.default_rng(3).normal(0, 0.02, 40)
    better = structures(40, lambda i: 200.0 * (0.30 + noise[i]), lambda i: 0.02 + noise[i])
    (row,) = strategy_rows(better, rng, resamples=500)
    assert row["vs_shares"] == pytest.approx(0.28, abs=1e-9) and row["vs_shares_ci"][0] > 0
    assert row["verdict"].startswith("the options added +28.0% per trade")
    worse = structures(40, lambda i: 200.0 * (-0.10 + noise[i]), lambda i: 0.02 + noise[i])
    assert strategy_rows(worse, rng, resamples=500)[0]["verdict"].startswith("the options cost -12.0%")
    mixed = structures(40, lambda i: 200.0 * (0.02 + 3 * noise[i]), lambda i: 0.02)
    assert strategy_rows(mixed, rng, resamples=500)[0]["verdict"].startswith("no evidence either way")
    few = structures(6, lambda i: 100.0, lambda i: 0.0)
    (row,) = strategy_rows(few, rng, resamples=500)
    assert row["verdict"] == "too few pairs (6, 10 needed)" and row["vs_shares_ci"] == [None, None]
