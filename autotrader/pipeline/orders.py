"""The owner's hands on the account: ``orders list|show|cancel|cancel-all|cancel-stale``, ``positions``,
``balances`` and ``flatten``, all through the ledger and the order gateway, never around them.

Reads come from the ledger (as the last ``sync`` recorded the broker) and, for ``positions`` and
``balances``, from the broker itself. Cancels go to the broker by order id and what the broker then says is
adopted into the ledger (``positions.cancel_orders``), so a later ``sync`` finds nothing to correct.
``flatten`` cancels a position's working and protective orders first, then sells it at market through the
gateway with a deterministic client order id (the position's life is part of its key): a rerun finds its
own order and never sells twice. The owner's cancels and flattens go through a kill switch (they are the
owner's own instruction: ``OrderGateway(overrides_halt=True)``).

Orders and positions of the ``external`` book (what autotrader did not create) are never touched unless
``--include-external`` says so; in live mode ``flatten`` and ``cancel-all`` also need ``--yes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from autotrader.domain.enums import TERMINAL_BROKER_STATUSES, Book, IntentStatus, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.models import OrderIntent
from autotrader.domain.reports import BalancesReport, OrdersReport, PositionsReport
from autotrader.errors import InputError, SafetyRefusal
from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway, order_line, report_outcomes
from autotrader.pipeline.positions import cancel_orders, protective

LISTED = (
    "broker_order_id", "client_order_id", "book", "symbol", "side", "qty", "type", "status", "filled_qty",
    "filled_avg_price", "limit_price", "stop_price", "submitted_at", "leg", "intent_status",
)  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """Which orders or positions a command may touch."""

    symbol: str | None = None
    book: str | None = None
    include_external: bool = False

    def admits(self, row: dict[str, Any]) -> bool:
        if row["book"] == Book.EXTERNAL and not self.include_external:
            return False
        return (self.symbol is None or row["symbol"] == self.symbol) and (self.book is None or row["book"] == self.book)


def _gateway(ctx: StepContext) -> OrderGateway:
    return OrderGateway(
        ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log, overrides_halt=True
    )


def _require_yes(ctx: StepContext, command: str, yes: bool) -> None:
    if ctx.settings.mode_name == "live" and not yes:
        raise SafetyRefusal(f"{command} in live mode needs --yes", hint=f"rerun as `autotrader {command} --yes`")


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in LISTED}


# -- reads ----------------------------------------------------------------------------------------------


def list_orders(ctx: StepContext, *, status: str, scope: Scope) -> OrdersReport:
    report = ctx.report()
    listed = [_listed(r) for r in repo.orders_listing(ctx.ledger, status=status, symbol=scope.symbol, book=scope.book)]
    if status in ("open", "all"):
        for intent in repo.unsent_intents(ctx.ledger, symbol=scope.symbol, book=scope.book):
            unsent = {
                "broker_order_id": None,
                "filled_qty": 0.0,
                "intent_status": intent["status"],
                "submitted_at": None,
            }
            listed.append(_listed({**intent, **unsent}))
    report.notes.append(f"{len(listed)} order(s), {status}, as the ledger last recorded them (`sync` refreshes it)")
    return report.build(OrdersReport, listed=listed, canceled=[])


def show(ctx: StepContext, ident: str) -> OrdersReport:
    record = repo.order_record(ctx.ledger, ident)
    if record is None:
        raise InputError(
            f"no order or intent with id {ident!r} in this ledger", hint="`autotrader orders list` shows the ids"
        )
    report = ctx.report()
    detail = {"intent": record.intent, "order": record.order, "fills": record.fills, "decision": record.decision}
    listed = [_listed({**(record.intent or {}), **(record.order or {}), "leg": (record.intent or {}).get("leg"),
                       "intent_status": (record.intent or {}).get("status")})]  # fmt: skip
    return report.build(OrdersReport, listed=listed, canceled=[], record=detail)


# -- cancels ----------------------------------------------------------------------------------------------


def cancel(ctx: StepContext, ident: str, *, include_external: bool) -> OrdersReport:
    record = repo.order_record(ctx.ledger, ident)
    if record is None:
        raise InputError(
            f"no order or intent with id {ident!r} in this ledger", hint="`autotrader orders list` shows the ids"
        )
    report = ctx.report()
    order, intent = record.order, record.intent
    if order is None:
        assert intent is not None
        _abandon_unsent(ctx, intent, report)
        return report.build(OrdersReport, listed=[], canceled=[])
    if order["book"] == Book.EXTERNAL and not include_external:
        raise InputError(
            f"{ident}: an external order (not placed by autotrader)", hint="add --include-external to cancel it"
        )
    if order["status"] in TERMINAL_BROKER_STATUSES:
        report.notes.append(f"{ident}: already {order['status']}, nothing to cancel")
        return report.build(OrdersReport, listed=[_listed(order)], canceled=[])
    cancel_orders(ctx, _gateway(ctx), [order])
    report.notes.append(f"canceled {order['broker_order_id']} ({order['symbol']} {order['side']} {order['qty']:g})")
    return report.build(OrdersReport, listed=[_listed(order)], canceled=[order["broker_order_id"]])


def _abandon_unsent(ctx: StepContext, intent: dict[str, Any], report: Any) -> None:
    """An intent the broker never received is given up locally; one in doubt must be settled first."""
    status = IntentStatus(intent["status"])
    if status != IntentStatus.PLANNED:
        report.notes.append(f"{intent['client_order_id']}: {status}, not cancellable here; `sync` settles it first")
        return
    with ctx.ledger.write():
        repo.transition_intent(
            ctx.ledger,
            intent["client_order_id"],
            IntentStatus.ABANDONED,
            now=ctx.now,
            error_message="canceled by the owner",
        )
    report.notes.append(f"abandoned {intent['client_order_id']}: planned, never sent")


def cancel_all(ctx: StepContext, *, scope: Scope, yes: bool, older_than: timedelta | None = None) -> OrdersReport:
    """Every working order in scope (with ``older_than``: only those submitted longer ago, protective orders
    kept: a stale entry is dead weight, a position's stop is not)."""
    _require_yes(
        ctx, "orders cancel-all" if older_than is None else "orders cancel-stale", yes or older_than is not None
    )
    report = ctx.report()
    rows = [
        r
        for r in repo.orders_listing(ctx.ledger, status="open", symbol=scope.symbol, book=scope.book)
        if scope.admits(r)
    ]
    if older_than is not None:
        cutoff = repo.utc_iso(ctx.now - older_than)
        rows = [r for r in rows if r["submitted_at"] and r["submitted_at"] < cutoff and not _guards(r)]
    cancel_orders(ctx, _gateway(ctx), rows)
    for intent in repo.unsent_intents(ctx.ledger, symbol=scope.symbol, book=scope.book):
        if older_than is None and scope.admits(intent):
            _abandon_unsent(ctx, intent, report)
    report.notes.append(f"{len(rows)} working order(s) canceled")
    return report.build(OrdersReport, listed=[_listed(r) for r in rows], canceled=[r["broker_order_id"] for r in rows])


def _guards(row: dict[str, Any]) -> bool:
    return row["side"] == Side.SELL and bool(protective([row]))


# -- positions and balances ----------------------------------------------------------------------------


def positions(ctx: StepContext, *, scope: Scope) -> PositionsReport:
    report = ctx.report()
    broker_qty = {p.symbol: p.qty for p in ctx.deps.broker.positions()}
    every = repo.all_positions(ctx.ledger)
    ledgered = [p for p in every if scope.admits({"book": p.book, "symbol": p.symbol})]
    rows = []
    for p in ledgered:
        quote = ctx.deps.market_data.latest_quote(p.symbol)
        price = quote.last if quote is not None else None
        rows.append({
            "symbol": p.symbol, "book": p.book, "ledger_qty": p.qty, "broker_qty": broker_qty.get(p.symbol, 0.0),
            "avg_cost": round(p.avg_cost, 4), "price": price,
            "market_value": round(p.qty * price, 2) if price is not None else None,
            "unrealized_pnl": round((price - p.avg_cost) * p.qty, 2) if price is not None else None,
        })  # fmt: skip
    books: dict[str, float] = {}
    for p in every:
        books[p.symbol] = books.get(p.symbol, 0.0) + p.qty
    for symbol, qty in sorted(broker_qty.items()):
        if abs(books.get(symbol, 0.0) - qty) > 1e-9:
            report.notes.append(
                f"{symbol}: the broker holds {qty:g}, the ledger's books {books.get(symbol, 0.0):g}; run `sync`"
            )
    return report.build(PositionsReport, positions=rows)


def balances(ctx: StepContext) -> BalancesReport:
    report = ctx.report()
    account = ctx.deps.broker.account()
    deployed: dict[str, float] = {}
    for p in repo.all_positions(ctx.ledger):
        deployed[p.book] = round(deployed.get(p.book, 0.0) + p.qty * p.avg_cost, 2)
    return report.build(
        BalancesReport,
        equity=account.equity,
        cash=account.cash,
        buying_power=account.buying_power,
        deployed_by_book=deployed,
    )


# -- flatten ---------------------------------------------------------------------------------------------


def flatten(ctx: StepContext, *, scope: Scope, yes: bool) -> OrdersReport:
    _require_yes(ctx, "flatten", yes)
    report = ctx.report()
    gateway = _gateway(ctx)
    held = [
        p for p in repo.all_positions(ctx.ledger) if p.qty > 0 and scope.admits({"book": p.book, "symbol": p.symbol})
    ]
    canceled: list[str] = []
    intents: list[OrderIntent] = []
    for p in held:
        sell = _flatten_intent(ctx, p)
        # Its own market sell from an earlier run stays: the gateway recognises it by its id.
        working = [
            o for o in repo.open_orders_of(ctx.ledger, p.book, p.symbol) if o["client_order_id"] != sell.client_order_id
        ]
        cancel_orders(ctx, gateway, working)
        canceled += [o["broker_order_id"] for o in working]
        intents.append(sell)
    results = gateway.place(intents)
    for intent, result in zip(intents, results, strict=True):
        report.orders.append(order_line(intent, result))
    sent = sum(r.sent for r in results)
    summary = (
        f"{len(held)} position(s) to flatten: {len(canceled)} working order(s) canceled, {sent} market sell(s) sent"
        + (f", {len(results) - sent} already placed" if len(results) > sent else "")
    )
    report_outcomes(report, results, summary, in_doubt=gateway.in_doubt())
    return report.build(OrdersReport, listed=[], canceled=canceled)


def _flatten_intent(ctx: StepContext, p: repo.PositionRow) -> OrderIntent:
    """A market sell of the whole position; its id is the same for every rerun over this position's life."""
    return OrderIntent.create(
        session_date=ctx.session_date,
        step="flatten",
        book=Book(p.book),
        leg=LegKind.FLATTEN,
        symbol=p.symbol,
        side=Side.SELL,
        qty=p.qty,
        key=f"flatten:{p.opened_at}",
        reason="flattened by the owner",
        position_key=repo.position_key(p.book, p.symbol, p.opened_at) if p.opened_at else None,
        type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
    )
