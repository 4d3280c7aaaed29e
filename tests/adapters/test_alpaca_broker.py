"""``AlpacaBroker`` through the real alpaca-py SDK, against the loopback fake in ``tests/fakes/alpaca_server.py``.

What is proven here:
  - every order intent ends as exactly one broker order, whatever the server does to the POST (accept then
    504, 429 with or without a reset time, 422 duplicate, a text 500, an answer that never comes), and a
    kill between the broker accepting an order and the ledger storing its id is healed by the next run;
  - order creation is never retried by the SDK or by us; reads are retried by one bounded policy and end in
    ``TransientError`` (exit 75); rate-limit headers make the next request wait for the reset, boundedly;
  - Alpaca's error codes map onto ``OrderRejected`` reasons, ``DuplicateClientOrderId``, ``OrderNotFound``
    and ``ConfigError``; non-JSON error bodies do not crash;
  - market-on-open is refused locally outside Alpaca's window; fills are paged and deduplicated by id;
  - canary keys never appear in exception text, tracebacks, reprs or logs.

Waits (retry backoff, rate-limit resets, cancel polling) go to a recording ``sleep`` instead of the real one,
and the only real waiting is a few sub-second HTTP timeouts, so the file runs in seconds.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest
from pydantic import SecretStr

from autotrader.adapters.alpaca_broker import (
    BASE_URLS,
    AlpacaBroker,
    AlpacaRequestFailed,
    build_alpaca_broker,
)
from autotrader.clock import SimulatedClock
from autotrader.domain.enums import (
    BrokerOrderStatus,
    IntentStatus,
    OrderClass,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from autotrader.domain.models import OrderRequest
from autotrader.errors import (
    AmbiguousOrderOutcome,
    ConfigError,
    DuplicateClientOrderId,
    OrderNotFound,
    OrderRejected,
    SafetyRefusal,
    TransientError,
)
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline.gateway import OrderGateway
from tests.factories import et, make_intent
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpacaServer
from tests.fakes.memory_broker import Crash

START = et("2026-03-02 10:00")  # a Monday, mid-session
WALL = 1_900_000_000.0  # the broker's idea of real time (epoch seconds), fixed so rate-limit waits are exact
TINY_TIMEOUT = 0.3  # seconds: what "a response that never comes" costs a test
NEVER = 30.0  # a held-back answer: far beyond any client timeout here (released when the server closes)
ORDERS = "/v2/orders"
BY_CLIENT_ID = "/v2/orders:by_client_order_id"
FILL_ACTIVITIES = "/v2/account/activities/FILL"


class Waits(list):
    """Records what the broker would have slept, in order."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[FakeAlpacaServer]:
    with FakeAlpacaServer(now=START, prices={"AAPL": 200.0, "MSFT": 400.0}, cash=100_000.0) as fake:
        yield fake


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def make_broker(server, clock, waits) -> Callable[..., AlpacaBroker]:
    def make(**overrides) -> AlpacaBroker:
        options = dict(
            api_key=API_KEY,
            secret_key=SECRET_KEY,
            base_url=server.url,
            mode="paper",
            clock=clock,
            timeout_seconds=5.0,
            max_retries=2,
            sleep=waits,
            wall_time=lambda: WALL,
        )
        options.update(overrides)
        return AlpacaBroker(**options)

    return make


@pytest.fixture
def broker(make_broker) -> AlpacaBroker:
    return make_broker()


@pytest.fixture
def ledger(tmp_path, migrated_ledger):
    opened = open_ledger(migrated_ledger(tmp_path / "ledger-paper.db"))
    yield opened
    opened.close()


def gateway(ledger, broker, clock) -> OrderGateway:
    """A fresh gateway per "run": nothing survives between runs but the ledger."""
    return OrderGateway(ledger, broker, clock, run_id="r", log=EventLog(None, run_id="r", command="t", mode="paper"))


def move_to(server: FakeAlpacaServer, clock: SimulatedClock, at: datetime) -> None:
    server.advance_to(at)
    clock.set(at)


def market(cid: str, qty: float = 10, symbol: str = "AAPL", side: Side = Side.BUY, **kw) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side=side, qty=qty, **kw)


def rate_limited(reset: float | None) -> dict:
    """A 429 as Alpaca sends it: a JSON body with a code, and the rate-limit headers (reset optional)."""
    headers = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0"}
    if reset is not None:
        headers["X-RateLimit-Reset"] = str(int(reset))
    return dict(status=429, body={"code": 42910000, "message": "rate limit exceeded"}, headers=headers)


# =========================================================================== exactly one order per intent


def _accept_then_504(server, broker):
    server.inject("POST", ORDERS, status=504, body="", process_first=True)


def _504_before_accepting(server, broker):
    server.inject("POST", ORDERS, status=504, body={"code": 50400000, "message": "gateway timeout"})


def _429_with_reset(server, broker):
    server.inject("POST", ORDERS, **rate_limited(reset=WALL + 3))


def _429_without_reset(server, broker):
    server.inject("POST", ORDERS, **rate_limited(reset=None))


