"""``size``: decide, for every new signal, whether and how much to buy; place the entry orders.

1. When: before 09:28 New York on a session day entries go out as market-on-open (``opg``); during the
   session only inside ``[size] trading_window_start..end``; otherwise nothing is decided (exit 0, says why).
2. What: every stored signal without a ``size`` decision, generated at or before the as-of and not older
   than ``[signals] max_age_days``.
3. Inputs, gathered here from the ledger and the ports (the policy is pure): the book (portfolio value
   from the last rehydrate, cash, deployed capital, positions, sector exposure, open positions, entries
   today), the risk state (VIX, SPY against its moving average, drawdown from the snapshots' equity peak,
   today's P&L, consecutive losing trades, Kelly statistics per category from closed trades), and per
   signal the latest quote, the asset, the sector and the days to earnings (from the Reference port; a
   networked source is cached once, by ``adapters/cached_reference``, never here).
4. ``policy.sizing.decide_all`` decides in order, with a trace of every base size, multiplier and cap.
5. Data quality first (``pipeline.quarantine``): a symbol whose last daily bars fail validation is
   quarantined in the ledger for the New York session, with the reason (in the report's ``quarantined`` and
   the log): its signals are held back undecided, so nothing buys it this session, and they are sized in a
   later session once its data is good.
6. Every decision is stored (``decisions``, one per signal); ordered ones become entry intents that go
   through the order gateway. A bracket cannot be market-on-open at Alpaca, so before the open a
   bracket-worthy signal enters as a plain ``opg`` order carrying its stop and target, and ``sync``
   attaches the protective OCO once the entry has filled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autotrader.clock import ET, OPG_CUTOFF
from autotrader.domain.enums import Book, LegKind, OrderClass, OrderType, Side, TimeInForce
from autotrader.domain.models import Account, OrderIntent
from autotrader.domain.money import to_tick
from autotrader.domain.reports import ReportDraft, SizeReport, SkipLine
from autotrader.ledger import repo
from autotrader.pipeline import quarantine, sell_signals
from autotrader.pipeline.approvals import request_approval
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import GatewayResult, OrderGateway, order_line, report_outcomes
from autotrader.pipeline.rules import rules_from_settings, symbol_values
from autotrader.policy import ranking, sizing
from autotrader.policy.streak import Streak, losing_streak
from autotrader.settings import Settings

if TYPE_CHECKING:  # trades imports numpy and the outcome engine: only the steps that need it load it
    from autotrader.pipeline.trades import TradeOutline

STEP = "size"


def entry_timing(ctx: StepContext) -> tuple[TimeInForce | None, str]:
    """How entries may go out now: (``opg`` | ``day`` | None, why)."""
    state, now = ctx.session, ctx.now
    calendar = ctx.deps.calendar
    if state.session_date is None:
        return None, f"market closed ({state.reason})"
    size = ctx.settings.size
    if not state.is_open:
        if state.open_at is not None and now < state.open_at:
            if calendar.opg_accepted(now):
                return TimeInForce.OPG, "before the open: entries go market-on-open"
            return None, f"between {OPG_CUTOFF:%H:%M} and the open: too late for market-on-open, too early to trade"
        return None, f"market closed ({state.reason})"
    start = calendar.at_et(state.session_date, size.trading_window_start)
    end = min(calendar.at_et(state.session_date, size.trading_window_end), state.close_at or now)
    if not start <= now < end:
        return None, (
            f"outside the trading window {size.trading_window_start}-{size.trading_window_end} New York"
            + (" (early close)" if state.early_close else "")
        )
    return TimeInForce.DAY, "in the session and the trading window"


def sizing_rules(settings: Settings) -> sizing.Rules:
    """The sizing rules: each field is the setting of the same name in ``[account]``, ``[sizing]``,
    ``[risk]`` or ``[size]``; only the fields below differ from their setting in name, unit or shape."""
    s = settings
    return rules_from_settings(
        sizing.Rules,
        (s.account, s.sizing, s.risk, s.size),
        derived={
            "conviction_multipliers": s.sizing.multipliers(),
            "vix_bands": tuple(
                sizing.VixBand(b.edge, b.multiplier, b.pause_long_term, b.inclusive) for b in s.risk.vix_bands
            ),
            "kelly_clamp": (s.risk.kelly_min_multiplier, s.risk.kelly_max_multiplier),
            "drawdown_bands": tuple(sizing.DrawdownBand(b.above_pct, b.multiplier) for b in s.risk.drawdown_bands),
            "max_quote_age_seconds": s.size.max_quote_age_minutes * 60,
            **symbol_values(s.symbols, "qty", "stop_pct", "target_pct"),
        },
    )


def rules_from(ctx: StepContext) -> sizing.Rules:
    return ctx.from_settings(sizing_rules)


def undecided_signals(ctx: StepContext) -> list[repo.SignalRow]:
    oldest = ctx.now - timedelta(days=ctx.settings.signals.max_age_days)
    return repo.undecided_signals(ctx.ledger, STEP, since=oldest, until=ctx.now)


# -- reference facts ------------------------------------------------------------------------------------------


def sector_of(ctx: StepContext, symbol: str) -> str | None:
    return ctx.deps.reference.sector(symbol)


def days_to_earnings(ctx: StepContext, symbol: str) -> int | None:
    today = ctx.now.astimezone(ET).date()
    found = ctx.deps.reference.next_earnings(symbol, today)
    return (found - today).days if found is not None else None


# -- the book and the risk state -----------------------------------------------------------------------------


def _mark(ctx: StepContext, symbol: str, fallback: float) -> float:
    quote = ctx.deps.market_data.latest_quote(symbol)
    return quote.last if quote is not None else fallback


def book_state(ctx: StepContext, account: Account) -> sizing.BookState:
    ledger = ctx.ledger
    deployed = 0.0
    position_value: dict[str, float] = defaultdict(float)
    sector_exposure: dict[str, float] = defaultdict(float)
    held: set[str] = set()
    for p in repo.all_positions(ledger):
        if p.book == Book.EXTERNAL or p.qty <= 0:
            continue
        value = p.qty * _mark(ctx, p.symbol, p.avg_cost)
        # Unknown sectors add up in one bucket, which the policy caps under unknown_sector = "own_bucket".
        sector_exposure[sizing.sector_bucket(sector_of(ctx, p.symbol))] += value
        if p.book == Book.SIGNALS:
            deployed += p.qty * p.avg_cost
            position_value[p.symbol] += value
            held.add(p.symbol)
    # Open (submitted, not yet filled) buys count as deployed: the seed's SUBMITTED + FILLED.
    pending_buys = 0.0
    working = repo.working_buys(ledger, str(Book.SIGNALS))
    for buy in working:
        price = buy.limit_price or buy.extra.get("reference_price") or 0.0
        pending = buy.remaining * price
        pending_buys += pending
        deployed += pending
        position_value[buy.symbol] += pending
        held.add(buy.symbol)
        sector_exposure[sizing.sector_bucket(sector_of(ctx, buy.symbol))] += pending
    new_today = repo.intents_on(ledger, book=str(Book.SIGNALS), leg=str(LegKind.ENTRY), session_date=ctx.session_date)
    portfolio_value, portfolio_value_from = sizing_capital(ctx, account)
    return sizing.BookState(
        portfolio_value=portfolio_value,
        # Cash the broker still shows may already be promised to our open buys that have not filled yet.
        cash=account.cash - pending_buys,
        deployed=deployed,
        position_value=dict(position_value),
        sector_exposure=dict(sector_exposure),
        open_positions=len(held),
        new_trades_today=new_today,
        portfolio_value_from=portfolio_value_from,
        open_buy_orders=len(working),
        entries_in_symbol=repo.entries_since_flat(ledger, str(Book.SIGNALS)),
    )


def sizing_capital(ctx: StepContext, account: Account) -> tuple[float, str]:
    """The portfolio value sizing uses and where it came from (``Settings.sizing_capital``)."""
    rule = ctx.settings.sizing_capital
    if rule == "pinned":
        return ctx.settings.account.portfolio_value, "pinned"
    if rule == "broker":
        return account.equity, "broker equity"
    stored = repo.stored_portfolio_value(ctx.ledger)
    return (stored, "last close equity") if stored is not None else (ctx.settings.account.portfolio_value, "default")


def vix_level(ctx: StepContext) -> float | None:
    """The last complete daily close of the volatility index, or None."""
    today = ctx.now.astimezone(ET).date()
    frame = ctx.deps.market_data.vix_daily(today - timedelta(days=14), today)
    return float(frame["close"].iloc[-1]) if len(frame) else None


def spy_trend(ctx: StepContext) -> tuple[float | None, float | None]:
    """SPY's last daily close and its ``spy_sma_days`` average, or (None, None) without enough bars."""
    market = ctx.deps.market_data
    today = ctx.now.astimezone(ET).date()
    days = ctx.settings.risk.spy_sma_days
    if not market.has_symbol("SPY"):
        return None, None
    spy = market.daily_bars("SPY", today - timedelta(days=days * 2 + 14), today)
    if len(spy) < days:
        return None, None
    return float(spy["close"].iloc[-1]), float(spy["close"].iloc[-days:].mean())


