"""A fake Alpaca trading API on 127.0.0.1, for driving the real alpaca-py SDK in tests.

It serves what ``AlpacaBroker`` calls, with the JSON shapes alpaca-py requires: decimals as
strings, calendar times as ``HH:MM``, ``order_class`` ``""`` for simple orders, order legs nested only when
asked (``nested=True``), 204 with an empty body for a cancel, ``{"code", "message"}`` error bodies (except a
401, which has no code), and ``X-RateLimit-*`` headers on every answer.

State is one account: cash, positions, orders (with bracket/OTO/OCO legs) and FILL activities. Time is
whatever the test says (``set_now``/``advance_to``); advancing fills working market orders, and limit and stop
orders the symbol's price reaches, at that price (``auto_fill``), and ``fill()`` executes any quantity at any
price. Alpaca's order rules that matter to the toolkit are enforced: a client_order_id is unique across
every order the account ever had, sub-penny prices and unknown symbols get 422, a buy beyond buying power or a
sell beyond the shares held gets 403, market-on-open outside its window gets 403.

Fault switches (``inject``) make one endpoint answer differently for the next N requests: a canned status and
body (429 with or without a reset header, a 500 in plain text, a 422 duplicate), an answer after the request
was processed (accept an order, then answer 504), or an answer that never comes in time (``delay``). Every
request is logged (``requests``, ``count``) so a test can count what reached the server.

One ``ThreadingHTTPServer`` in a daemon thread, on port 0; ``close()`` releases any response still held back.
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from autotrader.clock import ET, MarketCalendar

API_KEY = "PKFAKEALPACAKEY0001"
SECRET_KEY = "SKFAKEALPACASECRET0001"

OPEN_STATUSES = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "partially_filled",
        "held",
        "pending_cancel",
        "pending_replace",
        "accepted_for_bidding",
        "calculated",
        "stopped",
        "suspended",
    }
)
TERMINAL_STATUSES = frozenset({"filled", "canceled", "expired", "replaced", "rejected", "done_for_day"})
WORKING_STATUSES = frozenset({"new", "accepted", "pending_new", "partially_filled"})
OPG_CUTOFF = time(9, 28)
AUCTION_REOPEN = time(19, 0)


class Reply(Exception):
    """Raised inside a route to answer with an error status and body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def api_error(status: int, code: int, message: str, **extra: Any) -> Reply:
    return Reply(status, {"code": code, "message": message, **extra})


@dataclass
class Fault:
    """How one endpoint misbehaves for the next ``times`` matching requests."""

    method: str
    path: str  # e.g. "/v2/orders"; a trailing "*" matches any path with that prefix
    status: int | None = None  # answer with this status instead of the normal answer
    body: Any = None  # a dict/list is sent as JSON, a str as text/plain
    headers: dict[str, str] = field(default_factory=dict)
    process_first: bool = False  # handle the request for real (e.g. accept the order) before misbehaving
    delay: float = 0.0  # hold the answer back this long (until close() at the latest)
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        if method != self.method:
            return False
        return path.startswith(self.path[:-1]) if self.path.endswith("*") else path == self.path


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


_OCC = re.compile(r"([A-Z0-9]{1,6})\d{6}[CP]\d{8}")


@dataclass
class FakeOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    time_in_force: str
    order_class: str
    limit_price: float | None
    stop_price: float | None
    trail_percent: float | None
    trail_price: float | None
    status: str
    submitted_at: datetime
    updated_at: datetime
    filled_qty: float = 0.0
    filled_avg_price: float | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    parent_id: str | None = None
    leg_ids: list[str] = field(default_factory=list)
    role: str = "simple"  # simple | entry | take_profit | stop_loss
    pending_cancel_reads: int = 0  # reads left that still show pending_cancel


