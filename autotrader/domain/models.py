"""Frozen domain values passed between layers.

Prices and quantities are floats inside the toolkit; they are validated (finite, positive where it
matters) when constructed and put on the tick at the broker boundary (``domain.money``). Timestamps
are timezone-aware UTC; names say what they are (``submitted_at``, ``filled_at``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypedDict, Unpack

from autotrader.domain.enums import Book, LegKind, OrderClass, OrderType, PositionIntent, Side, TimeInForce
from autotrader.domain.ids import client_order_id
from autotrader.domain.options import is_option_symbol


def _require_finite(name: str, value: float | None, *, positive: bool = False, allow_zero: bool = False) -> None:
    if value is None:
        return
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and (value < 0 or (value == 0 and not allow_zero)):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def _require_utc(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    bid: float
    ask: float
    last: float
    quoted_at: datetime

    def __post_init__(self) -> None:
        for name in ("bid", "ask", "last"):
            _require_finite(name, getattr(self, name), positive=True)
        _require_utc("quoted_at", self.quoted_at)

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2

    @property
    def spread_bps(self) -> float:
        return (self.ask - self.bid) / self.mid * 10_000


@dataclass(frozen=True, slots=True)
class Asset:
    symbol: str
    tradable: bool = True
    fractionable: bool = False
    shortable: bool = False
    name: str = ""


@dataclass(frozen=True, slots=True)
class Account:
    equity: float
    cash: float
    buying_power: float
    currency: str = "USD"

    def __post_init__(self) -> None:
        _require_finite("equity", self.equity)
        _require_finite("cash", self.cash)
        _require_finite("buying_power", self.buying_power)


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """What the broker says we hold in one symbol (all books together)."""

    symbol: str
    qty: float
    avg_entry_price: float
    market_value: float | None = None

    def __post_init__(self) -> None:
        _require_finite("qty", self.qty)
        _require_finite("avg_entry_price", self.avg_entry_price, positive=True, allow_zero=True)


@dataclass(frozen=True, slots=True)
class OrderLegRequest:
    """One option leg of a multi-leg order: ``ratio_qty`` contracts of ``symbol`` (OCC) per unit of the order."""

    symbol: str
    side: Side
    ratio_qty: int
    position_intent: PositionIntent

    def __post_init__(self) -> None:
        if not is_option_symbol(self.symbol):
            raise ValueError(f"an order leg is an option: {self.symbol!r} is not an OCC symbol")
        if self.ratio_qty < 1:
            raise ValueError(f"leg {self.symbol}: ratio_qty must be at least 1, got {self.ratio_qty}")
        buying = self.position_intent in (PositionIntent.BUY_TO_OPEN, PositionIntent.BUY_TO_CLOSE)
        if buying != (self.side == Side.BUY):
            raise ValueError(f"leg {self.symbol}: side {self.side} contradicts {self.position_intent}")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """Everything a broker needs to place one order (or one bracket/OCO group, or one options structure).

    An option order (an OCC ``symbol``, or ``legs`` under ``order_class`` mleg, ``symbol`` then the underlying
    and ``qty`` the units of the structure) is a day limit order in whole contracts, never a market order: an
    option's spread can be wide enough that a market order's price is a guess. A multi-leg order's ``limit_price``
    is the net price per share and its ``side`` says which way it goes: ``buy`` pays at most that net debit,
    ``sell`` receives at least that net credit (so every price in the toolkit stays positive; the Alpaca adapter
    writes a credit as the negative net price Alpaca takes)."""

    client_order_id: str
    symbol: str
    side: Side
    qty: float
    type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: float | None = None
    stop_price: float | None = None
    trail_percent: float | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    take_profit_limit_price: float | None = None
    stop_loss_stop_price: float | None = None
    stop_loss_limit_price: float | None = None
    legs: tuple[OrderLegRequest, ...] = ()

    def __post_init__(self) -> None:
        if not self.client_order_id or len(self.client_order_id) > 48:
            raise ValueError(f"client_order_id must be 1-48 characters, got {self.client_order_id!r}")
        _require_finite("qty", self.qty, positive=True)
        if self.is_option:
            self._check_option()
            return
        for name in (
            "limit_price",
            "stop_price",
            "trail_percent",
            "take_profit_limit_price",
            "stop_loss_stop_price",
            "stop_loss_limit_price",
        ):
            _require_finite(name, getattr(self, name), positive=True)

    @property
    def is_option(self) -> bool:
        return bool(self.legs) or self.order_class == OrderClass.MLEG or is_option_symbol(self.symbol)

    def _check_option(self) -> None:
        name = self.symbol
        if self.type != OrderType.LIMIT or self.limit_price is None:
            raise ValueError(f"{name}: an option order is a limit order, never {self.type}")
        if self.time_in_force != TimeInForce.DAY:
            raise ValueError(f"{name}: an option order is a day order, got {self.time_in_force}")
        if self.qty != int(self.qty):
            raise ValueError(f"{name}: options trade in whole contracts, got {self.qty}")
        _require_finite("limit_price", self.limit_price, positive=True)
        if self.order_class == OrderClass.MLEG:
            if len(self.legs) < 2 or len({leg.symbol for leg in self.legs}) != len(self.legs):
                raise ValueError(f"{name}: a multi-leg order has two or more legs, each a different contract")
        else:
            if self.legs or self.order_class != OrderClass.SIMPLE:
                raise ValueError(f"{name}: a single option is a simple order; several legs need order class mleg")


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """The broker's view of one order. ``legs`` holds a bracket's or OCO's child orders."""

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: float
    type: OrderType
    time_in_force: TimeInForce
    status: str
    filled_qty: float = 0.0
    filled_avg_price: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    trail_percent: float | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    submitted_at: datetime | None = None
    updated_at: datetime | None = None
    parent_broker_order_id: str | None = None
    reject_reason: str | None = None
    legs: tuple[BrokerOrder, ...] = ()

    def __post_init__(self) -> None:
        _require_finite("filled_qty", self.filled_qty, positive=True, allow_zero=True)
        _require_utc("submitted_at", self.submitted_at)
        _require_utc("updated_at", self.updated_at)

    @classmethod
    def accepted(cls, request: OrderRequest, broker_order_id: str, at: datetime) -> BrokerOrder:
        """What a broker answers when it accepts ``request``: nothing filled yet."""
        return cls(
            broker_order_id=broker_order_id,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            qty=request.qty,
            type=request.type,
            time_in_force=request.time_in_force,
            status="accepted",
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            order_class=request.order_class,
            submitted_at=at,
            updated_at=at,
        )


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``fill_id`` is the broker's id and is what makes fills idempotent."""

    fill_id: str
    broker_order_id: str
    symbol: str
    side: Side
    qty: float
    price: float
    filled_at: datetime
    commission: float = 0.0

    def __post_init__(self) -> None:
        _require_finite("qty", self.qty, positive=True)
        _require_finite("price", self.price, positive=True)
        _require_finite("commission", self.commission, positive=True, allow_zero=True)
        _require_utc("filled_at", self.filled_at)

    @classmethod
    def from_row(cls, row: Any, filled_at: datetime) -> Fill:
        """A stored fill (the ledger's ``fills`` or the simulator's ``sim_fills``: the same columns), its
        instant parsed by the caller, who knows how that table writes it."""
        return cls(row["fill_id"], row["broker_order_id"], row["symbol"], Side(row["side"]), row["qty"],
                   row["price"], filled_at, row["commission"])  # fmt: skip


