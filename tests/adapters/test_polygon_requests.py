"""What the steps spend of Polygon's free tier (5 requests a minute), counted by the loopback fake vendor,
through the real ``massive`` SDK: universe-wide daily loads go through the grouped-daily endpoint (about one
request per session of history, whatever the number of symbols)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from autotrader.adapters.http import RateLimiter
from autotrader.adapters.polygon_data import PolygonApi, PolygonData
from autotrader.bootstrap import market_capabilities
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.eventlog import EventLog
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import rebalance
from autotrader.pipeline.context import StepContext
from autotrader.settings import default_config
from tests.factories import make_deps
from tests.fakes.polygon_server import FakePolygon, FakeTimer

CAL = MarketCalendar.xnys()
KEY = "test-polygon-key"
WED = date(2026, 3, 4)
UNIVERSE = tuple(f"S{i:03d}" for i in range(60))
HELD = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META")


@pytest.fixture
def server():
    with FakePolygon(api_key=KEY, symbols=(*UNIVERSE, *HELD, "SPY", "VIXY")) as fake:
        yield fake


@pytest.fixture
def ledger(tmp_path, migrated_ledger):
    opened = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    yield opened
    opened.close()


def polygon(server: FakePolygon, ledger, at: datetime) -> PolygonData:
    timer = FakeTimer()
    api = PolygonApi(KEY, base_url=server.url, limiter=RateLimiter(5, monotonic=timer.monotonic, sleep=timer.sleep))
    return PolygonData(api, ledger, SimulatedClock(at), CAL)


def step_context(tmp_path, ledger, data: PolygonData, command: str = "rebalance") -> StepContext:
    deps = make_deps(data._clock, market_data=data, calendar=CAL, **{})
    log = EventLog(None, run_id="r", command=command, mode="sim")
    return StepContext(command, default_config(tmp_path), deps, ledger, False, "r", log)


def test_the_capability_is_wired_from_the_adapter(server, ledger):
    data = polygon(server, ledger, CAL.at_et(WED, "20:00"))
    assert market_capabilities(data)["universe_bars"] is data


def test_a_cold_universe_load_costs_about_one_request_per_session_not_per_symbol(server, ledger, tmp_path):
    ctx = step_context(tmp_path, ledger, polygon(server, ledger, CAL.at_et(WED, "20:00")))
    last = CAL.last_closed_session(ctx.now)
    first = CAL.sessions_back(last, 39)  # 40 sessions of history for 60 symbols
    universe = rebalance.gather_universe(ctx, UNIVERSE, first, last)
    closes = rebalance.load_closes(ctx, list(universe.symbols), first, last)
    assert universe.symbols == UNIVERSE and closes.notna().all().all() and len(closes) == 40
    # One grouped-daily request per session answers every symbol; no ticker lookups, no per-symbol bars.
    assert server.counts["grouped"] == 40
    assert server.counts["ticker_details"] == 0 and server.counts["aggs"] == 0
    assert server.total <= 40 + 1  # and the one market-wide splits listing


# -- intraday: quotes ---------------------------------------------------------------------------------------


def waiting_polygon(server: FakePolygon, ledger, clock: SimulatedClock) -> PolygonData:
    """The adapter at the free tier's 5 a minute, its rate limiter's waits moving the clock as they would in a
    real run (nothing really sleeps)."""
    timer = FakeTimer()

    def sleep(seconds: float) -> None:
        timer.sleep(seconds)
        clock.set(clock.now() + timedelta(seconds=seconds))

    api = PolygonApi(KEY, base_url=server.url, limiter=RateLimiter(5, monotonic=timer.monotonic, sleep=sleep))
    return PolygonData(api, ledger, clock, CAL)


def test_the_steps_of_one_slot_share_each_quote_although_the_limiter_carries_them_into_later_minutes(server, ledger):
    clock = SimulatedClock(CAL.at_et(WED, "10:30"))
    data = waiting_polygon(server, ledger, clock)
    for _ in range(3):  # profit taker, dip buyer, sizing: each asks the quote of every held symbol
        quotes = [data.latest_quote(symbol) for symbol in HELD]
    assert all(q is not None for q in quotes)
    assert clock.now() > CAL.at_et(WED, "10:31")  # six requests at 5 a minute: the clock moved on
    assert server.counts["aggs"] == len(HELD)  # one minute-bar request per symbol, not one per step and minute


def test_a_quote_is_asked_again_for_the_next_slot_and_never_served_to_an_earlier_clock(server, ledger):
    clock = SimulatedClock(CAL.at_et(WED, "11:00"))
    data = waiting_polygon(server, ledger, clock)
    first = data.latest_quote("AAPL")
    clock.set(CAL.at_et(WED, "11:30"))  # the next slot: a fresh quote
    later = data.latest_quote("AAPL")
    clock.set(CAL.at_et(WED, "10:30"))  # an earlier clock (replay, --as-of): the later quote would be look-ahead
    earlier = data.latest_quote("AAPL")
    assert server.counts["aggs"] == 3
    assert first is not None and later is not None and earlier is not None
    assert earlier.quoted_at <= CAL.at_et(WED, "10:30") < first.quoted_at < later.quoted_at
