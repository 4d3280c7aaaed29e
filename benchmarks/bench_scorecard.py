"""Time the scorecard's aggregation on a large synthetic input (medians of several runs; machines are noisy).

    python benchmarks/bench_scorecard.py [--signals 100000] [--sources 4] [--runs 5]

Builds ``--signals`` signals over 3 categories and ``--sources`` sources (conviction 1-10, a tenth without),
with 4 horizons (1, 5, 20, 60 sessions; the longer ones partly pending), one rule exit per signal, a
trade for a third of the signals and three management legs per trade, then prints the median wall time of
``build_rows`` + ``calibration`` over ``--runs`` runs.

It then stores the same signals, outcomes and rule exits (all final) in a ledger and times the whole
``scorecard`` step through the invocation envelope: opening the ledger, the pending-outcome check, loading
the rows into pandas and aggregating - what ``autotrader scorecard --json`` does after start-up.
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

from autotrader.policy.scorecard import build_rows, calibration  # noqa: E402

HORIZONS = (1, 5, 20, 60)
CATEGORIES = ("long_term", "swing", "day_trade")
ACTIONS = ("dip_buy", "profit_take", "loss_cut", "stop", "target", "time_exit", "open_remainder")


def synthetic(signals: int, sources: int, seed: int = 7) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    ids = np.arange(signals)
    category = rng.choice(CATEGORIES, size=signals)
    source = rng.choice([f"source_{i}" for i in range(sources)], size=signals)
    conviction = rng.integers(1, 11, size=signals).astype(float)
    conviction[rng.random(signals) < 0.1] = np.nan
    keys = {"signal_id": ids, "category": category, "source": source, "conviction": conviction}

    per_h = []
    for h in HORIZONS:
        ret = rng.normal(0.0005 * h, 0.02 * np.sqrt(h), size=signals)
        excess = ret - rng.normal(0.0003 * h, 0.01 * np.sqrt(h), size=signals)
        complete = rng.random(signals) < (1.0 if h <= 5 else 0.9 if h == 20 else 0.7)
        frame = pd.DataFrame(keys)
        frame["horizon"] = h
        frame["status"] = np.where(complete, "complete", "pending")
        frame["ret"] = np.where(complete, ret, np.nan)
        frame["excess"] = np.where(complete, excess, np.nan)
        frame["hit"] = complete & (ret > 0)
        per_h.append(frame)
    outcomes = pd.concat(per_h, ignore_index=True)

    rule_exits = pd.DataFrame(keys)
    rule_exits["status"] = np.where(rng.random(signals) < 0.8, "complete", "pending")
    rule_exits["r_multiple"] = rng.normal(0.1, 1.2, size=signals)
    rule_exits["ret"] = rule_exits["r_multiple"] * 0.03
    rule_exits["holding_sessions"] = rng.integers(1, 61, size=signals)

    traded = rng.random(signals) < 1 / 3
    trades = pd.DataFrame({k: v[traded] for k, v in keys.items()})
    n_trades = len(trades)
    trades["pick_pnl"] = rng.normal(10, 200, size=n_trades)
    trades["pick_r"] = trades["pick_pnl"] / 100
    trades["managed_pnl"] = trades["pick_pnl"] + rng.normal(2, 50, size=n_trades)
    trades["managed_r"] = trades["managed_pnl"] / 100
    trades["holding_days"] = rng.integers(1, 90, size=n_trades)
    trades["closed"] = rng.random(n_trades) < 0.85

    legs = trades.loc[trades.index.repeat(3), ["signal_id", "category", "source", "conviction"]].reset_index(drop=True)
    legs["action"] = rng.choice(ACTIONS, size=len(legs))
    legs["tier"] = np.where(np.isin(legs["action"], ("dip_buy", "profit_take")), rng.integers(1, 4, size=len(legs)), 0)
    legs["pnl_vs_pick"] = rng.normal(0.5, 20, size=len(legs))
    return outcomes, rule_exits, trades, legs


def run_once(frames: tuple[pd.DataFrame, ...]) -> float:
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    build_rows(*frames, horizons=HORIZONS, primary_horizon=20, min_signals=30, rng=rng)
    calibration(frames[0], primary_horizon=20, rng=rng)
    return time.perf_counter() - started


def _ledger(folder: Path, outcomes: pd.DataFrame, rule_exits: pd.DataFrame) -> Path:
    """A workspace whose ledger holds the synthetic signals with final outcomes (no trades)."""
    import sqlite3

    from autotrader.ledger.db import open_ledger

    (folder / "config.toml").write_text("[signals]\nsynthetic_feed = false\n")
    path = folder / "ledger-sim.db"
    open_ledger(path).close()
    conn = sqlite3.connect(path)
    now = "2026-01-02T00:00:00.000000+00:00"
    conn.execute(
        "INSERT INTO signal_imports (id, content_hash, origin, imported_at, rows_total, rows_imported, rows_skipped) "
        "VALUES (1, 'bench', 'bench.csv', ?, 0, 0, 0)",
        [now],
    )
    keys = rule_exits[["signal_id", "category", "source", "conviction"]]
    conn.executemany(
        "INSERT INTO signals (id, import_id, line, symbol, category, source, side, conviction, generated_at, "
        "dedupe_key, created_at) VALUES (?, 1, ?, 'SPY', ?, ?, 'buy', ?, ?, ?, ?)",
        [
            (int(i) + 1, int(i) + 2, c, s, None if v != v else int(v), now, f"k{i}", now)
            for i, c, s, v in keys.itertuples(index=False)
        ],
    )
    final = outcomes.assign(status="complete", ret=outcomes["ret"].fillna(0.0), excess=outcomes["excess"].fillna(0.0))
    conn.executemany(
        "INSERT INTO signal_outcomes (signal_id, horizon, status, ret, excess, hit, exit_date, computed_at) "
        "VALUES (?, ?, 'complete', ?, ?, ?, '2026-02-27', ?)",
        [
            (int(i) + 1, int(h), float(r), float(e), int(r > 0), now)
            for i, h, r, e in final[["signal_id", "horizon", "ret", "excess"]].itertuples(index=False)
        ],
    )
    conn.executemany(
        "INSERT INTO signal_rule_exits (signal_id, status, r_multiple, ret, holding_sessions, exit_date, computed_at) "
        "VALUES (?, 'complete', ?, ?, ?, '2026-02-27', ?)",
        [
            (int(i) + 1, float(r), float(t), int(h), now)
            for i, r, t, h in rule_exits[["signal_id", "r_multiple", "ret", "holding_sessions"]].itertuples(index=False)
        ],
    )
    conn.commit()
    conn.close()
    return folder / "config.toml"


def run_pipeline(config: Path) -> float:
    from autotrader.pipeline import scorecard
    from autotrader.pipeline.context import invoke

    started = time.perf_counter()
    outcome = invoke(
        "scorecard",
        lambda ctx: scorecard.run(ctx, scorecard.Filters()),
        config_path=str(config),
        as_of="2026-03-02T17:00:00-05:00",
        dry_run=False,
    )
    elapsed = time.perf_counter() - started
    if outcome.exit_code != 0:
        raise SystemExit(f"scorecard failed: {outcome.error}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    frames = synthetic(args.signals, args.sources)
    timings = [run_once(frames) for _ in range(args.runs)]
    print(
        f"build_rows + calibration: {args.signals} signals x {len(HORIZONS)} horizons, "
        f"{len(CATEGORIES)} categories, {args.sources} sources: median {statistics.median(timings):.3f} s "
        f"over {args.runs} runs (min {min(timings):.3f}, max {max(timings):.3f})"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        config = _ledger(Path(folder), frames[0], frames[1])
        run_pipeline(config)  # warm-up: imports, calendar
        timings = [run_pipeline(config) for _ in range(args.runs)]
    print(
        f"scorecard step from the ledger (load + pending check + aggregate), {args.signals} signals with final "
        f"outcomes: median {statistics.median(timings):.3f} s over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
