"""The scorecard's panels (``policy.research``) against independent computations: loops over sessions and
statsmodels for the calendar-time portfolio, scipy's Spearman for the rank IC, hand-worked placebo,
shrinkage, execution and stability cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autotrader.policy import research

HORIZONS = [1, 5]


def _panel(seed=0, sessions=300, symbols=6):
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.01, sessions)
    betas = np.linspace(0.6, 1.6, symbols)
    stock = 0.0001 + market[:, None] * betas + rng.normal(0, 0.015, (sessions, symbols))
    return stock, market


def _events(rows, horizon=5):
    """rows: (source, category, symbol, entry, side, conviction)."""
    frame = pd.DataFrame(rows, columns=["source", "category", "symbol", "entry", "side", "conviction"])
    frame["signal_id"] = np.arange(len(frame)) + 1
    frame["horizon"] = horizon
    return frame


def _car_by_hand(stock, market, k, e, h, side):
    """OLS α, β on sessions e−250 … e−11 (numpy's polyfit), then the summed abnormal returns of e+1 … e+h."""
    lo = max(0, e - 250)
    x, y = market[lo : e - 10], stock[lo : e - 10, k]
    beta, alpha = np.polyfit(x, y, 1) if len(x) >= 60 else (1.0, 0.0)
    window = slice(e + 1, e + h + 1)
    return side * float(np.sum(stock[window, k] - alpha - beta * market[window]))


# -------------------------------------------------------------------------------------------- calendar time


def test_calendar_time_rows_match_a_session_loop_and_statsmodels_hac():
    from statsmodels.regression.linear_model import OLS

    stock, market = _panel()
    rng = np.random.default_rng(3)
    entries = rng.integers(0, 280, 60)
    symbols = rng.integers(0, 6, 60)
    events = _events([("s", "swing", int(k), int(e), 1.0, 5) for k, e in zip(symbols, entries, strict=True)])
    (row,) = research.calendar_time_rows(events, stock, market)
    # Each session: the mean raw return of every pick entered in the 5 sessions before it.
    series = []
    for t in range(len(market)):
        live = [stock[t, k] for k, e in zip(symbols, entries, strict=True) if e + 1 <= t <= e + 5]
        series.append(np.mean(live) if live else np.nan)
    y = np.array(series)
    keep = ~np.isnan(y)
    lags = math.floor(4 * (keep.sum() / 100) ** (2 / 9))
    fit = OLS(y[keep], np.column_stack([np.ones(keep.sum()), market[keep]])).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags}
    )
    assert row["sessions"] == keep.sum()
    assert (row["alpha"], row["beta"]) == pytest.approx(tuple(fit.params), rel=1e-9)
    assert row["alpha_t"] == pytest.approx(fit.tvalues[0], rel=1e-9)
    assert row["alpha_p"] == pytest.approx(fit.pvalues[0], rel=1e-7)
    assert row["alpha_annual"] == pytest.approx(252 * fit.params[0])
    assert row["sharpe"] == pytest.approx(y[keep].mean() / y[keep].std(ddof=1) * math.sqrt(252))
    assert 0 <= row["psr"] <= 1


def test_calendar_time_without_enough_sessions_gives_no_regression():
    stock, market = _panel()
    (row,) = research.calendar_time_rows(_events([("s", "swing", 0, 298, 1.0, 5)]), stock, market)
    assert row["sessions"] == 0 and "alpha" not in row


# ----------------------------------------------------------------------------------------------- placebo


def test_placebo_ranks_the_source_among_random_picks_of_the_same_day_and_side():
    events = _events([("good", "swing", 0, 10, 1.0, 5), ("good", "swing", 0, 11, -1.0, 5),
                      ("bad", "swing", 0, 10, 1.0, 5)])  # fmt: skip
    events["car"] = [0.05, 0.02, -0.05]
    # The universe on day 10 (buys): values −0.05 … 0.03, all below the good source's 0.05 and only one not
    # above the bad source's −0.05; the sells on day 11 are worth −0.01 or 0.01.
    pool = pd.DataFrame(
        {"entry": [10] * 5 + [11] * 2, "side": [1.0] * 5 + [-1.0] * 2, "horizon": 5,
         "car": [-0.05, -0.01, 0.0, 0.02, 0.03, -0.01, 0.01]}
    )  # fmt: skip
    rows = {r["source"]: r for r in research.placebo_rows(events, pool, np.random.default_rng(0), draws=400)}
    # Good: every placebo portfolio (one buy on day 10 ≤ 0.03, one sell on day 11 ≤ 0.01) has a mean ≤ 0.02 <
    # its 0.035, so the p-value is the smallest possible, 1 / 401.
    assert rows["good"]["observed"] == pytest.approx(0.035)
    assert rows["good"]["p_value"] == pytest.approx(1 / 401)
    # Bad: every placebo pick is ≥ −0.05, so the p-value is 1.
    assert rows["bad"]["p_value"] == pytest.approx(1.0)
    assert rows["bad"]["placebo_mean"] == pytest.approx(np.mean([-0.05, -0.01, 0.0, 0.02, 0.03]), abs=0.006)


