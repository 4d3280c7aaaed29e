"""Each sizing rule alone: every gate, pre-trade check, multiplier and cap called directly on one case."""

from __future__ import annotations

from dataclasses import replace

import pytest

from autotrader.policy import sizing
from autotrader.policy.sizing import (
    CAPS,
    GATES,
    MULTIPLIERS,
    PRE_TRADE_CHECKS,
    AssetIn,
    BookState,
    Case,
    DrawdownBand,
    KellyStats,
    QuoteIn,
    RiskState,
    Rules,
    SignalIn,
    VixBand,
)

PV = 1_000_000.0


def case(**changes) -> Case:
    """A swing buy of AAPL at a $100 ask that passes every rule; ``changes`` replace whole inputs."""
    base = Case(
        signal=SignalIn(1, "AAPL", "swing", "buy", None, None, None, None),
        quote=QuoteIn(bid=99.99, ask=100.0, last=100.0, age_seconds=5.0),
        asset=AssetIn(tradable=True, fractionable=False),
        sector="Energy",
        next_earnings_in_days=30,
        book=BookState(PV, PV, 0.0, {}, {}, 0, 0),
        risk=RiskState(20.0, 500.0, 490.0, 0.0, 0.0, 0, {}),
        rules=Rules(),
    )
    return replace(base, **changes)


def signal(**changes) -> SignalIn:
    return replace(case().signal, **changes)


def book(**changes) -> BookState:
    return replace(case().book, **changes)


def risk(**changes) -> RiskState:
    return replace(case().risk, **changes)


def quote(**changes) -> QuoteIn:
    return replace(case().quote, **changes)  # type: ignore[type-var]


def passes(verdict: sizing.Verdict, name: str, effect: str) -> None:
    assert verdict.skip is None, verdict.skip
    assert verdict.step.name == name and verdict.step.effect == effect


def fails(verdict: sizing.Verdict, name: str, reason: str) -> None:
    assert verdict.skip == reason
    assert verdict.step.name == name and verdict.step.effect == f"skip: {reason}"


def test_the_rules_run_in_the_documented_order():
    assert [g.__name__ for g in GATES] == [
        "gate_side",
        "gate_signal_prices",
        "gate_category",
        "gate_symbol_lists",
        "gate_asset",
        "gate_one_position_per_symbol",
        "gate_max_entries_per_symbol",
        "gate_max_open_positions",
        "gate_max_new_trades_per_day",
        "gate_max_open_orders",
        "gate_consecutive_losses",
        "gate_max_daily_loss",
        "gate_daily_profit_target",
        "gate_earnings",
        "gate_regime_pause",
        "gate_drawdown_pause",
    ]
    assert [c.__name__ for c in PRE_TRADE_CHECKS] == ["check_quote", "check_quote_age", "check_drift", "check_spread"]
    assert [m.__name__ for m in MULTIPLIERS] == [
        "multiplier_vix",
        "multiplier_spy_trend",
        "multiplier_kelly",
        "multiplier_drawdown",
        "multiplier_daily_pnl",
    ]
    assert [c.__name__ for c in CAPS] == ["cap_max_position", "cap_allocation", "cap_sector", "cap_cash"]


def test_every_rule_passes_the_neutral_case():
    c = case()
    for rule in (*GATES, *PRE_TRADE_CHECKS):
        assert rule(c).skip is None, rule.__name__
    for multiplier in MULTIPLIERS:
        assert multiplier(c).multiplier == 1.0, multiplier.__name__
    for cap in CAPS:
        result = cap(c, 20_000.0)
        assert (result.skip, result.cut, result.dollars) == (None, None, 20_000.0), cap.__name__


# ----------------------------------------------------------------------------------------------------- gates


def test_gate_side():
    passes(sizing.gate_side(case(signal=signal(side="BUY"))), "side", "buy: a long entry")
    assert sizing.gate_side(case(signal=signal(side="BUY"))).step.inputs == {"side": "buy"}
    fails(sizing.gate_side(case(signal=signal(side="sell"))), "side", sizing.SHORT_SKIP)
    fails(sizing.gate_side(case(signal=signal(side="hold"))), "side", "side 'hold' is not supported (buy only)")


def test_gate_signal_prices():
    passes(sizing.gate_signal_prices(case(signal=signal(entry=10.0))), "signal_prices", "prices given are positive")
    fails(
        sizing.gate_signal_prices(case(signal=signal(entry=10.0, stop=-1.0))),
        "signal_prices",
        "signal stop -1.0 is not a positive price",
    )


