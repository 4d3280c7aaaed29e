"""``replay``: the crontab's schedule over past sessions, with a simulated clock and the simulated broker.

Every slot of every session in [start, end] runs ``run-daily`` exactly as cron would, through the same
step code, against ``ledger-replay.db`` (a scratch ledger that each replay starts afresh, in memory until the
replay ends; the mode's real ledger is never touched). Market data never returns a bar after the simulated
instant, so what the steps decide on a date cannot depend on later data.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from autotrader.clock import SimulatedClock
from autotrader.domain.enums import ExitCode
from autotrader.domain.reports import ReplayReport, Report, ReportDraft, RunDailyReport, ScorecardReport
from autotrader.errors import InputError
from autotrader.exports import fmt
from autotrader.ledger import repo
from autotrader.pipeline import run_daily
from autotrader.pipeline.context import Outcome, StepContext, invoke
from autotrader.pipeline.notify import Notified, after_slot, replay_note
from autotrader.pipeline.scorecard_panels import BENCHMARK
from autotrader.policy import performance
from autotrader.settings import Config, shown_overrides

REPLAY_MODE = "replay"


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: cannot read {text!r} as a date", hint="use YYYY-MM-DD") from None


def slot_instants(ctx: StepContext, start: date, end: date) -> list[datetime]:
    calendar = ctx.deps.calendar
    sessions = calendar.sessions_between(start, end)
    return [calendar.at_et(day, hhmm) for day in sessions for hhmm in ctx.settings.schedule.times]


def validate_range(ctx: StepContext, start: date, end: date) -> None:
    if end < start:
        raise InputError(f"--end {end} is before --start {start}")
    if not ctx.deps.calendar.sessions_between(start, end):
        raise InputError(f"no NYSE session between {start} and {end}")
    last_slot = slot_instants(ctx, start, end)[-1]
    if last_slot > ctx.now:
        raise InputError(
            f"--end {end}: replay covers past sessions only (its last slot, {last_slot:%Y-%m-%d %H:%M} UTC, "
            f"is after {ctx.now:%Y-%m-%d %H:%M} UTC)",
            hint="pick an earlier --end, or a later --as-of",
        )


def run(
    ctx: StepContext,
    start: date,
    end: date,
    *,
    before_slot: Callable[[StepContext, int], None] | None = None,
    html: Path | None = None,
    notify: bool = False,
    progress: Callable[[int, int], None] | None = None,
    full: bool = False,
    score: bool = True,
) -> ReplayReport:
    """Replay [start, end]; ``ctx`` must carry a SimulatedClock and the replay ledger.

    ``before_slot(ctx, i)`` runs at each slot's instant before its steps: how tests and benchmarks put
    orders into the simulated past without a step that makes them. ``html``: also write the replay's page
    (equity and drawdown against SPY, the trades, the replayed signals' scorecard). ``notify``: send each slot's
    alerts as cron's run of it would have (``pipeline.notify``; the replay itself announces nothing).
    ``progress(done, total)`` is told of each slot run (the terminal's progress bar). ``full``: every step of
    every slot exactly as cron runs it; by default the replay leaves what only the scorecard reads (the
    signals' outcomes) to its end, and its syncs read the simulated broker's order changes instead of listing its
    orders: the same orders placed, the same equity at the end, faster. ``score``:
    end with the scorecard of the replayed signals (``compare`` reads the trades instead, and skips it).
    """
    validate_range(ctx, start, end)
    clock = ctx.deps.clock
    # replay always runs on a simulated clock (invoke's simulated_clock): it moves the clock slot by slot.
    assert isinstance(clock, SimulatedClock)
    instants = slot_instants(ctx, start, end)
    sessions = ctx.deps.calendar.sessions_between(start, end)
    started = time.perf_counter()
    slots_run = 0
    exit_code: int = ExitCode.OK
    failed_at: str | None = None
    notes: list[str] = []
    announced: list[Notified] = []
    for i, at in enumerate(instants):
        clock.set(at)
        slot_ctx = replace(ctx, command="run-daily", run_id=uuid.uuid4().hex, replaying=True, outcomes_at_end=not full,
                           order_changes=not full)  # fmt: skip
        if before_slot is not None:
            before_slot(slot_ctx, i)
        slot_report = _recorded(slot_ctx)
        if notify:
            announced.append(after_slot(slot_ctx, slot_report))
        slots_run += 1
        if progress is not None:
            progress(slots_run, len(instants))
        if slot_report.exit_code != ExitCode.OK:
            exit_code = slot_report.exit_code
            failed_at = at.isoformat()
            notes.extend(slot_report.notes)
            break
    elapsed = time.perf_counter() - started
    if notify:
        notes.append(replay_note(announced, dry_run=ctx.dry_run))
    account = ctx.deps.broker.account()
    report = ctx.report()
    report.exit_code = exit_code
    report.ok = exit_code == ExitCode.OK
    report.notes.extend(notes)
    counts = repo.counts(ctx.ledger)
    report.fields.update(
        {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "sessions": len(sessions),
            "slots": slots_run,
            "seconds": round(elapsed, 3),
            "sessions_per_second": round(len(sessions) / elapsed, 2) if elapsed > 0 else None,
            "final_equity": round(account.equity, 2),
            "final_cash": round(account.cash, 2),
            "orders_total": counts["orders_total"],
            "fills_total": counts["fills_total"],
            "failed_at": failed_at,
            "overrides": shown_overrides(ctx.config.overrides),
        }
    )
    report.notes.insert(
        0, f"replayed {len(sessions)} sessions ({slots_run} slots) from {start} to {end} in {elapsed:.2f}s"
    )
    if ctx.config.overrides:
        report.notes.insert(1, overrides_note(report.fields["overrides"]))
    paths = equity_paths(ctx, start, end)
    comparison = performance.compare(paths.equity, paths.benchmark)
    if comparison is not None:
        report.fields["performance"] = performance.comparison_fields(comparison)
        report.notes.append(summary_line(comparison))
    if exit_code == ExitCode.OK and score:
        card = _append_scorecard(ctx, report, curves=html is not None)
        if html is not None:
            report.fields["html"] = str(_write_page(ctx, html, report, card, paths))
            report.notes.append(f"wrote {report.fields['html']}")
    return report.build(ReplayReport)


@dataclass(frozen=True)
class EquityPaths:
    equity: pd.Series  # by session date: the starting cash on the session before the first, then each snapshot
    benchmark: pd.Series | None  # SPY's closes over the same span


def equity_paths(ctx: StepContext, start: date, end: date) -> EquityPaths:
    """The replay's account from its starting cash (at the close before its first session, when nothing was
    held) through every evening's snapshot, and SPY's closes over the same sessions."""
    calendar = ctx.deps.calendar
    before = calendar.previous_session(start)
    values = {before.isoformat(): ctx.settings.broker.starting_cash}
    values |= {s.session_date: s.equity for s in repo.snapshots(ctx.ledger, until=end.isoformat())
               if s.session_date >= start.isoformat()}  # fmt: skip
    equity = pd.Series(values, dtype="float64")
    equity.index = pd.to_datetime(equity.index)
    bars = ctx.deps.market_data.daily_bars(BENCHMARK, before, end)
    return EquityPaths(equity, None if bars.empty else bars["close"])


def overrides_note(overrides: dict[str, object]) -> str:
    """What a what-if replay changed, said where its results are read: they are not the config's."""
    changes = ", ".join(f"{key} = {json.dumps(value)}" for key, value in overrides.items())
    return f"what-if: ran with --set {changes} (this replay only; the config file is unchanged)"


def summary_line(c: performance.Comparison) -> str:
    """The line a backtester's user looks for: return, CAGR, drawdown and Sharpe, against SPY alike."""
    a, b = c.account, c.benchmark
    line = (
        f"total return {fmt.pct(a.total_return, signed=True)}, CAGR {fmt.pct(a.cagr, signed=True)}, max drawdown "
        f"{fmt.pct(a.max_drawdown)}, Sharpe {fmt.ratio(a.sharpe)} over {a.sessions} sessions"
    )
    if b is not None:
        line += (
            f"; SPY {fmt.pct(b.total_return, signed=True)}, CAGR {fmt.pct(b.cagr, signed=True)}, max drawdown "
            f"{fmt.pct(b.max_drawdown)}, Sharpe {fmt.ratio(b.sharpe)}"
        )
    return line


def _append_scorecard(ctx: StepContext, report: ReportDraft, *, curves: bool) -> ScorecardReport:
    """End with the scorecard of everything the replay imported and traded, at its last instant."""
    from autotrader.pipeline import scorecard

    card = scorecard.run(ctx, scorecard.Filters(), curves=curves)
    report.fields.update(
        rows=card.rows,
        calibration=card.calibration,
        horizons=card.horizons,
        primary_horizon=card.primary_horizon,
        signals_total=card.signals_total,
    )
    report.notes.extend(card.notes)
    return card


def _write_page(
    ctx: StepContext, path: Path, report: ReportDraft, card: ScorecardReport, paths: EquityPaths
) -> Path:
    from autotrader.domain.reports import plain_json
    from autotrader.exports import replay as page
    from autotrader.pipeline.scorecard import page_facts

    return page.write_html(
        path,
        plain_json(report.fields),
        card,
        paths.equity,
        paths.benchmark,
        repo.trade_reviews(ctx.ledger),
        page_facts(ctx, f"replay {report.fields['start']} to {report.fields['end']}"),
    )


def _recorded(ctx: StepContext) -> RunDailyReport:
    """One slot as cron would run it: a runs row with its exit code, in the replay ledger."""
    if not ctx.dry_run:
        repo.start_run(
            ctx.ledger,
            run_id=ctx.run_id,
            command=ctx.command,
            as_of=ctx.now,
            mode=ctx.log.mode,
            dry_run=False,
            started_at=ctx.now,
        )
    report = run_daily.run(ctx)
    if not ctx.dry_run:
        repo.finish_run(
            ctx.ledger,
            run_id=ctx.run_id,
            exit_code=report.exit_code,
            ended_at=ctx.now,
            summary={"slot": report.slot, "orders": len(report.orders)},
            error=None,
        )
    return report


def discard_previous(config: Config, mode: str = REPLAY_MODE) -> None:
    """Each replay starts from an empty scratch ledger: remove the previous replay's file (and WAL files)."""
    path = config.ledger_path_for(mode)
    for suffix in ("", "-wal", "-shm"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()


def invoke_replay(
    command: str,
    body: Callable[[StepContext], Report],
    *,
    config_path: str | None,
    as_of: str | None,
    dry_run: bool = False,
    ledger_mode: str = REPLAY_MODE,
    prepare: Callable[[Config], None] | None = discard_previous,
    **options: Any,
) -> Outcome:
    """``invoke`` as every replay runs: the simulated broker and a simulated clock, a scratch ledger in memory,
    written to its file when the replay ends (``open_ledger(durable=False)``), started afresh (``prepare``; by
    default the last replay's ledger is deleted, None removes nothing, as a dry run needs). ``options``: the rest
    of ``invoke``'s (``fresh``, ``load``, ``lock_path``)."""
    return invoke(
        command,
        body,
        config_path=config_path,
        as_of=as_of,
        dry_run=dry_run,
        ledger_mode=ledger_mode,
        force_sim=True,
        simulated_clock=True,
        durable=False,
        prepare=prepare,
        **options,
    )
