"""The options book's reads and writes: structures, option fills and expiry events, and the stored history of
each underlying's implied volatility."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autotrader.domain.enums import OptionEventKind, Side
from autotrader.domain.models import Fill
from autotrader.domain.options import OptionEvent
from autotrader.ledger.db import Ledger
from autotrader.ledger.repo import parse_utc, utc_iso


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


# -- structures ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StructureRow:
    structure_id: str
    strategy: str
    kind: str
    underlying: str
    legs: tuple[dict[str, Any], ...]  # {symbol, side, ratio}: the structure's legs as opened
    units: float
    status: str
    signal_id: int | None
    planned_net: float  # per share: + debit, - credit
    open_net: float | None
    close_net: float | None
    max_profit: float | None
    max_loss: float | None
    breakevens: tuple[float, ...]
    realized_pnl: float | None
    close_reason: str | None
    planned_at: str
    opened_at: str | None
    closed_at: str | None
    extra: dict[str, Any]

    @property
    def risk(self) -> float:
        """The most the whole structure can lose, in dollars: its maximum loss per unit times its units (0 while
        unknown)."""
        return (self.max_loss or 0.0) * self.units


def _structure(r: dict[str, Any]) -> StructureRow:
    return StructureRow(
        r["structure_id"], r["strategy"], r["kind"], r["underlying"], tuple(json.loads(r["legs_json"])), r["units"],
        r["status"], r["signal_id"], r["planned_net"], r["open_net"], r["close_net"], r["max_profit"], r["max_loss"],
        tuple(json.loads(r["breakevens_json"])), r["realized_pnl"], r["close_reason"], r["planned_at"],
        r["opened_at"], r["closed_at"], json.loads(r["extra_json"]) if r["extra_json"] else {},
    )  # fmt: skip


def plan_structure(ledger: Ledger, row: StructureRow) -> bool:
    """Store a structure about to be opened (status ``opening``) unless its id exists. True when stored."""
    before = ledger.changes()
    ledger.conn.execute(
        "INSERT OR IGNORE INTO option_structures (structure_id, strategy, kind, underlying, legs_json, units, status, "
        "signal_id, planned_net, max_profit, max_loss, breakevens_json, planned_at, extra_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [row.structure_id, row.strategy, row.kind, row.underlying, json.dumps(list(row.legs)), row.units, row.status,
         row.signal_id, row.planned_net, row.max_profit, row.max_loss, json.dumps(list(row.breakevens)),
         row.planned_at, json.dumps(row.extra) if row.extra else None],
    )  # fmt: skip
    return ledger.changes() > before


def structures(ledger: Ledger, *, statuses: tuple[str, ...] | None = None) -> list[StructureRow]:
    sql, params = "SELECT * FROM option_structures", []
    if statuses:
        sql += f" WHERE status IN ({', '.join('?' * len(statuses))})"
        params = list(statuses)
    return [_structure(r) for r in ledger.query(sql + " ORDER BY planned_at, structure_id", params)]


def get_structure(ledger: Ledger, structure_id: str) -> StructureRow | None:
    rows = ledger.query("SELECT * FROM option_structures WHERE structure_id = ?", [structure_id])
    return _structure(rows[0]) if rows else None


def update_structure(ledger: Ledger, structure_id: str, **changes: Any) -> None:
    """Set these columns of one structure (``extra`` and ``breakevens`` are stored as JSON)."""
    if "extra" in changes:
        changes["extra_json"] = json.dumps(changes.pop("extra"))
    if "breakevens" in changes:
        changes["breakevens_json"] = json.dumps(list(changes.pop("breakevens")))
    sets = ", ".join(f"{column} = ?" for column in changes)
    ledger.conn.execute(f"UPDATE option_structures SET {sets} WHERE structure_id = ?",
                        [*changes.values(), structure_id])  # fmt: skip


# -- fills and expiry events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionFillRow:
    fill_id: str
    broker_order_id: str
    client_order_id: str | None
    structure_id: str | None
    symbol: str
    side: str
    qty: float
    price: float
    commission: float
    filled_at: str


def record_option_fill(
    ledger: Ledger, fill: Fill, *, client_order_id: str | None, structure_id: str | None, run_id: str, now: datetime
) -> bool:
    """Store one leg's execution once (a fill id already held is ignored). True when new."""
    before = ledger.changes()
    ledger.conn.execute(
        "INSERT OR IGNORE INTO option_fills (fill_id, broker_order_id, client_order_id, structure_id, symbol, side, "
        "qty, price, commission, filled_at, recorded_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [fill.fill_id, fill.broker_order_id, client_order_id, structure_id, fill.symbol, str(fill.side), fill.qty,
         fill.price, fill.commission, utc_iso(fill.filled_at), utc_iso(now), run_id],
    )  # fmt: skip
    return ledger.changes() > before


def option_fills(ledger: Ledger, *, structure_id: str | None = None) -> list[OptionFillRow]:
    sql, params = "SELECT * FROM option_fills", []
    if structure_id is not None:
        sql, params = sql + " WHERE structure_id = ?", [structure_id]
    return [
        OptionFillRow(r["fill_id"], r["broker_order_id"], r["client_order_id"], r["structure_id"], r["symbol"],
                      r["side"], r["qty"], r["price"], r["commission"], r["filled_at"])
        for r in ledger.query(sql + " ORDER BY filled_at, fill_id", params)
    ]  # fmt: skip


