"""Print the replay figures the issue asks for (medians of several runs; machines are noisy).

    python benchmarks/bench_replay.py [--runs 3] [--only default,held,year500,compare8] [--quick]

- ``default``: replay throughput in sessions per second over 21 sessions (2026-02-02 to 2026-03-03) of the
  default synthetic world, in process, as ``benchmarks/bench.py`` measures it (its ``replay_once``).
- ``held``: the same with 50 more symbols held: bench.py's hook buys 50 symbols at 10:00 on the first session
  and at 10:30 rests a good-till-cancelled sell limit far above each, so every slot's sync makes the simulated
  broker scan fresh minute bars for them.
- ``year500``: one year (2025-01-02 to 2025-12-31) of a 500-symbol synthetic world, in seconds for the whole
  replay (goal: 60 s or less). The demo workspace's ``[data] symbols`` lists all 500 (the 66 of the default
  universe and 434 made-up ``SYN000``...), and ``[scanners] enabled`` turns the built-in daily scanners on:
  they are off by default, and without them nothing scans the added symbols (the demo feed only picks a few
  names a session from the universe). Before timing, the scanners are built as a replay builds them and asked
  for the bars they scan, to check that all 500 are there; after it, the orders, fills and scanner signals on
  added symbols are reported, so the figure is not of an idle replay. Each run is a fresh ``autotrader replay``
  process, timed from start to exit, as the owner waits for it: process start-up, cold synthetic-data caches
  and the closing scorecard included (the slot loop's own seconds are printed beside it).
- ``compare8``: ``autotrader compare`` of 8 variants (``VARIANTS``) over two years (2024-01-02 to 2025-12-31)
  with ``--workers 2``, in wall seconds of the command, process start-up included, each run in a fresh demo
  workspace (compare replays each variant into its own folder of it, ``compare/<name>/``); the orders of every
  variant are reported and a failed variant stops the script.

Each figure is the median of ``--runs`` runs (default 3).

``--quick`` shrinks every range to three sessions, so the script can be smoke-tested in seconds; its figures
are not the issue's.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bench import SYMBOLS, replay_once  # benchmarks/bench.py, beside this file (it puts the repository on sys.path)

FIGURES = ("default", "held", "year500", "compare8")
# (start, end) of each figure, full size and --quick (three sessions each).
RANGES = {
    "default": (date(2026, 2, 2), date(2026, 3, 3)),  # 21 sessions, bench.py's
    "year500": (date(2025, 1, 2), date(2025, 12, 31)),  # 250 sessions (2025-01-09 was a closure)
    "compare8": (date(2024, 1, 2), date(2025, 12, 31)),  # 502 sessions
}
QUICK = {
    "default": (date(2026, 2, 2), date(2026, 2, 4)),
    "year500": (date(2025, 1, 2), date(2025, 1, 6)),
    "compare8": (date(2024, 1, 2), date(2024, 1, 4)),
}
UNIVERSE = 500
YEAR_GOAL_SECONDS = 60.0
SCANNERS = ("bollinger", "regression")
WORKERS = 2
# The first is the base the others are compared with; each changes one rule the owner would ask about.
VARIANTS = (
    "base",
    "no-dipbuy: dipbuy.dip_buy_enabled=false",
    "no-profittake: profittake.profit_take_enabled=false",
    "tight-stops: exits.stop_atr_multiplier=1.0; exits.loss_cut_pct.swing=5.0",
    "wide-trail: exits.trail_pct=8.0; exits.trail_activation_pct=10.0",
    "slippage-20: broker.slippage_bps=20.0",
    "no-regime: risk.market_regime_enabled=false",
    "ranked: rank.enabled=true",
)


def autotrader(*args: str) -> list[str]:
    # The installed entry point when there is one (as cron runs it), else the module.
    exe = Path(sys.executable).with_name("autotrader")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "autotrader", *args]


def timed_json(command: list[str], cwd: Path) -> tuple[float, dict[str, Any]]:
    """Run a ``--json`` command; its wall seconds (process start to exit) and its report."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:2])} exited {done.returncode}: {(done.stderr or done.stdout)[-2000:]}")
    return seconds, json.loads(done.stdout)


