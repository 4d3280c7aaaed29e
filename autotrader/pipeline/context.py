"""Running one command: the invocation envelope every step shares, and the context a step receives.

``invoke`` does, in order: parse ``--as-of`` and load the config (bad input → exit 2, nothing written),
refuse unsafe runs (exit 5), take the workspace lock (exit 4 at once if held), open the ledger (an
in-memory snapshot under ``--dry-run``), wire the adapters, record a ``runs`` row, run the step, record its
exit code, and write ``run_start``/``run_end`` lines to the day's log. Steps themselves only plan and apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from autotrader.clock import SessionState, SimulatedClock, SystemClock, parse_as_of, session_date_for
from autotrader.domain.enums import ExitCode
from autotrader.domain.reports import Report, ReportDraft
from autotrader.errors import AutotraderError, LockHeld, SafetyRefusal
from autotrader.eventlog import EventLog
from autotrader.ledger.db import Ledger, open_ledger, storage_failure
from autotrader.settings import Config, Settings, config_path_from, load_config

if TYPE_CHECKING:
    # Only for the annotation: importing bootstrap at run time would pull the adapters in with the CLI.
    from autotrader.bootstrap import Deps
    from autotrader.ports import Broker

# How far --as-of may stray from the wall clock on a real broker outside --dry-run.
MAX_REAL_BROKER_SKEW = timedelta(minutes=5)
# Commands that simulate the past in a ledger of their own (a scratch replay ledger, a fresh demo workspace):
# what they find is not news, so they neither notify nor publish the mode's metrics.
SIMULATING_COMMANDS = frozenset({"replay", "demo"})
# Commands whose --as-of may lie before the ledger's latest run, and whose own as-of does not move the ledger's
# time: a replay (and the demo, one replay) simulates the past in a ledger of its own, and a scorecard at an
# earlier instant shows what was knowable then without trading. Every other command changes the ledger's
# state at its as-of, so it may not run before a run already recorded: an order planned in the past would
# use prices that are no longer current, against positions that have moved on since.
# The kill switch (halt, resume) is always at hand, whatever a mistaken future-dated run left behind: it
# sends nothing itself and stamps its change with the present.
# The owner's reads (orders, positions, balances) look at the present and change nothing; the daily report
# reads any day's rows and writes only the page asked for.
TIME_FREE_COMMANDS = frozenset(
    {
        "replay",
        "demo",
        "scorecard",
        "halt",
        "resume",
        "orders list",
        "orders show",
        "positions",
        "balances",
        "preview bracket",
        "preview risk",
        "options chain",
        "approvals",
        "report",
        "scan --explain",
    }
)


# The owner's reads: they look at the present and change nothing, so they leave no runs row. A row of theirs
# would crowd the schedule's runs out of `status` and the daily report, and give a typed `positions` the look
# of a live schedule to the monitor. (Their notes and errors still go to the day's log.)
UNRECORDED_COMMANDS = frozenset(
    {"orders list", "orders show", "positions", "balances", "preview bracket", "preview risk", "approvals", "report",
     "scan --explain", "options chain"}
)  # fmt: skip


T = TypeVar("T")


@dataclass
class StepContext:
    command: str
    config: Config
    deps: Deps
    ledger: Ledger
    dry_run: bool
    run_id: str
    log: EventLog
    # A slot of `replay` or `demo`: the schedule over past sessions. What a step leaves outside the ledger for
    # the owner of the present (the evening's report page) is not made for a simulated history.
    replaying: bool = False
    # A replay's evenings leave the signals' outcomes to the replay's end, which refreshes them once: only the
    # scorecard reads them, and nothing a slot decides depends on them (``replay --full`` keeps every refresh).
    outcomes_at_end: bool = False
    # A fast replay's syncs read only the orders the simulated broker changed since the last sync (its numbered
    # feed, ``ports.OrderChanges``) rather than listing every open and recent order; ``replay --full`` lists them.
    order_changes: bool = False
    # What a step worked out at this instant that a later step of the same slot may reuse while the ledger stays
    # unchanged (``positions.refresh``: run-daily's sync, profit taker and dip buyer each need the positions).
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.config.settings

    @property
    def now(self) -> datetime:
        return self.deps.clock.now()

    @property
    def session(self) -> SessionState:
        return self.deps.calendar.state(self.now)

    @property
    def session_date(self) -> str:
        return session_date_for(self.now)

    def from_settings(self, build: Callable[[Settings], T]) -> T:
        """``build(settings)``, made once per settings object and kept in ``memo``: the rules a step derives
        from its settings are the same at every slot of a replay, and building one set walks every section."""
        key = f"settings:{build.__module__}.{build.__qualname__}"
        kept = self.memo.get(key)
        if kept is None or kept[0] is not self.settings:
            kept = (self.settings, build(self.settings))
            self.memo[key] = kept
        return cast(T, kept[1])

    def report(self) -> ReportDraft:
        """The draft this step fills; it ends with ``draft.build(TheStepsReport)``. While the owner's kill switch
        holds, its first note says so: every run reports the halt."""
        from autotrader.ledger import repo
        from autotrader.policy.kill_switch import describe

        draft = ReportDraft(command=self.command, as_of=self.now, dry_run=self.dry_run)
        halt = repo.current_halt(self.ledger)
        if halt is not None:
            draft.notes.append(describe(halt))
        return draft


@dataclass
class Outcome:
    command: str
    exit_code: int
    report: Report | None = None
    error: AutotraderError | None = None
    as_of: datetime | None = None
    dry_run: bool = False


class WorkspaceLock:
    """One run per workspace: a kernel lock (flock), freed even on kill -9, so no stale lock blocks the next run."""

    def __init__(self, path: Path) -> None:
        from filelock import FileLock

        self._lock = FileLock(str(path), timeout=0)
        self.path = path

    def __enter__(self) -> WorkspaceLock:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise LockHeld(
                f"another autotrader run holds the workspace lock ({self.path})",
                hint="wait for it to finish; cron will run the next slot",
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def invoke(
    command: str,
    body: Callable[[StepContext], Report],
    *,
    config_path: str | None,
    as_of: str | None,
    dry_run: bool,
    ledger_mode: str | None = None,
    force_sim: bool = False,
    prepare: Callable[[Config], None] | None = None,
    load: Callable[[], Config] | None = None,
    simulated_clock: bool = False,
    durable: bool = True,
    fresh: bool = False,
    lock_path: Path | None = None,
) -> Outcome:
    """Run ``body`` as command ``command`` inside the full envelope; never raises an AutotraderError.

    ``lock_path``: another lock than the workspace's, for a run inside a command that holds that one (each
    variant of ``compare`` replays into its own folder, under that folder's lock)."""
    at: datetime | None = None
    try:
        at = parse_as_of(as_of) if as_of else None
        config = load() if load is not None else load_config(config_path_from(config_path))
    except AutotraderError as error:
        return Outcome(command, error.exit_code, error=error, as_of=at, dry_run=dry_run)

    from autotrader.bootstrap import build_deps, check_live_safety, open_bar_cache

    run_id = uuid.uuid4().hex
    mode = ledger_mode or config.settings.mode_name
    log = EventLog(config.logs_dir, run_id=run_id, command=command, mode=mode, secrets=config.secret_values())
    for problem in config.notify_problems:  # left out of the notifications, never a reason to stop this run
        log.event("notify_url_unusable", setting=problem.entry, where=problem.where, variables=list(problem.variables),
                  message=problem.message)  # fmt: skip
    clock = SimulatedClock(at or datetime.now(UTC)) if (at is not None or simulated_clock) else SystemClock()
    ledger_path = config.ledger_path_for(mode)
    ledger: Ledger | None = None
    bar_cache: Ledger | None = None
    recorded = False
    exit_code: int = ExitCode.FAILURE
    report: Report | None = None
    failure: AutotraderError | None = None
    ctx: StepContext | None = None
    try:
        check_live_safety(config)
        with WorkspaceLock(lock_path or config.lock_path):
            if prepare is not None:
                prepare(config)
            ledger = open_ledger(ledger_path, snapshot=dry_run, durable=durable, empty=fresh)
            if not dry_run and command not in TIME_FREE_COMMANDS:
                _refuse_going_back(ledger, command, clock.now())
            bar_cache = open_bar_cache(config, ledger_path, dry_run=dry_run)
            deps = build_deps(config, ledger, clock, force_sim=force_sim, dry_run=dry_run, bar_cache=bar_cache)
            _refuse_time_travel(deps.broker, clock.now(), dry_run)
            log.event("run_start", as_of=clock.now().isoformat(), dry_run=dry_run)
            if not dry_run and command not in UNRECORDED_COMMANDS:
                from autotrader.ledger import repo
                from autotrader.pipeline.monitor import RunWatch

                repo.start_run(
                    ledger,
                    run_id=run_id,
                    command=command,
                    as_of=clock.now(),
                    mode=mode,
                    dry_run=dry_run,
                    started_at=datetime.now(UTC),
                )
                recorded = True
                watch = RunWatch.begin(config, ledger, log, clock, command=command, mode=mode, run_id=run_id)
            ctx = StepContext(command, config, deps, ledger, dry_run, run_id, log)
            report = body(ctx)
            exit_code = report.exit_code
    except AutotraderError as error:
        failure, exit_code = error, error.exit_code
        log.event("error", code=error.code, message=error.message, exit_code=exit_code)
    except Exception as error:
        failure = _unexpected(error, ledger_path, log)
        exit_code = failure.exit_code
    finally:
        if ledger is not None:
            if recorded:
                _finish_run(ledger, ledger_path, log, run_id, exit_code, _compact(report), failure)
                # No report and no failure: a kill point or Ctrl-C tears the run down; like kill -9, it tells no end.
                watch.ended(exit_code, finished=report is not None or failure is not None)
            from autotrader.pipeline import notify  # after the run's end is recorded: it cannot change it

            end = notify.RunEnd(command, run_id, clock.now(), dry_run, exit_code, report, failure)
            report = notify.after_run(config, ledger, log, ctx, end).report
            unsaved = _close(ledger, ledger_path, log)
            if unsaved is not None and failure is None:
                failure, exit_code = unsaved, unsaved.exit_code
        if bar_cache is not None:
            bar_cache.close()
    if not isinstance(failure, LockHeld):
        log.event("run_end", exit_code=exit_code, run_id=run_id)
    return Outcome(command, exit_code, report=report, error=failure, as_of=clock.now(), dry_run=dry_run)


