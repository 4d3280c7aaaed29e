"""``PolygonData``: the MarketData port on Polygon.io (now Massive) through the official ``massive`` client.

Requests and their budget:
  - Daily bars for a whole universe come from the grouped-daily endpoint, one request per session for every
    symbol, and are cached in the ledger (``autotrader.ledger.bar_cache``): a run only pays for sessions it
    has never seen, so a daily sync of 500 symbols with a warm cache costs one request for the new session.
    A symbol missing many sessions (a first backfill) is fetched with one per-symbol aggregates request
    instead, when that is cheaper; ``sync_daily`` plans a whole universe at once.
  - Minute bars, the volatility index and backfills use per-symbol aggregates, following ``next_url``. An
    index's minute bars (``I:SPX``, for ``[intraday] execution_map``) come from the same endpoint; they need an
    indices plan and carry no volume (NaN in the frame). A plan that refuses an index (NOT_AUTHORIZED) gets
    one warning and empty frames for that index for the rest of the run; stocks' minute bars are not affected.
  - Splits come from one market-wide listing (``/v3/reference/splits``, 1,000 a page), not one request per
    ticker, kept for the process and in the ledger: the first listing covers three years; after it, a day's
    first run asks only for the days since the last listing and the month before them (a split listed late
    is picked up), usually one page, and the other runs of the day ask nothing.
  - Every HTTP request, pagination pages and retries included, goes through the request budget of
    ``autotrader.adapters.http``: one ``RateLimiter`` (``[data] requests_per_minute``, 5 on the free tier)
    and one retry policy: 429, 5xx, timeouts and dropped connections are retried a bounded number of
    times, honouring ``Retry-After``, then raise ``TransientError`` (exit 75, safe to rerun). The SDK's own
    urllib3 retries are switched off so that nothing bypasses the limiter.

Bars are requested unadjusted (``adjusted=false``) and stored as sent: split-adjusted history changes
whenever a split happens, and a cache of it would mix two price scales. Prices match what the broker fills.
``splits()`` lists the split events, so that closes before a split can be restated where a series is compared
across it (the rebalancer's backtest) and a simulated broker can apply them to its positions.

Data quality: a bar with a zero, negative, missing or NaN price, a high below its low, a duplicated or
out-of-order bar, or a last bar older than ``[data] max_bar_age_sessions`` sessions gets its symbol skipped
for the run: ``rejected[symbol]`` holds the reason (also logged), and the symbol's frames are empty and its
quote None from then on, so nothing is ever decided on it.

``latest_quote``: the free tier has no last-trade, last-quote or snapshot endpoints (NOT_AUTHORIZED), so a
quote is the close of the last complete regular-session minute bar while the market is open (minute
aggregates are on the free tier, 15 minutes delayed: ``quoted_at`` says how old it is), else the last daily
close, with bid = ask = last. A quote serves every step of a slot (``QUOTE_REUSE``): one request per held
symbol per slot, however long the rate limiter makes the slot.

No look-ahead: a daily bar is served once its session has closed at the adapter's clock, a minute bar once
its minute has ended; vendor bars past that point are dropped, never cached.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from autotrader.adapters.frames import (
    daily_frame,
    empty_daily_frame,
    empty_minute_frame,
    minute_frame,
    quote_from_last,
    require_aware,
    to_ns,
)
from autotrader.adapters.http import (
    DEFAULT_TIMEOUT_SECONDS,
    RateLimiter,
    RequestBudget,
    no_answer,
    retryable_status,
)
from autotrader.clock import ET, MarketCalendar
from autotrader.domain.models import Quote
from autotrader.domain.options import OptionContract, OptionQuote
from autotrader.errors import AutotraderError, ConfigError, DataError
from autotrader.ledger import bar_cache, repo
from autotrader.ledger.bar_cache import CachedBar, GroupedSession
from autotrader.policy.bar_quality import bar_problem, first_bad_bar, order_problem
from autotrader.policy.request_budget import GROUPED_SESSION_LIMIT
from autotrader.ports import Clock

if TYPE_CHECKING:
    from autotrader.ledger.db import Ledger
    from autotrader.settings import Config

log = logging.getLogger(__name__)

#: Statuses worth another try: rate limited, or the server (or a proxy in front of it) failed.
RETRYABLE_STATUSES = frozenset({429, 499, 500, 502, 503, 504})
#: A session's daily bar is trusted as final only when fetched this long after its close: late prints and
#: the 15-minute delay of the free tier can still change it just after the bell.
SETTLE = timedelta(minutes=60)
#: Page size asked of the aggregates endpoint (its maximum).
AGGS_LIMIT = 50_000
#: Page size asked of the splits endpoint (its maximum).
SPLITS_LIMIT = 1000
#: ``splits()`` covers the splits executed this many years before the clock's date, up to that date.
SPLITS_YEARS = 3
#: A day's first run asks again for the splits of this many days before the last listing's end: the vendor
#: can add or correct a split after its execution date.
SPLITS_RECHECK = timedelta(days=30)
#: Where the ledger keeps the split listing (the ``kv`` table, one JSON value).
SPLITS_KEY = "polygon.splits"
#: The New York date on which the splits endpoint definitively refused (404, or 403 outside the plan): later runs
#: that day do not ask again, since the answer will not change within the day and each ask costs a request.
SPLITS_REFUSED_KEY = "polygon.splits.refused_on"
#: How long a quote stays good for the same process. One ``run-daily`` slot quotes a held symbol in several
#: steps (profit taker, dip buyer, sizing); at the free tier's 5 requests a minute the rate limiter's waits
#: carry those steps into later minutes, and a quote per step and minute tripled a slot's requests. Slots are at
#: least 25 minutes apart, so each still starts from fresh quotes; within one, a price a few minutes older is
#: the cost (the free tier's minute bars are 15 minutes late anyway).
QUOTE_REUSE = timedelta(minutes=5)
_MINUTE_NS = 60 * 10**9
_INDEX_PREFIX = "I:"


# -- the HTTP layer --------------------------------------------------------------------------------------


class PolygonNotEntitled(DataError):
    """The plan does not include this data (HTTP 403, NOT_AUTHORIZED): indices, snapshots, partner data."""


class PolygonNotFound(DataError):
    """The vendor does not know the ticker (HTTP 404)."""


def _body_message(data: bytes) -> str:
    import json

    try:
        body = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return str(body.get("message") or body.get("error") or body.get("status") or "")[:200]


class _BudgetedPool:
    """Stands in for the SDK's urllib3 PoolManager: each request goes through the request budget (rate
    limiter and retry policy), gets the timeout, and comes back only as a 200 (other answers become
    exceptions).

    The SDK calls ``request`` for every page it fetches, so pagination is budgeted like any request.
    """

    def __init__(self, pool: Any, limiter: RateLimiter, timeout: Any) -> None:
        self._pool = pool
        self._budget = RequestBudget(limiter)
        self._timeout = timeout

    @property
    def requests(self) -> int:
        return self._budget.requests

    def request(self, method: str, url: str, fields: Any = None, headers: Any = None, **_: Any) -> Any:
        import urllib3

        path = urlsplit(url).path

        def send() -> Any:
            log.debug("polygon: %s %s", method, path)
            try:
                # retries=False: urllib3 neither retries nor sleeps on its own, so nothing escapes the
                # limiter, and a timeout raises at once instead of after its own retry loop.
                response = self._pool.request(
                    method, url, fields=fields, headers=headers, retries=False, timeout=self._timeout
                )
            except urllib3.exceptions.HTTPError as e:
                raise no_answer("Polygon", e) from None
            status = response.status
            if status == 200:
                return response
            if status in RETRYABLE_STATUSES:
                raise retryable_status(status, response.headers.get("Retry-After"))
            message = _body_message(response.data)
            if status == 401:
                raise ConfigError(
                    "Polygon rejected the API key (HTTP 401)",
                    hint="check MASSIVE_API_KEY (or POLYGON_API_KEY) in the environment or the workspace's .env",
                )
            if status == 403:
                raise PolygonNotEntitled(f"Polygon {path}: not included in this plan (HTTP 403: {message})")
            if status == 404:
                raise PolygonNotFound(f"Polygon {path}: not found (HTTP 404: {message})")
            raise DataError(f"Polygon {path}: unexpected answer HTTP {status}: {message}")

        return self._budget.call(send, what=f"Polygon {method} {path}")


class PolygonApi:
    """The ``massive`` RESTClient behind the request budget, plus a memo of ticker details.

    Shared by ``PolygonData`` and ``PolygonReference`` so both spend one rate limit, as the vendor counts it.

    Args:
        api_key: the key; sent only in the Authorization header by the SDK, never in a URL.
        base_url: a loopback test server; None for the vendor.
        requests_per_minute: the client-side budget (every request, pages and retries included).
        timeout_seconds: connect and read timeout of each request.
        limiter: a ready limiter (tests pass one on a fake clock); built from ``requests_per_minute`` if None.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        requests_per_minute: float = 5.0,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        limiter: RateLimiter | None = None,
    ) -> None:
        import urllib3
        from massive import RESTClient

        self.limiter = limiter or RateLimiter(requests_per_minute)
        timeout = urllib3.Timeout(connect=timeout_seconds, read=timeout_seconds)
        options: dict[str, Any] = {"base": base_url.rstrip("/")} if base_url else {}
        # The key is passed explicitly: the SDK's default reads the environment at import time.
        self.client = RESTClient(
            api_key=api_key,
            retries=0,
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            pagination=True,
            **options,
        )
        self._pool = _BudgetedPool(self.client.client, self.limiter, timeout)
        self.client.client = self._pool
        self.client.vx.client = _BudgetedPool(self.client.vx.client, self.limiter, timeout)
        self._details: dict[str, Any] = {}

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (retries and pages included)."""
        return self._pool.requests

    def grouped_daily(self, session: date) -> list[Any]:
        return list(self.client.get_grouped_daily_aggs(session.isoformat(), adjusted=False, include_otc=False))

    def daily_aggs(self, ticker: str, first: date, last: date) -> list[Any]:
        return list(
            self.client.list_aggs(
                ticker, 1, "day", first.isoformat(), last.isoformat(), adjusted=False, sort="asc", limit=AGGS_LIMIT
            )
        )

    def minute_aggs(self, ticker: str, start_ms: int, end_ms: int) -> list[Any]:
        return list(
            self.client.list_aggs(ticker, 1, "minute", start_ms, end_ms, adjusted=False, sort="asc", limit=AGGS_LIMIT)
        )

    def splits(self, first: date, last: date) -> list[Any]:
        """Every split executed in [first, last], market-wide, following ``next_url``."""
        return list(
            self.client.list_splits(
                execution_date_gte=first.isoformat(), execution_date_lte=last.isoformat(), limit=SPLITS_LIMIT
            )
        )

    def option_chain(self, underlying: str, first: date, last: date) -> list[Any]:
        """The option snapshots of ``underlying`` expiring in [first, last], following ``next_url``."""
        from autotrader.adapters.polygon_options import CHAIN_PAGE

        params = {"expiration_date.gte": first.isoformat(), "expiration_date.lte": last.isoformat(),
                  "limit": CHAIN_PAGE}  # fmt: skip
        return list(self.client.list_snapshot_options_chain(underlying, params=params))

    def option_snapshot(self, underlying: str, occ: str) -> Any | None:
        """One contract's snapshot (``occ`` as Alpaca writes it), None when the vendor does not know it."""
        try:
            return self.client.get_snapshot_option(underlying, f"O:{occ}")
        except PolygonNotFound:
            return None

    def ticker_details(self, ticker: str) -> Any | None:
        """The ticker's details (``sic_code``, ``type``...), None when the vendor does not know it. Memoized."""
        if ticker not in self._details:
            try:
                self._details[ticker] = self.client.get_ticker_details(ticker)
            except PolygonNotFound:
                self._details[ticker] = None
        return self._details[ticker]


