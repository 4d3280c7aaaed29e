"""The manual approval gate: entries wait for the owner's yes, the next run sends what was approved (once),
a rejected or expired one is abandoned and never sent."""

from __future__ import annotations

import json
import sqlite3

import pytest


@pytest.fixture
def gated(cli, tmp_path):
    assert cli("init", str(tmp_path / "ws")).exit_code == 0
    config = tmp_path / "ws" / "config.toml"
    text = config.read_text().replace("required = false", "required = true", 1)
    config.write_text(text.replace("expiry_minutes = 240.0", "expiry_minutes = 30.0", 1))
    return str(config), tmp_path / "ws"


def run(cli, config: str, *args: str, at: str) -> dict:
    result = cli(*args, "--json", "--as-of", at, "--config", config)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _sent(folder) -> list[str]:
    """The entries the simulated broker received (protective orders for filled ones follow on their own)."""
    with sqlite3.connect(folder / "ledger-sim.db") as conn:
        rows = conn.execute("SELECT client_order_id FROM sim_orders ORDER BY client_order_id")
        return [r[0] for r in rows if "-en0-" in (r[0] or "")]


def _status(folder, cid) -> str:
    with sqlite3.connect(folder / "ledger-sim.db") as conn:
        return conn.execute("SELECT status FROM order_intents WHERE client_order_id = ?", [cid]).fetchone()[0]


def test_entries_wait_the_approved_one_goes_out_once_the_rest_are_abandoned(cli, gated):
    config, folder = gated
    daily = run(cli, config, "run-daily", at="2026-03-02T09:00")
    assert daily["orders"] and _sent(folder) == []  # decided and stored, none sent
    assert all("awaiting approval" in n for n in daily["notes"] if n.startswith("size: not yet placed"))
    pending = run(cli, config, "approvals", at="2026-03-02T09:01")["pending"]
    assert len(pending) == len(daily["orders"]) and all(p["trace"] for p in pending)
    first, second = pending[0]["client_order_id"], pending[1]["client_order_id"]
    assert run(cli, config, "approve", first, at="2026-03-02T09:02")["decided"] == [first]
    assert run(cli, config, "reject", second, "--reason", "too risky", at="2026-03-02T09:03")["decided"] == [second]
    assert _status(folder, second) == "abandoned"
    run(cli, config, "sync", at="2026-03-02T09:05")
    assert _sent(folder) == [first]
    again = run(cli, config, "approve", first, at="2026-03-02T09:06")
    assert again["decided"] == [] and _sent(folder) == [first]  # answering twice sends nothing twice
    run(cli, config, "sync", at="2026-03-02T09:10")
    assert _sent(folder) == [first]
    # Half an hour after they were asked for, the approvals left unanswered have expired: abandoned, never sent.
    run(cli, config, "sync", at="2026-03-02T09:31")
    rest = [p["client_order_id"] for p in pending[2:]]
    assert rest and all(_status(folder, cid) == "abandoned" for cid in rest) and _sent(folder) == [first]
    assert run(cli, config, "approvals", at="2026-03-02T09:32")["pending"] == []


def test_approve_all_and_the_categories_that_need_approval(cli, gated):
    config, folder = gated
    text = (folder / "config.toml").read_text()
    (folder / "config.toml").write_text(text.replace("categories = []", 'categories = ["long_term"]', 1))
    (folder / "signals" / "inbox" / "finds.csv").write_text(
        "symbol,category,source,conviction,generated_at\nAAPL,long_term,finds,9,2026-03-02T08:00:00-05:00\n"
    )  # beside the synthetic feed's swing picks
    daily = run(cli, config, "run-daily", at="2026-03-02T09:00")
    pending = {p["client_order_id"] for p in run(cli, config, "approvals", at="2026-03-02T09:01")["pending"]}
    with sqlite3.connect(folder / "ledger-sim.db") as conn:
        category = dict(
            conn.execute(
                "SELECT i.client_order_id, s.category FROM order_intents i JOIN signals s ON s.id = i.signal_id"
            ).fetchall()
        )
    ordered = {o["client_order_id"] for o in daily["orders"] if o["leg"] == "entry"}
    assert pending and pending == {cid for cid in ordered if category[cid] == "long_term"}
    others = ordered - pending
    assert others and others <= set(_sent(folder))  # not gated: sent at once
    approved = run(cli, config, "approve", "--all", at="2026-03-02T09:02")["decided"]
    assert set(approved) == pending
    run(cli, config, "sync", at="2026-03-02T09:03")
    assert pending <= set(_sent(folder))


def test_unknown_ids_and_missing_targets_are_bad_input(cli, gated):
    config, _ = gated
    assert cli("approve", "nope", "--config", config, "--as-of", "2026-03-02T09:00").exit_code == 2
    assert cli("approve", "--config", config).exit_code == 2
    assert cli("reject", "nope", "--config", config, "--as-of", "2026-03-02T09:00").exit_code == 2


def test_an_intraday_entry_whose_approval_expires_is_abandoned_with_the_reason(cli, gated):
    config, folder = gated
    text = (folder / "config.toml").read_text()
    text = text.replace("expiry_minutes = 30.0", "expiry_minutes = 5.0").replace(
        "synthetic_feed = true", "synthetic_feed = false"
    )
    (folder / "config.toml").write_text(text)
    (folder / "signals" / "inbox" / "pick.csv").write_text(
        "symbol,category,source,conviction,generated_at\nAAPL,swing,desk,8,2026-03-02T10:50:00-05:00\n"
    )
    daily = run(cli, config, "run-daily", at="2026-03-02T11:00")  # intraday: a day order inside the window
    [entry] = [o["client_order_id"] for o in daily["orders"] if o["leg"] == "entry"]
    assert _status(folder, entry) == "planned" and _sent(folder) == []
    later = run(cli, config, "sync", at="2026-03-02T11:06")
    assert _status(folder, entry) == "abandoned" and _sent(folder) == []
    assert any(n.startswith(f"abandoned {entry}: ") and "approval expired" in n for n in later["notes"])
    with sqlite3.connect(folder / "ledger-sim.db") as conn:
        why = conn.execute("SELECT error_message FROM order_intents WHERE client_order_id = ?", [entry]).fetchone()[0]
        answer = conn.execute("SELECT status FROM approvals WHERE client_order_id = ?", [entry]).fetchone()[0]
    assert "approval expired" in why and answer == "expired"


def test_the_gate_by_hand():
    from datetime import UTC, datetime, timedelta

    from autotrader.domain.models import Approval
    from autotrader.policy.approval import approval_gate

    now = datetime(2026, 3, 2, 15, tzinfo=UTC)
    pending = Approval("cid", "pending", now, now + timedelta(minutes=5), "")
    assert approval_gate(None, now) == ("send", "")
    assert approval_gate(pending, now)[0] == "wait" and "autotrader approve cid" in approval_gate(pending, now)[1]
    assert approval_gate(pending, now + timedelta(minutes=5))[0] == "abandon"
    assert approval_gate(Approval("cid", "approved", now, now, ""), now + timedelta(days=1)) == ("send", "")
    assert approval_gate(Approval("cid", "rejected", now, now, "no"), now) == ("abandon", "rejected by the owner: no")
