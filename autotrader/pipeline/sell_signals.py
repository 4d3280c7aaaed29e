"""Sell signals for held symbols: with ``[exits] on_sell_signal = "exit"``, ``size`` sells the position.

``size`` sees every new signal in the window, so it is the step that decides a sell signal. With the default
``"ignore"`` every sell signal goes on to the sizing gates and is skipped there ("no short selling: ...", the
toolkit opens longs only). With ``"exit"``, a sell signal for a symbol the signals book holds is taken out of
sizing and decided here:

1. When: only in the session's trading window (where ``size`` places day orders). Before the open the signal
   waits undecided with a skip line, as the management exits wait for the session: a later ``size`` run decides
   it. A halt (``autotrader halt``) keeps it waiting too, since ``size`` decides nothing while halted.
2. What: one ``signal_exit`` leg (``policy.management.decide_signal_exit``) selling the whole signals-book
   position that is not already promised to a working exit, whole shares, never more than held; a market day
   order expiring at the close, like every management exit. Several sell signals for one symbol make one exit:
   the first (oldest) is "ordered", the others are skipped naming it. A symbol halted for a suspected split
   waits undecided. Quarantine never holds back an exit.
3. Exactly once: the intent's client order id is derived from the session date, ``size``, the book, the symbol,
   the leg, the attempt and the position life's key (``manage.plan_legs``): a rerun, or a second sell signal in
   the same session, finds that intent; only an attempt that ended unfinished (expired, cancelled) is followed
   by the next attempt, for what is still held.
4. The position's protective orders (the bracket legs, the OCO or the stop that hold its shares at the broker)
   are cancelled first, as for the other full exits, and only when the exit will be sent; the decisions and
   their intents are then committed together, so a crash leaves either nothing (the signal is decided again) or
   PLANNED intents that the gateway sends. ``maintain_protection`` then re-places protection for whatever the
   exit does not sell.
5. Each sell signal's decision is stored (``decisions``, step ``size``): "ordered" with the exit intent's id
   and the reason "sell signal: exit N shares", or "skipped" with the reason; the trace is one ``sell_signal``
   step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from autotrader.domain.enums import Book, IntentStatus, TimeInForce
from autotrader.domain.models import OrderIntent
from autotrader.domain.reports import ReportDraft, SkipLine
from autotrader.ledger import repo
from autotrader.pipeline import manage, positions
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import GatewayResult, OrderGateway, order_line
from autotrader.policy import management as mg
from autotrader.policy.sizing import TraceStep

STEP = "size"
RULE = "sell_signal"  # the trace step's name, which the tallies count a skip under


def split(ctx: StepContext, signals: list[repo.SignalRow]) -> tuple[list[repo.SignalRow], list[repo.SignalRow]]:
    """(the signals to size as entries, the sell signals that exit a position the signals book holds)."""
    if ctx.settings.exits.on_sell_signal != "exit" or not any(s.side.lower() == "sell" for s in signals):
        return signals, []
    held = {p.symbol for p in repo.all_positions(ctx.ledger) if p.book == Book.SIGNALS and p.qty > 0}
    exits = [s for s in signals if s.side.lower() == "sell" and s.symbol in held]
    ids = {s.id for s in exits}
    return [s for s in signals if s.id not in ids], exits


def run(
    ctx: StepContext, report: ReportDraft, gateway: OrderGateway, signals: list[repo.SignalRow], tif: TimeInForce
) -> list[GatewayResult]:
    """Decide the sell signals of held symbols (``split``), send their exits, report them; return the results."""
    if not signals:
        return []

    def wait(signal: repo.SignalRow, why: str) -> None:
        report.skipped.append(SkipLine(signal.symbol, f"sell signal: {why}", {"signal_id": signal.id, "trace": []}))

    if tif != TimeInForce.DAY:
        for s in signals:
            wait(s, "the exit waits for the trading window (management exits are sent in the session only)")
        return []
    by_symbol: dict[str, list[repo.SignalRow]] = defaultdict(list)
    for s in sorted(signals, key=lambda s: s.id):
        by_symbol[s.symbol].append(s)
    decided = _decide_exits(ctx, by_symbol, wait)
    known = {
        row["client_order_id"]: IntentStatus(row["status"])
        for rows in repo.position_intents_of(ctx.ledger, [m.position.key for _, m, _ in decided]).values()
        for row in rows
    }
    actions = mg.Decisions([a for _, _, d in decided for a in d.actions])
    plan = manage.plan_legs(
        STEP, [m for _, m, _ in decided], actions, session=ctx.session, session_date=ctx.session_date, known=known
    )
    legs = {action.position_key: (action, intent) for action, intent in plan.legs}
    # The shares the protective orders hold at the broker are freed first, only for an exit that will be sent.
    for p in plan.cancel_first:
        positions.cancel_orders(ctx, gateway, positions.protective_orders(ctx, p.book, p.symbol))
    to_send: list[tuple[mg.Action, OrderIntent, list[dict]]] = []
    with ctx.ledger.write():
        for first, m, d in decided:
            p = m.position
            leg = legs.get(p.key)
            cid: str | None = None
            if leg is not None and manage.will_send(leg[1], known):
                action, intent = leg
                repo.insert_intent(ctx.ledger, intent, run_id=ctx.run_id, now=ctx.now)
                reason, cid, outcome = intent.reason, intent.client_order_id, "ordered"
                trace = _trace(p, f"exit {action.qty:g} shares: a market day sell")
                to_send.append((action, intent, trace))
            else:
                if leg is not None:
                    why = f"this session's exit {leg[1].client_order_id} already ended {known[leg[1].client_order_id]}"
                else:
                    why = d.skipped[0].reason if d.skipped else "nothing to sell"
                reason, outcome = f"sell signal: {why}", "skipped"
                trace = _trace(p, f"skip: {reason}")
            _decide(ctx, report, first, outcome, reason, cid, trace)
            for s in by_symbol[p.symbol][1:]:
                also = f"sell signal: the exit is decided by signal {first.id}"
                _decide(ctx, report, s, "skipped", also, None, _trace(p, f"skip: {also}"))
    results = gateway.place([intent for _, intent, _ in to_send])
    for (action, intent, trace), result in zip(to_send, results, strict=True):
        report.orders.append(order_line(intent, result, trigger_price=action.trigger_price, trace=trace))
    if plan.cancel_first or any(r.sent for r in results):
        positions.maintain_protection(ctx, gateway, positions.refresh(ctx))
    return results


Decided = list[tuple[repo.SignalRow, positions.Managed, mg.Decisions]]


def _decide_exits(
    ctx: StepContext, by_symbol: dict[str, list[repo.SignalRow]], wait: Callable[[repo.SignalRow, str], None]
) -> Decided:
    """Per symbol: its first sell signal, the managed position and the policy's decision; a symbol without a
    quote, or halted for a suspected split, has its signals wait undecided."""
    managed = {
        m.position.symbol: m
        for m in positions.refresh(ctx)
        if m.position.book == Book.SIGNALS and m.position.symbol in by_symbol
    }
    rules = positions.rules_for(ctx, str(Book.SIGNALS))
    decided: Decided = []
    for symbol, group in by_symbol.items():
        m = managed.get(symbol)
        if m is None or m.price is None or m.position.halted_reason:
            why = f"halted: {m.position.halted_reason}" if m and m.position.halted_reason else "no quote for it"
            for s in group:
                wait(s, f"the exit waits ({why})")
            continue
        decided.append((group[0], m, mg.decide_signal_exit(m.position, positions.market_for(ctx, m.price), rules)))
    return decided


def _trace(p: mg.Position, effect: str) -> list[dict]:
    inputs: dict[str, float | str | int | bool | None] = {
        "side": "sell", "on_sell_signal": "exit", "held": p.qty, "pending_exit": p.pending_exit_qty,
    }  # fmt: skip
    return [TraceStep(RULE, inputs, effect).to_json()]


def _decide(
    ctx: StepContext,
    report: ReportDraft,
    signal: repo.SignalRow,
    outcome: str,
    reason: str,
    cid: str | None,
    trace: list[dict],
) -> None:
    repo.record_decision(ctx.ledger, signal_id=signal.id, step=STEP, outcome=outcome, reason=reason, trace=trace,
                         client_order_id=cid, run_id=ctx.run_id, now=ctx.now)  # fmt: skip
    if outcome == "skipped":
        report.skipped.append(SkipLine(signal.symbol, reason, {"signal_id": signal.id, "trace": trace}))
