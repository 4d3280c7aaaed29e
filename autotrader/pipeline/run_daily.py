"""``run-daily``: one cron slot, every step it calls for, in one process under one lock.

The slot comes from the clock and the calendar (``policy.schedule``). Steps run in order; once a step
reports a broker/ledger disagreement (exit 3) no buying step runs after it (exits still do), and order
steps outside the session are skipped with the reason (exit 0: "market closed" is not a failure).

A step that fails part-way (a broker or data error after its retries, a bug) does not take the slot's
table with it: its row says it failed, with what, and lists the orders it had already stored in this run
(read back from the ledger: an order sent before the failure is never missing from the output); no buying
step runs after it, the other steps still do, and the run exits with the failure's code.
"""

from __future__ import annotations

from autotrader.domain.enums import ExitCode
from autotrader.domain.reports import RunDailyReport, SessionState, StepRun
from autotrader.errors import AutotraderError
from autotrader.ledger import repo
from autotrader.ledger.db import storage_failure
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import intent_line
from autotrader.pipeline.steps import STEPS, switched_off
from autotrader.policy.kill_switch import without_halt_note
from autotrader.policy.schedule import BUYING_STEPS, ORDER_STEPS, slot_for


def run(ctx: StepContext) -> RunDailyReport:
    now = ctx.now
    state = ctx.session
    slot = slot_for(now, state)
    report = ctx.report()
    session = SessionState(
        open=state.is_open,
        reason=state.reason,
        session_date=state.session_date.isoformat() if state.session_date else None,
    )
    steps_out: list[StepRun] = []
    halted = False
    failed = False
    for name in slot.steps:
        off = switched_off(ctx.settings, name)
        if off is not None:
            steps_out.append(StepRun(command=name, ok=True, ran=False, reason=off))
            continue
        closed = name in ORDER_STEPS and slot.name not in ("intraday", "premarket")
        if closed or (name in BUYING_STEPS and (halted or failed)):
            why = (
                f"market closed ({state.reason})"
                if closed
                else "an earlier step failed"
                if failed
                else "buying halted by an earlier step"
            )
            steps_out.append(StepRun(command=name, ok=True, ran=False, reason=why))
            report.notes.append(f"{name}: nothing to do, {why}")
            continue
        before = repo.intents_mark(ctx.ledger)
        try:
            step_report = STEPS[name](ctx)
        except Exception as error:
            if storage_failure(error, ctx.ledger.path or ctx.config.ledger_path) is not None:
                raise  # a full or failing disk: nothing more can be recorded; the envelope says so (exit 74)
            row = _failed_step(ctx, name, error, before)
            steps_out.append(row)
            report.orders.extend(row.orders)
            report.notes.append(f"{name}: {row.notes[0] if row.notes else 'failed'}")
            if report.exit_code == ExitCode.OK:
                report.exit_code, report.ok = ExitCode(row.exit_code or ExitCode.FAILURE), False
            failed = True
            continue
        notes = without_halt_note(step_report.notes)
        steps_out.append(
            StepRun(
                command=name,
                ok=step_report.ok,
                ran=True,
                exit_code=step_report.exit_code,
                orders=step_report.orders,
                skipped=step_report.skipped,
                notes=notes,
                report=step_report,
            )
        )
        report.orders.extend(step_report.orders)
        report.skipped.extend(step_report.skipped)
        report.notes.extend(f"{name}: {note}" for note in notes)
        if step_report.exit_code != ExitCode.OK and report.exit_code == ExitCode.OK:
            report.exit_code = step_report.exit_code
            report.ok = False
        if step_report.exit_code == ExitCode.HALTED:
            halted = True
    if not state.is_open:
        report.notes.insert(0, f"market {('closed: ' + state.reason) if state.session_date is None else state.reason}")
    return report.build(RunDailyReport, slot=slot.name, session=session, steps=steps_out)


def _failed_step(ctx: StepContext, name: str, error: Exception, before: int) -> StepRun:
    """The table row of a step that raised: why, and the orders it had stored in this run before it did."""
    if isinstance(error, AutotraderError):
        code, message = error.exit_code, error.message + (f" ({error.hint})" if error.hint else "")
        ctx.log.event("step_failed", step=name, code=error.code, message=error.message, exit_code=int(code))
    else:  # a bug: the trace goes to the log, the slot's table still comes out
        code, message = ExitCode.FAILURE, f"unexpected error: {type(error).__name__}: {error} (see the log)"
        ctx.log.exception("step_crash", error)
    stored = repo.run_intents(ctx.ledger, ctx.run_id, after=before)
    return StepRun(
        command=name,
        ok=False,
        ran=True,
        exit_code=int(code),
        orders=tuple(intent_line(row) for row in stored),
        notes=(f"failed: {message}",),
    )
