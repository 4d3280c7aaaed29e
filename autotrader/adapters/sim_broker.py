"""``SimBroker``: the embedded broker. A small matching engine that imitates Alpaca, with its state in the ledger.

Everything the simulated account knows lives in the ledger's ``sim_account``, ``sim_orders``, ``sim_fills``
and ``sim_positions`` tables, so a run can stop at any moment and the next process carries on exactly where
it left off; ids come from counters in ``sim_account`` (``sim-o-00000001``, ``sim-f-00000001``) so a replay
of the same inputs produces the same ids.

Time only moves forward. Every public method first *advances* the account to ``clock.now()``: the open orders
are matched against the bars that completed since ``sim_account.advanced_to`` (minute bars when the market
data has them for a session, else that session's daily bar, seen as one bar from the open to the close),
session closes expire day orders, and ``advanced_to`` becomes now. An instant earlier than ``advanced_to``
changes nothing. Market data and the clock are the caller's objects: they are only called *outside* a ledger
transaction, and the results are written in one ``ledger.write()`` that first checks nobody else moved the
account meanwhile (else the step is computed again).

The fill rules, and the Alpaca behaviour each one imitates, are documented where they are applied below.
Prices are put on the tick (``domain.money``); fills are stamped at the start of the minute bar they used
(a daily bar's fills, and market-on-close fills, at the session close: the instant the simulator learns
of them), so a fill never appears with a timestamp earlier than one already reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from autotrader.adapters.frames import EPOCH, NO_BARS, to_ns
from autotrader.clock import AUCTION_REOPEN, ET, MarketCalendar
from autotrader.domain.enums import (
    TERMINAL_BROKER_STATUSES,
    BrokerOrderStatus,
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
)
from autotrader.domain.money import is_on_tick, to_tick, whole_shares
from autotrader.errors import DuplicateClientOrderId, OrderNotFound, OrderRejected
from autotrader.ports import Clock, MarketData, MinuteArrays, OptionChains, SessionRanges, SplitSource

if TYPE_CHECKING:
    from autotrader.adapters.sim_options import SimOptionDesk
    from autotrader.domain.options import OptionEvent
    from autotrader.ledger.db import Ledger

MINUTE = timedelta(minutes=1)
_MINUTE_NS = 60 * 10**9
_EPS = 1e-9
_RETRIES = 8  # optimistic-concurrency attempts before giving up (only another process can cause one)

# Alpaca's auction windows, in New York time.
CLS_CUTOFF_BEFORE_CLOSE = timedelta(minutes=10)  # CLS refused from 15:50 (12:50 on a 13:00 early close)

NOT_TRADABLE_SYMBOLS = frozenset({"VIX"})  # an index: data, never an order

_STATUS = BrokerOrderStatus
_OPEN_STATUSES = tuple(sorted(s.value for s in BrokerOrderStatus if not BrokerOrderStatus.is_terminal(s)))
# The open statuses in which an order may execute now; ``held`` legs wait for their entry to fill.
_WORKING = frozenset({_STATUS.NEW, _STATUS.ACCEPTED, _STATUS.PENDING_NEW, _STATUS.PARTIALLY_FILLED})

# leg_role values in sim_orders
ROLE_SIMPLE = "simple"
ROLE_ENTRY = "entry"  # a bracket's / OTO's entry (the parent)
ROLE_TAKE_PROFIT = "take_profit"
ROLE_STOP_LOSS = "stop_loss"
_EXIT_ROLES = frozenset({ROLE_TAKE_PROFIT, ROLE_STOP_LOSS})
_LEG_SUFFIX = {ROLE_TAKE_PROFIT: "-tp", ROLE_STOP_LOSS: "-sl"}


class _Conflict(Exception):
    """Another connection changed the simulated account between our read and our write: compute again."""


# -- time and number helpers ------------------------------------------------------------------------------


def _ts(at: datetime) -> str:
    """Fixed-width UTC ISO text, so that stored timestamps compare correctly as strings."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def _fmt_qty(qty: float) -> str:
    return str(int(round(qty))) if abs(qty - round(qty)) < _EPS else f"{qty:g}"


def _is_whole(qty: float) -> bool:
    return abs(qty - round(qty)) < _EPS


# -- the in-memory order used by the matching engine -------------------------------------------------------


@dataclass(eq=False)
class _Order:
    """One ``sim_orders`` row while it is being matched; ``dirty`` marks rows to write back."""

    broker_order_id: str
    client_order_id: str
    parent_broker_order_id: str | None
    leg_role: str
    symbol: str
    side: str
    qty: float
    type: str
    time_in_force: str
    order_class: str
    limit_price: float | None
    stop_price: float | None
    trail_percent: float | None
    status: str
    filled_qty: float
    filled_avg_price: float | None
    submitted_at: datetime
    updated_at: datetime
    active_from: datetime | None
    high_water: float | None
    reject_reason: str | None
    # What was read, for the optimistic check on write-back.
    loaded_status: str = ""
    loaded_updated_at: str = ""
    dirty: bool = False
    parent: _Order | None = None
    legs: list[_Order] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> _Order:
        return cls(
            broker_order_id=row["broker_order_id"],
            client_order_id=row["client_order_id"],
            parent_broker_order_id=row["parent_broker_order_id"],
            leg_role=row["leg_role"],
            symbol=row["symbol"],
            side=row["side"],
            qty=row["qty"],
            type=row["type"],
            time_in_force=row["time_in_force"],
            order_class=row["order_class"],
            limit_price=row["limit_price"],
            stop_price=row["stop_price"],
            trail_percent=row["trail_percent"],
            status=row["status"],
            filled_qty=row["filled_qty"],
            filled_avg_price=row["filled_avg_price"],
            submitted_at=_dt(row["submitted_at"]),  # type: ignore[arg-type]
            updated_at=_dt(row["updated_at"]),  # type: ignore[arg-type]
            active_from=_dt(row["active_from"]),
            high_water=row["high_water"],
            reject_reason=row["reject_reason"],
            loaded_status=row["status"],
            loaded_updated_at=row["updated_at"],
        )

    # -- state --------------------------------------------------------------------------------------
    @property
    def is_terminal(self) -> bool:
        return BrokerOrderStatus.is_terminal(self.status)

    @property
    def is_working(self) -> bool:
        return self.status in _WORKING

    @property
    def is_buy(self) -> bool:
        return self.side == Side.BUY

    @property
    def is_exit_leg(self) -> bool:
        return self.leg_role in _EXIT_ROLES

    def group(self) -> list[_Order]:
        """The orders that share this order's fate: a bracket/OTO/OCO parent and its legs; else itself."""
        root = self.parent or self
        return [root, *root.legs] if root.legs else [self]

    def exit_group(self) -> list[_Order]:
        """The exit legs sharing one quantity: a bracket's two legs, or an OCO's parent and its leg."""
        return [o for o in self.group() if o.is_exit_leg] if self.is_exit_leg else [self]

    @property
    def remaining(self) -> float:
        """What may still fill. Exit legs share one quantity: a partial fill of one reduces the other (OCO)."""
        done = sum(o.filled_qty for o in self.exit_group())
        return max(0.0, round(self.qty - done, 9))

    def set_status(self, status: str, at: datetime) -> None:
        self.status = status
        self.updated_at = max(self.updated_at, at)
        self.dirty = True


@dataclass
class _Position:
    qty: float = 0.0
    avg_entry_price: float = 0.0
    touched: bool = False


@dataclass
class _FillDraft:
    order: _Order
    qty: float
    price: float
    filled_at: datetime
    commission: float


@dataclass
class _Run:
    """The changes one advance makes, applied in a single transaction at its end."""

    cash: float
    positions: dict[str, _Position]
    fills: list[_FillDraft] = field(default_factory=list)


@dataclass(eq=False)
class _Bar:
    """A minute bar, or a whole session's daily bar (``daily``) when the symbol has no minute data."""

    start: datetime
    end: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    daily: bool
    budget: float  # shares this bar can still give us (participation cap), shared by all our orders

    @property
    def fill_time(self) -> datetime:
        # A minute bar's fills happen at its start; a daily bar's are only known at the close.
        return self.end if self.daily else self.start

    def view_for(self, active_from: datetime | None) -> tuple[float, float, float, float] | None:
        """The (open, high, low, close) an order active from ``active_from`` can trade on, or None.

        An order trades only on bars that start at or after it became active (Alpaca routes a market order
        to the next trade, not to one that already printed). A daily bar is the exception for an order
        that became active during that session: all we know of the rest of the day is its close.
        """
        if active_from is None:
            return None
        if active_from <= self.start:
            return (self.open, self.high, self.low, self.close)
        if self.daily and active_from < self.end:
            return (self.close, self.close, self.close, self.close)
        return None


