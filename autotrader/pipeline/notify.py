"""Notifications after a run: its alerts (``policy.alerts``), each event sent once, never failing the run.

``after_run`` is called by the envelope (``context.invoke``) once the run's end is recorded, and by ``replay
--notify`` after each slot. It does nothing when ``[notify] urls`` is empty, or for ``replay`` and ``demo``
themselves: they simulate the past, and only ``replay --notify`` sends its slots' alerts (the owner's rehearsal).

Otherwise it reads the few facts a report does not carry (the fills the run recorded, the entries it left
waiting for approval; after the end of day, the previous close's equity and the held symbols' session volume),
decides the alerts (pure), drops those whose key (or a key that supersedes it: a deeper level of the same
position's loss) an earlier run already sent, and remembers the rest in the ledger's ``notifications`` *before*
sending: a crash mid-send never sends an event twice, and a failed send is logged (``notify_failed``), not
retried. Under ``--dry-run`` nothing is sent, and the run's notes say what would have been. Whatever goes wrong
in here is logged (``notify_error``): the run's exit code stands. A URL left out for an unset ``${NAME}`` is not
here at all (``Config.notify_problems``: the envelope logs ``notify_url_unusable``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from autotrader.pipeline.context import SIMULATING_COMMANDS

if TYPE_CHECKING:
    from autotrader.domain.reports import NotifyReport, RehydrateReport, Report
    from autotrader.errors import AutotraderError
    from autotrader.eventlog import EventLog
    from autotrader.ledger.db import Ledger
    from autotrader.pipeline.context import StepContext
    from autotrader.policy.alerts import Alert, Finished, SessionVolume
    from autotrader.ports import Delivery, MarketData
    from autotrader.settings import Config, NotifySection



@dataclass(frozen=True)
class RunEnd:
    """A run as the envelope saw it end."""

    command: str
    run_id: str
    as_of: datetime
    dry_run: bool
    exit_code: int
    report: Report | None
    error: AutotraderError | None = None


@dataclass(frozen=True)
class Notified:
    report: Report | None  # the run's report, with a note on what was sent (or, under --dry-run, held back)
    alerts: tuple[Alert, ...] = ()  # the new alerts
    deliveries: tuple[Delivery, ...] = ()

    @property
    def failed(self) -> int:
        return sum(not d.ok for d in self.deliveries)


def after_run(config: Config, ledger: Ledger, log: EventLog, ctx: StepContext | None, end: RunEnd) -> Notified:
    """The run's new alerts, sent. ``ctx`` is None when the run failed before its step started. A run with
    neither a report nor an error was torn down (a kill point, Ctrl-C): like kill -9, it says nothing."""
    torn_down = end.report is None and end.error is None
    if not config.notify_urls or end.command in SIMULATING_COMMANDS or torn_down:
        return Notified(end.report)
    try:
        return _notify(config, ledger, log, ctx.deps.market_data if ctx is not None else None, end)
    except Exception as error:  # a notification is never worth a run: its outcome is already recorded
        log.exception("notify_error", error)
        return Notified(end.report)


def after_slot(ctx: StepContext, report: Report) -> Notified:
    """``replay --notify``: one slot's alerts, as cron's run of that slot would have sent them."""
    end = RunEnd(ctx.command, ctx.run_id, ctx.now, ctx.dry_run, report.exit_code, report)
    return after_run(ctx.config, ctx.ledger, ctx.log, ctx, end)


def _notify(config: Config, ledger: Ledger, log: EventLog, market: MarketData | None, end: RunEnd) -> Notified:
    from autotrader.bootstrap import build_notifier
    from autotrader.ledger import repo
    from autotrader.policy.alerts import AlertRules, alerts_for, unsent

    settings = config.settings.notify
    rules = AlertRules(settings.large_loss_usd, settings.unusual_volume_multiple, settings.shadow)
    alerts = alerts_for(_finished(ledger, market, end, settings), rules)
    known = repo.notified(ledger, [key for a in alerts for key in (a.key, *a.supersedes)])
    fresh = unsent(alerts, known)
    if not fresh:
        return Notified(end.report)
    try:
        # Under --dry-run this is the in-memory snapshot: a replay's later dry slots see what earlier ones held.
        with ledger.write():
            repo.record_notifications(ledger, [(a.key, a.level.name, a.title) for a in fresh], run_id=end.run_id,
                                      now=end.as_of)  # fmt: skip
    except Exception as error:
        # Not remembered (a full disk, say): sent all the same, since a second copy later beats silence now.
        log.exception("notify_error", error)
    if end.dry_run:
        note = f"notifications: not sent under --dry-run ({len(fresh)}): " + "; ".join(a.title for a in fresh)
        return Notified(_noted(end.report, note), fresh)
    notifier = build_notifier(config)
    assert notifier is not None  # there are URLs
    deliveries = tuple(notifier.send([_dressed(a, log.mode, end) for a in fresh]))
    for d in deliveries:
        log.event("notified" if d.ok else "notify_failed", target=d.target, key=d.key, error=d.error)
    done = Notified(end.report, fresh, deliveries)
    note = f"notifications: {len(fresh)} alert(s), {len(deliveries) - done.failed} of {len(deliveries)} deliveries made"
    if done.failed:
        note += " (the failures are in the log: notify_failed)"
    return replace(done, report=_noted(end.report, note))


def _dressed(alert: Alert, mode: str, end: RunEnd) -> Alert:
    """The message as it goes out: which workspace's ledger it is about, and when."""
    from autotrader.exports.fmt import ny_time

    footer = f"{end.command} at {ny_time(end.as_of)}"
    return replace(alert, title=f"autotrader {mode}: {alert.title}", body=f"{alert.body}\n\n{footer}")


