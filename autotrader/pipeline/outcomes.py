"""Outcomes for every signal, traded or not: forward returns, excess over SPY, excursions, first touch, and
the pick's rule exit. Computed only from bars complete at the as-of instant; an incomplete horizon stays
``pending`` and is recomputed by the next refresh, a complete one is final.

Point in time: a signal is scored from when it became knowable, the later of its claimed ``generated_at``
and its import (``signal_imports.imported_at``; under ``replay``/``demo`` that is the simulated instant of
the scan). The scoring entry is the first price after that instant:

- arriving while a session is open (after its open, before its close) and the symbol has 1-minute bars
  from then on in that session: the open of the first bar starting at or after the instant. The session's
  high and low count only from that bar on; SPY's benchmark window starts at the open of its own bar of the
  same minute (no such SPY bar: no benchmark figures for the signal, never a different window);
- otherwise (between sessions, exactly at an open, or no minute bar after the arrival): the next session's
  open, and SPY's open of that session.

Horizon h still counts sessions: it exits at the close of the h-th session counting the entry session as 1,
so an intraday entry's horizon 1 runs from the entry minute to that session's close. Each row stores its
``knowable_at`` and ``entry_at`` (the entry instant) beside the entry date and price.

Abnormal return: each row also stores ``abnormal``, the side-adjusted cumulative abnormal log return of the
same window under the symbol's market model (α, β of daily log returns on SPY's over sessions −250 … −11
before the entry; ``policy.market_fit``), with that ``beta`` and ``beta_fallback`` = 1 when fewer than 60
sessions of history forced α = 0, β = 1. The excess over SPY (simple returns) is kept beside it.

Shared by ``rehydrate`` (which stores them) and ``scorecard`` (which reads them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from autotrader.clock import ET, MarketCalendar
from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.prefetch import warm_daily_bars
from autotrader.policy import outcomes as policy

BENCHMARK = "SPY"
# Daily bars are fetched from a little before the earliest entry: enough for the entry session.
LOOKBACK = timedelta(days=10)
# A signal without a stored market model needs its symbol's history from further back: the estimation window
# reaches 250 sessions before the entry (about 365 calendar days), plus room for holidays. The fit uses only
# sessions before the entry, so it is stored with the outcomes and later refreshes reuse it.
MODEL_LOOKBACK = timedelta(days=380)


@dataclass(frozen=True)
class SymbolHistory:
    """One symbol's daily bars on every NYSE session of the window (NaN where the data has no bar), SPY
    aligned on the same sessions, and each session's open instant.

    Indices are calendar sessions, not rows of the data: a missing bar can never shift an entry or an exit
    onto another session. A horizon whose window reaches a missing bar stays pending (never guessed).
    """

    bars: policy.Bars
    spy: policy.BenchmarkBars | None
    opens: list[datetime]
    closes: list[datetime]

    @cached_property
    def opens_ns(self) -> np.ndarray:
        """The opens as naive UTC ``datetime64[ns]``, converted once: every signal of the symbol searches them."""
        return policy.instants_ns(self.opens)

    @cached_property
    def closes_ns(self) -> np.ndarray:
        return policy.instants_ns(self.closes)

    def complete_from(self, entry_idx: int) -> int:
        """Sessions from the entry (counted as 1) that are complete and have a bar, up to the first gap."""
        missing = np.isnan(self.bars.close[entry_idx:])
        return int(np.argmax(missing)) if missing.any() else len(self.bars) - entry_idx


def load_history(ctx: StepContext, symbol: str, start: date) -> SymbolHistory | None:
    market = ctx.deps.market_data
    calendar: MarketCalendar = ctx.deps.calendar
    if not market.has_symbol(symbol):
        return None
    end = ctx.now.astimezone(ET).date()
    frame = market.daily_bars(symbol, start, end)
    if frame.empty:
        empty = np.array([], dtype=float)
        no_days = np.array([], dtype="datetime64[D]")
        return SymbolHistory(policy.Bars(no_days, empty, empty, empty, empty), None, [], [])
    # Every session from the first bar to the last session closed at the as-of.
    first, last = frame.index[0].date(), calendar.last_closed_session(ctx.now)
    sessions = calendar.sessions_between(first, last)
    index = pd.DatetimeIndex(np.array(sessions, dtype="datetime64[D]")).as_unit("ns")
    aligned = frame.set_axis(frame.index.as_unit("ns")).reindex(index)
    bars = policy.Bars.from_frame(aligned)
    spy_frame = market.daily_bars(BENCHMARK, start, end) if market.has_symbol(BENCHMARK) else None
    spy = policy.BenchmarkBars.from_frame(spy_frame, bars.dates) if spy_frame is not None else None
    return SymbolHistory(bars, spy, calendar.opens_between(first, last), calendar.closes_between(first, last))


def entry_index(history: SymbolHistory, at: datetime) -> int | None:
    """The session whose open is the first at or after ``at`` among the complete sessions (None: not yet)."""
    if not history.opens:
        return None
    return policy.entry_session_index(history.opens_ns, at)


@dataclass(frozen=True)
class Entry:
    """Where a signal's scoring starts: session ``idx`` of the history at instant ``at`` and ``price``.
    ``history`` is the symbol's history as seen from the entry (``policy.enter_intraday`` for an entry
    inside a session; the history itself for an entry at a session open)."""

    idx: int
    at: datetime
    price: float
    history: SymbolHistory


class MinuteBars:
    """The minute bars intraday entries need, for one refresh: SPY's minutes of a session are read once
    however many signals arrive during it."""

    def __init__(self, ctx: StepContext) -> None:
        self._market = ctx.deps.market_data
        self._spy: dict[datetime, pd.Series] = {}

    def after(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        """The symbol's complete minute bars starting in [start, end), with an open price."""
        frame = self._market.minute_bars(symbol, start, end)
        return frame[frame["open"].notna()] if len(frame) else frame

    def benchmark_open(self, minute: datetime, session_open: datetime, session_close: datetime) -> float:
        """SPY's open in the bar starting at ``minute`` (NaN when SPY has no bar at that minute)."""
        if session_open not in self._spy:
            frame = self._market.minute_bars(BENCHMARK, session_open, session_close)
            self._spy[session_open] = frame["open"] if len(frame) else pd.Series(dtype=float)
        opens = self._spy[session_open]
        stamp = pd.Timestamp(minute)
        return float(opens[stamp]) if stamp in opens.index else float("nan")


