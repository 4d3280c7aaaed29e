"""Sell signals with ``[exits] on_sell_signal = "exit"``: ``size`` sells the signals book's whole position once.

AAA is a swing trade of 100 shares bought at 50.00 on Monday (stop 45, target 60: an OCO protects it from
Monday's close). On Tuesday a sell signal arrives: at 10:30 ``size`` cancels the OCO, sends one market day sell
of the 100 shares (leg ``signal_exit``), and the simulated broker fills it at Tuesday's close (daily bars only).
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from autotrader.adapters.sim_broker import SimBroker
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.domain.enums import Book, LegKind, Side
from autotrader.domain.models import OrderIntent, Signal
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import size, sync, trades
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway
from autotrader.settings import default_config, load_config
from tests.factories import et, make_deps
from tests.fakes.static_market import COLUMNS, StaticMarketData

MON, TUE = "2026-03-02", "2026-03-03"


def _daily(rows: dict[str, float]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in rows], name="date")
    return pd.DataFrame([[p, p, p, p, 1_000_000.0] for p in rows.values()], index=index, columns=COLUMNS)


@pytest.fixture
def world(tmp_path, migrated_ledger, request):
    mode = getattr(request, "param", "exit")
    clock = SimulatedClock(et(f"{MON} 10:00"))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    market = StaticMarketData(clock, {"AAA": 50.0})
    history = {str(d): 50.0 for d in MarketCalendar.xnys().sessions_between(date(2026, 2, 9), date(2026, 3, 2))}
    market.daily["AAA"] = _daily({**history, TUE: 48.0})
    market.daily["BBB"] = _daily(history)
    broker = SimBroker(ledger, market, MarketCalendar.xnys(), clock, slippage_bps=0.0)
    deps = make_deps(clock, broker=broker, market_data=market)
    if mode == "exit":
        (tmp_path / "config.toml").write_text('[exits]\non_sell_signal = "exit"\n')
        config = load_config(tmp_path / "config.toml")
    else:
        config = default_config(tmp_path)
    log = EventLog(None, run_id="r", command="t", mode="sim")

    def step(command: str, at: str):
        clock.set(et(at))
        ctx = StepContext(command, config, deps, ledger, False, "r", log)
        return ctx if command == "ctx" else {"sync": sync.run, "size": size.run}[command](ctx)

    def signal(side: Side, at: str) -> int:
        s = Signal("AAA", "swing", "finds", et(at), side=side, stop=45.0 if side == Side.BUY else None,
                   target=60.0 if side == Side.BUY else None)  # fmt: skip
        with ledger.write():
            _, (signal_id,) = repo.record_import(
                ledger, content_hash=f"h{at}{side}", origin="test", signals=[s], skipped=[], rows_total=1,
                archive_path=None, run_id="r", now=clock.now(),
            )  # fmt: skip
        return signal_id

    buy = signal(Side.BUY, f"{MON} 09:00")
    entry = OrderIntent.create(
        session_date=MON, step="size", book=Book.SIGNALS, leg=LegKind.ENTRY, symbol="AAA", side=Side.BUY,
        qty=100, key=f"signal:{buy}", signal_id=buy, reason="test",
    )  # fmt: skip
    OrderGateway(ledger, broker, clock, run_id="r", log=log).place([entry])
    with ledger.write():
        repo.record_decision(ledger, signal_id=buy, step="size", outcome="ordered", reason="test", trace=[],
                             client_order_id=entry.client_order_id, run_id="r", now=clock.now())  # fmt: skip
    assert step("sync", f"{MON} 16:05").exit_code == 0  # filled at Monday's close; the OCO is placed
    market.prices["AAA"] = 48.0
    yield step, signal, ledger, broker
    ledger.close()


def _working(broker, symbol="AAA"):
    return [o for o in broker.orders(status="open") if o.symbol == symbol]


def _decision(ledger, signal_id):
    (row,) = ledger.query("SELECT * FROM decisions WHERE signal_id = ? AND step = 'size'", [signal_id])
    return row


def test_a_sell_signal_exits_the_held_position_once_protection_cancelled_first_and_the_broker_ends_flat(world):
    step, signal, ledger, broker = world
    (oco,) = _working(broker)
    assert oco.side == "sell" and oco.order_class == "oco"
    sell = signal(Side.SELL, f"{TUE} 10:00")
    report = step("size", f"{TUE} 10:30")
    assert report.exit_code == 0, report.notes
    (line,) = report.orders
    assert (line.side, line.qty, line.leg) == ("sell", 100, "signal_exit")
    assert (line.type, line.time_in_force) == ("market", "day")
    assert line.reason == "sell signal: exit 100 shares" and "-sx0-" in line.client_order_id
    assert line.trace[0]["name"] == "sell_signal"
    # The OCO holding the shares was cancelled before the sell went out; nothing re-placed for 0 shares left.
    assert [o.order_class for o in _working(broker)] == ["simple"]
    assert broker.order_by_client_id(oco.client_order_id).status == "canceled"
    decision = _decision(ledger, sell)
    assert (decision["outcome"], decision["reason"]) == ("ordered", "sell signal: exit 100 shares")
    assert decision["client_order_id"] == line.client_order_id
    # Reruns and a second sell signal in the same session send nothing new.
    again = signal(Side.SELL, f"{TUE} 10:40")
    rerun = step("size", f"{TUE} 10:45")
    assert rerun.orders == ()
    assert _decision(ledger, again)["outcome"] == "skipped"
    assert "already promised to a working exit" in _decision(ledger, again)["reason"]
    assert step("sync", f"{TUE} 16:05").exit_code == 0
    assert [p for p in broker.positions() if p.symbol == "AAA"] == [] and _working(broker) == []
    assert repo.get_position(ledger, "signals", "AAA").qty == 0
    exits = ledger.query("SELECT * FROM order_intents WHERE leg = 'signal_exit'")
    assert [(r["qty"], r["status"]) for r in exits] == [(100, "filled")]


def test_the_signal_exit_is_a_management_leg_attributed_to_its_action(world):
    step, signal, ledger, broker = world
    signal(Side.SELL, f"{TUE} 10:00")
    step("size", f"{TUE} 10:30")
    step("sync", f"{TUE} 16:05")
    (view,) = trades.load(step("ctx", f"{TUE} 16:10"))
    assert view.trade.exit_reason == "signal_exit" and [f.leg for f in view.trade.legs] == ["signal_exit"]
    # Valued against the pick like every exit: 100 shares sold at 48.00 instead of the pick's exit X.
    (leg,) = view.attribution.legs
    assert leg.action == "signal_exit" and leg.qty == -100 and leg.price == 48.0
    assert set(view.attribution.by_action()) == {"signal_exit"}
    # What the circuit breakers and Kelly sizing read of it, without the market data: the same P&L and category.
    (done,) = trades.closed(step("ctx", f"{TUE} 16:10"))
    assert done.trade.trade_id == view.trade.trade_id and done.category == view.category
    assert done.managed_pnl == pytest.approx(view.attribution.managed_pnl, abs=1e-9)
    cash = sum((-1 if f.side == "buy" else 1) * f.qty * f.price - f.commission for f in view.trade.fills)
    assert done.managed_pnl == pytest.approx(cash, abs=1e-9)  # a closed trade's P&L is its fills' cash


def test_before_the_open_the_exit_waits_undecided(world):
    step, signal, ledger, broker = world
    sell = signal(Side.SELL, f"{TUE} 08:00")
    report = step("size", f"{TUE} 09:00")
    assert report.orders == () and "waits for the trading window" in report.skipped[0].reason
    assert ledger.query("SELECT * FROM decisions WHERE signal_id = ?", [sell]) == []
    assert len(_working(broker)) == 1  # the OCO stays


@pytest.mark.parametrize("world", ["ignore"], indirect=True)
def test_with_ignore_a_sell_signal_of_a_held_symbol_is_skipped_as_before(world):
    step, signal, ledger, broker = world
    sell = signal(Side.SELL, f"{TUE} 10:00")
    report = step("size", f"{TUE} 10:30")
    assert report.orders == ()
    assert _decision(ledger, sell)["reason"].startswith("no short selling: short entries are not supported")
    assert len(_working(broker)) == 1 and repo.get_position(ledger, "signals", "AAA").qty == 100


def test_a_sell_signal_for_a_symbol_not_held_is_skipped(world):
    step, signal, ledger, broker = world
    with ledger.write():
        _, (other,) = repo.record_import(
            ledger, content_hash="bbb", origin="test", signals=[Signal("BBB", "swing", "finds", et(f"{TUE} 10:00"),
            side=Side.SELL)], skipped=[], rows_total=1, archive_path=None, run_id="r", now=et(f"{TUE} 10:00"),
        )  # fmt: skip
    report = step("size", f"{TUE} 10:30")
    assert report.orders == ()
    decision = _decision(ledger, other)
    assert decision["outcome"] == "skipped" and decision["reason"].startswith("no short selling: ")
    assert json.loads(decision["trace_json"])[-1]["name"] == "side"
