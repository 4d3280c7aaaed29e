"""The fast replay decides exactly as the full one: the same orders, fills, evening snapshots and final equity,
and the same signal outcomes once the replay's end has refreshed them (only when they were computed differs)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

START, END = date(2026, 2, 2), date(2026, 2, 6)


def _replay(folder: Path, *, full: bool, before_slot=None, end: date = END) -> tuple[float, dict[str, list[tuple]]]:
    from autotrader.pipeline import replay
    from autotrader.pipeline.demo import create_workspace

    create_workspace(folder)
    body = lambda ctx: replay.run(ctx, START, end, full=full, before_slot=before_slot)  # noqa: E731
    outcome = replay.invoke_replay("replay", body, config_path=str(folder / "config.toml"), as_of=None)
    assert outcome.report is not None and outcome.report.exit_code == 0, outcome.error
    return outcome.report.final_equity, _ledger(folder / "ledger-replay.db")


def _ledger(path: Path) -> dict[str, list[tuple]]:
    """What the replay decided and what came of it, without the columns that say when a row was written (wall
    time or a run's random id): orders by their deterministic client order id, fills by their order's."""
    db = sqlite3.connect(path)

    def columns(table: str, *without: str) -> str:
        return ", ".join(r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[1] not in without)

    try:
        return {
            "orders": db.execute(
                "SELECT client_order_id, book, symbol, side, qty, type, time_in_force, order_class, limit_price, "
                "stop_price, status, filled_qty, filled_avg_price, submitted_at, updated_at FROM orders "
                "ORDER BY client_order_id, submitted_at"
            ).fetchall(),
            "fills": db.execute(
                "SELECT o.client_order_id, f.symbol, f.side, f.qty, f.price, f.commission, f.filled_at FROM fills f "
                "JOIN orders o USING (broker_order_id) ORDER BY 1, f.filled_at, f.qty, f.price"
            ).fetchall(),
            "positions": db.execute(f"SELECT {columns('positions')} FROM positions ORDER BY book, symbol").fetchall(),
            "snapshots": db.execute("SELECT * FROM snapshots ORDER BY 1").fetchall(),
            "decisions": db.execute(
                "SELECT signal_id, step, outcome, reason FROM decisions ORDER BY signal_id, step"
            ).fetchall(),
            "outcomes": db.execute(
                f"SELECT {columns('signal_outcomes', 'computed_at')} FROM signal_outcomes ORDER BY signal_id, horizon"
            ).fetchall(),
            "rule_exits": db.execute(
                f"SELECT {columns('signal_rule_exits', 'computed_at')} FROM signal_rule_exits ORDER BY signal_id"
            ).fetchall(),
        }
    finally:
        db.close()


@pytest.mark.slow  # the same five sessions replayed twice
def test_the_fast_replay_places_the_same_orders_and_ends_at_the_same_equity(tmp_path):
    fast_equity, fast = _replay(tmp_path / "fast", full=False)
    full_equity, full = _replay(tmp_path / "full", full=True)
    assert fast["orders"] and fast["fills"] and fast["outcomes"]  # the window trades and scores something
    assert fast_equity == full_equity
    for table, rows in full.items():
        assert fast[table] == rows, table


def _rest_orders(ctx, slot: int) -> None:
    """At 10:00 on the first session buy 100 shares of eight symbols; at 10:30 rest a good-till-cancelled sell
    limit 2 % above each (some fill as the days go by, the others rest), and a far one that never fills."""
    from autotrader.domain.enums import Book, LegKind, OrderType, Side, TimeInForce
    from autotrader.domain.ids import client_order_id
    from autotrader.domain.models import OrderIntent, OrderRequest
    from autotrader.pipeline.gateway import OrderGateway

    buy_at, rest_at = ctx.deps.calendar.at_et(START, "10:00"), ctx.deps.calendar.at_et(START, "10:30")
    if ctx.now not in (buy_at, rest_at):
        return
    session, intents = START.isoformat(), []
    for symbol in ("AAPL", "MSFT", "NVDA", "AMZN", "META", "GOOGL", "JPM", "XOM"):
        if ctx.now == buy_at:
            legs = [(LegKind.ENTRY, Side.BUY, 100, OrderType.MARKET, TimeInForce.DAY, None)]
        else:
            last = ctx.deps.market_data.latest_quote(symbol).last
            legs = [(LegKind.TARGET, Side.SELL, 50, OrderType.LIMIT, TimeInForce.GTC, round(last * 1.02, 2)),
                    (LegKind.PROFIT_TAKE, Side.SELL, 50, OrderType.LIMIT, TimeInForce.GTC, 99999.0)]  # fmt: skip
        for leg, side, qty, kind, tif, price in legs:
            cid = client_order_id(session_date=session, step="test", book="signals", symbol=symbol, leg=str(leg))
            request = OrderRequest(cid, symbol, side, qty, kind, tif, limit_price=price)
            intents.append(OrderIntent(cid, session, "test", Book.SIGNALS, leg, 0, request, reason="resting orders"))
    OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log).place(intents)


@pytest.mark.slow  # three sessions replayed twice
def test_with_orders_resting_for_days_the_fast_replay_reads_only_changes_and_decides_alike(tmp_path):
    """Sixteen good-till-cancelled limits rest beside the demo's own orders: the fast replay's syncs read only the
    orders the simulated broker changed, the full one's list them all, and both reconcile the same fills."""
    end = date(2026, 2, 4)
    fast_equity, fast = _replay(tmp_path / "fast", full=False, before_slot=_rest_orders, end=end)
    full_equity, full = _replay(tmp_path / "full", full=True, before_slot=_rest_orders, end=end)
    resting = [row for row in fast["orders"] if row[5] == "limit" and row[6] == "gtc" and row[4] == 50]
    statuses = [row[10] for row in resting]
    # Sixteen limits: the far ones all still rest, and some of those 2 % above filled on the way.
    assert len(resting) == 16 and statuses.count("new") >= 8 and "filled" in statuses
    assert fast_equity == full_equity
    for table, rows in full.items():
        assert fast[table] == rows, table
