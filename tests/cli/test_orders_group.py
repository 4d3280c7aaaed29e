"""The orders command group against the simulated broker: list, show, cancel, cancel-all, cancel-stale,
positions, balances and flatten, through the ledger and the gateway (a rerun never sends twice)."""

from __future__ import annotations

import json
import sqlite3
from types import SimpleNamespace

import pytest

from autotrader.errors import SafetyRefusal
from autotrader.pipeline import orders


@pytest.fixture(scope="module")
def traded(tmp_path_factory):
    """A sim workspace after a premarket and a first intraday slot: entries filled, protective orders working."""
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    folder = tmp_path_factory.mktemp("orders")
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(folder / "ws")]).exit_code == 0
    config = str(folder / "ws" / "config.toml")
    for at in ("2026-03-02T09:00", "2026-03-02T10:00"):
        assert runner.invoke(app, ["run-daily", "--as-of", at, "--config", config]).exit_code == 0
    return folder / "ws"


@pytest.fixture
def ws(traded, tmp_path):
    """A private copy of the traded workspace for each test."""
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(traded, copy)
    return str(copy / "config.toml"), copy


def run(cli, config: str, *args: str, at: str) -> dict:
    result = cli(*args, "--json", "--as-of", at, "--config", config)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_and_show_tell_an_orders_whole_story(cli, ws):
    config, _ = ws
    listed = run(cli, config, "orders", "list", "--status", "all", at="2026-03-02T10:05")["listed"]
    entries = [o for o in listed if o["leg"] == "entry"]
    assert entries and all(o["status"] == "filled" for o in entries)
    working = run(cli, config, "orders", "list", at="2026-03-02T10:05")["listed"]
    assert working and all(o["side"] == "sell" and o["status"] not in ("filled", "canceled") for o in working)
    shown = run(cli, config, "orders", "show", entries[0]["client_order_id"], at="2026-03-02T10:05")
    record = shown["record"]
    assert record["intent"]["client_order_id"] == entries[0]["client_order_id"]
    assert record["order"]["status"] == "filled" and record["fills"]
    assert record["decision"]["outcome"] in ("ordered", "reduced")
    assert cli("orders", "show", "no-such-id", "--config", config, "--as-of", "2026-03-02T10:05").exit_code == 2


def test_cancel_then_cancel_all_leave_nothing_working(cli, ws):
    config, _ = ws
    working = run(cli, config, "orders", "list", at="2026-03-02T10:05")["listed"]
    first = working[0]["broker_order_id"]
    one = run(cli, config, "orders", "cancel", first, at="2026-03-02T10:06")
    assert one["canceled"] == [first]
    again = run(cli, config, "orders", "cancel", first, at="2026-03-02T10:07")
    assert again["canceled"] == [] and any("nothing to cancel" in n for n in again["notes"])
    everything = run(cli, config, "orders", "cancel-all", at="2026-03-02T10:08")
    assert everything["canceled"]
    assert run(cli, config, "orders", "list", at="2026-03-02T10:09")["listed"] == []


def test_cancel_stale_keeps_a_positions_protective_orders(cli, ws):
    config, _ = ws
    stale = run(cli, config, "orders", "cancel-stale", "--minutes", "1", at="2026-03-02T12:00")
    assert stale["canceled"] == []  # every working order guards a position
    assert run(cli, config, "orders", "list", at="2026-03-02T12:01")["listed"]


