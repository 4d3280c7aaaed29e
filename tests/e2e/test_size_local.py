"""`scan` then `size --dry-run --json` on local data: the seed's formulas through the command line, every
skip with its numbers, and a run-daily slot run twice placing its orders once."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest

from autotrader.clock import MarketCalendar

pytestmark = pytest.mark.slow  # whole commands run end to end over a workspace

CONFIG = """
[data]
kind = "local"
path = "market"
[reference]
kind = "local"
[signals]
synthetic_feed = false
"""

# 25 sessions up to 2026-03-06 at flat prices: SPY sits on its 20-day average (no SPY-trend cut).
PRICES = {"SPY": 500.0, "AAA": 100.0, "BBB": 50.0, "CCC": 40.0, "DDD": 103.0, "EEE": 20.0}
SECTORS = {"AAA": "Information Technology", "BBB": "Health Care", "CCC": "Energy", "DDD": "Financials",
           "EEE": "Information Technology", "SPY": "ETF"}  # fmt: skip

SIGNALS = """symbol,category,source,conviction,entry,stop,target,horizon_days,generated_at
AAA,swing,scanner,8,100,95,110,10,2026-03-09T08:00:00-04:00
BBB,long_term,finds,10,,,,,2026-03-09T08:00:00-04:00
CCC,long_term,finds,6,,,,,2026-03-09T08:00:00-04:00
DDD,swing,scanner,7,100,96,108,10,2026-03-09T08:00:00-04:00
EEE,long_term,finds,9,,,,,2026-03-09T08:00:00-04:00
"""


@pytest.fixture
def workspace(tmp_path, cli):
    (tmp_path / "config.toml").write_text(CONFIG)
    market = tmp_path / "market"
    market.mkdir()
    days = MarketCalendar.xnys().sessions_between(date(2026, 1, 30), date(2026, 3, 6))
    for symbol, price in PRICES.items():
        rows = ["date,open,high,low,close,volume"] + [f"{d},{price},{price},{price},{price},5000000" for d in days]
        (market / f"{symbol}.csv").write_text("\n".join(rows) + "\n")
    (market / "reference.csv").write_text(
        "symbol,sector,earnings_dates\n" + "".join(f"{s},{sector},\n" for s, sector in SECTORS.items())
    )
    (tmp_path / "signals.csv").write_text(SIGNALS)
    config = str(tmp_path / "config.toml")
    result = cli("scan", "--file", str(tmp_path / "signals.csv"), "--as-of", "2026-03-09T08:30", "--config", config)
    assert result.exit_code == 0, result.output
    return tmp_path, config


def test_size_dry_run_applies_the_seed_formulas(workspace, cli):
    folder, config = workspace
    before = (folder / "ledger-sim.db").read_bytes()
    result = cli("size", "--dry-run", "--json", "--as-of", "2026-03-09T09:00", "--config", config)
    assert result.exit_code == 0, result.output
    assert (folder / "ledger-sim.db").read_bytes() == before
    payload = json.loads(result.stdout)
    orders = {o["symbol"]: o for o in payload["orders"]}
    skipped = {s["symbol"]: s for s in payload["skipped"]}
    # AAA: 1% of $1,000,000 over a $5 stop = 2,000 shares; the 5% position cap ($50,000 / $100) cuts it to 500.
    assert orders["AAA"]["qty"] == 500
    steps = {step["name"]: step for step in orders["AAA"]["trace"]}
    assert steps["base"]["dollars_after"] == pytest.approx(200_000)
    assert steps["base"]["inputs"]["portfolio_value_from"] == "default"  # the simulator before any end of day
    assert payload["book"]["portfolio_value_from"] == "default"
    assert steps["max_position"]["dollars_after"] == pytest.approx(50_000)
    # Before the open a bracket cannot go market-on-open: a plain opg entry that carries its stop and target.
    assert orders["AAA"]["time_in_force"] == "opg" and orders["AAA"]["order_class"] == "simple"
    # BBB: $1,000,000 × 2% × 1.5 (conviction 10) = $30,000 → 600 shares at $50.
    assert orders["BBB"]["qty"] == 600
    # EEE: × 1.25 (conviction 9) = $25,000 → 1,250 shares at $20.
    assert orders["EEE"]["qty"] == 1250
    assert "conviction 6" in skipped["CCC"]["reason"] and "7" in skipped["CCC"]["reason"]
    assert "drifted 3%" in skipped["DDD"]["reason"] and "max 2%" in skipped["DDD"]["reason"]
    for skip in payload["skipped"]:
        assert any(ch.isdigit() for ch in skip["reason"]), skip
        assert skip["trace"], skip


def test_a_run_daily_slot_run_twice_places_its_orders_once(workspace, cli):
    folder, config = workspace
    first = cli("run-daily", "--json", "--as-of", "2026-03-09T09:00", "--config", config)
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.stdout)["orders"]) == 3
    second = cli("run-daily", "--json", "--as-of", "2026-03-09T09:00", "--config", config)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["orders"] == []
    conn = sqlite3.connect(folder / "ledger-sim.db")
    assert conn.execute("SELECT count(*) FROM sim_orders").fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM decisions WHERE step = 'size'").fetchone()[0] == 5
    conn.close()


def test_outside_the_session_size_does_nothing_and_says_why(workspace, cli):
    folder, config = workspace
    result = cli("size", "--json", "--as-of", "2026-03-09T09:29", "--config", config)
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["orders"] == [] and "market-on-open" in payload["notes"][0]
    saturday = json.loads(cli("size", "--json", "--as-of", "2026-03-14T10:00", "--config", config).stdout)
    assert saturday["orders"] == [] and "weekend" in saturday["notes"][0]


def test_a_stop_without_a_target_gets_a_protective_stop_after_the_fill(tmp_path, cli):
    (tmp_path / "config.toml").write_text(CONFIG)
    market = tmp_path / "market"
    market.mkdir()
    days = MarketCalendar.xnys().sessions_between(date(2026, 1, 30), date(2026, 3, 13))
    for symbol, price in (("SPY", 500.0), ("AAA", 100.0)):
        rows = ["date,open,high,low,close,volume"] + [f"{d},{price},{price},{price},{price},5000000" for d in days]
        (market / f"{symbol}.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "s.csv").write_text(
        "symbol,category,source,conviction,entry,stop,horizon_days,generated_at\n"
        "AAA,swing,scanner,8,100,98,10,2026-03-09T08:00:00-04:00\n"
    )
    config = str(tmp_path / "config.toml")
    assert (
        cli("scan", "--file", str(tmp_path / "s.csv"), "--as-of", "2026-03-09T08:30", "--config", config).exit_code == 0
    )
    sized = json.loads(cli("size", "--json", "--as-of", "2026-03-09T09:00", "--config", config).stdout)
    assert sized["orders"][0]["order_class"] == "simple"
    # After the open the market-on-open entry has filled (daily-only data: at the session's open, known at
    # its close); the next sync places the stop the size was computed against.
    synced = json.loads(cli("sync", "--json", "--as-of", "2026-03-10T10:00", "--config", config).stdout)
    assert [p["status"] for p in synced["protective_orders"]] == ["accepted"]
    conn = sqlite3.connect(tmp_path / "ledger-sim.db")
    stop = conn.execute("SELECT type, stop_price, leg FROM order_intents WHERE step = 'protect'").fetchone()
    conn.close()
    assert stop == ("stop", 98.0, "stop")
