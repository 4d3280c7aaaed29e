"""The chaos harness's checks catch what they are for: each one is shown a broken state and must name it."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import time as clock_time

import pytest

from autotrader.domain.enums import ExitCode, IntentStatus, Side
from autotrader.domain.models import Fill
from autotrader.ledger.repo import PositionRow
from tests.chaos.harness import (
    ChaosAlpaca,
    check_budget,
    check_exit_code,
    check_fills,
    check_nothing_left_submitting,
    check_orders,
    check_positions,
    cron_slots,
    documented_exit_codes,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York, a Monday session


@pytest.fixture
def broker():
    """The fake broker's state alone (no server): one order under ``cid-1``, filled 10 at 200."""
    fake = ChaosAlpaca(now=NOW, prices={"AAPL": 200.0})
    order = fake._create_order(
        {
            "client_order_id": "cid-1",
            "symbol": "AAPL",
            "side": "buy",
            "qty": "10",
            "type": "market",
            "time_in_force": "day",
        }
    )
    fake.fill(order["id"], 10, 200.0)
    return fake


def _intent(broker, cid="cid-1", **changes):
    order = broker.order_by_cid("cid-1")
    row = {"client_order_id": cid, "broker_order_id": order.id, "symbol": "AAPL", "side": "buy", "qty": 10.0}
    return {**row, "status": str(IntentStatus.FILLED), **changes}


def _ledger_fill(broker, **changes):
    activity = broker.activities[0]
    fields = dict(fill_id=activity["id"], broker_order_id=activity["order_id"], symbol="AAPL", side=Side.BUY)
    return Fill(**{**fields, "qty": 10.0, "price": 200.0, "filled_at": NOW, **changes})


def test_the_schedule_and_its_budgets_come_from_the_crontab():
    slots = cron_slots()
    assert len(slots) == 20 and slots[clock_time(9, 0)] == 20 * 60 and slots[clock_time(15, 30)] == 20 * 60
    assert slots[clock_time(12, 55)] == slots[clock_time(15, 55)] == 4 * 60
    assert slots[clock_time(16, 15)] == 10 * 60 and slots[clock_time(19, 5)] == 30 * 60


def test_exit_codes_must_be_documented_and_exit_1_is_a_bug():
    documented = documented_exit_codes()
    assert sorted(documented) == sorted(int(code) for code in ExitCode)  # the README's table is the enum's
    assert [check_exit_code(code, documented) for code in (0, 3, 75, None)] == [[], [], [], []]
    assert "not documented" in check_exit_code(9, documented)[0]
    assert "unexpected failure" in check_exit_code(1, documented)[0]


def test_a_run_past_its_real_time_or_its_cron_timeout_is_reported():
    assert check_budget(0.5, 30.0, 240.0) == []
    assert "real time" in check_budget(25.0, 0.0, 240.0)[0]
    assert "cron timeout" in check_budget(1.0, 250.0, 240.0)[0]


def test_every_broker_order_maps_to_one_intent_that_describes_it(broker):
    assert check_orders(broker, [_intent(broker)]) == []
    assert "has no intent" in check_orders(broker, [])[0]
    assert "names broker order" in check_orders(broker, [_intent(broker, broker_order_id="elsewhere")])[0]
    assert "does not describe" in check_orders(broker, [_intent(broker, qty=20.0)])[0]
    abandoned = _intent(broker, status=str(IntentStatus.ABANDONED))
    assert "abandoned but the broker holds it" in check_orders(broker, [abandoned])[0]
    twice = [_intent(broker), _intent(broker, cid="cid-2")]
    assert any("2 intents claim" in v for v in check_orders(broker, twice))


def test_a_finished_run_leaves_no_intent_submitting(broker):
    assert check_nothing_left_submitting([_intent(broker)]) == []
    assert check_nothing_left_submitting([_intent(broker, status=str(IntentStatus.SUBMITTING))])


def test_the_ledgers_fills_are_the_brokers_and_all_of_them_after_a_reconcile(broker):
    assert check_fills(broker, [_ledger_fill(broker)], complete=True) == []
    assert check_fills(broker, [], complete=False) == []  # not reconciled yet: missing is fine
    assert "missing from the ledger" in check_fills(broker, [], complete=True)[0]
    assert "never reported" in check_fills(broker, [_ledger_fill(broker, fill_id="made-up")], complete=False)[0]
    assert "differs" in check_fills(broker, [_ledger_fill(broker, qty=5.0)], complete=False)[0]
    broker.replay_fills()  # the broker reporting a fill twice is still one fill
    assert check_fills(broker, [_ledger_fill(broker)], complete=True) == []


def test_the_books_sum_to_the_brokers_position(broker):
    split = [
        PositionRow("signals", "AAPL", 6.0, 200.0, 0.0, None),
        PositionRow("rebalance", "AAPL", 4.0, 200.0, 0.0, None),
    ]
    assert check_positions(broker, split) == []
    assert "the ledger's books hold 6, the broker 10" in check_positions(broker, split[:1])[0]
    assert "MSFT" in check_positions(broker, [*split, PositionRow("signals", "MSFT", 1.0, 50.0, 0.0, None)])[0]
