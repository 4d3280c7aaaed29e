"""``report``: one New York day of the account, from the ledger and the market data (the daily report).

For day D (default: the last session closed at or before the as-of, or the one under way: the as-of's New York
date on a session day, else the session before it; an explicit ``--date`` is reported as asked, a weekend too;
nothing stamped after the as-of is read):

- **Money.** The equity at the day's end (D's snapshot; before that evening's rehydrate, the broker's equity
  now) and its change from the previous snapshot, which counts everything: open positions' moves,
  commissions, external activity. Beside it the *realized* P&L of the day's sells in our books at average
  cost (the ledger's own accounting, ``repo.apply_fill``, over every earlier fill restated through splits),
  net of the day's commissions, and the *unrealized* P&L of the positions open at the day's end, at their
  last daily close on or before D. Both figures are given because neither says it all: a day can realize a
  gain while the equity falls.
- **Positions** at the day's end: the ledger's for today, D's snapshot for a past day (none without one).
  External positions are not ours and are left out.
- **Orders and fills.** The intents decided for D with what the broker did with them (as last synced), and
  the day's fills, each sell with its realized P&L.
- **Performance** from the snapshots up to D: ``policy.performance.compare`` (the account against SPY's
  closes on the same sessions) and the equity curve with its drawdown. Per book and per category the
  snapshots keep only the capital deployed at cost, not its market value nor the cash flows, so no return
  can be computed there: that is shown as the path of what was invested (first, last, peak), and said so.
- **Controls.** The kill switch, the circuit breakers as the next ``size`` would meet them (``size.risk_state``
  and ``sizing.breakers``: the same code; each with the figure it reads and where it trips, beside size's own
  words), and the entries awaiting approval. These are states at the as-of:
  for a past D they are today's, not that evening's (the ledger keeps no history of them).
- **Signals** imported that day by source and category, and ``size``'s decisions that day: traded, or skipped
  by the rule that stopped them.
- **Runs** recorded with an as-of that day: the list shows cron's (``status.STEP_COMMANDS``) and the owner's
  controls (``CONTROL_COMMANDS``) and counts the owner's reads it leaves out (``report``, ``scorecard``,
  ``orders list``...). The errors (a non-zero exit, or no end recorded) and the warnings come from every run:
  notes that say an order was rejected, abandoned or not placed, a file could not be moved, or buying halted
  (the runs row keeps a run's first ten notes).

Applied: ``--html FILE`` writes the page (``exports/daily``), under ``--dry-run`` too (marked so): the dry run
leaves the ledger untouched, not the file the owner named.
``rehydrate`` calls ``evening`` after its snapshot to write ``[report] dir``/D.html.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from autotrader.clock import ET, SystemClock, parse_as_of
from autotrader.domain.enums import Book, Side
from autotrader.domain.reports import DailyReport
from autotrader.errors import AutotraderError, InputError
from autotrader.ledger import repo
from autotrader.pipeline import approvals, size, status
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.corporate_actions import split_factor
from autotrader.pipeline.prefetch import warm_daily_bars
from autotrader.pipeline.scorecard_panels import BENCHMARK

# How far back a position's last daily close is looked for (a long weekend and a holiday).
PRICE_LOOKBACK = timedelta(days=10)
# A note that says something went wrong without failing its run (gateway, sync, scan and run-daily notes).
WARNING = re.compile(r"\b(rejected|abandoned|not yet placed|could not|halted|unknown outcome|failed)\b", re.I)
# The owner's commands that change the account or its controls: listed among the day's runs with cron's. Every
# other run in the mode's ledger is a read (report, scorecard, orders list, positions...): counted, not listed.
CONTROL_COMMANDS = frozenset(
    {"halt", "resume", "approve", "reject", "flatten", "orders cancel", "orders cancel-all", "orders cancel-stale"}
)
LISTED_COMMANDS = frozenset(status.STEP_COMMANDS) | CONTROL_COMMANDS


def check_day(text: str, as_of: str | None) -> date:
    """``--date``, checked before the workspace is locked (bad input writes nothing): a date, not after the
    as-of's New York date."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--date {text!r}: not a date", hint="use YYYY-MM-DD (a New York day)") from None
    now = parse_as_of(as_of) if as_of else SystemClock().now()
    today = now.astimezone(ET).date()
    if day > today:
        raise InputError(
            f"--date {day}: after the as-of's New York date, {today}",
            hint="report a day that has begun, or pass a later --as-of",
        )
    return day


