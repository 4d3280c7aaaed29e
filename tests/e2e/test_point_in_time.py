"""Point-in-time scoring through the command line: a signal is scored from when autotrader first saw it.

Hand-made bars (local files) for SPY, AAA and BBB over ten March 2026 sessions; AAA and SPY also have 1-minute
bars for 2026-03-10 (daylight time: the session runs 13:30-20:00 UTC). Documents are scanned at chosen
instants, then `scorecard --json` runs at the close of 2026-03-13. Expected figures are worked out in the
comments from the tables below.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.test_scorecard_hand_case import CONFIG as HAND_CASE_CONFIG
from tests.e2e.test_scorecard_hand_case import DAYS, row

#        open   high   low    close
SPY = [(100.0, 101.0, 99.0, 100.5), (100.5, 102.0, 100.0, 101.0), (101.0, 102.0, 100.0, 101.5),
       (101.5, 103.0, 101.0, 102.0), (102.0, 103.0, 101.0, 102.5), (102.5, 104.0, 102.0, 103.0),
       (103.0, 103.392, 102.998, 103.39), (103.5, 105.0, 103.0, 104.0), (104.0, 105.0, 103.0, 104.5),
       (104.5, 106.0, 104.0, 105.0)]  # fmt: skip
AAA = [(50.0, 51.0, 49.0, 50.5), (51.0, 53.0, 50.5, 52.0), (52.0, 54.0, 51.5, 53.0), (53.0, 56.0, 52.5, 55.0),
       (58.0, 59.0, 56.0, 57.0), (57.0, 58.0, 55.0, 56.0), (60.0, 70.0, 59.98, 63.90), (64.0, 65.0, 63.0, 64.5),
       (64.5, 66.0, 64.0, 65.0), (65.0, 66.0, 64.0, 65.5)]  # fmt: skip
BBB = [(20.0, 20.5, 19.5, 20.0), (20.0, 20.2, 18.8, 19.0), (19.0, 19.5, 18.5, 19.2), (19.2, 19.6, 19.0, 19.4),
       (19.4, 19.8, 19.2, 19.6), (19.6, 20.0, 19.4, 19.8), (19.8, 20.2, 19.6, 20.0), (21.0, 21.4, 20.8, 21.2),
       (21.2, 21.6, 21.0, 21.4), (21.4, 21.8, 21.2, 21.6)]  # fmt: skip
MINUTE_SESSION_OPEN = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)
HEADER = "symbol,category,source,side,conviction,entry,stop,target,horizon_days,generated_at,note"

# (scanned at, rows): each document is imported at its scan instant.
DOCUMENTS = [
    # On time: claims 08:00, seen at 09:00, exactly the 60-minute tolerance. Enters at the 03-04 open.
    ("2026-03-04T09:00:00-05:00", ["BBB,long_term,prompt,buy,6,,,,,2026-03-04T08:00:00-05:00,on time"]),
    # Backdated: claims 03-03 08:00 but first seen on 03-05 at 20:00. Enters at the 03-06 open, not 03-03's.
    ("2026-03-05T20:00:00-05:00", ["AAA,long_term,tardy,buy,8,,,,,2026-03-03T08:00:00-05:00,backdated"]),
    # 61 minutes late, still before the open: late, but the entry (the 03-09 open) is the same as claimed.
    ("2026-03-09T09:01:00-04:00", ["BBB,swing,tardy,buy,5,,,,5,2026-03-09T08:00:00-04:00,a little late"]),
    # Arrives during the 03-10 session at 11:15:30, 15.5 minutes after its claim (on time). AAA has minute
    # bars: it enters at the open of the 11:16 bar. BBB has none: it enters at the 03-11 open.
    ("2026-03-10T11:15:30-04:00", ["AAA,swing,prompt,buy,7,,,,5,2026-03-10T11:00:00-04:00,intraday",
                                   "BBB,swing,prompt,buy,7,,,,5,2026-03-10T11:00:00-04:00,intraday"]),
]  # fmt: skip

# The hand case's workspace (local files, horizons 1 and 5) with the tolerance stated.
CONFIG = HAND_CASE_CONFIG + "late_tolerance_minutes = 60\n"


def aaa_minute(m: int) -> tuple[float, float, float, float]:
    """AAA's bar m minutes after the 03-10 open: open 60.00 + 0.01·m, close 0.01 higher, high close + 0.02,
    low open − 0.02; at 10:00 (m = 30) a spike to 70.00 that a signal arriving later must not be credited."""
    o = round(60.0 + 0.01 * m, 2)
    c = round(o + 0.01, 2)
    return o, 70.0 if m == 30 else round(c + 0.02, 2), round(o - 0.02, 2), c


def spy_minute(m: int) -> tuple[float, float, float, float]:
    """SPY's bar m minutes after the 03-10 open: open 103.000 + 0.001·m, close 0.001 higher."""
    o = round(103.0 + 0.001 * m, 3)
    c = round(o + 0.001, 3)
    return o, round(c + 0.002, 3), round(o - 0.002, 3), c


