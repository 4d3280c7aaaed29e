"""``SimOptionDesk``: the simulated broker's options, with their state in the ledger beside the stock side's.

The desk holds what an options account holds: orders (a single contract or a multi-leg structure, each a day
limit order in whole contracts), fills per leg, positions per contract (short negative) and what expiry did to
each. The cash is the account's (``sim_account``), and the shares an exercise or an assignment delivers are the
stock side's (``sim_positions``), so the account's equity and buying power see both. ``SimBroker`` hands every
option request, lookup and cancel to the desk and advances it after the stock side.

Fill model. Option orders are matched against the option market (``ports.OptionChains``) at the instants the
account is advanced to while the market is open, not minute by minute: at submission, and at each later
advance (each step of each run-daily slot). A structure's natural price pays each bought leg's ask and
receives each sold leg's bid; its mid uses the mids. Market makers fill combinations between the two, so an
order fills, whole, once its net limit reaches ``fill_pct`` of the way from the mid to the natural price
(``[broker] option_fill_pct``, 50: halfway; 100 fills only at the natural price), at its limit or at the
natural price when that is better. Each leg's price is its mid moved the same share of the way toward its own
ask or bid, in cents. A day order still working at its session's close expires there (one sent after the
close, or on a day without a session, is good for the next session).

What the desk refuses, as Alpaca does at the account's options level: a market order (the request cannot
be built), a contract that has expired or that the market does not list, closing more than is held, an order
whose net debit and commissions exceed the cash left after the stock side's working buys, the option orders
still working and the collateral of the short options after this one (unless the order ties up no more than
the positions did before it: a close whose released collateral covers its debit is taken even when the
account is short of buying power, as a broker lets risk be taken off), and any short call that no long call
or 100 shares per contract covers. Collateral per underlying pairs each short put with the long put of the
highest strike left (a spread owes the strikes' distance, an unpaired short put its strike x 100) and each
short call with the long call of the lowest strike left (the distance); an unpaired short call is covered by
100 shares of the stock or refused. Expiries of the legs are not compared (a calendar counts as a spread).

Expiry, at the close of the expiry session, from the underlying's official close: a contract out of the money
expires worthless; in the money by a cent or more, a long one is exercised and a short one assigned: a call
delivers 100 shares per contract bought (long) or sold (short) at the strike, a put the other way. The
deliveries of all of one underlying's expiring contracts are netted (a spread both legs in the money moves cash,
not shares); when the net would leave the account short the stock, or without the cash to pay for it, all of
them are settled in cash at their intrinsic value instead. Early exercise and assignment (a deep in-the-money
short call before an ex-dividend date) are not simulated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from autotrader.clock import MarketCalendar
from autotrader.domain.enums import (
    TERMINAL_BROKER_STATUSES,
    BrokerOrderStatus,
    OptionEventKind,
    OrderClass,
    OrderType,
    PositionIntent,
    RejectReason,
    Side,
    TimeInForce,
)
from autotrader.domain.models import BrokerOrder, BrokerPosition, Fill, OrderRequest
from autotrader.domain.options import MULTIPLIER, OptionContract, OptionEvent, OptionQuote, parse_occ
from autotrader.errors import DuplicateClientOrderId, OrderRejected
from autotrader.ports import MarketData, OptionChains

if TYPE_CHECKING:
    from autotrader.ledger.db import Ledger

_EPS = 1e-9
_STATUS = BrokerOrderStatus
_TERMINAL = sorted(str(s) for s in TERMINAL_BROKER_STATUSES)


def _ts(at: datetime) -> str:
    from autotrader.ledger.repo import utc_iso

    return utc_iso(at)


def _dt(text: str) -> datetime:
    from autotrader.ledger.repo import parse_utc

    value = parse_utc(text)
    assert value is not None
    return value


@dataclass(frozen=True)
class _Leg:
    symbol: str
    side: Side
    ratio: int
    intent: PositionIntent

    @property
    def sign(self) -> int:
        return 1 if self.side == Side.BUY else -1

    def to_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "side": str(self.side), "ratio": self.ratio, "intent": str(self.intent)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> _Leg:
        return cls(d["symbol"], Side(d["side"]), int(d["ratio"]), PositionIntent(d["intent"]))


def _signed_limit(request: OrderRequest) -> float:
    """The net limit per share as the desk works with it: + a debit paid, - a credit received. A single contract's
    limit is its price, paid (buy) or received (sell); a structure's ``side`` says debit (buy) or credit (sell)."""
    assert request.limit_price is not None
    return request.limit_price if request.side == Side.BUY else -request.limit_price


