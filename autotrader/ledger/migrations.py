"""The ledger schema, as append-only sqlite-utils migrations.

Never edit a migration that has shipped: add a new one. ``apply_migrations`` is safe to run on every
start (sqlite-utils records what it applied), and refuses a ledger written by a *newer* autotrader
rather than guess at a schema it does not know.

Conventions: plural snake_case tables, timestamps are UTC ISO-8601 text ending in ``_at``, quantities
``qty``, money columns in dollars; JSON payloads in text columns named ``*_json``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from sqlite_utils.migrations import Migrations

from autotrader.errors import ConfigError
from autotrader.killpoints import kill_point

if TYPE_CHECKING:
    import sqlite_utils

    from autotrader.ledger.db import Ledger

MIGRATION_SET = "autotrader"
migrations = Migrations(MIGRATION_SET)


def run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run a migration's SQL statements one by one inside the caller's transaction.

    sqlite-utils' ``executescript`` finds statement ends by asking SQLite after every character, which costs
    most of a new ledger's set-up (tens of milliseconds, and the test suite opens hundreds of ledgers). A
    statement can only end at a semicolon, so this asks only there; a semicolon inside a string literal or a
    trigger body leaves the statement incomplete and the text runs on to the next one.
    """
    import sqlite3

    pending = ""
    pieces = script.split(";")
    for i, piece in enumerate(pieces):
        pending += piece if i == len(pieces) - 1 else piece + ";"
        if pending.strip() and sqlite3.complete_statement(pending):
            db.execute(pending.strip())
            pending = ""
    if pending.strip():  # a last statement may omit its semicolon
        if not sqlite3.complete_statement(pending + ";"):
            raise ValueError(f"migration SQL ends inside a statement: {pending.strip()[:80]!r}")
        db.execute(pending.strip())


@migrations(name="0001_foundation")
def _foundation(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            command TEXT NOT NULL,
            as_of TEXT NOT NULL,
            mode TEXT NOT NULL,
            dry_run INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            exit_code INTEGER,
            summary_json TEXT,
            error TEXT
        );
        CREATE INDEX runs_command_started ON runs (command, started_at);

        -- An order we decided to send, stored before any network call, so a crash is settled by looking it up.
        CREATE TABLE order_intents (
            client_order_id TEXT PRIMARY KEY,
            session_date TEXT NOT NULL,
            step TEXT NOT NULL,
            book TEXT NOT NULL,
            leg TEXT NOT NULL,
            tier INTEGER NOT NULL DEFAULT 0,
            attempt INTEGER NOT NULL DEFAULT 0,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            qty REAL NOT NULL CHECK (qty > 0),
            type TEXT NOT NULL,
            time_in_force TEXT NOT NULL,
            order_class TEXT NOT NULL DEFAULT 'simple',
            limit_price REAL CHECK (limit_price IS NULL OR limit_price > 0),
            stop_price REAL CHECK (stop_price IS NULL OR stop_price > 0),
            trail_percent REAL,
            take_profit_limit_price REAL,
            stop_loss_stop_price REAL,
            stop_loss_limit_price REAL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            signal_id INTEGER,
            position_key TEXT,
            broker_order_id TEXT,
            error_code TEXT,
            error_message TEXT,
            submit_attempts INTEGER NOT NULL DEFAULT 0,
            run_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            extra_json TEXT
        );
        CREATE INDEX order_intents_status ON order_intents (status);
        CREATE INDEX order_intents_symbol ON order_intents (book, symbol);

        -- What the broker did with our orders (and the ones we did not create: book 'external').
        CREATE TABLE orders (
            broker_order_id TEXT PRIMARY KEY,
            client_order_id TEXT UNIQUE,
            parent_broker_order_id TEXT,
            book TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            qty REAL NOT NULL,
            type TEXT NOT NULL,
            time_in_force TEXT NOT NULL,
            order_class TEXT NOT NULL DEFAULT 'simple',
            limit_price REAL,
            stop_price REAL,
            status TEXT NOT NULL,
            filled_qty REAL NOT NULL DEFAULT 0,
            filled_avg_price REAL,
            submitted_at TEXT,
            updated_at TEXT,
            synced_at TEXT NOT NULL
        );
        CREATE INDEX orders_status ON orders (status);

        -- Executions, unique by the broker's fill id: replayed fills are ignored by construction.
        CREATE TABLE fills (
            fill_id TEXT PRIMARY KEY,
            broker_order_id TEXT NOT NULL REFERENCES orders (broker_order_id),
            book TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            qty REAL NOT NULL CHECK (qty > 0),
            price REAL NOT NULL CHECK (price > 0),
            commission REAL NOT NULL DEFAULT 0,
            filled_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            run_id TEXT
        );
        CREATE INDEX fills_filled_at ON fills (filled_at);

        -- What each book holds; the books of a symbol must sum to the broker's position.
        CREATE TABLE positions (
            book TEXT NOT NULL,
            symbol TEXT NOT NULL,
            qty REAL NOT NULL,
            avg_cost REAL NOT NULL DEFAULT 0,
            realized_pnl REAL NOT NULL DEFAULT 0,
            opened_at TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (book, symbol)
        );

        -- Small facts the steps keep between runs (e.g. the fill watermark).
        CREATE TABLE kv (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    )


