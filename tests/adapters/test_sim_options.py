"""The simulated broker's options desk over the synthetic world's chains: fills against the simulated bid and ask,
day orders expiring at the close, the refusals an options account makes (never a naked call, never more than the
cash covers), and expiry: exercise, assignment, netted deliveries and cash settlement."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date, timedelta

import pytest

from autotrader.adapters.sim_broker import SimBroker
from autotrader.adapters.sim_options import collateral
from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.domain.enums import (
    OptionEventKind,
    OptionRight,
    OrderClass,
    OrderType,
    PositionIntent,
    RejectReason,
    Side,
)
from autotrader.domain.models import OrderLegRequest, OrderRequest
from autotrader.domain.options import OptionContract
from autotrader.errors import DuplicateClientOrderId, OrderRejected
from autotrader.ledger.db import open_ledger
from autotrader.ports import OptionsBroker

CAL = MarketCalendar.xnys()
DAY = date(2026, 3, 10)
AT = CAL.at_et(DAY, "11:00")
FRIDAY = date(2026, 3, 13)  # the nearest weekly expiry
APRIL = date(2026, 4, 17)
CALL, PUT = OptionRight.CALL, OptionRight.PUT
BTO, STO, STC = PositionIntent.BUY_TO_OPEN, PositionIntent.SELL_TO_OPEN, PositionIntent.SELL_TO_CLOSE


@pytest.fixture
def desk(tmp_path, migrated_ledger):
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    clock = SimulatedClock(AT)
    market = SyntheticMarketData(clock, CAL)
    broker = SimBroker(ledger, market, CAL, clock, starting_cash=100_000.0)
    yield broker, market, clock
    ledger.close()


def contract(market: SyntheticMarketData, right: OptionRight, offset: float, expiry: date = APRIL) -> OptionContract:
    """The listed contract ``offset`` strikes from the money (positive: above the price)."""
    chain = market.option_chain("KO", expiry, expiry)
    spot = chain[0].underlying_price
    strikes = sorted({q.contract.strike for q in chain})
    atm = min(range(len(strikes)), key=lambda i: abs(strikes[i] - spot))
    return OptionContract("KO", expiry, right, strikes[atm + int(offset)])


def spread_request(cid: str, long: OptionContract, short: OptionContract, limit: float, qty: int = 2) -> OrderRequest:
    return OrderRequest(cid, "KO", Side.BUY, qty, type=OrderType.LIMIT, limit_price=limit, order_class=OrderClass.MLEG,
                        legs=(OrderLegRequest(long.symbol, Side.BUY, 1, BTO),
                              OrderLegRequest(short.symbol, Side.SELL, 1, STO)))  # fmt: skip


def single(cid: str, c: OptionContract, side: Side, limit: float, qty: int = 1) -> OrderRequest:
    return OrderRequest(cid, c.symbol, side, qty, type=OrderType.LIMIT, limit_price=limit)


def test_a_marketable_debit_spread_fills_at_once_at_the_natural_price(desk):
    broker, market, _ = desk
    assert isinstance(broker, OptionsBroker)
    long, short = contract(market, CALL, 0), contract(market, CALL, 2)
    quotes = market.option_quotes([long, short])
    natural = quotes[long.symbol].ask - quotes[short.symbol].bid
    order = broker.submit(spread_request("t-1", long, short, round(natural + 0.05, 2)))
    assert order.status == "filled" and order.order_class == OrderClass.MLEG and order.symbol == "KO"
    assert [(leg.symbol, leg.side, leg.qty) for leg in order.legs] == [(long.symbol, Side.BUY, 2),
                                                                      (short.symbol, Side.SELL, 2)]  # fmt: skip
    fills = broker.option_fills()
    assert [(f.symbol, f.side, f.qty, f.price) for f in fills] == [
        (long.symbol, Side.BUY, 2, quotes[long.symbol].ask),
        (short.symbol, Side.SELL, 2, quotes[short.symbol].bid),
    ]
    assert order.filled_avg_price == pytest.approx(natural)
    positions = {p.symbol: p.qty for p in broker.option_positions()}
    assert positions == {long.symbol: 2, short.symbol: -2}
    account = broker.account()
    assert account.cash == pytest.approx(100_000.0 - natural * 100 * 2)
    marks = (quotes[long.symbol].mid - quotes[short.symbol].mid) * 100 * 2
    assert account.equity == pytest.approx(account.cash + marks)
    assert broker.positions() == []  # the stock side never sees a contract
    assert broker.order_by_client_id("t-1") == order and order.broker_order_id == "sim-oo-00000001"


def test_a_limit_short_of_the_fill_point_rests_then_expires_at_the_close(desk):
    broker, market, clock = desk
    long, short = contract(market, CALL, 0), contract(market, CALL, 2)
    q = market.option_quotes([long, short])
    mid = q[long.symbol].mid - q[short.symbol].mid
    natural = q[long.symbol].ask - q[short.symbol].bid
    point = mid + (natural - mid) * 0.5
    rests = broker.submit(spread_request("t-1", long, short, round(point - 0.02, 2)))
    assert rests.status == "accepted" and broker.option_fills() == []
    assert broker.account().buying_power == pytest.approx(100_000.0 - round(point - 0.02, 2) * 200)
    at_point = broker.submit(spread_request("t-2", long, short, round(point + 0.005, 2)))
    assert at_point.status == "filled" and at_point.filled_avg_price == pytest.approx(round(point + 0.005, 2),
                                                                                     abs=0.011)  # fmt: skip
    clock.set(CAL.session_close(DAY) + timedelta(minutes=5))
    expired = broker.order_by_client_id("t-1")
    assert expired.status == "expired" and expired.updated_at == CAL.session_close(DAY)
    assert [o.client_order_id for o in broker.option_orders(status="open")] == []


@pytest.mark.parametrize(
    ("build", "reason", "words"),
    [
        (
            lambda m: single("n-1", contract(m, CALL, 3), Side.SELL, 0.5),
            RejectReason.SHORTING_NOT_ALLOWED,
            "a short call no long call or 100 shares",
        ),
        (
            lambda m: single("n-2", contract(m, PUT, -1), Side.SELL, 0.5, qty=7),
            RejectReason.INSUFFICIENT_BUYING_POWER,
            "options buying power",
        ),
        (
            lambda m: single("n-3", OptionContract("KO", date(2026, 3, 6), CALL, 160.0), Side.BUY, 1.0),
            RejectReason.NOT_TRADABLE,
            "has expired",
        ),
        (
            lambda m: single("n-4", OptionContract("KO", date(2026, 4, 3), CALL, 160.0), Side.BUY, 1.0),
            RejectReason.NOT_TRADABLE,
            "has expired",
        ),  # Good Friday: no session, no expiry
        (
            lambda m: OrderRequest(
                "n-5",
                contract(m, CALL, 0).symbol,
                Side.SELL,
                1,
                type=OrderType.LIMIT,
                limit_price=1.0,
                order_class=OrderClass.MLEG,
                legs=(
                    OrderLegRequest(contract(m, CALL, 0).symbol, Side.SELL, 1, STC),
                    OrderLegRequest(contract(m, CALL, 1).symbol, Side.BUY, 1, BTO),
                ),
            ),
            RejectReason.INSUFFICIENT_QTY,
            "selling 1 to close, 0 held",
        ),
    ],
)
def test_what_an_options_account_refuses(desk, build, reason, words):
    broker, market, _ = desk
    with pytest.raises(OrderRejected, match=words) as refused:
        broker.submit(build(market))
    assert refused.value.reason == reason
    assert broker.option_orders() == [] and broker.account().cash == 100_000.0


def test_an_option_order_is_a_day_limit_order_in_whole_contracts():
    legs = (OrderLegRequest("KO260417C00160000", Side.BUY, 1, BTO), OrderLegRequest("KO260417C00165000", Side.SELL,
                                                                                     1, STO))  # fmt: skip
    with pytest.raises(ValueError, match="never market"):
        OrderRequest("x", "KO260417C00160000", Side.BUY, 1)
    with pytest.raises(ValueError, match="a day order"):
        OrderRequest("x", "KO260417C00160000", Side.BUY, 1, type=OrderType.LIMIT, limit_price=1.0,
                     time_in_force="gtc")  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(ValueError, match="whole contracts"):
        OrderRequest("x", "KO260417C00160000", Side.BUY, 1.5, type=OrderType.LIMIT, limit_price=1.0)
    with pytest.raises(ValueError, match="two or more legs"):
        OrderRequest("x", "KO", Side.BUY, 1, type=OrderType.LIMIT, limit_price=1.0, order_class=OrderClass.MLEG,
                     legs=legs[:1])  # fmt: skip
    with pytest.raises(ValueError, match="contradicts"):
        OrderLegRequest("KO260417C00160000", Side.SELL, 1, BTO)
    with pytest.raises(ValueError, match="limit_price must be > 0"):
        OrderRequest("x", "KO", Side.SELL, 1, type=OrderType.LIMIT, limit_price=-1.25, order_class=OrderClass.MLEG,
                     legs=legs[::-1])  # fmt: skip
    credit = OrderRequest("x", "KO", Side.SELL, 1, type=OrderType.LIMIT, limit_price=1.25,
                          order_class=OrderClass.MLEG, legs=legs[::-1])  # fmt: skip
    assert credit.is_option  # a net credit: sold, at least 1.25 a share received


def test_a_cash_secured_put_holds_its_strike_and_a_covered_call_its_shares(desk):
    broker, market, clock = desk
    put = contract(market, PUT, -2)
    q = market.option_quotes([put])[put.symbol]
    order = broker.submit(single("p-1", put, Side.SELL, q.bid, qty=2))
    assert order.status == "filled" and {p.symbol: p.qty for p in broker.option_positions()} == {put.symbol: -2}
    account = broker.account()
    assert account.cash == pytest.approx(100_000.0 + q.bid * 200)
    assert account.buying_power == pytest.approx(account.cash - put.strike * 200)  # the strike x 100 x 2 held
    # 100 shares make one short call covered; a second call is naked.
    buy = OrderRequest("s-1", "KO", Side.BUY, 100)
    broker.submit(buy)
    clock.set(AT + timedelta(minutes=3))
    assert {p.symbol: p.qty for p in broker.positions()} == {"KO": 100}
    call = contract(market, CALL, 3)
    bid = market.option_quotes([call])[call.symbol].bid
    assert broker.submit(single("c-1", call, Side.SELL, bid)).status == "filled"
    with pytest.raises(OrderRejected, match="a short call no long call"):
        broker.submit(single("c-2", call, Side.SELL, bid))


def test_the_collateral_pairs_spreads_and_counts_unpaired_shorts():
    p = {"KO260417P00150000": -2, "KO260417P00145000": 1, "KO260417C00170000": -1, "KO260417C00175000": 1}
    # One put spread (5 wide), one bare put (150 x 100), one call spread (5 wide).
    assert collateral(p, shares=0) == 500 + 15_000 + 500
    assert collateral({"KO260417C00170000": -2}, shares=100) is None
    assert collateral({"KO260417C00170000": -2}, shares=200) == 0.0
    assert collateral({"KO260417C00170000": -2}, shares=100, strict=False) == 17_000.0


def test_a_duplicate_client_order_id_is_refused_and_a_cancel_ends_a_working_order(desk):
    broker, market, _ = desk
    long, short = contract(market, CALL, 0), contract(market, CALL, 2)
    working = broker.submit(spread_request("d-1", long, short, 0.05))
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(spread_request("d-1", long, short, 0.05))
    broker.cancel(working.broker_order_id)
    assert broker.order_by_client_id("d-1").status == "canceled"
    assert broker.account().buying_power == pytest.approx(100_000.0)


def _expire(broker, clock, market, orders):
    """Fill ``orders`` now, then move past Friday's close; the desk's expiry events."""
    for request in orders:
        assert broker.submit(request).status == "filled", request.client_order_id
    clock.set(CAL.session_close(FRIDAY) + timedelta(minutes=10))
    broker.account()
    return {e.symbol: e for e in broker.option_events()}


def _friday_close(market) -> float:
    return float(market.daily_bars("KO", FRIDAY, FRIDAY)["close"].iloc[-1])


def test_expiry_exercises_assigns_and_expires(desk):
    broker, market, clock = desk
    itm_call = contract(market, CALL, -6, FRIDAY)  # far below the price: in the money at Friday's close
    otm_put = contract(market, PUT, -2, FRIDAY)  # a few cents of premium, out of the money by Friday
    q = market.option_quotes([itm_call, otm_put])
    events = _expire(broker, clock, market, [single("e-1", itm_call, Side.BUY, q[itm_call.symbol].ask),
                                             single("e-2", otm_put, Side.SELL, q[otm_put.symbol].bid)])  # fmt: skip
    close = _friday_close(market)
    assert itm_call.strike < close and otm_put.strike < close
    exercised, expired = events[itm_call.symbol], events[otm_put.symbol]
    assert (exercised.kind, exercised.share_side, exercised.share_qty, exercised.share_price) == (
        OptionEventKind.EXERCISED,
        Side.BUY,
        100,
        itm_call.strike,
    )
    assert expired.kind == OptionEventKind.EXPIRED and exercised.at == CAL.session_close(FRIDAY)
    assert broker.option_positions() == []
    assert {p.symbol: (p.qty, p.avg_entry_price) for p in broker.positions()} == {"KO": (100, itm_call.strike)}
    paid = q[itm_call.symbol].ask * 100 - q[otm_put.symbol].bid * 100 + itm_call.strike * 100
    assert broker.account().cash == pytest.approx(100_000.0 - paid)


def test_a_spread_in_the_money_at_expiry_nets_to_cash(desk):
    broker, market, clock = desk
    long, short = contract(market, CALL, -6, FRIDAY), contract(market, CALL, -4, FRIDAY)
    q = market.option_quotes([long, short])
    natural = q[long.symbol].ask - q[short.symbol].bid
    events = _expire(broker, clock, market, [spread_request("x-1", long, short, round(natural, 2), qty=1)])
    assert (
        events[long.symbol].kind == OptionEventKind.EXERCISED and events[short.symbol].kind == OptionEventKind.ASSIGNED
    )
    assert broker.positions() == [] and broker.option_positions() == []
    width = short.strike - long.strike
    assert broker.account().cash == pytest.approx(100_000.0 - natural * 100 + width * 100)


def test_a_long_put_in_the_money_without_shares_settles_in_cash(desk):
    broker, market, clock = desk
    put = contract(market, PUT, 6, FRIDAY)
    ask = market.option_quotes([put])[put.symbol].ask
    events = _expire(broker, clock, market, [single("x-2", put, Side.BUY, ask)])
    intrinsic = put.strike - _friday_close(market)
    settled = events[put.symbol]
    assert settled.kind == OptionEventKind.CASH_SETTLED and settled.cash == pytest.approx(intrinsic * 100)
    assert broker.positions() == []  # never short the stock
    assert broker.account().cash == pytest.approx(100_000.0 - ask * 100 + intrinsic * 100)


def test_a_credit_spread_is_sold_at_a_net_credit_and_holds_its_width(desk):
    broker, market, _ = desk
    short, long = contract(market, PUT, -1), contract(market, PUT, -3)
    q = market.option_quotes([short, long])
    natural = q[short.symbol].bid - q[long.symbol].ask  # the credit paying the ask, receiving the bid
    request = OrderRequest("cr-1", "KO", Side.SELL, 3, type=OrderType.LIMIT, limit_price=round(natural, 2),
                           order_class=OrderClass.MLEG,
                           legs=(OrderLegRequest(short.symbol, Side.SELL, 1, STO),
                                 OrderLegRequest(long.symbol, Side.BUY, 1, BTO)))  # fmt: skip
    order = broker.submit(request)
    assert order.status == "filled" and order.side == Side.SELL
    assert order.filled_avg_price == pytest.approx(natural, abs=0.011)  # a credit of at least the limit
    account = broker.account()
    assert account.cash == pytest.approx(100_000.0 + order.filled_avg_price * 300)
    assert account.buying_power == pytest.approx(account.cash - (short.strike - long.strike) * 300)
    # Asking more credit than the fill point rests.
    greedy = replace(request, client_order_id="cr-2", limit_price=round(q[short.symbol].mid - q[long.symbol].mid
                                                                        + 0.05, 2))  # fmt: skip
    assert broker.submit(greedy).status == "accepted"


def test_an_order_that_takes_risk_off_is_taken_even_when_buying_power_has_run_out(desk, tmp_path):
    """A credit spread holds its width; with the account's cash later spent below that (here set directly),
    opening more is refused, but buying the spread back, whose released width pays its debit, is not."""
    broker, market, _ = desk
    short, long = contract(market, PUT, -1), contract(market, PUT, -3)
    q = market.option_quotes([short, long])
    credit = round(q[short.symbol].bid - q[long.symbol].ask, 2)
    legs = (OrderLegRequest(short.symbol, Side.SELL, 1, STO), OrderLegRequest(long.symbol, Side.BUY, 1, BTO))
    sold = broker.submit(OrderRequest("cr-1", "KO", Side.SELL, 3, type=OrderType.LIMIT, limit_price=credit,
                                      order_class=OrderClass.MLEG, legs=legs))  # fmt: skip
    assert sold.status == "filled"
    with sqlite3.connect(tmp_path / "ledger.db") as db:  # the cash spent elsewhere, as another process would
        db.execute("UPDATE sim_account SET cash = 100 WHERE id = 1")
    more = OrderRequest("cr-2", "KO", Side.SELL, 1, type=OrderType.LIMIT, limit_price=credit,
                        order_class=OrderClass.MLEG, legs=legs)  # fmt: skip
    with pytest.raises(OrderRejected, match="options buying power"):
        broker.submit(more)
    back = market.option_quotes([short, long])
    debit = round(back[short.symbol].ask - back[long.symbol].bid, 2)
    closing = (OrderLegRequest(short.symbol, Side.BUY, 1, PositionIntent.BUY_TO_CLOSE),
               OrderLegRequest(long.symbol, Side.SELL, 1, STC))
    assert debit * 100 < (short.strike - long.strike) * 100  # what it frees is more than it costs
    done = broker.submit(OrderRequest("cl-1", "KO", Side.BUY, 3, type=OrderType.LIMIT, limit_price=debit,
                                      order_class=OrderClass.MLEG, legs=closing))  # fmt: skip
    assert done.status == "filled" and broker.option_positions() == []
