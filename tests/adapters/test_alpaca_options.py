"""Options on Alpaca through the real alpaca-py SDK against the loopback fake: a multi-leg order as Alpaca takes
it (no symbol or side, legs with their intents, the net limit signed), its legs' fills listed apart from the
stock fills, a single contract as a plain limit order, an assignment reconciled by sync into the options book, and
a POST whose answer never came resolved by client order id, never sent twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from autotrader.adapters.alpaca_broker import AlpacaBroker
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.domain.enums import Book, LegKind, OptionEventKind, OrderClass, OrderType, PositionIntent, Side
from autotrader.domain.models import OrderIntent, OrderLegRequest, OrderRequest
from autotrader.eventlog import EventLog
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import sync
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway
from autotrader.ports import OptionsBroker
from autotrader.settings import default_config
from tests.factories import et, make_deps
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpacaServer
from tests.fakes.static_market import StaticMarketData

START = et("2026-03-02 10:00")
CAL = MarketCalendar.xnys()
SHORT_PUT, LONG_PUT = "KO260320P00060000", "KO260320P00055000"
BTO, STO = PositionIntent.BUY_TO_OPEN, PositionIntent.SELL_TO_OPEN


@pytest.fixture
def server() -> Iterator[FakeAlpacaServer]:
    with FakeAlpacaServer(now=START, prices={"KO": 62.0}, cash=100_000.0, auto_fill=False) as fake:
        yield fake


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def broker(server, clock) -> AlpacaBroker:
    return AlpacaBroker(api_key=API_KEY, secret_key=SECRET_KEY, base_url=server.url, mode="paper", clock=clock,
                        timeout_seconds=0.5, max_retries=1, sleep=lambda s: None, wall_time=lambda: 1.9e9)  # fmt: skip


def credit_spread(cid: str = "at-cs-1") -> OrderRequest:
    return OrderRequest(cid, "KO", Side.SELL, 2, type=OrderType.LIMIT, limit_price=1.25, order_class=OrderClass.MLEG,
                        legs=(OrderLegRequest(SHORT_PUT, Side.SELL, 1, STO),
                              OrderLegRequest(LONG_PUT, Side.BUY, 1, BTO)))  # fmt: skip


def test_a_multi_leg_order_is_sent_as_alpaca_takes_it_and_its_fills_kept_apart(server, broker):
    assert isinstance(broker, OptionsBroker)
    order = broker.submit(credit_spread())
    (body,) = server.posted_orders()
    assert "symbol" not in body and "side" not in body and body["order_class"] == "mleg"
    assert float(body["limit_price"]) == -1.25  # a credit is a negative net price at Alpaca
    assert [(leg["symbol"], leg["side"], leg["position_intent"], float(leg["ratio_qty"])) for leg in body["legs"]] == [
        (SHORT_PUT, "sell", "sell_to_open", 1.0), (LONG_PUT, "buy", "buy_to_open", 1.0)]  # fmt: skip
    assert (order.side, order.limit_price, order.order_class, order.symbol) == (Side.SELL, 1.25, OrderClass.MLEG, "")
    assert [leg.symbol for leg in order.legs] == [SHORT_PUT, LONG_PUT]
    server.fill_option(order.broker_order_id, {SHORT_PUT: 1.60, LONG_PUT: 0.30})
    filled = broker.order_by_client_id("at-cs-1")
    assert filled.status == "filled" and filled.filled_avg_price == pytest.approx(1.30) and filled.side == Side.SELL
    assert {(f.symbol, f.side, f.qty, f.price) for f in broker.option_fills()} == {
        (SHORT_PUT, Side.SELL, 2, 1.60), (LONG_PUT, Side.BUY, 2, 0.30)}  # fmt: skip
    assert broker.fills() == [] and broker.positions() == []  # the stock side never sees a contract
    assert {p.symbol: p.qty for p in broker.option_positions()} == {SHORT_PUT: -2, LONG_PUT: 2}
    assert [o.client_order_id for o in broker.option_orders()] == ["at-cs-1"]


def test_a_single_contract_is_a_plain_limit_order_on_its_occ_symbol(server, broker):
    """How the wheel's puts and calls and gamma's puts go out: one contract, no legs, never at market."""
    order = broker.submit(OrderRequest("at-g-1", LONG_PUT, Side.BUY, 4, type=OrderType.LIMIT, limit_price=1.10))
    (body,) = server.posted_orders()
    assert (body["symbol"], body["side"], float(body["qty"]), body["type"], body["time_in_force"]) == (
        LONG_PUT, "buy", 4.0, "limit", "day")  # fmt: skip
    assert float(body["limit_price"]) == 1.10 and "legs" not in body and body.get("order_class") in (None, "simple")
    server.fill_option(order.broker_order_id, {LONG_PUT: 1.05})
    assert [(f.symbol, f.side, f.qty, f.price) for f in broker.option_fills()] == [(LONG_PUT, Side.BUY, 4, 1.05)]
    assert broker.fills() == [] and broker.positions() == []
    assert {p.symbol: p.qty for p in broker.option_positions()} == {LONG_PUT: 4}


def test_a_post_whose_answer_never_came_is_found_by_client_order_id(server, broker, clock, tmp_path, migrated_ledger):
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    log = EventLog(None, run_id="r", command="t", mode="paper")
    server.inject("POST", "/v2/orders", process_first=True, delay=2.0)  # taken, then no answer in time
    intent = OrderIntent.create(session_date="2026-03-02", step="test", book=Book.OPTIONS, leg=LegKind.ENTRY,
                                symbol="KO", side=Side.SELL, qty=2, key="s", position_key="s", type=OrderType.LIMIT,
                                limit_price=1.25, order_class=OrderClass.MLEG, legs=credit_spread().legs)  # fmt: skip
    (result,) = OrderGateway(ledger, broker, clock, run_id="r", log=log).place([intent])
    assert result.broker_order_id == server.order_by_cid(intent.client_order_id).id
    again = OrderGateway(ledger, broker, clock, run_id="r2", log=log).place([intent])
    assert not again[0].sent and len(server.posted_orders()) == 1  # one POST, whatever happened to its answer
    ledger.close()


def test_an_assignment_is_reconciled_by_sync_into_the_options_book(server, broker, clock, tmp_path, migrated_ledger):
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    market = StaticMarketData(clock, {"KO": 62.0})
    deps = make_deps(clock, broker=broker, market_data=market, options_broker=broker)
    log = EventLog(None, run_id="r", command="run-daily", mode="paper")
    ctx = StepContext("run-daily", default_config(tmp_path), deps, ledger, False, "r", log)
    row = store.StructureRow("w-1", "test", "cash_secured_put", "KO", ({"symbol": SHORT_PUT, "side": "sell",
                             "ratio": 1},), 1, "opening", None, -1.2, None, None, 120.0, 5880.0, (58.8,), None, None,
                             repo.utc_iso(START), None, None, {})  # fmt: skip
    with ledger.write():
        store.plan_structure(ledger, row)
    intent = OrderIntent.create(session_date="2026-03-02", step="test", book=Book.OPTIONS, leg=LegKind.ENTRY,
                                symbol=SHORT_PUT, side=Side.SELL, qty=1, key="w-1", position_key="w-1",
                                type=OrderType.LIMIT, limit_price=1.20)  # fmt: skip
    (sent,) = OrderGateway(ledger, broker, clock, run_id="r", log=log).place([intent])
    server.fill_option(sent.broker_order_id, {SHORT_PUT: 1.20})
    report = sync.run(ctx)
    assert report.diffs == () and (report.options.new_fills, report.options.opened) == (1, 1)

    expiry = date(2026, 3, 20)
    server.settle_option(SHORT_PUT, "OPASN", expiry)  # KO closed under 60: the put is assigned, 100 shares in
    later = CAL.session_close(expiry) + timedelta(minutes=30)
    server.set_now(later)
    clock.set(later)
    report = sync.run(ctx)
    assert report.exit_code == 0 and report.diffs == ()
    assert (report.options.events, report.options.closed) == (1, 1)
    (event,) = store.option_events(ledger)
    assert (event.kind, event.share_side, event.share_qty, event.share_price) == (
        OptionEventKind.ASSIGNED, Side.BUY, 100, 60.0)  # fmt: skip
    assert repo.get_position(ledger, "options", "KO").qty == 100
    assert {p.symbol: p.qty for p in broker.positions()} == {"KO": 100} and broker.option_positions() == []
    closed = store.get_structure(ledger, "w-1")
    # Without the day's close in the data, the shares come in at the strike: the put keeps its premium.
    assert closed.status == "closed" and closed.realized_pnl == pytest.approx(120.0)
    ledger.close()
