"""Time the scorecard over 100,000 signals, the aggregation alone and the whole step (medians of several runs).

    python benchmarks/bench_scorecard.py [--signals 100000] [--sources 4] [--runs 5] [--symbols 500]
                                         [--sessions 1260]

First ``build_rows`` + ``calibration`` on in-memory frames: ``--signals`` signals over 3 categories and
``--sources`` sources (conviction 1-10, a tenth without), 4 horizons (1, 5, 20, 60 sessions; the longer ones
partly pending), one rule exit per signal, a trade for a third of the signals and three management legs each.

Then the whole ``scorecard`` step as the owner runs it, through the invocation envelope: a ledger holding
``--signals`` signals on ``--symbols`` symbols and ``--sessions`` sessions of their (and SPY's) daily bars in
the Polygon cache, the data adapter pointed at a loopback fake server. The first run scores every outcome
from the cached bars; the warm runs read them back, load the rows, aggregate and build every panel. It
prints each run's phases (outcome refresh, loading, aggregation, market panel, each research panel) and the
vendor requests made (none once the cache is warm).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autotrader.clock import MarketCalendar  # noqa: E402
from autotrader.domain.reports import ScorecardReport  # noqa: E402
from autotrader.ledger import bar_cache  # noqa: E402
from autotrader.ledger.db import Ledger, open_ledger  # noqa: E402
from autotrader.ledger.repo import utc_iso  # noqa: E402
from autotrader.policy.scorecard import build_rows, calibration  # noqa: E402
from tests.fakes.polygon_server import FakePolygon  # noqa: E402

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


# -- the whole step from a ledger: signals, bars in the ledger's cache, outcomes scored by the step --------

LAST_SESSION = date(2026, 3, 2)
AS_OF = "2026-03-03T09:00:00-05:00"  # before the next open: every bar up to LAST_SESSION is settled
KEY = "bench-polygon-key"


def _market(symbols: int, sessions: int, seed: int = 3) -> tuple[list[date], list[str], np.ndarray, np.ndarray]:
    """Daily OHLC per symbol (sessions x symbols x 4) and SPY's, from a market model with betas 0.5-1.8."""
    calendar = MarketCalendar.xnys()
    days = calendar.sessions_between(LAST_SESSION - timedelta(days=sessions * 2), LAST_SESSION)[-sessions:]
    rng = np.random.default_rng(seed)
    spy = rng.normal(0.0004, 0.01, sessions)
    stock = spy[:, None] * rng.uniform(0.5, 1.8, symbols) + rng.normal(0.0, 0.02, (sessions, symbols))
    names = [f"S{i:04d}" for i in range(symbols)]

    def ohlc(returns: np.ndarray) -> np.ndarray:
        close = 50.0 * np.exp(np.cumsum(np.log1p(returns), axis=0))
        gap = np.exp(rng.normal(0.0, 0.004, close.shape))
        open_ = np.vstack([close[:1], close[:-1]]) * gap
        wick = 1.0 + np.abs(rng.normal(0.0, 0.006, close.shape))
        return np.stack([open_, np.maximum(open_, close) * wick, np.minimum(open_, close) / wick, close], axis=-1)

    return days, names, ohlc(stock), ohlc(spy[:, None])[:, 0, :]


def _store_bars(ledger: Ledger, days: list[date], names: list[str], bars: np.ndarray, spy: np.ndarray) -> None:
    """The bars as the Polygon adapter caches them: every symbol tracked, each session a settled grouped response."""
    calendar = MarketCalendar.xnys()
    fetched = calendar.at_et(LAST_SESSION, "20:00")
    symbols = [*names, "SPY"]
    with ledger.write():
        bar_cache.track(ledger, symbols, now=fetched)
        for i, day in enumerate(days):
            rows = [bar_cache.CachedBar(n, day, *map(float, bars[i, j]), 1e6, None) for j, n in enumerate(names)]
            rows.append(bar_cache.CachedBar("SPY", day, *map(float, spy[i]), 50_000_000.0, None))
            bar_cache.store_grouped_session(ledger, day, rows, response_rows=len(rows), now=fetched)


def _store_signals(ledger: Ledger, days: list[date], names: list[str], signals: int, sources: int) -> None:
    """Signals after the close of a session at least 300 sessions in (room for the panel's 400 days of history
    and the market model's window), none traded."""
    calendar = MarketCalendar.xnys()
    rng = np.random.default_rng(11)
    day = rng.integers(300, len(days) - 1, signals)
    category = rng.choice(CATEGORIES, signals)
    source = rng.choice([f"source_{i}" for i in range(sources)], signals)
    conviction = rng.integers(1, 11, signals)
    conviction_known = rng.random(signals) >= 0.1
    side = np.where(rng.random(signals) < 0.1, "sell", "buy")
    symbol = rng.integers(0, len(names), signals)
    stamp = {d: utc_iso(calendar.at_et(d, "20:00")) for d in days}
    imported = utc_iso(calendar.at_et(days[0], "08:00"))
    with ledger.write():
        ledger.conn.execute(
            "INSERT INTO signal_imports (id, content_hash, origin, imported_at, rows_total, rows_imported, "
            "rows_skipped) VALUES (1, 'bench', 'bench.csv', ?, ?, ?, 0)",
            [imported, signals, signals],
        )
        ledger.conn.executemany(
            "INSERT INTO signals (id, import_id, line, symbol, category, source, side, conviction, generated_at, "
            "dedupe_key, created_at) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i + 1, i + 2, names[symbol[i]], category[i], source[i], side[i],
                 int(conviction[i]) if conviction_known[i] else None, stamp[days[day[i]]], f"k{i}", imported)
                for i in range(signals)
            ],
        )  # fmt: skip


