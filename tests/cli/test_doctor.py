"""`doctor`: each check says what it found and what to fix; the exit code is the most serious failure's.

The Alpaca checks run through the real SDK against the loopback fake server; nothing is ever written.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from autotrader.clock import MarketCalendar
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpacaServer


def checks(payload: dict) -> dict[str, dict]:
    return {c["name"]: c for c in payload["checks"]}


def test_the_default_workspace_is_healthy(cli, write_config):
    config = write_config("")
    result = cli("doctor", "--json", "--config", str(config))
    assert result.exit_code == 0, result.output
    found = checks(json.loads(result.stdout))
    assert list(found) == ["config", "keys", "broker", "calendar", "market data", "reference", "rate limits"]
    assert all(c["ok"] for c in found.values())
    assert not (config.parent / "ledger-sim.db").exists()  # nothing written
    # The shared options work too: --dry-run changes nothing (doctor never writes), --as-of judges the data then.
    earlier = cli("doctor", "--json", "--dry-run", "--as-of", "2026-10-05T12:00", "--config", str(config))
    assert earlier.exit_code == 0, earlier.output
    assert "2026-10-02" in checks(json.loads(earlier.stdout))["market data"]["detail"]


@pytest.fixture
def alpaca(monkeypatch):
    with FakeAlpacaServer(now=datetime.now(UTC), prices={"AAPL": 200.0}) as server:
        yield server


def alpaca_config(write_config, server) -> str:
    """A paper account at the fake server with local daily bars of SPY up to today (a real broker never runs
    on synthetic data)."""
    config = write_config(f'[broker]\nkind = "alpaca"\nbase_url = "{server.url}"\n[data]\nkind = "local"\npath = "."\n')
    today = datetime.now(UTC).date()
    days = MarketCalendar.xnys().sessions_between(today - timedelta(days=30), today)
    rows = "".join(f"{d},400,401,399,400.5,1000000\n" for d in days)
    (config.parent / "SPY.csv").write_text("date,open,high,low,close,volume\n" + rows)
    return str(config)


def test_missing_keys_are_named_and_exit_2(cli, write_config, alpaca):
    result = cli("doctor", "--json", "--config", alpaca_config(write_config, alpaca))
    assert result.exit_code == 2
    keys = checks(json.loads(result.stdout))["keys"]
    assert not keys["ok"] and "ALPACA_API_KEY not set" in keys["detail"] and "ALPACA_API_KEY" in keys["fix"]
    assert alpaca.requests == []  # no request without keys


def test_a_paper_account_through_the_sdk(cli, write_config, alpaca, monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_KEY)
    result = cli("doctor", "--json", "--config", alpaca_config(write_config, alpaca))
    assert result.exit_code == 0, result.output
    found = checks(json.loads(result.stdout))
    assert all(c["ok"] for c in found.values()), found
    assert "agree with the broker" in found["calendar"]["detail"]
    assert "of 200 requests left" in found["rate limits"]["detail"]
    assert API_KEY not in result.output and SECRET_KEY not in result.output
    assert not any(r.method != "GET" for r in alpaca.requests)  # read-only: no order, no cancel


def test_clock_skew_is_a_safety_failure(cli, write_config, alpaca, monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_KEY)
    alpaca.set_now(datetime.now(UTC) + timedelta(seconds=40))
    result = cli("doctor", "--json", "--config", alpaca_config(write_config, alpaca))
    assert result.exit_code == 5
    broker = checks(json.loads(result.stdout))["broker"]
    assert not broker["ok"] and "NTP" in broker["fix"]


def test_wrong_keys_are_a_configuration_failure(cli, write_config, alpaca, monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", "PKWRONGWRONGWRONG")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "SKWRONGWRONGWRONG")
    result = cli("doctor", "--json", "--config", alpaca_config(write_config, alpaca))
    assert result.exit_code == 2
    assert not checks(json.loads(result.stdout))["broker"]["ok"]
    assert "PKWRONGWRONGWRONG" not in result.output and "SKWRONGWRONGWRONG" not in result.output


def test_the_messages_name_the_configured_broker_not_the_simulator(cli, write_config, alpaca, monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_KEY)
    result = cli("doctor", "--json", "--config", alpaca_config(write_config, alpaca))
    found = checks(json.loads(result.stdout))
    assert found["broker"]["detail"].startswith("Alpaca paper: equity 100,000.00")
    assert "simulat" not in result.stdout.lower()
    sim = checks(json.loads(cli("doctor", "--json", "--config", str(write_config("", folder="sim"))).stdout))
    assert sim["broker"]["detail"].startswith("simulated: equity")
    assert sim["keys"]["detail"] == "no keys needed (simulated broker, offline synthetic data)"
