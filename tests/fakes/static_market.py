"""A MarketData fake with one settable last price per symbol and daily bars a test hands in."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from autotrader.domain.models import Quote

COLUMNS = ["open", "high", "low", "close", "volume"]


def _empty_daily() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS, index=pd.DatetimeIndex([], name="date"), dtype=float)


class StaticMarketData:
    def __init__(self, time_source, prices: dict[str, float] | None = None) -> None:
        self.time_source = time_source
        self.prices: dict[str, float] = dict(prices or {})
        self.daily: dict[str, pd.DataFrame] = {}

    def has_symbol(self, symbol: str) -> bool:
        return symbol in self.prices or symbol in self.daily

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        frame = self.daily.get(symbol)
        if frame is None:
            return _empty_daily()
        index = frame.index.date
        return frame[(index >= start) & (index <= end)]

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        return pd.DataFrame(columns=COLUMNS, index=pd.DatetimeIndex([], name="timestamp", tz=UTC), dtype=float)

    def latest_quote(self, symbol: str) -> Quote | None:
        price = self.prices.get(symbol)
        if price is None:
            return None
        return Quote(symbol, price, price, price, self.time_source.now().astimezone(UTC))

    def vix_daily(self, start: date, end: date) -> pd.DataFrame:
        return _empty_daily()