@migrations(name="0002_sim_broker")
def _sim_broker(db: sqlite_utils.Database) -> None:
    # The simulated broker's own state. It lives in the ledger file (a demo needs nothing else) but only the
    # SimBroker adapter reads or writes these tables: to the pipeline it is as remote as Alpaca.
    run_script(
        db,
        """
        CREATE TABLE sim_account (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            cash REAL NOT NULL,
            starting_cash REAL NOT NULL,
            advanced_to TEXT,
            order_seq INTEGER NOT NULL DEFAULT 0,
            fill_seq INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE sim_orders (
            broker_order_id TEXT PRIMARY KEY,
            client_order_id TEXT NOT NULL UNIQUE,
            parent_broker_order_id TEXT REFERENCES sim_orders (broker_order_id),
            leg_role TEXT NOT NULL DEFAULT 'simple',
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            qty REAL NOT NULL,
            type TEXT NOT NULL,
            time_in_force TEXT NOT NULL,
            order_class TEXT NOT NULL DEFAULT 'simple',
            limit_price REAL,
            stop_price REAL,
            trail_percent REAL,
            status TEXT NOT NULL,
            filled_qty REAL NOT NULL DEFAULT 0,
            filled_avg_price REAL,
            submitted_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            active_from TEXT,
            high_water REAL,
            reject_reason TEXT
        );
        CREATE INDEX sim_orders_status ON sim_orders (status);
        CREATE TABLE sim_fills (
            fill_id TEXT PRIMARY KEY,
            broker_order_id TEXT NOT NULL REFERENCES sim_orders (broker_order_id),
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            qty REAL NOT NULL CHECK (qty > 0),
            price REAL NOT NULL CHECK (price > 0),
            commission REAL NOT NULL DEFAULT 0,
            filled_at TEXT NOT NULL
        );
        CREATE INDEX sim_fills_filled_at ON sim_fills (filled_at);
        CREATE TABLE sim_positions (
            symbol TEXT PRIMARY KEY,
            qty REAL NOT NULL,
            avg_entry_price REAL NOT NULL
        );
        """,
    )


def _known_names() -> set[str]:
    return {m.name for m in migrations._migrations}


def pending_migrations(ledger: Ledger) -> list[str]:
    return [m.name for m in migrations.pending(ledger.db)]


def apply_migrations(ledger: Ledger) -> None:
    """Bring the ledger's schema up to date, in one immediate transaction.

    A new (empty) ledger gets the final schema at once (``_create_fresh``); an older one is upgraded migration by
    migration."""
    if _is_empty(ledger):
        with ledger.write():
            if _is_empty(ledger):  # asked again under the write lock: another process may have created it since
                _create_fresh(ledger)
                return
    applied = {m.name for m in migrations.applied(ledger.db)}
    unknown = applied - _known_names()
    if unknown:
        raise ConfigError(
            f"ledger {ledger.path}: written by a newer autotrader (unknown migrations: {', '.join(sorted(unknown))})",
            hint="upgrade autotrader; this version will not guess at a newer schema",
        )
    if applied == _known_names():
        return
    with ledger.write() as db:
        pending = pending_migrations(ledger)
        # One migration at a time, all in the one transaction: a crash between two of them (the kill point)
        # leaves the ledger as it was before the upgrade, and the next open applies the whole set again.
        for later in pending[1:]:
            migrations.apply(db, stop_before=later)
            kill_point("mid_migration")
        migrations.apply(db)


