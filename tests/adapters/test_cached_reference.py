"""CachedReference: the one ledger cache in front of a networked reference source. A known sector is kept
for its TTL, an unknown one is asked again after the short retry, today's next earnings for the New York
day; serving a cached answer never makes it younger."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from autotrader.adapters.cached_reference import CachedReference
from autotrader.clock import ET, MarketCalendar, SimulatedClock
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.ports import Reference

CAL = MarketCalendar.xnys()
START = CAL.at_et(date(2026, 3, 2), "09:00")
KNOWN_TTL = timedelta(days=7)
UNKNOWN_TTL = timedelta(hours=24)


class CountingReference:
    """An in-memory source that counts how often it is asked."""

    def __init__(self) -> None:
        self.sectors: dict[str, str | None] = {"AAPL": "Information Technology", "NEWCO": None}
        self.earnings: dict[str, date] = {"AAPL": date(2026, 4, 30)}
        self.asked: list[tuple[str, str]] = []

    def sector(self, symbol: str) -> str | None:
        self.asked.append(("sector", symbol))
        return self.sectors.get(symbol)

    def next_earnings(self, symbol: str, on_or_after: date) -> date | None:
        self.asked.append(("next_earnings", symbol))
        found = self.earnings.get(symbol)
        return found if found is not None and found >= on_or_after else None

    def count(self, kind: str, symbol: str) -> int:
        return self.asked.count((kind, symbol))


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.db")
    yield opened
    opened.close()


@pytest.fixture
def source():
    return CountingReference()


def at(source: CountingReference, ledger, when: datetime) -> CachedReference:
    """The wrapper as one run at ``when`` sees it (a new process: nothing kept but the ledger)."""
    return CachedReference(source, ledger, SimulatedClock(when), sector_ttl=KNOWN_TTL, unknown_sector_ttl=UNKNOWN_TTL)


def test_it_is_a_reference(source, ledger):
    assert isinstance(at(source, ledger, START), Reference)


def test_a_known_sector_is_kept_for_its_ttl_then_asked_again(source, ledger):
    assert at(source, ledger, START).sector("AAPL") == "Information Technology"
    assert at(source, ledger, START + KNOWN_TTL - timedelta(minutes=1)).sector("AAPL") == "Information Technology"
    assert source.count("sector", "AAPL") == 1
    assert at(source, ledger, START + KNOWN_TTL).sector("AAPL") == "Information Technology"
    assert source.count("sector", "AAPL") == 2


def test_serving_from_the_cache_does_not_make_the_answer_younger(source, ledger):
    at(source, ledger, START).sector("AAPL")
    for days in range(1, 7):  # a run every day reads the row
        at(source, ledger, START + timedelta(days=days)).sector("AAPL")
    row = repo.cached_reference(ledger, "AAPL", "sector")
    assert row is not None and row.fetched_at == START
    at(source, ledger, START + KNOWN_TTL + timedelta(hours=1)).sector("AAPL")
    assert source.count("sector", "AAPL") == 2  # daily reads did not keep it alive past its TTL


def test_an_unknown_sector_is_asked_again_after_the_short_retry(source, ledger):
    assert at(source, ledger, START).sector("NEWCO") is None
    assert at(source, ledger, START + UNKNOWN_TTL - timedelta(minutes=1)).sector("NEWCO") is None
    assert source.count("sector", "NEWCO") == 1
    source.sectors["NEWCO"] = "Health Care"  # the vendor has classified it since
    assert at(source, ledger, START + UNKNOWN_TTL).sector("NEWCO") == "Health Care"
    assert source.count("sector", "NEWCO") == 2
    # Known now: kept for the long TTL from the new fetch.
    assert at(source, ledger, START + UNKNOWN_TTL + KNOWN_TTL - timedelta(minutes=1)).sector("NEWCO") == "Health Care"
    assert source.count("sector", "NEWCO") == 2


def test_a_sector_that_becomes_unknown_is_retried_on_the_short_ttl(source, ledger):
    at(source, ledger, START).sector("AAPL")
    source.sectors["AAPL"] = None
    assert at(source, ledger, START + KNOWN_TTL).sector("AAPL") is None
    assert at(source, ledger, START + KNOWN_TTL + UNKNOWN_TTL).sector("AAPL") is None
    assert source.count("sector", "AAPL") == 3


def test_next_earnings_from_today_is_kept_for_the_new_york_day(source, ledger):
    today = START.astimezone(ET).date()
    assert at(source, ledger, START).next_earnings("AAPL", today) == date(2026, 4, 30)
    late = CAL.at_et(today, "23:59")
    assert at(source, ledger, late).next_earnings("AAPL", today) == date(2026, 4, 30)
    assert at(source, ledger, START).next_earnings("NEWCO", today) is None
    assert at(source, ledger, late).next_earnings("NEWCO", today) is None  # "none scheduled" is kept too
    assert source.count("next_earnings", "AAPL") == 1 and source.count("next_earnings", "NEWCO") == 1
    tomorrow = START + timedelta(days=1)
    assert at(source, ledger, tomorrow).next_earnings("AAPL", tomorrow.astimezone(ET).date()) == date(2026, 4, 30)
    assert source.count("next_earnings", "AAPL") == 2


def test_next_earnings_from_another_day_is_passed_through_uncached(source, ledger):
    reference = at(source, ledger, START)
    assert reference.next_earnings("AAPL", date(2026, 5, 1)) is None
    assert reference.next_earnings("AAPL", date(2026, 4, 1)) == date(2026, 4, 30)
    assert source.count("next_earnings", "AAPL") == 2
    assert repo.cached_reference(ledger, "AAPL", "next_earnings") is None


# -- bootstrap ----------------------------------------------------------------------------------------------


def test_the_retry_of_unknown_sectors_is_the_setting(write_config, ledger, monkeypatch):
    from autotrader.adapters.cached_reference import POLYGON_SECTOR_TTL
    from autotrader.adapters.sic_sectors import PolygonReference
    from autotrader.bootstrap import build_market_data, build_reference
    from autotrader.settings import load_config

    monkeypatch.setenv("MASSIVE_API_KEY", "test-polygon-key")
    config = load_config(
        write_config('[data]\nkind = "polygon"\n[reference]\nkind = "polygon"\nunknown_sector_retry_hours = 6\n')
    )
    clock = SimulatedClock(START)
    reference = build_reference(config, build_market_data(config, clock, CAL, ledger), ledger=ledger, clock=clock)
    assert isinstance(reference, CachedReference) and isinstance(reference.source, PolygonReference)
    assert reference.unknown_sector_ttl == timedelta(hours=6) and reference.sector_ttl == POLYGON_SECTOR_TTL


@pytest.mark.parametrize("kind", ["synthetic", "local"])
def test_offline_sources_are_not_cached(kind, write_config, ledger, tmp_path):
    from autotrader.bootstrap import build_market_data, build_reference
    from autotrader.settings import load_config

    (tmp_path / "ws" / "market").mkdir(parents=True)
    config = load_config(write_config(f'[data]\nkind = "{kind}"\npath = "market"\n[reference]\nkind = "{kind}"\n'))
    clock = SimulatedClock(START)
    reference = build_reference(config, build_market_data(config, clock, CAL, ledger), ledger=ledger, clock=clock)
    assert not isinstance(reference, CachedReference)