def _write_market(folder: Path, *, minutes: bool = True) -> None:
    folder.mkdir()
    for symbol, rows in (("SPY", SPY), ("AAA", AAA), ("BBB", BBB)):
        lines = ["date,open,high,low,close,volume"]
        lines += [f"{day},{o},{h},{lo},{c},1000000" for day, (o, h, lo, c) in zip(DAYS, rows, strict=True)]
        (folder / f"{symbol}.csv").write_text("\n".join(lines) + "\n")
    if not minutes:
        return
    for symbol, bar in (("AAA", aaa_minute), ("SPY", spy_minute)):
        lines = ["timestamp,open,high,low,close,volume"]
        for m in range(390):
            at = (MINUTE_SESSION_OPEN + timedelta(minutes=m)).isoformat()
            o, h, lo, c = bar(m)
            lines.append(f"{at},{o:.3f},{h:.3f},{lo:.3f},{c:.3f},1000")
        (folder / f"{symbol}.1m.csv").write_text("\n".join(lines) + "\n")


def _cli(*args: str):
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    return CliRunner().invoke(app, list(args))


def _workspace(root: Path, documents=DOCUMENTS, *, minutes: bool = True) -> str:
    (root / "config.toml").write_text(CONFIG)
    _write_market(root / "market", minutes=minutes)
    config = str(root / "config.toml")
    for n, (scanned_at, rows) in enumerate(documents):
        document = root / f"doc-{n}.csv"
        document.write_text("\n".join([HEADER, *rows]) + "\n")
        result = _cli("scan", "--file", str(document), "--json", "--as-of", scanned_at, "--config", config)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["imported"] == len(rows)
    return config


def _scorecard(config: str, as_of: str = "2026-03-13T17:00:00-04:00") -> dict:
    result = _cli("scorecard", "--json", "--as-of", as_of, "--config", config)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("pit")
    config = _workspace(root)
    return root, _scorecard(config)


def _outcome(root: Path, symbol: str, category: str, horizon: int) -> dict:
    """The outcome row of the first signal with this symbol and category."""
    conn = sqlite3.connect(root / "ledger-sim.db")
    conn.row_factory = sqlite3.Row
    row = conn.execute(
        "SELECT o.* FROM signal_outcomes o JOIN signals s ON s.id = o.signal_id "
        "WHERE s.symbol = ? AND s.category = ? AND o.horizon = ? ORDER BY s.id",
        [symbol, category, horizon],
    ).fetchone()
    conn.close()
    return dict(row)


@pytest.mark.slow
def test_a_backdated_file_scores_from_the_first_price_after_its_import(world):
    root, _ = world
    outcome = _outcome(root, "AAA", "long_term", 1)
    # Knowable 03-05 20:00 New York (01:00 UTC on 03-06): the next price is the 03-06 open, 58.00 — not the
    # 03-03 open (51.00) the claim would give. h1: 58.00 → 57.00 = −1/58; SPY 102.00 → 102.50.
    assert (outcome["entry_date"], outcome["entry_price"]) == ("2026-03-06", 58.0)
    assert outcome["knowable_at"] == "2026-03-06T01:00:00.000000+00:00"
    assert outcome["entry_at"] == "2026-03-06T14:30:00.000000+00:00"
    assert outcome["ret"] == pytest.approx(57.0 / 58.0 - 1)
    assert outcome["benchmark_ret"] == pytest.approx(102.5 / 102.0 - 1)
    # h5: 03-06 … 03-12 close 65.00.
    assert _outcome(root, "AAA", "long_term", 5)["ret"] == pytest.approx(65.0 / 58.0 - 1)


