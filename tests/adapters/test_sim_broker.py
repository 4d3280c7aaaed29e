"""SimBroker against hand-scripted bars: every price and quantity below is computed by hand.

The fake market data gives each listed session a flat minute bar at the symbol's base price (AAA 100.00,
BBB 50.00) with volume 1000 for every minute, unless a test overrides a bar. With the default 10%
participation cap a bar fills at most 100 shares; with 5 bps slippage a market buy at 100.00 pays 100.05 and a
market sell gets 99.95. DDD has daily bars only.
"""

from __future__ import annotations

import bisect
import shutil
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from autotrader.adapters.sim_broker import SimBroker
from autotrader.clock import ET, MarketCalendar, SimulatedClock
from autotrader.domain.enums import OrderClass, OrderType, Side, TimeInForce
from autotrader.domain.models import OrderRequest, Quote
from autotrader.errors import DuplicateClientOrderId, OrderNotFound, OrderRejected
from autotrader.ledger.db import open_ledger

CAL = MarketCalendar.xnys()
MINUTE = timedelta(minutes=1)

FRI = date(2026, 2, 27)
SAT = date(2026, 2, 28)
MON = date(2026, 3, 2)
TUE = date(2026, 3, 3)
BLACK_FRIDAY = date(2026, 11, 27)  # the day after Thanksgiving: the session closes at 13:00 ET
SESSIONS = (FRI, MON, TUE, BLACK_FRIDAY)
DAYS = {"FRI": FRI, "SAT": SAT, "MON": MON, "TUE": TUE, "BF": BLACK_FRIDAY}


def et(text: str) -> datetime:
    """'MON 10:00:30' (New York wall clock) -> a UTC instant."""
    day, clock = text.split()
    parts = [int(p) for p in clock.split(":")] + [0]
    return datetime(DAYS[day].year, DAYS[day].month, DAYS[day].day, parts[0], parts[1], parts[2], tzinfo=ET).astimezone(
        UTC
    )


# -- the fake market data ------------------------------------------------------------------------------------


class FakeMarketData:
    """Scripted bars, served only once complete at the clock (the MarketData rule)."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.minute_calls = 0
        self.bars: dict[str, dict[datetime, tuple[float, float, float, float, float]]] = {}
        for symbol, price in (("AAA", 100.0), ("BBB", 50.0)):
            self.bars[symbol] = {}
            for day in SESSIONS:
                t = CAL.session_open(day)
                while t < CAL.session_close(day):
                    self.bars[symbol][t] = (price, price, price, price, 1000.0)
                    t += MINUTE
        self.starts = {s: sorted(b) for s, b in self.bars.items()}
        self.daily_only: dict[str, dict[date, tuple[float, float, float, float, float]]] = {
            "DDD": {FRI: (40.0, 40.0, 40.0, 40.0, 10_000.0), MON: (40.0, 40.0, 40.0, 40.0, 10_000.0)}
        }

    # scripting
    def bar(self, symbol: str, when: str, o: float, h: float, lo: float, c: float, v: float = 1000.0) -> None:
        at = et(when)
        assert at in self.bars[symbol], f"{when} is not a session minute"
        self.bars[symbol][at] = (o, h, lo, c, v)

    def flat(self, symbol: str, first: str, last: str, price: float, v: float = 1000.0) -> None:
        t, end = et(first), et(last)
        while t <= end:
            self.bars[symbol][t] = (price, price, price, price, v)
            t += MINUTE

    # MarketData
    def has_symbol(self, symbol: str) -> bool:
        return symbol in self.bars or symbol in self.daily_only or symbol == "VIX"

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        self.minute_calls += 1
        starts = self.starts.get(symbol, [])
        now = self.clock.now()
        lo, hi = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
        keep = [t for t in starts[lo:hi] if t + MINUTE <= now]
        index = pd.DatetimeIndex(keep, name="timestamp")
        rows = [self.bars[symbol][t] for t in keep]
        return pd.DataFrame(rows, index=index, columns=["open", "high", "low", "close", "volume"], dtype=float)

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        now = self.clock.now()
        days, rows = [], []
        for day in SESSIONS:
            if not (start <= day <= end and CAL.session_close(day) <= now):
                continue
            if symbol in self.daily_only:
                if day in self.daily_only[symbol]:
                    days.append(day)
                    rows.append(self.daily_only[symbol][day])
            elif symbol in self.bars:
                minutes = [b for t, b in self.bars[symbol].items() if t.astimezone(ET).date() == day]
                days.append(day)
                rows.append(
                    (
                        minutes[0][0],
                        max(b[1] for b in minutes),
                        min(b[2] for b in minutes),
                        minutes[-1][3],
                        sum(b[4] for b in minutes),
                    )
                )
        index = pd.DatetimeIndex(pd.to_datetime(days), name="date")
        return pd.DataFrame(rows, index=index, columns=["open", "high", "low", "close", "volume"], dtype=float)

    def latest_quote(self, symbol: str) -> Quote | None:
        now = self.clock.now()
        if symbol in self.bars:
            starts = self.starts[symbol]
            i = bisect.bisect_right(starts, now - MINUTE) - 1
            if i < 0:
                return None
            last = self.bars[symbol][starts[i]][3]
            return Quote(symbol, last, last, last, starts[i] + MINUTE)
        frame = self.daily_bars(symbol, date(2026, 1, 1), now.astimezone(ET).date())
        if frame.empty:
            return None
        last = float(frame["close"].iloc[-1])
        return Quote(symbol, last, last, last, now)

    def vix_daily(self, start: date, end: date) -> pd.DataFrame:
        return pd.DataFrame(columns=["open", "high", "low", "close", "volume"])


# -- fixture ---------------------------------------------------------------------------------------------------


class Sim:
    """A SimBroker on a ledger file, a clock to move and the scripted data."""

    def __init__(self, tmp_path, template, **kwargs) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.path = tmp_path / "l.db"
        shutil.copyfile(template, self.path)  # an already-migrated ledger: open_ledger has nothing to do
        self.clock = SimulatedClock(et("MON 09:00"))
        self.md = FakeMarketData(self.clock)
        self.kwargs = kwargs
        self.ledger = open_ledger(self.path)
        self.broker = SimBroker(self.ledger, self.md, CAL, self.clock, **kwargs)

    def at(self, when: str) -> SimBroker:
        self.clock.set(et(when))
        return self.broker

    def restart(self, **kwargs) -> SimBroker:
        """A new process: a fresh connection and a fresh SimBroker on the same ledger file."""
        self.ledger.close()
        self.ledger = open_ledger(self.path)
        self.broker = SimBroker(self.ledger, self.md, CAL, self.clock, **(kwargs or self.kwargs))
        return self.broker

    def order(self, cid: str):
        order = self.broker.order_by_client_id(cid)
        assert order is not None
        return order

    def fills(self):
        return [(f.qty, f.price, f.filled_at) for f in self.broker.fills()]

    def cash(self) -> float:
        return self.ledger.scalar("SELECT cash FROM sim_account")

    def position(self, symbol: str = "AAA"):
        row = self.ledger.query("SELECT qty, avg_entry_price FROM sim_positions WHERE symbol = ?", (symbol,))
        return (row[0]["qty"], row[0]["avg_entry_price"]) if row else None

    def count(self, table: str) -> int:
        return self.ledger.scalar(f"SELECT count(*) FROM {table}")

    def hold(self, qty: float = 100, symbol: str = "AAA") -> None:
        """Buy ``qty`` at MON 09:31's open (flat 100.00 -> 100.05) and advance to 09:45."""
        self.at("MON 09:30:30").submit(req("hold", qty=qty, symbol=symbol))
        self.at("MON 09:45").advance()
        assert self.order("hold").status == "filled"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One migrated ledger file, copied for each test (migrating a fresh file per test is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "l.db"
    open_ledger(path).close()
    return path


@pytest.fixture
def sim(tmp_path, template):
    s = Sim(tmp_path, template)
    yield s
    s.ledger.close()


@pytest.fixture
def make_sim(tmp_path, template):
    made: list[Sim] = []

    def make(**kwargs) -> Sim:
        s = Sim(tmp_path / str(len(made)), template, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.ledger.close()


def req(cid: str, side: str = "buy", qty: float = 10, symbol: str = "AAA", **kw) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side=Side(side), qty=qty, **kw)


def bracket(cid: str, qty: float = 100, tp: float = 103.0, sl: float = 97.0, **kw) -> OrderRequest:
    kw.setdefault("order_class", OrderClass.BRACKET)
    return req(cid, qty=qty, take_profit_limit_price=tp, stop_loss_stop_price=sl, **kw)


def oco(cid: str, qty: float = 100, tp: float = 103.0, sl: float = 97.0, **kw) -> OrderRequest:
    return req(
        cid,
        side="sell",
        qty=qty,
        type=OrderType.LIMIT,
        order_class=OrderClass.OCO,
        take_profit_limit_price=tp,
        stop_loss_stop_price=sl,
        **kw,
    )


# -- market orders -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "bar_at", "expected_price"),
    [
        ("MON 10:00:30", "MON 10:01", 101.05),  # in session: the next bar to start, not the one in progress
        ("MON 10:01:00", "MON 10:01", 101.05),  # exactly on a bar's start: that bar
        ("MON 08:00", "MON 09:30", 101.05),  # before the open: queued for the open
        ("FRI 16:30", "MON 09:30", 101.05),  # after the close, over a weekend
        ("SAT 12:00", "MON 09:30", 101.05),  # on a non-session day
    ],
)
def test_market_order_fills_at_next_bar_open_plus_slippage(sim, submitted, bar_at, expected_price):
    sim.md.bar("AAA", bar_at, 101.0, 101.5, 100.5, 101.2)
    placed = sim.at(submitted).submit(req("m1"))
    assert (placed.status, placed.filled_qty, placed.broker_order_id) == ("new", 0.0, "sim-o-00000001")

    sim.clock.set(et(bar_at) + timedelta(seconds=59))  # the bar is not complete yet
    assert sim.order("m1").status == "new"
    assert sim.fills() == []

    sim.clock.set(et(bar_at) + MINUTE)
    order = sim.order("m1")
    assert (order.status, order.filled_qty, order.filled_avg_price) == ("filled", 10, expected_price)
    assert sim.fills() == [(10, expected_price, et(bar_at))]
    assert sim.position() == (10, expected_price)
    assert sim.cash() == pytest.approx(1_000_000 - 10 * expected_price)