def _accept_then_text_500(server, broker):
    server.inject("POST", ORDERS, status=500, body="upstream connect error or disconnect", process_first=True)


def _accept_then_422_duplicate(server, broker):
    # The order is created, and the answer the client sees is the duplicate refusal a retried POST would get.
    body = {"code": 40010001, "message": "client_order_id must be unique"}
    server.inject("POST", ORDERS, status=422, body=body, process_first=True)


def _accept_then_no_answer(server, broker):
    server.inject("POST", ORDERS, process_first=True, delay=NEVER)


def _lost_earlier_attempt(server, broker):
    # An earlier run's POST landed, its answer was lost: this run's POST meets a real 422 duplicate.
    intent = make_intent(at=START, symbol="AAPL", qty=10)
    broker.submit(intent.request)


# case -> (fault, how many POSTs reach the server)
EXACTLY_ONCE_CASES = {
    "accepted-then-504": (_accept_then_504, 1),
    "504-before-accepting": (_504_before_accepting, 2),
    "429-with-reset-header": (_429_with_reset, 2),
    "429-without-reset-header": (_429_without_reset, 2),
    "accepted-then-text-500": (_accept_then_text_500, 1),
    "accepted-then-422-duplicate": (_accept_then_422_duplicate, 1),
    "accepted-then-no-answer": (_accept_then_no_answer, 1),
    "lost-earlier-attempt-then-422-duplicate": (_lost_earlier_attempt, 2),
}


@pytest.mark.parametrize("case", sorted(EXACTLY_ONCE_CASES))
def test_every_submit_fault_ends_with_exactly_one_broker_order(case, server, clock, make_broker, ledger):
    fault, expected_posts = EXACTLY_ONCE_CASES[case]
    # A tiny timeout only where an answer never comes; elsewhere a generous one, so load cannot fake a fault.
    broker = make_broker(timeout_seconds=TINY_TIMEOUT if fault is _accept_then_no_answer else 5.0)
    intent = make_intent(at=clock.now(), symbol="AAPL", qty=10)
    fault(server, broker)

    result = gateway(ledger, broker, clock).place([intent])[0]

    held = [o for o in server.orders.values() if o.client_order_id == intent.client_order_id]
    assert len(held) == 1, "exactly one order at the broker"
    assert result.status == IntentStatus.ACCEPTED
    assert result.broker_order_id == held[0].id
    assert repo.get_intent(ledger, intent.client_order_id)["broker_order_id"] == held[0].id
    posted = server.posted_orders()
    assert len(posted) == expected_posts
    assert {body["client_order_id"] for body in posted} == {intent.client_order_id}

    # Reruns (the same step again, then sync's settling) send nothing.
    gateway(ledger, broker, clock).place([intent])
    gateway(ledger, broker, clock).resolve_in_flight()
    assert len(server.posted_orders()) == expected_posts
    assert len(server.top_level_orders()) == 1


def test_a_rate_limited_post_waits_for_the_reset_before_the_next_request(server, clock, broker, waits, ledger):
    server.inject("POST", ORDERS, **rate_limited(reset=WALL + 3))
    gateway(ledger, broker, clock).place([make_intent(at=clock.now(), qty=10)])
    assert 3.0 in waits  # the lookup that followed the 429 waited for the reset


def test_a_kill_after_the_broker_accepted_is_healed_by_the_rerun(server, clock, broker, ledger):
    class KilledAfterAccept:
        """The process dies after Alpaca accepted the order, before the ledger stored its id."""

        time_travel = False

        def __init__(self, inner: AlpacaBroker) -> None:
            self.inner = inner

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

        def submit(self, request: OrderRequest):
            self.inner.submit(request)
            raise Crash("killed after the POST returned")

    intent = make_intent(at=clock.now(), qty=10)
    with pytest.raises(Crash):
        gateway(ledger, KilledAfterAccept(broker), clock).place([intent])
    row = repo.get_intent(ledger, intent.client_order_id)
    assert row["status"] == IntentStatus.SUBMITTING and row["broker_order_id"] is None

    rerun = gateway(ledger, broker, clock).place([intent])[0]

    (order,) = server.top_level_orders()
    assert rerun.status == IntentStatus.ACCEPTED and not rerun.sent
    assert rerun.broker_order_id == order.id
    assert len(server.posted_orders()) == 1
    assert server.count("GET", BY_CLIENT_ID) == 1


