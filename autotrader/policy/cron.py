"""The schedule as this machine's crontab or systemd user timers. Pure: text from the slot times and paths.

Each ``[schedule] times`` entry becomes one weekday run of ``run-daily`` at that New York time; ``run-daily``
decides from the NYSE calendar what the slot does (a holiday only syncs, an early close moves the day's end).
A run is bounded by ``timeout`` so a hung one cannot hold the workspace lock into the next slot: the gap to
the next slot less a margin, at most 30 minutes. Stderr goes to ``logs/cron.err``, the folder made first on
the same line, so a fresh workspace never fails before autotrader starts. ``CRON_TZ`` makes cronie read the
times in New York whatever the server's zone; Debian's default cron ignores it (there, use the systemd
timers, whose ``OnCalendar`` carries the zone itself). With ``[intraday] enabled`` non-empty, both add a
run-daily at each intraday evaluation minute that is not a slot already (the crontab's intraday lines, the
``autotrader-intraday.timer``), each bounded by the step less a fifth of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ZONE = "America/New_York"
MAX_TIMEOUT_MINUTES = 30


@dataclass(frozen=True)
class Paths:
    executable: str  # the autotrader command, absolute
    config: Path  # the workspace's config.toml, absolute
    workspace: Path


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def timeouts(times: Sequence[str]) -> list[int]:
    """Minutes each slot may run: the gap to the next slot less a fifth of it (at least a minute), at most 30
    (the last slot of the day: 30). 30-minute slots get 24, the 12:55 before a 13:00 slot 4."""
    marks = [_minutes(t) for t in times]
    out = []
    for i, mark in enumerate(marks):
        if i + 1 == len(marks):
            out.append(MAX_TIMEOUT_MINUTES)
            continue
        gap = marks[i + 1] - mark
        out.append(max(1, min(MAX_TIMEOUT_MINUTES, gap - max(1, gap // 5))))
    return out


@dataclass(frozen=True)
class Intraday:
    """The intraday setups' evaluation minutes: ``every`` minutes from ``start`` through ``end`` (New York)."""

    start: str
    end: str
    every: int


def intraday_minutes(intraday: Intraday, times: Sequence[str]) -> list[str]:
    """The evaluation minutes (HH:MM) that are not already ``[schedule] times`` slots (those run anyway)."""
    first, last = _minutes(intraday.start), _minutes(intraday.end)
    taken = {_minutes(t) for t in times}
    return [f"{m // 60:02d}:{m % 60:02d}" for m in range(first, last + 1, intraday.every) if m not in taken]


