"""Time the indicator engine over the whole universe, and TA-Lib per ticker for reference (medians of several runs).

    python benchmarks/bench_indicators.py [--runs 7] [--symbols 500] [--daily-bars 504] [--minute-bars 390]
                                          [--missing 0.0]

Daily: every daily indicator for ``--symbols`` symbols x ``--daily-bars`` bars in one (bars, symbols) array each
of open/high/low/close: SMA 20 and 50, EMA 20 and 50, RSI 14, ATR 14, Bollinger 20/2, linear regression 20
(slope, intercept, R², forecast). Then TA-Lib for the same set, one ticker at a time (SMA, EMA, RSI, ATR, BBANDS,
LINEARREG_SLOPE, LINEARREG_INTERCEPT, LINEARREG, CORREL for R²; each ticker's columns already contiguous, TA-Lib's
best case). And the built-in daily scanners' decision on the same universe: the Bollinger and regression
evaluations (their indicators and ATR stops included) and their strongest signals.

Intraday: ``--minute-bars`` one-minute bars of one session for the same symbols: EMA 20 and 50, VWAP with its
1σ and 2σ bands, relative volume over 20 bars, the 30-minute opening range and the high of day. Then the
built-in intraday setups' decision at the last bar (``policy/intraday.py``: all seven, with their stops and
strongest signals, and the daily regime score the last two read, from the daily bars' last 55 closes).

``--missing`` blanks that fraction of bars at random (missing bars, which restart the recursive averages). Every
run keeps its outputs until it ends, as a scanner reading them would; one untimed run comes first. Each line
also gives the minor page faults of a run: the fresh memory its outputs are written to, which on a virtual
machine can cost as much as the arithmetic.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autotrader.policy import engine, intraday, scanners  # noqa: E402


def daily_bars(symbols: int, bars: int, missing: float, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    start = rng.uniform(5, 500, symbols)
    close = start * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (bars, symbols)), axis=0))
    open_ = np.vstack([start, close[:-1]]) * np.exp(rng.normal(0, 0.007, (bars, symbols)))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.008, (bars, symbols))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.008, (bars, symbols))))
    volume = np.round(rng.lognormal(14, 0.7, (bars, symbols)))
    return _blank({"high": high, "low": low, "close": close, "volume": volume}, missing, rng)


def minute_bars(symbols: int, bars: int, missing: float, seed: int = 2) -> dict[str, np.ndarray]:
    data = daily_bars(symbols, bars, 0.0, seed)
    rng = np.random.default_rng(seed + 1)
    close = data["close"][:1] * np.exp(np.cumsum(rng.normal(0, 0.0012, (bars, symbols)), axis=0))
    data["close"] = close
    data["high"] = close * (1 + np.abs(rng.normal(0, 0.0007, (bars, symbols))))
    data["low"] = close * (1 - np.abs(rng.normal(0, 0.0007, (bars, symbols))))
    data["volume"] = np.round(rng.lognormal(8, 1.0, (bars, symbols)) * np.linspace(3, 1, bars)[:, None])
    data = _blank(data, missing, rng)
    data["session"] = np.full(bars, 739_000)
    return data


def _blank(data: dict[str, np.ndarray], missing: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if missing > 0:
        gone = rng.random(data["close"].shape) < missing
        for array in data.values():
            array[gone] = np.nan
    return data


def daily_set(d: dict[str, np.ndarray]) -> list[Any]:
    high, low, close = d["high"], d["low"], d["close"]
    return [
        engine.sma(close, 20),
        engine.sma(close, 50),
        engine.ema(close, 20),
        engine.ema(close, 50),
        engine.rsi(close, 14),
        engine.atr(high, low, close, 14),
        engine.bollinger(close, 20, 2.0),
        engine.linreg(close, 20),
    ]


def intraday_set(d: dict[str, np.ndarray]) -> list[Any]:
    high, low, close, volume, session = d["high"], d["low"], d["close"], d["volume"], d["session"]
    return [
        engine.ema(close, 20),
        engine.ema(close, 50),
        engine.vwap(high, low, close, volume, session, k=(1.0, 2.0)),
        engine.relative_volume(volume, 20),
        engine.opening_range(high, low, session, 30),
        engine.high_of_day(high, session),
    ]


def talib_per_ticker(columns: list[tuple[np.ndarray, ...]]) -> Callable[[], list[Any]]:
    import talib

    def run() -> list[Any]:
        out = []
        for high, low, close in columns:
            index = np.arange(len(close), dtype=float)
            out.append(
                (
                    talib.SMA(close, 20),
                    talib.SMA(close, 50),
                    talib.EMA(close, 20),
                    talib.EMA(close, 50),
                    talib.RSI(close, 14),
                    talib.ATR(high, low, close, 14),
                    talib.BBANDS(close, 20, 2.0, 2.0, 0),
                    talib.LINEARREG_SLOPE(close, 20),
                    talib.LINEARREG_INTERCEPT(close, 20),
                    talib.LINEARREG(close, 20),
                    talib.CORREL(index, close, 20) ** 2,
                )
            )
        return out

    return run


class Timings(list[float]):
    """Wall times of the runs, and the minor page faults (fresh memory touched) of each."""

    faults: list[int]


def timed(work: Callable[[], Any], runs: int) -> Timings:
    work()  # untimed: first touch of the code and the inputs
    timings = Timings()
    timings.faults = []
    for _ in range(runs):
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.perf_counter()
        kept = work()
        timings.append(time.perf_counter() - started)
        timings.faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
        del kept
    return timings


def report(label: str, timings: Timings, goal_ms: float | None = None) -> None:
    median = statistics.median(timings) * 1e3
    goal = f"; goal <= {goal_ms:.0f} ms" if goal_ms is not None else ""
    print(
        f"{label}: median {median:.1f} ms over {len(timings)} runs "
        f"(min {min(timings) * 1e3:.1f}, max {max(timings) * 1e3:.1f}; "
        f"{statistics.median(timings.faults):.0f} page faults a run){goal}"
    )


def breakdown(runs: int, calls: dict[str, Callable[[], Any]]) -> None:
    for name, call in calls.items():
        print(f"    {name:<28} {statistics.median(timed(call, runs)) * 1e3:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--daily-bars", type=int, default=504)
    parser.add_argument("--minute-bars", type=int, default=390)
    parser.add_argument("--missing", type=float, default=0.0, help="fraction of bars blanked at random")
    args = parser.parse_args()

    d = daily_bars(args.symbols, args.daily_bars, args.missing)
    report(
        f"daily indicators, engine: {args.symbols} symbols x {args.daily_bars} bars "
        "(SMA 20/50, EMA 20/50, RSI 14, ATR 14, Bollinger 20/2, linreg 20)",
        timed(lambda: daily_set(d), args.runs),
        goal_ms=40,
    )
    h, lo, c = d["high"], d["low"], d["close"]
    breakdown(
        args.runs,
        {
            "sma 20 + 50": lambda: (engine.sma(c, 20), engine.sma(c, 50)),
            "ema 20 + 50": lambda: (engine.ema(c, 20), engine.ema(c, 50)),
            "rsi 14": lambda: engine.rsi(c, 14),
            "atr 14": lambda: engine.atr(h, lo, c, 14),
            "bollinger 20/2": lambda: engine.bollinger(c, 20, 2.0),
            "linreg 20": lambda: engine.linreg(c, 20),
        },
    )
    # The built-in daily scanners' decision for the morning after the last bar: both evaluations, with their
    # ATR stops, over the whole universe (the indicators they need are computed inside).
    bars = scanners.Bars(tuple(f"S{j}" for j in range(args.symbols)), h, lo, c)
    common = scanners.Common(atr_period=14, stop_atr_multiplier=1.5, max_per_day=10)
    report(
        f"daily signals, built-in scanners: {args.symbols} symbols x {args.daily_bars} bars (Bollinger 20/2 and "
        "regression 20 evaluated, their strongest signals with ATR stops)",
        timed(lambda: (scanners.bollinger(bars, common, period=20, k=2.0, target="middle"),
                       scanners.regression(bars, common, window=20, min_r2=0.6, min_annual_pct=20.0,
                                           horizon_days=10)), args.runs),  # fmt: skip
        goal_ms=40,
    )
    columns = [tuple(np.ascontiguousarray(a[:, j]) for a in (h, lo, c)) for j in range(args.symbols)]
    if args.missing > 0:
        print("    (TA-Lib per ticker is timed on the same bars; it does not restart after a gap)")
    report(
        f"daily indicators, TA-Lib one ticker at a time: {args.symbols} tickers x {args.daily_bars} bars",
        timed(talib_per_ticker(columns), args.runs),
    )

    m = minute_bars(args.symbols, args.minute_bars, args.missing)
    report(
        f"intraday indicators, engine: {args.symbols} symbols x {args.minute_bars} minute bars "
        "(EMA 20/50, VWAP with 1σ/2σ bands, relative volume 20, opening range 30, high of day)",
        timed(lambda: intraday_set(m), args.runs),
        goal_ms=100,
    )
    mh, ml, mc, mv, ms = m["high"], m["low"], m["close"], m["volume"], m["session"]
    breakdown(
        args.runs,
        {
            "ema 20 + 50": lambda: (engine.ema(mc, 20), engine.ema(mc, 50)),
            "vwap with bands": lambda: engine.vwap(mh, ml, mc, mv, ms),
            "relative volume 20": lambda: engine.relative_volume(mv, 20),
            "opening range 30": lambda: engine.opening_range(mh, ml, ms, 30),
            "high of day": lambda: engine.high_of_day(mh, ms),
        },
    )
    # The intraday setups' decision at the session's last bar: all seven evaluations (their shared indicators
    # computed once, the ATR stops and targets, vwap_reclaim's cooldown over the 77 earlier 5-minute evaluations
    # of a 09:35-15:45 window) and each setup's strongest signals; the daily trend of the sessions before,
    # computed once a session in a scan, is timed with them here.
    minute = intraday.MinuteBars(tuple(f"S{j}" for j in range(args.symbols)), mh, ml, mc, mv)
    history = c[-55:]
    earlier = intraday.earlier_rows(len(mc), 5, 5)
    as_daily = scanners.Bars(minute.symbols, mh, ml, mc)
    common = scanners.Common(atr_period=14, stop_atr_multiplier=1.0, max_per_day=10)

    def setups() -> list[Any]:
        trend = intraday.daily_trend(history, intraday.Regime())
        found = intraday.evaluate_all(intraday.SETUPS, replace(minute, daily=trend), intraday.Params(), earlier)
        return [scanners.hits(e, as_daily, common) for e in found.values()]

    report(
        f"intraday signals, built-in setups: {args.symbols} symbols x {args.minute_bars} minute bars (ema_cross, "
        "vwap_reclaim with its cooldown, sigma_fade, hod_failure, orb, trend_pullback, vwap_mean_reversion and the "
        "daily regime score, their strongest signals with ATR stops)",
        timed(setups, args.runs),
        goal_ms=100,
    )


if __name__ == "__main__":
    main()