@pytest.mark.slow  # waits out a real socket timeout
def test_an_unanswered_post_and_lookup_leave_the_intent_unknown_until_a_later_run(
    server, clock, make_broker, ledger, waits
):
    broker = make_broker(timeout_seconds=TINY_TIMEOUT, max_retries=1)
    intent = make_intent(at=clock.now(), qty=10)
    server.inject("POST", ORDERS, process_first=True, delay=NEVER)
    server.inject("GET", BY_CLIENT_ID, delay=NEVER, times=2)

    first = gateway(ledger, broker, clock).place([intent])[0]

    assert first.status == IntentStatus.UNKNOWN  # the step then exits 3: buying halts
    assert server.count("GET", BY_CLIENT_ID) == 2  # bounded: one try and one retry, each cut by the timeout
    settled = gateway(ledger, broker, clock).resolve_in_flight()
    assert [s.status for s in settled] == [IntentStatus.ACCEPTED]
    assert len(server.posted_orders()) == 1 and len(server.top_level_orders()) == 1


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda s: None, RejectReason.INSUFFICIENT_BUYING_POWER),
        (lambda s: setattr(s, "pdt_protection", True), RejectReason.DAY_TRADING_PROTECTION),
    ],
    ids=["buying-power", "day-trading-protection"],
)
def test_a_definitive_rejection_is_recorded_once_and_never_resent(setup, reason, server, clock, broker, ledger):
    setup(server)
    qty = 10 if reason != RejectReason.INSUFFICIENT_BUYING_POWER else 1_000  # 1000 x $200 is twice the buying power
    intent = make_intent(at=clock.now(), qty=qty)

    result = gateway(ledger, broker, clock).place([intent])[0]
    gateway(ledger, broker, clock).place([intent])
    gateway(ledger, broker, clock).resolve_in_flight()

    assert result.status == IntentStatus.REJECTED
    assert repo.get_intent(ledger, intent.client_order_id)["error_code"] == reason
    assert len(server.posted_orders()) == 1
    assert server.orders == {}


def test_a_partial_fill_then_expiry_books_only_what_filled(server, clock, broker, ledger):
    intent = make_intent(at=clock.now(), qty=10)
    placed = gateway(ledger, broker, clock).place([intent])[0]
    server.fill(placed.broker_order_id, 3, 199.5)
    server.expire(placed.broker_order_id)

    order = broker.order_by_client_id(intent.client_order_id)
    assert order is not None
    assert (order.status, order.filled_qty, order.filled_avg_price) == ("expired", 3, 199.5)
    assert gateway(ledger, broker, clock).adopt(order) == IntentStatus.EXPIRED
    assert [(f.qty, f.price) for f in broker.fills()] == [(3, 199.5)]
    (position,) = broker.positions()
    assert position.qty == 3

    gateway(ledger, broker, clock).place([intent])  # the rerun does not buy the missing 7 again
    assert len(server.posted_orders()) == 1


def test_an_unknown_order_status_is_kept_and_treated_as_open(server, clock, broker, ledger):
    intent = make_intent(at=clock.now(), qty=10)
    placed = gateway(ledger, broker, clock).place([intent])[0]
    server.set_status(placed.broker_order_id, "held_for_review")

    order = broker.order_by_client_id(intent.client_order_id)

    assert order is not None and order.status == "held_for_review"
    assert not BrokerOrderStatus.is_terminal(order.status)
    assert [o.broker_order_id for o in broker.orders(status="open")] == [placed.broker_order_id]
    assert gateway(ledger, broker, clock).adopt(order) == IntentStatus.ACCEPTED


# ===================================================================== no retries of orders; bounded reads


@pytest.mark.parametrize("status", [504, 429])
def test_an_order_post_is_never_retried(status, server, broker):
    # alpaca-py on its own would send this POST four times (three retries, 3 s apart).
    server.inject("POST", ORDERS, status=status, body={"code": status * 100000, "message": "try later"}, times=5)
    with pytest.raises(AmbiguousOrderOutcome):
        broker.submit(market("once-1"))
    assert len(server.posted_orders()) == 1


@pytest.mark.slow  # waits out a real socket timeout
def test_a_post_that_never_answers_is_ambiguous_not_a_hang(server, make_broker):
    broker = make_broker(timeout_seconds=TINY_TIMEOUT)
    server.inject("POST", ORDERS, process_first=True, delay=NEVER)
    with pytest.raises(AmbiguousOrderOutcome) as caught:
        broker.submit(market("hang-1"))
    assert "may have been placed" in caught.value.message
    assert len(server.posted_orders()) == 1


def test_reads_are_retried_with_growing_backoff_then_succeed(server, broker, waits):
    server.inject("GET", "/v2/account", status=503, body={"code": 50300000, "message": "unavailable"}, times=2)
    account = broker.account()
    assert account.cash == 100_000
    assert server.count("GET", "/v2/account") == 3
    assert len(waits) == 2 and waits[0] < waits[1]


def test_reads_give_up_after_max_retries_with_a_temporary_error(server, make_broker, waits):
    broker = make_broker(max_retries=2)
    server.inject("GET", "/v2/positions", status=502, body="<html>Bad Gateway</html>", times=10)
    with pytest.raises(TransientError) as caught:
        broker.positions()
    assert caught.value.exit_code == 75
    assert "Bad Gateway" in caught.value.message  # a non-JSON body is reported, not a crash
    assert server.count("GET", "/v2/positions") == 3


@pytest.mark.slow  # waits out a real socket timeout
def test_a_read_that_never_answers_times_out_and_is_bounded(server, make_broker):
    broker = make_broker(timeout_seconds=TINY_TIMEOUT, max_retries=1)
    server.inject("GET", "/v2/clock", delay=NEVER, times=5)
    with pytest.raises(TransientError) as caught:
        broker.clock()
    assert "timed out" in caught.value.message
    assert server.count("GET", "/v2/clock") == 2


