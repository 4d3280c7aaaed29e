"""``PolygonReference``: sectors from the SIC code in Polygon's ticker details; earnings dates unknown.

Polygon's ticker details carry the company's SEC Standard Industrial Classification code (``sic_code``),
not a GICS sector. ``sector_for_sic`` maps it with a small table of SIC ranges to GICS-like sector names,
the names the synthetic and local sources use, so a sector cap means the same thing with every source.
It is a heuristic: SIC classifies by product, GICS by business (Alphabet's 7370 reads as Information
Technology here, Communication Services in GICS). Funds carry no SIC code and get ``"ETF"``.

Earnings dates need a paid add-on on Polygon (Benzinga), so ``next_earnings`` answers None and the
configured ``[risk] unknown_earnings`` policy decides. Use Finnhub (``FINNHUB_API_KEY``) for real dates.

One ticker-details request per symbol (memoized for the process), on the same rate limit as the market
data (one key, one budget). This adapter only fetches: ``CachedReference`` (``adapters/cached_reference``),
wired in by the bootstrap, keeps the answers in the ledger.
"""

from __future__ import annotations

import logging
from datetime import date

from autotrader.adapters.polygon_data import PolygonApi, PolygonNotEntitled

log = logging.getLogger(__name__)

ETF = "ETF"
FUND_TYPES = frozenset({"ETF", "ETN", "ETV", "ETS", "FUND"})

# (first code, last code, sector). Ranges overlap on purpose: the narrowest range containing a code wins,
# so specific industries (drugs inside chemicals, computers inside machinery) override their division.
SIC_RANGES: tuple[tuple[int, int, str], ...] = (
    # Divisions and major groups: the broad default.
    (100, 999, "Consumer Staples"),  # agriculture, forestry, fishing
    (1000, 1499, "Materials"),  # mining and quarrying
    (1500, 1799, "Industrials"),  # construction
    (2000, 2199, "Consumer Staples"),  # food, beverages, tobacco
    (2200, 2399, "Consumer Discretionary"),  # textiles and apparel
    (2400, 2499, "Materials"),  # lumber and wood
    (2500, 2599, "Consumer Discretionary"),  # furniture
    (2600, 2699, "Materials"),  # paper
    (2700, 2799, "Communication Services"),  # printing and publishing
    (2800, 2899, "Materials"),  # chemicals
    (2900, 2999, "Energy"),  # petroleum refining
    (3000, 3299, "Materials"),  # rubber, plastics, stone, clay, glass
    (3100, 3199, "Consumer Discretionary"),  # leather goods
    (3300, 3399, "Materials"),  # primary metals
    (3400, 3599, "Industrials"),  # fabricated metal, industrial machinery
    (3600, 3699, "Industrials"),  # electrical equipment
    (3700, 3799, "Industrials"),  # transportation equipment
    (3800, 3899, "Information Technology"),  # instruments
    (3900, 3999, "Consumer Discretionary"),  # miscellaneous manufacturing (toys, jewelry, sporting goods)
    (4000, 4799, "Industrials"),  # transportation
    (4800, 4899, "Communication Services"),  # communications
    (4900, 4999, "Utilities"),  # electric, gas, water, sanitary
    (5000, 5199, "Industrials"),  # wholesale trade
    (5200, 5999, "Consumer Discretionary"),  # retail trade
    (6000, 6499, "Financials"),  # banks, credit, brokers, insurance
    (6500, 6599, "Real Estate"),  # real estate
    (6700, 6799, "Financials"),  # holding and investment offices
    (7000, 7299, "Consumer Discretionary"),  # hotels, personal services
    (7300, 7399, "Industrials"),  # business services
    (7500, 7599, "Consumer Discretionary"),  # auto repair and rental
    (7800, 7899, "Communication Services"),  # motion pictures
    (7900, 7999, "Consumer Discretionary"),  # amusement and recreation
    (8000, 8099, "Health Care"),  # health services
    (8200, 8299, "Consumer Discretionary"),  # education
    (8700, 8799, "Industrials"),  # engineering, accounting, management services
    # Industries that belong elsewhere than their division.
    (1220, 1222, "Energy"),  # coal
    (1300, 1399, "Energy"),  # oil and gas extraction and field services
    (2833, 2836, "Health Care"),  # drugs, biologicals
    (2840, 2844, "Consumer Staples"),  # soap, detergents, cosmetics
    (3570, 3579, "Information Technology"),  # computers and office equipment
    (3651, 3652, "Consumer Discretionary"),  # household audio and video
    (3660, 3669, "Information Technology"),  # communications equipment
    (3670, 3679, "Information Technology"),  # semiconductors and electronic components
    (3711, 3711, "Consumer Discretionary"),  # motor vehicles
    (3714, 3716, "Consumer Discretionary"),  # motor vehicle parts, motor homes
    (3751, 3751, "Consumer Discretionary"),  # motorcycles and bicycles
    (3812, 3812, "Industrials"),  # defense and navigation electronics
    (3826, 3826, "Health Care"),  # laboratory analytical instruments
    (3840, 3851, "Health Care"),  # medical instruments and supplies
    (4922, 4923, "Energy"),  # natural gas pipelines
    (5122, 5122, "Health Care"),  # drug wholesalers
    (5140, 5149, "Consumer Staples"),  # grocery wholesalers
    (5171, 5172, "Energy"),  # petroleum wholesalers
    (5311, 5311, "Consumer Discretionary"),  # department stores
    (5331, 5331, "Consumer Staples"),  # variety stores and warehouse clubs
    (5400, 5499, "Consumer Staples"),  # food stores
    (5912, 5912, "Consumer Staples"),  # drug stores
    (6798, 6798, "Real Estate"),  # real estate investment trusts
    (7370, 7379, "Information Technology"),  # software and IT services
    (8731, 8731, "Health Care"),  # commercial biological research
)


def sector_for_sic(code: int | str | None) -> str | None:
    """The GICS-like sector of a SIC code, None when unknown or nonclassifiable (91xx-99xx)."""
    try:
        value = int(str(code).strip()) if code is not None else None
    except ValueError:
        return None
    if value is None:
        return None
    best: tuple[int, str] | None = None
    for first, last, sector in SIC_RANGES:
        if first <= value <= last and (best is None or last - first < best[0]):
            best = (last - first, sector)
    return best[1] if best else None


class PolygonReference:
    """Reference data from Polygon's ticker details.

    Args:
        api: the budgeted Polygon client (shared with ``PolygonData``: one key, one rate limit).
    """

    def __init__(self, api: PolygonApi) -> None:
        self._api = api
        self._warned_not_entitled = False

    def sector(self, symbol: str) -> str | None:
        try:
            details = self._api.ticker_details(symbol)
        except PolygonNotEntitled:
            if not self._warned_not_entitled:
                self._warned_not_entitled = True
                log.warning("polygon: the plan has no ticker details; sectors are unknown")
            return None
        return sector_of_details(details)

    def next_earnings(self, symbol: str, on_or_after: date) -> date | None:
        """Always None: Polygon's earnings calendar is a paid add-on; the unknown-earnings policy applies."""
        return None


def sector_of_details(details: object | None) -> str | None:
    """``"ETF"`` for funds, the SIC code's sector for companies, None when the vendor does not know."""
    if details is None:
        return None
    if str(getattr(details, "type", "") or "").upper() in FUND_TYPES:
        return ETF
    return sector_for_sic(getattr(details, "sic_code", None))
