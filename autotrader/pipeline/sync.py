"""``sync``: reconcile the broker into the ledger.

1. Settle intents a previous run left in flight (the gateway's resolution rules).
2. Refresh every broker order since the last sync: ours update their intents; ones the ledger did not
   create are recorded in the ``external`` book and never touched.
3. Record new fills exactly once (by fill id) and apply them to their book's position.
4. Check that, per symbol, the books sum to the broker's position. Any unexplained difference is reported
   with the numbers and the run exits 3: buying halts until a human looks. So does an order whose outcome
   the broker cannot confirm, whether an earlier run left it or this one (a protective order) created it.

Each stage reads what it needs, decides in a pure function (a frozen plan), then applies it. The stages run
in this order because each one reads what the one before wrote (a fill's book comes from its adopted order,
the position check from the recorded fills).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from autotrader.domain import ids
from autotrader.domain.enums import Book, ExitCode, IntentStatus
from autotrader.domain.models import BrokerOrder, Fill
from autotrader.domain.money import QTY_TOLERANCE
from autotrader.domain.reports import OptionsSync, ReportDraft, SyncReport
from autotrader.killpoints import kill_point
from autotrader.ledger import options as option_store
from autotrader.ledger import repo
from autotrader.ledger.db import Ledger
from autotrader.pipeline import corporate_actions, positions
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import GatewayResult, OrderGateway
from autotrader.policy.order_doubt import doubt_exit_code, doubt_note
from autotrader.ports import Broker

# Fills are fetched from a little before the newest one we hold: ids make the overlap harmless, and it
# catches executions the broker stamps slightly out of order.
FILL_OVERLAP = timedelta(days=1)
ORDER_OVERLAP = timedelta(days=7)
# The broker's change number (``ports.OrderChanges``) up to which every order change has been reconciled.
CURSOR_KEY = "sync.order_changes_after"


# -- plans: what to write, decided from what was read ----------------------------------------------------------


@dataclass(frozen=True)
class OrdersPlan:
    seen: tuple[BrokerOrder, ...]  # every order refreshed, oldest first
    to_adopt: tuple[BrokerOrder, ...]  # those whose status or fills differ from the ledger's record
    without_intent: tuple[BrokerOrder, ...]  # ours by their id, yet unknown to this ledger: not adopted
    watermark: datetime | None  # the newest submission seen: the next sync lists orders from there


@dataclass(frozen=True)
class FillsPlan:
    to_record: tuple[tuple[Fill, str], ...]  # each fill with the book of its order
    unexplained: Mapping[str, str]  # fill id → symbol: fills of orders the ledger does not hold


@dataclass(frozen=True)
class SyncOutcome:
    settled: tuple[GatewayResult, ...]
    orders_seen: int
    external_orders: int
    new_fills: int
    diffs: tuple[dict[str, Any], ...]
    splits: tuple[dict[str, Any], ...]
    protective_orders: tuple[GatewayResult, ...]
    in_doubt: tuple[str, ...]  # UNKNOWN intents once the sync is done, whichever run created them
    options: OptionsSync | None = None  # the options book's part, when there is one


def plan_orders(
    orders: Sequence[BrokerOrder], recorded: Mapping[str, repo.OrderProgress], intents: Set[str]
) -> OrdersPlan:
    """``recorded``: what the ledger holds of each broker order; ``intents``: the client order ids among
    ``orders`` the ledger holds an intent for."""
    newest = max((o.submitted_at for o in orders if o.submitted_at), default=None)
    strays = tuple(o for o in orders if _without_intent(o, recorded, intents))
    changed = tuple(o for o in orders if o not in strays and not _unchanged(o, recorded))
    return OrdersPlan(seen=tuple(orders), to_adopt=changed, without_intent=strays, watermark=newest)


def _without_intent(order: BrokerOrder, recorded: Mapping[str, repo.OrderProgress], intents: Set[str]) -> bool:
    """An order bearing an id autotrader mints, which this ledger neither planned nor ever recorded: the ledger
    is older than the account (restored from a copy) or another workspace trades it. Taking it for a person's
    order (``external``) would hide that the ledger lost what it did, so it stays a difference: exit 3, no buying,
    and its fills unexplained, until a human looks."""
    return (
        ids.is_ours(order.client_order_id)
        and order.client_order_id not in intents
        and order.broker_order_id not in recorded
    )


def plan_fills(fills: Iterable[Fill], books: Mapping[str, str | None]) -> FillsPlan:
    """``books``: broker order id → the book the ledger holds it in (None: an order it does not hold)."""
    to_record: list[tuple[Fill, str]] = []
    unexplained: dict[str, str] = {}
    for fill in fills:
        book = books.get(fill.broker_order_id)
        if book is None:
            # A fill of an order the broker did not list (older than our window): look it up once.
            unexplained[fill.fill_id] = fill.symbol
        else:
            to_record.append((fill, book))
    return FillsPlan(tuple(to_record), unexplained)


def position_diffs(
    ledger_positions: Iterable[repo.PositionRow], broker_qty: Mapping[str, float]
) -> list[dict[str, Any]]:
    """Per symbol, where the sum of the books differs from the broker's position (``broker_qty``: symbol → held)."""
    ledger_qty: dict[str, float] = defaultdict(float)
    by_book: dict[str, dict[str, float]] = defaultdict(dict)
    for position in ledger_positions:
        ledger_qty[position.symbol] += position.qty
        by_book[position.symbol][position.book] = position.qty
    diffs: list[dict[str, Any]] = []
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


