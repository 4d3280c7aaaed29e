"""The crontab's optional intraday entry and the systemd intraday timer: a run-daily at each of the intraday
setups' evaluation minutes that is not a [schedule] slot already."""

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


# -- the systemd timers ----------------------------------------------------------------------------------------

INTRADAY = cron.Intraday("09:35", "15:45", 5)


def _units(text: str) -> dict[str, str]:
    """The files of ``systemd_units``' output by name (each headed ``# ~/.config/systemd/user/NAME``)."""
    chunks = text.split("# ~/.config/systemd/user/")[1:]
    return {chunk.split("\n", 1)[0]: chunk.split("\n", 1)[1] for chunk in chunks}


def _calendar_minutes(timer: str) -> set[str]:
    """The New York weekday minutes of a timer's ``OnCalendar=Mon..Fri HH[..HH]:MM[,MM...] America/New_York``."""
    fired = set()
    for line in timer.splitlines():
        if line.startswith("OnCalendar="):
            days, clock, zone = line.removeprefix("OnCalendar=").split()
            assert (days, zone) == ("Mon..Fri", "America/New_York")
            hours, minutes = clock.split(":")
            first, _, last = hours.partition("..")
            fired |= {
                f"{h:02d}:{int(m):02d}" for h in range(int(first), int(last or first) + 1) for m in minutes.split(",")
            }
    return fired


def test_without_intraday_setups_the_systemd_units_have_no_intraday_timer():
    plain = cron.systemd_units(TIMES, PATHS, status_max_age_hours=26)
    assert cron.systemd_units(TIMES, PATHS, status_max_age_hours=26, intraday=None) == plain
    assert "intraday" not in plain
    assert "# systemctl --user enable --now autotrader-run-daily.timer autotrader-status.timer\n" in plain
    assert list(_units(plain)) == [
        "autotrader-run-daily.service",
        "autotrader-run-daily.timer",
        "autotrader-status.service",
        "autotrader-status.timer",
    ]


def test_the_systemd_intraday_timer_fires_at_the_crontabs_intraday_minutes_bounded_like_them():
    text = cron.systemd_units(TIMES, PATHS, status_max_age_hours=26, intraday=INTRADAY)
    units, plain = _units(text), _units(cron.systemd_units(TIMES, PATHS, status_max_age_hours=26))
    assert {name: body for name, body in units.items() if "intraday" not in name} == plain  # the rest unchanged
    timer, service = units["autotrader-intraday.timer"], units["autotrader-intraday.service"]
    crontab = cron.crontab(TIMES, PATHS, status_max_age_hours=26, intraday=INTRADAY).splitlines()
    slots = cron.crontab(TIMES, PATHS, status_max_age_hours=26).splitlines()
    cron_minutes = {
        f"{hour:02d}:{int(minute):02d}"
        for line in crontab
        if line not in slots and " run-daily " in line
        for minute in line.split()[0].split(",")
        for hour in _hours(line.split()[1])
    }
    assert _calendar_minutes(timer) == set(cron.intraday_minutes(INTRADAY, TIMES)) == cron_minutes
    assert not _calendar_minutes(timer) & set(TIMES)  # the slots' own minutes stay the slots' timer's
    assert len(timer.splitlines()) < 20  # hours with the same minutes share a line
    assert "ExecStart=/opt/at/bin/autotrader run-daily\n" in service and "TimeoutStartSec=4min\n" in service
    assert "Environment=AUTOTRADER_CONFIG=/w/config.toml" in service and "WorkingDirectory=/w\n" in service
    assert "WantedBy=timers.target" in timer
    enable = (
        "# systemctl --user enable --now autotrader-run-daily.timer autotrader-intraday.timer autotrader-status.timer"
    )
    assert enable + "\n" in text


def test_the_systemd_intraday_service_is_bounded_by_the_step_less_a_fifth():
    for every, limit in ((5, 4), (10, 8), (1, 1), (30, 24)):
        intraday = cron.Intraday("09:35", "15:45", every)
        units = _units(cron.systemd_units(TIMES, PATHS, status_max_age_hours=26, intraday=intraday))
        assert f"TimeoutStartSec={limit}min\n" in units["autotrader-intraday.service"]
        assert cron.intraday_limit(intraday) == limit  # the crontab's intraday lines' timeout
