"""``OrderIntent.create``: the client order id comes from the fields the intent stores, and stays the id the
builders minted when they passed those fields twice (a changed id would let a rerun send a second order)."""

from __future__ import annotations

import dataclasses
import typing

from autotrader.domain.enums import Book, LegKind, OrderClass, OrderType, Side, TimeInForce
from autotrader.domain.ids import client_order_id
from autotrader.domain.models import OrderIntent, OrderRequest, OrderTerms

BASE = dict(session_date="2026-03-02", step="dipbuy", book=Book.SIGNALS, leg=LegKind.DIP_BUY, symbol="BRK.B")


def test_the_id_is_derived_from_the_stored_fields_and_the_key():
    intent = OrderIntent.create(**BASE, tier=2, attempt=1, key="signals:BRK.B:t", side=Side.BUY, qty=3)
    expected = client_order_id(
        session_date="2026-03-02", step="dipbuy", book="signals", symbol="BRK.B", leg="dip_buy", tier=2, attempt=1,
        key="signals:BRK.B:t",
    )  # fmt: skip
    assert intent.client_order_id == intent.request.client_order_id == expected
    assert (intent.session_date, intent.step, intent.book, intent.leg, intent.tier, intent.attempt) == (
        "2026-03-02", "dipbuy", Book.SIGNALS, LegKind.DIP_BUY, 2, 1,
    )  # fmt: skip
    assert intent.client_order_id.startswith("at-20260302-BRK.B-db2-")
    # Every stored field takes part: change one and the id changes.
    variants = {
        OrderIntent.create(**{**BASE, **change}, side=Side.BUY, qty=3).client_order_id
        for change in (
            {"session_date": "2026-03-03"}, {"step": "profittake"}, {"book": Book.REBALANCE},
            {"leg": LegKind.PROFIT_TAKE}, {"symbol": "AAPL"}, {"tier": 1}, {"attempt": 1}, {"key": "x"},
        )
    }  # fmt: skip
    assert len(variants) == 8
    assert OrderIntent.create(**BASE, side=Side.BUY, qty=3).client_order_id not in variants


def test_order_terms_reach_the_request():
    intent = OrderIntent.create(
        **BASE, side=Side.SELL, qty=5, type=OrderType.LIMIT, time_in_force=TimeInForce.GTC,
        order_class=OrderClass.OCO, take_profit_limit_price=120.0, stop_loss_stop_price=90.0,
        reason="r", signal_id=7, position_key="k", extra={"a": 1},
    )  # fmt: skip
    r = intent.request
    assert (r.symbol, r.side, r.qty, r.type, r.time_in_force, r.order_class) == (
        "BRK.B", Side.SELL, 5, OrderType.LIMIT, TimeInForce.GTC, OrderClass.OCO,
    )  # fmt: skip
    assert (r.take_profit_limit_price, r.stop_loss_stop_price, r.limit_price) == (120.0, 90.0, None)
    assert (intent.reason, intent.signal_id, intent.position_key, intent.extra) == ("r", 7, "k", {"a": 1})
    assert OrderIntent.create(**BASE, side=Side.BUY, qty=1).extra == {}


def test_order_terms_name_every_optional_request_field():
    """A field added to OrderRequest must be reachable through the factory."""
    fields = {f.name for f in dataclasses.fields(OrderRequest)} - {"client_order_id", "symbol", "side", "qty"}
    assert set(typing.get_type_hints(OrderTerms)) == fields


def test_a_protective_oco_keeps_the_id_minted_with_tier_zero():
    """The protective OCO stores the final target's tier 2, but its id has always been derived with tier 0."""
    key = "signals:AAPL:2026-02-02T15:00:00+00:00|10|95.0|120.0"
    intent = OrderIntent.create(
        session_date="2026-03-02", step="protect", book=Book.SIGNALS, leg=LegKind.TARGET, tier=2, id_tier=0,
        key=key, symbol="AAPL", side=Side.SELL, qty=10,
    )  # fmt: skip
    assert intent.tier == 2
    assert intent.client_order_id == client_order_id(
        session_date="2026-03-02", step="protect", book="signals", symbol="AAPL", leg="target", key=key
    )
    assert intent.client_order_id.startswith("at-20260302-AAPL-tg0-")
