"""Invariants of the sizing engine over random signals, quotes, books and rules: the caps are caps."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from autotrader.policy.sizing import (
    AssetIn,
    BookState,
    KellyStats,
    QuoteIn,
    RiskState,
    Rules,
    SignalIn,
    decide_all,
)
from tests.properties import examples

SYMBOLS = tuple(f"S{i:02d}" for i in range(12))
SECTORS = ("Energy", "Financials")
CATEGORIES = ("long_term", "swing", "day_trade")
# Floors to whole shares add 1e-9 of a share against float noise (domain.money.whole_shares): allow for it.
SLACK = 1e-6

prices = st.floats(min_value=0.5, max_value=500, allow_nan=False, allow_infinity=False)


def rarely(usual: tuple, unusual: tuple) -> st.SearchStrategy:
    """Mostly ``usual`` values, one draw in ten ``unusual`` (gates that skip), so most decisions reach the caps."""
    # Hypothesis favours the ends of a range, so the unusual values sit in the middle of the choices.
    common = tuple(usual) * (5 * max(1, len(unusual)))
    return st.sampled_from(common + tuple(unusual) + common)


@st.composite
def items(draw):
    ask = draw(prices)
    has_entry = draw(st.booleans())
    entry = ask * draw(st.floats(0.985, 1.015)) if has_entry else None
    stop = draw(st.none() | st.floats(0.5, 1.05).map(lambda k: ask * k))
    target = draw(st.none() | st.floats(0.9, 1.5).map(lambda k: ask * k))
    signal = SignalIn(
        signal_id=draw(st.integers(1, 10_000)),
        symbol=draw(st.sampled_from(SYMBOLS)),
        category=draw(st.sampled_from(CATEGORIES)),
        side=draw(rarely(("buy",), ("sell",))),
        conviction=draw(st.none() | st.integers(1, 11)),
        entry=entry,
        stop=stop,
        target=target,
    )
    spread = draw(rarely((0.0, 0.0005, 0.002, 0.004), (0.01,)))
    last = ask * draw(st.floats(0.995, 1.005))
    quote = draw(rarely((QuoteIn(ask * (1 - spread), ask, last, 10.0),), (None,)))
    # Mostly tradable assets and dates outside the blackout, so that most decisions reach the caps.
    asset = draw(rarely((AssetIn(True, True), AssetIn(True, False)), (None, AssetIn(False, True))))
    sector = draw(rarely(SECTORS, (None,)))
    earnings = draw(rarely((None, 10, 30), (3, 0, -1)))
    return signal, quote, asset, sector, earnings


@st.composite
def books(draw):
    pv = draw(st.floats(100_000, 5_000_000))
    # Caps of the same order as a few positions, so that batches run into them.
    rules_cap = pv * draw(st.sampled_from((0.1, 0.25, 1.0)))
    positions = draw(st.dictionaries(st.sampled_from(SYMBOLS), st.floats(0, pv * 0.1), max_size=3))
    exposure = draw(st.dictionaries(st.sampled_from(SECTORS), rarely((0.0, 0.02, 0.1), (0.5,)).map(pv.__mul__)))
    return (
        BookState(
            portfolio_value=pv,
            cash=pv * draw(rarely((0.05, 0.1, 0.3, 1.0), (0.0, 0.01))),
            deployed=rules_cap * draw(rarely((0.0, 0.3, 0.6), (0.95, 1.0))),
            position_value=positions,
            sector_exposure=exposure,
            open_positions=draw(rarely((0, 3, 12, 17), (19, 20))),
            new_trades_today=draw(rarely((0, 2, 5), (8, 10))),
        ),
        rules_cap,
    )


kelly_stats = st.builds(
    KellyStats,
    trades=st.integers(0, 50),
    wins=st.integers(0, 50),
    avg_win=st.floats(0, 5),
    avg_loss=st.floats(0, 5),
)

risks = st.builds(
    RiskState,
    vix=rarely((None, 12.0, 20.0, 27.0), (34.0,)),
    spy_close=st.none() | st.floats(300, 600),
    spy_sma=st.none() | st.floats(300, 600),
    drawdown_pct=rarely((0.0, 4.0, 6.0, 11.0), (16.0,)),
    daily_pnl=rarely((0.0, -1_000.0, 4_200.0, 4_600.0), (-2_500.0, 5_000.0)),
    consecutive_losses=rarely((0, 1, 4), (5,)),
    kelly=st.dictionaries(st.sampled_from(CATEGORIES), kelly_stats, max_size=3),
)


@st.composite
def rules(draw, max_total_allocation: float):
    return Rules(
        use_dynamic_sizing=draw(st.booleans()),
        base_allocation_pct=draw(st.floats(0.5, 10)),
        max_position_pct=draw(st.floats(1, 20)),
        risk_per_trade_pct=draw(st.floats(0.1, 3)),
        position_size=draw(st.floats(100, 50_000)),
        fractional_shares=draw(st.booleans()),
        max_total_allocation=max_total_allocation,
        kelly_adaptive_enabled=draw(st.booleans()),
        kelly_mode=draw(st.sampled_from(("seed", "normalized"))),
        max_sector_pct=draw(st.sampled_from((3.0, 5.0, 10.0, 30.0))),
        unknown_earnings=draw(rarely(("allow",), ("skip",))),
        min_cash=draw(st.sampled_from((0.0, 1_000.0, 10_000.0))),
        one_position_per_symbol=draw(st.booleans()),
        long_term_entry=draw(st.sampled_from(("market", "limit"))),
    )


@st.composite
def scenarios(draw):
    book, cap = draw(books())
    return draw(st.lists(items(), min_size=1, max_size=10)), book, draw(risks), draw(rules(cap))


def check_invariants(batch, book: BookState, rules_: Rules, decisions) -> None:
    """The promises of the engine, replayed decision by decision against a book kept here."""
    assert len(decisions) == len(batch)
    position_limit = book.portfolio_value * rules_.max_position_pct / 100
    sector_limit = book.portfolio_value * rules_.max_sector_pct / 100
    held = dict(book.position_value)
    sectors = dict(book.sector_exposure)
    deployed, cash = book.deployed, book.cash
    for (signal, _quote, asset, sector, _days), d in zip(batch, decisions, strict=True):
        assert d.qty >= 0 and d.notional >= 0
        assert d.trace, "every decision is traced"
        if d.outcome == "skipped":
            assert d.qty == 0 and d.notional == 0
            assert d.reason.strip()
            continue
        assert d.outcome in ("ordered", "reduced")
        assert d.qty > 0 and d.reference_price is not None
        assert abs(d.notional - d.qty * d.reference_price) < 1e-6 * max(1.0, d.notional)
        if d.order_class == "bracket" or not (rules_.fractional_shares and asset and asset.fractionable):
            assert d.qty == int(d.qty) and d.qty >= 1
        if d.order_class == "bracket":
            assert d.stop_loss < d.reference_price < d.take_profit
        # The whole position, including what was held before, stays within the max position.
        assert held.get(signal.symbol, 0.0) + d.notional <= position_limit * (1 + SLACK)
        held[signal.symbol] = held.get(signal.symbol, 0.0) + d.notional
        deployed += d.notional
        cash -= d.notional
        assert cash >= rules_.min_cash - SLACK * max(1.0, d.notional)
        if sector is not None:
            before = sectors.get(sector, 0.0)
            if before <= sector_limit:
                assert before + d.notional <= sector_limit * (1 + SLACK)
            sectors[sector] = before + d.notional
    assert deployed <= max(book.deployed, rules_.max_total_allocation) * (1 + SLACK)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_the_caps_hold_across_any_batch(scenario):
    batch, book, risk, rules_ = scenario
    check_invariants(batch, book, rules_, decide_all(batch, book, risk, rules_))


@st.composite
def tight_batches(draw):
    """Valid buys that pass every gate, few symbols and sectors, caps of the order of one or two positions."""
    pv = draw(st.floats(100_000, 2_000_000))
    batch = []
    for i in range(draw(st.integers(2, 10))):
        ask = draw(st.floats(5, 300))
        stop = draw(st.none() | st.floats(0.8, 0.99).map(lambda k, a=ask: a * k))
        signal = SignalIn(
            i, f"S{draw(st.integers(0, 2))}", draw(st.sampled_from(CATEGORIES)), "buy", 10, None, stop, None
        )
        quote = QuoteIn(ask * 0.9995, ask, ask, 1.0)
        batch.append((signal, quote, AssetIn(True, draw(st.booleans())), draw(st.sampled_from(SECTORS)), None))
    book = BookState(
        portfolio_value=pv,
        cash=pv * draw(st.floats(0.05, 0.4)),
        deployed=0.0,
        position_value={},
        sector_exposure={s: pv * draw(st.floats(0, 0.04)) for s in SECTORS},
        open_positions=0,
        new_trades_today=0,
    )
    position_pct = draw(st.floats(2, 8))
    rules_ = Rules(
        max_position_pct=position_pct,
        # At least one full position: the allocation cap skips rather than reduces.
        max_total_allocation=pv * position_pct / 100 * draw(st.floats(1, 4)),
        max_sector_pct=draw(st.floats(5, 15)),
        min_cash=pv * 0.01,
        fractional_shares=draw(st.booleans()),
        one_position_per_symbol=False,
        max_open_positions=100,
        max_new_trades_per_day=100,
    )
    return batch, book, rules_


NEUTRAL = RiskState(vix=None, spy_close=None, spy_sma=None, drawdown_pct=0, daily_pnl=0, consecutive_losses=0, kelly={})


@settings(max_examples=examples(100), deadline=None)
@given(tight_batches())
def test_the_caps_hold_when_a_batch_runs_into_them(tight):
    batch, book, rules_ = tight
    decisions = decide_all(batch, book, NEUTRAL, rules_)
    check_invariants(batch, book, rules_, decisions)
    assert decisions[0].outcome != "skipped"  # the first buy always fits something: every cap starts with room


@settings(max_examples=examples(25), deadline=None)
@given(scenarios())
def test_deciding_twice_gives_the_same_decisions_and_json(scenario):
    batch, book, risk, rules_ = scenario
    first = decide_all(batch, book, risk, rules_)
    assert first == decide_all(batch, book, risk, rules_)
    for d in first:
        data = d.to_json()
        assert data["trace"] and all(step["effect"] for step in data["trace"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "wanted",
    [
        lambda ds: any(d.outcome == "ordered" for d in ds),
        lambda ds: any(d.outcome == "reduced" for d in ds),
        lambda ds: any(d.order_class == "bracket" and d.qty > 0 for d in ds),
        lambda ds: any(d.qty != int(d.qty) for d in ds),
    ],
    ids=["ordered", "reduced", "bracket", "fractional"],
)
def test_the_random_scenarios_reach_the_caps(wanted):
    # Guards the invariants above against a generator whose decisions all skip at the first gates.
    find(
        scenarios(),
        lambda s: wanted(decide_all(*s)),
        settings=settings(max_examples=200, phases=[Phase.generate], database=None),
    )
