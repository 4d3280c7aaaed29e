"""Typed reads and writes of the ledger. SQL lives here, not in the pipeline.

Functions that write expect to run inside ``Ledger.write()`` (the caller decides the unit of work) except
the few that say they open their own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from autotrader.domain.enums import (
    IN_FLIGHT_INTENT_STATUSES,
    INTENT_TRANSITIONS,
    OPEN_INTENT_STATUSES,
    TERMINAL_BROKER_STATUSES,
    Book,
    IntentStatus,
    Side,
)
from autotrader.domain.models import Approval, BrokerOrder, Fill, Halt, OrderIntent, Signal
from autotrader.domain.reports import DayOrder
from autotrader.ledger.db import Ledger


def utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_utc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# -- runs ----------------------------------------------------------------------------------------------


def start_run(
    ledger: Ledger, *, run_id: str, command: str, as_of: datetime, mode: str, dry_run: bool, started_at: datetime
) -> None:
    with ledger.write():
        ledger.insert(
            "runs",
            {
                "run_id": run_id,
                "command": command,
                "as_of": utc_iso(as_of),
                "mode": mode,
                "dry_run": int(dry_run),
                "started_at": utc_iso(started_at),
            },
        )


def finish_run(
    ledger: Ledger,
    *,
    run_id: str,
    exit_code: int,
    ended_at: datetime,
    summary: dict[str, Any] | None,
    error: str | None,
) -> None:
    with ledger.write() as db:
        db.execute(
            "UPDATE runs SET ended_at = ?, exit_code = ?, summary_json = ?, error = ? WHERE run_id = ?",
            [utc_iso(ended_at), exit_code, json.dumps(summary, default=str) if summary else None, error, run_id],
        )


def last_runs(ledger: Ledger, limit: int = 10) -> list[dict[str, Any]]:
    return ledger.query(
        "SELECT command, as_of, mode, started_at, ended_at, exit_code, error FROM runs ORDER BY id DESC LIMIT ?",
        [limit],
    )


@dataclass(frozen=True)
class RunMark:
    """A recorded run, as a message names it."""

    run_id: str
    command: str
    as_of: datetime
    started_at: datetime


def latest_run(ledger: Ledger, *, excluding: frozenset[str]) -> RunMark | None:
    """The recorded run (dry runs aside) with the latest as-of among the commands not in ``excluding``."""
    marks = ",".join("?" for _ in excluding) or "''"
    rows = ledger.query(
        f"SELECT run_id, command, as_of, started_at FROM runs WHERE dry_run = 0 AND command NOT IN ({marks}) "
        "ORDER BY as_of DESC, id DESC LIMIT 1",
        sorted(excluding),
    )
    if not rows:
        return None
    row = rows[0]
    return RunMark(
        row["run_id"], row["command"], datetime.fromisoformat(row["as_of"]), datetime.fromisoformat(row["started_at"])
    )


def last_successful_run(
    ledger: Ledger, commands: tuple[str, ...], *, not_after: datetime | None = None
) -> dict[str, Any] | None:
    """The successful run with the latest as-of (not the latest row: a back-dated manual run must not hide a
    fresh cron run), ignoring runs dated after ``not_after`` (a future-dated run proves nothing about now)."""
    marks = ",".join("?" for _ in commands)
    params: list[Any] = list(commands)
    bound = ""
    if not_after is not None:
        bound = " AND as_of <= ?"
        params.append(utc_iso(not_after))
    rows = ledger.query(
        f"SELECT command, as_of, started_at, ended_at FROM runs WHERE exit_code = 0 AND command IN ({marks}){bound} "
        "ORDER BY as_of DESC, id DESC LIMIT 1",
        params,
    )
    return rows[0] if rows else None


# -- order intents -------------------------------------------------------------------------------------


def insert_intent(ledger: Ledger, intent: OrderIntent, *, run_id: str, now: datetime) -> bool:
    """Store a PLANNED intent unless one with this client order id exists. True when inserted."""
    r = intent.request
    row = {
        "client_order_id": intent.client_order_id,
        "session_date": intent.session_date,
        "step": intent.step,
        "book": str(intent.book),
        "leg": str(intent.leg),
        "tier": intent.tier,
        "attempt": intent.attempt,
        "symbol": r.symbol,
        "side": str(r.side),
        "qty": r.qty,
        "type": str(r.type),
        "time_in_force": str(r.time_in_force),
        "order_class": str(r.order_class),
        "limit_price": r.limit_price,
        "stop_price": r.stop_price,
        "trail_percent": r.trail_percent,
        "take_profit_limit_price": r.take_profit_limit_price,
        "stop_loss_stop_price": r.stop_loss_stop_price,
        "stop_loss_limit_price": r.stop_loss_limit_price,
        "status": str(IntentStatus.PLANNED),
        "reason": intent.reason,
        "signal_id": intent.signal_id,
        "position_key": intent.position_key,
        "run_id": run_id,
        "created_at": utc_iso(now),
        "updated_at": utc_iso(now),
        "extra_json": json.dumps(intent.extra, default=str) if intent.extra else None,
        "expires_at": utc_iso(intent.expires_at) if intent.expires_at else None,
        "legs_json": json.dumps([{"symbol": leg.symbol, "side": str(leg.side), "ratio_qty": leg.ratio_qty,
                                  "position_intent": str(leg.position_intent)} for leg in r.legs]) if r.legs else None,
    }  # fmt: skip
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = ledger.conn.execute(
        f"INSERT OR IGNORE INTO order_intents ({columns}) VALUES ({marks})", list(row.values())
    )
    return cursor.rowcount == 1


def get_intent(ledger: Ledger, client_order_id: str) -> dict[str, Any] | None:
    rows = ledger.query("SELECT * FROM order_intents WHERE client_order_id = ?", [client_order_id])
    return rows[0] if rows else None


def _in_chunks(values: Sequence[Any], size: int = 500) -> Iterator[tuple[list[Any], str]]:
    """``values`` in chunks within SQLite's limit on bound parameters, each with its ``?, ?, ...`` marks."""
    for start in range(0, len(values), size):
        chunk = list(values[start : start + size])
        yield chunk, ",".join("?" for _ in chunk)


def intent_ids(ledger: Ledger, client_order_ids: Iterable[str]) -> set[str]:
    """Those of ``client_order_ids`` the ledger holds an intent for."""
    wanted = sorted(set(client_order_ids))
    found: set[str] = set()
    for chunk, marks in _in_chunks(wanted):
        sql = f"SELECT client_order_id FROM order_intents WHERE client_order_id IN ({marks})"
        found.update(r["client_order_id"] for r in ledger.query(sql, chunk))
    return found


class IllegalTransition(RuntimeError):
    """A status change the intent state machine does not allow: a bug, never a broker fact."""


def transition_intent(
    ledger: Ledger, client_order_id: str, status: IntentStatus, *, now: datetime, **fields: Any
) -> bool:
    """Move an intent to ``status`` (with extra column values). False when the move is not allowed by
    ``INTENT_TRANSITIONS`` *because the broker already told us more* (e.g. a late 'accepted' after 'filled');
    raises ``IllegalTransition`` for moves out of a terminal state into a different one."""
    row = get_intent(ledger, client_order_id)
    if row is None:
        raise KeyError(client_order_id)
    current = IntentStatus(row["status"])
    if current == status and not fields:
        return False
    if current != status and status not in INTENT_TRANSITIONS[current]:
        if current.is_terminal:
            return False  # stale news about a finished order: keep what we know
        raise IllegalTransition(f"{client_order_id}: {current} -> {status} is not allowed")
    assignments = {"status": str(status), "updated_at": utc_iso(now), **fields}
    sets = ", ".join(f"{k} = ?" for k in assignments)
    ledger.conn.execute(
        f"UPDATE order_intents SET {sets} WHERE client_order_id = ?", [*assignments.values(), client_order_id]
    )
    return True


def intents_mark(ledger: Ledger) -> int:
    """Where the intents table ends now: every intent stored later is above it (``run_intents(after=)``). A read
    of the rowid index's last entry, cheap enough to take before every step of every slot."""
    return int(ledger.scalar("SELECT coalesce(max(rowid), 0) FROM order_intents"))


def run_intents(ledger: Ledger, run_id: str, *, after: int = 0) -> list[dict[str, Any]]:
    """The intents a run stored (above the mark ``after``), oldest first: what a step that failed part-way had
    already decided."""
    return ledger.query(
        "SELECT * FROM order_intents WHERE rowid > ? AND run_id = ? ORDER BY created_at, client_order_id",
        [after, run_id],
    )