# -- bar checks ------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


OHLCV = tuple[float | None, float | None, float | None, float | None, float | None]


def _values(agg: Any) -> OHLCV:
    """Open, high, low, close, volume of a vendor bar object (None where absent or unreadable)."""
    o, h, low, c, v = (_number(getattr(agg, name, None)) for name in ("open", "high", "low", "close", "volume"))
    return o, h, low, c, v


def _is_index(symbol: str) -> bool:
    return symbol.startswith(_INDEX_PREFIX)


@dataclass
class DailySync:
    """What ``sync_daily`` did: requests spent, what it fetched, and the symbols it had to skip."""

    requests: int = 0
    grouped_sessions: list[date] = field(default_factory=list)
    backfilled_symbols: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


Split = tuple[str, date, float]


@dataclass(frozen=True)
class SplitListing:
    """The market's splits executed in [first, through]: ``(symbol, execution date, ratio)``, oldest first."""

    first: date
    through: date
    rows: tuple[Split, ...]

    def covers(self, first: date, last: date) -> bool:
        return self.first <= first and last <= self.through

    def to_json(self) -> str:
        import json

        rows = [[symbol, day.isoformat(), ratio] for symbol, day, ratio in self.rows]
        return json.dumps({"first": self.first.isoformat(), "through": self.through.isoformat(), "rows": rows})

    @classmethod
    def from_json(cls, text: str | None) -> SplitListing | None:
        """The stored listing; None when there is none or it cannot be read (it is then fetched again)."""
        import json

        if not text:
            return None
        try:
            data = json.loads(text)
            rows = tuple((str(s), date.fromisoformat(d), float(r)) for s, d, r in data["rows"])
            return cls(date.fromisoformat(data["first"]), date.fromisoformat(data["through"]), rows)
        except (ValueError, TypeError, KeyError):
            return None


