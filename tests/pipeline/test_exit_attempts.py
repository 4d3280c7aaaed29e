"""Exits that end unfinished are finished in their session, and protection is touched only when it must change.

A day trade's close-out is a market day order. When it fills partly and then expires, the rest must still be
sold in the same session: the remainder is a new attempt under a new deterministic client order id, each
attempt sent once. A leg that is already settled (its attempt refused by the broker, say) sends nothing, so
the position's protective OCO stays as it is however often the slot runs.
"""

from __future__ import annotations

import pytest

from autotrader.clock import SimulatedClock
from autotrader.domain.enums import Book, IntentStatus, LegKind, Side
from autotrader.domain.models import OrderIntent, Signal
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import manage, sync
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway
from autotrader.settings import default_config
from tests.factories import et, make_deps
from tests.fakes.memory_broker import Crash, Faults, MemoryBroker
from tests.fakes.static_market import StaticMarketData

DAY = "2026-03-02"


@pytest.fixture
def world(tmp_path, migrated_ledger):
    """A day trade in DDD: 100 shares bought at 50.00 at 10:00 (signal stop 48, target 55), synced at 10:05."""
    clock = SimulatedClock(et(f"{DAY} 10:00"))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    broker = MemoryBroker(time_source=clock)
    deps = make_deps(clock, broker=broker, market_data=StaticMarketData(clock, {"DDD": 50.0}))
    config = default_config(tmp_path)
    log = EventLog(None, run_id="r", command="t", mode="sim")

    def step(command: str):
        ctx = StepContext(command, config, deps, ledger, False, "r", log)
        return sync.run(ctx) if command == "sync" else manage.run_profittake(ctx)

    signal = Signal("DDD", "day_trade", "scanner", et(f"{DAY} 09:00"), stop=48.0, target=55.0)
    with ledger.write():
        _, (signal_id,) = repo.record_import(
            ledger, content_hash="h", origin="test", signals=[signal], skipped=[], rows_total=1,
            archive_path=None, run_id="r", now=clock.now(),
        )  # fmt: skip
    entry = OrderIntent.create(
        session_date=DAY, step="size", book=Book.SIGNALS, leg=LegKind.ENTRY, symbol="DDD", side=Side.BUY,
        qty=100, key=f"signal:{signal_id}", signal_id=signal_id, reason="test",
    )  # fmt: skip
    OrderGateway(ledger, broker, clock, run_id="r", log=log).place([entry])
    broker.fill(entry.client_order_id, 50.0)
    clock.set(et(f"{DAY} 10:05"))
    assert step("sync").exit_code == 0
    yield clock, ledger, broker, step
    ledger.close()


def _slot(clock, step, at: str):
    """One intraday slot as run-daily runs it: sync, then the exits."""
    clock.set(et(f"{DAY} {at}"))
    return step("sync"), step("profittake")


def _time_exits(ledger) -> list[dict]:
    return ledger.query("SELECT * FROM order_intents WHERE leg = 'time_exit' ORDER BY attempt")


def test_a_close_out_that_fills_partly_then_expires_is_finished_by_a_second_attempt(world):
    clock, ledger, broker, step = world
    (oco,) = broker.working("DDD")
    assert oco.order_class == "oco" and oco.qty == 100
    _, first = _slot(clock, step, "15:56")  # 4 minutes before the close: the day trade goes flat
    (first_exit,) = [o for o in first.orders if o.leg == "time_exit"]
    assert first_exit.qty == 100 and first_exit.status == "accepted"
    broker.fill(first_exit.client_order_id, 50.0, qty=11)
    broker.expire(first_exit.client_order_id)  # 89 shares left unsold

    _, second = _slot(clock, step, "15:57")
    (second_exit,) = [o for o in second.orders if o.leg == "time_exit"]
    assert second_exit.client_order_id != first_exit.client_order_id
    assert second_exit.qty == 89 and second_exit.status == "accepted"
    broker.fill(second_exit.client_order_id, 50.0)

    for at in ("15:58", "15:59"):  # reruns after it is done: nothing new anywhere
        synced, again = _slot(clock, step, at)
        assert synced.exit_code == 0 and again.orders == ()
    assert repo.get_position(ledger, "signals", "DDD").qty == 0
    assert broker.working("DDD") == []
    attempts = _time_exits(ledger)
    assert [(r["attempt"], r["qty"], r["status"]) for r in attempts] == [(0, 100, "expired"), (1, 89, "filled")]
    # Each attempt reached the broker exactly once.
    assert [broker.sent.count(r["client_order_id"]) for r in attempts] == [1, 1]


