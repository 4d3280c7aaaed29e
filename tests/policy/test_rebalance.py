"""The strategy rebalancer: backtest rules against hand-worked cases and an independent day-by-day
loop, no look-ahead, the metrics, the probabilistic and deflated Sharpe ratios, selection, and the order plan."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from autotrader.policy.rebalance import (
    Backtest,
    Params,
    Strategy,
    backtest,
    cagr,
    deltas,
    expected_max_sharpe,
    keep_current,
    max_drawdown,
    per_period_sharpe,
    probabilistic_sharpe,
    select,
    target_shares,
)

SMALL = Params(sharpe_lookback=3, lookback_days=2, cooldown_days=2, top_n=2)
EULER = 0.5772156649


def frame(columns: dict[str, list[float]], start: str = "2024-01-01") -> pd.DataFrame:
    size = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=pd.bdate_range(start, periods=size), dtype=float)


def random_closes(rows: int, tickers: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0004, 0.02, (rows, tickers))
    return pd.DataFrame(
        100 * np.exp(np.cumsum(steps, axis=0)),
        index=pd.bdate_range("2023-01-02", periods=rows),
        columns=[f"T{i}" for i in range(tickers)],
    )


# ----------------------------------------------------------------------------------- the hand-built three-ticker case

# Rows 0..8. A climbs ~1% a day (near-constant returns: a huge Sharpe); B zigzags upwards (per-period Sharpe
# ~0.58); C falls for three sessions, then climbs ~1% a day.
HAND = {
    "A": [100, 101, 102, 103, 104, 105, 106, 107, 108],
    "B": [100, 102, 101, 103, 102, 104, 103, 105, 104],
    "C": [100, 99, 98, 97, 98, 99, 100, 101, 102],
}


def reference_backtest(prices: dict[str, list[float]], p: Params) -> tuple[list[float], list[tuple[int, list[str]]]]:
    """A plain day-by-day loop over Python lists: (NAV per session from the first eligible one, picks)."""
    names = list(prices)
    sessions = len(prices[names[0]])
    first = max(p.sharpe_lookback, p.lookback_days if p.momentum_filter else 0)
    cash, units, peak = p.capital, {}, p.capital
    navs, picks = [], []
    due = first
    for t in range(first, sessions):
        value = cash + sum(q * prices[n][t] for n, q in units.items())
        peak = max(peak, value)
        if units and p.drawdown_stop > 0 and value <= (1 - p.drawdown_stop / 100) * peak:
            cash, units, peak = value, {}, value
            picks.append((t, []))
            due = t + p.cooldown_days
        elif t == due:
            due = t + p.cooldown_days
            scores = {}
            for n in names:
                series = prices[n]
                if p.momentum_filter and series[t] / series[t - p.lookback_days] - 1 <= 0:
                    continue
                rets = [series[j] / series[j - 1] - 1 for j in range(t - p.sharpe_lookback + 1, t + 1)]
                if statistics.stdev(rets) <= 1e-12:
                    continue
                scores[n] = statistics.mean(rets) / statistics.stdev(rets)
            best = sorted(scores, key=lambda n: -scores[n])[: p.top_n]
            slice_ = value / p.top_n
            units = {n: slice_ / prices[n][t] for n in best}
            cash = value - slice_ * len(best)
            picks.append((t, best))
        navs.append(value)
    return navs, picks


def test_nav_matches_an_independent_day_by_day_loop():
    bt = backtest(frame(HAND), Strategy("R", ("A", "B", "C")), SMALL)
    navs, picks = reference_backtest(HAND, SMALL)
    # First eligible row max(3, 2) = 3; cooldown 2 → rebalances at rows 3, 5, 7.
    # Row 3: C's 2-session momentum 97/99 − 1 < 0 → out; A, B in.
    # Row 5: all eligible; C's returns (−1.02%, +1.03%, +1.02%) give ~0.29 per period, B's ~0.58 → A, B.
    # Row 7: C's returns are near-constant (~1.0%) → a huge Sharpe, second only to A's → A, C; B is sold.
    assert picks == [(3, ["A", "B"]), (5, ["A", "B"]), (7, ["A", "C"])]
    assert [(r.date, list(r.weights), r.reason) for r in bt.rebalances] == [
        (bt.nav.index[0], ["A", "B"], "initial"),
        (bt.nav.index[2], ["A", "B"], "scheduled"),
        (bt.nav.index[4], ["A", "C"], "scheduled"),
    ]
    assert bt.nav.to_numpy() == pytest.approx(navs, rel=1e-12)
    assert len(bt.nav) == 6 and bt.nav.index[0] == frame(HAND).index[3]
    # By hand: row 3 buys 50,000/103 = 485.437 of A and of B.
    # Row 4: 485.437 × (104 + 102) = 100,000.00.  Row 5: 485.437 × (105 + 104) = 101,456.31.
    assert bt.nav.iloc[1] == pytest.approx(100_000.0)
    assert bt.nav.iloc[2] == pytest.approx(50_000 / 103 * 209, abs=1e-6)
    # Row 5 re-equalises (same set): 50,728.16 each → row 6 = 50,728.16 × (106/105 + 103/104) = 101,451.67
    # (without the reset it would stay 485.437 × (106 + 103) = 101,456.31).
    half = 50_000 / 103 * 209 / 2
    assert bt.nav.iloc[3] == pytest.approx(half * (106 / 105 + 103 / 104), abs=1e-6)
    assert bt.nav.iloc[3] == pytest.approx(101_451.67, abs=0.01)
    # Row 7: 50,728.16 × (107/105 + 105/104) = 102,910.33, then A and C at 51,455.17 each.
    assert bt.nav.iloc[4] == pytest.approx(102_910.33, abs=0.01)
    # Row 8: 51,455.17 × (108/107 + 102/101) = 103,900.68; the drifted weights are A 0.49986, C 0.50014.
    assert bt.final_nav == pytest.approx(103_900.68, abs=0.01)
    a_value = bt.nav.iloc[4] / 2 * 108 / 107
    assert bt.weights == pytest.approx({"A": a_value / bt.final_nav, "C": 1 - a_value / bt.final_nav})
    assert bt.target_weights == {"A": 0.5, "C": 0.5}


def test_hand_case_metrics_match_the_reference_navs():
    bt = backtest(frame(HAND), Strategy("R", ("A", "B", "C")), SMALL)
    navs, _ = reference_backtest(HAND, SMALL)
    rets = [navs[i] / navs[i - 1] - 1 for i in range(1, len(navs))]
    assert bt.daily_returns == pytest.approx(rets, rel=1e-9)
    assert bt.sharpe == pytest.approx(statistics.mean(rets) / statistics.stdev(rets) * math.sqrt(252), rel=1e-9)
    # The only dip: row 5 → row 6, 101,456.31 → 101,451.67.
    assert bt.max_drawdown == pytest.approx(1 - navs[3] / navs[2], rel=1e-9)
    days = (bt.nav.index[-1] - bt.nav.index[0]).days  # Thu 2024-01-04 → Thu 2024-01-11: 7 days
    assert days == 7
    assert bt.cagr == pytest.approx((navs[-1] / 100_000) ** (365.25 / 7) - 1, rel=1e-9)
    assert math.isnan(bt.momentum)  # 6 sessions < pm_momentum_lookback + 1
    short_momentum = backtest(frame(HAND), Strategy("R", ("A", "B", "C")), replace(SMALL, pm_momentum_lookback=3))
    assert short_momentum.momentum == pytest.approx(navs[-1] / navs[-4] - 1)
    assert bt.sessions == 6


# ------------------------------------------------------------------------------------------------ rules, one by one


def test_rebalances_fall_every_cooldown_sessions_and_reset_to_equal_weights():
    closes = random_closes(200, 6, seed=3)
    p = Params(sharpe_lookback=20, lookback_days=5, cooldown_days=7, top_n=3, drawdown_stop=99.0)
    bt = backtest(closes, Strategy("R", tuple(closes.columns)), p)
    rows = [closes.index.get_loc(r.date) for r in bt.rebalances]
    assert rows == list(range(20, 200, 7))
    for r in bt.rebalances:
        assert all(w == pytest.approx(1 / 3) for w in r.weights.values())
    # The same with cooldown 1: every session is a rebalance.
    daily = backtest(closes, Strategy("R", tuple(closes.columns)), replace(p, cooldown_days=1))
    assert [closes.index.get_loc(r.date) for r in daily.rebalances] == list(range(20, 200))


def test_fewer_eligible_than_top_n_leaves_the_rest_in_cash():
    closes = frame(
        {
            "A": [100, 101, 103, 102, 105, 110],
            "D": [100, 99, 98, 99, 97, 96],  # flat over the 2 sessions to row 3: momentum 0, not > 0
            "E": [100, 99, 98, 97, 96, 95],
        }
    )
    # Row 3 with L = 2: A 102/101 > 0, D 99/99 − 1 = 0 (not > 0), E 97/99 < 0: only A is eligible.
    p = Params(sharpe_lookback=3, lookback_days=2, cooldown_days=10, top_n=3)
    bt = backtest(closes, Strategy("R", ("A", "D", "E")), p)
    assert bt.rebalances[0].weights == {"A": pytest.approx(1 / 3)}
    # One third in A from 102, two thirds in cash: row 5 = 100,000 × (2/3 + 1/3 × 110/102).
    assert bt.final_nav == pytest.approx(100_000 * (2 / 3 + 110 / 102 / 3))
    assert sum(bt.weights.values()) < 1


def test_constant_return_window_and_missing_data_are_not_eligible():
    geometric = [100 * 1.01**k for k in range(6)]  # returns equal up to float noise: zero std
    zigzag = [100, 102, 101, 104, 103, 106]
    gap = [100, 101, 102, np.nan, 104, 105]
    closes = frame({"G": geometric, "Z": zigzag, "N": gap})
    p = Params(sharpe_lookback=3, lookback_days=2, cooldown_days=1, top_n=1)
    bt = backtest(closes, Strategy("R", ("G", "Z", "N")), p)
    # G would rank first on any finite Sharpe; N's window has a missing close until row 5 (returns of rows 4, 5
    # need rows 3, 4) — it stays out at rows 3, 4 and 5.
    assert [list(r.weights) for r in bt.rebalances] == [["Z"], ["Z"], ["Z"]]


def test_drawdown_at_the_threshold_exits_resets_the_peak_and_re_enters():
    p = Params(sharpe_lookback=3, lookback_days=2, cooldown_days=2, top_n=1, drawdown_stop=10.0)
    # Buy 1,000 X at 100 (row 3); peak 120,000 at row 4; row 5 is due with NAV 108,000 = 0.9 × 120,000 → cash.
    # Rows 6, 7: 108,000 in cash, the new peak; row 7 re-enters X at 112 (momentum 112/108 > 0). Had the peak
    # stayed at 120,000, row 7 would be a second drawdown exit.
    x = [96, 98, 97, 100, 120, 108, 110, 112, 116]
    bt = backtest(frame({"X": x}), Strategy("R", ("X",)), p)
    assert [(r.reason, r.weights) for r in bt.rebalances] == [
        ("initial", {"X": 1.0}),
        ("drawdown", {}),
        ("scheduled", {"X": 1.0}),
    ]
    assert bt.nav.tolist() == pytest.approx([100_000, 120_000, 108_000, 108_000, 108_000, 108_000 * 116 / 112])
    # One cent above the threshold: no exit, X is still eligible and held.
    above = backtest(frame({"X": [*x[:5], 108.01, *x[6:]]}), Strategy("R", ("X",)), p)
    assert [r.reason for r in above.rebalances] == ["initial", "scheduled", "scheduled"]
    assert above.final_nav == pytest.approx(1000 * 108.01 * 116 / 108.01)


def test_a_drawdown_inside_the_cooldown_exits_at_once_and_restarts_the_cooldown():
    p = Params(sharpe_lookback=3, lookback_days=2, cooldown_days=2, top_n=1, drawdown_stop=10.0)
    # Bought 1,000 X at 100 (row 3). Row 4 closes at 85 (NAV 85,000 ≤ 90,000): out at once, although the next
    # rebalance was due at row 5. The cooldown restarts: rows 5 stays in cash, row 6 may re-enter (97/95 > 1).
    bt = backtest(frame({"X": [96, 98, 97, 100, 85, 95, 97, 99]}), Strategy("R", ("X",)), p)
    assert [(r.date, r.reason) for r in bt.rebalances] == [
        (bt.nav.index[0], "initial"),
        (bt.nav.index[1], "drawdown"),
        (bt.nav.index[3], "scheduled"),
    ]
    assert bt.nav.iloc[1] == pytest.approx(85_000)
    assert bt.nav.iloc[2] == pytest.approx(85_000)  # in cash while X recovers to 95
    assert bt.final_nav == pytest.approx(85_000 * 99 / 97)


def test_the_momentum_filter_keeps_a_falling_ticker_out_and_can_be_switched_off():
    # X jumps and falls back: its three returns (+20%, −16.7%, +19%) have a positive Sharpe, but over the last
    # 2 sessions it is down (119 / 120 − 1 < 0). Rebalances at row 3 only (cooldown 10).
    closes = frame({"X": [100, 120, 100, 119, 125, 130]})
    on = Params(sharpe_lookback=3, lookback_days=2, cooldown_days=10, top_n=1)
    assert on.momentum_filter  # today's default
    filtered = backtest(closes, Strategy("R", ("X",)), on)
    assert filtered.rebalances[0].weights == {}  # not eligible: all cash
    assert filtered.final_nav == pytest.approx(100_000.0)
    ranked_only = backtest(closes, Strategy("R", ("X",)), replace(on, momentum_filter=False))
    assert ranked_only.rebalances[0].weights == {"X": 1.0}
    assert ranked_only.final_nav == pytest.approx(100_000 * 130 / 119)
    # Off, lookback_days no longer delays the start: t₀ = sharpe_lookback = 3, not lookback_days = 5.
    long = replace(on, lookback_days=5)
    assert backtest(closes, Strategy("R", ("X",)), long).nav.index[0] == closes.index[5]
    assert backtest(closes, Strategy("R", ("X",)), replace(long, momentum_filter=False)).nav.index[0] == closes.index[3]


def test_the_drawdown_stop_off_holds_through_the_fall():
    # The case of the stop-out above: with drawdown_stop = 0, row 5 (NAV 108,000 = 0.9 × the 120,000 peak) is an
    # ordinary rebalance that keeps X (108 / 100 − 1 > 0), and so is row 7: 1,000 X to the end.
    x = [96, 98, 97, 100, 120, 108, 110, 112, 116]
    p = Params(sharpe_lookback=3, lookback_days=2, cooldown_days=2, top_n=1, drawdown_stop=0.0)
    bt = backtest(frame({"X": x}), Strategy("R", ("X",)), p)
    assert [(r.reason, r.weights) for r in bt.rebalances] == [
        ("initial", {"X": 1.0}),
        ("scheduled", {"X": 1.0}),
        ("scheduled", {"X": 1.0}),
    ]
    assert bt.final_nav == pytest.approx(116_000.0)
    stopped = backtest(frame({"X": x}), Strategy("R", ("X",)), replace(p, drawdown_stop=10.0))
    assert stopped.final_nav == pytest.approx(108_000 * 116 / 112)
    # A 20% stop lets the 10% dip pass, like no stop at all.
    assert backtest(frame({"X": x}), Strategy("R", ("X",)), replace(p, drawdown_stop=20.0)).final_nav == bt.final_nav


@pytest.mark.parametrize("momentum_filter", [True, False])
@pytest.mark.parametrize("drawdown_stop", [5.0, 0.0])
def test_every_combination_of_the_two_rules_matches_the_reference_loop(momentum_filter, drawdown_stop):
    closes = random_closes(90, 5, seed=21)
    p = Params(sharpe_lookback=12, lookback_days=6, cooldown_days=4, top_n=2, drawdown_stop=drawdown_stop,
               momentum_filter=momentum_filter)  # fmt: skip
    bt = backtest(closes, Strategy("R", tuple(closes.columns)), p)
    navs, picks = reference_backtest({c: closes[c].tolist() for c in closes.columns}, p)
    assert bt.nav.to_numpy() == pytest.approx(navs, rel=1e-10)
    assert [sorted(r.weights) for r in bt.rebalances] == [sorted(names) for _, names in picks]
    assert any(r.reason == "drawdown" for r in bt.rebalances) == (drawdown_stop > 0)


def test_each_rule_changes_which_strategy_wins():
    # Three single-ticker rotations, rebalanced at rows 3, 5, 7 (S = 3, L = 2, cooldown 2, top 1), from row 3.
    closes = frame({
        "DIP": [96, 98, 97, 100, 120, 105, 112, 118, 125],  # 12.5% off its peak at row 5, then recovers
        "JUMP": [100, 120, 100, 119, 125, 130, 136, 142, 150],  # down over the 2 sessions to row 3, then up
        "STEADY": [100, 101, 102, 103, 107, 111, 115, 118, 122],
    })  # fmt: skip
    strategies = [Strategy(name, (name,)) for name in closes.columns]
    base = Params(sharpe_lookback=3, lookback_days=2, cooldown_days=2, top_n=1)

    def navs(p: Params) -> dict[str, float]:
        return {s.name: backtest(closes, s, p).final_nav for s in strategies}

    def winner(p: Params) -> str:
        return select({s.name: backtest(closes, s, p) for s in strategies}).winner

    # Both rules (today's defaults): DIP is stopped out at row 5 (105,000 ≤ 0.9 × 120,000) and re-enters at 118
    # on row 7; JUMP is filtered out at row 3 (119 / 120 − 1 < 0) and enters at 130 on row 5.
    assert navs(base) == pytest.approx(
        {"DIP": 105_000 * 125 / 118, "JUMP": 100_000 * 150 / 130, "STEADY": 100_000 * 122 / 103}
    )
    assert winner(base) == "STEADY"
    # No drawdown stop: DIP is held from 100 to 125.
    assert navs(replace(base, drawdown_stop=0.0))["DIP"] == pytest.approx(125_000)
    assert winner(replace(base, drawdown_stop=0.0)) == "DIP"
    # No momentum filter: JUMP is bought at 119 on row 3.
    assert navs(replace(base, momentum_filter=False))["JUMP"] == pytest.approx(100_000 * 150 / 119)
    assert winner(replace(base, momentum_filter=False)) == "JUMP"


def test_buy_hold_never_rebalances_and_drifts():
    closes = random_closes(120, 3, seed=11)
    closes.iloc[:40, 2] = np.nan  # T2 lists after the first eligible session: never bought
    p = Params(sharpe_lookback=30, lookback_days=10, cooldown_days=5)
    bt = backtest(closes, Strategy("BH", ("T0", "T1", "T2"), "buy_hold"), p)
    assert len(bt.rebalances) == 1 and bt.rebalances[0].reason == "initial"
    assert bt.rebalances[0].weights == {"T0": 0.5, "T1": 0.5}
    start = closes.iloc[30]
    growth = [(closes["T0"].iloc[t] / start["T0"] + closes["T1"].iloc[t] / start["T1"]) / 2 for t in range(30, 120)]
    assert bt.nav.tolist() == pytest.approx([100_000 * g for g in growth], rel=1e-12)
    t0_share = closes["T0"].iloc[-1] / start["T0"] / 2 / growth[-1]
    assert bt.weights == pytest.approx({"T0": t0_share, "T1": 1 - t0_share})
    # A 50% fall does not make buy_hold sell.
    crash = closes.copy()
    crash.iloc[60:, :2] *= 0.5
    assert len(backtest(crash, Strategy("BH", ("T0", "T1", "T2"), "buy_hold"), p).rebalances) == 1


def test_a_held_ticker_without_a_bar_is_valued_at_its_last_close():
    closes = frame({"A": [10, 11, 12, 12.5, np.nan, 13], "B": [20, 21, 22, 23, 24, 25]})
    p = Params(sharpe_lookback=3, lookback_days=2)
    bt = backtest(closes, Strategy("BH", ("A", "B"), "buy_hold"), p)
    # Bought at row 3: 4,000 A at 12.5 and 50,000/23 B. Row 4 has no A bar: A still counts at 12.5.
    assert bt.nav.iloc[1] == pytest.approx(50_000 + 50_000 / 23 * 24)
    assert bt.nav.iloc[2] == pytest.approx(4_000 * 13 + 50_000 / 23 * 25)


def test_costs_are_charged_on_traded_notional():
    p = replace(SMALL, cost_bps=10.0)
    bt = backtest(frame(HAND), Strategy("R", ("A", "B", "C")), p)
    # Row 3 buys 100,000 of notional: 10 bps = 100 → NAV 99,900, then 49,950 each in A and B.
    assert bt.nav.iloc[0] == pytest.approx(99_900.0)
    assert bt.nav.iloc[1] == pytest.approx(49_950 / 103 * 206)
    free = backtest(frame(HAND), Strategy("R", ("A", "B", "C")), SMALL)
    assert bt.final_nav < free.final_nav


@pytest.mark.slow
def test_no_look_ahead_the_decision_at_d_ignores_later_rows():
    closes = random_closes(160, 6, seed=5)
    strategy = Strategy("R", tuple(closes.columns))
    p = Params(sharpe_lookback=20, lookback_days=5, cooldown_days=3, top_n=2, drawdown_stop=5.0)
    full = backtest(closes, strategy, p)
    assert any(r.reason == "drawdown" for r in full.rebalances)  # the case exercises the drawdown rule too
    rebalance_rows = {closes.index.get_loc(r.date) for r in full.rebalances}
    for d in range(20, len(closes)):  # every session from the first eligible one
        cut = backtest(closes.iloc[: d + 1], strategy, p)
        date = closes.index[d]
        assert cut.nav.to_numpy() == pytest.approx(full.nav.loc[:date].to_numpy(), rel=1e-12)
        assert cut.rebalances == [r for r in full.rebalances if r.date <= date]
        last = cut.rebalances[-1]
        if d in rebalance_rows:
            assert cut.weights == pytest.approx(last.weights)
        # The weights at d: the last rebalance's weights drifted by prices, over the NAV at d.
        at = last.date
        drifted = {
            s: w * full.nav.loc[at] * closes[s].loc[date] / closes[s].loc[at] / full.nav.loc[date]
            for s, w in last.weights.items()
        }
        assert cut.weights == pytest.approx(drifted, rel=1e-9)


def test_extra_columns_are_ignored_and_bad_inputs_are_rejected():
    closes = frame({**HAND, "Z": [1, 2, 3, 4, 5, 6, 7, 8, 9]})
    with_extra = backtest(closes, Strategy("R", ("A", "B", "C")), SMALL)
    assert with_extra.final_nav == pytest.approx(backtest(frame(HAND), Strategy("R", ("A", "B", "C")), SMALL).final_nav)
    with pytest.raises(ValueError, match="no column"):
        backtest(closes, Strategy("R", ("A", "Q")), SMALL)
    with pytest.raises(ValueError, match="needs more than 3"):
        backtest(frame(HAND).iloc[:3], Strategy("R", ("A",)), SMALL)
    with pytest.raises(ValueError, match="kind"):
        Strategy("R", ("A",), "momentum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sharpe_lookback"):
        Params(sharpe_lookback=1)
    for bad in (-1.0, 100.0):
        with pytest.raises(ValueError, match="drawdown_stop"):
            Params(drawdown_stop=bad)
    assert Params(drawdown_stop=0.0).drawdown_stop == 0.0  # 0 is "off", not an error


# ------------------------------------------------------------------------------------------------------- metrics


def test_metrics_on_hand_built_nav_series():
    # Returns +10%, −10%, +10%: mean 1/30, sample std √(((2/30)² × 2 + (4/30)²)/2) = 0.11547.
    assert per_period_sharpe([0.1, -0.1, 0.1]) == pytest.approx((1 / 30) / 0.1154700538, rel=1e-9)
    assert per_period_sharpe([0.01, 0.01, 0.01]) != per_period_sharpe([0.01, 0.02, 0.01])
    assert math.isnan(per_period_sharpe([0.01, 0.01, 0.01]))
    assert math.isnan(per_period_sharpe([0.01]))
    # 100 → 146.41 over 2020-01-01 → 2024-01-01 (1,461 days = 4 × 365.25): 10% a year.
    nav = pd.Series([100.0, 120.0, 146.41], index=pd.to_datetime(["2020-01-01", "2022-01-01", "2024-01-01"]))
    assert cagr(nav) == pytest.approx(0.10, rel=1e-12)
    assert cagr(nav, start=121.0) == pytest.approx((146.41 / 121) ** 0.25 - 1)
    # Peak 120 → 90 is −25%; peak 130 → 104 is −20%.
    assert max_drawdown([100, 120, 90, 130, 104]) == pytest.approx(0.25)
    assert max_drawdown([100, 101, 102]) == 0.0


# ------------------------------------------------------------------------------------------ PSR, DSR and selection

SERIES = [0.01, -0.02, 0.015, 0.003, -0.004, 0.02, 0.007, -0.011, 0.012, -0.001]


def hand_psr(returns: list[float], benchmark: float) -> float:
    n = len(returns)
    mu = sum(returns) / n
    m2 = sum((r - mu) ** 2 for r in returns) / n
    m3 = sum((r - mu) ** 3 for r in returns) / n
    m4 = sum((r - mu) ** 4 for r in returns) / n
    sr = mu / statistics.stdev(returns)
    skew, kurt = m3 / m2**1.5, m4 / m2**2
    return NormalDist().cdf((sr - benchmark) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))


def test_probabilistic_sharpe_matches_the_formula():
    for benchmark in (-0.1, 0.0, 0.05, 0.3):
        assert probabilistic_sharpe(SERIES, benchmark) == pytest.approx(hand_psr(SERIES, benchmark), rel=1e-12)
    values = [probabilistic_sharpe(SERIES, b) for b in (-0.2, 0.0, 0.2, 0.4)]
    assert values == sorted(values, reverse=True) and values[0] > 0.5 > values[-1]


def test_psr_is_one_half_at_its_own_sharpe():
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0005, 0.01, 500)
    own = float(np.mean(returns) / np.std(returns, ddof=1))
    assert probabilistic_sharpe(returns, own) == pytest.approx(0.5, abs=1e-12)
    assert probabilistic_sharpe(SERIES, statistics.mean(SERIES) / statistics.stdev(SERIES)) == pytest.approx(0.5)


def test_psr_of_degenerate_input_is_nan():
    assert math.isnan(probabilistic_sharpe([0.01, 0.02], 0.0))
    assert math.isnan(probabilistic_sharpe([0.01] * 10, 0.0))
    assert math.isnan(probabilistic_sharpe(SERIES, float("nan")))


def test_expected_max_sharpe_and_deflated_sharpe():
    # V = var(0.1, 0.2, 0.3) = 0.01, N = 3: SR₀ = 0.1 × (0.42278 × Φ⁻¹(2/3) + 0.57722 × Φ⁻¹(1 − 1/(3e)))
    #    = 0.1 × (0.42278 × 0.43073 + 0.57722 × 1.16196) = 0.08528.
    assert expected_max_sharpe([0.1, 0.2, 0.3]) == pytest.approx(0.08528, abs=1e-5)
    assert expected_max_sharpe([0.1]) != expected_max_sharpe([0.1, 0.1])
    assert math.isnan(expected_max_sharpe([0.1]))
    # A NaN Sharpe still counts as a trial (N = 3), but not in V.
    inv = NormalDist().inv_cdf
    sr0 = math.sqrt(statistics.variance([0.1, 0.3])) * ((1 - EULER) * inv(2 / 3) + EULER * inv(1 - 1 / (3 * math.e)))
    assert expected_max_sharpe([0.1, float("nan"), 0.3]) == pytest.approx(sr0, rel=1e-12)


def fake(name: str, returns, final_nav: float) -> Backtest:
    returns = np.asarray(returns, dtype=float)
    nav = pd.Series(
        100_000 * np.cumprod(np.r_[1.0, 1 + returns]), index=pd.bdate_range("2024-01-01", periods=len(returns) + 1)
    )
    sr = per_period_sharpe(returns)
    return Backtest(
        name=name, kind="rotation", tickers=("X",), nav=nav, weights={}, target_weights={}, rebalances=[],
        daily_returns=returns, final_nav=final_nav, cagr=float("nan"), sharpe=sr * math.sqrt(252),
        max_drawdown=max_drawdown(nav), momentum=float("nan"), sessions=len(nav),
    )  # fmt: skip


def four_results() -> dict[str, Backtest]:
    rng = np.random.default_rng(9)
    return {
        "BUY_HOLD": fake("BUY_HOLD", rng.normal(0.0003, 0.01, 250), 110_000),
        "TACTICAL": fake("TACTICAL", rng.normal(0.0010, 0.01, 250), 130_000),
        "SPEC": fake("SPEC", rng.normal(0.0006, 0.01, 250), 120_000),
        "ASYM": fake("ASYM", rng.normal(0.0001, 0.02, 250), 130_000),
    }


def test_select_picks_the_highest_nav_and_scores_it():
    results = four_results()
    sel = select(results)
    # TACTICAL and ASYM tie at 130,000: TACTICAL comes first in the input.
    assert (sel.winner, sel.runner_up) == ("TACTICAL", "ASYM")
    assert sel.ranking == ("TACTICAL", "ASYM", "SPEC", "BUY_HOLD")
    winner = list(results["TACTICAL"].daily_returns)
    runner = list(results["ASYM"].daily_returns)
    assert sel.psr_vs_runner_up == pytest.approx(
        hand_psr(winner, statistics.mean(runner) / statistics.stdev(runner)), rel=1e-9
    )
    sharpes = [statistics.mean(r.daily_returns) / statistics.stdev(r.daily_returns) for r in results.values()]
    inv = NormalDist().inv_cdf
    sr0 = math.sqrt(statistics.variance(sharpes)) * ((1 - EULER) * inv(1 - 1 / 4) + EULER * inv(1 - 1 / (4 * math.e)))
    assert sel.sr0 == pytest.approx(sr0, rel=1e-9)
    assert sel.deflated_sharpe == pytest.approx(hand_psr(winner, sr0), rel=1e-9)
    assert sel.strategies_tried == 4
    reordered = {k: results[k] for k in ("ASYM", "BUY_HOLD", "SPEC", "TACTICAL")}
    assert select(reordered).winner == "ASYM"


def test_select_flags_significance_and_warns():
    results = four_results()
    psr = select(results).psr_vs_runner_up
    strict = select(results, level=min(0.999, psr + 0.01))
    assert not strict.significant and "may be noise" in strict.warning
    lenient = select(results, level=psr - 0.01)
    assert lenient.significant and lenient.warning is None
    alone = select({"ONLY": results["SPEC"]})
    assert alone.runner_up is None and not alone.significant and math.isnan(alone.psr_vs_runner_up)
    assert "only one strategy" in alone.warning
    with pytest.raises(ValueError):
        select({})


def test_keep_current_holds_an_insignificant_switch():
    results = four_results()
    sel = select(results)
    psr_vs_spec = probabilistic_sharpe(results["TACTICAL"].daily_returns, results["SPEC"].sharpe_per_period)
    assert 0 < psr_vs_spec < 1
    assert keep_current(sel, "SPEC", results, 0.0)[0] == "TACTICAL"  # the guard is off
    assert keep_current(sel, None, results, 0.99)[0] == "TACTICAL"  # nothing held yet
    assert keep_current(sel, "TACTICAL", results, 0.99)[0] == "TACTICAL"
    assert keep_current(sel, "GONE", results, 0.99)[0] == "TACTICAL"
    kept, why = keep_current(sel, "SPEC", results, min(0.999, psr_vs_spec + 0.01))
    assert kept == "SPEC" and "kept SPEC" in why
    assert keep_current(sel, "SPEC", results, psr_vs_spec - 0.01)[0] == "TACTICAL"


# --------------------------------------------------------------------------------------------------------- orders


def test_target_shares_floors_whole_shares():
    assert target_shares({"A": 0.5, "B": 0.25, "C": 0.0}, {"A": 30.0, "B": 7.0, "C": 1.0}, 1000) == {"A": 16, "B": 35}
    # 1/3 × 74.70 / 2.49 is 10 shares; a naive float floor gives 9.
    assert math.floor(1 / 3 * 74.7 / 2.49) == 9
    assert target_shares({"A": 1 / 3}, {"A": 2.49}, 74.7) == {"A": 10}
    with pytest.raises(ValueError, match="no valid price"):
        target_shares({"A": 0.5}, {}, 1000)


def test_tolerance_skips_small_deltas():
    prices = {"A": 10.0, "B": 10.0, "C": 10.0}
    plan = deltas({"A": 100, "B": 100, "C": 100}, {"A": 98.5, "B": 98, "C": 103}, prices, 2.0, buying_power=1e6)
    by = {line.symbol: line for line in plan.lines}
    assert by["A"].qty == 0 and "under 2% of the target 100" in by["A"].reason  # +1.5 < 2
    assert (by["B"].side, by["B"].qty) == ("buy", 2)  # +2 is not under 2
    assert (by["C"].side, by["C"].qty) == ("sell", 3)
    at_target = deltas({"A": 50}, {"A": 50}, prices, buying_power=0).lines[0]
    assert (at_target.qty, at_target.reason) == (0, "at target")


def test_sells_come_first_and_untargeted_holdings_are_sold_entirely():
    prices = {"A": 10.0, "B": 20.0, "Z": 5.0, "M": 1.0}
    plan = deltas({"A": 100, "M": 50}, {"B": 12.5, "Z": 40, "M": 80}, prices, buying_power=10_000)
    assert [(line.side, line.symbol, line.qty) for line in plan.orders] == [
        ("sell", "B", 12.5),  # held, not targeted: the whole (fractional) position
        ("sell", "M", 30),
        ("sell", "Z", 40),
        ("buy", "A", 100),
    ]
    assert plan.lines[0].reason == "held, not targeted: sell all" and plan.lines[0].target == 0
    assert plan.sell_proceeds == pytest.approx(12.5 * 20 + 30 * 1 + 40 * 5)
    assert plan.buy_scale == 1.0


def test_buys_scale_down_together_when_buying_power_is_short():
    prices = {"A": 10.0, "B": 30.0, "C": 400.0, "S": 50.0}
    # Buys need 100 × 10 + 100 × 30 + 1 × 400 = 4,400; available = 1,000 + 20 × 50 = 2,000 → factor 0.4545.
    plan = deltas({"A": 100, "B": 100, "C": 1}, {"S": 20}, prices, buying_power=1_000)
    assert plan.buy_scale == pytest.approx(2_000 / 4_400)
    by = {line.symbol: line for line in plan.lines}
    assert (by["A"].qty, by["B"].qty) == (45, 45)  # floor(100 × 0.4545)
    assert by["C"].qty == 0 and "under one share" in by["C"].reason  # floor(0.4545) = 0: skipped
    assert plan.buy_notional == pytest.approx(45 * 10 + 45 * 30) and plan.buy_notional <= 2_000
    assert [line.side for line in plan.orders] == ["sell", "buy", "buy"]
    enough = deltas({"A": 100, "B": 100, "C": 1}, {"S": 20}, prices, buying_power=3_400)  # exactly enough
    assert enough.buy_scale == 1.0 and [line.qty for line in enough.orders] == [20, 100, 100, 1]


def test_a_sell_without_a_price_adds_no_proceeds():
    plan = deltas({"A": 10}, {"X": 5}, {"A": 100.0}, buying_power=500)
    assert plan.sell_proceeds == 0.0
    assert plan.buy_scale == pytest.approx(0.5)
    assert [(line.side, line.symbol, line.qty) for line in plan.orders] == [("sell", "X", 5), ("buy", "A", 5)]