def kelly_stats(closed: list[TradeOutline]) -> dict[str, sizing.KellyStats]:
    """Per category: trades, wins and the average win and loss as returns on the dollars invested."""
    per_category: dict[str, list[float]] = defaultdict(list)
    for c in closed:
        if c.category is not None:
            invested = c.trade.entry_qty * c.trade.entry_price
            per_category[c.category].append(c.managed_pnl / invested if invested else 0.0)
    kelly = {}
    for category, returns in per_category.items():
        wins = [r for r in returns if r > 0]
        losses = [-r for r in returns if r < 0]
        kelly[category] = sizing.KellyStats(
            trades=len(returns),
            wins=len(wins),
            avg_win=sum(wins) / len(wins) if wins else 0.0,
            avg_loss=sum(losses) / len(losses) if losses else 0.0,
        )
    return kelly


def risk_state(ctx: StepContext, account: Account) -> sizing.RiskState:
    from autotrader.pipeline import trades

    spy_close, spy_sma = spy_trend(ctx)
    equity = account.equity
    peak = max([*repo.equity_curve(ctx.ledger), equity])
    drawdown = (peak - equity) / peak * 100 if peak > 0 else 0.0
    previous = repo.equity_before(ctx.ledger, ctx.session_date)
    daily_pnl = equity - previous if previous is not None else 0.0
    closed = [c for c in trades.closed(ctx) if c.trade.book == Book.SIGNALS]
    streak = streak_state(ctx, closed)
    return sizing.RiskState(
        vix=vix_level(ctx),
        spy_close=spy_close,
        spy_sma=spy_sma,
        drawdown_pct=drawdown,
        daily_pnl=daily_pnl,
        consecutive_losses=streak.losses,
        kelly=kelly_stats(closed),
        streak_resumes_on=streak.resumes_on.isoformat() if streak.resumes_on else None,
    )


