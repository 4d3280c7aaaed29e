"""The scorecard's verdict figures against independent computations (statsmodels, scipy, hand-worked).

scipy.stats and statsmodels are imported inside the tests that use them: importing them costs each test
worker about a second at collection, before any test runs."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest

from autotrader.policy import inference
from autotrader.policy import outcomes as policy
from autotrader.policy.scorecard import build_rows, hypotheses
from autotrader.policy.verdicts import HorizonSample, date_shares, horizon_figures, row_primary_horizon

EMPTY = pd.DataFrame()


def test_market_fit_and_abnormal_return_match_statsmodels_ols():
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.tools import add_constant

    rng = np.random.default_rng(5)
    n = 320
    market = rng.normal(0.0004, 0.01, n)
    stock = 0.0002 + 1.4 * market + rng.normal(0, 0.012, n)
    spy_close = 100 * np.exp(np.cumsum(market))
    close = 50 * np.exp(np.cumsum(stock))
    dates = np.arange(n).astype("datetime64[D]")
    bars = policy.Bars(dates, close, close, close, close)
    spy = policy.BenchmarkBars(spy_close, spy_close)
    entry = 300
    fit = policy.market_fit(bars, spy, entry)
    # OLS of the close-to-close log returns of sessions entry-250 .. entry-11 (session t: close t-1 -> close t).
    y = np.diff(np.log(close))[entry - 251 : entry - 11]
    x = np.diff(np.log(spy_close))[entry - 251 : entry - 11]
    assert len(y) == 240
    ols = OLS(y, add_constant(x)).fit()
    assert fit is not None and not fit.fallback
    assert fit.alpha == pytest.approx(ols.params[0], abs=1e-12) and fit.beta == pytest.approx(ols.params[1], rel=1e-9)
    # A sell over 3 sessions: −(log(55/50) − 3α − β log(101/100)).
    car = policy.abnormal_return(-1, fit, 3, 50.0, 55.0, 100.0, 101.0)
    assert car == pytest.approx(-(math.log(1.1) - 3 * ols.params[0] - ols.params[1] * math.log(1.01)))


def test_the_fits_of_many_entries_at_once_are_each_entry_s_own_fit():
    # The scorecard fits a symbol's entries together, from the history before any intraday entry changed it.
    rng = np.random.default_rng(11)
    n = 400
    spy_close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n)))
    close = 30 * np.exp(np.cumsum(rng.normal(0.0001, 0.02, n)))
    bars = policy.Bars(np.arange(n).astype("datetime64[D]"), close, close * 1.01, close * 0.99, close)
    spy = policy.BenchmarkBars(spy_close, spy_close)
    entries = [399, 70, 250, 250, 40]
    together = policy.entry_fits(bars, spy, entries)
    assert together == [policy.market_fit(bars, spy, e) for e in entries]  # exactly, not approximately
    assert together[-1] == policy.MarketFit(0.0, 1.0, True) and not together[0].fallback
    seen, seen_spy = policy.enter_intraday(bars, spy, 250, price=close[250] * 1.05, high=close[250] * 1.06,
                                           low=close[250], benchmark_price=spy_close[250] * 0.98)  # fmt: skip
    assert policy.market_fit(seen, seen_spy, 250) == together[2]
    assert policy.entry_fits(bars, None, entries) is None


def test_market_fit_falls_back_to_beta_one_without_sixty_sessions():
    close = np.linspace(10, 12, 70)
    bars = policy.Bars(np.arange(70).astype("datetime64[D]"), close, close, close, close)
    fit = policy.market_fit(bars, policy.BenchmarkBars(close, close), 65)
    assert fit == policy.MarketFit(0.0, 1.0, True)


def test_forward_outcomes_carry_the_abnormal_return():
    o = np.array([10.0, 10.0, 11.0, 12.0])
    c = np.array([10.0, 10.5, 11.5, 12.6])
    bars = policy.Bars(np.arange(4).astype("datetime64[D]"), o, c, o, c)
    spy = policy.BenchmarkBars(np.array([100.0, 100.0, 101.0, 102.0]), np.array([100.0, 100.5, 101.5, 103.0]))
    fit = policy.MarketFit(0.001, 0.5, False)
    (one, two) = policy.forward_outcomes("buy", 1, bars, spy, [1, 2], 3, fit)
    assert one.abnormal_return == pytest.approx(math.log(10.5 / 10) - 0.001 - 0.5 * math.log(100.5 / 100))
    assert two.abnormal_return == pytest.approx(math.log(11.5 / 10) - 0.002 - 0.5 * math.log(101.5 / 100))
    assert policy.forward_outcomes("buy", 1, bars, spy, [1], 3)[0].abnormal_return is None  # no model, no figure


# A hand case: 8 signals of one swing source on 4 dates, horizon 1, and 4 of another source on the same dates.
#   date        alpha (ours)          beta (peers)
#   2026-03-02  +0.02, −0.01          +0.01
#   2026-03-03  +0.03, +0.01          −0.02
#   2026-03-04  −0.02, +0.04          −0.01
#   2026-03-05  +0.05, +0.02          +0.03
OURS = [0.02, -0.01, 0.03, 0.01, -0.02, 0.04, 0.05, 0.02]
PEERS = [0.01, -0.02, -0.01, 0.03]
DATES = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]


def _frame(horizons=(1,), ours=OURS, peers=PEERS, categories=("swing", "swing")) -> pd.DataFrame:
    rows = []
    sid = 0
    for h in horizons:
        sid = 0
        for source, values, category in (("alpha", ours, categories[0]), ("beta", peers, categories[1])):
            per_date = len(values) // len(DATES)
            for i, value in enumerate(values):
                rows.append({"signal_id": sid, "category": category, "source": source, "conviction": np.nan,
                             "horizon": h, "status": "complete", "ret": value + 0.01, "excess": value,
                             "hit": value + 0.01 > 0, "abnormal": value * h,
                             "entry_date": DATES[i // per_date]})  # fmt: skip
                sid += 1
    return pd.DataFrame(rows)


def _rows(frame: pd.DataFrame, **kwargs) -> list[dict]:
    arguments = {"horizons": [1], "primary_horizon": 1, "min_signals": 3, "rng": np.random.default_rng(0),
                 "resamples": 500}  # fmt: skip
    arguments.update(kwargs)
    return build_rows(frame, EMPTY, EMPTY, EMPTY, **arguments)


def _row(rows, group, key):
    (row,) = [r for r in rows if r["group"] == group and r["key"] == key]
    return row


def test_row_figures_against_scipy_and_statsmodels_and_by_hand():
    from scipy.stats import binomtest
    from statsmodels.stats.proportion import proportion_confint

    row = _row(_rows(_frame()), "source", "alpha")
    assert row["abnormal_return_mean"]["1"] == pytest.approx(np.mean(OURS))
    beats = sum(v > 0 for v in OURS)  # 6 of 8
    assert row["beat_rate"]["1"] == pytest.approx(beats / 8)
    assert row["beat_rate_ci"]["1"] == pytest.approx(list(proportion_confint(beats, 8, 0.05, method="wilson")))
    # Base rate by hand: per date, the share > 0 among all 12 swing values of that date (ours and the peers'),
    # averaged over our 8 values (2 per date): 03-02 2/3, 03-03 2/3, 03-04 1/3, 03-05 3/3.
    base = (2 / 3 + 2 / 3 + 1 / 3 + 1) / 4
    assert row["base_rate"]["1"] == pytest.approx(base)
    assert row["beat_rate_p"]["1"] == pytest.approx(binomtest(beats, 8, base).pvalue)
    assert row["up_rate"]["1"] == pytest.approx(np.mean(np.array(OURS) + 0.01 > 0))  # raw return = value + 0.01
    assert row["hit_rate"]["1"] == row["up_rate"]["1"]  # the old hit rate keeps its meaning
    assert row["primary_horizon"] == "1" and row["beta_fallback"] == 0
    # The interval is the date-block bootstrap of the same values (its own tests check it by hand).
    lo, hi = row["abnormal_return_ci"]["1"]
    assert lo < np.mean(OURS) < hi


def test_a_category_row_is_compared_with_every_category_on_its_dates():
    frame = _frame(categories=("swing", "long_term"))
    rows = _rows(frame, primary_horizons={"swing": 1, "long_term": 1, "day_trade": 1})
    swing = _row(rows, "category", "swing")
    assert swing["base_rate"]["1"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)
    only_ours = _row(rows, "source", "alpha")  # its category's pool is itself now
    assert only_ours["base_rate"]["1"] == pytest.approx(only_ours["beat_rate"]["1"])


def test_date_shares_by_hand():
    shares = date_shares(np.array([0.1, -0.1, np.nan, 0.2, 0.3]), np.array(["a", "a", "a", "b", "a"]),
                         np.array([0, 0, 0, 0, 1]))  # fmt: skip
    assert shares[:2] == pytest.approx([0.5, 0.5]) and np.isnan(shares[2]) and shares[3:] == pytest.approx([1, 1])


def test_q_values_are_benjamini_hochberg_over_every_row_and_horizon():
    from statsmodels.stats.multitest import multipletests

    rows = _rows(_frame(horizons=(1, 5)), horizons=[1, 5])
    keys = [(i, h) for i, r in enumerate(rows) for h in ("1", "5") if r["abnormal_return_p"][h] is not None]
    p = [rows[i]["abnormal_return_p"][h] for i, h in keys]
    expected = multipletests(p, method="fdr_bh")[1]
    assert [rows[i]["abnormal_return_q"][h] for i, h in keys] == pytest.approx(list(expected))
    # At h = 5 the 4 entry dates make a single block: no p-value there, so no hypothesis.
    assert hypotheses(rows) == len(keys) == len(rows)


def test_a_verdict_needs_the_interval_and_a_q_value_below_the_fdr():
    strong = [0.02, 0.03, 0.025, 0.04, 0.03, 0.035, 0.05, 0.02]
    frame = _frame(ours=strong)
    rows = _rows(frame)
    assert _row(rows, "source", "alpha")["verdict"] == "beats SPY"
    assert _row(rows, "source", "alpha")["needs_more"] is None
    q = _row(rows, "source", "alpha")["abnormal_return_q"]["1"]
    tight = _rows(frame, fdr=q * 0.99)  # the same interval, an FDR just below its q: no discovery
    assert _row(tight, "source", "alpha")["verdict"] == "no evidence"
    assert _row(_rows(frame, min_signals=9), "source", "alpha")["verdict"] == "too few signals: 8 < 9"


def test_needs_more_by_hand():
    rows = _rows(_frame())
    row = _row(rows, "source", "beta")  # 4 values on 4 dates: no verdict
    assert row["verdict"] == "no evidence"
    values = np.array(PEERS)
    mean = inference.block_bootstrap_mean(values, DATES, np.random.default_rng(0), block=1, resamples=500)
    z = 1.6448536269514722 + 0.8416212335729143  # z(1 − 0.10/2) + z(0.8)
    deff = mean.design_effect  # the row's own bootstrap's, whatever its draws: only its scale is hand-checked
    needed = math.ceil(deff * (z * values.std(ddof=1) / abs(values.mean())) ** 2)
    more = row["needs_more"]
    assert more is not None and more["signals"] >= 3 - 4  # at least up to min_signals
    # 4 signals over 4 weekday sessions: one per session, so sessions = signals.
    assert more["sessions"] == more["signals"]
    assert abs(more["signals"] - (needed - 4)) <= max(3, 0.5 * needed)  # the same formula, another resample


def test_primary_horizon_per_row():
    per = {"swing": 10, "long_term": 60, "day_trade": 1}
    assert row_primary_horizon(["swing", "swing"], per, 20) == 10
    assert row_primary_horizon(["swing", "long_term"], per, 20) == 20
    assert row_primary_horizon(["swing"], None, 20) == 20
    rows = _rows(_frame(horizons=(1, 5), categories=("swing", "long_term")), horizons=[1, 5], primary_horizon=1,
                 primary_horizons={"swing": 5, "long_term": 1, "day_trade": 1})  # fmt: skip
    assert _row(rows, "source", "alpha")["primary_horizon"] == "5"
    assert _row(rows, "source", "beta")["primary_horizon"] == "1"
    assert _row(rows, "conviction", "none")["primary_horizon"] == "1"  # mixed categories: the plain setting
    with pytest.raises(ValueError, match="primary_horizon"):
        _rows(_frame(), primary_horizons={"swing": 10})


def test_rule_exit_r_interval_uses_the_date_block_bootstrap():
    exits = pd.DataFrame({"signal_id": range(8), "category": "swing", "source": "alpha", "conviction": np.nan,
                          "status": "complete", "r_multiple": [1.0, -1.0, 2.0, 0.5, -0.5, 1.5, 3.0, -1.0],
                          "ret": 0.01, "holding_sessions": 1, "entry_date": DATES * 2})  # fmt: skip
    rows = build_rows(EMPTY, exits, EMPTY, EMPTY, horizons=[1], primary_horizon=1, min_signals=3,
                      rng=np.random.default_rng(1), resamples=500)  # fmt: skip
    ci = rows[0]["rule_exit"]["expectancy_r_ci"]
    assert ci is not None and ci[0] < 0.6875 < ci[1]


def test_a_horizon_without_values_has_no_figures():
    sample = HorizonSample(np.array([np.nan]), np.array(["2026-03-02"]), np.array([np.nan]), np.array([np.nan]))
    figures, estimate = horizon_figures(sample, 1, np.random.default_rng(0), resamples=100)
    assert estimate.mean.n == 0 and all(v is None for v in figures.values())


def test_the_migration_adds_the_columns_and_clears_old_outcomes(tmp_path):
    import sqlite_utils

    from autotrader.ledger.migrations import migrations

    db = sqlite_utils.Database(tmp_path / "ledger.db")
    migrations.apply(db, stop_before="0010_abnormal_returns")
    db.execute("INSERT INTO signal_imports (id, content_hash, origin, imported_at, rows_total, rows_imported, "
               "rows_skipped) VALUES (1, 'h', 'x.csv', '2026-03-02T13:00:00.000000+00:00', 1, 1, 0)")  # fmt: skip
    db.execute("INSERT INTO signals (id, import_id, line, symbol, category, source, side, generated_at, dedupe_key, "
               "created_at) VALUES (1, 1, 2, 'AAA', 'swing', 's', 'buy', '2026-03-02T13:00:00.000000+00:00', 'k', "
               "'2026-03-02T13:00:00.000000+00:00')")  # fmt: skip
    db.execute("INSERT INTO signal_outcomes (signal_id, horizon, status, computed_at) VALUES (1, 1, 'complete', 'x')")
    db.execute("INSERT INTO signal_rule_exits (signal_id, status, computed_at) VALUES (1, 'complete', 'x')")
    db.conn.commit()
    migrations.apply(db)
    db.close()
    conn = sqlite3.connect(tmp_path / "ledger.db")
    columns = {r[1] for r in conn.execute("PRAGMA table_info(signal_outcomes)")}
    assert {"abnormal", "alpha", "beta", "beta_fallback"} <= columns
    assert conn.execute("SELECT count(*) FROM signal_outcomes").fetchone() == (0,)  # recomputed by the next refresh
    assert conn.execute("SELECT count(*) FROM signal_rule_exits").fetchone() == (1,)  # unaffected by the model
    conn.close()