def intents_with_status(ledger: Ledger, statuses: tuple[IntentStatus, ...]) -> list[dict[str, Any]]:
    marks = ",".join("?" for _ in statuses)
    return ledger.query(
        f"SELECT * FROM order_intents WHERE status IN ({marks}) ORDER BY created_at, client_order_id",
        [str(s) for s in statuses],
    )


def unknown_intent_ids(ledger: Ledger) -> list[str]:
    """The client order ids of the intents whose outcome the broker could not confirm (UNKNOWN)."""
    rows = ledger.query(
        "SELECT client_order_id FROM order_intents WHERE status = ? ORDER BY client_order_id",
        [str(IntentStatus.UNKNOWN)],
    )
    return [r["client_order_id"] for r in rows]


def open_intents(ledger: Ledger) -> list[dict[str, Any]]:
    return intents_with_status(ledger, OPEN_INTENT_STATUSES)


def working_intents(
    ledger: Ledger, book: str, *, side: str | None = None, step: str | None = None
) -> list[dict[str, Any]]:
    """A book's intents still open (planned to partly filled), each with ``remaining``: what is not filled yet."""
    where, params = ["i.book = ?"], [book]
    if side is not None:
        where.append("i.side = ?")
        params.append(side)
    if step is not None:
        where.append("i.step = ?")
        params.append(step)
    marks = ",".join("?" for _ in OPEN_INTENT_STATUSES)
    return ledger.query(
        "SELECT i.*, max(0, i.qty - COALESCE(o.filled_qty, 0)) AS remaining FROM order_intents i "
        "LEFT JOIN orders o ON o.client_order_id = i.client_order_id "
        f"WHERE {' AND '.join(where)} AND i.status IN ({marks})",
        [*params, *(str(s) for s in OPEN_INTENT_STATUSES)],
    )


# -- broker orders -------------------------------------------------------------------------------------


def book_for_order(ledger: Ledger, order: BrokerOrder, parent_book: str | None = None) -> str:
    """Our intent's book for our own orders, the parent's for bracket legs, else 'external'.

    An order already in the ledger keeps its book (a leg refreshed on its own is still its parent's).
    """
    if parent_book is not None:
        return parent_book
    known = order_book(ledger, order.broker_order_id)
    if known is not None:
        return known
    row = ledger.query("SELECT book FROM order_intents WHERE client_order_id = ?", [order.client_order_id])
    return row[0]["book"] if row else str(Book.EXTERNAL)


def upsert_order(ledger: Ledger, order: BrokerOrder, *, book: str, now: datetime) -> None:
    ledger.upsert(
        "orders",
        {
            "broker_order_id": order.broker_order_id,
            "client_order_id": order.client_order_id or None,
            "parent_broker_order_id": order.parent_broker_order_id,
            "book": book,
            "symbol": order.symbol,
            "side": str(order.side),
            "qty": order.qty,
            "type": str(order.type),
            "time_in_force": str(order.time_in_force),
            "order_class": str(order.order_class),
            "limit_price": order.limit_price,
            "stop_price": order.stop_price,
            "status": str(order.status),
            "filled_qty": order.filled_qty,
            "filled_avg_price": order.filled_avg_price,
            "submitted_at": utc_iso(order.submitted_at) if order.submitted_at else None,
            "updated_at": utc_iso(order.updated_at) if order.updated_at else None,
            "synced_at": utc_iso(now),
        },
        pk="broker_order_id",
    )


def order_book(ledger: Ledger, broker_order_id: str) -> str | None:
    return ledger.scalar("SELECT book FROM orders WHERE broker_order_id = ?", [broker_order_id])


@dataclass(frozen=True)
class OrderProgress:
    """What the ledger last recorded of a broker order: enough to tell whether the broker's view moved."""

    status: str
    filled_qty: float
    filled_avg_price: float | None


def order_progress(ledger: Ledger, broker_order_ids: Iterable[str]) -> dict[str, OrderProgress]:
    """Broker order id → its recorded status and fill progress, for those of ``broker_order_ids`` the ledger
    holds (a sync asks for the orders the broker listed, not for every order of the account's history)."""
    out: dict[str, OrderProgress] = {}
    for chunk, marks in _in_chunks(sorted(set(broker_order_ids))):
        columns = "broker_order_id, status, filled_qty, filled_avg_price"
        for r in ledger.query(f"SELECT {columns} FROM orders WHERE broker_order_id IN ({marks})", chunk):
            out[r["broker_order_id"]] = OrderProgress(r["status"], r["filled_qty"], r["filled_avg_price"])
    return out


@dataclass(frozen=True)
class OrderRef:
    broker_order_id: str
    client_order_id: str


def open_orders_with_client_id(ledger: Ledger) -> list[OrderRef]:
    """Orders the ledger still holds as open (no terminal status yet) that carry a client order id."""
    rows = ledger.query(f"SELECT broker_order_id, client_order_id FROM orders WHERE {_working_order()}")
    return [OrderRef(r["broker_order_id"], r["client_order_id"]) for r in rows if r["client_order_id"] is not None]


# -- fills and positions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionRow:
    book: str
    symbol: str
    qty: float
    avg_cost: float
    realized_pnl: float
    opened_at: str | None


def get_position(ledger: Ledger, book: str, symbol: str) -> PositionRow | None:
    rows = ledger.query("SELECT * FROM positions WHERE book = ? AND symbol = ?", [book, symbol])
    if not rows:
        return None
    r = rows[0]
    return PositionRow(r["book"], r["symbol"], r["qty"], r["avg_cost"], r["realized_pnl"], r["opened_at"])


def all_positions(ledger: Ledger, *, include_flat: bool = False) -> list[PositionRow]:
    where = "" if include_flat else "WHERE abs(qty) > 1e-9"
    return [
        PositionRow(r["book"], r["symbol"], r["qty"], r["avg_cost"], r["realized_pnl"], r["opened_at"])
        for r in ledger.query(f"SELECT * FROM positions {where} ORDER BY book, symbol")
    ]


def apply_fill(position: PositionRow | None, fill_side: Side, qty: float, price: float) -> tuple[float, float, float]:
    """Average-cost accounting for one fill: returns (qty, avg_cost, realized P&L of this fill).

    Buys move the average cost; sells realize (price - avg_cost) × qty and leave the average unchanged.
    A sell beyond the held quantity is not invented into a short: it is the caller's reconciliation problem.
    """
    held = position.qty if position else 0.0
    avg = position.avg_cost if position else 0.0
    if fill_side == Side.BUY:
        new_qty = held + qty
        new_avg = (held * avg + qty * price) / new_qty if new_qty > 0 else 0.0
        return new_qty, new_avg, 0.0
    realized = (price - avg) * qty
    new_qty = held - qty
    return new_qty, (avg if abs(new_qty) > 1e-9 else 0.0), realized


def known_fill_ids(ledger: Ledger, fill_ids: Iterable[str]) -> set[str]:
    """Those of ``fill_ids`` the ledger has recorded."""
    found: set[str] = set()
    for chunk, marks in _in_chunks(sorted(set(fill_ids))):
        found.update(r[0] for r in ledger.conn.execute(f"SELECT fill_id FROM fills WHERE fill_id IN ({marks})", chunk))
    return found


def record_fill(ledger: Ledger, fill: Fill, *, book: str, run_id: str, now: datetime) -> bool:
    """Insert a fill (ignored if its id is known) and apply it to the book's position. True when new."""
    cursor = ledger.conn.execute(
        "INSERT OR IGNORE INTO fills (fill_id, broker_order_id, book, symbol, side, qty, price, commission, "
        "filled_at, recorded_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            fill.fill_id,
            fill.broker_order_id,
            book,
            fill.symbol,
            str(fill.side),
            fill.qty,
            fill.price,
            fill.commission,
            utc_iso(fill.filled_at),
            utc_iso(now),
            run_id,
        ],
    )
    if cursor.rowcount != 1:
        return False
    position = get_position(ledger, book, fill.symbol)
    qty, avg, realized = apply_fill(position, fill.side, fill.qty, fill.price)
    opened_at = position.opened_at if position and abs(position.qty) > 1e-9 else utc_iso(fill.filled_at)
    ledger.upsert(
        "positions",
        {
            "book": book,
            "symbol": fill.symbol,
            "qty": qty,
            "avg_cost": avg,
            "realized_pnl": (position.realized_pnl if position else 0.0) + realized - fill.commission,
            "opened_at": opened_at if abs(qty) > 1e-9 else None,
            "updated_at": utc_iso(now),
        },
        pk=("book", "symbol"),
    )
    return True


