"""sync's options part: the options book brought level with the broker's option fills, expiries and positions.

It runs inside ``sync`` after the stock fills are recorded and before the books are compared with the broker,
because an exercise or an assignment moves shares: those shares are recorded first, into the options book, so
the stock comparison sees them. Option orders need nothing of their own here: an option intent's order is
recorded by the gateway when it is sent and refreshed by sync's order pass like any other (the ledger asks the
broker about every order it holds as open).

Gather (the broker's option fills and expiry events since the last recorded, its option positions) → plan
(frozen: which fills and events are new and which structure each belongs to, through its order's intent's
``position_key``) → apply (one write each), then each structure whose orders or events moved is brought up to
date (``structure_updates``) and the per-contract holdings are compared with the broker's.

A structure's result is measured in full at expiry: a contract in the money is valued at its intrinsic value
from the underlying's close that day, and the shares it delivers enter the options book's stock position at
that close (the broker carries them at the strike; only the quantity is compared). So a spread that expires
in the money shows its whole gain on the structure, and an assigned put's shares start at the market price,
its loss (strike above the close) on the put. Without that close in the data, the strike is used: the
structure then shows the premium only and the stock position carries the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from autotrader.domain.enums import IntentStatus, OptionEventKind, OrderClass, OrderType, TimeInForce
from autotrader.domain.models import BrokerOrder, Fill
from autotrader.domain.options import MULTIPLIER, OptionEvent, is_option_order, parse_occ
from autotrader.domain.reports import OptionsSync
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext
from autotrader.ports import OptionsBroker

OVERLAP = timedelta(minutes=5)  # late reports: listed again from a little before the last one recorded
_ENDED = frozenset({IntentStatus.CANCELED, IntentStatus.EXPIRED, IntentStatus.REJECTED, IntentStatus.ABANDONED})


@dataclass(frozen=True)
class OptionSyncPlan:
    fills: tuple[tuple[Fill, str | None, str | None], ...]  # (fill, its order's client order id, structure id)
    events: tuple[tuple[OptionEvent, str | None], ...]  # (event, the structure holding that contract)
    unexplained: tuple[str, ...]  # fills of orders the ledger did not send


def gather(ctx: StepContext, broker: OptionsBroker) -> tuple[list[Fill], list[OptionEvent]]:
    ledger = ctx.ledger
    fills_after = store.last_option_fill_at(ledger)
    events_after = store.last_option_event_at(ledger)
    fills = broker.option_fills(after=fills_after - OVERLAP if fills_after else None)
    events = broker.option_events(after=events_after - OVERLAP if events_after else None)
    return fills, events


def plan(ctx: StepContext, fills: Iterable[Fill], events: Iterable[OptionEvent]) -> OptionSyncPlan:
    ledger = ctx.ledger
    known = store.known_option_fill_ids(ledger)
    seen_events = {e.event_id for e in store.option_events(ledger)}
    planned, unexplained = [], []
    for fill in fills:
        if fill.fill_id in known:
            continue
        owner = store.intent_of_order(ledger, fill.broker_order_id)
        if owner is None:
            unexplained.append(fill.fill_id)
        planned.append((fill, owner[0] if owner else None, owner[1] if owner else None))
    holders = store.structures_holding(ledger)
    new_events = tuple((e, holders.get(e.symbol)) for e in events if e.event_id not in seen_events)
    return OptionSyncPlan(tuple(planned), new_events, tuple(unexplained))


def apply(ctx: StepContext, p: OptionSyncPlan) -> tuple[int, int]:
    """Record the new fills and events (and the shares the events delivered); (fills, events) recorded."""
    ledger, new_fills, new_events = ctx.ledger, 0, 0
    for fill, cid, structure_id in p.fills:
        with ledger.write():
            if store.record_option_fill(ledger, fill, client_order_id=cid, structure_id=structure_id,
                                        run_id=ctx.run_id, now=ctx.now):  # fmt: skip
                new_fills += 1
                ctx.log.event("option_fill", fill_id=fill.fill_id, symbol=fill.symbol, qty=fill.qty, price=fill.price)
    for event, structure_id in p.events:
        close = _underlying_close(ctx, event)
        with ledger.write():
            if store.record_option_event(ledger, event, structure_id=structure_id, now=ctx.now):
                new_events += 1
                _deliver(ctx, event, close)
                ctx.log.event("option_event", event_id=event.event_id, kind=str(event.kind), symbol=event.symbol)
    return new_fills, new_events


def _underlying_close(ctx: StepContext, event: OptionEvent) -> float | None:
    """The underlying's close on the expiry session (what the contract was worth), None when the data lacks it."""
    contract = parse_occ(event.symbol)
    bars = ctx.deps.market_data.daily_bars(contract.underlying, contract.expiry, contract.expiry)
    return float(bars["close"].iloc[-1]) if bars is not None and len(bars) else None