def test_market_sell_receives_slippage_below_the_open(sim):
    sim.hold(100)
    sim.md.bar("AAA", "MON 10:01", 102.0, 102.0, 102.0, 102.0)
    sim.at("MON 10:00:10").submit(req("s1", side="sell", qty=40))
    sim.at("MON 10:05").advance()
    assert sim.fills()[-1] == (40, 101.95, et("MON 10:01"))  # 102 x 0.9995 = 101.949 -> 101.95
    assert sim.position() == (60, 100.05)  # selling leaves the average entry price alone
    assert sim.cash() == pytest.approx(1_000_000 - 100 * 100.05 + 40 * 101.95)


# -- auctions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "accepted", "fills_at"),
    [
        ("MON 03:00", True, "MON 09:30"),
        ("MON 09:27:59", True, "MON 09:30"),
        ("MON 09:28", False, None),
        ("MON 12:00", False, None),
        ("MON 18:59:59", False, None),
        ("MON 19:00", True, "TUE 09:30"),
        ("FRI 21:00", True, "MON 09:30"),
        ("SAT 12:00", True, "MON 09:30"),
    ],
)
def test_opg_window_and_fill_at_the_open(sim, submitted, accepted, fills_at):
    for day in ("MON", "TUE"):
        sim.md.bar("AAA", f"{day} 09:30", 98.0, 99.0, 97.0, 98.5)
    request = req("opg1", time_in_force=TimeInForce.OPG)
    if not accepted:
        with pytest.raises(OrderRejected, match="opg orders must be submitted after 7:00pm and before 9:28am"):
            sim.at(submitted).submit(request)
        assert sim.broker.order_by_client_id("opg1") is None
        assert sim.broker.orders(status="all") == []
        return
    sim.at(submitted).submit(request)
    sim.clock.set(et(fills_at) + MINUTE)
    order = sim.order("opg1")
    assert (order.status, order.filled_avg_price) == ("filled", 98.05)  # 98 x 1.0005 = 98.049
    assert sim.fills() == [(10, 98.05, et(fills_at))]


def test_opg_partial_fill_then_the_rest_is_canceled_after_the_open(sim):
    sim.md.bar("AAA", "MON 09:30", 100.0, 100.0, 100.0, 100.0, v=1500)  # cap: 150 shares
    sim.at("MON 08:00").submit(req("opg2", qty=400, time_in_force=TimeInForce.OPG))
    sim.at("MON 09:31").advance()
    order = sim.order("opg2")
    assert (order.status, order.filled_qty) == ("canceled", 150)
    sim.at("MON 12:00").advance()
    assert sim.order("opg2").filled_qty == 150  # nothing more after the opening auction


