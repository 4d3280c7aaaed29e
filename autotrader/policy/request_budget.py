"""How many market-data requests a ``run-daily`` slot should cost, for ``doctor`` (pure).

The model follows what the Polygon adapter does (``adapters/polygon_data.py``):
  - daily bars come from the ledger's cache; what it lacks is fetched with one grouped-daily request per
    session (every symbol at once), or one per-symbol request each when the symbols asking are fewer than the
    sessions missing and the gap is longer than ``GROUPED_SESSION_LIMIT``;
  - an intraday slot pays, at most once a day, for a new session's grouped bars, the volatility index (an
    index is not in the grouped response) and the splits listing, then one minute-bar quote per held symbol
    (a quote serves every step of the slot);
  - the evening slot's rebalancer fills its backtest window for its universe, plus the splits listing.
"""

from __future__ import annotations

import math

from autotrader.domain.reports import SlotRequests

#: Missing sessions up to this many are filled with grouped-daily requests whatever the number of symbols.
GROUPED_SESSION_LIMIT = 5
#: What an intraday slot may pay once a day besides its quotes: a new session's grouped bars, the volatility
#: index, the day's splits listing.
DAILY_EXTRAS = 3


def fill_requests(missing_sessions: int, symbols: int) -> int:
    """Requests to fill ``missing_sessions`` sessions of daily bars for ``symbols`` symbols that lack them all."""
    if missing_sessions <= 0 or symbols <= 0:
        return 0
    if missing_sessions > max(GROUPED_SESSION_LIMIT, symbols):
        return symbols
    return missing_sessions


def intraday_budget(held_symbols: int, requests_per_minute: float) -> SlotRequests:
    requests = DAILY_EXTRAS + held_symbols
    return SlotRequests(
        "intraday",
        requests,
        minutes_at(requests, requests_per_minute),
        f"at most {DAILY_EXTRAS} (a new session's bars, the volatility index, the splits listing: the day's first "
        f"slot only) + {held_symbols} quote(s), one per held symbol",
    )


def rebalance_budget(
    universe: int, window_sessions: int, cached_sessions: int, requests_per_minute: float
) -> SlotRequests:
    missing = max(0, window_sessions - cached_sessions)
    requests = fill_requests(missing, universe) + 1  # and the splits listing
    return SlotRequests(
        "evening",
        requests,
        minutes_at(requests, requests_per_minute),
        f"rebalance: {universe} symbol(s) over {window_sessions} sessions, {cached_sessions} cached "
        f"({missing} to fetch) + the splits listing",
    )


def minutes_at(requests: int, requests_per_minute: float, margin_seconds: float = 1.0) -> float:
    """Minutes the rate limiter (``adapters/http.RateLimiter``) needs to grant ``requests``: a window's worth at
    once, then one more window, plus its margin, for each further window's worth."""
    capacity = max(1, math.floor(requests_per_minute))
    window = 60.0 * capacity / requests_per_minute
    waits = math.ceil(max(0, requests - capacity) / capacity)
    return round(waits * (window + margin_seconds) / 60.0, 1)
