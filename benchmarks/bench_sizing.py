"""Time the sizing engine on a large batch with every overlay on (medians of several runs; machines are noisy).

    python benchmarks/bench_sizing.py [--signals 1000] [--runs 5]

Builds ``--signals`` random signals over 3 categories (a third with a stop, a sixth with stop and target,
long-term ones with a conviction), quotes around each signal's entry, fractionable and non-tradable assets,
5 sectors and earnings dates (some unknown, some inside the blackout), and a book with room under every cap.
Regime (VIX 22, SPY below its SMA), half-Kelly (normalized, with stats for every category), drawdown and the
daily-P&L throttle are all on. Prints the median wall time of ``decide_all`` over ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autotrader.policy.sizing import (  # noqa: E402
    AssetIn,
    BookState,
    KellyStats,
    QuoteIn,
    RiskState,
    Rules,
    SignalIn,
    decide_all,
)

CATEGORIES = ("long_term", "swing", "day_trade")
SECTORS = ("Information Technology", "Health Care", "Financials", "Energy", "Industrials")


def synthetic(signals: int, seed: int = 7) -> tuple[list, BookState, RiskState, Rules]:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(signals):
        category = CATEGORIES[i % 3]
        entry = float(np.round(rng.uniform(5, 500), 2))
        has_stop = rng.random() < 1 / 3
        stop = round(entry * float(rng.uniform(0.9, 0.98)), 2) if has_stop else None
        target = round(entry * float(rng.uniform(1.05, 1.3)), 2) if has_stop and rng.random() < 0.5 else None
        conviction = int(rng.integers(5, 11)) if category == "long_term" else None
        signal = SignalIn(i, f"SYM{i:04d}", category, "buy", conviction, entry, stop, target)
        ask = round(entry * float(rng.uniform(0.985, 1.015)), 2)
        quote = QuoteIn(bid=round(ask * 0.9995, 2), ask=ask, last=ask, age_seconds=float(rng.uniform(0, 1000)))
        asset = AssetIn(tradable=rng.random() < 0.98, fractionable=rng.random() < 0.7)
        sector = SECTORS[int(rng.integers(0, len(SECTORS)))] if rng.random() < 0.9 else None
        earnings = int(rng.integers(0, 60)) if rng.random() < 0.85 else None
        items.append((signal, quote, asset, sector, earnings))
    book = BookState(
        portfolio_value=1_000_000.0,
        cash=900_000.0,
        deployed=50_000.0,
        position_value={f"SYM{i:04d}": 10_000.0 for i in range(0, signals, 50)},
        sector_exposure={s: 40_000.0 for s in SECTORS},
        open_positions=signals // 50,
        new_trades_today=0,
    )
    risk = RiskState(
        vix=22.0,
        spy_close=480.0,
        spy_sma=490.0,
        drawdown_pct=6.0,
        daily_pnl=4_100.0,
        consecutive_losses=1,
        kelly={c: KellyStats(trades=40, wins=22, avg_win=2.1, avg_loss=1.0) for c in CATEGORIES},
    )
    # Generous count limits so the whole batch goes through every overlay and cap, not just the first gates.
    rules = Rules(
        kelly_adaptive_enabled=True,
        kelly_mode="normalized",
        fractional_shares=True,
        max_open_positions=signals * 2,
        max_new_trades_per_day=signals * 2,
        max_total_allocation=5_000_000.0,
        one_position_per_symbol=False,
    )
    return items, book, risk, rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    items, book, risk, rules = synthetic(args.signals)
    times = []
    decisions = []
    for _ in range(args.runs):
        start = time.perf_counter()
        decisions = decide_all(items, book, risk, rules)
        times.append(time.perf_counter() - start)
    outcomes = Counter(d.outcome for d in decisions)
    steps = sum(len(d.trace) for d in decisions)
    print(
        f"decide_all: {args.signals} signals, median {statistics.median(times) * 1000:.1f} ms over {args.runs} runs "
        f"(min {min(times) * 1000:.1f} ms); outcomes {dict(sorted(outcomes.items()))}; {steps} trace steps"
    )


if __name__ == "__main__":
    main()
