"""The seeded chaos harness: ``run-daily`` over the cron schedule against the fake Alpaca and Polygon servers,
with random faults and kills, and the exactly-once invariants checked after every run.

One *chaos run* is one seed: a fresh workspace configured for ``[broker] kind = "alpaca"`` and
``[data] kind = "polygon"`` pointing at the loopback fakes (``tests/fakes/``), walked through a few of the
crontab's slots (``crontab.example``) on consecutive weekdays. Before each slot, a ``random.Random(seed)``
decides what goes wrong:

- faults at the broker (``FakeAlpacaServer.inject``): 429s with and without a reset header, 500s, an order or
  a cancel accepted and then answered 504 (an order also with every lookup of its id failing: its outcome
  is unknown, and the run must exit 3), answers slower than usual but inside the client timeout, and
  answers that never come in time (the adapters' timeouts are a fraction of a second here, so a hang costs
  little);
- faults at the data vendor (``FakePolygon.faults``): 429s, 503s, hangs;
- what the broker does between runs: a working order partly filled and then expired, every fill reported
  twice (``replay_fills``);
- a kill: ``killpoints.arm(point, n)``, which raises ``Killed`` at the n-th pass through that point; the
  harness takes it as a dead process and goes on with the next slot, as cron would. A point armed but not
  reached in the run is not a kill: the summary counts the kills that fired.

Time: each slot runs at its instant with ``--as-of`` and the wall clock moved there (time-machine), since a
real broker refuses an as-of away from now; the fake broker moves with it (``advance_to``, which fills
working orders and expires day orders). Retry backoff and rate-limit waits are not slept: they are added up
as virtual seconds, and the run's budget is its real time plus those waits, against the ``timeout`` cron
gives that slot.

After every run (killed or not) the invariants are checked against the fake broker's state and the ledger
(through ``autotrader.ledger.repo``); a violation names the seed, the slot and a one-line replay command.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import time_machine

from autotrader import killpoints
from autotrader.clock import ET, MarketCalendar
from autotrader.domain.enums import IntentStatus
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger_readonly
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpacaServer
from tests.fakes.polygon_server import FakePolygon, minute_bar

ROOT = Path(__file__).resolve().parents[2]
POLYGON_KEY = "chaos-polygon-key"
#: Stocks the signals name; SPY and VIXY are read by the regime overlay.
SYMBOLS = ("AAPL", "MSFT", "JPM", "XOM", "JNJ")
PRICED = (*SYMBOLS, "SPY", "VIXY")
#: The adapters' HTTP timeout in the chaos workspace: small, so that an answer that never comes costs little.
CLIENT_TIMEOUT = 0.25
#: A hung answer is held this long: past the client's timeout, then (at the broker) processed after all, as a
#: request that was slow rather than lost would be.
HANG_SECONDS = CLIENT_TIMEOUT + 0.15
#: No run may take longer than this in real time, whatever its slot's cron timeout.
RUN_WALL_SECONDS = 20.0
#: The sessions a scenario may start in.
FIRST_DAY, LAST_DAY = date(2026, 1, 5), date(2026, 11, 27)
REPLAY_COMMAND = (
    "PYTHONPATH=$PWD .venv/bin/python -m pytest -p no:cacheprovider tests/chaos -m chaos --chaos-seed {seed}"
)

ALPACA_READS = (
    ("GET", "/v2/orders"),
    ("GET", "/v2/orders:by_client_order_id"),
    ("GET", "/v2/orders/*"),
    ("GET", "/v2/account"),
    ("GET", "/v2/positions"),
    ("GET", "/v2/account/activities/FILL"),
    ("GET", "/v2/clock"),
    ("GET", "/v2/assets/*"),
)
ORDER_POST = ("POST", "/v2/orders")
CANCEL = ("DELETE", "/v2/orders/*")
# The order path is hit more often than its share of requests: that is where exactly-once can break.
ALPACA_ENDPOINTS = (*ALPACA_READS, ORDER_POST, ORDER_POST, ORDER_POST, ("GET", "/v2/orders:by_client_order_id"), CANCEL)

FAULT_KINDS = (
    "alpaca_429",
    "alpaca_500",
    "accept_then_504",
    "order_in_doubt",
    "slow_answer",
    "hang",
    "polygon_429",
    "polygon_503",
    "polygon_hang",
)
BROKER_EVENTS = ("partial_fill_then_expire", "replayed_fills")


# -- the schedule -------------------------------------------------------------------------------------------


def cron_slots(crontab: Path = ROOT / "crontab.example") -> dict[clock_time, float]:
    """Each ``run-daily`` time of the example crontab with the ``timeout`` cron gives it, in seconds."""
    slots: dict[clock_time, float] = {}
    line_re = re.compile(r"^(\S+)\s+(\S+)\s+\*\s+\*\s+\S+\s+timeout\s+(\d+)([smh])\s+\S*autotrader run-daily")
    for line in crontab.read_text(encoding="utf-8").splitlines():
        match = line_re.match(line.strip())
        if not match:
            continue
        minutes, hours, amount, unit = match.groups()
        seconds = int(amount) * {"s": 1, "m": 60, "h": 3600}[unit]
        for hour in _cron_field(hours):
            for minute in _cron_field(minutes):
                slots[clock_time(hour, minute)] = float(seconds)
    if not slots:
        raise ValueError(f"{crontab}: no 'timeout ... autotrader run-daily' lines")
    return dict(sorted(slots.items()))


def _cron_field(text: str) -> list[int]:
    values: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        values.extend(range(int(first), int(last or first) + 1))
    return values


def documented_exit_codes(readme: Path = ROOT / "README.md") -> dict[int, str]:
    """The README's exit-code table: code → meaning."""
    section = readme.read_text(encoding="utf-8").split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(code): meaning.strip() for code, meaning in re.findall(r"^\| (\d+) \| (.+?) \|$", section, re.M)}