def recorded_fills(ledger: Ledger) -> list[Fill]:
    """Every fill the ledger holds, whatever its book, oldest first: what reconciliation compares with the broker's."""
    rows = ledger.query("SELECT * FROM fills ORDER BY filled_at, fill_id")
    return [_fill(r) for r in rows]


def _fill(r: dict[str, Any]) -> Fill:
    return Fill.from_row(r, parse_utc(r["filled_at"]))  # type: ignore[arg-type]


def last_fill_at(ledger: Ledger) -> datetime | None:
    return parse_utc(ledger.scalar("SELECT max(filled_at) FROM fills"))


def counts(ledger: Ledger) -> dict[str, int]:
    return {
        "orders_total": ledger.scalar("SELECT count(*) FROM orders") or 0,
        "fills_total": ledger.scalar("SELECT count(*) FROM fills") or 0,
        "intents_total": ledger.scalar("SELECT count(*) FROM order_intents") or 0,
    }


# -- kv ------------------------------------------------------------------------------------------------


def kv_get(ledger: Ledger, key: str) -> str | None:
    return ledger.scalar("SELECT value FROM kv WHERE key = ?", [key])


def kv_set(ledger: Ledger, key: str, value: str, *, now: datetime) -> None:
    ledger.upsert("kv", {"key": key, "value": value, "updated_at": utc_iso(now)}, pk="key")


def kv_delete(ledger: Ledger, key: str) -> None:
    ledger.conn.execute("DELETE FROM kv WHERE key = ?", [key])


# -- the owner's controls --------------------------------------------------------------------------------

HALT_KEY = "control.halt"
STREAK_RESET_KEY = "control.streak_reset_at"


def current_halt(ledger: Ledger) -> Halt | None:
    """The kill switch, when ``autotrader halt`` set it and no ``resume`` has cleared it since."""
    stored = kv_get(ledger, HALT_KEY)
    if stored is None:
        return None
    data = json.loads(stored)
    return Halt(data["reason"], bool(data["exits"]), datetime.fromisoformat(data["since"]), data["run_id"])


def set_halt(ledger: Ledger, halt: Halt) -> None:
    value = {"reason": halt.reason, "exits": halt.exits, "since": utc_iso(halt.since), "run_id": halt.run_id}
    kv_set(ledger, HALT_KEY, json.dumps(value), now=halt.since)


def clear_halt(ledger: Ledger) -> None:
    kv_delete(ledger, HALT_KEY)


def streak_reset_at(ledger: Ledger) -> datetime | None:
    """When ``resume --breaker streak`` last ended the losing-streak pause: trades closed before it no longer
    count toward a streak."""
    stored = kv_get(ledger, STREAK_RESET_KEY)
    return datetime.fromisoformat(stored) if stored is not None else None


def set_streak_reset(ledger: Ledger, at: datetime) -> None:
    kv_set(ledger, STREAK_RESET_KEY, utc_iso(at), now=at)


# -- signal outcomes -----------------------------------------------------------------------------------


def signals_needing_outcomes(ledger: Ledger, *, horizons: int, generated_by: datetime) -> list[dict[str, Any]]:
    """Signals generated and imported by ``generated_by`` with any of ``horizons`` horizons or the rule exit
    not yet final; each row also carries its import's ``imported_at`` (when autotrader first saw it)."""
    at = utc_iso(generated_by)
    return ledger.query(
        """
        SELECT s.*, i.imported_at FROM signals s
        JOIN signal_imports i ON i.id = s.import_id
        LEFT JOIN signal_rule_exits r ON r.signal_id = s.id
        LEFT JOIN (
            SELECT signal_id, count(*) AS done FROM signal_outcomes WHERE status = 'complete' GROUP BY signal_id
        ) o ON o.signal_id = s.id
        WHERE (r.status IS NULL OR r.status != 'complete' OR COALESCE(o.done, 0) < ?)
            AND s.generated_at <= ? AND i.imported_at <= ?
        ORDER BY s.id
        """,
        [horizons, at, at],
    )


def final_outcomes(ledger: Ledger, signal_ids: list[int]) -> tuple[set[tuple[int, int]], set[int]]:
    """Of these signals: ``(signal_id, horizon)`` of the complete outcomes and the ids of the complete rule
    exits (asked per chunk of ids: a refresh touches the few unfinished signals of a ledger of 100,000s)."""
    horizons: set[tuple[int, int]] = set()
    exits: set[int] = set()
    for chunk, marks in _in_chunks(signal_ids):
        horizons.update(
            (int(sid), int(h))
            for sid, h in ledger.conn.execute(
                f"SELECT signal_id, horizon FROM signal_outcomes WHERE signal_id IN ({marks}) AND status = 'complete'",
                chunk,
            )
        )
        exits.update(
            int(sid)
            for (sid,) in ledger.conn.execute(
                f"SELECT signal_id FROM signal_rule_exits WHERE signal_id IN ({marks}) AND status = 'complete'", chunk
            )
        )
    return horizons, exits


def stored_market_fits(ledger: Ledger, signal_ids: list[int]) -> dict[int, tuple[float, float, bool]]:
    """``(alpha, beta, fallback)`` already stored for these signals' outcomes, by signal id (any horizon's row:
    the fit depends on the entry only)."""
    found: dict[int, tuple[float, float, bool]] = {}
    for chunk, marks in _in_chunks(signal_ids):
        for sid, alpha, beta, fallback in ledger.conn.execute(
            f"SELECT signal_id, alpha, beta, beta_fallback FROM signal_outcomes WHERE signal_id IN ({marks}) "
            f"AND alpha IS NOT NULL AND beta IS NOT NULL GROUP BY signal_id",
            chunk,
        ):
            found[int(sid)] = (float(alpha), float(beta), bool(fallback))
    return found


def save_outcomes(ledger: Ledger, outcomes: list[dict[str, Any]], rule_exits: list[dict[str, Any]]) -> None:
    """Store outcome rows (one per signal and horizon) and rule-exit rows (one per signal), in one transaction."""
    with ledger.write():
        _upsert(ledger, "signal_outcomes", outcomes, ("signal_id", "horizon"))
        _upsert(ledger, "signal_rule_exits", rule_exits, ("signal_id",))


def _upsert(ledger: Ledger, table: str, rows: list[dict[str, Any]], key: tuple[str, ...]) -> None:
    """Insert or update rows that all carry the same columns, in one prepared statement: a refresh rewrites
    tens of thousands of outcome rows, and a row-by-row conversion costs more than the writing."""
    if not rows:
        return
    columns = list(rows[0])
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )
    ledger.conn.executemany(sql, ([row[c] for c in columns] for row in rows))


# -- signals -------------------------------------------------------------------------------------------


def import_exists(ledger: Ledger, content_hash: str) -> dict[str, Any] | None:
    rows = ledger.query("SELECT * FROM signal_imports WHERE content_hash = ?", [content_hash])
    return rows[0] if rows else None


def known_dedupe_keys(ledger: Ledger, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk, marks in _in_chunks(keys):
        found.update(
            r[0] for r in ledger.conn.execute(f"SELECT dedupe_key FROM signals WHERE dedupe_key IN ({marks})", chunk)
        )
    return found


def record_import(
    ledger: Ledger,
    *,
    content_hash: str,
    origin: str,
    signals: list[Signal],
    skipped: list[dict[str, Any]],
    rows_total: int,
    archive_path: str | None,
    run_id: str,
    now: datetime,
) -> tuple[int, list[int]]:
    """Store one imported document and its signals (call inside ``Ledger.write()``). Returns (import id, ids)."""
    cursor = ledger.conn.execute(
        "INSERT INTO signal_imports (content_hash, origin, imported_at, rows_total, rows_imported, rows_skipped, "
        "archive_path, skipped_json, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            content_hash,
            origin,
            utc_iso(now),
            rows_total,
            len(signals),
            len(skipped),
            archive_path,
            json.dumps(skipped, default=str) if skipped else None,
            run_id,
        ],
    )
    import_id = int(cursor.lastrowid)  # type: ignore[arg-type]
    ids = []
    for signal in signals:
        cursor = ledger.conn.execute(
            "INSERT INTO signals (import_id, line, symbol, category, source, side, conviction, entry, stop, target, "
            "horizon_days, generated_at, note, dedupe_key, created_at, predicted_return_3d, predicted_return_10d, "
            "predicted_return_30d, probability, target_one) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                import_id,
                signal.line,
                signal.symbol,
                signal.category,
                signal.source,
                str(signal.side),
                signal.conviction,
                signal.entry,
                signal.stop,
                signal.target,
                signal.horizon_days,
                utc_iso(signal.generated_at),
                signal.note,
                signal.dedupe_key,
                utc_iso(now),
                signal.predicted_return_3d,
                signal.predicted_return_10d,
                signal.predicted_return_30d,
                signal.probability,
                signal.target_one,
            ],
        )
        ids.append(int(cursor.lastrowid))  # type: ignore[arg-type]
    return import_id, ids


