"""What every options strategy step shares: its orders as intents (legs, net limit, client order id from the
structure), the structure row it plans, the entry gate, the closing order, and sending a batch through the
gateway with its report lines.

A strategy plans a structure and its opening intent together (``store_openings``: one transaction each): the
structure's id is the strategy's exactly-once key (``plan_structure`` refuses a known id), and a run that dies
before sending leaves the intent planned for the next sync, never a structure without its order.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from autotrader.clock import ET
from autotrader.domain.enums import (
    IN_FLIGHT_INTENT_STATUSES,
    Book,
    IntentStatus,
    LegKind,
    OrderClass,
    OrderType,
    PositionIntent,
    Side,
)
from autotrader.domain.models import OrderIntent, OrderLegRequest
from autotrader.domain.options import OptionQuote, Structure
from autotrader.domain.reports import Report, ReportDraft
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline import option_chain
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway, order_line, report_outcomes
from autotrader.pipeline.rules import rules_from_settings
from autotrader.pipeline.size import entry_timing
from autotrader.policy import option_checks as checks
from autotrader.policy.option_chain import days_to_expiry
from autotrader.policy.verticals import choose_expiry, middle_days

NOT_CLOSED = ("opening", "open", "closing")


def option_rules(ctx: StepContext) -> checks.OptionRules:
    return rules_from_settings(checks.OptionRules, (ctx.settings.options,))


def entry_blocked(ctx: StepContext, enabled: bool, section: str) -> str | None:
    """Why a strategy opens nothing now (switched off, or outside a session's trading window); None: it may."""
    if not enabled:
        return f"[{section}] enabled = false: nothing to do"
    tif, why = entry_timing(ctx)
    if tif is None:
        return why
    return None if str(tif) == "day" else "options trade in the session only"


def closed_for_entries(ctx: StepContext, enabled: bool, section: str, nothing: str) -> Report | None:
    """The report of a strategy's entry step that opens nothing now, saying why (``nothing``: what it does not
    do, e.g. "no condor sold"); None when it may open structures."""
    blocked = entry_blocked(ctx, enabled, section)
    if blocked is None:
        return None
    report = ctx.report()
    report.notes.append(blocked if not enabled else f"{nothing}: {blocked}")
    return report.build(Report)


def legs_of(structure: Structure, *, closing: bool) -> tuple[OrderLegRequest, ...]:
    """The order legs that open (or close: each the other way) a structure, with their position intents."""
    out = []
    for leg in structure.legs:
        buying = (leg.side == Side.BUY) != closing
        if closing:
            intent = PositionIntent.BUY_TO_CLOSE if buying else PositionIntent.SELL_TO_CLOSE
        else:
            intent = PositionIntent.BUY_TO_OPEN if buying else PositionIntent.SELL_TO_OPEN
        out.append(OrderLegRequest(leg.contract.symbol, Side.BUY if buying else Side.SELL, leg.ratio, intent))
    return tuple(out)


def option_intent(ctx: StepContext, *, step: str, leg: LegKind, underlying: str, net: float, units: float,
                  structure_id: str, legs: tuple[OrderLegRequest, ...], attempt: int = 0,
                  signal_id: int | None = None, reason: str = "") -> OrderIntent:  # fmt: skip
    """A structure's order as an intent: ``net`` per share and unit, + a debit (bought), - a credit (sold). Of
    several legs, one multi-leg order at the net; of one leg, that contract's own order for ratio x units
    contracts at the net per contract (rounded in cents toward the natural price)."""
    common: dict[str, Any] = dict(
        session_date=ctx.session_date, step=step, book=Book.OPTIONS, leg=leg, attempt=attempt, key=structure_id,
        position_key=structure_id, signal_id=signal_id, reason=reason, type=OrderType.LIMIT,
    )  # fmt: skip
    if len(legs) == 1:
        (one,) = legs
        cents = abs(net) / one.ratio_qty * 100
        price = (math.ceil(cents - 1e-6) if one.side == Side.BUY else math.floor(cents + 1e-6)) / 100
        return OrderIntent.create(symbol=one.symbol, side=one.side, qty=units * one.ratio_qty,
                                  limit_price=max(price, 0.01), **common)  # fmt: skip
    return OrderIntent.create(symbol=underlying, side=Side.BUY if net > 0 else Side.SELL, qty=units,
                              limit_price=max(round(abs(net), 2), 0.01), order_class=OrderClass.MLEG, legs=legs,
                              **common)  # fmt: skip


def structure_row(
    ctx: StepContext, structure_id: str, strategy: str, structure: Structure, decision: checks.OptionDecision,
    *, signal_id: int | None = None, extra: dict[str, Any] | None = None,
) -> store.StructureRow:  # fmt: skip
    """The structure about to be opened, as the ledger stores it: its legs, units and what it can make or lose
    at the decision's net limit."""
    assert decision.net_limit is not None and decision.profile is not None
    legs = tuple({"symbol": leg.contract.symbol, "side": str(leg.side), "ratio": leg.ratio} for leg in structure.legs)
    return store.StructureRow(
        structure_id=structure_id, strategy=strategy, kind=str(structure.kind), underlying=structure.underlying,
        legs=legs,
        units=decision.units, status="opening", signal_id=signal_id, planned_net=decision.net_limit, open_net=None,
        close_net=None, max_profit=decision.profile.max_profit, max_loss=decision.profile.max_loss,
        breakevens=decision.profile.breakevens, realized_pnl=None, close_reason=None, planned_at=repo.utc_iso(ctx.now),
        opened_at=None, closed_at=None, extra=extra or {},
    )  # fmt: skip


def store_openings(ctx: StepContext, planned: list[tuple[store.StructureRow, OrderIntent]]) -> list[OrderIntent]:
    """Store each new structure with its opening intent (module docstring); the intents of those stored now."""
    stored = []
    for row, intent in planned:
        with ctx.ledger.write():
            if store.plan_structure(ctx.ledger, row):
                repo.insert_intent(ctx.ledger, intent, run_id=ctx.run_id, now=ctx.now)
                stored.append(intent)
    return stored


def expiry_days(ctx: StepContext, quotes: list[OptionQuote]) -> dict[date, int]:
    """Each expiry of ``quotes`` with its days to expiry from today."""
    return {e: days_to_expiry(e, ctx.now) for e in {q.contract.expiry for q in quotes}}


def expiry_chain(
    ctx: StepContext, underlying: str, dte_min: int, dte_max: int
) -> tuple[list[OptionQuote], float | None]:
    """The quotes of the listed expiry nearest the middle of ``dte_min..dte_max`` days (none when no expiry is
    listed there), and the underlying's price they were quoted at.

    The chain is asked for the week around the middle first (``middle_days``): the expiry chosen from it is the
    one the whole window gives, at a fraction of the contracts (one or two expiries rather than every one in
    the window: fewer pages from a vendor, fewer contracts priced by a model). Only a window with no expiry in
    that week (monthlies alone) is asked for in full."""
    today = ctx.now.astimezone(ET).date()
    source = option_chain.chains(ctx)
    quotes: list[OptionQuote] = []
    expiry = None
    for lo, hi in dict.fromkeys((middle_days(dte_min, dte_max), (dte_min, dte_max))):  # once when they are one
        quotes = source.option_chain(underlying, today + timedelta(days=lo), today + timedelta(days=hi))
        expiry = choose_expiry(expiry_days(ctx, quotes), dte_min, dte_max)
        if expiry is not None:
            break
    mine = [q for q in quotes if q.contract.expiry == expiry]
    return mine, next((q.underlying_price for q in mine if q.underlying_price is not None), None)


def plan_opening(
    ctx: StepContext, case: checks.OptionCase, *, structure_id: str, strategy: str, step: str,
    describe: str, extra: dict[str, Any] | None = None,
) -> tuple[store.StructureRow, OrderIntent] | str:  # fmt: skip
    """The checks' decision on one structure (``case``) as the structure row and the intent that open it, the
    decision's trace kept with the row; or the refusal. ``describe`` is the order's reason, with ``{units}``
    and ``{net}`` (the net limit per share, unsigned) filled in from the decision."""
    decision = checks.decide(case)
    if decision.refused is not None or decision.net_limit is None or decision.profile is None:
        return decision.refused or "refused"
    structure = case.structure
    row = structure_row(ctx, structure_id, strategy, structure, decision,
                        extra={**(extra or {}), "trace": [s.to_json() for s in decision.steps]})  # fmt: skip
    intent = option_intent(ctx, step=step, leg=LegKind.ENTRY, underlying=structure.underlying,
                           net=decision.net_limit, units=decision.units, structure_id=structure_id,
                           legs=legs_of(structure, closing=False),
                           reason=describe.format(units=decision.units, net=abs(decision.net_limit)))  # fmt: skip
    return row, intent


def options_at_risk(ledger: Any) -> float:
    """The maximum losses of the structures not yet closed, dollars: what the options allocation counts."""
    return sum(s.risk for s in store.structures(ledger, statuses=NOT_CLOSED))


def place_all(ctx: StepContext, report: ReportDraft, intents: list[OrderIntent], what: str) -> None:
    """Send the intents through the gateway; their report lines and the outcome notes."""
    gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
    results = {r.client_order_id: r for r in gateway.place(intents)} if intents else {}
    for intent in intents:
        line = order_line(intent, results[intent.client_order_id], limit_price=intent.request.limit_price)
        report.orders.append(line)
    report_outcomes(report, results.values(), f"{len(intents)} {what} order(s)", in_doubt=gateway.in_doubt())


def mid_value(s: store.StructureRow, quotes: dict[str, OptionQuote]) -> float | None:
    """The structure's worth per share at its legs' mids (+ bought, - sold), None when a leg has no market."""
    value = 0.0
    for leg in s.legs:
        q = quotes.get(leg["symbol"])
        if q is None or q.ask <= 0:
            return None
        value += (1 if leg["side"] == "buy" else -1) * leg["ratio"] * q.mid
    return value


# An intent whose order may still fill or is not settled yet: nothing more is sent for its structure meanwhile.
WORKING_STATUSES = frozenset({*IN_FLIGHT_INTENT_STATUSES, IntentStatus.PLANNED, IntentStatus.ACCEPTED,
                              IntentStatus.PARTIALLY_FILLED})  # fmt: skip


def is_working(intent: dict[str, Any]) -> bool:
    return IntentStatus(intent["status"]) in WORKING_STATUSES


def closing_attempts(intents: list[dict[str, Any]]) -> tuple[bool, int]:
    """(a closing order is still working or in doubt, how many closing orders were made)."""
    closing = [i for i in intents if i["leg"] != str(LegKind.ENTRY)]
    return any(is_working(i) for i in closing), len(closing)


def closing_intent(
    ctx: StepContext, s: store.StructureRow, structure: Structure, quotes: dict[str, OptionQuote],
    why: tuple[LegKind, str], step: str, attempt: int,
) -> OrderIntent | None:  # fmt: skip
    """The order that closes an open structure whole: each leg the other way, at the closing net limit; None
    while a leg has no market."""
    closing = Structure(structure.kind, tuple(replace(leg, side=Side.SELL if leg.side == Side.BUY else Side.BUY)
                                              for leg in structure.legs))  # fmt: skip
    if any(leg.contract.symbol not in quotes for leg in closing.legs):
        return None
    net = checks.net_limit(closing, quotes, option_rules(ctx).concession_pct)
    return option_intent(ctx, step=step, leg=why[0], underlying=s.underlying, net=net, units=s.units,
                         structure_id=s.structure_id, legs=legs_of(structure, closing=True), attempt=attempt,
                         signal_id=s.signal_id, reason=why[1])  # fmt: skip
