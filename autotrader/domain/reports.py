"""Reports: what a step did, or would do under --dry-run. The CLI renders them; ``--json`` dumps them.

The JSON shape is the ``--json`` contract scripts rely on: ``command, as_of, dry_run, ok, orders, skipped`` plus
command-specific fields, which may be added to but never renamed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OrderLine:
    symbol: str
    side: str
    qty: float
    type: str
    time_in_force: str
    client_order_id: str
    book: str
    leg: str
    reason: str
    tier: int = 0
    status: str = ""
    limit_price: float | None = None
    stop_price: float | None = None
    take_profit: float | None = None
    order_class: str = "simple"
    signal_id: int | None = None
    trace: list[dict[str, Any]] | None = None
    trigger_price: float | None = None  # management legs: the price level that fired the rule
    position_key: str | None = None


@dataclass(frozen=True)
class SkipLine:
    symbol: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    command: str
    as_of: datetime
    dry_run: bool
    ok: bool = True
    exit_code: int = 0
    orders: list[OrderLine] = field(default_factory=list)
    skipped: list[SkipLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "command": self.command,
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "orders": [asdict(o) for o in self.orders],
            "skipped": [{"symbol": s.symbol, "reason": s.reason, **s.detail} for s in self.skipped],
            "notes": list(self.notes),
        }
        for key, value in self.fields.items():
            payload.setdefault(key, value)
        return payload
