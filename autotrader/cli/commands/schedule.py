"""`autotrader schedule --print [--systemd]`: the crontab (or systemd timers) for this workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import ScheduleReport


def schedule(
    print_: Annotated[
        bool, typer.Option("--print", help="Print the schedule to install (nothing is installed).")
    ] = False,
    systemd: Annotated[bool, typer.Option("--systemd", help="systemd user timer units instead of a crontab.")] = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Print this machine's crontab for the workspace's [schedule] times, with absolute paths (or, with
    --systemd, user timer units with OnCalendar=... America/New_York). It installs nothing."""
    from autotrader.domain.reports import ReportDraft, ScheduleReport
    from autotrader.errors import InputError
    from autotrader.pipeline.context import Outcome, invoke_readonly
    from autotrader.policy import cron

    if not print_:
        error = InputError("schedule: nothing asked", hint="use --print (and --systemd for timer units)")
        finish(Outcome("schedule", error.exit_code, error=error, dry_run=dry_run), json_output=json_output)

    def body(cfg, now, dry):  # noqa: ANN001, ANN202 - invoke_readonly's body
        assert cfg.config_path is not None
        paths = cron.Paths(executable=_executable(), config=cfg.config_path.resolve(), workspace=cfg.workspace)
        s = cfg.settings
        times, hours = s.schedule.times, s.status.max_age_hours
        intraday = None
        if s.intraday.enabled:
            window = (s.size.trading_window_start, s.size.trading_window_end)
            intraday = cron.Intraday(*window, s.intraday.every_minutes)
        if systemd:
            text = cron.systemd_units(times, paths, status_max_age_hours=hours, intraday=intraday)
        else:
            text = cron.crontab(times, paths, status_max_age_hours=hours, intraday=intraday)
        draft = ReportDraft(command="schedule", as_of=now, dry_run=dry)
        return draft.build(ScheduleReport, format="systemd" if systemd else "crontab", text=text)

    outcome = invoke_readonly("schedule", body, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=_render, plain=True)


def _executable() -> str:
    """This autotrader, by absolute path: the console script beside the running interpreter, else the module."""
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("autotrader")
    return str(script) if script.exists() else f"{sys.executable} -m autotrader"


def _render(report: ScheduleReport) -> None:
    typer.echo(report.text, nl=False)