def _noted(report: Report | None, note: str) -> Report | None:
    return replace(report, notes=(*report.notes, note)) if report is not None else None


def _finished(ledger: Ledger, market: MarketData | None, end: RunEnd, settings: NotifySection) -> Finished:
    """The run with the facts its report does not carry."""
    from autotrader.clock import session_date_for
    from autotrader.domain.reports import RehydrateReport
    from autotrader.ledger import repo
    from autotrader.policy.alerts import Finished, WaitingApproval

    error = None if end.error is None else end.error.message + (f" ({end.error.hint})" if end.error.hint else "")
    run = Finished(end.command, end.run_id, session_date_for(end.as_of), end.exit_code, end.report, error=error)
    waiting = tuple(
        WaitingApproval(r["client_order_id"], r["symbol"], r["side"], r["qty"], r["book"], r["expires_at"])
        for r in repo.pending_approvals(ledger, run_id=end.run_id)
    )
    rehydrated = next(run.reports_of(RehydrateReport), None)
    if rehydrated is None:
        return replace(run, fills=tuple(repo.run_fills(ledger, end.run_id)), approvals=waiting)
    return replace(
        run,
        fills=tuple(repo.run_fills(ledger, end.run_id)),
        approvals=waiting,
        previous_equity=repo.equity_before(ledger, rehydrated.snapshot.session_date),
        volumes=_volumes(market, rehydrated, settings) if market is not None else (),
    )


def _volumes(market: MarketData, report: RehydrateReport, settings: NotifySection) -> tuple[SessionVolume, ...]:
    """Each held symbol's volume in the session the snapshot closed, and its average over the sessions before
    (``volume_average_sessions`` of them; at least five). Daily bars the end of day has read already."""
    from autotrader.policy.alerts import SessionVolume

    day = date.fromisoformat(report.snapshot.session_date)
    n = settings.volume_average_sessions
    start = day - timedelta(days=2 * n + 10)  # calendar days enough for n sessions, weekends and holidays
    out = []
    for symbol in sorted({p.symbol for p in report.snapshot.positions if p.qty > 0}):
        bars = market.daily_bars(symbol, start, day)
        if bars.empty or bars.index[-1].date() != day or len(bars) < 6:
            continue  # the session's bar is not in yet, or too little history to call anything unusual
        volume = bars["volume"]
        average = float(volume.iloc[-n - 1 : -1].mean())
        out.append(SessionVolume(symbol, day.isoformat(), float(volume.iloc[-1]), average))
    return tuple(out)


def test(config: Config, at: datetime, dry_run: bool) -> NotifyReport:
    """``notify test``: one message to each URL, whatever its level, each numbered by its place in ``[notify]
    urls``; exit 1 when any of them failed or was left out (an unset ``${NAME}``)."""
    from autotrader.bootstrap import build_notifier
    from autotrader.domain.enums import ExitCode
    from autotrader.domain.reports import NotifyReport, NotifyTargetResult, ReportDraft
    from autotrader.errors import InputError
    from autotrader.exports.fmt import ny_time
    from autotrader.policy.alerts import Alert, AlertLevel
    from autotrader.settings import mask_url

    notifier = build_notifier(config)
    if notifier is None and not config.notify_problems:
        raise InputError(
            "[notify] urls is empty: there is nothing to test",
            hint='add a URL to config.toml, e.g. [notify] urls = ["ntfys://ntfy.sh/${NTFY_TOPIC}"]',
        )
    draft = ReportDraft(command="notify test", as_of=at, dry_run=dry_run)
    mode = config.settings.mode_name
    alert = Alert(
        AlertLevel.INFO,
        f"test:{at.isoformat()}",
        f"autotrader {mode}: test message",
        f"`autotrader notify test` at {ny_time(at)}: this URL is reached. It gets the alerts at or above the level "
        "[notify] urls gives it.",
    )
    # An entry left out for an unset ${NAME} is listed where it stands, never sent and never counted as reached.
    targets = config.settings.notify.urls
    results = [
        NotifyTargetResult(p.index, mask_url(targets[p.index - 1].url), targets[p.index - 1].level, False,
                           f"left out: {', '.join(p.variables)} not set in the environment or the workspace's .env")
        for p in config.notify_problems
    ]  # fmt: skip
    failed = len(results)
    if dry_run:
        results += [NotifyTargetResult(u.index, u.label, u.level, False, "not sent (--dry-run)")
                    for u in config.notify_urls]  # fmt: skip
        draft.notes.append(f"{len(results)} URL(s) configured; nothing sent under --dry-run")
    else:
        deliveries = notifier.send([alert], every_url=True) if notifier is not None else []  # one per URL, in order
        results += [
            NotifyTargetResult(u.index, u.label, u.level, d.ok, d.error)
            for u, d in zip(config.notify_urls, deliveries, strict=True)
        ]
        failed = sum(not r.sent for r in results)
        draft.notes.append(f"{len(results) - failed} of {len(results)} URL(s) reached")
    if failed:
        draft.exit_code, draft.ok = ExitCode.FAILURE, False
    return draft.build(NotifyReport, targets=sorted(results, key=lambda r: r.index))


def replay_note(slots: Sequence[Notified], *, dry_run: bool) -> str:
    """``replay --notify``: what its slots sent (or, under --dry-run, would have)."""
    alerts = sum(len(s.alerts) for s in slots)
    if dry_run:
        return f"notifications: {alerts} alert(s) from the replayed slots, not sent under --dry-run"
    failed = sum(s.failed for s in slots)
    return f"notifications: {alerts} alert(s) from the replayed slots sent" + (
        f", {failed} deliveries failed (see the log: notify_failed)" if failed else ""
    )
