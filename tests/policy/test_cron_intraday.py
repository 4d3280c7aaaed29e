"""The crontab's optional intraday entry: a run-daily at each of the intraday setups' evaluation minutes."""

from __future__ import annotations

from pathlib import Path

from autotrader.policy import cron
from autotrader.settings import Settings

PATHS = cron.Paths("/opt/at/bin/autotrader", Path("/w/config.toml"), Path("/w"))
TIMES = Settings().schedule.times


def test_without_intraday_setups_the_crontab_is_unchanged():
    plain = cron.crontab(TIMES, PATHS, status_max_age_hours=26)
    assert cron.crontab(TIMES, PATHS, status_max_age_hours=26, intraday=None) == plain
    assert "intraday" not in plain


def test_the_intraday_entry_runs_every_five_minutes_of_the_window_that_is_no_slot_already():
    text = cron.crontab(TIMES, PATHS, status_max_age_hours=26, intraday=cron.Intraday("09:35", "15:45", 5))
    plain = cron.crontab(TIMES, PATHS, status_max_age_hours=26)
    extra = [line for line in text.splitlines() if line not in plain.splitlines()]
    assert extra[0] == "# The intraday setups ([intraday] enabled): a slot every 5 minutes from 09:35 to 15:45."
    entries = extra[1:]
    assert all(line.endswith("run-daily >/dev/null 2>>/w/logs/cron.err") and "timeout 4m" in line for line in entries)
    fired = {
        f"{int(hour):02d}:{int(minute):02d}"
        for line in entries
        for minute in line.split()[0].split(",")
        for hour in _hours(line.split()[1])
    }
    expected = {f"{m // 60:02d}:{m % 60:02d}" for m in range(9 * 60 + 35, 15 * 60 + 46, 5)} - set(TIMES)
    assert fired == expected and len(expected) < 75  # the [schedule] slots are not doubled
    assert text.index("intraday") < text.index("# Monitoring")


def _hours(field: str) -> range:
    first, _, last = field.partition("-")
    return range(int(first), int(last or first) + 1)