# ----------------------------------------------------------------------------------------- ranking skill


def test_rank_ic_matches_scipy_per_date_and_brier_uses_conviction_over_ten():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    n = 120
    events = _events([("s", "swing", 0, int(d), 1.0, int(c)) for d, c in
                      zip(rng.integers(0, 12, n), rng.integers(1, 11, n), strict=True)])  # fmt: skip
    events["car_1"] = 0.002 * events["conviction"] + rng.normal(0, 0.02, n)
    events["car_5"] = rng.normal(0, 0.03, n)
    events["car"] = events["car_5"]
    panel = research.ranking_panel(events, HORIZONS)
    assert panel is not None
    overall = panel["sources"][-1]
    assert overall["key"] == "all"
    for h in HORIZONS:
        per_date = [spearmanr(g["conviction"], g[f"car_{h}"])[0] for _, g in events.groupby("entry") if len(g) >= 3]
        assert overall["ic_mean"][str(h)] == pytest.approx(np.mean(per_date), rel=1e-9)
        assert overall["ic_t"][str(h)] == pytest.approx(
            np.mean(per_date) / (np.std(per_date, ddof=1) / math.sqrt(len(per_date))), rel=1e-9
        )
    beat = (events["car"] > 0).astype(float)
    assert panel["brier"] == pytest.approx(np.mean((events["conviction"] / 10 - beat) ** 2))
    nine = [r for r in panel["reliability"] if r["conviction"] == 9][0]
    assert nine["predicted"] == pytest.approx(0.9)
    assert nine["observed"] == pytest.approx(beat[events["conviction"] == 9].mean())


def test_ranking_is_absent_without_convictions():
    events = _events([("s", "swing", 0, 1, 1.0, None)])
    events["car"] = events["car_1"] = events["car_5"] = 0.01
    assert research.ranking_panel(events, HORIZONS) is None


# ------------------------------------------------------------------------------------------- leaderboard


def _dl_posterior(x, se):
    """DerSimonian–Laird random-effects shrinkage, written out."""
    x, se = np.asarray(x), np.asarray(se)
    v = 1 / se**2
    fixed = np.sum(v * x) / np.sum(v)
    q = np.sum(v * (x - fixed) ** 2)
    tau2 = max(0.0, (q - (len(x) - 1)) / (np.sum(v) - np.sum(v**2) / np.sum(v)))
    w = 1 / (se**2 + tau2)
    mu = np.sum(w * x) / np.sum(w)
    return mu + tau2 / (tau2 + se**2) * (x - mu)


def test_a_three_for_three_source_does_not_top_the_leaderboard():
    rng = np.random.default_rng(11)
    rows, cars = [], []
    for source, mean, n_dates in (("steady", 0.01, 120), ("flat", 0.0, 120), ("lucky", 0.08, 3)):
        for d in range(n_dates):
            rows.append((source, "day_trade", 0, d * 2, 1.0, 5))
            cars.append(mean + (rng.normal(0, 0.02) if source != "lucky" else 0.0))
    events = _events(rows, horizon=1)
    events["car"] = cars
    events.loc[events["source"] == "lucky", "car"] = [0.20, 0.01, 0.03]  # 3 for 3, a mean of 8%
    board = research.leaderboard_rows(events, np.random.default_rng(0), resamples=2000)
    by_source = {r["source"]: r for r in board}
    assert by_source["lucky"]["mean"] > by_source["steady"]["mean"]
    assert board[0]["source"] == "steady" and [r["rank"] for r in board] == [1, 2, 3]
    order = ["flat", "lucky", "steady"]
    expected = _dl_posterior([by_source[s]["mean"] for s in order], [by_source[s]["se"] for s in order])
    assert [by_source[s]["shrunk_mean"] for s in order] == pytest.approx(expected, rel=1e-9)
    assert by_source["lucky"]["beat_rate"] == 1.0 and by_source["lucky"]["shrunk_beat_rate"] < 1.0


