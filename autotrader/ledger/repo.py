"""Typed reads and writes of the ledger. SQL lives here, not in the pipeline.

Functions that write expect to run inside ``Ledger.write()`` (the caller decides the unit of work) except
the few that say they open their own transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from autotrader.domain.enums import INTENT_TRANSITIONS, Book, IntentStatus, Side
from autotrader.domain.models import BrokerOrder, Fill, OrderIntent
from autotrader.ledger.db import Ledger


def utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_utc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# -- runs ----------------------------------------------------------------------------------------------


def start_run(
    ledger: Ledger, *, run_id: str, command: str, as_of: datetime, mode: str, dry_run: bool, started_at: datetime
) -> None:
    with ledger.write() as db:
        db["runs"].insert(
            {
                "run_id": run_id,
                "command": command,
                "as_of": utc_iso(as_of),
                "mode": mode,
                "dry_run": int(dry_run),
                "started_at": utc_iso(started_at),
            }
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


def last_successful_run(ledger: Ledger, commands: tuple[str, ...]) -> dict[str, Any] | None:
    marks = ",".join("?" for _ in commands)
    rows = ledger.query(
        f"SELECT command, as_of, started_at, ended_at FROM runs WHERE exit_code = 0 AND command IN ({marks}) "
        "ORDER BY id DESC LIMIT 1",
        list(commands),
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
    }
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = ledger.conn.execute(
        f"INSERT OR IGNORE INTO order_intents ({columns}) VALUES ({marks})", list(row.values())
    )
    return cursor.rowcount == 1


def get_intent(ledger: Ledger, client_order_id: str) -> dict[str, Any] | None:
    rows = ledger.query("SELECT * FROM order_intents WHERE client_order_id = ?", [client_order_id])
    return rows[0] if rows else None


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


def intents_with_status(ledger: Ledger, statuses: tuple[IntentStatus, ...]) -> list[dict[str, Any]]:
    marks = ",".join("?" for _ in statuses)
    return ledger.query(
        f"SELECT * FROM order_intents WHERE status IN ({marks}) ORDER BY created_at, client_order_id",
        [str(s) for s in statuses],
    )


OPEN_INTENT_STATUSES = (
    IntentStatus.PLANNED,
    IntentStatus.SUBMITTING,
    IntentStatus.UNKNOWN,
    IntentStatus.ACCEPTED,
    IntentStatus.PARTIALLY_FILLED,
)


def open_intents(ledger: Ledger) -> list[dict[str, Any]]:
    return intents_with_status(ledger, OPEN_INTENT_STATUSES)


# -- broker orders -------------------------------------------------------------------------------------


def book_for_order(ledger: Ledger, order: BrokerOrder, parent_book: str | None = None) -> str:
    """Our intent's book for our own orders, the parent's for bracket legs, else 'external'."""
    if parent_book is not None:
        return parent_book
    row = ledger.query("SELECT book FROM order_intents WHERE client_order_id = ?", [order.client_order_id])
    return row[0]["book"] if row else str(Book.EXTERNAL)


def upsert_order(ledger: Ledger, order: BrokerOrder, *, book: str, now: datetime) -> None:
    ledger.db["orders"].upsert(
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
    ledger.db["positions"].upsert(
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
    ledger.db["kv"].upsert({"key": key, "value": value, "updated_at": utc_iso(now)}, pk="key")