def split_of(item: Any) -> Split | None:
    """``(ticker, execution date, split_to / split_from)`` of a vendor split; None when a field is unusable
    (no ticker, no date, a factor missing, zero or negative) or the ratio is 1 (nothing changes)."""
    ticker = getattr(item, "ticker", None)
    split_from = _number(getattr(item, "split_from", None))
    split_to = _number(getattr(item, "split_to", None))
    try:
        day = date.fromisoformat(str(getattr(item, "execution_date", None)))
    except ValueError:
        return None
    if not ticker or split_from is None or split_to is None:
        return None
    if not (math.isfinite(split_from) and math.isfinite(split_to) and split_from > 0 and split_to > 0):
        return None
    ratio = split_to / split_from
    return None if ratio == 1 else (str(ticker), day, ratio)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# -- the adapter -----------------------------------------------------------------------------------------


class PolygonData:
    """MarketData from Polygon (Massive), daily bars cached in the ledger.

    Args:
        api: the budgeted client (``PolygonApi``).
        ledger: where daily bars are cached (writes go through ``ledger.write()``).
        clock: the Clock port; nothing is served before it is complete at ``clock.now()``.
        calendar: the XNYS calendar.
        vix_symbol: the volatility index (``I:VIX``); needs an indices plan.
        vix_proxy: what ``vix_daily`` serves, with one warning, when the plan lacks indices.
        max_bar_age_sessions: a symbol whose last daily bar is older than this, in sessions, is stale.
    """

    def __init__(
        self,
        api: PolygonApi,
        ledger: Ledger,
        clock: Clock,
        calendar: MarketCalendar,
        *,
        vix_symbol: str = "I:VIX",
        vix_proxy: str = "VIXY",
        max_bar_age_sessions: int = 1,
    ) -> None:
        self.api = api
        self.vix_symbol = vix_symbol
        self.vix_proxy = vix_proxy
        self.max_bar_age_sessions = max_bar_age_sessions
        #: Symbols skipped for this run, with the reason (bad, duplicated, out-of-order or stale bars).
        self.rejected: dict[str, str] = {}
        self._ledger = ledger
        self._clock = clock
        self._calendar = calendar
        self._grouped: dict[date, GroupedSession] | None = None
        self._tracked: dict[str, int] | None = None
        self._stored_ranges: dict[str, list[tuple[date, date]]] = {}
        # What this instance (one run) fetched: never asked again in the run, settled or not.
        self._fetched_sessions: set[date] = set()
        self._empty_sessions: set[date] = set()
        self._fetched_ranges: dict[str, list[tuple[date, date]]] = {}
        # Within one run the same symbol's bars are asked for by several phases (a universe sync, then each
        # symbol's read): a range already made complete is not checked again, and a frame already read and
        # checked is handed out again until a fetch stores new bars.
        self._ensured: set[tuple[str, date, date]] = set()
        self._checked: dict[tuple[str, date, date, date | None], pd.DataFrame] = {}
        self._answered_days: dict[tuple[int | None, bool], frozenset[date]] = {}
        self._known: dict[str, bool] = {}
        self._quotes: dict[str, tuple[datetime, Quote | None]] = {}
        self._vix_entitled = True
        self._minutes_entitled = True
        # Indices whose minute bars the plan refused (NOT_AUTHORIZED): empty frames, not asked again in the run.
        self._index_minutes_refused: set[str] = set()
        # Symbols asked about in this run; splits() lists theirs (and the tracked symbols').
        self._asked: set[str] = set()
        self._split_listing: SplitListing | None = None
        self._splits_failed = False

    @property
    def requests(self) -> int:
        """HTTP requests this adapter's client has sent (pages and retries included)."""
        return self.api.requests

    # -- MarketData ----------------------------------------------------------------------------------
    def has_symbol(self, symbol: str) -> bool:
        """Known when bars for it are cached, else when the vendor has ticker details for it (one request)."""
        self._asked.add(symbol)
        if symbol == self.vix_symbol:
            return True
        if symbol not in self._known:
            if bar_cache.has_bars(self._ledger, symbol):
                self._known[symbol] = True
            else:
                try:
                    self._known[symbol] = self.api.ticker_details(symbol) is not None
                except PolygonNotEntitled:
                    self._known[symbol] = True  # cannot tell; the bar requests will
        return self._known[symbol]

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        self._asked.add(symbol)
        if symbol in self.rejected:
            return empty_daily_frame()
        sessions = self._complete_sessions(start, end)
        if not sessions:
            return empty_daily_frame()
        if _is_index(symbol):
            self._ensure_by_symbol(symbol, sessions)
        else:
            self._ensure([symbol], sessions)
        return self._frame(symbol, sessions)

    @property
    def vix_proxied(self) -> bool:
        """Whether the volatility gauge is the proxy ETF (the plan has no index data): not on the VIX scale."""
        return not self._vix_entitled

    def vix_daily(self, start: date, end: date) -> pd.DataFrame:
        if self._vix_entitled:
            try:
                return self.daily_bars(self.vix_symbol, start, end)
            except PolygonNotEntitled:
                self._vix_entitled = False
                log.warning(
                    "polygon: the plan has no index data (%s is not authorized); using %s instead for the "
                    "volatility gauge (an ETF price, not on the VIX scale)",
                    self.vix_symbol,
                    self.vix_proxy,
                )
        return self.daily_bars(self.vix_proxy, start, end)

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Regular-session minute bars complete at the clock; an index's volume is NaN (the vendor sends none)."""
        require_aware("start", start)
        require_aware("end", end)
        self._asked.add(symbol)
        index = _is_index(symbol)
        if symbol in self.rejected or symbol in self._index_minutes_refused:
            return empty_minute_frame()
        if not index and not self._minutes_entitled:
            return empty_minute_frame()
        now_ns = to_ns(self._clock.now())
        start_ns = to_ns(start)
        # A bar starting at t is complete at t + 1 minute: the last start allowed is now - 1 minute.
        stop_ns = min(to_ns(end), now_ns - _MINUTE_NS + 1)
        if stop_ns <= start_ns:
            return empty_minute_frame()
        try:
            aggs = self.api.minute_aggs(symbol, start_ns // 10**6, (stop_ns - 1) // 10**6)
        except PolygonNotEntitled:
            if index:  # the plan lacks this index, not minute bars: stocks and funds keep theirs
                self._index_minutes_refused.add(symbol)
                log.warning("polygon: the plan has no minute bars for the index %s (not authorized)", symbol)
            else:
                self._minutes_entitled = False
                log.warning("polygon: the plan has no minute bars; intraday prices fall back to daily closes")
            return empty_minute_frame()
        starts: list[int] = []
        rows: list[tuple[float | None, ...]] = []
        previous: int | None = None
        for agg in aggs:
            stamp = agg.timestamp
            if stamp is None:
                self._reject(symbol, "a minute bar has no timestamp")
                return empty_minute_frame()
            bar_ns = int(stamp) * 10**6
            problem = order_problem(previous, bar_ns, _minute_label(bar_ns)) or bar_problem(
                *_values(agg), volume_required=not index
            )
            previous = bar_ns
            if not (start_ns <= bar_ns < stop_ns) or not self._in_regular_session(bar_ns):
                continue
            if problem:
                self._reject(symbol, f"minute bar {_minute_label(bar_ns)}: {problem}")
                return empty_minute_frame()
            starts.append(bar_ns)
            rows.append(_values(agg))
        if not starts:
            return empty_minute_frame()
        return minute_frame(np.array(starts, dtype=np.int64), np.array(rows, dtype=np.float64))

    def latest_quote(self, symbol: str) -> Quote | None:
        """The last complete regular-session minute bar while the market is open, else the last daily close.

        bid = ask = last: aggregates carry trades, not the book. A quote fetched by this process less than
        ``QUOTE_REUSE`` before the clock is served again (``quote_reusable``): the steps of one slot share it.
        """
        self._asked.add(symbol)
        if symbol in self.rejected:
            return None
        now = self._clock.now()
        held = self._quotes.get(symbol)
        if held is None or not quote_reusable(held[0], now):
            held = (now, self._quote(symbol, now))
            self._quotes[symbol] = held
        return None if symbol in self.rejected else held[1]

    # -- beyond the port -----------------------------------------------------------------------------
    # -- OptionChains: the vendor's option snapshots (adapters/polygon_options.py) ------------------------
    def option_chain(self, underlying: str, first_expiry: date, last_expiry: date) -> list[OptionQuote]:
        from autotrader.adapters.polygon_options import quotes_of

        snapshots = self.api.option_chain(underlying, first_expiry, last_expiry)
        return quotes_of(snapshots, underlying, self._clock.now(), first_expiry, last_expiry)

    def option_quotes(self, contracts: Sequence[OptionContract]) -> dict[str, OptionQuote]:
        from autotrader.adapters.polygon_options import quote_of

        out: dict[str, OptionQuote] = {}
        for contract in contracts:
            snapshot = self.api.option_snapshot(contract.underlying, contract.symbol)
            found = quote_of(snapshot, self._clock.now()) if snapshot is not None else None
            if found is not None and found.contract == contract:
                out[contract.symbol] = found
        return out

    def sync_daily(self, symbols: Iterable[str], start: date, end: date) -> DailySync:
        """Bring the cache up to date for a universe at the least request cost, then check every symbol.

        Grouped-daily requests (one per missing session, all symbols at once) unless per-symbol requests are
        fewer; returns what was spent and which symbols were skipped, with why.
        """
        wanted = [s for s in dict.fromkeys(symbols) if not _is_index(s)]
        self._asked.update(wanted)
        before = self.requests
        fetched_before = set(self._fetched_sessions)
        backfilled_before = set(self._fetched_ranges)
        sessions = self._complete_sessions(start, end)
        report = DailySync()
        if sessions:
            self._ensure(wanted, sessions)
            for symbol in wanted:
                if symbol not in self.rejected:
                    self._frame(symbol, sessions)
        report.requests = self.requests - before
        report.grouped_sessions = sorted(self._fetched_sessions - fetched_before)
        report.backfilled_symbols = sorted(set(self._fetched_ranges) - backfilled_before)
        report.rejected = {s: self.rejected[s] for s in wanted if s in self.rejected}
        return report

    def splits(self) -> list[Split]:
        """``(symbol, ex_date, ratio)`` of the splits executed from three years before the clock's New York date
        up to that date (never one dated after it), oldest first, ratio = ``split_to / split_from`` (2 for 2:1,
        0.1 for 1:10). Only the symbols this adapter serves: asked about in this run, tracked by the ledger's bar
        cache, and the VIX proxy.

        One market-wide listing, kept for the process and in the ledger (see the module's notes). When it cannot
        be fetched, one warning, then the listing the ledger already holds (possibly none: ``[]``) for the rest
        of the process; nothing is raised.
        """
        today = self._clock.now().astimezone(ET).date()
        first = _years_before(today, SPLITS_YEARS)
        listing = self._splits_between(first, today)
        wanted = self._asked | set(self._tracked_state()) | {self.vix_proxy}
        out: dict[tuple[str, date], Split] = {}
        for symbol, day, ratio in listing.rows if listing is not None else ():
            if symbol in wanted and first <= day <= today:
                out.setdefault((symbol, day), (symbol, day, ratio))  # the vendor lists some events twice
        return sorted(out.values(), key=lambda s: (s[1], s[0]))

    def _splits_between(self, first: date, last: date) -> SplitListing | None:
        held = self._split_listing
        if held is not None and held.covers(first, last):
            return held
        if self._splits_failed:
            return held
        stored = SplitListing.from_json(repo.kv_get(self._ledger, SPLITS_KEY))
        if stored is not None and stored.covers(first, last):
            self._split_listing = stored
            return stored
        today = self._clock.now().astimezone(ET).date().isoformat()
        if repo.kv_get(self._ledger, SPLITS_REFUSED_KEY) == today:
            log.info("polygon: the splits endpoint refused earlier today; not asked again until tomorrow")
            self._splits_failed = True
            self._split_listing = held or stored
            return self._split_listing
        extends = stored is not None and stored.first <= first <= stored.through < last
        since = max(first, stored.through - SPLITS_RECHECK) if stored is not None and extends else first
        try:
            fetched = self._fetch_splits(since, last)
        except (AutotraderError, TypeError, ValueError, KeyError, AttributeError) as error:
            self._splits_failed = True
            if isinstance(error, PolygonNotFound | PolygonNotEntitled):
                with self._ledger.write():
                    repo.kv_set(self._ledger, SPLITS_REFUSED_KEY, today, now=self._clock.now())
            log.warning(
                "polygon: could not list splits (%s: %s); a split missing from the list is not restated this run",
                type(error).__name__,
                error,
            )
            self._split_listing = held or stored
            return self._split_listing
        kept = tuple(s for s in stored.rows if first <= s[1] < since) if stored is not None and extends else ()
        listing = SplitListing(first, last, tuple(sorted((*kept, *fetched), key=lambda s: (s[1], s[0]))))
        if stored is None or last >= stored.through:  # an as-of run in the past does not replace a later listing
            with self._ledger.write():
                repo.kv_set(self._ledger, SPLITS_KEY, listing.to_json(), now=self._clock.now())
        self._split_listing = listing
        return listing

    def _fetch_splits(self, first: date, last: date) -> list[Split]:
        items = self.api.splits(first, last)
        rows = [row for row in map(split_of, items) if row is not None]
        if len(rows) < len(items):
            log.info("polygon: %d split(s) without a usable ticker, date or ratio ignored", len(items) - len(rows))
        return [row for row in rows if first <= row[1] <= last]

    # -- planning: which sessions are missing, and the cheapest way to fetch them ----------------------
    def _complete_sessions(self, start: date, end: date) -> list[date]:
        latest = self._latest_closed()
        if latest is None:
            return []
        return self._calendar.sessions_between(start, min(end, latest))

    def _latest_closed(self) -> date | None:
        try:
            return self._calendar.last_closed_session(self._clock.now())
        except IndexError:
            return None

    def _last_settled(self, now: datetime) -> date | None:
        try:
            return self._calendar.last_closed_session(now - SETTLE)
        except IndexError:
            return None

    def _grouped_state(self) -> dict[date, GroupedSession]:
        if self._grouped is None:
            self._grouped = bar_cache.grouped_sessions(self._ledger)
        return self._grouped

    def _tracked_state(self) -> dict[str, int]:
        if self._tracked is None:
            self._tracked = bar_cache.tracked_symbols(self._ledger)
        return self._tracked

    def _ranges(self, symbol: str) -> list[tuple[date, date]]:
        if symbol not in self._stored_ranges:
            self._stored_ranges[symbol] = bar_cache.symbol_ranges(self._ledger, symbol)
        return self._stored_ranges[symbol]

    def _missing(self, symbol: str, sessions: list[date]) -> list[date]:
        """Sessions the cache cannot answer for this symbol: never fetched, unsettled, or flagged bad."""
        grouped = self._grouped_state()
        tracked_seq = self._tracked_state().get(symbol)
        stored = self._ranges(symbol)
        fetched = self._fetched_ranges.get(symbol, ())
        flagged = bar_cache.problem_sessions(self._ledger, symbol, sessions[0], sessions[-1])
        answered = self._answered(tracked_seq, _is_index(symbol))
        missing = []
        for day in (d for d in sessions if d in flagged or d not in answered):
            session = grouped.get(day)
            in_grouped = session is not None and tracked_seq is not None and session.seq > tracked_seq
            # Fetched by this run (or found empty): asking again within the run would not change the answer.
            empty_this_run = day in self._empty_sessions and not _is_index(symbol)
            if empty_this_run or (in_grouped and day in self._fetched_sessions):
                continue
            if any(a <= day <= b for a, b in fetched):
                continue
            if day in flagged:  # a bad bar from an earlier run: the vendor may have corrected it since
                missing.append(day)
                continue
            if any(a <= day <= b for a, b in stored):
                continue
            if in_grouped and session is not None and session.fetched_at >= self._calendar.session_close(day) + SETTLE:
                continue
            missing.append(day)
        return missing

    def _answered(self, tracked_seq: int | None, index: bool) -> frozenset[date]:
        """Sessions that a symbol tracked at ``tracked_seq`` never needs fetched unless its bar there is
        flagged: settled (or fetched by this run) in a grouped response after it was tracked, or found empty by
        this run. ``_missing`` walks its rules only for the other sessions, which in a warm cache are none."""
        key = (tracked_seq, index)
        if key not in self._answered_days:
            grouped = self._grouped_state()
            days = set() if index else set(self._empty_sessions)
            if tracked_seq is not None:
                close = self._calendar.session_close
                days.update(
                    day
                    for day, session in grouped.items()
                    if session.seq > tracked_seq
                    and (day in self._fetched_sessions or session.fetched_at >= close(day) + SETTLE)
                )
            self._answered_days[key] = frozenset(days)
        return self._answered_days[key]

    def _track(self, symbols: list[str]) -> None:
        tracked = self._tracked_state()
        new = [s for s in symbols if s not in tracked and not _is_index(s)]
        if new:
            with self._ledger.write():
                tracked.update(bar_cache.track(self._ledger, new, now=self._clock.now()))

    def _ensure(self, symbols: list[str], sessions: list[date]) -> None:
        """Fetch what the cache lacks for these symbols over these sessions, in the fewest requests."""
        self._track(symbols)
        span = (sessions[0], sessions[-1])
        missing = {
            s: m
            for s in symbols
            if s not in self.rejected and (s, *span) not in self._ensured and (m := self._missing(s, sessions))
        }
        self._fetch_missing(missing)
        self._ensured.update((s, *span) for s in symbols)

    def _fetch_missing(self, missing: dict[str, list[date]]) -> None:
        if not missing:
            return
        union = sorted({d for m in missing.values() for d in m})
        if len(union) > max(GROUPED_SESSION_LIMIT, len(missing)):
            # More sessions to fetch than symbols asking: per-symbol requests for the long gaps first.
            for symbol, days in missing.items():
                if len(days) > GROUPED_SESSION_LIMIT:
                    self._fetch_symbol(symbol, days[0], days[-1])
            union = sorted({d for m in missing.values() if len(m) <= GROUPED_SESSION_LIMIT for d in m})
        for day in union:
            self._fetch_grouped(day)

    def _ensure_by_symbol(self, symbol: str, sessions: list[date]) -> None:
        """Indices are not in the grouped (stocks) response: per-symbol requests only."""
        missing = self._missing(symbol, sessions)
        if missing:
            self._fetch_symbol(symbol, missing[0], missing[-1])

    # -- fetching --------------------------------------------------------------------------------------
    def _fetch_grouped(self, day: date) -> None:
        results = self.api.grouped_daily(day)
        if not results:
            # A session by the calendar with no rows: the vendor has not published it yet. Not marked
            # fetched in the ledger (a later run asks again); this run does not ask again.
            log.info("polygon: no grouped daily bars yet for %s", day)
            self._empty_sessions.add(day)
            self._answered_days.clear()
            return
        tracked = self._tracked_state()
        seen: set[str] = set()
        bars: list[CachedBar] = []
        for row in results:
            symbol = row.ticker
            if symbol not in tracked:
                continue
            values = _values(row)
            problem = bar_problem(*values)
            if symbol in seen:
                problem = "the grouped-daily response has this bar twice (duplicated)"
            seen.add(symbol)
            bars.append(CachedBar(symbol, day, *values, problem))
        now = self._clock.now()
        with self._ledger.write():
            session = bar_cache.store_grouped_session(self._ledger, day, bars, response_rows=len(results), now=now)
        self._grouped_state()[day] = session
        self._fetched_sessions.add(day)
        self._answered_days.clear()
        self._checked.clear()

    def _fetch_symbol(self, symbol: str, first: date, last: date) -> None:
        aggs = self.api.daily_aggs(symbol, first, last)
        latest = self._latest_closed()
        bars: list[CachedBar] = []
        previous: int | None = None
        for agg in aggs:
            stamp = agg.timestamp
            if stamp is None:
                continue  # an undated bar cannot be placed in any session
            stamp_ns = int(stamp) * 10**6
            # Daily bars are stamped at midnight New York time of their session.
            day = datetime.fromtimestamp(int(stamp) / 1000, ET).date()
            problem = order_problem(previous, stamp_ns, day.isoformat())
            previous = stamp_ns
            if not (first <= day <= last) or latest is None or day > latest or not self._calendar.is_session(day):
                continue  # outside the request, not yet complete at the clock, or not an NYSE session
            values = _values(agg)
            problem = problem or bar_problem(*values, volume_required=not _is_index(symbol))
            if _is_index(symbol) and values[4] is None:
                values = (*values[:4], 0.0)  # indices have no volume
            bars.append(CachedBar(symbol, day, *values, problem))
        now = self._clock.now()
        settled = self._last_settled(now)
        covered: tuple[date, date] | None = None
        if bars and settled is not None:
            # Recorded as covered up to the last bar received (sessions after it, a halt or a late vendor,
            # are asked again next run) and never past what has settled.
            end = min(last, settled, max(b.session_date for b in bars))
            covered = (first, end) if end >= first else None
        with self._ledger.write():
            bar_cache.store_symbol_range(self._ledger, symbol, bars, covered, now=now)
        if covered is not None:
            self._ranges(symbol).append(covered)
        self._fetched_ranges.setdefault(symbol, []).append((first, last))
        self._checked.clear()

    # -- reading and checking ----------------------------------------------------------------------------
    def _frame(self, symbol: str, sessions: list[date]) -> pd.DataFrame:
        key = (symbol, sessions[0], sessions[-1], self._latest_closed())
        if key not in self._checked:
            self._checked[key] = self._read_checked(symbol, sessions)
        return self._checked[key].copy()

    def _read_checked(self, symbol: str, sessions: list[date]) -> pd.DataFrame:
        bars = bar_cache.read_bars(self._ledger, symbol, sessions[0], sessions[-1])
        flagged = [i for i, problem in enumerate(bars.problems) if problem]
        bad = first_bad_bar(bars.values, volume_required=not _is_index(symbol))
        first = min([*flagged[:1], *([] if bad is None else [bad])], default=None)
        if first is not None:
            row = map(float, bars.values[first])
            problem = bars.problems[first] or bar_problem(*row, volume_required=not _is_index(symbol))
            self._reject(symbol, f"daily bar {bars.days[first].item()}: {problem}")
            return empty_daily_frame()
        last_bar = bars.days[-1].item() if len(bars.days) else None
        latest = self._latest_closed()
        if latest is not None and sessions[-1] == latest and self._stale(symbol, last_bar, sessions, latest):
            return empty_daily_frame()
        if last_bar is None:
            return empty_daily_frame()
        values = bars.values.copy()
        volume = values[:, 4]
        volume[np.isnan(volume)] = 0.0  # an index's missing volume
        return daily_frame(bars.days.astype("datetime64[ns]").astype(np.int64), values)

    def _stale(self, symbol: str, last_bar: date | None, sessions: list[date], latest: date) -> bool:
        """Reject a symbol whose newest bar is older than allowed (a halt, a delisting, a vendor gap)."""
        limit = self.max_bar_age_sessions
        if last_bar is None:
            if len(sessions) <= limit:
                return False  # too short a window to tell
            self._reject(symbol, f"stale: no daily bar from {sessions[0]} to {latest}")
            return True
        age = len(self._calendar.sessions_between(last_bar, latest)) - 1
        if age > limit:
            self._reject(
                symbol, f"stale: the last daily bar is {last_bar}, {age} sessions before {latest} (limit {limit})"
            )
            return True
        return False

    def _reject(self, symbol: str, reason: str) -> None:
        if symbol not in self.rejected:
            self.rejected[symbol] = reason
            log.warning("polygon: skipping %s for this run: %s", symbol, reason)

    def _in_regular_session(self, bar_ns: int) -> bool:
        at = datetime.fromtimestamp(bar_ns / 1e9, UTC)
        day = at.astimezone(ET).date()
        if not self._calendar.is_session(day):
            return False
        return self._calendar.session_open(day) <= at < self._calendar.session_close(day)

    def _quote(self, symbol: str, now: datetime) -> Quote | None:
        state = self._calendar.state(now)
        if state.is_open and state.open_at is not None:
            minutes = self.minute_bars(symbol, state.open_at, now)
            if symbol in self.rejected:
                return None
            if len(minutes):
                bar_start_ns = int(minutes.index[-1].value)
                return quote_from_last(symbol, float(minutes["close"].iloc[-1]), bar_start_ns + _MINUTE_NS)
        latest = self._latest_closed()
        if latest is None:
            return None
        daily = self.daily_bars(symbol, self._calendar.sessions_back(latest, 10), latest)
        if daily.empty:
            return None
        session = daily.index[-1].date()
        return quote_from_last(symbol, float(daily["close"].iloc[-1]), to_ns(self._calendar.session_close(session)))


def quote_reusable(fetched_at: datetime, now: datetime) -> bool:
    """Whether a quote fetched at ``fetched_at`` may answer at ``now``: not from the clock's future (a replay or
    an ``--as-of`` clock can move backwards: a later quote would be look-ahead) and younger than QUOTE_REUSE."""
    return fetched_at <= now < fetched_at + QUOTE_REUSE


def _minute_label(bar_ns: int) -> str:
    return datetime.fromtimestamp(bar_ns / 1e9, UTC).astimezone(ET).strftime("%Y-%m-%d %H:%M ET")


def build_polygon_data(config: Config, clock: Clock, calendar: MarketCalendar, ledger: Ledger) -> PolygonData:
    """``PolygonData`` from ``[data]`` and the key in MASSIVE_API_KEY (or POLYGON_API_KEY).

    Raises:
        ConfigError: no key (the message names the variable, never a value).
    """
    key = config.secrets.polygon_api_key
    if key is None or not key.get_secret_value():
        raise ConfigError(
            "[data] kind = 'polygon' needs an API key, and MASSIVE_API_KEY is not set",
            hint="set MASSIVE_API_KEY (or POLYGON_API_KEY) in the environment or in the workspace's .env",
        )
    data = config.settings.data
    api = PolygonApi(
        key.get_secret_value(),
        base_url=data.base_url,
        requests_per_minute=data.requests_per_minute,
        timeout_seconds=data.timeout_seconds,
    )
    return PolygonData(
        api,
        ledger,
        clock,
        calendar,
        vix_symbol=data.vix_symbol,
        vix_proxy=data.vix_proxy,
        max_bar_age_sessions=data.max_bar_age_sessions,
    )
