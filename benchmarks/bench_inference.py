"""Time the scorecard's statistics on a large synthetic input (medians of several runs; machines are noisy).

    python benchmarks/bench_inference.py [--events 100000] [--sessions 2520] [--symbols 500] [--runs 5]

Builds ``--sessions`` daily returns for ``--symbols`` stocks (β between 0.5 and 1.8 on a market series, 1% of
the bars missing) and ``--events`` signals (random symbol, entry session and side, conviction 1-10, four
sources), then times each heavy step at 4 horizons (1, 5, 20, 60 sessions): the market model, the CARs, the
date-block bootstrap (2,000 resamples per horizon), the calendar-time portfolios and their Newey-West
regressions, the placebo (200 draws per horizon against a universe three times the signals), the rank IC per
horizon, BH q-values, shrinkage, and the event-window profile (-20..+60, 2,000 resamples). Prints the median
wall time of each step and of their sum.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autotrader.policy import calendar_time as ct  # noqa: E402
from autotrader.policy import event_study as es  # noqa: E402
from autotrader.policy import inference as inf  # noqa: E402
from autotrader.policy import skill  # noqa: E402

HORIZONS = (1, 5, 20, 60)


def synthetic(events: int, sessions: int, symbols: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.01, sessions)
    beta = rng.uniform(0.5, 1.8, symbols)
    stock = beta * market[:, None] + rng.normal(0, 0.02, (sessions, symbols))
    stock[rng.random(stock.shape) < 0.01] = np.nan
    return {
        "stock": stock,
        "market": market,
        "symbol": rng.integers(0, symbols, events),
        "entry": rng.integers(0, sessions, events),
        "side": np.where(rng.random(events) < 0.8, 1.0, -1.0),
        "conviction": rng.integers(1, 11, events).astype(float),
        "source": rng.integers(0, 4, events),
        "pool_entry": rng.integers(0, sessions, 3 * events),
        "pool_noise": rng.normal(0, 0.05, (3 * events, len(HORIZONS))),
    }


def run_once(data: dict[str, np.ndarray]) -> dict[str, float]:
    rng = np.random.default_rng(1)
    stock, market, symbol, entry, side = (data[k] for k in ("stock", "market", "symbol", "entry", "side"))
    times: dict[str, float] = {}

    def timed(name: str, step: Callable[[], object]) -> object:
        start = time.perf_counter()
        result = step()
        times[name] = times.get(name, 0.0) + time.perf_counter() - start
        return result

    model = timed("market model", lambda: es.market_model(stock, market, symbol, entry))
    car = timed("CAR x4", lambda: es.cumulative_abnormal(stock, market, symbol, entry, model, HORIZONS, side=side))
    n_dates = len(np.unique(entry))
    rows = []
    for j, h in enumerate(HORIZONS):
        block = inf.block_length(h, n_dates)
        rows.append(
            timed("block bootstrap x4", lambda j=j, b=block: inf.block_bootstrap_mean(car[:, j], entry, rng, block=b))
        )
        ar = timed(
            "calendar time x4",
            lambda h=h: es.paths(stock, market, symbol, entry, range(1, h + 1), model=model, side=side),
        )
        timed("calendar time x4", lambda ar=ar: ct.calendar_time(entry, ar, market))
        pool = np.concatenate([car[:, j], data["pool_noise"][:, j]])
        pool_dates = np.concatenate([entry, data["pool_entry"]])
        timed("placebo x4", lambda j=j, p=pool, d=pool_dates: inf.placebo_test(car[:, j], entry, p, d, rng, draws=200))
    timed("rank IC x4", lambda: skill.ic_by_horizon(entry, data["conviction"], car, HORIZONS))
    timed("BH q-values", lambda: inf.bh_qvalues(np.tile([r.p_value for r in rows], 50)))
    timed("shrinkage", lambda: skill.shrink_means([r.mean for r in rows], [r.se for r in rows]))
    timed("event profile", lambda: es.event_profile(stock, market, symbol, entry, model, rng, side=side))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=2520)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = synthetic(args.events, args.sessions, args.symbols)
    run_once(data)  # warm-up: first-touch allocations, lazy imports
    runs = [run_once(data) for _ in range(args.runs)]
    print(f"{args.events:,} events x {len(HORIZONS)} horizons, {args.sessions} sessions x {args.symbols} symbols")
    for name in runs[0]:
        print(f"  {name:<20} {statistics.median(r[name] for r in runs):7.3f} s")
    print(f"  {'total':<20} {statistics.median(sum(r.values()) for r in runs):7.3f} s (median of {args.runs} runs)")


if __name__ == "__main__":
    main()
