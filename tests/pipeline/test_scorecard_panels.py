"""The panels' wiring: which sizing rule lost a signal, the primary horizon a category is judged at, and the
one abnormal return every panel reads (the stored outcomes', and the same formula for placebo picks)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from autotrader.pipeline.scorecard_panels import Panel, _gate, _primary, add_cars, placebo_pool
from autotrader.policy import outcomes
from autotrader.settings import Settings


def test_a_lost_signal_is_counted_under_the_rule_whose_trace_step_skipped():
    trace = [
        {"name": "base", "inputs": {}, "effect": "$1,000 base"},
        {"name": "allocation_cap", "inputs": {}, "effect": "skip: the swing book is full"},
    ]
    assert _gate(json.dumps(trace)) == "allocation_cap"
    assert _gate(json.dumps(trace[:1])) == "unknown"
    assert _gate(None) == "unknown"


def test_the_panels_judge_each_category_at_its_primary_horizon():
    assert [_primary(Settings(), c) for c in ("day_trade", "swing", "long_term")] == [1, 10, 60]
    settings = Settings.model_validate(
        {
            "scorecard": {
                "horizons": [1, 5],
                "primary_horizon": 5,
                "primary_horizons": {"day_trade": 1, "swing": 5, "long_term": 5},
            }
        }
    )
    assert [_primary(settings, c) for c in ("day_trade", "swing", "long_term")] == [1, 5, 5]


def _prices(seed: int = 4, sessions: int = 330):
    """Three symbols with betas 0.7, 1.2, 1.6 on a random market; opens a small gap from the previous close."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.01, sessions)
    spy_close = 100 * np.exp(np.cumsum(market))
    spy_open = np.concatenate([[100.0], spy_close[:-1]]) * np.exp(rng.normal(0, 0.002, sessions))
    returns = 0.0002 + market[:, None] * np.array([0.7, 1.2, 1.6]) + rng.normal(0, 0.015, (sessions, 3))
    close = 30 * np.exp(np.cumsum(returns, axis=0))
    opens = np.vstack([close[:1], close[:-1]]) * np.exp(rng.normal(0, 0.004, (sessions, 3)))
    close[120, 1] = opens[120, 1] = np.nan  # a missing bar inside the estimation window of the entries below
    close[305, 2] = opens[305, 2] = np.nan  # ... and one inside a holding window
    return opens, close, spy_open, spy_close


def _panel(opens, close, spy_open, spy_close) -> Panel:
    days = [d.date().isoformat() for d in pd.bdate_range("2025-01-06", periods=len(close))]
    return Panel(days, ["AAA", "BBB", "CCC"], outcomes.PricePanel(opens, close, spy_open, spy_close))


def test_a_placebo_pick_is_the_outcome_of_a_signal_entered_at_that_open():
    opens, close, spy_open, spy_close = _prices()
    panel = _panel(opens, close, spy_open, spy_close)
    events = pd.DataFrame({"entry": [300, 310], "side": [1.0, -1.0], "horizon": [10, 5]})
    pool = placebo_pool(events, panel)
    assert len(pool) == 2 * 3  # every universe symbol on each pick's (day, side, horizon)
    for symbol, entry, h, sign in ((1, 300, 10, 1), (0, 310, 5, -1)):
        value = pool[(pool["symbol"] == symbol) & (pool["entry"] == entry)]["car"].item()
        # By hand: OLS of daily log returns (session t: close t-1 -> close t) on sessions entry-250 ... entry-11,
        # pairs with a missing close left out; then the log return from the entry open to the h-th close.
        y = np.log(close[1:, symbol] / close[:-1, symbol])[entry - 251 : entry - 11]
        x = np.log(spy_close[1:] / spy_close[:-1])[entry - 251 : entry - 11]
        keep = ~np.isnan(y)
        beta, alpha = np.polyfit(x[keep], y[keep], 1)  # least squares: slope, intercept
        last = entry + h - 1
        hand = sign * (math.log(close[last, symbol] / opens[entry, symbol]) - h * alpha
                       - beta * math.log(spy_close[last] / spy_open[entry]))  # fmt: skip
        assert value == pytest.approx(hand, rel=1e-9)
        # ... and what the stored outcome of a signal entered at that open holds.
        bars = outcomes.Bars(np.arange(len(close)).astype("datetime64[D]"), opens[:, symbol], close[:, symbol],
                             close[:, symbol], close[:, symbol])  # fmt: skip
        spy = outcomes.BenchmarkBars(spy_open, spy_close)
        fit = outcomes.market_fit(bars, spy, entry)
        stored = outcomes.forward_outcomes(
            "buy" if sign > 0 else "sell", entry, bars, spy, [h], len(close) - entry, fit
        )
        assert value == pytest.approx(stored[0].abnormal_return, rel=1e-12)
    # CCC has no bar on session 305, inside the 300 + 10 window: pending there, as its outcome would be.
    assert np.isnan(pool[(pool["symbol"] == 2) & (pool["entry"] == 300)]["car"].item())


def test_the_cars_are_the_stored_outcomes_abnormal_returns():
    events = pd.DataFrame({"signal_id": [1, 2, 3], "horizon": [5, 1, 5]})
    stored = pd.DataFrame({"signal_id": [1, 1, 2, 2, 3, 3], "horizon": [1, 5, 1, 5, 1, 5],
                           "status": ["complete", "complete", "complete", "pending", "complete", "complete"],
                           "abnormal": [0.01, 0.03, -0.02, None, 0.005, None]})  # fmt: skip
    out = add_cars(events, stored, [1, 5])
    assert out["car_1"].tolist() == [0.01, -0.02, 0.005]
    assert out["car_5"].tolist()[0] == 0.03 and np.isnan(out["car_5"].tolist()[1:]).all()  # pending; no figure
    assert out["car"].tolist()[:2] == [0.03, -0.02] and np.isnan(out["car"].iloc[2])  # each at its own horizon


def test_prediction_signals_undo_the_side_and_leave_pending_returns_out():
    from autotrader.pipeline.scorecard import ScorecardData, prediction_signals

    outcomes = pd.DataFrame(
        [(1, 10, "complete", 0.04, "2026-03-02"), (2, 10, "complete", 0.03, "2026-03-02"),
         (2, 3, "pending", None, "2026-03-02"), (3, 10, "complete", 0.01, "2026-03-03")],
        columns=["signal_id", "horizon", "status", "ret", "entry_date"],
    )  # fmt: skip
    predictions = pd.DataFrame({"signal_id": [1, 2], "source": "s", "side": ["buy", "sell"],
                                "predicted_return_3d": [np.nan, -0.01], "predicted_return_10d": [0.02, -0.02],
                                "predicted_return_30d": np.nan, "probability": [0.7, 0.2]})  # fmt: skip
    empty = pd.DataFrame()
    frame = prediction_signals(ScorecardData(outcomes, empty, empty, empty, predictions))
    assert frame["realized_10"].tolist() == [0.04, -0.03]  # the stock's own return: a sell's ret flipped back
    assert frame["realized_3"].isna().all() and frame["date"].tolist() == ["2026-03-02", "2026-03-02"]
