"""``status``: what the ledger says: last runs, open intents, mode, deployed capital, positions, and the options
structures not yet closed.

Read-only: it opens the ledger read-only (or not at all when there is none yet), talks to no broker and
takes no lock, so monitoring can call it while a run is in progress. ``--check`` turns staleness of the
last successful step run into a non-zero exit for a monitor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from autotrader.domain.enums import Book, ExitCode, Side
from autotrader.domain.models import Halt
from autotrader.domain.reports import ReportDraft, StatusReport
from autotrader.ledger import options as option_store
from autotrader.ledger import repo
from autotrader.ledger.db import Ledger
from autotrader.policy.kill_switch import describe

# Commands whose success means "the bot is alive and trading": not status/config/replay/demo.
STEP_COMMANDS = ("sync", "run-daily", "scan", "size", "dipbuy", "profittake", "rebalance", "rehydrate")


@dataclass(frozen=True)
class StatusCheck:
    ok: bool
    message: str


def collect(ledger: Ledger | None, *, mode: str, ledger_path: str, now: datetime) -> dict[str, Any]:
    if ledger is None:
        return {
            "mode": mode,
            "ledger": ledger_path,
            "ledger_exists": False,
            "last_runs": [],
            "last_success": None,
            "open_intents": [],
            "orders_total": 0,
            "fills_total": 0,
            "positions": [],
            "options": [],
            "deployed_usd": 0.0,
            "deployed_by_book": {},
            "halt": None,
        }
    positions = repo.all_positions(ledger)
    intents = repo.open_intents(ledger)
    deployed_by_book: dict[str, float] = {}
    for p in positions:
        if p.book != Book.EXTERNAL:
            deployed_by_book[p.book] = deployed_by_book.get(p.book, 0.0) + p.qty * p.avg_cost
    for row in intents:
        if row["side"] == Side.BUY and row["book"] != Book.EXTERNAL:
            extra = repo.intent_extra(row)
            price = row["limit_price"] or extra.get("reference_price") or row["stop_price"] or 0.0
            deployed_by_book[row["book"]] = deployed_by_book.get(row["book"], 0.0) + row["qty"] * price
    return {
        "mode": mode,
        "ledger": ledger_path,
        "ledger_exists": True,
        "last_runs": repo.last_runs(ledger, 10),
        "last_success": repo.last_successful_run(ledger, STEP_COMMANDS, not_after=now),
        "open_intents": [
            {k: row[k] for k in ("client_order_id", "symbol", "side", "qty", "status", "book", "leg", "session_date")}
            for row in intents
        ],
        **repo.counts(ledger),
        "positions": [
            {
                "symbol": p.symbol,
                "book": p.book,
                "qty": p.qty,
                "avg_cost": round(p.avg_cost, 4),
                "realized_pnl": round(p.realized_pnl, 2),
            }
            for p in positions
        ],
        "options": open_structures(ledger),
        "deployed_usd": round(deployed_by_book.get(Book.SIGNALS, 0.0), 2),
        "deployed_by_book": {k: round(v, 2) for k, v in deployed_by_book.items()},
        "halt": halt_state(repo.current_halt(ledger)),
    }


def open_structures(ledger: Ledger) -> list[dict[str, Any]]:
    """The options structures not yet closed (``OpenStructure``); one cheap query for an account without any."""
    if not option_store.has_options_book(ledger):
        return []
    return [
        {"structure_id": s.structure_id, "strategy": s.strategy, "kind": s.kind, "underlying": s.underlying,
         "status": s.status, "units": s.units,
         "legs": [f"{leg['side']} {leg['ratio'] * s.units:g} {leg['symbol']}" for leg in s.legs],
         "open_net": s.open_net, "max_loss": round(s.risk, 2) if s.max_loss else None,
         "opened_at": s.opened_at}
        for s in option_store.structures(ledger, statuses=("opening", "open", "closing"))
    ]  # fmt: skip


def halt_state(halt: Halt | None) -> dict[str, Any] | None:
    """The kill switch as reports print it (``HaltState``), None when not halted."""
    if halt is None:
        return None
    return {"reason": halt.reason, "exits": halt.exits, "since": repo.utc_iso(halt.since), "run_id": halt.run_id}


def check(status: dict[str, Any], *, now: datetime, max_age: timedelta) -> StatusCheck:
    """Fresh when the last successful step run's as-of is within ``max_age`` of ``now``.

    The as-of, not the wall-clock start, so that simulated workspaces (replay, demo, --as-of runs) are
    judged on their own timeline; for cron runs the two are the same instant.
    """
    last = status.get("last_success")
    if not last:
        return StatusCheck(False, "no successful step run recorded")
    started = repo.parse_utc(last["as_of"])
    assert started is not None
    age = now - started
    if age > max_age:
        return StatusCheck(
            False, f"stale: last successful run ({last['command']}) was {_human(age)} ago, limit {_human(max_age)}"
        )
    unknown = [i for i in status["open_intents"] if i["status"] == "unknown"]
    if unknown:
        return StatusCheck(False, f"{len(unknown)} order(s) with unknown outcome need attention")
    return StatusCheck(True, f"ok: last successful run ({last['command']}) {_human(age)} ago")


def parse_age(text: str) -> timedelta:
    """'90m', '26h', '2d' or a plain number of hours."""
    from autotrader.errors import InputError

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    try:
        if value and value[-1] in units:
            seconds = float(value[:-1]) * units[value[-1]]
        else:
            seconds = float(value) * 3600
    except ValueError:
        raise InputError(f"--max-age: cannot read {text!r}", hint="use e.g. 90m, 26h or 2d") from None
    if not seconds > 0 or seconds == float("inf"):
        raise InputError(f"--max-age: must be a positive duration, got {text!r}", hint="use e.g. 90m, 26h or 2d")
    return timedelta(seconds=seconds)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def run(config, now: datetime, dry_run: bool, *, check_freshness: bool, max_age: timedelta | None) -> StatusReport:
    """The ``status`` report from the mode's ledger, opened read-only."""
    from autotrader.ledger.db import open_ledger_readonly

    ledger = open_ledger_readonly(config.ledger_path)
    try:
        data = collect(ledger, mode=config.settings.mode_name, ledger_path=str(config.ledger_path), now=now)
    finally:
        if ledger is not None:
            ledger.close()
    report = ReportDraft(command="status", as_of=now, dry_run=dry_run, fields=dict(data))
    halt = data["halt"]
    if halt is not None:
        report.notes.append(describe(Halt(halt["reason"], halt["exits"], datetime.fromisoformat(halt["since"]), "")))
    if not data["ledger_exists"]:
        report.notes.append(f"no ledger yet at {config.ledger_path}: nothing has run in this workspace")
    if check_freshness:
        limit = max_age or timedelta(hours=config.settings.status.max_age_hours)
        verdict = check(data, now=now, max_age=limit)
        report.fields["check"] = {
            "ok": verdict.ok,
            "message": verdict.message,
            "max_age_seconds": limit.total_seconds(),
        }
        report.notes.append(verdict.message)
        if not verdict.ok:
            report.ok = False
            report.exit_code = ExitCode.FAILURE
    return report.build(StatusReport)
