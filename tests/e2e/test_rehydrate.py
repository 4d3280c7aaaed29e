"""rehydrate: sync, outcomes, snapshot, reviews of closed trades (with an external reviewer), portfolio value;
idempotent per session date."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime

import pytest

from autotrader.domain.enums import Book, BrokerOrderStatus, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.models import BrokerOrder, Fill, OrderIntent, OrderRequest
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from tests.e2e.test_scorecard_hand_case import AAA, BBB, CONFIG, SIGNALS, SPY, _write_bars

pytestmark = pytest.mark.slow  # whole commands run end to end over a workspace

REVIEWER = """
import json, sys
trade = json.load(sys.stdin)
print(f"reviewed {trade['symbol']} {trade['exit_reason']} {trade['managed_pnl']}")
"""


def _closed_trade(ledger, signal_id: int) -> None:
    """BBB swing: buy 50 at 20.00 on 03-02, stopped out: sell 50 at 19.00 on 03-03."""
    legs = [
        ("2026-03-02", LegKind.ENTRY, Side.BUY, 20.0, datetime(2026, 3, 2, 14, 31, tzinfo=UTC)),
        ("2026-03-03", LegKind.STOP, Side.SELL, 19.0, datetime(2026, 3, 3, 16, 0, tzinfo=UTC)),
    ]
    for n, (session, leg, side, price, at) in enumerate(legs, start=1):
        cid = f"closed-{n}"
        request = OrderRequest(cid, "BBB", side, 50, OrderType.MARKET, TimeInForce.DAY)
        intent = OrderIntent(cid, session, "test", Book.SIGNALS, leg, 0, request, signal_id=signal_id)
        order = BrokerOrder(f"c{n}", cid, "BBB", side, 50, OrderType.MARKET, TimeInForce.DAY,
                            str(BrokerOrderStatus.FILLED), 50, price, submitted_at=at, updated_at=at)  # fmt: skip
        with ledger.write():
            repo.insert_intent(ledger, intent, run_id="t", now=at)
            repo.upsert_order(ledger, order, book="signals", now=at)
            repo.record_fill(ledger, Fill(f"cf{n}", f"c{n}", "BBB", side, 50, price, at), book="signals",
                             run_id="t", now=at)  # fmt: skip


@pytest.fixture
def workspace(tmp_path, cli):
    reviewer = tmp_path / "reviewer.py"
    reviewer.write_text(REVIEWER)
    (tmp_path / "config.toml").write_text(
        CONFIG + f'\n[review]\ncommand = "{sys.executable} {reviewer}"\ntimeout_seconds = 20\n'
    )
    market = tmp_path / "market"
    market.mkdir()
    for symbol, rows in (("SPY", SPY), ("AAA", AAA), ("BBB", BBB)):
        _write_bars(market, symbol, rows)
    (tmp_path / "signals.csv").write_text(SIGNALS)
    config = str(tmp_path / "config.toml")
    scanned = cli("scan", "--file", str(tmp_path / "signals.csv"), "--as-of", "2026-03-12T20:30:00-04:00",
                  "--config", config)  # fmt: skip
    assert scanned.exit_code == 0, scanned.output
    ledger = open_ledger(tmp_path / "ledger-sim.db")
    signal = ledger.query("SELECT id FROM signals WHERE symbol = 'BBB' AND category = 'swing'")[0]["id"]
    _closed_trade(ledger, signal)
    ledger.close()
    return tmp_path, config


def _rows(path, table: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    finally:
        conn.close()


def test_rehydrate_reviews_snapshots_and_is_idempotent(workspace, cli):
    folder, config = workspace
    as_of = "2026-03-13T16:20:00-04:00"
    result = cli("rehydrate", "--json", "--as-of", as_of, "--config", config)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    [review] = payload["reviews"]
    # Entry 50 @ 20.00, stop 50 @ 19.00: managed = −50. The pick's rule exit from that entry is the stop
    # (03-03 low 18.80 ≤ 19.00, open 20.00 above it) at 19.00: pick = 50 × (19 − 20) = −50; alpha 0.
    assert review["managed_pnl"] == pytest.approx(-50)
    assert review["pick_pnl"] == pytest.approx(-50)
    assert review["management_alpha"] == pytest.approx(0)
    assert review["exit_reason"] == "stop" and review["r_multiple"] == pytest.approx(-1.0)
    assert review["reviewer_exit_code"] == 0
    stored = _rows(folder / "ledger-sim.db", "trade_reviews")
    assert len(stored) == 1 and "reviewed BBB stop -50" in stored[0][7]
    assert payload["snapshot"]["session_date"] == "2026-03-13"
    assert payload["portfolio_value"] == payload["snapshot"]["equity"]
    assert payload["outcomes"]["signals"] == 4

    tables = {t: _rows(folder / "ledger-sim.db", t) for t in ("signal_outcomes", "signal_rule_exits", "trade_reviews")}
    again = cli("rehydrate", "--json", "--as-of", as_of, "--config", config)
    assert again.exit_code == 0
    assert json.loads(again.stdout)["reviews"] == []
    assert len(_rows(folder / "ledger-sim.db", "snapshots")) == 1
    assert _rows(folder / "ledger-sim.db", "trade_reviews") == tables["trade_reviews"]
    # Only pending rows are recomputed; complete ones never change.
    complete = [r for r in tables["signal_outcomes"] if r[2] == "complete"]
    after = [r for r in _rows(folder / "ledger-sim.db", "signal_outcomes") if r[2] == "complete"]
    assert [r[:13] for r in after] == [r[:13] for r in complete]


def test_rehydrate_dry_run_changes_nothing(workspace, cli):
    folder, config = workspace
    before = (folder / "ledger-sim.db").read_bytes()
    result = cli("rehydrate", "--dry-run", "--json", "--as-of", "2026-03-13T16:20:00-04:00", "--config", config)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["reviews"]) == 1
    assert (folder / "ledger-sim.db").read_bytes() == before


def test_scorecard_lineage_of_a_traded_signal(workspace, cli):
    folder, config = workspace
    conn = sqlite3.connect(folder / "ledger-sim.db")
    signal = conn.execute("SELECT id FROM signals WHERE symbol = 'BBB' AND category = 'swing'").fetchone()[0]
    conn.close()
    result = cli("scorecard", "--json", "--signal", str(signal), "--as-of", "2026-03-13T17:00", "--config", config)
    assert result.exit_code == 0, result.output
    lineage = json.loads(result.stdout)["lineage"]
    assert lineage["signal"]["symbol"] == "BBB"
    assert [o["leg"] for o in lineage["orders"]] == ["entry", "stop"]
    assert [f["leg"] for f in lineage["trades"][0]["fills"]] == ["entry", "stop"]
    assert lineage["trades"][0]["exit_reason"] == "stop"
    # For a person: the same history as text in the order it happened, no JSON braces, times in New York.
    text = cli("scorecard", "--signal", str(signal), "--as-of", "2026-03-13T17:00", "--config", config).stdout
    assert "{" not in text and f"signal {signal}: buy BBB · swing" in text and " ET" in text
    assert text.index("orders") < text.index("fills")
    assert "exit stop" in text
    missing = cli("scorecard", "--signal", "999", "--config", config)
    assert missing.exit_code == 2