class FakeAlpacaServer:
    """The fake server. Use as a context manager, or ``start()`` then ``close()``."""

    def __init__(
        self,
        *,
        now: datetime,
        prices: dict[str, float] | None = None,
        cash: float = 100_000.0,
        api_key: str = API_KEY,
        secret_key: str = SECRET_KEY,
        calendar: MarketCalendar | None = None,
        auto_fill: bool = True,
    ) -> None:
        self.calendar = calendar or MarketCalendar.xnys()
        self.now = _aware(now)
        self.prices: dict[str, float] = dict(prices or {"AAPL": 200.0})
        self.untradable: set[str] = set()
        self.fractionable: set[str] = set(self.prices)
        self.cash = float(cash)
        self.api_key, self.secret_key = api_key, secret_key
        self.auto_fill = auto_fill
        # Switches for account-level refusals.
        self.pdt_protection = False  # every new order: 403 40310100
        self.wash_trade_protection = False  # a buy against a resting sell of the symbol: 403 40310000
        self.cancel_pending_reads = 0  # a cancelled order shows pending_cancel for this many reads first
        self.extra_account_fields: dict[str, Any] = {}
        self.orders: dict[str, FakeOrder] = {}
        self.positions: dict[str, tuple[float, float]] = {}  # symbol -> (qty, avg_entry_price)
        # Options: contract -> (contracts, short negative; average price per share); a leg's ratio and intent.
        self.option_positions: dict[str, tuple[float, float]] = {}
        self.option_marks: dict[str, float] = {}  # contract -> mid per share, for market values
        self.leg_terms: dict[str, tuple[int, str]] = {}
        self.option_activities: list[dict[str, Any]] = []
        self.activities: list[dict[str, Any]] = []
        self.requests: list[LoggedRequest] = []
        self._faults: list[Fault] = []
        self._resume: dict[tuple[Any, ...], int] = {}  # activities page_token -> where the next page starts
        self._last_stamp: datetime | None = None
        self._lock = threading.RLock()
        self._released = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ======================================================================================= lifecycle
    def start(self) -> FakeAlpacaServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._httpd = server
        # A 2 ms poll interval: shutdown() waits for the serving loop to notice, up to one interval, once per test.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.002}, name="fake-alpaca", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._released.set()  # answers held back by a delay fault go out (to a client long gone) now
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeAlpacaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ==================================================================================== test controls
    def inject(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        process_first: bool = False,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` ``method path`` requests misbehave (see ``Fault``)."""
        with self._lock:
            self._faults.append(Fault(method, path, status, body, dict(headers or {}), process_first, delay, times))

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.method == method and r.path == path)

    def posted_orders(self) -> list[dict[str, Any]]:
        """The bodies of every POST /v2/orders that reached the server, in order."""
        with self._lock:
            return [r.body for r in self.requests if r.method == "POST" and r.path == "/v2/orders"]

    def set_now(self, at: datetime) -> None:
        with self._lock:
            self.now = _aware(at)

    def advance_to(self, at: datetime) -> None:
        """Move time forward to ``at``: working orders fill (``auto_fill``) and day orders expire on the way."""
        with self._lock:
            at = _aware(at)
            if at < self.now:
                raise ValueError("time only moves forward")
            if self.auto_fill:
                self._match(at)
            self._expire_day_orders(at)
            self.now = at

    def set_price(self, symbol: str, price: float) -> None:
        with self._lock:
            self.prices[symbol] = float(price)

    def fill(self, order_id: str, qty: float, price: float, at: datetime | None = None) -> dict[str, Any]:
        """Execute ``qty`` of an order at ``price`` (now, unless ``at``); returns the FILL activity."""
        with self._lock:
            return self._execute(self.orders[order_id], qty, price, _aware(at) if at else self.now)

    def expire(self, order_id: str) -> None:
        """End an order (and its group) as ``expired``, e.g. a day order partly filled at the close."""
        with self._lock:
            self._end_group(self.orders[order_id], "expired", self.now)

    def set_status(self, order_id: str, status: str) -> None:
        """Force a status, known to alpaca-py or not (e.g. one Alpaca adds tomorrow)."""
        with self._lock:
            order = self.orders[order_id]
            order.status = status
            order.updated_at = self._stamp()

    def replay_fills(self) -> None:
        """Report every execution twice: each FILL activity is followed by a copy (same id, same data), so a
        listing repeats fills, across page boundaries too."""
        with self._lock:
            self.activities = [copy for a in self.activities for copy in (a, dict(a))]

    def order_by_cid(self, client_order_id: str) -> FakeOrder | None:
        with self._lock:
            return next((o for o in self.orders.values() if o.client_order_id == client_order_id), None)

    def top_level_orders(self) -> list[FakeOrder]:
        with self._lock:
            return [o for o in self.orders.values() if o.parent_id is None]

    # ========================================================================================== routing
    def handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path = split.path.replace("//", "/")
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = raw_body.decode("utf-8", "replace")
        method = handler.command
        with self._lock:
            self.requests.append(LoggedRequest(method, path, query, dict(handler.headers.items()), body))
            fault = self._take_fault(method, path)

        if fault is not None and not fault.process_first:
            self._hold(fault)
            if fault.status is not None:
                handler.answer(fault.status, fault.body, fault.headers, rate_limit_headers=False)
                return
        if handler.headers.get("APCA-API-KEY-ID") != self.api_key or (
            handler.headers.get("APCA-API-SECRET-KEY") != self.secret_key
        ):
            handler.answer(401, {"message": "unauthorized."})  # Alpaca's 401 carries no code
            return
        headers: dict[str, str] = {}
        try:
            with self._lock:
                status, payload = self._route(method, path, query, body)
        except Reply as reply:
            status, payload, headers = reply.status, reply.body, reply.headers
        if fault is not None and fault.process_first:
            self._hold(fault)
            if fault.status is not None:
                handler.answer(fault.status, fault.body, fault.headers, rate_limit_headers=False)
                return
        handler.answer(status, payload, {**headers, **(fault.headers if fault else {})})

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.matches(method, path):
                fault.times -= 1
                return fault
        return None

    def _hold(self, fault: Fault) -> None:
        if fault.delay > 0:
            self._released.wait(fault.delay)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/v2/account":
            return 200, self._account_json()
        if method == "GET" and path == "/v2/positions":
            stocks = [self._position_json(s) for s in sorted(self.positions) if abs(self.positions[s][0]) > 1e-9]
            return 200, stocks + [self._option_position_json(s) for s in sorted(self.option_positions)]
        if method == "GET" and path.startswith("/v2/positions/"):
            symbol = path.rsplit("/", 1)[1]
            if abs(self.positions.get(symbol, (0.0, 0.0))[0]) <= 1e-9:
                raise api_error(404, 40410000, "position does not exist")
            return 200, self._position_json(symbol)
        if method == "GET" and path.startswith("/v2/assets/"):
            return 200, self._asset_json(path.rsplit("/", 1)[1])
        if method == "POST" and path == "/v2/orders":
            return 200, self._create_order(body if isinstance(body, dict) else {})
        if method == "GET" and path == "/v2/orders":
            return 200, self._list_orders(query)
        if method == "GET" and path == "/v2/orders:by_client_order_id":
            order = self.order_by_cid(query.get("client_order_id", ""))
            if order is None:
                raise api_error(404, 40410000, "order not found")
            return 200, self._order_json(order, nested=True)
        if path.startswith("/v2/orders/"):
            order_id = path.rsplit("/", 1)[1]
            if order_id not in self.orders:
                raise api_error(404, 40410000, f"order not found for {order_id}")
            if method == "GET":
                return 200, self._order_json(self.orders[order_id], nested=_flag(query.get("nested")))
            if method == "DELETE":
                self._cancel(self.orders[order_id])
                return 204, None
        if method == "GET" and path == "/v2/clock":
            return 200, self._clock_json()
        if method == "GET" and path == "/v2/calendar":
            return 200, self._calendar_json(query)
        if method == "GET" and path in ("/v2/account/activities/FILL", "/v2/account/activities"):
            kinds = query.get("activity_types", "FILL").upper().split(",")
            if path.endswith("/activities") and set(kinds) & {"OPEXP", "OPEXC", "OPASN"}:
                return 200, [a for a in self.option_activities if a["activity_type"] in kinds
                             and a["date"] >= query.get("after", "0000")[:10]]  # fmt: skip
            if path.endswith("/activities") and "FILL" not in kinds:
                return 200, []
            return 200, self._activities_page(query)
        raise api_error(404, 40410000, "endpoint not found")

    # ========================================================================================== account
    def _market_value(self) -> float:
        return sum(qty * self.prices.get(s, avg) for s, (qty, avg) in self.positions.items())

    def _reserved_for_buys(self) -> float:
        total, seen_groups = 0.0, set()
        for o in self.orders.values():
            if o.side != "buy" or not self._is_live(o):
                continue
            if o.role in ("take_profit", "stop_loss"):
                if (o.parent_id or o.id) in seen_groups:
                    continue
                seen_groups.add(o.parent_id or o.id)
            total += (o.qty - o.filled_qty) * (o.limit_price or self.prices.get(o.symbol, 0.0))
        return total

    def buying_power(self) -> float:
        return self.cash - self._reserved_for_buys()

    def _account_json(self) -> dict[str, Any]:
        # No pattern_day_trader / daytrade_count / daytrading_buying_power: Alpaca removed them in 2026.
        equity = self.cash + self._market_value()
        return {
            "id": "11111111-2222-4333-8444-555555555555",
            "account_number": "PA3FAKE00001",
            "status": "ACTIVE",
            "crypto_status": "ACTIVE",
            "currency": "USD",
            "cash": _dec(self.cash),
            "buying_power": _dec(self.buying_power()),
            "regt_buying_power": _dec(self.buying_power()),
            "non_marginable_buying_power": _dec(self.buying_power()),
            "equity": _dec(equity),
            "last_equity": _dec(equity),
            "portfolio_value": _dec(equity),
            "long_market_value": _dec(self._market_value()),
            "short_market_value": "0",
            "initial_margin": "0",
            "maintenance_margin": "0",
            "multiplier": "1",
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "shorting_enabled": False,
            "created_at": "2024-01-02T15:00:00Z",
            **self.extra_account_fields,
        }

    def _position_json(self, symbol: str) -> dict[str, Any]:
        qty, avg = self.positions[symbol]
        price = self.prices.get(symbol, avg)
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": _dec(avg),
            "qty": _dec(qty),
            "qty_available": _dec(qty - self._held_for_sells(symbol)),
            "side": "long" if qty >= 0 else "short",
            "market_value": _dec(qty * price),
            "cost_basis": _dec(qty * avg),
            "unrealized_pl": _dec(qty * (price - avg)),
            "unrealized_plpc": _dec((price - avg) / avg if avg else 0.0),
            "current_price": _dec(price),
            "lastday_price": _dec(price),
            "change_today": "0",
        }

    def _asset_json(self, symbol: str) -> dict[str, Any]:
        if symbol not in self.prices:
            raise api_error(404, 40410000, f"asset not found for {symbol}")
        tradable = symbol not in self.untradable
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "class": "us_equity",
            "exchange": "NASDAQ",
            "symbol": symbol,
            "name": f"{symbol} Inc. Common Stock",
            "status": "active",
            "tradable": tradable,
            "marginable": True,
            "shortable": True,
            "easy_to_borrow": True,
            "fractionable": symbol in self.fractionable,
            "attributes": [],
        }

    def _held_for_sells(self, symbol: str) -> float:
        """Shares promised to open sell orders. The exit legs of one bracket/OCO sell the same shares: the
        group counts once. A held leg whose entry has not filled holds nothing yet."""
        total, seen_groups = 0.0, set()
        for o in self.orders.values():
            if o.symbol != symbol or o.side != "sell" or not self._is_live(o):
                continue
            if o.role in ("take_profit", "stop_loss"):
                group = o.parent_id or o.id
                if group in seen_groups:
                    continue
                seen_groups.add(group)
            total += o.qty - o.filled_qty
        return total

    def _is_live(self, order: FakeOrder) -> bool:
        """Whether an order can execute now: working, or a held exit leg whose entry has filled."""
        if order.status in WORKING_STATUSES:
            return True
        if order.status != "held":
            return False
        return order.parent_id is None or self.orders[order.parent_id].status == "filled"

    # ============================================================================================ clock
    def _clock_json(self) -> dict[str, Any]:
        return {
            "timestamp": _et_text(self.now),
            "is_open": self.calendar.is_open(self.now),
            "next_open": _et_text(self.calendar.next_open(self.now)),
            "next_close": _et_text(self.calendar.next_close(self.now)),
        }

    def _calendar_json(self, query: dict[str, str]) -> list[dict[str, Any]]:
        start = date.fromisoformat(query.get("start") or "1970-01-01")
        end = date.fromisoformat(query.get("end") or "2029-12-31")
        start, end = max(start, date(2000, 1, 1)), min(end, date(2035, 12, 30))
        rows = []
        for day in self.calendar.sessions_between(start, end):
            open_at = self.calendar.session_open(day).astimezone(ET)
            close_at = self.calendar.session_close(day).astimezone(ET)
            rows.append(
                {
                    "date": day.isoformat(),
                    "open": f"{open_at:%H:%M}",
                    "close": f"{close_at:%H:%M}",
                    "settlement_date": self.calendar.next_session(day).isoformat(),
                    "session_open": "0400",
                    "session_close": "2000",
                }
            )
        return rows

    # =========================================================================================== orders
    def _stamp(self) -> datetime:
        """Now, made unique and increasing: Alpaca stamps orders in nanoseconds, so two never share one."""
        stamp = self.now if self._last_stamp is None else max(self.now, self._last_stamp + timedelta(microseconds=1))
        self._last_stamp = stamp
        return stamp

    def _create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = str(body.get("client_order_id") or uuid.uuid4())
        if len(cid) > 128:
            raise api_error(422, 40010001, "client_order_id must be no more than 128 characters")
        if any(o.client_order_id == cid for o in self.orders.values()):
            raise api_error(422, 40010001, "client_order_id must be unique")
        if body.get("order_class") == "mleg" or _OCC.fullmatch(str(body.get("symbol") or "")):
            return self._create_option_order(cid, body)
        symbol = str(body.get("symbol") or "")
        side = str(body.get("side") or "")
        kind = str(body.get("type") or "")
        tif = str(body.get("time_in_force") or "")
        order_class = str(body.get("order_class") or "simple")
        if side not in ("buy", "sell"):
            raise api_error(422, 40010001, "side must be buy or sell")
        if kind not in ("market", "limit", "stop", "stop_limit", "trailing_stop"):
            raise api_error(422, 40010001, "invalid order type")
        if tif not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            raise api_error(422, 40010001, "invalid time_in_force")
        if "qty" in body and "notional" in body:
            raise api_error(422, 40010001, "only one of qty or notional is accepted")
        qty = _num(body.get("qty"), "qty")
        if qty is None or qty <= 0:
            raise api_error(422, 40010001, "qty must be > 0")
        limit_price = _num(body.get("limit_price"), "limit_price")
        stop_price = _num(body.get("stop_price"), "stop_price")
        take_profit = body.get("take_profit") or {}
        stop_loss = body.get("stop_loss") or {}
        tp_limit = _num(take_profit.get("limit_price"), "take_profit.limit_price")
        sl_stop = _num(stop_loss.get("stop_price"), "stop_loss.stop_price")
        sl_limit = _num(stop_loss.get("limit_price"), "stop_loss.limit_price")
        for name, value in (
            ("limit_price", limit_price),
            ("stop_price", stop_price),
            ("take_profit.limit_price", tp_limit),
            ("stop_loss.stop_price", sl_stop),
            ("stop_loss.limit_price", sl_limit),
        ):
            if value is not None and not _on_tick(value):
                raise api_error(
                    422,
                    42210000,
                    f"invalid {name} {value}. sub-penny increment does not fulfill minimum pricing criteria",
                )
        if symbol not in self.prices:
            raise api_error(422, 42210000, f'asset "{symbol}" not found')
        if symbol in self.untradable:
            raise api_error(422, 42210000, f"asset {symbol} is not tradable")
        if kind in ("limit", "stop_limit") and limit_price is None and order_class != "oco":
            raise api_error(422, 40010001, f"{kind} orders require a limit price")
        if kind in ("stop", "stop_limit") and stop_price is None:
            raise api_error(422, 40010001, f"{kind} orders require a stop price")
        if order_class in ("bracket", "oco", "oto") and tif not in ("day", "gtc"):
            raise api_error(422, 42210000, f"{order_class} orders must be DAY or GTC")
        if not _whole(qty) and (symbol not in self.fractionable or order_class != "simple"):
            raise api_error(403, 40310000, "requested asset is not fractionable")
        if self.pdt_protection:
            raise api_error(403, 40310100, "trade denied due to pattern day trading protection")
        if tif in ("opg", "cls"):
            self._check_auction_window(tif)
        price = self.prices[symbol]
        if side == "buy":
            resting_sell = any(
                o.symbol == symbol and o.side == "sell" and o.status in WORKING_STATUSES and o.order_class == "simple"
                for o in self.orders.values()
            )
            if self.wash_trade_protection and resting_sell and order_class == "simple":
                raise api_error(403, 40310000, "potential wash trade detected. use complex orders")
            cost = qty * (limit_price if kind in ("limit", "stop_limit") and limit_price else price)
            if cost > self.buying_power() + 1e-9:
                raise api_error(
                    403,
                    40310000,
                    "insufficient buying power",
                    buying_power=_dec(self.buying_power()),
                    cost_basis=_dec(cost),
                )
        else:
            held = self.positions.get(symbol, (0.0, 0.0))[0]
            available = held - self._held_for_sells(symbol)
            if qty > available + 1e-9:
                raise api_error(
                    403,
                    40310000,
                    f"insufficient qty available for order (requested: {_dec(qty)}, available: {_dec(available)})",
                    available=_dec(available),
                    existing_qty=_dec(held),
                    held_for_orders=_dec(held - available),
                    symbol=symbol,
                )

        stamp = self._stamp()

        def new_order(**kw: Any) -> FakeOrder:
            base: dict[str, Any] = dict(
                id=str(uuid.uuid4()),
                client_order_id=str(uuid.uuid4()),
                symbol=symbol,
                side=side,
                qty=qty,
                type=kind,
                time_in_force=tif,
                order_class="" if order_class == "simple" else order_class,
                limit_price=None,
                stop_price=None,
                trail_percent=None,
                trail_price=None,
                status="new",
                submitted_at=stamp,
                updated_at=stamp,
            )
            base.update(kw)
            return FakeOrder(**base)

        exit_side = "sell" if side == "buy" else "buy"
        if order_class == "oco":
            # Alpaca: an OCO's take-profit limit is the parent, its stop-loss the child; both are live.
            parent = new_order(
                client_order_id=cid, type="limit", limit_price=tp_limit or limit_price, role="take_profit"
            )
            legs = [
                new_order(
                    side=side,
                    type="stop_limit" if sl_limit else "stop",
                    stop_price=sl_stop,
                    limit_price=sl_limit,
                    role="stop_loss",
                    parent_id=parent.id,
                )
            ]
        else:
            parent = new_order(
                client_order_id=cid,
                limit_price=limit_price,
                stop_price=stop_price,
                trail_percent=_num(body.get("trail_percent"), "trail_percent"),
                trail_price=_num(body.get("trail_price"), "trail_price"),
                role="simple" if order_class == "simple" else "entry",
            )
            legs = []
            if order_class in ("bracket", "oto") and tp_limit is not None:
                legs.append(
                    new_order(
                        side=exit_side,
                        type="limit",
                        limit_price=tp_limit,
                        status="held",
                        role="take_profit",
                        parent_id=parent.id,
                    )
                )
            if order_class in ("bracket", "oto") and sl_stop is not None:
                legs.append(
                    new_order(
                        side=exit_side,
                        type="stop_limit" if sl_limit else "stop",
                        stop_price=sl_stop,
                        limit_price=sl_limit,
                        status="held",
                        role="stop_loss",
                        parent_id=parent.id,
                    )
                )
        parent.leg_ids = [leg.id for leg in legs]
        for order in (parent, *legs):
            self.orders[order.id] = order
        answer = self._order_json(parent, nested=True)
        answer["status"] = "accepted"  # what the POST says; a later read shows "new"
        return answer

    def _check_auction_window(self, tif: str) -> None:
        local = self.now.astimezone(ET)
        day = local.date()
        if not self.calendar.is_session(day) or local.time() >= AUCTION_REOPEN:
            return
        if tif == "opg" and local.time() >= OPG_CUTOFF:
            raise api_error(403, 40310000, "opg orders must be submitted after 7:00pm and before 9:28am")
        cls_cutoff = self.calendar.session_close(day) - timedelta(minutes=10)
        if tif == "cls" and self.now >= cls_cutoff:
            raise api_error(403, 40310000, "cls orders must be submitted after 7:00pm and before 3:50pm")

    def _list_orders(self, query: dict[str, str]) -> list[dict[str, Any]]:
        status = query.get("status", "open").lower()
        nested = _flag(query.get("nested"))
        limit = min(int(query.get("limit") or 50), 500)
        after = _parse_time(query.get("after"))
        until = _parse_time(query.get("until"))
        symbols = set(filter(None, query.get("symbols", "").split(",")))
        for o in list(self.orders.values()):
            self._tick_pending_cancel(o)
        candidates = [o for o in self.orders.values() if not nested or o.parent_id is None]

        def group_open(o: FakeOrder) -> bool:
            members = [o, *(self.orders[i] for i in o.leg_ids)] if nested else [o]
            return any(m.status not in TERMINAL_STATUSES for m in members)

        chosen = []
        for o in candidates:
            if status == "open" and not group_open(o):
                continue
            if status == "closed" and group_open(o):
                continue
            if after is not None and not o.submitted_at > after:
                continue
            if until is not None and not o.submitted_at <= until:
                continue
            if symbols and o.symbol not in symbols:
                continue
            if query.get("side") and o.side != query["side"]:
                continue
            chosen.append(o)
        chosen.sort(key=lambda o: o.submitted_at, reverse=query.get("direction", "desc").lower() != "asc")
        return [self._order_json(o, nested=nested, tick=False) for o in chosen[:limit]]

    def _tick_pending_cancel(self, order: FakeOrder) -> None:
        if order.status == "pending_cancel":
            order.pending_cancel_reads -= 1
            if order.pending_cancel_reads < 0:
                self._end_group(order, "canceled", self.now)

    def _order_json(self, order: FakeOrder, *, nested: bool, tick: bool = True) -> dict[str, Any]:
        """An order as Alpaca sends it; ``tick``: this read counts down a pending cancel."""
        if tick:
            self._tick_pending_cancel(order)
        legs = [self._order_json(self.orders[i], nested=False, tick=False) for i in order.leg_ids] if nested else None
        return {
            "id": order.id,
            "client_order_id": order.client_order_id,
            "created_at": _utc_text(order.submitted_at),
            "updated_at": _utc_text(order.updated_at),
            "submitted_at": _utc_text(order.submitted_at),
            "filled_at": _utc_text(order.filled_at),
            "expired_at": _utc_text(order.expired_at),
            "canceled_at": _utc_text(order.canceled_at),
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, order.symbol)),
            "symbol": order.symbol,
            "asset_class": "us_option" if order.order_class == "mleg" or _OCC.fullmatch(order.symbol) else "us_equity",
            "notional": None,
            "qty": _dec(order.qty),
            "filled_qty": _dec(order.filled_qty),
            "filled_avg_price": _dec(order.filled_avg_price),
            "order_class": order.order_class,
            "order_type": order.type,
            "type": order.type,
            "side": order.side,
            "position_intent": "buy_to_open" if order.side == "buy" else "sell_to_close",
            "time_in_force": order.time_in_force,
            "limit_price": _dec(order.limit_price),
            "stop_price": _dec(order.stop_price),
            "status": order.status,
            "extended_hours": False,
            "legs": legs,
            "trail_percent": _dec(order.trail_percent),
            "trail_price": _dec(order.trail_price),
            "hwm": None,
            **self._option_fields(order),
        }

    def _option_fields(self, order: FakeOrder) -> dict[str, Any]:
        """What an option order says beyond a stock order's: an mleg parent has no side, symbol or type of its
        own; a leg carries its ratio and position intent."""
        if order.order_class == "mleg":
            return {"side": "", "symbol": "", "asset_id": "", "position_intent": None}
        if order.id in self.leg_terms:
            ratio, intent = self.leg_terms[order.id]
            return {"ratio_qty": str(ratio), "position_intent": intent, "type": "", "order_type": ""}
        return {}

    # ========================================================================================== options
    def _create_option_order(self, cid: str, body: dict[str, Any]) -> dict[str, Any]:
        """An option order as Alpaca takes it: day limit orders in whole contracts; a multi-leg order has no
        symbol or side, two to four legs of distinct contracts, each with its side and position intent, and a
        signed net limit (+ debit, - credit). Option orders fill only when a test calls ``fill_option``."""
        if str(body.get("type")) != "limit" or str(body.get("time_in_force")) != "day":
            raise api_error(422, 40010001, "options: only day limit orders are supported here")
        qty = _num(body.get("qty"), "qty")
        if qty is None or qty <= 0 or not _whole(qty):
            raise api_error(422, 40010001, "qty must be integer for options trading")
        limit = _num(body.get("limit_price"), "limit_price")
        if limit is None:
            raise api_error(422, 40010001, "limit orders require a limit price")
        at = self._stamp()

        def order(**kw: Any) -> FakeOrder:
            made = FakeOrder(id=str(uuid.uuid4()), client_order_id=kw.pop("cid", str(uuid.uuid4())), qty=kw.pop("qty"),
                             type="limit", time_in_force="day", limit_price=kw.pop("limit", None), stop_price=None,
                             trail_percent=None, trail_price=None, status="accepted", submitted_at=at, updated_at=at,
                             **kw)  # fmt: skip
            self.orders[made.id] = made
            return made

        if body.get("order_class") != "mleg":
            single = order(cid=cid, symbol=str(body["symbol"]), side=str(body.get("side")), qty=qty, limit=limit,
                           order_class="simple")  # fmt: skip
            return self._order_json(single, nested=True)
        legs = body.get("legs") or []
        if body.get("symbol") or body.get("side"):
            raise api_error(422, 40010001, "a multi-leg order takes no symbol or side of its own")
        if not 2 <= len(legs) <= 4 or len({leg.get("symbol") for leg in legs}) != len(legs):
            raise api_error(422, 40010001, "a multi-leg order has 2 to 4 legs of distinct contracts")
        for i, leg in enumerate(legs):
            if not leg.get("position_intent"):
                raise api_error(422, 40010001, f"leg.{i} position intent is required")
            if not _OCC.fullmatch(str(leg.get("symbol"))):
                raise api_error(422, 42210000, f'asset "{leg.get("symbol")}" not found')
        parent = order(cid=cid, symbol="", side="", qty=qty, limit=limit, order_class="mleg", role="mleg")
        for leg in legs:
            ratio = int(float(leg.get("ratio_qty", 1)))
            child = order(symbol=str(leg["symbol"]), side=str(leg["side"]), qty=qty * ratio, order_class="mleg_leg",
                          parent_id=parent.id, role="option_leg")  # fmt: skip
            parent.leg_ids.append(child.id)
            self.leg_terms[child.id] = (ratio, str(leg["position_intent"]))
        return self._order_json(parent, nested=True)

    def fill_option(self, order_id: str, prices: dict[str, float], at: datetime | None = None) -> None:
        """Fill a working option order whole: each leg at ``prices[contract]`` per share (one FILL per leg)."""
        with self._lock:
            at = _aware(at) if at else self.now
            parent = self.orders[order_id]
            members = [self.orders[i] for i in parent.leg_ids] or [parent]
            net = 0.0
            for leg in members:
                price = prices[leg.symbol]
                sign = 1 if leg.side == "buy" else -1
                leg.filled_qty, leg.filled_avg_price, leg.status, leg.filled_at, leg.updated_at = (
                    leg.qty, price, "filled", at, at)
                held, avg = self.option_positions.get(leg.symbol, (0.0, 0.0))
                new = held + sign * leg.qty
                opening = held == 0 or (held > 0) == (sign > 0)
                avg = (abs(held) * avg + leg.qty * price) / abs(new) if opening and new else avg
                if abs(new) < 1e-9:
                    self.option_positions.pop(leg.symbol, None)
                else:
                    self.option_positions[leg.symbol] = (new, avg)
                self.cash -= sign * leg.qty * price * 100
                net += sign * (leg.qty / parent.qty) * price
                self.activities.append({
                    "id": f"{at.astimezone(UTC):%Y%m%d%H%M%S}{at.microsecond // 1000:03d}::{uuid.uuid4()}",
                    "activity_type": "FILL", "transaction_time": _utc_text(at), "type": "fill", "price": _dec(price),
                    "qty": _dec(leg.qty), "side": leg.side, "symbol": leg.symbol, "leaves_qty": "0",
                    "order_id": leg.id, "cum_qty": _dec(leg.qty), "order_status": "filled",
                })  # fmt: skip
            if parent.leg_ids:
                parent.filled_qty, parent.filled_avg_price = parent.qty, round(net, 4)
                parent.status, parent.filled_at, parent.updated_at = "filled", at, at

    def settle_option(self, symbol: str, kind: str, day: date) -> None:
        """Expiry of a held contract as Alpaca reports it: OPEXP (worthless), OPEXC (a long one exercised) or
        OPASN (a short one assigned), one non-trade activity, the shares moved at the strike."""
        with self._lock:
            held, _ = self.option_positions.pop(symbol)
            strike, is_call = int(symbol[-8:]) / 1000, symbol[-9] == "C"
            underlying = _OCC.fullmatch(symbol).group(1)  # type: ignore[union-attr]
            if kind in ("OPEXC", "OPASN"):
                shares = abs(held) * 100 * (1 if is_call == (kind == "OPEXC") else -1)
                qty, avg = self.positions.get(underlying, (0.0, 0.0))
                new = qty + shares
                avg = (qty * avg + shares * strike) / new if shares > 0 and new else avg
                self.positions[underlying] = (new, avg if abs(new) > 1e-9 else 0.0)
                self.cash -= shares * strike
            self.option_activities.append({
                "id": f"{day:%Y%m%d}000000000::{uuid.uuid4()}", "activity_type": kind, "date": day.isoformat(),
                "net_amount": "0", "symbol": symbol, "qty": _dec(-held), "per_share_amount": None,
                "description": f"{kind} {symbol}", "status": "executed", "account_id": "fake",
            })  # fmt: skip

    def _option_position_json(self, symbol: str) -> dict[str, Any]:
        qty, avg = self.option_positions[symbol]
        mark = self.option_marks.get(symbol, avg)
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)), "symbol": symbol, "exchange": "",
            "asset_class": "us_option", "asset_marginable": False, "avg_entry_price": _dec(avg), "qty": _dec(qty),
            "qty_available": _dec(qty), "side": "long" if qty > 0 else "short", "market_value": _dec(qty * mark * 100),
            "cost_basis": _dec(qty * avg * 100), "unrealized_pl": _dec(qty * (mark - avg) * 100),
            "unrealized_plpc": "0", "current_price": _dec(mark), "lastday_price": _dec(mark), "change_today": "0",
        }  # fmt: skip

    def _cancel(self, order: FakeOrder) -> None:
        if order.status in TERMINAL_STATUSES:
            raise api_error(422, 42210000, f'order is already in "{order.status}" state')
        if order.status == "pending_cancel":
            return
        if self.cancel_pending_reads > 0:
            order.status = "pending_cancel"
            order.pending_cancel_reads = self.cancel_pending_reads
            order.updated_at = self._stamp()
            return
        self._end_group(order, "canceled", self.now)

    def _end_group(self, order: FakeOrder, status: str, at: datetime) -> None:
        """Alpaca: ending any order of a bracket/OTO/OCO group ends the rest of the group with it."""
        root = self.orders[order.parent_id] if order.parent_id else order
        for member in (root, *(self.orders[i] for i in root.leg_ids)):
            if member.status in TERMINAL_STATUSES:
                continue
            member.status = status
            member.updated_at = max(member.updated_at, at)
            if status == "canceled":
                member.canceled_at = at
            elif status == "expired":
                member.expired_at = at

    # ============================================================================================ fills
    def _execute(self, order: FakeOrder, qty: float, price: float, at: datetime) -> dict[str, Any]:
        if order.status in TERMINAL_STATUSES:
            raise ValueError(f"order {order.id} is {order.status}: it cannot fill")
        qty = min(qty, order.qty - order.filled_qty)
        if qty <= 0:
            raise ValueError("nothing left to fill")
        total = order.filled_qty + qty
        order.filled_avg_price = ((order.filled_avg_price or 0.0) * order.filled_qty + price * qty) / total
        order.filled_qty = round(total, 9)
        done = order.filled_qty >= order.qty - 1e-9
        order.status = "filled" if done else "partially_filled"
        order.updated_at = max(order.updated_at, at)
        if done:
            order.filled_at = at
        held, avg = self.positions.get(order.symbol, (0.0, 0.0))
        if order.side == "buy":
            self.cash -= qty * price
            new_qty = held + qty
            avg = (held * avg + qty * price) / new_qty
        else:
            self.cash += qty * price
            new_qty = held - qty
        self.positions[order.symbol] = (round(new_qty, 9), avg if abs(new_qty) > 1e-9 else 0.0)
        activity = {
            "id": f"{at.astimezone(UTC):%Y%m%d%H%M%S}{at.microsecond // 1000:03d}::{uuid.uuid4()}",
            "activity_type": "FILL",
            "transaction_time": _utc_text(at),
            "type": "fill" if done else "partial_fill",
            "price": _dec(price),
            "qty": _dec(qty),
            "side": order.side,
            "symbol": order.symbol,
            "leaves_qty": _dec(order.qty - order.filled_qty),
            "order_id": order.id,
            "cum_qty": _dec(order.filled_qty),
            "order_status": order.status,
        }
        self.activities.append(activity)
        if done and order.role == "entry":
            # The exit legs go live once the entry has filled completely: the take-profit as "new", the stop
            # stays "held" at Alpaca until it triggers.
            for leg_id in order.leg_ids:
                leg = self.orders[leg_id]
                leg.status = "new" if leg.role == "take_profit" else "held"
                leg.updated_at = at
        elif done and order.role in ("take_profit", "stop_loss"):
            root = self.orders[order.parent_id] if order.parent_id else order
            for member in (root, *(self.orders[i] for i in root.leg_ids)):
                if member is not order and member.role in ("take_profit", "stop_loss"):
                    if member.status not in TERMINAL_STATUSES:
                        member.status, member.canceled_at, member.updated_at = "canceled", at, at
        return activity

    def _match(self, until: datetime) -> None:
        """Fill what the (flat) prices reach between now and ``until``: market orders at their first open
        moment, resting limits and triggered stops at the symbol's price. Repeated so freshly activated
        bracket legs get their turn."""
        for _ in range(10):
            progressed = False
            for order in sorted(self.orders.values(), key=lambda o: o.submitted_at):
                if order.status in TERMINAL_STATUSES or order.status == "pending_cancel":
                    continue
                if not self._is_live(order):
                    continue
                price = self.prices[order.symbol]
                if not _crosses(order, price):
                    continue
                fill_at = self._first_open_moment(max(order.submitted_at, order.updated_at))
                if fill_at is None or fill_at > until:
                    continue
                self._execute(order, order.qty - order.filled_qty, price, fill_at)
                progressed = True
            if not progressed:
                return

    def _first_open_moment(self, since: datetime) -> datetime | None:
        if self.calendar.is_open(since):
            return since
        return self.calendar.next_open(since)

    def _expire_day_orders(self, until: datetime) -> None:
        for order in list(self.orders.values()):
            if order.status in TERMINAL_STATUSES or order.time_in_force not in ("day", "opg", "cls"):
                continue
            close = self.calendar.next_close(order.submitted_at)
            if close <= until:
                self._end_group(order, "expired", close)

    # ======================================================================================= activities
    def _activities_page(self, query: dict[str, str]) -> list[dict[str, Any]]:
        after = _parse_time(query.get("after"))
        until = _parse_time(query.get("until"))
        day = query.get("date")
        direction = query.get("direction", "desc").lower()
        page_size = min(int(query.get("page_size") or 100), 100)
        token = query.get("page_token")
        items = [
            a
            for a in self.activities
            if (after is None or _parse_time(a["transaction_time"]) > after)  # type: ignore[operator]
            and (until is None or _parse_time(a["transaction_time"]) <= until)  # type: ignore[operator]
            and (day is None or a["transaction_time"].startswith(day))
        ]
        if direction != "asc":
            items = items[::-1]
        key = (query.get("after"), query.get("until"), day, direction, token)
        start = 0
        if token:
            # Alpaca's page_token is the id of the previous page's last item. Ids repeat when fills are
            # replayed, so the server remembers where each page it served ended.
            start = self._resume.get(key, next((i + 1 for i, a in enumerate(items) if a["id"] == token), len(items)))
        page = items[start : start + page_size]
        if page:
            self._resume[(*key[:-1], page[-1]["id"])] = start + len(page)
        return page


# -- HTTP server ------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeAlpacaServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) before its held-back answer was written is expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.server.fake.handle(self)

    do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

    def answer(
        self, status: int, payload: Any, headers: dict[str, str] | None = None, *, rate_limit_headers: bool = True
    ) -> None:
        """Send one response. Normal answers carry Alpaca's X-RateLimit-* headers (with room to spare); a
        fault's canned answer carries only the headers the fault names, e.g. a 429 without a reset time."""
        if payload is None:
            data, content_type = b"", "application/json"
        elif isinstance(payload, str | bytes):
            data = payload.encode() if isinstance(payload, str) else payload
            content_type = "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        sent = {k.lower() for k in (headers or {})}
        defaults = {}
        if rate_limit_headers:
            defaults = {
                "X-RateLimit-Limit": "200",
                "X-RateLimit-Remaining": "199",
                "X-RateLimit-Reset": str(int(datetime.now(UTC).timestamp()) + 60),
            }
        for name, value in {**{k: v for k, v in defaults.items() if k.lower() not in sent}, **(headers or {})}.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is FakeAlpacaServer.requests


# -- wire helpers -----------------------------------------------------------------------------------------------


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timestamps must be timezone-aware, got {at!r}")
    return at.astimezone(UTC)


def _dec(value: float | None) -> str | None:
    """Alpaca sends decimals as strings."""
    if value is None:
        return None
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _num(value: Any, name: str) -> float | None:
    """Numbers arrive as JSON numbers (alpaca-py) or strings (the documented form): accept both."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise api_error(422, 40010001, f"invalid {name}") from None
    if not math.isfinite(number):
        raise api_error(422, 40010001, f"invalid {name}")
    return number


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"  # alpaca-py sends Python's "True"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _utc_text(at: datetime | None) -> str | None:
    """Alpaca stamps orders and fills in UTC with nanoseconds (the last three digits are zero here)."""
    if at is None:
        return None
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.{at.microsecond:06d}000Z"


def _et_text(at: datetime) -> str:
    """The clock endpoint answers in New York time with its offset, e.g. 2025-07-03T13:00:00-04:00."""
    return at.astimezone(ET).isoformat()


def _on_tick(price: float) -> bool:
    """Reg NMS 612: at or above $1 at most 2 decimals, below $1 at most 4."""
    scale = 100 if price >= 1 else 10_000
    return abs(price * scale - round(price * scale)) < 1e-6


def _whole(qty: float) -> bool:
    return abs(qty - round(qty)) < 1e-9


def _crosses(order: FakeOrder, price: float) -> bool:
    buy = order.side == "buy"
    if order.type == "market":
        return True
    if order.type == "limit":
        assert order.limit_price is not None
        return price <= order.limit_price if buy else price >= order.limit_price
    if order.type in ("stop", "stop_limit"):
        assert order.stop_price is not None
        triggered = price >= order.stop_price if buy else price <= order.stop_price
        if order.type == "stop" or not triggered:
            return triggered
        assert order.limit_price is not None
        return price <= order.limit_price if buy else price >= order.limit_price
    return False  # trailing stops move only when a test fills them
