"""``verticals`` and ``verticals_exits``: debit spreads on strong signals, in run-daily's intraday slots.

``verticals`` (a buying step, after ``size``): each signal ``[verticals]`` wants (its category, its conviction)
and has not decided yet is decided once (structure, decision and opening intent stored together): the spread
``policy.verticals`` chooses from the chain, through the pre-trade checks and the size by maximum loss of
``policy.option_checks``; the decision and its trace are stored like ``size``'s (step ``verticals``), and the
opening order (one day limit order of both legs at the net limit) sent through the gateway. Its client order
id comes from the signal, so a rerun sends nothing twice. Only inside ``[size]``'s trading window of a
session; a signal met outside it waits.

``verticals_exits`` (with the exits, before the buying steps): each open spread of the strategy is valued at
its legs' mids and closed when ``policy.verticals.exit_reason`` says so, with one order of both legs at the
closing net limit. A closing order that ended unfilled (a day order expires at the close) is tried again at
the next slot with the next attempt number; while one works, nothing else is sent for that spread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from autotrader.domain.options import OptionQuote, Structure, parse_occ
from autotrader.domain.reports import Report, ReportDraft, SkipLine
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline import option_chain
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway, order_line, report_outcomes
from autotrader.pipeline.rules import rules_from_settings
from autotrader.pipeline.size import entry_timing
from autotrader.policy import option_checks as checks
from autotrader.policy import verticals as policy
from autotrader.policy.option_chain import days_to_expiry

STEP, EXIT_STEP, STRATEGY = "verticals", "verticals_exits", "verticals"
_OPEN_STATUSES = ("opening", "open", "closing")


def rules(ctx: StepContext) -> policy.VerticalRules:
    return rules_from_settings(policy.VerticalRules, (ctx.settings.verticals,))


def option_rules(ctx: StepContext) -> checks.OptionRules:
    return rules_from_settings(checks.OptionRules, (ctx.settings.options,))


@dataclass(frozen=True)
class Opening:
    """One signal's spread, planned: the structure row to store and the intent that opens it."""

    structure: store.StructureRow
    intent: OrderIntent


def legs_of(structure: Structure, *, closing: bool) -> tuple[OrderLegRequest, ...]:
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
    """A multi-leg options order as an intent: ``net`` per share, + a debit (bought), - a credit (sold)."""
    return OrderIntent.create(
        session_date=ctx.session_date, step=step, book=Book.OPTIONS,
        leg=leg, symbol=underlying, side=Side.BUY if net > 0 else Side.SELL, qty=units, attempt=attempt,
        key=structure_id, position_key=structure_id, signal_id=signal_id, reason=reason, type=OrderType.LIMIT,
        limit_price=max(round(abs(net), 2), 0.01), order_class=OrderClass.MLEG, legs=legs,
    )  # fmt: skip


# -- entries -------------------------------------------------------------------------------------------------


def expiry_days(ctx: StepContext, quotes: list[OptionQuote]) -> dict[date, int]:
    """Each expiry of ``quotes`` with its days to expiry from today."""
    return {e: days_to_expiry(e, ctx.now) for e in {q.contract.expiry for q in quotes}}


def options_at_risk(ledger: Any) -> float:
    """The maximum losses of the structures not yet closed, dollars: what the options allocation counts."""
    return sum((s.max_loss or 0.0) * s.units for s in store.structures(ledger, statuses=_OPEN_STATUSES))


