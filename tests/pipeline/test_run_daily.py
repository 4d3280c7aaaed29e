"""run-daily: the slot's steps in order; order steps only in session; a halt stops later order steps."""

from __future__ import annotations

import json

import pytest

from autotrader.domain.reports import OrderLine, Report
from autotrader.pipeline import run_daily, steps
from autotrader.policy import schedule


@pytest.fixture
def order_step(monkeypatch):
    """Register a pretend order step in every slot, recording when it really ran."""
    calls: list[str] = []

    def fake_size(ctx) -> Report:
        calls.append(ctx.now.isoformat())
        report = ctx.report()
        report.orders.append(OrderLine("AAPL", "buy", 1, "market", "day", "cid", "signals", "entry", "test"))
        return report.build(Report)

    monkeypatch.setitem(steps.STEPS, "size", fake_size)
    monkeypatch.setattr(run_daily, "ORDER_STEPS", frozenset({"size"}))
    for slot, names in schedule.SLOT_STEPS.items():
        if "size" not in names:
            monkeypatch.setitem(schedule.SLOT_STEPS, slot, (*names, "size"))
    return calls


@pytest.mark.parametrize(
    ("as_of", "ran", "reason"),
    [
        ("2026-11-30T10:30:00-05:00", True, None),
        ("2026-11-30T09:00:00-05:00", True, None),  # premarket: market-on-open entries are allowed
        ("2026-11-26T10:30:00-05:00", False, "holiday: Thanksgiving"),
        ("2026-11-27T13:30:00-05:00", False, "after the early close (13:00 ET)"),
        ("2026-11-28T10:30:00-05:00", False, "weekend"),
    ],
)
def test_order_steps_run_only_in_or_before_the_session(cli, write_config, order_step, as_of, ran, reason):
    result = cli("run-daily", "--json", "--as-of", as_of, "--config", str(write_config("")))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    size = next(s for s in payload["steps"] if s["command"] == "size")
    assert size["ran"] is ran
    assert bool(order_step) is ran
    if ran:
        assert len(payload["orders"]) == 1
    else:
        assert payload["orders"] == [] and reason in size["reason"]


def test_a_reconciliation_halt_stops_later_order_steps(cli, write_config, order_step, monkeypatch):
    def halting_sync(ctx) -> Report:
        report = ctx.report()
        report.exit_code, report.ok = 3, False
        report.notes.append("1 unexplained difference")
        return report.build(Report)

    monkeypatch.setitem(steps.STEPS, "sync", halting_sync)
    result = cli("run-daily", "--json", "--as-of", "2026-11-30T10:30:00-05:00", "--config", str(write_config("")))
    assert result.exit_code == 3
    payload = json.loads(result.stdout)
    assert order_step == []
    size = next(s for s in payload["steps"] if s["command"] == "size")
    assert size["ran"] is False and "halted" in size["reason"]
    # Exits keep running: a halt in one symbol must not keep a day trade open past the close.
    ran = {s["command"]: s["ran"] for s in payload["steps"]}
    assert ran["profittake"] is True and ran["dipbuy"] is False


def test_a_bug_exits_1_with_the_trace_in_the_log_only(cli, write_config, monkeypatch):
    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(steps.STEPS, "sync", broken)
    config = write_config("")
    result = cli("run-daily", "--json", "--as-of", "2026-11-30T10:30:00-05:00", "--config", str(config))
    assert result.exit_code == 1
    assert "boom" in result.output and "Traceback" not in result.output
    # The slot's table survives the failed step: sync failed with what, and no buying step ran after it.
    steps_run = {s["command"]: s for s in json.loads(result.stdout)["steps"]}
    assert steps_run["sync"]["ok"] is False and "RuntimeError: boom" in steps_run["sync"]["notes"][0]
    assert all(
        not s["ran"] and s["reason"] == "an earlier step failed"
        for n, s in steps_run.items()
        if n in ("dipbuy", "size")
    )
    log = next((config.parent / "logs").glob("*.jsonl")).read_text()
    assert "Traceback" in log and "RuntimeError" in log
    status = json.loads(cli("status", "--json", "--config", str(config)).stdout)
    assert status["last_runs"][0]["exit_code"] == 1


def test_an_order_sent_by_a_step_that_then_fails_is_in_the_slots_output(cli, write_config, monkeypatch):
    from autotrader.domain.enums import LegKind, Side
    from autotrader.errors import TransientError
    from autotrader.pipeline.gateway import OrderGateway
    from tests.factories import make_intent

    def close_out_then_fail(ctx):
        gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
        gateway.place(
            [make_intent(at=ctx.now, symbol="AAPL", side=Side.SELL, leg=LegKind.TIME_EXIT, step="profittake")]
        )
        raise TransientError("quotes: HTTP 503 after 3 attempts")

    monkeypatch.setitem(steps.STEPS, "profittake", close_out_then_fail)
    config = write_config("")
    result = cli("run-daily", "--json", "--as-of", "2026-11-30T15:55:00-05:00", "--config", str(config))
    payload = json.loads(result.stdout)
    assert result.exit_code == 75 and payload["exit_code"] == 75
    failed = next(s for s in payload["steps"] if s["command"] == "profittake")
    assert failed["ok"] is False and failed["exit_code"] == 75 and "HTTP 503" in failed["notes"][0]
    assert [(o["symbol"], o["side"], o["leg"]) for o in failed["orders"]] == [("AAPL", "sell", "time_exit")]
    assert [o["client_order_id"] for o in payload["orders"]] == [o["client_order_id"] for o in failed["orders"]]
