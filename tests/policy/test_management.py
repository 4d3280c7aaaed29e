"""Position management, rule by rule, with the default tiers' numbers (dip-buys, profit-takes, the loss cut,
the ATR exit ladder, trailing, time stops), and its invariants over random price paths."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotrader.policy import management as mg
from autotrader.policy.management import (
    Action,
    Book,
    Decisions,
    Market,
    Plan,
    Position,
    Rules,
    advance_plan,
    decide_dip_buy,
    decide_exits,
    decide_profit_takes,
    due_dip_tier,
    initial_plan,
    loss_cut_level,
    protective_stop,
    split_ratio,
)
from tests.properties import examples

T0 = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
PV = 1_000_000.0
FLAT = 15.0  # minutes before the close a day trade goes flat


def pos(
    category: str | None = "long_term",
    *,
    qty: float = 100,
    avg_cost: float = 100.0,
    original_qty: float | None = None,
    entry_price: float = 100.0,
    sessions_held: int = 5,
    plan: Plan | None = None,
    fired: tuple[tuple[str, int], ...] = (),
    last_dip_buy_at: datetime | None = None,
    halted_reason: str | None = None,
    pending_exit_qty: float = 0.0,
) -> Position:
    return Position(
        key="signals:AAPL:1",
        book="signals",
        symbol="AAPL",
        category=category,
        qty=qty,
        avg_cost=avg_cost,
        original_qty=qty if original_qty is None else original_qty,
        entry_price=entry_price,
        opened_at=T0 - timedelta(days=7),
        sessions_held=sessions_held,
        plan=plan or Plan(),
        fired=frozenset(fired),
        last_dip_buy_at=last_dip_buy_at,
        halted_reason=halted_reason,
        pending_exit_qty=pending_exit_qty,
    )


def mkt(price: float, *, now: datetime = T0, session_open: bool = True, minutes_to_close: float | None = 120) -> Market:
    return Market(price=price, now=now, session_open=session_open, minutes_to_close=minutes_to_close)


def make_book(**changes) -> Book:
    # Plenty of room everywhere: the max position (5% of $1M = $50,000) holds $10,000 of AAPL.
    base = Book(portfolio_value=PV, cash=500_000.0, deployed=100_000.0, position_value={"AAPL": 10_000.0})
    return replace(base, **changes)


def exits(position: Position, price: float, rules: Rules | None = None, **market) -> Decisions:
    return decide_exits(position, mkt(price, **market), rules or Rules(), flat_minutes_before_close=FLAT)


def legs(decisions: Decisions) -> list[tuple[str, str, float, str, int]]:
    return [(a.symbol, a.side, a.qty, a.leg, a.tier) for a in decisions.actions]


def only_action(decisions: Decisions) -> Action:
    assert len(decisions.actions) == 1, decisions
    return decisions.actions[0]


def skip_reason(decisions: Decisions) -> str:
    assert not decisions.actions, decisions.actions
    assert len(decisions.skipped) == 1, decisions.skipped
    return decisions.skipped[0].reason


# ---------------------------------------------------------------------------------------------- dip-buy tiers


@pytest.mark.parametrize(
    ("fired", "qty", "avg_cost", "price", "expected"),
    [
        ((), 100, 100.0, 95.1, None),  # −4.9%: nothing
        ((), 100, 100.0, 95.0, (1, 50, 95.0)),  # −5%: tier 1, 50% of the original 100 shares
        ((1,), 150, 98.0, 88.3, None),  # tier 1 fired, −9.9% from the average: tier 2 not yet
        ((1,), 150, 98.0, 88.2, (2, 75, 88.2)),  # −10% from the average: tier 2, 75% of the original
        ((1, 2), 225, 95.0, 80.75, (3, 100, 80.75)),  # −15%: tier 3, 100% of the original
        ((), 100, 100.0, 88.0, (1, 50, 95.0)),  # −12% gap with nothing fired: only tier 1
        ((), 100, 100.0, 76.0, (1, 50, 95.0)),  # −24% gap (above the 25% loss cut): still only tier 1
        ((1,), 150, 98.0, 95.0, None),  # tier 1 again: never
        ((1, 2, 3), 325, 90.0, 50.0, None),  # every tier fired
    ],
)
def test_dip_buy_tiers(fired, qty, avg_cost, price, expected):
    position = pos(qty=qty, avg_cost=avg_cost, original_qty=100, fired=tuple(("dip_buy", n) for n in fired))
    out = decide_dip_buy(position, mkt(price), make_book(), Rules())
    assert not out.skipped
    if expected is None:
        assert out.actions == []
        assert due_dip_tier(position, price, Rules()) is None
        return
    tier, add, trigger = expected
    a = only_action(out)
    assert (a.side, a.leg, a.tier, a.qty, a.trigger_price) == ("buy", "dip_buy", tier, add, trigger)
    assert due_dip_tier(position, price, Rules())[0] == tier


@pytest.mark.parametrize(
    ("original", "fractional", "tier_fired", "price", "add"),
    [
        (15, False, (), 95.0, 7),  # 50% of 15 = 7.5: 7 whole shares
        (15, False, (1,), 90.0, 11),  # 75% of 15 = 11.25: 11
        (15, True, (), 95.0, 7.5),
        (1, True, (), 95.0, 0.5),
    ],
)
def test_dip_buy_rounds_down_to_whole_shares(original, fractional, tier_fired, price, add):
    position = pos(qty=original, fired=tuple(("dip_buy", n) for n in tier_fired))
    out = decide_dip_buy(position, mkt(price), make_book(), Rules(fractional_shares=fractional))
    assert only_action(out).qty == add


def test_an_add_that_rounds_to_nothing_is_skipped_with_the_reason():
    # 50% of 1 share is half a share: no whole share to buy.
    out = decide_dip_buy(pos(qty=1), mkt(95.0), make_book(), Rules())
    assert "rounds to zero" in skip_reason(out)


def test_the_dip_reference_average_cost_against_first_entry():
    # Entry 100 shares at 100; tier 1 added 50 at 95: the average falls to 98.33.
    avg = (100 * 100 + 50 * 95) / 150
    position = pos(qty=150, avg_cost=avg, original_qty=100, entry_price=100.0, fired=(("dip_buy", 1),))
    price = 89.5  # −10.5% from the first entry, −8.98% from the average
    by_avg = decide_dip_buy(position, mkt(price), make_book(), Rules(dip_buy_reference="avg_cost"))
    by_entry = decide_dip_buy(position, mkt(price), make_book(), Rules(dip_buy_reference="first_entry"))
    assert by_avg.actions == [] and by_avg.skipped == []
    a = only_action(by_entry)
    assert (a.tier, a.qty, a.trigger_price) == (2, 75, 90.0)
    # From the average, tier 2 needs −10% of 98.33: 88.50.
    a = only_action(decide_dip_buy(position, mkt(88.5), make_book(), Rules(dip_buy_reference="avg_cost")))
    assert (a.tier, a.trigger_price) == (2, 88.5)
    assert decide_dip_buy(position, mkt(88.51), make_book(), Rules()).actions == []


def test_an_unknown_dip_reference_is_refused():
    with pytest.raises(ValueError, match="dip_buy_reference"):
        Rules(dip_buy_reference="last_fill")


@pytest.mark.parametrize("category", ["swing", "day_trade", None])
def test_dip_buys_are_long_term_only(category):
    position = pos(category, qty=100)
    assert decide_dip_buy(position, mkt(80.0), make_book(), Rules()) == Decisions()
    assert due_dip_tier(position, 80.0, Rules()) is None


def test_dip_buys_disabled():
    assert decide_dip_buy(pos(), mkt(80.0), make_book(), Rules(dip_buy_enabled=False)) == Decisions()


# ---------------------------------------------------------------------------------------------- dip-buy guards


@pytest.mark.parametrize(
    ("position_changes", "market_changes", "book_changes", "rules_changes", "reason"),
    [
        ({"last_dip_buy_at": T0 - timedelta(hours=23)}, {}, {}, {}, "cooldown until 2024-03-05T16:00"),
        ({"halted_reason": "possible 2:1 split"}, {}, {}, {}, "halted: possible 2:1 split"),
        ({}, {"session_open": False, "minutes_to_close": None}, {}, {}, "only in the regular session"),
        ({}, {}, {"regime_paused": True}, {}, "the market regime pauses new long-term buys"),
        ({}, {}, {"position_value": {"AAPL": 50_000.0}}, {}, "no room under the max position"),
        ({}, {}, {"position_value": {"AAPL": 49_960.0}}, {}, "no room under the max position"),
        ({}, {}, {"deployed": 250_000.0}, {}, "no room under the allocation cap"),
        ({}, {}, {"deployed": 260_000.0}, {}, "no room under the allocation cap"),
        ({}, {}, {"cash": 10_000.0}, {}, "no room under the cash"),
        ({}, {}, {"cash": 10_090.0}, {}, "no room under the cash"),
        ({}, {}, {}, {"max_position_pct": 1.0}, "no room under the max position"),
    ],
)
def test_dip_buy_guards_skip_naming_the_guard(position_changes, market_changes, book_changes, rules_changes, reason):
    position = replace(pos(qty=100), **position_changes)
    out = decide_dip_buy(
        position, replace(mkt(95.0), **market_changes), make_book(**book_changes), Rules(**rules_changes)
    )
    got = skip_reason(out)
    assert got.startswith("dip-buy tier 1 (-5.00% from avg cost 100.00): ")
    assert reason in got


@pytest.mark.parametrize("hours", [24, 25, 100])
def test_the_cooldown_ends_after_24_hours(hours):
    position = pos(last_dip_buy_at=T0 - timedelta(hours=hours))
    a = only_action(decide_dip_buy(position, mkt(95.0), make_book(), Rules()))
    assert (a.tier, a.qty) == (1, 50)


def test_the_cooldown_is_configurable():
    position = pos(last_dip_buy_at=T0 - timedelta(hours=5))
    assert only_action(decide_dip_buy(position, mkt(95.0), make_book(), Rules(dip_buy_cooldown_hours=4))).qty == 50
    assert "cooldown" in skip_reason(decide_dip_buy(position, mkt(95.0), make_book(), Rules(dip_buy_cooldown_hours=6)))


def test_a_regime_pause_can_be_overridden():
    rules = Rules(dip_buy_when_regime_paused=True)
    a = only_action(decide_dip_buy(pos(), mkt(95.0), make_book(regime_paused=True), rules))
    assert (a.tier, a.qty) == (1, 50)


@pytest.mark.parametrize(
    ("book_changes", "qty", "binding"),
    [
        # Max position $50,000: $47,000 held leaves $3,000 = 31.6 shares at $95.
        ({"position_value": {"AAPL": 47_000.0}}, 31, "max position"),
        # Allocation cap $250,000: $248,000 deployed leaves $2,000 = 21.05 shares.
        ({"deployed": 248_000.0}, 21, "allocation cap"),
        # Cash must stay above $10,000: $12,000 leaves $2,000.
        ({"cash": 12_000.0}, 21, "cash"),
        # The tightest wins: $1,500 of cash room against $3,000 under the max position.
        ({"position_value": {"AAPL": 47_000.0}, "cash": 11_500.0}, 15, "cash"),
        # Exactly the wanted 50 shares ($4,750) of room: not a cut.
        ({"position_value": {"AAPL": 45_250.0}}, 50, ""),
    ],
)
def test_dip_buy_is_cut_to_fit(book_changes, qty, binding):
    book = make_book(**book_changes)
    a = only_action(decide_dip_buy(pos(), mkt(95.0), book, Rules()))
    assert a.qty == qty
    if binding:
        assert f"(cut to {qty} by the {binding})" in a.reason
    else:
        assert "cut" not in a.reason
    assert book.position_value["AAPL"] + a.qty * 95.0 <= PV * 0.05
    assert book.deployed + a.qty * 95.0 <= Rules().max_total_allocation
    assert book.cash - a.qty * 95.0 >= Rules().min_cash
    # and not one share more than fits
    if binding == "max position":
        assert book.position_value["AAPL"] + (a.qty + 1) * 95.0 > PV * 0.05


def test_the_max_position_counts_only_this_symbol():
    book = make_book(position_value={"MSFT": 49_000.0, "AAPL": 9_500.0})
    assert only_action(decide_dip_buy(pos(), mkt(95.0), book, Rules())).qty == 50


# ---------------------------------------------------------------------------------------------- profit-takes


@pytest.mark.parametrize(
    ("fired", "qty", "original", "price", "expected"),
    [
        ((), 100, 100, 124.9, []),  # +24.9%: nothing
        ((), 100, 100, 125.0, [(1, 20, 125.0)]),  # +25%: trim 20% of 100
        ((), 100, 100, 155.0, [(1, 20, 125.0), (2, 20, 150.0)]),  # a jump to +55%: tier 2 trims 25% of the 80 left
        ((), 100, 100, 180.0, [(1, 20, 125.0), (2, 20, 150.0), (3, 15, 175.0)]),  # 25% of the 60 left
        ((1,), 80, 100, 150.0, [(2, 20, 150.0)]),
        ((1,), 80, 100, 130.0, []),  # tier 1 never again
        ((1, 2), 60, 100, 170.0, []),
        ((1, 2), 60, 100, 175.0, [(3, 15, 175.0)]),
        ((1, 2, 3), 45, 100, 300.0, []),
        ((2,), 100, 100, 160.0, [(1, 20, 125.0)]),  # a fired tier is skipped, the others still fire
        ((), 7, 7, 125.0, [(1, 1, 125.0)]),  # 20% of 7 = 1.4: one whole share (the floor is 2.1)
    ],
)
def test_profit_take_tiers(fired, qty, original, price, expected):
    position = pos(qty=qty, original_qty=original, fired=tuple(("profit_take", n) for n in fired))
    out = decide_profit_takes(position, mkt(price), Rules())
    assert not out.skipped
    assert [(a.tier, a.qty, a.trigger_price) for a in out.actions] == expected
    assert all((a.side, a.leg) == ("sell", "profit_take") for a in out.actions)


def test_profit_takes_measure_the_gain_from_the_average_cost():
    # Entry at 100, average 80 after dip-buys: +25% from the average is 100, not 125.
    position = pos(qty=250, avg_cost=80.0, original_qty=100, entry_price=100.0)
    a = only_action(decide_profit_takes(position, mkt(100.0), Rules()))
    assert (a.tier, a.qty, a.trigger_price) == (1, 50, 100.0)


@pytest.mark.parametrize(
    ("qty", "price", "expected", "skipped_tiers"),
    [
        (35, 126.0, [(1, 5)], []),  # 20% of 35 = 7, but only 5 above the floor of 30
        (30, 126.0, [], [1]),  # at the floor: nothing to trim
        (20, 180.0, [], [1, 2, 3]),  # below the floor (after exits): nothing either
        (40, 180.0, [(1, 8), (2, 2)], [3]),  # 8 (32 left), then 8 wanted but 2 allowed, then nothing
        (150, 126.0, [(1, 30)], []),  # after dip-buys: the floor is 30% of the original 100, not of 150
    ],
)
def test_profit_takes_keep_the_minimum_hold(qty, price, expected, skipped_tiers):
    out = decide_profit_takes(pos(qty=qty, original_qty=100), mkt(price), Rules())
    assert [(a.tier, a.qty) for a in out.actions] == expected
    assert qty - sum(a.qty for a in out.actions) >= min(qty, 30)
    assert len(out.skipped) == len(skipped_tiers)
    for skip, tier in zip(out.skipped, skipped_tiers, strict=True):
        assert skip.reason.startswith(f"profit-take tier {tier} ")
        assert "nothing to trim above the minimum hold of 30% of 100 shares" in skip.reason


def test_a_cut_profit_take_says_so():
    out = decide_profit_takes(pos(qty=35, original_qty=100), mkt(126.0), Rules())
    assert "(cut to the minimum hold)" in only_action(out).reason
    out = decide_profit_takes(pos(qty=100), mkt(126.0), Rules())
    assert "cut" not in only_action(out).reason


def test_profit_takes_count_shares_already_promised_to_exits():
    # 100 held, 50 promised to an exit: the tier trims 20% of the 50 left.
    out = decide_profit_takes(pos(qty=100, pending_exit_qty=50), mkt(125.0), Rules())
    assert only_action(out).qty == 10
    # 100 held, 75 promised: 25 left, below the floor of 30.
    out = decide_profit_takes(pos(qty=100, pending_exit_qty=75), mkt(125.0), Rules())
    assert "nothing to trim" in skip_reason(out)


@pytest.mark.parametrize("min_hold", [0.0, 50.0, 90.0])
def test_the_minimum_hold_is_configurable(min_hold):
    out = decide_profit_takes(pos(qty=100), mkt(200.0), Rules(min_hold_pct=min_hold))
    left = 100 - sum(a.qty for a in out.actions)
    assert left >= min_hold
    assert left == max(45, min_hold)  # 100 → 80 → 60 → 45 unless the floor stops it first


@pytest.mark.parametrize("category", ["swing", "day_trade", None])
def test_profit_takes_are_long_term_only(category):
    assert decide_profit_takes(pos(category), mkt(200.0), Rules()) == Decisions()


def test_profit_takes_halted_or_disabled():
    assert "halted: split?" in skip_reason(decide_profit_takes(pos(halted_reason="split?"), mkt(200.0), Rules()))
    assert decide_profit_takes(pos(), mkt(200.0), Rules(profit_take_enabled=False)) == Decisions()


# ---------------------------------------------------------------------------------------------- the ATR exit ladder


def swing(qty: float = 100, plan: Plan | None = None, **changes) -> Position:
    if plan is None:
        plan = initial_plan("swing", 100.0, 2.0, None, None, Rules())
    return pos("swing", qty=qty, plan=plan, **changes)


def test_initial_plan_for_a_swing_position_from_the_atr():
    plan = initial_plan("swing", 100.0, 2.0, None, None, Rules())
    assert plan == Plan(stop_price=97.0, stop_leg="stop", target_price=106.0, target_one_price=103.0, high_water=100.0)


@pytest.mark.parametrize(
    ("category", "atr", "signal_stop", "signal_target", "stop", "target_one", "target"),
    [
        ("day_trade", 2.0, None, None, 97.0, 103.0, 106.0),
        ("swing", 2.0, 95.0, 110.0, 95.0, None, 110.0),  # the signal's own stop and target win
        ("swing", 2.0, 95.0, None, 95.0, 103.0, 106.0),  # the ATR fills in the missing targets
        ("swing", 2.0, None, 110.0, 97.0, None, 110.0),  # ... or the missing stop
        ("swing", None, None, None, None, None, None),  # no ATR: no plan
        ("swing", 0.0, None, None, None, None, None),
        ("swing", 0.333, None, None, 99.5, 100.5, 101.0),  # on the tick
        ("swing", 80.0, None, None, None, 220.0, 340.0),  # a stop at or below zero is no stop
        ("long_term", 2.0, None, None, None, None, None),  # not an ATR category by default
        ("long_term", 2.0, 80.0, 150.0, 80.0, None, 150.0),
        (None, 2.0, None, None, None, None, None),
    ],
)
def test_initial_plan(category, atr, signal_stop, signal_target, stop, target_one, target):
    plan = initial_plan(category, 100.0, atr, signal_stop, signal_target, Rules())
    assert (plan.stop_price, plan.target_one_price, plan.target_price) == (stop, target_one, target)
    assert plan.high_water == 100.0 and not plan.target_one_done and not plan.trail_active


def test_long_term_gets_an_atr_plan_when_configured():
    rules = Rules(atr_categories=frozenset({"long_term"}))
    plan = initial_plan("long_term", 100.0, 2.0, None, None, rules)
    assert (plan.stop_price, plan.target_one_price, plan.target_price) == (97.0, 103.0, 106.0)


@pytest.mark.parametrize(
    ("category", "atr", "signal_stop", "signal_target", "signal_target_one", "stop", "target_one", "target"),
    [
        ("swing", 2.0, 95.0, 110.0, 105.0, 95.0, 105.0, 110.0),  # the signal's own first target
        ("day_trade", None, 95.0, 110.0, 104.996, 95.0, 105.0, 110.0),  # on the tick, without an ATR
        ("long_term", 2.0, 80.0, 150.0, 120.0, 80.0, 120.0, 150.0),  # any category with a plan
        ("swing", 2.0, None, 110.0, 105.0, 97.0, 105.0, 110.0),  # the ATR stop fills in, the targets are the signal's
    ],
)
def test_initial_plan_takes_the_signals_first_target(
    category, atr, signal_stop, signal_target, signal_target_one, stop, target_one, target
):
    plan = initial_plan(category, 100.0, atr, signal_stop, signal_target, Rules(), signal_target_one=signal_target_one)
    assert (plan.stop_price, plan.target_one_price, plan.target_price) == (stop, target_one, target)
    assert not plan.target_one_done and plan.high_water == 100.0


@pytest.mark.parametrize(
    ("entry_price", "signal_target", "signal_target_one"),
    [
        (100.0, 110.0, None),  # none given: as before
        (105.0, 110.0, 105.0),  # filled at the first target: not strictly above the entry
        (106.0, 110.0, 105.0),  # filled beyond it
        (100.0, 110.0, 110.0),  # at the final target
        (100.0, 110.0, 112.0),  # beyond the final target
    ],
)
def test_a_signals_first_target_that_does_not_fit_the_fill_is_ignored(entry_price, signal_target, signal_target_one):
    plan = initial_plan("swing", entry_price, 2.0, 95.0, signal_target, Rules(), signal_target_one=signal_target_one)
    old = initial_plan("swing", entry_price, 2.0, 95.0, signal_target, Rules())
    assert plan == old and plan.target_one_price is None and plan.target_price == 110.0


def test_without_a_target_the_signals_first_target_is_ignored_and_the_atr_ladder_fills_in():
    plan = initial_plan("swing", 100.0, 2.0, 95.0, None, Rules(), signal_target_one=105.0)
    assert (plan.stop_price, plan.target_one_price, plan.target_price) == (95.0, 103.0, 106.0)
    assert initial_plan("long_term", 100.0, 2.0, 95.0, None, Rules(), signal_target_one=105.0).target_one_price is None


def test_a_signals_first_target_runs_the_ladder():
    plan = initial_plan("swing", 100.0, 2.0, 95.0, 110.0, Rules(), signal_target_one=105.0)
    out = exits(swing(qty=100, plan=plan), 105.5)
    a = only_action(out)
    assert (a.qty, a.leg, a.tier, a.trigger_price) == (50, "target", 1, 105.0)
    assert (out.plans["signals:AAPL:1"].stop_price, out.plans["signals:AAPL:1"].target_price) == (100.0, 110.0)


def test_the_ladder_first_target_then_break_even_then_final_target():
    position = swing(qty=100)
    assert exits(position, 102.99).actions == []
    # T1: half out, the stop to break-even.
    out = exits(position, 103.0)
    a = only_action(out)
    assert (a.side, a.qty, a.leg, a.tier, a.trigger_price) == ("sell", 50, "target", 1, 103.0)
    plan = out.plans[position.key]
    assert (plan.stop_price, plan.stop_leg, plan.target_one_done) == (100.0, "stop", True)
    assert plan.target_price == 106.0
    # T1 does not fire twice.
    after = swing(qty=50, plan=plan)
    assert exits(after, 104.0).actions == []
    # T2: the rest.
    out = exits(after, 106.0)
    a = only_action(out)
    assert (a.qty, a.leg, a.tier, a.trigger_price) == (50, "target", 2, 106.0)
    # Back to the entry after T1: the break-even stop sells the rest.
    a = only_action(exits(after, 100.0))
    assert (a.qty, a.leg, a.tier, a.trigger_price) == (50, "stop", 0, 100.0)


def test_the_first_target_on_an_odd_quantity_rounds_down():
    assert only_action(exits(swing(qty=101), 103.5)).qty == 50
    assert only_action(exits(swing(qty=3), 103.5, Rules(partial_exit_pct=40.0))).qty == 1


def test_the_first_target_with_too_few_shares_still_moves_the_stop():
    out = exits(swing(qty=1), 103.5)
    assert out.actions == []
    assert out.plans["signals:AAPL:1"].stop_price == 100.0


def test_the_first_target_never_lowers_a_higher_stop():
    plan = replace(initial_plan("swing", 100.0, 2.0, None, None, Rules()), stop_price=101.0, stop_leg="trail")
    out = exits(swing(plan=plan), 103.0)
    assert only_action(out).qty == 50
    assert (out.plans["signals:AAPL:1"].stop_price, out.plans["signals:AAPL:1"].stop_leg) == (101.0, "trail")


@pytest.mark.parametrize("price", [97.0, 96.0, 93.0])  # at the stop, or gapped through it (the cut is at 92)
def test_a_price_through_the_stop_sells_everything(price):
    a = only_action(exits(swing(qty=80), price))
    assert (a.side, a.qty, a.leg, a.tier, a.trigger_price) == ("sell", 80, "stop", 0, 97.0)
    assert exits(swing(qty=80), 97.01).actions == []


def test_a_stop_sell_uses_the_plans_stop_leg():
    plan = Plan(stop_price=101.76, stop_leg="trail", target_price=None, high_water=106.0, trail_active=True)
    a = only_action(exits(swing(plan=plan), 101.5))
    assert (a.leg, a.trigger_price, a.qty) == ("trail", 101.76, 100)


def test_exits_sell_only_shares_not_promised_already():
    a = only_action(exits(swing(qty=100, pending_exit_qty=30), 96.0))
    assert a.qty == 70
    assert exits(swing(qty=100, pending_exit_qty=100), 96.0).actions == []


def test_signal_stop_and_target_drive_the_exits():
    plan = initial_plan("swing", 100.0, 2.0, 95.0, 110.0, Rules())
    assert exits(swing(plan=plan), 96.0).actions == []  # above the signal stop (the ATR one would be 97)
    assert exits(swing(plan=plan), 106.0).actions == []  # below the signal target (the ATR one would be 106)
    assert only_action(exits(swing(plan=plan), 95.0)).trigger_price == 95.0
    a = only_action(exits(swing(plan=plan), 110.0))
    assert (a.qty, a.leg, a.tier) == (100, "target", 2)


def test_long_term_has_no_atr_exits_only_the_loss_cut():
    plan = initial_plan("long_term", 100.0, 2.0, None, None, Rules())
    position = pos(plan=plan)
    for price in (76.0, 96.0, 97.0, 103.0, 106.0, 200.0):
        assert exits(position, price).actions == [], price
    assert only_action(exits(position, 75.0)).leg == "loss_cut"


def test_exits_halted_or_disabled_or_unmanaged():
    assert "exits halted: possible split" in skip_reason(exits(swing(halted_reason="possible split"), 50.0))
    assert exits(swing(), 50.0, Rules(exits_enabled=False)).actions == []
    assert exits(pos(None, plan=Plan(stop_price=97.0)), 50.0).actions == []


# ---------------------------------------------------------------------------------------------- trailing


def test_the_trail_activates_follows_and_only_rises():
    rules = Rules()  # trail 4% once the high is 6% above the entry
    position = swing()
    plan = advance_plan(position, 105.99, rules)
    assert (plan.trail_active, plan.stop_price, plan.stop_leg, plan.high_water) == (False, 97.0, "stop", 105.99)

    plan = advance_plan(replace(position, plan=plan), 106.0, rules)
    assert (plan.trail_active, plan.stop_price, plan.stop_leg, plan.high_water) == (True, 101.76, "trail", 106.0)

    plan = advance_plan(replace(position, plan=plan), 110.0, rules)
    assert (plan.stop_price, plan.stop_leg, plan.high_water) == (105.6, "trail", 110.0)

    # A lower high later: the high-water mark and the stop stay.
    plan = advance_plan(replace(position, plan=plan), 108.0, rules)
    assert (plan.stop_price, plan.stop_leg, plan.high_water, plan.trail_active) == (105.6, "trail", 110.0, True)
    plan = advance_plan(replace(position, plan=plan), 90.0, rules)
    assert (plan.stop_price, plan.high_water) == (105.6, 110.0)

    # The trailing stop sells with leg "trail".
    a = only_action(exits(replace(position, plan=plan), 105.5))
    assert (a.leg, a.trigger_price) == ("trail", 105.6)


def test_the_trail_stays_active_once_activated():
    # Activated earlier; the activation level is now above the high: the trail still follows it.
    rules = Rules(trail_activation_pct=10.0)
    position = swing(plan=replace(swing().plan, trail_active=True, high_water=106.0, stop_price=101.76))
    plan = advance_plan(position, 107.0, rules)
    assert (plan.trail_active, plan.stop_price, plan.stop_leg) == (True, 102.72, "trail")
    assert advance_plan(swing(), 107.0, rules).trail_active is False


def test_a_trail_below_the_break_even_stop_does_not_lower_it():
    rules = Rules(trail_pct=8.0)
    plan = replace(initial_plan("swing", 100.0, 2.0, None, None, rules), stop_price=100.0, target_one_done=True)
    plan = advance_plan(swing(plan=plan), 106.0, rules)  # trail at 97.52
    assert (plan.trail_active, plan.stop_price, plan.stop_leg) == (True, 100.0, "stop")
    plan = advance_plan(swing(plan=plan), 110.0, rules)  # trail at 101.20
    assert (plan.stop_price, plan.stop_leg) == (101.2, "trail")


@pytest.mark.parametrize("category", ["long_term", "day_trade"])
def test_no_trail_outside_the_trail_categories(category):
    position = pos(category, plan=initial_plan(category, 100.0, 2.0, None, None, Rules()))
    plan = advance_plan(position, 150.0, Rules())
    assert plan.high_water == 150.0
    assert not plan.trail_active and plan.stop_leg == "stop"
    assert plan.stop_price == position.plan.stop_price


def test_the_high_water_mark_starts_at_the_entry():
    plan = advance_plan(swing(plan=Plan(stop_price=97.0)), 95.0, Rules())
    assert plan.high_water == 100.0


# ---------------------------------------------------------------------------------------------- loss cut


@pytest.mark.parametrize(
    ("category", "avg_cost", "level"),
    [("long_term", 100.0, 75.0), ("swing", 100.0, 92.0), ("day_trade", 100.0, 97.0), ("long_term", 80.0, 60.0)],
)
def test_loss_cut_per_category(category, avg_cost, level):
    position = pos(category, qty=40, avg_cost=avg_cost, sessions_held=1)
    assert loss_cut_level(position, Rules()) == level
    assert exits(position, level + 0.01).actions == []
    for price in (level, level - 5):
        a = only_action(exits(position, price))
        assert (a.side, a.qty, a.leg, a.tier, a.trigger_price) == ("sell", 40, "loss_cut", 0, level)


def test_loss_cut_not_configured_for_a_category():
    position = pos("swing")
    assert loss_cut_level(position, Rules(loss_cut_pct={"long_term": 25.0})) is None
    assert exits(position, 10.0, Rules(loss_cut_pct={"long_term": 25.0})).actions == []


@pytest.mark.parametrize(
    ("category", "plan", "rules", "expected"),
    [
        ("swing", Plan(stop_price=97.0), Rules(), (97.0, "stop")),  # the trade stop is above the cut at 92
        ("swing", Plan(stop_price=90.0), Rules(), (92.0, "loss_cut")),  # a wide signal stop: the cut is higher
        ("swing", Plan(stop_price=101.76, stop_leg="trail"), Rules(), (101.76, "trail")),
        ("long_term", Plan(), Rules(), (75.0, "loss_cut")),
        ("day_trade", Plan(stop_price=97.0), Rules(), (97.0, "stop")),  # equal: the trade stop
        ("swing", Plan(stop_price=90.0), Rules(exits_enabled=False), (90.0, "stop")),
        (None, Plan(stop_price=90.0), Rules(), (90.0, "stop")),
        (None, Plan(), Rules(), (None, "stop")),
    ],
)
def test_protective_stop_is_the_higher_of_the_trade_stop_and_the_loss_cut(category, plan, rules, expected):
    assert protective_stop(pos(category), plan, rules) == expected


def test_the_protective_loss_cut_follows_the_average_cost():
    assert protective_stop(pos("long_term", avg_cost=90.0), Plan(), Rules()) == (67.5, "loss_cut")


# ---------------------------------------------------------------------------------------------- time stops


@pytest.mark.parametrize(
    ("category", "sessions", "exit_"),
    [("swing", 20, False), ("swing", 21, True), ("long_term", 756, False), ("long_term", 757, True)],
)
def test_time_stop(category, sessions, exit_):
    position = pos(category, sessions_held=sessions, plan=Plan())
    out = exits(position, 100.0)
    if not exit_:
        assert out.actions == []
        return
    a = only_action(out)
    assert (a.side, a.qty, a.leg, a.tier, a.trigger_price) == ("sell", 100, "time_exit", 0, 100.0)
    assert f"held {sessions} sessions" in a.reason


@pytest.mark.parametrize(("minutes", "exit_"), [(120, False), (15.5, False), (15, True), (5, True), (None, False)])
def test_day_trades_go_flat_before_the_close(minutes, exit_):
    position = pos("day_trade", sessions_held=1, plan=initial_plan("day_trade", 100.0, 2.0, None, None, Rules()))
    out = exits(position, 100.5, minutes_to_close=minutes)
    if not exit_:
        assert out.actions == []
        return
    a = only_action(out)
    assert (a.qty, a.leg, a.tier, a.trigger_price) == (100, "time_exit", 1, 100.5)


def test_a_day_trade_held_overnight_is_a_time_stop():
    a = only_action(exits(pos("day_trade", sessions_held=2), 100.0))
    assert (a.leg, a.tier) == ("time_exit", 0)


# ---------------------------------------------------------------------------------------------- exit priority

# Tested order: the day-trade close-out, the time stop, the loss cut, a stop the price is through, the final
# target, the first target. Each row makes two rules apply and expects the earlier one.
LADDER = Plan(stop_price=97.0, target_price=106.0, target_one_price=103.0, high_water=100.0)


@pytest.mark.parametrize(
    ("position", "price", "minutes", "expected"),
    [
        # close-out before the time stop and the loss cut (day trade −5%, held 2 sessions, 5 min to the close)
        (pos("day_trade", sessions_held=2, plan=LADDER), 95.0, 5, ("time_exit", 1)),
        # time stop before the loss cut (swing −10%, 21 sessions)
        (pos("swing", sessions_held=21, plan=LADDER), 90.0, 120, ("time_exit", 0)),
        # loss cut before the stop (swing −10%: through both 97 and 92)
        (pos("swing", plan=LADDER), 90.0, 120, ("loss_cut", 0)),
        # the stop before the final target (a trail at 107 above a target at 106)
        (pos("swing", plan=replace(LADDER, stop_price=107.0, stop_leg="trail")), 106.5, 120, ("trail", 0)),
        # the final target before the first (a jump to 107 with T1 not done)
        (pos("swing", plan=LADDER), 107.0, 120, ("target", 2)),
        # the first target when nothing else applies
        (pos("swing", plan=LADDER), 104.0, 120, ("target", 1)),
    ],
)
def test_the_first_exit_rule_that_applies_wins(position, price, minutes, expected):
    out = exits(position, price, minutes_to_close=minutes)
    a = only_action(out)
    assert (a.leg, a.tier) == expected
    if expected != ("target", 1):
        assert a.qty == position.qty


# ---------------------------------------------------------------------------------------------- splits

RATIOS = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0)


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        (2.0, 2.0),
        (0.5, 0.5),
        (3.0, 3.0),
        (1 / 10, 0.1),
        (1.5, 1.5),
        (2.05, 2.0),  # within 3%
        (0.49, 0.5),
        (2.1, None),  # 5% off
        (1.3, None),
        (1.0, None),
        (0.0, None),
        (-2.0, None),
        (math.nan, None),
        (math.inf, None),
    ],
)
def test_split_ratio(observed, expected):
    got = split_ratio(observed, RATIOS, 3.0)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_split_ratio_only_matches_the_configured_ratios():
    assert split_ratio(7.0, RATIOS, 3.0) is None
    assert split_ratio(7.0, (7.0,), 3.0) == 7.0


# ---------------------------------------------------------------------------------------------- invariants

SLACK = 1e-6


@st.composite
def lives(draw):
    entry = draw(st.floats(5.0, 500.0))
    original = draw(st.integers(1, 400))
    fractional = draw(st.booleans())
    rules = Rules(
        max_position_pct=draw(st.sampled_from((2.0, 5.0, 10.0, 25.0))),
        min_hold_pct=draw(st.sampled_from((0.0, 30.0, 50.0, 90.0))),
        dip_buy_reference=draw(st.sampled_from(("avg_cost", "first_entry"))),
        max_total_allocation=draw(st.sampled_from((50_000.0, 250_000.0, 1e9))),
        min_cash=draw(st.sampled_from((0.0, 10_000.0))),
        fractional_shares=fractional,
    )
    cash = draw(st.floats(0.0, 500_000.0))
    other_value = draw(st.floats(0.0, 2_000_000.0))
    other_deployed = draw(st.floats(0.0, 300_000.0))
    path = draw(
        st.lists(st.tuples(st.floats(0.7, 2.2), st.floats(0.0, 72.0)), min_size=1, max_size=25)
    )  # (price / entry, hours since the step before)
    return entry, original, rules, cash, other_value, other_deployed, path


@settings(max_examples=examples(200), deadline=None)
@given(lives())
def test_invariants_over_a_price_path(life):
    entry, original, rules, cash, other_value, other_deployed, path = life
    position = pos(qty=original, avg_cost=entry, original_qty=original, entry_price=entry, sessions_held=1)
    now = T0
    last_buy: datetime | None = None
    seen: set[tuple[str, int]] = set()
    floor_qty = original * rules.min_hold_pct / 100

    def apply(position: Position, actions: list[Action], price: float) -> Position:
        nonlocal cash
        for a in actions:
            assert (a.leg, a.tier) not in seen, f"{a.leg} tier {a.tier} fired twice"
            seen.add((a.leg, a.tier))
            assert a.qty > 0
            if a.side == "buy":
                qty = position.qty + a.qty
                avg = (position.qty * position.avg_cost + a.qty * price) / qty
                position = replace(position, qty=qty, avg_cost=avg, last_dip_buy_at=now)
                cash -= a.qty * price
            else:
                assert a.qty <= position.qty + SLACK
                position = replace(position, qty=position.qty - a.qty)
                cash += a.qty * price
            position = replace(position, fired=position.fired | {(a.leg, a.tier)})
        return position

    for step, (factor, hours) in enumerate(path):
        now += timedelta(hours=hours)
        price = entry * factor
        position = replace(position, sessions_held=step + 1)
        market = mkt(price, now=now)

        # profittake: the exits, then the tiers for what they leave
        out = decide_exits(position, market, rules, flat_minutes_before_close=FLAT)
        position = apply(position, out.actions, price)
        if position.qty <= SLACK:
            break
        before = position.qty
        out = decide_profit_takes(position, market, rules)
        position = apply(position, out.actions, price)
        # (b) a profit-take never takes the position below the minimum hold
        assert position.qty >= min(before, floor_qty) - SLACK

        # dipbuy
        portfolio = cash + other_value + position.qty * price
        book = Book(
            portfolio_value=portfolio,
            cash=cash,
            deployed=other_deployed + position.qty * position.avg_cost,
            position_value={"AAPL": position.qty * price},
        )
        out = decide_dip_buy(position, market, book, rules)
        position = apply(position, out.actions, price)
        if out.actions:
            # (a) a dip-buy never takes the position over the max position, the book over its cap or cash
            # under its floor
            assert position.qty * price <= portfolio * rules.max_position_pct / 100 + SLACK
            assert other_deployed + position.qty * position.avg_cost <= rules.max_total_allocation + SLACK
            assert cash >= rules.min_cash - SLACK
            # one add-on per run, never within the cooldown of the one before
            assert len(out.actions) == 1
            assert last_buy is None or now - last_buy >= timedelta(hours=rules.dip_buy_cooldown_hours)
            last_buy = now


def test_no_dip_buy_into_an_exit():
    # At −26% the long-term loss cut (25%) is due: averaging down into it would buy what the exit sells.
    below_cut = decide_dip_buy(pos(qty=100, avg_cost=100.0, original_qty=100), mkt(74.0), make_book(), Rules())
    assert "loss cut (75.00)" in skip_reason(below_cut)
    # A sell of the position already on its way (e.g. a profit-take or a time exit sent this slot).
    exiting = pos(qty=100, avg_cost=100.0, original_qty=100, pending_exit_qty=100)
    assert "exit of 100 shares is being sent" in skip_reason(decide_dip_buy(exiting, mkt(94.0), make_book(), Rules()))


# -- the rules one by one ------------------------------------------------------------------------------------


def test_each_exit_rule_alone_and_the_order_they_are_tried_in():
    rules = Rules()
    day = pos("day_trade", sessions_held=1)
    assert mg._day_trade_close_out(day, mkt(100, minutes_to_close=FLAT), rules, FLAT)[:3] == ("time_exit", 1, 100)
    assert mg._day_trade_close_out(day, mkt(100, minutes_to_close=FLAT + 1), rules, FLAT) is None
    assert mg._day_trade_close_out(pos("swing"), mkt(100, minutes_to_close=1), rules, FLAT) is None
    assert mg._time_stop(pos("swing", sessions_held=21), mkt(100), rules, FLAT)[:2] == ("time_exit", 0)
    assert mg._time_stop(pos("swing", sessions_held=20), mkt(100), rules, FLAT) is None
    assert mg._loss_cut(pos("swing"), mkt(92), rules, FLAT)[:3] == ("loss_cut", 0, 92.0)
    assert mg._loss_cut(pos("swing"), mkt(92.01), rules, FLAT) is None
    trail = pos("swing", plan=Plan(stop_price=95.0, stop_leg="trail", target_price=110.0))
    assert mg._stop_through(trail, mkt(95), rules, FLAT)[:3] == ("trail", 0, 95.0)
    assert mg._stop_through(trail, mkt(95.01), rules, FLAT) is None
    assert mg._final_target(trail, mkt(110), rules, FLAT)[:3] == ("target", 2, 110.0)
    assert mg._final_target(trail, mkt(109.99), rules, FLAT) is None
    assert [r.__name__ for r in mg.EXIT_RULES] == [
        "_day_trade_close_out", "_time_stop", "_loss_cut", "_stop_through", "_final_target",
    ]  # fmt: skip
    # A day trade past its time stop and through its loss cut at the close-out minute: the close-out wins.
    late = pos("day_trade", sessions_held=3, plan=Plan(stop_price=99.0))
    out = decide_exits(late, mkt(90, minutes_to_close=FLAT), rules, flat_minutes_before_close=FLAT)
    assert [(a.leg, a.tier) for a in out.actions] == [("time_exit", 1)]


def test_each_dip_guard_alone_and_the_first_one_is_the_reason_given():
    rules = Rules()
    book, ok = make_book(), pos()
    for guard in mg.DIP_GUARDS:
        assert guard(ok, mkt(94), book, rules) is None, guard.__name__
    assert mg._halted(pos(halted_reason="gap"), mkt(94), book, rules) == "halted: gap"
    assert "exit of 5 shares" in mg._exit_pending(pos(pending_exit_qty=5), mkt(94), book, rules)
    assert "loss cut" in mg._into_loss_cut(ok, mkt(75), book, rules)
    assert mg._into_loss_cut(ok, mkt(75), book, replace(rules, exits_enabled=False)) is None
    assert mg._outside_session(ok, mkt(94, session_open=False), book, rules) == "only in the regular session"
    assert "regime" in mg._regime_paused(ok, mkt(94), make_book(regime_paused=True), rules)
    paused, allowed = make_book(regime_paused=True), replace(rules, dip_buy_when_regime_paused=True)
    assert mg._regime_paused(ok, mkt(94), paused, allowed) is None
    recent = pos(last_dip_buy_at=T0 - timedelta(hours=23))
    assert "cooldown until" in mg._cooling_down(recent, mkt(94), book, rules)
    assert mg._cooling_down(pos(last_dip_buy_at=T0 - timedelta(hours=24)), mkt(94), book, rules) is None
    # Halted and out of session at once: the halt is the reason, being first.
    out = decide_dip_buy(pos(halted_reason="gap"), mkt(94, session_open=False), book, rules)
    assert out.actions == [] and out.skipped[0].reason.endswith(": halted: gap")


def test_dip_room_is_the_tightest_limit():
    rules = Rules()
    assert mg._dip_room(pos(), 100.0, make_book(), rules, 50) == (50, "")
    assert mg._dip_room(pos(), 100.0, make_book(cash=13_000.0), rules, 50) == (30, "cash")
    assert mg._dip_room(pos(), 100.0, make_book(deployed=249_000.0), rules, 50) == (10, "allocation cap")
    assert mg._dip_room(pos(), 100.0, make_book(position_value={"AAPL": 48_000.0}), rules, 50) == (20, "max position")


def test_a_sell_signal_exit_sells_what_is_held_and_not_promised_never_more_and_not_while_halted():
    (action,) = mg.decide_signal_exit(pos("swing", qty=100.7, pending_exit_qty=30), mkt(90.0), Rules()).actions
    assert (action.side, action.qty, action.leg, action.tier) == ("sell", 70, "signal_exit", 0)
    assert action.trigger_price == 90.0
    assert action.reason == "sell signal: exit 70 shares"
    promised = mg.decide_signal_exit(pos("swing", qty=100, pending_exit_qty=100), mkt(90.0), Rules())
    assert promised.actions == [] and "already promised to a working exit" in promised.skipped[0].reason
    halted = mg.decide_signal_exit(pos("swing", halted_reason="split?"), mkt(90.0), Rules())
    assert halted.actions == [] and halted.skipped[0].reason == "exits halted: split?"
