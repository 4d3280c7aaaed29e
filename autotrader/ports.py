"""The ports: what the pipeline needs from the outside world, as small Protocols.

Adapters (``autotrader.adapters``) implement them: the embedded ``SimBroker`` / ``SyntheticMarketData`` /
``SyntheticReference`` and the real Alpaca / Polygon (Massive) / Finnhub ones. Adapters translate vendor
objects into ``autotrader.domain.models`` values and vendor errors into ``autotrader.errors`` at the
boundary; nothing vendor-specific passes through a port.

Bar frames (``MarketData``) have float columns ``open, high, low, close, volume``:
  - daily: indexed by session date (``DatetimeIndex`` named ``date``, naive midnight, one row per session);
  - minute: indexed by the bar's *start* instant (``DatetimeIndex`` named ``timestamp``, tz-aware UTC).
A bar is returned only once it is complete at the adapter's clock: a daily bar after that session's close,
a minute bar after its minute has ended. That single rule is what keeps replay free of look-ahead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from autotrader.domain.models import (
    Account,
    Asset,
    BrokerClock,
    BrokerOrder,
    BrokerPosition,
    Fill,
    OrderRequest,
    Quote,
    SessionHours,
)
from autotrader.domain.options import OptionContract, OptionEvent, OptionQuote

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from autotrader.policy.alerts import Alert


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant (UTC, tz-aware). The only source of 'now' in the toolkit."""
        ...


@runtime_checkable
class MarketData(Protocol):
    def has_symbol(self, symbol: str) -> bool:
        """Whether this source knows the symbol at all (an unknown symbol is bad input, not missing data)."""
        ...

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Complete daily bars for sessions in [start, end], none after the clock. Empty frame if none."""
        ...

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Complete 1-minute bars whose start is in [start, end), none ending after the clock."""
        ...

    def latest_quote(self, symbol: str) -> Quote | None:
        """The most recent quote at or before the clock, or None when there is none."""
        ...

    def vix_daily(self, start: date, end: date) -> pd.DataFrame:
        """Daily bars of the volatility index (VIX, or a configured proxy), same rules as ``daily_bars``."""
        ...


@runtime_checkable
class Reference(Protocol):
    def sector(self, symbol: str) -> str | None:
        """The symbol's sector (GICS-like name), or None when unknown."""
        ...

    def next_earnings(self, symbol: str, on_or_after: date) -> date | None:
        """The next earnings date on or after ``on_or_after``, or None when unknown or none scheduled."""
        ...


@runtime_checkable
class Broker(Protocol):
    """One broker account. Submission is never retried here; ambiguity is reported, not guessed."""

    #: Whether this broker accepts a clock other than the wall clock (``--as-of`` without ``--dry-run``).
    #: Only a simulated broker can honestly trade in the past.
    time_travel: bool

    def account(self) -> Account: ...

    def positions(self) -> list[BrokerPosition]: ...

    def asset(self, symbol: str) -> Asset | None:
        """Tradability and fractionability of a symbol; None when the broker does not know it."""
        ...

    def submit(self, request: OrderRequest) -> BrokerOrder:
        """Send one order. Raises ``OrderRejected`` (definitive), ``DuplicateClientOrderId`` or
        ``AmbiguousOrderOutcome`` (the caller resolves both by client order id)."""
        ...

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client order id, or None when the broker definitively has none."""
        ...

    def orders(self, *, status: str = "all", after: datetime | None = None) -> list[BrokerOrder]:
        """Orders (``status`` is ``open`` or ``all``) submitted after ``after``, oldest first, legs nested."""
        ...

    def cancel(self, broker_order_id: str) -> None:
        """Cancel an open order; cancelling an order that is already done is not an error.

        Returns once the broker has accepted the cancel. A broker that cancels asynchronously (Alpaca answers
        at once and the order passes through ``pending_cancel``) is polled briefly, within a bound, until the
        order is no longer working. Raises ``OrderNotFound`` for an id the broker never issued."""
        ...

    def fills(self, *, after: datetime | None = None) -> list[Fill]:
        """Executions after ``after`` (exclusive), oldest first; each carries a unique ``fill_id``."""
        ...

    def clock(self) -> BrokerClock:
        """The broker's view of time and the session."""
        ...


@dataclass(frozen=True)
class Delivery:
    """What became of one alert at one URL. ``target`` is the URL as output may show it (scheme and host)."""

    target: str
    key: str
    ok: bool
    error: str | None = None  # why not, without the URL or anything filled into it


@runtime_checkable
class Notifier(Protocol):
    """Where a run's alerts go: each configured URL takes the alerts at or above its own level.

    Sending never raises and never changes a run's outcome: every delivery says whether it went, and why not."""

    def send(self, alerts: Sequence[Alert], *, every_url: bool = False) -> list[Delivery]:
        """Send each alert, in order, to every URL whose level it reaches (``every_url``: to every URL, whatever
        its level, as ``notify test`` does): one ``Delivery`` per alert and URL tried."""
        ...

    def unreadable(self) -> list[tuple[int, str]]:
        """The URLs that could not be sent to whatever the service answered (an unknown scheme, a malformed
        URL), by their place in ``[notify] urls`` (from 1), and why; nothing is sent (``doctor``)."""
        ...


