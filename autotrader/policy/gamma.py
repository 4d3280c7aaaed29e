"""Gamma scalping: a long straddle held with its delta hedged by shares, and what the hedging made. Pure.

A long straddle's delta runs from -1 to +1 per share; hedging it back to zero means selling shares short
above the strike, which this account never does. So the position is held as the straddle's long-only twin
(``domain.options.synthetic_straddle``): per unit two at-the-money puts and the shares, whose neutral
quantity is ``-200 x the put's delta`` per unit, from 0 to 200, never short. By put-call parity it is the same
position as the straddle with its hedge: 100 of those shares per unit stand for the call (the "base"), the
rest are exactly the straddle's hedge, long or short.

- Entry: the expiry nearest the middle of ``dte_min..dte_max``, the put whose strike is nearest the price
  (the higher of two as near).
- Hedge, every slot: the position's delta in shares is ``200 x units x put delta + shares held``; once it is
  more than ``hedge_band`` x 100 x units away from zero, shares are bought or sold to the neutral quantity
  (whole shares).
- The split of the result: the options P&L is the straddle's, the puts' result plus the base (100 shares per
  unit from the price of the first shares bought to the price now, or to the last shares sold once none are
  held); the scalping P&L is everything else the shares made, net of their commissions: what buying low and
  selling high around the base earned.
- Exits, every slot, on the whole result (options and scalping) against the maximum loss at entry: at
  ``profit_target_pct`` of it gained, at ``stop_pct`` of it lost, or with fewer than ``exit_dte`` days to expiry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autotrader.domain.enums import LegKind, OptionRight, Side
from autotrader.domain.options import MULTIPLIER, OptionQuote
from autotrader.policy.option_checks import IvPercentileRange

PUTS_PER_UNIT = 2


@dataclass(frozen=True)
class GammaRules(IvPercentileRange):
    underlyings: tuple[str, ...] = ()
    dte_min: int = 30
    dte_max: int = 60
    hedge_band: float = 0.10
    profit_target_pct: float = 25.0
    stop_pct: float = 50.0
    exit_dte: int = 14


@dataclass(frozen=True)
class ShareTrade:
    side: Side
    qty: float
    price: float
    commission: float = 0.0


@dataclass(frozen=True)
class PnlSplit:
    """Dollars: the shares' whole result, the base's part of it (the straddle's call) and the scalping rest."""

    shares: float
    base: float
    scalping: float


def choose_put(quotes: Sequence[OptionQuote], spot: float) -> OptionQuote | None:
    """The put nearest the money of one expiry's quotes (module docstring), None when there is no put."""
    puts = [q for q in quotes if q.contract.right == OptionRight.PUT]
    return min(puts, key=lambda q: (abs(q.contract.strike - spot), -q.contract.strike), default=None)


def neutral_shares(put_delta: float, units: float) -> int:
    """The shares that make the position's delta zero: ``-200 x units x delta``, whole, from 0 to 200 a unit."""
    raw = -PUTS_PER_UNIT * MULTIPLIER * units * put_delta
    return int(min(max(round(raw), 0), PUTS_PER_UNIT * MULTIPLIER * units))


def position_delta(put_delta: float, units: float, shares: float) -> float:
    """The position's delta, in shares: the puts' and the shares held."""
    return PUTS_PER_UNIT * MULTIPLIER * units * put_delta + shares


def hedge(put_delta: float, units: float, shares: float, band: float) -> int:
    """Shares to buy (+) or sell (-) now: none while the delta is inside ``band`` x 100 x units of zero, else
    what brings it to the neutral quantity."""
    if abs(position_delta(put_delta, units, shares)) <= band * MULTIPLIER * units + 1e-9:
        return 0
    return int(neutral_shares(put_delta, units) - round(shares))


def split(trades: Sequence[ShareTrade], units: float, price_now: float | None) -> PnlSplit:
    """The shares' result split into the base and the scalping (module docstring). ``price_now`` marks the
    shares still held; with none held the last trade's price closes the base. No trade yet: all zero."""
    if not trades:
        return PnlSplit(0.0, 0.0, 0.0)
    held = sum(t.qty if t.side == Side.BUY else -t.qty for t in trades)
    cash = sum((-t.qty if t.side == Side.BUY else t.qty) * t.price - t.commission for t in trades)
    flat = abs(held) < 1e-9
    mark = trades[-1].price if flat or price_now is None else price_now
    shares = cash + (0.0 if flat else held * mark)
    first = next((t.price for t in trades if t.side == Side.BUY), trades[0].price)
    base = MULTIPLIER * units * (mark - first)
    return PnlSplit(round(shares, 2), round(base, 2), round(shares - base, 2))


def exit_reason(total_pnl: float, risk: float, days_left: int, rules: GammaRules) -> tuple[LegKind, str] | None:
    """Why an open gamma position whose whole result is ``total_pnl`` (dollars, against ``risk``, its maximum
    loss at entry) is closed now; None: it is held."""
    if risk > 0 and total_pnl >= risk * rules.profit_target_pct / 100 - 1e-9:
        return LegKind.PROFIT_TAKE, f"made ${total_pnl:,.2f}: {rules.profit_target_pct:g}% of the ${risk:,.2f} at risk"
    if risk > 0 and total_pnl <= -risk * rules.stop_pct / 100 + 1e-9:
        return LegKind.LOSS_CUT, f"lost ${-total_pnl:,.2f}: {rules.stop_pct:g}% of the ${risk:,.2f} at risk"
    if days_left < rules.exit_dte:
        return LegKind.TIME_EXIT, f"{days_left} day(s) to expiry, under {rules.exit_dte}"
    return None
