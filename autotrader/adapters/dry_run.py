"""``DryRunBroker``: under ``--dry-run`` every step runs unchanged, and nothing reaches the broker.

It wraps the configured broker: reads (account, positions, orders, fills, clock, assets) go through;
``submit`` and ``cancel`` are recorded here and answered as a broker would (an accepted order with a
``dry-run-N`` id), so the order gateway, sync and every step take exactly the path of a real run, against
the in-memory ledger snapshot, and the report shows what *would* have been sent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from autotrader.domain.enums import BrokerOrderStatus
from autotrader.domain.models import (
    Account,
    Asset,
    BrokerClock,
    BrokerOrder,
    BrokerPosition,
    Fill,
    OrderRequest,
)
from autotrader.errors import DuplicateClientOrderId
from autotrader.ports import Broker, Clock


class DryRunBroker:
    def __init__(self, inner: Broker, clock: Clock) -> None:
        self.inner = inner
        self._clock = clock
        self.time_travel = inner.time_travel
        self.submitted: dict[str, BrokerOrder] = {}
        self.cancelled: list[str] = []

    # -- reads go through ----------------------------------------------------------------------------
    def account(self) -> Account:
        return self.inner.account()

    def positions(self) -> list[BrokerPosition]:
        return self.inner.positions()

    def asset(self, symbol: str) -> Asset | None:
        return self.inner.asset(symbol)

    def fills(self, *, after: datetime | None = None) -> list[Fill]:
        return self.inner.fills(after=after)

    def clock(self) -> BrokerClock:
        return self.inner.clock()

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        if client_order_id in self.submitted:
            return self.submitted[client_order_id]
        return self.inner.order_by_client_id(client_order_id)

    def orders(self, *, status: str = "all", after: datetime | None = None) -> list[BrokerOrder]:
        return self.inner.orders(status=status, after=after)

    # -- writes are recorded, never sent --------------------------------------------------------------
    def submit(self, request: OrderRequest) -> BrokerOrder:
        if request.client_order_id in self.submitted or self.inner.order_by_client_id(request.client_order_id):
            raise DuplicateClientOrderId("client_order_id must be unique")
        order = BrokerOrder.accepted(request, f"dry-run-{len(self.submitted) + 1}", self._clock.now())
        self.submitted[request.client_order_id] = order
        return order

    def cancel(self, broker_order_id: str) -> None:
        self.cancelled.append(broker_order_id)
        for cid, order in self.submitted.items():
            if order.broker_order_id == broker_order_id:
                self.submitted[cid] = replace(order, status=str(BrokerOrderStatus.CANCELED))