def test_gate_category():
    passes(sizing.gate_category(case()), "category", "swing")
    fails(sizing.gate_category(case(signal=signal(category="crypto"))), "category", "unknown category 'crypto'")


def test_gate_symbol_lists_compare_without_case():
    passes(sizing.gate_symbol_lists(case()), "symbol_lists", "not denied")
    allow = Rules(allow_symbols=frozenset({"aapl"}))
    passes(sizing.gate_symbol_lists(case(rules=allow)), "symbol_lists", "allowed")
    fails(
        sizing.gate_symbol_lists(case(rules=Rules(deny_symbols=frozenset({"aapl"})))),
        "symbol_lists",
        "AAPL is on the deny list",
    )
    fails(
        sizing.gate_symbol_lists(case(rules=Rules(allow_symbols=frozenset({"MSFT"})))),
        "symbol_lists",
        "AAPL is not on the allow list (1 symbols)",
    )


def test_gate_asset():
    passes(sizing.gate_asset(case()), "asset", "tradable")
    fails(sizing.gate_asset(case(asset=None)), "asset", "AAPL is not a known asset at the broker")
    fails(sizing.gate_asset(case(asset=AssetIn(False, True))), "asset", "AAPL is not tradable at the broker")


def test_gate_one_position_per_symbol():
    held = book(position_value={"AAPL": 1_500.0})
    fails(
        sizing.gate_one_position_per_symbol(case(book=held)),
        "one_position_per_symbol",
        "one position per symbol: AAPL already held ($1,500)",
    )
    passes(
        sizing.gate_one_position_per_symbol(case(book=held, rules=Rules(one_position_per_symbol=False))),
        "one_position_per_symbol",
        "adding to $1,500 held",
    )


def test_gate_max_open_positions_counts_only_a_new_symbol():
    full = book(open_positions=20)
    fails(sizing.gate_max_open_positions(case(book=full)), "max_open_positions", "max open positions reached: 20 ≥ 20")
    adding = replace(full, position_value={"AAPL": 1.0})
    passes(
        sizing.gate_max_open_positions(case(book=adding)), "max_open_positions", "adds to an open position (20 open)"
    )


def test_gate_max_new_trades_per_day():
    passes(
        sizing.gate_max_new_trades_per_day(case(book=book(new_trades_today=9))),
        "max_new_trades_per_day",
        "9 < 10 trades today",
    )
    fails(
        sizing.gate_max_new_trades_per_day(case(book=book(new_trades_today=10))),
        "max_new_trades_per_day",
        "max new trades per day reached: 10 ≥ 10",
    )


def test_gate_max_open_orders_and_its_off_switch():
    passes(
        sizing.gate_max_open_orders(case(book=book(open_buy_orders=19))),
        "max_open_orders",
        "19 < 20 buy orders working",
    )
    fails(
        sizing.gate_max_open_orders(case(book=book(open_buy_orders=20))),
        "max_open_orders",
        "max open orders reached: 20 buy orders working ≥ 20",
    )
    off = case(book=book(open_buy_orders=500), rules=Rules(max_open_orders=0))
    passes(sizing.gate_max_open_orders(off), "max_open_orders", "no limit")


def test_gate_max_entries_per_symbol_counts_the_symbols_entries():
    stacked = book(entries_in_symbol={"AAPL": 2, "MSFT": 5})
    rules = Rules(one_position_per_symbol=False, max_entries_per_symbol=3)
    passes(
        sizing.gate_max_entries_per_symbol(case(book=stacked, rules=rules)),
        "max_entries_per_symbol",
        "2 < 3 entries in AAPL",
    )
    full = book(entries_in_symbol={"AAPL": 3})
    fails(
        sizing.gate_max_entries_per_symbol(case(book=full, rules=rules)),
        "max_entries_per_symbol",
        "max entries per symbol reached: AAPL has 3 ≥ 3",
    )
    passes(sizing.gate_max_entries_per_symbol(case(book=full)), "max_entries_per_symbol", "no limit")


