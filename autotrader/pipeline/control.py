"""``halt`` and ``resume``: the owner's kill switch and the end of the losing-streak pause, kept in the ledger.

Each is one small write: gather what the ledger holds, plan the new state (pure), apply it. Both are
idempotent: halting a halted ledger keeps the time it was first halted (and takes the new reason and scope),
resuming a ledger that is not halted changes nothing. What a halt holds back is ``policy.kill_switch``'s
business, enforced by the order gateway for every step.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from autotrader.domain.enums import Breaker
from autotrader.domain.models import Halt
from autotrader.domain.reports import ControlReport, ReportDraft
from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext


def plan_halt(current: Halt | None, *, reason: str, exits: bool, now: datetime, run_id: str) -> Halt:
    """The kill switch after ``halt``: a halt already in force keeps its start, with the new reason and scope."""
    if current is not None:
        return replace(current, reason=reason, exits=exits)
    return Halt(reason=reason, exits=exits, since=now, run_id=run_id)


def halt(ctx: StepContext, *, reason: str, exits: bool) -> ControlReport:
    current = repo.current_halt(ctx.ledger)
    planned = plan_halt(current, reason=reason, exits=exits, now=ctx.now, run_id=ctx.run_id)
    with ctx.ledger.write():
        repo.set_halt(ctx.ledger, planned)
    ctx.log.event("halted", reason=planned.reason, exits=planned.exits, since=planned.since.isoformat())
    report = ctx.report()  # after the write: its first note is the halt now in force
    if current is not None:
        report.notes.append(f"already halted since {current.since:%Y-%m-%d %H:%M} UTC: reason and scope updated")
    report.notes.append("`autotrader resume` lifts it; orders already at the broker are left as they are")
    return _build(ctx, report, planned, current)


def resume(ctx: StepContext, *, breaker: Breaker | None) -> ControlReport:
    current = repo.current_halt(ctx.ledger)
    with ctx.ledger.write():
        if breaker == Breaker.STREAK:
            repo.set_streak_reset(ctx.ledger, ctx.now)
        elif current is not None:
            repo.clear_halt(ctx.ledger)
    report = ctx.report()
    if breaker == Breaker.STREAK:
        ctx.log.event("breaker_reset", breaker="streak")
        report.notes.append("losing-streak pause ended: only trades closed from now on count toward a streak")
    elif current is None:
        report.notes.append("not halted: nothing to resume")
    else:
        ctx.log.event("resumed", halted_since=current.since.isoformat())
        report.notes.append(
            f"resumed: halted since {current.since:%Y-%m-%d %H:%M} UTC ({current.reason}); orders held back go out "
            "with the next run if still inside their window"
        )
    return _build(ctx, report, repo.current_halt(ctx.ledger), current)


def _build(ctx: StepContext, report: ReportDraft, after: Halt | None, before: Halt | None) -> ControlReport:
    reset = repo.streak_reset_at(ctx.ledger)
    return report.build(
        ControlReport,
        halt=_state(after),
        was=_state(before),
        streak_reset_at=repo.utc_iso(reset) if reset is not None else None,
    )


def _state(halt: Halt | None) -> dict[str, object] | None:
    if halt is None:
        return None
    return {"reason": halt.reason, "exits": halt.exits, "since": repo.utc_iso(halt.since), "run_id": halt.run_id}