def set_key(text: str, section: str, key: str, value: str) -> str:
    """``text`` (a config.toml) with ``key = ...`` of ``[section]`` replaced by ``key = value``: TOML refuses a key
    written twice, so the default's line is replaced rather than another appended. The key must be there."""
    header = re.search(rf"^\[{re.escape(section)}\]\n", text, flags=re.MULTILINE)
    if header is None:
        raise SystemExit(f"config.toml has no [{section}]")
    following = re.search(r"^\[", text[header.end() :], flags=re.MULTILINE)
    stop = header.end() + following.start() if following else len(text)
    body, count = re.subn(rf"^{re.escape(key)} = .*$", f"{key} = {value}", text[header.end() : stop], count=1,
                          flags=re.MULTILINE)  # fmt: skip
    if count != 1:
        raise SystemExit(f"config.toml has no {key} in [{section}]")
    return text[: header.end()] + body + text[stop:]


def added_symbols(count: int, taken: Sequence[str]) -> list[str]:
    # Deterministic names the [data] symbols validator accepts (^[A-Z][A-Z0-9.-]{0,9}$), none a real one's.
    names = [f"SYN{i:03d}" for i in range(count)]
    assert not set(names) & set(taken)
    return names


def world_of_500(folder: Path) -> tuple[Path, list[str]]:
    """A demo workspace whose synthetic world and daily scanners have ``UNIVERSE`` symbols; its config, the names
    added. ``[data] symbols`` lists the default universe too: the scanners' universe is ``[scanners] universe``,
    else ``[data] symbols`` alone, so listing only the added names would scan those and not the 66."""
    from autotrader.adapters.synthetic_data import DEFAULT_UNIVERSE
    from autotrader.pipeline.demo import create_workspace
    from autotrader.settings import load_config

    create_workspace(folder)
    added = added_symbols(UNIVERSE - len(DEFAULT_UNIVERSE), DEFAULT_UNIVERSE)
    config = folder / "config.toml"
    text = set_key(config.read_text(encoding="utf-8"), "data", "symbols", json.dumps([*DEFAULT_UNIVERSE, *added]))
    config.write_text(set_key(text, "scanners", "enabled", json.dumps(list(SCANNERS))), encoding="utf-8")
    settings = load_config(config).settings  # the validator's word on the names, before anything is timed
    assert len(set(settings.data.symbols)) == UNIVERSE and tuple(settings.scanners.enabled) == SCANNERS
    return config, added


def scanned_symbols(config_path: Path, session: date) -> tuple[str, ...]:
    """The symbols the built-in scanners read bars of before ``session``, wired as a replay wires them."""
    from autotrader.adapters.synthetic_data import SyntheticMarketData
    from autotrader.bootstrap import build_signal_sources
    from autotrader.clock import MarketCalendar, SimulatedClock
    from autotrader.pipeline.scanners import BuiltinScanners
    from autotrader.settings import load_config

    config = load_config(config_path)
    calendar = MarketCalendar.xnys()
    clock = SimulatedClock(calendar.at_et(session, "09:00"))
    data = config.settings.data
    market = SyntheticMarketData(clock, calendar, seed=data.seed, extra_symbols=data.symbols)  # as bootstrap's
    for source in build_signal_sources(config, market, calendar, clock):
        if isinstance(source, BuiltinScanners):
            bars = source.bars_before(session)
            return bars.symbols if bars is not None else ()
    raise SystemExit("the built-in scanners are not among the signal sources")


def scanner_hits(config_path: Path, added: Sequence[str]) -> tuple[int, int]:
    """From the last replay's ledger: the built-in scanners' signals, and how many added symbols they name."""
    from autotrader.settings import load_config

    path = load_config(config_path).ledger_path_for("replay")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT symbol, count(*) FROM signals WHERE source LIKE 'builtin:%' GROUP BY symbol")
        counts = dict(rows.fetchall())
    return sum(counts.values()), len(set(counts) & set(added))