def test_opg_limit_on_open_trades_only_at_the_open_print(sim):
    sim.md.bar("AAA", "MON 09:30", 100.0, 100.0, 98.0, 99.0)  # the low would cross; the open does not
    sim.at("MON 08:00").submit(req("loo", type=OrderType.LIMIT, limit_price=99.0, time_in_force=TimeInForce.OPG))
    sim.at("MON 09:31").advance()
    assert (sim.order("loo").status, sim.order("loo").filled_qty) == ("canceled", 0)


@pytest.mark.parametrize(
    ("submitted", "accepted", "close_bar"),
    [
        ("MON 10:00", True, "MON 15:59"),
        ("MON 15:49:59", True, "MON 15:59"),
        ("MON 15:50", False, None),
        ("MON 17:00", False, None),
        ("MON 19:00", True, "TUE 15:59"),
        ("BF 12:49", True, "BF 12:59"),  # early close: the cut-off moves with the close
        ("BF 12:50", False, None),
    ],
)
def test_cls_window_and_fill_at_the_close(sim, submitted, accepted, close_bar):
    request = req("cls1", time_in_force=TimeInForce.CLS)
    if not accepted:
        with pytest.raises(OrderRejected, match="cls orders must be submitted"):
            sim.at(submitted).submit(request)
        assert sim.broker.order_by_client_id("cls1") is None
        return
    sim.md.bar("AAA", close_bar, 100.0, 101.0, 99.0, 102.0)
    sim.at(submitted).submit(request)
    close_at = et(close_bar) + MINUTE
    sim.clock.set(close_at - timedelta(seconds=1))
    assert sim.order("cls1").status == "new"
    sim.clock.set(close_at)
    assert sim.order("cls1").status == "filled"
    assert sim.fills() == [(10, 102.05, close_at)]  # the close, 102 x 1.0005 = 102.051


# -- limit / stop crossing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "otype", "level", "bar", "expected"),
    [
        # limit buy: low <= limit, at min(open, limit), no slippage
        ("buy", "limit", 99.50, (100.0, 100.2, 99.4, 99.8), 99.50),
        ("buy", "limit", 99.50, (99.00, 99.20, 98.8, 99.1), 99.00),  # gaps through: the better open
        ("buy", "limit", 99.50, (100.0, 100.2, 99.51, 99.8), None),
        # limit sell: high >= limit, at max(open, limit)
        ("sell", "limit", 100.50, (100.0, 100.6, 99.9, 100.1), 100.50),
        ("sell", "limit", 100.50, (101.0, 101.2, 100.9, 101.0), 101.00),
        ("sell", "limit", 100.50, (100.0, 100.49, 99.9, 100.1), None),
        # stop sell: low <= stop, at min(open, stop) less slippage
        ("sell", "stop", 99.00, (100.0, 100.0, 98.9, 99.5), 98.95),  # 99 x 0.9995 = 98.9505
        ("sell", "stop", 99.00, (98.00, 98.50, 97.5, 98.0), 97.95),  # gaps through: the worse open
        ("sell", "stop", 99.00, (100.0, 100.0, 99.01, 99.5), None),
        # stop buy: high >= stop, at max(open, stop) plus slippage
        ("buy", "stop", 101.00, (100.0, 101.2, 100.0, 101.0), 101.05),  # 101 x 1.0005 = 101.0505
        ("buy", "stop", 101.00, (102.0, 102.5, 101.5, 102.0), 102.05),  # 102 x 1.0005 = 102.051
        ("buy", "stop", 101.00, (100.0, 100.99, 100.0, 100.5), None),
    ],
)
def test_limit_and_stop_crossing(sim, side, otype, level, bar, expected):
    sim.hold(100)
    sim.md.bar("AAA", "MON 10:00", *bar)
    price_field = "limit_price" if otype == "limit" else "stop_price"
    sim.at("MON 09:50").submit(req("x", side=side, qty=10, type=OrderType(otype), **{price_field: level}))
    sim.at("MON 10:01").advance()
    order = sim.order("x")
    if expected is None:
        assert (order.status, order.filled_qty) == ("new", 0)
        assert len(sim.fills()) == 1  # only the holding
    else:
        assert (order.status, order.filled_avg_price) == ("filled", expected)
        assert sim.fills()[-1] == (10, expected, et("MON 10:00"))


def test_stop_limit_triggered_state_survives_a_restart(sim):
    sim.hold(100)
    # The stop (99) triggers on a gap to 98, under the limit (98.50): no fill on the trigger bar ...
    sim.md.bar("AAA", "MON 10:00", 98.0, 98.2, 97.9, 98.1)
    sim.md.flat("AAA", "MON 10:01", "MON 10:09", 98.0)
    # ... and later it is a plain limit sell at 98.50, even though the stop is never touched again.
    sim.md.bar("AAA", "MON 10:10", 98.2, 98.7, 98.2, 98.6)
    request = req("sl", side="sell", qty=10, type=OrderType.STOP_LIMIT, stop_price=99.0, limit_price=98.5)
    sim.at("MON 09:50").submit(request)
    sim.at("MON 10:05").advance()
    assert sim.order("sl").status == "new"
    sim.restart()
    sim.at("MON 10:11").advance()
    assert (sim.order("sl").status, sim.order("sl").filled_avg_price) == ("filled", 98.5)


def test_trailing_stop_high_water_mark_survives_a_restart(sim):
    sim.hold(100)
    # Quote at submission: 100.00 -> high-water 100, stop 95. 10:05 makes a high of 110 -> stop 104.50.
    sim.md.bar("AAA", "MON 10:05", 100.0, 110.0, 100.0, 108.0)
    sim.md.flat("AAA", "MON 10:06", "MON 10:19", 108.0)
    sim.md.bar("AAA", "MON 10:20", 106.0, 106.0, 104.0, 104.0)  # low 104 <= 104.50: triggers
    sim.at("MON 10:00:30").submit(req("tr", side="sell", qty=100, type=OrderType.TRAILING_STOP, trail_percent=5.0))
    assert sim.order("tr").stop_price == 95.0

    sim.at("MON 10:10").advance()
    assert sim.ledger.scalar("SELECT high_water FROM sim_orders WHERE client_order_id = 'tr'") == 110.0
    assert sim.order("tr").stop_price == 104.5

    broker = sim.restart()  # a new process must go on from the stored high-water mark, not from 108
    sim.at("MON 10:20:59").advance()
    assert broker.order_by_client_id("tr").status == "new"
    sim.at("MON 10:21").advance()
    order = broker.order_by_client_id("tr")
    # min(open 106, stop 104.50) = 104.50, less 5 bps = 104.44775 -> 104.45
    assert (order.status, order.filled_avg_price) == ("filled", 104.45)
    assert sim.fills()[-1] == (100, 104.45, et("MON 10:20"))
    assert sim.position() is None  # sold out: the row is gone


