"""Count the Polygon requests the market-data adapter spends (the free tier allows 5 a minute).

    python benchmarks/bench_requests.py [--symbols 500] [--rpm 5]

Runs ``PolygonData`` through the real ``massive`` SDK against the loopback fake vendor of the tests, with
the rate limiter on a simulated clock (its waits advance the clock instead of sleeping), and prints:

- a cold one-year backfill of ``--symbols`` symbols (``sync_daily``): requests, simulated minutes,
  requests per minute overall and the most requests in any 60-second window (must not exceed ``--rpm``);
- a cold one-year backfill of 10 symbols one at a time through the port (``daily_bars``), with the fake's
  pages cut to 100 bars so that ``next_url`` pagination is budgeted too;
- the next day's daily sync of the same universe with the warm cache, through the port: ``daily_bars`` for
  every symbol plus ``vix_daily`` (the adapter's promise: at most 3 requests);
- a cold load of the universe through the rebalancer's loader (``gather_universe`` then ``load_closes``, as
  ``rebalance`` runs them): requests per session of history (goal: about 1);
- a warm intraday slot of ``run-daily`` through the CLI, alpaca-py and massive against the loopback fakes, with
  ``--held`` positions at the real 5 requests a minute (the limiter's waits move the travelled clock): the next
  session's first slot and a later one (goal: at most 3 + one quote per held symbol).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from bisect import bisect_right
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autotrader.adapters.http import RateLimiter  # noqa: E402
from autotrader.adapters.polygon_data import PolygonApi, PolygonData  # noqa: E402
from autotrader.clock import MarketCalendar, SimulatedClock  # noqa: E402
from autotrader.ledger.db import open_ledger  # noqa: E402
from tests.fakes.polygon_server import FakePolygon, FakeTimer  # noqa: E402

KEY = "bench-polygon-key"
LAST = date(2026, 3, 4)  # a Wednesday session
NEXT = date(2026, 3, 5)


def busiest_minute(stamps: list[float]) -> int:
    """The most grants inside any 60-second window [t, t + 60)."""
    return max((bisect_right(stamps, t + 60.0 - 1e-9) - i for i, t in enumerate(stamps)), default=0)


def adapter(server: FakePolygon, ledger, day: date, rpm: float, timer: FakeTimer) -> PolygonData:
    calendar = MarketCalendar.xnys()
    limiter = RateLimiter(rpm, monotonic=timer.monotonic, sleep=timer.sleep)
    api = PolygonApi(KEY, base_url=server.url, timeout_seconds=10.0, limiter=limiter)
    return PolygonData(api, ledger, SimulatedClock(calendar.at_et(day, "20:00")), calendar)


def report(label: str, requests: int, timer: FakeTimer, limiter: RateLimiter, wall: float) -> None:
    stamps = list(limiter.history)
    # Simulated minutes in which requests went out (the first at 0 s, the last inside minute N: N + 1).
    minutes = int((stamps[-1] - stamps[0]) // 60) + 1 if stamps else 0
    rate = requests / minutes if minutes else 0.0
    print(
        f"{label}: {requests} requests in {minutes} simulated minutes = {rate:.2f} requests/minute "
        f"(busiest 60 s: {busiest_minute(stamps)}; simulated clock {timer.now / 60:.1f} min) [{wall:.1f} s wall]"
    )


def rebalancer_load(server: FakePolygon, folder: Path, universe: tuple[str, ...], rpm: float, days: int) -> None:
    from autotrader.eventlog import EventLog
    from autotrader.pipeline import rebalance
    from autotrader.pipeline.context import StepContext
    from autotrader.settings import default_config
    from tests.factories import make_deps

    timer = FakeTimer()
    ledger = open_ledger(folder / "rebalance.db", durable=False)
    data = adapter(server, ledger, LAST, rpm, timer)
    calendar = MarketCalendar.xnys()
    ctx = StepContext(
        "rebalance",
        default_config(folder),
        make_deps(data._clock, market_data=data, calendar=calendar),
        ledger,
        False,
        "bench",
        EventLog(None, run_id="bench", command="rebalance", mode="sim"),
    )
    last = calendar.last_closed_session(ctx.now)
    first = calendar.sessions_back(last, days - 1)
    before = server.total
    started = time.perf_counter()
    known = rebalance.gather_universe(ctx, universe, first, last)
    closes = rebalance.load_closes(ctx, list(known.symbols), first, last)
    spent = server.total - before
    print(
        f"cold rebalancer load, {len(known.symbols)} symbols x {len(closes)} sessions: {spent} requests = "
        f"{spent / len(closes):.2f} per session of history ({dict(server.counts)} in all; simulated "
        f"{timer.now / 60:.1f} min) [{time.perf_counter() - started:.1f} s wall]"
    )
    ledger.close()


def intraday_slots(folder: Path, held: int) -> None:
    import json
    import os
    from datetime import datetime, timedelta

    import time_machine
    from typer.testing import CliRunner

    from autotrader.adapters import polygon_data
    from autotrader.cli.app import app
    from autotrader.clock import ET
    from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpacaServer
    from tests.fakes.polygon_server import free_tier_limiters, minute_bar

    symbols = tuple(f"H{i:02d}" for i in range(held))
    start = datetime(LAST.year, LAST.month, LAST.day, 10, 0, tzinfo=ET)
    travel: list[time_machine.Traveller] = []
    polygon_data.RateLimiter = free_tier_limiters(travel)  # the CLI builds its limiter from this name
    os.environ.update(ALPACA_API_KEY=API_KEY, ALPACA_SECRET_KEY=SECRET_KEY, MASSIVE_API_KEY=KEY)
    workspace = folder / "ws"
    (workspace / "signals" / "inbox").mkdir(parents=True)
    prices = {s: minute_bar(s, start)[3] for s in symbols} | {"SPY": 500.0}
    with (
        FakeAlpacaServer(now=start, prices=prices, cash=10_000_000.0) as alpaca,
        FakePolygon(api_key=KEY, symbols=(*symbols, "SPY", "VIXY")) as polygon,
    ):
        config = workspace / "config.toml"
        config.write_text(
            f'[broker]\nkind = "alpaca"\nbase_url = "{alpaca.url}"\n'
            f'[data]\nkind = "polygon"\nbase_url = "{polygon.url}"\n'
        )
        rows = "".join(f"{s},long_term,bench,8,,,,,{start.isoformat()}\n" for s in symbols)
        (workspace / "signals" / "inbox" / "picks.csv").write_text(
            "symbol,category,source,conviction,entry,stop,target,horizon_days,generated_at\n" + rows
        )
        runner = CliRunner()

        def slot(at: datetime) -> tuple[int, str]:
            alpaca.advance_to(max(at, alpaca.now))
            before = polygon.total
            with time_machine.travel(at, tick=False) as traveller:
                travel.append(traveller)
                result = runner.invoke(app, ["run-daily", "--json", "--config", str(config)])
                ended = datetime.now(ET)
            report = json.loads(result.stdout)
            [profittake] = [s for s in report["steps"] if s["command"] == "profittake"]
            return polygon.total - before, f"{profittake['notes'][0]}; ended {ended:%H:%M:%S}"

        slot(start)  # cold: the picks are looked up, sized and bought
        for label, at in (
            ("next session's first slot", start + timedelta(days=1)),
            ("a later slot that day", start + timedelta(days=1, minutes=30)),
        ):
            spent, detail = slot(at)
            print(
                f"warm intraday slot ({label}, {at:%H:%M}): {spent} requests for {held} held symbols, "
                f"goal <= 3 + {held} ({detail})" + ("" if spent <= 3 + held else "  <-- over the goal")
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--rpm", type=float, default=5.0)
    parser.add_argument("--history", type=int, default=252, help="sessions of the rebalancer's cold load")
    parser.add_argument("--held", type=int, default=8, help="positions held through the intraday slots")
    args = parser.parse_args()
    calendar = MarketCalendar.xnys()
    universe = tuple(f"S{i:03d}" for i in range(args.symbols))
    start = date(LAST.year - 1, LAST.month, LAST.day)
    sessions = len(calendar.sessions_between(start, LAST))

    with tempfile.TemporaryDirectory() as folder, FakePolygon(api_key=KEY, symbols=(*universe, "VIXY")) as server:
        ledger = open_ledger(Path(folder) / "ledger.db", durable=False)

        timer = FakeTimer()
        cold = adapter(server, ledger, LAST, args.rpm, timer)
        started = time.perf_counter()
        sync = cold.sync_daily(universe, start, LAST)
        report(
            f"cold one-year backfill, {args.symbols} symbols x {sessions} sessions (grouped daily)",
            sync.requests,
            timer,
            cold.api.limiter,
            time.perf_counter() - started,
        )

        server.page_size = 100
        timer = FakeTimer()
        single = adapter(server, open_ledger(Path(folder) / "single.db", durable=False), LAST, args.rpm, timer)
        before = server.total
        started = time.perf_counter()
        for symbol in universe[:10]:
            single.daily_bars(symbol, start, LAST)
        report(
            f"cold one-year backfill, 10 symbols one at a time (pages of {server.page_size} bars)",
            server.total - before,
            timer,
            single.api.limiter,
            time.perf_counter() - started,
        )

        server.page_size = 5000
        timer = FakeTimer()
        warm = adapter(server, ledger, NEXT, args.rpm, timer)
        before = server.total
        started = time.perf_counter()
        for symbol in universe:
            warm.daily_bars(symbol, start, NEXT)
        warm.vix_daily(start, NEXT)
        spent = server.total - before
        print(
            f"warm daily sync, {args.symbols} symbols + VIX the next session: {spent} requests "
            f"({dict(server.counts)} in all) [{time.perf_counter() - started:.1f} s wall]"
            + ("" if spent <= 3 else "  <-- over the budget of 3")
        )

        server.counts.clear()
        rebalancer_load(server, Path(folder), universe, args.rpm, args.history)

    with tempfile.TemporaryDirectory() as folder:
        intraday_slots(Path(folder), args.held)


if __name__ == "__main__":
    main()
