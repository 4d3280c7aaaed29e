"""Polygon's (Massive's) option snapshots as ``OptionQuote`` values: the chain of an underlying
(``/v3/snapshot/options/{underlying}``, filtered by expiration date, 250 contracts a page, ``next_url``
followed through the request budget) and one contract's snapshot (``/v3/snapshot/options/{underlying}/O:...``).

What a snapshot carries: ``details`` (the ``O:`` ticker, type, expiry, strike, shares per contract),
``last_quote`` (bid, ask and when, in nanoseconds), ``greeks`` (delta, gamma, theta per day, vega per
volatility point), ``implied_volatility`` (a decimal), ``open_interest``, ``day`` (the session's volume) and
``underlying_asset`` (its price). A plan without quotes sends no ``last_quote``: the contract is then quoted
with bid = ask = 0, a market nobody may trade (the pre-trade checks refuse a leg without an ask). A contract
that does not deliver 100 shares or whose root is not the underlying's own (both mark a contract adjusted after
a corporate action), or whose ticker is not an OCC symbol, is left out.

A snapshot is the market at the moment it is asked, so it cannot be asked about the past: a quote stamped
after the adapter's clock (an ``--as-of`` or a replay before today) is refused with a DataError rather than
handed to a step as if it had been known then. The vendor's clock and this machine's may differ a little:
``CLOCK_SLACK`` of difference is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from autotrader.domain.options import MULTIPLIER, OptionQuote, parse_occ
from autotrader.errors import DataError

CHAIN_PAGE = 250  # the endpoint's largest page
CLOCK_SLACK = timedelta(minutes=2)


def _instant(ns: Any) -> datetime | None:
    if not isinstance(ns, int | float) or ns <= 0:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None


def quote_of(snapshot: Any, now: datetime) -> OptionQuote | None:
    """The ``OptionQuote`` of one snapshot (module docstring), None for a contract the toolkit does not trade.
    Raises DataError for a quote stamped after ``now``."""
    details = snapshot.details
    if details is None or not details.ticker:
        return None
    try:
        contract = parse_occ(details.ticker)
    except ValueError:
        return None
    if details.shares_per_contract not in (None, MULTIPLIER):
        return None
    quote, greeks, day, underlying = snapshot.last_quote, snapshot.greeks, snapshot.day, snapshot.underlying_asset
    bid = _number(quote.bid) if quote is not None else None
    ask = _number(quote.ask) if quote is not None else None
    if bid is None or ask is None or bid < 0 or ask < bid:
        bid = ask = 0.0
    stamps = [_instant(x.last_updated) for x in (quote, underlying, day) if x is not None]
    quoted_at = next((s for s in stamps if s is not None), now)
    if quoted_at > now + CLOCK_SLACK:
        raise DataError(
            f"Polygon's option snapshot of {contract.symbol} is from {quoted_at.isoformat()}, after the run's "
            f"instant {now.isoformat()}",
            hint="option snapshots are today's market only: run options steps at the present, not with --as-of "
            "in the past or in a replay over Polygon data",
        )
    volume = _number(day.volume) if day is not None else None
    interest = _number(snapshot.open_interest)
    return OptionQuote(
        contract=contract,
        bid=bid,
        ask=ask,
        quoted_at=min(quoted_at, now),
        iv=_number(snapshot.implied_volatility),
        delta=_number(greeks.delta) if greeks is not None else None,
        gamma=_number(greeks.gamma) if greeks is not None else None,
        theta=_number(greeks.theta) if greeks is not None else None,
        vega=_number(greeks.vega) if greeks is not None else None,
        open_interest=int(interest) if interest is not None else None,
        volume=int(volume) if volume is not None else None,
        underlying_price=_number(underlying.price) if underlying is not None else None,
    )


def quotes_of(
    snapshots: Iterable[Any], underlying: str, now: datetime, first: date, last: date
) -> list[OptionQuote]:
    """The chain's quotes expiring in [first, last] (the vendor filters too; this keeps the port's promise). A
    contract whose root is not the underlying itself (``AAPL1``: adjusted after a corporate action) is left out."""
    out = []
    for snapshot in snapshots:
        q = quote_of(snapshot, now)
        if q is not None and q.contract.underlying == underlying and first <= q.contract.expiry <= last:
            out.append(q)
    return sorted(out, key=lambda q: (q.contract.expiry, q.contract.strike, str(q.contract.right)))
