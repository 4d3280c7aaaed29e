"""A slot refreshes its positions once: sync, the profit taker and the dip buyer each need them at the same
instant, and while the ledger has not changed in between a second refresh would read the same rows and quotes.
Any change to the ledger, a later instant or another preset makes the next refresh read everything again; a
management step that leaves a plan where it was writes nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from autotrader.clock import SimulatedClock
from autotrader.domain.enums import Book, LegKind, Side
from autotrader.domain.models import OrderIntent, Signal
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import manage, positions, sync
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway
from autotrader.settings import default_config
from tests.factories import et, make_deps
from tests.fakes.memory_broker import MemoryBroker
from tests.fakes.static_market import StaticMarketData

DAY = "2026-03-02"


@pytest.fixture
def world(tmp_path, migrated_ledger, monkeypatch):
    """A swing position in SSS (100 shares at 50.00, first synced at 10:05: its state and protective order are
    in the ledger) at 10:30, and a count of the refreshes that read."""
    clock = SimulatedClock(et(f"{DAY} 10:00"))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    broker = MemoryBroker(time_source=clock)
    market = StaticMarketData(clock, {"SSS": 50.0})
    deps = make_deps(clock, broker=broker, market_data=market)
    config = default_config(tmp_path)
    log = EventLog(None, run_id="r", command="t", mode="sim")
    ctx = StepContext("run-daily", config, deps, ledger, False, "r", log)
    signal = Signal("SSS", "swing", "scanner", et(f"{DAY} 09:00"), stop=45.0, target=60.0)
    with ledger.write():
        _, (signal_id,) = repo.record_import(
            ledger, content_hash="h", origin="test", signals=[signal], skipped=[], rows_total=1,
            archive_path=None, run_id="r", now=clock.now(),
        )  # fmt: skip
    entry = OrderIntent.create(
        session_date=DAY, step="size", book=Book.SIGNALS, leg=LegKind.ENTRY, symbol="SSS", side=Side.BUY,
        qty=100, key=f"signal:{signal_id}", signal_id=signal_id, reason="test",
    )  # fmt: skip
    OrderGateway(ledger, broker, clock, run_id="r", log=log).place([entry])
    broker.fill(entry.client_order_id, 50.0)
    clock.set(et(f"{DAY} 10:05"))
    assert sync.run(ctx).exit_code == 0
    clock.set(et(f"{DAY} 10:30"))
    reads: list[str] = []
    real = positions._refresh

    def counted(ctx: StepContext, preset: str | None):
        reads.append(repo.utc_iso(ctx.now))
        return real(ctx, preset)

    monkeypatch.setattr(positions, "_refresh", counted)
    yield ctx, clock, ledger, market, reads
    ledger.close()


def test_one_slot_reads_its_positions_once(world):
    ctx, _, _, _, reads = world
    assert sync.run(ctx).exit_code == 0
    assert manage.run_profittake(ctx).exit_code == 0
    assert manage.run_dipbuy(ctx).exit_code == 0
    assert len(reads) == 1
    (m,) = positions.refresh(ctx)
    assert (m.position.symbol, m.price) == ("SSS", 50.0) and len(reads) == 1


def test_a_change_to_the_ledger_a_later_instant_or_a_preset_reads_again(world):
    ctx, clock, ledger, market, reads = world
    sync.run(ctx)
    market.prices["SSS"] = 51.0
    assert [m.price for m in positions.refresh(ctx)] == [50.0]  # the same instant, the same ledger: as read
    with ledger.write():
        repo.kv_set(ledger, "test.touch", "1", now=clock.now())
    assert [m.price for m in positions.refresh(ctx)] == [51.0] and len(reads) == 2
    clock.set(et(f"{DAY} 11:00"))
    market.prices["SSS"] = 52.0
    assert [m.price for m in positions.refresh(ctx)] == [52.0] and len(reads) == 3
    positions.refresh(ctx, preset="aggressive")
    assert len(reads) == 4


def test_a_plan_that_did_not_move_is_not_written(world):
    ctx, _, ledger, _, _ = world
    sync.run(ctx)
    (m,) = positions.refresh(ctx)
    before = ledger.changes()
    positions.save_plans(ctx, {m.position.key: m.position.plan})
    assert ledger.changes() == before
    positions.save_plans(ctx, {m.position.key: replace(m.position.plan, stop_price=47.0)})
    assert ledger.changes() == before + 1
    (state,) = repo.position_states(ledger)
    assert state["stop_price"] == 47.0