# ------------------------------------------------------------------------------------------ event window


def test_event_window_mean_matches_hand_cumulated_abnormal_returns():
    stock, market = _panel()
    picks = [(0, 200, 1.0), (3, 210, -1.0), (5, 230, 1.0)]
    events = _events([("s", "swing", k, e, side, 5) for k, e, side in picks])
    (row,) = research.event_window_rows(events, stock, market, np.random.default_rng(0), resamples=300)
    points = {p["offset"]: p for p in row["points"]}
    assert sorted(points) == list(range(-20, 61, 5))
    for offset in (5, 20, 60):
        expected = np.mean([_car_by_hand(stock, market, k, e, offset, side) for k, e, side in picks])
        assert points[offset]["mean"] == pytest.approx(expected, rel=1e-9)
    assert points[0]["mean"] == 0.0 and points[60]["n"] == 3


# ---------------------------------------------------------------------------------------------- stability


def _steady_and_broken(seed=2, sessions=200):
    rng = np.random.default_rng(seed)
    rows, cars = [], []
    for t in range(sessions):
        for source in ("steady", "broken"):
            rows.append((source, "swing", 0, t, 1.0, 5))
            edge = 0.01 if source == "steady" or t < 100 else -0.01
            cars.append(edge + rng.normal(0, 0.01))
    events = _events(rows)
    events["car"] = cars
    return events


def test_cusum_alarms_on_the_source_whose_edge_breaks_and_not_on_the_steady_one():
    events = _steady_and_broken()
    dates = [f"d{t:03d}" for t in range(200)]
    rows = {r["source"]: r for r in research.stability_rows(events, dates)}
    assert rows["steady"]["alarm_date"] is None
    alarm = rows["broken"]["alarm_date"]
    assert alarm is not None and "d100" <= alarm <= "d115"  # after the break, within a few signals
    # The last rolling point: the mean of the signals entered in the last 60 sessions, by hand.
    broken = events[events["source"] == "broken"]
    assert rows["broken"]["last"] == pytest.approx(broken[broken["entry"] >= 140]["car"].mean())
    assert rows["broken"]["rolling"][-1] == {"date": "d199", "mean": rows["broken"]["last"], "n": 60}
    assert research.alarm_notes(list(rows.values())) == [
        f"stability alarm: broken's abnormal returns dropped (CUSUM) from {alarm}"
    ]


# ---------------------------------------------------------------------------------------------- execution


def test_execution_rows_by_hand():
    events = _events([("s", "swing", 0, 1, 1.0, 5), ("s", "swing", 0, 2, 1.0, 5), ("s", "swing", 0, 3, -1.0, 5),
                      ("s", "swing", 0, 4, 1.0, 5)])  # fmt: skip
    events["car"] = [0.02, -0.01, 0.04, np.nan]
    events["signal_entry"] = [100.0, None, 50.0, 10.0]
    events["entry_price"] = [101.0, 20.0, 49.0, 10.0]
    fills = pd.DataFrame({"signal_id": [1, 3], "fill_price": [101.5, 49.5]})
    lost = pd.DataFrame({"signal_id": [2, 4], "gate": ["allocation_cap", "earnings"]})
    legs = pd.DataFrame({"signal_id": [1, 1, 3], "action": ["profit_take", "profit_take", "profit_take"],
                         "pnl_vs_pick": [10.0, 5.0, -3.0]})  # fmt: skip
    (row,) = research.execution_rows(events, fills, lost, legs, np.random.default_rng(0), resamples=500)
    assert (row["signals"], row["traded"], row["fill_rate"]) == (4, 2, 0.5)
    # vs the signal: buy 101.5 / 100 → +150 bps; sell 49.5 / 50 → −100 × −1 = +100 bps (received less); mean 125.
    assert row["slippage_vs_signal_bps"] == pytest.approx(125.0)
    # vs the scoring entry: 101.5 / 101 → +49.5 bps; sell 49.5 / 49 → −102.0 bps (received more).
    assert row["slippage_vs_entry_bps"] == pytest.approx((0.5 / 101 - 0.5 / 49) / 2 * 10_000)
    assert row["lost"] == {"allocation_cap": 1, "earnings": 1}
    assert row["pick_all"] == pytest.approx(0.05 / 3) and row["pick_traded"] == pytest.approx(0.03)
    (action,) = row["management"]
    assert action["action"] == "profit_take" and action["positions"] == 2
    assert action["mean"] == pytest.approx(6.0) and action["total"] == pytest.approx(12.0)
    assert action["lo"] == pytest.approx(-3.0) and action["hi"] == pytest.approx(15.0)  # only two positions


