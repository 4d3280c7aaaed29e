"""A fake Polygon (Massive) REST server on 127.0.0.1, for the ``massive`` SDK (``RESTClient(base=url)``).

It serves the endpoints the Polygon adapters call, in the shapes the SDK parses:
  - ``GET /v2/aggs/grouped/locale/us/market/stocks/{date}``: every symbol's daily bar for one session;
  - ``GET /v2/aggs/ticker/{T}/range/{m}/{day|minute}/{from}/{to}``: per-symbol bars (``I:VIX`` too), paged with
    a host-agnostic ``next_url`` carrying ``cursor`` (the SDK keeps only its path and query); an index's bars
    have no ``v`` or ``vw``, as the indices plan sends them;
  - ``GET /v3/reference/tickers/{T}``: ticker details with ``sic_code`` (404 for an unknown ticker);
  - ``GET /v3/reference/splits``: the splits in ``splits`` (settable; ``split_row`` builds one), filtered by
    ``execution_date`` (``.gte``/``.gt``/``.lte``/``.lt``), ``ticker`` and ``reverse_split``, in pages of at most
    ``limit`` (default 10) and ``splits_page_size``, with a ``next_url`` whose cursor carries the filters.
Unknown query parameters are ignored, as the vendor does.

Data is deterministic (a function of symbol and session or minute), so a test can compute what it expects
with ``daily_bar`` / ``minute_bar``. The server serves any date asked, the future included: not serving bars
that are not complete yet is the adapter's job, and the tests check it.

``LoopbackServer`` (also used by the Finnhub fake) records every request (``counts`` per endpoint, ``log``)
and has the fault switches both vendors share: 429 with or without Retry-After, 5xx, and a response that
never comes (the handler holds the connection until the server stops).
"""

from __future__ import annotations

import base64
import json
import math
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from autotrader.clock import ET, MarketCalendar

Answer = tuple[int, dict[str, str], bytes] | None  # None: never answer
HANG: Answer = None


@dataclass
class CommonFaults:
    rate_limit: int = 0  # the next N requests answer 429
    retry_after: str | None = None  # the Retry-After header on those 429s; absent when None
    server_error: int = 0  # the next N requests answer 503
    hang: int = 0  # the next N requests get no answer at all


@dataclass(frozen=True)
class Request:
    endpoint: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 (port 0) in a daemon thread, with a request log and faults."""

    faults: CommonFaults

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are two writes: with Nagle on, the second waits for a delayed ACK (~40 ms).
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 - the http.server naming
                outer._serve(self)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A 2 ms poll interval: shutdown() waits for the serving loop to notice, up to one interval, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.002}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let hanging handlers go
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- counting ----------------------------------------------------------------------------------------
    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def requests_to(self, endpoint: str) -> list[Request]:
        with self._lock:
            return [r for r in self.log if r.endpoint == endpoint]

    # -- what subclasses provide ---------------------------------------------------------------------------
    def endpoint_of(self, path: str) -> str:
        raise NotImplementedError

    def authorized(self, request: Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Answer:
        raise NotImplementedError

    def rate_limited(self) -> bytes:
        raise NotImplementedError

    def route(self, request: Request) -> Answer:
        raise NotImplementedError

    # -- serving -------------------------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        path = unquote(split.path)
        while "//" in path:  # finnhub-python asks for /api/v1//stock/profile2
            path = path.replace("//", "/")
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request = Request(self.endpoint_of(path), path, query, {k.lower(): v for k, v in handler.headers.items()})
        with self._lock:
            self.counts[request.endpoint] += 1
            self.log.append(request)
            hang, answer = self._fault_answer()
        if not hang and answer is None:
            answer = self.route(request) if self.authorized(request) else self.unauthorized()
        if answer is HANG:
            self._release.wait(10)  # hold the connection: the client must give up on its own timeout
            return
        status, headers, body = answer
        try:
            handler.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first

    def _fault_answer(self) -> tuple[bool, Answer]:
        """(hang, answer): whether to hold the connection, else the injected answer (None: no fault)."""
        faults = self.faults
        if faults.hang > 0:
            faults.hang -= 1
            return True, HANG
        if faults.rate_limit > 0:
            faults.rate_limit -= 1
            headers = {"Retry-After": faults.retry_after} if faults.retry_after is not None else {}
            return False, (429, headers, self.rate_limited())
        if faults.server_error > 0:
            faults.server_error -= 1
            return False, (503, {"Content-Type": "text/plain"}, b"Service Unavailable")
        return False, None


class FakeTimer:
    """Time for the adapters' rate limiter and retry waits: sleeping advances it, nothing really waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def free_tier_limiters(travelled: list[Any]) -> Any:
    """A stand-in for ``polygon_data.RateLimiter`` (patched in its place) that builds the free tier's limiter,
    5 requests a minute whatever the settings say, on a ``FakeTimer`` whose waits also shift the last
    time-machine traveller in ``travelled``: a whole CLI run then spends its rate-limit waits in travelled time,
    its clock moving on as a real run's would, without sleeping."""
    from autotrader.adapters.http import RateLimiter

    def build(requests_per_minute: float) -> RateLimiter:
        timer = FakeTimer()

        def wait(seconds: float) -> None:
            timer.sleep(seconds)
            travelled[-1].shift(timedelta(seconds=seconds))

        return RateLimiter(5, monotonic=timer.monotonic, sleep=wait)

    return build