def year500(runs: int, start: date, end: date) -> str:
    folder = Path(tempfile.mkdtemp()) / "ws"
    try:
        config, added = world_of_500(folder)
        scanned = scanned_symbols(config, start)
        if len(scanned) != UNIVERSE or not set(added) <= set(scanned):
            raise SystemExit(f"the scanners read {len(scanned)} symbols, not the {UNIVERSE} of [data] symbols")
        command = autotrader("replay", "--start", str(start), "--end", str(end), "--config", str(config), "--json")
        results = [timed_json(command, folder) for _ in range(runs)]
        signals, named = scanner_hits(config, added)  # the replays are deterministic: the last one's stand for all
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    report = results[0][1]
    wall = statistics.median(r[0] for r in results)
    loop = statistics.median(r[1]["seconds"] for r in results)
    return (
        f"one year of a {UNIVERSE}-symbol world ({report['sessions']} sessions, {'+'.join(SCANNERS)} over "
        f"{len(scanned)} symbols: {signals} scanner signals, on {named} of the {len(added)} added symbols; "
        f"{report['orders_total']} orders, {report['fills_total']} fills): median {wall:.1f} s for the whole replay "
        f"(slot loop {loop:.1f} s) over {runs} runs, goal <= {YEAR_GOAL_SECONDS:.0f} s"
    )


def compare8(runs: int, start: date, end: date) -> str:
    from autotrader.pipeline.demo import create_workspace

    options = [arg for text in VARIANTS for arg in ("--variant", text)]
    results = []
    for _ in range(runs):
        # A fresh workspace each run: compare/<name>/ of an earlier run would otherwise be there already.
        folder = Path(tempfile.mkdtemp()) / "ws"
        try:
            create_workspace(folder)
            span = ["--start", str(start), "--end", str(end)]
            config = ["--config", str(folder / "config.toml")]
            command = autotrader("compare", *span, *options, "--workers", str(WORKERS), *config, "--json")
            results.append(timed_json(command, folder))
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)
    report = results[0][1]
    failed = [v["name"] for v in report["variants"] if v["exit_code"] != 0]
    if failed or len(report["variants"]) != len(VARIANTS):
        raise SystemExit(f"compare: variants failed or missing: {failed}")
    orders = [v["orders"] for v in report["variants"]]
    wall = statistics.median(r[0] for r in results)
    step = statistics.median(r[1]["seconds"] for r in results)
    return (
        f"compare of {len(VARIANTS)} variants over {report['sessions']} sessions, --workers {WORKERS} "
        f"({sum(orders)} orders in all, {min(orders)} to {max(orders)} a variant): median {wall:.1f} s wall "
        f"(the replays {step:.1f} s) over {runs} runs"
    )


def throughput(with_positions: bool, runs: int, start: date, end: date) -> str:
    results = [replay_once(with_positions, start, end) for _ in range(runs)]
    rate = statistics.median(r[0] for r in results)
    sessions, orders = results[0][1], results[0][2]
    label = (
        f"default world plus {SYMBOLS} symbols held, {orders} orders in all"
        if with_positions
        else f"default world: synthetic feed, scan, size, rehydrate; {orders} orders"
    )
    return f"replay throughput ({label}): median {rate:.1f} sessions/s over {runs} runs of {sessions} sessions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default=",".join(FIGURES), help=f"comma-separated, of {', '.join(FIGURES)}")
    parser.add_argument("--quick", action="store_true", help="three sessions a figure: a smoke test, not the figures")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(FIGURES))
    if unknown or not chosen or args.runs < 1:
        parser.error(f"--only: expected some of {', '.join(FIGURES)}; --runs at least 1")
    ranges = QUICK if args.quick else RANGES
    for name in FIGURES:
        if name not in chosen:
            continue
        if name in ("default", "held"):
            line = throughput(name == "held", args.runs, *ranges["default"])
        elif name == "year500":
            line = year500(args.runs, *ranges["year500"])
        else:
            line = compare8(args.runs, *ranges["compare8"])
        print(line + (" [--quick]" if args.quick else ""), flush=True)


if __name__ == "__main__":
    main()
