"""``wheel``: cash-secured puts on the week's first session, covered calls on assigned shares (``policy.wheel``),
in run-daily's intraday slots inside ``[size]``'s trading window.

Each structure's id names what it is for, so no slot sends one twice: ``wheel-<name>-put-<week's first
session>`` (one put per name and week, whatever became of it) and ``wheel-<name>-call-<session>`` (while a
call is open, no other is sold on the name). Structure and opening intent are stored together before the
order goes out. The assigned shares are the options book's (``sync`` records them at the day's close); calls
are sold on what is free of them (100 shares a contract), through the same checks as every options entry.
"""

from __future__ import annotations

from datetime import timedelta

from autotrader.clock import ET
from autotrader.domain.enums import Book, LegKind, StructureKind
from autotrader.domain.models import OrderIntent
from autotrader.domain.options import MULTIPLIER, OptionQuote, Structure, cash_secured_put, covered_call, parse_occ
from autotrader.domain.reports import Report, SkipLine
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline import option_chain
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.option_orders import (
    NOT_CLOSED,
    entry_blocked,
    expiry_days,
    legs_of,
    option_intent,
    option_rules,
    options_at_risk,
    place_all,
    store_openings,
    structure_row,
)
from autotrader.pipeline.rules import rules_from_settings
from autotrader.policy import option_checks as checks
from autotrader.policy import wheel as policy
from autotrader.policy.verticals import choose_expiry

STEP = STRATEGY = "wheel"


def rules(ctx: StepContext) -> policy.WheelRules:
    return rules_from_settings(policy.WheelRules, (ctx.settings.wheel,))


def _expiry_quotes(ctx: StepContext, name: str, r: policy.WheelRules) -> list[OptionQuote]:
    today = ctx.now.astimezone(ET).date()
    quotes = option_chain.chains(ctx).option_chain(name, today + timedelta(days=r.dte_min),
                                                   today + timedelta(days=r.dte_max))  # fmt: skip
    expiry = choose_expiry(expiry_days(ctx, quotes), r.dte_min, r.dte_max)
    return [q for q in quotes if q.contract.expiry == expiry]


def _opening(
    ctx: StepContext, structure: Structure, quotes: list[OptionQuote], structure_id: str, *, free_shares: float,
    free_cash: float, equity: float, at_risk: float,
) -> tuple[store.StructureRow, OrderIntent] | str:  # fmt: skip
    """The structure row and the single-contract intent that opens it, or why not (the checks' refusal)."""
    case = checks.OptionCase(structure, {q.contract.symbol: q for q in quotes}, equity, at_risk,
                             free_shares=free_shares, free_cash=free_cash, rules=option_rules(ctx))  # fmt: skip
    decision = checks.decide(case)
    if decision.refused is not None or decision.net_limit is None or decision.profile is None:
        return decision.refused or "refused"
    (leg,) = structure.legs
    row = structure_row(ctx, structure_id, STRATEGY, structure, decision,
                        extra={"trace": [s.to_json() for s in decision.steps]})  # fmt: skip
    intent = option_intent(
        ctx, step=STEP, leg=LegKind.ENTRY, underlying=structure.underlying, net=decision.net_limit,
        units=decision.units, structure_id=structure_id, legs=legs_of(structure, closing=False),
        reason=f"{structure.kind} {leg.contract.symbol} x{decision.units} at {abs(decision.net_limit):.2f} credit",
    )  # fmt: skip
    return row, intent


def _week_start(ctx: StepContext) -> str | None:
    """The week's first session when today is it, else None."""
    today = ctx.now.astimezone(ET).date()
    monday = today - timedelta(days=today.weekday())
    sessions = ctx.deps.calendar.sessions_between(monday, monday + timedelta(days=4))
    return today.isoformat() if policy.first_session_of_week(today, sessions) else None


def run(ctx: StepContext) -> Report:
    report = ctx.report()
    blocked = entry_blocked(ctx, ctx.settings.wheel.enabled, "wheel")
    if blocked is not None:
        report.notes.append(blocked if not ctx.settings.wheel.enabled else f"nothing sold: {blocked}")
        return report.build(Report)
    r = rules(ctx)
    ledger = ctx.ledger
    open_ones = [s for s in store.structures(ledger, statuses=NOT_CLOSED) if s.strategy == STRATEGY]
    held = {n: p for n in r.underlyings if (p := repo.get_position(ledger, str(Book.OPTIONS), n)) and p.qty > 0}
    account = ctx.deps.broker.account()
    free_cash, at_risk = account.buying_power, options_at_risk(ledger)
    planned: list[tuple[store.StructureRow, OrderIntent]] = []

    def plan(built: tuple[store.StructureRow, OrderIntent] | str, name: str) -> None:
        """Keep a planned opening, and what it takes of the allocation and (a put) of the cash."""
        nonlocal free_cash, at_risk
        if isinstance(built, str):
            report.skipped.append(SkipLine(name, built))
            return
        row, _ = built
        planned.append(built)
        at_risk += (row.max_loss or 0.0) * row.units
        if row.kind == StructureKind.CASH_SECURED_PUT:
            free_cash -= parse_occ(row.legs[0]["symbol"]).strike * MULTIPLIER * row.units

    for name, position in held.items():  # covered calls on the shares not yet covered
        if any(s.underlying == name and s.kind == StructureKind.COVERED_CALL for s in open_ones):
            continue
        call = policy.choose_call(_expiry_quotes(ctx, name, r), position.avg_cost, r)
        if call is None:
            report.skipped.append(SkipLine(name, f"no call at or above the shares' cost {position.avg_cost:.2f}"))
            continue
        structure = covered_call(call.contract, position.avg_cost)
        sid = f"wheel-{name}-call-{ctx.session_date}"
        plan(_opening(ctx, structure, [call], sid, free_shares=position.qty, free_cash=free_cash,
                      equity=account.equity, at_risk=at_risk), name)  # fmt: skip

    week = _week_start(ctx)
    if week is not None:
        busy = {s.underlying for s in open_ones} | set(held)
        candidates = [n for n in r.underlyings if n not in busy]
        iv30 = {n: option_chain.current_iv30(ctx, n) for n in candidates}
        percentile = {n: option_chain.iv_standing(ctx, n, iv30[n]).percentile for n in candidates}
        chosen, passed = policy.rank_names(candidates, percentile, iv30, r, r.max_names - len(busy))
        report.skipped.extend(SkipLine(n, why) for n, why in passed.items())
        for name in chosen:
            put = policy.choose_put(_expiry_quotes(ctx, name, r), r)
            if put is None:
                report.skipped.append(SkipLine(name, "no put to sell in the expiry window"))
                continue
            plan(_opening(ctx, cash_secured_put(put.contract), [put], f"wheel-{name}-put-{week}", free_shares=0.0,
                          free_cash=free_cash, equity=account.equity, at_risk=at_risk), name)  # fmt: skip
    place_all(ctx, report, store_openings(ctx, planned), "wheel")
    return report.build(Report)