def test_flatten_cancels_first_sells_once_and_goes_through_a_halt(cli, ws):
    config, _ = ws
    symbol = run(cli, config, "positions", at="2026-03-02T10:05")["positions"][0]["symbol"]
    run(cli, config, "halt", "--exits", at="2026-03-02T10:06")
    flat = run(cli, config, "flatten", "--symbol", symbol, at="2026-03-02T10:10")
    assert flat["canceled"] and [(o["symbol"], o["leg"], o["side"]) for o in flat["orders"]] == [
        (symbol, "flatten", "sell")
    ]
    cid = flat["orders"][0]["client_order_id"]
    rerun = run(cli, config, "flatten", "--symbol", symbol, at="2026-03-02T10:11")
    assert [o["client_order_id"] for o in rerun["orders"]] == [cid] and "0 market sell(s) sent" in rerun["notes"][1]
    run(cli, config, "resume", at="2026-03-02T10:20")
    run(cli, config, "sync", at="2026-03-02T10:40")
    held = {p["symbol"] for p in run(cli, config, "positions", at="2026-03-02T10:41")["positions"]}
    assert symbol not in held and held
    sells = [o for o in run(cli, config, "orders", "list", "--status", "all", at="2026-03-02T10:42")["listed"]
             if o["symbol"] == symbol and o["leg"] == "flatten"]  # fmt: skip
    assert [(o["client_order_id"], o["status"]) for o in sells] == [(cid, "filled")]
    everything = run(cli, config, "flatten", "--all", at="2026-03-02T10:43")
    assert len(everything["orders"]) == len(held)


def test_positions_and_balances_add_up(cli, ws):
    config, _ = ws
    rows = run(cli, config, "positions", at="2026-03-02T10:05")["positions"]
    assert rows and all(p["ledger_qty"] == p["broker_qty"] for p in rows)
    assert all(
        p["unrealized_pnl"] == pytest.approx((p["price"] - p["avg_cost"]) * p["ledger_qty"], abs=0.01) for p in rows
    )
    balance = run(cli, config, "balances", at="2026-03-02T10:05")
    deployed = sum(p["ledger_qty"] * p["avg_cost"] for p in rows)
    assert balance["deployed_by_book"]["signals"] == pytest.approx(deployed, rel=1e-6)
    assert balance["equity"] > 0 and balance["cash"] <= balance["equity"]


def test_an_external_order_is_not_touched_without_asking(cli, ws):
    config, folder = ws
    conn = sqlite3.connect(folder / "ledger-sim.db")
    with conn:
        conn.execute(
            "INSERT INTO orders (broker_order_id, book, symbol, side, qty, type, time_in_force, status, synced_at) "
            "VALUES ('ext-1', 'external', 'IBM', 'buy', 1, 'limit', 'day', 'new', '2026-03-02T15:00:00.000000+00:00')"
        )
    conn.close()
    refused = cli("orders", "cancel", "ext-1", "--as-of", "2026-03-02T10:05", "--config", config)
    assert refused.exit_code == 2 and "--include-external" in refused.stderr
    everything = run(cli, config, "orders", "cancel-all", at="2026-03-02T10:06")
    assert "ext-1" not in everything["canceled"]


def test_flatten_and_cancel_all_need_yes_in_live_mode():
    live = SimpleNamespace(settings=SimpleNamespace(mode_name="live"))
    with pytest.raises(SafetyRefusal, match="--yes"):
        orders._require_yes(live, "flatten", False)  # type: ignore[arg-type]
    orders._require_yes(live, "flatten", True)  # type: ignore[arg-type]
    orders._require_yes(SimpleNamespace(settings=SimpleNamespace(mode_name="paper")), "flatten", False)  # type: ignore[arg-type]


def test_flatten_needs_exactly_one_target(cli, write_config):
    config = str(write_config(""))
    assert cli("flatten", "--config", config).exit_code == 2
    assert cli("flatten", "--all", "--symbol", "AAPL", "--config", config).exit_code == 2


@pytest.mark.slow  # five commands through the whole envelope
def test_the_owners_reads_leave_no_runs_row(cli, write_config):
    """`orders list`, `positions`, `balances` and `report` look at the present and change nothing: they leave
    no run behind to crowd the schedule's runs out of `status` and the daily report."""
    import sqlite3

    config = str(write_config(""))
    at = "2026-03-04T10:00"
    assert cli("sync", "--as-of", at, "--config", config).exit_code == 0
    for command in (["orders", "list"], ["positions"], ["balances"], ["report"]):
        assert cli(*command, "--as-of", at, "--config", config).exit_code == 0, command
    conn = sqlite3.connect(config.replace("config.toml", "ledger-sim.db"))
    commands = [c for (c,) in conn.execute("SELECT command FROM runs")]
    conn.close()
    assert commands == ["sync"]
