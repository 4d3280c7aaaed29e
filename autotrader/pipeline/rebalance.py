"""``rebalance``: backtest the ticker-group strategies, pick the best NAV, trade the deltas.

1. The universe: every ticker of every strategy (``[rebalance] groups`` and ``strategies``), or, with
   ``--tickers``, each strategy's tickers that are in the given list (strategies left empty are dropped).
2. Daily closes of the last ``backtest_days`` complete sessions up to the as-of (never a later bar), one
   column per ticker; a ticker the data source does not know stops a ``--tickers`` run with exit 2, and is
   left out (with a note) when it comes from the configuration.
3. ``policy.rebalance`` backtests each strategy and selects the highest final NAV, with the winner's
   probabilistic Sharpe ratio against the runner-up and its deflated Sharpe; ``min_significance`` keeps the
   strategy the book holds (``kv rebalance.strategy``) when the win is not significant enough.
4. Targets: the chosen strategy's current weights × the book's capital (``capital``, or ``capital_pct`` of
   equity) ÷ the latest price, whole shares. Deltas against the book's positions plus its orders still
   working; a delta under ``tolerance_pct`` of its target is skipped; sells first; buys checked against
   buying power (plus the sells' proceeds) and scaled down together when short. A symbol quarantined for the
   session (``pipeline.quarantine``: the chosen strategy's symbols have their last daily bars checked) is not
   bought (a skipped delta, listed in ``quarantined``); a sell of it goes ahead.
5. Orders: market orders while the session is open; when it is closed, market-on-open while Alpaca takes
   them (from 19:00 New York until 09:28 on a session day, any time on a day without a session), otherwise
   day market orders, which the broker queues for the next session. Deterministic client order ids: the
   same evening's rerun places nothing new.
6. A human-readable log per day (``logs/rebalance-YYYYMMDD.log``), the report, and ``--html`` NAV curves.

:func:`run` composes: :func:`gather_universe` and :func:`load_closes` → :func:`choose` (pure: a frozen
:class:`Choice`) → :func:`gather_book` → :func:`plan_orders` (pure: a frozen :class:`OrderPlan`) →
:func:`describe` (the report, identical in a dry run) → :func:`apply` (the orders, when the timing allows one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autotrader.clock import AUCTION_REOPEN, ET, OPG_CUTOFF
from autotrader.domain.enums import Book, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.models import OrderIntent
from autotrader.domain.reports import RebalanceReport, ReportDraft, SkipLine
from autotrader.errors import InputError
from autotrader.ledger import repo
from autotrader.pipeline import positions, quarantine
from autotrader.pipeline.approvals import request_approval
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway, order_line, report_outcomes
from autotrader.pipeline.prefetch import warm_daily_bars
from autotrader.policy import rebalance as rb
from autotrader.settings import RebalanceSection

STEP = "rebalance"
BOOK = str(Book.REBALANCE)
KV_STRATEGY = "rebalance.strategy"


def params_from(ctx: StepContext) -> rb.Params:
    s = ctx.settings.rebalance
    return rb.Params(
        capital=s.capital,
        lookback_days=s.lookback_days,
        sharpe_lookback=s.sharpe_lookback,
        top_n=s.top_n,
        cooldown_days=s.cooldown_days,
        drawdown_stop=s.drawdown_stop,
        momentum_filter=s.momentum_filter,
        pm_momentum_lookback=s.pm_momentum_lookback,
    )


CUSTOM = "TICKERS"  # the strategy --tickers adds: a rotation over exactly the given tickers


def strategies_from(ctx: StepContext, tickers: tuple[str, ...] | None) -> list[rb.Strategy]:
    """The configured strategies (those ``only`` names, when it names any); with ``--tickers``, each keeps only
    the given tickers (those left empty are dropped) and a rotation over exactly the given tickers joins them."""
    s = ctx.settings.rebalance
    out = []
    for name, setting in s.strategies.items():
        if s.only and name not in s.only:
            continue  # held out: a walk-forward's fixed baseline runs one strategy alone
        members = s.strategy_tickers(name)
        if tickers is not None:
            members = [t for t in members if t in tickers]
        if members:
            out.append(rb.Strategy(name, tuple(members), setting.kind))
    if tickers is not None and all(set(st.tickers) != set(tickers) for st in out):
        out.append(rb.Strategy(CUSTOM, tuple(dict.fromkeys(tickers)), "rotation"))
    return out


def run(ctx: StepContext, *, tickers: tuple[str, ...] | None = None, html: Path | None = None) -> RebalanceReport:
    """Gather the strategies and their closes, choose one (pure), gather the book, plan its orders (pure), then
    report the plan and, when the timing allows, place it."""
    settings = ctx.settings.rebalance
    report = ctx.report()
    log = DailyLog(ctx)
    last = ctx.deps.calendar.last_closed_session(ctx.now)
    # The window is backtest_days sessions including the last one, so the first is backtest_days − 1 before it.
    first = ctx.deps.calendar.sessions_back(last, settings.backtest_days - 1)
    universe = gather_universe(ctx, tickers, first, last)
    if universe.left_out:
        report.notes.append(f"left out, unknown to the data source: {', '.join(universe.left_out)}")
    closes = load_closes(ctx, list(universe.symbols), first, last)
    log.line(f"market data: {len(universe.symbols)} tickers, {len(closes)} sessions {first}..{last}")

    choice = choose(closes, universe.strategies, params_from(ctx), settings, repo.kv_get(ctx.ledger, KV_STRATEGY))
    _log_choice(log, choice)
    if choice.selection.warning:
        report.notes.append(choice.selection.warning)

    book = gather_book(ctx, closes, choice.weights)
    orders = plan_orders(choice, book, settings, *order_timing(ctx))
    report.notes.extend(orders.notes)
    log.line(
        f"account: equity {book.equity:,.2f}, buying power {book.buying_power:,.2f}; capital {orders.capital:,.2f}"
    )
    for row in book.quarantined.values():
        log.line(f"{row.symbol}: not bought, {quarantine.why(row)}")
    describe(report, settings, choice, book, orders)
    if orders.tif is None:
        report.notes.append(f"no orders now: {orders.timing}")
        log.line(f"no orders: {orders.timing}")
    else:
        apply(ctx, report, orders, orders.tif, choice.chosen, log, remember=tickers is None)
    _finish(ctx, report, choice.results, html, log)
    return report.build(RebalanceReport)


# ------------------------------------------------------------------------------------------- gather, choose


@dataclass(frozen=True)
class Universe:
    """The strategies this run backtests, cut down to the tickers the data source knows."""

    strategies: tuple[rb.Strategy, ...]
    symbols: tuple[str, ...]  # every ticker of the strategies, sorted
    left_out: tuple[str, ...]  # configured tickers the data source does not know


def gather_universe(ctx: StepContext, tickers: tuple[str, ...] | None, first: date, last: date) -> Universe:
    """The strategies over the known tickers. A ``--tickers`` ticker the data source does not know is bad input;
    a configured one is left out (and a strategy left with none is dropped).

    The daily bars of the whole universe over the backtest window [first, last] are fetched first, at once
    (``prefetch``): a symbol with cached bars is known without asking the vendor, and ``load_closes`` then reads
    every symbol from the cache. A cold 500-symbol universe costs about one request per session of history,
    not one or two per symbol."""
    market = ctx.deps.market_data
    if tickers is not None:
        if not tickers:
            raise InputError("--tickers: give at least one ticker (e.g. --tickers GLD,SPY,QQQ)")
        warm_daily_bars(ctx, tickers, first, last)
        unknown = [t for t in tickers if not market.has_symbol(t)]
        if unknown:
            raise InputError(f"--tickers: the data source does not know {', '.join(unknown)}")
    strategies = strategies_from(ctx, tickers)
    universe = sorted({t for st in strategies for t in st.tickers})
    warm_daily_bars(ctx, universe, first, last)
    missing = [t for t in universe if not market.has_symbol(t)]
    known = [
        rb.Strategy(st.name, tuple(t for t in st.tickers if t not in missing), st.kind)
        for st in strategies
        if any(t not in missing for t in st.tickers)
    ]
    if not known:
        raise InputError(
            "rebalance: the data source knows none of the strategies' tickers",
            hint="check [rebalance] groups against the data ([data] kind and path)",
        )
    return Universe(tuple(known), tuple(t for t in universe if t not in missing), tuple(missing))


@dataclass(frozen=True)
class Choice:
    """Every strategy's backtest, the selection, and the strategy to trade (with why)."""

    results: Mapping[str, rb.Backtest]
    selection: rb.Selection
    held_before: str | None  # the strategy the book followed until now (kv rebalance.strategy)
    chosen: str
    why: str

    @property
    def weights(self) -> dict[str, float]:
        return self.results[self.chosen].weights