def plan_entry(
    ctx: StepContext, signal: repo.SignalRow, account_equity: float, free_cash: float, at_risk: float
) -> tuple[Opening | None, str, list[dict[str, Any]]]:
    """The spread one signal opens (None, with why), and the trace of the checks."""
    r = rules(ctx)
    side = Side(signal.side)
    today = ctx.now.astimezone(ET).date()
    source = option_chain.chains(ctx)
    first, last = today + timedelta(days=r.dte_min), today + timedelta(days=r.dte_max)
    quotes = source.option_chain(signal.symbol, first, last)
    expiry = policy.choose_expiry(expiry_days(ctx, quotes), r.dte_min, r.dte_max)
    if expiry is None:
        return None, f"no listed expiry {r.dte_min} to {r.dte_max} days out", []
    mine = [q for q in quotes if q.contract.expiry == expiry]
    spot = next((q.underlying_price for q in mine if q.underlying_price is not None), None)
    chosen = policy.choose_spread(mine, side, spot, r) if spot is not None else None
    if chosen is None:
        return None, f"no spread to choose in the {expiry} chain", []
    structure = policy.structure_for(*chosen)
    by_symbol: dict[str, OptionQuote] = {q.contract.symbol: q for q in mine}
    percentile = None
    if r.iv_range is not None:
        current = option_chain.current_iv30(ctx, signal.symbol)
        percentile = option_chain.iv_standing(ctx, signal.symbol, current).percentile
    case = checks.OptionCase(structure, by_symbol, account_equity, at_risk, free_shares=0.0, free_cash=free_cash,
                             rules=option_rules(ctx), iv_percentile=percentile, iv_range=r.iv_range)  # fmt: skip
    decision = checks.decide(case)
    trace = [s.to_json() for s in decision.steps]
    if decision.refused is not None or decision.net_limit is None or decision.profile is None:
        return None, decision.refused or "refused", trace
    structure_id = f"{STRATEGY}-{signal.id}"
    legs = legs_of(structure, closing=False)
    stored = tuple({"symbol": leg.contract.symbol, "side": str(leg.side), "ratio": leg.ratio} for leg in structure.legs)
    row = store.StructureRow(
        structure_id=structure_id, strategy=STRATEGY, kind=str(structure.kind), underlying=signal.symbol, legs=stored,
        units=decision.units, status="opening", signal_id=signal.id, planned_net=decision.net_limit,
        open_net=None, close_net=None, max_profit=decision.profile.max_profit, max_loss=decision.profile.max_loss,
        breakevens=decision.profile.breakevens, realized_pnl=None, close_reason=None,
        planned_at=repo.utc_iso(ctx.now), opened_at=None, closed_at=None, extra={"expiry": expiry.isoformat()},
    )  # fmt: skip
    reason = f"{structure.kind} {chosen[0].symbol}/{chosen[1].symbol} x{decision.units} at {decision.net_limit:.2f}"
    intent = option_intent(ctx, step=STEP, leg=LegKind.ENTRY, underlying=signal.symbol, net=decision.net_limit,
                           units=decision.units, structure_id=structure_id, legs=legs, signal_id=signal.id,
                           reason=reason)  # fmt: skip
    return Opening(row, intent), reason, trace


def run(ctx: StepContext) -> Report:
    report = ctx.report()
    if not ctx.settings.verticals.enabled:
        report.notes.append("[verticals] enabled = false: nothing to do")
        return report.build(Report)
    tif, why = entry_timing(ctx)
    if tif is None or str(tif) != "day":
        report.notes.append(f"no spreads opened: {why if tif is None else 'options trade in the session only'}")
        return report.build(Report)
    r = rules(ctx)
    oldest = ctx.now - timedelta(days=ctx.settings.signals.max_age_days)
    signals = repo.undecided_signals(ctx.ledger, STEP, since=oldest, until=ctx.now)
    account = ctx.deps.broker.account()
    at_risk = options_at_risk(ctx.ledger)
    free_cash = account.buying_power
    gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
    intents: list[OrderIntent] = []
    for signal in signals:
        unwanted = policy.wants(signal.conviction, signal.category, r)
        if unwanted is not None:
            _decide(ctx, signal.id, "skipped", unwanted, [], None)
            continue
        if not ctx.deps.market_data.has_symbol(signal.symbol):
            _decide(ctx, signal.id, "skipped", "unknown symbol", [], None)
            continue
        opening, reason, trace = plan_entry(ctx, signal, account.equity, free_cash, at_risk)
        if opening is None:
            report.skipped.append(SkipLine(signal.symbol, f"signal {signal.id}: {reason}"))  # the trace: its decision
            _decide(ctx, signal.id, "skipped", reason, trace, None)
            continue
        with ctx.ledger.write():
            # One structure per signal, ever: a signal already expressed (its structure stored) sends nothing more,
            # whatever became of its decision.
            # The opening intent is stored with its structure and decision: a run that dies before sending it
            # leaves it planned, and the next sync sends it; never a decided signal without its order.
            fresh = store.plan_structure(ctx.ledger, opening.structure)
            if fresh:
                repo.insert_intent(ctx.ledger, opening.intent, run_id=ctx.run_id, now=ctx.now)
            repo.record_decision(ctx.ledger, signal_id=signal.id, step=STEP, outcome="ordered" if fresh else "skipped",
                                 reason=reason if fresh else "already expressed as a spread", trace=trace,
                                 client_order_id=opening.intent.client_order_id if fresh else None,
                                 run_id=ctx.run_id, now=ctx.now)  # fmt: skip
        if not fresh:
            continue
        intents.append(opening.intent)
        risk = (opening.structure.max_loss or 0.0) * opening.structure.units
        at_risk += risk
        free_cash -= opening.structure.planned_net * 100 * opening.structure.units
    place_all(gateway, report, intents, "spread opening")
    if not signals:
        report.notes.append("no undecided signals")
    return report.build(Report)


