"""The iron condor's choices: the range-bound test against a direct Bollinger computation, the strikes by delta
and width, and the exits in order: breach, profit, time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from autotrader.domain.enums import LegKind, OptionRight
from autotrader.domain.options import OptionContract, OptionQuote, iron_condor
from autotrader.policy import condor as c

RULES = c.CondorRules()
NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
EXPIRY = date(2026, 4, 17)


def q(strike: float, right: OptionRight, delta: float) -> OptionQuote:
    return OptionQuote(OptionContract("XYZ", EXPIRY, right, strike), 1.0, 1.1, NOW, delta=delta, underlying_price=100.0)


def test_range_bound_is_a_narrow_band_with_the_close_inside():
    rng = np.random.default_rng(4)
    calm = 100 + rng.normal(0, 0.8, 20)
    width = 4 * calm.std() / calm.mean() * 100  # upper - lower = 2 x 2 sigma (population), over the mean
    ok, why = c.range_bound(calm.tolist(), RULES)
    assert ok == (width <= 10.0 and abs(calm[-1] - calm.mean()) <= 2 * calm.std()) and "band width" in why
    wild = 100 * np.exp(np.cumsum(rng.normal(0, 0.04, 20)))
    assert c.range_bound(wild.tolist(), RULES)[0] is False
    breakout = np.r_[np.full(19, 100.0) + rng.normal(0, 0.2, 19), 104.0]
    assert "outside the bands" in c.range_bound(breakout.tolist(), RULES)[1]
    assert c.range_bound([100.0] * 5, RULES) == (False, "5 daily closes, 20 needed")


def test_the_condor_sells_the_delta_and_buys_the_wings():
    chain = [q(k, OptionRight.PUT, d) for k, d in ((85.0, -0.05), (88.0, -0.10), (90.0, -0.15), (92.0, -0.22))]
    chain += [q(k, OptionRight.CALL, d) for k, d in ((108.0, 0.22), (110.0, 0.17), (112.0, 0.10), (115.0, 0.05))]
    condor = c.choose_condor(chain, 100.0, RULES)
    assert condor.strikes == (88.0, 90.0, 110.0, 112.0)  # shorts at |delta| .15 / .17, wings 3 % of 100 beyond
    assert c.choose_condor([q(90.0, OptionRight.PUT, -0.15)], 100.0, RULES) is None


def test_exits_breach_then_profit_then_time():
    condor = iron_condor(*(OptionContract("XYZ", EXPIRY, r, k) for r, k in
                           ((OptionRight.PUT, 88.0), (OptionRight.PUT, 90.0), (OptionRight.CALL, 110.0),
                            (OptionRight.CALL, 112.0))))  # fmt: skip
    assert c.exit_reason(condor, 1.50, 1.40, 107.0, 100.0, 30, RULES)[0] == LegKind.LOSS_CUT  # 70 % of 100->110
    assert c.exit_reason(condor, 1.50, 1.40, 106.9, 100.0, 30, RULES) is None
    assert c.exit_reason(condor, 1.50, 1.40, 93.0, 100.0, 30, RULES)[0] == LegKind.LOSS_CUT  # 70 % of 100->90
    assert c.exit_reason(condor, 1.50, 0.90, 100.0, 100.0, 30, RULES)[0] == LegKind.PROFIT_TAKE  # 40 % kept
    assert c.exit_reason(condor, 1.50, 0.91, 100.0, 100.0, 30, RULES) is None
    assert c.exit_reason(condor, 1.50, 1.40, 100.0, 100.0, 6, RULES)[0] == LegKind.TIME_EXIT
    assert c.exit_reason(condor, 1.50, 1.40, 100.0, 100.0, 7, RULES) is None
