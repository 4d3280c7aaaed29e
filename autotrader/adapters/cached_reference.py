"""``CachedReference``: the one cache in front of a networked Reference source, kept in the ledger.

The bootstrap wraps the Polygon and Finnhub reference adapters in it (the offline sources, synthetic and
local files, answer from memory and are not wrapped). The adapters themselves only fetch, and nothing else
caches reference facts, so each answer has exactly one age: the instant it was fetched from the vendor.
Reading a cached answer never rewrites that instant, however often it is read.

How long an answer is kept (``reference_cache.fetched_at`` against the clock):
  - a known sector: ``sector_ttl`` (``POLYGON_SECTOR_TTL``, ``FINNHUB_SECTOR_TTL``);
  - an unknown sector (the vendor had none, or refused the symbol): ``unknown_sector_ttl``, short
    (``[reference] unknown_sector_retry_hours``), because an unknown sector is often a gap the vendor fills
    later, and while it lasts the sector cap cannot place the symbol in its sector;
  - the next earnings date "from today" (the question ``size`` asks): for the New York day it was fetched
    on, since a new day asks a new question. Other ``on_or_after`` dates are passed through uncached.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from autotrader.clock import ET
from autotrader.ledger import repo
from autotrader.ports import Clock, Reference

if TYPE_CHECKING:
    from autotrader.ledger.db import Ledger

#: Polygon's sectors come from SIC codes, which a company rarely changes; at 5 requests a minute on the
#: free tier, a lookup is worth keeping a month.
POLYGON_SECTOR_TTL = timedelta(days=30)
#: Finnhub's industry label is its own and revised more often than a SIC code; at 60 requests a minute a
#: weekly refresh of a few hundred symbols costs a few minutes of budget.
FINNHUB_SECTOR_TTL = timedelta(days=7)

SECTOR = "sector"
NEXT_EARNINGS = "next_earnings"


def sector_is_fresh(
    value: str | None, fetched_at: datetime, now: datetime, *, known_ttl: timedelta, unknown_ttl: timedelta
) -> bool:
    """Whether a cached sector may still be served: a known one for ``known_ttl``, None for ``unknown_ttl``."""
    return now - fetched_at < (known_ttl if value is not None else unknown_ttl)


def earnings_is_fresh(fetched_at: datetime, now: datetime) -> bool:
    """Whether a cached "next earnings from today" answer was fetched on today's New York date."""
    return fetched_at.astimezone(ET).date() == now.astimezone(ET).date()


class CachedReference:
    """A ``Reference`` that answers from the ledger's ``reference_cache`` while an answer is fresh, else asks
    ``source`` and stores its answer with the fetch instant.

    Args:
        source: the reference adapter that fetches.
        ledger: holds the ``reference_cache`` table.
        clock: the Clock port; ages and "today" are measured on it.
        sector_ttl: how long a known sector is kept.
        unknown_sector_ttl: how long an unknown sector (None) is kept before it is asked again.
    """

    def __init__(
        self,
        source: Reference,
        ledger: Ledger,
        clock: Clock,
        *,
        sector_ttl: timedelta,
        unknown_sector_ttl: timedelta,
    ) -> None:
        self.source = source
        self.sector_ttl = sector_ttl
        self.unknown_sector_ttl = unknown_sector_ttl
        self._ledger = ledger
        self._clock = clock

    def sector(self, symbol: str) -> str | None:
        now = self._clock.now()
        cached = repo.cached_reference(self._ledger, symbol, SECTOR)
        if cached is not None and sector_is_fresh(
            cached.value, cached.fetched_at, now, known_ttl=self.sector_ttl, unknown_ttl=self.unknown_sector_ttl
        ):
            return cached.value
        value = self.source.sector(symbol)
        self._store(symbol, SECTOR, value, now)
        return value

    def next_earnings(self, symbol: str, on_or_after: date) -> date | None:
        now = self._clock.now()
        if on_or_after != now.astimezone(ET).date():
            return self.source.next_earnings(symbol, on_or_after)
        cached = repo.cached_reference(self._ledger, symbol, NEXT_EARNINGS)
        if cached is not None and earnings_is_fresh(cached.fetched_at, now):
            return date.fromisoformat(cached.value) if cached.value else None
        found = self.source.next_earnings(symbol, on_or_after)
        self._store(symbol, NEXT_EARNINGS, found.isoformat() if found else None, now)
        return found

    def _store(self, symbol: str, kind: str, value: str | None, fetched_at: datetime) -> None:
        with self._ledger.write():
            repo.cache_reference(self._ledger, symbol, kind, value, now=fetched_at)
