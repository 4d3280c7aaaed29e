"""Deterministic identifiers.

A client_order_id is built from (session date, step, book, symbol, leg, tier, attempt): the same decision in
the same trading session always gets the same id, so a rerun or a crash recovery can never mint a second
order. It stays within 48 characters, the strictest limit Alpaca has documented, and keeps a readable prefix
so a human can tell an order's origin from the broker's dashboard. Steps do not call it themselves:
``OrderIntent.create`` derives the id from the fields the intent stores.
"""

from __future__ import annotations

import base64
import hashlib
import re

_SAFE = re.compile(r"[^A-Za-z0-9.]")
# The shape ``client_order_id`` returns; an id of this shape at the broker was minted by an autotrader ledger.
_OURS = re.compile(r"at-\d{8}-[A-Z0-9.]{1,10}-[a-z]{2}\d+-[a-z2-7]{14}")

_LEG_CODES = {
    "entry": "en",
    "dip_buy": "db",
    "profit_take": "pt",
    "loss_cut": "lc",
    "stop": "st",
    "target": "tg",
    "trail": "tr",
    "time_exit": "tx",
    "signal_exit": "sx",
    "rebalance": "rb",
    "flatten": "fl",
}


def client_order_id(
    *,
    session_date: str,
    step: str,
    book: str,
    symbol: str,
    leg: str,
    tier: int = 0,
    attempt: int = 0,
    key: str = "",
) -> str:
    """Return the deterministic client order id for one decision (<= 48 characters).

    ``attempt`` exists because a broker never accepts an id twice, even after the first order was cancelled:
    a deliberate re-attempt must say so. ``key`` tells apart decisions that share everything else (the entry
    of one signal from another signal's entry in the same symbol and session).
    """
    parts = [session_date, step, book, symbol.upper(), leg, str(int(tier)), str(int(attempt))]
    canonical = "|".join([*parts, f"key={key}"] if key else parts)
    digest = base64.b32encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=").lower()
    readable_symbol = _SAFE.sub("", symbol.upper())[:10]
    compact_date = session_date.replace("-", "")
    leg_code = _LEG_CODES.get(leg, leg[:2])
    cid = f"at-{compact_date}-{readable_symbol}-{leg_code}{int(tier)}-{digest[:14]}"
    assert len(cid) <= 48, cid
    return cid


def is_ours(client_order_id: str | None) -> bool:
    """Whether an id has the shape this module mints (a person's order in the broker's app has another)."""
    return bool(client_order_id) and _OURS.fullmatch(client_order_id or "") is not None