def choose(
    closes: pd.DataFrame,
    strategies: Sequence[rb.Strategy],
    params: rb.Params,
    settings: RebalanceSection,
    held_before: str | None,
) -> Choice:
    """Backtest each strategy on ``closes``, select the best final NAV, and apply the ``min_significance`` guard
    against the strategy the book holds. Pure."""
    try:
        results = {st.name: rb.backtest(closes[list(st.tickers)], st, params) for st in strategies}
    except ValueError as error:  # too little history for the parameters
        raise InputError(f"rebalance: {error}", hint="raise [rebalance] backtest_days or check the data") from None
    selection = rb.select(results, level=settings.significance_level)
    chosen, why = rb.keep_current(selection, held_before, results, settings.min_significance)
    return Choice(results, selection, held_before, chosen, why)


def _log_choice(log: DailyLog, choice: Choice) -> None:
    for name, result in choice.results.items():
        log.line(
            f"strategy {name}: NAV {result.final_nav:,.2f}, CAGR {result.cagr:.2%}, Sharpe {result.sharpe:.2f}, "
            f"max drawdown {result.max_drawdown:.2%}"
        )
    selection = choice.selection
    log.line(
        f"winner {selection.winner} (PSR vs runner-up {selection.psr_vs_runner_up:.3f}); "
        f"trading {choice.chosen}: {choice.why}"
    )