def default_day(ctx: StepContext) -> date:
    """The day ``report`` shows without ``--date``: the last session closed at or before the as-of, or the one
    under way (the as-of's New York date on a session day, before its close too), else the session before."""
    today = date.fromisoformat(ctx.session_date)
    calendar = ctx.deps.calendar
    return today if calendar.is_session(today) else calendar.previous_session(today)


def run(ctx: StepContext, *, day: date | None = None, html: Path | None = None) -> DailyReport:
    built = build(ctx, day or default_day(ctx))
    if day is None and built.date != ctx.session_date:
        said = f"no --date: {ctx.session_date} has no NYSE session, so the last session, {built.date}"
        built = replace(built, notes=(*built.notes, said))
    if html is None:
        return built
    # Like every report page, the one asked for is written under --dry-run too (marked so on the page).
    from autotrader.exports import daily

    written = daily.write_html(html, built)
    return replace(built, html=str(written), notes=(*built.notes, f"wrote {written}"))


def page_path(ctx: StepContext) -> Path | None:
    """Where the evening's page of the as-of's session goes (None: ``[report] dir = ""``, switched off)."""
    folder = ctx.config.reports_dir
    return None if folder is None else folder / f"{ctx.session_date}.html"


def evening(ctx: StepContext) -> str:
    """``rehydrate``'s page, ``[report] dir``/D.html, rewritten by a second rehydrate of the session. A page
    that cannot be made (the disk, or the data it reads) is a note: the evening's bookkeeping is done and
    stands, and its exit code stays what the bookkeeping made it. A bug still fails the run, as anywhere."""
    path = page_path(ctx)
    if path is None:
        return 'daily report: off ([report] dir = "")'
    if ctx.replaying:
        return "daily report: not written for a replayed session"
    if ctx.dry_run:
        return f"daily report: {path} not written (dry run)"
    from autotrader.exports import daily

    try:
        daily.write_html(path, build(ctx, date.fromisoformat(ctx.session_date)), option="[report] dir")
    except AutotraderError as error:
        ctx.log.event("daily_report_failed", message=error.message)
        return f"daily report not written: {error.message}"
    return f"daily report: {path}"


def build(ctx: StepContext, day: date) -> DailyReport:
    draft = ctx.report()
    start = datetime.combine(day, time(), tzinfo=ET)
    end = min(datetime.combine(day + timedelta(days=1), time(), tzinfo=ET), ctx.now + timedelta(microseconds=1))
    account = ctx.deps.broker.account()
    snapshots = repo.snapshots(ctx.ledger, until=day.isoformat())
    today = day.isoformat() == ctx.session_date
    money, curve, performance = _money(ctx, day, snapshots, account.equity if today else None)
    held, positions_from = _held(ctx, day, snapshots, today)
    positions = _priced(ctx, day, held)
    fills = _fills(ctx, start, end)
    money["commissions"] = round(sum(f["commission"] for f in fills), 2)
    money["realized_pnl"] = round(sum(f["realized_pnl"] or 0.0 for f in fills) - money["commissions"], 2)
    priced = [p["unrealized_pnl"] for p in positions if p["unrealized_pnl"] is not None]
    money["unrealized_pnl"] = round(sum(priced), 2) if positions_from is not None else None
    runs = [r for r in repo.runs_between(ctx.ledger, start, end) if r.run_id != ctx.run_id]
    listed = [r for r in runs if r.command in LISTED_COMMANDS]
    signals, skip_reasons = _signals(ctx, start, end)
    draft.fields.update(
        date=day.isoformat(),
        trading_day=ctx.deps.calendar.is_session(day),
        mode=ctx.settings.mode_name,
        simulated=ctx.settings.broker.kind == "sim",
        synthetic=ctx.settings.data.kind == "synthetic",
        summary=money,
        performance=performance,
        curve=curve,
        deployed=_deployed(snapshots),
        positions_from=positions_from,
        positions=positions,
        day_orders=repo.day_intents(ctx.ledger, day.isoformat(), until=ctx.now),
        fills=fills,
        halt=status.halt_state(repo.current_halt(ctx.ledger)),
        breakers=_breakers(ctx, account),
        approvals=approvals.awaiting(ctx),
        signals=signals,
        skip_reasons=skip_reasons,
        runs=[
            {"command": r.command, "as_of": r.as_of, "exit_code": r.exit_code, "error": r.error, "notes": r.notes}
            for r in listed
        ],  # fmt: skip
        reads_left_out=len(runs) - len(listed),
        problems=_problems(runs),
    )
    draft.notes.extend(_notes(draft.fields, len(held), positions_from))
    return draft.build(DailyReport)