# -- partial fills and expiry ---------------------------------------------------------------------------------


def test_market_order_fills_over_several_bars_capped_by_volume(sim):
    sim.md.bar("AAA", "MON 10:02", 100.0, 100.0, 100.0, 100.0, v=555)  # 10% = 55.5 -> 55 whole shares
    sim.md.bar("AAA", "MON 10:03", 101.0, 101.0, 101.0, 101.0)
    sim.at("MON 10:00:30").submit(req("big", qty=250))
    sim.at("MON 10:03").advance()
    order = sim.order("big")
    assert (order.status, order.filled_qty, order.filled_avg_price) == ("partially_filled", 155, 100.05)
    sim.at("MON 10:04").advance()
    order = sim.order("big")
    assert [f[0] for f in sim.fills()] == [100, 55, 95]
    assert order.status == "filled"
    assert order.filled_avg_price == pytest.approx((155 * 100.05 + 95 * 101.05) / 250)
    assert sim.position() == (250, pytest.approx((155 * 100.05 + 95 * 101.05) / 250))


def test_day_order_partially_filled_expires_at_the_13_00_early_close(sim):
    sim.md.bar("AAA", "BF 12:55", 99.0, 99.2, 98.9, 99.0, v=300)  # cap 30
    sim.md.bar("AAA", "BF 12:57", 98.5, 98.8, 98.4, 98.6, v=300)  # cap 30, opens under the limit
    sim.at("BF 12:50").submit(req("d", qty=100, type=OrderType.LIMIT, limit_price=99.0))
    sim.at("BF 12:59:59").advance()
    order = sim.order("d")
    assert (order.status, order.filled_qty) == ("partially_filled", 60)
    assert order.filled_avg_price == pytest.approx((30 * 99.0 + 30 * 98.5) / 60)
    sim.at("BF 13:00").advance()
    order = sim.order("d")
    assert (order.status, order.filled_qty) == ("expired", 60)  # what filled stays filled
    assert order.updated_at == et("BF 13:00")
    assert sim.position() == (60, pytest.approx(98.75))


def test_gtc_order_outlives_the_session_and_day_order_does_not(sim):
    sim.at("MON 10:00").submit(req("day", type=OrderType.LIMIT, limit_price=90.0))
    sim.broker.submit(req("gtc", type=OrderType.LIMIT, limit_price=90.0, time_in_force=TimeInForce.GTC))
    sim.md.bar("AAA", "TUE 10:00", 91.0, 91.0, 89.0, 90.0)
    sim.at("TUE 10:01").advance()
    assert sim.order("day").status == "expired"
    assert (sim.order("gtc").status, sim.order("gtc").filled_avg_price) == ("filled", 90.0)


@pytest.mark.parametrize(("fractionable", "accepted"), [(True, True), (False, False)])
def test_fractional_market_day_order(make_sim, fractionable, accepted):
    sim = make_sim(fractionable=fractionable)
    if not accepted:
        with pytest.raises(OrderRejected, match="requested asset is not fractionable"):
            sim.at("MON 10:00:30").submit(req("f", qty=2.5))
        return
    sim.at("MON 10:00:30").submit(req("f", qty=2.5))
    sim.at("MON 10:02").advance()
    assert sim.fills() == [(2.5, 100.05, et("MON 10:01"))]
    assert sim.position() == (2.5, 100.05)


def test_whole_share_orders_never_get_a_fraction_left_by_a_fractional_one(sim):
    sim.at("MON 10:00:30").submit(req("frac", qty=2.5))  # takes 2.5 of the bar's 100
    sim.broker.submit(req("whole", qty=100, time_in_force=TimeInForce.GTC))
    sim.at("MON 10:02").advance()
    assert sim.fills() == [(2.5, 100.05, et("MON 10:01")), (97, 100.05, et("MON 10:01"))]


# -- bracket and OCO -------------------------------------------------------------------------------------------


def test_bracket_legs_are_held_until_the_entry_fills_and_never_fill_on_the_entry_bar(sim):
    # The entry's bar crosses both exits and has volume to spare; still, they must not fill on it.
    sim.md.bar("AAA", "MON 10:01", 100.0, 104.0, 96.0, 100.0, v=5000)
    sim.md.bar("AAA", "MON 10:05", 100.0, 103.5, 99.5, 103.2)
    placed = sim.at("MON 10:00:30").submit(bracket("b"))
    assert placed.order_class == OrderClass.BRACKET
    assert [(leg.client_order_id, leg.status, leg.side) for leg in placed.legs] == [
        ("b-tp", "held", Side.SELL),
        ("b-sl", "held", Side.SELL),
    ]
    assert [leg.parent_broker_order_id for leg in placed.legs] == [placed.broker_order_id] * 2

    sim.at("MON 10:02").advance()
    order = sim.order("b")
    assert order.status == "filled"
    assert [leg.status for leg in order.legs] == ["new", "new"]
    assert len(sim.fills()) == 1

    sim.at("MON 10:06").advance()
    order = sim.order("b")
    assert [(leg.status, leg.filled_qty, leg.filled_avg_price) for leg in order.legs] == [
        ("filled", 100, 103.0),  # a limit sell at max(open 100, 103)
        ("canceled", 0, None),  # one cancels other
    ]
    assert sim.order("b-sl").status == "canceled"  # legs are found by their own client id too
    assert sim.position() is None
    assert sim.cash() == pytest.approx(1_000_000 - 100 * 100.05 + 100 * 103.0)


def test_bracket_legs_stay_held_through_a_partial_entry(sim):
    sim.at("MON 10:00:30").submit(bracket("b", qty=150))
    sim.at("MON 10:02").advance()  # 100 of 150
    order = sim.order("b")
    assert (order.status, [leg.status for leg in order.legs]) == ("partially_filled", ["held", "held"])
    sim.at("MON 10:03").advance()
    order = sim.order("b")
    assert (order.status, [leg.status for leg in order.legs]) == ("filled", ["new", "new"])


