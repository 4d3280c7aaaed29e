"""Reading daily bars for many symbols cheaply: warming the cache for a whole universe before a step reads it
symbol by symbol, and reading one symbol's bars as arrays.

A step that reads the daily bars of many symbols (the rebalancer's backtest, the outcome refresh, the
scorecard's market panel, the daily scanners) asks the market data to fetch them all at once first, when it can
(``ports.UniverseDailyBars``: Polygon's grouped-daily endpoint, one request per session for every symbol).
The step's own per-symbol reads, and its ``has_symbol`` checks, then find the bars cached. The synthetic world
has the capability too: it builds the symbols' daily highs and lows (from their minute paths) on several
threads. A source without it (local files) answers from memory and is simply read as before.

A step that only needs the numbers (the scanners' grid, the quarantine's checks) reads them with
``daily_arrays``: straight from a source that holds arrays (``ports.DailyArrays``, the synthetic world), else
out of the port's frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache
from typing import cast

import numpy as np

from autotrader.pipeline.context import StepContext
from autotrader.ports import DailyArrays, MarketData, UniverseDailyBars

DAY_NS = 86_400 * 10**9


@cache
def _has(kind: type, capability: type) -> bool:
    """Whether market data of this class has the capability (a ``ports`` Protocol), found once per class: a scan
    reads hundreds of symbols a session, and checking a Protocol costs more than a read from memory."""
    return issubclass(kind, capability)


def warm_daily_bars(ctx: StepContext, symbols: Iterable[str], start: date, end: date) -> None:
    """Fetch what the cache lacks of these symbols' daily bars over [start, end] in one planned pass."""
    warm(ctx.deps.universe_bars, symbols, start, end)


def warm(data: MarketData | UniverseDailyBars | None, symbols: Iterable[str], start: date, end: date) -> None:
    """``warm_daily_bars`` for a reader that holds the market data rather than a step's context (the daily
    scanners): nothing to do for a source without the capability."""
    wanted = list(dict.fromkeys(symbols))
    if data is not None and _has(type(data), UniverseDailyBars) and wanted and start <= end:
        cast(UniverseDailyBars, data).sync_daily(wanted, start, end)


def daily_arrays(data: MarketData, symbol: str, start: date, end: date) -> tuple[np.ndarray, np.ndarray]:
    """``MarketData.daily_bars`` as (each bar's date as int64 nanoseconds at midnight, an (n, 5) float array of
    open, high, low, close, volume)."""
    if _has(type(data), DailyArrays):
        stamps, values = cast(DailyArrays, data).daily_arrays(symbol, start, end)
    else:
        frame = data.daily_bars(symbol, start, end)
        stamps = frame.index.as_unit("ns").asi8
        values = frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype=np.float64)
    return stamps - stamps % DAY_NS, values  # the port's index is naive midnight: a time part is no part of the date