# ------------------------------------------------------------------------------------------- the book, plan


@dataclass(frozen=True)
class BookInputs:
    """What the book's orders are planned from: the account, prices and holdings as this run finds them."""

    equity: float
    buying_power: float
    prices: Mapping[str, float]  # symbol → latest price (the chosen strategy's and the book's symbols)
    current: Mapping[str, float]  # symbol → held plus what working orders will still change
    unusable: Mapping[str, str]  # held symbol → why this run has no usable data for it
    quarantined: Mapping[str, repo.QuarantineRow]  # the session's quarantine: symbols nothing may buy


def gather_book(ctx: StepContext, closes: pd.DataFrame, weights: Mapping[str, float]) -> BookInputs:
    """The account, prices and holdings, and the session's quarantine with every symbol the chosen strategy
    weights checked (their daily bars are in the cache the backtest was read from)."""
    account = ctx.deps.broker.account()
    held = quarantine.gather(ctx, [symbol for symbol, weight in weights.items() if weight > 0])
    prices = latest_prices(ctx, sorted(set(weights) | set(held_symbols(ctx))), closes)
    current = current_holdings(ctx)
    rejected = ctx.deps.data_quality.rejected if ctx.deps.data_quality is not None else {}
    unusable = {
        symbol: rejected.get(symbol, "no bars")
        for symbol, qty in current.items()
        if qty > 0
        and (symbol not in prices or symbol in rejected or (symbol in closes and closes[symbol].isna().all()))
    }
    return BookInputs(account.equity, account.buying_power, prices, current, unusable, held)


@dataclass(frozen=True)
class OrderPlan:
    """The book's whole-share targets, the deltas that reach them, and how they go out now."""

    capital: float
    targets: Mapping[str, float]  # whole shares; a held symbol without usable data keeps its own quantity
    notes: tuple[str, ...]
    deltas: rb.Plan
    tif: TimeInForce | None  # None: no order can go out now (see timing)
    timing: str


