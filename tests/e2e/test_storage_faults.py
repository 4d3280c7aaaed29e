"""Storage faults: a full disk during a write, a kill half-way through a migration.

A full disk is made without root in two ways: a child process whose files may not grow past a limit
(``RLIMIT_FSIZE``: SQLite sees a failed write, as on a full disk), and, for an exact transaction, SQLite's own
``max_page_count`` on the ledger's connection (SQLite then answers "database or disk is full").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotrader.domain.enums import ExitCode
from autotrader.ledger import db as ledger_db
from autotrader.ledger.migrations import MIGRATION_SET, migrations
from tests.e2e.crash_harness import read, run_child, run_killed, violations

pytestmark = pytest.mark.slow  # whole commands, some in child processes

PREMARKET = "2026-03-09T09:05:00-04:00"
INTRADAY = "2026-03-09T10:30:00-04:00"
# Smaller than the ledger after its first sync (about 280 kB) and than what a premarket slot writes to the
# write-ahead log: the slot's writes run out of room part-way.
FILE_LIMIT_BYTES = 200_000


def _workspace(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text("", encoding="utf-8")
    return config


def test_a_full_disk_during_a_slot_exits_74_with_a_message_and_the_next_run_proceeds(tmp_path, cli):
    config = _workspace(tmp_path / "ws")
    assert cli("sync", "--as-of", "2026-03-09T08:00:00-04:00", "--config", str(config)).exit_code == 0
    full = run_child(config, "run-daily", "--json", "--as-of", PREMARKET, max_file_bytes=FILE_LIMIT_BYTES)
    assert full.returncode == ExitCode.STORAGE, full.stderr
    assert "Traceback" not in full.stdout + full.stderr
    error = json.loads(full.stdout)["error"]
    assert error["code"] == "storage" and "could not be written" in error["message"]
    assert "free disk space" in error["hint"]
    assert read(config.parent, "PRAGMA integrity_check") == [("ok",)]

    # Space is back: the same slot and the next one run, and the ledger and the broker agree.
    for at in (PREMARKET, INTRADAY):
        again = cli("run-daily", "--as-of", at, "--config", str(config))
        assert again.exit_code == 0, again.output
    assert violations(config.parent) == []
    assert read(config.parent, "SELECT COUNT(*) FROM sim_orders")[0][0] >= 3


def test_a_replay_whose_ledger_cannot_be_saved_exits_74_and_leaves_no_half_ledger(tmp_path):
    # A replay's ledger is written to its file when the replay ends: there the full disk is met.
    config = _workspace(tmp_path / "ws")
    config.write_text('[schedule]\ntimes = ["09:30", "16:15"]\n', encoding="utf-8")
    full = run_child(config, "replay", "--json", "--start", "2026-03-03", "--end", "2026-03-03",
                     "--as-of", "2026-03-04T12:00", max_file_bytes=FILE_LIMIT_BYTES)  # fmt: skip
    assert full.returncode == ExitCode.STORAGE, full.stderr
    assert "Traceback" not in full.stdout + full.stderr
    error = json.loads(full.stdout)["error"]
    assert error["code"] == "storage" and "ledger-replay.db could not be written" in error["message"]
    assert not list(config.parent.glob("ledger-replay.db*"))


@pytest.fixture
def no_room_to_grow(monkeypatch):
    """Every ledger connection opened from now on may not grow the file by a single page; returns the undo."""
    configure = ledger_db._configure

    def limited(conn, **options):
        configure(conn, **options)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(ledger_db, "_configure", limited)
    return lambda: monkeypatch.setattr(ledger_db, "_configure", configure)


@pytest.fixture
def big_scan(tmp_path, cli):
    """A synced workspace and a scan of more recommendations than the ledger's free room holds (each from its
    own source, so none is a duplicate); returns the scan's arguments."""
    config = _workspace(tmp_path / "ws")
    assert cli("sync", "--as-of", "2026-03-09T08:00:00-04:00", "--config", str(config)).exit_code == 0
    picks = tmp_path / "picks.csv"
    rows = [f"AAPL,swing,desk-{i},5,2026-03-09T07:{i % 60:02d}:00-04:00" for i in range(200)]
    picks.write_text("symbol,category,source,conviction,generated_at\n" + "\n".join(rows) + "\n", encoding="utf-8")
    at = "2026-03-09T08:30:00-04:00"
    return config, ("scan", "--json", "--file", str(picks), "--as-of", at, "--config", str(config))