_OHLCV = ["open", "high", "low", "close", "volume"]


def _ohlcv(frame: Any) -> np.ndarray:
    """The bars as an (n, 5) array; port frames already have exactly these columns, which is the fast path."""
    if list(frame.columns) == _OHLCV:
        return frame.to_numpy(dtype=float)
    return frame[_OHLCV].to_numpy(dtype=float)


def _may_act(orders: list[_Order], values: np.ndarray) -> np.ndarray:
    """Which bars (rows of open, high, low, close, volume) some open order could act on: a superset.

    Resting limits and untriggered stops act only where the bar reaches their price; everything else
    (market, triggered stops, trailing stops, auctions, IOC/FOK, close-auction orders that need the last
    bar) may act on any bar. Leaving out a bar on which nothing can happen changes no result.
    """
    may = np.zeros(len(values), dtype=bool)
    high, low = values[:, 1], values[:, 2]
    for o in orders:
        if o.is_terminal:
            continue
        plain = o.time_in_force not in (TimeInForce.OPG, TimeInForce.CLS, TimeInForce.IOC, TimeInForce.FOK)
        if plain and o.type == OrderType.LIMIT and o.limit_price is not None:
            may |= (low <= o.limit_price) if o.is_buy else (high >= o.limit_price)
        elif plain and o.type == OrderType.STOP and o.stop_price is not None and o.filled_qty == 0:
            may |= (high >= o.stop_price) if o.is_buy else (low <= o.stop_price)
        elif plain and o.type == OrderType.STOP_LIMIT and o.stop_price is not None and o.limit_price is not None:
            trigger = (high >= o.stop_price) if o.is_buy else (low <= o.stop_price)
            touch = (low <= o.limit_price) if o.is_buy else (high >= o.limit_price)
            may |= trigger | touch
        else:
            return np.ones(len(values), dtype=bool)
    return may


@dataclass(frozen=True, slots=True)
class _Window:
    """One session's part of an advance over (start, end]: its hours, and the minutes asked for, [lo, hi)."""

    day: date
    open_at: datetime
    close_at: datetime
    start: datetime
    end: datetime
    lo: datetime
    hi: datetime
    open_ns: int
    close_ns: int
    start_ns: int
    end_ns: int

    @classmethod
    def of(cls, day: date, open_at: datetime, close_at: datetime, start: datetime, end: datetime) -> _Window:
        # From a minute before the window: a bar that started then completes inside it.
        lo, hi = max(open_at, start - MINUTE), min(close_at, end)
        return cls(day, open_at, close_at, start, end, lo, hi, to_ns(open_at), to_ns(close_at), to_ns(start),
                   to_ns(end))  # fmt: skip


@dataclass
class _AccountRow:
    cash: float
    starting_cash: float
    advanced_to: datetime | None
    order_seq: int
    fill_seq: int
    has_open: bool
    raw_advanced_to: str | None

    @property
    def token(self) -> tuple[str | None, int, int]:
        return (self.raw_advanced_to, self.order_seq, self.fill_seq)


# -- crossing rules (pure) ---------------------------------------------------------------------------------


def _limit_touch(side: str, limit: float, view: tuple[float, float, float, float]) -> float | None:
    """Where a resting limit order trades on this bar, or None. A bar that opens through the limit fills at
    the (better) open: a buy limit at min(open, limit) once low <= limit; a sell at max(open, limit)."""
    open_, high, low, _ = view
    if side == Side.BUY:
        return min(open_, limit) if low <= limit else None
    return max(open_, limit) if high >= limit else None


def _stop_touch(side: str, stop: float, view: tuple[float, float, float, float]) -> float | None:
    """Where a stop triggers on this bar, or None. A gap through the stop triggers at the (worse) open:
    a sell stop at min(open, stop) once low <= stop; a buy stop at max(open, stop) once high >= stop."""
    open_, high, low, _ = view
    if side == Side.BUY:
        return max(open_, stop) if high >= stop else None
    return min(open_, stop) if low <= stop else None


def _trail_trigger(side: str, water_mark: float, trail_percent: float) -> float:
    """A sell trailing stop sits trail% under the high-water mark; a buy one trail% over the low-water mark."""
    if side == Side.BUY:
        return water_mark * (1 + trail_percent / 100)
    return water_mark * (1 - trail_percent / 100)


# -- the broker --------------------------------------------------------------------------------------------