def test_canceling_a_bracket_parent_cancels_its_legs(sim):
    sim.at("MON 10:00").submit(bracket("b", type=OrderType.LIMIT, limit_price=95.0, tp=99.0, sl=90.0))
    sim.broker.cancel(sim.order("b").broker_order_id)
    order = sim.order("b")
    assert [order.status, *[leg.status for leg in order.legs]] == ["canceled"] * 3
    sim.at("MON 10:30").advance()
    assert sim.broker.orders(status="open") == []


def test_oco_stop_fills_and_cancels_the_take_profit(sim):
    sim.hold(100)
    sim.md.bar("AAA", "MON 10:05", 100.0, 100.0, 96.5, 97.0)
    placed = sim.at("MON 10:00").submit(oco("o"))
    assert (placed.type, placed.limit_price, placed.status) == (OrderType.LIMIT, 103.0, "new")
    assert [(leg.client_order_id, leg.type, leg.stop_price, leg.status) for leg in placed.legs] == [
        ("o-sl", OrderType.STOP, 97.0, "new")
    ]
    sim.at("MON 10:06").advance()
    order = sim.order("o")
    assert order.status == "canceled"
    assert (order.legs[0].status, order.legs[0].filled_avg_price) == ("filled", 96.95)  # 97 x 0.9995
    assert sim.position() is None


def test_oco_partial_take_profit_reduces_what_the_stop_may_fill(sim):
    sim.hold(100)
    sim.md.bar("AAA", "MON 10:05", 100.0, 103.5, 100.0, 103.0, v=300)  # take-profit fills 30
    sim.md.bar("AAA", "MON 10:06", 96.0, 96.0, 95.0, 95.5)  # gaps through the stop
    sim.at("MON 10:00").submit(oco("o"))
    sim.at("MON 10:06").advance()
    order = sim.order("o")
    assert (order.status, order.filled_qty, order.legs[0].status) == ("partially_filled", 30, "new")
    sim.at("MON 10:07").advance()
    order = sim.order("o")
    assert (order.status, order.filled_qty) == ("canceled", 30)
    assert (order.legs[0].status, order.legs[0].filled_qty, order.legs[0].filled_avg_price) == ("filled", 70, 95.95)
    assert sim.position() is None


# -- synchronous rejections ---------------------------------------------------------------------------------------


REJECTIONS = [
    ("unknown symbol", req("r", symbol="ZZZZ"), "not_tradable", 'asset "ZZZZ" not found'),
    ("an index", req("r", symbol="VIX"), "not_tradable", "VIX"),
    ("untradable", req("r", symbol="BBB"), "not_tradable", "not tradable"),
    ("sub-penny limit", req("r", type=OrderType.LIMIT, limit_price=99.505), "sub_penny", "sub-penny increment"),
    ("sub-penny under $1", req("r", type=OrderType.LIMIT, limit_price=0.12345), "sub_penny", "limit_price 0.12345"),
    ("sub-penny stop", req("r", side="sell", type=OrderType.STOP, stop_price=98.001), "sub_penny", "stop_price"),
    ("sub-penny take-profit", bracket("r", tp=103.001), "sub_penny", "take_profit.limit_price"),
    ("sub-penny stop-loss", bracket("r", sl=96.999), "sub_penny", "stop_loss.stop_price"),
    ("fractional bracket", bracket("r", qty=1.5), "not_fractionable", "requested asset is not fractionable"),
    ("fractional limit", req("r", qty=1.5, type=OrderType.LIMIT, limit_price=99.0), "not_fractionable", "market"),
    ("bracket opg", bracket("r", time_in_force=TimeInForce.OPG), "invalid_order", "bracket orders must be day or gtc"),
    ("tp under sl", bracket("r", tp=96.0, sl=97.0), "invalid_order", "take_profit.limit_price must be > stop_loss"),
    ("sl over base", bracket("r", tp=103.0, sl=100.5), "invalid_order", "stop_loss.stop_price must be <= base_price"),
    (
        "oco buy",
        OrderRequest(
            client_order_id="r",
            symbol="AAA",
            side=Side.BUY,
            qty=10,
            type=OrderType.LIMIT,
            order_class=OrderClass.OCO,
            take_profit_limit_price=97.0,
            stop_loss_stop_price=103.0,
        ),
        "invalid_order",
        "side must be sell",
    ),
    ("too big", req("r", qty=10_000), "insufficient_buying_power", "insufficient buying power"),
    ("short", req("r", side="sell", qty=5, symbol="AAA"), "insufficient_qty", "(requested: 5, available: 0)"),
    ("opg at noon", req("r", time_in_force=TimeInForce.OPG), "auction_window", "opg orders must be submitted"),
    ("limit without price", req("r", type=OrderType.LIMIT), "invalid_order", "limit orders require a limit price"),
]