# -- optional capabilities -------------------------------------------------------------------------------------
# Some adapters can do more than their port asks. Each extra is a small Protocol here; ``bootstrap`` checks the
# adapters against them once and hands the pipeline either the capability or None (``Deps``), so no step has to
# guess at an adapter's attributes.

#: ``(symbol, ex-date, ratio)``: ratio is new shares per old share (2 for a 2:1 split, 0.1 for 1:10).
SplitEvent = tuple[str, date, float]


@runtime_checkable
class SplitSource(Protocol):
    """Market data that knows the splits of the symbols it serves (prices themselves stay unadjusted)."""

    def splits(self) -> list[SplitEvent]:
        """The known splits up to the clock's date, never one dated after it."""
        ...


@runtime_checkable
class OrderChanges(Protocol):
    """A broker that numbers every change of its orders (the simulated broker, whose account is in the ledger).

    ``sync`` lists every open order and every order of the last week at each run, so that none that changed
    is missed. A broker that can say which orders changed after a cursor lets a fast replay's sync read those
    alone: with fifty orders resting, listing and comparing them all was half of every slot. Alpaca has no such
    feed (its order stream is a socket), so live syncs always list."""

    def change_cursor(self) -> int:
        """The number of the latest change, after bringing the account up to the clock (0: none yet). A change
        made after this call has a higher number."""
        ...

    def orders_changed(self, after: int) -> list[BrokerOrder]:
        """Every order group (the parent, legs nested) placed, or whose status or fills changed, in a change
        numbered above ``after``, oldest first. It may also hold groups changed after the latest cursor read."""
        ...


@runtime_checkable
class PositionQuantities(Protocol):
    """A broker that lists how much of each symbol it holds without valuing the positions (the simulated broker).

    The reconcile compares quantities only; valuing every position needs a quote per symbol, which was a sixth
    of a slot with fifty symbols held. Alpaca's positions come valued either way."""

    def position_quantities(self) -> dict[str, float]:
        """Symbol → quantity held, after bringing the account up to the clock (``Broker.positions``' quantities)."""
        ...


@runtime_checkable
class MinuteArrays(Protocol):
    """Market data that holds minute bars as arrays (the synthetic world) and can hand them over as such.

    The simulated broker matches every open order's symbol against its fresh minute bars at each advance and
    works on arrays: from a source that has them, building a frame only to take the arrays back out was most
    of that read. Same bars, same clock rule as ``MarketData.minute_bars``."""

    def minute_arrays(self, symbol: str, start: datetime, end: datetime) -> tuple[np.ndarray, np.ndarray]:
        """(bar starts as int64 UTC nanoseconds, an (n, 5) float array of open, high, low, close, volume) of the
        complete 1-minute bars whose start is in [start, end), none ending after the clock."""
        ...


@runtime_checkable
class SessionRanges(Protocol):
    """Market data whose minute bars and sessions come from one model (the synthetic world), so it knows each
    session's whole range exactly, before the session is over.

    For a simulated exchange only: a session whose range no resting order's price reaches cannot fill any of
    them, so its minute bars need not be made or read. That skip changes no result; any other use of a range
    not yet complete would look ahead."""

    def session_range(self, symbol: str, day: date) -> tuple[float, float] | None:
        """(lowest low, highest high) of the symbol's regular-session minute bars on ``day``, exactly as those
        bars give them, whatever the clock; None when it has no minute bars that day."""
        ...


@runtime_checkable
class DailyArrays(Protocol):
    """Market data that holds daily bars as arrays (the synthetic world) and can hand them over as such: a scan
    of a large universe reads hundreds of symbols' bars each session, and a frame per symbol was most of it.
    Same bars, same clock rule as ``MarketData.daily_bars``."""

    def daily_arrays(self, symbol: str, start: date, end: date) -> tuple[np.ndarray, np.ndarray]:
        """(each bar's session as int64 naive-midnight nanoseconds, an (n, 5) float array of open, high, low,
        close, volume) of the complete daily bars for sessions in [start, end], none after the clock."""
        ...


@runtime_checkable
class UniverseDailyBars(Protocol):
    """Market data that fetches the daily bars of a whole universe at once, cheaper than symbol by symbol.

    Polygon's grouped-daily endpoint answers one session for every symbol in one request: a step about to read
    the daily bars of many symbols calls ``sync_daily`` first, so that a cold cache costs about one request per
    session of history instead of one (or two) per symbol. The bars are then read through ``daily_bars`` as
    usual, which finds them cached."""

    def sync_daily(self, symbols: Iterable[str], start: date, end: date) -> object:
        """Bring the cache up to date for these symbols over sessions in [start, end] in the fewest requests;
        returns what was done (for diagnostics only: steps read bars through ``daily_bars``)."""
        ...


