"""``sync``: reconcile the broker into the ledger: what the broker holds is checked, never assumed.

1. Settle intents a previous run left in flight (the gateway's resolution rules).
2. Refresh every broker order since the last sync: ours update their intents; ones the ledger did not
   create are recorded in the ``external`` book and never touched.
3. Record new fills exactly once (by fill id) and apply them to their book's position.
4. Check that, per symbol, the books sum to the broker's position. Any unexplained difference is reported
   with the numbers and the run exits 3: buying halts until a human looks.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from autotrader.domain.enums import Book, IntentStatus
from autotrader.domain.reports import Report
from autotrader.ledger import repo
from autotrader.pipeline import corporate_actions, positions
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway

# Fills are fetched from a little before the newest one we hold: ids make the overlap harmless, and it
# catches executions the broker stamps slightly out of order.
FILL_OVERLAP = timedelta(days=1)
ORDER_OVERLAP = timedelta(days=7)
QTY_TOLERANCE = 1e-6


def run(ctx: StepContext, *, clear_halt: tuple[str, ...] = ()) -> Report:
    deps = ctx.deps
    broker = deps.broker
    ledger = ctx.ledger
    now = ctx.now
    gateway = OrderGateway(ledger, broker, deps.clock, run_id=ctx.run_id, log=ctx.log)
    report = ctx.report()

    if clear_halt:  # checked before anything is reconciled: a bad symbol changes nothing
        positions.clear_halts(ctx, clear_halt)
    settled = gateway.resolve_in_flight()

    orders_after = repo.parse_utc(repo.kv_get(ledger, "sync.orders_after"))
    broker_orders = _orders_to_refresh(ledger, broker, orders_after)
    external = 0
    known = {
        row["broker_order_id"]: (row["status"], row["filled_qty"], row["filled_avg_price"])
        for row in ledger.query("SELECT broker_order_id, status, filled_qty, filled_avg_price FROM orders")
    }
    for order in broker_orders:
        if _unchanged(order, known):
            continue  # the ledger already holds exactly this: nothing to write
        status = gateway.adopt(order)
        if status is None and repo.order_book(ledger, order.broker_order_id) == Book.EXTERNAL:
            external += 1

    fills_after = repo.last_fill_at(ledger)
    new_fills = 0
    unexplained_fills: dict[str, str] = {}  # fill id -> symbol
    for fill in broker.fills(after=fills_after - FILL_OVERLAP if fills_after else None):
        book = repo.order_book(ledger, fill.broker_order_id)
        if book is None:
            # A fill of an order the broker did not list (older than our window): look it up once.
            unexplained_fills[fill.fill_id] = fill.symbol
            continue
        with ledger.write():
            if repo.record_fill(ledger, fill, book=book, run_id=ctx.run_id, now=now):
                new_fills += 1
                ctx.log.event(
                    "fill", fill_id=fill.fill_id, symbol=fill.symbol, qty=fill.qty, price=fill.price, book=book
                )

    diffs = _position_diffs(ledger, broker.positions())
    # A quantity change that a split explains is applied, not reported (never where fills are unexplained).
    diffs, applied_splits = corporate_actions.explain_splits(ctx, diffs, exclude=set(unexplained_fills.values()))
    for fill_id in unexplained_fills:
        diffs.append({"kind": "fill_without_order", "fill_id": fill_id})

    managed = positions.refresh(ctx)
    disputed = frozenset(d["symbol"] for d in diffs if "symbol" in d)
    protected = positions.maintain_protection(ctx, gateway, managed, skip=disputed)
    for m in managed:
        if m.position.halted_reason:
            diffs.append({"kind": "halted", "symbol": m.position.symbol, "reason": m.position.halted_reason})

    with ledger.write():
        if broker_orders:
            newest = max((o.submitted_at for o in broker_orders if o.submitted_at), default=None)
            if newest is not None:
                repo.kv_set(ledger, "sync.orders_after", repo.utc_iso(newest), now=now)
        repo.kv_set(ledger, "sync.last_at", repo.utc_iso(now), now=now)

    unknown = [r for r in settled if r.status == IntentStatus.UNKNOWN]
    report.fields.update(
        {
            "settled": [
                {"client_order_id": r.client_order_id, "status": str(r.status), "message": r.message} for r in settled
            ],
            "orders_seen": len(broker_orders),
            "external_orders": external,
            "new_fills": new_fills,
            "diffs": diffs,
            "unknown_intents": [r.client_order_id for r in unknown],
            "splits": applied_splits,
            "protective_orders": [
                {"client_order_id": r.client_order_id, "status": str(r.status), "message": r.message} for r in protected
            ],
        }
    )
    report.notes.append(
        f"{len(broker_orders)} broker orders seen, {new_fills} new fills recorded, {len(settled)} in-flight settled"
    )
    if diffs or unknown:
        report.ok = False
        report.exit_code = 3
        if diffs:
            report.notes.append(f"{len(diffs)} unexplained difference(s) between broker and ledger: buying halted")
        if unknown:
            report.notes.append(f"{len(unknown)} order(s) with unknown outcome: buying halted until resolved")
    return report


def _orders_to_refresh(ledger, broker, orders_after) -> list:
    """Orders submitted since the watermark (new ones, ours or external), every open order (a GTC exit
    submitted long ago can fill today), and each order the ledger still holds as open but the broker no
    longer lists as open (it ended: look it up once to learn how)."""
    found = {
        o.broker_order_id: o
        for o in broker.orders(status="all", after=orders_after - ORDER_OVERLAP if orders_after else None)
    }
    for order in broker.orders(status="open"):
        found.setdefault(order.broker_order_id, order)
    seen = set(found)
    for order in found.values():
        seen.update(leg.broker_order_id for leg in order.legs)
    terminal = [str(s) for s in ("filled", "canceled", "expired", "replaced", "rejected", "done_for_day")]
    marks = ",".join("?" for _ in terminal)
    for row in ledger.query(
        f"SELECT broker_order_id, client_order_id FROM orders "
        f"WHERE status NOT IN ({marks}) AND client_order_id IS NOT NULL",
        terminal,
    ):
        if row["broker_order_id"] in seen:
            continue
        order = broker.order_by_client_id(row["client_order_id"])
        if order is not None:
            found.setdefault(order.broker_order_id, order)
    return sorted(
        found.values(), key=lambda o: (o.submitted_at.isoformat() if o.submitted_at else "", o.broker_order_id)
    )


def _unchanged(order, known: dict) -> bool:
    seen = known.get(order.broker_order_id)
    if seen != (str(order.status), order.filled_qty, order.filled_avg_price):
        return False
    return all(_unchanged(leg, known) for leg in order.legs)


def _position_diffs(ledger, broker_positions) -> list[dict]:
    ledger_qty: dict[str, float] = defaultdict(float)
    by_book: dict[str, dict[str, float]] = defaultdict(dict)
    for position in repo.all_positions(ledger):
        ledger_qty[position.symbol] += position.qty
        by_book[position.symbol][position.book] = position.qty
    broker_qty = {p.symbol: p.qty for p in broker_positions}
    diffs = []
    for symbol in sorted(set(ledger_qty) | set(broker_qty)):
        ours, theirs = ledger_qty.get(symbol, 0.0), broker_qty.get(symbol, 0.0)
        if abs(ours - theirs) > QTY_TOLERANCE:
            diffs.append(
                {
                    "kind": "position_mismatch",
                    "symbol": symbol,
                    "broker_qty": theirs,
                    "ledger_qty": ours,
                    "by_book": by_book.get(symbol, {}),
                    "difference": theirs - ours,
                }
            )
    return diffs
