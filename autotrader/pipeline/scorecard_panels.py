"""The scorecard's report-level panels (``policy.research``): gathers the signals' scoring entries and
stored abnormal returns, the universe's daily opens and closes and SPY's from the market data, the entry
fills and the decisions that lost signals, then hands plain frames and arrays to the pure aggregation.

**Market panel.** Every NYSE session from 400 calendar days before the earliest entry (room for the market
model's 250-session estimation window) to the last session closed at the as-of; the opens and closes of
every symbol, NaN where a bar is missing, and SPY's. Each symbol's bars are read once, SPY's once.

**Abnormal returns.** One definition, ``policy.outcomes.abnormal_returns``: side · (log(exit / entry) −
h·α − β·log(SPY exit / SPY entry)) from the scoring entry (the first price after the signal became knowable,
usually the session open) to the close of the h-th session, α and β from daily log returns on sessions
−250 … −11. A signal's ``car_<h>`` (and ``car``, at its category's primary horizon) is the ``abnormal`` its
stored outcome holds for that horizon, the very number the scorecard rows aggregate; NaN while pending.
The placebo's random picks are computed by the same function, entered at the open of the pick's entry
session (``placebo_pool``).

The calendar-time portfolio and the event-window profile are a different object: daily returns of the
sessions after the entry session (close to close, simple returns; the profile's market model fitted on
those), so a portfolio can be formed per calendar session and a path drawn per day. Their +h value is close
to, but not the same number as, ``car_<h>``.

**Universe** (for the placebo): every symbol that any signal in the ledger names and the market data knows.
A placebo pick on a day is one of those symbols, held over the same horizon in the same direction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from autotrader.ledger import scoring
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.prefetch import warm_daily_bars
from autotrader.policy import outcomes as scoring_outcomes
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
    """Opens and closes, sessions × symbols, and SPY's on the same sessions (``prices``); the daily
    close-to-close returns the calendar-time portfolio and the event window use are derived from them."""

    sessions: list[str]  # ISO dates
    symbols: list[str]
    prices: scoring_outcomes.PricePanel

    @cached_property
    def stock(self) -> np.ndarray:
        """Simple close-to-close returns, sessions × symbols (NaN on the first session and around a gap)."""
        return _simple_returns(self.prices.close)

    @cached_property
    def market(self) -> np.ndarray:
        return _simple_returns(self.prices.spy_close)


def _simple_returns(close: np.ndarray) -> np.ndarray:
    out = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = close[1:] / close[:-1] - 1.0
    return out


def _bars(ctx: StepContext, symbol: str, start: date, end: date, index: pd.DatetimeIndex) -> pd.DataFrame:
    """The symbol's open and close on every session of ``index`` (NaN where it has no bar)."""
    frame = ctx.deps.market_data.daily_bars(symbol, start, end)
    if frame.empty:
        return pd.DataFrame(np.nan, index=index, columns=["open", "close"])
    return frame[["open", "close"]].set_axis(frame.index.as_unit("ns").normalize()).reindex(index)


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
    frames = [_bars(ctx, s, start, end, index) for s in known]
    spy = _bars(ctx, BENCHMARK, start, end, index)

    def column(name: str) -> np.ndarray:
        if not frames:
            return np.empty((len(days), 0))
        return np.column_stack([f[name].to_numpy(dtype=np.float64) for f in frames])

    prices = scoring_outcomes.PricePanel(
        column("open"), column("close"), spy["open"].to_numpy(dtype=np.float64), spy["close"].to_numpy(dtype=np.float64)
    )
    return Panel([d.isoformat() for d in days], known, prices)


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


