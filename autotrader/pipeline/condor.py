"""``condor`` and ``condor_exits``: iron condors on range-bound names (``policy.condor``), in run-daily's intraday
slots.

``condor`` (a buying step): from ``[condor] entry_time`` inside ``[size]``'s trading window, each name of
``[condor] underlyings`` with no condor open that is range-bound on the sessions before today gets one condor,
sold as one multi-leg order at a net credit through the options checks; its id ``condor-<name>-<session>``
makes it once a session at most, and structure and intent are stored together before it is sent. The price
at entry is kept with the structure (the breach rule measures from it).

``condor_exits`` (with the exits): every slot, each open condor is closed, or its threatened side alone, when
the breach, profit or time rule says so (``policy.condor``), on the legs it still holds (sync's
``held_legs``: its own fills, less what expired); a closing order that ended unfilled is sent again at the next
slot (next attempt number). Once no leg is held sync closes the structure with every cash flow's result.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from autotrader.clock import ET
from autotrader.domain.enums import Side, StructureKind
from autotrader.domain.models import OrderIntent
from autotrader.domain.options import OptionLeg, Structure, parse_occ
from autotrader.domain.reports import Report, SkipLine
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline import option_chain, option_sync
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.option_orders import (
    NOT_CLOSED,
    closed_for_entries,
    closing_attempts,
    closing_intent,
    expiry_chain,
    option_rules,
    options_at_risk,
    place_all,
    plan_opening,
    store_openings,
)
from autotrader.pipeline.rules import rules_from_settings
from autotrader.policy import condor as policy
from autotrader.policy import option_checks as checks
from autotrader.policy.option_chain import days_to_expiry

STEP, EXIT_STEP, STRATEGY = "condor", "condor_exits", "condor"


def rules(ctx: StepContext) -> policy.CondorRules:
    return rules_from_settings(policy.CondorRules, (ctx.settings.condor,))


def _closes(ctx: StepContext, name: str, sessions: int) -> list[float]:
    """The daily closes of the ``sessions`` sessions before today, oldest first."""
    today = ctx.now.astimezone(ET).date()
    bars = ctx.deps.market_data.daily_bars(name, today - timedelta(days=sessions * 2 + 10), today - timedelta(days=1))
    return [float(c) for c in bars["close"].to_numpy()[-sessions:]] if len(bars) else []


def run(ctx: StepContext) -> Report:
    shut = closed_for_entries(ctx, ctx.settings.condor.enabled, "condor", "no condor sold")
    if shut is not None:
        return shut
    report = ctx.report()
    r = rules(ctx)
    if ctx.now < ctx.deps.calendar.at_et(ctx.now.astimezone(ET).date(), r.entry_time):
        report.notes.append(f"no condor sold before {r.entry_time} New York")
        return report.build(Report)
    ledger = ctx.ledger
    busy = {s.underlying for s in store.structures(ledger, statuses=NOT_CLOSED)
            if s.strategy == STRATEGY}  # fmt: skip
    account = ctx.deps.broker.account()
    at_risk = options_at_risk(ledger)
    planned: list[tuple[store.StructureRow, OrderIntent]] = []
    for name in r.underlyings:
        if name in busy:
            continue
        calm, reason = policy.range_bound(_closes(ctx, name, r.bollinger_period), r)
        if not calm:
            report.skipped.append(SkipLine(name, f"not range-bound: {reason}"))
            continue
        mine, spot = expiry_chain(ctx, name, r.dte_min, r.dte_max)
        structure = policy.choose_condor(mine, spot, r) if spot is not None else None
        if structure is None:
            report.skipped.append(SkipLine(name, f"no condor {r.dte_min} to {r.dte_max} days out"))
            continue
        case = checks.OptionCase(structure, {q.contract.symbol: q for q in mine}, account.equity, at_risk,
                                 free_shares=0.0, free_cash=account.buying_power, rules=option_rules(ctx),
                                 held=store.committed_contracts(ctx.ledger))  # fmt: skip
        built = plan_opening(
            ctx, case, structure_id=f"condor-{name}-{ctx.session_date}", strategy=STRATEGY, step=STEP,
            extra={"entry_price": spot},
            describe=f"iron condor {'/'.join(f'{x:g}' for x in structure.strikes)} x{{units}} at {{net:.2f}} credit",
        )  # fmt: skip
        if isinstance(built, str):
            report.skipped.append(SkipLine(name, built))
            continue
        planned.append(built)
        at_risk += built[0].risk
    place_all(ctx, report, store_openings(ctx, planned), "condor")
    return report.build(Report)


def _left(ctx: StepContext, s: store.StructureRow, intents: list[dict[str, Any]]) -> tuple[list[OptionLeg], float]:
    """The condor's legs still held (all four, or the side left after the other was closed) and their credit
    per share of a unit, from the fills of its opening intent (among ``intents``, the structure's)."""
    fills = store.option_fills(ctx.ledger, structure_id=s.structure_id)
    still = option_sync.held_legs(s, fills, store.option_events(ctx.ledger, structure_id=s.structure_id))
    legs = [OptionLeg(parse_occ(leg["symbol"]), Side(leg["side"]), leg["ratio"]) for leg in s.legs
            if leg["symbol"] in still]  # fmt: skip
    opening = {i["client_order_id"] for i in intents if i["leg"] == "entry"}
    received = sum((f.qty if f.side == "sell" else -f.qty) * f.price for f in fills
                   if f.client_order_id in opening and f.symbol in still)  # fmt: skip
    return legs, received / s.units


def plan_exit(ctx: StepContext, s: store.StructureRow, r: policy.CondorRules) -> OrderIntent | None:
    """The order that closes the condor, or its threatened side, when a rule says so (``policy.condor``)."""
    intents = repo.position_intents(ctx.ledger, s.structure_id)
    working, attempts = closing_attempts(intents)
    quote = ctx.deps.market_data.latest_quote(s.underlying)
    if working or s.open_net is None or quote is None:
        return None
    legs, credit = _left(ctx, s, intents)
    if not any(leg.side == Side.SELL for leg in legs):
        return None  # nothing sold is left (or nothing at all): the bought wings can only gain, held to expiry
    quotes = option_chain.chains(ctx).option_quotes([leg.contract for leg in legs])
    marks = [quotes.get(leg.contract.symbol) for leg in legs]
    cost = None if any(q is None or q.ask <= 0 for q in marks) else \
        -sum(leg.sign * leg.ratio * q.mid for leg, q in zip(legs, marks, strict=True) if q is not None)
    shorts = {leg.contract.right: leg.contract.strike for leg in legs if leg.side == Side.SELL}
    found = policy.exit_reason(shorts, credit, cost, quote.last, float(s.extra.get("entry_price") or quote.last),
                               days_to_expiry(legs[0].contract.expiry, ctx.now), r)  # fmt: skip
    if found is None:
        return None
    # A bought wing no one bids for cannot be sold and can only gain: it is left to expire, the short bought back.
    closed = [leg for leg in legs if (found.side is None or leg.contract.right == found.side)
              and not (leg.side == Side.BUY and (q := quotes.get(leg.contract.symbol)) is not None and q.bid <= 0)]
    structure = Structure(StructureKind.IRON_CONDOR, tuple(closed))
    return closing_intent(ctx, s, structure, quotes, (found.leg, found.reason), EXIT_STEP, attempts)


def run_exits(ctx: StepContext) -> Report:
    report = ctx.report()
    open_ones = [s for s in store.structures(ctx.ledger, statuses=("open",)) if s.strategy == STRATEGY]
    if not open_ones or not ctx.session.is_open:
        report.notes.append("no open condors" if not open_ones else "market closed: condors are closed in the session")
        return report.build(Report)
    r = rules(ctx)
    intents = [i for i in (plan_exit(ctx, s, r) for s in open_ones) if i is not None]
    place_all(ctx, report, intents, "condor closing")
    return report.build(Report)
