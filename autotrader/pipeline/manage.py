"""``profittake`` and ``dipbuy``: management legs for the open positions of the signals book.

``profittake`` runs the exits first (day-trade close-out, time stop, loss cut, a stop the price is through,
final and first targets) and the long-term profit-take tiers for what they leave; ``dipbuy`` adds to
long-term positions that fell, never a symbol quarantined for the session (``pipeline.quarantine``: the
symbols with a tier due have their daily bars checked first; exits are never held back). Both:

1. refresh the positions (``positions.refresh``: state, high-water mark, trail, split gaps);
2. ask the pure policy (``policy.management``) what to do;
3. store each leg as an order intent (leg kind, tier, position key, signal) with a deterministic client order
   id and send it through the order gateway: a rerun in the same session sends nothing new. A leg decided
   again after its order ended unfinished (a day order that filled partly and then expired, or was cancelled)
   is the next attempt, under an id of its own (``next_attempt``);
4. keep the protective orders matching (a sell that will be sent first cancels the position's protective
   order, which is then re-placed for what remains; a leg already settled touches nothing).

Management orders are market day orders and go out only while the regular session is open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from autotrader.clock import SessionState
from autotrader.domain.enums import (
    IN_FLIGHT_INTENT_STATUSES,
    Book,
    ExitCode,
    IntentStatus,
    LegKind,
    OrderType,
    Side,
    TimeInForce,
)
from autotrader.domain.models import OrderIntent
from autotrader.domain.reports import ManageReport, SkipLine
from autotrader.ledger import repo
from autotrader.pipeline import positions, quarantine
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import GatewayResult, OrderGateway, order_line, report_outcomes
from autotrader.policy import management as mg
from autotrader.policy import sizing

Priced = tuple[positions.Managed, mg.Market]  # a managed position with a quote, and the market it is decided on


def run_profittake(ctx: StepContext, *, book: str = str(Book.SIGNALS), preset: str | None = None) -> ManageReport:
    """The signals book: exits, then profit-take tiers. The rebalance book: its trailing profit taker only
    (``preset``: conservative | moderate | aggressive, default ``[rebalance] profit_taker_preset``)."""
    rules = positions.rules_for(ctx, book, preset)
    minutes = ctx.settings.exits.day_trade_flat_minutes_before_close

    def decide(priced: list[Priced]) -> mg.Decisions:
        out = mg.Decisions()
        for m, market in priced:
            out.add(_exits_then_tiers(m.position, market, rules, minutes))
        return out

    return _run(ctx, "profittake", decide, book=book, preset=preset)


def _exits_then_tiers(position: mg.Position, market: mg.Market, rules: mg.Rules, minutes: float) -> mg.Decisions:
    out = mg.decide_exits(position, market, rules, flat_minutes_before_close=minutes)
    if all(a.leg == "target" and a.tier == 1 for a in out.actions):  # no full exit: the tiers may trim
        sold = sum(a.qty for a in out.actions)
        rest = mg.decide_profit_takes(
            replace(position, pending_exit_qty=position.pending_exit_qty + sold), market, rules
        )
        out.add(mg.Decisions(rest.actions, rest.skipped, {}))
    return out


def run_dipbuy(ctx: StepContext) -> ManageReport:
    rules = positions.rules_from(ctx)

    def due(priced: list[Priced]) -> list[Priced]:
        return [(m, market) for m, market in priced if mg.due_dip_tier(m.position, market.price, rules) is not None]

    def decide(priced: list[Priced]) -> mg.Decisions:
        # The account is read only when a tier is due: most runs need none.
        book = _book(ctx, ctx.deps.broker.account()) if due(priced) else None
        return decide_dip_buys(priced, book, rules)

    return _run(ctx, "dipbuy", decide, book=str(Book.SIGNALS), buys=due)


def decide_dip_buys(priced: list[Priced], book: mg.Book | None, rules: mg.Rules) -> mg.Decisions:
    """Each position's dip-buy in turn; the next position's room is what the ones before it left."""
    out = mg.Decisions()
    for m, market in priced:
        if book is None or mg.due_dip_tier(m.position, market.price, rules) is None:
            continue
        decided = mg.decide_dip_buy(m.position, market, book, rules)
        for action in decided.actions:
            cost = action.qty * market.price
            held = dict(book.position_value)
            held[action.symbol] = held.get(action.symbol, 0.0) + cost
            book = replace(book, position_value=held, deployed=book.deployed + cost, cash=book.cash - cost)
        out.add(decided)
    return out


def _book(ctx: StepContext, account) -> mg.Book:
    from autotrader.pipeline import size

    state = size.book_state(ctx, account)
    band, _ = sizing.vix_band(size.vix_level(ctx), size.rules_from(ctx))
    paused = bool(band is not None and band.pause_long_term and ctx.settings.risk.market_regime_enabled)
    return mg.Book(
        portfolio_value=state.portfolio_value,
        cash=state.cash,
        deployed=state.deployed,
        position_value=dict(state.position_value),
        regime_paused=paused,
    )


def _run(
    ctx: StepContext,
    step: str,
    decide: Callable[[list[Priced]], mg.Decisions],
    *,
    book: str,
    preset: str | None = None,
    buys: Callable[[list[Priced]], list[Priced]] | None = None,
) -> ManageReport:
    """Gather the book's managed positions, decide (the step's policy), plan the legs, send them, report.

    ``buys``: for a step that buys, the priced positions it may buy now; their symbols are checked against the
    session's quarantine, and the quarantined ones are left out of the decision (and listed in the report)."""
    report = ctx.report()
    report.fields["book"] = book
    gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
    managed = [
        m for m in positions.refresh(ctx, preset=preset) if m.position.book == book and m.position.category is not None
    ]
    priced = [(m, positions.market_for(ctx, m.price)) for m in managed if m.price is not None]
    held_back: list[SkipLine] = []
    if buys is not None:
        candidates = buys(priced)
        held = quarantine.gather(ctx, {m.position.symbol for m, _ in candidates})
        report.fields["quarantined"] = quarantine.report_rows(held)
        held_back = [
            SkipLine(m.position.symbol, quarantine.why(held[m.position.symbol]), {"position_key": m.position.key})
            for m, _ in candidates
            if m.position.symbol in held
        ]
        priced = [(m, market) for m, market in priced if m.position.symbol not in held]
    # The statuses of the legs this step may decide again (``next_attempt``): a protective order's intent is
    # never one of them, and a long life's are many (one per ratchet of its stop).
    keys = [m.position.key for m in managed]
    known = {
        row["client_order_id"]: IntentStatus(row["status"])
        for rows in repo.position_intents_of(ctx.ledger, keys, except_step=positions.PROTECTIVE_STEP).values()
        for row in rows
    }
    plan = plan_legs(step, managed, decide(priced), session=ctx.session, session_date=ctx.session_date, known=known)
    report.skipped.extend(held_back)
    report.skipped.extend(plan.skipped)
    results = _send(ctx, gateway, plan)
    for action, intent in plan.legs:
        report.orders.append(order_line(intent, results[intent.client_order_id], trigger_price=action.trigger_price))
    # Protection changes only where this run changed something at the broker: a leg that was already settled
    # (rejected earlier, say) leaves the position's protective order alone.
    touched = plan.cancel_first or any(r.sent for r in results.values())
    protective = positions.maintain_protection(ctx, gateway, positions.refresh(ctx, preset=preset)) if touched else []
    report.fields["positions"] = [_position_json(m) for m in managed]
    report.fields["protective_orders"] = [
        {"client_order_id": r.client_order_id, "status": str(r.status), "message": r.message} for r in protective
    ]
    summary = f"{len(managed)} position(s): {len(plan.legs)} leg(s) sent, {len(report.skipped)} skipped"
    report_outcomes(report, results.values(), summary, in_doubt=gateway.in_doubt())
    halted = [m for m in managed if m.position.halted_reason]
    for m in halted:
        report.notes.append(f"{m.position.symbol} halted: {m.position.halted_reason}")
    if halted:
        report.exit_code, report.ok = ExitCode.HALTED, False
    return report.build(ManageReport)


