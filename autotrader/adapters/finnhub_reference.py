"""``FinnhubReference``: sectors and next earnings dates from Finnhub's free endpoints, via finnhub-python.

- Sector: ``company_profile2`` gives ``finnhubIndustry``, Finnhub's own label ("Banking",
  "Semiconductors"...), mapped to the GICS-like sector names every other source uses; a label not in the
  map is passed through as is (a cap then still groups identical labels). An uncovered symbol (Finnhub
  answers ``{}``) and funds have no profile: None.
- Next earnings: the earnings calendar for the symbol from ``on_or_after`` over ``EARNINGS_LOOKAHEAD``;
  None when nothing is scheduled in that window.

The key travels in the ``X-Finnhub-Token`` header, not the SDK's default ``token=`` query parameter: URLs
end up in urllib3's debug log and in connection-error messages, headers do not.

Requests go through the request budget of ``autotrader.adapters.http`` (the rate limiter, at 60 a minute,
the free tier's limit, and the one retry policy), with the SDK's timeout set. This adapter only fetches:
``CachedReference`` (``adapters/cached_reference``), wired in by the bootstrap, keeps the answers in the
ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from autotrader.adapters.http import DEFAULT_TIMEOUT_SECONDS, RateLimiter, RequestBudget, no_answer, retryable_status
from autotrader.errors import ConfigError, DataError

if TYPE_CHECKING:
    from autotrader.settings import Config

log = logging.getLogger(__name__)

T = TypeVar("T")

FREE_TIER_REQUESTS_PER_MINUTE = 60.0
EARNINGS_LOOKAHEAD = timedelta(days=120)  # a quarter and then some: the next report is always inside

# Finnhub industry labels (as ``finnhubIndustry`` spells them) to GICS-like sectors.
FINNHUB_INDUSTRY_SECTORS: dict[str, str] = {
    **dict.fromkeys(
        ("Technology", "Semiconductors", "Electrical Equipment & Instruments", "IT Services", "Software"),
        "Information Technology",
    ),
    **dict.fromkeys(("Media", "Telecommunication", "Communications", "Entertainment"), "Communication Services"),
    **dict.fromkeys(
        (
            "Automobiles",
            "Auto Components",
            "Retail",
            "Hotels, Restaurants & Leisure",
            "Textiles, Apparel & Luxury Goods",
            "Leisure Products",
            "Diversified Consumer Services",
            "Consumer products",
            "Distributors",
        ),
        "Consumer Discretionary",
    ),
    **dict.fromkeys(("Food Products", "Beverages", "Tobacco", "Consumer Staples"), "Consumer Staples"),
    **dict.fromkeys(("Energy", "Oil & Gas"), "Energy"),
    **dict.fromkeys(("Banking", "Financial Services", "Insurance", "Capital Markets"), "Financials"),
    **dict.fromkeys(
        ("Pharmaceuticals", "Biotechnology", "Health Care", "Life Sciences Tools & Services", "Medical Devices"),
        "Health Care",
    ),
    **dict.fromkeys(
        (
            "Aerospace & Defense",
            "Airlines",
            "Building",
            "Construction",
            "Commercial Services & Supplies",
            "Industrial Conglomerates",
            "Logistics & Transportation",
            "Machinery",
            "Marine",
            "Professional Services",
            "Road & Rail",
            "Trading Companies & Distributors",
            "Transportation Infrastructure",
            "Electrical Equipment",
        ),
        "Industrials",
    ),
    **dict.fromkeys(("Chemicals", "Metals & Mining", "Packaging", "Paper & Forest"), "Materials"),
    "Real Estate": "Real Estate",
    "Utilities": "Utilities",
}


class FinnhubNotEntitled(DataError):
    """The plan does not cover this request (HTTP 403), e.g. a non-US symbol on the free plan."""


def sector_for_industry(industry: str | None) -> str | None:
    label = (industry or "").strip()
    if not label or label.upper() == "N/A":
        return None
    return FINNHUB_INDUSTRY_SECTORS.get(label, label)


class FinnhubReference:
    """Reference data from Finnhub, through the request budget.

    Args:
        api_key: the Finnhub key (sent in a header only).
        base_url: a loopback test server (``http://127.0.0.1:PORT``); None for the vendor.
        requests_per_minute: the client-side budget.
        timeout_seconds: the HTTP timeout of each request.
        limiter: a ready limiter (tests pass one on a fake clock).
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        requests_per_minute: float = FREE_TIER_REQUESTS_PER_MINUTE,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        limiter: RateLimiter | None = None,
    ) -> None:
        import finnhub

        self.limiter = limiter or RateLimiter(requests_per_minute)
        self._budget = RequestBudget(self.limiter)
        self._client = finnhub.Client(api_key=api_key)
        # Header authentication instead of the token query parameter (see the module docstring).
        self._client._session.params.pop("token", None)
        self._client._session.headers["X-Finnhub-Token"] = api_key
        self._client.DEFAULT_TIMEOUT = timeout_seconds
        if base_url:
            self._client.API_URL = base_url.rstrip("/") + "/api/v1"

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self._budget.requests

    def sector(self, symbol: str) -> str | None:
        try:
            profile = self._call(lambda: self._client.company_profile2(symbol=symbol), f"company profile of {symbol}")
        except FinnhubNotEntitled as e:
            log.warning("finnhub: %s; sector unknown", e)
            profile = {}
        return sector_for_industry(profile.get("finnhubIndustry")) if isinstance(profile, dict) else None

    def next_earnings(self, symbol: str, on_or_after: date) -> date | None:
        until = on_or_after + EARNINGS_LOOKAHEAD
        try:
            answer = self._call(
                lambda: self._client.earnings_calendar(
                    _from=on_or_after.isoformat(), to=until.isoformat(), symbol=symbol, international=False
                ),
                f"earnings calendar of {symbol}",
            )
        except FinnhubNotEntitled as e:
            log.warning("finnhub: %s; next earnings unknown", e)
            answer = {}
        return _next_date(answer, symbol, on_or_after)

    def _call(self, request: Callable[[], T], what: str) -> T:
        import requests
        from finnhub.exceptions import FinnhubAPIException, FinnhubRequestException

        def send() -> T:
            try:
                return request()
            except FinnhubAPIException as e:
                status = int(e.status_code)
                if status == 429 or status >= 500:
                    raise retryable_status(status, e.response.headers.get("Retry-After")) from None
                if status == 401:
                    raise ConfigError(
                        "Finnhub rejected the API key (HTTP 401)",
                        hint="check FINNHUB_API_KEY in the environment or the workspace's .env",
                    ) from None
                if status == 403:
                    raise FinnhubNotEntitled(f"Finnhub {what}: not included in this plan (HTTP 403)") from None
                raise DataError(f"Finnhub {what}: HTTP {status}") from None
            except (requests.Timeout, requests.ConnectionError) as e:
                raise no_answer("Finnhub", e) from None
            except FinnhubRequestException:
                raise DataError(f"Finnhub {what}: the answer is not JSON") from None

        return self._budget.call(send, what=f"Finnhub {what}")


