"""``AlpacaBroker``: the ``ports.Broker`` of a real Alpaca account (paper or live), through alpaca-py.

alpaca-py builds the requests (order bodies, query strings, auth headers, URLs); this module decides what is
sent when, and reads every answer itself. Responses are taken as raw JSON (``raw_data=True``) and parsed here
into ``autotrader.domain.models``, leniently: alpaca-py's own pydantic models refuse an order status they do
not know and insist on account fields Alpaca has since removed, and a broker answer must never crash a run.

How requests behave:

* alpaca-py's own retry loop (429 and 504, three times, for every method *including* order creation) is
  switched off, and every request gets an HTTP timeout: the SDK sets none.
* Reads and cancels go through one tenacity policy: ``max_retries`` retries with exponential backoff, and
  only ``TransientError`` (network failure, timeout, 429, 5xx) is retried. When the retries are spent the
  call raises ``TransientError`` (exit 75: safe to rerun).
* An order POST is sent exactly once. A timeout, connection failure, 429 or 5xx on it raises
  ``AmbiguousOrderOutcome``: the order may exist, and the gateway looks it up by client order id.
* Rate-limit headers are honoured: when a response says ``X-RateLimit-Remaining: 0``, the next request
  (an order included) waits until ``X-RateLimit-Reset``, at most ``max_rate_limit_wait`` seconds.
* Alpaca's error bodies are read without trusting them: a non-JSON body (a proxy's HTML page, a text 500)
  is reported as text. alpaca-py's ``APIError.code`` would raise on such a body, so it is never used.
* The API keys are handed to alpaca-py and kept nowhere else: they never appear in an exception, a log
  line or a repr.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from autotrader.clock import ET, MarketCalendar
from autotrader.domain.enums import (
    BrokerOrderStatus,
    OptionEventKind,
    OrderClass,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from autotrader.domain.models import (
    Account,
    Asset,
    BrokerClock,
    BrokerOrder,
    BrokerPosition,
    Fill,
    OrderRequest,
    SessionHours,
    is_option_symbol,
)
from autotrader.domain.options import MULTIPLIER, OptionEvent, parse_occ
from autotrader.errors import (
    AmbiguousOrderOutcome,
    BrokerError,
    ConfigError,
    DuplicateClientOrderId,
    OrderNotFound,
    OrderRejected,
    TransientError,
)
from autotrader.ports import Clock

if TYPE_CHECKING:
    from alpaca.trading.client import TradingClient

    from autotrader.settings import Config

log = logging.getLogger(__name__)

T = TypeVar("T")

BASE_URLS = {"paper": "https://paper-api.alpaca.markets", "live": "https://api.alpaca.markets"}
API_KEY_ENV = "ALPACA_API_KEY"
SECRET_KEY_ENV = "ALPACA_SECRET_KEY"


ORDERS_PAGE_SIZE = 500  # GET /v2/orders: the largest page Alpaca serves
ACTIVITIES_PAGE_SIZE = 100  # GET /v2/account/activities: likewise
MAX_PAGES = 10_000  # a runaway pager is a bug, not a big account

# Alpaca reuses 40310000 for several refusals: the message tells them apart.
_FORBIDDEN_REASONS = (
    ("buying power", RejectReason.INSUFFICIENT_BUYING_POWER),
    ("insufficient qty", RejectReason.INSUFFICIENT_QTY),
    ("wash trade", RejectReason.WASH_TRADE),
    ("opg orders", RejectReason.AUCTION_WINDOW),
    ("cls orders", RejectReason.AUCTION_WINDOW),
    ("short", RejectReason.SHORTING_NOT_ALLOWED),
    ("fraction", RejectReason.NOT_FRACTIONABLE),  # "not fractionable", "fractional orders must be..."
    ("day trad", RejectReason.DAY_TRADING_PROTECTION),
)
_UNPROCESSABLE_REASONS = (
    ("sub-penny", RejectReason.SUB_PENNY),
    ("not found", RejectReason.NOT_TRADABLE),
    ("not tradable", RejectReason.NOT_TRADABLE),
    ("not active", RejectReason.NOT_TRADABLE),
    ("wash trade", RejectReason.WASH_TRADE),
    ("fraction", RejectReason.NOT_FRACTIONABLE),
    ("buying power", RejectReason.INSUFFICIENT_BUYING_POWER),
)
_DUPLICATE_ID = re.compile(r"client[ _]order[ _]id must be unique", re.IGNORECASE)
_CODE_DAY_TRADING = 40310100

_ORDER_CLASSES = frozenset(c.value for c in OrderClass)  # anything else reads as simple
OPTION_ACTIVITIES = "OPEXP,OPEXC,OPASN"
_OPTION_KINDS = {"OPEXP": OptionEventKind.EXPIRED, "OPEXC": OptionEventKind.EXERCISED,
                 "OPASN": OptionEventKind.ASSIGNED}  # fmt: skip
_SIDES = {"buy": Side.BUY, "sell": Side.SELL, "sell_short": Side.SELL, "buy_to_cover": Side.BUY}


@dataclass(frozen=True, slots=True)
class _Failure:
    """What an HTTP error said, read defensively: the body may be JSON, text, HTML or empty."""

    status: int | None
    code: int | None
    message: str

    def describe(self) -> str:
        code = f" (code {self.code})" if self.code is not None else ""
        return f"HTTP {self.status}{code}: {self.message}"


class AlpacaRequestFailed(BrokerError):
    """A read or cancel that Alpaca refused for good (not a rate limit, not a server error)."""

    def __init__(self, message: str, *, status: int | None, code: int | None) -> None:
        super().__init__(message)
        self.status = status
        self.api_code = code  # Alpaca's numeric error code (``code`` is this toolkit's error kind)


# -- HTTP plumbing -------------------------------------------------------------------------------------------


class RateLimitGate:
    """Honours Alpaca's rate-limit headers: after a response with ``X-RateLimit-Remaining: 0``, the next
    request waits until ``X-RateLimit-Reset`` (epoch seconds), never longer than ``max_wait``.

    The reset instant is the broker's wall-clock time, so it is compared with ``wall_time`` (the real clock
    in production), never with the toolkit's ``Clock`` port, which may be simulated.
    """

    def __init__(self, *, sleep: Callable[[float], None], wall_time: Callable[[], float], max_wait: float) -> None:
        self._sleep = sleep
        self._wall_time = wall_time
        self._max_wait = max_wait
        self._blocked_until: float | None = None
        self.last_seen: tuple[float, float] | None = None  # (remaining, limit) from the latest response

    def observe(self, headers: Any) -> None:
        remaining = _header_number(headers, "X-RateLimit-Remaining")
        reset = _header_number(headers, "X-RateLimit-Reset")
        limit = _header_number(headers, "X-RateLimit-Limit")
        if remaining is not None and limit is not None:
            self.last_seen = (remaining, limit)
        self._blocked_until = reset if remaining is not None and remaining <= 0 and reset is not None else None

    def wait(self) -> None:
        if self._blocked_until is None:
            return
        delay = min(self._blocked_until - self._wall_time(), self._max_wait)
        self._blocked_until = None
        if delay > 0:
            log.info("alpaca rate limit reached: waiting %.1f s for the reset", delay)
            self._sleep(delay)


def _header_number(headers: Any, name: str) -> float | None:
    value = headers.get(name) if headers is not None else None
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class _PacedAdapter(HTTPAdapter):
    """The transport under alpaca-py's session: a default timeout on every request, and the rate-limit gate
    consulted before and fed after each one. urllib3-level retries stay at zero (requests' default)."""

    def __init__(self, *, timeout: float, gate: RateLimitGate) -> None:
        super().__init__(max_retries=0)
        self._timeout = timeout
        self._gate = gate

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self._gate.wait()
        response = super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )
        self._gate.observe(response.headers)
        return response


