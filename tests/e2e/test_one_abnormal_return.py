"""One abnormal return per signal and horizon across the whole scorecard, through the command line.

A workspace of local bars (SPY and six symbols with betas 0.6-1.6 over about 320 sessions, so every market
model is a real fit, not the β = 1 fallback), and signals from two sources, each in one category, on 14
dates, each imported at its claimed time (before the open: entered at that session's open). The rows, the
calibration and every panel must then report the same per-signal numbers: the ``abnormal`` stored with the
signal's outcome. A second workspace with a one-symbol universe pins the placebo's value against a
statsmodels fit of the log market model.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pytest

from autotrader.clock import ET, MarketCalendar
from autotrader.ledger.db import open_ledger
from autotrader.ledger.repo import utc_iso
from tests.e2e.test_scorecard_hand_case import CONFIG as HAND_CASE_CONFIG

pytestmark = pytest.mark.slow  # whole commands over a year of bars

# The hand case's local-files workspace, with three horizons and quicker resampling.
CONFIG = (
    HAND_CASE_CONFIG.split("[scorecard]")[0]
    + """[scorecard]
horizons = [1, 5, 10]
primary_horizon = 5
primary_horizons = { long_term = 10, swing = 5, day_trade = 1 }
min_signals = 5
bootstrap_resamples = 200
placebo_draws = 50
"""
)
AS_OF = "2026-03-13T17:00:00-04:00"
SYMBOLS = {"AAA": 0.6, "BBB": 0.9, "CCC": 1.1, "DDD": 1.3, "EEE": 1.5, "FFF": 1.6}
SOURCES = {"alpha": "swing", "beta": "long_term"}


def _sessions() -> list[date]:
    return MarketCalendar.xnys().sessions_between(date(2024, 12, 2), date(2026, 3, 13))


def _bars(rng: np.random.Generator, market: np.ndarray, beta: float, start: float) -> np.ndarray:
    """(open, high, low, close) per session: a market-model close path, each open a small gap from the last close."""
    close = start * np.exp(np.cumsum(0.0003 + beta * market + rng.normal(0, 0.012, len(market))))
    opens = np.concatenate([[start], close[:-1]]) * np.exp(rng.normal(0, 0.004, len(market)))
    high = np.maximum(opens, close) * 1.005
    low = np.minimum(opens, close) * 0.995
    return np.column_stack([opens, high, low, close])


def _write(folder: Path, symbol: str, days: list[date], bars: np.ndarray) -> None:
    lines = ["date,open,high,low,close,volume"]
    rows = zip(days, bars, strict=True)
    lines += [f"{d.isoformat()},{o:.4f},{h:.4f},{lo:.4f},{c:.4f},1000000" for d, (o, h, lo, c) in rows]
    (folder / f"{symbol}.csv").write_text("\n".join(lines) + "\n")


def _market(root: Path, symbols: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Writes the bars under ``root/market`` and returns them (rounded as written), SPY's included."""
    rng = np.random.default_rng(seed)
    days = _sessions()
    market = rng.normal(0.0004, 0.01, len(days))
    folder = root / "market"
    folder.mkdir()
    spy_close = 400 * np.exp(np.cumsum(market))
    spy_open = np.concatenate([[400.0], spy_close[:-1]]) * np.exp(rng.normal(0, 0.002, len(days)))
    spy = np.column_stack([spy_open, np.maximum(spy_open, spy_close) * 1.003,
                           np.minimum(spy_open, spy_close) * 0.997, spy_close])  # fmt: skip
    tables = {"SPY": spy, **{s: _bars(rng, market, b, 20 + 10 * i) for i, (s, b) in enumerate(symbols.items())}}
    for symbol, bars in tables.items():
        _write(folder, symbol, days, bars)
    return {symbol: np.round(bars, 4) for symbol, bars in tables.items()}


def _ledger(root: Path, signals: list[tuple[str, str, str, str, int, date]]) -> str:
    """A ledger holding ``signals`` (symbol, category, source, side, conviction, day), each imported at its
    claimed instant, 08:00 New York on its day; returns the config path."""
    (root / "config.toml").write_text(CONFIG)
    open_ledger(root / "ledger-sim.db").close()
    conn = sqlite3.connect(root / "ledger-sim.db")
    for n, (symbol, category, source, side, conviction, day) in enumerate(signals, start=1):
        at = utc_iso(datetime.combine(day, time(8), tzinfo=ET))
        conn.execute(
            "INSERT INTO signal_imports (id, content_hash, origin, imported_at, rows_total, rows_imported, "
            "rows_skipped) VALUES (?, ?, 'test.csv', ?, 1, 1, 0)",
            [n, f"h{n}", at],
        )
        conn.execute(
            "INSERT INTO signals (id, import_id, line, symbol, category, source, side, conviction, generated_at, "
            "dedupe_key, created_at) VALUES (?, ?, 2, ?, ?, ?, ?, ?, ?, ?, ?)",
            [n, n, symbol, category, source, side, conviction, at, f"k{n}", at],
        )
    conn.commit()
    conn.close()
    return str(root / "config.toml")


