"""The ledger: pragmas, migrations applied twice give one schema, newer schemas refused, BEGIN IMMEDIATE, snapshots
and scratch ledgers in memory."""

from __future__ import annotations

import sqlite3

import pytest

from autotrader.errors import ConfigError
from autotrader.ledger.db import open_ledger
from autotrader.ledger.migrations import MIGRATION_SET, migrations


def _schema(path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    finally:
        conn.close()


def test_pragmas(tmp_path):
    ledger = open_ledger(tmp_path / "l.db")
    assert ledger.scalar("PRAGMA journal_mode") == "wal"
    assert ledger.scalar("PRAGMA foreign_keys") == 1
    assert ledger.scalar("PRAGMA busy_timeout") >= 5000
    assert ledger.scalar("PRAGMA synchronous") == 2  # FULL
    ledger.close()


def test_migrations_applied_twice_give_the_same_schema(tmp_path):
    path = tmp_path / "l.db"
    open_ledger(path).close()
    first = _schema(path)
    open_ledger(path).close()
    assert _schema(path) == first
    names = {row[1] for row in first}
    for table in ("runs", "order_intents", "orders", "fills", "positions", "kv", "sim_orders", "sim_fills"):
        assert table in names


def test_a_new_ledger_is_the_ledger_the_migrations_make_one_by_one(tmp_path):
    # Arrange: one ledger upgraded through every migration by sqlite-utils, one created afresh (the final schema
    # at once), and one an older version left, two migrations short.
    import sqlite_utils

    stepwise = sqlite_utils.Database(tmp_path / "stepwise.db")
    migrations.apply(stepwise)
    stepwise.close()
    older = sqlite_utils.Database(tmp_path / "older.db")
    migrations.apply(older, stop_before=migrations._migrations[-2].name)
    older.close()
    # Act
    open_ledger(tmp_path / "fresh.db").close()
    open_ledger(tmp_path / "older.db").close()
    # Assert: the same tables, columns, indexes and triggers in the same order, and the same record of migrations.
    def everything(path) -> tuple[list[tuple], list[tuple]]:
        conn = sqlite3.connect(path)
        try:
            schema = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid").fetchall()
            record = conn.execute("SELECT id, migration_set, name FROM _sqlite_migrations ORDER BY id").fetchall()
            return schema, record
        finally:
            conn.close()

    expected = everything(tmp_path / "stepwise.db")
    assert len(expected[0]) > 90 and len(expected[1]) == len(migrations._migrations)
    assert everything(tmp_path / "fresh.db") == expected
    assert _schema(tmp_path / "older.db") == _schema(tmp_path / "stepwise.db")


def test_a_ledger_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "l.db"
    open_ledger(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, '9999_future', 'x')",
        [MIGRATION_SET],
    )
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match="newer autotrader"):
        open_ledger(path)


def test_foreign_keys_are_enforced(tmp_path):
    ledger = open_ledger(tmp_path / "l.db")
    with pytest.raises(sqlite3.IntegrityError), ledger.write() as db:
        db.execute(
            "INSERT INTO fills (fill_id, broker_order_id, book, symbol, side, qty, price, filled_at, recorded_at) "
            "VALUES ('f', 'no-such-order', 'signals', 'X', 'buy', 1, 1, 't', 't')"
        )


def test_writes_take_the_write_lock_up_front(tmp_path):
    path = tmp_path / "l.db"
    first = open_ledger(path)
    second = open_ledger(path)
    second.conn.execute("PRAGMA busy_timeout = 50")
    with first.write():
        # BEGIN IMMEDIATE: the second writer is refused at BEGIN (after busy_timeout), not at its first write.
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            with second.write():
                pass
    with second.write() as db:
        db["kv"].insert({"key": "k", "value": "v", "updated_at": "t"})
    assert first.scalar("SELECT value FROM kv WHERE key = 'k'") == "v"


def test_a_failed_unit_of_work_leaves_nothing(tmp_path):
    ledger = open_ledger(tmp_path / "l.db")
    with pytest.raises(RuntimeError), ledger.write() as db:
        db["kv"].insert({"key": "k", "value": "v", "updated_at": "t"})
        raise RuntimeError("crash")
    assert ledger.scalar("SELECT count(*) FROM kv") == 0


def test_snapshot_never_touches_the_file(tmp_path):
    path = tmp_path / "l.db"
    open_ledger(path).close()
    before = path.read_bytes()
    snap = open_ledger(path, snapshot=True)
    with snap.write() as db:
        db["kv"].insert({"key": "k", "value": "v", "updated_at": "t"})
    assert snap.scalar("SELECT count(*) FROM kv") == 1
    snap.close()
    assert path.read_bytes() == before
    missing = tmp_path / "none.db"
    open_ledger(missing, snapshot=True).close()
    assert not missing.exists()


def test_a_scratch_ledger_runs_in_memory_and_is_written_whole_when_closed(tmp_path):
    path = tmp_path / "replay" / "ledger-replay.db"
    path.parent.mkdir()
    # What an earlier ledger left beside the path would be read as part of the new one: it goes.
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).write_bytes(b"stale")
    scratch = open_ledger(path, durable=False)
    with scratch.write() as db:
        db["kv"].insert({"key": "kept", "value": "v", "updated_at": "t"})
    scratch.conn.execute("BEGIN IMMEDIATE")
    scratch.conn.execute("INSERT INTO kv (key, value, updated_at) VALUES ('uncommitted', 'v', 't')")
    assert not path.exists()  # nothing on disk while it runs
    scratch.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["ledger-replay.db"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT key FROM kv").fetchall() == [("kept",)]  # what was committed, only
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    # Opened again as a file ledger it is the same ledger, migrated, in WAL.
    again = open_ledger(path)
    assert again.scalar("SELECT value FROM kv WHERE key = 'kept'") == "v"
    assert again.scalar("PRAGMA journal_mode") == "wal"
    again.close()


def test_a_scratch_ledger_that_cannot_be_written_leaves_no_half_file(tmp_path, monkeypatch):
    path = tmp_path / "ledger-replay.db"
    scratch = open_ledger(path, durable=False)

    def full(target, **kwargs):
        target.execute("CREATE TABLE half (x)")
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(scratch, "conn", _Backup(scratch.conn, full))
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        scratch.close()
    assert list(tmp_path.iterdir()) == []


class _Backup:
    """A connection whose ``backup`` fails as a full disk makes it fail, part-way."""

    def __init__(self, conn, backup):
        self._conn, self.backup = conn, backup

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_run_script_runs_each_statement_once_and_keeps_semicolons_inside_strings_and_triggers(tmp_path):
    import sqlite_utils

    from autotrader.ledger.migrations import run_script

    db = sqlite_utils.Database(tmp_path / "s.db")
    run_script(
        db,
        """
        CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT);
        INSERT INTO t (note) VALUES ('a; b');
        CREATE TRIGGER t_no_delete BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no; deletes'); END;
        INSERT INTO t (note) VALUES ('c')
        """,
    )
    assert [r["note"] for r in db.query("SELECT note FROM t ORDER BY id")] == ["a; b", "c"]
    with pytest.raises(sqlite3.IntegrityError, match="no; deletes"):
        db.execute("DELETE FROM t")
    with pytest.raises(ValueError, match="ends inside a statement"):
        run_script(db, "CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT 1;")
