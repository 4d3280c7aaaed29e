"""`preview risk` and `preview bracket`: every overlay size would apply, the legs, risk and reward; nothing sent."""

from __future__ import annotations

import json
import sqlite3

import pytest

from autotrader.domain.money import to_tick

AT = "2026-03-02T10:50"


@pytest.fixture
def ws(cli, tmp_path):
    assert cli("init", str(tmp_path / "ws")).exit_code == 0
    config = str(tmp_path / "ws" / "config.toml")
    for at in ("2026-03-02T09:00", "2026-03-02T10:00"):
        assert cli("run-daily", "--as-of", at, "--config", config).exit_code == 0
    return config, tmp_path / "ws"


def _intents(folder) -> int:
    with sqlite3.connect(folder / "ledger-sim.db") as conn:
        return conn.execute("SELECT count(*) FROM order_intents").fetchone()[0]


def test_preview_risk_lists_every_rule_and_the_cap_that_binds(cli, ws):
    config, folder = ws
    before = _intents(folder)
    payload = json.loads(
        cli("preview", "risk", "AAPL", "--qty", "100000", "--json", "--as-of", AT, "--config", config).stdout
    )
    names = [s["name"] for s in payload["checks"]]
    assert names[:3] == ["side", "signal_prices", "category"] and "max_open_orders" in names and "spread" in names
    # The morning's entries used up the $250,000 allocation cap: size would skip any new buy.
    max_position, allocation = payload["caps"][:2]
    assert max_position["name"] == "max_position" and max_position["effect"].endswith("reduced to $50,000")
    assert allocation["effect"].startswith("skip: allocation cap") and payload["allowed_qty"] == 0
    assert payload["blocked_by"] == [allocation["effect"].removeprefix("skip: ")]
    assert payload["notional"] == pytest.approx(100_000 * payload["price"], abs=0.01)
    # With room under the allocation cap, $50,000 (5% of $1,000,000) is the position cap that binds.
    text = (folder / "config.toml").read_text()
    (folder / "config.toml").write_text(
        text.replace("max_total_allocation = 250000.0", "max_total_allocation = 900000.0")
    )
    wide = json.loads(
        cli("preview", "risk", "AAPL", "--qty", "100000", "--json", "--as-of", AT, "--config", config).stdout
    )
    assert wide["allowed_qty"] == pytest.approx(50_000 / wide["price"], rel=1e-9) and wide["blocked_by"] == []
    assert len(wide["caps"]) == 4
    assert _intents(folder) == before  # nothing planned, nothing sent


def test_preview_risk_says_why_size_would_not_buy(cli, ws):
    config, _ = ws
    cli("halt", "--as-of", AT, "--config", config)  # not a sizing rule: the preview still shows the rules
    held = json.loads(cli("positions", "--json", "--as-of", AT, "--config", config).stdout)["positions"][0]["symbol"]
    payload = json.loads(cli("preview", "risk", held, "--qty", "1", "--json", "--as-of", AT, "--config", config).stdout)
    assert any("one position per symbol" in b for b in payload["blocked_by"])


def test_preview_bracket_prices_the_legs_on_the_ticks(cli, ws):
    config, _ = ws
    args = ("preview", "bracket", "AAPL", "--qty", "10", "--stop-pct", "2", "--tp-pct", "5", "--price", "100.03")
    payload = json.loads(cli(*args, "--json", "--as-of", AT, "--config", config).stdout)
    legs = payload["bracket"]
    assert legs["stop_price"] == to_tick(100.03 * 0.98, direction="down") == 98.02
    assert legs["take_profit"] == to_tick(100.03 * 1.05, direction="up") == 105.04
    assert legs["risk_usd"] == pytest.approx(10 * (100.03 - 98.02)) and legs["reward_usd"] == pytest.approx(10 * 5.01)
    assert legs["reward_risk"] == pytest.approx(5.01 / 2.01, rel=1e-4) and payload["price"] == 100.03


@pytest.mark.parametrize(
    "args", [("--qty", "0", "--stop-pct", "2", "--tp-pct", "5"), ("--qty", "1", "--stop-pct", "100", "--tp-pct", "5")]
)
def test_preview_bracket_refuses_nonsense(cli, write_config, args):
    config = write_config("")
    result = cli("preview", "bracket", "AAPL", *args, "--as-of", AT, "--config", str(config))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not list(config.parent.glob("ledger-*.db"))  # refused before the ledger is opened


def test_preview_risk_refuses_an_unknown_category(cli, write_config):
    config = write_config("")
    result = cli("preview", "risk", "AAPL", "--qty", "1", "--category", "scalp", "--config", str(config))
    assert result.exit_code == 2 and "long_term, swing, day_trade" in result.stderr
    assert not list(config.parent.glob("ledger-*.db"))