def dumps(payload: Any) -> bytes:
    # allow_nan: the vendor's JSON has no NaN, but a fault switch sends one, and Python's parser reads it.
    return json.dumps(payload, allow_nan=True).encode()


# -- deterministic data --------------------------------------------------------------------------------------

CAL = MarketCalendar.xnys()

BAD_KINDS = ("zero", "negative", "nan", "high_below_low", "duplicate", "out_of_order")


def _seed(symbol: str) -> int:
    return zlib.crc32(symbol.encode())


def daily_bar(symbol: str, day: date) -> tuple[float, float, float, float, float]:
    """The session's open, high, low, close, volume for a symbol (VIX-like levels for indices)."""
    seed = _seed(symbol)
    x = day.toordinal()
    base = 14.0 + seed % 12 if symbol.startswith("I:") else 20.0 + seed % 300
    close = round(base * (1 + 0.05 * math.sin(x / 9 + seed % 7)), 2)
    open_ = round(close * (1 + 0.004 * math.sin(x / 3 + seed % 5)), 2)
    high = round(max(open_, close) * 1.01, 2)
    low = round(min(open_, close) * 0.99, 2)
    volume = 0.0 if symbol.startswith("I:") else float(100_000 + (seed + x * 7919) % 900_000)
    return open_, high, low, close, volume


def minute_bar(symbol: str, start: datetime) -> tuple[float, float, float, float, float]:
    seed = _seed(symbol)
    k = int(start.timestamp()) // 60
    base = 20.0 + seed % 300
    close = round(base * (1 + 0.01 * math.sin(k / 11 + seed % 3)), 2)
    open_ = round(close * (1 + 0.001 * math.sin(k / 2)), 2)
    return open_, round(max(open_, close) + 0.02, 2), round(min(open_, close) - 0.02, 2), close, float(100 + k % 50)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _midnight_et_ms(day: date) -> int:
    return _ms(datetime.combine(day, time(0, 0), tzinfo=ET))


DEFAULT_SYMBOLS = ("AAPL", "MSFT", "JPM", "XOM", "JNJ", "SPY", "VIXY", "GOOD", "BAD")

# Ticker details: (type, sic_code, sic_description); funds have no SIC code.
DEFAULT_DETAILS: dict[str, tuple[str, str | None, str | None]] = {
    "AAPL": ("CS", "3571", "ELECTRONIC COMPUTERS"),
    "MSFT": ("CS", "7372", "SERVICES-PREPACKAGED SOFTWARE"),
    "JPM": ("CS", "6021", "NATIONAL COMMERCIAL BANKS"),
    "XOM": ("CS", "2911", "PETROLEUM REFINING"),
    "JNJ": ("CS", "2834", "PHARMACEUTICAL PREPARATIONS"),
    "SPY": ("ETF", None, None),
    "VIXY": ("ETF", None, None),
}