# -- money and performance --------------------------------------------------------------------------------------


def _finite(value: float | None, digits: int = 6) -> float | None:
    """JSON has no NaN: a figure that needs more sessions than there are is null."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _spy_closes(ctx: StepContext, first: str, day: date) -> dict[str, float]:
    market = ctx.deps.market_data
    if not market.has_symbol(BENCHMARK):
        return {}
    frame = market.daily_bars(BENCHMARK, date.fromisoformat(first), day)
    return {f"{stamp:%Y-%m-%d}": float(close) for stamp, close in frame["close"].items()}


def _money(
    ctx: StepContext, day: date, snapshots: list[repo.SnapshotRow], broker_equity: float | None
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """The summary's equity figures, the curve and the performance, all from the snapshots up to ``day``
    (today's broker equity stands in for a snapshot not taken yet, in the summary only)."""
    import pandas as pd

    from autotrader.policy import performance

    on_day = snapshots[-1] if snapshots and snapshots[-1].session_date == day.isoformat() else None
    before = [s for s in snapshots if s.session_date < day.isoformat()]
    previous = before[-1] if before else None
    equity = on_day.equity if on_day is not None else broker_equity
    change = equity - previous.equity if equity is not None and previous is not None else None
    summary: dict[str, Any] = {
        "equity": equity,
        "equity_from": "snapshot" if on_day is not None else ("broker" if equity is not None else None),
        "cash": on_day.cash if on_day is not None else None,
        "previous_date": previous.session_date if previous else None,
        "previous_equity": previous.equity if previous else None,
        "equity_change": round(change, 2) if change is not None else None,
        "equity_change_pct": _finite(change / previous.equity) if change is not None and previous else None,
        "realized_pnl": 0.0,
        "commissions": 0.0,
        "unrealized_pnl": None,
        "drawdown": None,
    }
    if not snapshots:
        return summary, [], None
    equity_series = pd.Series([s.equity for s in snapshots], index=[s.session_date for s in snapshots])
    spy = _spy_closes(ctx, snapshots[0].session_date, day)
    path = performance.drawdowns(equity_series)
    curve = [
        {"date": d, "equity": float(v), "spy": spy.get(d), "drawdown": round(float(dd), 6)}
        for (d, v), dd in zip(equity_series.items(), path, strict=True)
    ]
    closing = (
        equity_series
        if on_day is not None or equity is None
        else pd.concat([equity_series, pd.Series([equity], index=[day.isoformat()])])
    )
    summary["drawdown"] = _finite(float(performance.drawdowns(closing).iloc[-1]))
    compared = performance.compare(equity_series, pd.Series(spy, dtype=float) if spy else None)
    return summary, curve, performance.comparison_fields(compared) if compared is not None else None


def _deployed(snapshots: list[repo.SnapshotRow]) -> list[dict[str, Any]]:
    """Per book and per category, the capital deployed at cost over the snapshots that hold it."""
    out = []
    for group, of in (("book", lambda s: s.deployed), ("category", lambda s: s.by_category)):
        keys = sorted({key for s in snapshots for key in of(s)})
        for key in keys:
            first = next(i for i, s in enumerate(snapshots) if key in of(s))
            values = [float(of(s).get(key, 0.0)) for s in snapshots[first:]]
            out.append({
                "group": group, "key": key, "start": snapshots[first].session_date, "first": values[0],
                "last": values[-1], "change": round(values[-1] - values[0], 2), "peak": max(values),
            })  # fmt: skip
    return out


# -- positions, orders, fills -----------------------------------------------------------------------------------


def _held(
    ctx: StepContext, day: date, snapshots: list[repo.SnapshotRow], today: bool
) -> tuple[list[dict[str, Any]], str | None]:
    """What our books held at the day's end: the ledger's positions for today, the day's snapshot before."""
    rows: list[dict[str, Any]]
    if today:
        rows = [{"book": p.book, "symbol": p.symbol, "qty": p.qty, "avg_cost": p.avg_cost}
                for p in repo.all_positions(ctx.ledger)]  # fmt: skip
        source: str | None = "ledger"
    elif snapshots and snapshots[-1].session_date == day.isoformat():
        rows, source = list(snapshots[-1].positions), "snapshot"
    else:
        return [], None
    return [r for r in rows if r["book"] != Book.EXTERNAL and abs(r["qty"]) > 1e-9], source


def _last_close(ctx: StepContext, symbol: str, day: date) -> tuple[float, str] | None:
    market = ctx.deps.market_data
    if not market.has_symbol(symbol):
        return None
    frame = market.daily_bars(symbol, day - PRICE_LOOKBACK, day)
    if frame.empty:
        return None
    return float(frame["close"].iloc[-1]), f"{frame.index[-1]:%Y-%m-%d}"


def _priced(ctx: StepContext, day: date, held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    warm_daily_bars(ctx, sorted({h["symbol"] for h in held}), day - PRICE_LOOKBACK, day)
    out = []
    for h in held:
        last = _last_close(ctx, h["symbol"], day)
        price, price_date = last if last is not None else (None, None)
        qty, cost = float(h["qty"]), float(h["avg_cost"])
        out.append({
            "book": h["book"], "symbol": h["symbol"], "qty": qty, "avg_cost": round(cost, 4), "price": price,
            "price_date": price_date, "market_value": round(qty * price, 2) if price is not None else None,
            "unrealized_pnl": round((price - cost) * qty, 2) if price is not None else None,
        })  # fmt: skip
    return out


def _fills(ctx: StepContext, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The day's fills of our books, each sell with its realized P&L: average cost carried through every
    earlier fill of its book and symbol (restated through splits, as ``trades`` restates them)."""
    first, last = repo.utc_iso(start), repo.utc_iso(end)
    splits = repo.splits(ctx.ledger)
    held: dict[tuple[str, str], repo.PositionRow] = {}
    out = []
    for r in repo.leg_fills(ctx.ledger):
        if r["filled_at"] >= last:
            break  # oldest first: nothing after the day (or the as-of) counts
        k = split_factor(splits, r["symbol"], r["filled_at"])
        key = (r["book"], r["symbol"])
        qty, avg, realized = repo.apply_fill(held.get(key), Side(r["side"]), r["qty"] * k, r["price"] / k)
        held[key] = repo.PositionRow(r["book"], r["symbol"], qty, avg, 0.0, None)
        if r["filled_at"] < first:
            continue
        out.append({
            "filled_at": r["filled_at"], "book": r["book"], "symbol": r["symbol"], "side": r["side"],
            "qty": r["qty"], "price": r["price"], "commission": r["commission"], "leg": r["leg"],
            "tier": int(r["tier"] or 0), "signal_id": r["signal_id"], "client_order_id": r["client_order_id"],
            "realized_pnl": round(realized, 2) if r["side"] == Side.SELL else None,
        })  # fmt: skip
    return out


# -- controls, signals, runs ------------------------------------------------------------------------------------


def _breakers(ctx: StepContext, account: Any) -> list[dict[str, Any]]:
    """Each breaker with size's own words, the figure it reads and where it trips (in the same unit; None when
    it is off): losing trades in a row, today's P&L in dollars, the drawdown from the peak as a fraction."""
    from autotrader.policy import sizing

    risk, rules = size.risk_state(ctx, account), size.rules_from(ctx)
    pause = min((b.above_pct for b in rules.drawdown_bands if b.multiplier <= 0), default=None)
    losses, loss, target = rules.max_consecutive_losses, rules.max_daily_loss, rules.daily_profit_target
    pnl = round(risk.daily_pnl, 2)
    figures: dict[str, tuple[float | None, float | None]] = {
        "consecutive_losses": (risk.consecutive_losses, losses if losses > 0 else None),
        "max_daily_loss": (pnl, -loss if loss > 0 else None),
        "daily_profit_target": (pnl, target if target > 0 else None),
        "drawdown_pause": (_finite(risk.drawdown_pct / 100), pause / 100 if pause is not None else None),
    }
    out = []
    for verdict in sizing.breakers(risk, rules):
        name = verdict.step.name
        value, limit = figures.get(name, (None, None))
        out.append({
            "name": name, "tripped": verdict.skip is not None, "detail": verdict.skip or verdict.step.effect,
            "value": value, "limit": limit,
            "resumes_on": risk.streak_resumes_on if name == "consecutive_losses" else None,
        })  # fmt: skip
    return out


def _signals(ctx: StepContext, start: datetime, end: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tally: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for signal in repo.signals_received(ctx.ledger, start, end):
        tally[(signal.source, signal.category)]["received"] += 1
    reasons: dict[str, list[str]] = defaultdict(list)
    for decision in repo.decisions_between(ctx.ledger, start, end, step=size.STEP):
        skipped = decision.outcome == "skipped"
        tally[(decision.source, decision.category)]["skipped" if skipped else "traded"] += 1
        if skipped:
            reasons[decision.rule or "other"].append(decision.reason)
    signals = [
        {"source": source, "category": category, "received": c["received"], "traded": c["traded"],
         "skipped": c["skipped"]}
        for (source, category), c in sorted(tally.items())
    ]  # fmt: skip
    skips = [
        {"reason": rule, "signals": len(texts), "example": texts[0]}
        for rule, texts in sorted(reasons.items(), key=lambda item: (-len(item[1]), item[0]))
    ]
    return signals, skips


def _problems(runs: list[repo.RunRow]) -> list[dict[str, Any]]:
    """Errors (a non-zero exit, no end recorded) first, then warnings; the same words said by several runs
    (a halt note, a retried rejection) once, with how many runs said them."""
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(level: str, run: repo.RunRow, message: str) -> None:
        entry = found.setdefault(
            (level, message), {"level": level, "command": run.command, "as_of": run.as_of, "message": message,
                               "count": 0},
        )  # fmt: skip
        entry["count"] += 1

    for run in runs:
        if run.exit_code is None:
            add("error", run, "no end recorded: the run was killed, or its end could not be stored")
        elif run.exit_code != 0:
            add("error", run, f"exit {run.exit_code}: {run.error or (run.notes[0] if run.notes else 'failed')}")
        for note in run.notes:
            if WARNING.search(note):
                add("warning", run, note)
    return sorted(found.values(), key=lambda p: (p["level"] != "error", p["as_of"]))


def _notes(fields: dict[str, Any], held: int, positions_from: str | None) -> list[str]:
    from autotrader.exports import fmt

    money = fields["summary"]
    errors = sum(p["level"] == "error" for p in fields["problems"])
    notes = [
        f"{fields['date']}: equity {fmt.usd(money['equity'])}, change {fmt.usd(money['equity_change'], signed=True)}"
        f", realized {fmt.usd(money['realized_pnl'], signed=True)}, unrealized "
        f"{fmt.usd(money['unrealized_pnl'], signed=True)}; {len(fields['day_orders'])} order(s), "
        f"{len(fields['fills'])} fill(s), {len(fields['runs'])} run(s) ({fields['reads_left_out']} read-only left out)"
        f", {errors} error(s)"
    ]
    if positions_from is None:
        notes.append("positions: no snapshot of that day (rehydrate stores one each evening)")
    elif positions_from == "snapshot":
        notes.append(f"positions: the day's snapshot ({held} held), priced at their last close on or before the day")
    if fields["performance"] is None:
        notes.append("performance: no snapshot yet (rehydrate stores one each evening)")
    return notes
