"""Polygon's option snapshots through the real ``massive`` SDK against the loopback fake vendor: a chain filtered
by expiry and paged with next_url, one contract's snapshot, contracts the toolkit does not trade left out, a plan
without quotes, and a snapshot from after the run's instant refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from autotrader.adapters.http import RateLimiter
from autotrader.adapters.polygon_data import PolygonApi, PolygonData
from autotrader.bootstrap import market_capabilities
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.domain.enums import OptionRight
from autotrader.domain.options import OptionContract
from autotrader.errors import DataError
from autotrader.ledger.db import open_ledger
from autotrader.ports import OptionChains
from tests.fakes.polygon_server import FakePolygon, FakeTimer, option_row

CAL = MarketCalendar.xnys()
KEY = "test-polygon-key"
NOW = CAL.at_et(date(2026, 3, 10), "11:00")
QUOTED_NS = int((NOW - timedelta(seconds=30)).timestamp() * 1e9)


@pytest.fixture
def server():
    with FakePolygon(api_key=KEY) as fake:
        expiries = [date(2026, 3, 20), date(2026, 4, 17), date(2026, 6, 18)]
        rows = []
        for expiry in expiries:
            for strike in (95.0, 100.0, 105.0):
                for right in ("C", "P"):
                    ticker = f"O:XYZ{expiry:%y%m%d}{right}{round(strike * 1000):08d}"
                    rows.append(option_row(ticker, bid=2.0, ask=2.1, quoted_ns=QUOTED_NS, underlying_price=101.25))
        rows.append(option_row("O:XYZ1260417C00100000", bid=1.0, ask=1.2, quoted_ns=QUOTED_NS))  # adjusted root
        rows.append(option_row("O:XYZ260417C00110000", bid=1.0, ask=1.1, quoted_ns=QUOTED_NS,
                               shares_per_contract=50))  # fmt: skip
        rows.append(option_row("O:XYZ260417P00110000", bid=None, ask=None, quoted_ns=QUOTED_NS))  # no quote
        fake.option_chains["XYZ"] = rows
        fake.options_page_size = 4
        yield fake


@pytest.fixture
def data(server, tmp_path, migrated_ledger):
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    timer = FakeTimer()
    limiter = RateLimiter(1000, monotonic=timer.monotonic, sleep=timer.sleep)
    api = PolygonApi(KEY, base_url=server.url, timeout_seconds=2.0, limiter=limiter)
    yield PolygonData(api, ledger, SimulatedClock(NOW), CAL)
    ledger.close()


def test_polygon_data_offers_option_chains(data):
    assert isinstance(data, OptionChains) and market_capabilities(data)["option_chains"] is data


def test_a_chain_is_filtered_by_expiry_and_paged(server, data):
    chain = data.option_chain("XYZ", date(2026, 4, 1), date(2026, 6, 30))
    assert {q.contract.expiry for q in chain} == {date(2026, 4, 17), date(2026, 6, 18)}
    # 12 regular contracts and the one without a quote; the adjusted root and the 50-share contract are left out.
    assert len(chain) == 13
    requests = server.requests_to("option_chain")
    assert len(requests) == 4  # 15 rows in the window, 4 a page
    assert requests[0].query["expiration_date.gte"] == "2026-04-01"
    first = next(q for q in chain if q.contract.symbol == "XYZ260417C00100000")
    assert (first.bid, first.ask, first.iv, first.open_interest, first.volume) == (2.0, 2.1, 0.3, 1500, 120)
    assert (first.delta, first.gamma, first.theta, first.vega) == (0.5, 0.04, -0.05, 0.12)
    assert first.underlying_price == 101.25 and first.quoted_at == datetime.fromtimestamp(QUOTED_NS / 1e9, NOW.tzinfo)
    unquoted = next(q for q in chain if q.contract.symbol == "XYZ260417P00110000")
    assert (unquoted.bid, unquoted.ask) == (0.0, 0.0)  # no market: nothing may trade it


def test_named_contracts_are_each_one_snapshot(server, data):
    held = OptionContract("XYZ", date(2026, 3, 20), OptionRight.PUT, 95.0)
    unknown = OptionContract("XYZ", date(2026, 3, 20), OptionRight.PUT, 90.0)
    quotes = data.option_quotes([held, unknown])
    assert set(quotes) == {held.symbol} and quotes[held.symbol].bid == 2.0
    assert [r.path for r in server.requests_to("option_snapshot")] == [
        "/v3/snapshot/options/XYZ/O:XYZ260320P00095000", "/v3/snapshot/options/XYZ/O:XYZ260320P00090000"]  # fmt: skip


def test_a_snapshot_from_after_the_run_s_instant_is_refused(server, tmp_path, migrated_ledger):
    ledger = open_ledger(migrated_ledger(tmp_path / "past.db"))
    api = PolygonApi(KEY, base_url=server.url, timeout_seconds=2.0)
    past = PolygonData(api, ledger, SimulatedClock(NOW - timedelta(days=1)), CAL)
    with pytest.raises(DataError, match="option snapshots are today's market only|after the run's instant"):
        past.option_chain("XYZ", date(2026, 3, 1), date(2026, 4, 30))
    ledger.close()


def test_a_plan_without_options_says_so(server, data):
    server.faults.options_not_authorized = True
    with pytest.raises(DataError, match="not included in this plan"):
        data.option_chain("XYZ", date(2026, 3, 1), date(2026, 4, 30))
