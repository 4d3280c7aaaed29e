"""The Broker contract: what every ``ports.Broker`` implementation must do, written against the protocol only.

Each test runs once per harness in ``tests/contract/harness.py`` (the embedded simulator, and the Alpaca adapter
against a loopback fake of Alpaca). A rejection is checked down to its ``RejectReason``: every implementation
refuses the same request with the same word.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from autotrader.domain.enums import BrokerOrderStatus, OrderClass, OrderType, RejectReason, Side, TimeInForce
from autotrader.domain.models import OrderRequest
from autotrader.errors import DuplicateClientOrderId, OrderNotFound, OrderRejected
from autotrader.ports import Broker
from tests.contract.harness import HARNESSES, BrokerHarness

SETTLE = timedelta(minutes=15)  # long enough for any implementation to fill a small market order


@pytest.fixture(params=sorted(HARNESSES))
def harness(request, tmp_path):
    h = HARNESSES[request.param](tmp_path)
    h.advance_to(h.start)
    yield h
    h.close()


def market(h: BrokerHarness, cid: str, qty: float = 10, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=h.symbol, side=side, qty=qty)


def far_limit(h: BrokerHarness, cid: str) -> OrderRequest:
    """A buy limit at half the market: it rests, unfilled, for the whole test."""
    return OrderRequest(
        client_order_id=cid,
        symbol=h.symbol,
        side=Side.BUY,
        qty=1,
        type=OrderType.LIMIT,
        limit_price=round(h.price / 2, 2),
    )


def test_the_harness_broker_satisfies_the_protocol(harness):
    assert isinstance(harness.broker, Broker)
    assert isinstance(harness.broker.time_travel, bool)


def test_a_submitted_order_is_retrievable_by_client_id_and_listed(harness):
    broker = harness.broker
    placed = broker.submit(market(harness, "ct-submit-1"))
    assert placed.client_order_id == "ct-submit-1"
    found = broker.order_by_client_id("ct-submit-1")
    assert found is not None
    assert (found.broker_order_id, found.symbol, found.side, found.qty) == (
        placed.broker_order_id,
        harness.symbol,
        Side.BUY,
        10,
    )
    assert [o.broker_order_id for o in broker.orders(status="all")] == [placed.broker_order_id]


def test_a_market_order_fills_into_a_position_with_unique_fills(harness):
    broker = harness.broker
    placed = broker.submit(market(harness, "ct-fill-1", qty=10))
    harness.advance_to(harness.start + SETTLE)

    order = broker.order_by_client_id("ct-fill-1")
    assert order is not None and order.status == BrokerOrderStatus.FILLED
    assert order.filled_qty == 10
    assert order.filled_avg_price == pytest.approx(harness.price, rel=0.01)

    (position,) = [p for p in broker.positions() if p.symbol == harness.symbol]
    assert position.qty == 10

    fills = [f for f in broker.fills() if f.broker_order_id == placed.broker_order_id]
    assert fills, "a filled order has at least one execution"
    assert len({f.fill_id for f in broker.fills()}) == len(broker.fills())
    assert sum(f.qty for f in fills) == pytest.approx(position.qty)
    assert all(f.symbol == harness.symbol and f.side == Side.BUY for f in fills)

    last = max(f.filled_at for f in broker.fills())
    assert broker.fills(after=last) == []
    assert broker.fills(after=last - timedelta(microseconds=1)) != []


def test_a_duplicate_client_order_id_raises_and_creates_nothing(harness):
    broker = harness.broker
    broker.submit(far_limit(harness, "ct-dup-1"))
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(market(harness, "ct-dup-1"))
    orders = broker.orders(status="all")
    assert len(orders) == 1
    assert orders[0].type == OrderType.LIMIT


def test_an_unknown_client_order_id_is_none(harness):
    assert harness.broker.order_by_client_id("ct-never-submitted") is None


def test_an_open_limit_can_be_cancelled_and_cancelling_twice_is_fine(harness):
    broker = harness.broker
    placed = broker.submit(far_limit(harness, "ct-cancel-1"))
    assert not BrokerOrderStatus.is_terminal(placed.status)
    broker.cancel(placed.broker_order_id)
    broker.cancel(placed.broker_order_id)
    harness.advance_to(harness.start + SETTLE)
    order = broker.order_by_client_id("ct-cancel-1")
    assert order is not None and order.status == BrokerOrderStatus.CANCELED
    assert order.filled_qty == 0
    assert broker.orders(status="open") == []


def test_cancelling_an_unknown_order_raises_order_not_found(harness):
    with pytest.raises(OrderNotFound):
        harness.broker.cancel(harness.unknown_order_id)


def assert_rejected(h: BrokerHarness, request: OrderRequest, reason: RejectReason) -> None:
    """``request`` is refused with ``reason``, and the broker keeps no order for it."""
    with pytest.raises(OrderRejected) as caught:
        h.broker.submit(request)
    assert caught.value.reason == reason
    assert h.broker.order_by_client_id(request.client_order_id) is None


def test_an_oversized_buy_is_rejected_and_creates_nothing(harness):
    too_many = math.ceil(harness.broker.account().buying_power / harness.price * 2)
    assert_rejected(harness, market(harness, "ct-big-1", qty=too_many), RejectReason.INSUFFICIENT_BUYING_POWER)
    assert harness.broker.orders(status="all") == []


def _sub_penny_limit(h: BrokerHarness) -> OrderRequest:
    limit = round(h.price * 0.9, 2) + 0.005
    return OrderRequest("ct-penny-1", h.symbol, Side.BUY, 1, type=OrderType.LIMIT, limit_price=limit)


def _unknown_symbol(h: BrokerHarness) -> OrderRequest:
    return OrderRequest("ct-sym-1", h.unknown_symbol, Side.BUY, 1)


def _market_on_open_in_session(h: BrokerHarness) -> OrderRequest:
    return OrderRequest("ct-opg-1", h.symbol, Side.BUY, 1, time_in_force=TimeInForce.OPG)


def _fractional_bracket(h: BrokerHarness) -> OrderRequest:
    tp, sl = round(h.price * 1.1, 2), round(h.price * 0.9, 2)
    return OrderRequest(
        "ct-frac-1", h.symbol, Side.BUY, 1.5, order_class=OrderClass.BRACKET,
        take_profit_limit_price=tp, stop_loss_stop_price=sl,
    )  # fmt: skip


def _limit_without_price(h: BrokerHarness) -> OrderRequest:
    return OrderRequest("ct-nolimit-1", h.symbol, Side.BUY, 1, type=OrderType.LIMIT)


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (_sub_penny_limit, RejectReason.SUB_PENNY),
        (_unknown_symbol, RejectReason.NOT_TRADABLE),
        (_market_on_open_in_session, RejectReason.AUCTION_WINDOW),  # every test starts at 10:00 ET
        (_fractional_bracket, RejectReason.NOT_FRACTIONABLE),
        (_limit_without_price, RejectReason.INVALID_ORDER),
    ],
    ids=["sub-penny", "unknown-symbol", "opg-in-session", "fractional-bracket", "limit-without-price"],
)
def test_a_request_the_broker_refuses_is_rejected_with_its_reason(harness, build, reason):
    assert_rejected(harness, build(harness), reason)


def test_a_symbol_the_broker_does_not_trade_is_rejected(harness):
    harness.make_untradable(harness.symbol)
    assert_rejected(harness, market(harness, "ct-untradable-1"), RejectReason.NOT_TRADABLE)


def test_selling_more_than_is_held_is_rejected(harness):
    harness.broker.submit(market(harness, "ct-held-1", qty=5))
    harness.advance_to(harness.start + SETTLE)
    assert_rejected(harness, market(harness, "ct-oversell-1", qty=6, side=Side.SELL), RejectReason.INSUFFICIENT_QTY)


def test_equity_is_cash_plus_position_value(harness):
    broker = harness.broker
    before = broker.account()
    assert before.equity == pytest.approx(before.cash)
    broker.submit(market(harness, "ct-eq-1", qty=20))
    harness.advance_to(harness.start + SETTLE)
    account = broker.account()
    value = sum(p.qty * harness.price for p in broker.positions())
    assert value > 0
    assert account.cash < before.cash
    assert account.equity == pytest.approx(account.cash + value, abs=0.01 * value + 0.01)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(days=5, hours=2)], ids=["in-session", "weekend"])
def test_the_clock_agrees_with_the_calendar(harness, offset):
    harness.advance_to(harness.start + offset)
    clock = harness.broker.clock()
    cal = harness.calendar
    assert clock.timestamp == harness.start + offset
    assert clock.is_open == cal.is_open(clock.timestamp)
    assert clock.next_open == cal.next_open(clock.timestamp)
    assert clock.next_close == cal.next_close(clock.timestamp)
