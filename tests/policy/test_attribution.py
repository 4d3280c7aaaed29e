"""Pick-only versus managed P&L: hand-worked trades, and the identity managed − pick = Σ legs, always."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotrader.policy.attribution import LegFill, attribute, split_trades
from tests.properties import examples

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def fill(n, side, qty, price, leg="entry", tier=0, commission=0.0, symbol="AAPL", book="signals", signal_id=1):
    return LegFill(f"f{n}", book, symbol, side, qty, price, commission, T0 + timedelta(hours=n), leg, tier, signal_id)


def test_split_trades_at_every_return_to_flat():
    fills = [
        fill(1, "buy", 10, 100),
        fill(2, "sell", 10, 110, leg="target"),
        fill(3, "buy", 5, 90, signal_id=2),
        fill(4, "buy", 5, 50, symbol="MSFT", signal_id=3),
    ]
    trades = split_trades(fills)
    assert [(t.symbol, t.signal_id, t.closed_at is not None) for t in trades] == [
        ("AAPL", 1, True),
        ("AAPL", 2, False),
        ("MSFT", 3, False),
    ]
    assert trades[0].exit_reason == "target" and trades[1].exit_reason is None
    assert trades[1].open_qty == 5


def test_a_hand_worked_managed_trade():
    # Buy 100 @ 50 (commission 1). Dip-buy tier 1: +50 @ 45. Profit-take tier 1: −30 @ 60. Stop: −120 @ 48.
    # The pick's rule exit would have been the stop at X = 48.
    trade = split_trades(
        [
            fill(1, "buy", 100, 50, commission=1.0),
            fill(2, "buy", 50, 45, leg="dip_buy", tier=1),
            fill(3, "sell", 30, 60, leg="profit_take", tier=1),
            fill(4, "sell", 120, 48, leg="stop"),
        ]
    )[0]
    result = attribute(trade, pick_exit_price=48, mark_price=48)
    # pick = 100 × (48 − 50) − 1 = −201
    assert result.pick_pnl == pytest.approx(-201)
    # managed cash flows: −5000 − 1 − 2250 + 1800 + 5760 = 309
    assert result.managed_pnl == pytest.approx(309)
    # dip-buy: 50 × (48 − 45) = 150; profit-take: 30 × (60 − 48) = 360; stop: 120 × (48 − 48) = 0
    assert result.by_action() == pytest.approx(
        {"dip_buy": 150, "dip_buy:1": 150, "profit_take": 360, "profit_take:1": 360, "stop": 0}
    )
    assert result.management_alpha == pytest.approx(150 + 360)
    # Realized at average cost: after the dip-buy 150 shares cost 5000 + 2250 = 7250 (average 48.333...);
    # the trim realizes 30 × (60 − 48.333) = 350, the stop 120 × (48 − 48.333) = −40; the entry's own
    # commission is its fill's. Together with it they are the managed P&L: 350 − 40 − 1 = 309.
    realized = {leg.action: leg.realized for leg in result.legs}
    assert realized == pytest.approx({"dip_buy": 0.0, "profit_take": 350.0, "stop": -40.0})
    assert sum(realized.values()) - 1.0 == pytest.approx(result.managed_pnl)


def test_an_open_trade_is_marked_and_its_remainder_is_a_leg():
    trade = split_trades([fill(1, "buy", 10, 100), fill(2, "sell", 4, 130, leg="profit_take", tier=1)])[0]
    # The rule exit has not happened: X = mark = 120.
    result = attribute(trade, pick_exit_price=120, mark_price=120)
    assert result.pick_pnl == pytest.approx(10 * 20)  # 200
    assert result.managed_pnl == pytest.approx(-1000 + 520 + 6 * 120)  # 240
    assert result.by_action()["profit_take"] == pytest.approx(4 * (130 - 120))  # 40
    assert result.by_action()["open_remainder"] == pytest.approx(0.0)
    # After the pick's rule exit happened at 90, the stock is at 120: the still-open 6 shares are worth 6 × 30.
    later = attribute(trade, pick_exit_price=90, mark_price=120)
    assert later.pick_pnl == pytest.approx(-100)
    assert later.by_action()["open_remainder"] == pytest.approx(180)
    assert later.management_alpha == pytest.approx(later.managed_pnl - later.pick_pnl)


def test_a_partially_filled_entry_is_one_entry_at_its_average_price():
    trade = split_trades([fill(1, "buy", 4, 100), fill(2, "buy", 6, 101), fill(3, "sell", 10, 110, leg="target")])[0]
    assert trade.entry_qty == 10 and trade.entry_price == pytest.approx(100.6)
    assert trade.legs == (trade.fills[2],)


fills_strategy = st.lists(
    st.tuples(
        st.sampled_from(["dip_buy", "profit_take", "loss_cut", "stop", "target"]),
        st.integers(1, 3),
        st.floats(1, 500, allow_nan=False),
        st.floats(0.5, 2.0, allow_nan=False),
        st.floats(0, 5, allow_nan=False),
    ),
    max_size=8,
)


@settings(max_examples=examples(200), deadline=None)
@given(
    entry_qty=st.integers(1, 1000),
    entry_price=st.floats(1, 500, allow_nan=False),
    legs=fills_strategy,
    x=st.floats(1, 500, allow_nan=False),
    m=st.floats(1, 500, allow_nan=False),
)
def test_managed_minus_pick_is_exactly_the_legs(entry_qty, entry_price, legs, x, m):
    fills = [fill(0, "buy", entry_qty, entry_price, commission=1.0)]
    held = float(entry_qty)
    for n, (leg, tier, price, fraction, commission) in enumerate(legs, start=1):
        buy = leg == "dip_buy"
        qty = round(max(1.0, held * min(fraction, 1.0) if not buy else entry_qty * fraction / 2), 0)
        if not buy:
            qty = min(qty, held)
            if qty <= 0:
                continue
        held += qty if buy else -qty
        fills.append(fill(n, "buy" if buy else "sell", qty, price, leg=leg, tier=tier, commission=commission))
        if held <= 0:
            break
    for trade in split_trades(fills):
        result = attribute(trade, pick_exit_price=x, mark_price=m)
        assert result.managed_pnl - result.pick_pnl == pytest.approx(sum(v.pnl_vs_pick for v in result.legs), abs=1e-6)