def test_a_429_with_a_reset_time_waits_until_the_reset(server, broker, waits):
    server.inject("GET", "/v2/account", **rate_limited(reset=WALL + 5))
    broker.account()
    assert 5.0 in waits
    assert server.count("GET", "/v2/account") == 2


def test_the_wait_for_a_reset_is_bounded(server, make_broker, waits):
    broker = make_broker(max_rate_limit_wait=30.0)
    server.inject("GET", "/v2/account", **rate_limited(reset=WALL + 86_400))
    broker.account()
    assert max(waits) == 30.0


def test_a_429_without_a_reset_time_backs_off(server, broker, waits):
    server.inject("GET", "/v2/account", **rate_limited(reset=None))
    broker.account()
    assert waits == [0.5]  # the policy's first backoff, nothing else
    assert server.count("GET", "/v2/account") == 2


def test_an_exhausted_budget_makes_even_an_order_wait_for_the_reset(server, broker, waits):
    # A successful read says no requests are left until WALL + 4: the next request, a POST, waits first.
    server.inject("GET", "/v2/account", headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(WALL + 4))})
    broker.account()
    assert waits == []
    broker.submit(market("paced-1"))
    assert waits == [4.0]
    assert len(server.posted_orders()) == 1


# ============================================================================================= error mapping


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            403,
            {"code": 40310000, "message": "insufficient buying power", "buying_power": "5"},
            RejectReason.INSUFFICIENT_BUYING_POWER,
        ),
        (
            403,
            {"code": 40310100, "message": "trade denied due to pattern day trading protection"},
            RejectReason.DAY_TRADING_PROTECTION,
        ),
        (
            403,
            {"code": 40310000, "message": "potential wash trade detected. use complex orders"},
            RejectReason.WASH_TRADE,
        ),
        (
            403,
            {"code": 40310000, "message": "insufficient qty available for order (requested: 15, available: 11)"},
            RejectReason.INSUFFICIENT_QTY,
        ),
        (
            403,
            {"code": 40310000, "message": "requested asset is not fractionable"},
            RejectReason.NOT_FRACTIONABLE,
        ),
        (
            403,
            {"code": 40310000, "message": "opg orders must be submitted after 7:00pm and before 9:28am"},
            RejectReason.AUCTION_WINDOW,
        ),
        (
            422,
            {"code": 42210000, "message": "invalid limit_price 11.055. sub-penny increment does not fulfill"},
            RejectReason.SUB_PENNY,
        ),
        (422, {"code": 42210000, "message": 'asset "ZZZZ" not found'}, RejectReason.NOT_TRADABLE),
        (422, {"code": 40010001, "message": "qty must be > 0"}, RejectReason.INVALID_ORDER),
        (422, "", RejectReason.INVALID_ORDER),  # alpaca-py's own fixtures: a bare 422 with no body at all
    ],
    ids=[
        "buying-power",
        "pdt",
        "wash-trade",
        "qty",
        "not-fractionable",
        "opg-window",
        "sub-penny",
        "asset",
        "validation",
        "empty",
    ],
)
def test_refusals_map_to_rejections_with_stable_reasons(status, body, expected, server, broker):
    server.inject("POST", ORDERS, status=status, body=body)
    with pytest.raises(OrderRejected) as caught:
        broker.submit(market("refused-1"))
    assert caught.value.reason == expected
    assert len(server.posted_orders()) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"code": 40010001, "message": "client_order_id must be unique"},
        {"code": 42210000, "message": "client order id must be unique"},
    ],
)
def test_a_duplicate_client_order_id_is_reported_as_such(body, server, broker):
    server.inject("POST", ORDERS, status=422, body=body)
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(market("dup-1"))


def test_the_servers_own_rules_are_mapped(server, broker):
    with pytest.raises(OrderRejected) as too_big:
        broker.submit(market("rule-1", qty=1_000))
    with pytest.raises(OrderRejected) as penny:
        broker.submit(market("rule-2", type=OrderType.LIMIT, limit_price=150.005))
    with pytest.raises(OrderRejected) as unknown:
        broker.submit(market("rule-3", symbol="ZZZZQ"))
    with pytest.raises(OrderRejected) as short:
        broker.submit(market("rule-4", side=Side.SELL))
    assert [e.value.reason for e in (too_big, penny, unknown, short)] == [
        RejectReason.INSUFFICIENT_BUYING_POWER,
        RejectReason.SUB_PENNY,
        RejectReason.NOT_TRADABLE,
        RejectReason.INSUFFICIENT_QTY,
    ]
    assert server.orders == {}


def test_a_request_the_sdk_refuses_is_rejected_without_being_sent(server, broker):
    # A bracket without its stop-loss leg: alpaca-py refuses to build it.
    request = market("bad-1", order_class=OrderClass.BRACKET, take_profit_limit_price=220.0)
    with pytest.raises(OrderRejected) as caught:
        broker.submit(request)
    assert caught.value.reason == RejectReason.INVALID_ORDER
    assert server.posted_orders() == []


