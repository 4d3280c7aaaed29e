"""Opening the ledger: one SQLite file per mode, WAL, foreign keys, busy_timeout, writes in BEGIN IMMEDIATE.

Why BEGIN IMMEDIATE: a deferred transaction that reads and then writes fails at once with "database is
locked" if another connection committed in between, ignoring busy_timeout; an immediate one takes the
write lock up front and waits. sqlite-utils' ``db.atomic()`` issues a plain
``BEGIN``, so writes go through ``Ledger.write()`` instead; inside it, ``atomic()`` nests as a savepoint.

``--dry-run`` opens a *snapshot*: an in-memory copy of the file (or an empty, migrated database when there
is no file yet). Every step then runs exactly as it would for real, against the copy, and the file's trading
state stays byte-identical. No code path needs to know it is a dry run. (Polygon's daily-bar cache, reference
data, is the one part a dry run reads from and writes to the file itself: ``bootstrap.open_bar_cache``.)
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.utils import dedupe_keys

from autotrader.errors import ConfigError, StorageError

BUSY_TIMEOUT_MS = 10_000


class Ledger:
    """A sqlite-utils ``Database`` plus the write discipline. ``ledger.db`` is there for reads."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path | None, *, snapshot: bool, save_to: Path | None = None
    ) -> None:
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.path = path
        self.snapshot = snapshot
        self.save_to = save_to  # a scratch ledger in memory: the file it is written to when closed

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One atomic unit of work, under SQLite's write lock. Nested calls become savepoints."""
        if self.conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def table(self, name: str) -> sqlite_utils.db.Table:
        """A table by name (sqlite-utils types ``db[name]`` as table-or-view; the ledger's writes need a table)."""
        table = self.db[name]
        if not isinstance(table, sqlite_utils.db.Table):
            raise TypeError(f"{name} is a view, not a table")
        return table

    def insert(self, name: str, row: Mapping[str, Any]) -> None:
        """Insert one row of plain values. Direct SQL: sqlite-utils' ``insert`` reads the table's schema first,
        and the steps' frequent writes (runs, states, the sync watermark) need no schema work."""
        columns = ", ".join(row)
        self.conn.execute(f"INSERT INTO {name} ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))

    def upsert(self, name: str, row: Mapping[str, Any], *, pk: str | tuple[str, ...]) -> None:
        """Insert one row, or update the given columns of the row with its primary key (the others are kept),
        as sqlite-utils' ``upsert`` does, in one statement."""
        keys = (pk,) if isinstance(pk, str) else pk
        columns = ", ".join(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c not in keys)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        self.conn.execute(
            f"INSERT INTO {name} ({columns}) VALUES ({', '.join('?' * len(row))}) "
            f"ON CONFLICT ({', '.join(keys)}) {action}",
            tuple(row.values()),
        )

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """The rows of a read, as mappings by column name. Straight on the connection: the ledger's reads are
        plain SELECTs (no writes that return rows), and a step makes tens of them per run, so the savepoint
        sqlite-utils' ``query`` wraps each statement in to reject row-less ones is work without a use here."""
        cursor = self.conn.execute(sql, params)
        if cursor.description is None:
            raise ValueError(f"not a query: {sql.split(None, 1)[0] if sql.split() else sql!r} returns no rows")
        names = [d[0] for d in cursor.description]
        if len(set(names)) < len(names):  # a join's repeated column: named as sqlite-utils does (id, id_2)
            names = list(dedupe_keys(names))
        # zip without strict: a row has a value per described column by SQLite's own guarantee, and passing strict
        # (either way) costs a third of building these dicts, which long replays do millions of times.
        return [dict(zip(names, row)) for row in cursor.fetchall()]  # noqa: B905

    def changes(self) -> int:
        """How many rows this connection has inserted, updated or deleted since it opened: equal counts at two
        moments mean the ledger did not change in between (this connection is a run's only writer)."""
        return self.conn.total_changes

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        """Close the connection; a scratch ledger (``save_to``) is written to its file first, whatever ended it."""
        try:
            if self.save_to is not None:
                if self.conn.in_transaction:  # only what was committed is kept, as a file ledger keeps it
                    self.conn.execute("ROLLBACK")
                _save(self.conn, self.save_to)
        finally:
            self.conn.close()


# What a disk that refuses writes looks like: SQLite's "database or disk is full" and its I/O errors (a write
# past a file-size limit is one), and the operating system's no space, over quota, file too large.
_STORAGE_SQLITE_CODES = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR})
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def storage_failure(error: BaseException, ledger_path: Path) -> StorageError | None:
    """The ``StorageError`` for an error that says the disk refused a write; None for anything else."""
    if isinstance(error, sqlite3.Error):
        # Set only on errors SQLite itself returned (not on the sqlite3 module's own, e.g. a closed connection).
        code: int | None = getattr(error, "sqlite_errorcode", None)
        if code is None or code & 0xFF not in _STORAGE_SQLITE_CODES:
            return None
        where = f"the ledger {ledger_path}"
    elif isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS:
        where = str(error.filename) if error.filename else "a workspace file"
    else:
        return None
    return StorageError(
        f"{where} could not be written: {error}",
        hint="free disk space (or fix the disk) and rerun: the transaction that hit it was rolled back, "
        "nothing of it was recorded",
    )