def test_late_signals_are_counted_per_source_in_the_json(world):
    _, payload = world
    # tardy: the backdated AAA pick and the BBB swing seen 61 minutes after its claim; prompt: none (the
    # 60-minute import is at the tolerance, the intraday pair 15.5 minutes after).
    assert row(payload, "source", "tardy")["late"] == 2
    assert row(payload, "source", "prompt")["late"] == 0
    assert row(payload, "category", "long_term")["late"] == 1
    assert row(payload, "category", "swing")["late"] == 1
    assert row(payload, "source", "tardy")["signals"] == 2  # counted, not dropped
    assert any("late" in note and "tardy 2" in note for note in payload["notes"])


def test_a_signal_imported_on_time_enters_as_it_claims(world):
    root, _ = world
    on_time = _outcome(root, "BBB", "long_term", 1)
    # Claimed 03-04 08:00, seen 09:00: knowable at 09:00, before the open → the 03-04 open, 19.00.
    assert on_time["knowable_at"] == "2026-03-04T14:00:00.000000+00:00"
    assert (on_time["entry_date"], on_time["entry_price"]) == ("2026-03-04", 19.0)
    assert on_time["ret"] == pytest.approx(19.2 / 19.0 - 1)
    # Late by a minute but still before the open: the same entry as claimed, the 03-09 open 19.60.
    late = _outcome(root, "BBB", "swing", 1)
    assert (late["entry_date"], late["entry_price"]) == ("2026-03-09", 19.6)


def test_an_intraday_arrival_with_minute_data_enters_at_the_next_minutes_open(world):
    root, _ = world
    outcome = _outcome(root, "AAA", "swing", 1)
    # Seen 11:15:30 (15:15:30 UTC): the next bar starts 11:16, m = 106: open 60.00 + 1.06 = 61.06.
    assert (outcome["entry_date"], outcome["entry_price"]) == ("2026-03-10", pytest.approx(61.06))
    assert outcome["entry_at"] == "2026-03-10T15:16:00.000000+00:00"
    # h1 = the entry minute → the 03-10 close 63.90. SPY over the same window: its 11:16 bar opens at
    # 103.000 + 0.001·106 = 103.106, and it closes at 103.390 (not its session open, 103.000).
    assert outcome["ret"] == pytest.approx(63.90 / 61.06 - 1)
    assert outcome["benchmark_ret"] == pytest.approx(103.39 / 103.106 - 1)
    assert outcome["excess"] == pytest.approx((63.90 / 61.06 - 1) - (103.39 / 103.106 - 1))
    # Excursions only from the entry on: the best high after 11:16 is the last bar's 63.92 (the 70.00 spike
    # at 10:00 came before the signal could be seen); the worst low is the entry bar's 61.04.
    assert outcome["mfe"] == pytest.approx(63.92 / 61.06 - 1)
    assert outcome["mae"] == pytest.approx(61.04 / 61.06 - 1)


def test_an_intraday_arrival_without_minute_data_enters_at_the_next_sessions_open(world):
    root, _ = world
    conn = sqlite3.connect(root / "ledger-sim.db")
    rows = conn.execute(
        "SELECT o.entry_date, o.entry_price FROM signal_outcomes o JOIN signals s ON s.id = o.signal_id "
        "WHERE s.symbol = 'BBB' AND s.category = 'swing' AND o.horizon = 1 ORDER BY s.id"
    ).fetchall()
    conn.close()
    assert len(rows) == 2  # the 03-09 swing, then the intraday one
    # BBB has no minute bars: the next session's open, 03-11 at 21.00.
    assert rows[1] == ("2026-03-11", 21.0)


def test_without_any_minute_data_the_intraday_arrival_waits_for_the_next_open(tmp_path):
    config = _workspace(tmp_path, DOCUMENTS[-1:], minutes=False)
    _scorecard(config)
    outcome = _outcome(tmp_path, "AAA", "swing", 1)
    # AAA's 03-11 open 64.00 → close 64.50; SPY 103.50 → 104.00.
    assert (outcome["entry_date"], outcome["entry_price"]) == ("2026-03-11", 64.0)
    assert outcome["ret"] == pytest.approx(64.5 / 64.0 - 1)
    assert outcome["benchmark_ret"] == pytest.approx(104.0 / 103.5 - 1)