def add_cars(events: pd.DataFrame, outcomes: pd.DataFrame, horizons: list[int]) -> pd.DataFrame:
    """``car_<h>`` per horizon and ``car`` at each event's primary horizon: the ``abnormal`` of the event's
    stored outcome at that horizon (``outcomes``: signal_id, horizon, status, abnormal), NaN unless complete."""
    wanted = sorted({*horizons, *events["horizon"].astype(int)})
    done = outcomes[(outcomes["status"] == "complete") & outcomes["horizon"].isin(wanted)]
    values = pd.to_numeric(done["abnormal"], errors="coerce").to_numpy(dtype=np.float64)
    index = pd.MultiIndex.from_arrays([done["signal_id"], done["horizon"].astype(int)])
    wide = pd.Series(values, index=index).unstack()
    cars = wide.reindex(index=events["signal_id"], columns=wanted).to_numpy(dtype=np.float64)
    out = events.assign(**{f"car_{h}": cars[:, j] for j, h in enumerate(wanted)})
    column = np.searchsorted(wanted, events["horizon"].to_numpy())
    out["car"] = cars[np.arange(len(events)), column] if len(events) else np.array([])
    return out


def placebo_pool(events: pd.DataFrame, panel: Panel) -> pd.DataFrame:
    """Every universe symbol (panel column ``symbol``) entered at the open of each (entry session, side,
    horizon) some pick has, and its abnormal return ``car`` there: the stored outcomes' formula
    (``policy.outcomes.abnormal_returns_from_open``), with one market model per (symbol, entry session)."""
    days = events[["entry", "side", "horizon"]].drop_duplicates()
    entries = np.unique(days["entry"].to_numpy())
    k = len(panel.symbols)
    grid = pd.DataFrame({"entry": np.repeat(entries, k), "symbol": np.tile(np.arange(k), len(entries))})
    model = scoring_outcomes.market_fits(panel.prices.close, panel.prices.spy_close, grid["symbol"], grid["entry"])
    pool = days.merge(grid.reset_index(names="fit"), on="entry", how="inner")
    pool["horizon"] = pool["horizon"].astype(np.int64)
    pool["car"] = scoring_outcomes.abnormal_returns_from_open(
        panel.prices, pool["symbol"], pool["entry"], pool["horizon"], pool["side"].to_numpy(),
        model.take(pool["fit"]),
    )  # fmt: skip
    return pool.drop(columns="fit")


@dataclass(frozen=True)
class Panels:
    fields: dict[str, Any]  # the report's panel fields
    notes: list[str]  # the stability alarms
    curves: list[dict[str, Any]]  # calendar-time paths for the HTML page's charts (only when asked for)


NO_PANELS = Panels({}, [], [])


def build(ctx: StepContext, window: scoring.SignalWindow, outcomes: pd.DataFrame, trades: pd.DataFrame,
          legs: pd.DataFrame, *, curves: bool = False) -> Panels:  # fmt: skip
    """The panels' report fields and their notes (stability alarms); empty without entries or market data.
    ``outcomes``: the scorecard's outcome rows (keys signal_id, category, source, conviction; horizon, status,
    abnormal), already hidden where they complete after the as-of. ``curves``: also the calendar-time paths
    a chart draws (the HTML page's; the terminal and ``--json`` show the regression, not the path)."""
    settings = ctx.settings.scorecard
    keys = outcomes[["signal_id", "category", "source", "conviction"]].drop_duplicates("signal_id")
    events = events_frame(ctx, keys, window)
    if events.empty:
        return NO_PANELS
    start = date.fromisoformat(str(events["entry_date"].min())) - HISTORY
    universe = sorted({*scoring.universe_symbols(ctx.ledger, ctx.now), *events["symbol"]})
    panel = load_panel(ctx, universe, start)
    if panel is None:
        return NO_PANELS
    events = place(events, panel)
    if events.empty:
        return NO_PANELS
    events = add_cars(events, outcomes, list(settings.horizons))
    fields, notes = _panels(ctx, events, panel, trades, legs, window)
    paths = research.calendar_time_curves(events, panel.stock, panel.market, panel.sessions) if curves else []
    return Panels(fields, notes, paths)


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