def _is_loopback_url(url: str) -> bool:
    from urllib.parse import urlparse

    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


# -- the broker ------------------------------------------------------------------------------------------------


class AlpacaBroker:
    """One Alpaca account (implements ``ports.Broker``).

    Args:
        api_key, secret_key: the account's keys (kept only inside alpaca-py's client).
        base_url: the trading API root without ``/v2`` (see ``BASE_URLS``; a loopback URL for tests).
        mode: ``paper`` or ``live``; named in error messages.
        clock: the ``Clock`` port (the market-on-open window is checked against it).
        calendar: the XNYS calendar (default: the shared one).
        timeout_seconds: HTTP timeout of each request (connect and read).
        max_retries: how often a failed read or cancel is tried again (order creation: never).
        backoff_seconds, max_backoff_seconds: the exponential backoff between those tries.
        max_rate_limit_wait: the longest wait for a rate-limit reset.
        cancel_poll_attempts, cancel_poll_interval: how long ``cancel`` watches an order finish cancelling.
        orders_page_size, activities_page_size: page sizes of the order and fill listings.
        sleep, wall_time: how to wait and read real time (replaced in tests, so nothing really waits).
    """

    #: A real account trades only at the real time.
    time_travel = False

    def __init__(
        self,
        *,
        api_key: SecretStr | str,
        secret_key: SecretStr | str,
        base_url: str,
        mode: str,
        clock: Clock,
        calendar: MarketCalendar | None = None,
        timeout_seconds: float = 10.0,
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 8.0,
        max_rate_limit_wait: float = 60.0,
        cancel_poll_attempts: int = 10,
        cancel_poll_interval: float = 0.25,
        orders_page_size: int = ORDERS_PAGE_SIZE,
        activities_page_size: int = ACTIVITIES_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        if timeout_seconds <= 0 or max_retries < 0 or cancel_poll_attempts < 0:
            raise ValueError("timeout_seconds must be > 0; max_retries and cancel_poll_attempts must be >= 0")
        if not 1 <= orders_page_size <= ORDERS_PAGE_SIZE or not 1 <= activities_page_size <= ACTIVITIES_PAGE_SIZE:
            raise ValueError("page sizes must be within Alpaca's limits (orders 1-500, activities 1-100)")
        self.base_url = base_url.rstrip("/")
        self.mode = mode
        self.timeout_seconds = float(timeout_seconds)
        self.max_retries = int(max_retries)
        self._clock = clock
        self._calendar = calendar or MarketCalendar.xnys()
        self._sleep = sleep
        self._cancel_poll_attempts = cancel_poll_attempts
        self._cancel_poll_interval = cancel_poll_interval
        self._orders_page_size = orders_page_size
        self._activities_page_size = activities_page_size
        self._gate = RateLimitGate(sleep=sleep, wall_time=wall_time, max_wait=max_rate_limit_wait)
        self._client = self._make_client(_reveal(api_key), _reveal(secret_key))
        # The one retry policy for reads and cancels. Only TransientError is retried: a rejection, a 404 or
        # a credentials problem will not go away by asking again.
        self._retry_policy = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential(multiplier=backoff_seconds, min=backoff_seconds, max=max_backoff_seconds),
            retry=retry_if_exception_type(TransientError),
            sleep=sleep,
            before_sleep=_log_retry,
            reraise=False,
        )

    def __repr__(self) -> str:
        return f"AlpacaBroker(mode={self.mode!r}, base_url={self.base_url!r})"

    def _make_client(self, api_key: str, secret_key: str) -> TradingClient:
        with warnings.catch_warnings():
            # alpaca.trading imports its streaming client, which imports websockets' deprecated legacy module;
            # this adapter never streams.
            warnings.filterwarnings("ignore", message=r"websockets\.legacy is deprecated", category=DeprecationWarning)
            from alpaca.trading.client import TradingClient

        if not api_key or not secret_key:
            raise ConfigError(
                f"the Alpaca adapter needs both {API_KEY_ENV} and {SECRET_KEY_ENV}",
                hint="set them in the environment or in the workspace's .env file",
            )
        client = TradingClient(
            api_key, secret_key, paper=self.mode != "live", raw_data=True, url_override=self.base_url
        )
        # alpaca-py re-sends every request, order creation included, on 429 and 504, and sets no timeout.
        # Both are switched off here; if a future SDK renames these attributes, fail loudly rather than run
        # with automatic order re-submission back on.
        for attribute in ("_retry", "_retry_codes", "_session"):
            if not hasattr(client, attribute):
                raise RuntimeError(f"alpaca-py has no {attribute}: this SDK version is not supported")
        client._retry = 0
        client._retry_codes = []
        adapter = _PacedAdapter(timeout=self.timeout_seconds, gate=self._gate)
        client._session.mount("https://", adapter)
        client._session.mount("http://", adapter)
        if _is_loopback_url(self.base_url):
            client._session.trust_env = False  # a loopback server is never behind a proxy
        return client

    # ======================================================================================== the port
    def account(self) -> Account:
        raw = self._read("read the account", self._client.get_account)
        return self._parsed(_account, raw)

    def positions(self) -> list[BrokerPosition]:
        """The stock positions; option contracts are ``option_positions``'."""
        return [p for p in self._all_positions() if not is_option_symbol(p.symbol)]

    def _all_positions(self) -> list[BrokerPosition]:
        raw = self._read("list positions", self._client.get_all_positions)
        return [self._parsed(_position, item) for item in _as_list(raw, "positions")]

    # -- OptionsBroker: option orders go through submit; these list what became of them ------------------------
    def option_orders(self, *, status: str = "all", after: datetime | None = None) -> list[BrokerOrder]:
        return [o for o in self.orders(status=status, after=after)
                if o.order_class == OrderClass.MLEG or is_option_symbol(o.symbol)]  # fmt: skip

    def option_fills(self, *, after: datetime | None = None) -> list[Fill]:
        return [f for f in self._all_fills(after=after) if is_option_symbol(f.symbol)]

    def option_positions(self) -> list[BrokerPosition]:
        return [p for p in self._all_positions() if is_option_symbol(p.symbol)]

    def option_events(self, *, after: datetime | None = None) -> list[OptionEvent]:
        """Expiries, exercises and assignments (Alpaca's OPEXP, OPEXC and OPASN non-trade activities). They are
        dated, not timed: each is placed at its session's close, when they happen."""
        query: dict[str, Any] = {"activity_types": OPTION_ACTIVITIES, "direction": "asc", "page_size": 100}
        if after is not None:
            query["after"] = after.astimezone(ET).date().isoformat()
        raw = self._read("list option activities", partial(self._client.get, "/account/activities", query))
        found = []
        for item in _as_list(raw, "account activities"):
            event = self._parsed(lambda i=item: _option_event(i, self._calendar_close))
            if event is not None and (after is None or event.at > after):
                found.append(event)
        return sorted(found, key=lambda e: (e.at, e.event_id))

    @staticmethod
    def _calendar_close(day: date) -> datetime:
        calendar = MarketCalendar.xnys()
        if calendar.is_session(day):
            return calendar.session_close(day)
        return datetime.combine(day, clock_time(16), tzinfo=ET).astimezone(UTC)

    def asset(self, symbol: str) -> Asset | None:
        try:
            raw = self._read(f"read asset {symbol}", lambda: self._client.get_asset(symbol))
        except OrderNotFound:
            return None
        return self._parsed(_asset, raw, symbol)

    def submit(self, request: OrderRequest) -> BrokerOrder:
        """Send one order, once. Nothing is sent when the request cannot be valid (SDK validation, the
        market-on-open window); an unclear outcome raises ``AmbiguousOrderOutcome``."""
        sdk_request = _sdk_order_request(request)
        self._check_auction_window(request)
        cid = request.client_order_id
        from alpaca.common.exceptions import APIError

        try:
            raw = self._client.submit_order(sdk_request)
        except APIError as error:
            raise self._submit_error(cid, _failure(error)) from None
        except requests.RequestException as error:
            raise AmbiguousOrderOutcome(
                f"order {cid}: no answer from Alpaca ({_network_summary(error)}); it may have been placed",
                hint="the gateway looks it up by client order id before anything else is sent",
                in_flight=True,
            ) from None
        try:
            return _order(_raw(raw))
        except (BrokerError, KeyError, TypeError, ValueError) as error:
            # Accepted (2xx), but the answer cannot be read: the order exists; find it by client order id.
            raise AmbiguousOrderOutcome(
                f"order {cid}: Alpaca accepted it but its answer is unreadable: {error}"
            ) from None

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        try:
            raw = self._read(
                f"look up order {client_order_id}", lambda: self._client.get_order_by_client_id(client_order_id)
            )
        except OrderNotFound:
            return None
        return self._parsed(_order, raw)

    def orders(self, *, status: str = "all", after: datetime | None = None) -> list[BrokerOrder]:
        """Every order (legs nested under their parent) submitted after ``after``, oldest first.

        Alpaca's order listing has no page token: pages are walked by submission time, each page asking
        for orders after the last one seen (less a microsecond, so orders sharing that instant are not
        skipped; repeats are dropped by id).
        """
        if status not in ("open", "closed", "all"):
            raise ValueError(f"status must be 'open', 'closed' or 'all', got {status!r}")
        from alpaca.common.enums import Sort
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        found: dict[str, BrokerOrder] = {}
        cursor = after
        for _ in range(MAX_PAGES):
            query = GetOrdersRequest(
                status=QueryOrderStatus(status),
                limit=self._orders_page_size,
                after=cursor,
                direction=Sort.ASC,
                nested=True,
            )
            page = _as_list(self._read("list orders", partial(self._client.get_orders, query)), "orders")
            parsed = [self._parsed(_order, item) for item in page]
            fresh = [o for o in parsed if o.broker_order_id not in found]
            for order in fresh:
                found[order.broker_order_id] = order
            stamps = [o.submitted_at for o in parsed if o.submitted_at is not None]
            if len(page) < self._orders_page_size or not fresh or not stamps:
                break
            cursor = max(stamps) - timedelta(microseconds=1)
        else:
            raise BrokerError("Alpaca kept returning order pages: giving up (is the account enormous?)")
        result = [o for o in found.values() if after is None or o.submitted_at is None or o.submitted_at > after]
        return sorted(result, key=lambda o: (o.submitted_at or datetime.min.replace(tzinfo=UTC), o.broker_order_id))

    def cancel(self, broker_order_id: str) -> None:
        """Ask Alpaca to cancel, then watch the order (briefly, boundedly) until it is no longer working:
        Alpaca answers 204 at once and cancels asynchronously (``pending_cancel``).

        An order that is already done (Alpaca answers 422) is not an error; an id Alpaca never issued raises
        ``OrderNotFound``.
        """
        if not _is_uuid(broker_order_id):
            raise OrderNotFound(f"order not found for {broker_order_id} (not an Alpaca order id)")
        try:
            self._read(f"cancel order {broker_order_id}", lambda: self._client.cancel_order_by_id(broker_order_id))
        except AlpacaRequestFailed as error:
            if error.status == 422:
                return  # filled, cancelled or expired already: nothing left to cancel
            raise
        self._await_cancel(broker_order_id)

    def fills(self, *, after: datetime | None = None) -> list[Fill]:
        """The stock executions (option legs' are ``option_fills``')."""
        return [f for f in self._all_fills(after=after) if not is_option_symbol(f.symbol)]

    def _all_fills(self, *, after: datetime | None = None) -> list[Fill]:
        """Executions after ``after`` (exclusive), oldest first, from the account activities (FILL).

        Pages are walked with ``page_token`` (the id of the last item). A fill reported more than once
        (Alpaca replays, overlapping pages) is kept once, by its id. The server-side ``after`` is a second
        wider than asked, and the exact bound is applied here.
        """
        params: dict[str, Any] = {"direction": "asc", "page_size": self._activities_page_size}
        if after is not None:
            widened = after.astimezone(UTC).replace(microsecond=0) - timedelta(seconds=1)
            params["after"] = widened.strftime("%Y-%m-%dT%H:%M:%SZ")
        found: dict[str, Fill] = {}
        cumulative: dict[str, float] = {}
        token: str | None = None
        previous_ids: list[str] | None = None
        for _ in range(MAX_PAGES):
            query = dict(params, page_token=token) if token else dict(params)
            raw = self._read("list fills", partial(self._client.get, "/account/activities/FILL", query))
            page = _as_list(raw, "account activities")
            ids = [str(item.get("id")) if isinstance(item, dict) else "" for item in page]
            if ids == previous_ids:
                break  # the server ignored page_token and repeated itself: stop rather than loop
            for item in page:
                fill = self._parsed(lambda i=item: _fill(i, cumulative))
                if fill is not None and fill.fill_id not in found:
                    found[fill.fill_id] = fill
            if len(page) < self._activities_page_size or not ids[-1]:
                break
            token, previous_ids = ids[-1], ids
        else:
            raise BrokerError("Alpaca kept returning activity pages: giving up")
        result = [f for f in found.values() if after is None or f.filled_at > after]
        return sorted(result, key=lambda f: (f.filled_at, f.fill_id))

    def clock(self) -> BrokerClock:
        raw = _raw(self._read("read the clock", self._client.get_clock))
        return self._parsed(
            lambda: BrokerClock(
                timestamp=_required_time(raw, "timestamp"),
                is_open=bool(raw["is_open"]),
                next_open=_required_time(raw, "next_open"),
                next_close=_required_time(raw, "next_close"),
            )
        )

    # ================================================================================ beyond the port
    def calendar(self, start: date, end: date) -> list[SessionHours]:
        """Alpaca's trading sessions from ``start`` to ``end`` (inclusive), for comparing with XNYS."""
        from alpaca.trading.requests import GetCalendarRequest

        query = GetCalendarRequest(start=start, end=end)
        raw = self._read("read the calendar", lambda: self._client.get_calendar(query))
        return [self._parsed(_session_hours, item) for item in _as_list(raw, "calendar")]

    def rate_limit(self) -> tuple[float, float] | None:
        """``(remaining, limit)`` of the current rate-limit window, from the latest response's headers."""
        return self._gate.last_seen

    # ================================================================================ internals
    def _read(self, what: str, call: Callable[[], T]) -> T:
        """One read or cancel under the retry policy; ``TransientError`` once the retries are spent."""
        try:
            return self._retry_policy.copy()(self._once, what, call)
        except RetryError as exhausted:
            last = exhausted.last_attempt.exception()
            attempts = exhausted.last_attempt.attempt_number
            raise TransientError(
                f"Alpaca ({self.mode}): could not {what} after {attempts} attempt(s): {last}",
                hint="a temporary failure (network, rate limit or broker outage): safe to rerun",
            ) from None

    def _once(self, what: str, call: Callable[[], T]) -> T:
        from alpaca.common.exceptions import APIError

        try:
            return call()
        except APIError as error:
            raise self._read_error(what, _failure(error)) from None
        except requests.RequestException as error:
            raise TransientError(f"{what}: {_network_summary(error)}") from None

    def _read_error(self, what: str, failure: _Failure) -> Exception:
        status = failure.status or 0
        if status == 429 or status >= 500:
            return TransientError(f"{what}: {failure.describe()}")
        if self._is_auth_failure(failure):
            return self._auth_error(failure)
        if status == 404:
            return OrderNotFound(f"{what}: {failure.describe()}")
        return AlpacaRequestFailed(f"Alpaca refused to {what}: {failure.describe()}", status=status, code=failure.code)

    def _submit_error(self, cid: str, failure: _Failure) -> Exception:
        status = failure.status or 0
        text = failure.message.lower()
        if status == 429 or status >= 500:
            return AmbiguousOrderOutcome(
                f"order {cid}: Alpaca answered {failure.describe()}; it may have been placed",
                hint="the gateway looks it up by client order id before anything else is sent",
            )
        if _DUPLICATE_ID.search(failure.message):
            return DuplicateClientOrderId(f"order {cid}: client_order_id must be unique (Alpaca already has it)")
        if self._is_auth_failure(failure):
            return self._auth_error(failure)
        if status == 403:
            if failure.code == _CODE_DAY_TRADING:
                reason = RejectReason.DAY_TRADING_PROTECTION
            else:
                reason = next((r for key, r in _FORBIDDEN_REASONS if key in text), RejectReason.FORBIDDEN)
        elif status == 422:
            reason = next((r for key, r in _UNPROCESSABLE_REASONS if key in text), RejectReason.INVALID_ORDER)
        elif status == 404:
            reason = RejectReason.NOT_TRADABLE
        elif status == 400:
            reason = RejectReason.INVALID_ORDER
        else:
            reason = RejectReason.REJECTED
        return OrderRejected(f"order {cid} rejected by Alpaca: {failure.describe()}", reason=reason)

    @staticmethod
    def _is_auth_failure(failure: _Failure) -> bool:
        # 401 always; a 403 without an Alpaca error code is the gateway refusing the keys, whereas a 403
        # with a code (40310000...) is a trading refusal.
        return failure.status == 401 or (failure.status == 403 and failure.code is None)

    def _auth_error(self, failure: _Failure) -> ConfigError:
        return ConfigError(
            f"Alpaca ({self.mode}) refused the API keys (HTTP {failure.status}): check {API_KEY_ENV} and "
            f"{SECRET_KEY_ENV}",
            hint=f"they must be {self.mode} keys for {self.base_url}",
        )

    def _check_auction_window(self, request: OrderRequest) -> None:
        if request.time_in_force != TimeInForce.OPG:
            return
        now = self._clock.now()
        if self._calendar.opg_accepted(now):
            return  # before 09:28, from 19:00 or on a day without a session (queued for the next open)
        local = now.astimezone(ET)
        raise OrderRejected(
            f"order {request.client_order_id}: Alpaca accepts market-on-open (opg) orders only before 09:28 ET "
            f"or from 19:00 ET; it is {local:%H:%M} ET on a session day (not sent)",
            reason=RejectReason.AUCTION_WINDOW,
        )

    def _await_cancel(self, broker_order_id: str) -> None:
        from alpaca.trading.requests import GetOrderByIdRequest

        query = GetOrderByIdRequest(nested=True)
        for attempt in range(self._cancel_poll_attempts):
            raw = self._read(
                f"read order {broker_order_id}", lambda: self._client.get_order_by_id(broker_order_id, query)
            )
            status = str(raw.get("status", "")).lower() if isinstance(raw, dict) else ""
            if BrokerOrderStatus.is_terminal(status):
                return
            if attempt + 1 < self._cancel_poll_attempts:
                self._sleep(self._cancel_poll_interval)
        log.warning("alpaca: order %s still not cancelled after polling; the cancel was accepted", broker_order_id)

    def _parsed(self, parse: Callable[..., T], *args: Any) -> T:
        try:
            return parse(*args)
        except BrokerError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise BrokerError(f"Alpaca ({self.mode}) sent data the toolkit cannot read: {error!r}") from None


