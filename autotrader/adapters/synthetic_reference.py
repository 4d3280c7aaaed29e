"""``SyntheticReference``: sectors and earnings dates for the synthetic universe, offline.

Sectors are the real GICS sectors of the embedded tickers (funds are ``"ETF"``). Earnings dates come from
``SyntheticMarketData.earnings_dates``, the same schedule that puts the larger gaps into the bars, so an
earnings blackout in the pipeline lines up with the moves it is meant to avoid.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date

from autotrader.adapters.synthetic_data import SyntheticMarketData

ETF = "ETF"

# GICS sectors as of 2025 (V and MA moved to Financials in the 2023 GICS revision).
GICS_SECTORS: dict[str, str] = {
    **dict.fromkeys(("SPY", "QQQ", "IWM", "DIA", "GLD", "TLT", "SLX", "CPER"), ETF),
    **dict.fromkeys(
        ("AAPL", "MSFT", "NVDA", "AVGO", "AMD", "ORCL", "CRM", "PLTR", "RMBS", "QBTS", "IREN"),
        "Information Technology",
    ),
    **dict.fromkeys(("GOOGL", "META", "NFLX", "DIS"), "Communication Services"),
    **dict.fromkeys(("AMZN", "TSLA", "HD", "MCD", "NKE"), "Consumer Discretionary"),
    **dict.fromkeys(("PG", "KO", "WMT", "COST"), "Consumer Staples"),
    **dict.fromkeys(("XOM", "CVX", "COP", "SLB"), "Energy"),
    **dict.fromkeys(("JPM", "BAC", "GS", "V", "MA", "JEF", "AFRM", "SOFI"), "Financials"),
    **dict.fromkeys(("JNJ", "UNH", "LLY", "PFE", "MRK", "ABBV"), "Health Care"),
    **dict.fromkeys(("CAT", "GE", "BA", "HON", "UPS"), "Industrials"),
    **dict.fromkeys(("LIN", "FCX", "NEM", "DOW"), "Materials"),
    **dict.fromkeys(("PLD", "AMT", "O"), "Real Estate"),
    **dict.fromkeys(("NEE", "DUK", "SO", "OKLO"), "Utilities"),
}


class SyntheticReference:
    """Reference data (sectors, earnings) for ``SyntheticMarketData``'s universe.

    Args:
        data: the market data whose earnings schedule this reports.
    """

    def __init__(self, data: SyntheticMarketData) -> None:
        self._data = data

    def sector(self, symbol: str) -> str | None:
        """The GICS sector, ``"ETF"`` for funds, None for symbols outside the embedded map."""
        return GICS_SECTORS.get(symbol)

    def next_earnings(self, symbol: str, on_or_after: date) -> date | None:
        """The first earnings day on or after ``on_or_after``; None for funds, unknown symbols, none left."""
        dates = self._data.earnings_dates(symbol)
        i = bisect_left(dates, on_or_after)
        return dates[i] if i < len(dates) else None