# -- the world ------------------------------------------------------------------------------------------------


class ChaosAlpaca(FakeAlpacaServer):
    """The fake broker, plus what the harness needs to count: faults still pending, and requests still being
    answered (a held answer processes its request late; the checks wait for it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._busy = 0
        self._idle = threading.Condition()

    def handle(self, handler: Any) -> None:
        with self._idle:
            self._busy += 1
        try:
            super().handle(handler)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def drop_faults(self) -> int:
        """Forget the faults no request reached; returns how many requests they would still have hit."""
        with self._lock:
            pending = sum(f.times for f in self._faults)
            self._faults.clear()
            return pending

    def working_orders(self) -> list[Any]:
        with self._lock:
            return [o for o in self.orders.values() if o.status in ("new", "accepted", "partially_filled")]

    def positions_now(self) -> dict[str, float]:
        with self._lock:
            return {s: q for s, (q, _) in self.positions.items() if abs(q) > 1e-9}

    def unique_fills(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {a["id"]: dict(a) for a in self.activities}


class VirtualWaits:
    """What the adapters would have slept (retry backoff, rate-limit resets): added up, never waited."""

    def __init__(self) -> None:
        self.total = 0.0

    def sleep(self, seconds: float) -> None:
        self.total += max(seconds, 0.0)

    def monotonic(self) -> float:
        return time.monotonic() + self.total

    def wall_time(self) -> float:
        return time.time() + self.total


@contextlib.contextmanager
def virtual_waits(waits: VirtualWaits) -> Iterator[None]:
    """Build the adapters with ``waits`` as their sleep: the composition root's wiring stays as it is, only
    the clock the adapters wait on is replaced (as tests/contract/harness.py does for the broker alone)."""
    from autotrader.adapters import alpaca_broker, http, polygon_data

    real_broker = alpaca_broker.AlpacaBroker

    class PatientBroker(real_broker):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs, sleep=waits.sleep, wall_time=waits.wall_time)

    def limiter(requests_per_minute: float, **kwargs: Any) -> http.RateLimiter:
        return http.RateLimiter(requests_per_minute, monotonic=waits.monotonic, sleep=waits.sleep, **kwargs)

    with (
        mock.patch.object(alpaca_broker, "AlpacaBroker", PatientBroker),
        mock.patch.object(polygon_data, "RateLimiter", limiter),
    ):
        yield


def price(symbol: str, at: datetime) -> float:
    """Where the symbol trades at ``at``: the close of the fake vendor's last complete minute bar."""
    minute = at.astimezone(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    return minute_bar(symbol, minute)[3]


# -- what one run found ------------------------------------------------------------------------------------------


@dataclass
class SlotResult:
    at: datetime
    exit_code: int | None  # None: killed
    killed_at: str | None
    reconciled: bool  # a sync (or rehydrate's) finished with exit 0 in this run
    seconds: float
    waited: float
    budget: float
    violations: list[str]


@dataclass
class RunResult:
    seed: int
    slots: list[SlotResult] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)  # injected, by kind
    faults_taken: Counter[str] = field(default_factory=Counter)  # of those, the ones a request reached
    events: Counter[str] = field(default_factory=Counter)
    kills_armed: Counter[str] = field(default_factory=Counter)
    kills_fired: Counter[str] = field(default_factory=Counter)
    orders_posted: int = 0
    fills: int = 0

    @property
    def violations(self) -> list[str]:
        return [v for s in self.slots for v in s.violations]


