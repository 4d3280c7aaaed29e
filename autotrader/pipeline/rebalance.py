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
   buying power (plus the sells' proceeds) and scaled down together when short.
5. Orders: market orders while the session is open; when it is closed, market-on-open while Alpaca takes
   them (from 19:00 New York until 09:28 on a session day, any time on a day without a session), otherwise
   day market orders, which the broker queues for the next session. Deterministic client order ids: the
   same evening's rerun places nothing new.
6. A human-readable log per day (``logs/rebalance-YYYYMMDD.log``), the report, and ``--html`` NAV curves.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autotrader.clock import AUCTION_REOPEN, ET, OPG_CUTOFF
from autotrader.domain.enums import Book, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.ids import client_order_id
from autotrader.domain.models import OrderIntent, OrderRequest
from autotrader.domain.reports import Report, SkipLine
from autotrader.errors import InputError
from autotrader.ledger import repo
from autotrader.pipeline import positions
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway, order_line, report_outcomes
from autotrader.policy import rebalance as rb

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
        drawdown_threshold=s.drawdown_threshold,
        pm_momentum_lookback=s.pm_momentum_lookback,
    )


CUSTOM = "TICKERS"  # the strategy --tickers adds: a rotation over exactly the given tickers


def strategies_from(ctx: StepContext, tickers: tuple[str, ...] | None) -> list[rb.Strategy]:
    """The configured strategies; with ``--tickers``, each keeps only the given tickers (those left empty are
    dropped) and a rotation over exactly the given tickers joins them."""
    s = ctx.settings.rebalance
    out = []
    for name, setting in s.strategies.items():
        members = s.strategy_tickers(name)
        if tickers is not None:
            members = [t for t in members if t in tickers]
        if members:
            out.append(rb.Strategy(name, tuple(members), setting.kind))
    if tickers is not None and all(set(st.tickers) != set(tickers) for st in out):
        out.append(rb.Strategy(CUSTOM, tuple(dict.fromkeys(tickers)), "rotation"))
    return out


