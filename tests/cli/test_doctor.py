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


def test_the_news_outlets_are_checked_without_pinging_writing_or_sending(cli, write_config):
    """[monitor] and [notify], when set: a metrics folder that cannot be made, a URL whose ${NAME} is unset and
    one apprise cannot read each fail (exit 2, a setting to fix); a folder the first run will make is fine."""
    config = write_config(
        '[monitor]\nping_url = "https://hc-ping.com/secret-check-key"\ntextfile_dir = "config.toml/metrics"\n'
        '[notify]\nurls = ["json://127.0.0.1/${HOOK}", "nope://example.com/x", "ntfys://ntfy.sh/${TOPIC}"]\n'
    )
    (config.parent / ".env").write_text("TOPIC=topic-value\n")
    result = cli("doctor", "--json", "--config", str(config))
    assert result.exit_code == 2, result.output
    found = checks(json.loads(result.stdout))
    assert list(found)[:4] == ["config", "keys", "monitor", "notify"] and found["broker"]["ok"]
    monitor, notify = found["monitor"], found["notify"]
    assert not monitor["ok"] and "ping_url: https://hc-ping.com (not pinged)" in monitor["detail"]
    assert f"{config} is not a folder" in monitor["detail"] and "[monitor] textfile_dir" in monitor["fix"]
    assert not notify["ok"] and "notify.urls.0: ${HOOK} is not set" in notify["detail"]
    assert "notify.urls.1 (nope://example.com): apprise cannot read it" in notify["detail"]
    assert notify["fix"].startswith("set HOOK in the environment or the workspace's .env; ")
    assert "secret-check-key" not in result.output and "topic-value" not in result.output

    from autotrader.pipeline.doctor import outlet_checks
    from autotrader.settings import load_config

    fine = load_config(write_config('[monitor]\ntextfile_dir = "prom/sim"\n', folder="fine"))
    (made,) = outlet_checks(fine)
    assert made.ok and made.detail.endswith("prom/sim/autotrader_sim.prom (folder writable, made by the first run)")
    assert not (fine.workspace / "prom").exists()  # doctor writes nothing