def test_calendar_time_curves_compound_the_live_picks_against_the_market_on_the_same_sessions():
    # Session returns of one symbol and of the market; a long pick entered at session 0 and a short one at
    # session 1, each held two sessions (1-2 and 2-3): session 2 holds both, equal weight.
    stock = np.array([[np.nan], [0.01], [0.02], [-0.01], [0.03]])
    market = np.array([np.nan, 0.0, 0.01, 0.0, 0.01])
    events = _events([("s", "swing", 0, 0, 1.0, 5), ("s", "swing", 0, 1, -1.0, 5)], horizon=2)
    sessions = ["d0", "d1", "d2", "d3", "d4"]
    (curve,) = research.calendar_time_curves(events, stock, market, sessions)
    assert curve["dates"] == ("d0", "d1", "d2", "d3")  # from the close before the first live session
    day = [0.01, (0.02 - 0.02) / 2, 0.01]  # long 1%; long +2% and short −2%; short of −1%
    assert curve["portfolio"] == pytest.approx([1.0, *np.cumprod([1 + r for r in day])])
    assert curve["market"] == pytest.approx([1.0, 1.0, 1.01, 1.01])


# ------------------------------------------------------------------------------------------- predictions


def _predicted(seed=3, n=90):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"source": "builtin:regression-momentum", "date": rng.integers(0, 9, n)})
    for h, column in research.PREDICTION_HORIZONS.items():
        frame[column] = rng.normal(0, 0.02, n)
        frame[f"realized_{h}"] = 0.5 * frame[column] + rng.normal(0, 0.02, n)
    frame["probability"] = rng.uniform(0, 1, n)
    return frame


def test_prediction_ic_is_scipys_spearman_per_date_averaged_at_the_scorecard_horizons_only():
    from scipy.stats import spearmanr

    frame = _predicted()
    frame.loc[frame.index[::7], "predicted_return_3d"] = np.nan  # a signal without that prediction is left out
    (row,) = research.prediction_rows(frame, [1, 3, 10, 20])
    assert row["scored"] == ["3", "10"] and row["skipped"] == ["30"] and set(row["ic_mean"]) == {"3", "10"}
    for h in (3, 10):
        column = research.PREDICTION_HORIZONS[h]
        per_date = [spearmanr(g[column], g[f"realized_{h}"])[0]
                    for _, g in frame.dropna(subset=[column]).groupby("date") if len(g) >= 3]  # fmt: skip
        assert row["ic_mean"][str(h)] == pytest.approx(np.mean(per_date), rel=1e-9)
        assert row["ic_dates"][str(h)] == len(per_date) and row["ic_t_hac"][str(h)] is not None
    (without_ten,) = research.prediction_rows(frame, [1, 5, 20])
    assert without_ten["scored"] == [] and without_ten["brier"] is None and without_ten["reliability"] == []


def test_probability_brier_and_reliability_by_hand():
    frame = pd.DataFrame({"source": "s", "date": [0, 0, 1, 1, 1], "probability": [0.8, 0.3, 0.6, 0.1, np.nan],
                          "realized_10": [0.02, -0.01, -0.03, 0.04, 0.01]})  # fmt: skip
    for h, column in research.PREDICTION_HORIZONS.items():
        frame[column] = np.nan
        if h != 10:
            frame[f"realized_{h}"] = np.nan
    (row,) = research.prediction_rows(frame, [10])
    assert row["brier"] == pytest.approx((0.2**2 + 0.3**2 + 0.6**2 + 0.9**2) / 4)
    assert row["probability_signals"] == 4 and row["ic_dates"] == {"10": 0} and row["ic_mean"] == {"10": None}
    assert [(b["bucket"], b["observed"], b["signals"]) for b in row["reliability"]] == [
        (0.1, 1.0, 1), (0.3, 0.0, 1), (0.6, 0.0, 1), (0.8, 1.0, 1)
    ]  # fmt: skip


def test_the_predictions_panel_is_absent_when_no_signal_carries_one():
    assert research.prediction_rows(_predicted().iloc[:0], [10]) is None
