"""The ledger's reads of working orders: an order is working until its status is terminal (one we do not know
counts as working), and every such read is served by the partial index ``orders_working`` rather than a scan
of every order the ledger ever recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autotrader.domain.enums import TERMINAL_BROKER_STATUSES, OrderType, Side, TimeInForce
from autotrader.domain.models import BrokerOrder
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _order(n: int, status: str, symbol: str = "AAPL", client: str | None = None) -> BrokerOrder:
    return BrokerOrder(
        broker_order_id=f"b-{n}", client_order_id=client if client is not None else f"c-{n}", symbol=symbol,
        side=Side.SELL, qty=10, type=OrderType.LIMIT, time_in_force=TimeInForce.GTC, status=status,
        limit_price=200.0, submitted_at=NOW + timedelta(minutes=n),
    )  # fmt: skip


def _ledger(tmp_path, orders: list[BrokerOrder]):
    ledger = open_ledger(tmp_path / "l.db")
    with ledger.write():
        for order in orders:
            repo.upsert_order(ledger, order, book="signals", now=NOW)
    return ledger


def test_an_order_works_until_its_status_is_terminal_and_an_unknown_status_still_works(tmp_path):
    terminal = sorted(str(s) for s in TERMINAL_BROKER_STATUSES)
    orders = [_order(i, s) for i, s in enumerate(terminal)]
    orders += [_order(10, "new"), _order(11, "held"), _order(12, "pending_review"), _order(13, "new", "MSFT", "")]
    ledger = _ledger(tmp_path, orders)
    working = repo.working_orders(ledger)
    assert [r["broker_order_id"] for r in working[("signals", "AAPL")]] == ["b-10", "b-11", "b-12"]  # oldest first
    assert [r["broker_order_id"] for r in working[("signals", "MSFT")]] == ["b-13"]
    assert [r["broker_order_id"] for r in repo.open_sell_orders(ledger, "signals", "AAPL")] == ["b-10", "b-11", "b-12"]
    assert {r["broker_order_id"] for r in repo.open_orders_of(ledger, "signals", "AAPL")} == {"b-10", "b-11", "b-12"}
    # An order without our client order id (made outside autotrader) is not one of ours to look up by it.
    assert {r.broker_order_id for r in repo.open_orders_with_client_id(ledger)} == {"b-10", "b-11", "b-12"}
    assert {r["broker_order_id"] for r in repo.orders_listing(ledger, status="open")} == {"b-10", "b-11", "b-12",
                                                                                          "b-13"}  # fmt: skip
    ledger.close()


def test_every_read_of_working_orders_uses_the_partial_index(tmp_path):
    ledger = _ledger(tmp_path, [_order(1, "new"), _order(2, "filled")])
    statements: list[str] = []
    ledger.conn.set_trace_callback(statements.append)
    repo.working_orders(ledger)
    repo.open_sell_orders(ledger, "signals", "AAPL")
    repo.open_orders_of(ledger, "signals", "AAPL")
    repo.open_orders_with_client_id(ledger)
    repo.orders_listing(ledger, status="open")
    ledger.conn.set_trace_callback(None)
    reads = [s for s in statements if "FROM orders" in s]
    assert len(reads) == 5
    for sql in reads:
        plan = " ".join(row[3] for row in ledger.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        # A change to the terminal statuses needs a migration that rebuilds the index with the new list.
        assert "orders_working" in plan, (sql, plan)
    ledger.close()