def _is_empty(ledger: Ledger) -> bool:
    return ledger.scalar("SELECT count(*) FROM sqlite_master") == 0


@cache
def _final_schema() -> tuple[str, ...]:
    """Every statement of the schema all the migrations make, in the order SQLite keeps them (tables before their
    indexes and triggers; an added column in its table's statement), found once per process by applying them to
    an empty in-memory database. sqlite-utils' bookkeeping between migrations reads the schema again after each
    of them, which made a new ledger cost tens of milliseconds; its statements alone cost a few."""
    import sqlite_utils

    db = sqlite_utils.Database(memory=True)
    migrations.apply(db)
    rows = db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
    statements = tuple(sql for (sql,) in rows.fetchall())
    db.close()
    return statements


def _create_fresh(ledger: Ledger) -> None:
    """Give an empty ledger, inside the caller's transaction, the schema the migrations make and the record of each
    migration applied: the same ledger as applying them one by one (a test compares the two)."""
    for statement in _final_schema():
        ledger.conn.execute(statement)
    applied_at = str(datetime.now(UTC))  # as sqlite-utils records it
    ledger.conn.executemany(
        f"INSERT INTO {Migrations.migrations_table} (migration_set, name, applied_at) VALUES (?, ?, ?)",
        [(MIGRATION_SET, m.name, applied_at) for m in migrations._migrations],
    )


@migrations(name="0003_signals")
def _signals(db: sqlite_utils.Database) -> None:
    # Recommendations and what became of them. Signals are immutable once stored (triggers refuse
    # UPDATE and DELETE): the scorecard must be computed from exactly what the source said.
    run_script(
        db,
        """
        CREATE TABLE signal_imports (
            id INTEGER PRIMARY KEY,
            content_hash TEXT NOT NULL UNIQUE,
            origin TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            rows_total INTEGER NOT NULL,
            rows_imported INTEGER NOT NULL,
            rows_skipped INTEGER NOT NULL,
            archive_path TEXT,
            skipped_json TEXT,
            run_id TEXT
        );

        CREATE TABLE signals (
            id INTEGER PRIMARY KEY,
            import_id INTEGER NOT NULL REFERENCES signal_imports (id),
            line INTEGER NOT NULL,
            symbol TEXT NOT NULL,
            category TEXT NOT NULL CHECK (category IN ('long_term', 'swing', 'day_trade')),
            source TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
            conviction INTEGER CHECK (conviction IS NULL OR conviction BETWEEN 1 AND 10),
            entry REAL CHECK (entry IS NULL OR entry > 0),
            stop REAL CHECK (stop IS NULL OR stop > 0),
            target REAL CHECK (target IS NULL OR target > 0),
            horizon_days INTEGER CHECK (horizon_days IS NULL OR horizon_days > 0),
            generated_at TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            dedupe_key TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE INDEX signals_generated ON signals (generated_at);
        CREATE INDEX signals_symbol ON signals (symbol);
        CREATE TRIGGER signals_no_update BEFORE UPDATE ON signals
            BEGIN SELECT RAISE(ABORT, 'signals are immutable'); END;
        CREATE TRIGGER signals_no_delete BEFORE DELETE ON signals
            BEGIN SELECT RAISE(ABORT, 'signals are immutable'); END;

        -- Why a signal did or did not trade (one row per signal and step).
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            signal_id INTEGER NOT NULL REFERENCES signals (id),
            step TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('ordered', 'skipped', 'reduced')),
            reason TEXT NOT NULL DEFAULT '',
            trace_json TEXT,
            client_order_id TEXT,
            decided_at TEXT NOT NULL,
            run_id TEXT,
            UNIQUE (signal_id, step)
        );

        -- Did the pick work? One row per signal and horizon (sessions); pending until complete.
        CREATE TABLE signal_outcomes (
            signal_id INTEGER NOT NULL REFERENCES signals (id),
            horizon INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'complete', 'no_data')),
            entry_date TEXT,
            entry_price REAL,
            exit_date TEXT,
            exit_price REAL,
            ret REAL,
            benchmark_ret REAL,
            excess REAL,
            mfe REAL,
            mae REAL,
            hit INTEGER,
            computed_at TEXT NOT NULL,
            PRIMARY KEY (signal_id, horizon)
        );

        -- The pick alone held to its rule exit (stop, target or horizon), from the signal's own entry.
        CREATE TABLE signal_rule_exits (
            signal_id INTEGER PRIMARY KEY REFERENCES signals (id),
            status TEXT NOT NULL CHECK (status IN ('pending', 'complete', 'no_data')),
            entry_date TEXT,
            entry_price REAL,
            first_touch TEXT,
            first_touch_date TEXT,
            exit_date TEXT,
            exit_price REAL,
            exit_reason TEXT,
            ret REAL,
            r_multiple REAL,
            holding_sessions INTEGER,
            computed_at TEXT NOT NULL
        );
        """,
    )