def test_a_batch_counts_its_own_orders_against_both_limits():
    rules = Rules(one_position_per_symbol=False, max_entries_per_symbol=2, max_open_orders=3)
    items = [
        (signal(symbol=s), case().quote, case().asset, "Energy", 30) for s in ("AAPL", "AAPL", "AAPL", "MSFT", "IBM")
    ]
    decisions = sizing.decide_all(items, book(), case().risk, rules)
    outcomes = [(d.outcome, d.reason) for d in decisions]
    assert [o for o, _ in outcomes] == ["ordered", "ordered", "skipped", "ordered", "skipped"]
    assert "max entries per symbol reached: AAPL has 2 ≥ 2" in outcomes[2][1]
    assert "max open orders reached: 3 buy orders working ≥ 3" in outcomes[4][1]


def test_gate_consecutive_losses_and_its_off_switch():
    fails(
        sizing.gate_consecutive_losses(case(risk=risk(consecutive_losses=5))),
        "consecutive_losses",
        "paused after 5 consecutive losing trades (max 5) until `autotrader resume --breaker streak`",
    )
    fails(
        sizing.gate_consecutive_losses(case(risk=risk(consecutive_losses=6, streak_resumes_on="2026-03-12"))),
        "consecutive_losses",
        "paused after 6 consecutive losing trades (max 5) until 2026-03-12",
    )
    off = case(risk=risk(consecutive_losses=50), rules=Rules(max_consecutive_losses=0))
    passes(sizing.gate_consecutive_losses(off), "consecutive_losses", "breaker off")


def test_gate_max_daily_loss():
    fails(
        sizing.gate_max_daily_loss(case(risk=risk(daily_pnl=-2_500.0))),
        "max_daily_loss",
        "max daily loss reached: P&L −$2,500 ≤ −$2,500",
    )
    passes(sizing.gate_max_daily_loss(case(risk=risk(daily_pnl=-2_499.0))), "max_daily_loss", "P&L −$2,499 > −$2,500")


def test_gate_daily_profit_target():
    fails(
        sizing.gate_daily_profit_target(case(risk=risk(daily_pnl=5_000.0))),
        "daily_profit_target",
        "daily profit target reached: P&L $5,000 ≥ $5,000",
    )
    off = case(risk=risk(daily_pnl=9_000.0), rules=Rules(daily_profit_target=0))
    passes(sizing.gate_daily_profit_target(off), "daily_profit_target", "target off")


@pytest.mark.parametrize(
    ("days", "rules", "reason"),
    [
        (3, Rules(), "earnings blackout: earnings in 3 days ≤ 3"),
        (None, Rules(unknown_earnings="skip"), "earnings date unknown (unknown_earnings = skip)"),
        (4, Rules(), None),
        (None, Rules(), None),
        (0, Rules(earnings_avoid_enabled=False), None),
    ],
)
def test_gate_earnings(days, rules, reason):
    verdict = sizing.gate_earnings(case(next_earnings_in_days=days, rules=rules))
    assert verdict.skip == reason


def test_gate_regime_pause_stops_long_term_buys_only():
    long_term = signal(category="long_term", conviction=10)
    fails(
        sizing.gate_regime_pause(case(signal=long_term, risk=risk(vix=30.01))),
        "regime_pause",
        "regime: VIX 30.01 > 30 pauses new long-term buys",
    )
    passes(
        sizing.gate_regime_pause(case(risk=risk(vix=30.01))),
        "regime_pause",
        "VIX 30.01 > 30 pauses long-term buys only: swing allowed",
    )
    passes(sizing.gate_regime_pause(case(signal=long_term, risk=risk(vix=30.0))), "regime_pause", "VIX 30: no pause")
    inclusive = Rules(vix_bands=(VixBand(30, 0.5, True, inclusive=True),))
    fails(
        sizing.gate_regime_pause(case(signal=long_term, risk=risk(vix=30.0), rules=inclusive)),
        "regime_pause",
        "regime: VIX 30 ≥ 30 pauses new long-term buys",
    )


def test_gate_drawdown_pause():
    fails(
        sizing.gate_drawdown_pause(case(risk=risk(drawdown_pct=15.5))),
        "drawdown_pause",
        "drawdown 15.5% > 15%: no new entries",
    )
    passes(
        sizing.gate_drawdown_pause(case(risk=risk(drawdown_pct=15.0))),
        "drawdown_pause",
        "drawdown 15%: entries allowed",
    )


# ----------------------------------------------------------------------------------------- pre-trade checks