def plan_orders(
    choice: Choice, book: BookInputs, settings: RebalanceSection, tif: TimeInForce | None, timing: str
) -> OrderPlan:
    """The chosen weights × the book's capital ÷ price, then the deltas. Pure."""
    capital = book.equity * settings.capital_pct / 100 if settings.capital_pct > 0 else settings.capital
    targets: dict[str, float] = dict(rb.target_shares(choice.weights, book.prices, capital))
    notes = []
    # A held symbol the data cannot price or rejected for this run is held as it is, never sold blind.
    for symbol, qty in book.current.items():
        if symbol in book.unusable and symbol not in targets:
            targets[symbol] = int(qty) if float(qty).is_integer() else qty
            notes.append(f"{symbol}: no usable data this run ({book.unusable[symbol]}): held as it is")
    plan = rb.deltas(
        targets,
        book.current,
        book.prices,
        tolerance_pct=settings.tolerance_pct,
        buying_power=book.buying_power,
        # A quarantined symbol is not bought this session; selling it (an exit) still goes ahead.
        no_buy={symbol: quarantine.why(row) for symbol, row in book.quarantined.items()},
    )
    return OrderPlan(capital, targets, tuple(notes), plan, tif, timing)


# ----------------------------------------------------------------------------------------- report, apply


def describe(
    report: ReportDraft, settings: RebalanceSection, choice: Choice, book: BookInputs, orders: OrderPlan
) -> None:
    """The plan in the report: the ``--json`` fields and the skipped deltas (the same in a dry run)."""
    results, selection, chosen, why = choice.results, choice.selection, choice.chosen, choice.why
    held_strategy, weights, prices = choice.held_before, choice.weights, book.prices
    capital, targets, plan, timing = orders.capital, orders.targets, orders.deltas, orders.timing
    report.fields.update(
        {
            "strategies": [_strategy_json(name, r, selection) for name, r in results.items()],
            "winner": selection.winner,
            "runner_up": selection.runner_up,
            "selected": chosen,
            "selection": {
                "psr_vs_runner_up": _num(selection.psr_vs_runner_up),
                "deflated_sharpe": _num(selection.deflated_sharpe),
                "significant": selection.significant,
                "significance_level": settings.significance_level,
                "strategies_tried": len(results),
                "held_before": held_strategy,
                "reason": why,
                "warning": selection.warning,
            },
            "capital": round(capital, 2),
            "targets": [
                {"symbol": s, "shares": q, "weight": round(weights.get(s, 0.0), 6), "price": prices.get(s)}
                for s, q in sorted(targets.items())
            ],
            "deltas": [_line_json(line) for line in plan.lines],
            "buy_scale": plan.buy_scale,
            "timing": timing,
            "quarantined": quarantine.report_rows(dict(book.quarantined)),
        }
    )
    for line in plan.lines:
        if line.qty <= 0:
            report.skipped.append(SkipLine(line.symbol, line.reason, {"target": line.target, "current": line.current}))


def apply(
    ctx: StepContext,
    report: ReportDraft,
    orders: OrderPlan,
    tif: TimeInForce,
    chosen: str,
    log: DailyLog,
    *,
    remember: bool,
) -> None:
    """Place the plan's orders (sells first, as ``tif``) and remember the strategy the book now follows, unless
    this is a one-off ``--tickers`` run (``remember=False``)."""
    timing, plan = orders.timing, orders.deltas
    intents = [_intent(ctx, line, tif) for line in plan.lines if line.qty > 0]
    gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
    # A sell needs the shares a trailing stop holds at the broker: cancel it first (sync re-places it).
    for line in plan.lines:
        if line.side == "sell" and line.qty > 0:
            positions.cancel_orders(ctx, gateway, positions.protective_orders(ctx, BOOK, line.symbol))
    gated = [i for i in intents if i.request.side == Side.BUY and ctx.settings.approval.needs(str(BOOK))]
    if gated:
        with ctx.ledger.write():  # each buy and its approval request together: never one without the other
            for intent in gated:
                repo.insert_intent(ctx.ledger, intent, run_id=ctx.run_id, now=ctx.now)
                request_approval(ctx, intent)
    results_by_cid = {r.client_order_id: r for r in gateway.place(intents)}  # sells come first in the plan
    for intent in intents:
        r, result = intent.request, results_by_cid[intent.client_order_id]
        report.orders.append(order_line(intent, result))
        log.line(f"order {r.side} {r.qty:g} {r.symbol} {r.type} {r.time_in_force}: {result.status} {result.message}")
    if remember:
        with ctx.ledger.write():
            repo.kv_set(ctx.ledger, KV_STRATEGY, chosen, now=ctx.now)
    report_outcomes(
        report, results_by_cid.values(), f"{chosen}: {len(intents)} order(s) ({timing})", in_doubt=gateway.in_doubt()
    )


