"""Trades as the scorecard and the nightly review see them: fills cut into position lives, each with its
signal, the pick's rule exit from the actual entry, and the managed-versus-pick attribution.

The lineage of a traded signal is: signal → decision → entry order intent → entry fill(s) → management
legs (dip_buy tier N, profit_take tier N, loss_cut, stop, target, time_exit) → the exit with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from autotrader.clock import ET
from autotrader.ledger import repo, scoring
from autotrader.pipeline import outcomes
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.corporate_actions import split_factor
from autotrader.pipeline.prefetch import warm_daily_bars
from autotrader.policy.attribution import Attribution, LegFill, Trade, attribute, managed_pnl, split_trades
from autotrader.policy.outcomes import RuleExit


@dataclass(frozen=True)
class TradeView:
    trade: Trade
    signal: dict[str, Any] | None
    pick_exit: RuleExit | None  # the pick's rule exit from this trade's entry (None: no signal or no data)
    mark: float
    attribution: Attribution
    risk_per_share: float | None
    excursion: tuple[float | None, float | None]  # (MFE, MAE) over the holding period, fractions of entry
    benchmark_return: float | None  # SPY over the holding period

    @property
    def category(self) -> str | None:
        return self.signal["category"] if self.signal else None

    def r_multiple(self, pnl: float) -> float | None:
        if not self.risk_per_share:
            return None
        return pnl / (self.trade.entry_qty * self.risk_per_share)

    def holding_days(self, now: datetime) -> float:
        end = self.trade.closed_at or now
        return (end - self.trade.opened_at).total_seconds() / 86400

    def review(self) -> dict[str, Any]:
        """What rehydrate stores for a closed trade (and hands to an external reviewer)."""
        trade, attribution = self.trade, self.attribution
        invested = trade.entry_qty * trade.entry_price
        trade_return = attribution.managed_pnl / invested if invested else None
        return {
            "trade_id": trade.trade_id,
            "signal_id": trade.signal_id,
            "book": trade.book,
            "symbol": trade.symbol,
            "category": self.category,
            "source": self.signal["source"] if self.signal else None,
            "conviction": self.signal["conviction"] if self.signal else None,
            "opened_at": trade.opened_at.isoformat(),
            "closed_at": trade.closed_at.isoformat() if trade.closed_at else None,
            "holding_days": round(self.holding_days(trade.opened_at), 4) if trade.closed_at else None,
            "entry_qty": trade.entry_qty,
            "entry_price": round(trade.entry_price, 4),
            "exit_reason": trade.exit_reason,
            "managed_pnl": round(attribution.managed_pnl, 2),
            "pick_pnl": round(attribution.pick_pnl, 2),
            "management_alpha": round(attribution.management_alpha, 2),
            "management": [
                {"action": leg.action, "tier": leg.tier, "qty": leg.qty, "price": leg.price,
                 "value_vs_pick": round(leg.pnl_vs_pick, 2), "realized_pnl": round(leg.realized, 2)}
                for leg in attribution.legs
            ],
            "r_multiple": _round(self.r_multiple(attribution.managed_pnl)),
            "pick_r_multiple": _round(self.r_multiple(attribution.pick_pnl)),
            "pick_exit": (
                {"reason": self.pick_exit.reason, "price": self.pick_exit.exit_price, "status": self.pick_exit.status}
                if self.pick_exit
                else None
            ),
            "mfe": _round(self.excursion[0]),
            "mae": _round(self.excursion[1]),
            "return": _round(trade_return),
            "benchmark_return": _round(self.benchmark_return),
            "beat_benchmark": (
                None if trade_return is None or self.benchmark_return is None else trade_return > self.benchmark_return
            ),
        }  # fmt: skip


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class TradeOutline:
    """A trade and its signal's category, without the market data (the pick's rule exit, excursions, benchmark)
    a ``TradeView`` reads for the scorecard: what the circuit breakers, Kelly sizing and the evening snapshot
    need, read every session however long the history."""

    trade: Trade
    category: str | None  # its signal's, None for a trade without one

    @property
    def managed_pnl(self) -> float:
        """A closed trade's P&L: its fills' cash (the mark of an open quantity is the last fill's price)."""
        return managed_pnl(self.trade, self.trade.fills[-1].price)

    @property
    def open_cost(self) -> float:
        """What the quantity still held cost, at its average cost (the ledger's positions' accounting)."""
        held = cost = 0.0
        for fill in self.trade.fills:
            if fill.side == "buy":
                cost += fill.qty * fill.price
                held += fill.qty
            else:
                cost -= fill.qty * (cost / held if held else 0.0)
                held -= fill.qty
        return self.trade.open_qty * (cost / held if held > 1e-9 else 0.0)


def outlines(ctx: StepContext) -> list[TradeOutline]:
    """Every trade of our books at the as-of instant (``load``'s, in its order), outlined."""
    trades = split_trades(_fills(ctx))
    signals = scoring.signals_by_id(ctx.ledger, sorted({t.signal_id for t in trades if t.signal_id is not None}))
    return [
        TradeOutline(t, signals[t.signal_id]["category"] if t.signal_id in signals else None)
        for t in trades
    ]


def closed(ctx: StepContext) -> list[TradeOutline]:
    """The closed trades of our books at the as-of instant, oldest close first."""
    done = [o for o in outlines(ctx) if o.trade.closed_at is not None]
    return sorted(done, key=lambda o: o.trade.closed_at)  # type: ignore[arg-type, return-value]


def _fills(ctx: StepContext) -> list[LegFill]:
    """Our books' fills up to the as-of (external fills excluded), in post-split units."""
    # Fills up to the as-of only: a scorecard or review at an earlier instant must not see later trading.
    as_of = repo.utc_iso(ctx.now)
    rows = [r for r in repo.leg_fills(ctx.ledger) if r["filled_at"] <= as_of]
    if not rows:
        return []
    # Fills before a split are restated in post-split units: the same cash, and quantities that add up.
    splits = repo.splits(ctx.ledger)
    fills = []
    for r in rows:
        k = split_factor(splits, r["symbol"], r["filled_at"])
        fills.append(
            LegFill(
                r["fill_id"], r["book"], r["symbol"], r["side"], r["qty"] * k, r["price"] / k, r["commission"],
                datetime.fromisoformat(r["filled_at"]), r["leg"], int(r["tier"] or 0), r["signal_id"],
            )
        )  # fmt: skip
    return fills


def load(ctx: StepContext, *, keep: Callable[[Trade], bool] | None = None) -> list[TradeView]:
    """Every trade of our books (external fills excluded), with its attribution at the as-of instant; with
    ``keep``, only the trades it keeps (the market data is read for those alone)."""
    fills = _fills(ctx)
    if not fills:
        return []
    signal_ids = sorted({f.signal_id for f in fills if f.signal_id is not None})
    signals = scoring.signals_by_id(ctx.ledger, signal_ids)
    views = []
    histories: dict[str, outcomes.SymbolHistory | None] = {}
    trades = [t for t in split_trades(fills) if keep is None or keep(t)]
    # A symbol's history starts before its first fill of all, whichever trades are kept: indicators seeded
    # from the history's start (Wilder's ATR) give a trade the same values either way.
    first_fills: dict[str, datetime] = {}
    for f in fills:
        first_fills[f.symbol] = min(f.filled_at, first_fills.get(f.symbol, f.filled_at))
    if trades:
        # Every traded symbol's history (and the benchmark's) at once: one request per session, not per symbol.
        traded = sorted({t.symbol for t in trades})
        first_fill = min(first_fills[s] for s in traded).astimezone(ET).date()
        warm_daily_bars(
            ctx, [*traded, outcomes.BENCHMARK], first_fill - outcomes.LOOKBACK, ctx.now.astimezone(ET).date()
        )
    for trade in trades:
        signal = signals.get(trade.signal_id) if trade.signal_id is not None else None
        if trade.symbol not in histories:
            first = first_fills[trade.symbol]
            histories[trade.symbol] = outcomes.load_history(
                ctx, trade.symbol, first.astimezone(ET).date() - outcomes.LOOKBACK
            )
        views.append(_view(ctx, trade, signal, histories[trade.symbol]))
    return views


def _view(
    ctx: StepContext, trade: Trade, signal: dict[str, Any] | None, history: outcomes.SymbolHistory | None
) -> TradeView:
    quote = ctx.deps.market_data.latest_quote(trade.symbol)
    mark = quote.last if quote is not None else trade.fills[-1].price
    pick_exit = None
    risk = None
    excursion: tuple[float | None, float | None] = (None, None)
    benchmark = None
    entry_idx = _session_index(history, trade.opened_at) if history is not None else None
    if signal is not None and history is not None and entry_idx is not None:
        pick_exit = outcomes.rule_exit_from(ctx, signal, history, entry_idx, trade.entry_price)
        risk = outcomes.risk_per_share(ctx, signal, trade.entry_price)
    if history is not None and entry_idx is not None:
        exit_idx = _session_index(history, trade.closed_at) if trade.closed_at else len(history.bars) - 1
        exit_idx = len(history.bars) - 1 if exit_idx is None else exit_idx
        window = slice(entry_idx, exit_idx + 1)
        if exit_idx >= entry_idx:
            # nan-aware: a session missing from the data must not turn the excursions into NaN
            high, low = float(np.nanmax(history.bars.high[window])), float(np.nanmin(history.bars.low[window]))
            excursion = (max(0.0, high / trade.entry_price - 1), min(0.0, low / trade.entry_price - 1))
            if history.spy is not None:
                start, end = history.spy.open[entry_idx], history.spy.close[exit_idx]
                if start == start and end == end:  # not NaN
                    benchmark = float(end / start - 1)
    x = mark  # X: the pick's rule-exit price once complete, else the mark
    if pick_exit is not None and pick_exit.status == "complete" and pick_exit.exit_price is not None:
        x = pick_exit.exit_price
    return TradeView(
        trade=trade,
        signal=signal,
        pick_exit=pick_exit,
        mark=mark,
        attribution=attribute(trade, pick_exit_price=x, mark_price=mark),
        risk_per_share=risk,
        excursion=excursion,
        benchmark_return=benchmark,
    )


def _session_index(history: outcomes.SymbolHistory, at: datetime) -> int | None:
    """The index of the session (among complete bars) whose New York date is ``at``'s."""
    day = at.astimezone(ET).date()
    for i in range(len(history.bars) - 1, -1, -1):
        if history.bars.session_date(i) == day:
            return i
        if history.bars.session_date(i) < day:
            return None
    return None
