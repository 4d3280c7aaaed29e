"""The command line: help, the shared options, exit codes, --json, --dry-run, the lock, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

STEP_COMMANDS = ["sync", "status", "run-daily", "replay", "demo", "config show", "config check"]
AS_OF = "2026-03-02T10:30:00-05:00"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for name in ("sync", "status", "run-daily", "replay", "demo", "config"):
        assert name in result.output


@pytest.mark.parametrize("command", STEP_COMMANDS)
def test_every_command_takes_the_shared_options(cli, command):
    result = cli(*command.split(), "--help")
    assert result.exit_code == 0, result.output
    for option in ("--dry-run", "--json", "--as-of", "--config"):
        assert option in result.output, f"{command} lacks {option}"


def test_sync_json_contract(cli, write_config):
    config = write_config("")
    result = cli("sync", "--json", "--as-of", AS_OF, "--config", str(config))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    for key in ("command", "as_of", "dry_run", "ok", "orders", "skipped", "diffs", "new_fills"):
        assert key in payload
    assert payload["command"] == "sync" and payload["as_of"] == "2026-03-02T15:30:00+00:00"
    assert (config.parent / "ledger-sim.db").exists()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[sizing]\nmax_position_pct = nan\n", "config.toml:2"),
        ("[sizing]\nmax_positon_pct = 5\n", "config.toml:2"),
        ("[dipbuy]\ndip_buy_tiers = [{dip_pct = 10, add_pct = 50}, {dip_pct = 5, add_pct = 50}]\n", "config.toml:2"),
        ("[account\n", "config.toml:1"),
    ],
)
@pytest.mark.parametrize("command", ["sync", "run-daily", "status", "config check"])
def test_bad_config_exits_2_naming_the_place_and_writes_nothing(cli, write_config, text, fragment, command):
    config = write_config(text)
    before = _files(config.parent)
    result = cli(*command.split(), "--config", str(config))
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.output
    assert _files(config.parent) == before  # no ledger, no log, no lock file


def test_bad_config_in_json_mode_prints_one_error_object(cli, write_config):
    config = write_config("[sizing]\nmax_position_pct = -1\n")
    result = cli("sync", "--json", "--config", str(config))
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["error"]["code"] == "bad_config"
    assert "sizing.max_position_pct" in payload["error"]["message"]


def test_missing_config_file(cli, tmp_path):
    result = cli("sync", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2 and "config file not found" in result.stderr


def test_bad_as_of_exits_2(cli, write_config):
    result = cli("sync", "--as-of", "tomorrowish", "--config", str(write_config("")))
    assert result.exit_code == 2 and "--as-of" in result.stderr


def test_config_from_environment_variable(cli, write_config, monkeypatch):
    config = write_config("[sizing]\nmax_position_pct = 4\n")
    monkeypatch.setenv("AUTOTRADER_CONFIG", str(config))
    result = cli("config", "show", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["settings"]["sizing"]["max_position_pct"] == 4


def test_config_show_never_prints_secrets(cli, write_config, monkeypatch):
    config = write_config("")
    monkeypatch.setenv("ALPACA_API_KEY", "PKCANARY0123456789")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "SECRETCANARY0123456789")
    for args in (["config", "show"], ["config", "show", "--json"], ["config", "check", "--json"]):
        result = cli(*args, "--config", str(config))
        assert result.exit_code == 0
        assert "CANARY" not in result.output
    assert "alpaca_api_key" in cli("config", "check", "--json", "--config", str(config)).stdout


def test_dry_run_leaves_the_ledger_byte_identical(cli, write_config):
    config = write_config("")
    assert cli("sync", "--as-of", AS_OF, "--config", str(config)).exit_code == 0
    ledger = config.parent / "ledger-sim.db"
    before = ledger.read_bytes()
    for command in ("sync", "run-daily"):
        result = cli(command, "--dry-run", "--json", "--as-of", "2026-03-03T11:00:00-05:00", "--config", str(config))
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["dry_run"] is True
    assert ledger.read_bytes() == before


def test_dry_run_on_a_fresh_workspace_creates_no_ledger(cli, write_config):
    config = write_config("")
    assert cli("run-daily", "--dry-run", "--as-of", AS_OF, "--config", str(config)).exit_code == 0
    assert not (config.parent / "ledger-sim.db").exists()


def test_every_run_is_recorded_with_its_exit_code(cli, write_config):
    config = write_config("")
    cli("sync", "--as-of", AS_OF, "--config", str(config))
    cli("run-daily", "--as-of", AS_OF, "--config", str(config))
    status = json.loads(cli("status", "--json", "--config", str(config)).stdout)
    assert [(r["command"], r["exit_code"]) for r in status["last_runs"]] == [("run-daily", 0), ("sync", 0)]


def test_run_daily_outside_the_session_does_nothing_and_says_why(cli, write_config):
    config = write_config("")
    holiday = json.loads(cli("run-daily", "--json", "--as-of", "2026-11-26T10:00", "--config", str(config)).stdout)
    assert holiday["slot"] == "closed" and "Thanksgiving" in holiday["notes"][0]
    result = cli("run-daily", "--json", "--as-of", "2026-11-27T14:00:00-05:00", "--config", str(config))
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["orders"] == [] and payload["slot"] == "close"
    assert "early close" in payload["session"]["reason"]


def test_status_check(cli, write_config):
    config = write_config("")
    fresh = cli("status", "--check", "--config", str(config))
    assert fresh.exit_code == 1 and "no successful step run" in fresh.output
    cli("sync", "--as-of", AS_OF, "--config", str(config))
    ok = cli("status", "--check", "--max-age", "2h", "--as-of", "2026-03-02T11:00:00-05:00", "--config", str(config))
    assert ok.exit_code == 0, ok.output
    stale = cli("status", "--check", "--max-age", "2h", "--as-of", "2026-03-02T13:00:00-05:00", "--config", str(config))
    assert stale.exit_code == 1 and "stale" in stale.output
    bad = cli("status", "--check", "--max-age", "soon", "--config", str(config))
    assert bad.exit_code == 2


def test_a_held_lock_exits_4_at_once(cli, write_config):
    from filelock import FileLock

    config = write_config("")
    with FileLock(str(config.parent / ".autotrader.lock")):
        result = cli("sync", "--as-of", AS_OF, "--config", str(config))
        assert result.exit_code == 4  # refused, not queued: the lock is taken with timeout 0
    assert not (config.parent / "ledger-sim.db").exists()


@pytest.mark.slow
def test_a_second_run_during_a_long_replay_exits_4_within_a_second(write_config):
    config = write_config("")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    exe = [sys.executable, "-m", "autotrader"]
    replay = subprocess.Popen(
        [*exe, "replay", "--start", "2016-01-04", "--end", "2025-12-31", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        lock = config.parent / ".autotrader.lock"
        deadline = time.monotonic() + 30
        while not any((config.parent / "logs").glob("autotrader-*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.05)  # the replay's first event is its start, logged once it holds the lock
        assert replay.poll() is None, replay.stderr.read().decode()
        second = subprocess.run([*exe, "sync", "--config", str(config)], capture_output=True, env=env, timeout=60)
        assert second.returncode == 4, second.stderr.decode()
        assert b"lock" in second.stderr
        # It did not wait for the lock: the replay (ten years of sessions) is still running. How long the refusal
        # takes is measured by benchmarks/bench.py, not asserted here (tests must not depend on machine speed).
        assert replay.poll() is None
        assert lock.exists()
    finally:
        replay.kill()
        replay.wait()


def test_the_demo_replaces_only_a_workspace_it_made(cli, tmp_path):
    """Its own folder (the marker file) is replaced afresh; any other non-empty folder is refused, exit 2, and
    left as it was. (What a demo run replays, trades and writes: tests/e2e/test_report_pages.py.)"""
    from autotrader.pipeline import demo

    made = demo.create_workspace(tmp_path / "d")
    (made / "ledger-sim.db").write_text("an earlier demo's ledger")
    again = demo.create_workspace(tmp_path / "d")
    assert again == made and not (made / "ledger-sim.db").exists() and (made / demo.MARKER).exists()
    assert (made / "config.toml").read_text() == demo.default_config_text()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    refused = cli("demo", "--dir", str(tmp_path / "mine"))
    assert refused.exit_code == 2 and (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_replay_rejects_future_and_inverted_ranges(cli, write_config):
    config = write_config("")
    inverted = cli("replay", "--start", "2026-03-05", "--end", "2026-03-02", "--config", str(config))
    assert inverted.exit_code == 2 and "before" in inverted.stderr
    future = cli(
        "replay", "--start", "2026-03-02", "--end", "2026-03-06", "--as-of", "2026-03-04T12:00", "--config", str(config)
    )
    assert future.exit_code == 2 and "past sessions only" in future.stderr
    bad = cli("replay", "--start", "March", "--end", "2026-03-06", "--config", str(config))
    assert bad.exit_code == 2


def test_replay_set_runs_a_what_if_and_refuses_a_bad_setting_before_anything_runs(cli, write_config):
    """One session of two slots: the settings given apply to this replay only, and say so; a bad one is exit 2."""
    config = write_config("[dipbuy]\ndip_buy_enabled = true\n")
    text = config.read_text()
    window = ["--start", "2026-03-02", "--end", "2026-03-02", "--as-of", "2026-03-03T12:00", "--config", str(config)]
    bad = cli("replay", *window, "--set", "dipbuy.dip_buy_enabled=maybe")
    assert bad.exit_code == 2 and "--set dipbuy.dip_buy_enabled: must be true or false" in bad.stderr
    assert "Traceback" not in bad.output and not (config.parent / "ledger-replay.db").exists()
    unknown = cli("replay", *window, "--set", "exits.loss_cut_pc.swing=5")
    assert unknown.exit_code == 2 and "keys in [exits]: " in unknown.stderr
    # Without the synthetic feed there is nothing to trade: the shortest replay that shows what was applied.
    result = cli("replay", *window, "--json", "--set", "dipbuy.dip_buy_enabled=false",
                 "--set", 'schedule.times=["09:30", "16:15"]', "--set", "signals.synthetic_feed=false")  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["overrides"] == {"dipbuy.dip_buy_enabled": False, "schedule.times": ["09:30", "16:15"],
                                    "signals.synthetic_feed": False}  # fmt: skip
    assert payload["slots"] == 2 and any(note.startswith("what-if: ran with --set") for note in payload["notes"])
    assert config.read_text() == text


@pytest.mark.slow
def test_replay_writes_only_its_own_ledger(cli, write_config):
    config = write_config("")
    cli("sync", "--as-of", AS_OF, "--config", str(config))
    main_ledger = (config.parent / "ledger-sim.db").read_bytes()
    result = cli("replay", "--start", "2026-03-02", "--end", "2026-03-03", "--json", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["slots"] == 2 * 20
    assert (config.parent / "ledger-sim.db").read_bytes() == main_ledger
    assert (config.parent / "ledger-replay.db").exists()


def test_a_day_log_gets_one_run_end_per_run(cli, write_config):
    config = write_config("")
    cli("sync", "--as-of", AS_OF, "--config", str(config))
    cli("sync", "--dry-run", "--as-of", AS_OF, "--config", str(config))
    logs = list((config.parent / "logs").glob("autotrader-*.jsonl"))
    assert len(logs) == 1
    events = [json.loads(line) for line in logs[0].read_text().splitlines()]
    ends = [e for e in events if e["event"] == "run_end"]
    assert len(ends) == 2 and all(e["exit_code"] == 0 for e in ends)
    assert {e["run_id"] for e in events if e["event"] == "run_start"} == {e["run_id"] for e in ends}


def test_live_mode_without_confirmation_is_refused(cli, write_config):
    config = write_config("[broker]\nkind = 'alpaca'\nmode = 'live'\n[data]\nkind = 'local'\npath = '.'\n")
    result = cli("sync", "--config", str(config))
    assert result.exit_code == 5 and "AUTOTRADER_LIVE_CONFIRM" in result.stderr
    assert not (config.parent / "ledger-live.db").exists()


@pytest.mark.parametrize("confirm", ["YES", "Yes", " yes", "yes ", "y", "true", ""])
def test_live_mode_is_confirmed_only_by_exactly_yes(cli, write_config, monkeypatch, confirm):
    monkeypatch.setenv("AUTOTRADER_LIVE_CONFIRM", confirm)
    config = write_config("[broker]\nkind = 'alpaca'\nmode = 'live'\n[data]\nkind = 'local'\npath = '.'\n")
    result = cli("sync", "--config", str(config))
    assert result.exit_code == 5 and "AUTOTRADER_LIVE_CONFIRM=yes" in result.stderr
    assert not (config.parent / "ledger-live.db").exists()


@pytest.mark.slow
def test_demo_and_replay_dry_runs_write_nothing(cli, write_config, tmp_path):
    result = cli("demo", "--dry-run", "--dir", str(tmp_path / "d"), "--sessions", "2", "--as-of", "2026-03-06T20:00")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "d").exists()
    config = write_config("")
    replay = cli(
        "replay", "--dry-run", "--json", "--start", "2026-03-02", "--end", "2026-03-03", "--config", str(config)
    )
    assert replay.exit_code == 0 and json.loads(replay.stdout)["sessions"] == 2
    assert not (config.parent / "ledger-replay.db").exists()


def test_help_loads_no_heavy_module():
    # `autotrader --help` must start at once: the data libraries and the report types (dozens of dataclasses)
    # load only when a command runs.
    import subprocess
    import sys

    code = (
        "import sys, autotrader.cli.app; "
        "print(sorted(m for m in ('pandas', 'numpy', 'pydantic', 'autotrader.domain.reports', 'scipy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "command", [("config", "check"), ("doctor",), ("scan",), ("run-daily",), ("size",), ("sync",)]
)
def test_every_command_refuses_a_real_broker_on_synthetic_data(cli, write_config, command):
    config = write_config("[broker]\nkind = 'alpaca'\n")
    result = cli(*command, "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "broker.kind = 'alpaca'" in result.stderr and "data.kind = 'synthetic'" in result.stderr
    assert "Traceback" not in result.output
    assert not list(config.parent.glob("ledger-*.db"))  # refused before any ledger exists


@pytest.mark.parametrize(
    "args",
    [
        ["scorecard", "--html", "{ws}/config.toml/page.html"],
        ["report", "--html", "{ws}/config.toml/page.html"],
        ["replay", "--start", "2026-03-02", "--end", "2026-03-03", "--html", "{ws}/config.toml/page.html"],
        ["rebalance", "--html", "{ws}/config.toml/page.html"],
        ["scan", "--explain", "AAPL", "--setup", "vwap"],
    ],
)
def test_a_page_that_cannot_be_written_or_an_unknown_setup_is_refused_before_any_ledger(cli, write_config, args):
    config = write_config("")
    result = cli(*(a.format(ws=config.parent) for a in args), "--config", str(config))
    assert result.exit_code == 2 and ("cannot write there" in result.stderr or "--setup 'vwap'" in result.stderr)
    assert not list(config.parent.glob("ledger-*.db"))