def _deliver(ctx: StepContext, event: OptionEvent, close: float | None) -> None:
    """The shares an exercise or assignment moved, as a stock fill of the options book (inside the caller's
    transaction): at the day's close (module docstring), else at the strike."""
    if event.share_side is None or event.share_qty <= 0:
        return
    underlying = parse_occ(event.symbol).underlying
    price = close if close is not None else event.share_price
    assert price is not None
    order = BrokerOrder(
        broker_order_id=event.event_id, client_order_id="", symbol=underlying, side=event.share_side,
        qty=event.share_qty, type=OrderType.LIMIT, time_in_force=TimeInForce.DAY, status="filled",
        filled_qty=event.share_qty, filled_avg_price=price, limit_price=event.share_price,
        order_class=OrderClass.SIMPLE, submitted_at=event.at, updated_at=event.at,
    )  # fmt: skip
    repo.upsert_order(ctx.ledger, order, book="options", now=ctx.now)
    fill = Fill(event.event_id, event.event_id, underlying, event.share_side, event.share_qty, price, event.at)
    repo.record_fill(ctx.ledger, fill, book="options", run_id=ctx.run_id, now=ctx.now)


# -- structures ----------------------------------------------------------------------------------------------


def _net(fills: Iterable[store.OptionFillRow], units: float) -> tuple[float, float]:
    """(net per share of the structure: + paid, - received; the commissions) of these fills."""
    rows = list(fills)
    paid = sum((1 if f.side == "buy" else -1) * f.qty * f.price for f in rows)
    return paid / units, sum(f.commission for f in rows)


def structure_updates(ctx: StepContext) -> tuple[int, int]:
    """Each opening or open structure brought up to date from its intents, fills and events; (opened, closed)."""
    ledger, opened, closed = ctx.ledger, 0, 0
    for s in store.structures(ledger, statuses=("opening", "open", "closing")):
        intents = repo.position_intents(ledger, s.structure_id)
        fills = store.option_fills(ledger, structure_id=s.structure_id)
        events = store.option_events(ledger, structure_id=s.structure_id)
        change = _structure_change(ctx, s, intents, fills, events)
        if change:
            with ledger.write():
                store.update_structure(ledger, s.structure_id, **change)
            opened += change.get("status") == "open"
            closed += change.get("status") in ("closed", "abandoned")
    return opened, closed


def held_legs(s: store.StructureRow, fills: Iterable[store.OptionFillRow], events: Iterable[OptionEvent]) -> set[str]:
    """The structure's contracts still held by its own fills (bought and not sold, or sold and not bought back)
    and not ended by an expiry event: what is left of it once one side has been closed."""
    held: dict[str, float] = {}
    for f in fills:
        held[f.symbol] = held.get(f.symbol, 0.0) + (f.qty if f.side == "buy" else -f.qty)
    ended = {e.symbol for e in events}
    return {leg["symbol"] for leg in s.legs if abs(held.get(leg["symbol"], 0.0)) > 1e-9 and leg["symbol"] not in ended}