def test_a_crash_between_storing_the_second_attempt_and_sending_it_sends_it_once(world):
    clock, ledger, broker, step = world
    _, first = _slot(clock, step, "15:56")
    (first_exit,) = [o for o in first.orders if o.leg == "time_exit"]
    broker.fill(first_exit.client_order_id, 50.0, qty=11)
    broker.expire(first_exit.client_order_id)
    clock.set(et(f"{DAY} 15:57"))
    step("sync")
    broker.faults = Faults(crash_before_send=1)
    with pytest.raises(Crash):
        step("profittake")  # the second attempt is stored, then the process dies before sending it
    (stored,) = [r for r in _time_exits(ledger) if r["attempt"] == 1]
    assert stored["status"] == "submitting" and stored["client_order_id"] not in broker.sent
    _slot(clock, step, "15:58")
    _slot(clock, step, "15:59")
    attempts = _time_exits(ledger)
    assert [(r["attempt"], r["qty"]) for r in attempts] == [(0, 100), (1, 89)]
    assert [broker.sent.count(r["client_order_id"]) for r in attempts] == [1, 1]


def test_reruns_with_nothing_changed_leave_the_one_protective_oco_alone(world):
    clock, ledger, broker, step = world
    broker.faults = Faults(reject_reason="day_trading_protection")
    clock.set(et(f"{DAY} 15:56"))
    refused = step("profittake")  # the close-out (and the protection re-placed after it) are refused
    assert [o.status for o in refused.orders] == ["rejected"]
    broker.faults = Faults()
    step("sync")  # protection comes back for the shares still held
    (oco,) = broker.working("DDD")
    cancels, sent = broker.cancels, len(broker.sent)
    for at in ("15:57", "15:58", "15:59"):
        synced, rerun = _slot(clock, step, at)
        assert [o.status for o in rerun.orders] == ["rejected"]  # settled: nothing sent again
        assert synced.protective_orders == () and rerun.protective_orders == ()
    assert broker.working("DDD") == [oco]
    assert (broker.cancels, len(broker.sent)) == (cancels, sent)
    protective = ledger.query("SELECT status FROM order_intents WHERE step = 'protect' AND status = 'accepted'")
    assert len(protective) == 1


def test_next_attempt_follows_the_attempts_that_ended_unfinished():
    ids = {n: f"cid-{n}" for n in range(5)}
    assert manage.next_attempt(ids.__getitem__, {}) == 0
    expired, canceled = IntentStatus.EXPIRED, IntentStatus.CANCELED
    assert manage.next_attempt(ids.__getitem__, {"cid-0": expired, "cid-1": canceled}) == 2
    # Any other state is that attempt's own: it is driven as it stands, never doubled.
    for status in (IntentStatus.PLANNED, IntentStatus.UNKNOWN, IntentStatus.REJECTED, IntentStatus.FILLED):
        assert manage.next_attempt(ids.__getitem__, {"cid-0": expired, "cid-1": status}) == 1


# -- an order in doubt blocks buying, never exits ---------------------------------------------------------------


def _in_doubt(clock, ledger, broker, symbol: str = "XXX") -> str:
    """A buy the broker can neither confirm nor deny, for as long as the test runs."""
    from tests.factories import make_intent

    intent = make_intent(at=clock.now(), symbol=symbol)
    broker.faults = Faults(lose_request=1, unconfirmable=frozenset({intent.client_order_id}))
    log = EventLog(None, run_id="r", command="t", mode="sim")
    OrderGateway(ledger, broker, clock, run_id="r", log=log).place([intent])
    assert repo.get_intent(ledger, intent.client_order_id)["status"] == "unknown"
    return intent.client_order_id


def test_an_order_in_doubt_still_lets_the_exits_of_other_symbols_go_but_no_buy(world):
    clock, ledger, broker, step = world
    doubtful = _in_doubt(clock, ledger, broker)
    synced, flat = _slot(clock, step, "15:56")
    assert synced.exit_code == 3 and synced.unknown_intents == (doubtful,)
    (close_out,) = [o for o in flat.orders if o.leg == "time_exit"]
    assert close_out.status == "accepted" and close_out.client_order_id in broker.sent
    assert flat.exit_code == 3  # sent, and the slot still reports the doubt
    from tests.factories import make_intent

    log = EventLog(None, run_id="r", command="t", mode="sim")
    for at in ("15:56", "15:57"):  # this run and a later one: buys wait
        clock.set(et(f"{DAY} {at}"))
        buy = make_intent(at=clock.now(), symbol="YYY")
        (held,) = OrderGateway(ledger, broker, clock, run_id="r", log=log).place([buy])
        assert held.status == "planned" and buy.client_order_id not in broker.sent


def test_the_run_that_creates_an_unknown_protective_order_exits_3_itself(world):
    clock, ledger, broker, step = world
    (oco,) = broker.working("DDD")
    broker.cancel(oco.broker_order_id)  # gone at the broker: the next sync places protection again
    broker.faults = Faults(lose_request=1, transient_lookup=1)
    clock.set(et(f"{DAY} 11:00"))
    report = step("sync")
    (protective,) = report.protective_orders
    assert protective.status == "unknown"
    assert report.exit_code == 3 and report.unknown_intents == (protective.client_order_id,)
