"""The sizing engine through decide(), rule by rule, with the worked numbers of the sizing rules."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from autotrader.domain.money import is_on_tick
from autotrader.policy.sizing import (
    AssetIn,
    BookState,
    Decision,
    DrawdownBand,
    KellyStats,
    QuoteIn,
    RiskState,
    Rules,
    SignalIn,
    TraceStep,
    decide,
    decide_all,
    kelly_multiplier_range,
)

PV = 1_000_000.0
SECTOR = "Information Technology"
ASSET = AssetIn(tradable=True, fractionable=True)


def make_book(**changes) -> BookState:
    base = BookState(
        portfolio_value=PV,
        cash=1_000_000.0,
        deployed=0.0,
        position_value={},
        sector_exposure={},
        open_positions=0,
        new_trades_today=0,
    )
    return replace(base, **changes)


def make_risk(**changes) -> RiskState:
    # VIX 20 (× 1.0) and SPY above its SMA: a neutral regime unless a test says otherwise.
    base = RiskState(
        vix=20.0, spy_close=500.0, spy_sma=490.0, drawdown_pct=0.0, daily_pnl=0.0, consecutive_losses=0, kelly={}
    )
    return replace(base, **changes)


def make_quote(ask: float = 100.0, *, bid: float | None = None, last: float | None = None, age: float = 5.0) -> QuoteIn:
    return QuoteIn(bid=ask - 0.01 if bid is None else bid, ask=ask, last=ask if last is None else last, age_seconds=age)


def sig(
    category: str = "swing",
    *,
    conviction: int | None = None,
    entry: float | None = None,
    stop: float | None = None,
    target: float | None = None,
    side: str = "buy",
    symbol: str = "AAPL",
    signal_id: int = 1,
) -> SignalIn:
    return SignalIn(signal_id, symbol, category, side, conviction, entry, stop, target)


def run(
    signal: SignalIn,
    *,
    quote: QuoteIn | None | str = "default",
    asset: AssetIn | None | str = "default",
    sector: str | None = SECTOR,
    earnings: int | None = 30,
    book: BookState | None = None,
    risk: RiskState | None = None,
    rules: Rules | None = None,
) -> Decision:
    return decide(
        signal,
        make_quote() if quote == "default" else quote,  # type: ignore[arg-type]
        ASSET if asset == "default" else asset,  # type: ignore[arg-type]
        sector,
        earnings,
        book or make_book(),
        risk or make_risk(),
        rules or Rules(),
    )


def step(decision: Decision, name: str) -> TraceStep:
    matches = [s for s in decision.trace if s.name == name]
    assert matches, f"no {name!r} step in {[s.name for s in decision.trace]}"
    return matches[-1]


def skipped(decision: Decision, reason_part: str, at: str) -> None:
    assert decision.outcome == "skipped", decision.reason
    assert decision.qty == 0 and decision.notional == 0
    assert reason_part in decision.reason
    assert decision.trace[-1].name == at
    assert decision.trace[-1].effect == f"skip: {decision.reason}"


# ---------------------------------------------------------------------------------------------- base sizes


def test_the_seeds_worked_example_2000_shares_capped_to_500():
    d = run(sig(entry=100, stop=95))
    base = step(d, "base")
    assert base.inputs["shares"] == 2000 and base.inputs["risk_budget"] == 10_000
    assert base.dollars_after == 200_000
    assert step(d, "max_position").dollars_after == 50_000
    assert (d.outcome, d.qty, d.notional, d.reference_price) == ("reduced", 500, 50_000, 100)
    assert "2,000 shares" in base.effect and "reduced to $50,000" in step(d, "max_position").effect


def test_risk_based_size_without_a_cap_is_the_full_2000_shares():
    d = run(sig(entry=100, stop=95), rules=Rules(max_position_pct=25))
    assert (d.outcome, d.qty, d.notional) == ("ordered", 2000, 200_000)


def test_risk_based_size_without_an_entry_measures_the_stop_from_the_ask():
    d = run(sig(stop=95), quote=make_quote(100), rules=Rules(max_position_pct=25))
    assert step(d, "base").inputs["entry_from"] == "ask"
    assert d.qty == 2000


def test_a_stop_at_or_above_the_entry_is_skipped():
    d = run(sig(entry=100, stop=100))
    skipped(d, "stop 100.00 is not below the entry 100.00", at="base")


@pytest.mark.parametrize(
    ("conviction", "dollars", "multiplier"),
    [(10, 30_000, 1.5), (9, 25_000, 1.25), (8, 20_000, 1.0), (7, 15_000, 0.75), (11, 30_000, 1.5)],
)
def test_long_term_size_is_portfolio_times_base_pct_times_conviction(conviction, dollars, multiplier):
    d = run(sig("long_term", conviction=conviction))
    assert step(d, "base").dollars_after == 20_000
    assert step(d, "conviction").multiplier == multiplier
    assert (d.outcome, d.notional, d.qty) == ("ordered", dollars, dollars / 100)


@pytest.mark.parametrize(
    ("conviction", "reason"),
    [
        (6, "conviction 6 below the lowest sized conviction 7"),
        (1, "conviction 1 below the lowest sized conviction 7"),
        (None, "conviction missing (the lowest sized conviction is 7)"),
    ],
)
def test_long_term_conviction_below_the_table_is_skipped(conviction, reason):
    skipped(run(sig("long_term", conviction=conviction)), reason, at="conviction")


def test_conviction_uses_the_largest_key_at_or_below_it():
    rules = Rules(conviction_multipliers={9: 2.0, 5: 0.5})
    assert run(sig("long_term", conviction=8), rules=rules).notional == 10_000  # key 5 → × 0.5
    assert run(sig("long_term", conviction=9), rules=rules).notional == 40_000


@pytest.mark.parametrize("category", ["swing", "day_trade"])
def test_trades_without_a_stop_get_the_base_allocation_and_no_conviction(category):
    d = run(sig(category, conviction=10))
    assert d.notional == 20_000
    assert "conviction not applied" in step(d, "base").effect
    assert not [s for s in d.trace if s.name == "conviction"]


def test_flat_size_when_dynamic_sizing_is_off():
    d = run(sig("long_term", conviction=10, entry=100, stop=95), rules=Rules(use_dynamic_sizing=False))
    assert step(d, "base").inputs["method"] == "flat"
    assert (d.qty, d.notional) == (50, 5_000)


# --------------------------------------------------------------------------------------------- multipliers


@pytest.mark.parametrize(
    ("vix", "multiplier", "effect"),
    [
        (0, 1.1, "VIX 0 in [0, 15): × 1.1"),
        (14, 1.1, "VIX 14 in [0, 15): × 1.1"),
        (14.99, 1.1, "VIX 14.99 in [0, 15): × 1.1"),
        # "15–25" is the normal band and "< 15" excludes 15: exactly 15 is × 1.0.
        (15, 1.0, "VIX 15 in [15, 25]: × 1"),
        (20, 1.0, "VIX 20 in [15, 25]: × 1"),
        (25, 1.0, "VIX 25 in [15, 25]: × 1"),
        (25.01, 0.6, "VIX 25.01 in (25, 30]: × 0.6"),
        (27.4, 0.6, "VIX 27.4 in (25, 30]: × 0.6"),
        # "VIX > 30" excludes 30: it is in 25–30.
        (30, 0.6, "VIX 30 in (25, 30]: × 0.6"),
        (30.01, 0.5, "VIX 30.01 > 30: × 0.5"),
        (31, 0.5, "VIX 31 > 30: × 0.5"),
        (None, 1.0, "VIX unknown: × 1"),
    ],
)
def test_vix_bands(vix, multiplier, effect):
    d = run(sig("swing"), risk=make_risk(vix=vix))
    vix_step = step(d, "regime_vix")
    assert vix_step.multiplier == multiplier
    assert vix_step.effect.startswith(effect)
    assert d.notional == pytest.approx(20_000 * multiplier)


def test_vix_above_30_pauses_long_term_buys_only():
    skipped(
        run(sig("long_term", conviction=10), risk=make_risk(vix=34.1)),
        "regime: VIX 34.1 > 30 pauses new long-term buys",
        at="regime_pause",
    )
    assert run(sig("swing"), risk=make_risk(vix=34.1)).notional == 10_000
    off = run(sig("long_term", conviction=10), risk=make_risk(vix=34.1), rules=Rules(market_regime_enabled=False))
    assert off.notional == 30_000 and step(off, "regime_vix").multiplier == 1.0


@pytest.mark.parametrize(
    ("spy_close", "spy_sma", "multiplier"),
    [(480, 490, 0.8), (490, 490, 1.0), (500, 490, 1.0), (None, 490, 1.0), (480, None, 1.0)],
)
def test_spy_below_its_sma_reduces_by_0_8(spy_close, spy_sma, multiplier):
    d = run(sig("swing"), risk=make_risk(spy_close=spy_close, spy_sma=spy_sma))
    assert step(d, "regime_spy_sma").multiplier == multiplier
    assert d.notional == pytest.approx(20_000 * multiplier)


def test_regime_multipliers_compound():
    d = run(sig("swing"), risk=make_risk(vix=27, spy_close=480, spy_sma=490))
    assert d.notional == pytest.approx(20_000 * 0.6 * 0.8)  # 9,600 → 96 shares


KELLY_06 = KellyStats(trades=10, wins=6, avg_win=2.0, avg_loss=1.0)  # f = (1.2 − 0.4)/2 = 0.4, f/2 = 0.2


@pytest.mark.parametrize(
    ("stats", "mode", "multiplier", "effect_part"),
    [
        (KELLY_06, "seed", 0.25, "f/2 = 0.2 → clamped to [0.25, 2]"),
        (KELLY_06, "normalized", 0.8, "f/2 = 0.2 / reference 0.25 = 0.8"),
        (KellyStats(10, 8, 2.0, 1.0), "normalized", 1.4, "= 1.4"),  # f = 0.7, f/2 = 0.35 → 1.4
        (KellyStats(10, 8, 2.0, 1.0), "seed", 0.35, "f/2 = 0.35"),
        (KellyStats(10, 3, 1.0, 1.0), "seed", 0.25, "≤ 0: no edge → lower bound × 0.25"),  # f = −0.4
        (KellyStats(10, 0, 0.0, 1.0), "normalized", 0.25, "no average win"),
        (KellyStats(7, 5, 2.0, 1.0), "seed", 1.0, "inactive: 7 < 10 completed trades"),
    ],
)
def test_half_kelly(stats, mode, multiplier, effect_part):
    rules = Rules(kelly_adaptive_enabled=True, kelly_mode=mode)
    d = run(sig("swing"), risk=make_risk(kelly={"swing": stats}), rules=rules)
    kelly = step(d, "kelly")
    assert kelly.multiplier == pytest.approx(multiplier)
    assert effect_part in kelly.effect
    assert d.notional == pytest.approx(whole(20_000 * multiplier / 100) * 100)


def whole(x: float) -> float:
    return float(math.floor(x + 1e-9))


def test_kelly_uses_the_signals_category_and_is_off_by_default():
    risk = make_risk(kelly={"swing": KELLY_06})
    on = Rules(kelly_adaptive_enabled=True)
    assert step(run(sig("long_term", conviction=8), risk=risk, rules=on), "kelly").effect.startswith(
        "long_term: inactive: 0 < 10 completed trades"
    )
    assert step(run(sig("swing"), risk=risk), "kelly").multiplier == 1.0


def test_kelly_multiplier_range_says_what_each_mode_can_produce():
    assert kelly_multiplier_range(Rules()) == (0.25, 0.5)  # the seed's formula can only shrink
    assert kelly_multiplier_range(Rules(kelly_mode="normalized")) == (0.25, 2.0)
    assert kelly_multiplier_range(Rules(kelly_mode="normalized", kelly_reference_fraction=0.5)) == (0.25, 1.0)


@pytest.mark.parametrize(
    ("drawdown", "multiplier"),
    [(0, 1.0), (4, 1.0), (5, 1.0), (6, 0.75), (10, 0.75), (11, 0.5), (15, 0.5)],
)
def test_drawdown_bands(drawdown, multiplier):
    d = run(sig("swing"), risk=make_risk(drawdown_pct=drawdown))
    assert step(d, "drawdown").multiplier == multiplier
    assert d.notional == pytest.approx(20_000 * multiplier)


def test_drawdown_above_15_pct_stops_new_entries():
    skipped(run(sig("swing"), risk=make_risk(drawdown_pct=16)), "drawdown 16% > 15%: no new entries", "drawdown_pause")


def test_drawdown_bands_are_scanned_from_the_highest_whatever_their_order():
    rules = Rules(drawdown_bands=(DrawdownBand(5, 0.75), DrawdownBand(10, 0.5)))
    assert step(run(sig(), risk=make_risk(drawdown_pct=11), rules=rules), "drawdown").multiplier == 0.5


@pytest.mark.parametrize(("share", "multiplier"), [(0.0, 1.0), (0.79, 1.0), (0.80, 0.5), (0.90, 0.25), (0.99, 0.25)])
def test_daily_pnl_throttle_near_the_target(share, multiplier):
    d = run(sig("swing"), risk=make_risk(daily_pnl=5_000 * share))
    assert step(d, "daily_pnl").multiplier == multiplier
    assert d.notional == pytest.approx(20_000 * multiplier)


@pytest.mark.parametrize(
    ("pnl", "reason", "at"),
    [
        (5_000, "daily profit target reached: P&L $5,000 ≥ $5,000", "daily_profit_target"),
        (7_250.5, "daily profit target reached: P&L $7,250.50 ≥ $5,000", "daily_profit_target"),
        (-2_500, "max daily loss reached: P&L −$2,500 ≤ −$2,500", "max_daily_loss"),
    ],
)
def test_daily_pnl_circuit_breakers(pnl, reason, at):
    skipped(run(sig("swing"), risk=make_risk(daily_pnl=pnl)), reason, at)


def test_a_loss_short_of_the_limit_still_trades():
    assert run(sig("swing"), risk=make_risk(daily_pnl=-2_499)).notional == 20_000


@pytest.mark.parametrize(("losses", "ordered"), [(0, True), (4, True), (5, False), (7, False)])
def test_consecutive_losses_pause_new_entries(losses, ordered):
    d = run(sig("swing"), risk=make_risk(consecutive_losses=losses))
    if ordered:
        assert d.outcome == "ordered"
    else:
        skipped(d, f"paused after {losses} consecutive losing trades", at="consecutive_losses")


# ---------------------------------------------------------------------------------------------------- caps


@pytest.mark.parametrize(("deployed", "new"), [(240_000, 20_000), (230_000.5, 20_000)])
def test_allocation_cap_skips_rather_than_reduces(deployed, new):
    d = run(sig("swing"), book=make_book(deployed=deployed))
    shown = f"{deployed:,.0f}" if deployed == int(deployed) else f"{deployed:,.2f}"
    skipped(d, f"allocation cap: deployed {shown} + new {new:,.0f} > 250,000", at="allocation_cap")


def test_allocation_cap_allows_exactly_the_cap():
    assert run(sig("swing"), book=make_book(deployed=230_000)).notional == 20_000


def test_allocation_cap_is_checked_after_the_max_position_cut():
    # 2,000 shares ($200,000) would breach the cap from 210,000; cut to $50,000 it fits... only from ≤ 200,000.
    skipped(run(sig(entry=100, stop=95), book=make_book(deployed=210_000)), "new 50,000 > 250,000", "allocation_cap")
    assert run(sig(entry=100, stop=95), book=make_book(deployed=200_000)).qty == 500


def test_sector_cap_reduces_to_fit():
    d = run(sig("swing"), book=make_book(sector_exposure={SECTOR: 290_000}))
    assert (d.outcome, d.notional, d.qty) == ("reduced", 10_000, 100)
    assert "reduced to $10,000" in step(d, "sector_cap").effect


@pytest.mark.parametrize("exposure", [299_950, 300_000, 400_000])
def test_sector_cap_skips_when_not_one_share_fits(exposure):
    d = run(sig("swing"), book=make_book(sector_exposure={SECTOR: exposure}))
    skipped(d, f"sector cap: {SECTOR} ${exposure:,.0f} + $20,000 > 30% of $1,000,000 = $300,000", at="sector_cap")


def test_unknown_sector_is_not_capped_by_the_known_sectors():
    d = run(sig("swing"), sector=None, book=make_book(sector_exposure={SECTOR: 1e9}))
    assert d.notional == 20_000 and step(d, "sector_cap").inputs["unknown_sector"] == "own_bucket"


def test_cash_cap_reduces_to_the_cash_above_the_reserve():
    d = run(sig("swing"), book=make_book(cash=25_000))
    assert (d.outcome, d.notional) == ("reduced", 15_000)


@pytest.mark.parametrize("cash", [10_050, 9_000])
def test_cash_cap_skips_when_not_one_share_fits(cash):
    skipped(run(sig("swing"), book=make_book(cash=cash)), f"cash: ${cash:,} − reserve $10,000", at="cash")


def test_max_position_counts_what_is_already_held():
    rules = Rules(one_position_per_symbol=False)
    d = run(sig("long_term", conviction=10), book=make_book(position_value={"AAPL": 35_000}), rules=rules)
    assert (d.outcome, d.notional) == ("reduced", 15_000)
    skipped(
        run(sig("long_term", conviction=10), book=make_book(position_value={"AAPL": 49_950}), rules=rules),
        "max position: AAPL holds $49,950 of the $50,000 limit",
        at="max_position",
    )


# --------------------------------------------------------------------------------------------------- gates


@pytest.mark.parametrize(
    ("open_positions", "trades_today", "reason", "at"),
    [
        (20, 0, "max open positions reached: 20 ≥ 20", "max_open_positions"),
        (19, 10, "max new trades per day reached: 10 ≥ 10", "max_new_trades_per_day"),
        (19, 9, None, None),
    ],
)
def test_position_and_trade_count_limits(open_positions, trades_today, reason, at):
    d = run(sig(), book=make_book(open_positions=open_positions, new_trades_today=trades_today))
    if reason is None:
        assert d.outcome == "ordered"
    else:
        skipped(d, reason, at)


def test_adding_to_a_held_symbol_opens_no_new_position():
    book = make_book(open_positions=20, position_value={"AAPL": 1_000})
    assert run(sig(), book=book, rules=Rules(one_position_per_symbol=False)).outcome == "ordered"


def test_one_position_per_symbol():
    book = make_book(position_value={"AAPL": 12_000})
    skipped(run(sig(), book=book), "one position per symbol: AAPL already held ($12,000)", "one_position_per_symbol")
    assert run(sig(), book=make_book(position_value={"AAPL": 0.0})).outcome == "ordered"


@pytest.mark.parametrize(
    ("allow", "deny", "symbol", "reason"),
    [
        (set(), {"AAPL"}, "AAPL", "AAPL is on the deny list"),
        (set(), {"aapl"}, "AAPL", "AAPL is on the deny list"),
        ({"MSFT"}, set(), "AAPL", "AAPL is not on the allow list (1 symbols)"),
        ({"AAPL", "MSFT"}, {"MSFT"}, "MSFT", "MSFT is on the deny list"),
        ({"AAPL"}, set(), "AAPL", None),
        (set(), {"MSFT"}, "AAPL", None),
    ],
)
def test_allow_and_deny_lists(allow, deny, symbol, reason):
    rules = Rules(allow_symbols=frozenset(allow), deny_symbols=frozenset(deny))
    d = run(sig(symbol=symbol), rules=rules)
    if reason is None:
        assert d.outcome == "ordered"
    else:
        skipped(d, reason, "symbol_lists")


@pytest.mark.parametrize(
    ("asset", "reason"),
    [(None, "AAPL is not a known asset at the broker"), (AssetIn(False, True), "AAPL is not tradable at the broker")],
)
def test_asset_must_be_known_and_tradable(asset, reason):
    skipped(run(sig(), asset=asset), reason, "asset")


def test_sell_signals_are_skipped():
    skipped(run(sig(side="sell")), "no short selling: short entries are not supported", "side")


def test_unknown_category_and_bad_signal_prices_are_skipped():
    skipped(run(sig("scalp")), "unknown category 'scalp'", "category")
    skipped(run(sig(entry=100, stop=-1)), "signal stop -1 is not a positive price", "signal_prices")


@pytest.mark.parametrize(
    ("days", "policy", "enabled", "reason"),
    [
        (2, "allow", True, "earnings blackout: earnings in 2 days ≤ 3"),
        (3, "allow", True, "earnings blackout: earnings in 3 days ≤ 3"),
        (0, "allow", True, "earnings blackout: earnings in 0 days ≤ 3"),
        (4, "allow", True, None),
        (None, "allow", True, None),
        (None, "skip", True, "earnings date unknown (unknown_earnings = skip)"),
        (1, "skip", False, None),
    ],
)
def test_earnings_blackout(days, policy, enabled, reason):
    rules = Rules(unknown_earnings=policy, earnings_avoid_enabled=enabled)
    d = run(sig(), earnings=days, rules=rules)
    if reason is None:
        assert d.outcome == "ordered"
    else:
        skipped(d, reason, "earnings")


# ------------------------------------------------------------------------------------------ pre-trade checks


@pytest.mark.parametrize(
    ("last", "reason"),
    [
        (101.9, None),  # 1.9%
        (98.1, None),
        (102.1, "price drifted 2.1% from the signal's entry 100.00 (max 2%)"),
        (97.9, "price drifted 2.1% from the signal's entry 100.00 (max 2%)"),
        (103.1, "price drifted 3.1% from the signal's entry 100.00 (max 2%)"),
    ],
)
def test_price_drift_from_the_signals_entry(last, reason):
    d = run(sig(entry=100), quote=make_quote(last, last=last))
    if reason is None:
        assert d.outcome == "ordered" and step(d, "drift").inputs["drift_pct"] == pytest.approx(abs(last - 100))
    else:
        skipped(d, reason, "drift")


@pytest.mark.parametrize(("ask", "last", "ok"), [(100.5, 102.1, False), (102.5, 101.9, True)])
def test_drift_is_measured_on_the_last_trade_not_the_ask(ask, last, ok):
    d = run(sig(entry=100), quote=make_quote(ask, last=last))
    assert step(d, "drift").inputs["last"] == last
    assert (d.outcome != "skipped") is ok


def test_no_entry_means_no_drift_check():
    assert run(sig(), quote=make_quote(150)).outcome == "ordered"


@pytest.mark.parametrize(
    ("bid", "ask", "reason", "at"),
    [
        (99.6, 100.0, None, None),  # 40.1 bps
        (99.4, 100.0, "spread 60.18 bps > 50 bps (bid 99.40, ask 100.00)", "spread"),
        (100.5, 100.0, "invalid quote: bid 100.5, ask 100", "quote"),  # crossed
        (0.0, 100.0, "invalid quote: bid 0, ask 100", "quote"),
    ],
)
def test_spread_and_quote_sanity(bid, ask, reason, at):
    d = run(sig(), quote=make_quote(ask, bid=bid))
    if reason is None:
        assert d.outcome == "ordered"
    else:
        skipped(d, reason, at)


@pytest.mark.parametrize(
    ("age", "reason"),
    [(0, None), (900, None), (901.256, "stale quote: 901.26s old (max 900s)"), (math.nan, "stale quote: nans old")],
)
def test_stale_quotes_are_skipped(age, reason):
    d = run(sig(), quote=make_quote(age=age))
    if reason is None:
        assert d.outcome == "ordered"
    else:
        skipped(d, reason, "quote_age")


def test_no_quote_is_skipped():
    skipped(run(sig(), quote=None), "no quote", "quote")


def test_a_buy_is_sized_at_the_ask():
    d = run(sig(), quote=make_quote(ask=80.0, bid=79.99, last=79.5))
    assert d.reference_price == 80.0 and d.qty == 250


# ------------------------------------------------------------------------------------- quantity and orders


@pytest.mark.parametrize(
    ("fractional_rule", "fractionable", "signal", "qty"),
    [
        (False, True, sig(), 66),
        (True, True, sig(), 66.6666),
        (True, False, sig(), 66),
        (True, True, sig(entry=300, stop=210, target=400), 111),  # a bracket is never fractional: 111.1 → 111
    ],
)
def test_whole_versus_fractional_shares(fractional_rule, fractionable, signal, qty):
    d = run(
        signal, quote=make_quote(300), asset=AssetIn(True, fractionable), rules=Rules(fractional_shares=fractional_rule)
    )
    assert d.qty == qty
    assert d.notional == pytest.approx(qty * 300)


def test_a_size_below_one_share_is_skipped():
    d = run(sig(), quote=make_quote(30_000))
    skipped(d, "size rounds to 0 shares: $20,000 at 30,000.00 is 0.6667 of a share", at="whole_shares")
    fractional = run(sig(), quote=make_quote(30_000), rules=Rules(fractional_shares=True))
    assert fractional.qty == 0.6666


def test_a_fractional_order_under_one_dollar_is_skipped():
    d = run(sig(), book=make_book(cash=10_000.5), rules=Rules(fractional_shares=True))
    skipped(d, "cash: $10,000.50 − reserve $10,000 leaves $0.50, less than the $1 minimum", at="cash")


@pytest.mark.parametrize(
    ("ask", "stop", "target", "stop_loss", "take_profit"),
    [
        (100.0, 95.0, 110.0, 95.0, 110.0),
        (100.0, 95.004, 110.006, 95.01, 110.0),  # both legs round toward the entry
        (0.5, 0.45005, 0.60009, 0.4501, 0.6),  # below $1: 4 decimals
    ],
)
def test_bracket_legs_are_on_the_tick(ask, stop, target, stop_loss, take_profit):
    d = run(
        sig(entry=ask, stop=stop, target=target),
        quote=make_quote(ask, bid=ask * 0.9999),
        rules=Rules(max_position_pct=100),
    )
    assert (d.order_class, d.order_type, d.limit_price) == ("bracket", "market", None)
    assert (d.stop_loss, d.take_profit) == (stop_loss, take_profit)
    assert is_on_tick(d.stop_loss) and is_on_tick(d.take_profit)


@pytest.mark.parametrize(
    ("entry", "stop", "target", "reason"),
    [
        (100, 95, 94, "bracket: target 94.00 is not above the stop 95.00"),
        (100, 95, 99.5, "bracket: the ask 100.00 is not between the stop 95.00 and the target 99.50"),
    ],
)
def test_impossible_brackets_are_skipped(entry, stop, target, reason):
    skipped(run(sig(entry=entry, stop=stop, target=target)), reason, at="order")


@pytest.mark.parametrize(
    ("entry_rule", "entry", "order_type", "limit_price"),
    [("market", 100.0, "market", None), ("limit", 100.007, "limit", 100.0), ("limit", None, "market", None)],
)
def test_long_term_entry_orders(entry_rule, entry, order_type, limit_price):
    d = run(sig("long_term", conviction=8, entry=entry), rules=Rules(long_term_entry=entry_rule))
    assert (d.order_class, d.order_type, d.limit_price) == ("simple", order_type, limit_price)


def test_a_stop_without_a_target_is_a_simple_market_order():
    d = run(sig(entry=100, stop=95))
    assert (d.order_class, d.order_type, d.take_profit, d.stop_loss) == ("simple", "market", None, None)


# ---------------------------------------------------------------------------------------------------- batch


def batch(*signals: SignalIn, sector: str | None = SECTOR):
    return [(s, make_quote(), ASSET, sector, 30) for s in signals]


def test_decide_all_keeps_the_allocation_cap_across_the_batch():
    items = batch(*(sig(symbol=f"S{i}", signal_id=i) for i in range(3)))
    decisions = decide_all(items, make_book(), make_risk(), Rules(max_total_allocation=50_000))
    assert [d.outcome for d in decisions] == ["ordered", "ordered", "skipped"]
    assert decisions[2].reason == "allocation cap: deployed 40,000 + new 20,000 > 50,000"


def test_decide_all_keeps_sector_cash_and_count_limits_across_the_batch():
    items = batch(*(sig(symbol=f"S{i}", signal_id=i) for i in range(4)))
    sector = decide_all(items, make_book(), make_risk(), Rules(max_sector_pct=5))
    assert [d.notional for d in sector] == [20_000, 20_000, 10_000, 0]
    assert [d.outcome for d in sector] == ["ordered", "ordered", "reduced", "skipped"]

    cash = decide_all(items, make_book(cash=55_000), make_risk(), Rules())
    assert [d.notional for d in cash] == [20_000, 20_000, 5_000, 0]

    count = decide_all(items, make_book(open_positions=17), make_risk(), Rules())
    assert [d.outcome for d in count] == ["ordered", "ordered", "ordered", "skipped"]

    today = decide_all(items, make_book(new_trades_today=8), make_risk(), Rules())
    assert [d.outcome for d in today] == ["ordered", "ordered", "skipped", "skipped"]


def test_decide_all_sees_its_own_positions_and_leaves_the_callers_book_alone():
    book = make_book()
    items = batch(sig(signal_id=1), sig(signal_id=2))
    decisions = decide_all(items, book, make_risk(), Rules())
    assert [d.outcome for d in decisions] == ["ordered", "skipped"]
    assert "already held ($20,000)" in decisions[1].reason
    assert book == make_book()

    adding = decide_all(
        batch(*(sig("long_term", conviction=10, signal_id=i) for i in range(3))),
        book,
        make_risk(),
        Rules(one_position_per_symbol=False),
    )
    assert [d.notional for d in adding] == [30_000, 20_000, 0]  # the 5% position cap holds across the batch


# ------------------------------------------------------------------------------------------------ the record


def test_every_step_of_an_order_is_traced_with_its_numbers():
    d = run(sig(entry=100, stop=95, target=110), risk=make_risk(vix=27.4))
    names = [s.name for s in d.trace]
    for name in (
        "base",
        "regime_vix",
        "regime_spy_sma",
        "kelly",
        "drawdown",
        "daily_pnl",
        "max_position",
        "allocation_cap",
        "sector_cap",
        "cash",
        "whole_shares",
        "earnings",
        "drift",
        "spread",
        "order",
    ):
        assert name in names
    assert all(s.effect for s in d.trace)
    assert step(d, "regime_vix").inputs["vix"] == 27.4
    assert d.reason.startswith("buy 500 AAPL at ~100.00 = $50,000")


def test_to_json_is_plain_json():
    d = run(sig(), quote=make_quote(age=math.nan))
    data = d.to_json()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["trace"][-1]["inputs"]["age_seconds"] is None
    assert isinstance(data["trace"], list) and data["trace"][0]["name"] == "side"
    assert data["outcome"] == "skipped" and data["reason"].startswith("stale quote")


@pytest.mark.parametrize(
    "changes",
    [
        {"kelly_mode": "full"},
        {"kelly_reference_fraction": 0},
        {"kelly_clamp": (2.0, 0.25)},
        {"unknown_earnings": "maybe"},
        {"long_term_entry": "stop"},
    ],
)
def test_rules_refuse_meaningless_values(changes):
    with pytest.raises(ValueError):
        Rules(**changes)


def test_a_long_term_stop_shapes_the_order_not_the_size():
    # The seed: long-term holds are sized by conviction ($1M × 2% × 1.5 = $30,000), scanner trades by risk.
    d = run(sig("long_term", conviction=10, entry=100, stop=85, target=130))
    assert d.notional == pytest.approx(30_000, rel=0.01)
    assert step(d, "base").inputs["method"] == "allocation"
    assert d.order_class == "bracket" and d.stop_loss == 85
    swing = run(sig("swing", conviction=10, entry=100, stop=95, target=110))
    assert step(swing, "base").inputs["method"] == "risk"