@dataclass
class Summary:
    runs: int = 0
    seeds: list[int] = field(default_factory=list)
    slots: int = 0
    exit_codes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    faults_taken: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    kills_armed: Counter[str] = field(default_factory=Counter)
    kills_fired: Counter[str] = field(default_factory=Counter)
    orders_posted: int = 0
    fills: int = 0
    reconciles_checked: int = 0
    longest_run: float = 0.0
    most_budget_used: float = 0.0
    violations: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def add(self, result: RunResult) -> None:
        self.runs += 1
        self.seeds.append(result.seed)
        self.slots += len(result.slots)
        for slot in result.slots:
            self.exit_codes["killed" if slot.exit_code is None else str(slot.exit_code)] += 1
            self.reconciles_checked += slot.reconciled
            self.longest_run = max(self.longest_run, slot.seconds)
            self.most_budget_used = max(self.most_budget_used, (slot.seconds + slot.waited) / slot.budget)
        self.faults.update(result.faults)
        self.faults_taken.update(result.faults_taken)
        self.events.update(result.events)
        self.kills_armed.update(result.kills_armed)
        self.kills_fired.update(result.kills_fired)
        self.orders_posted += result.orders_posted
        self.fills += result.fills
        self.violations.extend(result.violations)

    def lines(self) -> list[str]:
        def counted(counter: Counter[str], keys: tuple[str, ...] | None = None) -> str:
            names = keys if keys is not None else tuple(sorted(counter))
            return ", ".join(f"{k} {counter[k]}" for k in names) or "none"

        seeds = f"seeds {min(self.seeds)}..{max(self.seeds)}" if self.seeds else "no seeds"
        fired = sum(self.kills_fired.values())
        return [
            f"chaos: {self.runs} runs ({seeds}), {self.slots} run-daily slots, {len(self.violations)} violations, "
            f"wall time {self.wall_seconds:.1f} s",
            f"  exit codes: {counted(self.exit_codes)}",
            f"  faults injected: {counted(self.faults, FAULT_KINDS)}",
            f"  faults that met a request: {counted(self.faults_taken, FAULT_KINDS)}",
            f"  broker events: {counted(self.events, BROKER_EVENTS)}",
            f"  kills armed: {counted(self.kills_armed, tuple(sorted(killpoints.POINTS)))}",
            f"  kills fired: {fired} ({counted(self.kills_fired, tuple(sorted(killpoints.POINTS)))})",
            f"  orders posted {self.orders_posted}, fills {self.fills}, positions and fills compared after "
            f"{self.reconciles_checked} successful reconciles",
            f"  longest run {self.longest_run:.2f} s real; most of a slot's cron timeout used "
            f"{100 * self.most_budget_used:.2f}%",
            *(f"  VIOLATION {v}" for v in self.violations[:20]),
        ]


# -- one seed -------------------------------------------------------------------------------------------------