@migrations(name="0004_rehydrate")
def _rehydrate(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- End-of-day portfolio, one row per session (rehydrate is idempotent per session date).
        CREATE TABLE snapshots (
            session_date TEXT PRIMARY KEY,
            as_of TEXT NOT NULL,
            equity REAL NOT NULL,
            cash REAL NOT NULL,
            deployed_json TEXT NOT NULL,
            by_category_json TEXT NOT NULL,
            positions_json TEXT NOT NULL,
            created_at TEXT NOT NULL
        );

        -- One review per closed trade: what the pick did, what management did and was worth.
        CREATE TABLE trade_reviews (
            trade_id TEXT PRIMARY KEY,
            signal_id INTEGER REFERENCES signals (id),
            book TEXT NOT NULL,
            symbol TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            closed_at TEXT NOT NULL,
            review_json TEXT NOT NULL,
            reviewer_output TEXT,
            reviewer_exit_code INTEGER,
            reviewed_at TEXT NOT NULL
        );
        """,
    )


@migrations(name="0005_reference_cache")
def _reference_cache(db: sqlite_utils.Database) -> None:
    # Sectors (kept 24 hours) and next earnings dates (kept for the New York day they were fetched on),
    # so a slot's sizing does not ask the reference source again for every signal.
    run_script(
        db,
        """
        CREATE TABLE reference_cache (
            symbol TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('sector', 'next_earnings')),
            value TEXT,
            fetched_at TEXT NOT NULL,
            PRIMARY KEY (symbol, kind)
        );
        """,
    )


@migrations(name="0006_intent_expiry")
def _intent_expiry(db: sqlite_utils.Database) -> None:
    # The instant after which an intent that never reached the broker must not be sent any more (the end of
    # the trading window or the market-on-open cut-off it was decided for). NULL: its session date decides.
    db.execute("ALTER TABLE order_intents ADD COLUMN expires_at TEXT")


@migrations(name="0007_position_management")
def _position_management(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- What management remembers about one life of a position (it opens when the book's quantity leaves
        -- zero). The high-water mark lives here so a trailing stop survives restarts; the stop only ratchets up.
        CREATE TABLE position_state (
            position_key TEXT PRIMARY KEY,          -- book:symbol:opened_at
            book TEXT NOT NULL,
            symbol TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            signal_id INTEGER,
            category TEXT,
            original_qty REAL NOT NULL,             -- the entry leg's filled quantity (× splits since)
            entry_price REAL NOT NULL,              -- the entry leg's average fill price (÷ splits since)
            atr REAL,                               -- Wilder's ATR at entry, for the ATR stop and targets
            stop_price REAL,                        -- the protective stop the broker should hold
            stop_leg TEXT,                          -- stop | trail: what set the current stop
            target_price REAL,                      -- the final target (sold at or above it)
            target_one_price REAL,                  -- the first target (partial exit, then stop to break-even)
            target_one_done INTEGER NOT NULL DEFAULT 0,
            high_water REAL,
            high_water_at TEXT,
            trail_active INTEGER NOT NULL DEFAULT 0,
            last_price REAL,                        -- the last price a run saw: a gap from it may be a split
            last_price_at TEXT,
            halted_reason TEXT,                     -- set: no tier or add-on for this position until cleared
            closed_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX position_state_open ON position_state (book, symbol, closed_at);

        -- Splits the ledger applied to positions: quantity × ratio, average cost ÷ ratio, cost basis unchanged.
        CREATE TABLE corporate_actions (
            id INTEGER PRIMARY KEY,
            symbol TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('split')),
            ratio REAL NOT NULL CHECK (ratio > 0),  -- new shares per old share (2 for 2:1, 0.1 for 1:10)
            effective_at TEXT NOT NULL,             -- fills before this instant are in pre-split units
            detected_by TEXT NOT NULL,
            details_json TEXT,
            recorded_at TEXT NOT NULL,
            run_id TEXT
        );
        CREATE INDEX corporate_actions_symbol ON corporate_actions (symbol, effective_at);
        CREATE INDEX fills_book_symbol ON fills (book, symbol, filled_at);
        CREATE INDEX order_intents_position ON order_intents (position_key);

        -- The simulated broker's own record of the splits it applied to its positions (exactly once each).
        CREATE TABLE sim_splits (
            symbol TEXT NOT NULL,
            ex_date TEXT NOT NULL,
            ratio REAL NOT NULL,
            applied_at TEXT NOT NULL,
            PRIMARY KEY (symbol, ex_date)
        );
        """,
    )