def test_text_error_bodies_never_crash_the_mapping(server, broker):
    # alpaca-py's APIError.code raises JSONDecodeError on these bodies; the adapter must not touch it.
    server.inject("POST", ORDERS, status=500, body="<html><body>Internal Server Error</body></html>")
    with pytest.raises(AmbiguousOrderOutcome):
        broker.submit(market("text-1"))
    server.inject("GET", "/v2/account", status=400, body="Bad Request")
    with pytest.raises(AlpacaRequestFailed) as caught:
        broker.account()
    assert "Bad Request" in str(caught.value) and caught.value.exit_code == 1


def test_wrong_keys_are_a_credentials_error_naming_the_variables(server, make_broker):
    broker = make_broker(api_key="PKWRONGKEY00000000", secret_key="SKWRONGSECRET000000")
    with pytest.raises(ConfigError) as read:
        broker.account()
    with pytest.raises(ConfigError) as order:
        broker.submit(market("auth-1"))
    for caught in (read, order):
        assert caught.value.exit_code == 2
        assert "ALPACA_API_KEY" in caught.value.message and "ALPACA_SECRET_KEY" in caught.value.message
        assert "PKWRONGKEY" not in str(caught.value) + str(caught.value.hint)
    assert server.count("GET", "/v2/account") == 1  # a refused key is not retried
    assert server.orders == {}


def test_lookups_of_unknown_things_are_none_or_not_found(server, broker):
    assert broker.order_by_client_id("never-sent") is None
    assert broker.asset("ZZZZQ") is None
    with pytest.raises(OrderNotFound):
        broker.cancel("00000000-0000-4000-8000-000000000000")
    with pytest.raises(OrderNotFound):
        broker.cancel("sim-o-00000001")  # not even an Alpaca id: nothing is sent
    assert server.count("DELETE", "/v2/orders/sim-o-00000001") == 0


# ========================================================================================== order shapes


def test_each_order_kind_is_sent_as_alpaca_expects_and_read_back(server, clock, broker):
    broker.submit(market("shape-held", qty=20))
    move_to(server, clock, START + timedelta(minutes=1))  # 20 AAPL held, so sells are allowed
    requests = [
        market("shape-limit", type=OrderType.LIMIT, limit_price=150.0, time_in_force=TimeInForce.GTC),
        market("shape-cls", qty=1, time_in_force=TimeInForce.CLS),
        market("shape-stop", side=Side.SELL, qty=1, type=OrderType.STOP, stop_price=180.0),
        market(
            "shape-stop-limit", side=Side.SELL, qty=1, type=OrderType.STOP_LIMIT, stop_price=180.0, limit_price=179.5
        ),
        market("shape-trail", side=Side.SELL, qty=1, type=OrderType.TRAILING_STOP, trail_percent=4.0),
        market(
            "shape-bracket",
            qty=1,
            type=OrderType.LIMIT,
            limit_price=150.0,
            order_class=OrderClass.BRACKET,
            take_profit_limit_price=170.0,
            stop_loss_stop_price=140.0,
            stop_loss_limit_price=139.5,
        ),
        market("shape-oto", qty=1, order_class=OrderClass.OTO, stop_loss_stop_price=180.0),
        market(
            "shape-oco",
            side=Side.SELL,
            qty=5,
            type=OrderType.LIMIT,
            order_class=OrderClass.OCO,
            take_profit_limit_price=230.0,
            stop_loss_stop_price=180.0,
        ),
    ]
    placed = {r.client_order_id: broker.submit(r) for r in requests}
    bodies = {b["client_order_id"]: b for b in server.posted_orders()}

    limit = bodies["shape-limit"]
    assert (limit["type"], limit["limit_price"], limit["time_in_force"], limit["qty"]) == ("limit", 150.0, "gtc", 10)
    assert (bodies["shape-cls"]["type"], bodies["shape-cls"]["time_in_force"]) == ("market", "cls")
    assert bodies["shape-stop"]["type"] == "stop" and bodies["shape-stop"]["stop_price"] == 180.0
    assert (bodies["shape-stop-limit"]["stop_price"], bodies["shape-stop-limit"]["limit_price"]) == (180.0, 179.5)
    assert bodies["shape-trail"]["type"] == "trailing_stop" and bodies["shape-trail"]["trail_percent"] == 4.0
    assert bodies["shape-bracket"]["order_class"] == "bracket"
    assert bodies["shape-bracket"]["take_profit"] == {"limit_price": 170.0}
    assert bodies["shape-bracket"]["stop_loss"] == {"stop_price": 140.0, "limit_price": 139.5}
    assert bodies["shape-oto"]["order_class"] == "oto" and "take_profit" not in bodies["shape-oto"]
    assert bodies["shape-oco"]["order_class"] == "oco" and "limit_price" not in bodies["shape-oco"]

    assert placed["shape-trail"].trail_percent == 4.0
    assert placed["shape-stop-limit"].type == OrderType.STOP_LIMIT
    assert placed["shape-limit"].time_in_force == TimeInForce.GTC
    bracket = placed["shape-bracket"]
    assert bracket.order_class == OrderClass.BRACKET
    assert sorted((leg.type, leg.status) for leg in bracket.legs) == [
        (OrderType.LIMIT, "held"),
        (OrderType.STOP_LIMIT, "held"),
    ]
    assert {leg.parent_broker_order_id for leg in bracket.legs} == {bracket.broker_order_id}
    assert [leg.type for leg in placed["shape-oco"].legs] == [OrderType.STOP]


