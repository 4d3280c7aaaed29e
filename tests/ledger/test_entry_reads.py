"""The reads position management makes of an entry and of its orders: typed rows, ``extra`` decoded once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from autotrader.domain.enums import OrderClass, OrderType, Side, TimeInForce
from autotrader.domain.models import BrokerOrder
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from tests.factories import make_intent

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_entry_levels_prefer_the_bracket_legs_then_the_levels_to_attach(tmp_path):
    ledger = open_ledger(tmp_path / "l.db")
    bracket = make_intent(at=NOW, symbol="AAPL")
    bracket = replace(
        bracket,
        request=replace(bracket.request, order_class=OrderClass.BRACKET, stop_loss_stop_price=95.0,
                        take_profit_limit_price=120.0),
        extra={"attach_stop_loss": 90.0},
    )  # fmt: skip
    opg = replace(make_intent(at=NOW, symbol="MSFT"), extra={"attach_stop_loss": 90.0, "attach_take_profit": 130.0})
    plain = make_intent(at=NOW, symbol="NVDA")
    with ledger.write():
        for intent in (bracket, opg, plain):
            repo.insert_intent(ledger, intent, run_id="r", now=NOW)
    assert repo.entry_levels(ledger, bracket.client_order_id) == repo.EntryLevels(stop=95.0, target=120.0)
    assert repo.entry_levels(ledger, opg.client_order_id) == repo.EntryLevels(stop=90.0, target=130.0)
    assert repo.entry_levels(ledger, plain.client_order_id) == repo.EntryLevels(stop=None, target=None)
    assert repo.entry_levels(ledger, "at-unknown") is None
    assert repo.intent_extra(repo.get_intent(ledger, opg.client_order_id)) == opg.extra
    assert repo.intent_extra(repo.get_intent(ledger, plain.client_order_id)) == {}
    assert repo.entry_signal(ledger, 1) is None
    ledger.close()


def test_client_order_ids_of_the_orders_the_ledger_has(tmp_path):
    ledger = open_ledger(tmp_path / "l.db")
    order = BrokerOrder("b-1", "at-1", "AAPL", Side.SELL, 5, OrderType.STOP, TimeInForce.GTC, "new", submitted_at=NOW)
    external = replace(order, broker_order_id="b-2", client_order_id="")
    with ledger.write():
        repo.upsert_order(ledger, order, book="signals", now=NOW)
        repo.upsert_order(ledger, external, book="external", now=NOW)
    assert repo.client_order_ids(ledger, ["b-1", "b-2", "b-3"]) == {"b-1": "at-1", "b-2": None}
    assert repo.client_order_ids(ledger, []) == {}
    ledger.close()