def streak_state(ctx: StepContext, closed: list[TradeOutline]) -> Streak:
    """The losing streak of the closed trades (oldest first) since the owner last ended a pause, with when the
    pause it causes ends (``policy.streak``)."""
    calendar, settings = ctx.deps.calendar, ctx.settings.risk
    reset = repo.streak_reset_at(ctx.ledger)
    closes = [
        (c.trade.closed_at.astimezone(ET).date(), c.managed_pnl < 0)
        for c in closed
        if c.trade.closed_at is not None and (reset is None or c.trade.closed_at > reset)
    ]

    def resume_after(day: date) -> date:
        for _ in range(settings.streak_pause_sessions):
            day = calendar.next_session(day)
        return day

    return losing_streak(
        closes,
        limit=settings.max_consecutive_losses,
        pause_sessions=settings.streak_pause_sessions,
        today=ctx.now.astimezone(ET).date(),
        resume_after=resume_after,
    )


def _inputs(ctx: StepContext, signal: repo.SignalRow, tif: TimeInForce) -> tuple:
    signal_in = sizing.SignalIn(
        signal_id=signal.id,
        symbol=signal.symbol,
        category=signal.category,
        side=signal.side,
        conviction=signal.conviction,
        entry=signal.entry,
        stop=signal.stop,
        target=signal.target,
    )
    return (signal_in, *market_inputs(ctx, signal.symbol, tif))


