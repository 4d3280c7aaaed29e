"""Iron condors on range-bound names: when a name qualifies, which strikes, and when the condor is closed. Pure.

- Range-bound: over the last ``bollinger_period`` daily closes (the sessions before today), the Bollinger
  bands' width (upper - lower, k = 2) is at most ``max_band_width_pct`` of the middle band, and the latest close
  lies inside the bands.
- Entry: from ``entry_time`` (10:00 New York) on, once per name while none is open: the expiry nearest the
  middle of ``dte_min..dte_max`` days; the put and the call sold are those whose delta is nearest
  ``short_delta`` (absolute), each at or beyond the price; the wings bought ``wing_width_pct`` of the price further
  out (the listed strike nearest, at least one strike away). Sold at a net credit.
- Exits, every slot, at the legs' mids (in this order): the breach, once the price has come ``breach_pct`` (70)
  of the way from where it stood at entry to a short strike: with ``breach_action = "side"`` that side alone
  (its short and its wing) is closed and the other side stays on, watched by the same rules on its own legs
  (its breach, its own credit's profit, the time); with ``"whole"``, or once only one side is left, all that
  is held is closed. Then the profit, once buying back what is held costs at most its credit less
  ``profit_target_pct`` (40) of it; then the time, fewer than ``exit_dte`` (7) days to expiry. Rolling the
  threatened side (selling a new spread further out) is not done: a closed side stays closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from autotrader.domain.enums import LegKind, OptionRight
from autotrader.domain.options import OptionContract, OptionQuote, Structure, iron_condor
from autotrader.policy.engine import bollinger


@dataclass(frozen=True)
class CondorRules:
    underlyings: tuple[str, ...] = ()
    entry_time: str = "10:00"
    bollinger_period: int = 20
    max_band_width_pct: float = 10.0
    dte_min: int = 30
    dte_max: int = 45
    short_delta: float = 0.16
    wing_width_pct: float = 3.0
    breach_pct: float = 70.0
    breach_action: str = "side"  # "side": close the threatened side alone; "whole": close the whole condor
    profit_target_pct: float = 40.0
    exit_dte: int = 7


def range_bound(closes: Sequence[float], rules: CondorRules) -> tuple[bool, str]:
    """Whether the closes (oldest first) are range-bound (module docstring), and why (not)."""
    values = np.asarray(closes, dtype=float)
    if len(values) < rules.bollinger_period:
        return False, f"{len(values)} daily closes, {rules.bollinger_period} needed"
    bands = bollinger(values, rules.bollinger_period)
    mid, upper, lower = float(bands.mid[-1]), float(bands.upper[-1]), float(bands.lower[-1])
    width = (upper - lower) / mid * 100 if mid > 0 else float("inf")
    if width > rules.max_band_width_pct:
        return False, f"band width {width:.1f}% over {rules.max_band_width_pct:g}%"
    if not lower <= values[-1] <= upper:
        return False, f"last close {values[-1]:.2f} outside the bands {lower:.2f}-{upper:.2f}"
    return True, f"band width {width:.1f}%, last close inside"


def _nearest(contracts: Iterable[OptionContract], goal: float, away_from: float, above: bool) -> OptionContract | None:
    beyond = [c for c in contracts if (c.strike > away_from if above else c.strike < away_from)]
    return min(beyond, key=lambda c: (abs(c.strike - goal), abs(c.strike - away_from)), default=None)


def choose_condor(quotes: Sequence[OptionQuote], spot: float, rules: CondorRules) -> Structure | None:
    """The condor of one expiry's quotes (module docstring), None when the chain lacks a leg."""
    def side(right: OptionRight, above: bool) -> tuple[OptionContract, OptionContract] | None:
        mine = [q for q in quotes if q.contract.right == right and q.delta is not None
                and (q.contract.strike >= spot if above else q.contract.strike <= spot)]  # fmt: skip
        if not mine:
            return None
        short = min(mine, key=lambda q: (abs(abs(q.delta or 0.0) - rules.short_delta), q.contract.strike)).contract
        step = spot * rules.wing_width_pct / 100 * (1 if above else -1)
        wing = _nearest((q.contract for q in quotes if q.contract.right == right), short.strike + step,
                        short.strike, above)  # fmt: skip
        return (short, wing) if wing is not None else None

    puts, calls = side(OptionRight.PUT, above=False), side(OptionRight.CALL, above=True)
    if puts is None or calls is None:
        return None
    return iron_condor(puts[1], puts[0], calls[0], calls[1])


@dataclass(frozen=True)
class CondorExit:
    leg: LegKind
    reason: str
    side: OptionRight | None  # the side closed alone (its short and its wing); None: all that is still held


def exit_reason(
    shorts: Mapping[OptionRight, float], credit: float, cost_now: float | None, price: float, entry_price: float,
    days_left: int, rules: CondorRules,
) -> CondorExit | None:  # fmt: skip
    """Why a condor (or the side left of it), whose short strikes still held are ``shorts``, sold for ``credit``
    (per share, of those legs) and costing ``cost_now`` to buy back, is closed now (module docstring)."""
    both = len(shorts) == 2
    for right in (OptionRight.PUT, OptionRight.CALL):
        if right not in shorts:
            continue
        strike, distance = shorts[right], shorts[right] - entry_price
        if distance != 0 and (price - entry_price) / distance >= rules.breach_pct / 100:
            alone = both and rules.breach_action == "side"
            why = (f"the price {price:.2f} came {rules.breach_pct:g}% of the way to the short {right} {strike:g} "
                   f"from {entry_price:.2f}" + (f": the {right} side closed" if alone else ""))  # fmt: skip
            return CondorExit(LegKind.LOSS_CUT, why, right if alone else None)
    if cost_now is not None and cost_now <= credit * (1 - rules.profit_target_pct / 100) + 1e-9:
        kept = f"{rules.profit_target_pct:g}% of the {credit:.2f} credit kept"
        return CondorExit(LegKind.PROFIT_TAKE, f"buys back at {cost_now:.2f}: {kept}", None)
    if days_left < rules.exit_dte:
        return CondorExit(LegKind.TIME_EXIT, f"{days_left} day(s) to expiry, under {rules.exit_dte}", None)
    return None
