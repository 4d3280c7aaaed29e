"""Monitoring that notices silence: every recorded run tells the ``Monitor`` port when it began and when it ended.

A cron job that stops running says nothing, so a log or a notification can never report it: an outside service
has to expect news and notice when none comes. Two outlets do that (``[monitor]``):

- **ping** (``ping_url``): the uptime service hears ``start`` when a run begins and its exit code when it ends.
  A slot that never ran, a run that never ended (killed, hung past its ``timeout``) and a failed run are all
  noticed there. Only the commands cron runs ping (``STEP_COMMANDS``: ``run-daily`` and the steps), never the
  owner's reads, ``replay`` or ``demo``: someone typing ``status`` must not pass for a live schedule.
- **metrics** (``textfile_dir``): Prometheus metrics read from the ledger (``plan_metrics``, pure), rewritten when
  every recorded run begins (marking it in progress) and when it ends. Every recorded run rewrites them, so a
  ``halt`` shows at once, except ``replay`` and ``demo``, whose ledgers are not the mode's.

Runs that are not recorded (``--dry-run``, a run refused by the lock or stopped before its ``runs`` row) report
nothing. A ping or a file that fails goes to the run's log and changes nothing else: a monitor can never make a
run fail. A run cut short by a ``BaseException`` (an in-process kill point, Ctrl-C) reports no end, as a
process killed with ``kill -9`` could not: its start stays the last news, and the metrics keep it in progress.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from autotrader.clock import ET
from autotrader.domain.enums import BREAKER_GATES
from autotrader.domain.models import Halt
from autotrader.ledger import repo
from autotrader.pipeline.context import SIMULATING_COMMANDS
from autotrader.pipeline.status import STEP_COMMANDS
from autotrader.ports import Metric, MetricSample

if TYPE_CHECKING:
    from autotrader.eventlog import EventLog
    from autotrader.ledger.db import Ledger
    from autotrader.ports import Clock, Monitor
    from autotrader.settings import Config

#: The step whose decisions say what became of signals.
DECISION_STEP = "size"
#: The sizing gates that are circuit breakers (they stop every new entry, not one signal), by the name the
#: metric gives them: the losing streak is the breaker ``resume --breaker streak`` ends.
BREAKERS = {gate: short for gate, short, _ in BREAKER_GATES}


@dataclass(frozen=True)
class WatchPlan:
    ping: bool  # this run tells the uptime service that it began and how it ended
    publish: bool  # this run rewrites the metrics file


def plan_watch(config: Config, command: str) -> WatchPlan:
    settings = config.settings.monitor
    return WatchPlan(
        ping=settings.ping_url is not None and command in STEP_COMMANDS,
        publish=settings.textfile_dir is not None and command not in SIMULATING_COMMANDS,
    )


class RunWatch:
    """The monitor's side of one recorded run: ``begin`` once its ``runs`` row exists, ``ended`` once the row has
    its end. Neither ever raises."""

    def __init__(
        self, monitor: Monitor | None, plan: WatchPlan, ledger: Ledger, log: EventLog, clock: Clock, *, mode: str,
        run_id: str,
    ) -> None:  # fmt: skip
        self._monitor, self._plan = monitor, plan
        self._ledger, self._log, self._clock, self._mode, self._run_id = ledger, log, clock, mode, run_id

    @classmethod
    def begin(
        cls, config: Config, ledger: Ledger, log: EventLog, clock: Clock, *, command: str, mode: str, run_id: str
    ) -> RunWatch:
        plan = plan_watch(config, command)
        monitor = None
        if plan.ping or plan.publish:
            from autotrader.bootstrap import build_monitor

            monitor = build_monitor(config, mode)
        watch = cls(monitor, plan, ledger, log, clock, mode=mode, run_id=run_id)
        watch._report("start")
        return watch

    def ended(self, exit_code: int, *, finished: bool) -> None:
        """``finished`` is False when the run is being torn down by a kill or an interrupt rather than ending."""
        if finished:
            self._report(str(exit_code))

    def _report(self, event: str) -> None:
        monitor = self._monitor
        if monitor is None:
            return
        if self._plan.publish:
            try:
                failed = monitor.publish(plan_metrics(gather(self._ledger, self._clock.now()), self._mode))
            except Exception as error:  # a bug here must not become the run's failure: the log keeps its trace
                self._log.exception("monitor_failed", error, at=event)
            else:
                if failed is not None:
                    self._log.event("monitor_textfile_failed", at=event, reason=failed)
        if self._plan.ping:
            try:
                failed = monitor.ping(event, self._run_id)
            except Exception as error:  # only its type: the text of an error about the URL may quote it
                failed = f"unexpected {type(error).__name__}"
            if failed is not None:
                self._log.event("monitor_ping_failed", ping=event, host=monitor.ping_host, reason=failed)


# -- gather -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerFacts:
    """What the metrics are made of, read from the ledger in one go. "Today" is the New York day of the clock."""

    runs: list[repo.CommandRuns]
    counts: dict[str, int]  # repo.counts: orders_total, fills_total, ...
    orders_today: int
    fills_today: int
    signals: list[repo.SignalTally]
    snapshot: repo.SnapshotRow | None
    halt: Halt | None
    breakers: list[repo.RuleCheck]
    cached: list[repo.CachedAnswers]


def gather(ledger: Ledger, now: datetime) -> LedgerFacts:
    day = now.astimezone(ET).date()
    since = datetime.combine(day, time(), tzinfo=ET)
    until = datetime.combine(day + timedelta(days=1), time(), tzinfo=ET)  # 23 or 25 hours on a DST change
    orders_today, fills_today = repo.orders_and_fills_between(ledger, since, until)
    return LedgerFacts(
        runs=repo.command_runs(ledger),
        counts=repo.counts(ledger),
        orders_today=orders_today,
        fills_today=fills_today,
        signals=repo.signal_tallies(ledger, DECISION_STEP),
        snapshot=repo.latest_snapshot(ledger),
        halt=repo.current_halt(ledger),
        breakers=repo.latest_rule_checks(ledger, DECISION_STEP, list(BREAKERS)),
        cached=repo.cached_answers(ledger, since, until),
    )


# -- plan (pure) ------------------------------------------------------------------------------------------------

Rows = Iterable[tuple[tuple[str, ...], float]]


def plan_metrics(facts: LedgerFacts, mode: str) -> tuple[Metric, ...]:
    """Every metric, each with a ``mode`` label first: node_exporter merges the files of all modes, and refuses
    two samples with the same name and labels. Label values are lower case."""
    out = _Families(mode)
    return (*_run_metrics(out, facts), *_activity_metrics(out, facts), *_book_metrics(out, facts.snapshot),
            *_control_metrics(out, facts), *_provider_metrics(out, facts))  # fmt: skip


def _run_metrics(out: _Families, facts: LedgerFacts) -> list[Metric]:
    runs = facts.runs
    return [
        out.gauge("autotrader_last_run_start_timestamp_seconds", "When the latest run of the command started",
                  ("command",), [((r.command,), r.started_at.timestamp()) for r in runs]),
        out.gauge("autotrader_last_run_end_timestamp_seconds", "When the latest run of the command that ended, ended",
                  ("command",), [((r.command,), r.ended_at.timestamp()) for r in runs if r.ended_at]),
        out.gauge("autotrader_last_run_exit_code", "Exit code of the latest run of the command that ended",
                  ("command",), [((r.command,), r.exit_code) for r in runs if r.exit_code is not None]),
        out.gauge("autotrader_run_in_progress",
                  "1 from a run's start to its end; 1 with the start after the last end: the run was killed",
                  ("command",), [((r.command,), r.in_progress) for r in runs]),
    ]  # fmt: skip


def _activity_metrics(out: _Families, facts: LedgerFacts) -> list[Metric]:
    signals = facts.signals
    return [
        out.counter("autotrader_orders", "Broker orders in the ledger (ours and external)",
                    (), [((), facts.counts["orders_total"])]),
        out.gauge("autotrader_orders_today", "Broker orders submitted today (New York)",
                  (), [((), facts.orders_today)]),
        out.counter("autotrader_fills", "Fills in the ledger", (), [((), facts.counts["fills_total"])]),
        out.gauge("autotrader_fills_today", "Fills executed today (New York)", (), [((), facts.fills_today)]),
        out.counter("autotrader_signals_imported", "Signals stored, by source",
                    ("source",), [((t.source,), t.imported) for t in signals]),
        out.counter("autotrader_signals_traded", "Signals size ordered (in full or reduced), by source",
                    ("source",), [((t.source,), t.traded) for t in signals]),
        out.counter("autotrader_signals_skipped", "Signals size skipped, by source and the rule that skipped them",
                    ("source", "reason"), [((t.source, rule), n) for t in signals for rule, n in t.skipped.items()]),
    ]  # fmt: skip


def _book_metrics(out: _Families, snapshot: repo.SnapshotRow | None) -> list[Metric]:
    """From the latest end-of-day snapshot (``rehydrate``); no samples before the first."""

    def one(value: Callable[[repo.SnapshotRow], float]) -> Rows:
        return [((), value(snapshot))] if snapshot else []

    deployed = snapshot.deployed.items() if snapshot else ()
    return [
        out.gauge("autotrader_equity_dollars", "Account equity at the latest end-of-day snapshot",
                  (), one(lambda s: s.equity)),
        out.gauge("autotrader_cash_dollars", "Account cash at the latest end-of-day snapshot",
                  (), one(lambda s: s.cash)),
        out.gauge("autotrader_deployed_dollars", "Capital deployed per book, at cost, at the latest snapshot",
                  ("book",), [((book,), value) for book, value in deployed]),
        out.gauge("autotrader_snapshot_timestamp_seconds", "As-of instant of the latest end-of-day snapshot",
                  (), one(lambda s: datetime.fromisoformat(s.as_of).timestamp())),
    ]  # fmt: skip


def _control_metrics(out: _Families, facts: LedgerFacts) -> list[Metric]:
    halt, checks = facts.halt, facts.breakers
    return [
        out.gauge("autotrader_halted", "1 while the owner's kill switch holds (autotrader halt)",
                  (), [((), halt is not None)]),
        out.gauge("autotrader_halt_holds_exits", "1 while the kill switch holds exits too (halt --exits)",
                  (), [((), halt is not None and halt.exits)]),
        out.gauge("autotrader_halted_since_timestamp_seconds", "When the kill switch in force was set",
                  (), [((), halt.since.timestamp())] if halt else []),
        out.gauge("autotrader_breaker_tripped",
                  "1 when the circuit breaker skipped the latest entry that reached it, 0 when it let that one pass",
                  ("breaker",), [((BREAKERS[c.rule],), c.failed) for c in checks]),
        out.gauge("autotrader_breaker_checked_timestamp_seconds", "When size last reached the circuit breaker",
                  ("breaker",), [((BREAKERS[c.rule],), c.decided_at.timestamp()) for c in checks]),
    ]  # fmt: skip


def _provider_metrics(out: _Families, facts: LedgerFacts) -> list[Metric]:
    cached = facts.cached
    return [
        out.gauge("autotrader_provider_cached_responses",
                  "Vendor answers the ledger holds, by kind (requests are not recorded; each answer cost one or more)",
                  ("kind",), [((c.kind,), c.total) for c in cached]),
        out.gauge("autotrader_provider_fetched_today", "Vendor answers held that were fetched today (New York)",
                  ("kind",), [((c.kind,), c.fetched) for c in cached]),
    ]  # fmt: skip


@dataclass(frozen=True)
class _Families:
    mode: str

    def gauge(self, name: str, text: str, labels: tuple[str, ...], rows: Rows) -> Metric:
        return self._family(name, text, "gauge", labels, rows)

    def counter(self, name: str, text: str, labels: tuple[str, ...], rows: Rows) -> Metric:
        return self._family(name, text, "counter", labels, rows)

    def _family(
        self, name: str, text: str, kind: Literal["gauge", "counter"], labels: tuple[str, ...], rows: Rows
    ) -> Metric:
        """Samples whose label values agree once lower-cased (sources ``Desk`` and ``desk``) are summed: two
        samples with the same labels are an error to a scraper."""
        values: dict[tuple[str, ...], float] = defaultdict(float)
        for key, value in rows:
            values[(self.mode.lower(), *(part.lower() for part in key))] += float(value)
        samples = tuple(MetricSample(key, value) for key, value in sorted(values.items()))
        return Metric(name, text, kind, ("mode", *labels), samples)
