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

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from autotrader.domain.enums import LegKind, Side
from autotrader.domain.models import OrderIntent
from autotrader.domain.options import OptionQuote, parse_occ
from autotrader.domain.reports import Report, SkipLine
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline import option_chain
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.option_orders import (
    closed_for_entries,
    closing_attempts,
    closing_intent,
    expiry_chain,
    legs_of,
    mid_value,
    option_intent,
    option_rules,
    options_at_risk,
    place_all,
    structure_row,
)
from autotrader.pipeline.rules import rules_from_settings
from autotrader.policy import option_checks as checks
from autotrader.policy import verticals as policy
from autotrader.policy.option_chain import days_to_expiry

STEP, EXIT_STEP, STRATEGY = "verticals", "verticals_exits", "verticals"


def rules(ctx: StepContext) -> policy.VerticalRules:
    return rules_from_settings(policy.VerticalRules, (ctx.settings.verticals,))


@dataclass(frozen=True)
class Opening:
    """One signal's spread, planned: the structure row to store and the intent that opens it."""

    structure: store.StructureRow
    intent: OrderIntent


# -- entries -------------------------------------------------------------------------------------------------


def plan_entry(
    ctx: StepContext, signal: repo.SignalRow, account_equity: float, free_cash: float, at_risk: float
) -> tuple[Opening | None, str, list[dict[str, Any]]]:
    """The spread one signal opens (None, with why), and the trace of the checks."""
    r = rules(ctx)
    side = Side(signal.side)
    mine, spot = expiry_chain(ctx, signal.symbol, r.dte_min, r.dte_max)
    if not mine:
        return None, f"no listed expiry {r.dte_min} to {r.dte_max} days out", []
    expiry = mine[0].contract.expiry
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
                             rules=option_rules(ctx), iv_percentile=percentile, iv_range=r.iv_range,
                             held=store.committed_contracts(ctx.ledger))  # fmt: skip
    decision = checks.decide(case)
    trace = [s.to_json() for s in decision.steps]
    if decision.refused is not None or decision.net_limit is None or decision.profile is None:
        return None, decision.refused or "refused", trace
    structure_id = f"{STRATEGY}-{signal.id}"
    legs = legs_of(structure, closing=False)
    row = structure_row(ctx, structure_id, STRATEGY, structure, decision, signal_id=signal.id,
                        extra={"expiry": expiry.isoformat()})  # fmt: skip
    reason = f"{structure.kind} {chosen[0].symbol}/{chosen[1].symbol} x{decision.units} at {decision.net_limit:.2f}"
    intent = option_intent(ctx, step=STEP, leg=LegKind.ENTRY, underlying=signal.symbol, net=decision.net_limit,
                           units=decision.units, structure_id=structure_id, legs=legs, signal_id=signal.id,
                           reason=reason)  # fmt: skip
    return Opening(row, intent), reason, trace


def run(ctx: StepContext) -> Report:
    shut = closed_for_entries(ctx, ctx.settings.verticals.enabled, "verticals", "no spreads opened")
    if shut is not None:
        return shut
    report = ctx.report()
    r = rules(ctx)
    oldest = ctx.now - timedelta(days=ctx.settings.signals.max_age_days)
    signals = repo.undecided_signals(ctx.ledger, STEP, since=oldest, until=ctx.now)
    account = ctx.deps.broker.account()
    at_risk = options_at_risk(ctx.ledger)
    free_cash = account.buying_power
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
        at_risk += opening.structure.risk
        free_cash -= opening.structure.planned_net * 100 * opening.structure.units
    place_all(ctx, report, intents, "spread opening")
    if not signals:
        report.notes.append("no undecided signals")
    return report.build(Report)


def _decide(ctx: StepContext, signal_id: int, outcome: str, reason: str, trace: list[dict[str, Any]],
            cid: str | None) -> None:  # fmt: skip
    with ctx.ledger.write():
        repo.record_decision(ctx.ledger, signal_id=signal_id, step=STEP, outcome=outcome, reason=reason, trace=trace,
                             client_order_id=cid, run_id=ctx.run_id, now=ctx.now)  # fmt: skip


# -- exits ---------------------------------------------------------------------------------------------------


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
    place_all(ctx, report, intents, "spread closing")
    report.notes.append(f"{len(open_ones)} open spread(s), {len(intents)} to close")
    return report.build(Report)