def find_entry(symbol: str, history: SymbolHistory, knowable: datetime, minutes: MinuteBars) -> Entry | None:
    """The first price after ``knowable`` (module docstring); None while there is none in the history yet,
    or when the entry session has no daily bar (the entry itself is unknown: pending, never guessed)."""
    if history.opens:
        during = policy.session_in_progress(history.opens_ns, history.closes_ns, knowable)
        if during is not None:
            entry = _intraday_entry(symbol, history, during, knowable, minutes)
            if entry is not None:
                return entry
    idx = entry_index(history, knowable)
    if idx is None or np.isnan(history.bars.open[idx]):
        return None
    return Entry(idx, history.opens[idx], float(history.bars.open[idx]), history)


def _intraday_entry(
    symbol: str, history: SymbolHistory, idx: int, knowable: datetime, minutes: MinuteBars
) -> Entry | None:
    """The open of the first minute bar starting at or after ``knowable`` in session ``idx`` (None: no bar)."""
    session_open, session_close = history.opens[idx], history.closes[idx]
    frame = minutes.after(symbol, knowable, session_close)
    if frame.empty:
        return None
    at = frame.index[0].to_pydatetime()
    price = float(frame["open"].iloc[0])
    bars, spy = policy.enter_intraday(
        history.bars,
        history.spy,
        idx,
        price=price,
        high=float(frame["high"].max()),
        low=float(frame["low"].min()),
        benchmark_price=minutes.benchmark_open(at, session_open, session_close),
    )
    return Entry(idx, at, price, replace(history, bars=bars, spy=spy))


def risk_per_share(ctx: StepContext, signal: dict[str, Any], entry_price: float) -> float:
    """1R: the distance to the signal's stop, else ``[scorecard] risk_pct`` of the entry for its category."""
    if signal["stop"] is not None:
        distance = abs(entry_price - signal["stop"])
        if distance > 0:
            return distance
    return entry_price * ctx.settings.scorecard.risk_pct.of(signal["category"]) / 100


def horizon_sessions(ctx: StepContext, signal: dict[str, Any]) -> int:
    if signal["horizon_days"]:
        return int(signal["horizon_days"])
    return int(ctx.settings.scorecard.default_horizon_sessions.of(signal["category"]))


