"""A ledger's time only moves forward: a state-changing run dated before the latest recorded run is refused."""

from __future__ import annotations

import sqlite3

import pytest


def _runs(config) -> list[tuple[str, str]]:
    conn = sqlite3.connect(config.parent / "ledger-sim.db")
    try:
        return conn.execute("SELECT command, as_of FROM runs ORDER BY id").fetchall()
    finally:
        conn.close()


def _snapshot(config) -> dict[str, int]:
    conn = sqlite3.connect(config.parent / "ledger-sim.db")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()


@pytest.mark.parametrize("command", ["size", "run-daily", "sync", "scan", "rebalance"])
def test_a_run_before_the_latest_is_refused_naming_that_run(cli, write_config, command):
    config = write_config("")
    assert cli("run-daily", "--as-of", "2026-03-04T10:30:00-05:00", "--config", str(config)).exit_code == 0
    before = _snapshot(config)
    result = cli(command, "--as-of", "2026-03-02T10:30:00-05:00", "--config", str(config))
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert "earlier than this ledger's latest run, run-daily at 2026-03-04T15:30:00+00:00 (run " in said
    assert "time only moves forward" in said and "Traceback" not in result.output
    assert _snapshot(config) == before  # nothing written, not even a runs row


def test_the_same_instant_later_instants_and_dry_runs_are_allowed(cli, write_config):
    config = write_config("")
    at = "2026-03-04T10:30:00-05:00"
    assert cli("run-daily", "--as-of", at, "--config", str(config)).exit_code == 0
    assert cli("run-daily", "--as-of", at, "--config", str(config)).exit_code == 0  # a rerun of the same slot
    assert cli("size", "--dry-run", "--as-of", "2026-03-02T10:30:00-05:00", "--config", str(config)).exit_code == 0
    assert cli("size", "--as-of", "2026-03-05T10:30:00-05:00", "--config", str(config)).exit_code == 0
    assert [c for c, _ in _runs(config)] == ["run-daily", "run-daily", "size"]


def test_a_scorecard_may_look_back_and_does_not_move_the_ledgers_time(cli, write_config):
    config = write_config("")
    assert cli("run-daily", "--as-of", "2026-03-04T10:30:00-05:00", "--config", str(config)).exit_code == 0
    assert cli("scorecard", "--as-of", "2026-03-02T17:00:00-05:00", "--config", str(config)).exit_code == 0
    assert cli("scorecard", "--as-of", "2026-03-20T17:00:00-05:00", "--config", str(config)).exit_code == 0
    # The later scorecard traded nothing: a trading run between the two is still in order.
    assert cli("size", "--as-of", "2026-03-05T10:30:00-05:00", "--config", str(config)).exit_code == 0