def run(ctx: StepContext, *, tickers: tuple[str, ...] | None = None, html: Path | None = None) -> Report:
    report = ctx.report()
    settings = ctx.settings.rebalance
    market = ctx.deps.market_data
    calendar = ctx.deps.calendar
    log = DailyLog(ctx)
    if tickers is not None:
        if not tickers:
            raise InputError("--tickers: give at least one ticker (e.g. --tickers GLD,SPY,QQQ)")
        unknown = [t for t in tickers if not market.has_symbol(t)]
        if unknown:
            raise InputError(f"--tickers: the data source does not know {', '.join(unknown)}")
    strategies = strategies_from(ctx, tickers)
    universe = sorted({t for st in strategies for t in st.tickers})
    missing = [t for t in universe if not market.has_symbol(t)]
    if missing:
        report.notes.append(f"left out, unknown to the data source: {', '.join(missing)}")
        strategies = [
            rb.Strategy(st.name, tuple(t for t in st.tickers if t not in missing), st.kind)
            for st in strategies
            if any(t not in missing for t in st.tickers)
        ]
        universe = [t for t in universe if t not in missing]
    if not strategies:
        raise InputError(
            "rebalance: the data source knows none of the strategies' tickers",
            hint="check [rebalance] groups against the data ([data] kind and path)",
        )
    last = calendar.last_closed_session(ctx.now)
    first = calendar.sessions_back(last, settings.backtest_days)
    closes = load_closes(ctx, universe, first, last)
    log.line(f"market data: {len(universe)} tickers, {len(closes)} sessions {first}..{last}")

    params = params_from(ctx)
    try:
        results = {st.name: rb.backtest(closes[list(st.tickers)], st, params) for st in strategies}
    except ValueError as error:  # too little history for the parameters
        raise InputError(f"rebalance: {error}", hint="raise [rebalance] backtest_days or check the data") from None
    selection = rb.select(results, level=settings.significance_level)
    held_strategy = repo.kv_get(ctx.ledger, KV_STRATEGY)
    chosen, why = rb.keep_current(selection, held_strategy, results, settings.min_significance)
    for name, result in results.items():
        log.line(
            f"strategy {name}: NAV {result.final_nav:,.2f}, CAGR {result.cagr:.2%}, Sharpe {result.sharpe:.2f}, "
            f"max drawdown {result.max_drawdown:.2%}"
        )
    log.line(f"winner {selection.winner} (PSR vs runner-up {selection.psr_vs_runner_up:.3f}); trading {chosen}: {why}")
    if selection.warning:
        report.notes.append(selection.warning)

    account = ctx.deps.broker.account()
    capital = account.equity * settings.capital_pct / 100 if settings.capital_pct > 0 else settings.capital
    weights = results[chosen].weights
    prices = latest_prices(ctx, sorted(set(weights) | set(held_symbols(ctx))), closes)
    targets = rb.target_shares(weights, prices, capital)
    current = current_holdings(ctx)
    # A held symbol the data cannot price or rejected for this run is held as it is, never sold blind.
    rejected = getattr(market, "rejected", {}) or {}
    for symbol, qty in current.items():
        blind = symbol not in prices or symbol in rejected or (symbol in closes and closes[symbol].isna().all())
        if qty > 0 and blind and symbol not in targets:
            targets[symbol] = int(qty) if float(qty).is_integer() else qty  # type: ignore[assignment]
            report.notes.append(f"{symbol}: no usable data this run ({rejected.get(symbol, 'no bars')}): held as it is")
    plan = rb.deltas(targets, current, prices, tolerance_pct=settings.tolerance_pct, buying_power=account.buying_power)
    log.line(f"account: equity {account.equity:,.2f}, buying power {account.buying_power:,.2f}; capital {capital:,.2f}")

    tif, timing = order_timing(ctx)
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
            },
            "capital": round(capital, 2),
            "targets": [
                {"symbol": s, "shares": q, "weight": round(weights.get(s, 0.0), 6), "price": prices.get(s)}
                for s, q in sorted(targets.items())
            ],
            "deltas": [_line_json(line) for line in plan.lines],
            "buy_scale": plan.buy_scale,
            "timing": timing,
        }
    )
    for line in plan.lines:
        if line.qty <= 0:
            report.skipped.append(SkipLine(line.symbol, line.reason, {"target": line.target, "current": line.current}))
    if tif is None:
        report.notes.append(f"no orders now: {timing}")
        log.line(f"no orders: {timing}")
        _finish(ctx, report, results, html, log)
        return report

    intents = [_intent(ctx, line, tif) for line in plan.lines if line.qty > 0]
    gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
    # A sell needs the shares a trailing stop holds at the broker: cancel it first (sync re-places it).
    for line in plan.lines:
        if line.side == "sell" and line.qty > 0:
            positions.cancel_orders(ctx, gateway, positions.protective_orders(ctx, BOOK, line.symbol))
    results_by_cid = {r.client_order_id: r for r in gateway.place(intents)}  # sells come first in the plan
    for intent in intents:
        r, result = intent.request, results_by_cid[intent.client_order_id]
        report.orders.append(order_line(intent, result))
        log.line(f"order {r.side} {r.qty:g} {r.symbol} {r.type} {r.time_in_force}: {result.status} {result.message}")
    if tickers is None:  # a one-off --tickers run does not change what the book normally follows
        with ctx.ledger.write():
            repo.kv_set(ctx.ledger, KV_STRATEGY, chosen, now=ctx.now)
    report_outcomes(report, results_by_cid.values(), f"{chosen}: {len(intents)} order(s) ({timing})")
    _finish(ctx, report, results, html, log)
    return report


def _finish(ctx: StepContext, report: Report, results: dict[str, rb.Backtest], html: Path | None, log: DailyLog):
    log.write()
    if html is not None:
        from autotrader.exports.rebalance import write_html

        try:
            write_html(html, report.to_json(), {name: r.nav for name, r in results.items()})
            report.fields["html"] = str(html)
        except InputError as error:  # the orders are out already: say so, do not pretend nothing happened
            report.notes.append(error.message)


def load_closes(ctx: StepContext, symbols: list[str], first, last) -> pd.DataFrame:
    """Daily closes, one column per symbol, indexed by the calendar's sessions (NaN where a bar is missing),
    restated for the splits known to the data source or the ledger (a raw 2:1 split would look like a 50% loss
    to every return, Sharpe and drawdown of the backtest)."""
    market = ctx.deps.market_data
    calendar = ctx.deps.calendar
    sessions = pd.DatetimeIndex([pd.Timestamp(d) for d in calendar.sessions_between(first, last)], name="date")
    splits = {} if getattr(market, "split_adjusted", False) else known_splits(ctx)
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
    source = getattr(ctx.deps.market_data, "splits", None)
    for symbol, ex_date, ratio in source() if source is not None else ():
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
    cid = client_order_id(
        session_date=ctx.session_date, step=STEP, book=BOOK, symbol=line.symbol, leg=str(LegKind.REBALANCE),
        key=line.side,
    )  # fmt: skip
    request = OrderRequest(
        client_order_id=cid,
        symbol=line.symbol,
        side=Side(line.side),
        qty=float(line.qty),
        type=OrderType.MARKET,
        time_in_force=tif,
    )
    return OrderIntent(
        client_order_id=cid,
        session_date=ctx.session_date,
        step=STEP,
        book=Book.REBALANCE,
        leg=LegKind.REBALANCE,
        tier=0,
        request=request,
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
