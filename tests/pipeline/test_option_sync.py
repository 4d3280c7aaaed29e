"""The options book through the gateway, the simulated broker and sync: a structure's intents sent exactly once,
its legs' fills recorded once, its result at its close and at expiry (by exercise, assignment and the shares they
deliver), and a contract the ledger and the broker disagree on reported."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from autotrader.adapters.sim_broker import SimBroker
from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.domain.enums import Book, LegKind, OptionRight, OrderClass, OrderType, PositionIntent, Side
from autotrader.domain.models import OrderIntent, OrderLegRequest
from autotrader.domain.options import OptionContract, vertical
from autotrader.eventlog import EventLog
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import sync
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway
from autotrader.policy.option_payoff import profile
from autotrader.settings import default_config
from tests.factories import make_deps

CAL = MarketCalendar.xnys()
DAY = date(2026, 3, 10)
FRIDAY = date(2026, 3, 13)
BTO, STO = PositionIntent.BUY_TO_OPEN, PositionIntent.SELL_TO_OPEN
STC, BTC = PositionIntent.SELL_TO_CLOSE, PositionIntent.BUY_TO_CLOSE


@pytest.fixture
def book(tmp_path, migrated_ledger):
    clock = SimulatedClock(CAL.at_et(DAY, "11:00"))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    market = SyntheticMarketData(clock, CAL)
    broker = SimBroker(ledger, market, CAL, clock, starting_cash=100_000.0)
    deps = make_deps(clock, broker=broker, market_data=market, options_broker=broker)
    log = EventLog(None, run_id="r", command="run-daily", mode="sim")
    ctx = StepContext("run-daily", default_config(tmp_path), deps, ledger, False, "r", log)
    gateway = OrderGateway(ledger, broker, clock, run_id="r", log=log)
    yield ctx, gateway, market, clock
    ledger.close()


def strikes(market, expiry: date, right: OptionRight, *offsets: int) -> list[OptionContract]:
    chain = market.option_chain("KO", expiry, expiry)
    spot = chain[0].underlying_price
    grid = sorted({q.contract.strike for q in chain})
    atm = min(range(len(grid)), key=lambda i: abs(grid[i] - spot))
    return [OptionContract("KO", expiry, right, grid[atm + k]) for k in offsets]


def open_spread(ctx, gateway, market, long, short, units=2, sid="s-1"):
    """Plan a debit spread and send its opening order at the natural price (it fills at once)."""
    q = market.option_quotes([long, short])
    natural = round(q[long.symbol].ask - q[short.symbol].bid, 2)
    shape = profile(vertical(long, short), natural)
    row = store.StructureRow(
        sid, "test", "vertical", "KO", ({"symbol": long.symbol, "side": "buy", "ratio": 1},
                                        {"symbol": short.symbol, "side": "sell", "ratio": 1}), units, "opening",
        None, natural, None, None, shape.max_profit, shape.max_loss, shape.breakevens, None, None,
        repo.utc_iso(ctx.now), None, None, {})  # fmt: skip
    with ctx.ledger.write():
        assert store.plan_structure(ctx.ledger, row)
    intent = order(ctx, LegKind.ENTRY, Side.BUY, natural, units, sid,
                   (OrderLegRequest(long.symbol, Side.BUY, 1, BTO), OrderLegRequest(short.symbol, Side.SELL, 1, STO)))
    (result,) = gateway.place([intent])
    assert result.sent, result
    return intent, natural


def order(ctx, leg, side, limit, units, sid, legs):
    return OrderIntent.create(
        session_date=ctx.session_date, step="test", book=Book.OPTIONS, leg=leg, symbol="KO", side=side, qty=units,
        key=sid, position_key=sid, reason=str(leg), type=OrderType.LIMIT, limit_price=limit,
        order_class=OrderClass.MLEG, legs=legs,
    )  # fmt: skip


def test_a_structure_opens_and_closes_through_the_book(book):
    ctx, gateway, market, clock = book
    long, short = strikes(market, date(2026, 4, 17), OptionRight.CALL, 0, 2)
    intent, natural = open_spread(ctx, gateway, market, long, short)
    # A second place of the same decision sends nothing.
    assert not any(r.sent for r in gateway.place([intent]))
    report = sync.run(ctx)
    assert report.exit_code == 0 and report.diffs == ()
    assert (report.options.new_fills, report.options.opened, report.options.open_structures) == (2, 1, 1)
    opened = store.get_structure(ctx.ledger, "s-1")
    assert opened.status == "open" and opened.open_net == pytest.approx(natural)
    assert store.option_holdings(ctx.ledger) == {long.symbol: 2, short.symbol: -2}
    again = sync.run(ctx)
    assert (again.options.new_fills, again.options.opened) == (0, 0)  # recorded once

    clock.set(CAL.at_et(DAY, "14:00"))
    q = market.option_quotes([long, short])
    credit = round(q[long.symbol].bid - q[short.symbol].ask, 2)
    close = order(ctx, LegKind.PROFIT_TAKE, Side.SELL, credit, 2, "s-1",
                  (OrderLegRequest(long.symbol, Side.SELL, 1, STC), OrderLegRequest(short.symbol, Side.BUY, 1, BTC)))
    (sent,) = gateway.place([close])
    assert sent.sent
    report = sync.run(ctx)
    closed = store.get_structure(ctx.ledger, "s-1")
    assert report.options.closed == 1 and closed.status == "closed" and closed.close_reason == "profit_take"
    fills = store.option_fills(ctx.ledger, structure_id="s-1")
    paid = sum((1 if f.side == "buy" else -1) * f.qty * f.price * 100 for f in fills)
    assert closed.realized_pnl == pytest.approx(-paid, abs=0.01)
    assert store.option_holdings(ctx.ledger) == {} and report.diffs == ()


def test_a_spread_in_the_money_at_expiry_closes_with_its_width(book):
    ctx, gateway, market, clock = book
    long, short = strikes(market, FRIDAY, OptionRight.CALL, -6, -4)
    _, natural = open_spread(ctx, gateway, market, long, short, units=1)
    sync.run(ctx)
    clock.set(CAL.session_close(FRIDAY) + timedelta(minutes=20))
    report = sync.run(ctx)
    assert report.exit_code == 0 and report.diffs == ()
    assert (report.options.events, report.options.closed) == (2, 1)
    closed = store.get_structure(ctx.ledger, "s-1")
    width = short.strike - long.strike
    assert closed.close_reason == "expiry: assigned, exercised"
    fills = store.option_fills(ctx.ledger, structure_id="s-1")
    paid = sum((1 if f.side == "buy" else -1) * f.qty * f.price for f in fills)
    assert closed.realized_pnl == pytest.approx((width - paid) * 100, abs=0.01)
    # The shares in at the long strike and out at the short one net to nothing, in the ledger as at the broker.
    assert repo.get_position(ctx.ledger, "options", "KO").qty == 0
    assert ctx.deps.broker.positions() == []


def test_an_assigned_put_delivers_shares_into_the_options_book(book):
    ctx, gateway, market, clock = book
    (put,) = strikes(market, FRIDAY, OptionRight.PUT, 6)  # above the price: in the money at Friday's close
    bid = market.option_quotes([put])[put.symbol].bid
    row = store.StructureRow("w-1", "test", "cash_secured_put", "KO", ({"symbol": put.symbol, "side": "sell",
                             "ratio": 1},), 1, "opening", None, -bid, None, None, None, None, (), None, None,
                             repo.utc_iso(ctx.now), None, None, {})  # fmt: skip
    with ctx.ledger.write():
        store.plan_structure(ctx.ledger, row)
    sell = OrderIntent.create(session_date=ctx.session_date, step="test", book=Book.OPTIONS, leg=LegKind.ENTRY,
                              symbol=put.symbol, side=Side.SELL, qty=1, key="w-1", position_key="w-1",
                              type=OrderType.LIMIT, limit_price=bid)  # fmt: skip
    assert gateway.place([sell])[0].sent
    sync.run(ctx)
    clock.set(CAL.session_close(FRIDAY) + timedelta(minutes=20))
    report = sync.run(ctx)
    assert report.exit_code == 0 and report.diffs == ()
    close = float(market.daily_bars("KO", FRIDAY, FRIDAY)["close"].iloc[-1])
    held = repo.get_position(ctx.ledger, "options", "KO")
    assert (held.qty, held.avg_cost) == (100, pytest.approx(close))  # at the day's close (the broker: the strike)
    assert {p.symbol: p.qty for p in ctx.deps.broker.positions()} == {"KO": 100}
    structure = store.get_structure(ctx.ledger, "w-1")
    assert structure.status == "closed" and structure.close_reason == "expiry: assigned"
    # The premium less what the put was worth at the close.
    assert structure.realized_pnl == pytest.approx((bid - (put.strike - close)) * 100, abs=0.01)


def test_a_contract_the_ledger_and_the_broker_disagree_on_is_a_difference(book):
    ctx, gateway, market, _ = book
    long, short = strikes(market, date(2026, 4, 17), OptionRight.CALL, 0, 2)
    open_spread(ctx, gateway, market, long, short)
    sync.run(ctx)
    with ctx.ledger.write():
        ctx.ledger.conn.execute("DELETE FROM option_fills WHERE symbol = ?", (short.symbol,))
        ctx.ledger.conn.execute("INSERT INTO kv (key, value, updated_at) VALUES ('x', 'y', 'z')")
    # The deleted fill is listed again (from the last recorded, less the overlap) and recorded once more: to make
    # the difference stick, the broker's list is read from after it.
    ctx.deps.options_broker.option_fills = lambda after=None: []  # type: ignore[method-assign]
    report = sync.run(ctx)
    assert report.exit_code == 3
    (diff,) = [d for d in report.diffs if d.kind == "option_position_mismatch"]
    assert (diff.symbol, diff.ledger_qty, diff.broker_qty) == (short.symbol, 0, -2)