@runtime_checkable
class OptionChains(Protocol):
    """Market data that serves listed equity options: chains with quotes, greeks, IV, open interest and volume.

    Same clock rule as the bars: a quote is the market at or before the clock, never after. Greeks are in the
    vendors' units (``domain.options.OptionQuote``)."""

    def option_chain(self, underlying: str, first_expiry: date, last_expiry: date) -> list[OptionQuote]:
        """Every listed contract on ``underlying`` expiring in [first_expiry, last_expiry] that has not expired,
        with its quote; empty when the underlying has no options (or is unknown)."""
        ...

    def option_quotes(self, contracts: Sequence[OptionContract]) -> dict[str, OptionQuote]:
        """The quotes of these contracts by OCC symbol; a contract with no market now (expired, unknown) is
        absent."""
        ...


@runtime_checkable
class DataQuality(Protocol):
    """Market data that sets aside symbols whose bars failed validation during this run."""

    @property
    def rejected(self) -> Mapping[str, str]:
        """symbol → why its data was set aside for this run (its frames are empty, its quote None)."""
        ...


@runtime_checkable
class VolatilityProxy(Protocol):
    """Market data whose volatility gauge may be a proxy ETF instead of the VIX index itself."""

    @property
    def vix_proxied(self) -> bool:
        """True when ``vix_daily`` serves the proxy, whose price is not on the VIX scale."""
        ...


@runtime_checkable
class OptionsBroker(Protocol):
    """A broker that trades listed options. Option orders go through ``Broker.submit``, ``order_by_client_id``
    and ``cancel`` like any order (same exactly-once rules); what they became is listed apart from the stock
    side, so the equity books never see a contract: orders with their legs, fills per leg (qty in contracts,
    price per share), positions per contract (short negative), and what expiry did to each position."""

    def option_orders(self, *, status: str = "all", after: datetime | None = None) -> list[BrokerOrder]:
        """Option orders (``open`` or ``all``) submitted after ``after``, oldest first, legs nested."""
        ...

    def option_fills(self, *, after: datetime | None = None) -> list[Fill]:
        """Executions of option legs after ``after`` (exclusive), oldest first."""
        ...

    def option_positions(self) -> list[BrokerPosition]:
        """Open option positions by OCC symbol: qty in contracts (short negative), average price per share."""
        ...

    def option_events(self, *, after: datetime | None = None) -> list[OptionEvent]:
        """Expiries, exercises and assignments after ``after`` (exclusive), oldest first."""
        ...


@runtime_checkable
class BrokerCalendar(Protocol):
    """A broker that publishes its own trading calendar (compared with XNYS by ``doctor``)."""

    def calendar(self, start: date, end: date) -> list[SessionHours]: ...


@runtime_checkable
class RateLimitGauge(Protocol):
    """A broker that reports its request budget."""

    def rate_limit(self) -> tuple[float, float] | None:
        """``(remaining, limit)`` for the current window, or None before any request has reported one."""
        ...


@runtime_checkable
class SignalSource(Protocol):
    """A built-in producer of recommendation documents (the synthetic demo feed; later, scanners).

    A document is the same CSV text a source would drop into the inbox, so built-in and external signals
    go through one parser and one set of checks.
    """

    name: str

    def documents(self, session: date) -> list[tuple[str, str]]:
        """``(origin, csv_text)`` pairs this source publishes for the session, only those already published
        at the source's clock (never the future)."""
        ...


# -- monitoring ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSample:
    labels: tuple[str, ...]  # the values, in the order of ``Metric.labels``
    value: float


@dataclass(frozen=True)
class Metric:
    """One metric family in Prometheus' terms. A counter's name is written without ``_total`` (the format adds it)."""

    name: str
    help: str
    kind: Literal["gauge", "counter"]
    labels: tuple[str, ...]
    samples: tuple[MetricSample, ...]


@runtime_checkable
class Monitor(Protocol):
    """Where runs show that they are alive: an uptime service's ping URL, a metrics file for a scraper.

    Neither may ever change a run's outcome: each call answers why it failed instead of raising."""

    #: What a log line may say about where the pings go: the ping URL's host. Never the URL, which holds the
    #: check's key. None when no ping URL is configured.
    ping_host: str | None

    def ping(self, event: str, run_id: str) -> str | None:
        """Tell the uptime service ``start`` or an exit code (``"0"``, ``"3"``) for the run ``run_id``, within the
        timeout. None once it answered, else why not (refused, timed out, an HTTP error), without the URL."""
        ...

    def publish(self, metrics: Sequence[Metric]) -> str | None:
        """Replace the published metrics with these, atomically: a reader sees the old file or the new one, never
        half of it. None once written, else why not."""
        ...

    def textfile_problem(self) -> str | None:
        """Why ``publish`` could not write the metrics file (None: it could, or none is configured), writing
        nothing (``doctor``)."""
        ...
