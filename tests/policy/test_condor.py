"""The iron condor's choices: the range-bound test against a direct Bollinger computation, the strikes by delta
and width, and the exits in order: breach, profit, time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import numpy as np

from autotrader.domain.enums import LegKind, OptionRight
from autotrader.domain.options import OptionContract, OptionQuote
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
    both = {OptionRight.PUT: 90.0, OptionRight.CALL: 110.0}
    up = c.exit_reason(both, 1.50, 1.40, 107.0, 100.0, 30, RULES)  # 70 % of the way from 100 to 110
    assert (up.leg, up.side) == (LegKind.LOSS_CUT, OptionRight.CALL) and up.reason.endswith("the call side closed")
    assert c.exit_reason(both, 1.50, 1.40, 106.9, 100.0, 30, RULES) is None
    down = c.exit_reason(both, 1.50, 1.40, 93.0, 100.0, 30, RULES)  # 70 % of the way from 100 to 90
    assert (down.leg, down.side) == (LegKind.LOSS_CUT, OptionRight.PUT)
    whole = replace(RULES, breach_action="whole")
    assert c.exit_reason(both, 1.50, 1.40, 93.0, 100.0, 30, whole).side is None
    profit = c.exit_reason(both, 1.50, 0.90, 100.0, 100.0, 30, RULES)  # 40 % of the credit kept
    assert (profit.leg, profit.side) == (LegKind.PROFIT_TAKE, None)
    assert c.exit_reason(both, 1.50, 0.91, 100.0, 100.0, 30, RULES) is None
    assert c.exit_reason(both, 1.50, 1.40, 100.0, 100.0, 6, RULES).leg == LegKind.TIME_EXIT
    assert c.exit_reason(both, 1.50, 1.40, 100.0, 100.0, 7, RULES) is None


def test_the_side_left_after_a_breach_is_watched_on_its_own():
    calls = {OptionRight.CALL: 110.0}  # the put side was closed
    assert c.exit_reason(calls, 0.60, 0.50, 93.0, 100.0, 30, RULES) is None  # the put's breach no longer counts
    again = c.exit_reason(calls, 0.60, 0.50, 107.0, 100.0, 30, RULES)
    assert (again.leg, again.side) == (LegKind.LOSS_CUT, None)  # the last side: closed, all that is held
    assert c.exit_reason(calls, 0.60, 0.36, 100.0, 100.0, 30, RULES).leg == LegKind.PROFIT_TAKE  # 40 % of 0.60