@pytest.mark.parametrize(("name", "request_", "reason", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejections_store_nothing(make_sim, name, request_, reason, message):
    sim = make_sim(untradable={"BBB"}, starting_cash=100_000)
    sim.at("MON 12:00")
    sim.broker.submit(req("other", type=OrderType.LIMIT, limit_price=90.0))  # something already there
    before = (sim.count("sim_orders"), sim.cash(), sim.ledger.scalar("SELECT order_seq FROM sim_account"))
    with pytest.raises(OrderRejected) as caught:
        sim.broker.submit(request_)
    assert caught.value.reason == reason
    assert message in caught.value.message
    assert (sim.count("sim_orders"), sim.cash(), sim.ledger.scalar("SELECT order_seq FROM sim_account")) == before
    assert sim.broker.order_by_client_id("r") is None


def test_buying_power_excludes_open_buys(make_sim):
    sim = make_sim(starting_cash=20_000)
    sim.at("MON 10:00").submit(req("a", qty=100, type=OrderType.LIMIT, limit_price=99.0))  # reserves 9,900
    # 99 more shares at ask 100 + 5 bps = 100.05 -> 9,904.95 <= 10,100 ...
    sim.broker.submit(req("b", qty=99))
    # ... and now 10,100 - 9,904.95 = 195.05 is left: 2 shares (200.10) are too many.
    with pytest.raises(OrderRejected, match="insufficient buying power") as caught:
        sim.broker.submit(req("c", qty=2))
    assert caught.value.reason == "insufficient_buying_power"
    assert sim.broker.account().buying_power == pytest.approx(20_000 - 9_900 - 99 * 100.05)
    sim.broker.submit(req("d", qty=1))


@pytest.mark.parametrize(
    ("existing", "qty", "available"),
    [
        ([], 150, 100),
        ([req("s1", side="sell", qty=60, type=OrderType.LIMIT, limit_price=110.0)], 50, 40),
        # an OCO's two legs sell the same shares: 70 are held once, not twice
        ([oco("o1", qty=70)], 31, 30),
    ],
)
def test_sells_are_limited_to_shares_not_held_by_other_sells(sim, existing, qty, available):
    sim.hold(100)
    for request in existing:
        sim.broker.submit(request)
    with pytest.raises(OrderRejected) as caught:
        sim.broker.submit(req("s", side="sell", qty=qty))
    assert caught.value.reason == "insufficient_qty"
    assert caught.value.message == f"insufficient qty available for order (requested: {qty}, available: {available})"
    sim.broker.submit(req("ok", side="sell", qty=available))  # exactly what is left is fine


def test_bracket_exit_legs_reserve_the_position_once(sim):
    sim.at("MON 10:00:30").submit(bracket("b", qty=100))
    sim.at("MON 10:02").advance()
    with pytest.raises(OrderRejected, match=r"available: 0\)"):
        sim.broker.submit(req("s", side="sell", qty=1))


def test_duplicate_client_order_id_even_after_cancel(sim):
    placed = sim.at("MON 10:00").submit(req("dup", type=OrderType.LIMIT, limit_price=90.0))
    sim.broker.cancel(placed.broker_order_id)
    with pytest.raises(DuplicateClientOrderId, match="client_order_id must be unique"):
        sim.broker.submit(req("dup", type=OrderType.LIMIT, limit_price=91.0))
    assert sim.count("sim_orders") == 1
    assert sim.order("dup").limit_price == 90.0


def test_cancel_unknown_id_and_cancel_twice(sim):
    sim.hold(10)
    with pytest.raises(OrderNotFound):
        sim.at("MON 10:00").cancel("sim-o-99999999")
    placed = sim.broker.submit(req("c", type=OrderType.LIMIT, limit_price=90.0))
    sim.broker.cancel(placed.broker_order_id)
    sim.broker.cancel(placed.broker_order_id)
    assert sim.order("c").status == "canceled"
    sim.broker.cancel(sim.order("hold").broker_order_id)  # already filled: no error, no change
    assert sim.order("hold").status == "filled"


# -- money -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("per_share", "minimum", "qty", "commission"),
    [
        (0.0, 0.0, 100, 0.0),
        (0.0, 1.0, 100, 0.0),  # no per-share rate: no commission at all
        (0.005, 1.0, 100, 1.0),  # 0.50 -> the minimum
        (0.005, 1.0, 300, 1.5),
    ],
)
def test_commission_comes_out_of_cash(make_sim, per_share, minimum, qty, commission):
    sim = make_sim(commission_per_share=per_share, commission_min=minimum, max_volume_pct=None)
    sim.at("MON 10:00:30").submit(req("c", qty=qty))
    sim.at("MON 10:02").advance()
    (fill,) = sim.broker.fills()
    assert fill.commission == pytest.approx(commission)
    assert sim.cash() == pytest.approx(1_000_000 - qty * 100.05 - commission)


def test_cash_position_and_average_price_through_buys_and_sells(sim):
    sim.md.bar("AAA", "MON 10:01", 101.0, 101.0, 101.0, 101.0)
    sim.md.bar("AAA", "MON 10:10", 120.0, 120.0, 120.0, 120.0)
    sim.md.bar("AAA", "MON 10:20", 80.0, 80.0, 80.0, 80.0, v=2000)  # room for 200 shares
    sim.hold(100)  # 100 @ 100.05
    sim.at("MON 10:00:30").submit(req("b2", qty=100))  # 100 @ 101.05
    sim.at("MON 10:09:30").submit(req("s1", side="sell", qty=50))  # 50 @ 119.94
    sim.at("MON 10:19:30").submit(req("s2", side="sell", qty=150))  # 150 @ 79.96
    assert sim.position() == (150, pytest.approx(100.55))
    sim.at("MON 10:30").advance()
    assert sim.position() is None
    assert sim.cash() == pytest.approx(1_000_000 - 100 * 100.05 - 100 * 101.05 + 50 * 119.94 + 150 * 79.96)
    account = sim.broker.account()
    assert (account.cash, account.equity) == (pytest.approx(sim.cash()), pytest.approx(sim.cash()))


def test_account_equity_marks_positions_to_the_last_trade(sim):
    sim.hold(100)
    sim.md.flat("AAA", "MON 09:46", "MON 09:59", 102.0)
    sim.at("MON 10:00")
    account = sim.broker.account()
    assert account.cash == pytest.approx(1_000_000 - 100 * 100.05)
    assert account.equity == pytest.approx(account.cash + 100 * 102.0)
    (position,) = sim.broker.positions()
    assert (position.symbol, position.qty, position.market_value) == ("AAA", 100, pytest.approx(10_200))


# -- time, persistence, determinism ----------------------------------------------------------------------------


def test_advance_never_goes_backwards(sim):
    sim.at("MON 10:00:30").submit(req("m", qty=10))
    assert sim.at("MON 10:05").advance() == et("MON 10:05")
    assert len(sim.fills()) == 1
    assert sim.at("MON 10:00").advance() == et("MON 10:05")  # the past changes nothing
    assert sim.ledger.scalar("SELECT advanced_to FROM sim_account").startswith("2026-03-02T15:05:00")
    sim.broker.submit(req("late", type=OrderType.LIMIT, limit_price=90.0))
    sim.at("MON 10:10").advance()
    assert len(sim.fills()) == 1  # bars are never processed twice
    assert sim.cash() == pytest.approx(1_000_000 - 10 * 100.05)


def test_advancing_with_no_open_order_reads_no_bars(sim):
    sim.at("MON 10:00").advance()
    sim.at("TUE 15:00").advance()
    assert sim.md.minute_calls == 0
    assert sim.ledger.scalar("SELECT advanced_to FROM sim_account").startswith("2026-03-03T20:00:00")


class RangedMarketData(FakeMarketData):
    """The scripted bars, plus each session's whole range (``ports.SessionRanges``), as the synthetic world knows
    it: the extremes of the session's minute bars, whatever the clock."""

    def session_range(self, symbol: str, day: date) -> tuple[float, float] | None:
        minutes = [b for t, b in self.bars.get(symbol, {}).items() if t.astimezone(ET).date() == day]
        return (min(b[2] for b in minutes), max(b[1] for b in minutes)) if minutes else None


@pytest.mark.parametrize(("limit", "reached"), [(98.0, True), (99.5, False)])
def test_a_session_no_resting_order_can_reach_is_passed_over_with_the_same_result(make_sim, limit, reached):
    # Monday dips to 98.00 at 14:00 and is flat at 100.00 otherwise; a resting buy limit below the market.
    results = []
    for ranged in (False, True):
        s = make_sim()
        if ranged:
            s.md = RangedMarketData(s.clock)
            s.broker = SimBroker(s.ledger, s.md, CAL, s.clock)
        s.md.bar("AAA", "MON 14:00", 100.0, 100.0, 98.0 if reached else 99.8, 99.9)
        s.at("MON 09:00").submit(req("lim", type=OrderType.LIMIT, limit_price=limit, time_in_force=TimeInForce.GTC))
        s.md.minute_calls = 0
        for when in ("MON 10:00", "MON 12:00", "MON 15:00", "MON 16:30", "TUE 12:00"):
            s.at(when).advance()
        order = s.order("lim")
        results.append((order.status, order.filled_qty, order.filled_avg_price, s.fills(), s.cash()))
        if ranged and not reached:
            assert s.md.minute_calls == 0  # neither Monday's nor Tuesday's minutes were read
        elif ranged:
            assert s.md.minute_calls > 0
    assert results[0] == results[1]
    assert (results[1][0] == "filled") is (limit == 98.0 and reached)


def test_an_order_placed_after_its_session_was_judged_out_of_reach_is_judged_afresh(make_sim):
    # Monday dips to 98.00 at 14:00; a buy limit at 97.00 rests out of the session's reach until noon, when it is
    # cancelled and one at 98.00 placed instead.
    s = make_sim()
    s.md = RangedMarketData(s.clock)
    s.broker = SimBroker(s.ledger, s.md, CAL, s.clock)
    s.md.bar("AAA", "MON 14:00", 100.0, 100.0, 98.0, 99.9)
    s.at("MON 09:00").submit(req("far", type=OrderType.LIMIT, limit_price=97.0, time_in_force=TimeInForce.GTC))
    s.at("MON 10:00").advance()
    s.at("MON 12:00").advance()
    s.broker.cancel(s.order("far").broker_order_id)
    s.broker.submit(req("near", type=OrderType.LIMIT, limit_price=98.0, time_in_force=TimeInForce.GTC))
    s.at("MON 15:00").advance()
    assert (s.order("far").status, s.order("near").status) == ("canceled", "filled")
    assert [price for _, price, _ in s.fills()] == [98.0]


def test_advancing_with_no_open_order_is_one_query(sim):
    sim.at("MON 10:00").advance()  # creates the account
    statements: list[str] = []
    sim.ledger.conn.set_trace_callback(statements.append)
    try:
        sim.at("MON 11:00").advance()
    finally:
        sim.ledger.conn.set_trace_callback(None)
    reads = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, statements


def test_state_persists_across_instances(sim):
    sim.at("MON 10:00:30").submit(req("m", qty=10))
    sim.broker.submit(req("lim", type=OrderType.LIMIT, limit_price=90.0, time_in_force=TimeInForce.GTC))
    broker = sim.restart(starting_cash=5.0)  # an existing account keeps its cash
    sim.at("MON 10:02")
    assert broker.order_by_client_id("m").status == "filled"
    assert broker.account().cash == pytest.approx(1_000_000 - 10 * 100.05)
    assert broker.submit(req("next", type=OrderType.LIMIT, limit_price=90.0)).broker_order_id == "sim-o-00000003"
    assert [o.client_order_id for o in broker.orders(status="open")] == ["lim", "next"]


def test_ids_are_sequential_and_replays_reproduce_them(make_sim):
    def script(sim: Sim):
        sim.md.bar("BBB", "MON 10:01", 50.0, 50.0, 50.0, 50.0, v=200)  # 20 per bar
        sim.md.bar("AAA", "MON 10:02", 100.0, 100.0, 99.0, 99.0)
        sim.at("MON 10:00:30").submit(req("a", qty=50, symbol="BBB"))
        sim.broker.submit(req("b", qty=10, type=OrderType.LIMIT, limit_price=99.5))
        sim.at("MON 10:05").advance()
        return [(f.fill_id, f.broker_order_id, f.symbol, f.qty, f.price, f.filled_at) for f in sim.broker.fills()]

    first, second = script(make_sim()), script(make_sim())
    assert first == second
    # ids follow time, then symbol: 10:01 BBB 20 (the volume cap), 10:02 AAA 10, 10:02 BBB 30
    assert [(f[0], f[1], f[2], f[3], f[5]) for f in first] == [
        ("sim-f-00000001", "sim-o-00000001", "BBB", 20, et("MON 10:01")),
        ("sim-f-00000002", "sim-o-00000002", "AAA", 10, et("MON 10:02")),
        ("sim-f-00000003", "sim-o-00000001", "BBB", 30, et("MON 10:02")),
    ]


def test_fills_after_and_orders_after(sim):
    sim.at("MON 10:00:30").submit(req("a"))
    sim.at("MON 10:03:30").submit(req("b"))
    sim.at("MON 10:10").advance()
    fills = sim.broker.fills()
    assert [f.filled_at for f in fills] == [et("MON 10:01"), et("MON 10:04")]
    assert len({f.fill_id for f in fills}) == 2
    assert sim.broker.fills(after=fills[0].filled_at) == fills[1:]
    assert sim.broker.fills(after=fills[1].filled_at) == []
    assert [o.client_order_id for o in sim.broker.orders(after=et("MON 10:01"))] == ["b"]
    assert sim.broker.orders(status="open") == []
    assert [o.client_order_id for o in sim.broker.orders(status="closed")] == ["a", "b"]


# -- daily-only data ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "request_", "daily_bar", "expected"),
    [
        ("MON 08:00", req("d", symbol="DDD"), (40.0, 41.0, 39.0, 40.5), 40.02),  # the open, 40 x 1.0005
        ("MON 11:00", req("d", symbol="DDD"), (40.0, 41.0, 39.0, 41.0), 41.02),  # mid-session: only the close
        ("MON 08:00", req("d", symbol="DDD", type=OrderType.LIMIT, limit_price=39.5), (40.0, 41.0, 39.0, 40.5), 39.5),
        ("MON 08:00", req("d", symbol="DDD", type=OrderType.LIMIT, limit_price=38.5), (40.0, 41.0, 39.0, 40.5), None),
    ],
)
def test_daily_only_symbol_fills_against_the_session_bar(sim, submitted, request_, daily_bar, expected):
    sim.md.daily_only["DDD"][MON] = (*daily_bar, 10_000.0)
    sim.at(submitted).submit(request_)
    sim.at("MON 15:59:59").advance()
    assert sim.order("d").status == "new"  # a daily bar is complete only at the close
    sim.at("MON 16:00").advance()
    order = sim.order("d")
    if expected is None:
        assert order.status == "expired"
        return
    assert (order.status, order.filled_avg_price) == ("filled", expected)
    assert sim.fills() == [(10, expected, et("MON 16:00"))]