def _structure_change(
    ctx: StepContext,
    s: store.StructureRow,
    intents: list[dict[str, Any]],
    fills: list[store.OptionFillRow],
    events: list[OptionEvent],
) -> dict[str, Any]:
    """Opened once its opening order filled; closed once none of its legs is held any more, by closing orders
    (the whole structure at once, or one side and later the rest) or by expiry, its result every cash flow of
    its fills and what the legs that expired were worth."""
    intents = [i for i in intents if is_option_order(i["symbol"], i["order_class"])]  # not the hedge's shares
    opening = [i for i in intents if i["leg"] == "entry"]
    closing = [i for i in intents if i["leg"] != "entry"]
    open_fills = [f for f in fills if f.client_order_id in {i["client_order_id"] for i in opening}]
    close_fills = [f for f in fills if f.client_order_id in {i["client_order_id"] for i in closing}]
    if s.status == "opening":
        if any(i["status"] == IntentStatus.FILLED for i in opening):
            open_net, _ = _net(open_fills, s.units)
            return {"status": "open", "open_net": round(open_net, 4), "opened_at": max(f.filled_at for f in open_fills)}
        if opening and all(IntentStatus(i["status"]) in _ENDED for i in opening) and not open_fills:
            return {"status": "abandoned", "closed_at": repo.utc_iso(ctx.now), "close_reason": "never filled"}
        return {}
    if not open_fills or held_legs(s, [*open_fills, *close_fills], events):
        return {}
    open_net, open_fees = _net(open_fills, s.units)
    close_net, close_fees = _net(close_fills, s.units) if close_fills else (0.0, 0.0)
    value = _expiry_value(ctx, s, events)
    pnl = (value - open_net - close_net) * MULTIPLIER * s.units - open_fees - close_fees
    filled = [i["reason"] for i in closing if i["status"] == IntentStatus.FILLED]
    ended = [f.filled_at for f in close_fills] + [repo.utc_iso(e.at) for e in events]
    reason = "; ".join(filled)
    if events:
        expiry = "expiry: " + ", ".join(sorted({str(e.kind) for e in events}))
        reason = f"{reason}; the rest at {expiry}" if reason else expiry
    return {"status": "closed", "close_net": round(close_net - value, 4), "realized_pnl": round(pnl, 2),
            "closed_at": max(ended), "close_reason": reason}  # fmt: skip


def _expiry_value(ctx: StepContext, s: store.StructureRow, events: list[OptionEvent]) -> float:
    """What the legs that expired were worth per unit per share: each contract's intrinsic value at the close (or
    its cash settlement), bought legs + and sold legs -; legs closed before expiry have no event and add nothing."""
    by_symbol = {e.symbol: e for e in events}
    value = 0.0
    for leg in s.legs:
        event = by_symbol.get(leg["symbol"])
        sign = 1 if leg["side"] == "buy" else -1
        if event is None or event.kind == OptionEventKind.EXPIRED:
            continue
        if event.kind == OptionEventKind.CASH_SETTLED:
            value += abs(event.cash) / (event.qty * MULTIPLIER) * sign * leg["ratio"]
            continue
        contract = parse_occ(leg["symbol"])
        close = _underlying_close(ctx, event)
        worth = contract.intrinsic(close) if close is not None else 0.0
        value += sign * leg["ratio"] * worth
    return value


def holdings_diffs(ledger_held: Mapping[str, float], broker_held: Mapping[str, float]) -> list[dict[str, Any]]:
    """A difference per contract whose ledger quantity is not the broker's."""
    out = []
    for symbol in sorted(set(ledger_held) | set(broker_held)):
        mine, theirs = ledger_held.get(symbol, 0.0), broker_held.get(symbol, 0.0)
        if abs(mine - theirs) > 1e-9:
            out.append({"kind": "option_position_mismatch", "symbol": symbol, "ledger_qty": mine,
                        "broker_qty": theirs, "difference": theirs - mine})  # fmt: skip
    return out


def run(ctx: StepContext, broker: OptionsBroker) -> tuple[OptionsSync, list[dict[str, Any]]]:
    """The options part of one sync: what it recorded, and the differences it found (module docstring)."""
    fills, events = gather(ctx, broker)
    p = plan(ctx, fills, events)
    new_fills, new_events = apply(ctx, p)
    opened, closed = structure_updates(ctx)
    broker_held = {pos.symbol: pos.qty for pos in broker.option_positions()}
    diffs = holdings_diffs(store.option_holdings(ctx.ledger), broker_held)
    diffs.extend({"kind": "fill_without_order", "fill_id": fill_id} for fill_id in p.unexplained)
    summary = OptionsSync(new_fills=new_fills, events=new_events, opened=opened, closed=closed,
                          open_structures=len(store.structures(ctx.ledger, statuses=("opening", "open", "closing"))))
    return summary, diffs  # fmt: skip