def split_row(ticker: str, execution_date: date | str, split_from: float, split_to: float) -> dict[str, Any]:
    """One split as the splits endpoint lists it (a 2:1 split is split_from 1, split_to 2)."""
    day = execution_date if isinstance(execution_date, str) else execution_date.isoformat()
    key = f"{ticker}|{day}|{split_from}|{split_to}".encode()
    return {
        "execution_date": day,
        "id": f"E{zlib.crc32(key):08x}",
        "split_from": split_from,
        "split_to": split_to,
        "ticker": ticker,
    }


# Symbols none of the defaults trade, so that the default data has no price gap to restate.
DEFAULT_SPLITS = (
    split_row("WMT", "2024-02-26", 1, 3),
    split_row("CMG", "2024-06-26", 1, 50),
    split_row("AVGO", "2024-07-15", 1, 10),
    split_row("NKLA", "2024-06-25", 30, 1),
)
SPLIT_FILTERS = ("execution_date", "execution_date.gte", "execution_date.gt", "execution_date.lte")
SPLIT_FILTERS += ("execution_date.lt", "ticker", "reverse_split", "limit")


@dataclass
class PolygonFaults(CommonFaults):
    indices_not_authorized: bool = False  # I:... tickers answer 403 NOT_AUTHORIZED (no indices plan)
    splits_not_authorized: bool = False  # the splits endpoint answers 403 NOT_AUTHORIZED
    splits_ignore_dates: bool = False  # the splits endpoint lists every split whatever the execution-date filters
    bad_bars: dict[str, str] = field(default_factory=dict)  # symbol -> one of BAD_KINDS
    bad_session: date | None = None  # the session whose bar is bad (default: the last one served)
    stale_after: dict[str, date] = field(default_factory=dict)  # symbol -> its last session with a bar
    options_not_authorized: bool = False  # the option snapshot endpoints answer 403 NOT_AUTHORIZED