@pytest.mark.slow
def test_an_earlier_scorecard_does_not_see_a_signal_imported_after_it(world):
    root, _ = world
    # At 03-05 17:00 the backdated AAA pick (claiming 03-03, imported 03-05 20:00) had not been seen yet.
    earlier = _scorecard(str(root / "config.toml"), "2026-03-05T17:00:00-05:00")
    assert {r["key"] for r in earlier["rows"] if r["group"] == "source"} == {"prompt"}
    # ...and asking about the past changed nothing that was final.
    again = _scorecard(str(root / "config.toml"))
    assert again["rows"] == world[1]["rows"]


@pytest.mark.slow
def test_the_migration_recomputes_old_rows_once_and_new_complete_rows_stay_final(tmp_path):
    import sqlite_utils

    from autotrader.ledger.migrations import migrations

    (tmp_path / "config.toml").write_text(CONFIG)
    _write_market(tmp_path / "market")
    config = str(tmp_path / "config.toml")
    # A ledger as the previous version left it: the backdated AAA pick with outcomes scored from its claim
    # (entry at the 03-03 open, 51.00), all complete.
    db = sqlite_utils.Database(tmp_path / "ledger-sim.db")
    migrations.apply(db, stop_before="0009_point_in_time_scoring")
    db.execute(
        "INSERT INTO signal_imports (id, content_hash, origin, imported_at, rows_total, rows_imported, rows_skipped) "
        "VALUES (1, 'h', 'old.csv', '2026-03-06T01:00:00.000000+00:00', 1, 1, 0)"
    )
    db.execute(
        "INSERT INTO signals (id, import_id, line, symbol, category, source, side, generated_at, dedupe_key, "
        "created_at) VALUES (1, 1, 2, 'AAA', 'long_term', 'tardy', 'buy', '2026-03-03T13:00:00.000000+00:00', 'k', "
        "'2026-03-06T01:00:00.000000+00:00')"
    )
    for horizon, exit_date, exit_price in ((1, "2026-03-03", 52.0), (5, "2026-03-09", 56.0)):
        db.execute(
            "INSERT INTO signal_outcomes (signal_id, horizon, status, entry_date, entry_price, exit_date, exit_price, "
            "ret, computed_at) VALUES (1, ?, 'complete', '2026-03-03', 51.0, ?, ?, ?, '2026-03-10T00:00:00+00:00')",
            [horizon, exit_date, exit_price, exit_price / 51.0 - 1],
        )
    db.execute(
        "INSERT INTO signal_rule_exits (signal_id, status, entry_date, entry_price, computed_at) "
        "VALUES (1, 'complete', '2026-03-03', 51.0, '2026-03-10T00:00:00+00:00')"
    )
    db.conn.commit()
    db.close()

    _scorecard(config)
    first = _outcome(tmp_path, "AAA", "long_term", 1)
    assert (first["entry_date"], first["entry_price"], first["exit_price"]) == ("2026-03-06", 58.0, 57.0)
    assert first["knowable_at"] == "2026-03-06T01:00:00.000000+00:00"
    conn = sqlite3.connect(tmp_path / "ledger-sim.db")
    exit_entry = conn.execute("SELECT entry_date, entry_price FROM signal_rule_exits").fetchone()
    applied = conn.execute("SELECT count(*) FROM _sqlite_migrations WHERE name = '0009_point_in_time_scoring'")
    assert exit_entry == ("2026-03-06", 58.0) and applied.fetchone() == (1,)
    conn.close()

    # The data vendor later revises the 03-06 close: a complete row, scored once under the new rule, is final.
    market = tmp_path / "market" / "AAA.csv"
    market.write_text(market.read_text().replace("2026-03-06,58.0,59.0,56.0,57.0", "2026-03-06,58.0,59.0,56.0,57.5"))
    assert "2026-03-06,58.0,59.0,56.0,57.5" in market.read_text()
    # The signal is recomputed (its 60-session rule exit is still pending), its complete horizons are not.
    _scorecard(config, "2026-03-16T17:00:00-04:00")
    assert _outcome(tmp_path, "AAA", "long_term", 1) == first
