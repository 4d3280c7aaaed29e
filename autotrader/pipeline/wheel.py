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
from autotrader.domain.enums import Book, StructureKind
from autotrader.domain.models import OrderIntent
from autotrader.domain.options import MULTIPLIER, OptionQuote, Structure, cash_secured_put, covered_call, parse_occ
from autotrader.domain.reports import Report, SkipLine
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline import option_chain
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.option_orders import (
    NOT_CLOSED,
    closed_for_entries,
    expiry_chain,
    option_rules,
    options_at_risk,
    place_all,
    plan_opening,
    store_openings,
)
from autotrader.pipeline.rules import rules_from_settings
from autotrader.policy import option_checks as checks
from autotrader.policy import wheel as policy

STEP = STRATEGY = "wheel"


def rules(ctx: StepContext) -> policy.WheelRules:
    return rules_from_settings(policy.WheelRules, (ctx.settings.wheel,))


def _expiry_quotes(ctx: StepContext, name: str, r: policy.WheelRules) -> list[OptionQuote]:
    return expiry_chain(ctx, name, r.dte_min, r.dte_max)[0]


def _opening(
    ctx: StepContext, structure: Structure, quotes: list[OptionQuote], structure_id: str, *, free_shares: float,
    free_cash: float, equity: float, at_risk: float,
) -> tuple[store.StructureRow, OrderIntent] | str:  # fmt: skip
    """The structure row and the single-contract intent that opens it, or why not (the checks' refusal)."""
    case = checks.OptionCase(structure, {q.contract.symbol: q for q in quotes}, equity, at_risk,
                             free_shares=free_shares, free_cash=free_cash, rules=option_rules(ctx),
                             held=store.committed_contracts(ctx.ledger))  # fmt: skip
    (leg,) = structure.legs
    return plan_opening(ctx, case, structure_id=structure_id, strategy=STRATEGY, step=STEP,
                        describe=f"{structure.kind} {leg.contract.symbol} x{{units}} at {{net:.2f}} credit")


def _week_start(ctx: StepContext) -> str | None:
    """The week's first session when today is it, else None."""
    today = ctx.now.astimezone(ET).date()
    monday = today - timedelta(days=today.weekday())
    sessions = ctx.deps.calendar.sessions_between(monday, monday + timedelta(days=4))
    return today.isoformat() if policy.first_session_of_week(today, sessions) else None


def run(ctx: StepContext) -> Report:
    shut = closed_for_entries(ctx, ctx.settings.wheel.enabled, "wheel", "nothing sold")
    if shut is not None:
        return shut
    report = ctx.report()
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
        at_risk += row.risk
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