def test_check_quote():
    passes(sizing.check_quote(case()), "quote", "reference price = ask 100.00 (a buy pays the ask)")
    fails(sizing.check_quote(case(quote=None)), "quote", "no quote")
    fails(sizing.check_quote(case(quote=quote(bid=100.5))), "quote", "invalid quote: bid 100.5, ask 100")


def test_check_quote_age_counts_an_unknown_age_as_stale():
    passes(sizing.check_quote_age(case(quote=quote(age_seconds=900.0))), "quote_age", "quote 900s old ≤ 900s")
    fails(sizing.check_quote_age(case(quote=quote(age_seconds=901.0))), "quote_age", "stale quote: 901s old (max 900s)")
    assert sizing.check_quote_age(case(quote=quote(age_seconds=float("nan")))).skip is not None


def test_check_drift_measures_the_last_trade_against_the_entry():
    passes(sizing.check_drift(case()), "drift", "no signal entry: drift not measured")
    fails(
        sizing.check_drift(case(signal=signal(entry=97.0), quote=quote(last=99.0))),
        "drift",
        "price drifted 2.06% from the signal's entry 97.00 (max 2%)",
    )
    # Without a last trade the ask stands in.
    assert sizing.check_drift(case(signal=signal(entry=98.5), quote=quote(last=0.0))).step.inputs["last"] == 100.0


def test_check_spread():
    passes(sizing.check_spread(case()), "spread", "spread 1 bps ≤ 50 bps")
    fails(
        sizing.check_spread(case(quote=quote(bid=99.0))),
        "spread",
        "spread 100.5 bps > 50 bps (bid 99.00, ask 100.00)",
    )


# ---------------------------------------------------------------------------------------------- multipliers


def test_multiplier_vix_reads_the_edges_as_configured():
    # The default bands: 15 opens the normal band, 30 closes the 25–30 band.
    assert sizing.multiplier_vix(case(risk=risk(vix=15.0))).effect == "VIX 15 in [15, 25]: × 1"
    assert sizing.multiplier_vix(case(risk=risk(vix=30.0))).effect == "VIX 30 in (25, 30]: × 0.6"
    # The same levels with the opposite edges.
    flipped = Rules(vix_bands=(VixBand(30, 0.5, inclusive=True), VixBand(15, 1.0), VixBand(0, 1.1, inclusive=True)))
    at_15 = sizing.multiplier_vix(case(risk=risk(vix=15.0), rules=flipped))
    assert (at_15.multiplier, at_15.effect) == (1.1, "VIX 15 in [0, 15]: × 1.1")
    at_30 = sizing.multiplier_vix(case(risk=risk(vix=30.0), rules=flipped))
    assert (at_30.multiplier, at_30.effect) == (0.5, "VIX 30 ≥ 30: × 0.5")
    assert sizing.multiplier_vix(case(risk=risk(vix=20.0), rules=flipped)).effect == "VIX 20 in (15, 30): × 1"


def test_multiplier_vix_under_every_band_or_switched_off():
    above_ten = Rules(vix_bands=(VixBand(10, 0.9),))
    assert sizing.multiplier_vix(case(risk=risk(vix=10.0), rules=above_ten)).effect == (
        "VIX 10 in no band (lowest above 10): × 1"
    )
    off = sizing.multiplier_vix(case(risk=risk(vix=40.0), rules=Rules(market_regime_enabled=False)))
    assert (off.multiplier, off.effect) == (1.0, "regime overlay off: × 1")


def test_multiplier_spy_trend():
    below = sizing.multiplier_spy_trend(case(risk=risk(spy_close=480.0)))
    assert (below.multiplier, below.effect) == (0.8, "SPY 480.00 below its SMA 490.00: × 0.8")
    assert sizing.multiplier_spy_trend(case(risk=risk(spy_sma=None))).effect == "SPY trend unknown: × 1"


def test_multiplier_kelly_uses_the_signals_category():
    stats = KellyStats(trades=20, wins=12, avg_win=0.10, avg_loss=0.05)
    on = Rules(kelly_adaptive_enabled=True)
    factor = sizing.multiplier_kelly(case(risk=risk(kelly={"swing": stats}), rules=on))
    # f = (0.6·0.10 − 0.4·0.05)/0.10 = 0.4; seed mode: f/2 = 0.2, clamped up to 0.25.
    assert factor.multiplier == 0.25 and factor.inputs["category"] == "swing"
    assert sizing.multiplier_kelly(case(risk=risk(kelly={"long_term": stats}), rules=on)).multiplier == 1.0
    assert sizing.multiplier_kelly(case(risk=risk(kelly={"swing": stats}))).effect == "half-Kelly off: × 1"