def market_inputs(
    ctx: StepContext, symbol: str, tif: TimeInForce
) -> tuple[sizing.QuoteIn | None, sizing.AssetIn | None, str | None, int | None]:
    """What sizing reads of the market for one symbol: the quote (with its age), the asset, sector, earnings."""
    deps = ctx.deps
    quote = deps.market_data.latest_quote(symbol)
    quote_in = None
    if quote is not None:
        age = (ctx.now - quote.quoted_at).total_seconds()
        if tif == TimeInForce.OPG:
            # Before the open the last session's close is the freshest price there can be.
            last_close = deps.calendar.session_close(deps.calendar.last_closed_session(ctx.now))
            age = 0.0 if quote.quoted_at >= last_close else age
        quote_in = sizing.QuoteIn(bid=quote.bid, ask=quote.ask, last=quote.last, age_seconds=max(0.0, age))
    asset = deps.broker.asset(symbol)
    asset_in = sizing.AssetIn(tradable=asset.tradable, fractionable=asset.fractionable) if asset else None
    return quote_in, asset_in, sector_of(ctx, symbol), days_to_earnings(ctx, symbol)


# -- the step ---------------------------------------------------------------------------------------------------


def run(ctx: StepContext) -> SizeReport:
    report = ctx.report()
    tif, why = entry_timing(ctx)
    report.fields["timing"] = why
    if tif is None:
        report.notes.append(f"no entries now: {why}")
        return report.build(SizeReport)
    signals = undecided_signals(ctx)
    if not signals:
        report.notes.append("no new signals to size")
        return report.build(SizeReport)
    if repo.current_halt(ctx.ledger) is not None:
        # Not decided while halted: after `resume` they are sized at the prices of then, if still fresh.
        report.notes.append(f"{len(signals)} new signal(s) wait undecided until `autotrader resume`")
        return report.build(SizeReport)
    gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
    # [exits] on_sell_signal = "exit": a sell signal for a held symbol exits it; never quarantined or ranked.
    signals, sell_exits = sell_signals.split(ctx, signals)
    exited = sell_signals.run(ctx, report, gateway, sell_exits, tif)
    exits_summary = f"{len(sell_exits)} sell signal(s) of held symbols: {len(exited)} exit(s) ordered"
    if sell_exits and not signals:
        report_outcomes(report, exited, exits_summary, in_doubt=gateway.in_doubt())
        return report.build(SizeReport)
    signals = _quarantine(ctx, report, signals)
    if not signals:
        report.notes.append("every new signal's symbol is quarantined for the session")
        if sell_exits:
            report_outcomes(report, exited, exits_summary, in_doubt=gateway.in_doubt())
        return report.build(SizeReport)
    # One account read per run: with a real broker every read is a request.
    account = ctx.deps.broker.account()
    book, risk = book_state(ctx, account), risk_state(ctx, account)
    report.fields["book"] = {
        "portfolio_value": book.portfolio_value,
        "portfolio_value_from": book.portfolio_value_from,
        "cash": round(book.cash, 2),
        "deployed": round(book.deployed, 2),
        "open_positions": book.open_positions,
        "new_trades_today": book.new_trades_today,
    }
    report.fields["risk"] = {
        "vix": risk.vix,
        "spy_close": risk.spy_close,
        "spy_sma": risk.spy_sma,
        "drawdown_pct": round(risk.drawdown_pct, 4),
        "daily_pnl": round(risk.daily_pnl, 2),
        "consecutive_losses": risk.consecutive_losses,
    }
    inputs = [_inputs(ctx, s, tif) for s in signals]
    watched: list[sizing.Decision] = []
    if ctx.settings.rank.enabled:
        order = rank_signals(ctx, signals)
        report.fields["ranking"] = ranking_rows(order)
        inputs, watched, steps = ranked(inputs, order)
        decisions = [replace(d, trace=(steps[d.signal_id], *d.trace))
                     for d in sizing.decide_all(inputs, book, risk, rules_from(ctx))] + watched  # fmt: skip
    else:
        decisions = sizing.decide_all(inputs, book, risk, rules_from(ctx))
    traces = {d.signal_id: d.trace_json() for d in decisions}  # a trace holds hundreds of numbers: made once
    intents = _record(ctx, decisions, {s.id: s for s in signals}, tif, traces)
    results = {r.client_order_id: r for r in gateway.place(intents)}
    _report_decisions(report, decisions, intents, results, traces)
    summary = f"{len(signals)} signal(s): {len(intents)} ordered ({why}), {len(report.skipped)} skipped"
    if sell_exits:
        summary += f"; {exits_summary}"
    report_outcomes(report, [*exited, *results.values()], summary, in_doubt=gateway.in_doubt())
    return report.build(SizeReport)


