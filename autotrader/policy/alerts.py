"""What a finished run announces. Pure.

``alerts_for`` turns a run as it ended (``Finished``: its typed report, or its exit code and error message when
it ended without one, and a few facts the pipeline read from the ledger) into alerts. Each event is one small
function in ``RULES``, tried in order; every rule reads the whole run and yields its alerts, so a rule is added,
moved or tested on its own.

Every alert has a ``key`` that names the event, not the run that saw it: the notifier remembers the keys it has
sent and never sends one twice. So a breaker that stops entries in three runs of a session is one message (its
key is the breaker and the session), a large loss on position P is one message when it crosses the limit and
one more each time it doubles past the level last announced (``loss_level``), and the same failure repeated slot
after slot (the same command, exit code and message) is one message per session. Events that list many items
(orders, rejected files, approvals waiting) are one message per run, keyed by the items they list.

Levels: CRITICAL for a run that failed (exit 1), stopped buying on a broker/ledger disagreement (exit 3) or could
not write the ledger (exit 74); WARNING for a connection problem (exit 75, the run's or a step's), a breaker that
tripped, a halt and a resume, a rejected inbox file, a large loss and a source whose edge broke; INFO for orders
sent and filled, entries waiting for approval, unusual volume, the end-of-day summary and the shadow summary.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import TypeVar

from autotrader.domain.enums import BREAKER_GATES, ExitCode, IntentStatus
from autotrader.domain.models import Fill
from autotrader.domain.reports import (
    ControlReport,
    ManagedPosition,
    ManageReport,
    RehydrateReport,
    Report,
    RunDailyReport,
    ScanReport,
    ScorecardReport,
    SizeReport,
    SizeSkip,
)
from autotrader.exports.fmt import count, ny_time, pct, ratio, sig, usd

R = TypeVar("R", bound=Report)


class AlertLevel(IntEnum):
    """How serious an alert is; a URL takes the alerts at or above its level."""

    INFO = 20
    WARNING = 30
    CRITICAL = 40


@dataclass(frozen=True)
class Alert:
    level: AlertLevel
    key: str  # the event: sent once, whichever runs see it
    title: str
    body: str
    supersedes: tuple[str, ...] = ()  # keys of events that make this one old news: once one is sent, it is not


@dataclass(frozen=True)
class AlertRules:
    """The thresholds of the ``[notify]`` settings."""

    large_loss_usd: float = 2500.0
    unusual_volume_multiple: float = 3.0
    shadow: bool = False


# -- the facts a run's report does not carry, read from the ledger (and the market data) by the pipeline ----------


@dataclass(frozen=True)
class WaitingApproval:
    client_order_id: str
    symbol: str
    side: str
    qty: float
    book: str
    expires_at: str


@dataclass(frozen=True)
class SessionVolume:
    """A held symbol's volume in the session just closed, against its average over the sessions before."""

    symbol: str
    session_date: str
    volume: float
    average: float


@dataclass(frozen=True)
class Finished:
    """A run as it ended."""

    command: str
    run_id: str
    session_date: str  # the New York date of the run's instant
    exit_code: int
    report: Report | None
    error: str | None = None  # the failure's message, when the run ended with an error and no report
    fills: tuple[Fill, ...] = ()  # the fills this run recorded
    approvals: tuple[WaitingApproval, ...] = ()  # the entries this run left waiting for the owner's approval
    volumes: tuple[SessionVolume, ...] = ()  # after the end of day: the held symbols' session volume
    previous_equity: float | None = None  # the last end-of-day equity before this session's

    def reports(self) -> tuple[Report, ...]:
        """The run's report and, for ``run-daily``, the report of each step it ran."""
        if self.report is None:
            return ()
        if isinstance(self.report, RunDailyReport):
            return (self.report, *(step.report for step in self.report.steps if step.report is not None))
        return (self.report,)

    def reports_of(self, kind: type[R]) -> Iterator[R]:
        """The run's reports (``reports``) of one kind."""
        return (report for report in self.reports() if isinstance(report, kind))


Rule = Callable[[Finished, AlertRules], Iterable[Alert]]

#: How many lines an alert lists before "and N more": a message is read on a phone.
MAX_LINES = 15


def _digest(items: Iterable[object]) -> str:
    return hashlib.sha256("\x1f".join(map(str, items)).encode()).hexdigest()[:16]


def _lines(lines: Sequence[str]) -> str:
    shown = list(lines[:MAX_LINES])
    if len(lines) > MAX_LINES:
        shown.append(f"… and {len(lines) - MAX_LINES} more")
    return "\n".join(shown)