# -- small reads ------------------------------------------------------------------------------------------------


def test_clock_and_asset(make_sim):
    sim = make_sim(untradable={"BBB"}, fractionable=False)
    clock = sim.at("MON 10:00").clock()
    assert (clock.timestamp, clock.is_open, clock.next_open, clock.next_close) == (
        et("MON 10:00"),
        True,
        et("TUE 09:30"),
        et("MON 16:00"),
    )
    clock = sim.at("SAT 12:00").clock()
    assert (clock.is_open, clock.next_open, clock.next_close) == (False, et("MON 09:30"), et("MON 16:00"))
    assert sim.broker.asset("ZZZZ") is None
    assert sim.broker.asset("VIX").tradable is False
    assert sim.broker.asset("BBB").tradable is False
    aaa = sim.broker.asset("AAA")
    assert (aaa.tradable, aaa.fractionable, aaa.shortable) == (True, False, False)


def test_time_travel_flag():
    assert SimBroker.time_travel is True


@pytest.mark.parametrize(
    ("tif", "qty", "status", "filled"),
    [
        (TimeInForce.IOC, 150, "canceled", 100),  # what the next bar allows, the rest canceled
        (TimeInForce.FOK, 150, "canceled", 0),  # all or nothing
        (TimeInForce.FOK, 100, "filled", 100),
    ],
)
def test_immediate_or_cancel_and_fill_or_kill(sim, tif, qty, status, filled):
    sim.at("MON 10:00:30").submit(req("i", qty=qty, time_in_force=tif))
    sim.at("MON 10:10").advance()
    order = sim.order("i")
    assert (order.status, order.filled_qty) == (status, filled)


