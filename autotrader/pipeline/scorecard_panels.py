"""The scorecard's report-level panels (``policy.research``): gathers the signals' scoring entries, the
universe's daily closes and SPY's from the market data, the entry fills and the decisions that lost signals,
then hands plain frames and arrays to the pure aggregation.

**Market panel.** Every NYSE session from 400 calendar days before the earliest entry (room for the market
model's 250-session estimation window) to the last session closed at the as-of; one column of simple
close-to-close returns per symbol, NaN where a bar is missing. Each symbol's bars are read once, SPY's once.

**Abnormal returns.** Per signal, the market model of ``policy.event_study`` (α, β on sessions −250 … −11)
and the cumulative abnormal return at each horizon, counted from the close of the entry session (the first
return a signal earns is the next session's close-to-close; the entry session's own open-to-close move is
left out, so no price before the entry can leak in).

**Universe** (for the placebo): every symbol that any signal in the ledger names and the market data knows.
A placebo pick on a day is one of those symbols, held over the same horizon in the same direction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from autotrader.ledger import scoring
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.prefetch import warm_daily_bars
from autotrader.policy import event_study as es
from autotrader.policy import research
from autotrader.settings import Settings

BENCHMARK = "SPY"
#: Calendar days of bars before the earliest entry: 250 sessions of estimation window and some slack.
HISTORY = timedelta(days=400)


def _primary(settings: Settings, category: str) -> int:
    """The horizon (sessions) a category's verdict is judged at: ``[scorecard] primary_horizons``."""
    return int(settings.scorecard.primary_horizons.of(category))


@dataclass(frozen=True)
class Panel:
    """Daily returns, sessions × symbols, and SPY's on the same sessions."""

    sessions: list[str]  # ISO dates
    symbols: list[str]
    stock: np.ndarray
    market: np.ndarray


def _closes(ctx: StepContext, symbol: str, start: date, end: date, index: pd.DatetimeIndex) -> np.ndarray:
    frame = ctx.deps.market_data.daily_bars(symbol, start, end)
    if frame.empty:
        return np.full(len(index), np.nan)
    return frame["close"].set_axis(frame.index.as_unit("ns").normalize()).reindex(index).to_numpy(dtype=np.float64)


def load_panel(ctx: StepContext, symbols: list[str], start: date) -> Panel | None:
    """The market panel of ``symbols`` (those the market data knows) from ``start``; None without SPY."""
    market_data, calendar = ctx.deps.market_data, ctx.deps.calendar
    end = calendar.last_closed_session(ctx.now)
    # The whole panel's bars at once (one request per session), before the per-symbol checks and reads.
    warm_daily_bars(ctx, [BENCHMARK, *symbols], start, end)
    if not market_data.has_symbol(BENCHMARK):
        return None
    days = calendar.sessions_between(start, end)
    if len(days) < 2:
        return None
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in days]).as_unit("ns")
    known = [s for s in symbols if market_data.has_symbol(s)]
    closes = np.column_stack([_closes(ctx, s, start, end, index) for s in known]) if known else np.empty((len(days), 0))
    spy = _closes(ctx, BENCHMARK, start, end, index)
    with np.errstate(invalid="ignore", divide="ignore"):
        stock = np.vstack([np.full((1, len(known)), np.nan), closes[1:] / closes[:-1] - 1.0])
        market = np.concatenate([[np.nan], spy[1:] / spy[:-1] - 1.0])
    return Panel([d.isoformat() for d in days], known, stock, market)


def _gate(trace_json: str | None) -> str:
    """The sizing rule that stopped a decision: the trace step whose effect starts with "skip"."""
    steps = json.loads(trace_json) if trace_json else []
    for step in reversed(steps if isinstance(steps, list) else []):
        if isinstance(step, dict) and str(step.get("effect", "")).startswith("skip"):
            return str(step.get("name", "unknown"))
    return "unknown"


def lost_signals(ctx: StepContext, window: scoring.SignalWindow) -> pd.DataFrame:
    rows = scoring.skipped_decisions(ctx.ledger, window)
    return pd.DataFrame({"signal_id": [r[0] for r in rows], "gate": [_gate(r[3]) for r in rows]})


def events_frame(ctx: StepContext, keys: pd.DataFrame, window: scoring.SignalWindow) -> pd.DataFrame:
    """The window's signals with a scoring entry: keys (signal_id, category, source, conviction) and entries."""
    entries = pd.DataFrame.from_records(scoring.signal_entries(ctx.ledger, window), columns=list(scoring.ENTRY_COLUMNS))
    events = keys.merge(entries, on="signal_id", how="inner")
    events["side"] = np.where(events["side"] == "sell", -1.0, 1.0)
    events["horizon"] = [_primary(ctx.settings, c) for c in events["category"]]
    return events