SizingInput = tuple[sizing.SignalIn, sizing.QuoteIn | None, sizing.AssetIn | None, str | None, int | None]


def rank_signals(ctx: StepContext, signals: Sequence[repo.SignalRow]) -> list[ranking.Ranked]:
    """``[rank]``: ``signals`` (in the order they arrived) ranked and tagged, the day's earlier entries counted
    (``policy.ranking``)."""
    s = ctx.settings.rank
    rules = ranking.RankRules(s.min_dollar_volume, s.liquidity_sessions, s.falling_knife_pct,
                              s.falling_knife_sessions, s.max_per_sector, s.max_per_day)  # fmt: skip
    candidates = [
        ranking.Candidate(signal.id, signal.symbol, signal.conviction, sector_of(ctx, signal.symbol),
                          *_liquidity(ctx, signal.symbol, rules), arrival, probability=signal.probability)
        for arrival, signal in enumerate(signals)
    ]  # fmt: skip
    earlier = repo.entry_symbols_on(ctx.ledger, book=str(Book.SIGNALS), session_date=ctx.session_date)
    by_sector: dict[str, int] = defaultdict(int)
    for symbol in earlier:
        by_sector[sector_of(ctx, symbol) or "unknown"] += 1
    return ranking.rank(candidates, rules, ranking.Today(len(earlier), dict(by_sector)))


def ranking_rows(order: Sequence[ranking.Ranked]) -> list[dict[str, Any]]:
    """The ranking as the reports print it (``RankedSignal``)."""
    return [
        {"signal_id": r.candidate.signal_id, "symbol": r.candidate.symbol, "rank": r.rank, "tag": r.tag,
         "reason": r.reason, "conviction": r.candidate.conviction, "probability": r.candidate.probability,
         "dollar_volume": r.candidate.dollar_volume, "recent_return": r.candidate.recent_return,
         "sector": r.candidate.sector}
        for r in order
    ]  # fmt: skip