@dataclass(frozen=True)
class LegPlan:
    """What a management run will do, decided before anything is sent."""

    skipped: tuple[SkipLine, ...]
    legs: tuple[tuple[mg.Action, OrderIntent], ...]  # to send, in the order decided
    held_back: frozenset[str]  # position keys with a leg decided but not sent (the market is closed)
    plans: dict[str, mg.Plan]  # position key -> its plan once this run's legs are at the broker
    cancel_first: tuple[mg.Position, ...]  # positions with a sell to send: their protective order goes first


# An order that ended with these may be followed by another attempt at the same leg; any other ending is final
# for the session (filled; rejected: the broker's refusal is definitive).
ENDED_UNFINISHED: frozenset[IntentStatus] = frozenset({IntentStatus.EXPIRED, IntentStatus.CANCELED})


def next_attempt(cid_of: Callable[[int], str], known: Mapping[str, IntentStatus]) -> int:
    """The attempt a decided leg is, given the ledger's intents (``known``: client order id → status) and the id
    each attempt has (``cid_of``): the first attempt whose id the ledger does not hold, or holds in any state but
    ended-unfinished. So the remainder of an exit that filled partly and then expired is a new order under a new
    id, yet a rerun (or a run after a crash between storing and sending) finds the same attempt again and the
    gateway drives that intent as it stands: resolved, sent once, or left alone."""
    attempt = 0
    while known.get(cid_of(attempt)) in ENDED_UNFINISHED:
        attempt += 1
    return attempt