def rule_exit_from(
    ctx: StepContext, signal: dict[str, Any], history: SymbolHistory, entry_idx: int, entry_price: float
) -> policy.RuleExit:
    return policy.rule_exit(
        signal["side"],
        entry_idx,
        entry_price,
        history.bars,
        signal["stop"],
        signal["target"],
        horizon_sessions(ctx, signal),
        history.complete_from(entry_idx),
        risk_per_share(ctx, signal, entry_price),
    )


def _needs_work(ctx: StepContext) -> list[dict[str, Any]]:
    """Signals generated by the as-of with any horizon or rule exit not yet final."""
    horizons = len(ctx.settings.scorecard.horizons)
    return repo.signals_needing_outcomes(ctx.ledger, horizons=horizons, generated_by=ctx.now)


def _history_start(signals: list[dict[str, Any]], fits: dict[int, policy.MarketFit]) -> date:
    """The first day of a symbol's history the refresh needs: its earliest signal less the lookback (the longer
    one while a signal's market model is still to be fitted)."""
    earliest = min(datetime.fromisoformat(s["generated_at"]) for s in signals)
    lookback = LOOKBACK if all(s["id"] in fits for s in signals) else MODEL_LOOKBACK
    return earliest.astimezone(ET).date() - lookback


def refresh(ctx: StepContext) -> dict[str, int]:
    """Recompute every signal whose outcomes are not final; returns counts for the report."""
    settings = ctx.settings.scorecard
    now_iso = repo.utc_iso(ctx.now)
    todo = _needs_work(ctx)
    by_symbol: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for signal in todo:
        by_symbol[signal["symbol"]].append(signal)
    outcome_rows: list[dict[str, Any]] = []
    exit_rows: list[dict[str, Any]] = []
    minutes = MinuteBars(ctx)
    stored = repo.stored_market_fits(ctx.ledger, [s["id"] for s in todo])
    fits = {sid: policy.MarketFit(*fit) for sid, fit in stored.items()}
    starts = {symbol: _history_start(signals, fits) for symbol, signals in by_symbol.items()}
    if starts:
        # Every symbol's history (and the benchmark's) at once: one request per session, not per symbol.
        warm_daily_bars(ctx, [*sorted(starts), BENCHMARK], min(starts.values()), ctx.now.astimezone(ET).date())
    for symbol, signals in sorted(by_symbol.items()):
        history = load_history(ctx, symbol, starts[symbol])
        entries = {s["id"]: _entry(s, history, minutes) for s in signals}
        fits |= _fits(history, entries, fits)
        for signal in signals:
            rows, exit_row = _evaluate(ctx, signal, history, settings.horizons, entries[signal["id"]], fits)
            outcome_rows.extend({**row, "computed_at": now_iso} for row in rows)
            exit_rows.append({**exit_row, "computed_at": now_iso})
    if not todo:
        return {"signals": 0, "completed_horizons": 0, "pending_horizons": 0, "no_data": 0}
    # A complete row is final: a run at an earlier as-of must never turn it back into "pending".
    final, final_exits = repo.final_outcomes(ctx.ledger, [s["id"] for s in todo])
    outcome_rows = [r for r in outcome_rows if (r["signal_id"], r["horizon"]) not in final]
    exit_rows = [r for r in exit_rows if r["signal_id"] not in final_exits]
    repo.save_outcomes(ctx.ledger, _complete(outcome_rows, OUTCOME_COLUMNS), _complete(exit_rows, EXIT_COLUMNS))
    complete = sum(1 for r in outcome_rows if r["status"] == "complete")
    return {
        "signals": len(todo),
        "completed_horizons": complete,
        "pending_horizons": sum(1 for r in outcome_rows if r["status"] == "pending"),
        "no_data": sum(1 for r in exit_rows if r["status"] == "no_data"),
    }


OUTCOME_COLUMNS = (
    "signal_id", "horizon", "status", "knowable_at", "entry_at", "entry_date", "entry_price", "exit_date",
    "exit_price", "ret", "benchmark_ret", "excess", "mfe", "mae", "hit", "abnormal", "alpha", "beta",
    "beta_fallback", "computed_at",
)  # fmt: skip
EXIT_COLUMNS = (
    "signal_id", "status", "knowable_at", "entry_at", "entry_date", "entry_price", "first_touch",
    "first_touch_date", "exit_date", "exit_price", "exit_reason", "ret", "r_multiple", "holding_sessions",
    "computed_at",
)  # fmt: skip


