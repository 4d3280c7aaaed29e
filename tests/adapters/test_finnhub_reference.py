"""FinnhubReference through the real finnhub-python against a loopback fake: sectors, next earnings, the
ledger cache in front of it, the rate limit, 429 and timeouts, the key kept out of URLs, errors and logs,
and the bootstrap's choice between Finnhub and Polygon's SIC sectors."""

from __future__ import annotations

import logging
import traceback
from datetime import date, timedelta

import pytest

from autotrader.adapters.cached_reference import FINNHUB_SECTOR_TTL, POLYGON_SECTOR_TTL, CachedReference
from autotrader.adapters.finnhub_reference import FinnhubReference, sector_for_industry
from autotrader.adapters.http import MAX_ATTEMPTS, RateLimiter
from autotrader.adapters.sic_sectors import PolygonReference
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.errors import ConfigError, TransientError
from autotrader.ledger.db import open_ledger
from autotrader.ports import Reference
from tests.fakes.finnhub_server import FakeFinnhub
from tests.fakes.polygon_server import FakePolygon, FakeTimer

CAL = MarketCalendar.xnys()
KEY = "test-finnhub-key"
WED = date(2026, 3, 4)


@pytest.fixture
def server():
    with FakeFinnhub(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def ledger(tmp_path, migrated_ledger):
    opened = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    yield opened
    opened.close()


def make_reference(
    server: FakeFinnhub,
    *,
    key: str = KEY,
    timer: FakeTimer | None = None,
    rpm: float = 60,
    timeout: float = 2.0,
) -> FinnhubReference:
    timer = timer or FakeTimer()
    limiter = RateLimiter(rpm, monotonic=timer.monotonic, sleep=timer.sleep)
    return FinnhubReference(key, base_url=server.url, timeout_seconds=timeout, limiter=limiter)


def make_cached(server: FakeFinnhub, ledger, day: date = WED) -> CachedReference:
    """The adapter behind the ledger cache, as the bootstrap wires it."""
    clock = SimulatedClock(CAL.at_et(day, "09:45"))
    return CachedReference(
        make_reference(server),
        ledger,
        clock,
        sector_ttl=FINNHUB_SECTOR_TTL,
        unknown_sector_ttl=timedelta(days=1),
    )


def test_it_is_a_reference(server):
    assert isinstance(make_reference(server), Reference)


def test_sectors_come_from_the_finnhub_industry(server):
    reference = make_reference(server)
    assert reference.sector("AAPL") == "Information Technology"
    assert reference.sector("JPM") == "Financials"
    assert reference.sector("XOM") == "Energy"
    assert reference.sector("ODD") == "Space Tourism"  # an unmapped label passes through
    assert reference.sector("NOPE") is None  # Finnhub answers {} for a symbol it does not cover
    assert server.counts["profile2"] == 5
    assert [r.query["symbol"] for r in server.requests_to("profile2")] == ["AAPL", "JPM", "XOM", "ODD", "NOPE"]


def test_industry_labels_map_to_gics_like_sectors():
    assert sector_for_industry("Semiconductors") == "Information Technology"
    assert sector_for_industry("Pharmaceuticals") == "Health Care"
    assert sector_for_industry("Real Estate") == "Real Estate"
    assert sector_for_industry("N/A") is None and sector_for_industry("") is None and sector_for_industry(None) is None


def test_sectors_are_cached_in_the_ledger_across_runs(server, ledger):
    assert make_cached(server, ledger).sector("AAPL") == "Information Technology"
    assert make_cached(server, ledger, date(2026, 3, 5)).sector("AAPL") == "Information Technology"
    assert server.counts["profile2"] == 1
    make_cached(server, ledger, date(2026, 3, 20)).sector("AAPL")  # older than the cache keeps
    assert server.counts["profile2"] == 2


def test_next_earnings_is_the_first_scheduled_date_on_or_after(server):
    reference = make_reference(server)
    assert reference.next_earnings("AAPL", WED) == date(2026, 4, 30)
    assert reference.next_earnings("AAPL", date(2026, 4, 30)) == date(2026, 4, 30)
    assert reference.next_earnings("JPM", date(2026, 4, 15)) is None  # nothing in the window
    assert reference.next_earnings("NOPE", WED) is None
    request = server.requests_to("earnings")[0]
    assert request.query == {"from": "2026-03-04", "to": "2026-07-02", "symbol": "AAPL", "international": "false"}


def test_next_earnings_from_today_is_cached_for_the_day(server, ledger):
    make_cached(server, ledger).next_earnings("AAPL", WED)
    assert make_cached(server, ledger).next_earnings("AAPL", WED) == date(2026, 4, 30)
    assert server.counts["earnings"] == 1
    tomorrow = date(2026, 3, 5)
    assert make_cached(server, ledger, tomorrow).next_earnings("AAPL", tomorrow) == date(2026, 4, 30)
    assert server.counts["earnings"] == 2


def test_a_forbidden_symbol_is_unknown_not_an_error(server):
    server.faults.forbidden = {"ORP.PA"}
    reference = make_reference(server)
    assert reference.sector("ORP.PA") is None
    assert reference.next_earnings("ORP.PA", WED) is None


def test_requests_stay_within_the_rate(server):
    timer = FakeTimer()
    reference = make_reference(server, timer=timer, rpm=60)
    for i in range(70):
        reference.sector(f"X{i:02d}")
    stamps = list(reference.limiter.history)
    assert len(stamps) == server.total == 70
    assert all(later - earlier >= 60.0 for earlier, later in zip(stamps, stamps[60:], strict=False))
    assert timer.now == pytest.approx(61.0)  # one window and its margin


def test_429_is_retried_then_succeeds(server):
    server.faults.rate_limit = 2
    timer = FakeTimer()
    assert make_reference(server, timer=timer).sector("AAPL") == "Information Technology"
    assert server.total == 3 and len(timer.slept) == 2


def test_persistent_429s_end_in_a_transient_error(server):
    server.faults.rate_limit = 100
    server.faults.retry_after = "3"
    timer = FakeTimer()
    with pytest.raises(TransientError, match=r"Finnhub company profile of AAPL: rate limited"):
        make_reference(server, timer=timer).sector("AAPL")
    assert server.total == MAX_ATTEMPTS and timer.slept == [3.0] * (MAX_ATTEMPTS - 1)


@pytest.mark.slow
def test_a_response_that_never_comes_times_out_into_a_transient_error(server):
    server.faults.hang = 100
    with pytest.raises(TransientError, match=r"no answer from Finnhub \(ReadTimeout\)"):
        make_reference(server, timeout=0.05).next_earnings("AAPL", WED)
    assert server.total == MAX_ATTEMPTS


@pytest.mark.slow
def test_the_key_travels_in_a_header_and_never_appears_in_urls_errors_or_logs(caplog):
    canary = "CANARY-finnhub-41c0b7e2"
    caplog.set_level(logging.DEBUG)  # urllib3 logs every URL at debug level
    errors: list[BaseException] = []
    with FakeFinnhub(api_key=canary) as server:
        assert make_reference(server, key=canary).sector("AAPL") == "Information Technology"
        server.faults.rate_limit = 100
        with pytest.raises(TransientError) as limited:
            make_reference(server, key=canary).sector("JPM")
        errors.append(limited.value)
        server.faults.rate_limit, server.faults.hang = 0, 100
        with pytest.raises(TransientError) as hung:
            make_reference(server, key=canary, timeout=0.1).sector("XOM")
        errors.append(hung.value)
        assert all(r.headers.get("x-finnhub-token") == canary and "token" not in r.query for r in server.log)
    with (
        FakeFinnhub(api_key="another-key") as wrong,
        pytest.raises(ConfigError, match="rejected the API key") as refused,
    ):
        make_reference(wrong, key=canary).sector("MSFT")
    assert "FINNHUB_API_KEY" in (refused.value.hint or "")
    errors.append(refused.value)
    assert caplog.records
    for error in errors:
        assert canary not in "".join(traceback.format_exception(error)) + repr(error) + str(error.hint or "")
    assert canary not in caplog.text


# -- bootstrap: which reference source -------------------------------------------------------------------------


@pytest.fixture
def polygon():
    with FakePolygon(api_key="test-polygon-key") as fake:
        yield fake


def _load(write_config, text: str):
    from autotrader.settings import load_config

    return load_config(write_config(text))


def test_auto_with_polygon_data_uses_finnhub_when_its_key_is_set(server, polygon, ledger, write_config, monkeypatch):
    from autotrader.bootstrap import build_market_data, build_reference

    monkeypatch.setenv("MASSIVE_API_KEY", "test-polygon-key")
    monkeypatch.setenv("FINNHUB_API_KEY", KEY)
    config = _load(
        write_config, f'[data]\nkind = "polygon"\nbase_url = "{polygon.url}"\n[reference]\nbase_url = "{server.url}"\n'
    )
    clock = SimulatedClock(CAL.at_et(WED, "09:45"))
    reference = build_reference(config, build_market_data(config, clock, CAL, ledger), ledger=ledger, clock=clock)
    assert isinstance(reference, CachedReference) and isinstance(reference.source, FinnhubReference)
    assert reference.sector_ttl == FINNHUB_SECTOR_TTL
    assert reference.next_earnings("AAPL", WED) == date(2026, 4, 30)
    assert server.counts["earnings"] == 1 and polygon.total == 0


def test_auto_without_a_finnhub_key_falls_back_to_polygon_sic_sectors(polygon, ledger, write_config, monkeypatch):
    from autotrader.bootstrap import build_market_data, build_reference

    monkeypatch.setenv("MASSIVE_API_KEY", "test-polygon-key")
    config = _load(write_config, f'[data]\nkind = "polygon"\nbase_url = "{polygon.url}"\n')
    clock = SimulatedClock(CAL.at_et(WED, "09:45"))
    reference = build_reference(config, build_market_data(config, clock, CAL, ledger), ledger=ledger, clock=clock)
    assert isinstance(reference, CachedReference) and isinstance(reference.source, PolygonReference)
    assert reference.sector_ttl == POLYGON_SECTOR_TTL
    assert reference.sector("JPM") == "Financials" and polygon.counts["ticker_details"] == 1
    assert reference.next_earnings("JPM", WED) is None


def test_kind_finnhub_without_a_key_names_the_variable(ledger, write_config):
    from autotrader.adapters.synthetic_data import SyntheticMarketData
    from autotrader.bootstrap import build_reference

    config = _load(write_config, '[reference]\nkind = "finnhub"\n')
    clock = SimulatedClock(CAL.at_et(WED, "09:45"))
    with pytest.raises(ConfigError, match="FINNHUB_API_KEY"):
        build_reference(config, SyntheticMarketData(clock, CAL), ledger=ledger, clock=clock)
