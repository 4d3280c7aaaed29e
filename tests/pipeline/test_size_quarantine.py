"""``size`` and daily-bar quality: a symbol whose recent daily bars fail validation is quarantined in the ledger
for the New York session (reason in the report and the log) and nothing buys it; the next run of the session
still holds it back even when the data looks right again; the next session with good data buys it."""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pytest

from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import size
from autotrader.pipeline.context import StepContext
from autotrader.settings import default_config
from tests.factories import et, make_deps
from tests.fakes.static_market import COLUMNS, StaticMarketData

CAL = MarketCalendar.xnys()
SESSIONS = CAL.sessions_between(date(2026, 2, 2), date(2026, 3, 4))


def daily(rows: list[tuple[date, float]]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(d) for d, _ in rows], name="date")
    values = [[c, c if c != c else abs(c) + 1, c if c != c else abs(c) * 0.5 + 0.5, c, 1e6] for _, c in rows]
    return pd.DataFrame(values, index=index, columns=COLUMNS, dtype=float)


GOOD = [(d, 100.0) for d in SESSIONS]
BAD = {
    "zero": ([(d, 0.0 if d == date(2026, 3, 2) else c) for d, c in GOOD], "prices must be > 0"),
    "nan": ([(d, math.nan if d == date(2026, 3, 2) else c) for d, c in GOOD], "not a number"),
    "negative": ([(d, -5.0 if d == date(2026, 3, 2) else c) for d, c in GOOD], "prices must be > 0"),
    "duplicated": (GOOD[:-1] + [GOOD[-2]] + GOOD[-1:], "duplicated"),
    "out_of_order": (GOOD[:-3] + [GOOD[-2], GOOD[-3]] + GOOD[-1:], "out of order"),
    "missing": ([(d, c) for d, c in GOOD if d != date(2026, 2, 27)], "2026-02-27 (missing)"),
    "jump": (
        [(d, 300.0 if d >= date(2026, 3, 2) else c) for d, c in GOOD],
        "daily bar 2026-03-02: close 300.00 moved +200% from 100.00 with no known split",
    ),
    "absurd": ([(d, 999_999.0) for d, _ in GOOD], "close 999,999.00 is above [data] max_price 100,000"),
}


@pytest.fixture
def world(tmp_path):
    clock = SimulatedClock(et("2026-03-04 10:30"))
    ledger = open_ledger(tmp_path / "ledger.db")
    market = StaticMarketData(clock, {"AAPL": 100.0})
    deps = make_deps(clock, market_data=market)
    config = default_config(tmp_path)
    with ledger.write():
        ledger.conn.execute(
            "INSERT INTO signal_imports (id, content_hash, origin, imported_at, rows_total, rows_imported, "
            "rows_skipped) VALUES (1, 'h', 'test', ?, 1, 1, 0)",
            [repo.utc_iso(et("2026-03-04 08:00"))],
        )
        ledger.conn.execute(
            "INSERT INTO signals (import_id, line, symbol, category, source, side, conviction, generated_at, "
            "dedupe_key, created_at) VALUES (1, 2, 'AAPL', 'swing', 'finds', 'buy', 8, ?, 'k', ?)",
            [repo.utc_iso(et("2026-03-04 08:00"))] * 2,
        )

    def run(at: str):
        clock.set(et(at))
        log = EventLog(tmp_path / "logs", run_id=at, command="size", mode="sim")
        return size.run(StepContext("size", config, deps, ledger, False, at, log)).to_json()

    def logged() -> list[dict]:
        return [json.loads(line) for f in sorted((tmp_path / "logs").glob("*.jsonl")) for line in f.open()]

    yield clock, market, ledger, run, logged
    ledger.close()


def test_good_daily_bars_buy(world):
    clock, market, ledger, run, _ = world
    market.daily["AAPL"] = daily(GOOD)
    report = run("2026-03-04 10:30")
    assert [o["symbol"] for o in report["orders"]] == ["AAPL"] and report["quarantined"] == []


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_daily_bar_quarantines_the_symbol_for_the_session(world, kind):
    clock, market, ledger, run, logged = world
    bars, why = BAD[kind]
    market.daily["AAPL"] = daily(bars)
    first = run("2026-03-04 10:30")
    assert first["orders"] == []
    [held] = first["quarantined"]
    assert (held["symbol"], held["session_date"]) == ("AAPL", "2026-03-04") and why in held["reason"]
    assert any(s["symbol"] == "AAPL" and held["reason"] in s["reason"] for s in first["skipped"])
    assert [(e["symbol"], e["reason"]) for e in logged() if e["event"] == "quarantined"] == [("AAPL", held["reason"])]
    # The data looks right again, but not this session.
    market.daily["AAPL"] = daily(GOOD)
    again = run("2026-03-04 11:00")
    assert again["orders"] == [] and [q["reason"] for q in again["quarantined"]] == [held["reason"]]
    assert ledger.scalar("SELECT count(*) FROM order_intents") == 0
    # The next session, with good data: cleared, and the signal held back undecided is bought.
    market.daily["AAPL"] = daily(GOOD)  # through 2026-03-04, now complete
    later = run("2026-03-05 10:30")
    assert later["quarantined"] == [] and [o["symbol"] for o in later["orders"]] == ["AAPL"]


class _Splits:
    def __init__(self, events):
        self.events = events

    def splits(self):
        return self.events


def test_a_jump_on_a_known_splits_ex_date_is_not_implausible(world, tmp_path):
    clock, market, ledger, run, _ = world
    # A 1:3 reverse split on 2026-03-02 triples the unadjusted price: the vendor's word explains the move.
    market.daily["AAPL"] = daily([(d, 300.0 if d >= date(2026, 3, 2) else c) for d, c in GOOD])
    deps = make_deps(clock, market_data=market, split_source=_Splits([("AAPL", date(2026, 3, 2), 1 / 3)]))
    config = default_config(tmp_path)
    log = EventLog(tmp_path / "logs", run_id="split", command="size", mode="sim")
    report = size.run(StepContext("size", config, deps, ledger, False, "split", log)).to_json()
    assert report["quarantined"] == [] and [o["symbol"] for o in report["orders"]] == ["AAPL"]