class Phases:
    """Wall time per named phase of the step, accumulated over one run (the functions wrapped in place)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed)


def _instrument(phases: Phases) -> None:
    from autotrader.pipeline import outcomes, scorecard, scorecard_panels
    from autotrader.policy import research
    from autotrader.policy import scorecard as policy

    phases.wrap(outcomes, "refresh", "outcome refresh")
    phases.wrap(scorecard, "load", "load rows")
    phases.wrap(policy, "build_rows", "build_rows")
    phases.wrap(policy, "calibration", "calibration")
    phases.wrap(scorecard_panels, "load_panel", "panel: market panel")
    phases.wrap(scorecard_panels, "add_cars", "panel: abnormal returns")
    phases.wrap(scorecard_panels, "placebo_pool", "panel: placebo pool")
    for name in ("calendar_time_rows", "placebo_rows", "ranking_panel", "leaderboard_rows", "event_window_rows",
                 "execution_rows", "stability_rows"):  # fmt: skip
        phases.wrap(research, name, f"panel: {name}")


def run_pipeline(config: Path, phases: Phases) -> float:
    from autotrader.pipeline import scorecard
    from autotrader.pipeline.context import invoke

    phases.seconds.clear()
    started = time.perf_counter()
    outcome = invoke(
        "scorecard",
        lambda ctx: scorecard.run(ctx, scorecard.Filters()),
        config_path=str(config),
        as_of=AS_OF,
        dry_run=False,
    )
    elapsed = time.perf_counter() - started
    if outcome.exit_code != 0:
        raise SystemExit(f"scorecard failed: {outcome.error}")
    if not isinstance(outcome.report, ScorecardReport) or not outcome.report.leaderboard:
        raise SystemExit("scorecard ran without its panels: the benchmark would time less than the step")
    return elapsed


def whole_step(folder: Path, signals: int, sources: int, symbols: int, sessions: int, runs: int) -> None:
    days, names, bars, spy = _market(symbols, sessions)
    started = time.perf_counter()
    ledger = open_ledger(folder / "ledger-sim.db")
    _store_bars(ledger, days, names, bars, spy)
    _store_signals(ledger, days, names, signals, sources)
    ledger.close()
    print(
        f"ledger: {signals} signals on {symbols} symbols + SPY x {len(days)} sessions of cached bars "
        f"[{time.perf_counter() - started:.1f} s to build]"
    )
    server = FakePolygon(api_key=KEY, symbols=()).start()
    os.environ["MASSIVE_API_KEY"] = KEY
    (folder / "config.toml").write_text(
        f'[signals]\nsynthetic_feed = false\n\n[data]\nkind = "polygon"\nbase_url = "{server.url}"\n'
        "requests_per_minute = 100000\n"
    )
    phases = Phases()
    _instrument(phases)
    try:
        cold = run_pipeline(folder / "config.toml", phases)
        print(f"first scorecard (scores {signals} x {len(HORIZONS)} outcomes from the cached bars): {cold:.2f} s")
        _print_phases(phases.seconds, cold)
        timings, per_phase = [], []
        for _ in range(runs):
            timings.append(run_pipeline(folder / "config.toml", phases))
            per_phase.append(dict(phases.seconds))
        median = statistics.median(timings)
        print(
            f"scorecard step from the ledger with every panel, outcomes stored: median {median:.2f} s over "
            f"{runs} runs (min {min(timings):.2f}, max {max(timings):.2f}); vendor requests: {dict(server.counts)}"
        )
        _print_phases({k: statistics.median(p.get(k, 0.0) for p in per_phase) for k in per_phase[0]}, median)
    finally:
        server.stop()


def _print_phases(seconds: dict[str, float], total: float) -> None:
    for label, spent in seconds.items():
        print(f"    {label:<34} {spent:6.2f} s")
    print(f"    {'envelope, report and the rest':<34} {total - sum(seconds.values()):6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=1260)
    args = parser.parse_args()
    frames = synthetic(args.signals, args.sources)
    timings = [run_once(frames) for _ in range(args.runs)]
    print(
        f"build_rows + calibration: {args.signals} signals x {len(HORIZONS)} horizons, "
        f"{len(CATEGORIES)} categories, {args.sources} sources: median {statistics.median(timings):.3f} s "
        f"over {args.runs} runs (min {min(timings):.3f}, max {max(timings):.3f})"
    )
    with tempfile.TemporaryDirectory() as folder:
        whole_step(Path(folder), args.signals, args.sources, args.symbols, args.sessions, args.runs)


if __name__ == "__main__":
    main()
