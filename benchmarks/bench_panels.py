"""Time the scorecard's report-level panels on a large synthetic input (medians of several runs).

    python benchmarks/bench_panels.py [--signals 100000] [--symbols 500] [--sessions 1260] [--runs 3]

Builds a market panel of ``--symbols`` symbols over ``--sessions`` sessions (opens and closes from
market-model returns with betas 0.5–1.8) and ``--signals`` signals over 4 sources × 3 categories (conviction
1–10, a tenth sells, a third traded with one management leg) with the outcome rows the ledger would store
for them (their abnormal return at 4 horizons, 1, 5, 20, 60, computed untimed by ``policy.outcomes``), then
times, from the panel in memory (no ledger or market-data reads):

- the abnormal returns: the stored outcomes' values spread into one column per horizon;
- every panel of ``pipeline/scorecard_panels``: calendar-time regressions per source and category, the
  placebo (200 draws), rank IC per horizon, reliability and Brier, the leaderboard (2,000 date-block
  resamples per source), the event window (2,000 resamples per source and category), execution (2,000
  resamples per action) and stability;
- and, for the whole scorecard step's aggregation, the rows of ``bench_scorecard`` (``build_rows`` +
  ``calibration`` with 2,000 resamples) on the same number of signals.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from autotrader.pipeline import scorecard_panels as panels  # noqa: E402
from autotrader.policy import outcomes as scoring  # noqa: E402
from autotrader.policy import research  # noqa: E402

HORIZONS = [1, 5, 20, 60]
CATEGORIES = ("long_term", "swing", "day_trade")
PRIMARY = 20
RESAMPLES = 2000
DRAWS = 200


def market(symbols: int, sessions: int, seed: int = 3) -> panels.Panel:
    rng = np.random.default_rng(seed)
    spy = rng.normal(0.0004, 0.01, sessions)
    betas = rng.uniform(0.5, 1.8, symbols)
    stock = spy[:, None] * betas + rng.normal(0, 0.02, (sessions, symbols))
    # Each session opens a small gap away from the previous close, then moves to its own close.
    close, spy_close = 50 * np.exp(np.cumsum(stock, axis=0)), 100 * np.exp(np.cumsum(spy))
    gap = np.exp(rng.normal(0, 0.004, (sessions, symbols + 1)))
    opens = np.vstack([close[:1], close[:-1]]) * gap[:, :symbols]
    spy_open = np.concatenate([spy_close[:1], spy_close[:-1]]) * gap[:, symbols]
    days = [d.date().isoformat() for d in pd.bdate_range("2021-01-04", periods=sessions)]
    prices = scoring.PricePanel(opens, close, spy_open, spy_close)
    return panels.Panel(days, [f"S{i:04d}" for i in range(symbols)], prices)


def stored_outcomes(events: pd.DataFrame, panel: panels.Panel) -> pd.DataFrame:
    """The outcome rows the ledger would hold: each signal's abnormal return at each horizon, entered at its
    entry session's open (``policy.outcomes``, as ``rehydrate`` stores it); pending past the panel's end."""
    placed = panels.place(events, panel)
    symbol, entry = placed["symbol"].to_numpy(), placed["entry"].to_numpy()
    model = scoring.market_fits(panel.prices.close, panel.prices.spy_close, symbol, entry)
    rows = []
    for h in HORIZONS:
        car = scoring.abnormal_returns_from_open(panel.prices, symbol, entry, h, placed["side"].to_numpy(), model)
        status = np.where(np.isnan(car), "pending", "complete")
        rows.append(pd.DataFrame({"signal_id": placed["signal_id"], "horizon": h, "status": status, "abnormal": car}))
    return pd.concat(rows, ignore_index=True)


def signals(panel: panels.Panel, n: int, sources: int = 4, seed: int = 7) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    entry = rng.integers(260, len(panel.sessions) - 1, n)
    events = pd.DataFrame(
        {"signal_id": np.arange(n) + 1, "category": rng.choice(CATEGORIES, n),
         "source": rng.choice([f"source_{i}" for i in range(sources)], n),
         "conviction": rng.integers(1, 11, n).astype(float),
         "symbol": np.asarray(panel.symbols)[rng.integers(0, len(panel.symbols), n)],
         "side": np.where(rng.random(n) < 0.1, -1.0, 1.0), "horizon": PRIMARY,
         "entry_date": np.asarray(panel.sessions)[entry],
         "signal_entry": rng.uniform(10, 200, n)}
    )  # fmt: skip
    events["entry_price"] = events["signal_entry"] * (1 + rng.normal(0, 0.002, n))
    traded = events.sample(frac=1 / 3, random_state=1)
    fills = pd.DataFrame({"signal_id": traded["signal_id"], "fill_price": traded["entry_price"] * 1.0005})
    lost = pd.DataFrame({"signal_id": events["signal_id"].drop(traded.index), "gate": "allocation_cap"})
    legs = pd.DataFrame({"signal_id": traded["signal_id"], "action": rng.choice(["dip_buy", "profit_take"],
                         len(traded)), "pnl_vs_pick": rng.normal(1, 20, len(traded))})  # fmt: skip
    return events, fills, lost, legs, stored_outcomes(events, panel)


def run_once(panel: panels.Panel, frames: tuple[pd.DataFrame, ...]) -> dict[str, float]:
    events, fills, lost, legs, outcomes = frames
    rng = np.random.default_rng(1)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = now - started
        started = now

    placed = panels.add_cars(panels.place(events, panel), outcomes, HORIZONS)
    lap("abnormal returns")
    research.calendar_time_rows(placed, panel.stock, panel.market)
    lap("calendar time")
    research.placebo_rows(placed, panels.placebo_pool(placed, panel), rng, draws=DRAWS)
    lap("placebo")
    research.ranking_panel(placed, HORIZONS)
    lap("ranking")
    research.leaderboard_rows(placed, rng, resamples=RESAMPLES)
    lap("leaderboard")
    research.event_window_rows(placed, panel.stock, panel.market, rng, resamples=RESAMPLES)
    lap("event window")
    research.execution_rows(placed, fills, lost, legs, rng, resamples=RESAMPLES)
    lap("execution")
    research.stability_rows(placed, panel.sessions)
    lap("stability")
    return timings


def rows_once(frames: tuple[pd.DataFrame, ...]) -> float:
    from bench_scorecard import run_once as rows

    return rows(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=1260)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    panel = market(args.symbols, args.sessions)
    frames = signals(panel, args.signals)
    runs = [run_once(panel, frames) for _ in range(args.runs)]
    for name in runs[0]:
        print(f"  {name:<18} median {statistics.median(r[name] for r in runs):.3f} s")
    totals = [sum(r.values()) for r in runs]
    print(f"panels: {args.signals} signals x {len(HORIZONS)} horizons, {args.symbols} symbols x {args.sessions} "
          f"sessions: median {statistics.median(totals):.3f} s over {args.runs} runs")  # fmt: skip
    from bench_scorecard import synthetic

    row_frames = synthetic(args.signals, 4)
    rows = [rows_once(row_frames) for _ in range(args.runs)]
    print(f"rows (build_rows + calibration, {RESAMPLES} resamples): median {statistics.median(rows):.3f} s")
    print(f"whole aggregation (rows + panels): median {statistics.median(rows) + statistics.median(totals):.3f} s")


if __name__ == "__main__":
    main()