def _finish(
    ctx: StepContext, report: ReportDraft, results: Mapping[str, rb.Backtest], html: Path | None, log: DailyLog
):
    log.write()
    if html is not None:
        from autotrader.exports.rebalance import write_html
        from autotrader.pipeline.scorecard import page_facts

        navs = {name: r.nav for name, r in results.items()}
        try:
            write_html(html, report.build(RebalanceReport).to_json(), navs, page_facts(ctx, "rebalance"))
            report.fields["html"] = str(html)
        except InputError as error:  # the orders are out already: say so, do not pretend nothing happened
            report.notes.append(error.message)


def load_closes(ctx: StepContext, symbols: list[str], first: date, last: date) -> pd.DataFrame:
    """Daily closes, one column per symbol, indexed by the calendar's sessions (NaN where a bar is missing),
    restated for the splits known to the data source or the ledger (a raw 2:1 split would look like a 50% loss
    to every return, Sharpe and drawdown of the backtest). The universe's bars are fetched at once first (a
    no-op when ``gather_universe`` already did), then read symbol by symbol from the cache."""
    warm_daily_bars(ctx, symbols, first, last)
    market = ctx.deps.market_data
    calendar = ctx.deps.calendar
    sessions = pd.DatetimeIndex([pd.Timestamp(d) for d in calendar.sessions_between(first, last)], name="date")
    splits = known_splits(ctx)  # every adapter serves unadjusted prices
    columns = {}
    for symbol in symbols:
        bars = market.daily_bars(symbol, first, last)
        series = bars["close"].reindex(sessions) if len(bars) else pd.Series(np.nan, index=sessions)
        for ex_date, ratio in splits.get(symbol, {}).items():
            series = series.where(series.index >= pd.Timestamp(ex_date), series / ratio)
        columns[symbol] = series
    return pd.DataFrame(columns, index=sessions)


def known_splits(ctx: StepContext) -> dict[str, dict[Any, float]]:
    """symbol → {ex-date: ratio}: the data source's split list (local files' splits.csv) and the splits the
    ledger applied to positions (one event counted once, by its date)."""
    out: dict[str, dict[Any, float]] = {}
    source = ctx.deps.split_source
    for symbol, ex_date, ratio in source.splits() if source is not None else ():
        out.setdefault(symbol, {})[ex_date] = ratio
    for row in repo.splits(ctx.ledger):
        ex_date = datetime.fromisoformat(row["effective_at"]).astimezone(ET).date()
        out.setdefault(row["symbol"], {}).setdefault(ex_date, row["ratio"])
    return out


def latest_prices(ctx: StepContext, symbols: list[str], closes: pd.DataFrame) -> dict[str, float]:
    """The latest trade, else the last close the backtest saw."""
    market = ctx.deps.market_data
    out = {}
    for symbol in symbols:
        quote = market.latest_quote(symbol)
        if quote is not None:
            out[symbol] = quote.last
        elif symbol in closes and closes[symbol].notna().any():
            out[symbol] = float(closes[symbol].dropna().iloc[-1])
    return out


def held_symbols(ctx: StepContext) -> list[str]:
    return [p.symbol for p in repo.all_positions(ctx.ledger) if p.book == BOOK and p.qty > 0]