def test_multiplier_drawdown():
    factor = sizing.multiplier_drawdown(case(risk=risk(drawdown_pct=10.5)))
    assert (factor.multiplier, factor.effect) == (0.5, "drawdown 10.5% > 10%: × 0.5")
    none = sizing.multiplier_drawdown(case(rules=Rules(drawdown_bands=())))
    assert none.effect == "drawdown 0% (no bands): × 1"
    assert sizing.multiplier_drawdown(case(rules=Rules(drawdown_bands=(DrawdownBand(5, 0.75),)))).effect == (
        "drawdown 0% ≤ 5%: × 1"
    )


@pytest.mark.parametrize(("pnl", "multiplier"), [(3_999.0, 1.0), (4_000.0, 0.5), (4_499.0, 0.5), (4_500.0, 0.25)])
def test_multiplier_daily_pnl(pnl, multiplier):
    assert sizing.multiplier_daily_pnl(case(risk=risk(daily_pnl=pnl))).multiplier == multiplier


# ---------------------------------------------------------------------------------------------------- caps


def test_cap_max_position_counts_what_is_held():
    held = case(book=book(position_value={"AAPL": 45_000.0}))
    cut = sizing.cap_max_position(held, 20_000.0)
    assert (cut.dollars, cut.cut, cut.skip) == (5_000.0, "max_position", None)
    assert cut.step.effect == "$45,000 held + $20,000 > 5% of $1,000,000 = $50,000: reduced to $5,000"
    full = sizing.cap_max_position(case(book=book(position_value={"AAPL": 49_950.0})), 20_000.0)
    assert full.skip == (
        "max position: AAPL holds $49,950 of the $50,000 limit (5% of $1,000,000); room $50 is less than "
        "one share at 100.00"
    )


def test_cap_allocation_skips_rather_than_reduces():
    over = sizing.cap_allocation(case(book=book(deployed=240_000.0)), 20_000.0)
    assert over.skip == "allocation cap: deployed 240,000 + new 20,000 > 250,000"
    exact = sizing.cap_allocation(case(book=book(deployed=230_000.0)), 20_000.0)
    assert (exact.skip, exact.dollars) == (None, 20_000.0)


def test_cap_sector():
    cut = sizing.cap_sector(case(book=book(sector_exposure={"Energy": 290_000.0})), 20_000.0)
    assert (cut.dollars, cut.cut) == (10_000.0, "sector")
    # An unknown sector is one more bucket by default, and a skip when the setting says so.
    bucket = sizing.cap_sector(
        case(sector=None, book=book(sector_exposure={sizing.UNKNOWN_SECTOR: 290_000.0})), 20_000.0
    )
    assert (bucket.dollars, bucket.cut) == (10_000.0, "sector")
    assert bucket.step.inputs["unknown_sector"] == "own_bucket"
    skipped = sizing.cap_sector(case(sector=None, rules=Rules(unknown_sector="skip")), 20_000.0)
    assert skipped.skip == "sector unknown ([risk] unknown_sector = skip)"


def test_cap_cash_and_the_fractional_minimum():
    cut = sizing.cap_cash(case(book=book(cash=25_000.0)), 20_000.0)
    assert (cut.dollars, cut.cut) == (15_000.0, "cash")
    fractional = case(book=book(cash=10_000.5), asset=AssetIn(True, True), rules=Rules(fractional_shares=True))
    assert sizing.cap_cash(fractional, 20_000.0).skip == (
        "cash: $10,000.50 − reserve $10,000 leaves $0.50, less than the $1 minimum"
    )


def test_the_breaker_table_names_exactly_the_gates_sizing_runs_as_breakers():
    """The daily report, the notifications and the metrics name breakers from ``domain.enums.BREAKER_GATES``:
    it must list the very gates ``sizing.BREAKERS`` runs, by the names their trace steps carry."""
    from autotrader.domain.enums import BREAKER_GATES
    from autotrader.policy import sizing

    assert [gate for gate, _, _ in BREAKER_GATES] == [f.__name__.removeprefix("gate_") for f in sizing.BREAKERS]