def _complete(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every row with every column: a pending row must also clear what an earlier refresh wrote."""
    return [{column: row.get(column) for column in columns} for row in rows]


def signal_knowable_at(signal: dict[str, Any]) -> datetime:
    """When the signal became knowable: its claim, or its import when that came later."""
    imported = signal.get("imported_at")
    return policy.knowable_at(
        datetime.fromisoformat(signal["generated_at"]), datetime.fromisoformat(imported) if imported else None
    )


def _entry(signal: dict[str, Any], history: SymbolHistory | None, minutes: MinuteBars) -> Entry | None:
    return None if history is None else find_entry(signal["symbol"], history, signal_knowable_at(signal), minutes)


def _fits(
    history: SymbolHistory | None, entries: dict[int, Entry | None], stored: dict[int, policy.MarketFit]
) -> dict[int, policy.MarketFit]:
    """The market model of every entered signal of one symbol that has none stored, fitted together. The fit's
    sessions end well before the entry session, the one an intraday entry changes, so the symbol's own history
    fits them all."""
    todo = {sid: e.idx for sid, e in entries.items() if e is not None and sid not in stored}
    fitted = policy.entry_fits(history.bars, history.spy, list(todo.values())) if history and todo else None
    return dict(zip(todo, fitted, strict=True)) if fitted is not None else {}


def _evaluate(
    ctx: StepContext,
    signal: dict[str, Any],
    history: SymbolHistory | None,
    horizons: list[int],
    entry: Entry | None,
    fits: dict[int, policy.MarketFit],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A signal's outcome rows (one per horizon) and its rule-exit row, from its ``entry`` (``find_entry``) and
    its market model in ``fits`` (by signal id: the stored one, else this refresh's)."""
    knowable = signal_knowable_at(signal)
    base = {"signal_id": signal["id"], "knowable_at": repo.utc_iso(knowable)}
    if history is None:
        return [{**base, "horizon": h, "status": "no_data"} for h in horizons], {**base, "status": "no_data"}
    if entry is None:
        return [{**base, "horizon": h, "status": "pending"} for h in horizons], {**base, "status": "pending"}
    seen = entry.history
    base.update(
        entry_at=repo.utc_iso(entry.at),
        entry_date=seen.bars.session_date(entry.idx).isoformat(),
        entry_price=entry.price,
    )
    complete = seen.complete_from(entry.idx)
    fit = fits.get(signal["id"])
    if fit is not None:
        base.update(alpha=fit.alpha, beta=fit.beta, beta_fallback=int(fit.fallback))
    outcomes = policy.forward_outcomes(signal["side"], entry.idx, seen.bars, seen.spy, horizons, complete, fit)
    rows = [{**base, **_outcome_fields(outcome)} for outcome in outcomes]
    return rows, {**base, **_exit_fields(ctx, signal, entry, complete)}


def _outcome_fields(outcome: policy.HorizonOutcome) -> dict[str, Any]:
    return {
        "horizon": outcome.horizon,
        "status": outcome.status,
        "exit_date": outcome.exit_date.isoformat() if outcome.exit_date else None,
        "exit_price": outcome.exit_price,
        "ret": outcome.ret,
        "benchmark_ret": outcome.benchmark_return,
        "excess": outcome.excess_return,
        "mfe": outcome.mfe,
        "mae": outcome.mae,
        "hit": None if outcome.hit is None else int(outcome.hit),
        "abnormal": outcome.abnormal_return,
    }


def _exit_fields(ctx: StepContext, signal: dict[str, Any], entry: Entry, complete: int) -> dict[str, Any]:
    bars = entry.history.bars
    touch = policy.first_touch(
        signal["side"], entry.idx, bars, signal["stop"], signal["target"], complete, horizon_sessions(ctx, signal)
    )
    exit_ = rule_exit_from(ctx, signal, entry.history, entry.idx, entry.price)
    return {
        "status": exit_.status,
        "first_touch": touch.kind,
        "first_touch_date": bars.session_date(touch.session_idx).isoformat() if touch.session_idx is not None else None,
        "exit_date": exit_.exit_date.isoformat() if exit_.exit_date else None,
        "exit_price": exit_.exit_price,
        "exit_reason": exit_.reason,
        "ret": exit_.ret,
        "r_multiple": exit_.r_multiple,
        "holding_sessions": exit_.holding_sessions,
    }