def ranking_preview(ctx: StepContext) -> list[dict[str, Any]]:
    """The undecided buy signals as ``size`` would rank them now (``scan --json``): nothing is decided or
    stored. ``size`` first leaves out the symbols quarantined for the session and exits held symbols on sell
    signals, so its ranking can hold fewer signals."""
    buys = [s for s in undecided_signals(ctx) if s.side == str(Side.BUY)]
    return ranking_rows(rank_signals(ctx, buys)) if buys else []


def ranked(
    inputs: list[SizingInput], order: Sequence[ranking.Ranked]
) -> tuple[list[SizingInput], list[sizing.Decision], dict[int, sizing.TraceStep]]:
    """The inputs to size in rank order, the watched signals as skip decisions, and each executed signal's
    rank step for its trace."""
    by_id = {item[0].signal_id: item for item in inputs}
    executed = [by_id[r.candidate.signal_id] for r in order if r.tag == ranking.EXECUTE]
    watched = [_watched(r) for r in order if r.tag == ranking.WATCH]
    return executed, watched, {r.candidate.signal_id: r.trace() for r in order if r.tag == ranking.EXECUTE}


def _watched(r: ranking.Ranked) -> sizing.Decision:
    c = r.candidate
    return sizing.Decision(c.signal_id, c.symbol, "skipped", 0.0, 0.0, None, "market", None, "simple", None, None,
                           f"watch: {r.reason}", (r.trace(),))  # fmt: skip


def _liquidity(ctx: StepContext, symbol: str, rules: ranking.RankRules) -> tuple[float | None, float | None]:
    """The symbol's average dollar volume and its return over the falling-knife window, from the sessions
    closed by now (None where the history is too short)."""
    calendar = ctx.deps.calendar
    last = calendar.last_closed_session(ctx.now)
    sessions = max(rules.liquidity_sessions, rules.falling_knife_sessions + 1)
    bars = ctx.deps.market_data.daily_bars(symbol, calendar.sessions_back(last, sessions - 1), last)
    if bars.empty:
        return None, None
    closes, volumes = bars["close"].to_numpy(dtype=float), bars["volume"].to_numpy(dtype=float)
    n, k = rules.liquidity_sessions, rules.falling_knife_sessions
    dollars = float((closes[-n:] * volumes[-n:]).mean()) if len(bars) >= n else None
    recent = float(closes[-1] / closes[-k - 1] - 1) if len(bars) >= k + 1 and closes[-k - 1] > 0 else None
    return dollars, recent


def _quarantine(ctx: StepContext, report: ReportDraft, signals: list[repo.SignalRow]) -> list[repo.SignalRow]:
    """The session's quarantine, with the signals' symbols checked (``pipeline.quarantine``), in the report;
    return the signals whose symbol is not quarantined (the others stay undecided)."""
    held = quarantine.gather(ctx, {s.symbol for s in signals})
    report.fields["quarantined"] = quarantine.report_rows(held)
    for signal in signals:
        if signal.symbol in held:
            report.skipped.append(
                SkipLine(signal.symbol, quarantine.why(held[signal.symbol]), {"signal_id": signal.id, "trace": []})
            )
    return [s for s in signals if s.symbol not in held]


def _record(
    ctx: StepContext,
    decisions: list[sizing.Decision],
    signals: dict[int, repo.SignalRow],
    tif: TimeInForce,
    traces: dict[int, list[dict]],
) -> list[OrderIntent]:
    """Store every decision, and an entry intent for each one that orders; return the intents."""
    intents: list[OrderIntent] = []
    expires = entry_deadline(ctx, tif)
    # Decisions and their intents commit together: a crash after this transaction leaves PLANNED intents
    # that the next run (or sync) sends while still in time, never an "ordered" decision with no intent.
    with ctx.ledger.write():
        for decision in decisions:
            intent = _intent(ctx, decision, signals[decision.signal_id], tif, expires) if decision.qty > 0 else None
            if intent is not None:
                repo.insert_intent(ctx.ledger, intent, run_id=ctx.run_id, now=ctx.now)
                intents.append(intent)
                if ctx.settings.approval.needs(str(Book.SIGNALS), signals[decision.signal_id].category):
                    request_approval(ctx, intent)
            repo.record_decision(
                ctx.ledger,
                signal_id=decision.signal_id,
                step=STEP,
                outcome=decision.outcome,
                reason=decision.reason,
                trace=traces[decision.signal_id],
                client_order_id=intent.client_order_id if intent else None,
                run_id=ctx.run_id,
                now=ctx.now,
            )
    return intents


