"""An in-memory Broker with fault switches, for gateway and sync tests.

It keeps just enough state to be a believable broker (orders by client id, fills, positions) and lets a
test inject the failures that matter for exactly-once ordering: a crash before the request leaves the
process, an accepted order whose response is lost (a timeout, a 5xx, or the process dying before it reads the
answer), a duplicate-id refusal, a failing lookup, a crash at any later call, and (through ``fill`` and
``expire``) a day order that fills partly and then expires. The test controls play the market's side: fills
(partial or full), a replayed fill, the close expiring day orders, a split, a trade someone made outside
autotrader. An OCO is held the way Alpaca holds it: the take-profit limit is the parent, the stop its leg, and
cancelling either cancels both. Every POST is logged with its time (``posts``), and one under an id the broker
already holds is counted (``repeat_posts``) before it is refused, so a test can prove no order was ever sent
twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from autotrader.domain.enums import BrokerOrderStatus, OrderClass, OrderType, Side
from autotrader.domain.models import (
    Account,
    Asset,
    BrokerClock,
    BrokerOrder,
    BrokerPosition,
    Fill,
    OrderRequest,
)
from autotrader.errors import (
    AmbiguousOrderOutcome,
    DuplicateClientOrderId,
    OrderNotFound,
    OrderRejected,
    TransientError,
)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the toolkit catches it."""


@dataclass
class Faults:
    crash_before_send: int = 0  # next N submits die before anything reaches the broker
    lose_response: int = 0  # next N submits are accepted, then the caller sees a timeout
    duplicate_on_submit: int = 0  # next N submits are refused as duplicates (after being accepted earlier)
    transient_lookup: int = 0  # next N lookups by client id fail with a temporary error
    refuse_unacted: int = 0  # next N submits fail with a temporary error (a 429 or 500) the broker did not act on
    fail_after_accept: int = 0  # next N submits are accepted, then the caller sees a temporary error (a 504)
    crash_after_accept: int = 0  # next N submits are accepted, then the process dies before reading the answer
    lose_request: int = 0  # next N submits time out before the broker acts: nothing placed, the caller cannot tell
    reject_reason: str | None = None  # every submit is rejected with this reason
    unconfirmable: frozenset[str] = frozenset()  # client order ids whose every lookup fails with a temporary error
    crash_on: str | None = None  # the next call of this Broker method (e.g. "fills") dies: a kill mid-step


