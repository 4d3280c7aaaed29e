"""Debit spreads on strong signals: which expiry and strikes express a signal, and when a spread is closed. Pure.

A buy signal is expressed as a bull call spread (buy a call, sell a higher one), a sell signal as a bear put
spread (buy a put, sell a lower one): the loss is the debit, known at entry, and the gain is capped at the
strikes' distance less the debit.

- Expiry: among the listed expiries ``dte_min`` to ``dte_max`` calendar days out, the one nearest the middle of
  the window (the earlier on a tie).
- The bought leg: the contract of the signal's right whose delta is nearest ``long_delta`` (absolute; the
  lower strike on a tie for calls, the higher for puts).
- The sold leg: the listed strike nearest ``width_pct`` of the underlying's price further out of the money,
  at least one strike away.
- Exits, at the legs' mids (the spread's value per share): worth ``profit_target_pct`` more than the debit paid
  (take profit), ``stop_pct`` less (stop), or ``exit_dte`` days or fewer left to expiry (time). The first that
  holds, in that order; none while the legs have no market.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from autotrader.domain.enums import LegKind, OptionRight, Side
from autotrader.domain.options import OptionContract, OptionQuote, Structure, vertical
from autotrader.policy.option_checks import IvPercentileRange


@dataclass(frozen=True)
class VerticalRules(IvPercentileRange):
    min_conviction: int = 8
    categories: frozenset[str] = frozenset({"swing"})
    dte_min: int = 21
    dte_max: int = 60
    long_delta: float = 0.55
    width_pct: float = 5.0
    profit_target_pct: float = 50.0
    stop_pct: float = 50.0
    exit_dte: int = 5


def wants(conviction: int | None, category: str, rules: VerticalRules) -> str | None:
    """Why a signal is not expressed as a spread (None: it is)."""
    if category not in rules.categories:
        return f"category {category} is not in [verticals] categories"
    if conviction is None or conviction < rules.min_conviction:
        return f"conviction {conviction if conviction is not None else 'none'} under {rules.min_conviction}"
    return None


def choose_expiry(expiries: Mapping[date, int], dte_min: int, dte_max: int) -> date | None:
    """``expiries``: expiry -> days to it. The one nearest the middle of ``dte_min..dte_max`` (the earlier on a
    tie); None when none is inside."""
    middle = (dte_min + dte_max) / 2
    inside = [(abs(days - middle), e) for e, days in expiries.items() if dte_min <= days <= dte_max]
    return min(inside)[1] if inside else None


# Weeklies list an expiry in any seven days in a row: the days within this of the middle nearly always hold one.
MIDDLE_HALF_WIDTH = 3.5


def middle_days(dte_min: int, dte_max: int) -> tuple[int, int]:
    """The days to expiry (inclusive) within ``MIDDLE_HALF_WIDTH`` of the middle of ``dte_min..dte_max``, kept
    inside it. Whenever an expiry falls there, ``choose_expiry`` of these days alone is its choice of the whole
    window: any expiry outside lies further from the middle than every one inside."""
    middle = (dte_min + dte_max) / 2
    return max(dte_min, math.ceil(middle - MIDDLE_HALF_WIDTH)), min(dte_max, math.floor(middle + MIDDLE_HALF_WIDTH))


def choose_spread(
    quotes: Iterable[OptionQuote], side: Side, spot: float, rules: VerticalRules
) -> tuple[OptionContract, OptionContract] | None:
    """(bought, sold) of one expiry's quotes for a signal of ``side`` (module docstring); None when the chain has
    no delta to choose by or no strike beyond the bought one."""
    right = OptionRight.CALL if side == Side.BUY else OptionRight.PUT
    mine = [q for q in quotes if q.contract.right == right and q.delta is not None]
    if not mine:
        return None
    up = right == OptionRight.CALL
    def nearness(q: OptionQuote) -> tuple[float, float]:
        return abs(abs(q.delta or 0.0) - rules.long_delta), q.contract.strike * (1 if up else -1)

    bought = min(mine, key=nearness)
    beyond = [q.contract for q in mine if (q.contract.strike > bought.contract.strike) == up
              and q.contract.strike != bought.contract.strike]  # fmt: skip
    if not beyond:
        return None
    goal = bought.contract.strike + (1 if up else -1) * spot * rules.width_pct / 100
    sold = min(beyond, key=lambda c: (abs(c.strike - goal), abs(c.strike - bought.contract.strike)))
    return bought.contract, sold


def structure_for(bought: OptionContract, sold: OptionContract) -> Structure:
    return vertical(bought, sold)


def exit_reason(
    open_net: float, value: float | None, days_left: int, rules: VerticalRules
) -> tuple[LegKind, str] | None:
    """Why an open spread bought at ``open_net`` and worth ``value`` now (per share) is closed, None to hold."""
    if value is not None and open_net > 0:
        if value >= open_net * (1 + rules.profit_target_pct / 100) - 1e-9:
            return LegKind.PROFIT_TAKE, f"worth {value:.2f}, {rules.profit_target_pct:g}% over the {open_net:.2f} debit"
        if value <= open_net * (1 - rules.stop_pct / 100) + 1e-9:
            return LegKind.LOSS_CUT, f"worth {value:.2f}, {rules.stop_pct:g}% under the {open_net:.2f} debit"
    if days_left <= rules.exit_dte:
        return LegKind.TIME_EXIT, f"{days_left} day(s) to expiry, exit at {rules.exit_dte}"
    return None