@dataclass(frozen=True, slots=True)
class BrokerClock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order a step decided to send. Stored with its client_order_id *before* any network call."""

    client_order_id: str
    session_date: str  # America/New_York trading date, YYYY-MM-DD
    step: str
    book: Book
    leg: LegKind
    tier: int
    request: OrderRequest
    reason: str = ""
    signal_id: int | None = None
    position_key: str | None = None
    attempt: int = 0
    extra: dict = field(default_factory=dict)
    expires_at: datetime | None = None  # not sent after this instant (None: not after its session date)

    @classmethod
    def create(
        cls,
        *,
        session_date: str,
        step: str,
        book: Book,
        leg: LegKind,
        symbol: str,
        side: Side,
        qty: float,
        tier: int = 0,
        attempt: int = 0,
        key: str = "",
        id_tier: int | None = None,
        reason: str = "",
        signal_id: int | None = None,
        position_key: str | None = None,
        extra: dict[str, Any] | None = None,
        expires_at: datetime | None = None,
        **order: Unpack[OrderTerms],
    ) -> OrderIntent:
        """The one way a step builds an intent: its client order id is derived from the fields the intent
        stores (session date, step, book, symbol, leg, tier, attempt), so the id and the intent cannot
        disagree. ``key`` tells apart decisions that share all of those (see ``client_order_id``).

        ``id_tier``: the tier the id is derived from when it is not the stored one. Only protective orders
        use it: their ids have always been minted with tier 0 while an OCO stores the final target's tier 2,
        and an id must never change for the same decision (a rerun would not recognise its own order)."""
        cid = client_order_id(
            session_date=session_date, step=step, book=str(book), symbol=symbol, leg=str(leg),
            tier=tier if id_tier is None else id_tier, attempt=attempt, key=key,
        )  # fmt: skip
        return cls(
            client_order_id=cid,
            session_date=session_date,
            step=step,
            book=book,
            leg=leg,
            tier=tier,
            request=OrderRequest(client_order_id=cid, symbol=symbol, side=side, qty=qty, **order),
            reason=reason,
            signal_id=signal_id,
            position_key=position_key,
            attempt=attempt,
            extra=extra or {},
            expires_at=expires_at,
        )

    @property
    def symbol(self) -> str:
        return self.request.symbol


class OrderTerms(TypedDict, total=False):
    """What an order says beyond its symbol, side and quantity: ``OrderRequest``'s optional fields."""

    type: OrderType
    time_in_force: TimeInForce
    limit_price: float | None
    stop_price: float | None
    trail_percent: float | None
    order_class: OrderClass
    take_profit_limit_price: float | None
    stop_loss_stop_price: float | None
    stop_loss_limit_price: float | None
    legs: tuple[OrderLegRequest, ...]