def _unexpected(error: Exception, ledger_path: Path, log: EventLog) -> AutotraderError:
    """The run's failure for an error no step expected, logged: a full or failing disk is the machine's state,
    not a bug (its message, no trace, exit 74); anything else is a bug (the full trace in the log, exit 1)."""
    storage = storage_failure(error, ledger_path)
    if storage is not None:
        log.event("error", code=storage.code, message=storage.message, exit_code=storage.exit_code)
        return storage
    log.exception("crash", error)
    return AutotraderError(f"unexpected error: {type(error).__name__}: {error}", hint="see the log for the trace")


def _close(ledger: Ledger, ledger_path: Path, log: EventLog) -> AutotraderError | None:
    """Close the ledger. A scratch ledger is written to its file as it closes; when that fails (a full disk) the
    run says so, as for any failed write."""
    try:
        ledger.close()
    except Exception as error:
        return _unexpected(error, ledger_path, log)
    return None


def _finish_run(
    ledger: Ledger,
    ledger_path: Path,
    log: EventLog,
    run_id: str,
    exit_code: int,
    summary: dict[str, object] | None,
    failure: AutotraderError | None,
) -> None:
    """Store the run's end in its ``runs`` row. On a disk still full the row keeps no end and no exit code (as
    after a crash) and the outcome is reported all the same: the message, not a second error's trace."""
    from autotrader.ledger import repo

    try:
        repo.finish_run(
            ledger,
            run_id=run_id,
            exit_code=exit_code,
            ended_at=datetime.now(UTC),
            summary=summary,
            error=failure.message if failure else None,
        )
    except Exception as error:
        storage = storage_failure(error, ledger_path)
        if storage is None:
            raise
        log.event("error", code=storage.code, message=f"the run's end was not recorded: {storage.message}")