@dataclass
class MemoryBroker:
    time_source: object
    time_travel: bool = True
    cash: float = 1_000_000.0
    faults: Faults = field(default_factory=Faults)
    orders_by_cid: dict[str, BrokerOrder] = field(default_factory=dict)
    fills_list: list[Fill] = field(default_factory=list)
    held: dict[str, float] = field(default_factory=dict)
    submits_received: int = 0
    sent: list[str] = field(default_factory=list)  # the client order id of every submit that reached the broker
    lookups: int = 0
    posts: list[tuple[datetime, OrderRequest]] = field(default_factory=list)  # every submit received, when
    repeat_posts: list[str] = field(default_factory=list)  # client ids POSTed while the broker held that id
    cancels: int = 0
    _seq: int = 0

    # -- test controls -------------------------------------------------------------------------------
    def fill(self, client_order_id: str, price: float, qty: float | None = None) -> None:
        order = self.orders_by_cid[client_order_id]
        qty = order.qty - order.filled_qty if qty is None else qty
        self._seq += 1
        at = self.time_source.now()
        self.fills_list.append(Fill(f"f-{self._seq}", order.broker_order_id, order.symbol, order.side, qty, price, at))
        filled = order.filled_qty + qty
        avg = ((order.filled_avg_price or 0) * order.filled_qty + price * qty) / filled
        status = BrokerOrderStatus.FILLED if filled >= order.qty else BrokerOrderStatus.PARTIALLY_FILLED
        self.orders_by_cid[client_order_id] = replace(
            order, filled_qty=filled, filled_avg_price=avg, status=str(status), updated_at=at
        )
        sign = 1 if order.side == Side.BUY else -1
        self.held[order.symbol] = self.held.get(order.symbol, 0.0) + sign * qty

    def expire(self, client_order_id: str) -> None:
        """The broker ends the order (a day order at the close, a market-on-open order once the auction passed):
        what is unfilled will never fill. An order already ended stays as it ended."""
        order = self.orders_by_cid[client_order_id]
        if not BrokerOrderStatus.is_terminal(order.status):
            self.orders_by_cid[client_order_id] = self._ended(order, BrokerOrderStatus.EXPIRED)

    def working(self, symbol: str, side: Side = Side.SELL) -> list[BrokerOrder]:
        """The working orders of a symbol and side, roots only (an OCO is one entry)."""
        return [
            o for o in self.orders_by_cid.values()
            if o.symbol == symbol and o.side == side and not BrokerOrderStatus.is_terminal(o.status)
        ]  # fmt: skip

    def place_external(self, symbol: str, qty: float, price: float, side: Side = Side.BUY) -> str:
        cid = f"manual-{len(self.orders_by_cid)}"
        self._accept(OrderRequest(client_order_id=cid, symbol=symbol, side=side, qty=qty))
        self.fill(cid, price)
        return cid

    def replay_fill(self, fill_id: str) -> None:
        """The broker reports an execution it already reported (same id) once more."""
        self.fills_list.append(next(f for f in self.fills_list if f.fill_id == fill_id))

    def split(self, symbol: str, ratio: float) -> None:
        """A split overnight: the holding times ``ratio`` with no fill (a reverse split rounds down, the
        fraction paid in cash). Working orders are not adjusted: a test splits only a symbol with none."""
        if symbol in self.held:
            self.held[symbol] = float(int(self.held[symbol] * ratio + 1e-9))

    # -- the Broker port ---------------------------------------------------------------------------
    def account(self) -> Account:
        self._maybe_crash("account")
        return Account(equity=self.cash, cash=self.cash, buying_power=self.cash)

    def positions(self) -> list[BrokerPosition]:
        self._maybe_crash("positions")
        return [BrokerPosition(s, q, 1.0) for s, q in sorted(self.held.items()) if abs(q) > 1e-9]

    def asset(self, symbol: str) -> Asset | None:
        return Asset(symbol)

    def submit(self, request: OrderRequest) -> BrokerOrder:
        self._maybe_crash("submit")
        if self.faults.crash_before_send:
            self.faults.crash_before_send -= 1
            raise Crash("killed before the request left")
        self.submits_received += 1
        self.sent.append(request.client_order_id)
        self.posts.append((self.time_source.now(), request))
        if request.client_order_id in self.orders_by_cid:
            self.repeat_posts.append(request.client_order_id)
        if self.faults.refuse_unacted:
            self.faults.refuse_unacted -= 1
            raise TransientError("HTTP 429: too many requests (nothing was placed)")
        if self.faults.lose_request:
            self.faults.lose_request -= 1
            raise AmbiguousOrderOutcome("read timed out (the request never reached the order book)")
        if self.faults.reject_reason:
            raise OrderRejected(self.faults.reject_reason, reason=self.faults.reject_reason)
        if request.client_order_id in self.orders_by_cid:
            raise DuplicateClientOrderId("client_order_id must be unique")
        if self.faults.duplicate_on_submit:
            self.faults.duplicate_on_submit -= 1
            self._accept(request)
            raise DuplicateClientOrderId("client_order_id must be unique")
        order = self._accept(request)
        if self.faults.lose_response:
            self.faults.lose_response -= 1
            raise AmbiguousOrderOutcome("read timed out after the order was sent")
        if self.faults.fail_after_accept:
            self.faults.fail_after_accept -= 1
            raise TransientError("HTTP 504: gateway timeout (the order was placed)")
        if self.faults.crash_after_accept:
            self.faults.crash_after_accept -= 1
            raise Crash("killed after the POST, before its answer was stored")
        return order

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        self._maybe_crash("order_by_client_id")
        self.lookups += 1
        if self.faults.transient_lookup or client_order_id in self.faults.unconfirmable:
            self.faults.transient_lookup = max(0, self.faults.transient_lookup - 1)
            raise TransientError("503 from the broker")
        return self.orders_by_cid.get(client_order_id)

    def orders(self, *, status: str = "all", after: datetime | None = None) -> list[BrokerOrder]:
        self._maybe_crash("orders")
        out = [o for o in self.orders_by_cid.values() if after is None or (o.submitted_at and o.submitted_at > after)]
        if status == "open":
            out = [o for o in out if not BrokerOrderStatus.is_terminal(o.status)]
        return sorted(out, key=lambda o: (o.submitted_at, o.broker_order_id))

    def cancel(self, broker_order_id: str) -> None:
        self._maybe_crash("cancel")
        self.cancels += 1
        for cid, order in self.orders_by_cid.items():
            # Cancelling any order of a group (an OCO's parent or its stop leg) cancels the group.
            if broker_order_id in (order.broker_order_id, *(leg.broker_order_id for leg in order.legs)):
                if not BrokerOrderStatus.is_terminal(order.status):
                    self.orders_by_cid[cid] = self._ended(order, BrokerOrderStatus.CANCELED)
                return
        raise OrderNotFound(broker_order_id)

    def fills(self, *, after: datetime | None = None) -> list[Fill]:
        self._maybe_crash("fills")
        return [f for f in self.fills_list if after is None or f.filled_at > after]

    def clock(self) -> BrokerClock:  # type: ignore[override]
        now = self.time_source.now()
        return BrokerClock(now, True, now + timedelta(days=1), now + timedelta(hours=1))

    def _maybe_crash(self, method: str) -> None:
        if self.faults.crash_on == method:
            self.faults.crash_on = None
            raise Crash(f"killed during {method}")

    def _accept(self, request: OrderRequest) -> BrokerOrder:
        self._seq += 1
        now = self.time_source.now()
        order = BrokerOrder.accepted(request, f"b-{self._seq}", now)
        if request.order_class == OrderClass.OCO:
            stop = BrokerOrder(
                f"b-{self._seq}-sl", f"{request.client_order_id}-sl", request.symbol, request.side, request.qty,
                OrderType.STOP, request.time_in_force, "new", stop_price=request.stop_loss_stop_price,
                order_class=OrderClass.OCO, submitted_at=now, updated_at=now,
                parent_broker_order_id=order.broker_order_id,
            )  # fmt: skip
            order = replace(order, limit_price=request.take_profit_limit_price, legs=(stop,))
        self.orders_by_cid[request.client_order_id] = order
        return order

    def _ended(self, order: BrokerOrder, status: BrokerOrderStatus) -> BrokerOrder:
        at = self.time_source.now()
        legs = tuple(replace(leg, status=str(status), updated_at=at) for leg in order.legs)
        return replace(order, status=str(status), updated_at=at, legs=legs)