@migrations(name="0008_bar_cache")
def _bar_cache(db: sqlite_utils.Database) -> None:
    # Daily bars from the market-data vendor, so a run pays requests only for sessions it has never seen.
    # Bars are stored as the vendor sent them (unadjusted); ``problem`` records why a bar is unusable
    # (bad price, duplicated, out of order), so the symbol is skipped whenever a window includes it.
    run_script(
        db,
        """
        CREATE TABLE bar_cache (
            symbol TEXT NOT NULL,
            session_date TEXT NOT NULL,             -- YYYY-MM-DD, an NYSE session
            open REAL,
            high REAL,
            low REAL,
            close REAL,
            volume REAL,
            source TEXT NOT NULL CHECK (source IN ('grouped', 'aggs')),
            fetched_at TEXT NOT NULL,
            problem TEXT,
            PRIMARY KEY (symbol, session_date)
        ) WITHOUT ROWID;

        -- Sessions whose whole-market (grouped daily) response was stored. It holds rows for the symbols
        -- tracked when it was fetched (seq below), so a tracked symbol absent from it had no bar that day.
        CREATE TABLE bar_cache_sessions (
            session_date TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            rows INTEGER NOT NULL,                  -- rows in the vendor's response (all symbols)
            fetched_at TEXT NOT NULL
        );

        -- Symbols whose rows are kept from grouped responses: those fetched with a larger seq cover them.
        CREATE TABLE bar_cache_symbols (
            symbol TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            tracked_at TEXT NOT NULL
        );

        -- Sessions covered for one symbol by a per-symbol request (a backfill), bars or not.
        CREATE TABLE bar_cache_ranges (
            symbol TEXT NOT NULL,
            first_session TEXT NOT NULL,
            last_session TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            PRIMARY KEY (symbol, first_session, last_session)
        );
        """,
    )


