"""``approvals``, ``approve`` and ``reject``: the owner's answers to entries waiting at the approval gate.

Answering only records the answer: the next run's gateway sends an approved entry inside its window (or
abandons it once that has passed), abandons a rejected one, and gives up on one whose approval expired
(``policy.approval``). Nothing here talks to the broker, so no answer, rerun or crash can send an order twice.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from autotrader.domain.enums import IntentStatus
from autotrader.domain.models import OrderIntent
from autotrader.domain.reports import ApprovalsReport, ReportDraft
from autotrader.errors import InputError
from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext


def request_approval(ctx: StepContext, intent: OrderIntent) -> None:
    """Inside the caller's transaction, with the intent it gates: asked for at most ``[approval]
    expiry_minutes``, and never past the order's own window."""
    asked = ctx.now + timedelta(minutes=ctx.settings.approval.expiry_minutes)
    until = min(asked, intent.expires_at) if intent.expires_at is not None else asked
    repo.request_approval(ctx.ledger, intent.client_order_id, now=ctx.now, expires_at=until)


def awaiting(ctx: StepContext) -> list[dict[str, Any]]:
    """The entries still awaiting the owner's answer (``PendingApproval`` rows), oldest first."""
    out = []
    for row in repo.pending_approvals(ctx.ledger):
        out.append({
            "client_order_id": row["client_order_id"], "symbol": row["symbol"], "side": row["side"],
            "qty": row["qty"], "type": row["type"], "book": row["book"], "signal_id": row["signal_id"],
            "requested_at": row["requested_at"], "expires_at": row["expires_at"],
            "expired": repo.utc_iso(ctx.now) >= row["expires_at"],
            "trace": json.loads(row["trace_json"]) if row["trace_json"] else None,
        })  # fmt: skip
    return out


def _build(ctx: StepContext, report: ReportDraft, decided: list[str]) -> ApprovalsReport:
    return report.build(ApprovalsReport, pending=awaiting(ctx), decided=decided)


def list_pending(ctx: StepContext) -> ApprovalsReport:
    report = ctx.report()
    pending = awaiting(ctx)
    report.notes.append(f"{len(pending)} entr{'y' if len(pending) == 1 else 'ies'} awaiting approval")
    return _build(ctx, report, [])


def approve(ctx: StepContext, *, ident: str | None, every: bool) -> ApprovalsReport:
    report = ctx.report()
    waiting = {p["client_order_id"]: p for p in awaiting(ctx)}
    targets = [cid for cid, p in waiting.items() if not p["expired"]] if every else [_known(ctx, ident)]
    decided = []
    with ctx.ledger.write():
        for cid in targets:
            if cid not in waiting or waiting[cid]["expired"]:
                report.notes.append(f"{cid}: no longer awaiting approval (answered, expired or abandoned)")
                continue
            repo.decide_approval(ctx.ledger, cid, "approved", now=ctx.now)
            decided.append(cid)
    for cid in decided:
        ctx.log.event("approved", client_order_id=cid)
    report.notes.append(f"{len(decided)} approved: the next run sends them, inside their window")
    return _build(ctx, report, decided)


def reject(ctx: StepContext, *, ident: str, reason: str) -> ApprovalsReport:
    report = ctx.report()
    cid = _known(ctx, ident)
    with ctx.ledger.write():
        done = repo.decide_approval(ctx.ledger, cid, "rejected", now=ctx.now, reason=reason)
        intent = repo.get_intent(ctx.ledger, cid)
        if done and intent is not None and intent["status"] == IntentStatus.PLANNED:
            repo.transition_intent(
                ctx.ledger, cid, IntentStatus.ABANDONED, now=ctx.now, error_message=f"rejected by the owner: {reason}"
            )
    if done:
        ctx.log.event("rejected", client_order_id=cid, reason=reason)
        report.notes.append(f"{cid}: rejected ({reason}); never sent")
    else:
        report.notes.append(f"{cid}: no longer awaiting approval, nothing changed")
    return _build(ctx, report, [cid] if done else [])


def _known(ctx: StepContext, ident: str | None) -> str:
    if ident is None or repo.approval(ctx.ledger, ident) is None:
        raise InputError(f"no entry awaiting approval has the id {ident!r}", hint="`autotrader approvals` lists them")
    return ident
