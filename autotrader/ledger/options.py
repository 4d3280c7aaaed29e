"""The options book's reads and writes: the stored history of each underlying's implied volatility."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from autotrader.ledger.db import Ledger
from autotrader.ledger.repo import utc_iso


@dataclass(frozen=True)
class IvRow:
    underlying: str
    session_date: str
    iv30: float


def record_iv(ledger: Ledger, underlying: str, session_date: str, iv30: float, *, now: datetime) -> bool:
    """Store the session's 30-day IV of ``underlying`` once: a second recording of the same session (a rerun)
    keeps the first. True when this call stored it."""
    before = ledger.changes()
    ledger.conn.execute(
        "INSERT OR IGNORE INTO option_iv (underlying, session_date, iv30, recorded_at) VALUES (?, ?, ?, ?)",
        [underlying, session_date, iv30, utc_iso(now)],
    )
    return ledger.changes() > before


def iv_history(ledger: Ledger, underlying: str, *, before: str, sessions: int) -> list[IvRow]:
    """The last ``sessions`` recorded 30-day IVs of ``underlying`` strictly before session ``before``, oldest
    first."""
    rows = ledger.query(
        "SELECT underlying, session_date, iv30 FROM option_iv WHERE underlying = ? AND session_date < ? "
        "ORDER BY session_date DESC LIMIT ?",
        [underlying, before, sessions],
    )
    return [IvRow(r["underlying"], r["session_date"], r["iv30"]) for r in reversed(rows)]
