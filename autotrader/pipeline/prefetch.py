"""Warming the daily-bar cache for a whole universe before a step reads it symbol by symbol.

A step that reads the daily bars of many symbols (the rebalancer's backtest, the outcome refresh, the
scorecard's market panel) asks the market data to fetch them all at once first, when it can
(``ports.UniverseDailyBars``: Polygon's grouped-daily endpoint, one request per session for every symbol).
The step's own per-symbol reads, and its ``has_symbol`` checks, then find the bars cached. A source without
the capability (synthetic, local files) answers from memory and is simply read as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from autotrader.pipeline.context import StepContext


def warm_daily_bars(ctx: StepContext, symbols: Iterable[str], start: date, end: date) -> None:
    """Fetch what the cache lacks of these symbols' daily bars over [start, end] in one planned pass."""
    source = ctx.deps.universe_bars
    wanted = list(dict.fromkeys(symbols))
    if source is not None and wanted and start <= end:
        source.sync_daily(wanted, start, end)