def test_listings_nest_a_brackets_legs_under_it(server, clock, broker):
    request = market(
        "nest-1",
        qty=2,
        order_class=OrderClass.BRACKET,
        take_profit_limit_price=230.0,
        stop_loss_stop_price=180.0,
    )
    placed = broker.submit(request)
    move_to(server, clock, START + timedelta(minutes=5))  # the entry fills; the legs go live

    (listed,) = broker.orders(status="open")

    assert listed.broker_order_id == placed.broker_order_id and listed.status == "filled"
    assert sorted(leg.status for leg in listed.legs) == ["held", "new"]  # the held stop is visible
    assert all(r.query.get("nested") == "True" for r in server.requests if r.path == ORDERS and r.method == "GET")


def test_orders_are_paged_oldest_first_without_gaps_or_repeats(server, make_broker):
    broker = make_broker(orders_page_size=3)
    placed = [broker.submit(market(f"page-{i}", qty=1)).broker_order_id for i in range(7)]

    listed = broker.orders(status="all")
    pages = server.count("GET", ORDERS)
    after_third = broker.orders(status="all", after=listed[2].submitted_at)

    assert [o.broker_order_id for o in listed] == placed
    assert [o.broker_order_id for o in after_third] == placed[3:]
    assert pages >= 3  # seven orders, three a page
    first_listing = [r.query for r in server.requests if r.method == "GET" and r.path == ORDERS][:pages]
    assert "after" not in first_listing[0] and all("after" in q for q in first_listing[1:])  # walked by time


def test_the_account_parses_without_the_removed_day_trader_fields(server, broker):
    server.extra_account_fields = {"intraday_margin_status": "ok", "options_buying_power": "0"}
    account = broker.account()
    assert (account.equity, account.cash, account.buying_power, account.currency) == (100_000, 100_000, 100_000, "USD")


def test_assets_report_tradability(server, broker):
    server.untradable.add("MSFT")
    server.fractionable.discard("MSFT")
    assert broker.asset("AAPL").tradable and broker.asset("AAPL").fractionable
    msft = broker.asset("MSFT")
    assert msft is not None and not msft.tradable and not msft.fractionable


def test_the_clock_and_calendar_come_from_the_broker(server, clock, broker):
    move_to(server, clock, et("2026-11-27 12:00"))  # the day after Thanksgiving: closes at 13:00
    now = broker.clock()
    assert now.is_open and now.next_close == et("2026-11-27 13:00")

    sessions = broker.calendar(date(2026, 11, 25), date(2026, 11, 30))

    assert [s.session for s in sessions] == [date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30)]
    assert sessions[1].close_at == et("2026-11-27 13:00")
    assert sessions[0].open_at == et("2026-11-25 09:30")


# ================================================================================================ cancel


def test_cancel_waits_briefly_for_an_asynchronous_cancel(server, broker, waits):
    placed = broker.submit(market("cancel-1", type=OrderType.LIMIT, limit_price=100.0))
    server.cancel_pending_reads = 2  # Alpaca shows pending_cancel for a moment

    broker.cancel(placed.broker_order_id)

    assert server.orders[placed.broker_order_id].status == "canceled"
    assert server.count("GET", f"{ORDERS}/{placed.broker_order_id}") == 3
    assert len(waits) == 2


def test_cancel_polling_is_bounded(server, make_broker, waits):
    broker = make_broker(cancel_poll_attempts=3)
    placed = broker.submit(market("cancel-2", type=OrderType.LIMIT, limit_price=100.0))
    server.cancel_pending_reads = 1_000

    broker.cancel(placed.broker_order_id)  # returns: the cancel was accepted

    assert server.count("GET", f"{ORDERS}/{placed.broker_order_id}") == 3
    assert server.orders[placed.broker_order_id].status == "pending_cancel"


def test_cancelling_a_filled_order_is_not_an_error(server, clock, broker):
    placed = broker.submit(market("cancel-3"))
    move_to(server, clock, START + timedelta(minutes=1))
    broker.cancel(placed.broker_order_id)  # Alpaca answers 422: nothing left to cancel
    assert server.orders[placed.broker_order_id].status == "filled"
    assert server.count("DELETE", f"{ORDERS}/{placed.broker_order_id}") == 1


def test_a_failing_cancel_is_retried_by_the_read_policy(server, broker):
    placed = broker.submit(market("cancel-4", type=OrderType.LIMIT, limit_price=100.0))
    server.inject("DELETE", f"{ORDERS}/{placed.broker_order_id}", status=503, body="busy")
    broker.cancel(placed.broker_order_id)
    assert server.orders[placed.broker_order_id].status == "canceled"
    assert server.count("DELETE", f"{ORDERS}/{placed.broker_order_id}") == 2


# ============================================================================================== market-on-open