def _next_date(answer: Any, symbol: str, on_or_after: date) -> date | None:
    rows = answer.get("earningsCalendar") if isinstance(answer, dict) else None
    found: list[date] = []
    for row in rows or []:
        if not isinstance(row, dict) or row.get("symbol") != symbol:
            continue  # an empty symbol asks for every company: only this one's rows count
        try:
            day = date.fromisoformat(str(row.get("date")))
        except ValueError:
            log.warning("finnhub: ignoring an earnings row for %s with date %r", symbol, row.get("date"))
            continue
        if day >= on_or_after:
            found.append(day)
    return min(found) if found else None


def build_finnhub_reference(config: Config) -> FinnhubReference:
    """``FinnhubReference`` from ``[reference]`` and FINNHUB_API_KEY.

    Raises:
        ConfigError: no key (the message names the variable, never a value).
    """
    key = config.secrets.finnhub_api_key
    if key is None or not key.get_secret_value():
        raise ConfigError(
            "[reference] kind = 'finnhub' needs an API key, and FINNHUB_API_KEY is not set",
            hint="set FINNHUB_API_KEY in the environment or the workspace's .env, or use kind = 'polygon'",
        )
    return FinnhubReference(
        key.get_secret_value(),
        base_url=config.settings.reference.base_url,
        timeout_seconds=config.settings.data.timeout_seconds,
    )
