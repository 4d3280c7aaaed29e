"""Smoke tests against the real services, read-only, behind the ``live`` marker.

They run only when the keys are in the environment (the suite's isolation fixture hides them from every
other test, so they are captured here at import) and never send an order:

    ALPACA_API_KEY=... ALPACA_SECRET_KEY=... MASSIVE_API_KEY=... FINNHUB_API_KEY=... \\
        .venv/bin/pytest -m live tests/live

Alpaca is always the paper endpoint here, whatever else is configured.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from autotrader.clock import MarketCalendar, SystemClock

KEYS = {
    name: os.environ.get(name, "")
    for name in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "MASSIVE_API_KEY", "POLYGON_API_KEY", "FINNHUB_API_KEY")
}
pytestmark = pytest.mark.live


def needs(*names: str):
    missing = [n for n in names if not KEYS.get(n)]
    return pytest.mark.skipif(bool(missing), reason=f"live test: {', '.join(missing)} not set")


@needs("ALPACA_API_KEY", "ALPACA_SECRET_KEY")
def test_alpaca_paper_account_clock_and_calendar_answer():
    from autotrader.adapters.alpaca_broker import BASE_URLS, AlpacaBroker

    broker = AlpacaBroker(
        api_key=KEYS["ALPACA_API_KEY"], secret_key=KEYS["ALPACA_SECRET_KEY"], base_url=BASE_URLS["paper"],
        mode="paper", clock=SystemClock(),
    )  # fmt: skip
    account = broker.account()
    assert account.equity >= 0
    clock = broker.clock()
    assert abs(clock.timestamp - datetime.now(UTC)) < timedelta(seconds=30)
    today = datetime.now(UTC).date()
    calendar = MarketCalendar.xnys()
    theirs = {s.session for s in broker.calendar(today, today + timedelta(days=30))}
    assert theirs == set(calendar.sessions_between(today, today + timedelta(days=30)))
    assert broker.asset("SPY") is not None
    broker.orders(status="open")
    broker.fills(after=datetime.now(UTC) - timedelta(days=7))


@pytest.mark.skipif(not (KEYS["MASSIVE_API_KEY"] or KEYS["POLYGON_API_KEY"]), reason="live test: no Polygon key")
def test_polygon_daily_bars_for_spy(tmp_path):
    from autotrader.adapters.polygon_data import PolygonApi, PolygonData
    from autotrader.ledger.db import open_ledger

    ledger = open_ledger(tmp_path / "ledger.db")
    calendar = MarketCalendar.xnys()
    data = PolygonData(
        PolygonApi(KEYS["MASSIVE_API_KEY"] or KEYS["POLYGON_API_KEY"], requests_per_minute=5, timeout_seconds=20),
        ledger, SystemClock(), calendar,
    )  # fmt: skip
    last = calendar.last_closed_session(datetime.now(UTC))
    bars = data.daily_bars("SPY", last - timedelta(days=10), last)
    assert len(bars) >= 3 and bars.index[-1].date() <= last
    ledger.close()


@needs("FINNHUB_API_KEY")
def test_finnhub_sector():
    from autotrader.adapters.finnhub_reference import FinnhubReference

    assert FinnhubReference(KEYS["FINNHUB_API_KEY"]).sector("AAPL")