def collateral(positions: dict[str, float], shares: float, *, strict: bool = True) -> float | None:
    """The cash the short options of one underlying tie up (module docstring); None when a short call is left
    uncovered (``strict``), else such a call owes its strike x 100 (shares sold after a covered call was written:
    the account's buying power must still be a number). ``positions``: OCC symbol -> contracts (short negative);
    ``shares``: the stock held."""
    contracts = {parse_occ(s): q for s, q in positions.items() if abs(q) > _EPS}
    owed = 0.0
    for is_call in (False, True):
        shorts: list[float] = []
        longs: list[float] = []
        for c, q in contracts.items():
            if c.is_call == is_call:
                (shorts if q < 0 else longs).extend([c.strike] * round(abs(q)))
        # Puts: each short with the highest long left; calls: with the lowest.
        shorts.sort(reverse=not is_call)
        longs.sort(reverse=not is_call)
        for i, strike in enumerate(shorts):
            if i < len(longs):
                owed += max(longs[i] - strike if is_call else strike - longs[i], 0.0) * MULTIPLIER
            elif is_call:
                shares -= MULTIPLIER
                if shares < -_EPS:
                    if strict:
                        return None
                    owed += strike * MULTIPLIER
            else:
                owed += strike * MULTIPLIER
    return owed


def _position_after(qty: float, avg: float, delta: float, price: float) -> tuple[float, float]:
    """A contract position's quantity and average price after ``delta`` contracts at ``price``."""
    new = qty + delta
    if abs(new) < _EPS:
        return 0.0, 0.0
    if qty == 0 or (qty > 0) == (delta > 0):
        return new, (abs(qty) * avg + abs(delta) * price) / abs(new)
    if (qty > 0) != (new > 0):  # crossed through zero: what is left was opened at this price
        return new, price
    return new, avg