def _report_decisions(
    report: ReportDraft,
    decisions: list[sizing.Decision],
    intents: list[OrderIntent],
    results: dict[str, GatewayResult],
    traces: dict[int, list[dict]],
) -> None:
    """An order line, with its trace, for every intent placed; a skip line for every decision that skipped."""
    for intent in intents:
        r = intent.request
        report.orders.append(
            order_line(
                intent,
                results[intent.client_order_id],
                limit_price=r.limit_price,
                stop_price=r.stop_loss_stop_price,
                take_profit=r.take_profit_limit_price,
                trace=traces[intent.signal_id],  # type: ignore[index]
            )
        )
    for decision in decisions:
        if decision.qty <= 0:
            report.skipped.append(
                SkipLine(
                    decision.symbol,
                    decision.reason,
                    {"signal_id": decision.signal_id, "trace": traces[decision.signal_id]},
                )
            )


def entry_deadline(ctx: StepContext, tif: TimeInForce) -> datetime:
    """The last instant an entry decided now may still be sent: the market-on-open cut-off, or the end of the
    trading window (the close, if earlier). After it the decision is stale and is abandoned, never sent late."""
    calendar = ctx.deps.calendar
    state = ctx.session
    day = state.session_date
    assert day is not None
    if tif == TimeInForce.OPG:
        return calendar.at_et(day, f"{OPG_CUTOFF:%H:%M}")
    end = calendar.at_et(day, ctx.settings.size.trading_window_end)
    return min(end, state.close_at) if state.close_at else end


def _intent(
    ctx: StepContext, decision: sizing.Decision, signal: repo.SignalRow, tif: TimeInForce, expires: datetime
) -> OrderIntent:
    bracket = decision.order_class == "bracket"
    attach_later = bracket and tif == TimeInForce.OPG  # Alpaca refuses a bracket with market-on-open
    order_class = OrderClass.BRACKET if bracket and not attach_later else OrderClass.SIMPLE
    extra = {"reference_price": decision.reference_price, "category": signal.category}
    if attach_later:
        extra.update({"attach_take_profit": decision.take_profit, "attach_stop_loss": decision.stop_loss})
    elif order_class != OrderClass.BRACKET and signal.stop is not None:
        # A stop without a target cannot be a bracket, yet the size assumed the stop: sync places it as a
        # protective stop order once the entry has filled.
        extra["attach_stop_loss"] = to_tick(signal.stop, direction="up")
    return OrderIntent.create(
        session_date=ctx.session_date,
        step=STEP,
        book=Book.SIGNALS,
        leg=LegKind.ENTRY,
        key=f"signal:{signal.id}",
        symbol=decision.symbol,
        side=Side.BUY,
        qty=decision.qty,
        type=OrderType(decision.order_type),
        # Brackets rest as good-till-cancelled so their stop protects the position overnight.
        time_in_force=TimeInForce.GTC if order_class == OrderClass.BRACKET else tif,
        limit_price=decision.limit_price,
        order_class=order_class,
        take_profit_limit_price=decision.take_profit if order_class == OrderClass.BRACKET else None,
        stop_loss_stop_price=decision.stop_loss if order_class == OrderClass.BRACKET else None,
        reason=decision.reason,
        signal_id=signal.id,
        extra=extra,
        expires_at=expires,
    )