@migrations(name="0009_point_in_time_scoring")
def _point_in_time_scoring(db: sqlite_utils.Database) -> None:
    # Outcomes are scored from when a signal became knowable (the later of its claimed generated_at and its
    # import), entering at the first price after that instant: a minute bar's open for an arrival during a
    # session with minute data, else the next session's open. Each row records that instant and the entry's.
    #
    # Rows stored before this rule entered at the first session open after the *claimed* time: a backdated
    # file was credited for moves made before anyone could act on it, and an arrival during a session
    # skipped to the next day. They are deleted rather than patched or marked: outcomes are derived data,
    # recomputed from bars by the next refresh (rehydrate, scorecard) for every signal that has no final
    # row, exactly as for a newly imported signal. From that refresh on, a complete row is final again and
    # is never recomputed. Signals themselves, decisions and trades are untouched.
    for table in ("signal_outcomes", "signal_rule_exits"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN knowable_at TEXT")
        db.execute(f"ALTER TABLE {table} ADD COLUMN entry_at TEXT")
        db.execute(f"DELETE FROM {table}")


@migrations(name="0010_abnormal_returns")
def _abnormal_returns(db: sqlite_utils.Database) -> None:
    # Each outcome row gains its market-model abnormal return (side-adjusted cumulative abnormal log return
    # over the row's window), the alpha and beta it used, and whether they fell back to 0 and 1 for lack of
    # history. The fit uses only sessions before the entry, so once stored it is reused by later refreshes.
    # Rows stored before have none; like the point-in-time change they are deleted, not patched: the next
    # refresh (rehydrate, scorecard) recomputes them from bars once, and complete rows are final from then on.
    # Rule exits do not depend on the market model and stay.
    db.execute("ALTER TABLE signal_outcomes ADD COLUMN abnormal REAL")
    db.execute("ALTER TABLE signal_outcomes ADD COLUMN alpha REAL")
    db.execute("ALTER TABLE signal_outcomes ADD COLUMN beta REAL")
    db.execute("ALTER TABLE signal_outcomes ADD COLUMN beta_fallback INTEGER")
    db.execute("DELETE FROM signal_outcomes")


@migrations(name="0011_quarantine")
def _quarantine(db: sqlite_utils.Database) -> None:
    # A symbol whose market data failed validation is set aside for the rest of its New York session: every
    # later run of that session reads the row and buys nothing in it, even when the data then looks right
    # (what was wrong once is not trusted the same day). The next session starts clean.
    db.executescript(
        """
        CREATE TABLE quarantine (
            symbol TEXT NOT NULL,
            session_date TEXT NOT NULL,
            reason TEXT NOT NULL,
            detected_at TEXT NOT NULL,
            run_id TEXT,
            PRIMARY KEY (symbol, session_date)
        );
        """
    )


@migrations(name="0012_approvals")
def _approvals(db: sqlite_utils.Database) -> None:
    # The manual approval gate: an entry that needs the owner's yes waits here, its intent PLANNED, until it
    # is approved (the next run sends it, inside its window), rejected, or its approval expires (abandoned).
    db.executescript(
        """
        CREATE TABLE approvals (
            client_order_id TEXT PRIMARY KEY REFERENCES order_intents (client_order_id),
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
            requested_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            decided_at TEXT,
            reason TEXT NOT NULL DEFAULT ''
        );
        """
    )


@migrations(name="0013_notifications")
def _notifications(db: sqlite_utils.Database) -> None:
    # Each alert a run raised, by its event key (``policy.alerts``), stored before it is sent: an event seen
    # by several runs (a breaker that holds all day, a loss priced by every slot) is sent once, and a crash
    # mid-send never sends it again. No URL is stored, only what the message was about.
    run_script(
        db,
        """
        CREATE TABLE notifications (
            key TEXT PRIMARY KEY,
            level TEXT NOT NULL,
            title TEXT NOT NULL,
            run_id TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """
    )


@migrations(name="0014_signal_predictions")
def _signal_predictions(db: sqlite_utils.Database) -> None:
    # A signal may carry what a model predicted for it (signal files' optional prediction columns, the built-in
    # combinations' predictions): the returns over 3, 10 and 30 sessions as fractions and the probability of a
    # positive 10-session return. Absent (NULL) for every signal stored before, and for most sources.
    for column in ("predicted_return_3d", "predicted_return_10d", "predicted_return_30d", "probability"):
        db.execute(f"ALTER TABLE signals ADD COLUMN {column} REAL")


@migrations(name="0015_signal_target_one")
def _signal_target_one(db: sqlite_utils.Database) -> None:
    # A signal may name its own first target (signal files' optional ``target_one``): a partial exit there, then
    # the stop to break-even, then the final ``target``; the position's plan takes it (``initial_plan``). Absent
    # (NULL) for every signal stored before, and for those that name none.
    db.execute("ALTER TABLE signals ADD COLUMN target_one REAL CHECK (target_one IS NULL OR target_one > 0)")


@migrations(name="0016_option_iv")
def _option_iv(db: sqlite_utils.Database) -> None:
    # Each underlying's 30-day implied volatility once per session (``policy.option_chain.iv30``), recorded after
    # the close: the history its IV rank and percentile are read from. Option data vendors serve today's chain,
    # not yesterday's, so the history is the one the toolkit keeps.
    run_script(
        db,
        """
        CREATE TABLE option_iv (
            underlying TEXT NOT NULL,
            session_date TEXT NOT NULL,
            iv30 REAL NOT NULL CHECK (iv30 > 0),
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (underlying, session_date)
        );
        """
    )


@migrations(name="0017_sim_options")
def _sim_options(db: sqlite_utils.Database) -> None:
    # The simulated broker's options desk (adapters/sim_options.py): option orders (one row per order, its legs
    # as JSON; a single option is an order of one leg), their fills per leg, positions per contract (short
    # negative), and what expiry did to each contract (expired, exercised, assigned), each once. The cash is the
    # account's own (sim_account); the shares an exercise or assignment delivers go to sim_positions.
    run_script(
        db,
        """
        CREATE TABLE sim_option_desk (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            order_seq INTEGER NOT NULL DEFAULT 0,
            fill_seq INTEGER NOT NULL DEFAULT 0,
            event_seq INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE sim_option_orders (
            broker_order_id TEXT PRIMARY KEY,
            client_order_id TEXT NOT NULL UNIQUE,
            underlying TEXT NOT NULL,
            order_class TEXT NOT NULL,
            legs_json TEXT NOT NULL,
            qty REAL NOT NULL CHECK (qty > 0),
            limit_price REAL NOT NULL,
            time_in_force TEXT NOT NULL,
            status TEXT NOT NULL,
            filled_qty REAL NOT NULL DEFAULT 0,
            filled_avg_price REAL,
            submitted_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            good_until TEXT NOT NULL
        );
        CREATE INDEX sim_option_orders_status ON sim_option_orders (status);
        CREATE TABLE sim_option_fills (
            fill_id TEXT PRIMARY KEY,
            broker_order_id TEXT NOT NULL REFERENCES sim_option_orders (broker_order_id),
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            qty REAL NOT NULL CHECK (qty > 0),
            price REAL NOT NULL CHECK (price >= 0),
            commission REAL NOT NULL DEFAULT 0,
            filled_at TEXT NOT NULL
        );
        CREATE TABLE sim_option_positions (
            symbol TEXT PRIMARY KEY,
            qty REAL NOT NULL,
            avg_entry_price REAL NOT NULL
        );
        CREATE TABLE sim_option_events (
            event_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            symbol TEXT NOT NULL UNIQUE,
            qty REAL NOT NULL,
            at TEXT NOT NULL,
            share_side TEXT,
            share_qty REAL NOT NULL DEFAULT 0,
            share_price REAL,
            cash REAL NOT NULL DEFAULT 0
        );
        """
    )


@migrations(name="0018_options_book")
def _options_book(db: sqlite_utils.Database) -> None:
    # The options book. An option intent keeps its legs (order_intents.legs_json: symbol, side, ratio, intent per
    # leg; NULL for every other intent). A structure is one position of legs (its id is the position_key of the
    # intents that open, adjust and close it), with what it could make or lose computed at entry. Option fills
    # are kept per leg apart from the stock fills (a contract is not a share: 100 of them per contract, and the
    # stock books must never sum a contract into a stock position); what expiry did to each contract is kept
    # once, and the shares it delivered go into the stock side's fills under the options book.
    db.execute("ALTER TABLE order_intents ADD COLUMN legs_json TEXT")
    run_script(
        db,
        """
        CREATE TABLE option_structures (
            structure_id TEXT PRIMARY KEY,
            strategy TEXT NOT NULL,
            kind TEXT NOT NULL,
            underlying TEXT NOT NULL,
            legs_json TEXT NOT NULL,
            units REAL NOT NULL CHECK (units > 0),
            status TEXT NOT NULL CHECK (status IN ('opening', 'open', 'closing', 'closed', 'abandoned')),
            signal_id INTEGER,
            planned_net REAL NOT NULL,
            open_net REAL,
            close_net REAL,
            max_profit REAL,
            max_loss REAL,
            breakevens_json TEXT NOT NULL DEFAULT '[]',
            realized_pnl REAL,
            close_reason TEXT,
            planned_at TEXT NOT NULL,
            opened_at TEXT,
            closed_at TEXT,
            extra_json TEXT
        );
        CREATE INDEX option_structures_status ON option_structures (status);
        CREATE TABLE option_fills (
            fill_id TEXT PRIMARY KEY,
            broker_order_id TEXT NOT NULL,
            client_order_id TEXT,
            structure_id TEXT REFERENCES option_structures (structure_id),
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            qty REAL NOT NULL CHECK (qty > 0),
            price REAL NOT NULL CHECK (price >= 0),
            commission REAL NOT NULL DEFAULT 0,
            filled_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            run_id TEXT
        );
        CREATE INDEX option_fills_filled_at ON option_fills (filled_at);
        CREATE TABLE option_events (
            event_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            symbol TEXT NOT NULL,
            qty REAL NOT NULL,
            at TEXT NOT NULL,
            share_side TEXT,
            share_qty REAL NOT NULL DEFAULT 0,
            share_price REAL,
            cash REAL NOT NULL DEFAULT 0,
            structure_id TEXT REFERENCES option_structures (structure_id),
            recorded_at TEXT NOT NULL
        );
        """
    )


@migrations(name="0019_sim_order_changes")
def _sim_order_changes(db: sqlite_utils.Database) -> None:
    # The simulated broker's feed of order changes (ports.OrderChanges): a row, numbered in the order written, for
    # each order group (by its parent's id) that was placed or whose status or fills changed. A fast replay's sync
    # reads only the groups changed since its last cursor, instead of listing every open or recent order each slot.
    # Triggers, so that no write of the matching engine, of a cancel or of a split can change an order unseen.
    # The index on the parent finds a group's legs without reading every order the account ever placed.
    run_script(
        db,
        """
        CREATE TABLE sim_order_changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            broker_order_id TEXT NOT NULL
        );
        CREATE INDEX sim_orders_parent ON sim_orders (parent_broker_order_id);
        CREATE TRIGGER sim_orders_placed AFTER INSERT ON sim_orders BEGIN
            INSERT INTO sim_order_changes (broker_order_id)
            VALUES (coalesce(NEW.parent_broker_order_id, NEW.broker_order_id));
        END;
        CREATE TRIGGER sim_orders_changed AFTER UPDATE OF status, filled_qty, filled_avg_price ON sim_orders
        WHEN OLD.status IS NOT NEW.status OR OLD.filled_qty IS NOT NEW.filled_qty
            OR OLD.filled_avg_price IS NOT NEW.filled_avg_price
        BEGIN
            INSERT INTO sim_order_changes (broker_order_id)
            VALUES (coalesce(NEW.parent_broker_order_id, NEW.broker_order_id));
        END;
        """,
    )


@migrations(name="0020_orders_working")
def _orders_working(db: sqlite_utils.Database) -> None:
    # The orders still working, in the order they were sent: every sync, and every step that looks at a
    # position's orders, reads them, and without this index each read scanned every order the ledger ever
    # recorded. A partial index: SQLite uses it for a query whose WHERE has this very predicate, literally, so
    # the reads in ledger/repo.py spell the same list of terminal statuses (domain.enums'
    # TERMINAL_BROKER_STATUSES), and a test checks their plans use it.
    run_script(
        db,
        """
        CREATE INDEX orders_working ON orders (submitted_at, broker_order_id)
        WHERE status NOT IN ('canceled', 'done_for_day', 'expired', 'filled', 'rejected', 'replaced');
        """,
    )
