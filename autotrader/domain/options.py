"""Option contracts, the legs of a structure, and the structures the options book trades.

A contract is named by its OCC symbol: the root (up to six characters), the expiry as YYMMDD, ``C`` or ``P``,
and the strike times 1000 in eight digits. Alpaca writes it without padding (``AAPL260320C00150000``), Polygon
with an ``O:`` prefix, the OCC's own form pads the root to six characters with spaces; ``parse_occ`` reads all
three and ``OptionContract.symbol`` writes Alpaca's. The root is taken for the underlying: the adjusted
contracts that follow a corporate action (a root such as ``AAPL1``, a deliverable other than 100 shares) are
not traded and a symbol naming one is refused where the deliverable matters.

A structure (``Structure``) is one decision with its legs: a vertical, an iron condor, a straddle, a covered
call, a cash-secured put, or a synthetic straddle (two puts and 100 shares per unit). It is opened and closed
as one order of all its legs, so it is one position in the options book; each constructor checks the shape
(one underlying, the expiries and strikes in the order the kind needs) and says what is wrong with a shape
that is not one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime

from autotrader.domain.enums import OptionEventKind, OptionRight, Side, StructureKind

MULTIPLIER = 100  # shares delivered per standard US equity option contract
_OCC = re.compile(r"(?:O:)?(?P<root>[A-Z0-9]{1,6}) *(?P<expiry>\d{6})(?P<right>[CP])(?P<strike>\d{8})")
_ALPACA_OCC = re.compile(r"[A-Z0-9]{1,6}\d{6}[CP]\d{8}")
_MAX_STRIKE = 99_999.999  # eight digits of thousandths


def is_option_symbol(symbol: str) -> bool:
    """Whether ``symbol`` is an OCC option symbol as Alpaca writes it (a stock's ticker never is)."""
    return _ALPACA_OCC.fullmatch(symbol) is not None


def is_option_order(symbol: str, order_class: str) -> bool:
    """Whether an order (its symbol and order class as stored) trades options: a multi-leg order, or one
    contract named by its OCC symbol. A structure's other orders trade its shares (a gamma position's hedge)."""
    return order_class == "mleg" or is_option_symbol(symbol)


@dataclass(frozen=True, order=True)
class OptionContract:
    underlying: str
    expiry: date
    right: OptionRight
    strike: float

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z0-9]{1,6}", self.underlying):
            raise ValueError(f"option root {self.underlying!r}: 1 to 6 capital letters or digits")
        thousandths = round(self.strike * 1000)
        if not 0 < self.strike <= _MAX_STRIKE or abs(thousandths - self.strike * 1000) > 1e-6:
            raise ValueError(f"strike {self.strike!r}: a positive price in thousandths of a dollar, at most 99999.999")

    @property
    def symbol(self) -> str:
        """The OCC symbol as Alpaca writes it (no padding, no prefix)."""
        # Kept once made (the class is frozen, so it cannot change): a chain asks each contract's symbol several
        # times. Written without strftime, which cost more than the rest of the symbol.
        known = self.__dict__.get("_symbol")
        if known is None:
            e, right = self.expiry, "C" if self.right == OptionRight.CALL else "P"
            known = f"{self.underlying}{e.year % 100:02d}{e.month:02d}{e.day:02d}{right}{round(self.strike * 1000):08d}"
            self.__dict__["_symbol"] = known
        return known

    @property
    def is_call(self) -> bool:
        return self.right == OptionRight.CALL

    def intrinsic(self, price: float) -> float:
        """Per share: what exercising it would be worth with the underlying at ``price``."""
        return max(price - self.strike, 0.0) if self.is_call else max(self.strike - price, 0.0)