def current_holdings(ctx: StepContext) -> dict[str, float]:
    """The book's positions plus what its working orders will still change (so a rerun does not double)."""
    held: dict[str, float] = {p.symbol: p.qty for p in repo.all_positions(ctx.ledger) if p.book == BOOK and p.qty}
    for row in repo.working_intents(ctx.ledger, BOOK, step=STEP):
        remaining = row["remaining"]
        held[row["symbol"]] = held.get(row["symbol"], 0.0) + (remaining if row["side"] == "buy" else -remaining)
    return held


def order_timing(ctx: StepContext) -> tuple[TimeInForce | None, str]:
    """How the deltas go out now: (tif, why)."""
    state, now = ctx.session, ctx.now
    calendar = ctx.deps.calendar
    if state.is_open:
        return TimeInForce.DAY, "market open: market orders"
    before_open = state.open_at is not None and now < state.open_at
    if calendar.opg_accepted(now):
        if before_open:
            return TimeInForce.OPG, "before the open: market-on-open orders"
        return TimeInForce.OPG, "market closed: market-on-open orders for the next session"
    if before_open:
        return None, (
            f"between {OPG_CUTOFF:%H:%M} and the open the broker takes no market-on-open order: rerun after the open"
        )
    return TimeInForce.DAY, (
        f"market closed, and market-on-open orders are taken only from {AUCTION_REOPEN:%H:%M}: day market orders, "
        "queued by the broker for the next session's open"
    )


def _intent(ctx: StepContext, line: rb.OrderLine, tif: TimeInForce) -> OrderIntent:
    return OrderIntent.create(
        session_date=ctx.session_date,
        step=STEP,
        book=Book.REBALANCE,
        leg=LegKind.REBALANCE,
        key=line.side,
        symbol=line.symbol,
        side=Side(line.side),
        qty=float(line.qty),
        type=OrderType.MARKET,
        time_in_force=tif,
        reason=line.reason,
        expires_at=_expiry(ctx, tif),
    )


def _expiry(ctx: StepContext, tif: TimeInForce) -> datetime:
    calendar = ctx.deps.calendar
    state = ctx.session
    if state.is_open and state.close_at is not None:
        return state.close_at
    nxt = calendar.next_open(ctx.now)
    day = nxt.astimezone(ET).date()
    return calendar.at_et(day, f"{OPG_CUTOFF:%H:%M}") if tif == TimeInForce.OPG else nxt


def _num(x: float | None, places: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), places)


def _strategy_json(name: str, r: rb.Backtest, selection: rb.Selection) -> dict[str, Any]:
    return {
        "name": name,
        "tickers": list(r.tickers),
        "nav": round(r.final_nav, 2),
        "cagr": _num(r.cagr),
        "sharpe": _num(r.sharpe),
        "max_drawdown": _num(r.max_drawdown),
        "momentum": _num(r.momentum),
        "psr": _num(selection.psr_vs_runner_up) if name == selection.winner else None,
        "rebalances": len(r.rebalances),
        "weights": {s: round(w, 6) for s, w in sorted(r.weights.items())},
    }


def _line_json(line: rb.OrderLine) -> dict[str, Any]:
    return {
        "symbol": line.symbol,
        "side": line.side,
        "qty": line.qty,
        "target": line.target,
        "current": line.current,
        "reason": line.reason,
    }


class DailyLog:
    """``logs/rebalance-YYYYMMDD.log``: what the seed's script logs, in plain lines, appended per run."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        stamp = self.ctx.now.astimezone(ET).strftime("%Y-%m-%d %H:%M:%S %Z")
        flag = " [dry run]" if self.ctx.dry_run else ""
        self.lines.append(f"{stamp}{flag} {text}")

    def write(self) -> None:
        folder = self.ctx.config.logs_dir
        path = folder / f"rebalance-{self.ctx.now.astimezone(ET):%Y%m%d}.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(self.lines) + "\n")
        except OSError as error:  # a log that cannot be written must not fail the run
            self.ctx.log.event("rebalance_log_unwritable", path=str(path), error=str(error))
