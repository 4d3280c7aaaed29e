"""What a warm intraday slot of ``run-daily`` spends of Polygon's free tier, through alpaca-py and massive against
the loopback fakes, at the real 5 requests a minute: the rate limiter's waits move the (travelled) clock instead
of sleeping, so the steps of a slot run into later minutes exactly as they would in production."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import time_machine

from autotrader.adapters import polygon_data
from autotrader.clock import ET
from autotrader.ledger.db import open_ledger
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpacaServer
from tests.fakes.polygon_server import FakePolygon, free_tier_limiters, minute_bar

pytestmark = pytest.mark.slow  # whole run-daily slots end to end over a workspace

POLYGON_KEY = "test-polygon-key"
HELD = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META")
START = datetime(2026, 3, 4, 10, 0, tzinfo=ET)  # a Wednesday


@pytest.fixture
def workspace(write_config, monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("MASSIVE_API_KEY", POLYGON_KEY)
    travel: list[time_machine.Traveller] = []
    monkeypatch.setattr(polygon_data, "RateLimiter", free_tier_limiters(travel))
    prices = {s: minute_bar(s, START)[3] for s in HELD} | {"SPY": 500.0}
    with (
        FakeAlpacaServer(now=START, prices=prices, cash=1_000_000.0) as alpaca,
        FakePolygon(api_key=POLYGON_KEY, symbols=(*HELD, "SPY", "VIXY")) as polygon,
    ):
        config = write_config(
            f'[broker]\nkind = "alpaca"\nbase_url = "{alpaca.url}"\n'
            f'[data]\nkind = "polygon"\nbase_url = "{polygon.url}"\n'
        )
        inbox = config.parent / "signals" / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{s},long_term,src,8,,,,,2026-03-04T09:30:00-05:00\n" for s in HELD)
        (inbox / "picks.csv").write_text(
            "symbol,category,source,conviction,entry,stop,target,horizon_days,generated_at\n" + rows
        )
        yield str(config), alpaca, polygon, travel


def test_a_warm_intraday_slot_costs_at_most_three_requests_plus_one_quote_per_held_symbol(cli, workspace):
    config, alpaca, polygon, travel = workspace

    def slot(at: datetime) -> tuple[int, dict]:
        alpaca.advance_to(max(at, alpaca.now))  # the broker's time: working orders fill
        before = polygon.total
        with time_machine.travel(at, tick=False) as traveller:
            travel.append(traveller)
            result = cli("run-daily", "--json", "--config", config)
        assert result.exit_code == 0, result.output
        return polygon.total - before, json.loads(result.stdout)

    _, first = slot(START)  # cold: the picks are looked up, sized and bought
    assert len(first["orders"]) == len(HELD)
    spent, next_day = slot(START + timedelta(days=1))  # the next session's first slot, the cache warm
    [profittake] = [s for s in next_day["steps"] if s["command"] == "profittake"]
    assert f"{len(HELD)} position(s)" in profittake["notes"][0]
    assert spent <= 3 + len(HELD)
    # The first run that judges a price move since the last one seen asks for the day's split listing once
    # (here the second slot: the first only met the positions); every later slot is the quotes alone.
    spent, _ = slot(START + timedelta(days=1, minutes=30))
    assert spent <= 1 + len(HELD)
    spent, _ = slot(START + timedelta(days=1, minutes=60))
    assert spent <= len(HELD)

    # doctor states that budget for this workspace: its positions, the configured rate.
    alpaca.advance_to(START + timedelta(days=1, minutes=75))
    with time_machine.travel(alpaca.now, tick=False):
        doctor = cli("doctor", "--json", "--config", config)
    assert doctor.exit_code == 0, doctor.output
    report = json.loads(doctor.stdout)
    [intraday] = [r for r in report["requests"] if r["slot"] == "intraday"]
    assert intraday["requests"] == 3 + len(HELD) and intraday["minutes"] == 1.0  # 5 at once, 4 a window later
    assert f"{len(HELD)} quote(s)" in intraday["detail"]
    [line] = [c for c in report["checks"] if c["name"] == "requests"]
    assert line["ok"] and "intraday <= 9 (1 min at 5/min)" in line["detail"]


def test_a_dry_run_fills_the_bar_cache_so_the_next_run_does_not_pay_again(cli, write_config, monkeypatch):
    monkeypatch.setenv("MASSIVE_API_KEY", POLYGON_KEY)
    with FakePolygon(api_key=POLYGON_KEY, symbols=(*HELD, "SPY", "VIXY")) as polygon:
        config = write_config(f'[data]\nkind = "polygon"\nbase_url = "{polygon.url}"\nrequests_per_minute = 100000.0\n')
        args = ("rebalance", "--dry-run", "--json", "--tickers", ",".join(HELD), "--as-of", "2026-03-04T20:00")

        def spent() -> tuple[int, int]:
            before = polygon.total
            result = cli(*args, "--config", str(config))
            assert result.exit_code == 0, result.output
            return polygon.total - before, polygon.counts["aggs"] + polygon.counts["grouped"]

        cold, bars_cold = spent()
        warm, bars_warm = spent()
        assert bars_cold > 0 and cold > 0
        assert warm == 0 and bars_warm == bars_cold  # the second dry run found every bar (and the splits) cached
        ledger = open_ledger(config.parent / "ledger-sim.db")
        try:
            assert ledger.scalar("SELECT COUNT(*) FROM bar_cache") > 0
            # Trading state is untouched: no run recorded, no order, no position.
            for table in ("runs", "order_intents", "positions", "sim_orders"):
                assert ledger.scalar(f"SELECT COUNT(*) FROM {table}") == 0, table
        finally:
            ledger.close()