def _shares(qty: float) -> str:
    """A share quantity as written on an order: whole shares without decimals, fractions to four places."""
    return f"{qty:,.4f}".rstrip("0").rstrip(".")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{count(n)} {one if n == 1 else (many or one + 's')}"


# -- failures --------------------------------------------------------------------------------------------------

_FAILURE_TITLES = {
    ExitCode.FAILURE: "{command} failed (exit 1)",
    ExitCode.HALTED: "{command}: broker and ledger disagree, buying halted (exit 3)",
    ExitCode.STORAGE: "{command} could not write the ledger (exit 74)",
}


def _failure_lines(run: Finished, code: int) -> list[str]:
    """What went wrong: the error, else the notes of the steps that ended with ``code``, else the run's notes."""
    if run.error is not None:
        return [run.error]
    report = run.report
    if isinstance(report, RunDailyReport):
        steps = [f"{s.command}: {note}" for s in report.steps if s.exit_code == code for note in (s.notes or ())]
        if steps:
            return steps
    return list(report.notes) if report is not None else []


def _failure(run: Finished, code: int, level: AlertLevel, title: str) -> Alert:
    lines = _failure_lines(run, code)
    # The same failure slot after slot is one message a session; a new message is a new failure.
    key = f"exit:{code}:{run.command}:{run.session_date}:{_digest(lines)}"
    return Alert(level, key, title, _lines(lines) or "no message: see the day's log")


