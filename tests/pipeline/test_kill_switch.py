"""The owner's kill switch: what `halt` holds back at the gateway, what goes through, and that nothing held
is sent twice or lost once `resume` lifts it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from autotrader.clock import SimulatedClock
from autotrader.domain.enums import IntentStatus, LegKind, Side
from autotrader.domain.models import Halt
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline.gateway import OrderGateway
from autotrader.policy.kill_switch import held_by_halt
from tests.factories import et, make_intent
from tests.fakes.memory_broker import MemoryBroker

HALT = Halt("earnings week", exits=False, since=datetime(2026, 3, 2, 14, 0, tzinfo=UTC), run_id="r0")
HALT_ALL = Halt("broker incident", exits=True, since=datetime(2026, 3, 2, 14, 0, tzinfo=UTC), run_id="r0")


@pytest.mark.parametrize("leg", [LegKind.ENTRY, LegKind.DIP_BUY, LegKind.REBALANCE])
def test_every_halt_holds_the_legs_that_add_risk(leg):
    assert "HALTED since 2026-03-02 09:00 ET (earnings week)" in held_by_halt(str(leg), HALT)


@pytest.mark.parametrize(
    "leg", [LegKind.STOP, LegKind.TARGET, LegKind.TRAIL, LegKind.TIME_EXIT, LegKind.LOSS_CUT, LegKind.PROFIT_TAKE]
)
def test_exits_go_out_unless_the_halt_holds_them_too(leg):
    assert held_by_halt(str(leg), HALT) is None
    assert "no order at all is sent" in held_by_halt(str(leg), HALT_ALL)
    assert held_by_halt(str(leg), None) is None


@pytest.fixture
def world(tmp_path, migrated_ledger):
    clock = SimulatedClock(et("2026-03-02 10:00"))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    broker = MemoryBroker(time_source=clock)

    def gateway(**kwargs) -> OrderGateway:
        return OrderGateway(
            ledger, broker, clock, run_id="r", log=EventLog(None, run_id="r", command="t", mode="t"), **kwargs
        )

    yield clock, ledger, broker, gateway
    ledger.close()


def _status(ledger, cid) -> IntentStatus:
    return IntentStatus(repo.get_intent(ledger, cid)["status"])


def test_a_halt_holds_an_entry_planned_and_resume_sends_it_once(world):
    clock, ledger, broker, gateway = world
    with ledger.write():
        repo.set_halt(ledger, HALT)
    entry = make_intent(at=clock.now())
    stop = make_intent(at=clock.now(), symbol="MSFT", side=Side.SELL, leg=LegKind.STOP)
    held, sent = gateway().place([entry, stop])
    assert held.status == IntentStatus.PLANNED and not held.sent and "HALTED since" in held.message
    assert sent.sent and _status(ledger, stop.client_order_id) == IntentStatus.ACCEPTED
    assert broker.submits_received == 1
    # A rerun while still halted sends nothing new; after resume the next run sends the entry, once.
    assert [r.sent for r in gateway().resolve_in_flight()] == [False]
    with ledger.write():
        repo.clear_halt(ledger)
    assert [r.sent for r in gateway().resolve_in_flight()] == [True]
    assert gateway().resolve_in_flight() == [] and broker.submits_received == 2
    assert _status(ledger, entry.client_order_id) == IntentStatus.ACCEPTED


def test_a_halt_with_exits_holds_a_stop_and_the_owners_flatten_goes_through(world):
    clock, ledger, broker, gateway = world
    with ledger.write():
        repo.set_halt(ledger, HALT_ALL)
    stop = make_intent(at=clock.now(), side=Side.SELL, leg=LegKind.STOP)
    (held,) = gateway().place([stop])
    assert held.status == IntentStatus.PLANNED and broker.submits_received == 0
    (sent,) = gateway(overrides_halt=True).resolve_in_flight()
    assert sent.sent and broker.submits_received == 1


def test_halt_and_resume_from_the_command_line(cli, write_config):
    config = str(write_config(""))
    first = json.loads(
        cli("halt", "--reason", "vacation", "--json", "--as-of", "2026-03-02T08:00", "--config", config).stdout
    )
    assert first["halt"]["reason"] == "vacation" and first["was"] is None and not first["halt"]["exits"]
    again = json.loads(
        cli(
            "halt",
            "--exits",
            "--reason",
            "broker incident",
            "--json",
            "--as-of",
            "2026-03-02T08:30",
            "--config",
            config,
        ).stdout
    )
    assert again["halt"]["since"] == first["halt"]["since"] and again["halt"]["exits"]  # the halt began at 08:00
    daily = json.loads(cli("run-daily", "--json", "--as-of", "2026-03-02T09:00", "--config", config).stdout)
    assert daily["orders"] == [] and "HALTED since 2026-03-02 08:00 ET (broker incident)" in daily["notes"][1]
    assert sum("HALTED since" in n for n in daily["notes"]) == 1  # said once, not once per step
    assert any("wait undecided until `autotrader resume`" in n for n in daily["notes"])
    status = json.loads(cli("status", "--json", "--as-of", "2026-03-02T09:01", "--config", config).stdout)
    assert status["halt"]["reason"] == "broker incident" and status["notes"][0].startswith("HALTED since")
    resumed = json.loads(cli("resume", "--json", "--as-of", "2026-03-02T09:05", "--config", config).stdout)
    assert resumed["halt"] is None and resumed["was"]["reason"] == "broker incident"
    after = json.loads(cli("run-daily", "--json", "--as-of", "2026-03-02T09:10", "--config", config).stdout)
    assert after["orders"] and not any("HALTED" in n for n in after["notes"])  # the waiting signals are sized now
    nothing = json.loads(cli("resume", "--json", "--as-of", "2026-03-02T09:20", "--config", config).stdout)
    assert "not halted: nothing to resume" in nothing["notes"]
