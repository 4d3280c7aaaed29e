"""Object mothers: build domain values with sane defaults so a test states only what matters."""

from __future__ import annotations

from datetime import UTC, datetime

from autotrader.clock import ET, session_date_for
from autotrader.domain.enums import Book, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.models import OrderIntent


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
    return OrderIntent.create(
        session_date=session_date_for(at),
        step=step,
        book=book,
        leg=leg,
        tier=tier,
        attempt=attempt,
        symbol=symbol,
        side=side,
        qty=qty,
        type=type,
        time_in_force=TimeInForce.DAY,
        limit_price=limit_price,
        reason="test",
    )


class NoReference:
    """A Reference that knows no sectors and no earnings dates."""

    def sector(self, symbol: str) -> str | None:
        return None

    def next_earnings(self, symbol: str, on_or_after: object) -> None:
        return None


def make_deps(clock, **overrides):
    """A real ``Deps`` for step tests: a memory broker and static prices unless the test passes its own parts.

    Optional capabilities (split source, data quality, ...) are read from the market data the way bootstrap
    reads them, so a test that hands in an adapter gets what a real run would."""
    from autotrader.bootstrap import Deps, market_capabilities
    from autotrader.clock import MarketCalendar
    from tests.fakes.memory_broker import MemoryBroker
    from tests.fakes.static_market import StaticMarketData

    market = overrides.pop("market_data", None) or StaticMarketData(clock, {})
    parts = {
        "broker": MemoryBroker(time_source=clock),
        "market_data": market,
        "reference": NoReference(),
        "calendar": MarketCalendar.xnys(),
        "clock": clock,
        **market_capabilities(market),
    }
    parts.update(overrides)
    return Deps(**parts)
