"""Maximum profit, maximum loss and break-evens at entry, against the textbook formulas for each structure and
against a brute-force scan of the P&L over a fine grid of expiry prices."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from autotrader.domain import options as o
from autotrader.domain.enums import OptionRight, Side
from autotrader.policy.option_payoff import pnl_at_expiry, profile

CALL, PUT = OptionRight.CALL, OptionRight.PUT


def c(strike: float, right: OptionRight = CALL) -> o.OptionContract:
    return o.OptionContract("XYZ", date(2026, 6, 19), right, strike)


def test_a_bull_call_spread():
    p = profile(o.vertical(c(100.0), c(110.0)), net_premium=3.20)  # pay 3.20 for a 10-wide spread
    assert p.max_profit == pytest.approx((10 - 3.20) * 100) and p.max_loss == pytest.approx(320.0)
    assert p.breakevens == pytest.approx((103.20,))


def test_a_bear_put_spread():
    p = profile(o.vertical(c(110.0, PUT), c(100.0, PUT)), net_premium=4.00)
    assert p.max_profit == pytest.approx(600.0) and p.max_loss == pytest.approx(400.0)
    assert p.breakevens == pytest.approx((106.0,))


def test_a_credit_call_spread():
    p = profile(o.vertical(c(110.0), c(105.0)), net_premium=-1.50)  # sell the 105, buy the 110: 1.50 credit
    assert p.max_profit == pytest.approx(150.0) and p.max_loss == pytest.approx(350.0)
    assert p.breakevens == pytest.approx((106.5,))


def test_an_iron_condor():
    p = profile(o.iron_condor(c(90.0, PUT), c(95.0, PUT), c(105.0), c(110.0)), net_premium=-1.80)
    assert p.max_profit == pytest.approx(180.0) and p.max_loss == pytest.approx((5 - 1.80) * 100)
    assert p.breakevens == pytest.approx((93.2, 106.8))


def test_a_long_straddle_can_gain_without_limit():
    p = profile(o.straddle(c(100.0), c(100.0, PUT)), net_premium=7.50)
    assert p.max_profit is None and p.max_loss == pytest.approx(750.0)
    assert p.breakevens == pytest.approx((92.5, 107.5))


def test_a_short_straddle_can_lose_without_limit():
    p = profile(o.straddle(c(100.0), c(100.0, PUT), Side.SELL), net_premium=-7.50)
    assert p.max_profit == pytest.approx(750.0) and p.max_loss is None


def test_a_covered_call():
    p = profile(o.covered_call(c(110.0), share_price=102.0), net_premium=-2.50)
    assert p.max_profit == pytest.approx((110 - 102 + 2.50) * 100) and p.max_loss == pytest.approx((102 - 2.50) * 100)
    assert p.breakevens == pytest.approx((99.5,))


def test_a_cash_secured_put():
    p = profile(o.cash_secured_put(c(95.0, PUT)), net_premium=-1.25)
    assert p.max_profit == pytest.approx(125.0) and p.max_loss == pytest.approx((95 - 1.25) * 100)
    assert p.breakevens == pytest.approx((93.75,))


def _random_structures(rng: np.random.Generator):
    for _ in range(25):
        k = np.sort(rng.choice(np.arange(20.0, 200.0, 2.5), size=4, replace=False))
        premium = float(np.round(rng.uniform(-8, 8), 2))
        yield o.vertical(c(k[0]), c(k[2])), premium
        yield o.vertical(c(k[3], PUT), c(k[1], PUT)), premium
        yield o.iron_condor(c(k[0], PUT), c(k[1], PUT), c(k[2]), c(k[3])), -abs(premium)
        yield o.straddle(c(k[1]), c(k[1], PUT), Side.BUY if premium > 0 else Side.SELL), premium
        yield o.covered_call(c(k[2]), share_price=float(k[1])), -abs(premium)
        yield o.cash_secured_put(c(k[1], PUT)), -abs(premium)


def _scan(structure: o.Structure, premium: float, grid: np.ndarray) -> np.ndarray:
    """The P&L at each expiry price, written out leg by leg: an independent computation of pnl_at_expiry."""
    value = np.zeros_like(grid)
    for leg in structure.legs:
        k = leg.contract.strike
        payoff = np.maximum(grid - k, 0.0) if leg.contract.right == CALL else np.maximum(k - grid, 0.0)
        value += (1 if leg.side == Side.BUY else -1) * leg.ratio * payoff
    if structure.shares:
        value += structure.shares / 100 * (grid - structure.share_price)
    return 100 * (value - premium)


def test_the_profile_agrees_with_a_scan_of_the_pnl_over_expiry_prices():
    grid = np.arange(0.0, 600.0, 0.005)
    for structure, premium in _random_structures(np.random.default_rng(11)):
        pnl = _scan(structure, premium, grid)
        p = profile(structure, premium)
        if p.max_profit is not None:
            assert p.max_profit == pytest.approx(pnl.max(), abs=1e-6)
        else:
            assert pnl[-1] > pnl[len(grid) // 2]  # still rising at the top of the grid
        if p.max_loss is not None:
            assert p.max_loss == pytest.approx(max(0.0, -pnl.min()), abs=1e-6)
        else:
            assert pnl[-1] < pnl[len(grid) // 2]
        # Each break-even is a zero of the P&L, and every sign change on the grid is next to one.
        for b in p.breakevens:
            assert pnl_at_expiry(structure, premium, b) == pytest.approx(0.0, abs=1e-6)
        changes = grid[1:][np.sign(pnl[1:]) * np.sign(pnl[:-1]) < 0]
        for x in changes:
            assert min(abs(x - b) for b in p.breakevens) <= 0.005 + 1e-9