def failed_run(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    title = _FAILURE_TITLES.get(run.exit_code)  # type: ignore[call-overload]
    if title is not None:
        yield _failure(run, run.exit_code, AlertLevel.CRITICAL, title.format(command=run.command))


def connection_problem(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    """A run that exits 75, or a step of it that did (a later step's failure may have set the run's code)."""
    report = run.report
    stepped = isinstance(report, RunDailyReport) and any(s.exit_code == ExitCode.TEMPORARY for s in report.steps)
    if run.exit_code == ExitCode.TEMPORARY or stepped:
        title = f"connection problem: {run.command} (exit 75, safe to rerun)"
        yield _failure(run, ExitCode.TEMPORARY, AlertLevel.WARNING, title)


# -- the owner's controls and the breakers ----------------------------------------------------------------------


def halt_and_resume(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    report = run.report
    if not isinstance(report, ControlReport):
        return
    if run.command == "halt" and report.halt is not None:
        halt = report.halt
        scope = "no order at all is sent" if halt.exits else "no entry, dip-buy or rebalance order is sent"
        body = f"since {ny_time(halt.since)}: {scope}; `autotrader resume` lifts it"
        # Halting again (a new reason) keeps the halt's start: the same halt, not a new message.
        yield Alert(AlertLevel.WARNING, f"halt:{halt.since}", f"halted: {halt.reason}", body)
    if run.command == "resume" and report.was is not None and report.halt is None:
        was = report.was
        body = (
            f"halted since {ny_time(was.since)} ({was.reason}); orders held back go out with the next run if "
            "still inside their window"
        )
        yield Alert(AlertLevel.WARNING, f"resume:{was.since}", "resumed: the kill switch is off", body)
    reset = report.streak_reset_at
    if run.command == "resume" and reset is not None and datetime.fromisoformat(reset) == report.as_of:
        body = "only trades closed from now on count toward a losing streak"
        yield Alert(AlertLevel.WARNING, f"resume:streak:{reset}", "resumed: losing-streak pause ended", body)


#: The size gates that are circuit breakers (they stop every new entry while they hold), and their names.
BREAKERS = {gate: words for gate, _, words in BREAKER_GATES}


def breakers(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    """A breaker that stopped a signal: the last step of the skip's trace is that gate, and it skipped."""
    tripped: dict[str, list[SizeSkip]] = {}
    for report in run.reports_of(SizeReport):
        for skip in report.skipped:
            last = skip.trace[-1] if skip.trace else {}
            if last.get("name") in BREAKERS and str(last.get("effect", "")).startswith("skip:"):
                tripped.setdefault(str(last["name"]), []).append(skip)
    for name, skips in tripped.items():
        symbols = ", ".join(sorted({s.symbol for s in skips}))
        body = f"{skips[0].reason}\n{_plural(len(skips), 'new signal')} not bought: {symbols}"
        # Once a session: a breaker that holds for several runs (or days) is announced once each session.
        title = f"breaker tripped: {BREAKERS[name]}"
        yield Alert(AlertLevel.WARNING, f"breaker:{name}:{run.session_date}", title, body)


# -- signals and positions --------------------------------------------------------------------------------------


def rejected_files(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    rejected = [r for report in run.reports_of(ScanReport) for r in report.rejected]
    if not rejected:
        return
    lines = [f"{r.origin}: {r.reason}" + (f" (moved to {r.moved_to})" if r.moved_to else "") for r in rejected]
    key = "rejected:" + _digest(sorted(f"{r.origin}|{r.reason}" for r in rejected))
    title = (
        f"{_plural(len(rejected), 'inbox file')} rejected: nothing of {'it' if len(rejected) == 1 else 'them'} imported"
    )
    yield Alert(AlertLevel.WARNING, key, title, _lines(lines))


def loss_level(loss: float, limit: float) -> int:
    """How many limits deep an unrealized ``loss`` (dollars, positive) is, in powers of two: 0 under the limit,
    then 1 (from 1× the limit), 2 (from 2×), 4 (from 4×), 8 ... A position is announced once per level."""
    multiple = math.floor(loss / limit) if loss > 0 else 0
    return 1 << (multiple.bit_length() - 1) if multiple >= 1 else 0


def _deeper(key: str, level: int, p: ManagedPosition, limit: float) -> tuple[str, ...]:
    """The keys of every level past ``level`` the position could still reach (its loss cannot pass its cost)."""
    deepest = loss_level(p.avg_cost * p.qty, limit)
    out, n = [], 2 * level
    while n <= deepest:
        out.append(f"loss:{key}:{n}")
        n *= 2
    return tuple(out)


def large_losses(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    """An open position whose unrealized loss at a step's price is beyond ``large_loss_usd``: once per position
    when it first crosses the limit, then again only each time the loss doubles past the level last announced
    (``loss_level``). The key holds the level; the keys of the levels above it supersede it, so a position that
    fell straight to 4× is not announced again at 2× on its way back. Of the steps that price a position in one
    run (profittake, dipbuy), the deepest loss speaks."""
    worst: dict[str, tuple[float, float, ManageReport, ManagedPosition]] = {}
    for report in run.reports_of(ManageReport):
        for p in report.positions:
            if p.price is None or p.qty <= 0:
                continue
            pnl = (p.price - p.avg_cost) * p.qty
            if p.position_key not in worst or pnl < worst[p.position_key][0]:
                worst[p.position_key] = (pnl, p.price, report, p)
    limit = rules.large_loss_usd
    for key, (pnl, price, report, p) in worst.items():
        level = loss_level(-pnl, limit)
        if level == 0:
            continue
        beyond = f"the {usd(limit)} limit" if level == 1 else f"{level}× the {usd(limit)} limit"
        body = (
            f"{_shares(p.qty)} shares ({report.book} book) bought at {usd(p.avg_cost, cents=True)}, now "
            f"{usd(price, cents=True)} ({pct(price / p.avg_cost - 1, signed=True)}): unrealized "
            f"{usd(pnl)}, beyond {beyond}; announced again only if the loss passes {usd(2 * level * limit)}"
        )
        title = f"large loss: {p.symbol} {usd(pnl)}"
        yield Alert(AlertLevel.WARNING, f"loss:{key}:{level}", title, body, _deeper(key, level, p, limit))


def edge_broke(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    """A source whose stability check (CUSUM on its abnormal returns) raised an alarm."""
    for report in run.reports_of(ScorecardReport):
        for row in report.stability or ():
            if row.alarm_date is None:
                continue
            body = (
                f"its abnormal returns dropped from the entries of {row.alarm_date} on "
                f"(CUSUM statistic {sig(row.alarm_statistic)}); "
                f"mean over the last {row.window} entry sessions {pct(row.last, signed=True)}, "
                f"{_plural(row.signals, 'signal')}: see `autotrader scorecard --source {row.source}`"
            )
            title = f"edge broke: {row.source}"
            yield Alert(AlertLevel.WARNING, f"edge:{row.source}:{row.alarm_date}", title, body)


def approvals_waiting(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    if not run.approvals:
        return
    lines = [
        f"{a.side} {_shares(a.qty)} {a.symbol} ({a.book}) until {ny_time(a.expires_at)}: "
        f"`autotrader approve {a.client_order_id}`"
        for a in run.approvals
    ]
    key = "approvals:" + _digest(sorted(a.client_order_id for a in run.approvals))
    title = f"{_plural(len(run.approvals), 'entry', 'entries')} waiting for your approval"
    yield Alert(AlertLevel.INFO, key, title, _lines(lines))


#: Intents a run stored but did not send (deferred, waiting for approval) or gave up.
NOT_SENT = frozenset({IntentStatus.PLANNED, IntentStatus.ABANDONED})


def orders_and_fills(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    """One message per run for everything it sent and every fill it recorded, never one per order."""
    report = run.report
    sent = [o for o in (report.orders if report is not None else ()) if o.status not in NOT_SENT]
    if not sent and not run.fills:
        return
    lines = [
        f"sent {o.side} {_shares(o.qty)} {o.symbol} {o.type} ({o.leg}, {o.book})"
        + (f": {o.status}" if o.status in (IntentStatus.REJECTED, IntentStatus.UNKNOWN) else "")
        for o in sent
    ]
    lines += [f"filled {f.side} {_shares(f.qty)} {f.symbol} at {usd(f.price, cents=True)}" for f in run.fills]
    parts = [f"{_plural(len(sent), 'order')} sent"] if sent else []
    if run.fills:
        parts.append(_plural(len(run.fills), "fill"))
    yield Alert(AlertLevel.INFO, f"orders:{run.run_id}", ", ".join(parts), _lines(lines))


def unusual_volume(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    for v in run.volumes:
        if v.average <= 0 or v.volume < rules.unusual_volume_multiple * v.average:
            continue
        body = (
            f"{count(v.volume)} shares traded on {v.session_date}, {ratio(v.volume / v.average, 1)}× the average of "
            f"{count(v.average)} (alert at {ratio(rules.unusual_volume_multiple, 1)}×)"
        )
        yield Alert(AlertLevel.INFO, f"volume:{v.symbol}:{v.session_date}", f"unusual volume: {v.symbol}", body)


def daily_summary(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    for report in run.reports_of(RehydrateReport):
        snap = report.snapshot
        change = ""
        if run.previous_equity:
            moved = snap.equity - run.previous_equity
            change = f" ({usd(moved, signed=True)}, {pct(moved / run.previous_equity, 2, signed=True)})"
        deployed = ", ".join(f"{book} {usd(value)}" for book, value in snap.deployed.items()) or "nothing"
        lines = [
            f"equity {usd(snap.equity)}{change}, cash {usd(snap.cash)}",
            f"deployed: {deployed}; {_plural(sum(1 for p in snap.positions if p.qty), 'position')}",
        ]
        if report.reviews:
            pnl = sum(r.managed_pnl for r in report.reviews)
            lines.append(f"{_plural(len(report.reviews), 'trade')} closed: {usd(pnl, signed=True)}")
        outcomes = report.outcomes
        if outcomes is not None:  # a replay's evenings leave them to its end
            scored = f"{_plural(outcomes.completed_horizons, 'horizon')} of {_plural(outcomes.signals, 'signal')}"
            lines.append(f"outcomes: {scored} completed")
        title = f"end of day {snap.session_date}: equity {usd(snap.equity)}"
        yield Alert(AlertLevel.INFO, f"summary:{snap.session_date}", title, _lines(lines))


def shadow_summary(run: Finished, rules: AlertRules) -> Iterator[Alert]:
    """With ``[notify] shadow``: every signal a size run decided, traded or not, and why not."""
    if not rules.shadow:
        return
    for report in run.reports_of(SizeReport):
        if not (report.orders or report.skipped):
            continue
        traded = [(o.signal_id, f"{o.symbol}: {o.side} {_shares(o.qty)} {o.type} ({o.status})") for o in report.orders]
        passed = [(s.signal_id, f"{s.symbol}: not traded, {s.reason}") for s in report.skipped]
        key = "shadow:" + _digest(sorted(f"{sid}|{line}" for sid, line in traded + passed))
        title = f"signals: {count(len(traded))} traded, {count(len(passed))} not"
        yield Alert(AlertLevel.INFO, key, title, _lines([line for _, line in traded + passed]))


#: Every event, in the order its messages go out (the most serious first).
RULES: tuple[Rule, ...] = (
    failed_run,
    connection_problem,
    halt_and_resume,
    breakers,
    rejected_files,
    large_losses,
    edge_broke,
    approvals_waiting,
    orders_and_fills,
    unusual_volume,
    daily_summary,
    shadow_summary,
)


def alerts_for(run: Finished, rules: AlertRules) -> tuple[Alert, ...]:
    """The run's alerts, each key once (``profittake`` and ``dipbuy`` both price a position: one loss alert)."""
    seen: set[str] = set()
    out = []
    for rule in RULES:
        for alert in rule(run, rules):
            if alert.key not in seen:
                seen.add(alert.key)
                out.append(alert)
    return tuple(out)


def unsent(alerts: Sequence[Alert], sent: set[str]) -> tuple[Alert, ...]:
    """The alerts that are news: neither their key nor a key that supersedes them is among the keys ``sent``."""
    return tuple(a for a in alerts if a.key not in sent and sent.isdisjoint(a.supersedes))


def reaches(alert: Alert, level: str) -> bool:
    """Whether a URL whose minimum level is ``level`` (a ``[notify] urls`` level name) takes ``alert``."""
    return alert.level >= AlertLevel[level]
