"""The fast replay decides exactly as the full one: the same orders, fills, evening snapshots and final equity,
and the same signal outcomes once the replay's end has refreshed them (only when they were computed differs)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

START, END = date(2026, 2, 2), date(2026, 2, 6)


def _replay(folder: Path, *, full: bool) -> tuple[float, dict[str, list[tuple]]]:
    from autotrader.pipeline import replay
    from autotrader.pipeline.demo import create_workspace

    create_workspace(folder)
    body = lambda ctx: replay.run(ctx, START, END, full=full)  # noqa: E731
    outcome = replay.invoke_replay("replay", body, config_path=str(folder / "config.toml"), as_of=None)
    assert outcome.report is not None and outcome.report.exit_code == 0, outcome.error
    return outcome.report.final_equity, _ledger(folder / "ledger-replay.db")


def _ledger(path: Path) -> dict[str, list[tuple]]:
    """What the replay decided and what came of it, without the columns that say when a row was written (wall
    time or a run's random id): orders by their deterministic client order id, fills by their order's."""
    db = sqlite3.connect(path)

    def columns(table: str, *without: str) -> str:
        return ", ".join(r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[1] not in without)

    try:
        return {
            "orders": db.execute(
                "SELECT client_order_id, book, symbol, side, qty, type, time_in_force, order_class, limit_price, "
                "stop_price, status, filled_qty, filled_avg_price, submitted_at, updated_at FROM orders "
                "ORDER BY client_order_id, submitted_at"
            ).fetchall(),
            "fills": db.execute(
                "SELECT o.client_order_id, f.symbol, f.side, f.qty, f.price, f.commission, f.filled_at FROM fills f "
                "JOIN orders o USING (broker_order_id) ORDER BY 1, f.filled_at, f.qty, f.price"
            ).fetchall(),
            "positions": db.execute(f"SELECT {columns('positions')} FROM positions ORDER BY book, symbol").fetchall(),
            "snapshots": db.execute("SELECT * FROM snapshots ORDER BY 1").fetchall(),
            "decisions": db.execute(
                "SELECT signal_id, step, outcome, reason FROM decisions ORDER BY signal_id, step"
            ).fetchall(),
            "outcomes": db.execute(
                f"SELECT {columns('signal_outcomes', 'computed_at')} FROM signal_outcomes ORDER BY signal_id, horizon"
            ).fetchall(),
            "rule_exits": db.execute(
                f"SELECT {columns('signal_rule_exits', 'computed_at')} FROM signal_rule_exits ORDER BY signal_id"
            ).fetchall(),
        }
    finally:
        db.close()


@pytest.mark.slow  # the same five sessions replayed twice
def test_the_fast_replay_places_the_same_orders_and_ends_at_the_same_equity(tmp_path):
    fast_equity, fast = _replay(tmp_path / "fast", full=False)
    full_equity, full = _replay(tmp_path / "full", full=True)
    assert fast["orders"] and fast["fills"] and fast["outcomes"]  # the window trades and scores something
    assert fast_equity == full_equity
    for table, rows in full.items():
        assert fast[table] == rows, table
