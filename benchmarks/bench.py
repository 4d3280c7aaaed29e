"""Print the figures the foundation is held to (medians of several runs; machines are noisy).

    python benchmarks/bench.py [--runs 5]

- `autotrader --help` start-up time (a fresh process each time).
- replay throughput in sessions per second over 21 sessions of the default synthetic world (the demo's
  feed imported by scan, sized, traded, rehydrated every evening), and the same with 50 more symbols held:
  at 10:00 on the first session the replay buys 50 symbols and at 10:30 rests a good-till-cancelled sell
  limit far above each, so every slot's sync makes the simulated broker scan fresh minute bars for them.
- lock refusal: while a long replay holds a workspace, how long a second `autotrader sync` takes to exit 4
  (process start-up included).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START, END = date(2026, 2, 2), date(2026, 3, 3)  # 21 sessions
SYMBOLS = 50


def help_startup(runs: int) -> float:
    exe = Path(sys.executable).with_name("autotrader")
    command = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "autotrader", "--help"]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def replay_once(with_positions: bool, start: date = START, end: date = END) -> tuple[float, int, int]:
    """One replay of a fresh demo workspace over [start, end]: (sessions per second, sessions, orders)."""
    from autotrader.adapters.synthetic_data import DEFAULT_UNIVERSE
    from autotrader.domain.enums import Book, LegKind, OrderType, Side, TimeInForce
    from autotrader.domain.ids import client_order_id
    from autotrader.domain.models import OrderIntent, OrderRequest
    from autotrader.domain.reports import ReplayReport
    from autotrader.pipeline import replay
    from autotrader.pipeline.demo import create_workspace
    from autotrader.pipeline.gateway import OrderGateway

    folder = Path(tempfile.mkdtemp()) / "ws"
    create_workspace(folder)
    symbols = [s for s in DEFAULT_UNIVERSE if s != "VIX"][:SYMBOLS]

    def hold_positions(ctx, slot: int) -> None:
        # At 10:00 on the first session buy every symbol; at 10:30 rest a far-away GTC sell above each.
        first_day = ctx.deps.calendar.at_et(start, "10:00")
        if not with_positions or ctx.now not in (first_day, ctx.deps.calendar.at_et(start, "10:30")):
            return
        side, leg, kind, price, tif = (
            (Side.BUY, LegKind.ENTRY, OrderType.MARKET, None, TimeInForce.DAY)
            if ctx.now == first_day
            else (Side.SELL, LegKind.TARGET, OrderType.LIMIT, 99999.0, TimeInForce.GTC)
        )
        session = start.isoformat()
        intents = []
        for symbol in symbols:
            cid = client_order_id(session_date=session, step="bench", book="signals", symbol=symbol, leg=str(leg))
            request = OrderRequest(cid, symbol, side, 10, kind, tif, limit_price=price)
            intents.append(OrderIntent(cid, session, "bench", Book.SIGNALS, leg, 0, request, reason="benchmark"))
        OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log).place(intents)

    def body(ctx):
        return replay.run(ctx, start, end, before_slot=hold_positions)

    outcome = replay.invoke_replay("replay", body, config_path=str(folder / "config.toml"), as_of=None)
    shutil.rmtree(folder.parent, ignore_errors=True)
    report = outcome.report
    if not isinstance(report, ReplayReport):
        raise SystemExit(f"replay failed: {outcome.error}")
    return report.sessions_per_second, report.sessions, report.orders_total


def lock_refusal(runs: int) -> float:
    from autotrader.pipeline.demo import create_workspace

    folder = Path(tempfile.mkdtemp()) / "ws"
    create_workspace(folder)
    exe = Path(sys.executable).with_name("autotrader")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "autotrader"]
    replay = subprocess.Popen(
        [*base, "replay", "--start", "2016-01-04", "--end", "2025-12-31", "--config", str(folder / "config.toml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not any((folder / "logs").glob("autotrader-*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.05)  # the replay's first event is its start, logged once it holds the lock
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run([*base, "sync", "--config", str(folder / "config.toml")], capture_output=True)
            timings.append(time.perf_counter() - started)
            if done.returncode != 4:
                raise SystemExit(f"expected exit 4 while the replay holds the lock, got {done.returncode}")
    finally:
        replay.kill()
        replay.wait()
        shutil.rmtree(folder.parent, ignore_errors=True)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    print(f"autotrader --help start-up: median {help_startup(args.runs):.3f} s over {args.runs} runs")
    for with_positions in (True, False):
        results = [replay_once(with_positions) for _ in range(max(3, args.runs // 2 + 1))]
        rate = statistics.median(r[0] for r in results)
        sessions, orders = results[0][1], results[0][2]
        label = (
            f"default world plus {SYMBOLS} symbols held, {orders} orders in all"
            if with_positions
            else f"default world: synthetic feed, scan, size, rehydrate; {orders} orders"
        )
        print(
            f"replay throughput ({label}): median {rate:.1f} sessions/s over {len(results)} runs of {sessions} sessions"
        )
    print(f"second run during a replay: exit 4 after a median {lock_refusal(args.runs):.3f} s (process start included)")


if __name__ == "__main__":
    main()
