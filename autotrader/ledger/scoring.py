"""Reads behind the scorecard: signals, their outcomes and rule exits inside a window, and one signal's lineage.

The scorecard reads hundreds of thousands of outcome rows, so these return plain tuples in a stated column
order (straight into a DataFrame), not dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autotrader.ledger.db import Ledger
from autotrader.ledger.repo import utc_iso

#: The optional predictions a signal carries (migration 0014; ``policy.predictions``), REAL or NULL: read as
#: float64 columns, NaN where absent, and scored by the scorecard's predictions panel.
PREDICTION_COLUMNS = ("predicted_return_3d", "predicted_return_10d", "predicted_return_30d", "probability")
SIGNAL_COLUMNS = ("signal_id", "category", "source", "conviction", "generated_at", "side", *PREDICTION_COLUMNS)
OUTCOME_COLUMNS = (
    "signal_id", "horizon", "status", "ret", "excess", "hit", "abnormal", "beta_fallback", "entry_date", "exit_date",
)  # fmt: skip
RULE_EXIT_COLUMNS = ("signal_id", "status", "r_multiple", "ret", "holding_sessions", "entry_date", "exit_date")


@dataclass(frozen=True)
class SignalWindow:
    """Which signals a scorecard covers: generated in [``generated_from``, ``generated_to``] (None: no lower
    bound), imported by ``known_by`` when given (a scorecard at an earlier instant does not see a signal
    autotrader had not yet seen, whatever time it claims) and, when given, only these categories and sources."""

    generated_to: datetime
    generated_from: datetime | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    known_by: datetime | None = None

    def where(self) -> tuple[str, list[Any]]:
        # Stored instants are UTC ISO text of one fixed format: the bounds are converted the same way and
        # compared as text.
        clauses, params = ["s.generated_at <= ?"], [utc_iso(self.generated_to)]
        if self.generated_from is not None:
            clauses.append("s.generated_at >= ?")
            params.append(utc_iso(self.generated_from))
        if self.known_by is not None:
            clauses.append("s.import_id IN (SELECT id FROM signal_imports WHERE imported_at <= ?)")
            params.append(utc_iso(self.known_by))
        for column, values in (("category", self.categories), ("source", self.sources)):
            if values:
                clauses.append(f"s.{column} IN ({','.join('?' for _ in values)})")
                params.extend(values)
        return " AND ".join(clauses), params


def _rows(ledger: Ledger, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return ledger.conn.execute(sql, params).fetchall()


def signal_keys(ledger: Ledger, window: SignalWindow) -> list[tuple[Any, ...]]:
    """One tuple per signal in the window, columns ``SIGNAL_COLUMNS``."""
    where, params = window.where()
    return _rows(
        ledger,
        f"SELECT s.id, s.category, s.source, s.conviction, s.generated_at, s.side, "
        f"{', '.join(f's.{c}' for c in PREDICTION_COLUMNS)} FROM signals s WHERE {where}",
        params,
    )


def outcome_numbers(ledger: Ledger, window: SignalWindow) -> list[tuple[Any, ...]]:
    """One tuple per (signal, horizon) outcome of the window's signals, columns ``OUTCOME_COLUMNS``."""
    where, params = window.where()
    return _rows(
        ledger,
        f"SELECT o.signal_id, o.horizon, o.status, o.ret, o.excess, o.hit, o.abnormal, o.beta_fallback, "
        f"o.entry_date, o.exit_date FROM signal_outcomes o "
        f"JOIN signals s ON s.id = o.signal_id WHERE {where}",
        params,
    )


def rule_exit_numbers(ledger: Ledger, window: SignalWindow) -> list[tuple[Any, ...]]:
    """One tuple per rule exit of the window's signals, columns ``RULE_EXIT_COLUMNS``."""
    where, params = window.where()
    return _rows(
        ledger,
        f"SELECT r.signal_id, r.status, r.r_multiple, r.ret, r.holding_sessions, r.entry_date, r.exit_date "
        f"FROM signal_rule_exits r "
        f"JOIN signals s ON s.id = r.signal_id WHERE {where}",
        params,
    )