def _log_retry(state: Any) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("alpaca: attempt %d failed (%s); retrying in %.1f s", state.attempt_number, error, wait)


# -- building --------------------------------------------------------------------------------------------------


def build_alpaca_broker(config: Config, clock: Clock) -> AlpacaBroker:
    """The Alpaca broker the configuration describes: keys from the environment (or ``.env``), the base URL
    from the mode (``[broker] base_url`` may point at a loopback test server instead)."""
    section = config.settings.broker
    secrets = config.secrets
    for value, env in ((secrets.alpaca_api_key, API_KEY_ENV), (secrets.alpaca_secret_key, SECRET_KEY_ENV)):
        if value is None or not value.get_secret_value():
            raise ConfigError(
                f"[broker] kind = 'alpaca' needs {env}: it is not set",
                hint=f"put {env} in the environment or the workspace's .env ({section.mode} keys)",
            )
    assert secrets.alpaca_api_key is not None and secrets.alpaca_secret_key is not None
    return AlpacaBroker(
        api_key=secrets.alpaca_api_key,
        secret_key=secrets.alpaca_secret_key,
        base_url=section.base_url or BASE_URLS[section.mode],
        mode=section.mode,
        clock=clock,
        timeout_seconds=section.timeout_seconds,
        max_retries=section.max_retries,
    )


