"""Trades and what management was worth: pick-only versus managed P&L, leg by leg. Pure.

A *trade* is one life of a position in one book and symbol: it opens when the quantity leaves zero and
closes when it returns there. Its first leg is the entry (every fill of the entry order); every later
fill is a management or exit leg (dip-buy tier N, profit-take tier N, loss cut, stop, target, time exit).

**Pick-only** P&L is the entry alone held to the signal's rule exit at price ``X`` (the stop, the target or
the horizon's close; the current mark ``M`` while that exit has not happened):

    pick = q0 · (X − p0) − c0

**Managed** P&L is what actually happened: every fill's cash flow plus the open remainder at the mark:

    managed = Σ_i (−q_i · p_i − c_i) + Q_open · M          (q_i > 0 buys, q_i < 0 sells)

Each later fill i is valued against the pick's exit, and an open remainder against the mark:

    leg_i = −q_i · (p_i − X) − c_i          (a sell at p_i instead of X; a buy at p_i valued at X)
    open  = Q_open · (M − X)

Since Σ q_i over all fills = Q_open, ``managed − pick = Σ leg_i + open`` exactly, for any sequence of fills:
management alpha is the sum of the legs' values, with nothing left over to explain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

EPS = 1e-9


@dataclass(frozen=True, slots=True)
class LegFill:
    """One fill, with the leg its order was for (from the order intent; external fills are not traded here)."""

    fill_id: str
    book: str
    symbol: str
    side: str  # buy | sell
    qty: float  # > 0
    price: float
    commission: float
    filled_at: datetime
    leg: str  # entry, dip_buy, profit_take, loss_cut, stop, target, trail, time_exit, signal_exit, rebalance
    tier: int = 0
    signal_id: int | None = None

    @property
    def signed_qty(self) -> float:
        return self.qty if self.side == "buy" else -self.qty


@dataclass(frozen=True)
class Trade:
    trade_id: str
    book: str
    symbol: str
    signal_id: int | None
    fills: tuple[LegFill, ...]
    opened_at: datetime
    closed_at: datetime | None  # None while open

    @property
    def entry_fills(self) -> tuple[LegFill, ...]:
        """The opening leg: the first fill and every later fill of the same entry order kind."""
        first = self.fills[0]
        return tuple(f for f in self.fills if f.leg == first.leg and f.side == first.side and f.tier == first.tier)

    @property
    def entry_qty(self) -> float:
        return sum(f.qty for f in self.entry_fills)

    @property
    def entry_price(self) -> float:
        fills = self.entry_fills
        return sum(f.qty * f.price for f in fills) / sum(f.qty for f in fills)

    @property
    def entry_commission(self) -> float:
        return sum(f.commission for f in self.entry_fills)

    @property
    def legs(self) -> tuple[LegFill, ...]:
        entry = set(id(f) for f in self.entry_fills)
        return tuple(f for f in self.fills if id(f) not in entry)

    @property
    def open_qty(self) -> float:
        total = sum(f.signed_qty for f in self.fills)
        return 0.0 if abs(total) < EPS else total

    @property
    def exit_reason(self) -> str | None:
        """The leg of the fill that closed the trade (None while open)."""
        return self.fills[-1].leg if self.closed_at is not None else None


def split_trades(fills: Iterable[LegFill]) -> list[Trade]:
    """Cut each (book, symbol)'s fills, in time order, into trades at every return to a flat position."""
    by_key: dict[tuple[str, str], list[LegFill]] = defaultdict(list)
    for fill in sorted(fills, key=lambda f: (f.filled_at, f.fill_id)):
        by_key[(fill.book, fill.symbol)].append(fill)
    trades: list[Trade] = []
    for (book, symbol), series in by_key.items():
        current: list[LegFill] = []
        qty = 0.0
        for fill in series:
            current.append(fill)
            qty += fill.signed_qty
            if abs(qty) < EPS:
                trades.append(_trade(book, symbol, current, closed=True))
                current, qty = [], 0.0
        if current:
            trades.append(_trade(book, symbol, current, closed=False))
    return sorted(trades, key=lambda t: (t.opened_at, t.trade_id))


def _trade(book: str, symbol: str, fills: list[LegFill], *, closed: bool) -> Trade:
    signal_id = next((f.signal_id for f in fills if f.signal_id is not None), None)
    return Trade(
        trade_id=f"{book}:{symbol}:{fills[0].fill_id}",
        book=book,
        symbol=symbol,
        signal_id=signal_id,
        fills=tuple(fills),
        opened_at=fills[0].filled_at,
        closed_at=fills[-1].filled_at if closed else None,
    )


@dataclass(frozen=True)
class LegValue:
    action: str  # the leg kind, or "open_remainder"
    tier: int
    qty: float  # signed
    price: float
    pnl_vs_pick: float
    realized: float = 0.0  # a sell's P&L at the average cost it sold from, net of commission (buys: −commission)


@dataclass(frozen=True)
class Attribution:
    pick_pnl: float
    managed_pnl: float
    legs: tuple[LegValue, ...] = field(default_factory=tuple)

    @property
    def management_alpha(self) -> float:
        return self.managed_pnl - self.pick_pnl

    def by_action(self) -> dict[str, float]:
        """Leg values summed per action and per ``action:tier`` (tiers > 0 only)."""
        out: dict[str, float] = defaultdict(float)
        for leg in self.legs:
            out[leg.action] += leg.pnl_vs_pick
            if leg.tier:
                out[f"{leg.action}:{leg.tier}"] += leg.pnl_vs_pick
        return dict(out)


def attribute(trade: Trade, *, pick_exit_price: float, mark_price: float) -> Attribution:
    """Split a trade's managed P&L into the pick's and each leg's contribution (module docstring formulas).

    ``pick_exit_price`` is X (the rule exit's price, or the mark while it is pending); ``mark_price`` is M,
    used only for a quantity still open. The entry is taken as a long position (the toolkit buys signals).
    """
    x, m = pick_exit_price, mark_price
    q0, p0, c0 = trade.entry_qty, trade.entry_price, trade.entry_commission
    if trade.fills[0].side == "sell":
        q0 = -q0
    pick = q0 * (x - p0) - c0
    realized = _realized_by_fill(trade)
    values = [
        LegValue(f.leg, f.tier, f.signed_qty, f.price, -f.signed_qty * (f.price - x) - f.commission, realized[id(f)])
        for f in trade.legs
    ]
    open_qty = trade.open_qty
    if abs(open_qty) > EPS:
        values.append(LegValue("open_remainder", 0, open_qty, m, open_qty * (m - x)))
    return Attribution(pick_pnl=pick, managed_pnl=managed_pnl(trade, m), legs=tuple(values))


def managed_pnl(trade: Trade, mark_price: float) -> float:
    """What the trade made as managed: every fill's cash and commission, and a quantity still open at the mark
    (a closed trade's does not depend on the mark)."""
    return sum(-f.signed_qty * f.price - f.commission for f in trade.fills) + trade.open_qty * mark_price


def _realized_by_fill(trade: Trade) -> dict[int, float]:
    """Average-cost accounting over the trade (as the ledger's positions do): a sell realizes
    ``q · (p − average cost)``; a buy moves the average. Commissions are charged to their own fill."""
    held = cost = 0.0
    out: dict[int, float] = {}
    for f in trade.fills:
        if f.side == "buy":
            held += f.qty
            cost += f.qty * f.price
            out[id(f)] = -f.commission
        else:
            average = cost / held if held > EPS else f.price
            out[id(f)] = f.qty * (f.price - average) - f.commission
            cost -= f.qty * average
            held -= f.qty
    return out
