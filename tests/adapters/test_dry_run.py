"""DryRunBroker: reads go through to the real broker, orders and cancels never do."""

from __future__ import annotations

from autotrader.adapters.dry_run import DryRunBroker
from autotrader.clock import SimulatedClock
from tests.factories import et, make_intent
from tests.fakes.memory_broker import MemoryBroker


def test_reads_go_through_and_writes_stay_local():
    clock = SimulatedClock(et("2026-03-02 10:00"))
    inner = MemoryBroker(time_source=clock)
    broker = DryRunBroker(inner, clock)
    assert broker.clock() == inner.clock()  # the broker's clock, not the toolkit's Clock port
    order = broker.submit(make_intent(at=clock.now(), qty=3).request)
    assert order.status == "accepted" and inner.orders() == []
    broker.cancel(order.broker_order_id)
    assert broker.order_by_client_id(order.client_order_id).status == "canceled"
