"""No look-ahead: what happens at a date is identical whether or not later data exists.

Two workspaces read the same market from local CSV files; in one the files stop at the end of the
replay, in the other they go on for weeks. The same orders are placed at the first slot and the same
sessions replayed: every fill, every ledger row and the final equity must be identical.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import ET, MarketCalendar, SimulatedClock
from autotrader.domain.enums import Book, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.models import OrderIntent, OrderRequest
from autotrader.pipeline import replay
from autotrader.pipeline.gateway import OrderGateway

pytestmark = pytest.mark.slow  # two replays over minute files

SYMBOLS = ("AAPL", "XOM", "JPM")
REPLAY = (date(2026, 3, 2), date(2026, 3, 6))
# The long workspace's files go on past the replay: daily bars for five weeks, minute bars for two.
DAILY_UNTIL = date(2026, 4, 10)
MINUTES_UNTIL = date(2026, 3, 20)

Rows = dict[str, list[list[object]]]


def _csv_rows(frame, stamps: list[str]) -> list[list[object]]:
    """One row per bar: its date or timestamp, then the values as floats (as a row of the frame reads)."""
    return [[stamp, *values] for stamp, values in zip(stamps, frame.astype(float).to_numpy().tolist(), strict=True)]


def _market_rows() -> Rows:
    """CSV rows cut from the synthetic market, generated once: daily from February, minutes from the replay."""
    calendar = MarketCalendar.xnys()
    source = SyntheticMarketData(SimulatedClock(datetime(2027, 1, 1, tzinfo=UTC)), calendar, seed=7)
    rows: Rows = {}
    for symbol in (*SYMBOLS, "VIX"):
        daily = source.daily_bars(symbol, date(2026, 2, 2), DAILY_UNTIL)
        rows[f"{symbol}.csv"] = _csv_rows(daily, [day.date().isoformat() for day in daily.index])
        if symbol == "VIX":
            continue
        minute_rows = rows[f"{symbol}.1m.csv"] = []
        for day in calendar.sessions_between(REPLAY[0], MINUTES_UNTIL):
            minutes = source.minute_bars(symbol, calendar.session_open(day), calendar.session_close(day))
            minute_rows += _csv_rows(minutes, [at.isoformat() for at in minutes.index])
    return rows


def _write_market(folder: Path, rows: Rows, until: date | None) -> None:
    """The files, whole (``until`` None) or cut after ``until``'s session: the same rows up to there."""
    folder.mkdir(parents=True)
    for name, body in rows.items():
        header = ["timestamp" if name.endswith(".1m.csv") else "date", "open", "high", "low", "close", "volume"]
        if until is not None:
            # ISO text sorts by date, and every minute row starts with its New York session date
            body = [row for row in body if str(row[0])[:10] <= until.isoformat()]
        with (folder / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(body)


def _replay(workspace: Path) -> dict:
    (workspace / "config.toml").write_text('[data]\nkind = "local"\npath = "market"\n[reference]\nkind = "local"\n')

    def buy_at_the_open(ctx, slot: int) -> None:
        if ctx.now != datetime(2026, 3, 2, 10, 0, tzinfo=ET).astimezone(UTC):
            return
        gateway = OrderGateway(ctx.ledger, ctx.deps.broker, ctx.deps.clock, run_id=ctx.run_id, log=ctx.log)
        intents = []
        for symbol in SYMBOLS:
            cid = f"la-{symbol}-buy"
            request = OrderRequest(cid, symbol, Side.BUY, 3000, OrderType.MARKET, TimeInForce.GTC)
            intents.append(OrderIntent(cid, "2026-03-02", "test", Book.SIGNALS, LegKind.ENTRY, 0, request))
        gateway.place(intents)

    def body(ctx):
        return replay.run(ctx, *REPLAY, before_slot=buy_at_the_open)

    outcome = replay.invoke_replay(
        "replay", body, config_path=str(workspace / "config.toml"), as_of="2026-03-09T12:00", prepare=None
    )
    assert outcome.error is None and outcome.exit_code == 0, outcome.error
    import sqlite3

    conn = sqlite3.connect(workspace / "ledger-replay.db")
    tables = {}
    for table in ("fills", "positions", "orders", "sim_fills", "sim_orders", "sim_positions"):
        # run ids are random per run: everything else must match
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[1] != "run_id"]
        tables[table] = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1").fetchall()
    conn.close()
    report = outcome.report
    return {
        "equity": report.final_equity,
        "cash": report.final_cash,
        **{k: json.dumps(v) for k, v in tables.items()},
    }


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    base = tmp_path_factory.mktemp("lookahead")
    rows = _market_rows()
    _write_market(base / "short" / "market", rows, REPLAY[1])
    _write_market(base / "long" / "market", rows, None)
    return _replay(base / "short"), _replay(base / "long")


def test_the_replay_traded(results):
    short, _ = results
    fills = json.loads(short["sim_fills"])
    # 3,000 shares is more than 10% of a minute's volume: each order fills over several bars.
    assert len(fills) > len(SYMBOLS)
    assert {f[2] for f in fills} == set(SYMBOLS)


@pytest.mark.parametrize(
    "key", ["equity", "cash", "fills", "positions", "orders", "sim_fills", "sim_orders", "sim_positions"]
)
def test_later_data_changes_nothing(results, key):
    short, long = results
    assert short[key] == long[key]
