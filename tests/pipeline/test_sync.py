"""sync: broker → ledger reconciliation, fills exactly once, external orders tagged, differences exit 3."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from autotrader.clock import SimulatedClock
from autotrader.domain.enums import IntentStatus, OrderType, Side, TimeInForce
from autotrader.domain.models import BrokerOrder, Fill
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import sync
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway
from autotrader.settings import default_config
from tests.factories import et, make_deps, make_intent
from tests.fakes.memory_broker import Crash, Faults, MemoryBroker
from tests.fakes.static_market import StaticMarketData


@pytest.fixture
def world(tmp_path):
    clock = SimulatedClock(et("2026-03-02 10:00"))
    ledger = open_ledger(tmp_path / "ledger.db")
    broker = MemoryBroker(time_source=clock)
    deps = make_deps(clock, broker=broker, market_data=StaticMarketData(clock, {"AAPL": 100.0}))
    log = EventLog(None, run_id="r", command="sync", mode="sim")

    def run_sync():
        ctx = StepContext("sync", default_config(tmp_path), deps, ledger, False, "r", log)
        return sync.run(ctx)

    def gateway():
        return OrderGateway(ledger, broker, clock, run_id="r", log=log)

    yield clock, ledger, broker, run_sync, gateway
    ledger.close()


def test_fills_are_recorded_once_and_positions_follow(world):
    clock, ledger, broker, run_sync, gateway = world
    intent = make_intent(at=clock.now(), qty=10)
    gateway().place([intent])
    broker.fill(intent.client_order_id, 100.0, qty=4)
    broker.fill(intent.client_order_id, 103.0, qty=6)
    report = run_sync()
    assert report.exit_code == 0 and report.new_fills == 2
    position = repo.get_position(ledger, "signals", "AAPL")
    assert position.qty == 10
    assert position.avg_cost == pytest.approx((4 * 100 + 6 * 103) / 10)
    assert IntentStatus(repo.get_intent(ledger, intent.client_order_id)["status"]) == IntentStatus.FILLED
    again = run_sync()
    assert again.new_fills == 0
    assert repo.get_position(ledger, "signals", "AAPL").qty == 10


def test_replayed_fill_events_are_ignored(world):
    clock, ledger, broker, run_sync, gateway = world
    intent = make_intent(at=clock.now(), qty=5)
    gateway().place([intent])
    broker.fill(intent.client_order_id, 50.0)
    broker.fills_list.append(broker.fills_list[0])  # the broker sends the same execution twice
    report = run_sync()
    assert report.new_fills == 1
    assert repo.get_position(ledger, "signals", "AAPL").qty == 5


def test_sells_realize_pnl_at_average_cost(world):
    clock, ledger, broker, run_sync, gateway = world
    buy = make_intent(at=clock.now(), qty=10)
    gateway().place([buy])
    broker.fill(buy.client_order_id, 100.0)
    from autotrader.domain.enums import LegKind, Side

    sell = make_intent(at=clock.now(), qty=4, side=Side.SELL, leg=LegKind.PROFIT_TAKE, tier=1, step="profittake")
    gateway().place([sell])
    broker.fill(sell.client_order_id, 125.0)
    run_sync()
    position = repo.get_position(ledger, "signals", "AAPL")
    assert position.qty == 6 and position.avg_cost == 100.0
    assert position.realized_pnl == pytest.approx(4 * 25.0)


def test_orders_the_ledger_did_not_create_are_external(world):
    clock, ledger, broker, run_sync, gateway = world
    broker.place_external("TSLA", 3, 200.0)
    report = run_sync()
    assert report.exit_code == 0
    assert report.external_orders == 1
    assert repo.get_position(ledger, "external", "TSLA").qty == 3


def test_an_unexplained_position_difference_exits_3_with_the_numbers(world):
    clock, ledger, broker, run_sync, gateway = world
    intent = make_intent(at=clock.now(), qty=10)
    gateway().place([intent])
    broker.fill(intent.client_order_id, 100.0)
    run_sync()
    broker.held["AAPL"] = 20  # e.g. a split, or a transfer, with no fill to explain it
    report = run_sync()
    assert report.exit_code == 3 and not report.ok
    diff = report.to_json()["diffs"][0]
    assert diff == {
        "kind": "position_mismatch",
        "symbol": "AAPL",
        "broker_qty": 20,
        "ledger_qty": 10,
        "by_book": {"signals": 10},
        "difference": 10,
    }


def test_sync_settles_an_intent_a_crashed_run_left_behind(world):
    clock, ledger, broker, run_sync, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(lose_response=1)
    gateway().place([intent])  # resolved at once: adopted
    crashed = make_intent(at=clock.now(), symbol="MSFT")
    broker.faults = Faults(crash_before_send=1)
    with pytest.raises(Crash):
        gateway().place([crashed])
    report = run_sync()
    assert [s.status for s in report.settled] == ["accepted"]
    assert broker.submits_received == 2


def test_an_unknown_outcome_halts_with_exit_3(world):
    clock, ledger, broker, run_sync, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(lose_request=1, transient_lookup=2)
    gateway().place([intent])
    report = run_sync()
    assert report.exit_code == 3
    assert report.unknown_intents == (intent.client_order_id,)


def test_an_unknown_order_the_broker_lists_is_adopted_and_no_longer_halts(world):
    clock, ledger, broker, run_sync, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(lose_response=1, transient_lookup=2)
    gateway().place([intent])  # accepted, but neither the answer nor the lookup came back
    report = run_sync()  # its lookup fails again; the broker's order list has it
    assert repo.get_intent(ledger, intent.client_order_id)["status"] == "accepted"
    assert report.exit_code == 0 and report.unknown_intents == ()


# -- the pure plans -------------------------------------------------------------------------------------------


def _order(oid: str, status: str = "accepted", filled: float = 0.0, at=None, legs=()) -> BrokerOrder:
    return BrokerOrder(
        oid, f"c-{oid}", "AAPL", Side.BUY, 10, OrderType.MARKET, TimeInForce.DAY, status, filled,
        100.0 if filled else None, submitted_at=at, legs=legs,
    )  # fmt: skip


def test_plan_orders_adopts_only_what_moved_legs_included_and_keeps_the_newest_submission():
    t1, t2 = et("2026-03-02 10:00"), et("2026-03-02 11:00")
    leg = _order("leg", status="new")
    same = _order("same", at=t1)
    parent = _order("parent", at=t2, legs=(leg,))
    filled = _order("filled", status="filled", filled=10, at=t1)
    recorded = {
        "same": repo.OrderProgress("accepted", 0.0, None),
        "parent": repo.OrderProgress("accepted", 0.0, None),
        "leg": repo.OrderProgress("held", 0.0, None),  # the leg moved: the parent is adopted again
        "filled": repo.OrderProgress("accepted", 0.0, None),
    }
    plan = sync.plan_orders([same, parent, filled], recorded, set())
    assert [o.broker_order_id for o in plan.to_adopt] == ["parent", "filled"]
    assert plan.watermark == t2 and len(plan.seen) == 3
    assert sync.plan_orders([], recorded, set()).watermark is None


def test_plan_fills_sets_aside_fills_of_orders_the_ledger_does_not_hold():
    at = et("2026-03-02 10:00")
    ours = Fill("f-1", "b-1", "AAPL", Side.BUY, 5, 100.0, at)
    stray = Fill("f-2", "b-9", "MSFT", Side.BUY, 1, 300.0, at)
    plan = sync.plan_fills([ours, stray], {"b-1": "signals", "b-9": None})
    assert plan.to_record == ((ours, "signals"),)
    assert dict(plan.unexplained) == {"f-2": "MSFT"}


def test_a_fill_without_a_known_order_halts_and_is_not_recorded(world):
    clock, ledger, broker, run_sync, gateway = world
    broker.fills_list.append(Fill("f-x", "b-unknown", "AAPL", Side.BUY, 2, 100.0, clock.now()))
    report = run_sync()
    assert report.exit_code == 3 and report.new_fills == 0
    assert any(d.kind == "fill_without_order" and d.fill_id == "f-x" for d in report.diffs)
    assert repo.get_position(ledger, "signals", "AAPL") is None


def test_sync_leaves_its_sql_to_the_ledger_repo():
    source = Path(sync.__file__).read_text(encoding="utf-8")
    assert not re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", source)
    assert ".query(" not in source and ".execute(" not in source


def test_a_ledger_restored_from_an_older_copy_is_detected_and_buying_halts(world, tmp_path):
    import sqlite3

    from autotrader.pipeline import run_daily

    clock, ledger, broker, run_sync, gateway = world
    assert run_sync().exit_code == 0
    backup = sqlite3.connect(tmp_path / "backup.db")
    ledger.conn.backup(backup)  # the copy someone keeps
    intent = make_intent(at=clock.now(), qty=10)
    gateway().place([intent])
    broker.fill(intent.client_order_id, 100.0)
    assert run_sync().exit_code == 0 and repo.get_position(ledger, "signals", "AAPL").qty == 10

    backup.backup(ledger.conn)  # ...restored over the ledger: it no longer knows the order it sent
    backup.close()
    report = run_sync()
    assert report.exit_code == 3 and not report.ok
    diffs = report.to_json()["diffs"]
    assert {"kind": "order_without_intent", "symbol": "AAPL", "client_order_id": intent.client_order_id} in [
        {k: d.get(k) for k in ("kind", "symbol", "client_order_id")} for d in diffs
    ]
    assert repo.get_position(ledger, "external", "AAPL") is None  # our own order is not taken for a stranger's

    # The next slot's reconcile finds the same difference, so its buying steps do not run.
    deps = make_deps(clock, broker=broker, market_data=StaticMarketData(clock, {"AAPL": 100.0}))
    log = EventLog(None, run_id="r2", command="run-daily", mode="sim")
    ctx = StepContext("run-daily", default_config(tmp_path), deps, ledger, False, "r2", log)
    sent = broker.submits_received
    daily = run_daily.run(ctx)
    assert daily.exit_code == 3
    assert {s.command: s.reason for s in daily.steps if not s.ran}["size"] == "buying halted by an earlier step"
    assert broker.submits_received == sent



def test_a_quantity_change_only_near_a_split_ratio_is_a_difference_not_a_split(tmp_path):
    # Found by the order lifecycle model (tests/model): 16 shares, a 2-for-1 split, then one more share bought
    # after it. The broker holds 33, the ledger 17 (16 + 1); 33 / 17 is within the ratio tolerance of 2, so the
    # split was applied to all 17 and sync agreed with the broker (exit 0) while holding 34 against its 33.
    clock = SimulatedClock(et("2026-03-02 10:00"))
    market = StaticMarketData(clock, {"AAPL": 100.0})
    broker = MemoryBroker(time_source=clock)
    deps = make_deps(clock, broker=broker, market_data=market)
    log = EventLog(None, run_id="r", command="sync", mode="sim")
    ledger = open_ledger(tmp_path / "ledger.db")
    try:
        gateway = OrderGateway(ledger, broker, clock, run_id="r", log=log)

        def run_sync():
            return sync.run(StepContext("sync", default_config(tmp_path), deps, ledger, False, "r", log))

        entry = make_intent(at=clock.now(), qty=16)
        gateway.place([entry])
        broker.fill(entry.client_order_id, 100.0)
        assert run_sync().exit_code == 0
        clock.set(et("2026-03-03 10:00"))
        broker.held["AAPL"] = 32  # 2-for-1 overnight
        market.prices["AAPL"] = 50.0
        more = make_intent(at=clock.now(), qty=1, tier=1)
        gateway.place([more])
        broker.fill(more.client_order_id, 50.0)  # the broker now holds 33
        report = run_sync()
        assert report.exit_code == 3 and report.splits == ()
        (diff,) = report.to_json()["diffs"]
        assert (diff["kind"], diff["broker_qty"], diff["ledger_qty"]) == ("position_mismatch", 33, 17)
        assert repo.get_position(ledger, "signals", "AAPL").qty == 17
    finally:
        ledger.close()


def test_a_reverse_split_is_matched_only_when_each_books_rounding_gives_the_brokers_quantity(tmp_path):
    # Found by the order lifecycle model (tests/model): the signals book holds 2 shares, the external book 5
    # (7 in all), and the broker 2. floor(7 / 3) is 2, so a 1-for-3 reverse split seemed to explain it; but
    # the ledger rounds each book down (2 / 3 → 0, 5 / 3 → 1) and ended at 1 share against the broker's 2,
    # with exit 0.
    clock = SimulatedClock(et("2026-03-02 10:00"))
    broker = MemoryBroker(time_source=clock)
    deps = make_deps(clock, broker=broker, market_data=StaticMarketData(clock, {"AAPL": 100.0}))
    log = EventLog(None, run_id="r", command="sync", mode="sim")
    ledger = open_ledger(tmp_path / "ledger.db")
    try:
        entry = make_intent(at=clock.now(), qty=2)
        OrderGateway(ledger, broker, clock, run_id="r", log=log).place([entry])
        broker.fill(entry.client_order_id, 100.0)
        broker.place_external("AAPL", 5, 100.0)

        def run_sync():
            return sync.run(StepContext("sync", default_config(tmp_path), deps, ledger, False, "r", log))

        assert run_sync().exit_code == 0
        clock.set(et("2026-03-03 10:00"))
        broker.held["AAPL"] = 2
        deps.market_data.prices["AAPL"] = 300.0
        report = run_sync()
        assert report.exit_code == 3 and report.splits == ()
        assert sum(p.qty for p in repo.all_positions(ledger) if p.symbol == "AAPL") == 7
    finally:
        ledger.close()


@pytest.fixture
def sim_world(tmp_path):
    """The simulated broker on the ledger, wired as bootstrap wires it (its change feed among the deps), and the
    context of a sync that lists orders (cron's)."""
    from autotrader.adapters.sim_broker import SimBroker
    from autotrader.clock import MarketCalendar

    clock = SimulatedClock(et("2026-03-02 10:00"))
    ledger = open_ledger(tmp_path / "ledger.db")
    market = StaticMarketData(clock, {"AAPL": 100.0})
    broker = SimBroker(ledger, market, MarketCalendar.xnys(), clock)
    deps = make_deps(clock, broker=broker, market_data=market, order_changes=broker)
    log = EventLog(None, run_id="r", command="sync", mode="sim")
    yield clock, ledger, broker, StepContext("sync", default_config(tmp_path), deps, ledger, False, "r", log)
    ledger.close()


def test_reading_the_simulators_changes_a_stray_order_stays_a_difference_at_every_sync(sim_world):
    """An order bearing our id that the ledger never planned halts buying at every sync until a human looks. A
    sync that reads only the orders changed since its cursor sees it once; so such a sync keeps its old cursor,
    and the next one reads it again."""
    from autotrader.domain.ids import client_order_id
    from autotrader.domain.models import OrderRequest

    clock, ledger, broker, listing = sim_world
    ctx = replace(listing, order_changes=True)

    def run_sync():
        return sync.run(ctx)

    assert run_sync().exit_code == 0 and repo.kv_get(ledger, sync.CURSOR_KEY) == "0"
    stray = client_order_id(session_date="2026-03-02", step="size", book="signals", symbol="AAPL", leg="entry")
    broker.submit(OrderRequest(stray, "AAPL", Side.BUY, 1, OrderType.LIMIT, TimeInForce.GTC, limit_price=50.0))
    for at in ("2026-03-02 10:30", "2026-03-02 11:00"):
        clock.set(et(at))
        report = run_sync()
        assert report.exit_code == 3
        assert [d["client_order_id"] for d in report.to_json()["diffs"]] == [stray]
    assert repo.kv_get(ledger, sync.CURSOR_KEY) == "0"


def test_a_sync_lists_the_orders_unless_told_to_read_the_changes(sim_world):
    """Cron's sync (and ``replay --full``'s) lists the broker's orders even from a broker with a change feed, and
    keeps the cursor from before its listing; a fast replay's sync then reads only what changed after it."""
    clock, ledger, broker, ctx = sim_world
    intent = make_intent(at=clock.now(), qty=10, type=OrderType.LIMIT, limit_price=50.0)  # rests all day
    OrderGateway(ledger, broker, clock, run_id="r", log=ctx.log).place([intent])
    assert sync.run(ctx).orders_seen == 1
    assert repo.kv_get(ledger, sync.CURSOR_KEY) == str(broker.change_cursor())
    clock.set(et("2026-03-02 10:30"))
    assert sync.run(ctx).orders_seen == 1  # listed again: it is open
    assert sync.run(replace(ctx, order_changes=True)).orders_seen == 0  # unchanged since the cursor