def test_oto_entry_with_one_stop_leg_and_open_listing(sim):
    sim.md.bar("AAA", "MON 10:05", 98.0, 98.0, 96.0, 96.5)
    placed = sim.at("MON 10:00:30").submit(bracket("t", tp=None, sl=97.0, order_class=OrderClass.OTO))
    assert [(leg.client_order_id, leg.status) for leg in placed.legs] == [("t-sl", "held")]
    sim.at("MON 10:02").advance()
    # the entry is done but its stop is live: the group is still listed as open
    (listed,) = sim.broker.orders(status="open")
    assert (listed.client_order_id, listed.status, listed.legs[0].status) == ("t", "filled", "new")
    sim.at("MON 10:06").advance()
    assert (sim.order("t-sl").status, sim.order("t-sl").filled_avg_price) == ("filled", 96.95)  # min(98, 97) - 5 bps
    assert sim.broker.orders(status="open") == []
    assert sim.position() is None


# -- the numbered feed of order changes (ports.OrderChanges) ---------------------------------------------------------


def _changed(broker: SimBroker, after: int) -> list[tuple[str, str, float]]:
    return [(o.client_order_id, o.status, o.filled_qty) for o in broker.orders_changed(after)]


def test_the_feed_names_each_order_placed_filled_or_cancelled_once_after_the_cursor(sim):
    broker = sim.at("MON 09:30:30")
    assert broker.change_cursor() == 0 and broker.orders_changed(0) == []
    broker.submit(req("mkt", qty=10))
    broker.submit(req("lim", qty=10, type=OrderType.LIMIT, limit_price=90.0, time_in_force=TimeInForce.GTC))
    placed = broker.change_cursor()
    assert _changed(broker, 0) == [("mkt", "new", 0), ("lim", "new", 0)]

    sim.at("MON 09:45")  # the market order fills on 09:31's bar; the limit at 90 rests, unchanged
    filled = broker.change_cursor()
    assert filled > placed and _changed(broker, placed) == [("mkt", "filled", 10)]
    sim.at("MON 10:30")
    assert broker.change_cursor() == filled and _changed(broker, filled) == []  # a quiet half hour: nothing

    broker.cancel(sim.order("lim").broker_order_id)
    assert _changed(broker, filled) == [("lim", "canceled", 0)]


def test_the_feed_reports_a_bracket_as_its_group_and_not_a_trailing_stops_moving_stop(sim):
    sim.hold(100)
    broker = sim.at("MON 10:00:30")
    broker.submit(req("tr", side="sell", qty=50, type=OrderType.TRAILING_STOP, trail_percent=5.0))
    broker.submit(bracket("b", qty=10, type=OrderType.LIMIT, limit_price=100.0, tp=120.0, sl=80.0))
    before = broker.change_cursor()
    # 10:05 makes a new high: the trailing stop's stop price moves up, which is no change of status or fills;
    # the bracket's entry fills at its limit, so its group (listed once, by the parent) changes.
    sim.md.bar("AAA", "MON 10:05", 100.0, 110.0, 100.0, 108.0)
    sim.md.flat("AAA", "MON 10:06", "MON 10:19", 108.0)
    sim.at("MON 10:10")
    assert sim.order("tr").stop_price == 104.5
    changed = broker.orders_changed(before)
    assert [(o.client_order_id, o.status) for o in changed] == [("b", "filled")]
    assert [(leg.client_order_id, leg.status) for leg in changed[0].legs] == [("b-tp", "new"), ("b-sl", "new")]


def test_the_quantities_held_are_the_positions_quantities_unvalued(sim):
    sim.hold(100)
    broker = sim.at("MON 10:00")
    broker.submit(req("b", qty=20, symbol="BBB"))
    sim.at("MON 10:30")
    assert broker.position_quantities() == {"AAA": 100, "BBB": 20}
    assert broker.position_quantities() == {p.symbol: p.qty for p in broker.positions()}
