"""What a structure can make or lose by expiry, from its legs and the premium paid, computed at entry. Pure.

At expiry a structure's value is piecewise linear in the underlying's price, with kinks only at its strikes:
each leg is worth its intrinsic value, the shares of a covered call their price. So the extremes lie at a price
of zero, at a strike, or beyond the highest strike where the slope says whether they are unbounded (a naked
short call loses without limit; the toolkit never opens one, and the profile says so); the break-evens are the
zeros of the P&L on each linear piece. Every figure is in dollars per unit of the structure (one contract of each
leg at its ratio, times the multiplier), before commissions.

``net_premium`` is per share: positive for a debit paid, negative for a credit received.
"""

from __future__ import annotations

from dataclasses import dataclass

from autotrader.domain.options import MULTIPLIER, Structure


@dataclass(frozen=True)
class Profile:
    """``max_profit``/``max_loss`` in dollars per unit (the loss as a positive amount); None: unbounded."""

    max_profit: float | None
    max_loss: float | None
    breakevens: tuple[float, ...]


def value_at_expiry(structure: Structure, price: float) -> float:
    """Per share: the legs' intrinsic values (bought +, sold -) and the held shares' gain over their price."""
    legs = sum(leg.sign * leg.ratio * leg.contract.intrinsic(price) for leg in structure.legs)
    shares = structure.shares / MULTIPLIER * (price - (structure.share_price or 0.0)) if structure.shares else 0.0
    return legs + shares


def pnl_at_expiry(structure: Structure, net_premium: float, price: float) -> float:
    """Dollars per unit: what the structure is worth at expiry less what opening it cost."""
    return MULTIPLIER * (value_at_expiry(structure, price) - net_premium)


def _slope_above(structure: Structure) -> float:
    """Per share, d(value)/d(price) above the highest strike: the calls' net count and the held shares."""
    calls = sum(leg.sign * leg.ratio for leg in structure.legs if leg.contract.is_call)
    return calls + structure.shares / MULTIPLIER


def profile(structure: Structure, net_premium: float) -> Profile:
    """The structure's maximum profit, maximum loss and break-even prices at expiry (module docstring)."""
    points = [0.0, *structure.strikes]
    pnl = [pnl_at_expiry(structure, net_premium, p) for p in points]
    slope = MULTIPLIER * _slope_above(structure)
    max_profit = None if slope > 0 else max(pnl)
    max_loss = None if slope < 0 else max(0.0, -min(pnl))
    breakevens: list[float] = []
    for (x0, y0), (x1, y1) in zip(zip(points, pnl, strict=True), zip(points[1:], pnl[1:], strict=True), strict=False):
        if y0 == 0 and (not breakevens or breakevens[-1] != x0):
            breakevens.append(x0)
        if (y0 < 0 < y1) or (y1 < 0 < y0):
            breakevens.append(x0 + (x1 - x0) * (-y0) / (y1 - y0))
    last_x, last_y = points[-1], pnl[-1]
    if last_y == 0 and (not breakevens or breakevens[-1] != last_x):
        breakevens.append(last_x)
    if slope != 0 and last_y * slope < 0:  # the P&L crosses zero once more above the highest strike
        breakevens.append(last_x - last_y / slope)
    return Profile(max_profit, max_loss, tuple(b for b in breakevens if b > 0))