def _refuse_time_travel(broker: Broker, at: datetime, dry_run: bool) -> None:
    if dry_run or broker.time_travel:
        return
    skew = abs(datetime.now(UTC) - at)
    if skew > MAX_REAL_BROKER_SKEW:
        raise SafetyRefusal(
            f"--as-of is {skew} away from now: a real broker trades only in the present",
            hint="use --dry-run to plan at another time, or `replay` to simulate the past",
        )


def _refuse_going_back(ledger: Ledger, command: str, at: datetime) -> None:
    from autotrader.errors import InputError
    from autotrader.ledger import repo

    latest = repo.latest_run(ledger, excluding=TIME_FREE_COMMANDS)
    if latest is None or at >= latest.as_of:
        return
    raise InputError(
        f"{command} at {at.isoformat()} is earlier than this ledger's latest run, {latest.command} at "
        f"{latest.as_of.isoformat()} (run {latest.run_id[:12]}, started {latest.started_at:%Y-%m-%d %H:%M} UTC): "
        "a ledger's time only moves forward",
        hint="use --dry-run to plan at an earlier time, `replay` to simulate the past, or an --as-of not before "
        f"{latest.as_of.isoformat()}",
    )


def _compact(report: Report | None) -> dict[str, object] | None:
    """What the runs row keeps of a report: counts and notes, not every line."""
    if report is None:
        return None
    return {
        "ok": report.ok,
        "orders": len(report.orders),
        "skipped": len(report.skipped),
        "notes": list(report.notes[:10]),
    }


def invoke_readonly(
    command: str,
    body: Callable[[Config, datetime, bool], Report],
    *,
    config_path: str | None,
    as_of: str | None,
    dry_run: bool,
) -> Outcome:
    """For commands that only read (``status``, ``config``): no lock, no runs row, no broker."""
    at: datetime | None = None
    try:
        at = parse_as_of(as_of) if as_of else datetime.now(UTC)
        config = load_config(config_path_from(config_path))
        report = body(config, at, dry_run)
    except AutotraderError as error:
        return Outcome(command, error.exit_code, error=error, as_of=at, dry_run=dry_run)
    except Exception as error:  # e.g. a corrupt ledger file: say so, exit 1, no traceback
        failure = AutotraderError(f"unexpected error: {type(error).__name__}: {error}")
        return Outcome(command, 1, error=failure, as_of=at, dry_run=dry_run)
    return Outcome(command, report.exit_code, report=report, as_of=at, dry_run=dry_run)