def known_option_fill_ids(ledger: Ledger) -> set[str]:
    return {r["fill_id"] for r in ledger.query("SELECT fill_id FROM option_fills")}


def last_option_fill_at(ledger: Ledger) -> datetime | None:
    return parse_utc(ledger.scalar("SELECT MAX(filled_at) FROM option_fills"))


def record_option_event(ledger: Ledger, event: OptionEvent, *, structure_id: str | None, now: datetime) -> bool:
    before = ledger.changes()
    ledger.conn.execute(
        "INSERT OR IGNORE INTO option_events (event_id, kind, symbol, qty, at, share_side, share_qty, share_price, "
        "cash, structure_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [event.event_id, str(event.kind), event.symbol, event.qty, utc_iso(event.at),
         str(event.share_side) if event.share_side else None, event.share_qty, event.share_price, event.cash,
         structure_id, utc_iso(now)],
    )  # fmt: skip
    return ledger.changes() > before


def option_events(ledger: Ledger, *, structure_id: str | None = None) -> list[OptionEvent]:
    sql, params = "SELECT * FROM option_events", []
    if structure_id is not None:
        sql, params = sql + " WHERE structure_id = ?", [structure_id]
    out = []
    for r in ledger.query(sql + " ORDER BY at, event_id", params):
        at = parse_utc(r["at"])
        assert at is not None
        out.append(OptionEvent(r["event_id"], OptionEventKind(r["kind"]), r["symbol"], r["qty"], at,
                               Side(r["share_side"]) if r["share_side"] else None, r["share_qty"], r["share_price"],
                               r["cash"]))  # fmt: skip
    return out


def last_option_event_at(ledger: Ledger) -> datetime | None:
    return parse_utc(ledger.scalar("SELECT MAX(at) FROM option_events"))


def option_holdings(ledger: Ledger) -> dict[str, float]:
    """Contracts held per OCC symbol by the ledger's account (short negative): the fills, less what expiry
    ended (a contract expires once, and nothing of it is held after)."""
    held: dict[str, float] = {}
    for r in ledger.query("SELECT symbol, side, SUM(qty) AS qty FROM option_fills GROUP BY symbol, side"):
        held[r["symbol"]] = held.get(r["symbol"], 0.0) + (r["qty"] if r["side"] == "buy" else -r["qty"])
    for r in ledger.query("SELECT symbol FROM option_events"):
        held.pop(r["symbol"], None)
    return {s: q for s, q in held.items() if abs(q) > 1e-9}


def committed_contracts(ledger: Ledger) -> dict[str, float]:
    """Contracts per OCC symbol the book holds (``option_holdings``) plus those of the structures still opening
    (their order not filled yet), short negative: what a new structure must not trade the other way."""
    held = option_holdings(ledger)
    for s in structures(ledger, statuses=("opening",)):
        for leg in s.legs:
            sign = 1 if leg["side"] == "buy" else -1
            held[leg["symbol"]] = held.get(leg["symbol"], 0.0) + sign * leg["ratio"] * s.units
    return held


def intent_of_order(ledger: Ledger, broker_order_id: str) -> tuple[str, str | None] | None:
    """(client order id, position key) of the intent behind a broker order or one of its legs; None when the
    ledger sent no such order."""
    rows = ledger.query(
        "SELECT client_order_id, position_key FROM order_intents WHERE broker_order_id = ? OR broker_order_id = "
        "(SELECT parent_broker_order_id FROM orders WHERE broker_order_id = ?)",
        [broker_order_id, broker_order_id],
    )
    return (rows[0]["client_order_id"], rows[0]["position_key"]) if rows else None


def structures_holding(ledger: Ledger) -> dict[str, str]:
    """OCC symbol -> the structure not yet closed that holds it (the latest planned, should two share one)."""
    held: dict[str, str] = {}
    for s in structures(ledger, statuses=("opening", "open", "closing")):
        for leg in s.legs:
            held[leg["symbol"]] = s.structure_id
    return held


@dataclass(frozen=True)
class ShareFillRow:
    side: str
    qty: float
    price: float
    commission: float
    filled_at: str


def structure_share_fills(ledger: Ledger, structure_id: str) -> list[ShareFillRow]:
    """The stock fills of the orders a structure's own intents made (a gamma position's hedge), oldest first."""
    rows = ledger.query(
        "SELECT f.side, f.qty, f.price, f.commission, f.filled_at FROM fills f "
        "JOIN orders o ON o.broker_order_id = f.broker_order_id "
        "JOIN order_intents i ON i.client_order_id = o.client_order_id "
        "WHERE i.position_key = ? AND f.book = 'options' ORDER BY f.filled_at, f.fill_id",
        [structure_id],
    )
    return [ShareFillRow(r["side"], r["qty"], r["price"], r["commission"], r["filled_at"]) for r in rows]


def has_options_book(ledger: Ledger) -> bool:
    """Whether the ledger ever planned an options structure or recorded an option fill (one cheap query)."""
    return bool(ledger.scalar(
        "SELECT EXISTS (SELECT 1 FROM option_structures) OR EXISTS (SELECT 1 FROM option_fills)"))  # fmt: skip


def signal_sides(ledger: Ledger, signal_ids: list[int]) -> dict[int, str]:
    """signal id -> its side (buy or sell), for the structures opened on signals."""
    if not signal_ids:
        return {}
    marks = ", ".join("?" * len(signal_ids))
    return {r["id"]: r["side"] for r in ledger.query(f"SELECT id, side FROM signals WHERE id IN ({marks})", signal_ids)}
