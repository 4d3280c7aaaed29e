"""``run-daily``: one cron slot, every step it calls for, in one process under one lock.

The slot comes from the clock and the calendar (``policy.schedule``). Steps run in order; once a step
reports a broker/ledger disagreement (exit 3) no buying step runs after it (exits still do), and order
steps outside the session are skipped with the reason (exit 0: "market closed" is not a failure).
"""

from __future__ import annotations

from autotrader.domain.enums import ExitCode
from autotrader.domain.reports import RunDailyReport, SessionState, StepRun
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.steps import STEPS
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
    for name in slot.steps:
        closed = name in ORDER_STEPS and slot.name not in ("intraday", "premarket")
        if closed or (name in BUYING_STEPS and halted):
            why = f"market closed ({state.reason})" if closed else "buying halted by an earlier step"
            steps_out.append(StepRun(command=name, ok=True, ran=False, reason=why))
            report.notes.append(f"{name}: nothing to do, {why}")
            continue
        step_report = STEPS[name](ctx)
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
