"""Prices on the tick and quantities in whole shares, at the broker boundary."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

#: Two share quantities closer than this are the same holding (the ledger's and the broker's, say).
QTY_TOLERANCE = 1e-6


def tick_size(price: float) -> Decimal:
    """US equities: $0.01 at or above $1, $0.0001 below (Reg NMS rule 612; Alpaca rejects sub-penny prices)."""
    return Decimal("0.01") if price >= 1 else Decimal("0.0001")


def to_tick(price: float, *, direction: str = "nearest") -> float:
    """Round a price onto its tick. ``direction`` is ``nearest``, ``down`` or ``up``."""
    if not math.isfinite(price) or price <= 0:
        raise ValueError(f"price must be a positive finite number, got {price!r}")
    tick = tick_size(price)
    value = Decimal(str(price)) / tick
    if direction == "down":
        steps = value.to_integral_value(rounding=ROUND_FLOOR)
    elif direction == "up":
        steps = value.to_integral_value(rounding=ROUND_CEILING)
    else:
        steps = value.to_integral_value(rounding=ROUND_HALF_UP)
    return float(steps * tick)


def is_on_tick(price: float) -> bool:
    tick = tick_size(price)
    return (Decimal(str(price)) % tick) == 0


def whole_shares(qty: float) -> float:
    """Round a quantity down to whole shares (never up: a cap must stay a cap)."""
    if not math.isfinite(qty) or qty <= 0:
        return 0.0
    return float(math.floor(qty + 1e-9))