def _scorecard(config: str) -> dict:
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    result = CliRunner().invoke(app, ["scorecard", "--json", "--as-of", AS_OF, "--config", config])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("one-car")
    _market(root, SYMBOLS, seed=11)
    rng = np.random.default_rng(12)
    days = _sessions()[-40:-12]  # 14 of these, each at least 10 sessions before the as-of: every horizon complete
    signals = []
    for day in days[::2]:
        for source, category in SOURCES.items():
            for symbol in rng.choice(list(SYMBOLS), 2, replace=False):
                side = "sell" if rng.random() < 0.2 else "buy"
                signals.append((str(symbol), category, source, side, int(rng.integers(1, 11)), day))
    return _scorecard(_ledger(root, signals))


def _row(report: dict, group: str, key: str) -> dict:
    return next(r for r in report["rows"] if r["group"] == group and r["key"] == key)


def test_every_market_model_is_fitted(report):
    assert all(r["beta_fallback"] == 0 for r in report["rows"])


def test_the_leaderboard_mean_is_the_source_rows_abnormal_return_mean(report):
    board = {r["source"]: r for r in report["leaderboard"]}
    for source in SOURCES:
        row = _row(report, "source", source)
        h = row["primary_horizon"]  # the source's single category's horizon, which the panels use too
        assert board[source]["signals"] == row["completed"][h] == 14 * 2
        assert board[source]["mean"] == pytest.approx(row["abnormal_return_mean"][h], rel=1e-12)
        assert board[source]["beat_rate"] == pytest.approx(row["beat_rate"][h], rel=1e-12)


def test_every_panel_reads_the_same_per_signal_numbers(report):
    for source, category in SOURCES.items():
        row = _row(report, "source", source)
        mean = row["abnormal_return_mean"][row["primary_horizon"]]
        placebo = next(p for p in report["placebo"] if p["source"] == source)
        execution = next(e for e in report["execution"] if e["source"] == source and e["category"] == category)
        stability = next(s for s in report["stability"] if s["source"] == source)
        assert placebo["observed"] == pytest.approx(mean, rel=1e-12)
        assert execution["pick_all"] == pytest.approx(mean, rel=1e-12)
        assert stability["signals"] == row["completed"][row["primary_horizon"]]


def test_the_calibration_rank_ic_is_the_ranking_tables_at_the_same_horizon(report):
    calibration = report["calibration"]
    overall = next(r for r in report["ranking"]["sources"] if r["key"] == "all")
    h = calibration["horizon"]
    assert calibration["rank_ic"] is not None and calibration["rank_ic"]["dates"] == overall["ic_dates"][h] == 14
    assert calibration["rank_ic"]["mean"] == pytest.approx(overall["ic_mean"][h], rel=1e-12)


def _hand_abnormal(bars: np.ndarray, spy: np.ndarray, entry: int, h: int, sign: int) -> float:
    """statsmodels OLS of daily log returns on SPY's over sessions entry-250 ... entry-11, then
    sign * (log(close[entry+h-1] / open[entry]) - h*alpha - beta * the same log for SPY)."""
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.tools import add_constant

    y = np.log(bars[1:, 3] / bars[:-1, 3])[entry - 251 : entry - 11]  # session t: close t-1 -> close t
    x = np.log(spy[1:, 3] / spy[:-1, 3])[entry - 251 : entry - 11]
    alpha, beta = OLS(y, add_constant(x)).fit().params
    exit_ = entry + h - 1
    return sign * (
        math.log(bars[exit_, 3] / bars[entry, 0]) - h * alpha - beta * math.log(spy[exit_, 3] / spy[entry, 0])
    )


def test_a_placebo_pick_is_scored_like_a_signal_entered_at_that_open(tmp_path):
    # One symbol in the ledger's universe: every placebo portfolio of the source's single pick is that symbol
    # on the pick's day, so its mean is exactly the placebo's value for (CCC, that day).
    bars = _market(tmp_path, {"CCC": 1.4}, seed=21)
    days = _sessions()
    entry = len(days) - 20
    report = _scorecard(_ledger(tmp_path, [("CCC", "swing", "solo", "sell", 6, days[entry])]))
    expected = _hand_abnormal(bars["CCC"], bars["SPY"], entry, 5, -1)
    placebo = next(p for p in report["placebo"] if p["source"] == "solo")
    assert placebo["placebo_mean"] == pytest.approx(expected, rel=1e-9)
    assert placebo["observed"] == pytest.approx(expected, rel=1e-9)
    assert _row(report, "source", "solo")["abnormal_return_mean"]["5"] == pytest.approx(expected, rel=1e-9)
