"""The orders group through alpaca-py against the loopback fake Alpaca server: what the broker holds, and a
flatten that cancels a position's protective orders first, then sells it once, whatever the reruns."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import time_machine

from autotrader.clock import ET
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpacaServer
from tests.fakes.polygon_server import FakePolygon, minute_bar

pytestmark = pytest.mark.slow  # whole commands end to end over a workspace

POLYGON_KEY = "test-polygon-key"
HELD = ("AAPL", "MSFT")
START = datetime(2026, 3, 4, 10, 0, tzinfo=ET)  # a Wednesday


@pytest.fixture
def paper(write_config, monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("MASSIVE_API_KEY", POLYGON_KEY)
    prices = {s: minute_bar(s, START)[3] for s in HELD} | {"SPY": 500.0}
    with (
        FakeAlpacaServer(now=START, prices=prices, cash=1_000_000.0) as alpaca,
        FakePolygon(api_key=POLYGON_KEY, symbols=(*HELD, "SPY", "VIXY")) as polygon,
    ):
        config = write_config(
            f'[broker]\nkind = "alpaca"\nbase_url = "{alpaca.url}"\n'
            f'[data]\nkind = "polygon"\nbase_url = "{polygon.url}"\nrequests_per_minute = 100000.0\n'
            "[signals]\nsynthetic_feed = false\n"
        )
        inbox = config.parent / "signals" / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{s},long_term,src,8,,,,,2026-03-04T09:30:00-05:00\n" for s in HELD)
        (inbox / "picks.csv").write_text(
            "symbol,category,source,conviction,entry,stop,target,horizon_days,generated_at\n" + rows
        )
        yield str(config), alpaca


def test_the_orders_group_through_alpaca_py(cli, paper):
    config, alpaca = paper

    def at(when: datetime, *args: str) -> dict:
        alpaca.advance_to(max(when, alpaca.now))
        with time_machine.travel(when, tick=False):
            result = cli(*args, "--json", "--config", config)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    bought = at(START, "run-daily")
    assert len(bought["orders"]) == len(HELD)
    at(START + timedelta(minutes=30), "run-daily")  # the entries have filled: protective orders go out
    positions = at(START + timedelta(minutes=31), "positions")["positions"]
    assert {p["symbol"] for p in positions} == set(HELD) and all(p["ledger_qty"] == p["broker_qty"] for p in positions)
    balance = at(START + timedelta(minutes=31), "balances")
    assert balance["cash"] < 1_000_000.0 and balance["deployed_by_book"]["signals"] > 0

    posts = len(alpaca.posted_orders())
    flat = at(START + timedelta(minutes=32), "flatten", "--symbol", "AAPL")
    [sell] = flat["orders"]
    assert (sell["symbol"], sell["side"], sell["leg"], sell["type"]) == ("AAPL", "sell", "flatten", "market")
    assert (
        len(alpaca.posted_orders()) == posts + 1
        and alpaca.posted_orders()[-1]["client_order_id"] == sell["client_order_id"]
    )
    again = at(START + timedelta(minutes=33), "flatten", "--symbol", "AAPL")
    assert [o["client_order_id"] for o in again["orders"]] == [sell["client_order_id"]]
    assert len(alpaca.posted_orders()) == posts + 1  # a rerun never sells twice
    listed = at(START + timedelta(minutes=34), "orders", "list", "--symbol", "MSFT")["listed"]
    assert listed and all(o["side"] == "sell" for o in listed)  # MSFT's protective orders, working
    canceled = at(START + timedelta(minutes=35), "orders", "cancel-all", "--symbol", "MSFT")["canceled"]
    assert set(canceled) == {o["broker_order_id"] for o in listed}
    assert at(START + timedelta(minutes=36), "orders", "list", "--symbol", "MSFT")["listed"] == []
    assert alpaca.count("DELETE", "/v2/orders") == 0  # one order at a time, never the broker's cancel-everything
