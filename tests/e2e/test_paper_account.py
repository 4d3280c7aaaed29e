"""From the demo to a paper account by switching `[broker] kind` and `[data] kind` (plus the keys): the same
commands run through alpaca-py and massive against the loopback fake servers.

(`base_url` appears only because the services are fakes on 127.0.0.1; a real paper account omits it.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpacaServer
from tests.fakes.polygon_server import FakePolygon

pytestmark = pytest.mark.slow  # whole commands run end to end over a workspace

POLYGON_KEY = "test-polygon-key"


@pytest.fixture
def paper(write_config, monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("MASSIVE_API_KEY", POLYGON_KEY)
    with FakeAlpacaServer(now=datetime.now(UTC), prices={"AAPL": 200.0, "SPY": 500.0}) as alpaca:
        polygon = FakePolygon(api_key=POLYGON_KEY).start()
        try:
            config = write_config(
                f'[broker]\nkind = "alpaca"\nbase_url = "{alpaca.url}"\n'
                f'[data]\nkind = "polygon"\nbase_url = "{polygon.url}"\n'
                # the fake answers at once; the free tier's 5/minute would make the test wait real minutes
                "requests_per_minute = 100000.0\n"
            )
            yield str(config), alpaca, polygon
        finally:
            polygon.stop()


def test_the_same_commands_run_against_alpaca_and_polygon(cli, paper):
    config, alpaca, polygon = paper
    doctor = cli("doctor", "--json", "--config", config)
    assert doctor.exit_code == 0, doctor.output
    synced = cli("sync", "--json", "--config", config)
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.stdout)["diffs"] == []
    daily = cli("run-daily", "--json", "--config", config)
    assert daily.exit_code == 0, daily.output
    status = json.loads(cli("status", "--json", "--config", config).stdout)
    assert status["mode"] == "paper"
    ledger = status["ledger"]
    assert ledger.endswith("ledger-paper.db")  # its own ledger: the demo's ledger-sim.db is not touched
    assert alpaca.count("GET", "/v2/account") >= 1 and polygon.total >= 1
    assert not any(r.method in ("POST", "DELETE") for r in alpaca.requests)  # nothing to trade: nothing sent
    for text in (doctor.output, synced.output, daily.output):
        assert API_KEY not in text and SECRET_KEY not in text and POLYGON_KEY not in text


def test_doctor_warns_when_the_volatility_gauge_is_the_proxy_etf(cli, paper):
    config, _, polygon = paper
    polygon.faults.indices_not_authorized = True  # a plan without index data: VIXY stands in for I:VIX
    result = cli("doctor", "--json", "--config", config)
    assert result.exit_code == 0, result.output
    [data] = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "market data"]
    assert "not on the VIX scale" in data["detail"] and "vix_bands" in data["detail"]