class SimOptionDesk:
    """The options desk of ``SimBroker`` (module docstring)."""

    def __init__(
        self,
        ledger: Ledger,
        chains: OptionChains,
        market_data: MarketData,
        calendar: MarketCalendar,
        *,
        fill_pct: float = 50.0,
        commission_per_contract: float = 0.0,
    ) -> None:
        if not 0 <= fill_pct <= 100 or commission_per_contract < 0:
            raise ValueError("fill_pct must be in [0, 100] and the commission >= 0")
        self._ledger = ledger
        self._chains = chains
        self._md = market_data
        self._calendar = calendar
        self.fill_pct = float(fill_pct)
        self.commission_per_contract = float(commission_per_contract)
        self._active: bool | None = None  # any working order or open position (None: not read yet)

    # -- what SimBroker asks ---------------------------------------------------------------------------------
    def submit(self, request: OrderRequest, now: datetime, cash: float, stock_reserved: float) -> BrokerOrder:
        """Check and store ``request`` (module docstring), then match it at once if the market is open. ``cash``
        and ``stock_reserved`` are the account's cash and what its working stock buys hold."""
        legs = self._legs(request)
        contracts = {leg.symbol: parse_occ(leg.symbol) for leg in legs}
        underlyings = {c.underlying for c in contracts.values()}
        if len(underlyings) != 1:
            raise OrderRejected("a multi-leg order is on one underlying", reason=RejectReason.INVALID_ORDER)
        underlying = underlyings.pop()
        for c in contracts.values():
            if not self._calendar.is_session(c.expiry) or self._calendar.session_close(c.expiry) <= now:
                raise OrderRejected(f"{c.symbol}: the contract has expired", reason=RejectReason.NOT_TRADABLE)
        quotes = self._chains.option_quotes(list(contracts.values()))
        missing = [s for s in contracts if s not in quotes]
        if missing:
            raise OrderRejected(f"{', '.join(missing)}: no such contract is listed", reason=RejectReason.NOT_TRADABLE)
        self._check_closing(legs, request.qty)
        self._check_money(request, legs, underlying, now, cash, stock_reserved)
        if self._find_row(request.client_order_id) is not None:
            raise DuplicateClientOrderId(f"client order id {request.client_order_id} already used")
        with self._ledger.write():
            seq = self._counter("order_seq")
            row = {
                "broker_order_id": f"sim-oo-{seq:08d}",
                "client_order_id": request.client_order_id,
                "underlying": underlying,
                "order_class": str(OrderClass.MLEG if request.order_class == OrderClass.MLEG else OrderClass.SIMPLE),
                "legs_json": json.dumps([leg.to_json() for leg in legs]),
                "qty": request.qty,
                "limit_price": _signed_limit(request),
                "time_in_force": str(TimeInForce.DAY),
                "status": str(_STATUS.ACCEPTED),
                "submitted_at": _ts(now),
                "updated_at": _ts(now),
                "good_until": _ts(self._good_until(now)),
            }
            self._ledger.conn.execute(
                f"INSERT INTO sim_option_orders ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
            self._active = True
        if self._calendar.is_open(now):
            self._match([row], now, quotes)
        found = self._find_row(request.client_order_id)
        assert found is not None
        return self._order(found)

    def find(self, client_order_id: str) -> BrokerOrder | None:
        row = self._find_row(client_order_id)
        return self._order(row) if row is not None else None

    def cancel(self, broker_order_id: str, now: datetime) -> bool:
        """Cancel a working option order; False when the desk has no order of that id."""
        with self._ledger.write():
            rows = self._ledger.query("SELECT status FROM sim_option_orders WHERE broker_order_id = ?",
                                      (broker_order_id,))  # fmt: skip
            if not rows:
                return False
            if not BrokerOrderStatus.is_terminal(rows[0]["status"]):
                self._ledger.conn.execute(
                    "UPDATE sim_option_orders SET status = ?, updated_at = ? WHERE broker_order_id = ?",
                    (str(_STATUS.CANCELED), _ts(now), broker_order_id),
                )
        return True

    def orders(self, *, status: str = "all", after: datetime | None = None) -> list[BrokerOrder]:
        sql, params = "SELECT * FROM sim_option_orders WHERE 1 = 1", []
        if after is not None:
            sql, params = sql + " AND submitted_at > ?", [_ts(after)]
        if status == "open":
            sql += f" AND status NOT IN ({', '.join('?' * len(_TERMINAL))})"
            params += _TERMINAL
        return [self._order(r) for r in self._ledger.query(sql + " ORDER BY submitted_at, broker_order_id", params)]

    def fills(self, *, after: datetime | None = None) -> list[Fill]:
        sql, params = "SELECT * FROM sim_option_fills", tuple[str, ...]()
        if after is not None:
            sql, params = sql + " WHERE filled_at > ?", (_ts(after),)
        rows = self._ledger.query(sql + " ORDER BY filled_at, fill_id", params)
        return [Fill.from_row(r, _dt(r["filled_at"])) for r in rows]

    def positions(self) -> list[BrokerPosition]:
        rows = self._ledger.query("SELECT * FROM sim_option_positions ORDER BY symbol")
        quotes = self._quotes([r["symbol"] for r in rows])
        return [
            BrokerPosition(r["symbol"], r["qty"], r["avg_entry_price"],
                           market_value=r["qty"] * MULTIPLIER * self._mark(quotes, r["symbol"], r["avg_entry_price"]))
            for r in rows
        ]  # fmt: skip

    def events(self, *, after: datetime | None = None) -> list[OptionEvent]:
        sql, params = "SELECT * FROM sim_option_events", tuple[str, ...]()
        if after is not None:
            sql, params = sql + " WHERE at > ?", (_ts(after),)
        return [
            OptionEvent(r["event_id"], OptionEventKind(r["kind"]), r["symbol"], r["qty"], _dt(r["at"]),
                        Side(r["share_side"]) if r["share_side"] else None, r["share_qty"], r["share_price"], r["cash"])
            for r in self._ledger.query(sql + " ORDER BY at, event_id", params)
        ]  # fmt: skip

    def market_value(self) -> float:
        return sum(p.market_value or 0.0 for p in self.positions())

    def reserved(self) -> float:
        """Cash the desk holds back: the working orders' debits and the short options' collateral."""
        return self._working_debits() + self._collateral_total(self._position_map())

    @property
    def holds_anything(self) -> bool:
        """Whether the desk has a working order or an open position (read once, then kept by its own writes)."""
        if self._active is None:
            self._active = bool(self._ledger.scalar(
                "SELECT EXISTS (SELECT 1 FROM sim_option_positions) OR EXISTS (SELECT 1 FROM sim_option_orders "
                f"WHERE status NOT IN ({', '.join('?' * len(_TERMINAL))}))", _TERMINAL))  # fmt: skip
        return self._active

    def advance(self, now: datetime) -> bool:
        """Expire day orders whose session closed, settle expiries up to ``now``, match what works (module
        docstring); whether anything was written. Costs nothing while the desk holds nothing."""
        if not self.holds_anything:
            return False
        before = self._ledger.changes()
        working = self._ledger.query(
            f"SELECT * FROM sim_option_orders WHERE status NOT IN ({', '.join('?' * len(_TERMINAL))}) "
            "ORDER BY submitted_at, broker_order_id", _TERMINAL)  # fmt: skip
        positions = self._ledger.query("SELECT * FROM sim_option_positions")
        self._active = bool(working or positions)
        if not self._active:
            return False
        still = []
        with self._ledger.write():
            for row in working:
                if _dt(row["good_until"]) <= now:
                    self._set_status(row["broker_order_id"], _STATUS.EXPIRED, row["good_until"])
                else:
                    still.append(row)
        self._settle_expiries(now)
        if still and self._calendar.is_open(now):
            symbols = sorted({leg.symbol for row in still for leg in self._row_legs(row)})
            self._match(still, now, self._quotes(symbols))
        self._active = None  # fills and expiries may have emptied the desk: read again when next asked
        return self._ledger.changes() > before

    # -- checks ----------------------------------------------------------------------------------------------
    def _legs(self, request: OrderRequest) -> list[_Leg]:
        if not request.is_option:
            raise OrderRejected(f"{request.symbol}: not an option order", reason=RejectReason.INVALID_ORDER)
        if request.type != OrderType.LIMIT:
            raise OrderRejected("options are traded with limit orders only", reason=RejectReason.INVALID_ORDER)
        if request.legs:
            return [_Leg(leg.symbol, leg.side, leg.ratio_qty, leg.position_intent) for leg in request.legs]
        held = self._position_map().get(request.symbol, 0.0)
        if request.side == Side.BUY:
            intent = PositionIntent.BUY_TO_CLOSE if held < -_EPS else PositionIntent.BUY_TO_OPEN
        else:
            intent = PositionIntent.SELL_TO_CLOSE if held > _EPS else PositionIntent.SELL_TO_OPEN
        return [_Leg(request.symbol, request.side, 1, intent)]

    def _check_closing(self, legs: list[_Leg], qty: float) -> None:
        held = self._position_map()
        for leg in legs:
            contracts = leg.ratio * qty
            have = held.get(leg.symbol, 0.0)
            if leg.intent == PositionIntent.SELL_TO_CLOSE and have + _EPS < contracts:
                raise OrderRejected(f"{leg.symbol}: selling {contracts:g} to close, {have:g} held",
                                    reason=RejectReason.INSUFFICIENT_QTY)  # fmt: skip
            if leg.intent == PositionIntent.BUY_TO_CLOSE and -have + _EPS < contracts:
                raise OrderRejected(f"{leg.symbol}: buying {contracts:g} to close, {-have:g} short",
                                    reason=RejectReason.INSUFFICIENT_QTY)  # fmt: skip

    def _check_money(
        self, request: OrderRequest, legs: list[_Leg], underlying: str, now: datetime, cash: float, reserved: float
    ) -> None:
        after = self._position_map()
        for leg in legs:
            after[leg.symbol] = after.get(leg.symbol, 0.0) + leg.sign * leg.ratio * request.qty
        mine = {s: q for s, q in after.items() if parse_occ(s).underlying == underlying}
        if collateral(mine, self._shares(underlying)) is None:
            raise OrderRejected(f"{underlying}: a short call no long call or 100 shares per contract covers",
                                reason=RejectReason.SHORTING_NOT_ALLOWED)  # fmt: skip
        contracts = sum(leg.ratio for leg in legs) * request.qty
        debit = max(_signed_limit(request), 0.0) * MULTIPLIER * request.qty + self.commission_per_contract * contracts
        tied_after = self._collateral_total(after)
        if debit <= self._collateral_total(self._position_map()) - tied_after + _EPS:
            return  # it takes risk off: the collateral it frees pays its debit, the account's buying power no worse
        needed = debit + self._working_debits() + tied_after
        if needed > cash - reserved + _EPS:
            raise OrderRejected(
                f"options buying power: ${needed:,.2f} needed (debits and collateral), ${cash - reserved:,.2f} free",
                reason=RejectReason.INSUFFICIENT_BUYING_POWER,
            )

    # -- matching (in signed net prices per share: + debit, - credit) -----------------------------------------
    def _match(self, rows: list[dict[str, Any]], now: datetime, quotes: dict[str, OptionQuote]) -> None:
        for row in rows:
            legs = self._row_legs(row)
            prices = self._fill_prices(legs, row["limit_price"], quotes)
            if prices is not None:
                self._fill(row, legs, prices, now)

    def _fill_prices(self, legs: list[_Leg], limit: float, quotes: dict[str, OptionQuote]) -> list[float] | None:
        """Each leg's fill price per share when the order is marketable under the fill model, else None."""
        mids, naturals = [], []
        for leg in legs:
            q = quotes.get(leg.symbol)
            if q is None or q.ask <= 0 or (leg.side == Side.SELL and q.bid <= 0):
                return None
            mids.append(q.mid)
            naturals.append(q.ask if leg.side == Side.BUY else q.bid)
        mid = sum(leg.sign * leg.ratio * m for leg, m in zip(legs, mids, strict=True))
        natural = sum(leg.sign * leg.ratio * n for leg, n in zip(legs, naturals, strict=True))
        if limit + _EPS < mid + (natural - mid) * self.fill_pct / 100.0:
            return None
        net = min(limit, natural)
        share = (net - mid) / (natural - mid) if abs(natural - mid) > _EPS else 0.0
        return [max(round(m + share * (n - m), 2), 0.01) for m, n in zip(mids, naturals, strict=True)]

    def _fill(self, row: dict[str, Any], legs: list[_Leg], prices: list[float], now: datetime) -> None:
        units = row["qty"]
        with self._ledger.write():
            current = self._ledger.query("SELECT status FROM sim_option_orders WHERE broker_order_id = ?",
                                         (row["broker_order_id"],))  # fmt: skip
            if not current or BrokerOrderStatus.is_terminal(current[0]["status"]):
                return
            cash_change = 0.0
            for leg, price in zip(legs, prices, strict=True):
                contracts = leg.ratio * units
                commission = self.commission_per_contract * contracts
                seq = self._counter("fill_seq")
                self._ledger.conn.execute(
                    "INSERT INTO sim_option_fills (fill_id, broker_order_id, symbol, side, qty, price, commission, "
                    "filled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (f"sim-of-{seq:08d}", row["broker_order_id"], leg.symbol, str(leg.side), contracts, price,
                     commission, _ts(now)),
                )  # fmt: skip
                self._move_position(leg.symbol, leg.sign * contracts, price)
                cash_change -= leg.sign * contracts * price * MULTIPLIER + commission
            net = sum(leg.sign * leg.ratio * p for leg, p in zip(legs, prices, strict=True))
            self._ledger.conn.execute("UPDATE sim_account SET cash = cash + ? WHERE id = 1", (cash_change,))
            self._ledger.conn.execute(
                "UPDATE sim_option_orders SET status = ?, filled_qty = qty, filled_avg_price = ?, updated_at = ? "
                "WHERE broker_order_id = ?",
                (str(_STATUS.FILLED), round(net, 4), _ts(now), row["broker_order_id"]),
            )

    def _move_position(self, symbol: str, delta: float, price: float) -> None:
        rows = self._ledger.query("SELECT qty, avg_entry_price FROM sim_option_positions WHERE symbol = ?", (symbol,))
        qty, avg = (rows[0]["qty"], rows[0]["avg_entry_price"]) if rows else (0.0, 0.0)
        qty, avg = _position_after(qty, avg, delta, price)
        if qty == 0:
            self._ledger.conn.execute("DELETE FROM sim_option_positions WHERE symbol = ?", (symbol,))
        else:
            self._ledger.conn.execute(
                "INSERT INTO sim_option_positions (symbol, qty, avg_entry_price) VALUES (?, ?, ?) "
                "ON CONFLICT (symbol) DO UPDATE SET qty = excluded.qty, avg_entry_price = excluded.avg_entry_price",
                (symbol, qty, avg),
            )

    # -- expiry ----------------------------------------------------------------------------------------------
    def _settle_expiries(self, now: datetime) -> None:
        due: dict[tuple[str, date], list[tuple[OptionContract, float]]] = {}
        for symbol, qty in self._position_map().items():
            c = parse_occ(symbol)
            if self._calendar.is_session(c.expiry) and self._calendar.session_close(c.expiry) <= now:
                due.setdefault((c.underlying, c.expiry), []).append((c, qty))
        for (underlying, day), contracts in sorted(due.items()):
            bars = self._md.daily_bars(underlying, day, day)
            if bars is None or bars.empty:
                continue  # the official close is not known yet: settled at a later advance
            self._settle(underlying, float(bars["close"].iloc[-1]), contracts, self._calendar.session_close(day))

    def _settle(self, underlying: str, price: float, contracts: list[tuple[OptionContract, float]],
                at: datetime) -> None:  # fmt: skip
        deliveries: list[tuple[OptionContract, float, float]] = []  # (contract, qty, shares: + in, - out)
        for c, qty in sorted(contracts):
            if c.intrinsic(price) >= 0.01 - _EPS:
                shares = qty * MULTIPLIER * (1 if c.is_call else -1)
                deliveries.append((c, qty, shares))
        net_shares = sum(d[2] for d in deliveries)
        cost = sum(d[2] * d[0].strike for d in deliveries)
        held, cash = self._shares(underlying), self._cash()
        in_cash = bool(deliveries) and (held + net_shares < -_EPS or cost > cash + _EPS)
        with self._ledger.write():
            for c, qty in sorted(contracts):
                itm = next((d for d in deliveries if d[0] == c), None)
                if itm is None:
                    self._event(OptionEventKind.EXPIRED, c.symbol, abs(qty), at)
                elif in_cash:
                    value = qty * MULTIPLIER * c.intrinsic(price)
                    self._ledger.conn.execute("UPDATE sim_account SET cash = cash + ? WHERE id = 1", (value,))
                    self._event(OptionEventKind.CASH_SETTLED, c.symbol, abs(qty), at, cash=value)
                else:
                    shares = itm[2]
                    kind = OptionEventKind.EXERCISED if qty > 0 else OptionEventKind.ASSIGNED
                    self._event(kind, c.symbol, abs(qty), at, share_side=Side.BUY if shares > 0 else Side.SELL,
                                share_qty=abs(shares), share_price=c.strike)  # fmt: skip
                self._ledger.conn.execute("DELETE FROM sim_option_positions WHERE symbol = ?", (c.symbol,))
            if deliveries and not in_cash:
                self._deliver(underlying, deliveries)

    def _deliver(self, underlying: str, deliveries: list[tuple[OptionContract, float, float]]) -> None:
        """Shares in or out at each strike, as one change of the stock position; the cash moves with them."""
        rows = self._ledger.query("SELECT qty, avg_entry_price FROM sim_positions WHERE symbol = ?", (underlying,))
        qty, avg = (rows[0]["qty"], rows[0]["avg_entry_price"]) if rows else (0.0, 0.0)
        for c, _, shares in deliveries:
            if shares > 0:
                qty, avg = qty + shares, (qty * avg + shares * c.strike) / (qty + shares)
            else:
                qty += shares
            self._ledger.conn.execute("UPDATE sim_account SET cash = cash - ? WHERE id = 1", (shares * c.strike,))
        if qty <= _EPS:
            self._ledger.conn.execute("DELETE FROM sim_positions WHERE symbol = ?", (underlying,))
        else:
            self._ledger.conn.execute(
                "INSERT INTO sim_positions (symbol, qty, avg_entry_price) VALUES (?, ?, ?) ON CONFLICT (symbol) "
                "DO UPDATE SET qty = excluded.qty, avg_entry_price = excluded.avg_entry_price",
                (underlying, qty, avg),
            )

    def _event(self, kind: OptionEventKind, symbol: str, qty: float, at: datetime, **more: Any) -> None:
        seq = self._counter("event_seq")
        row = {"event_id": f"sim-oe-{seq:08d}", "kind": str(kind), "symbol": symbol, "qty": qty, "at": _ts(at),
               "share_side": str(more["share_side"]) if more.get("share_side") else None,
               "share_qty": more.get("share_qty", 0.0), "share_price": more.get("share_price"),
               "cash": more.get("cash", 0.0)}  # fmt: skip
        self._ledger.conn.execute(
            f"INSERT INTO sim_option_events ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            tuple(row.values()),
        )

    # -- reads -----------------------------------------------------------------------------------------------
    def _counter(self, name: str) -> int:
        """The next value of one of the desk's id counters (inside the caller's transaction)."""
        self._ledger.conn.execute("INSERT OR IGNORE INTO sim_option_desk (id) VALUES (1)")
        self._ledger.conn.execute(f"UPDATE sim_option_desk SET {name} = {name} + 1 WHERE id = 1")
        return int(self._ledger.scalar(f"SELECT {name} FROM sim_option_desk WHERE id = 1"))

    def _find_row(self, client_order_id: str) -> dict[str, Any] | None:
        rows = self._ledger.query("SELECT * FROM sim_option_orders WHERE client_order_id = ?", (client_order_id,))
        return rows[0] if rows else None

    def _row_legs(self, row: dict[str, Any]) -> list[_Leg]:
        return [_Leg.from_json(d) for d in json.loads(row["legs_json"])]

    def _position_map(self) -> dict[str, float]:
        return {r["symbol"]: r["qty"] for r in self._ledger.query("SELECT symbol, qty FROM sim_option_positions")}

    def _shares(self, underlying: str) -> float:
        return float(self._ledger.scalar("SELECT COALESCE(SUM(qty), 0) FROM sim_positions WHERE symbol = ?",
                                         (underlying,)))  # fmt: skip

    def _cash(self) -> float:
        return float(self._ledger.scalar("SELECT cash FROM sim_account WHERE id = 1") or 0.0)

    def _working_debits(self) -> float:
        rows = self._ledger.query(
            f"SELECT qty, limit_price FROM sim_option_orders WHERE status NOT IN ({', '.join('?' * len(_TERMINAL))})",
            _TERMINAL,
        )
        return sum(max(r["limit_price"], 0.0) * MULTIPLIER * r["qty"] for r in rows)

    def _collateral_total(self, positions: dict[str, float]) -> float:
        by_underlying: dict[str, dict[str, float]] = {}
        for symbol, qty in positions.items():
            by_underlying.setdefault(parse_occ(symbol).underlying, {})[symbol] = qty
        total = 0.0
        for underlying, mine in by_underlying.items():
            owed = collateral(mine, self._shares(underlying), strict=False)
            assert owed is not None
            total += owed
        return total

    def _quotes(self, symbols: list[str]) -> dict[str, OptionQuote]:
        return self._chains.option_quotes([parse_occ(s) for s in symbols]) if symbols else {}

    @staticmethod
    def _mark(quotes: dict[str, OptionQuote], symbol: str, fallback: float) -> float:
        q = quotes.get(symbol)
        return q.mid if q is not None else fallback

    def _good_until(self, now: datetime) -> datetime:
        """The close of the session a day order sent at ``now`` belongs to: today's until its close, else the
        next session's."""
        return self._calendar.next_close(now)

    def _set_status(self, broker_order_id: str, status: BrokerOrderStatus, at: str) -> None:
        self._ledger.conn.execute(
            "UPDATE sim_option_orders SET status = ?, updated_at = ? WHERE broker_order_id = ?",
            (str(status), at, broker_order_id),
        )

    def _order(self, row: dict[str, Any]) -> BrokerOrder:
        legs = self._row_legs(row)
        fills = self._ledger.query(
            "SELECT symbol, SUM(qty) AS qty, SUM(qty * price) / SUM(qty) AS price FROM sim_option_fills "
            "WHERE broker_order_id = ? GROUP BY symbol", (row["broker_order_id"],))  # fmt: skip
        filled = {f["symbol"]: f for f in fills}
        status = row["status"]
        at = _dt(row["submitted_at"])
        children = tuple(
            BrokerOrder(
                broker_order_id=f"{row['broker_order_id']}-{i + 1}", client_order_id="", symbol=leg.symbol,
                side=leg.side, qty=leg.ratio * row["qty"], type=OrderType.LIMIT, time_in_force=TimeInForce.DAY,
                status=status, filled_qty=filled[leg.symbol]["qty"] if leg.symbol in filled else 0.0,
                filled_avg_price=filled[leg.symbol]["price"] if leg.symbol in filled else None,
                submitted_at=at, updated_at=_dt(row["updated_at"]), parent_broker_order_id=row["broker_order_id"],
            )
            for i, leg in enumerate(legs)
        ) if row["order_class"] == str(OrderClass.MLEG) else ()  # fmt: skip
        single = legs[0] if row["order_class"] != str(OrderClass.MLEG) else None
        return BrokerOrder(
            broker_order_id=row["broker_order_id"],
            client_order_id=row["client_order_id"],
            symbol=single.symbol if single else row["underlying"],
            side=Side.BUY if row["limit_price"] >= 0 else Side.SELL,
            qty=row["qty"],
            type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY,
            status=status,
            filled_qty=row["filled_qty"],
            filled_avg_price=abs(row["filled_avg_price"]) if row["filled_avg_price"] is not None else None,
            limit_price=abs(row["limit_price"]),
            order_class=OrderClass(row["order_class"]),
            submitted_at=at,
            updated_at=_dt(row["updated_at"]),
            legs=children,
        )