def parse_occ(text: str) -> OptionContract:
    """The contract an OCC symbol names (Alpaca's, Polygon's ``O:`` or the OCC's space-padded form)."""
    match = _OCC.fullmatch(text.strip().upper())
    if match is None:
        raise ValueError(
            f"{text!r} is not an OCC option symbol: ROOT (1-6 letters or digits), YYMMDD, C or P, and the strike "
            "times 1000 in 8 digits, e.g. AAPL260320C00150000"
        )
    raw = match["expiry"]
    try:
        expiry = date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:]))
    except ValueError:
        raise ValueError(f"{text!r}: {raw} is not a date (YYMMDD)") from None
    right = OptionRight.CALL if match["right"] == "C" else OptionRight.PUT
    return OptionContract(match["root"], expiry, right, int(match["strike"]) / 1000)


@dataclass(frozen=True)
class OptionLeg:
    """One contract of a structure, bought or sold, ``ratio`` of them per unit of the structure."""

    contract: OptionContract
    side: Side
    ratio: int = 1

    def __post_init__(self) -> None:
        if self.ratio < 1:
            raise ValueError(f"leg ratio {self.ratio}: at least 1 contract per unit")

    @property
    def sign(self) -> int:
        """+1 for a bought leg, -1 for a sold one."""
        return 1 if self.side == Side.BUY else -1


@dataclass(frozen=True)
class Structure:
    """One options position: its kind, its legs, and the shares per unit it holds beside them.

    ``shares`` is the stock held per unit as part of the structure (a covered call: 100 shares per contract,
    bought at ``share_price``); every other kind holds none. Build one with the constructors below, which check
    its shape."""

    kind: StructureKind
    legs: tuple[OptionLeg, ...]
    shares: int = 0
    share_price: float | None = None

    @property
    def underlying(self) -> str:
        return self.legs[0].contract.underlying

    @property
    def expiry(self) -> date:
        """The nearest expiry among the legs: the structure must be dealt with by then."""
        return min(leg.contract.expiry for leg in self.legs)

    @property
    def strikes(self) -> tuple[float, ...]:
        return tuple(sorted({leg.contract.strike for leg in self.legs}))


def _same_underlying_and_expiry(kind: StructureKind, legs: tuple[OptionLeg, ...]) -> None:
    roots = {leg.contract.underlying for leg in legs}
    expiries = {leg.contract.expiry for leg in legs}
    if len(roots) != 1:
        raise ValueError(f"{kind}: every leg on one underlying, got {', '.join(sorted(roots))}")
    if len(expiries) != 1:
        raise ValueError(f"{kind}: every leg of one expiry, got {', '.join(str(e) for e in sorted(expiries))}")


def vertical(long: OptionContract, short: OptionContract) -> Structure:
    """A vertical spread: buy ``long``, sell ``short``, same right and expiry, different strikes. A call spread
    bought below the strike it sells (a put spread above) is a debit spread; the other way round, a credit one."""
    if long.right != short.right:
        raise ValueError(f"vertical: both legs calls or both puts, got a {long.right} and a {short.right}")
    if long.strike == short.strike:
        raise ValueError(f"vertical: two different strikes, got {long.strike:g} twice")
    legs = (OptionLeg(long, Side.BUY), OptionLeg(short, Side.SELL))
    _same_underlying_and_expiry(StructureKind.VERTICAL, legs)
    return Structure(StructureKind.VERTICAL, legs)


def iron_condor(
    long_put: OptionContract, short_put: OptionContract, short_call: OptionContract, long_call: OptionContract
) -> Structure:
    """Sell a put spread below the market and a call spread above it: strikes long put < short put <= short call
    < long call, one expiry. It earns the credit while the price stays between the short strikes."""
    rights = (long_put.right, short_put.right, short_call.right, long_call.right)
    if rights != (OptionRight.PUT, OptionRight.PUT, OptionRight.CALL, OptionRight.CALL):
        raise ValueError("iron condor: a long put, a short put, a short call and a long call, in that order")
    if not long_put.strike < short_put.strike <= short_call.strike < long_call.strike:
        raise ValueError(
            "iron condor: strikes long put < short put <= short call < long call, got "
            f"{long_put.strike:g}, {short_put.strike:g}, {short_call.strike:g}, {long_call.strike:g}"
        )
    legs = (
        OptionLeg(long_put, Side.BUY),
        OptionLeg(short_put, Side.SELL),
        OptionLeg(short_call, Side.SELL),
        OptionLeg(long_call, Side.BUY),
    )
    _same_underlying_and_expiry(StructureKind.IRON_CONDOR, legs)
    return Structure(StructureKind.IRON_CONDOR, legs)