@pytest.mark.parametrize(
    ("new_york_time", "accepted"),
    [
        ("2026-03-02 09:27", True),  # before the cutoff
        ("2026-03-02 09:28", False),  # the cutoff itself
        ("2026-03-02 10:00", False),
        ("2026-03-02 18:59", False),
        ("2026-03-02 19:00", True),  # queued for the next open
        ("2026-03-07 12:00", True),  # a Saturday
        ("2026-04-03 10:00", True),  # Good Friday: no session, queued for Monday
    ],
)
def test_market_on_open_is_sent_only_inside_alpacas_window(new_york_time, accepted, server, clock, broker):
    at = et(new_york_time)
    server.set_now(at)
    clock.set(at)
    request = market("moo-1", time_in_force=TimeInForce.OPG)
    if accepted:
        assert broker.submit(request).time_in_force == TimeInForce.OPG
        assert len(server.posted_orders()) == 1
    else:
        with pytest.raises(OrderRejected) as caught:
            broker.submit(request)
        assert caught.value.reason == RejectReason.AUCTION_WINDOW
        assert "09:28" in caught.value.message
        assert server.posted_orders() == []


# ======================================================================================================= fills


def _fill_in_parts(server, broker, parts: list[tuple[float, float]]) -> str:
    order_id = broker.submit(market("parts-1", qty=sum(q for q, _ in parts))).broker_order_id
    for i, (qty, price) in enumerate(parts):
        server.fill(order_id, qty, price, at=START + timedelta(seconds=10 * (i + 1), microseconds=123_456))
    return order_id


def test_fills_are_paged_and_each_execution_is_counted_once(server, make_broker):
    broker = make_broker(activities_page_size=3)
    parts = [(1, 200.0), (2, 200.5), (1, 201.0), (3, 199.0), (1, 200.0), (1, 200.25), (1, 200.75)]
    order_id = _fill_in_parts(server, broker, parts)

    fills = broker.fills()

    assert [(f.qty, f.price) for f in fills] == parts
    assert len({f.fill_id for f in fills}) == len(parts)
    assert all(f.broker_order_id == order_id for f in fills)
    assert sum(f.qty for f in fills) == broker.orders()[0].filled_qty == 10
    assert server.count("GET", FILL_ACTIVITIES) == 3  # 3 + 3 + 1


def test_replayed_fills_are_counted_once(server, make_broker):
    broker = make_broker(activities_page_size=3)
    parts = [(2, 200.0), (3, 201.0), (5, 202.0)]
    _fill_in_parts(server, broker, parts)
    server.replay_fills()  # every execution reported a second time, on later pages

    fills = broker.fills()

    assert [(f.qty, f.price) for f in fills] == parts
    # Six reports (each execution twice in a row) over pages of three: the second execution's copy opens
    # the second page, so the duplicate spans a page boundary; an empty third page ends the walk.
    assert server.count("GET", FILL_ACTIVITIES) == 3
    assert sum(f.qty for f in fills) == 10


def test_fills_after_an_instant_are_exclusive_to_the_microsecond(server, broker):
    _fill_in_parts(server, broker, [(1, 200.0), (2, 201.0), (3, 202.0)])
    second = broker.fills()[1].filled_at
    assert [f.qty for f in broker.fills(after=second)] == [3]
    assert [f.qty for f in broker.fills(after=second - timedelta(microseconds=1))] == [2, 3]
    sent_after = next(r.query["after"] for r in reversed(server.requests) if r.path == FILL_ACTIVITIES)
    assert sent_after.endswith("Z") and datetime.fromisoformat(sent_after.replace("Z", "+00:00")) < second


def test_a_fill_without_its_own_quantity_is_sized_from_the_cumulative_one(server, broker):
    _fill_in_parts(server, broker, [(3, 200.0), (4, 201.0)])
    for activity in server.activities:
        del activity["qty"]  # only cum_qty (3, then 7) is left
    assert [f.qty for f in broker.fills()] == [3, 4]


# ============================================================================================ secrets, building

CANARY_KEY = "PKCANARY7Q2W9E4R1T6Y"
CANARY_SECRET = "SECRETCANARY3U8I5O0P2A7S"


def _canary_free(text: str) -> bool:
    """No canary, nor any 8-character piece of one, appears in ``text``."""
    pieces = {c[i : i + 8] for c in (CANARY_KEY, CANARY_SECRET) for i in range(len(c) - 7)}
    return not any(piece in text for piece in pieces)


