"""A fake Finnhub server on 127.0.0.1, for finnhub-python (``client.API_URL = url + "/api/v1"``).

Endpoints: ``GET /api/v1/stock/profile2?symbol=`` (``{}`` for an uncovered symbol, as the vendor answers) and
``GET /api/v1/calendar/earnings?from=&to=&symbol=`` (``{"earningsCalendar": [...]}``). The SDK's doubled slash
(``/api/v1//stock/profile2``) is collapsed. The key is accepted in the ``X-Finnhub-Token`` header or the
``token`` query parameter, like the vendor; anything else gets 401. Faults and the request log come from
``LoopbackServer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tests.fakes.polygon_server import Answer, CommonFaults, LoopbackServer, Request, dumps

DEFAULT_PROFILES: dict[str, dict[str, Any]] = {
    "AAPL": {"ticker": "AAPL", "name": "Apple Inc", "finnhubIndustry": "Technology", "country": "US"},
    "JPM": {"ticker": "JPM", "name": "JPMorgan Chase & Co", "finnhubIndustry": "Banking", "country": "US"},
    "XOM": {"ticker": "XOM", "name": "Exxon Mobil Corp", "finnhubIndustry": "Energy", "country": "US"},
    "ODD": {"ticker": "ODD", "name": "Odd Co", "finnhubIndustry": "Space Tourism", "country": "US"},
}

DEFAULT_EARNINGS: dict[str, list[date]] = {
    "AAPL": [date(2026, 1, 29), date(2026, 4, 30), date(2026, 7, 30)],
    "JPM": [date(2026, 1, 13), date(2026, 4, 14)],
}


@dataclass
class FinnhubFaults(CommonFaults):
    forbidden: set[str] = field(default_factory=set)  # symbols answered 403 (non-US symbols on the free plan)


class FakeFinnhub(LoopbackServer):
    def __init__(self, *, api_key: str = "test-finnhub-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.profiles = dict(DEFAULT_PROFILES)
        self.earnings = {k: list(v) for k, v in DEFAULT_EARNINGS.items()}
        self.faults = FinnhubFaults()

    def endpoint_of(self, path: str) -> str:
        if path == "/api/v1/stock/profile2":
            return "profile2"
        if path == "/api/v1/calendar/earnings":
            return "earnings"
        return "other"

    def authorized(self, request: Request) -> bool:
        token = request.headers.get("x-finnhub-token") or request.query.get("token")
        return token == self.api_key

    def unauthorized(self) -> Answer:
        return 401, {}, dumps({"error": "Invalid API key."})

    def rate_limited(self) -> bytes:
        return dumps({"error": "API limit reached. Please try again later. Remaining Limit: 0"})

    def route(self, request: Request) -> Answer:
        symbol = request.query.get("symbol", "")
        if symbol in self.faults.forbidden:
            return 403, {}, dumps({"error": "You don't have access to this resource."})
        if request.endpoint == "profile2":
            return 200, {}, dumps(self.profiles.get(symbol, {}))
        if request.endpoint == "earnings":
            first = date.fromisoformat(request.query["from"])
            last = date.fromisoformat(request.query["to"])
            rows = [
                {
                    "date": day.isoformat(),
                    "symbol": name,
                    "hour": "amc",
                    "quarter": (day.month - 1) // 3 + 1,
                    "year": day.year,
                    "epsActual": None,
                    "epsEstimate": 1.5,
                    "revenueActual": None,
                    "revenueEstimate": 1e9,
                }
                for name, days in self.earnings.items()
                if not symbol or name == symbol
                for day in days
                if first <= day <= last
            ]
            return 200, {}, dumps({"earningsCalendar": rows})
        return 404, {}, dumps({"error": "Not found"})