def will_send(intent: OrderIntent, known: Mapping[str, IntentStatus]) -> bool:
    """Whether the gateway may send this intent: it is new, or not yet known to have reached the broker."""
    status = known.get(intent.client_order_id)
    return status is None or status in IN_FLIGHT_INTENT_STATUSES


def plan_legs(
    step: str,
    managed: list[positions.Managed],
    decisions: mg.Decisions,
    *,
    session: SessionState,
    session_date: str,
    known: Mapping[str, IntentStatus] | None = None,
) -> LegPlan:
    """The decisions as intents, or as skip lines while the market is closed (management legs are market day
    orders and go out only in the regular session). ``known``: the statuses of the positions' intents in the
    ledger, by client order id (which attempt each leg is, and whether it will be sent)."""
    known = known or {}
    skipped = [
        SkipLine(m.position.symbol, "no quote: nothing decided", {"position_key": m.position.key})
        for m in managed
        if m.price is None
    ]
    skipped += [SkipLine(s.symbol, s.reason, {"position_key": s.position_key}) for s in decisions.skipped]
    if not session.is_open:
        skipped += [
            SkipLine(a.symbol, f"{a.leg} tier {a.tier}: {a.reason}; not sent, market closed ({session.reason})",
                     {"position_key": a.position_key, "trigger_price": a.trigger_price})
            for a in decisions.actions
        ]  # fmt: skip
        held_back = frozenset(a.position_key for a in decisions.actions)
        return LegPlan(tuple(skipped), (), held_back, dict(decisions.plans), ())
    by_key = {m.position.key: m for m in managed}
    legs = tuple(
        (a, _attempt(session_date, session, step, a, by_key[a.position_key], known)) for a in decisions.actions
    )
    # A sell needs the shares its protective order holds at the broker: that order is cancelled first (and
    # re-placed for what remains), but only for a sell that will be sent.
    selling = sorted({a.position_key for a, i in legs if a.side == "sell" and will_send(i, known)})
    return LegPlan(tuple(skipped), legs, frozenset(), dict(decisions.plans), tuple(by_key[k].position for k in selling))


def _send(ctx: StepContext, gateway: OrderGateway, plan: LegPlan) -> dict[str, GatewayResult]:
    """Cancel what must go first, place the legs, and move on the plans of those that reached the broker."""
    for p in plan.cancel_first:
        positions.cancel_orders(ctx, gateway, positions.protective_orders(ctx, p.book, p.symbol))
    results = {r.client_order_id: r for r in gateway.place([intent for _, intent in plan.legs])}
    # A plan moves on (first target done, stop to break-even) only with its leg at the broker: a leg not sent
    # (market closed) or rejected leaves it as it was, so the next run tries again.
    rejected = {a.position_key for a, i in plan.legs if results[i.client_order_id].status == IntentStatus.REJECTED}
    unsent = plan.held_back | rejected
    positions.save_plans(ctx, {k: p for k, p in plan.plans.items() if k not in unsent})
    return results


def _attempt(
    session_date: str,
    session: SessionState,
    step: str,
    action: mg.Action,
    m: positions.Managed,
    known: Mapping[str, IntentStatus],
) -> OrderIntent:
    def at(attempt: int) -> OrderIntent:
        return _intent(session_date, session, step, action, m, attempt)

    return at(next_attempt(lambda n: at(n).client_order_id, known))


def _intent(
    session_date: str, session: SessionState, step: str, action: mg.Action, m: positions.Managed, attempt: int
) -> OrderIntent:
    p = m.position
    return OrderIntent.create(
        session_date=session_date,
        step=step,
        book=Book(p.book),
        leg=LegKind(action.leg),
        tier=action.tier,
        attempt=attempt,
        key=p.key,
        symbol=p.symbol,
        side=Side(action.side),
        qty=action.qty,
        type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        reason=action.reason,
        signal_id=m.signal_id,
        position_key=p.key,
        extra={"trigger_price": action.trigger_price, "reference_price": m.price},
        expires_at=session.close_at,
    )


def _position_json(m: positions.Managed) -> dict:
    p = m.position
    return {
        "position_key": p.key,
        "symbol": p.symbol,
        "category": p.category,
        "qty": p.qty,
        "avg_cost": round(p.avg_cost, 4),
        "original_qty": p.original_qty,
        "entry_price": round(p.entry_price, 4),
        "price": m.price,
        "sessions_held": p.sessions_held,
        "stop": p.plan.stop_price,
        "stop_leg": p.plan.stop_leg,
        "target": p.plan.target_price,
        "target_one": p.plan.target_one_price,
        "target_one_done": p.plan.target_one_done,
        "high_water": p.plan.high_water,
        "trail_active": p.plan.trail_active,
        "fired": sorted(f"{leg}:{tier}" for leg, tier in p.fired),
        "halted": p.halted_reason,
    }