def _unchanged(order: BrokerOrder, recorded: Mapping[str, repo.OrderProgress]) -> bool:
    progress = repo.OrderProgress(str(order.status), order.filled_qty, order.filled_avg_price)
    if recorded.get(order.broker_order_id) != progress:
        return False
    return all(_unchanged(leg, recorded) for leg in order.legs)


# -- the step ------------------------------------------------------------------------------------------------


def run(ctx: StepContext, *, clear_halt: tuple[str, ...] = ()) -> SyncReport:
    ledger, broker = ctx.ledger, ctx.deps.broker
    gateway = OrderGateway(ledger, broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
    if clear_halt:  # checked before anything is reconciled: a bad symbol changes nothing
        positions.clear_halts(ctx, clear_halt)
    settled = gateway.resolve_in_flight()

    listed, cursor = _orders_to_refresh(ctx)
    ours = repo.intent_ids(ledger, (o.client_order_id for o in listed))
    # What the ledger holds of every order the broker listed, legs included, decides what changed.
    orders = plan_orders(listed, repo.order_progress(ledger, _order_ids(listed)), ours)
    if orders.without_intent:
        # A listing reports such an order at every sync, until a human looks; the feed would report it once.
        cursor = None
    external = _adopt(gateway, ledger, orders.to_adopt)
    kill_point("mid_reconcile")  # orders adopted and committed, their fills not yet recorded

    fills = _gather_fills(ledger, broker)
    fill_plan = plan_fills(fills, {f.broker_order_id: repo.order_book(ledger, f.broker_order_id) for f in fills})
    new_fills = _record_fills(ctx, fill_plan.to_record)
    # The options book next: an exercise or assignment moves shares, recorded before the stock books are compared.
    options, option_diffs = _sync_options(ctx)

    diffs = position_diffs(repo.all_positions(ledger), _broker_quantities(ctx))
    # A quantity change that a split explains is applied, not reported (never where fills are unexplained).
    diffs, applied_splits = corporate_actions.explain_splits(ctx, diffs, exclude=set(fill_plan.unexplained.values()))
    diffs.extend({"kind": "fill_without_order", "fill_id": fill_id} for fill_id in fill_plan.unexplained)
    diffs.extend(option_diffs)
    diffs.extend(
        {
            "kind": "order_without_intent",
            "symbol": o.symbol,
            "client_order_id": o.client_order_id,
            "broker_order_id": o.broker_order_id,
        }
        for o in orders.without_intent
    )
    # Every order listed is reconciled by now: the watermark moves before the protective orders, which are
    # submitted after it (and are open), so the next sync lists them either way.
    _save_watermarks(ledger, orders.watermark, now=ctx.now, cursor=cursor)
    protected, halted = _maintain_positions(
        ctx, gateway, disputed=frozenset(d["symbol"] for d in diffs if "symbol" in d)
    )
    outcome = SyncOutcome(
        settled=tuple(settled),
        orders_seen=len(orders.seen),
        external_orders=external,
        new_fills=new_fills,
        diffs=(*diffs, *halted),
        splits=tuple(applied_splits),
        protective_orders=tuple(protected),
        in_doubt=tuple(gateway.in_doubt()),
        options=options,
    )
    return _report(ctx.report(), outcome)


def _sync_options(ctx: StepContext) -> tuple[OptionsSync | None, list[dict[str, Any]]]:
    """The options part (``pipeline.option_sync``) when the broker trades options and the book has, or had, an
    option order: an account that never traded one costs one query."""
    broker = ctx.deps.options_broker
    if broker is None or not option_store.has_options_book(ctx.ledger):
        return None, []
    from autotrader.pipeline import option_sync

    return option_sync.run(ctx, broker)


# -- gathering -----------------------------------------------------------------------------------------------


def _orders_to_refresh(ctx: StepContext) -> tuple[list[BrokerOrder], int | None]:
    """The broker's orders to reconcile, and the broker's change cursor to keep when it numbers its changes.

    From a broker that numbers its changes, in a fast replay (``ctx.order_changes``), once a sync has kept a
    cursor: the orders changed since it. Every other order is as that sync (or a step's submit, recorded at
    once) left it in the ledger. Otherwise the listing below, and the cursor as it stood before it."""
    feed = ctx.deps.order_changes
    cursor = feed.change_cursor() if feed is not None else None
    kept = repo.kv_get(ctx.ledger, CURSOR_KEY) if ctx.order_changes else None
    if feed is not None and kept is not None:
        return _by_submission(feed.orders_changed(int(kept))), cursor
    return _listed(ctx.ledger, ctx.deps.broker), cursor


def _listed(ledger: Ledger, broker: Broker) -> list[BrokerOrder]:
    """Orders submitted since the watermark (new ones, ours or external), every open order (a GTC exit
    submitted long ago can fill today), and each order the ledger still holds as open but the broker no
    longer lists as open (it ended: look it up once to learn how)."""
    orders_after = repo.parse_utc(repo.kv_get(ledger, "sync.orders_after"))
    found = {
        o.broker_order_id: o
        for o in broker.orders(status="all", after=orders_after - ORDER_OVERLAP if orders_after else None)
    }
    for order in broker.orders(status="open"):
        found.setdefault(order.broker_order_id, order)
    seen = set(found)
    for order in found.values():
        seen.update(leg.broker_order_id for leg in order.legs)
    for ref in repo.open_orders_with_client_id(ledger):
        if ref.broker_order_id in seen:
            continue
        looked_up = broker.order_by_client_id(ref.client_order_id)
        if looked_up is not None:
            found.setdefault(looked_up.broker_order_id, looked_up)
    return _by_submission(found.values())


def _by_submission(orders: Iterable[BrokerOrder]) -> list[BrokerOrder]:
    return sorted(orders, key=lambda o: (o.submitted_at.isoformat() if o.submitted_at else "", o.broker_order_id))


def _broker_quantities(ctx: StepContext) -> dict[str, float]:
    """What the broker holds of each symbol, without valuing it where the broker can say so."""
    if ctx.deps.position_quantities is not None:
        return ctx.deps.position_quantities.position_quantities()
    return {p.symbol: p.qty for p in ctx.deps.broker.positions()}


def _order_ids(orders: Iterable[BrokerOrder]) -> list[str]:
    return [i for o in orders for i in (o.broker_order_id, *_order_ids(o.legs))]


def _gather_fills(ledger: Ledger, broker: Broker) -> list[Fill]:
    """The broker's fills since the last one recorded (less an overlap for late reports), without those the
    ledger already holds: recording one again would be ignored, and planning it a read per fill."""
    fills_after = repo.last_fill_at(ledger)
    fills = broker.fills(after=fills_after - FILL_OVERLAP if fills_after else None)
    known = repo.known_fill_ids(ledger, (f.fill_id for f in fills))
    return [f for f in fills if f.fill_id not in known]


# -- applying ------------------------------------------------------------------------------------------------


def _adopt(gateway: OrderGateway, ledger: Ledger, orders: Iterable[BrokerOrder]) -> int:
    """Record each order (ours update their intents); returns how many the ledger did not create."""
    external = 0
    for order in orders:
        status = gateway.adopt(order)
        if status is None and repo.order_book(ledger, order.broker_order_id) == Book.EXTERNAL:
            external += 1
    return external


def _record_fills(ctx: StepContext, fills: Iterable[tuple[Fill, str]]) -> int:
    """Record each fill into its book (a fill id already held is ignored); returns how many were new."""
    new = 0
    for fill, book in fills:
        with ctx.ledger.write():
            if repo.record_fill(ctx.ledger, fill, book=book, run_id=ctx.run_id, now=ctx.now):
                new += 1
                ctx.log.event(
                    "fill", fill_id=fill.fill_id, symbol=fill.symbol, qty=fill.qty, price=fill.price, book=book
                )
    return new


def _maintain_positions(
    ctx: StepContext, gateway: OrderGateway, *, disputed: frozenset[str]
) -> tuple[list[GatewayResult], list[dict[str, Any]]]:
    """Refresh the positions' state and keep their protective orders matching, except for symbols in
    dispute; returns the protective orders' results and a difference per halted position."""
    managed = positions.refresh(ctx)
    protected = positions.maintain_protection(ctx, gateway, managed, skip=disputed)
    halted = [
        {"kind": "halted", "symbol": m.position.symbol, "reason": m.position.halted_reason}
        for m in managed
        if m.position.halted_reason
    ]
    return protected, halted


def _save_watermarks(ledger: Ledger, orders_after: datetime | None, *, now: datetime, cursor: int | None) -> None:
    with ledger.write():
        before = repo.parse_utc(repo.kv_get(ledger, "sync.orders_after"))
        # Never back: the orders changed since a cursor may all be old ones (a week-old GTC exit that filled).
        if orders_after is not None and (before is None or orders_after > before):
            repo.kv_set(ledger, "sync.orders_after", repo.utc_iso(orders_after), now=now)
        if cursor is not None:
            repo.kv_set(ledger, CURSOR_KEY, str(cursor), now=now)
        repo.kv_set(ledger, "sync.last_at", repo.utc_iso(now), now=now)


# -- the report ----------------------------------------------------------------------------------------------


def _report(report: ReportDraft, outcome: SyncOutcome) -> SyncReport:
    unknown = list(outcome.in_doubt)
    report.fields.update(
        {
            "settled": [_result_line(r) for r in outcome.settled],
            "orders_seen": outcome.orders_seen,
            "external_orders": outcome.external_orders,
            "new_fills": outcome.new_fills,
            "diffs": list(outcome.diffs),
            "unknown_intents": unknown,
            "splits": list(outcome.splits),
            "protective_orders": [_result_line(r) for r in outcome.protective_orders],
            "options": outcome.options,
        }
    )
    report.notes.append(
        f"{outcome.orders_seen} broker orders seen, {outcome.new_fills} new fills recorded, "
        f"{len(outcome.settled)} in-flight settled"
    )
    report.notes.extend(
        f"abandoned {r.client_order_id}: {r.message}" for r in outcome.settled if r.status == IntentStatus.ABANDONED
    )
    if outcome.diffs or doubt_exit_code(unknown) != ExitCode.OK:
        report.ok = False
        report.exit_code = ExitCode.HALTED
        if outcome.diffs:
            report.notes.append(
                f"{len(outcome.diffs)} unexplained difference(s) between broker and ledger: buying halted"
            )
        if unknown:
            report.notes.append(doubt_note(unknown))
    return report.build(SyncReport)


def _result_line(result: GatewayResult) -> dict[str, Any]:
    return {"client_order_id": result.client_order_id, "status": str(result.status), "message": result.message}