# -- trades, snapshots, reviews -----------------------------------------------------------------------


def leg_fills(ledger: Ledger, *, lives: Sequence[tuple[str, str, str]] | None = None) -> list[dict[str, Any]]:
    """Every fill of our own books with the leg, tier and signal of the intent that made its order; ``lives``:
    only the fills of these (book, symbol, opened at) position lives, from the instant each opened.

    Bracket and OCO legs have no intent of their own: they inherit the parent order's intent, with the leg
    named after their role (a take-profit is a ``target``, tier 2 — the final target — under an entry
    bracket; a stop-loss is what the parent intent says its stop was for — ``stop``, ``trail`` or
    ``loss_cut`` — or ``stop``, tier 0).
    """
    if lives is not None:
        # A symbol traded again and again keeps the fills of its earlier lives: every slot's refresh reading
        # them all was a cost that grew through a two-year replay. Each life's fills are found by the
        # (book, symbol, filled_at) index from its opening on.
        rows = [r for chunk, _ in _in_chunks(sorted(set(lives)), 300) for r in _leg_fills(ledger, chunk)]
        return sorted(rows, key=lambda r: (r["filled_at"], r["fill_id"]))
    return _leg_fills(ledger)


def _leg_fills(ledger: Ledger, lives: list[tuple[str, str, str]] | None = None) -> list[dict[str, Any]]:
    wanted, join, params = "", "", list[Any]()
    if lives:
        wanted = f"WITH wanted (book, symbol, since) AS (VALUES {', '.join('(?, ?, ?)' for _ in lives)}) "
        join = "JOIN wanted w ON w.book = f.book AND w.symbol = f.symbol AND f.filled_at >= w.since"
        params = [value for life in lives for value in life]
    return ledger.query(
        f"""
        {wanted}SELECT f.fill_id, f.book, f.symbol, f.side, f.qty, f.price, f.commission, f.filled_at,
               f.broker_order_id,
               COALESCE(i.leg, CASE WHEN o.type IN ('stop', 'stop_limit', 'trailing_stop')
                                    THEN COALESCE(json_extract(pi.extra_json, '$.stop_leg'), 'stop')
                                    ELSE 'target' END) AS leg,
               COALESCE(i.tier, CASE WHEN o.type IN ('stop', 'stop_limit', 'trailing_stop') THEN 0
                                     WHEN pi.leg = 'entry' THEN 2 ELSE pi.tier END, 0) AS tier,
               COALESCE(i.signal_id, pi.signal_id) AS signal_id,
               COALESCE(i.client_order_id, pi.client_order_id) AS client_order_id
        FROM fills f
        {join}
        JOIN orders o ON o.broker_order_id = f.broker_order_id
        LEFT JOIN order_intents i ON i.client_order_id = o.client_order_id
        LEFT JOIN orders po ON po.broker_order_id = o.parent_broker_order_id
        LEFT JOIN order_intents pi ON pi.client_order_id = po.client_order_id
        WHERE f.book != 'external'
        ORDER BY f.filled_at, f.fill_id
        """,
        params,
    )


def save_snapshot(
    ledger: Ledger,
    *,
    session_date: str,
    as_of: datetime,
    equity: float,
    cash: float,
    deployed: dict[str, float],
    by_category: dict[str, float],
    positions: list[dict[str, Any]],
    now: datetime,
) -> None:
    ledger.upsert(
        "snapshots",
        {
            "session_date": session_date,
            "as_of": utc_iso(as_of),
            "equity": equity,
            "cash": cash,
            "deployed_json": json.dumps(deployed, sort_keys=True),
            "by_category_json": json.dumps(by_category, sort_keys=True),
            "positions_json": json.dumps(positions, sort_keys=True, default=str),
            "created_at": utc_iso(now),
        },
        pk="session_date",
    )


def reviewed_trade_ids(ledger: Ledger) -> set[str]:
    return {r[0] for r in ledger.conn.execute("SELECT trade_id FROM trade_reviews")}


def save_review(
    ledger: Ledger,
    *,
    trade_id: str,
    signal_id: int | None,
    book: str,
    symbol: str,
    opened_at: datetime,
    closed_at: datetime,
    review: dict[str, Any],
    reviewer_output: str | None,
    reviewer_exit_code: int | None,
    now: datetime,
) -> None:
    ledger.table("trade_reviews").upsert(
        {
            "trade_id": trade_id,
            "signal_id": signal_id,
            "book": book,
            "symbol": symbol,
            "opened_at": utc_iso(opened_at),
            "closed_at": utc_iso(closed_at),
            "review_json": json.dumps(review, sort_keys=True, default=str),
            "reviewer_output": reviewer_output,
            "reviewer_exit_code": reviewer_exit_code,
            "reviewed_at": utc_iso(now),
        },
        pk="trade_id",
    )


# -- sizing: signals to decide, their decisions, the book's working buys, the equity curve --------------


@dataclass(frozen=True)
class SignalRow:
    """A stored signal, as the steps that act on it read it."""

    id: int
    symbol: str
    category: str
    side: str
    conviction: int | None
    entry: float | None
    stop: float | None
    target: float | None
    generated_at: datetime
    probability: float | None = None  # the prediction's probability, when the signal carried one


@dataclass(frozen=True)
class SignalIdentity:
    """What a signal is, the same in every ledger that imported it (its row id is not): its dedupe key."""

    id: int
    key: str
    generated_at: datetime


def signal_identities(ledger: Ledger) -> list[SignalIdentity]:
    """Every stored signal's identity, in import order."""
    rows = ledger.query("SELECT id, dedupe_key, generated_at FROM signals ORDER BY id")
    return [SignalIdentity(r["id"], r["dedupe_key"], datetime.fromisoformat(r["generated_at"])) for r in rows]


def undecided_signals(ledger: Ledger, step: str, *, since: datetime, until: datetime) -> list[SignalRow]:
    """Signals generated between ``since`` and ``until`` (both included) that ``step`` has not decided yet,
    oldest first."""
    rows = ledger.query(
        "SELECT s.* FROM signals s WHERE NOT EXISTS "
        "(SELECT 1 FROM decisions d WHERE d.signal_id = s.id AND d.step = ?) "
        "AND s.generated_at <= ? AND s.generated_at >= ? ORDER BY s.generated_at, s.id",
        [step, utc_iso(until), utc_iso(since)],
    )
    return [
        SignalRow(
            id=r["id"],
            symbol=r["symbol"],
            category=r["category"],
            side=r["side"],
            conviction=r["conviction"],
            entry=r["entry"],
            stop=r["stop"],
            target=r["target"],
            generated_at=datetime.fromisoformat(r["generated_at"]),
            probability=r["probability"],
        )
        for r in rows
    ]


def record_decision(
    ledger: Ledger,
    *,
    signal_id: int,
    step: str,
    outcome: str,
    reason: str,
    trace: list[dict[str, Any]],
    client_order_id: str | None,
    run_id: str,
    now: datetime,
) -> bool:
    """Store a step's decision on a signal with its trace; a signal already decided by the step keeps its
    first decision (False)."""
    cursor = ledger.conn.execute(
        "INSERT OR IGNORE INTO decisions (signal_id, step, outcome, reason, trace_json, client_order_id, "
        "decided_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [signal_id, step, outcome, reason, json.dumps(trace, default=str), client_order_id, utc_iso(now), run_id],
    )
    return cursor.rowcount > 0


def intent_extra(row: dict[str, Any], column: str = "extra_json") -> dict[str, Any]:
    """The extra fields an intent was stored with (``OrderIntent.extra``), decoded; {} when it has none."""
    text = row.get(column)
    return json.loads(text) if text else {}


@dataclass(frozen=True)
class WorkingBuy:
    """An open buy intent of a book: what is not filled yet, and the prices it was sized with."""

    symbol: str
    remaining: float
    limit_price: float | None
    extra: dict[str, Any]


