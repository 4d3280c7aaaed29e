"""`init` makes a ready workspace and never overwrites one; `schedule --print` gives an installable schedule."""

from __future__ import annotations

import json
import stat

import pytest

from autotrader.policy import cron
from autotrader.settings import load_config


def test_init_makes_a_workspace_that_loads_and_keeps_keys_private(cli, tmp_path):
    folder = tmp_path / "paper"
    result = cli("init", str(folder), "--broker", "alpaca", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["broker"], payload["data"]) == ("alpaca", "polygon")  # a real broker gets real data
    for sub in ("logs", "signals/inbox", "signals/archive", "signals/rejected"):
        assert (folder / sub).is_dir()
    assert stat.S_IMODE((folder / ".env").stat().st_mode) == 0o600
    assert "# ALPACA_API_KEY=" in (folder / ".env").read_text()
    settings = load_config(folder / "config.toml").settings
    assert settings.broker.kind == "alpaca" and settings.data.kind == "polygon" and not settings.signals.synthetic_feed
    text = (folder / "config.toml").read_text()
    assert "# Simulated broker: starting cash in dollars" in text  # every setting keeps its comment


def test_init_with_synthetic_data_keeps_the_feed_and_refuses_to_overwrite(cli, tmp_path):
    assert cli("init", str(tmp_path / "demo")).exit_code == 0
    assert load_config(tmp_path / "demo" / "config.toml").settings.signals.synthetic_feed
    before = (tmp_path / "demo" / "config.toml").read_bytes()
    again = cli("init", str(tmp_path / "demo"), "--broker", "alpaca")
    assert again.exit_code == 2 and "never overwrites" in again.stderr
    assert (tmp_path / "demo" / "config.toml").read_bytes() == before


def test_init_refuses_a_real_broker_on_synthetic_data_and_unknown_choices(cli, tmp_path):
    refused = cli("init", str(tmp_path / "x"), "--broker", "alpaca", "--data", "synthetic")
    assert refused.exit_code == 2 and "a real broker never trades on made-up prices" in " ".join(refused.stderr.split())
    assert not (tmp_path / "x").exists()
    assert cli("init", str(tmp_path / "y"), "--broker", "ibkr").exit_code == 2
    assert cli("init", str(tmp_path / "y"), "--data", "yahoo").exit_code == 2 and not (tmp_path / "y").exists()


def test_init_dry_run_creates_nothing(cli, tmp_path):
    payload = json.loads(cli("init", str(tmp_path / "w"), "--data", "local", "--dry-run", "--json").stdout)
    assert any(p.endswith("/w/data") for p in payload["created"]) and not (tmp_path / "w").exists()


def test_timeouts_leave_room_before_the_next_slot():
    assert cron.timeouts(["09:00", "09:30", "12:55", "13:00", "16:30"]) == [24, 30, 4, 30, 30]
    assert cron.timeouts(["15:55", "16:00"]) == [4, 30]


def test_schedule_prints_a_crontab_with_absolute_paths_and_a_log_folder_made_first(cli, tmp_path):
    assert cli("init", str(tmp_path / "ws")).exit_code == 0
    config = tmp_path / "ws" / "config.toml"
    result = cli("schedule", "--print", "--config", str(config))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# autotrader's schedule")  # nothing but the file: it can be piped to crontab
    assert "CRON_TZ=America/New_York" in lines and f"AUTOTRADER_CONFIG={config.resolve()}" in lines
    runs = [line for line in lines if " run-daily " in line]
    times = load_config(config).settings.schedule.times
    assert len(runs) == len(times) and runs[0].startswith("0 9 * * 1-5  mkdir -p ")
    logs = tmp_path / "ws" / "logs"
    assert all(f"mkdir -p {logs.resolve()} && timeout " in r and f"2>>{logs.resolve()}/cron.err" in r for r in runs)
    assert any("status --check --max-age 26h" in line for line in lines)


def test_schedule_prints_systemd_timers_in_new_york_time(cli, tmp_path):
    assert cli("init", str(tmp_path / "ws")).exit_code == 0
    text = cli("schedule", "--print", "--systemd", "--config", str(tmp_path / "ws" / "config.toml")).stdout
    assert "# ~/.config/systemd/user/autotrader-run-daily.timer" in text
    assert "OnCalendar=Mon..Fri 09:30 America/New_York" in text and "ExecStart=" in text


def test_schedule_prints_the_intraday_timer_when_intraday_setups_are_enabled(cli, write_config):
    config = write_config('[intraday]\nenabled = ["orb"]\n')
    text = cli("schedule", "--print", "--systemd", "--config", str(config)).stdout
    assert "# ~/.config/systemd/user/autotrader-intraday.timer" in text
    assert "OnCalendar=Mon..Fri 09:35,40,45,50,55 America/New_York" in text and "TimeoutStartSec=4min" in text
    assert "enable --now autotrader-run-daily.timer autotrader-intraday.timer autotrader-status.timer" in text


@pytest.mark.parametrize("args", [["schedule"], ["schedule", "--systemd"]])
def test_schedule_without_print_says_what_to_ask(cli, write_config, args):
    result = cli(*args, "--config", str(write_config("")))
    assert result.exit_code == 2 and "--print" in result.stderr