class FakePolygon(LoopbackServer):
    """The fake vendor. ``symbols`` trade on every NYSE session; ``details`` answer ticker-details requests.

    Args:
        api_key: the only key accepted (``Authorization: Bearer <key>``); others get 401.
        symbols: the stocks and funds in the grouped response (indices are served by aggregates only).
        page_size: most results per aggregates page; more are paged with ``next_url``.
        premarket_minutes: minute bars served before the open and after the close (the adapter drops them).
    """

    def __init__(
        self,
        *,
        api_key: str = "test-polygon-key",
        symbols: tuple[str, ...] = DEFAULT_SYMBOLS,
        page_size: int = 5000,
        premarket_minutes: int = 30,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.symbols = tuple(symbols)
        self.page_size = page_size
        self.premarket_minutes = premarket_minutes
        self.details = dict(DEFAULT_DETAILS)
        self.splits: list[dict[str, Any]] = [dict(row) for row in DEFAULT_SPLITS]
        self.splits_page_size = 1000
        # underlying -> its option snapshots, as the vendor sends them (``option_row``); served by expiry filter.
        self.option_chains: dict[str, list[dict[str, Any]]] = {}
        self.options_page_size = 250
        self.faults = PolygonFaults()

    # -- LoopbackServer ------------------------------------------------------------------------------------
    def endpoint_of(self, path: str) -> str:
        if path.startswith("/v2/aggs/grouped/"):
            return "grouped"
        if path.startswith("/v2/aggs/ticker/"):
            return "aggs"
        if path.startswith("/v3/reference/tickers/"):
            return "ticker_details"
        if path == "/v3/reference/splits":
            return "splits"
        if path.startswith("/v3/snapshot/options/"):
            return "option_snapshot" if path.count("/") == 5 else "option_chain"
        return "other"

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    def unauthorized(self) -> Answer:
        return 401, {}, dumps({"status": "ERROR", "request_id": "fake", "error": "Unknown API Key"})

    def rate_limited(self) -> bytes:
        message = "You've exceeded the maximum requests per minute, please wait or upgrade your subscription."
        return dumps({"status": "ERROR", "request_id": "fake", "error": message})

    def route(self, request: Request) -> Answer:
        parts = request.path.strip("/").split("/")
        if request.endpoint == "grouped" and len(parts) == 8:
            return self._grouped(date.fromisoformat(parts[7]))
        if request.endpoint == "aggs" and len(parts) == 9:
            ticker, span, from_, to = parts[3], parts[6], parts[7], parts[8]
            return self._aggs(request.path, ticker, span, from_, to, request.query)
        if request.endpoint == "ticker_details" and len(parts) == 4:
            return self._details(parts[3])
        if request.endpoint == "splits":
            return self._splits(request.query)
        if request.endpoint in ("option_chain", "option_snapshot"):
            return self._options(request.path, parts[3:], request.query)
        return 404, {}, dumps({"status": "NOT_FOUND", "request_id": "fake", "message": "Not found"})

    # -- endpoints -------------------------------------------------------------------------------------------
    def _options(self, path: str, names: list[str], query: dict[str, str]) -> Answer:
        if self.faults.options_not_authorized:
            message = "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"
            return 403, {}, dumps({"status": "NOT_AUTHORIZED", "request_id": "fake", "message": message})
        rows = self.option_chains.get(names[0], [])
        if len(names) == 2:  # one contract
            found = [r for r in rows if r["details"]["ticker"] == names[1]]
            if not found:
                return 404, {}, dumps({"status": "NOT_FOUND", "request_id": "fake", "message": "Contract not found"})
            return 200, {}, dumps({"status": "OK", "request_id": "fake", "results": found[0]})
        low = query.get("expiration_date.gte", "0000-00-00")
        high = query.get("expiration_date.lte", "9999-99-99")
        chosen = [r for r in rows if low <= r["details"]["expiration_date"] <= high]
        offset = int(query.get("cursor", "0") or 0)
        size = min(self.options_page_size, int(query.get("limit", "10") or 10))
        body: dict[str, Any] = {"status": "OK", "request_id": "fake", "results": chosen[offset : offset + size]}
        if offset + size < len(chosen):
            params = "&".join(f"{k}={v}" for k, v in query.items() if k not in ("cursor", "apiKey"))
            body["next_url"] = f"https://api.polygon.io{path}?cursor={offset + size}&{params}"
        return 200, {}, dumps(body)

    def _grouped(self, day: date) -> Answer:
        body: dict[str, Any] = {"queryCount": 0, "resultsCount": 0, "adjusted": False, "status": "OK"}
        if not CAL.is_session(day):
            return 200, {}, dumps(body)  # a holiday: no results key, as the vendor answers
        rows = []
        for symbol in self.symbols:
            if not self._trades_on(symbol, day):
                continue
            o, h, low, c, v = self._bar(symbol, day, day)
            row = {"T": symbol, "o": o, "h": h, "l": low, "c": c, "v": v, "vw": c, "t": _midnight_et_ms(day), "n": 10}
            rows.append(row)
            if self.faults.bad_bars.get(symbol) == "duplicate" and self._is_bad_session(day, day):
                rows.append(dict(row))
        body.update(queryCount=len(rows), resultsCount=len(rows), results=rows)
        return 200, {}, dumps(body)

    def _aggs(self, path: str, ticker: str, span: str, from_: str, to: str, query: dict[str, str]) -> Answer:
        if ticker.startswith("I:") and self.faults.indices_not_authorized:
            message = "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"
            return 403, {}, dumps({"status": "NOT_AUTHORIZED", "request_id": "fake", "message": message})
        if not ticker.startswith("I:") and ticker not in self.symbols:
            results: list[dict[str, Any]] = []
        elif span == "day":
            results = self._daily_results(ticker, _as_date(from_), _as_date(to))
        elif span == "minute":
            results = self._minute_results(ticker, _as_instant(from_, start=True), _as_instant(to, start=False))
        else:
            return 400, {}, dumps({"status": "ERROR", "request_id": "fake", "error": f"timespan {span}"})
        offset = int(query.get("cursor", "0") or 0)
        size = min(self.page_size, int(query.get("limit", str(self.page_size)) or self.page_size))
        page = results[offset : offset + size]
        body: dict[str, Any] = {
            "ticker": ticker,
            "queryCount": len(page),
            "resultsCount": len(page),
            "adjusted": query.get("adjusted", "true") == "true",
            "status": "OK",
            "request_id": "fake",
        }
        if page:
            body["results"] = page
        if offset + size < len(results):
            # A host the client must ignore, and everything needed for the next page in the cursor.
            body["next_url"] = f"https://api.polygon.io{path}?cursor={offset + size}"
        return 200, {}, dumps(body)

    def _daily_results(self, ticker: str, first: date, last: date) -> list[dict[str, Any]]:
        sessions = [d for d in CAL.sessions_between(first, last) if self._trades_on(ticker, d)]
        if not sessions:
            return []
        rows = []
        for day in sessions:
            o, h, low, c, v = self._bar(ticker, day, sessions[-1])
            row: dict[str, Any] = {"o": o, "h": h, "l": low, "c": c, "t": _midnight_et_ms(day), "n": 10}
            if not ticker.startswith("I:"):
                row.update(v=v, vw=c)
            rows.append(row)
            if self.faults.bad_bars.get(ticker) == "duplicate" and self._is_bad_session(day, sessions[-1]):
                rows.append(dict(row))
        if self.faults.bad_bars.get(ticker) == "out_of_order" and len(rows) >= 2:
            rows[-1], rows[-2] = rows[-2], rows[-1]
        return rows

    def _minute_results(self, ticker: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        rows = []
        extra = timedelta(minutes=self.premarket_minutes)
        for day in CAL.sessions_between(start.astimezone(ET).date(), end.astimezone(ET).date()):
            at = CAL.session_open(day) - extra
            stop = CAL.session_close(day) + extra
            while at < stop:
                if start <= at <= end:
                    o, h, low, c, v = minute_bar(ticker, at)
                    row: dict[str, Any] = {"o": o, "h": h, "l": low, "c": c, "t": _ms(at), "n": 3}
                    if not ticker.startswith("I:"):  # an index has no volume: no v, no vw
                        row.update(v=v, vw=c)
                    rows.append(row)
                at += timedelta(minutes=1)
        if self.faults.bad_bars.get(ticker) == "zero" and rows:
            rows[-1]["c"] = 0
        return rows

    def _details(self, ticker: str) -> Answer:
        known = self.details.get(ticker)
        if known is None and ticker in self.symbols:
            known = ("CS", "3674", "SEMICONDUCTORS & RELATED DEVICES")
        if known is None:
            return 404, {}, dumps({"status": "NOT_FOUND", "request_id": "fake", "message": "Ticker not found."})
        kind, sic, description = known
        results: dict[str, Any] = {
            "ticker": ticker,
            "name": f"{ticker} Inc.",
            "market": "stocks",
            "locale": "us",
            "type": kind,
            "active": True,
            "currency_name": "usd",
        }
        if sic is not None:
            results.update(sic_code=sic, sic_description=description)
        return 200, {}, dumps({"status": "OK", "request_id": "fake", "results": results})

    def _splits(self, query: dict[str, str]) -> Answer:
        if self.faults.splits_not_authorized:
            message = "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"
            return 403, {}, dumps({"status": "NOT_AUTHORIZED", "request_id": "fake", "message": message})
        if "cursor" in query:  # the SDK sends nothing but the next_url's query: the cursor carries the rest
            params = dict(parse_qs(base64.urlsafe_b64decode(query["cursor"]).decode(), keep_blank_values=True))
            filters = {k: v[-1] for k, v in params.items()}
        else:
            filters = {k: v for k, v in query.items() if k in SPLIT_FILTERS}
        offset = int(filters.pop("offset", "0"))
        size = min(int(filters.get("limit", "10") or 10), 1000, self.splits_page_size)
        rows = [row for row in self.splits if self._split_matches(row, filters)]
        page = rows[offset : offset + size]
        body: dict[str, Any] = {"status": "OK", "request_id": "fake", "results": page}
        if offset + size < len(rows):
            cursor = base64.urlsafe_b64encode(urlencode({**filters, "offset": offset + size}).encode()).decode()
            body["next_url"] = f"https://api.polygon.io/v3/reference/splits?cursor={cursor}"
        return 200, {}, dumps(body)

    def _split_matches(self, row: dict[str, Any], filters: dict[str, str]) -> bool:
        day = str(row["execution_date"])
        if "ticker" in filters and row["ticker"] != filters["ticker"]:
            return False
        if "reverse_split" in filters and (row["split_from"] > row["split_to"]) != (filters["reverse_split"] == "true"):
            return False
        if self.faults.splits_ignore_dates:
            return True
        checks = {
            "execution_date": day.__eq__,
            "execution_date.gte": day.__ge__,
            "execution_date.gt": day.__gt__,
            "execution_date.lte": day.__le__,
            "execution_date.lt": day.__lt__,
        }
        return all(check(filters[name]) for name, check in checks.items() if name in filters)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _trades_on(self, symbol: str, day: date) -> bool:
        last = self.faults.stale_after.get(symbol)
        return last is None or day <= last

    def _is_bad_session(self, day: date, last_served: date) -> bool:
        return day == (self.faults.bad_session or last_served)

    def _bar(self, symbol: str, day: date, last_served: date) -> tuple[float, float, float, float, float]:
        o, h, low, c, v = daily_bar(symbol, day)
        kind = self.faults.bad_bars.get(symbol)
        if kind and self._is_bad_session(day, last_served):
            if kind == "zero":
                c = 0.0
            elif kind == "negative":
                low = -1.0
            elif kind == "nan":
                o = math.nan
            elif kind == "high_below_low":
                h, low = low, h
        return o, h, low, c, v


def _as_date(text: str) -> date:
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC).astimezone(ET).date()
    return date.fromisoformat(text)


def _as_instant(text: str, *, start: bool) -> datetime:
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    day = date.fromisoformat(text)
    at = datetime.combine(day, time(0, 0) if start else time(23, 59), tzinfo=ET)
    return at.astimezone(UTC)


def option_row(
    ticker: str,
    *,
    bid: float | None,
    ask: float | None,
    quoted_ns: int,
    underlying_price: float = 100.0,
    iv: float | None = 0.3,
    greeks: tuple[float, float, float, float] | None = (0.5, 0.04, -0.05, 0.12),
    open_interest: int = 1500,
    volume: int = 120,
    shares_per_contract: int = 100,
) -> dict[str, Any]:
    """One contract of an option chain snapshot as the vendor sends it (``ticker`` in ``O:`` form)."""
    from autotrader.domain.options import parse_occ

    contract = parse_occ(ticker)
    row: dict[str, Any] = {
        "break_even_price": contract.strike,
        "day": {"change": 0.1, "change_percent": 1.0, "close": ask, "high": ask, "low": bid, "open": bid,
                "previous_close": bid, "volume": volume, "vwap": ask, "last_updated": quoted_ns},
        "details": {"contract_type": str(contract.right), "exercise_style": "american",
                    "expiration_date": contract.expiry.isoformat(), "shares_per_contract": shares_per_contract,
                    "strike_price": contract.strike, "ticker": ticker},
        "implied_volatility": iv,
        "open_interest": open_interest,
        "underlying_asset": {"change_to_break_even": 1.0, "last_updated": quoted_ns, "price": underlying_price,
                             "ticker": contract.underlying, "timeframe": "REAL-TIME"},
    }  # fmt: skip
    if greeks is not None:
        row["greeks"] = dict(zip(("delta", "gamma", "theta", "vega"), greeks, strict=True))
    if bid is not None and ask is not None:
        row["last_quote"] = {"ask": ask, "ask_size": 10, "bid": bid, "bid_size": 12, "last_updated": quoted_ns,
                             "midpoint": (bid + ask) / 2, "timeframe": "REAL-TIME"}  # fmt: skip
    return row