def straddle(call: OptionContract, put: OptionContract, side: Side = Side.BUY) -> Structure:
    """A call and a put at one strike and expiry, both bought (long volatility) or both sold."""
    if (call.right, put.right) != (OptionRight.CALL, OptionRight.PUT):
        raise ValueError("straddle: a call and a put, in that order")
    if call.strike != put.strike:
        raise ValueError(f"straddle: one strike for both legs, got {call.strike:g} and {put.strike:g}")
    legs = (OptionLeg(call, side), OptionLeg(put, side))
    _same_underlying_and_expiry(StructureKind.STRADDLE, legs)
    return Structure(StructureKind.STRADDLE, legs)


def covered_call(call: OptionContract, share_price: float) -> Structure:
    """A short call against 100 shares held per contract, bought (or assigned) at ``share_price`` each."""
    if not call.is_call:
        raise ValueError(f"covered call: the leg sold is a call, got a {call.right}")
    if not share_price > 0:
        raise ValueError(f"covered call: the shares' price must be positive, got {share_price!r}")
    return Structure(StructureKind.COVERED_CALL, (OptionLeg(call, Side.SELL),), MULTIPLIER, share_price)


def synthetic_straddle(put: OptionContract, share_price: float) -> Structure:
    """Two puts bought and 100 shares held per unit, at ``share_price``: by put-call parity (a call is worth a
    put plus the shares less the strike's present value) the same position as a long straddle at the put's
    strike, whose delta (from -1 to +1 per share) is hedged with shares held long only: from 0 (deep out of
    the money) to 200 per unit (deep in). The puts are its one order; the shares come in and go out through
    its hedge."""
    if put.is_call:
        raise ValueError(f"synthetic straddle: the legs bought are puts, got a {put.right}")
    if not share_price > 0:
        raise ValueError(f"synthetic straddle: the shares' price must be positive, got {share_price!r}")
    return Structure(StructureKind.SYNTHETIC_STRADDLE, (OptionLeg(put, Side.BUY, 2),), MULTIPLIER, share_price)


def cash_secured_put(put: OptionContract) -> Structure:
    """A short put whose assignment (strike x 100 per contract) is held in cash from the start."""
    if put.is_call:
        raise ValueError(f"cash-secured put: the leg sold is a put, got a {put.right}")
    return Structure(StructureKind.CASH_SECURED_PUT, (OptionLeg(put, Side.SELL),))


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """One contract's market at an instant, as a chain snapshot reports it.

    Greeks per share in the vendors' units: delta and gamma per $1 of the underlying, theta per calendar day,
    vega per volatility point (0.01). ``iv`` is a decimal (0.25 = 25 %). A bid of 0 is a market with no buyer
    (far out of the money); None marks what the source did not report."""

    contract: OptionContract
    bid: float
    ask: float
    quoted_at: datetime
    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None
    open_interest: int | None = None
    volume: int | None = None
    underlying_price: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bid) and math.isfinite(self.ask)) or self.bid < 0 or self.ask < self.bid:
            raise ValueError(f"{self.contract.symbol}: a quote needs 0 <= bid <= ask, got {self.bid!r} / {self.ask!r}")
        if self.quoted_at.tzinfo is None:
            raise ValueError(f"{self.contract.symbol}: quoted_at must be timezone-aware")

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2

    @property
    def width(self) -> float:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class OptionEvent:
    """What expiry did to one option position: ``qty`` contracts (positive) of ``symbol``, and the shares it
    delivered (``share_side`` buy: shares came in at ``share_price``; sell: shares went out) or the cash it
    settled in (``cash``, dollars, + received)."""

    event_id: str
    kind: OptionEventKind
    symbol: str
    qty: float
    at: datetime
    share_side: Side | None = None
    share_qty: float = 0.0
    share_price: float | None = None
    cash: float = 0.0