# -- requests: our OrderRequest → alpaca-py's request models -----------------------------------------------------


def _sdk_order_request(request: OrderRequest) -> Any:
    """alpaca-py's request model for ``request``. Its validation runs here, before anything is sent: a request
    it refuses becomes ``OrderRejected(invalid_order)``."""
    from alpaca.trading import enums as sdk
    from alpaca.trading.requests import (
        LimitOrderRequest,
        MarketOrderRequest,
        StopLimitOrderRequest,
        StopLossRequest,
        StopOrderRequest,
        TakeProfitRequest,
        TrailingStopOrderRequest,
    )
    from pydantic import ValidationError

    if request.order_class == OrderClass.MLEG:
        return _sdk_multi_leg(request)
    fields: dict[str, Any] = {
        "symbol": request.symbol,
        "qty": request.qty,
        "side": sdk.OrderSide(request.side.value),
        "time_in_force": sdk.TimeInForce(request.time_in_force.value),
        "client_order_id": request.client_order_id,
    }
    if request.order_class != OrderClass.SIMPLE:
        fields["order_class"] = sdk.OrderClass(request.order_class.value)
    try:
        if request.take_profit_limit_price is not None:
            fields["take_profit"] = TakeProfitRequest(limit_price=request.take_profit_limit_price)
        if request.stop_loss_stop_price is not None:
            fields["stop_loss"] = StopLossRequest(
                stop_price=request.stop_loss_stop_price, limit_price=request.stop_loss_limit_price
            )
        if request.type == OrderType.MARKET:
            return MarketOrderRequest(**fields)
        if request.type == OrderType.LIMIT:
            return LimitOrderRequest(limit_price=request.limit_price, **fields)
        if request.type == OrderType.STOP:
            return StopOrderRequest(stop_price=request.stop_price, **fields)
        if request.type == OrderType.STOP_LIMIT:
            return StopLimitOrderRequest(stop_price=request.stop_price, limit_price=request.limit_price, **fields)
        if request.type == OrderType.TRAILING_STOP:
            return TrailingStopOrderRequest(trail_percent=request.trail_percent, **fields)
    except ValidationError as error:
        raise _not_valid(request, "order", error) from None
    raise OrderRejected(f"order type {request.type!s} is not supported", reason=RejectReason.INVALID_ORDER)