def place(events: pd.DataFrame, panel: Panel) -> pd.DataFrame:
    """Events whose symbol and entry session are in the panel, with their column and session index."""
    column = {s: i for i, s in enumerate(panel.symbols)}
    session = {d: i for i, d in enumerate(panel.sessions)}
    events = events.assign(symbol=events["symbol"].map(column), entry=events["entry_date"].map(session))
    events = events.dropna(subset=["symbol", "entry"]).copy()
    events[["symbol", "entry"]] = events[["symbol", "entry"]].astype(np.int64)
    return events


def add_cars(events: pd.DataFrame, panel: Panel, horizons: list[int]) -> pd.DataFrame:
    """``car_<h>`` per horizon and ``car`` at each event's primary horizon (market-model CARs)."""
    wanted = sorted({*horizons, *events["horizon"].astype(int)})
    symbol, entry = events["symbol"].to_numpy(), events["entry"].to_numpy()
    model = es.market_model(panel.stock, panel.market, symbol, entry)
    cars = es.cumulative_abnormal(panel.stock, panel.market, symbol, entry, model, wanted, side=events["side"])
    out = events.assign(**{f"car_{h}": cars[:, j] for j, h in enumerate(wanted)})
    column = np.searchsorted(wanted, events["horizon"].to_numpy())
    out["car"] = cars[np.arange(len(events)), column] if len(events) else np.array([])
    return out


def placebo_pool(events: pd.DataFrame, panel: Panel) -> pd.DataFrame:
    """Every universe symbol's CAR on each (entry session, side, horizon) some pick has."""
    days = events[["entry", "side", "horizon"]].drop_duplicates()
    entries = np.unique(days["entry"].to_numpy())
    k = len(panel.symbols)
    symbol, entry = np.tile(np.arange(k), len(entries)), np.repeat(entries, k)
    horizons = sorted(days["horizon"].astype(int).unique())
    model = es.market_model(panel.stock, panel.market, symbol, entry)
    cars = es.cumulative_abnormal(panel.stock, panel.market, symbol, entry, model, horizons)
    grid = pd.DataFrame({"entry": entry, **{h: cars[:, j] for j, h in enumerate(horizons)}})
    long = grid.melt(id_vars="entry", var_name="horizon", value_name="car")
    long["horizon"] = long["horizon"].astype(np.int64)
    pool = days.merge(long, on=["entry", "horizon"], how="inner")
    pool["car"] = pool["car"] * pool["side"]
    return pool


def build(ctx: StepContext, window: scoring.SignalWindow, keys: pd.DataFrame, trades: pd.DataFrame,
          legs: pd.DataFrame) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """The panels' report fields and their notes (stability alarms); empty without entries or market data."""
    settings = ctx.settings.scorecard
    events = events_frame(ctx, keys, window)
    if events.empty:
        return {}, []
    start = date.fromisoformat(str(events["entry_date"].min())) - HISTORY
    universe = sorted({*scoring.universe_symbols(ctx.ledger, ctx.now), *events["symbol"]})
    panel = load_panel(ctx, universe, start)
    if panel is None:
        return {}, []
    events = place(events, panel)
    if events.empty:
        return {}, []
    events = add_cars(events, panel, list(settings.horizons))
    return _panels(ctx, events, panel, trades, legs, window)


def _panels(ctx: StepContext, events: pd.DataFrame, panel: Panel, trades: pd.DataFrame, legs: pd.DataFrame,
            window: scoring.SignalWindow) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    settings = ctx.settings.scorecard
    rng = np.random.default_rng(settings.seed + 1)
    resamples = settings.bootstrap_resamples
    fills = trades[["signal_id", "entry_fill_price"]].rename(columns={"entry_fill_price": "fill_price"})
    stability = research.stability_rows(events, panel.sessions)
    fields = {
        "calendar_time": research.calendar_time_rows(events, panel.stock, panel.market),
        "placebo": research.placebo_rows(events, placebo_pool(events, panel), rng, draws=settings.placebo_draws),
        "ranking": research.ranking_panel(events, list(settings.horizons)),
        "leaderboard": research.leaderboard_rows(events, rng, resamples=resamples),
        "event_window": research.event_window_rows(events, panel.stock, panel.market, rng, resamples=resamples),
        "execution": research.execution_rows(events, fills, lost_signals(ctx, window), legs, rng, resamples=resamples),
        "stability": stability,
    }
    return fields, research.alarm_notes(stability)