CATEGORIES = ("long_term", "swing", "day_trade")


@dataclass(frozen=True, slots=True)
class Signal:
    """One recommendation as its source gave it (validated). Stored once, never changed."""

    symbol: str
    category: str  # long_term | swing | day_trade
    source: str
    generated_at: datetime
    side: Side = Side.BUY
    conviction: int | None = None
    entry: float | None = None
    stop: float | None = None
    target: float | None = None  # the final target
    horizon_days: int | None = None
    note: str = ""
    line: int = 0  # where it came from in its file (1-based, header = line 1)
    # The first target (optional): a partial exit there, then the stop to break-even, then the final target.
    target_one: float | None = None
    # What a model predicted with it (optional; fractions, probability of a positive 10-session return).
    predicted_return_3d: float | None = None
    predicted_return_10d: float | None = None
    predicted_return_30d: float | None = None
    probability: float | None = None

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, got {self.category!r}")
        _require_utc("generated_at", self.generated_at)
        for name in ("entry", "stop", "target", "target_one"):
            _require_finite(name, getattr(self, name), positive=True)

    @property
    def dedupe_key(self) -> str:
        """Two rows are the same recommendation when these agree (whatever file they came in)."""
        import hashlib

        parts = [self.source, self.symbol, self.category, str(self.side), self.generated_at.isoformat()]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class SessionHours:
    """One trading session as a broker publishes it: its New York date and its open and close (UTC)."""

    session: date
    open_at: datetime
    close_at: datetime


@dataclass(frozen=True, slots=True)
class Halt:
    """The owner's kill switch (``autotrader halt``), kept in the ledger until ``autotrader resume``.

    While it holds no entry, dip-buy or rebalance order is sent; with ``exits`` no exit either (protective
    orders already at the broker stay there: a halt stops sending, it does not flatten)."""

    reason: str
    exits: bool
    since: datetime
    run_id: str


@dataclass(frozen=True, slots=True)
class Approval:
    """The owner's answer to an entry that needs approval ([approval] required), kept with its intent."""

    client_order_id: str
    status: str  # pending | approved | rejected | expired
    requested_at: datetime
    expires_at: datetime
    reason: str