def _configure(conn: sqlite3.Connection, *, wal: bool) -> None:
    conn.row_factory = None
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if wal:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ConfigError(
                "the ledger could not switch to WAL journaling",
                hint="keep the ledger on a local disk; WAL does not work over a network filesystem",
            )
        # Durability over speed: the ledger is small and an order record must survive a power cut. Scratch
        # ledgers (replay) are not files while they run (``open_ledger``).
        conn.execute("PRAGMA synchronous = FULL")


def _save(conn: sqlite3.Connection, path: Path) -> None:
    """Write the in-memory ledger ``conn`` to ``path`` whole: into a file beside it, then renamed over it, so the
    path never holds half a ledger. A write-ahead log or shared-memory file of an earlier ledger at the path is
    removed first: SQLite would read it as part of the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".saving")
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial)
    try:
        conn.backup(target)
    except BaseException:
        target.close()
        partial.unlink(missing_ok=True)  # half a ledger is no ledger (a full disk, an interrupt)
        raise
    target.close()
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    os.replace(partial, path)


def _copy_into(path: Path, target: sqlite3.Connection) -> None:
    """Copy the ledger (with its write-ahead log) into ``target`` without touching the original files.

    Even a read-only SQLite connection to a WAL database creates and writes its ``-shm`` (and ``-wal``)
    side files; reading a private copy leaves the workspace exactly as it was.
    """
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="autotrader-snapshot-") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        source = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            source.close()


def open_ledger(path: Path, *, snapshot: bool = False, durable: bool = True, empty: bool = False) -> Ledger:
    """Open (creating if needed) and migrate the ledger at ``path``; or an in-memory snapshot of it
    (``empty``: a fresh in-memory ledger, for a dry run of something that starts from scratch).

    ``durable=False``: a scratch ledger (a replay's, started afresh each time), kept in memory while it runs and
    written to ``path`` when closed: its thousands of commits cost no file writes. A process killed outright
    leaves no file rather than part of a replay; an error or an interrupt still closes it, so what it had done
    is kept."""
    from autotrader.ledger.migrations import apply_migrations

    if snapshot or not durable:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        if snapshot and path.exists() and not empty:
            _copy_into(path, conn)
        _configure(conn, wal=False)
        ledger = Ledger(conn, path, snapshot=snapshot, save_to=None if snapshot else path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        _configure(conn, wal=True)
        ledger = Ledger(conn, path, snapshot=False)
    apply_migrations(ledger)
    return ledger


def open_ledger_readonly(path: Path) -> Ledger | None:
    """The ledger for reading only (``status``): a migrated in-memory copy, or None when there is no ledger yet.

    A copy, not a read-only connection: even a read-only SQLite connection to a WAL database writes its
    ``-shm`` side file, and a monitor calling ``status`` every few minutes should leave no trace.
    """
    if not path.exists():
        return None
    return open_ledger(path, snapshot=True)