def intraday_limit(intraday: Intraday) -> int:
    """Minutes an intraday run may take: the step less a fifth of it (at least a minute); 5-minute steps get 4."""
    return max(1, intraday.every - max(1, intraday.every // 5))


def _intraday_groups(intraday: Intraday, times: Sequence[str]) -> list[tuple[list[int], list[int]]]:
    """``intraday_minutes`` as (hours, minutes): consecutive hours with the same minutes share one group, so
    that the crontab and the systemd timer list exactly the same minutes in as few lines."""
    by_hour: dict[int, list[int]] = {}
    for hhmm in intraday_minutes(intraday, times):
        hour, minute = (int(part) for part in hhmm.split(":"))
        by_hour.setdefault(hour, []).append(minute)
    groups: list[tuple[list[int], list[int]]] = []
    for hour, minutes in by_hour.items():
        if groups and groups[-1][1] == minutes and groups[-1][0][-1] == hour - 1:
            groups[-1][0].append(hour)
        else:
            groups.append(([hour], minutes))
    return groups


def _intraday_lines(intraday: Intraday, times: Sequence[str], logs: Path, executable: str) -> list[str]:
    """One cron line per run of hours with the same minutes; each run bounded by ``intraday_limit``."""
    limit = intraday_limit(intraday)
    lines = []
    for hours, minutes in _intraday_groups(intraday, times):
        hour_field = str(hours[0]) if len(hours) == 1 else f"{hours[0]}-{hours[-1]}"
        lines.append(
            f"{','.join(str(m) for m in minutes)} {hour_field} * * 1-5  mkdir -p {logs} && timeout {limit}m "
            f"{executable} run-daily >/dev/null 2>>{logs}/cron.err"
        )
    return lines


def crontab(
    times: Sequence[str], paths: Paths, *, status_max_age_hours: float, intraday: Intraday | None = None
) -> str:
    """The crontab; with ``intraday`` (``[intraday] enabled`` non-empty), also a run-daily at each of the intraday
    setups' evaluation minutes that is not a ``[schedule] times`` slot already."""
    logs = paths.workspace / "logs"
    lines = [
        "# autotrader's schedule for this workspace (autotrader schedule --print). Install: crontab FILE.",
        "# Times are New York times through CRON_TZ, which cronie honours; Debian's default cron does not:",
        "# there, use `autotrader schedule --print --systemd` instead.",
        f"CRON_TZ={ZONE}",
        "SHELL=/bin/sh",
        "PATH=/usr/bin:/bin",
        f"AUTOTRADER_CONFIG={paths.config}",
        "",
    ]
    for hhmm, limit in zip(times, timeouts(times), strict=True):
        hour, minute = hhmm.split(":")
        lines.append(
            f"{int(minute)} {int(hour)} * * 1-5  mkdir -p {logs} && timeout {limit}m {paths.executable} run-daily "
            f">/dev/null 2>>{logs}/cron.err"
        )
    if intraday is not None:
        lines += [
            "",
            f"# The intraday setups ([intraday] enabled): a slot every {intraday.every} minutes from {intraday.start} "
            f"to {intraday.end}.",
            *_intraday_lines(intraday, times, logs, paths.executable),
        ]
    lines += [
        "",
        "# Monitoring: cron mails this line's output when no step has succeeded for a while.",
        f"5 10-16 * * 1-5  {paths.executable} status --check --max-age {status_max_age_hours:g}h >/dev/null "
        '|| echo "autotrader: status --check failed (stale runs or unknown orders)" >&2',
    ]
    return "\n".join(lines) + "\n"


def _intraday_calendar(intraday: Intraday, times: Sequence[str]) -> list[str]:
    """The intraday timer's ``OnCalendar`` lines, the crontab's intraday minutes: ``Mon..Fri 10..14:05,10,20``."""
    lines = []
    for hours, minutes in _intraday_groups(intraday, times):
        hour_field = f"{hours[0]:02d}" if len(hours) == 1 else f"{hours[0]:02d}..{hours[-1]:02d}"
        lines.append(f"OnCalendar=Mon..Fri {hour_field}:{','.join(f'{m:02d}' for m in minutes)} {ZONE}")
    return lines


def systemd_timers(times: Sequence[str], intraday: Intraday | None = None) -> list[str]:
    """The timers ``systemd_units`` writes, to enable: the slots', the intraday one when it has minutes, status."""
    with_intraday = intraday is not None and bool(intraday_minutes(intraday, times))
    intraday_timer = ["autotrader-intraday.timer"] if with_intraday else []
    return ["autotrader-run-daily.timer", *intraday_timer, "autotrader-status.timer"]


def systemd_units(
    times: Sequence[str], paths: Paths, *, status_max_age_hours: float, intraday: Intraday | None = None
) -> str:
    """Service and timer units for ``~/.config/systemd/user/``, one file after another, each headed by its
    name, after a header naming the timers to enable (``systemctl --user enable --now
    autotrader-run-daily.timer [autotrader-intraday.timer] autotrader-status.timer``, ``systemd_timers``).
    One service serves every slot, bounded by the longest slot's timeout: systemd does not start it again
    while it is still running, so a slot that falls during a long run is skipped, never doubled. With
    ``intraday`` (``[intraday] enabled`` non-empty), also ``autotrader-intraday.timer`` and its service: a
    run-daily at the crontab's intraday minutes (``intraday_minutes``: not the slots' own), bounded like the
    crontab's intraday lines (``intraday_limit``). It is a service of its own, so it can overlap a long slot's
    run, as in the crontab, and one of the two then stops at the workspace lock (exit 4)."""
    limit = max(timeouts(times))
    calendar = "\n".join(f"OnCalendar=Mon..Fri {hhmm} {ZONE}" for hhmm in times)
    env = f"Environment=AUTOTRADER_CONFIG={paths.config}"
    header = (
        "# autotrader's schedule for this workspace as systemd user units (autotrader schedule --print --systemd).\n"
        "# Install: save each file below under ~/.config/systemd/user/, run systemctl --user daemon-reload, then\n"
        f"# systemctl --user enable --now {' '.join(systemd_timers(times, intraday))}\n"
    )
    intraday_parts: list[tuple[str, str]] = []
    if intraday is not None and intraday_minutes(intraday, times):
        intraday_calendar = "\n".join(_intraday_calendar(intraday, times))
        window = f"every {intraday.every} minutes from {intraday.start} to {intraday.end}"
        intraday_parts = [
            ("autotrader-intraday.service", f"""[Unit]
Description=autotrader: one intraday slot (run-daily at an evaluation minute of the intraday setups)

[Service]
Type=oneshot
WorkingDirectory={paths.workspace}
{env}
ExecStart={paths.executable} run-daily
TimeoutStartSec={intraday_limit(intraday)}min
"""),
            ("autotrader-intraday.timer", f"""[Unit]
Description=autotrader's intraday slots, {window} New York time

[Timer]
{intraday_calendar}
Persistent=false

[Install]
WantedBy=timers.target
"""),
        ]  # fmt: skip
    parts = [
        ("autotrader-run-daily.service", f"""[Unit]
Description=autotrader: one schedule slot (run-daily)

[Service]
Type=oneshot
WorkingDirectory={paths.workspace}
{env}
ExecStart={paths.executable} run-daily
TimeoutStartSec={limit}min
"""),
        ("autotrader-run-daily.timer", f"""[Unit]
Description=autotrader's schedule slots, New York time

[Timer]
{calendar}
Persistent=false

[Install]
WantedBy=timers.target
"""),
        *intraday_parts,
        ("autotrader-status.service", f"""[Unit]
Description=autotrader: fail when no step has succeeded for {status_max_age_hours:g} hours

[Service]
Type=oneshot
{env}
ExecStart={paths.executable} status --check --max-age {status_max_age_hours:g}h
"""),
        ("autotrader-status.timer", f"""[Unit]
Description=autotrader's freshness check, hourly in market hours

[Timer]
OnCalendar=Mon..Fri 10..16:05 {ZONE}

[Install]
WantedBy=timers.target
"""),
    ]  # fmt: skip
    return header + "\n" + "\n".join(f"# ~/.config/systemd/user/{name}\n{body}" for name, body in parts)