def working_buys(ledger: Ledger, book: str) -> list[WorkingBuy]:
    return [
        WorkingBuy(r["symbol"], r["remaining"], r["limit_price"], intent_extra(r))
        for r in working_intents(ledger, book, side="buy")
    ]


# Entry intents that hold or may still take a position: what a count of a symbol's entries counts.
_LIVE_ENTRY_STATUSES = ("planned", "submitting", "accepted", "partially_filled", "filled", "unknown")


def entries_since_flat(ledger: Ledger, book: str) -> dict[str, int]:
    """Symbol → the book's entry intents (one per signal) created since the symbol's last position closed
    that hold or may still take a position (not canceled, expired, rejected or abandoned)."""
    marks = ",".join("?" for _ in _LIVE_ENTRY_STATUSES)
    rows = ledger.query(
        f"""
        SELECT i.symbol, count(*) AS entries FROM order_intents i
        LEFT JOIN (
            SELECT symbol, MAX(closed_at) AS flat_at FROM position_state
            WHERE book = ? AND closed_at IS NOT NULL GROUP BY symbol
        ) f ON f.symbol = i.symbol
        WHERE i.book = ? AND i.leg = 'entry' AND i.status IN ({marks})
            AND (f.flat_at IS NULL OR i.created_at > f.flat_at)
        GROUP BY i.symbol
        """,
        [book, book, *_LIVE_ENTRY_STATUSES],
    )
    return {r["symbol"]: int(r["entries"]) for r in rows}


def intents_on(ledger: Ledger, *, book: str, leg: str, session_date: str) -> int:
    """How many intents of the leg kind the book has made on the session (whatever became of them)."""
    count = ledger.scalar(
        "SELECT count(*) FROM order_intents WHERE book = ? AND leg = ? AND session_date = ?",
        [book, leg, session_date],
    )
    return int(count or 0)


def entry_symbols_on(ledger: Ledger, *, book: str, session_date: str) -> list[str]:
    """The symbols of the book's entry intents made on the session (whatever became of them)."""
    rows = ledger.query(
        "SELECT symbol FROM order_intents WHERE book = ? AND leg = 'entry' AND session_date = ? ORDER BY created_at",
        [book, session_date],
    )
    return [r["symbol"] for r in rows]


def equity_curve(ledger: Ledger) -> list[float]:
    """The snapshots' equity, one per session, oldest first."""
    return [r["equity"] for r in ledger.query("SELECT equity FROM snapshots ORDER BY session_date")]


@dataclass(frozen=True)
class SnapshotRow:
    session_date: str
    as_of: str
    equity: float
    cash: float
    deployed: dict[str, float]  # per book
    by_category: dict[str, float]
    positions: list[dict[str, Any]]


_SNAPSHOT_COLUMNS = "session_date, as_of, equity, cash, deployed_json, by_category_json, positions_json"


def snapshots(ledger: Ledger, *, until: str | None = None) -> list[SnapshotRow]:
    """Every end-of-day snapshot up to ``until`` (a session date, inclusive), oldest first."""
    rows = ledger.query(
        f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE session_date <= ? ORDER BY session_date",
        [until or "9999-12-31"],
    )
    return [_snapshot_row(r) for r in rows]


