"""``profittake`` and ``dipbuy``: management legs for the open positions of the signals book.

``profittake`` runs the exits first (day-trade close-out, time stop, loss cut, a stop the price is through,
final and first targets) and the long-term profit-take tiers for what they leave; ``dipbuy`` adds to
long-term positions that fell. Both:

1. refresh the positions (``positions.refresh``: state, high-water mark, trail, split gaps);
2. ask the pure policy (``policy.management``) what to do;
3. store each leg as an order intent (leg kind, tier, position key, signal) with a deterministic client order
   id and send it through the order gateway: a rerun in the same session sends nothing new;
4. keep the protective orders matching (a sell first cancels the position's protective order, which is
   then re-placed for what remains).

Management orders are market day orders and go out only while the regular session is open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from autotrader.domain.enums import Book, IntentStatus, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.models import OrderIntent
from autotrader.domain.reports import Report, SkipLine
from autotrader.pipeline import positions
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway, order_line, report_outcomes
from autotrader.policy import management as mg
from autotrader.policy import sizing


def run_profittake(ctx: StepContext, *, book: str = str(Book.SIGNALS), preset: str | None = None) -> Report:
    """The signals book: exits, then profit-take tiers. The rebalance book: its trailing profit taker only
    (``preset``: conservative | moderate | aggressive, default ``[rebalance] profit_taker_preset``)."""
    rules = positions.rules_for(ctx, book, preset)
    minutes = ctx.settings.exits.day_trade_flat_minutes_before_close

    def decide(m: positions.Managed, market: mg.Market) -> mg.Decisions:
        out = mg.decide_exits(m.position, market, rules, flat_minutes_before_close=minutes)
        if all(a.leg == "target" and a.tier == 1 for a in out.actions):  # no full exit: the tiers may trim
            sold = sum(a.qty for a in out.actions)
            rest = mg.decide_profit_takes(
                replace(m.position, pending_exit_qty=m.position.pending_exit_qty + sold), market, rules
            )
            out.add(mg.Decisions(rest.actions, rest.skipped, {}))
        return out

    return _run(ctx, "profittake", decide, book=book, preset=preset)


def run_dipbuy(ctx: StepContext) -> Report:
    rules = positions.rules_from(ctx)
    book: mg.Book | None = None  # built at the first position with a tier due: most runs need none

    def decide(m: positions.Managed, market: mg.Market) -> mg.Decisions:
        nonlocal book
        if mg.due_dip_tier(m.position, market.price, rules) is None:
            return mg.Decisions()
        if book is None:
            book = _book(ctx, ctx.deps.broker.account())
        out = mg.decide_dip_buy(m.position, market, book, rules)
        for action in out.actions:  # the next position's room is what this one left
            cost = action.qty * market.price
            held = dict(book.position_value)
            held[action.symbol] = held.get(action.symbol, 0.0) + cost
            book = replace(book, position_value=held, deployed=book.deployed + cost, cash=book.cash - cost)
        return out

    return _run(ctx, "dipbuy", decide, book=str(Book.SIGNALS))


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
    decide: Callable[[positions.Managed, mg.Market], mg.Decisions],
    *,
    book: str,
    preset: str | None = None,
) -> Report:
    report = ctx.report()
    report.fields["book"] = book
    gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
    managed = [
        m for m in positions.refresh(ctx, preset=preset) if m.position.book == book and m.position.category is not None
    ]
    decisions = mg.Decisions()
    for m in managed:
        if m.price is None:
            report.skipped.append(
                SkipLine(m.position.symbol, "no quote: nothing decided", {"position_key": m.position.key})
            )
            continue
        decisions.add(decide(m, positions.market_for(ctx, m.price)))
    for skip in decisions.skipped:
        report.skipped.append(SkipLine(skip.symbol, skip.reason, {"position_key": skip.position_key}))
    actions_decided = list(decisions.actions)
    if decisions.actions and not ctx.session.is_open:
        for a in decisions.actions:
            report.skipped.append(
                SkipLine(a.symbol, f"{a.leg} tier {a.tier}: {a.reason}; not sent, market closed ({ctx.session.reason})",
                         {"position_key": a.position_key, "trigger_price": a.trigger_price})
            )  # fmt: skip
        decisions.actions.clear()
    by_key = {m.position.key: m for m in managed}
    intents = [_intent(ctx, step, a, by_key[a.position_key]) for a in decisions.actions]
    # A sell needs the shares its protective order holds at the broker: cancel that first (re-placed below
    # for what remains).
    for key in sorted({a.position_key for a in decisions.actions if a.side == "sell"}):
        p = by_key[key].position
        positions.cancel_orders(ctx, gateway, positions.protective_orders(ctx, p.book, p.symbol))
    results = {r.client_order_id: r for r in gateway.place(intents)}
    # A plan moves on (first target done, stop to break-even) only with its leg at the broker: a leg not sent
    # (market closed) or rejected leaves it as it was, so the next run tries again.
    unsent = {a.position_key for a in actions_decided if a not in decisions.actions}
    unsent |= {
        a.position_key
        for a, i in zip(decisions.actions, intents, strict=True)
        if results[i.client_order_id].status == IntentStatus.REJECTED
    }
    positions.save_plans(ctx, {k: plan for k, plan in decisions.plans.items() if k not in unsent})
    for intent, action in zip(intents, decisions.actions, strict=True):
        report.orders.append(order_line(intent, results[intent.client_order_id], trigger_price=action.trigger_price))
    protective = positions.maintain_protection(ctx, gateway, positions.refresh(ctx, preset=preset)) if intents else []
    report.fields["positions"] = [_position_json(m) for m in managed]
    report.fields["protective_orders"] = [
        {"client_order_id": r.client_order_id, "status": str(r.status), "message": r.message} for r in protective
    ]
    summary = f"{len(managed)} position(s): {len(intents)} leg(s) sent, {len(report.skipped)} skipped"
    report_outcomes(report, results.values(), summary)
    halted = [m for m in managed if m.position.halted_reason]
    for m in halted:
        report.notes.append(f"{m.position.symbol} halted: {m.position.halted_reason}")
    if halted:
        report.exit_code, report.ok = 3, False
    return report


def _intent(ctx: StepContext, step: str, action: mg.Action, m: positions.Managed) -> OrderIntent:
    p = m.position
    return OrderIntent.create(
        session_date=ctx.session_date,
        step=step,
        book=Book(p.book),
        leg=LegKind(action.leg),
        tier=action.tier,
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
        expires_at=ctx.session.close_at,
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
