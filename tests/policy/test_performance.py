"""The account's performance figures against hand computation with the standard library (statistics.stdev)."""

from __future__ import annotations

import math
import statistics

import pandas as pd
import pytest

from autotrader.policy import performance


def _series(values, start="2026-01-05"):
    index = pd.bdate_range(start, periods=len(values))
    return pd.Series(values, index=index)


def test_figures_match_their_textbook_definitions(monkeypatch):
    monkeypatch.setattr(performance, "MIN_CAGR_SESSIONS", 4)
    equity = _series([100.0, 110.0, 99.0, 108.9, 107.0])
    got = performance.measure(equity)
    assert got is not None
    returns = [110 / 100 - 1, 99 / 110 - 1, 108.9 / 99 - 1, 107 / 108.9 - 1]
    mean = sum(returns) / len(returns)
    assert got.total_return == pytest.approx(0.07)
    assert got.sharpe == pytest.approx(mean / statistics.stdev(returns) * math.sqrt(252))
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    assert got.sortino == pytest.approx(mean / downside * math.sqrt(252))
    assert got.max_drawdown == pytest.approx(1 - 99 / 110)
    days = (equity.index[-1] - equity.index[0]).days
    assert got.cagr == pytest.approx(1.07 ** (365.25 / days) - 1)
    assert (got.start, got.end, got.sessions) == ("2026-01-05", "2026-01-09", 4)  # four daily returns


def test_a_flat_or_single_value_series_has_no_ratio():
    flat = performance.measure(_series([100.0, 100.0, 100.0]))
    assert flat is not None and math.isnan(flat.sharpe) and math.isnan(flat.sortino) and flat.max_drawdown == 0
    one = performance.measure(_series([100.0]))
    assert one is not None and math.isnan(one.sharpe) and one.total_return == 0
    assert performance.measure(_series([])) is None


def test_the_benchmark_is_measured_on_the_accounts_own_sessions():
    equity = _series([100.0, 101.0, 103.0], start="2026-01-06")
    spy = _series([400.0, 404.0, 402.0, 410.0, 500.0], start="2026-01-05")  # one session before, one after
    got = performance.compare(equity, spy)
    assert got is not None and got.benchmark is not None
    assert got.benchmark.total_return == pytest.approx(410 / 404 - 1)
    assert got.excess_return == pytest.approx(0.03 - (410 / 404 - 1))
    missing_last = performance.compare(equity, spy.iloc[:3])
    assert missing_last is not None and missing_last.benchmark is None and math.isnan(missing_last.excess_return)


def test_no_cagr_is_stated_for_less_than_a_year_of_returns():
    quarter = performance.measure(_series([100.0 * 1.001**i for i in range(64)]))  # 63 returns
    assert quarter is not None and math.isnan(quarter.cagr) and quarter.total_return > 0
    short = performance.measure(_series([100.0 * 1.001**i for i in range(252)]))  # 251 returns
    assert short is not None and math.isnan(short.cagr)
    year = performance.measure(_series([100.0 * 1.001**i for i in range(253)]))
    assert year is not None and year.cagr > 0
