"""Object mothers: build domain values with sane defaults so a test states only what matters."""

from __future__ import annotations

from datetime import UTC, datetime

from autotrader.clock import ET, session_date_for
from autotrader.domain.enums import Book, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.ids import client_order_id
from autotrader.domain.models import OrderIntent, OrderRequest


def et(text: str) -> datetime:
    """A New York wall-clock time as a UTC instant: et("2026-03-02 10:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=ET).astimezone(UTC)


def make_intent(
    *,
    at: datetime,
    symbol: str = "AAPL",
    qty: float = 10,
    side: Side = Side.BUY,
    step: str = "size",
    book: Book = Book.SIGNALS,
    leg: LegKind = LegKind.ENTRY,
    tier: int = 0,
    attempt: int = 0,
    type: OrderType = OrderType.MARKET,
    limit_price: float | None = None,
) -> OrderIntent:
    session = session_date_for(at)
    cid = client_order_id(
        session_date=session, step=step, book=str(book), symbol=symbol, leg=str(leg), tier=tier, attempt=attempt
    )
    request = OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        qty=qty,
        type=type,
        time_in_force=TimeInForce.DAY,
        limit_price=limit_price,
    )
    return OrderIntent(
        client_order_id=cid,
        session_date=session,
        step=step,
        book=book,
        leg=leg,
        tier=tier,
        request=request,
        reason="test",
        attempt=attempt,
    )