def _not_valid(request: OrderRequest, what: str, error: Any) -> OrderRejected:
    """The refusal of a request alpaca-py would not build (its pydantic ValidationError): never sent."""
    problems = "; ".join(str(e.get("msg", "")) for e in error.errors(include_url=False, include_input=False))
    return OrderRejected(f"order {request.client_order_id} is not a valid Alpaca {what} (not sent): {problems}",
                         reason=RejectReason.INVALID_ORDER)  # fmt: skip


def _sdk_multi_leg(request: OrderRequest) -> Any:
    """A multi-leg option order as alpaca-py builds it: no symbol and no side at the top; each leg's contract,
    ratio, side and position intent; the net limit signed as Alpaca takes it (+ a debit, - a credit, where the
    toolkit writes a positive price and the side)."""
    from alpaca.trading import enums as sdk
    from alpaca.trading.requests import LimitOrderRequest, OptionLegRequest
    from pydantic import ValidationError

    assert request.limit_price is not None
    net = request.limit_price if request.side == Side.BUY else -request.limit_price
    try:
        legs = [OptionLegRequest(symbol=leg.symbol, ratio_qty=leg.ratio_qty, side=sdk.OrderSide(leg.side.value),
                                 position_intent=sdk.PositionIntent(leg.position_intent.value))
                for leg in request.legs]  # fmt: skip
        return LimitOrderRequest(qty=request.qty, time_in_force=sdk.TimeInForce.DAY, order_class=sdk.OrderClass.MLEG,
                                 limit_price=net, legs=legs, client_order_id=request.client_order_id)  # fmt: skip
    except ValidationError as error:
        raise _not_valid(request, "multi-leg order", error) from None