def _alpaca_config(write_config, monkeypatch, body: str, *, key: str | None = CANARY_KEY, secret=CANARY_SECRET):
    from autotrader.settings import load_config

    for name, value in (("ALPACA_API_KEY", key), ("ALPACA_SECRET_KEY", secret)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return load_config(write_config('[broker]\nkind = "alpaca"\n' + body + '[data]\nkind = "local"\npath = "."\n'))


@pytest.mark.slow
def test_canary_keys_never_reach_exceptions_logs_or_reprs(write_config, monkeypatch, caplog, clock):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 included, at its most talkative
    with FakeAlpacaServer(now=START, prices={"AAPL": 200.0}, api_key=CANARY_KEY, secret_key=CANARY_SECRET) as fake:
        config = _alpaca_config(
            write_config, monkeypatch, f'base_url = "{fake.url}"\ntimeout_seconds = {TINY_TIMEOUT}\nmax_retries = 0\n'
        )
        broker = build_alpaca_broker(config, clock)
        seen: list[str] = [repr(broker), str(broker), repr(config.secrets)]
        broker.account()
        broker.submit(market("canary-1"))

        def capture(action: Callable[[], object]) -> None:
            with pytest.raises(Exception) as caught:
                action()
            error = caught.value
            seen.extend([str(error), repr(error), str(getattr(error, "hint", ""))])
            seen.extend(traceback.format_exception(type(error), error, error.__traceback__))

        capture(lambda: broker.submit(market("canary-2", qty=10_000)))  # rejected
        fake.inject("POST", ORDERS, status=504, body="", process_first=True)
        capture(lambda: broker.submit(market("canary-3")))  # ambiguous
        fake.inject("GET", "/v2/positions", status=503, body="down")
        capture(broker.positions)  # temporary
        fake.inject("GET", "/v2/clock", delay=NEVER)
        capture(broker.clock)  # timed out
        fake.api_key = "PKSOMEONEELSE0000000"
        capture(broker.account)  # credentials refused
    seen.append(caplog.text)
    assert caplog.records, "the check must have seen log output to mean anything"
    assert _canary_free("\n".join(seen))


@pytest.mark.parametrize(("missing", "named"), [("key", "ALPACA_API_KEY"), ("secret", "ALPACA_SECRET_KEY")])
def test_a_missing_key_is_a_config_error_naming_the_variable(missing, named, write_config, monkeypatch, clock):
    config = _alpaca_config(
        write_config,
        monkeypatch,
        "",
        key=None if missing == "key" else CANARY_KEY,
        secret=None if missing == "secret" else CANARY_SECRET,
    )
    with pytest.raises(ConfigError) as caught:
        build_alpaca_broker(config, clock)
    assert named in caught.value.message and caught.value.exit_code == 2
    assert _canary_free(str(caught.value) + str(caught.value.hint))


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_the_base_url_comes_from_the_mode(mode, write_config, monkeypatch, clock):
    config = _alpaca_config(write_config, monkeypatch, f'mode = "{mode}"\n')
    built = build_alpaca_broker(config, clock)
    assert built.base_url == BASE_URLS[mode]
    assert built.base_url == {"paper": "https://paper-api.alpaca.markets", "live": "https://api.alpaca.markets"}[mode]
    assert built.time_travel is False


def test_bootstrap_builds_the_alpaca_broker_and_keeps_the_live_guard(write_config, monkeypatch, clock, tmp_path):
    from autotrader.bootstrap import build_deps

    ledger = open_ledger(tmp_path / "boot.db")
    try:
        with FakeAlpacaServer(now=START, api_key=CANARY_KEY, secret_key=CANARY_SECRET) as fake:
            paper = _alpaca_config(write_config, monkeypatch, f'base_url = "{fake.url}"\n')
            deps = build_deps(paper, ledger, clock)
            assert isinstance(deps.broker, AlpacaBroker)
            assert deps.broker.account().cash == 100_000

            live = _alpaca_config(write_config, monkeypatch, f'mode = "live"\nbase_url = "{fake.url}"\n')
            before = len(fake.requests)
            with pytest.raises(SafetyRefusal):
                build_deps(live, ledger, clock)
            assert len(fake.requests) == before  # refused before any request
    finally:
        ledger.close()


def test_the_broker_accepts_secret_strings(server, clock, waits):
    broker = AlpacaBroker(
        api_key=SecretStr(API_KEY),
        secret_key=SecretStr(SECRET_KEY),
        base_url=server.url,
        mode="paper",
        clock=clock,
        sleep=waits,
    )
    assert broker.account().cash == 100_000
    assert API_KEY not in repr(broker)


# =============================================================================================== the fake itself


def test_the_fakes_payloads_satisfy_alpaca_pys_own_models(server, clock, broker):
    """The adapter reads raw JSON; alpaca-py's pydantic models are the check that the fake is faithful."""
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import QueryOrderStatus
    from alpaca.trading.requests import GetCalendarRequest, GetOrdersRequest

    broker.submit(
        market(
            "fidelity-1",
            qty=2,
            order_class=OrderClass.BRACKET,
            take_profit_limit_price=230.0,
            stop_loss_stop_price=180.0,
        )
    )
    move_to(server, clock, START + timedelta(minutes=1))
    strict = TradingClient(API_KEY, SECRET_KEY, url_override=server.url)
    strict._session.trust_env = False  # a proxy from the environment must not stand between it and 127.0.0.1
    assert strict.get_account().status.value == "ACTIVE"
    assert strict.get_all_positions()[0].qty == "2"
    assert strict.get_asset("AAPL").fractionable
    (order,) = strict.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))
    assert len(order.legs) == 2
    assert strict.get_order_by_client_id("fidelity-1").id == order.id
    assert strict.get_clock().is_open
    assert strict.get_calendar(GetCalendarRequest(start=date(2026, 3, 2), end=date(2026, 3, 3)))[0].open.hour == 9