class ChaosRun:
    """One seed's scenario in ``workspace`` (an empty folder). ``slots``: how many run-daily slots."""

    def __init__(
        self,
        seed: int,
        workspace: Path,
        *,
        slots: tuple[int, int] = (3, 6),
        fault_rate: float = 0.7,
        kill_rate: float = 0.3,
        kill_points: tuple[str, ...] = tuple(sorted(killpoints.POINTS)),
        owner: bool = False,
    ) -> None:
        self.seed = seed
        # With ``owner``: the approval gate is on, and before a slot the owner may halt, resume, approve every
        # waiting entry or flatten a held symbol, in the same slot's faults and kills.
        self.owner = owner
        self.owner_actions: Counter[str] = Counter()
        self.rng = random.Random(seed)
        self.workspace = workspace
        self.slot_range = slots
        self.fault_rate = fault_rate
        self.kill_rate = kill_rate
        self.kill_points = kill_points
        self.calendar = MarketCalendar.xnys()
        self.schedule = cron_slots()
        self.exit_codes = documented_exit_codes()
        self.result = RunResult(seed)
        self._signalled: set[date] = set()
        self._replays = 0

    # -- the walk ---------------------------------------------------------------------------------------------
    def instants(self) -> list[datetime]:
        """The slots this seed runs: a random weekday start, then later crontab times, some skipped."""
        count = self.rng.randint(*self.slot_range)
        day = FIRST_DAY + timedelta(days=self.rng.randrange((LAST_DAY - FIRST_DAY).days))
        times = list(self.schedule)
        index = self.rng.randrange(len(times))
        chosen: list[datetime] = []
        while len(chosen) < count:
            if day.weekday() < 5 and self.rng.random() < 0.45:
                chosen.append(datetime.combine(day, times[index], tzinfo=ET))
            index += 1
            if index == len(times):
                index, day = 0, day + timedelta(days=1)
        return chosen

    def run(self) -> RunResult:
        instants = self.instants()
        env = {"ALPACA_API_KEY": API_KEY, "ALPACA_SECRET_KEY": SECRET_KEY, "MASSIVE_API_KEY": POLYGON_KEY}
        prices = {s: price(s, instants[0]) for s in PRICED}
        with (
            mock.patch.dict(os.environ, env),
            ChaosAlpaca(now=instants[0], prices=prices, cash=1_000_000.0, calendar=self.calendar) as alpaca,
        ):
            polygon = FakePolygon(api_key=POLYGON_KEY).start()
            try:
                config = self._write_config(alpaca, polygon)
                for at in instants:
                    self.result.slots.append(self._slot(at, alpaca, polygon, config))
                self.result.orders_posted = len(alpaca.posted_orders())
                self.result.fills = len(alpaca.unique_fills())
            finally:
                killpoints.disarm()
                polygon.stop()
        return self.result

    def _write_config(self, alpaca: FakeAlpacaServer, polygon: FakePolygon) -> Path:
        self.workspace.mkdir(parents=True, exist_ok=True)
        path = self.workspace / "config.toml"
        path.write_text(
            f'[broker]\nkind = "alpaca"\nbase_url = "{alpaca.url}"\ntimeout_seconds = {CLIENT_TIMEOUT}\n'
            f'[data]\nkind = "polygon"\nbase_url = "{polygon.url}"\ntimeout_seconds = {CLIENT_TIMEOUT}\n'
            # the fake answers at once; the free tier's 5 a minute would only add virtual waits
            "requests_per_minute = 100000.0\n"
            + ("[approval]\nrequired = true\nexpiry_minutes = 90.0\n" if self.owner else ""),
            encoding="utf-8",
        )
        return path

    def _owner_action(self, at: datetime, config: Path) -> None:
        """One of the owner's commands, chosen by the seed, run just before the slot (faults and kills armed)."""
        if not self.owner or self.rng.random() >= 0.6:
            return
        from autotrader.pipeline import approvals, control, orders
        from autotrader.pipeline.context import invoke

        name = self.rng.choice(("halt", "halt --exits", "resume", "approve --all", "approve --all", "flatten"))
        bodies = {
            "halt": ("halt", partial(control.halt, reason="chaos", exits=False)),
            "halt --exits": ("halt", partial(control.halt, reason="chaos", exits=True)),
            "resume": ("resume", partial(control.resume, breaker=None)),
            "approve --all": ("approve", partial(approvals.approve, ident=None, every=True)),
            "flatten": (
                "flatten",
                partial(orders.flatten, scope=orders.Scope(symbol=self.rng.choice(SYMBOLS)), yes=True),
            ),
        }
        command, body = bodies[name]
        self.owner_actions[name] += 1
        with time_machine.travel(at - timedelta(seconds=30), tick=True):
            invoke(
                command, body, config_path=str(config), as_of=(at - timedelta(seconds=30)).isoformat(), dry_run=False
            )

    # -- one slot ---------------------------------------------------------------------------------------------
    def _slot(self, at: datetime, alpaca: ChaosAlpaca, polygon: FakePolygon, config: Path) -> SlotResult:
        for symbol in PRICED:
            alpaca.set_price(symbol, price(symbol, at))
        alpaca.advance_to(at)
        self._broker_events(at, alpaca)
        self._drop_signals(at)
        injected = self._inject(at, alpaca, polygon)
        self._arm()
        killed: str | None = None
        try:
            self._owner_action(at, config)
        except killpoints.Killed as kill:
            killed = kill.point
            killpoints.disarm()

        from autotrader.pipeline import run_daily
        from autotrader.pipeline.context import invoke

        waits = VirtualWaits()
        exit_code: int | None = None
        reconciled = False
        started = time.perf_counter()
        with time_machine.travel(at, tick=True), virtual_waits(waits):
            try:
                outcome = invoke(
                    "run-daily", run_daily.run, config_path=str(config), as_of=at.isoformat(), dry_run=False
                )
            except killpoints.Killed as kill:
                killed = kill.point
            else:
                exit_code = outcome.exit_code
                steps = getattr(outcome.report, "steps", ()) if outcome.report is not None else ()
                reconciled = any(s.command in ("sync", "rehydrate") and s.ran and s.exit_code == 0 for s in steps)
        seconds = time.perf_counter() - started
        killpoints.disarm()
        alpaca.wait_idle(HANG_SECONDS + 5.0)  # a held answer processes its request late: let it land first
        self._count_taken(injected, alpaca, polygon)
        if killed is not None:  # an armed point the run did not reach that many times is not a kill
            self.result.kills_fired[killed] += 1

        budget = self.schedule[at.astimezone(ET).time().replace(second=0, microsecond=0)]
        violations = self._check(at, alpaca, config, exit_code, killed, reconciled, seconds, waits.total, budget)
        return SlotResult(at, exit_code, killed, reconciled, seconds, waits.total, budget, violations)

    def _drop_signals(self, at: datetime) -> None:
        """The session's recommendations, once per session, before or during it."""
        state = self.calendar.state(at)
        day = state.session_date
        if day is None or day in self._signalled or at >= self.calendar.session_close(day):
            return
        self._signalled.add(day)
        if self.rng.random() < 0.15:
            return  # a day without recommendations
        inbox = self.workspace / "signals" / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        generated = (at - timedelta(minutes=self.rng.randint(5, 40))).isoformat()
        lines = ["symbol,category,source,conviction,entry,stop,target,horizon_days,generated_at"]
        for symbol in self.rng.sample(SYMBOLS, self.rng.randint(1, 3)):
            category = self.rng.choice(("long_term", "swing", "day_trade"))
            conviction = self.rng.randint(7, 10)
            entry = stop = target = ""
            horizon = {"long_term": "", "swing": "10", "day_trade": "1"}[category]
            if category == "swing" and self.rng.random() < 0.5:
                p = price(symbol, at)
                entry, stop, target = f"{p:.2f}", f"{p * 0.94:.2f}", f"{p * 1.12:.2f}"
            lines.append(f"{symbol},{category},chaos,{conviction},{entry},{stop},{target},{horizon},{generated}")
        (inbox / f"chaos-{at:%Y%m%d-%H%M}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _broker_events(self, at: datetime, alpaca: ChaosAlpaca) -> None:
        rng = self.rng
        working = [o for o in alpaca.working_orders() if o.qty - o.filled_qty >= 2 and o.type in ("market", "limit")]
        if working and rng.random() < 0.3:
            order = rng.choice(working)
            part = math.floor((order.qty - order.filled_qty) / 2)
            alpaca.fill(order.id, part, alpaca.prices[order.symbol])
            alpaca.expire(order.id)
            self.result.events["partial_fill_then_expire"] += 1
        # Each replay doubles the activity list: a couple per scenario is plenty.
        if alpaca.activities and self._replays < 2 and rng.random() < 0.15:
            alpaca.replay_fills()
            self._replays += 1
            self.result.events["replayed_fills"] += 1

    def _inject(self, at: datetime, alpaca: ChaosAlpaca, polygon: FakePolygon) -> list[tuple[str, int]]:
        """Random faults for the coming run; returns (kind, requests it may hit) for each."""
        rng = self.rng
        injected: list[tuple[str, int]] = []
        if rng.random() >= self.fault_rate:
            return injected
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(FAULT_KINDS)
            times = rng.randint(1, 4)  # four in a row outlast a read's retries (max_retries = 3)
            method, path = rng.choice(ALPACA_ENDPOINTS)
            if kind == "alpaca_429":
                headers = {}
                if rng.random() < 0.5:
                    reset = int(at.timestamp()) + rng.randint(1, 30)
                    headers = {
                        "X-RateLimit-Limit": "200",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(reset),
                    }
                body = {"code": 42910000, "message": "rate limit exceeded"}
                alpaca.inject(method, path, status=429, body=body, headers=headers, times=times)
            elif kind == "alpaca_500":
                alpaca.inject(method, path, status=500, body="Internal Server Error", times=times)
            elif kind == "accept_then_504":
                method, path = rng.choice((ORDER_POST, ORDER_POST, CANCEL))
                alpaca.inject(method, path, status=504, body="Gateway Timeout", process_first=True, times=times)
            elif kind == "order_in_doubt":
                # Accepted, answered 504, and every lookup by client order id fails: the outcome is unknown.
                alpaca.inject(*ORDER_POST, status=504, body="Gateway Timeout", process_first=True)
                alpaca.inject("GET", "/v2/orders:by_client_order_id", status=500, body="Internal Server Error", times=4)
                times = 5
            elif kind == "slow_answer":
                alpaca.inject(method, path, delay=CLIENT_TIMEOUT / 5, times=times)
            elif kind == "hang":
                times = 1
                alpaca.inject(method, path, delay=HANG_SECONDS, times=times)
            elif kind == "polygon_429":
                polygon.faults.rate_limit += times
                polygon.faults.retry_after = rng.choice((None, "1", "20"))
            elif kind == "polygon_503":
                polygon.faults.server_error += times
            else:
                times = 1
                polygon.faults.hang += times
            self.result.faults[kind] += 1
            injected.append((kind, times))
        return injected

    def _count_taken(self, injected: list[tuple[str, int]], alpaca: ChaosAlpaca, polygon: FakePolygon) -> None:
        """Count the injected faults some request met, then clear what is left: each run gets its own."""
        pending_alpaca = alpaca.drop_faults()
        pending_polygon = polygon.faults.rate_limit + polygon.faults.server_error + polygon.faults.hang
        polygon.faults.rate_limit = polygon.faults.server_error = polygon.faults.hang = 0
        # Pending requests are charged to the last faults injected (they are consumed in order).
        for kind, times in reversed(injected):
            if kind.startswith("polygon"):
                unmet = min(pending_polygon, times)
                pending_polygon -= unmet
            else:
                unmet = min(pending_alpaca, times)
                pending_alpaca -= unmet
            if unmet < times:
                self.result.faults_taken[kind] += 1

    def _arm(self) -> None:
        if self.rng.random() >= self.kill_rate:
            return
        point = self.rng.choice(self.kill_points)
        killpoints.arm(point, self.rng.randint(1, 3))
        self.result.kills_armed[point] += 1

    # -- the invariants ---------------------------------------------------------------------------------------
    def _check(
        self,
        at: datetime,
        alpaca: ChaosAlpaca,
        config: Path,
        exit_code: int | None,
        killed: str | None,
        reconciled: bool,
        seconds: float,
        waited: float,
        budget: float,
    ) -> list[str]:
        found: list[str] = []
        found += check_exit_code(exit_code, self.exit_codes)
        found += check_budget(seconds, waited, budget)
        ledger = open_ledger_readonly(config.parent / "ledger-paper.db")
        if ledger is not None:
            try:
                intents = repo.intents_with_status(ledger, tuple(IntentStatus))
                found += check_orders(alpaca, intents)
                if killed is None:
                    found += check_nothing_left_submitting(intents)
                found += check_fills(alpaca, repo.recorded_fills(ledger), complete=reconciled)
                if reconciled:
                    found += check_positions(alpaca, repo.all_positions(ledger))
            finally:
                ledger.close()
        elif alpaca.posted_orders():
            found.append("orders reached the broker but there is no ledger")
        local = at.astimezone(ET)
        where = f"seed {self.seed}, slot {local:%Y-%m-%d %H:%M} ET"
        return [f"{where}: {v} | replay: {REPLAY_COMMAND.format(seed=self.seed)}" for v in found]


# -- the invariants, each a function of what was read ---------------------------------------------------------


def check_exit_code(exit_code: int | None, documented: dict[int, str]) -> list[str]:
    if exit_code is None:
        return []
    if exit_code not in documented:
        return [f"exit code {exit_code} is not documented (the README lists {sorted(documented)})"]
    if exit_code == 1:
        return [f"exit code 1: {documented[1]}"]
    return []


def check_budget(seconds: float, waited: float, budget: float) -> list[str]:
    found = []
    if seconds > RUN_WALL_SECONDS:
        found.append(f"the run took {seconds:.1f} s of real time (budget {RUN_WALL_SECONDS:.0f} s)")
    if seconds + waited > budget:
        found.append(
            f"the run took {seconds:.1f} s plus {waited:.1f} s of waits: past its cron timeout of {budget:.0f} s"
        )
    return found


def check_orders(alpaca: ChaosAlpaca, intents: list[dict[str, Any]]) -> list[str]:
    """At most one broker order per client order id, and each maps to exactly one intent that agrees with it."""
    found = []
    orders = alpaca.top_level_orders()
    per_cid = Counter(o.client_order_id for o in orders)
    found += [f"{n} broker orders under client order id {cid}" for cid, n in per_cid.items() if n > 1]
    by_cid = {row["client_order_id"]: row for row in intents}
    by_broker_id: Counter[str] = Counter(row["broker_order_id"] for row in intents if row["broker_order_id"])
    found += [f"{n} intents claim broker order {oid}" for oid, n in by_broker_id.items() if n > 1]
    for order in orders:
        intent = by_cid.get(order.client_order_id)
        if intent is None:
            found.append(f"broker order {order.client_order_id} ({order.symbol}) has no intent in the ledger")
            continue
        if intent["broker_order_id"] not in (None, order.id):
            found.append(
                f"intent {order.client_order_id} names broker order {intent['broker_order_id']}, not {order.id}"
            )
        same = (intent["symbol"], intent["side"], float(intent["qty"])) == (order.symbol, order.side, float(order.qty))
        if not same:
            found.append(f"intent {order.client_order_id} does not describe the order the broker holds under its id")
        if intent["status"] in (IntentStatus.ABANDONED, IntentStatus.REJECTED):
            found.append(
                f"intent {order.client_order_id} is {intent['status']} but the broker holds it ({order.status})"
            )
    return found


def check_nothing_left_submitting(intents: list[dict[str, Any]]) -> list[str]:
    """A run that ended (rather than died) settles every send it began: sent, refused, deferred or unknown."""
    return [
        f"intent {row['client_order_id']} left submitting by a run that finished"
        for row in intents
        if row["status"] == IntentStatus.SUBMITTING
    ]


def check_fills(alpaca: ChaosAlpaca, recorded: list[Any], *, complete: bool) -> list[str]:
    """The ledger's fills are the broker's, each once and as the broker reported it; after a successful
    reconcile, every one of them."""
    found = []
    broker = alpaca.unique_fills()
    for fill in recorded:
        theirs = broker.get(fill.fill_id)
        if theirs is None:
            found.append(f"the ledger holds fill {fill.fill_id}, which the broker never reported")
            continue
        if (fill.broker_order_id, fill.symbol, fill.qty, fill.price) != (
            theirs["order_id"],
            theirs["symbol"],
            float(theirs["qty"]),
            float(theirs["price"]),
        ):
            found.append(f"fill {fill.fill_id} in the ledger differs from the broker's")
    if complete:
        missing = sorted(set(broker) - {f.fill_id for f in recorded})
        if missing:
            found.append(f"{len(missing)} broker fill(s) missing from the ledger after a successful reconcile")
    return found


def check_positions(alpaca: ChaosAlpaca, positions: list[repo.PositionRow]) -> list[str]:
    """After a successful reconcile, the books sum to the broker's position in every symbol."""
    ours: Counter[str] = Counter()
    for position in positions:
        ours[position.symbol] += position.qty
    theirs = alpaca.positions_now()
    return [
        f"{symbol}: the ledger's books hold {ours.get(symbol, 0.0):g}, the broker {theirs.get(symbol, 0.0):g}"
        for symbol in sorted(set(ours) | set(theirs))
        if abs(ours.get(symbol, 0.0) - theirs.get(symbol, 0.0)) > 1e-6
    ]


def campaign(seeds: list[int], root: Path, **kwargs: Any) -> Summary:
    """Run each seed in its own workspace under ``root``; the summary of them all."""
    summary = Summary()
    started = time.perf_counter()
    for seed in seeds:
        workspace = root / f"seed-{seed}"
        result = ChaosRun(seed, workspace, **kwargs).run()
        summary.add(result)
        if not result.violations:
            shutil.rmtree(workspace, ignore_errors=True)  # a failing seed's workspace stays for a look
    summary.wall_seconds = time.perf_counter() - started
    return summary
