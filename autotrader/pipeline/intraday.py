"""The built-in intraday setups as a signal source: at each evaluation minute, one document per setup that fired.

``IntradayScanners`` is a ``SignalSource`` like ``BuiltinScanners``: ``scan`` reads its documents through the
same parser and checks, so ``builtin:ema_cross``, ``builtin:vwap_reclaim``, ... are stored, sized, traded and
scored like any other source (category ``day_trade``).

The evaluation minutes are ``[intraday] every_minutes`` apart from ``[size] trading_window_start`` through
``trading_window_end`` (before the session's close, so an early close ends them sooner). At each one, every
enabled setup decides from the universe's minute bars of the session that *completed before it*, cut at that
minute explicitly rather than by trusting the data's clock, so a minute's documents come out the same whenever
they are computed (at the minute, or hours later in a replay). ``generated_at`` is the evaluation minute. Once
made, a minute's documents are kept: every later slot asks again and gets the same ones.

``trend_pullback`` and ``vwap_mean_reversion`` also read each symbol's daily trend (``policy.daily_trend``),
from the completed daily bars of the sessions before, read once per session.

An index has no volume of its own (Polygon's index aggregates carry none): for an index of the execution map,
VWAP and relative volume are computed with its fund's minute volume, the activity of the market the index
stands for, wherever the index's own is missing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from autotrader.clock import ET
from autotrader.pipeline.scanners import daily_bars_before, source_name
from autotrader.policy import intraday as policy
from autotrader.policy import scanners as daily

if TYPE_CHECKING:
    from autotrader.clock import MarketCalendar
    from autotrader.ports import Clock, MarketData
    from autotrader.settings import IntradaySection

CATEGORY = "day_trade"
HORIZON_DAYS = 1
MINUTE = timedelta(minutes=1)
# The daily scanners' columns with the first target: the management's partial exit runs on these signals.
COLUMNS = ("symbol", "category", "source", "side", "conviction", "entry", "stop", "target_one", "target",
           "horizon_days", "generated_at", "note")  # fmt: skip


def params(s: IntradaySection) -> policy.Params:
    return policy.Params(
        ema_fast=s.ema_fast, ema_slow=s.ema_slow, relative_volume_bars=s.relative_volume_bars,
        atr_period=s.atr_period, stop_atr_multiplier=s.stop_atr_multiplier, target_one_atr=s.target_one_atr,
        target_two_atr=s.target_two_atr,
        vwap_reclaim=policy.VwapReclaim(s.vwap_reclaim.below_within, s.vwap_reclaim.min_relative_volume,
                                        s.vwap_reclaim.cooldown_minutes),
        sigma_fade=policy.SigmaFade(s.sigma_fade.k, s.sigma_fade.min_relative_volume),
        hod_failure=policy.HodFailure(s.hod_failure.within, s.hod_failure.min_pullback_pct),
        orb=policy.Orb(s.orb.minutes, s.orb.min_relative_volume),
        trend_pullback=policy.TrendPullback(s.trend_pullback.touch_pct, s.trend_pullback.min_regime_score),
        vwap_mean_reversion=policy.VwapMeanReversion(s.vwap_mean_reversion.min_discount_pct,
                                                     s.vwap_mean_reversion.min_regime_score),
        regime=policy.Regime(s.regime.fast_sma, s.regime.slow_sma, s.regime.slope_sessions),
    )  # fmt: skip


class IntradayScanners:
    """The enabled intraday setups over ``universe``, evaluated every ``every_minutes`` in the trading window."""

    name = "intraday"

    def __init__(
        self,
        settings: IntradaySection,
        window: tuple[str, str],
        market_data: MarketData,
        calendar: MarketCalendar,
        clock: Clock,
        universe: tuple[str, ...],
    ) -> None:
        self._settings = settings
        self._params = params(settings)
        self._window = window
        self._data = market_data
        self._calendar = calendar
        self._clock = clock
        # The indices of the execution map are evaluated too: their signals go out on their funds.
        self._universe = (*universe, *(i for i in settings.execution_map if i not in universe))
        self._made: dict[datetime, list[tuple[str, str]]] = {}
        self._daily: dict[date, policy.DailyTrend] = {}
        self._playbooks = tuple(
            policy.Playbook(p.name, p.start, p.end, tuple(p.setups), tuple(p.symbols)) for p in settings.sessions
        )

    def minutes(self, session: date) -> list[datetime]:
        """The session's evaluation minutes (UTC instants), in order."""
        if not self._calendar.is_session(session):
            return []
        open_at = self._calendar.session_open(session)
        first, last = (self._calendar.at_et(session, hhmm) for hhmm in self._window)
        last = min(last, self._calendar.session_close(session) - MINUTE)
        offsets = policy.evaluation_minutes(_since(open_at, first), _since(open_at, last), self._settings.every_minutes)
        return [open_at + timedelta(minutes=m) for m in offsets if m >= 1]

    def documents(self, session: date) -> list[tuple[str, str]]:
        now = self._clock.now()
        due = [m for m in self.minutes(session) if m <= now]
        todo = [m for m in due if m not in self._made]
        if todo:
            bars = self.bars_before(session, todo[-1])
            for minute in todo:
                self._made[minute] = self._decide(session, minute, bars)
        return [document for minute in due for document in self._made[minute]]

    def bars_before(self, session: date, minute: datetime, setups: tuple[str, ...] | None = None) -> policy.MinuteBars:
        """The universe's minute bars of ``session`` from the open, those starting before ``minute`` only, with
        the daily trend before the session when one of ``setups`` (default: the enabled ones) reads it."""
        open_at = self._calendar.session_open(session)
        rows = _since(open_at, minute)
        grid = pd.date_range(open_at, periods=rows, freq="1min").as_unit("ns")
        columns: dict[str, list[np.ndarray]] = {name: [] for name in ("high", "low", "close", "volume")}
        for symbol in self._universe:
            frame = self._data.minute_bars(symbol, open_at, minute)
            frame = frame[frame.index < minute]  # the cut: whatever the data's clock would allow
            frame = frame.set_axis(frame.index.as_unit("ns")).reindex(grid)
            for name, values in columns.items():
                values.append(frame[name].to_numpy(dtype=np.float64))
        shape = (rows, 0)
        high, low, close, volume = (np.column_stack(v) if v else np.empty(shape) for v in columns.values())
        volume = self._index_volume(volume, open_at, minute, grid)
        wanted = self._settings.enabled if setups is None else setups
        trend = self.daily_trend(session) if any(s in policy.DAILY_SETUPS for s in wanted) else None
        return policy.MinuteBars(self._universe, high, low, close, volume, trend)

    def _index_volume(
        self, volume: np.ndarray, open_at: datetime, minute: datetime, grid: pd.DatetimeIndex
    ) -> np.ndarray:
        """The volume with each mapped index's missing minutes filled from its fund's (see the module's note)."""
        volume = volume.copy()
        for index, fund in self._settings.execution_map.items():
            column = self._universe.index(index)
            if fund in self._universe:
                theirs = volume[:, self._universe.index(fund)]
            else:
                frame = self._data.minute_bars(fund, open_at, minute)
                frame = frame[frame.index < minute]
                theirs = frame.set_axis(frame.index.as_unit("ns")).reindex(grid)["volume"].to_numpy(dtype=np.float64)
            missing = ~np.isfinite(volume[:, column])
            volume[missing, column] = theirs[missing]
        return volume

    def daily_trend(self, session: date) -> policy.DailyTrend:
        """The universe's daily trend from the completed daily closes before ``session`` (read once a session)."""
        if session not in self._daily:
            history = daily_bars_before(self._data, self._calendar, self._universe, session,
                                        self._params.regime.sessions + 5)  # fmt: skip
            closes = history.close if history is not None else np.empty((0, 0))
            self._daily[session] = policy.daily_trend(closes, self._params.regime)
        return self._daily[session]

    def _decide(self, session: date, minute: datetime, bars: policy.MinuteBars) -> list[tuple[str, str]]:
        s = self._settings
        open_at = self._calendar.session_open(session)
        offset = _since(open_at, minute)
        cut = bars.first(offset)
        first = _since(open_at, self.minutes(session)[0])
        earlier = policy.earlier_rows(offset, first, s.every_minutes)
        evaluations = self.evaluate(cut, earlier)
        common = daily.Common(s.atr_period, s.stop_atr_multiplier, s.max_per_slot)
        as_daily = daily.Bars(cut.symbols, cut.high, cut.low, cut.close)
        stamp = minute.astimezone(ET)
        hhmm = f"{stamp:%H:%M}"
        documents = []
        for setup in s.enabled:
            # The session policies keep a setup's hits to the windows (and symbols) its playbooks allow, before
            # the strongest max_per_slot are kept.
            every = daily.hits(evaluations[setup], as_daily, replace(common, max_per_day=len(cut.symbols)))
            hits = [h for h in every if policy.allowed(self._playbooks, hhmm, setup, h.symbol) is None][
                : s.max_per_slot
            ]
            hits = self._on_funds(hits, cut, open_at, minute)
            if hits:
                name = f"builtin-{setup}-{session.isoformat()}-{stamp:%H%M}.csv"
                documents.append((name, _csv(setup, hits, minute.isoformat())))
        return documents

    def _on_funds(
        self, hits: list[daily.Hit], bars: policy.MinuteBars, open_at: datetime, minute: datetime
    ) -> list[daily.Hit]:
        """Each hit on a mapped index as a hit on its fund, at the fund's last close before the minute (a fund
        without a bar by then has no price to trade at: that hit is dropped)."""
        mapping = self._settings.execution_map
        out = []
        for hit in hits:
            fund = mapping.get(hit.symbol)
            if fund is None:
                out.append(hit)
                continue
            close = self._last_close(fund, bars, open_at, minute)
            if close is not None:
                out.append(policy.on_fund(hit, fund, close))
        return out

    def _last_close(self, symbol: str, bars: policy.MinuteBars, open_at: datetime, minute: datetime) -> float | None:
        if symbol in bars.symbols:
            column = bars.close[:, bars.symbols.index(symbol)]
        else:
            frame = self._data.minute_bars(symbol, open_at, minute)
            column = frame[frame.index < minute]["close"].to_numpy(dtype=np.float64)
        finite = column[np.isfinite(column)]
        return float(finite[-1]) if finite.size else None

    def evaluations_at(self, session: date, now: datetime) -> tuple[datetime, dict[str, policy.Evaluation]] | None:
        """Every setup (enabled or not) at the session's last evaluation minute by ``now``, decided as that
        minute's documents are; None before the first evaluation minute (``scan --explain``)."""
        minutes = [m for m in self.minutes(session) if m <= now]
        if not minutes:
            return None
        minute = minutes[-1]
        open_at = self._calendar.session_open(session)
        earlier = policy.earlier_rows(_since(open_at, minute), _since(open_at, self.minutes(session)[0]),
                                      self._settings.every_minutes)  # fmt: skip
        bars = self.bars_before(session, minute, policy.SETUPS)
        return minute, policy.evaluate_all(policy.SETUPS, bars, self._params, earlier)

    def evaluate(self, bars: policy.MinuteBars, earlier_rows: list[int]) -> dict[str, policy.Evaluation]:
        return policy.evaluate_all(self._settings.enabled, bars, self._params, earlier_rows)


def _since(open_at: datetime, at: datetime) -> int:
    return int((at - open_at) // MINUTE)


def _csv(setup: str, hits: list[daily.Hit], generated_at: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for h in hits:
        writer.writerow([h.symbol, CATEGORY, source_name(setup), "buy", h.conviction, f"{h.entry:.4f}",
                         f"{h.stop:.4f}", _first_target(h), f"{h.target:.4f}", HORIZON_DAYS, generated_at,
                         h.note])  # fmt: skip
    return out.getvalue()


def _first_target(h: daily.Hit) -> str:
    """The ``target_one`` cell: empty when it is not below the final target (``target_one_atr`` equal to
    ``target_two_atr``: one target, no partial exit)."""
    if h.target_one is None or round(h.target_one, 4) >= round(h.target, 4):
        return ""
    return f"{h.target_one:.4f}"