def latest_snapshot(ledger: Ledger) -> SnapshotRow | None:
    """The newest end-of-day snapshot, or None before the first."""
    rows = ledger.query(f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots ORDER BY session_date DESC LIMIT 1")
    return _snapshot_row(rows[0]) if rows else None


def _snapshot_row(r: dict[str, Any]) -> SnapshotRow:
    return SnapshotRow(
        session_date=r["session_date"],
        as_of=r["as_of"],
        equity=float(r["equity"]),
        cash=float(r["cash"]),
        deployed=json.loads(r["deployed_json"]),
        by_category=json.loads(r["by_category_json"]),
        positions=json.loads(r["positions_json"]),
    )


def trade_reviews(ledger: Ledger) -> list[dict[str, Any]]:
    """Every stored review of a closed trade (``TradeReview``'s JSON), in the order the trades closed."""
    rows = ledger.query("SELECT review_json FROM trade_reviews ORDER BY closed_at, trade_id")
    return [json.loads(r["review_json"]) for r in rows]


def equity_before(ledger: Ledger, session_date: str) -> float | None:
    """The equity of the last snapshot before ``session_date``, or None."""
    return ledger.scalar(
        "SELECT equity FROM snapshots WHERE session_date < ? ORDER BY session_date DESC LIMIT 1", [session_date]
    )


PORTFOLIO_VALUE_KEY = "account.portfolio_value"


def stored_portfolio_value(ledger: Ledger) -> float | None:
    """The broker equity the last end of day (rehydrate) stored, or None before the first."""
    stored = kv_get(ledger, PORTFOLIO_VALUE_KEY)
    return float(stored) if stored is not None else None


# -- reference cache ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedReferenceRow:
    """A cached reference fact: its value (None: the source did not know) and when the source was asked."""

    value: str | None
    fetched_at: datetime


def cached_reference(ledger: Ledger, symbol: str, kind: str) -> CachedReferenceRow | None:
    """The cached reference fact (``kind`` is ``sector`` or ``next_earnings``), or None when never fetched."""
    rows = ledger.query("SELECT value, fetched_at FROM reference_cache WHERE symbol = ? AND kind = ?", [symbol, kind])
    if not rows:
        return None
    return CachedReferenceRow(rows[0]["value"], datetime.fromisoformat(rows[0]["fetched_at"]))


def cache_reference(ledger: Ledger, symbol: str, kind: str, value: str | None, *, now: datetime) -> None:
    """Store a fact just fetched from the source; ``now`` is the fetch instant, never a read's."""
    ledger.table("reference_cache").upsert(
        {"symbol": symbol, "kind": kind, "value": value, "fetched_at": utc_iso(now)}, pk=("symbol", "kind")
    )


# -- position management -------------------------------------------------------------------------------

# Intent statuses that mean "this leg was sent (or is being sent)": a tier in one of them has fired.
LIVE_INTENT_STATUSES = (*(str(s) for s in OPEN_INTENT_STATUSES), str(IntentStatus.FILLED))
_TERMINAL_ORDER = tuple(sorted(str(s) for s in TERMINAL_BROKER_STATUSES))  # as SQL parameters


def _working_order(alias: str = "") -> str:
    """The SQL test for an order still working (no terminal status), the terminal statuses written out: the
    partial index ``orders_working`` (migration 0020) serves only a query that spells its predicate literally."""
    return f"{alias}status NOT IN ({', '.join(repr(s) for s in _TERMINAL_ORDER)})"


def position_key(book: str, symbol: str, opened_at: str) -> str:
    """One life of a position: it opens when the book's quantity leaves zero."""
    return f"{book}:{symbol}:{opened_at}"


def open_states_of(ledger: Ledger, keys: Sequence[str], columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """These columns of the open ``position_state`` rows of these position lives, by position key (a life
    without an open row is left out). ``columns`` are the code's own names, never input."""
    out: dict[str, dict[str, Any]] = {}
    selected = ", ".join(["position_key", *columns])
    for chunk, marks in _in_chunks(keys):
        for row in ledger.query(
            f"SELECT {selected} FROM position_state WHERE closed_at IS NULL AND position_key IN ({marks})", chunk
        ):
            out[row["position_key"]] = row
    return out


def position_states(ledger: Ledger, *, book: str | None = None, open_only: bool = True) -> list[dict[str, Any]]:
    where, params = [], []
    if open_only:
        where.append("closed_at IS NULL")
    if book is not None:
        where.append("book = ?")
        params.append(book)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return ledger.query(f"SELECT * FROM position_state {clause} ORDER BY book, symbol, opened_at", params)


def save_position_state(ledger: Ledger, row: dict[str, Any], *, now: datetime) -> None:
    """Insert a whole row, or update the given columns of an existing one (``position_key`` names it)."""
    values = {**row, "updated_at": utc_iso(now)}
    key = values.pop("position_key")
    sets = ", ".join(f"{column} = ?" for column in values)
    cursor = ledger.conn.execute(f"UPDATE position_state SET {sets} WHERE position_key = ?", [*values.values(), key])
    if cursor.rowcount == 0:
        ledger.insert("position_state", {"position_key": key, **values})




def position_intents(ledger: Ledger, key: str) -> list[dict[str, Any]]:
    """The management intents of one position life, with what of each order has filled."""
    return ledger.query(
        "SELECT i.*, COALESCE(o.filled_qty, 0) AS filled_qty, o.status AS order_status "
        "FROM order_intents i LEFT JOIN orders o ON o.client_order_id = i.client_order_id "
        "WHERE i.position_key = ? ORDER BY i.created_at, i.client_order_id",
        [key],
    )


def position_intents_of(
    ledger: Ledger, keys: list[str], *, except_step: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``position_intents`` for several position lives at once; ``except_step``: without that step's intents
    (a long life's protective orders are replaced at every ratchet of its stop, and a reader of its
    management legs need not read them all each run)."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for chunk, marks in _in_chunks(keys):
        step = "" if except_step is None else " AND i.step != ?"
        for row in ledger.query(
            "SELECT i.*, COALESCE(o.filled_qty, 0) AS filled_qty, o.status AS order_status "
            "FROM order_intents i LEFT JOIN orders o ON o.client_order_id = i.client_order_id "
            f"WHERE i.position_key IN ({marks}){step} ORDER BY i.created_at, i.client_order_id",
            chunk if except_step is None else [*chunk, except_step],
        ):
            out[row["position_key"]].append(row)
    return out


def last_dip_buys(ledger: Ledger) -> dict[tuple[str, str], datetime]:
    """(book, symbol) → when its latest dip-buy that counts (sent, being sent or filled) was decided."""
    marks = ",".join("?" for _ in LIVE_INTENT_STATUSES)
    rows = ledger.query(
        f"SELECT book, symbol, max(created_at) AS at FROM order_intents WHERE leg = 'dip_buy' "
        f"AND status IN ({marks}) GROUP BY book, symbol",
        list(LIVE_INTENT_STATUSES),
    )
    return {(r["book"], r["symbol"]): parse_utc(r["at"]) for r in rows}  # type: ignore[misc]


def open_sell_orders(ledger: Ledger, book: str, symbol: str) -> list[dict[str, Any]]:
    """Our working sell orders of a book and symbol (protective stops and targets, and exits being sent)."""
    return _working(ledger, "AND o.book = ? AND o.symbol = ? AND o.side = 'sell'", [book, symbol])


def working_orders(ledger: Ledger) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every working order of the ledger by (book, symbol), oldest first, each with its intent's leg and extras
    (``open_sell_orders``' columns): one read for a run that looks at every position's orders."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in _working(ledger):
        out.setdefault((row["book"], row["symbol"]), []).append(row)
    return out


def _working(ledger: Ledger, where: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Working orders (no terminal status) with their intent's leg and extras, oldest first; ``where`` narrows."""
    return ledger.query(
        f"SELECT o.*, i.leg AS intent_leg, i.extra_json AS intent_extra FROM orders o "
        f"LEFT JOIN order_intents i ON i.client_order_id = o.client_order_id "
        f"WHERE {_working_order('o.')} {where} ORDER BY o.submitted_at, o.broker_order_id",
        params,
    )


def unsent_sell_intents(ledger: Ledger, book: str, symbol: str) -> list[dict[str, Any]]:
    """Sell intents not yet known to the broker as orders (planned, submitting, unknown)."""
    marks = ",".join("?" for _ in IN_FLIGHT_INTENT_STATUSES)
    return ledger.query(
        f"SELECT * FROM order_intents WHERE book = ? AND symbol = ? AND side = 'sell' AND status IN ({marks})",
        [book, symbol, *(str(s) for s in IN_FLIGHT_INTENT_STATUSES)],
    )


def mark_orders_canceled(ledger: Ledger, broker_order_ids: list[str], *, now: datetime) -> None:
    """Record a cancel the broker accepted; a later sync overwrites it with whatever the broker reports."""
    for order_id in broker_order_ids:
        ledger.conn.execute(
            "UPDATE orders SET status = 'canceled', synced_at = ? WHERE broker_order_id = ? AND status NOT IN "
            f"({','.join('?' for _ in _TERMINAL_ORDER)})",
            [utc_iso(now), order_id, *_TERMINAL_ORDER],
        )


# -- what a position's management reads of its entry and its orders ------------------------------------------


@dataclass(frozen=True)
class EntrySignal:
    """What the signal behind an entry says about the position it opened."""

    category: str
    stop: float | None
    target: float | None  # the final target
    target_one: float | None  # the first target (a partial exit, then the stop to break-even)


def entry_signal(ledger: Ledger, signal_id: int) -> EntrySignal | None:
    rows = ledger.query("SELECT category, stop, target, target_one FROM signals WHERE id = ?", [signal_id])
    if not rows:
        return None
    r = rows[0]
    return EntrySignal(r["category"], r["stop"], r["target"], r["target_one"])


@dataclass(frozen=True)
class EntryLevels:
    """The stop and target an entry intent carried: a bracket's legs, else those to attach after its fill
    (a market-on-open entry cannot be a bracket)."""

    stop: float | None
    target: float | None


def entry_levels(ledger: Ledger, client_order_id: str) -> EntryLevels | None:
    row = get_intent(ledger, client_order_id)
    if row is None:
        return None
    extra = intent_extra(row)
    return EntryLevels(
        stop=row["stop_loss_stop_price"] or extra.get("attach_stop_loss"),
        target=row["take_profit_limit_price"] or extra.get("attach_take_profit"),
    )


def client_order_ids(ledger: Ledger, broker_order_ids: list[str]) -> dict[str, str | None]:
    """Broker order id → our client order id, for those of the orders the ledger has."""
    if not broker_order_ids:
        return {}
    marks = ",".join("?" for _ in broker_order_ids)
    rows = ledger.query(
        f"SELECT broker_order_id, client_order_id FROM orders WHERE broker_order_id IN ({marks})", broker_order_ids
    )
    return {r["broker_order_id"]: r["client_order_id"] for r in rows}


def floor_position_quantities(ledger: Ledger, symbol: str) -> None:
    """Round every book's long quantity of ``symbol`` down to whole shares (a reverse split's cash in lieu)."""
    ledger.conn.execute("UPDATE positions SET qty = floor(qty + 1e-9) WHERE symbol = ? AND qty > 0", [symbol])


def record_split(
    ledger: Ledger, *, symbol: str, ratio: float, effective_at: datetime, detected_by: str, details: dict,
    run_id: str, now: datetime,
) -> None:  # fmt: skip
    """Apply a split to every book's position in the symbol: qty × ratio, avg cost ÷ ratio (cost basis kept)."""
    ledger.table("corporate_actions").insert(
        {
            "symbol": symbol,
            "kind": "split",
            "ratio": ratio,
            "effective_at": utc_iso(effective_at),
            "detected_by": detected_by,
            "details_json": json.dumps(details, sort_keys=True, default=str),
            "recorded_at": utc_iso(now),
            "run_id": run_id,
        }
    )
    ledger.conn.execute(
        "UPDATE positions SET qty = qty * ?, avg_cost = avg_cost / ?, updated_at = ? WHERE symbol = ?",
        [ratio, ratio, utc_iso(now), symbol],
    )


def splits(ledger: Ledger, symbol: str | None = None) -> list[dict[str, Any]]:
    if symbol is None:
        return ledger.query("SELECT * FROM corporate_actions WHERE kind = 'split' ORDER BY effective_at")
    return ledger.query(
        "SELECT * FROM corporate_actions WHERE kind = 'split' AND symbol = ? ORDER BY effective_at", [symbol]
    )


# -- quarantine ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarantineRow:
    """A symbol set aside for a New York session because its data failed validation."""

    symbol: str
    session_date: str
    reason: str
    detected_at: str


def quarantined(ledger: Ledger, session_date: str) -> dict[str, QuarantineRow]:
    """symbol → its quarantine for the session."""
    rows = ledger.query(
        "SELECT symbol, session_date, reason, detected_at FROM quarantine WHERE session_date = ? ORDER BY symbol",
        [session_date],
    )
    return {r["symbol"]: QuarantineRow(**r) for r in rows}


def quarantine(ledger: Ledger, row: QuarantineRow, *, run_id: str) -> None:
    """Set a symbol aside for the session; the first reason found stays."""
    ledger.conn.execute(
        "INSERT OR IGNORE INTO quarantine (symbol, session_date, reason, detected_at, run_id) VALUES (?, ?, ?, ?, ?)",
        (row.symbol, row.session_date, row.reason, row.detected_at, run_id),
    )


# -- the orders command group ----------------------------------------------------------------------------

ORDER_LISTING = (
    "o.broker_order_id, o.client_order_id, o.book, o.symbol, o.side, o.qty, o.type, o.time_in_force, "
    "o.order_class, o.limit_price, o.stop_price, o.status, o.filled_qty, o.filled_avg_price, o.submitted_at, "
    "o.parent_broker_order_id, i.leg, i.step, i.status AS intent_status, i.signal_id"
)


def orders_listing(
    ledger: Ledger, *, status: str = "open", symbol: str | None = None, book: str | None = None
) -> list[dict[str, Any]]:
    """Broker orders as the ledger last recorded them (``status``: open, closed or all), newest first, with the
    intent that made each (none for an external order)."""
    clauses, params = ["1 = 1"], []
    marks = ",".join("?" for _ in _TERMINAL_ORDER)
    if status == "open":
        clauses.append(_working_order("o."))
    elif status == "closed":
        clauses.append(f"o.status IN ({marks})")
        params += list(_TERMINAL_ORDER)
    if symbol is not None:
        clauses.append("o.symbol = ?")
        params.append(symbol)
    if book is not None:
        clauses.append("o.book = ?")
        params.append(book)
    return ledger.query(
        f"SELECT {ORDER_LISTING} FROM orders o LEFT JOIN order_intents i ON i.client_order_id = o.client_order_id "
        f"WHERE {' AND '.join(clauses)} ORDER BY o.submitted_at DESC, o.broker_order_id",
        params,
    )


def unsent_intents(ledger: Ledger, *, symbol: str | None = None, book: str | None = None) -> list[dict[str, Any]]:
    """Intents not (yet) known to the broker as an order: planned, submitting or unknown."""
    marks = ",".join("?" for _ in IN_FLIGHT_INTENT_STATUSES)
    clauses = [f"status IN ({marks})", "client_order_id NOT IN (SELECT client_order_id FROM orders "
               "WHERE client_order_id IS NOT NULL)"]  # fmt: skip
    params: list[Any] = [str(s) for s in IN_FLIGHT_INTENT_STATUSES]
    for column, value in (("symbol", symbol), ("book", book)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return ledger.query(f"SELECT * FROM order_intents WHERE {' AND '.join(clauses)} ORDER BY created_at", params)


@dataclass(frozen=True)
class OrderRecord:
    """What the ledger holds about one order: its intent, the broker's order, its fills, the decision."""

    intent: dict[str, Any] | None
    order: dict[str, Any] | None
    fills: list[dict[str, Any]]
    decision: dict[str, Any] | None


def order_record(ledger: Ledger, ident: str) -> OrderRecord | None:
    """By broker order id or client order id; None when the ledger knows neither."""
    orders = ledger.query("SELECT * FROM orders WHERE broker_order_id = ? OR client_order_id = ?", [ident, ident])
    order = orders[0] if orders else None
    client_id = order["client_order_id"] if order is not None else ident
    intent = get_intent(ledger, client_id) if client_id else None
    if order is None and intent is None:
        return None
    fills = (
        ledger.query("SELECT * FROM fills WHERE broker_order_id = ? ORDER BY filled_at", [order["broker_order_id"]])
        if order is not None
        else []
    )
    decisions = (
        ledger.query("SELECT * FROM decisions WHERE client_order_id = ?", [intent["client_order_id"]])
        if intent is not None
        else []
    )
    return OrderRecord(intent, order, fills, decisions[0] if decisions else None)


def open_orders_of(ledger: Ledger, book: str, symbol: str) -> list[dict[str, Any]]:
    """Every working order (buys and sells, protective legs included) of a book and symbol."""
    return ledger.query(f"SELECT * FROM orders WHERE book = ? AND symbol = ? AND {_working_order()}", [book, symbol])


# -- the manual approval gate ------------------------------------------------------------------------------


def request_approval(ledger: Ledger, client_order_id: str, *, now: datetime, expires_at: datetime) -> None:
    """Inside the caller's transaction, with the intent it gates; a rerun keeps the first request."""
    ledger.conn.execute(
        "INSERT INTO approvals (client_order_id, status, requested_at, expires_at) VALUES (?, 'pending', ?, ?) "
        "ON CONFLICT (client_order_id) DO NOTHING",
        [client_order_id, utc_iso(now), utc_iso(expires_at)],
    )


def _approval(row: dict[str, Any]) -> Approval:
    return Approval(
        row["client_order_id"], row["status"], datetime.fromisoformat(row["requested_at"]),
        datetime.fromisoformat(row["expires_at"]), row["reason"],
    )  # fmt: skip


def approval(ledger: Ledger, client_order_id: str) -> Approval | None:
    rows = ledger.query("SELECT * FROM approvals WHERE client_order_id = ?", [client_order_id])
    return _approval(rows[0]) if rows else None


def pending_approvals(ledger: Ledger, *, run_id: str | None = None) -> list[dict[str, Any]]:
    """Pending approvals whose intent still waits (an intent abandoned when its own window passed is no longer
    asked about), with the intent and the decision (its size trace), oldest first; with ``run_id``, only those
    whose intent that run made."""
    by_run = " AND i.run_id = ?" if run_id is not None else ""
    return ledger.query(
        "SELECT a.*, i.symbol, i.side, i.qty, i.type, i.book, i.signal_id, i.status AS intent_status, "
        "d.trace_json FROM approvals a JOIN order_intents i ON i.client_order_id = a.client_order_id "
        "LEFT JOIN decisions d ON d.client_order_id = a.client_order_id "
        f"WHERE a.status = 'pending' AND i.status = 'planned'{by_run} ORDER BY a.requested_at, a.client_order_id",
        [run_id] if run_id is not None else [],
    )


def decide_approval(ledger: Ledger, client_order_id: str, status: str, *, now: datetime, reason: str = "") -> bool:
    """Move a pending approval to ``status``; False when it was no longer pending."""
    cursor = ledger.conn.execute(
        "UPDATE approvals SET status = ?, decided_at = ?, reason = ? WHERE client_order_id = ? AND status = 'pending'",
        [status, utc_iso(now), reason, client_order_id],
    )
    return cursor.rowcount == 1


# -- the daily report: one New York day's rows -------------------------------------------------------------


def day_intents(ledger: Ledger, session_date: str, *, until: datetime) -> list[DayOrder]:
    """The intents decided for ``session_date`` (created by ``until``), oldest first, each with its broker order
    as last synced (none yet: nothing filled)."""
    rows = ledger.query(
        "SELECT i.client_order_id, i.created_at, i.step, i.book, i.symbol, i.side, i.qty, i.type, i.leg, i.tier, "
        "i.status, i.error_message, o.filled_qty, o.filled_avg_price FROM order_intents i "
        "LEFT JOIN orders o ON o.client_order_id = i.client_order_id "
        "WHERE i.session_date = ? AND i.created_at <= ? ORDER BY i.created_at, i.client_order_id",
        [session_date, utc_iso(until)],
    )
    return [
        DayOrder(
            r["client_order_id"],
            r["created_at"],
            r["step"],
            r["book"],
            r["symbol"],
            r["side"],
            r["qty"],
            r["type"],
            r["leg"],
            r["tier"],
            r["status"],
            r["filled_qty"] or 0.0,
            r["filled_avg_price"],
            r["error_message"],
        )  # fmt: skip
        for r in rows
    ]


@dataclass(frozen=True)
class ReceivedSignal:
    id: int
    source: str
    category: str
    symbol: str


def signals_received(ledger: Ledger, start: datetime, end: datetime) -> list[ReceivedSignal]:
    """Signals stored (imported: when autotrader first saw them) in [start, end)."""
    rows = ledger.query(
        "SELECT id, source, category, symbol FROM signals WHERE created_at >= ? AND created_at < ? ORDER BY id",
        [utc_iso(start), utc_iso(end)],
    )
    return [ReceivedSignal(r["id"], r["source"], r["category"], r["symbol"]) for r in rows]


@dataclass(frozen=True)
class DecisionRow:
    signal_id: int
    source: str
    category: str
    symbol: str
    outcome: str  # ordered | reduced | skipped
    reason: str
    rule: str | None  # the last rule of its trace: for a skip, the one that stopped it


def decisions_between(ledger: Ledger, start: datetime, end: datetime, *, step: str) -> list[DecisionRow]:
    """``step``'s decisions made in [start, end), with their signal's source and category, oldest first."""
    rows = ledger.query(
        "SELECT d.signal_id, s.source, s.category, s.symbol, d.outcome, d.reason, d.trace_json FROM decisions d "
        "JOIN signals s ON s.id = d.signal_id WHERE d.step = ? AND d.decided_at >= ? AND d.decided_at < ? "
        "ORDER BY d.decided_at, d.id",
        [step, utc_iso(start), utc_iso(end)],
    )
    out = []
    for r in rows:
        trace = json.loads(r["trace_json"]) if r["trace_json"] else []
        rule = trace[-1].get("name") if trace and isinstance(trace[-1], dict) else None
        out.append(
            DecisionRow(r["signal_id"], r["source"], r["category"], r["symbol"], r["outcome"], r["reason"], rule)
        )
    return out


@dataclass(frozen=True)
class RunRow:
    run_id: str
    command: str
    as_of: str
    exit_code: int | None
    error: str | None
    notes: tuple[str, ...]  # the first ten of the run's report, as its summary keeps them


def runs_between(ledger: Ledger, start: datetime, end: datetime) -> list[RunRow]:
    """The recorded runs (dry runs are not) whose as-of lies in [start, end), in as-of order."""
    rows = ledger.query(
        "SELECT run_id, command, as_of, exit_code, error, summary_json FROM runs "
        "WHERE dry_run = 0 AND as_of >= ? AND as_of < ? ORDER BY as_of, id",
        [utc_iso(start), utc_iso(end)],
    )
    out = []
    for r in rows:
        summary = json.loads(r["summary_json"]) if r["summary_json"] else {}
        notes = tuple(str(n) for n in summary.get("notes", ())) if isinstance(summary, dict) else ()
        out.append(RunRow(r["run_id"], r["command"], r["as_of"], r["exit_code"], r["error"], notes))
    return out


# -- monitoring: what the metrics file says ----------------------------------------------------------------


@dataclass(frozen=True)
class CommandRuns:
    """One command's latest recorded run, and the latest of its runs that recorded an end."""

    command: str
    started_at: datetime  # of the latest run
    in_progress: bool  # the latest run has no end yet: running, or killed before it could record one
    ended_at: datetime | None  # of the latest run that ended
    exit_code: int | None  # and its exit code


def command_runs(ledger: Ledger) -> list[CommandRuns]:
    rows = ledger.query(
        "SELECT r.command, r.started_at, r.ended_at IS NULL AS in_progress, e.ended_at, e.exit_code FROM runs r "
        "LEFT JOIN runs e ON e.id = (SELECT max(id) FROM runs WHERE command = r.command AND ended_at IS NOT NULL) "
        "WHERE r.id IN (SELECT max(id) FROM runs GROUP BY command) ORDER BY r.command"
    )
    return [
        CommandRuns(
            r["command"], datetime.fromisoformat(r["started_at"]), bool(r["in_progress"]), parse_utc(r["ended_at"]),
            r["exit_code"],
        )
        for r in rows
    ]  # fmt: skip


def orders_and_fills_between(ledger: Ledger, since: datetime, until: datetime) -> tuple[int, int]:
    """How many orders were submitted and how many fills executed in [since, until)."""
    window = [utc_iso(since), utc_iso(until)]
    orders = ledger.scalar("SELECT count(*) FROM orders WHERE submitted_at >= ? AND submitted_at < ?", window)
    fills = ledger.scalar("SELECT count(*) FROM fills WHERE filled_at >= ? AND filled_at < ?", window)
    return int(orders or 0), int(fills or 0)


@dataclass(frozen=True)
class SignalTally:
    """What became of one source's signals at a step: ``skipped`` counts them by the rule that skipped them
    (the last step of the decision's trace)."""

    source: str
    imported: int
    traded: int  # ordered in full or reduced
    skipped: dict[str, int]


def signal_tallies(ledger: Ledger, step: str) -> list[SignalTally]:
    imported = {r["source"]: r["n"] for r in ledger.query("SELECT source, count(*) AS n FROM signals GROUP BY source")}
    traded: dict[str, int] = {}
    skipped: dict[str, dict[str, int]] = {}
    decided = ledger.query(
        "SELECT s.source, d.outcome, CASE WHEN d.outcome = 'skipped' THEN "
        "coalesce(json_extract(d.trace_json, '$[#-1].name'), 'unknown') END AS rule, count(*) AS n "
        "FROM decisions d JOIN signals s ON s.id = d.signal_id WHERE d.step = ? GROUP BY 1, 2, 3",
        [step],
    )
    for r in decided:
        if r["outcome"] == "skipped":
            skipped.setdefault(r["source"], {})[r["rule"]] = r["n"]
        else:
            traded[r["source"]] = traded.get(r["source"], 0) + r["n"]
    return [
        SignalTally(source, count, traded.get(source, 0), skipped.get(source, {}))
        for source, count in sorted(imported.items())
    ]


@dataclass(frozen=True)
class RuleCheck:
    """A rule's verdict at the latest decision that reached it."""

    rule: str
    failed: bool  # the rule skipped that signal
    decided_at: datetime


def latest_rule_checks(ledger: Ledger, step: str, rules: Sequence[str], *, window: int = 200) -> list[RuleCheck]:
    """For each of ``rules`` (trace step names), its verdict at the newest of the step's last ``window``
    decisions whose trace reached it; a rule none of them reached is left out. A decision's trace lists every
    rule up to the one that skipped it, so a rule failed exactly when it is the last step of a skip."""
    marks = ",".join("?" for _ in rules)
    rows = ledger.query(
        "SELECT json_extract(j.value, '$.name') AS rule, d.decided_at, "
        "d.outcome = 'skipped' AND j.key = json_array_length(d.trace_json) - 1 AS failed "
        "FROM (SELECT id, outcome, trace_json, decided_at FROM decisions WHERE step = ? ORDER BY id DESC LIMIT ?) d, "
        f"json_each(d.trace_json) j WHERE json_extract(j.value, '$.name') IN ({marks}) ORDER BY d.id DESC",
        [step, window, *rules],
    )
    latest: dict[str, RuleCheck] = {}
    for r in rows:
        latest.setdefault(r["rule"], RuleCheck(r["rule"], bool(r["failed"]), datetime.fromisoformat(r["decided_at"])))
    return [latest[rule] for rule in rules if rule in latest]


@dataclass(frozen=True)
class CachedAnswers:
    """Vendor answers of one kind the ledger holds, and how many of them were fetched in a window. The ledger
    does not count requests: each answer cost at least one."""

    kind: str
    total: int
    fetched: int


def cached_answers(ledger: Ledger, since: datetime, until: datetime) -> list[CachedAnswers]:
    """Grouped-daily sessions and per-symbol bar ranges (Polygon), and reference facts by kind (sectors,
    earnings dates; Polygon or Finnhub), each with those fetched in [since, until)."""
    fetched = "count(CASE WHEN fetched_at >= ? AND fetched_at < ? THEN 1 END)"
    window = [utc_iso(since), utc_iso(until)]
    rows = ledger.query(
        f"SELECT 'grouped_daily' AS kind, count(*) AS total, {fetched} AS fetched FROM bar_cache_sessions "
        f"UNION ALL SELECT 'aggregates', count(*), {fetched} FROM bar_cache_ranges "
        f"UNION ALL SELECT kind, count(*), {fetched} FROM reference_cache GROUP BY kind",
        window * 3,
    )
    return [CachedAnswers(r["kind"], r["total"], r["fetched"]) for r in rows]


# -- notifications -------------------------------------------------------------------------------------------


def run_fills(ledger: Ledger, run_id: str) -> list[Fill]:
    """The fills a run recorded, oldest first."""
    rows = ledger.query("SELECT * FROM fills WHERE run_id = ? ORDER BY filled_at, fill_id", [run_id])
    return [_fill(r) for r in rows]


def notified(ledger: Ledger, keys: Sequence[str]) -> set[str]:
    """Those of the alert ``keys`` already sent (or being sent) by an earlier run."""
    found: set[str] = set()
    for chunk, marks in _in_chunks(sorted(set(keys))):
        found.update(r["key"] for r in ledger.query(f"SELECT key FROM notifications WHERE key IN ({marks})", chunk))
    return found


def record_notifications(ledger: Ledger, alerts: Iterable[tuple[str, str, str]], *, run_id: str, now: datetime) -> None:
    """Remember ``(key, level, title)`` of each alert about to be sent; a key already known keeps its first row."""
    ledger.conn.executemany(
        "INSERT OR IGNORE INTO notifications (key, level, title, run_id, created_at) VALUES (?, ?, ?, ?, ?)",
        [(key, level, title, run_id, utc_iso(now)) for key, level, title in alerts],
    )
