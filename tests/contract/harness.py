"""Harnesses for the Broker contract suite: one per ``ports.Broker`` implementation.

A harness owns a broker and the world around it (clock, market data, a fake server...) and exposes only what
the contract tests need. To add an implementation (e.g. the Alpaca adapter against a loopback fake server),
subclass ``BrokerHarness`` and register the class in ``HARNESSES``; every contract test then runs against it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pandas as pd

from autotrader.clock import ET, MarketCalendar, SimulatedClock
from autotrader.domain.models import Quote
from autotrader.ports import Broker

MINUTE = timedelta(minutes=1)
COLUMNS = ["open", "high", "low", "close", "volume"]


class BrokerHarness(ABC):
    """What a contract test may use. Nothing here names an implementation."""

    name: ClassVar[str]
    #: The broker under test, used only through the ``ports.Broker`` protocol.
    broker: Broker
    #: The NYSE calendar the broker's clock must agree with.
    calendar: MarketCalendar
    #: A tradable symbol with market data, and roughly where it trades (within a percent or so).
    symbol: str
    price: float
    #: Where every test begins: an instant during a regular session.
    start: datetime
    #: A symbol the broker certainly does not know, and an order id it certainly never issued.
    unknown_symbol: str = "ZZZZQ"
    unknown_order_id: str = "00000000-0000-4000-8000-000000000000"

    @abstractmethod
    def advance_to(self, at: datetime) -> None:
        """Move the broker's world forward to ``at`` (UTC, aware) and let it process what happened meanwhile."""

    @abstractmethod
    def make_untradable(self, symbol: str) -> None:
        """From now on the broker knows ``symbol`` but refuses to trade it (a halted or delisted asset)."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op unless the harness holds something
        """Release what the harness holds (connections, servers)."""


# -- the embedded simulator -----------------------------------------------------------------------------------


class FlatMarketData:
    """One symbol trading flat at ``price`` with deep volume in every regular-session minute."""

    def __init__(self, clock: SimulatedClock, calendar: MarketCalendar, symbol: str, price: float) -> None:
        self.clock, self.calendar, self.symbol, self.price = clock, calendar, symbol, price

    def has_symbol(self, symbol: str) -> bool:
        return symbol == self.symbol

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        end = min(end, self.clock.now() - MINUTE + timedelta(microseconds=1))
        starts: list[datetime] = []
        if symbol == self.symbol and start < end:
            for day in self.calendar.sessions_between(start.astimezone(ET).date(), end.astimezone(ET).date()):
                t = self.calendar.session_open(day)
                while t < self.calendar.session_close(day):
                    if start <= t < end:
                        starts.append(t)
                    t += MINUTE
        p = self.price
        index = pd.DatetimeIndex(starts, name="timestamp", tz=UTC)
        return pd.DataFrame([(p, p, p, p, 1e6)] * len(starts), index=index, columns=COLUMNS, dtype=float)

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        now = self.clock.now()
        days = [
            d
            for d in self.calendar.sessions_between(start, end)
            if symbol == self.symbol and self.calendar.session_close(d) <= now
        ]
        p = self.price
        index = pd.DatetimeIndex(pd.to_datetime(days), name="date")
        return pd.DataFrame([(p, p, p, p, 390e6)] * len(days), index=index, columns=COLUMNS, dtype=float)

    def latest_quote(self, symbol: str) -> Quote | None:
        if symbol != self.symbol:
            return None
        return Quote(symbol, self.price, self.price, self.price, self.clock.now())

    def vix_daily(self, start: date, end: date) -> pd.DataFrame:
        return pd.DataFrame(columns=COLUMNS, dtype=float)


class SimHarness(BrokerHarness):
    name = "sim"

    def __init__(self, tmp_path: Path) -> None:
        from autotrader.adapters.sim_broker import SimBroker
        from autotrader.ledger.db import open_ledger

        self.calendar = MarketCalendar.xnys()
        self.symbol, self.price = "ACME", 25.0
        self.start = datetime(2026, 3, 2, 10, 0, tzinfo=ET).astimezone(UTC)
        self.clock = SimulatedClock(self.start)
        self.ledger = open_ledger(tmp_path / "contract-sim.db")
        market_data = FlatMarketData(self.clock, self.calendar, self.symbol, self.price)
        self.broker = SimBroker(self.ledger, market_data, self.calendar, self.clock, starting_cash=100_000.0)

    def advance_to(self, at: datetime) -> None:
        self.clock.set(at)

    def make_untradable(self, symbol: str) -> None:
        self.broker.untradable = self.broker.untradable | {symbol}

    def close(self) -> None:
        self.ledger.close()


# -- the Alpaca adapter against a loopback fake of Alpaca's trading API ----------------------------------------


class AlpacaHarness(BrokerHarness):
    """``AlpacaBroker`` through the real alpaca-py SDK, talking to ``tests.fakes.alpaca_server`` on 127.0.0.1.

    The broker's clock and the fake server's clock move together; the server fills market orders at the
    symbol's (flat) price when time advances. Waits (retry backoff, rate-limit resets, cancel polling) are
    recorded instead of slept, so the suite stays fast.
    """

    name = "alpaca"

    def __init__(self, tmp_path: Path) -> None:
        from autotrader.adapters.alpaca_broker import AlpacaBroker
        from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpacaServer

        self.calendar = MarketCalendar.xnys()
        self.symbol, self.price = "ACME", 25.0
        self.start = datetime(2026, 3, 2, 10, 0, tzinfo=ET).astimezone(UTC)
        self.clock = SimulatedClock(self.start)
        self.waits: list[float] = []
        self.server = FakeAlpacaServer(
            now=self.start, prices={self.symbol: self.price}, cash=100_000.0, calendar=self.calendar
        ).start()
        self.broker = AlpacaBroker(
            api_key=API_KEY,
            secret_key=SECRET_KEY,
            base_url=self.server.url,
            mode="paper",
            clock=self.clock,
            calendar=self.calendar,
            timeout_seconds=5.0,
            max_retries=1,
            sleep=self.waits.append,
        )

    def advance_to(self, at: datetime) -> None:
        self.server.advance_to(at)
        self.clock.set(at)

    def make_untradable(self, symbol: str) -> None:
        self.server.untradable.add(symbol)

    def close(self) -> None:
        self.server.close()


HARNESSES: dict[str, type[BrokerHarness]] = {"sim": SimHarness, "alpaca": AlpacaHarness}