def test_a_write_that_finds_the_disk_full_rolls_back_whole(cli, big_scan, no_room_to_grow):
    config, scan = big_scan
    full = cli(*scan)
    assert full.exit_code == ExitCode.STORAGE
    assert "database or disk is full" in json.loads(full.stdout)["error"]["message"]
    # The import is one transaction: none of its signals, nor the import record, was kept.
    assert read(config.parent, "SELECT COUNT(*) FROM signals") == [(0,)]
    assert read(config.parent, "SELECT COUNT(*) FROM signal_imports") == [(0,)]

    no_room_to_grow()  # undone: space is back
    again = cli(*scan)
    assert again.exit_code == 0, again.output
    assert read(config.parent, "SELECT COUNT(*) FROM signals WHERE source LIKE 'desk-%'") == [(200,)]


def test_a_disk_still_full_when_the_run_ends_is_the_same_message_not_a_second_error(
    cli, big_scan, no_room_to_grow, monkeypatch
):
    from autotrader.ledger import repo

    config, scan = big_scan
    finish = repo.finish_run

    def finish_on_a_full_disk(ledger, **fields):  # whatever room was left, something else took it meanwhile
        with ledger.write():
            ledger.table("kv").insert({"key": "filler", "value": "x" * 100_000, "updated_at": "t"})
        finish(ledger, **fields)

    monkeypatch.setattr(repo, "finish_run", finish_on_a_full_disk)
    full = cli(*scan)  # the CLI runner re-raises an exception that escapes the command: there is none
    assert full.exit_code == ExitCode.STORAGE
    assert "database or disk is full" in json.loads(full.stdout)["error"]["message"]
    assert read(config.parent, "SELECT exit_code FROM runs WHERE command = 'scan'") == [(None,)]


def _applied(folder: Path) -> list[str]:
    return [n for (n,) in read(folder, f"SELECT name FROM _sqlite_migrations WHERE migration_set = '{MIGRATION_SET}'")]


def test_a_kill_between_two_migrations_leaves_a_ledger_that_opens_and_the_next_open_finishes(tmp_path, cli):
    import sqlite_utils

    config = _workspace(tmp_path / "ws")
    # A ledger as an older version left it, holding a run it recorded.
    old = sqlite_utils.Database(config.parent / "ledger-sim.db")
    migrations.apply(old, stop_before="0009_point_in_time_scoring")
    old.execute(
        "INSERT INTO runs (run_id, command, as_of, mode, started_at, exit_code) "
        "VALUES ('old', 'sync', '2026-03-06T13:00:00+00:00', 'sim', '2026-03-06T13:00:00+00:00', 0)"
    )
    old.conn.commit()
    old.close()
    before = _applied(config.parent)

    run_killed(config, "mid_migration", "sync", "--as-of", PREMARKET)  # after 0009, before 0010
    assert read(config.parent, "PRAGMA integrity_check") == [("ok",)]
    assert _applied(config.parent) == before  # the upgrade is one transaction: none of it was kept
    assert read(config.parent, "SELECT run_id FROM runs") == [("old",)]

    synced = cli("sync", "--as-of", PREMARKET, "--config", str(config))
    assert synced.exit_code == 0, synced.output
    assert _applied(config.parent) == [m.name for m in migrations._migrations]
    assert read(config.parent, "SELECT COUNT(*) FROM runs WHERE run_id = 'old'") == [(1,)]
