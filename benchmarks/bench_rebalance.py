"""Time the rebalancer's backtests and selection on ten years of synthetic closes (medians of several runs).

    python benchmarks/bench_rebalance.py [--years 10] [--runs 7]

Builds deterministic closes (a geometric random walk, fixed seed) for the seed's 16 tickers over ``--years`` ×
252 sessions, with two tickers listed only after the first two years (NaN before), then backtests the seed's
four strategies (BUY_HOLD: SPY QQQ; TACTICAL: core + benchmarks; SPEC: + speculative; ASYM: all 16) with the
default parameters and selects the winner. Prints the median wall time over ``--runs`` runs (target < 0.5 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autotrader.policy.rebalance import Params, Strategy, backtest, select  # noqa: E402

CORE = ("GLD", "SLX", "JEF", "CPER")
BENCHMARKS = ("SPY", "QQQ")
SPECULATIVE = ("NVDA", "PLTR", "TSLA", "MSFT")
ASYMMETRIC = ("OKLO", "RMBS", "QBTS", "IREN", "AFRM", "SOFI")
LATE_LISTINGS = ("OKLO", "QBTS")  # no bars for the first two years

STRATEGIES = (
    Strategy("BUY_HOLD", BENCHMARKS, "buy_hold"),
    Strategy("TACTICAL", CORE + BENCHMARKS),
    Strategy("SPEC", CORE + BENCHMARKS + SPECULATIVE),
    Strategy("ASYM", CORE + BENCHMARKS + SPECULATIVE + ASYMMETRIC),
)


def synthetic(years: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tickers = CORE + BENCHMARKS + SPECULATIVE + ASYMMETRIC
    sessions = pd.bdate_range("2015-01-02", periods=years * 252, name="date")
    drift = rng.uniform(-0.0002, 0.0008, len(tickers))
    vol = rng.uniform(0.008, 0.04, len(tickers))
    log_returns = rng.normal(drift, vol, (len(sessions), len(tickers)))
    closes = pd.DataFrame(50.0 * np.exp(np.cumsum(log_returns, axis=0)), index=sessions, columns=list(tickers)).round(2)
    closes.loc[closes.index[: 2 * 252], list(LATE_LISTINGS)] = np.nan
    return closes


def run(closes: pd.DataFrame, params: Params):
    results = {s.name: backtest(closes[list(s.tickers)], s, params) for s in STRATEGIES}
    return results, select(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    closes = synthetic(args.years)
    params = Params()
    times = []
    results, selection = run(closes, params)  # warm-up (imports, first-call allocations)
    for _ in range(args.runs):
        start = time.perf_counter()
        results, selection = run(closes, params)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(
        f"4 strategies × {closes.shape[1]} tickers × {len(closes)} sessions + select: median {median * 1000:.1f} ms "
        f"over {args.runs} runs (min {min(times) * 1000:.1f} ms; target < 500 ms)"
    )
    for name, r in results.items():
        print(
            f"  {name:<9} NAV {r.final_nav:>12,.2f}  CAGR {r.cagr:7.2%}  Sharpe {r.sharpe:5.2f}  "
            f"max DD {r.max_drawdown:6.2%}  rebalances {len(r.rebalances)}"
        )
    print(
        f"  winner {selection.winner} (runner-up {selection.runner_up}), PSR {selection.psr_vs_runner_up:.3f}, "
        f"DSR {selection.deflated_sharpe:.3f}, significant {selection.significant}"
    )


if __name__ == "__main__":
    main()