def late_signal_ids(ledger: Ledger, window: SignalWindow, *, tolerance_minutes: float) -> list[int]:
    """Ids of the window's signals imported more than ``tolerance_minutes`` after their claimed generated_at.

    The delay is compared in whole milliseconds (SQLite's julianday keeps no finer), so an import exactly at
    the tolerance is on time.
    """
    where, params = window.where()
    rows = _rows(
        ledger,
        f"SELECT s.id FROM signals s JOIN signal_imports i ON i.id = s.import_id WHERE {where} "
        f"AND round((julianday(i.imported_at) - julianday(s.generated_at)) * 86400000) > ?",
        [*params, round(tolerance_minutes * 60_000)],
    )
    return [int(r[0]) for r in rows]


@dataclass(frozen=True)
class SignalRecord:
    """What the ledger holds about one signal, for its lineage: the signal row, the decisions about it, the
    intents it led to, its outcomes per horizon and its rule exit."""

    signal: dict[str, Any]
    decisions: list[dict[str, Any]]
    intents: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    rule_exit: dict[str, Any] | None


def signal_record(ledger: Ledger, signal_id: int) -> SignalRecord | None:
    """None when there is no such signal."""
    signal = ledger.query("SELECT * FROM signals WHERE id = ?", [signal_id])
    if not signal:
        return None
    exits = ledger.query("SELECT * FROM signal_rule_exits WHERE signal_id = ?", [signal_id])
    return SignalRecord(
        signal=signal[0],
        decisions=ledger.query("SELECT * FROM decisions WHERE signal_id = ? ORDER BY id", [signal_id]),
        intents=ledger.query(
            "SELECT client_order_id, step, leg, tier, side, qty, type, status, broker_order_id, reason, created_at "
            "FROM order_intents WHERE signal_id = ? ORDER BY created_at",
            [signal_id],
        ),
        outcomes=ledger.query("SELECT * FROM signal_outcomes WHERE signal_id = ? ORDER BY horizon", [signal_id]),
        rule_exit=exits[0] if exits else None,
    )


def signals_by_id(ledger: Ledger, signal_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The signal rows with these ids, by id."""
    if not signal_ids:
        return {}
    marks = ",".join("?" for _ in signal_ids)
    return {s["id"]: s for s in ledger.query(f"SELECT * FROM signals WHERE id IN ({marks})", signal_ids)}


# -- the scorecard's panels: entries, the universe and the decisions that lost signals ----------------------

ENTRY_COLUMNS = ("signal_id", "symbol", "side", "signal_entry", "entry_date", "entry_price")
DECISION_COLUMNS = ("signal_id", "outcome", "reason", "trace_json")


def signal_entries(ledger: Ledger, window: SignalWindow) -> list[tuple[Any, ...]]:
    """One tuple per window signal with a scoring entry, columns ``ENTRY_COLUMNS``: its symbol, side, the
    entry price it stated (or None) and the scoring entry (date and price) its outcomes share."""
    where, params = window.where()
    return _rows(
        ledger,
        f"SELECT s.id, s.symbol, s.side, s.entry, MIN(o.entry_date), MIN(o.entry_price) FROM signals s "
        f"JOIN signal_outcomes o ON o.signal_id = s.id WHERE {where} AND o.entry_date IS NOT NULL GROUP BY s.id",
        params,
    )


def universe_symbols(ledger: Ledger, known_by: datetime) -> list[str]:
    """Every symbol any signal imported by ``known_by`` names, whatever its source or category."""
    rows = _rows(
        ledger,
        "SELECT DISTINCT s.symbol FROM signals s JOIN signal_imports i ON i.id = s.import_id "
        "WHERE i.imported_at <= ? ORDER BY s.symbol",
        [utc_iso(known_by)],
    )
    return [str(r[0]) for r in rows]


def skipped_decisions(ledger: Ledger, window: SignalWindow) -> list[tuple[Any, ...]]:
    """The window's decisions that did not order (outcome ``skipped``), columns ``DECISION_COLUMNS``."""
    where, params = window.where()
    return _rows(
        ledger,
        f"SELECT d.signal_id, d.outcome, d.reason, d.trace_json FROM decisions d JOIN signals s ON s.id = d.signal_id "
        f"WHERE {where} AND d.outcome = 'skipped' ORDER BY d.id",
        params,
    )