def _decide(ctx: StepContext, signal_id: int, outcome: str, reason: str, trace: list[dict[str, Any]],
            cid: str | None) -> None:  # fmt: skip
    with ctx.ledger.write():
        repo.record_decision(ctx.ledger, signal_id=signal_id, step=STEP, outcome=outcome, reason=reason, trace=trace,
                             client_order_id=cid, run_id=ctx.run_id, now=ctx.now)  # fmt: skip


def place_all(gateway: OrderGateway, report: ReportDraft, intents: list[OrderIntent], what: str) -> None:
    results = {r.client_order_id: r for r in gateway.place(intents)} if intents else {}
    for intent in intents:
        line = order_line(intent, results[intent.client_order_id], limit_price=intent.request.limit_price)
        report.orders.append(line)
    report_outcomes(report, results.values(), f"{len(intents)} {what} order(s)", in_doubt=gateway.in_doubt())


# -- exits ---------------------------------------------------------------------------------------------------


def mid_value(s: store.StructureRow, quotes: dict[str, OptionQuote]) -> float | None:
    """The spread's worth per share at its legs' mids, None when a leg has no market."""
    value = 0.0
    for leg in s.legs:
        q = quotes.get(leg["symbol"])
        if q is None or q.ask <= 0:
            return None
        value += (1 if leg["side"] == "buy" else -1) * leg["ratio"] * q.mid
    return value


def closing_attempts(intents: list[dict[str, Any]]) -> tuple[bool, int]:
    """(a closing order is still working or in doubt, how many closing orders were made)."""
    closing = [i for i in intents if i["leg"] != str(LegKind.ENTRY)]
    working = any(IntentStatus(i["status"]) in (*IN_FLIGHT_INTENT_STATUSES, IntentStatus.PLANNED,
                                                 IntentStatus.ACCEPTED, IntentStatus.PARTIALLY_FILLED)
                  for i in closing)  # fmt: skip
    return working, len(closing)


def plan_exit(ctx: StepContext, s: store.StructureRow) -> OrderIntent | None:
    """The closing order of one open spread, when it is due and none works (module docstring)."""
    if s.open_net is None:
        return None
    working, attempts = closing_attempts(repo.position_intents(ctx.ledger, s.structure_id))
    if working:
        return None
    contracts = [parse_occ(leg["symbol"]) for leg in s.legs]
    quotes = option_chain.chains(ctx).option_quotes(contracts)
    days_left = days_to_expiry(contracts[0].expiry, ctx.now)
    found = policy.exit_reason(s.open_net, mid_value(s, quotes), days_left, rules(ctx))
    if found is None:
        return None
    return closing_intent(ctx, s, policy.structure_for(contracts[0], contracts[1]), quotes, found, EXIT_STEP, attempts)


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


def run_exits(ctx: StepContext) -> Report:
    report = ctx.report()
    open_ones = [s for s in store.structures(ctx.ledger, statuses=("open",)) if s.strategy == STRATEGY]
    if not open_ones:
        report.notes.append("no open spreads")
        return report.build(Report)
    if not ctx.session.is_open:
        report.notes.append("market closed: spreads are closed in the session")
        return report.build(Report)
    intents = [i for i in (plan_exit(ctx, s) for s in open_ones) if i is not None]
    gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
    place_all(gateway, report, intents, "spread closing")
    report.notes.append(f"{len(open_ones)} open spread(s), {len(intents)} to close")
    return report.build(Report)