class SimBroker:
    """A simulated Alpaca account whose state lives in the ledger (implements ``ports.Broker``).

    Args:
        ledger: the open ledger (its ``sim_*`` tables hold the account).
        market_data: the ``MarketData`` port the fills are simulated against.
        calendar: the XNYS calendar.
        clock: the ``Clock`` port; the account is advanced to ``clock.now()`` on every call.
        starting_cash: the cash of a new account (used once, when ``sim_account`` is created).
        slippage_bps: what market, stop and trailing-stop fills pay over (buys) or give up under (sells) the
            price; limit fills get their limit or better and no slippage.
        commission_per_share, commission_min: per fill, ``max(per_share x qty, min)``; none when per_share is 0.
        max_volume_pct: at most this percentage of a bar's volume fills for us per bar (None: no cap).
        untradable: symbols the broker refuses (besides VIX, an index).
        fractionable: whether the symbols accept fractional quantities (simple market day orders only).
    """

    #: A simulated account can honestly trade at any instant it is told.
    time_travel = True

    def __init__(
        self,
        ledger: Ledger,
        market_data: MarketData,
        calendar: MarketCalendar,
        clock: Clock,
        *,
        starting_cash: float = 1_000_000.0,
        slippage_bps: float = 5.0,
        commission_per_share: float = 0.0,
        commission_min: float = 0.0,
        max_volume_pct: float | None = 10.0,
        untradable: Iterable[str] = frozenset(),
        fractionable: bool = True,
        option_fill_pct: float = 50.0,
        option_commission_per_contract: float = 0.0,
    ) -> None:
        if starting_cash < 0 or slippage_bps < 0 or commission_per_share < 0 or commission_min < 0:
            raise ValueError("starting_cash, slippage_bps and commissions must be >= 0")
        if max_volume_pct is not None and not 0 < max_volume_pct <= 100:
            raise ValueError(f"max_volume_pct must be in (0, 100] or None, got {max_volume_pct!r}")
        self._ledger = ledger
        self._md = market_data
        self._calendar = calendar
        self._clock = clock
        self.starting_cash = float(starting_cash)
        self.slippage_bps = float(slippage_bps)
        self.commission_per_share = float(commission_per_share)
        self.commission_min = float(commission_min)
        self.max_volume_pct = max_volume_pct
        self.untradable = frozenset(untradable)
        self.fractionable = bool(fractionable)
        self._splits_applied: set[tuple[str, str]] = set()
        # The data's capabilities, found once: a Protocol check costs more than the read it guards, and every
        # advance asks for each open order's minute bars.
        self._minute_arrays = market_data if isinstance(market_data, MinuteArrays) else None
        self._session_ranges = market_data if isinstance(market_data, SessionRanges) else None
        # ``_out_of_reach``'s latest answer by symbol: (the session, the orders' terms it was for, the answer).
        self._reach: dict[str, tuple[date, tuple[Any, ...], bool]] = {}
        self._split_source = market_data if isinstance(market_data, SplitSource) else None
        # Options, when the market data lists them (adapters/sim_options.py): None otherwise, and an option
        # order is refused.
        self._desk: SimOptionDesk | None = None
        if isinstance(market_data, OptionChains):
            from autotrader.adapters.sim_options import SimOptionDesk

            self._desk = SimOptionDesk(ledger, market_data, market_data, calendar, fill_pct=option_fill_pct,
                                       commission_per_contract=option_commission_per_contract)  # fmt: skip

    # ======================================================================================== the port
    def account(self) -> Account:
        self.advance()
        acct = self._read_account()
        positions = self._position_rows()
        equity = acct.cash + sum(p["qty"] * self._mark(p["symbol"], p["avg_entry_price"]) for p in positions)
        buying_power = acct.cash - self._reserved_buy_cost(self._open_orders())
        if self._desk is not None and self._desk.holds_anything:
            equity += self._desk.market_value()
            buying_power -= self._desk.reserved()
        return Account(equity=equity, cash=acct.cash, buying_power=buying_power)

    def positions(self) -> list[BrokerPosition]:
        self.advance()
        return [
            BrokerPosition(
                symbol=p["symbol"],
                qty=p["qty"],
                avg_entry_price=p["avg_entry_price"],
                market_value=p["qty"] * self._mark(p["symbol"], p["avg_entry_price"]),
            )
            for p in self._position_rows()
        ]

    def position_quantities(self) -> dict[str, float]:
        self.advance()
        return {p["symbol"]: p["qty"] for p in self._position_rows()}

    def asset(self, symbol: str) -> Asset | None:
        self.advance()
        if symbol in NOT_TRADABLE_SYMBOLS:
            return Asset(symbol=symbol, tradable=False, fractionable=False, shortable=False)
        if not self._md.has_symbol(symbol):
            return None
        tradable = symbol not in self.untradable
        return Asset(symbol=symbol, tradable=tradable, fractionable=self.fractionable and tradable, shortable=False)

    def submit(self, request: OrderRequest) -> BrokerOrder:
        if request.is_option:
            return self._submit_option(request)
        for _ in range(_RETRIES):
            now, acct = self._advance_once()
            rows = self._validate(request, now, acct)  # raises before anything is stored
            try:
                with self._ledger.write():
                    current = self._read_account()
                    if current.token != acct.token:
                        raise _Conflict
                    self._check_client_ids([r["client_order_id"] for r in rows], request.client_order_id)
                    seq, parent_id = current.order_seq, None
                    for row in rows:  # the parent first, then its legs
                        seq += 1
                        row["broker_order_id"] = f"sim-o-{seq:08d}"
                        if row.pop("_is_child"):
                            row["parent_broker_order_id"] = parent_id
                        else:
                            parent_id = row["broker_order_id"]
                        columns = ", ".join(row)
                        self._ledger.conn.execute(
                            f"INSERT INTO sim_orders ({columns}) VALUES ({', '.join('?' * len(row))})",
                            tuple(row.values()),
                        )
                    self._ledger.conn.execute("UPDATE sim_account SET order_seq = ? WHERE id = 1", (seq,))
            except _Conflict:
                continue
            order = self._find_by_client_id(request.client_order_id)
            assert order is not None
            return order
        raise RuntimeError("sim broker: the account kept changing under this submit; try again")

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        self.advance()
        found = self._find_by_client_id(client_order_id)
        if found is None and self._desk is not None:
            found = self._desk.find(client_order_id)
        return found

    def orders(self, *, status: str = "all", after: datetime | None = None) -> list[BrokerOrder]:
        if status not in ("open", "closed", "all"):
            raise ValueError(f"status must be 'open', 'closed' or 'all', got {status!r}")
        self.advance()
        sql = "SELECT * FROM sim_orders WHERE parent_broker_order_id IS NULL"
        params: list[Any] = []
        if after is not None:
            sql += " AND submitted_at > ?"
            params.append(_ts(after))
        if status == "open":
            # Only the groups with a live member, found through the status index: every sync asks for the open
            # orders, and reading every order ever placed to keep a few would grow with the account's history.
            terminal = sorted(str(s) for s in TERMINAL_BROKER_STATUSES)
            marks = ", ".join("?" for _ in terminal)
            sql += (
                f" AND (status NOT IN ({marks}) OR broker_order_id IN (SELECT parent_broker_order_id FROM sim_orders"
                f" WHERE parent_broker_order_id IS NOT NULL AND status NOT IN ({marks})))"
            )
            params += [*terminal, *terminal]
        parents = self._ledger.query(sql + " ORDER BY submitted_at, broker_order_id", params)
        legs = self._legs_by_parent([p["broker_order_id"] for p in parents])
        result = []
        for parent in parents:
            kids = legs.get(parent["broker_order_id"], [])
            # A group is open while any member is: a filled entry with a live stop still needs watching.
            is_open = any(not BrokerOrderStatus.is_terminal(r["status"]) for r in [parent, *kids])
            if status == "all" or (status == "open") == is_open:
                result.append(_to_broker_order(parent, kids))
        return result

    # ======================================================================= the order feed (OrderChanges)
    def change_cursor(self) -> int:
        self.advance()
        return int(self._ledger.conn.execute("SELECT coalesce(max(seq), 0) FROM sim_order_changes").fetchone()[0])

    def orders_changed(self, after: int) -> list[BrokerOrder]:
        self.advance()
        parents = self._ledger.query(
            "SELECT * FROM sim_orders WHERE broker_order_id IN "
            "(SELECT broker_order_id FROM sim_order_changes WHERE seq > ?) ORDER BY submitted_at, broker_order_id",
            (after,),
        )
        legs = self._legs_by_parent([p["broker_order_id"] for p in parents])
        return [_to_broker_order(parent, legs.get(parent["broker_order_id"], [])) for parent in parents]

    def cancel(self, broker_order_id: str) -> None:
        now, _ = self._advance_once()
        with self._ledger.write():
            row = self._one("SELECT * FROM sim_orders WHERE broker_order_id = ?", (broker_order_id,))
            if row is None and self._desk is not None and self._desk.cancel(broker_order_id, now):
                return
            if row is None:
                raise OrderNotFound(f"order not found for {broker_order_id}")
            if BrokerOrderStatus.is_terminal(row["status"]):
                return  # Alpaca answers 422 here; the port promises "not an error"
            # Alpaca: cancelling any order of a bracket/OCO group cancels the rest of the group.
            root_id = row["parent_broker_order_id"] or row["broker_order_id"]
            members = self._ledger.query(
                "SELECT * FROM sim_orders WHERE broker_order_id = ? OR parent_broker_order_id = ?",
                (root_id, root_id),
            )
            for member in members:
                if not BrokerOrderStatus.is_terminal(member["status"]):
                    self._ledger.conn.execute(
                        "UPDATE sim_orders SET status = ?, updated_at = ? WHERE broker_order_id = ?",
                        (_STATUS.CANCELED.value, max(member["updated_at"], _ts(now)), member["broker_order_id"]),
                    )

    def fills(self, *, after: datetime | None = None) -> list[Fill]:
        self.advance()
        sql, params = "SELECT * FROM sim_fills", tuple[str, ...]()
        if after is not None:
            sql, params = sql + " WHERE filled_at > ?", (_ts(after),)
        return [
            Fill.from_row(r, _dt(r["filled_at"]))  # type: ignore[arg-type]
            for r in self._ledger.query(sql + " ORDER BY filled_at, fill_id", params)
        ]

    def clock(self) -> BrokerClock:
        now, _ = self._advance_once()
        return BrokerClock(
            timestamp=now,
            is_open=self._calendar.is_open(now),
            next_open=self._calendar.next_open(now),
            next_close=self._calendar.next_close(now),
        )

    # ============================================================================= options (OptionsBroker)
    def option_orders(self, *, status: str = "all", after: datetime | None = None) -> list[BrokerOrder]:
        self.advance()
        return self._desk.orders(status=status, after=after) if self._desk is not None else []

    def option_fills(self, *, after: datetime | None = None) -> list[Fill]:
        self.advance()
        return self._desk.fills(after=after) if self._desk is not None else []

    def option_positions(self) -> list[BrokerPosition]:
        self.advance()
        return self._desk.positions() if self._desk is not None else []

    def option_events(self, *, after: datetime | None = None) -> list[OptionEvent]:
        self.advance()
        return self._desk.events(after=after) if self._desk is not None else []

    def _submit_option(self, request: OrderRequest) -> BrokerOrder:
        now, acct = self._advance_once()
        if self._desk is None:
            raise OrderRejected("this simulated account trades no options: the market data lists none",
                                reason=RejectReason.NOT_TRADABLE)  # fmt: skip
        if self._find_by_client_id(request.client_order_id) is not None:
            raise DuplicateClientOrderId(f"client order id {request.client_order_id} already used")
        return self._desk.submit(request, now, acct.cash, self._reserved_buy_cost(self._open_orders()))

    # ================================================================================== time advance
    def advance(self) -> datetime:
        """Bring the account up to ``clock.now()`` (never backwards); returns the instant it stands at."""
        _now, acct = self._advance_once()
        assert acct.advanced_to is not None
        return acct.advanced_to

    def _now(self) -> datetime:
        now = self._clock.now()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"the clock must return an aware datetime, got {now!r}")
        return now.astimezone(UTC)

    def _advance_once(self) -> tuple[datetime, _AccountRow]:
        """Advance the stock side to now, then the options desk; return (now, the account row afterwards)."""
        now, acct = self._advance_stock()
        # An instant before the account's changes nothing on the options desk either.
        if self._desk is not None and acct.advanced_to == now and self._desk.advance(now):
            acct = self._read_account()
        return now, acct

    def _advance_stock(self) -> tuple[datetime, _AccountRow]:
        """Advance to now; return (now, the account row as it stands afterwards)."""
        now = self._now()
        self._apply_splits(now)
        for _ in range(_RETRIES):
            acct = self._read_account()
            if acct.advanced_to is not None and now <= acct.advanced_to:
                return now, acct  # time never goes backwards
            try:
                if acct.advanced_to is None or not acct.has_open:
                    # The cheap path: nothing can fill, only the watermark moves.
                    with self._ledger.write():
                        cur = self._ledger.conn.execute(
                            "UPDATE sim_account SET advanced_to = ? WHERE id = 1 AND advanced_to IS ?",
                            (_ts(now), acct.raw_advanced_to),
                        )
                        if cur.rowcount != 1:
                            raise _Conflict
                    acct.advanced_to, acct.raw_advanced_to = now, _ts(now)
                    return now, acct
                else:
                    self._simulate_and_store(acct, now)
            except _Conflict:
                continue
            return now, self._read_account()
        raise RuntimeError("sim broker: the account kept changing while advancing; try again")

    def _apply_splits(self, now: datetime) -> None:
        """Splits whose ex-date session has opened by ``now``, each applied once, as a broker does overnight:
        the position's quantity × ratio and average price ÷ ratio, no fill; a fraction left by a reverse
        split is paid out in cash; working orders in the symbol are cancelled (their prices are in old units).
        Only data sources that publish splits (``splits()``, e.g. a ``splits.csv`` of local files) have any."""
        if self._split_source is None:
            return
        due = []
        for symbol, ex_date, ratio in self._split_source.splits():
            effective = (
                self._calendar.session_open(ex_date)
                if self._calendar.is_session(ex_date)
                else datetime.combine(ex_date, datetime.min.time(), tzinfo=ET).astimezone(UTC)
            )
            if effective <= now and (symbol, ex_date.isoformat()) not in self._splits_applied:
                due.append((symbol, ex_date, ratio))
        if not due:
            return
        applied = {(r["symbol"], r["ex_date"]) for r in self._ledger.query("SELECT symbol, ex_date FROM sim_splits")}
        for symbol, ex_date, ratio in due:
            if (symbol, ex_date.isoformat()) in applied:
                self._splits_applied.add((symbol, ex_date.isoformat()))
                continue
            with self._ledger.write():
                cur = self._ledger.conn.execute(
                    "INSERT OR IGNORE INTO sim_splits (symbol, ex_date, ratio, applied_at) VALUES (?, ?, ?, ?)",
                    (symbol, ex_date.isoformat(), ratio, _ts(now)),
                )
                if cur.rowcount == 1:
                    self._split_position(symbol, ratio, now)
            self._splits_applied.add((symbol, ex_date.isoformat()))

    def _split_position(self, symbol: str, ratio: float, now: datetime) -> None:
        row = self._one("SELECT * FROM sim_positions WHERE symbol = ?", (symbol,))
        if row is not None:
            qty = row["qty"] * ratio
            price = row["avg_entry_price"] / ratio
            whole = float(math.floor(qty + _EPS)) if _is_whole(row["qty"]) else qty
            if qty - whole > _EPS:  # cash in lieu of the fraction, at the adjusted last close
                mark = self._last_close(symbol, now)
                paid = (qty - whole) * (mark / ratio if mark else price)
                self._ledger.conn.execute("UPDATE sim_account SET cash = cash + ? WHERE id = 1", (paid,))
            self._ledger.conn.execute(
                "UPDATE sim_positions SET qty = ?, avg_entry_price = ? WHERE symbol = ?", (whole, price, symbol)
            )
        working = [s.value for s in (*_WORKING, _STATUS.HELD)]
        marks = ",".join("?" for _ in working)
        self._ledger.conn.execute(
            f"UPDATE sim_orders SET status = ?, updated_at = ? WHERE symbol = ? AND status IN ({marks})",
            (_STATUS.CANCELED.value, _ts(now), symbol, *working),
        )

    def _simulate_and_store(self, acct: _AccountRow, now: datetime) -> None:
        """Match every open order against the bars completed in (advanced_to, now], then store the outcome."""
        assert acct.advanced_to is not None
        orders = self._load_open_groups()
        by_symbol: dict[str, list[_Order]] = {}
        for o in sorted(orders, key=lambda o: (o.submitted_at, o.broker_order_id)):
            by_symbol.setdefault(o.symbol, []).append(o)
        run = _Run(cash=acct.cash, positions=self._load_positions(sorted(by_symbol)))
        # Every symbol is matched over the same sessions of the same window: their hours are worked out once.
        start = acct.advanced_to
        windows = [
            _Window.of(day, self._calendar.session_open(day), self._calendar.session_close(day), start, now)
            for day in self._calendar.sessions_between(start.astimezone(ET).date(), now.astimezone(ET).date())
        ]
        for symbol in sorted(by_symbol):
            self._simulate_symbol(symbol, by_symbol[symbol], run, windows)
        self._store_run(acct, orders, run, now)

    def _simulate_symbol(self, symbol: str, orders: list[_Order], run: _Run, windows: list[_Window]) -> None:
        for w in windows:
            if all(o.is_terminal for o in orders):
                return
            if w.close_at <= w.start:
                continue  # this session was fully processed by an earlier advance
            if w.open_at >= w.end:
                break
            bars = self._session_bars(symbol, w, orders)
            for bar in bars:
                self._on_bar(orders, bar, run)
            if w.close_at <= w.end:
                self._on_close(orders, w.close_at, bars[-1] if bars else None, run)

    def _session_bars(self, symbol: str, w: _Window, orders: list[_Order]) -> list[_Bar]:
        """The regular-session bars of ``w.day`` that completed in (w.start, w.end], oldest first.

        Minute bars when the data has them; a symbol with no minute bars for the session falls back to its
        daily bar, one bar from the open to the close, which completes (and is usable) only at the close.
        Minute bars on which no open order of ``orders`` could possibly act are left out (see ``_may_act``):
        a resting limit far from the market costs a vector comparison, not a Python loop over every minute.
        """
        open_at, close_at, start, end, lo, hi = w.open_at, w.close_at, w.start, w.end, w.lo, w.hi
        if self._out_of_reach(symbol, w.day, orders):
            return []
        starts_ns, values = self._minutes(symbol, lo, hi) if lo < hi else NO_BARS
        if len(starts_ns):
            may = _may_act(orders, values)
            if not may.any():
                return []  # resting orders the window's bars never reach: the common case, decided first
            # Regular hours only (a non-extended-hours order never trades pre/post market).
            keep = (
                (starts_ns >= w.open_ns)
                & (starts_ns < w.close_ns)
                & (starts_ns + _MINUTE_NS > w.start_ns)
                & (starts_ns + _MINUTE_NS <= w.end_ns)
                & may
            )
            bars = []
            for i in np.flatnonzero(keep):
                begin = EPOCH + timedelta(microseconds=int(starts_ns[i]) // 1000)
                o, h, lo_, c, v = (float(x) for x in values[i])
                bars.append(_Bar(begin, begin + MINUTE, o, h, lo_, c, v, False, self._participation_cap(v)))
            return bars
        if not start < close_at <= end:
            return []
        if lo > open_at and len(self._minutes(symbol, open_at, close_at)[0]):
            return []  # the session has minute data, just none in this window
        daily = self._md.daily_bars(symbol, w.day, w.day)
        if daily is None or daily.empty or daily.index[-1].date() != w.day:
            return []
        o, h, lo_, c, v = (float(daily.iloc[-1][k]) for k in ("open", "high", "low", "close", "volume"))
        return [_Bar(open_at, close_at, o, h, lo_, c, v, True, self._participation_cap(v))]

    def _out_of_reach(self, symbol: str, day: date, orders: list[_Order]) -> bool:
        """Whether no order can act on any bar of the session, by its whole range where the data knows it
        (``ports.SessionRanges``): the session's minute bars are then neither made nor read. The window's bars are
        some of the session's, so this answers as ``_may_act`` on them would, for any window."""
        if self._session_ranges is None:
            return False
        # The session's range against the orders' terms (what ``_may_act`` reads): the same answer at every slot
        # of the session until an order changes, and every slot asks it for each symbol with a resting order.
        terms = tuple((o.status, o.type, o.time_in_force, o.side, o.limit_price, o.stop_price, o.filled_qty)
                      for o in orders)  # fmt: skip
        known = self._reach.get(symbol)
        if known is not None and known[:2] == (day, terms):
            return known[2]
        bounds = self._session_ranges.session_range(symbol, day)
        if bounds is None:
            answer = False
        else:
            low, high = bounds
            answer = not _may_act(orders, np.array([[math.nan, high, low, math.nan, math.nan]])).any()
        self._reach[symbol] = (day, terms, answer)
        return answer

    def _minutes(self, symbol: str, start: datetime, end: datetime) -> tuple[np.ndarray, np.ndarray]:
        """The minute bars in [start, end) as (starts in ns, (n, 5) values), from arrays when the data has them."""
        if self._minute_arrays is not None:
            return self._minute_arrays.minute_arrays(symbol, start, end)
        frame = self._md.minute_bars(symbol, start, end)
        if not len(frame):
            return NO_BARS
        return frame.index.as_unit("ns").asi8, _ohlcv(frame)  # whatever resolution the adapter built

    # ================================================================================ matching engine
    def _on_bar(self, orders: list[_Order], bar: _Bar, run: _Run) -> None:
        """Offer one bar to every working order of its symbol, oldest order first (time priority)."""
        for o in orders:
            if not o.is_working or o.time_in_force == TimeInForce.CLS:
                continue
            view = bar.view_for(o.active_from)
            if view is None:
                continue
            if o.time_in_force == TimeInForce.OPG:
                # Market/limit-on-open trades in the opening auction: at the open print only.
                view = (view[0],) * 4
            price = self._fill_price(o, view)
            if price is not None:
                qty = self._fillable_qty(o, bar, run.positions[o.symbol])
                if o.time_in_force == TimeInForce.FOK and qty < o.remaining - _EPS:
                    qty = 0.0  # fill-or-kill: all of it on this bar, or nothing
                if qty > 0:
                    bar.budget -= qty
                    self._execute(o, qty, price, bar.fill_time, run, legs_active_from=bar.end)
            if o.is_working and o.time_in_force in (TimeInForce.OPG, TimeInForce.IOC, TimeInForce.FOK):
                # Alpaca cancels what an opening auction (or an immediate-or-cancel order) did not fill.
                self._end(o, _STATUS.CANCELED, bar.end)
            self._track_water_mark(o, view)

    def _on_close(self, orders: list[_Order], close_at: datetime, last_bar: _Bar | None, run: _Run) -> None:
        """The session's close: market/limit-on-close orders cross in the closing auction, day orders expire."""
        for o in orders:
            if not (o.is_working and o.time_in_force == TimeInForce.CLS):
                continue
            if last_bar is not None:
                close_view = (last_bar.close,) * 4
                price = self._fill_price(o, close_view)
                if price is not None:
                    qty = self._fillable_qty(o, last_bar, run.positions[o.symbol])
                    if qty > 0:
                        last_bar.budget -= qty
                        self._execute(o, qty, price, close_at, run, legs_active_from=close_at)
            if o.is_working:
                self._end(o, _STATUS.CANCELED, close_at)
        for o in orders:
            if o.is_terminal:
                continue
            if o.time_in_force == TimeInForce.DAY:
                # Alpaca: a day order (filled in part or not at all) that is still open at the close expires;
                # what filled stays filled. A day bracket's legs are day orders too.
                self._end(o, _STATUS.EXPIRED, close_at)
            elif o.time_in_force in (TimeInForce.OPG, TimeInForce.IOC, TimeInForce.FOK) and o.is_working:
                self._end(o, _STATUS.CANCELED, close_at)  # their session came and went without a usable bar

    def _fill_price(self, o: _Order, view: tuple[float, float, float, float]) -> float | None:
        """The price ``o`` executes at on a bar seen as ``view`` (open, high, low, close), or None if it
        does not trade there. Stop-limit and trailing orders may update their trigger state here."""
        open_ = view[0]
        if o.type == OrderType.MARKET:
            return self._slipped(open_, o.side)
        if o.type == OrderType.LIMIT:
            assert o.limit_price is not None
            touch = _limit_touch(o.side, o.limit_price, view)
            return None if touch is None else to_tick(touch)
        if o.type == OrderType.STOP:
            assert o.stop_price is not None
            if o.filled_qty > 0:
                return self._slipped(open_, o.side)  # triggered earlier: the rest is a market order
            touch = _stop_touch(o.side, o.stop_price, view)
            return None if touch is None else self._slipped(touch, o.side)
        if o.type == OrderType.STOP_LIMIT:
            return self._stop_limit_price(o, view)
        if o.type == OrderType.TRAILING_STOP:
            return self._trailing_price(o, view)
        raise ValueError(f"unknown order type {o.type!r}")

    def _stop_limit_price(self, o: _Order, view: tuple[float, float, float, float]) -> float | None:
        """A stop-limit becomes a limit order once its stop triggers. ``high_water`` records the trigger price
        (NULL: not triggered yet), so a triggered order stays a limit order across bars and restarts."""
        assert o.stop_price is not None and o.limit_price is not None
        if o.high_water is None and o.filled_qty == 0:
            trigger = _stop_touch(o.side, o.stop_price, view)
            if trigger is None:
                return None
            o.high_water, o.dirty = trigger, True
            # On the trigger bar we only know the price at the trigger: trade there if it is within the limit.
            marketable = trigger <= o.limit_price if o.is_buy else trigger >= o.limit_price
            return to_tick(trigger) if marketable else None
        touch = _limit_touch(o.side, o.limit_price, view)
        return None if touch is None else to_tick(touch)

    def _trailing_price(self, o: _Order, view: tuple[float, float, float, float]) -> float | None:
        """Alpaca's trailing stop: the stop trails the high-water mark (``high_water``, the best price since the
        order became active) by ``trail_percent``. Each bar first tests the current stop, then moves the mark."""
        assert o.trail_percent is not None
        if o.filled_qty > 0:
            return self._slipped(view[0], o.side)  # triggered earlier: the rest is a market order
        if o.high_water is None:
            o.high_water, o.dirty = view[0], True  # no price was known when it became active
        trigger = _trail_trigger(o.side, o.high_water, o.trail_percent)
        touch = _stop_touch(o.side, trigger, view)
        return None if touch is None else self._slipped(touch, o.side)

    def _track_water_mark(self, o: _Order, view: tuple[float, float, float, float]) -> None:
        """After the bar: a live trailing stop raises its high-water mark (a buy one lowers its low-water mark)."""
        if o.type != OrderType.TRAILING_STOP or not o.is_working or o.filled_qty > 0 or o.high_water is None:
            return
        mark = min(o.high_water, view[2]) if o.is_buy else max(o.high_water, view[1])
        if mark != o.high_water:
            o.high_water = mark
            o.dirty = True
        assert o.trail_percent is not None
        stop = to_tick(_trail_trigger(o.side, o.high_water, o.trail_percent))
        if stop != o.stop_price:
            o.stop_price, o.dirty = stop, True  # what Alpaca shows as the trailing order's stop_price

    def _fillable_qty(self, o: _Order, bar: _Bar, position: _Position) -> float:
        """How much of ``o`` this bar can fill: its remaining quantity, capped by the bar's participation
        budget and, for a sell, by the shares held (the account never goes short)."""
        qty = min(o.remaining, max(bar.budget, 0.0))
        if not o.is_buy:
            qty = min(qty, position.qty)
        if not self._fractional_ok(o):
            qty = whole_shares(qty)
        return round(max(qty, 0.0), 9)

    def _participation_cap(self, volume: float) -> float:
        """Shares a bar can give us: ``max_volume_pct`` of its volume in whole shares, rounded down (thin bars
        give partial fills). A fractional order's last fraction fits in whatever whole-share room is left."""
        if self.max_volume_pct is None:
            return math.inf
        return float(math.floor(max(0.0, float(volume)) * self.max_volume_pct / 100 + _EPS))

    def _fractional_ok(self, o: _Order) -> bool:
        # Alpaca: fractional quantities only for simple market day orders on a fractionable asset.
        return (
            self.fractionable
            and o.type == OrderType.MARKET
            and o.time_in_force == TimeInForce.DAY
            and o.order_class == OrderClass.SIMPLE
        )

    def _slipped(self, price: float, side: str) -> float:
        """A market-type fill pays ``slippage_bps`` over the price when buying, gets that much less selling."""
        factor = self.slippage_bps / 10_000
        return to_tick(price * (1 + factor) if side == Side.BUY else price * (1 - factor))

    def _commission(self, qty: float) -> float:
        if self.commission_per_share <= 0:
            return 0.0
        return max(self.commission_per_share * qty, self.commission_min)

    def _execute(
        self, o: _Order, qty: float, price: float, at: datetime, run: _Run, *, legs_active_from: datetime
    ) -> None:
        """Record one execution: the order's cumulative quantity and average price, cash, the position."""
        commission = self._commission(qty)
        total = o.filled_qty + qty
        o.filled_avg_price = ((o.filled_avg_price or 0.0) * o.filled_qty + price * qty) / total
        o.filled_qty = round(total, 9)
        position = run.positions[o.symbol]
        if o.is_buy:
            run.cash -= qty * price + commission
            held = position.qty + qty
            position.avg_entry_price = (position.qty * position.avg_entry_price + qty * price) / held
            position.qty = round(held, 9)
        else:
            run.cash += qty * price - commission  # selling leaves the average entry price alone
            position.qty = round(position.qty - qty, 9)
        position.touched = True
        run.fills.append(_FillDraft(o, qty, price, at, commission))
        if o.remaining > _EPS:
            o.set_status(_STATUS.PARTIALLY_FILLED, at)
            return
        o.set_status(_STATUS.FILLED, at)
        if o.leg_role == ROLE_ENTRY:
            # Bracket/OTO: the exit legs go live once the entry has filled completely, from the next bar on.
            for leg in o.legs:
                if leg.status == _STATUS.HELD:
                    leg.active_from = legs_active_from
                    leg.set_status(_STATUS.NEW, at)
        elif o.is_exit_leg:
            # One-cancels-other: the group's quantity is done, so the sibling leg is cancelled.
            for sibling in o.exit_group():
                if sibling is not o and not sibling.is_terminal:
                    sibling.set_status(_STATUS.CANCELED, at)

    def _end(self, o: _Order, status: str, at: datetime) -> None:
        """End an order early (expired/canceled); the rest of its bracket/OCO group ends with it."""
        for member in o.group():
            if not member.is_terminal:
                member.set_status(status, at)

    # ============================================================================== validation
    def _validate(self, req: OrderRequest, now: datetime, acct: _AccountRow) -> list[dict[str, Any]]:
        """Check ``req`` as Alpaca would and return the sim_orders rows to insert (parent first).

        Raises ``DuplicateClientOrderId`` or ``OrderRejected``; nothing is stored on a rejection.
        """
        self._check_client_ids([req.client_order_id], req.client_order_id)
        symbol, side, otype, tif, oclass = req.symbol, req.side, req.type, req.time_in_force, req.order_class
        self._check_tradable(symbol)
        self._check_shape(req)
        self._check_ticks(req)
        if not _is_whole(req.qty) and (
            oclass != OrderClass.SIMPLE or not self.fractionable or otype != OrderType.MARKET or tif != TimeInForce.DAY
        ):
            why = "requested asset is not fractionable"
            if self.fractionable and oclass == OrderClass.SIMPLE:
                why = "fractional orders must be market orders with time_in_force day"
            raise OrderRejected(why, reason=RejectReason.NOT_FRACTIONABLE)
        self._check_auction_window(tif, now)
        quote = self._md.latest_quote(symbol)
        last = quote.last if quote is not None else self._last_close(symbol, now)
        if oclass in (OrderClass.BRACKET, OrderClass.OTO):
            self._check_bracket_prices(req, last)
        orders = self._open_orders()
        if side == Side.BUY:
            self._check_buying_power(req, acct.cash, orders)
        else:
            self._check_sell_qty(req, orders)
        return self._rows_for(req, now, max(now, acct.advanced_to or now), last)

    def _check_client_ids(self, cids: list[str], requested: str) -> None:
        placeholders = ",".join("?" * len(cids))
        taken = {
            r["client_order_id"]
            for r in self._ledger.query(
                f"SELECT client_order_id FROM sim_orders WHERE client_order_id IN ({placeholders})", cids
            )
        }
        if requested in taken:
            # Alpaca: unique across every order the account ever had, cancelled ones included.
            raise DuplicateClientOrderId("client_order_id must be unique")
        if taken:
            raise OrderRejected(
                f"client_order_id {sorted(taken)[0]} (a derived leg id) is already in use",
                reason=RejectReason.INVALID_ORDER,
            )

    def _check_tradable(self, symbol: str) -> None:
        if symbol not in NOT_TRADABLE_SYMBOLS and not self._md.has_symbol(symbol):
            raise OrderRejected(f'asset "{symbol}" not found', reason=RejectReason.NOT_TRADABLE)
        if symbol in NOT_TRADABLE_SYMBOLS or symbol in self.untradable:
            raise OrderRejected(f"asset {symbol} is not tradable", reason=RejectReason.NOT_TRADABLE)

    def _check_shape(self, req: OrderRequest) -> None:
        """The request-level rules (alpaca-py checks some client-side, the server the rest)."""
        otype, tif, oclass = req.type, req.time_in_force, req.order_class

        def bad(message: str) -> OrderRejected:
            return OrderRejected(message, reason=RejectReason.INVALID_ORDER)

        if oclass == OrderClass.OCO:
            if otype != OrderType.LIMIT:
                raise bad("oco orders must be limit orders")
            if req.side != Side.SELL:
                raise bad("oco orders are exit orders: side must be sell (this account never holds shorts)")
        elif otype in (OrderType.LIMIT, OrderType.STOP_LIMIT) and req.limit_price is None:
            raise bad(f"{otype.value} orders require a limit price")
        if otype in (OrderType.STOP, OrderType.STOP_LIMIT) and req.stop_price is None:
            raise bad(f"{otype.value} orders require a stop price")
        if otype == OrderType.TRAILING_STOP and req.trail_percent is None:
            raise bad("trailing_stop orders require trail_percent")
        if oclass != OrderClass.SIMPLE:
            if tif not in (TimeInForce.DAY, TimeInForce.GTC):
                raise bad(f"{oclass.value} orders must be day or gtc")
            has_tp, has_sl = req.take_profit_limit_price is not None, req.stop_loss_stop_price is not None
            if oclass in (OrderClass.BRACKET, OrderClass.OCO) and not (has_tp and has_sl):
                raise bad(f"{oclass.value} orders require take_profit and stop_loss")
            if oclass == OrderClass.OTO and has_tp == has_sl:
                raise bad("oto orders require exactly one of take_profit and stop_loss")
            if oclass in (OrderClass.BRACKET, OrderClass.OTO) and otype not in (OrderType.MARKET, OrderType.LIMIT):
                raise bad(f"{oclass.value} entry must be a market or limit order")
            if has_tp and has_sl:
                tp, sl = req.take_profit_limit_price, req.stop_loss_stop_price
                assert tp is not None and sl is not None
                exits_sell = oclass == OrderClass.OCO or req.side == Side.BUY
                if exits_sell and not tp > sl:
                    raise bad("take_profit.limit_price must be > stop_loss.stop_price")
                if not exits_sell and not tp < sl:
                    raise bad("take_profit.limit_price must be < stop_loss.stop_price")
        elif req.take_profit_limit_price is not None or req.stop_loss_stop_price is not None:
            raise bad("take_profit and stop_loss need order_class bracket, oco or oto")

    def _check_ticks(self, req: OrderRequest) -> None:
        # Alpaca (Reg NMS 612): >= $1 at most 2 decimals, < $1 at most 4; else a 422.
        for name, value in (
            ("limit_price", req.limit_price),
            ("stop_price", req.stop_price),
            ("take_profit.limit_price", req.take_profit_limit_price),
            ("stop_loss.stop_price", req.stop_loss_stop_price),
            ("stop_loss.limit_price", req.stop_loss_limit_price),
        ):
            if value is not None and not is_on_tick(value):
                raise OrderRejected(
                    f"invalid {name} {value}. sub-penny increment does not fulfill minimum pricing criteria",
                    reason=RejectReason.SUB_PENNY,
                )

    def _check_auction_window(self, tif: str, now: datetime) -> None:
        """Alpaca's auction cut-offs: OPG before 09:28 ET or from 19:00; CLS not from 15:50 until 19:00."""
        local = now.astimezone(ET)
        day = local.date()
        if not self._calendar.is_session(day) or local.time() >= AUCTION_REOPEN:
            return  # a non-session day, or the evening: queued for the next session (CLS likewise)
        if tif == TimeInForce.OPG and not self._calendar.opg_accepted(now):
            raise OrderRejected(
                "opg orders must be submitted after 7:00pm and before 9:28am", reason=RejectReason.AUCTION_WINDOW
            )
        if tif == TimeInForce.CLS and now >= self._calendar.session_close(day) - CLS_CUTOFF_BEFORE_CLOSE:
            cutoff = (self._calendar.session_close(day) - CLS_CUTOFF_BEFORE_CLOSE).astimezone(ET)
            raise OrderRejected(
                f"cls orders must be submitted after 7:00pm and before {cutoff:%-I:%M}pm",
                reason=RejectReason.AUCTION_WINDOW,
            )

    def _check_bracket_prices(self, req: OrderRequest, last: float | None) -> None:
        """Alpaca: the legs must sit at least a cent on the right side of the base price (the entry's limit
        price, or the current market price for a market entry)."""
        base = req.limit_price if req.type == OrderType.LIMIT else last
        if base is None:
            return
        tp, sl = req.take_profit_limit_price, req.stop_loss_stop_price
        if req.side == Side.BUY:
            if tp is not None and tp < round(base + 0.01, 4):
                raise OrderRejected(
                    "take_profit.limit_price must be >= base_price + 0.01", reason=RejectReason.INVALID_ORDER
                )
            if sl is not None and sl > round(base - 0.01, 4):
                raise OrderRejected(
                    "stop_loss.stop_price must be <= base_price - 0.01", reason=RejectReason.INVALID_ORDER
                )
        else:
            if tp is not None and tp > round(base - 0.01, 4):
                raise OrderRejected(
                    "take_profit.limit_price must be <= base_price - 0.01", reason=RejectReason.INVALID_ORDER
                )
            if sl is not None and sl < round(base + 0.01, 4):
                raise OrderRejected(
                    "stop_loss.stop_price must be >= base_price + 0.01", reason=RejectReason.INVALID_ORDER
                )

    def _check_buying_power(self, req: OrderRequest, cash: float, open_orders: list[_Order]) -> None:
        price = self._buy_reference_price(req.symbol, req.type, req.limit_price, req.stop_price, {})
        if price is None:
            raise OrderRejected(
                f"no recent price for {req.symbol}: cannot check buying power", reason=RejectReason.NO_PRICE
            )
        cost = req.qty * price
        buying_power = cash - self._reserved_buy_cost(open_orders)
        if cost > buying_power + _EPS:
            raise OrderRejected(
                "insufficient buying power",
                reason=RejectReason.INSUFFICIENT_BUYING_POWER,
                hint=f"cost {cost:.2f} > buying power {buying_power:.2f}",
            )

    def _check_sell_qty(self, req: OrderRequest, open_orders: list[_Order]) -> None:
        row = self._one("SELECT qty FROM sim_positions WHERE symbol = ?", (req.symbol,))
        held = row["qty"] if row else 0.0
        available = round(held - self._held_for_sells(req.symbol, open_orders), 9)
        if req.qty > available + _EPS:
            # Also how a short sale is refused: this account never sells what it does not hold.
            raise OrderRejected(
                f"insufficient qty available for order (requested: {_fmt_qty(req.qty)}, "
                f"available: {_fmt_qty(max(available, 0.0))})",
                reason=RejectReason.INSUFFICIENT_QTY,
            )

    def _rows_for(self, req: OrderRequest, now: datetime, active_from: datetime, last: float | None) -> list[dict]:
        """The sim_orders rows of a request: the parent, then its legs (bracket/OTO/OCO)."""
        stamp = _ts(now)

        def row(**kw: Any) -> dict[str, Any]:
            base = {
                "parent_broker_order_id": None,
                "symbol": req.symbol,
                "qty": float(req.qty),
                "time_in_force": req.time_in_force.value,
                "order_class": req.order_class.value,
                "limit_price": None,
                "stop_price": None,
                "trail_percent": None,
                "status": _STATUS.NEW.value,
                "filled_qty": 0.0,
                "filled_avg_price": None,
                "submitted_at": stamp,
                "updated_at": stamp,
                "active_from": _ts(active_from),
                "high_water": None,
                "reject_reason": None,
                "_is_child": False,
            }
            base.update(kw)
            return base

        def stop_loss_leg(side: str, status: str, leg_active: str | None) -> dict[str, Any]:
            is_stop_limit = req.stop_loss_limit_price is not None
            return row(
                client_order_id=req.client_order_id + _LEG_SUFFIX[ROLE_STOP_LOSS],
                leg_role=ROLE_STOP_LOSS,
                side=side,
                type=(OrderType.STOP_LIMIT if is_stop_limit else OrderType.STOP).value,
                stop_price=req.stop_loss_stop_price,
                limit_price=req.stop_loss_limit_price,
                status=status,
                active_from=leg_active,
                _is_child=True,
            )

        if req.order_class == OrderClass.OCO:
            # Alpaca: the take-profit limit is the parent, the stop-loss its child; both live at once.
            parent = row(
                client_order_id=req.client_order_id,
                leg_role=ROLE_TAKE_PROFIT,
                side=req.side.value,
                type=OrderType.LIMIT.value,
                limit_price=req.take_profit_limit_price,
            )
            return [parent, stop_loss_leg(req.side.value, _STATUS.NEW.value, _ts(active_from))]

        trailing = req.type == OrderType.TRAILING_STOP
        water = last if trailing else None
        stop = req.stop_price
        if trailing and water is not None:
            assert req.trail_percent is not None
            stop = to_tick(_trail_trigger(req.side, water, req.trail_percent))
        parent = row(
            client_order_id=req.client_order_id,
            leg_role=ROLE_SIMPLE if req.order_class == OrderClass.SIMPLE else ROLE_ENTRY,
            side=req.side.value,
            type=req.type.value,
            limit_price=req.limit_price,
            stop_price=stop,
            trail_percent=req.trail_percent,
            high_water=water,
        )
        rows = [parent]
        if req.order_class in (OrderClass.BRACKET, OrderClass.OTO):
            exit_side = (Side.SELL if req.side == Side.BUY else Side.BUY).value
            # Alpaca: the exit legs are 'held' until the entry has filled completely.
            if req.take_profit_limit_price is not None:
                rows.append(
                    row(
                        client_order_id=req.client_order_id + _LEG_SUFFIX[ROLE_TAKE_PROFIT],
                        leg_role=ROLE_TAKE_PROFIT,
                        side=exit_side,
                        type=OrderType.LIMIT.value,
                        limit_price=req.take_profit_limit_price,
                        status=_STATUS.HELD.value,
                        active_from=None,
                        _is_child=True,
                    )
                )
            if req.stop_loss_stop_price is not None:
                rows.append(stop_loss_leg(exit_side, _STATUS.HELD.value, None))
        return rows

    # ============================================================================ reservations
    def _buy_reference_price(
        self, symbol: str, otype: str, limit: float | None, stop: float | None, cache: dict[str, float | None]
    ) -> float | None:
        """What a buy is expected to cost per share: its limit price, else the ask (or last) plus slippage."""
        if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT) and limit is not None:
            return limit
        if symbol not in cache:
            quote = self._md.latest_quote(symbol)
            cache[symbol] = (quote.ask or quote.last) if quote is not None else self._last_close(symbol, self._now())
        market = cache[symbol]
        if market is None:
            return None
        if otype == OrderType.STOP and stop is not None:
            market = max(market, stop)  # a buy stop fills at or above its stop
        return market * (1 + self.slippage_bps / 10_000)

    def _reserved_buy_cost(self, open_orders: list[_Order]) -> float:
        """Cash promised to open buy orders (remaining qty x reference price), which buying power excludes.
        Exit legs that buy the same shares reserve once per group; held legs reserve nothing yet."""
        cache: dict[str, float | None] = {}
        total, seen_groups = 0.0, set()
        for o in open_orders:
            if not (o.is_buy and o.is_working):
                continue
            if o.is_exit_leg:
                root = (o.parent or o).broker_order_id
                if root in seen_groups:
                    continue
                seen_groups.add(root)
            price = self._buy_reference_price(o.symbol, o.type, o.limit_price, o.stop_price, cache)
            total += o.remaining * (price or 0.0)
        return total

    def _held_for_sells(self, symbol: str, open_orders: list[_Order]) -> float:
        """Shares already promised to open sell orders. A bracket's or OCO's exit legs sell the same shares:
        the group reserves its remaining quantity once. Held legs (entry not filled yet) hold nothing."""
        total, seen_groups = 0.0, set()
        for o in open_orders:
            if o.symbol != symbol or o.is_buy or not o.is_working:
                continue
            if o.is_exit_leg:
                root = (o.parent or o).broker_order_id
                if root in seen_groups:
                    continue
                seen_groups.add(root)
            total += o.remaining
        return total

    # ================================================================================= storage
    def _read_account(self) -> _AccountRow:
        """The account row and whether any order is open, in one query; creates the account on first use."""
        placeholders = ",".join("?" * len(_OPEN_STATUSES))
        sql = (
            "SELECT cash, starting_cash, advanced_to, order_seq, fill_seq, "
            f"EXISTS (SELECT 1 FROM sim_orders WHERE status IN ({placeholders})) AS has_open "
            "FROM sim_account WHERE id = 1"
        )
        row = self._ledger.conn.execute(sql, _OPEN_STATUSES).fetchone()
        if row is None:
            with self._ledger.write():
                self._ledger.conn.execute(
                    "INSERT OR IGNORE INTO sim_account (id, cash, starting_cash, advanced_to, order_seq, fill_seq) "
                    "VALUES (1, ?, ?, NULL, 0, 0)",
                    (self.starting_cash, self.starting_cash),
                )
            row = self._ledger.conn.execute(sql, _OPEN_STATUSES).fetchone()
        cash, starting, advanced, order_seq, fill_seq, has_open = row
        return _AccountRow(cash, starting, _dt(advanced), order_seq, fill_seq, bool(has_open), advanced)

    def _one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        rows = self._ledger.query(sql, params)
        return rows[0] if rows else None

    def _position_rows(self) -> list[dict[str, Any]]:
        return self._ledger.query("SELECT * FROM sim_positions ORDER BY symbol")

    def _load_positions(self, symbols: list[str]) -> dict[str, _Position]:
        positions = {s: _Position() for s in symbols}
        for r in self._position_rows():
            if r["symbol"] in positions:
                positions[r["symbol"]] = _Position(r["qty"], r["avg_entry_price"])
        return positions

    def _open_orders(self) -> list[_Order]:
        """Open orders, with the other members of their groups (even finished ones) linked."""
        return [o for o in self._load_open_groups() if not o.is_terminal]

    def _load_open_groups(self) -> list[_Order]:
        # Every member of each group (a parent and its legs: one level) with an open member, found from the
        # groups' roots through the status index and the parent index, not by reading every order ever placed.
        placeholders = ",".join("?" * len(_OPEN_STATUSES))
        roots = (
            "SELECT coalesce(parent_broker_order_id, broker_order_id) FROM sim_orders "
            f"WHERE status IN ({placeholders})"
        )
        sql = f"SELECT * FROM sim_orders WHERE broker_order_id IN ({roots}) OR parent_broker_order_id IN ({roots})"
        rows = self._ledger.query(sql, _OPEN_STATUSES * 2)
        by_id = {r["broker_order_id"]: _Order.from_row(r) for r in rows}
        for o in sorted(by_id.values(), key=lambda o: o.broker_order_id):
            if o.parent_broker_order_id and o.parent_broker_order_id in by_id:
                o.parent = by_id[o.parent_broker_order_id]
                o.parent.legs.append(o)
        return list(by_id.values())

    def _store_run(self, acct: _AccountRow, orders: list[_Order], run: _Run, now: datetime) -> None:
        with self._ledger.write():
            conn = self._ledger.conn
            if self._read_account().token != acct.token:
                raise _Conflict
            for o in orders:
                if not o.dirty:
                    continue
                cur = conn.execute(
                    "UPDATE sim_orders SET status = ?, filled_qty = ?, filled_avg_price = ?, updated_at = ?, "
                    "active_from = ?, high_water = ?, stop_price = ? "
                    "WHERE broker_order_id = ? AND status = ? AND updated_at = ?",
                    (
                        o.status,
                        o.filled_qty,
                        o.filled_avg_price,
                        _ts(o.updated_at),
                        _ts(o.active_from) if o.active_from else None,
                        o.high_water,
                        o.stop_price,
                        o.broker_order_id,
                        o.loaded_status,
                        o.loaded_updated_at,
                    ),
                )
                if cur.rowcount != 1:
                    raise _Conflict  # e.g. cancelled by another process meanwhile
            fill_seq = acct.fill_seq
            # Ids follow time (then symbol, then the order fills happened in), so replays number alike.
            drafts = sorted(enumerate(run.fills), key=lambda p: (p[1].filled_at, p[1].order.symbol, p[0]))
            for _, f in drafts:
                fill_seq += 1
                conn.execute(
                    "INSERT INTO sim_fills (fill_id, broker_order_id, symbol, side, qty, price, commission, filled_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        f"sim-f-{fill_seq:08d}",
                        f.order.broker_order_id,
                        f.order.symbol,
                        f.order.side,
                        f.qty,
                        f.price,
                        f.commission,
                        _ts(f.filled_at),
                    ),
                )
            for symbol, p in run.positions.items():
                if not p.touched:
                    continue
                if p.qty <= _EPS:
                    conn.execute("DELETE FROM sim_positions WHERE symbol = ?", (symbol,))
                else:
                    conn.execute(
                        "INSERT INTO sim_positions (symbol, qty, avg_entry_price) VALUES (?, ?, ?) "
                        "ON CONFLICT (symbol) DO UPDATE SET qty = excluded.qty, "
                        "avg_entry_price = excluded.avg_entry_price",
                        (symbol, p.qty, p.avg_entry_price),
                    )
            conn.execute(
                "UPDATE sim_account SET cash = ?, fill_seq = ?, advanced_to = ? WHERE id = 1",
                (run.cash, fill_seq, _ts(now)),
            )

    def _legs_by_parent(self, parent_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        legs: dict[str, list[dict[str, Any]]] = {}
        for chunk in _chunks(parent_ids, 500):
            placeholders = ",".join("?" * len(chunk))
            for r in self._ledger.query(
                f"SELECT * FROM sim_orders WHERE parent_broker_order_id IN ({placeholders}) ORDER BY broker_order_id",
                chunk,
            ):
                legs.setdefault(r["parent_broker_order_id"], []).append(r)
        return legs

    def _find_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        row = self._one("SELECT * FROM sim_orders WHERE client_order_id = ?", (client_order_id,))
        if row is None:
            return None
        legs = self._legs_by_parent([row["broker_order_id"]]).get(row["broker_order_id"], [])
        return _to_broker_order(row, legs)

    # =================================================================================== prices
    def _mark(self, symbol: str, fallback: float) -> float:
        """The price positions are valued at: the latest trade, else the average entry price."""
        quote = self._md.latest_quote(symbol)
        return quote.last if quote is not None else fallback

    def _last_close(self, symbol: str, now: datetime) -> float | None:
        """The latest daily close (used when there is no quote)."""
        today = now.astimezone(ET).date()
        frame = self._md.daily_bars(symbol, today - timedelta(days=14), today)
        if frame is None or frame.empty:
            return None
        return float(frame["close"].iloc[-1])


# -- conversions -----------------------------------------------------------------------------------------


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _to_broker_order(row: dict[str, Any], legs: list[dict[str, Any]] = ()) -> BrokerOrder:  # type: ignore[assignment]
    return BrokerOrder(
        broker_order_id=row["broker_order_id"],
        client_order_id=row["client_order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        qty=row["qty"],
        type=OrderType(row["type"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        status=row["status"],
        filled_qty=row["filled_qty"],
        filled_avg_price=row["filled_avg_price"],
        limit_price=row["limit_price"],
        stop_price=row["stop_price"],
        trail_percent=row["trail_percent"],
        order_class=OrderClass(row["order_class"]),
        submitted_at=_dt(row["submitted_at"]),
        updated_at=_dt(row["updated_at"]),
        parent_broker_order_id=row["parent_broker_order_id"],
        reject_reason=row["reject_reason"],
        legs=tuple(_to_broker_order(leg) for leg in legs),
    )