# -- responses: Alpaca JSON → domain values ---------------------------------------------------------------------


def _failure(error: Any) -> _Failure:
    """Read an ``APIError`` without ``APIError.code``/``.message``, which raise on a body without JSON."""
    body = str(error).strip()
    status = getattr(error, "status_code", None)
    code: int | None = None
    message = body
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        raw_code = payload.get("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        if isinstance(payload.get("message"), str):
            message = payload["message"]
    message = " ".join(message.split())[:300] or "(empty body)"
    return _Failure(status=status, code=code, message=message)


def _network_summary(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    if isinstance(error, requests.exceptions.JSONDecodeError):
        return "the answer was not JSON"
    return type(error).__name__


def _reveal(secret: SecretStr | str) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else str(secret)


def _raw(value: Any) -> dict[str, Any]:
    """One JSON object from the SDK (the client is built with ``raw_data=True``, so answers are dicts)."""
    if not isinstance(value, dict):
        raise BrokerError(f"Alpaca sent {type(value).__name__} where an object was expected")
    return value


def _as_list(raw: Any, what: str) -> list[Any]:
    if not isinstance(raw, list):
        raise BrokerError(f"Alpaca sent {type(raw).__name__} where a list of {what} was expected")
    return raw


def _number(raw: dict[str, Any], key: str, *, required: bool = True) -> float | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise BrokerError(f"Alpaca's answer lacks {key!r}")
        return None
    number = float(value)
    if not math.isfinite(number):
        raise BrokerError(f"Alpaca's {key!r} is not a finite number: {value!r}")
    return number


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _time(value: Any) -> datetime | None:
    """An Alpaca timestamp (RFC 3339: ``Z`` or an offset, up to nanoseconds) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    text = _FRACTION.sub(r"\1", str(value).strip())  # Python keeps microseconds; Alpaca may send nanoseconds
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _required_time(raw: dict[str, Any], key: str) -> datetime:
    parsed = _time(raw.get(key))
    if parsed is None:
        raise BrokerError(f"Alpaca's answer lacks {key!r}")
    return parsed


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _order(raw: dict[str, Any], parent_id: str | None = None) -> BrokerOrder:
    if not isinstance(raw, dict):
        raise BrokerError(f"Alpaca sent {type(raw).__name__} where an order was expected")
    order_id = str(raw["id"])
    kind = raw.get("type") or raw.get("order_type")
    order_class = str(raw.get("order_class") or "simple").lower()
    filled_qty = _number(raw, "filled_qty", required=False) or 0.0
    qty = _number(raw, "qty", required=False)
    legs = raw.get("legs") or []
    side_text = str(raw.get("side") or "").lower()
    limit = _number(raw, "limit_price", required=False)
    average = _number(raw, "filled_avg_price", required=False)
    if order_class == "mleg":
        # A multi-leg parent has no side or symbol: its net limit's sign says debit (buy) or credit (sell).
        side_text = "buy" if (limit if limit is not None else average or 0.0) >= 0 else "sell"
        limit = abs(limit) if limit is not None else None
        average = abs(average) if average is not None else None
    return BrokerOrder(
        broker_order_id=order_id,
        client_order_id=str(raw.get("client_order_id") or ""),
        symbol=str(raw.get("symbol") or ""),
        side=_SIDES[side_text],
        qty=qty if qty is not None else filled_qty,  # a notional order has no qty until it fills
        type=OrderType(str(kind).lower()) if kind else OrderType.LIMIT,  # an option leg has none of its own
        time_in_force=TimeInForce(str(raw["time_in_force"]).lower()),
        # An unknown status is kept verbatim and counts as open (BrokerOrderStatus.is_terminal).
        status=str(BrokerOrderStatus.parse(str(raw.get("status") or "").lower())),
        filled_qty=filled_qty,
        filled_avg_price=average,
        limit_price=limit,
        stop_price=_number(raw, "stop_price", required=False),
        trail_percent=_number(raw, "trail_percent", required=False),
        order_class=OrderClass(order_class) if order_class in _ORDER_CLASSES else OrderClass.SIMPLE,
        submitted_at=_time(raw.get("submitted_at")) or _time(raw.get("created_at")),
        updated_at=_time(raw.get("updated_at")),
        parent_broker_order_id=parent_id,
        legs=tuple(_order(leg, order_id) for leg in legs),
    )


def _account(raw: dict[str, Any]) -> Account:
    # Only what the toolkit uses is read: the pattern-day-trader fields Alpaca removed in 2026 (and any field
    # it adds) make no difference.
    equity = _number(raw, "equity", required=False)
    if equity is None:
        equity = _number(raw, "portfolio_value")
    return Account(
        equity=equity,  # type: ignore[arg-type]
        cash=_number(raw, "cash"),  # type: ignore[arg-type]
        buying_power=_number(raw, "buying_power"),  # type: ignore[arg-type]
        currency=str(raw.get("currency") or "USD"),
    )


def _asset(raw: dict[str, Any], symbol: str) -> Asset:
    active = str(raw.get("status", "active")).lower() == "active"
    tradable = bool(raw.get("tradable")) and active
    return Asset(
        symbol=str(raw.get("symbol") or symbol),
        tradable=tradable,
        fractionable=bool(raw.get("fractionable")) and tradable,
        shortable=bool(raw.get("shortable")) and tradable,
        name=str(raw.get("name") or ""),
    )


def _position(raw: dict[str, Any]) -> BrokerPosition:
    qty = _number(raw, "qty") or 0.0
    if str(raw.get("side", "long")).lower() == "short" and qty > 0:
        qty = -qty  # Alpaca signs short quantities, but do not rely on it
    return BrokerPosition(
        symbol=str(raw["symbol"]),
        qty=qty,
        avg_entry_price=_number(raw, "avg_entry_price"),  # type: ignore[arg-type]
        market_value=_number(raw, "market_value", required=False),
    )


def _fill(raw: dict[str, Any], cumulative: dict[str, float]) -> Fill | None:
    """One FILL activity as a ``Fill``; None for an activity of another kind.

    ``qty`` is the execution's own quantity. An activity without it is sized from ``cum_qty`` (Alpaca's
    cumulative quantity of the order) minus what this listing has already seen of the same order, so partial
    fills are never double-counted by summing cumulative numbers.
    """
    if str(raw.get("activity_type", "FILL")).upper() != "FILL":
        return None
    order_id = str(raw["order_id"])
    cum_qty = _number(raw, "cum_qty", required=False)
    qty = _number(raw, "qty", required=False)
    if qty is None:
        if cum_qty is None:
            raise BrokerError(f"fill {raw.get('id')!r} has neither qty nor cum_qty")
        qty = cum_qty - cumulative.get(order_id, 0.0)
    if cum_qty is not None:
        cumulative[order_id] = max(cum_qty, cumulative.get(order_id, 0.0))
    return Fill(
        fill_id=str(raw["id"]),
        broker_order_id=order_id,
        symbol=str(raw["symbol"]),
        side=_SIDES[str(raw["side"]).lower()],
        qty=qty,
        price=_number(raw, "price"),  # type: ignore[arg-type]
        filled_at=_required_time(raw, "transaction_time"),
    )


def _option_event(raw: dict[str, Any], close_of: Callable[[date], datetime]) -> OptionEvent | None:
    """One OPEXP, OPEXC or OPASN activity as an ``OptionEvent``; None for another kind. The shares an exercise or
    an assignment moves follow from the contract: a call exercised (or a put assigned) brings 100 in per contract,
    a put exercised (or a call assigned) sends 100 out, at the strike."""
    kind = _OPTION_KINDS.get(str(raw.get("activity_type", "")).upper())
    if kind is None:
        return None
    contract = parse_occ(str(raw["symbol"]))
    qty = abs(_number(raw, "qty") or 0.0)
    day = date.fromisoformat(str(raw.get("date") or raw.get("transaction_time", ""))[:10])
    if kind == OptionEventKind.EXPIRED:
        return OptionEvent(str(raw["id"]), kind, contract.symbol, qty, close_of(day))
    shares_in = contract.is_call == (kind == OptionEventKind.EXERCISED)
    return OptionEvent(str(raw["id"]), kind, contract.symbol, qty, close_of(day),
                       share_side=Side.BUY if shares_in else Side.SELL, share_qty=qty * MULTIPLIER,
                       share_price=contract.strike)  # fmt: skip


def _session_hours(raw: dict[str, Any]) -> SessionHours:
    day = date.fromisoformat(str(raw["date"]))

    def at(hhmm: str) -> datetime:
        hour, minute = (int(part) for part in str(hhmm).split(":")[:2])
        return datetime.combine(day, clock_time(hour, minute), tzinfo=ET).astimezone(UTC)

    return SessionHours(session=day, open_at=at(raw["open"]), close_at=at(raw["close"]))
