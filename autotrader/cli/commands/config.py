"""`autotrader config show|check`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import ConfigReport
    from autotrader.settings import Settings

config_app = typer.Typer(help="Show or check the configuration.", no_args_is_help=True, add_completion=False)


def _run(command: str, config: str | None, as_of: str | None, dry_run: bool):
    from autotrader.domain.reports import ConfigReport, ReportDraft
    from autotrader.pipeline.context import invoke_readonly
    from autotrader.settings import redacted_dump

    def body(cfg, now, dry):
        problems = cfg.notify_problems
        if command == "config check" and problems:
            # Every run goes on without these URLs; the check that is asked about the config says so, and fails.
            from autotrader.errors import ConfigError

            raise ConfigError(
                "\n".join(p.message for p in problems), hint="; ".join(dict.fromkeys(p.fix for p in problems))
            )
        risk = cfg.settings.risk
        low, high = risk.kelly_range()
        notes = [
            f"{cfg.config_path}: valid ({cfg.settings.mode_name} mode, ledger {cfg.ledger_path})",
            f"half-Kelly ({risk.kelly_mode} mode, {'on' if risk.kelly_adaptive_enabled else 'off'}): "
            f"the multiplier can range over [{low:g}, {high:g}]"
            + (" - the seed's formula can only shrink positions (f/2 <= 0.5)" if risk.kelly_mode == "seed" else ""),
            _capital_note(cfg.settings),
            *(p.message for p in problems),
        ]
        return ReportDraft(command=command, as_of=now, dry_run=dry, notes=notes).build(
            ConfigReport,
            config_path=str(cfg.config_path),
            workspace=str(cfg.workspace),
            mode=cfg.settings.mode_name,
            ledger=str(cfg.ledger_path),
            keys_present=cfg.secrets.present(),
            settings=redacted_dump(cfg) if command == "config show" else None,
            kelly_multiplier_range=(low, high),
            sizing_capital=cfg.settings.sizing_capital,
        )

    return invoke_readonly(command, body, config_path=config, as_of=as_of, dry_run=dry_run)


def _capital_note(settings: Settings) -> str:
    value = f"${settings.account.portfolio_value:,.0f}"
    return {
        "pinned": f"sizing capital: pinned at {value} by [account] portfolio_value",
        "broker": "sizing capital: the broker's equity, read at each run ([account] portfolio_value not set)",
        "last_close": f"sizing capital: the equity stored at the last end of day, {value} before the first",
    }[settings.sizing_capital]


@config_app.command("show")
def show(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Print the effective settings (file + environment); API keys show only as set or not."""
    finish(_run("config show", config, as_of, dry_run), json_output=json_output, renderer=_render)


@config_app.command("check")
def check(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Validate the configuration; exit 2 naming the file, line and allowed range when it is wrong."""
    finish(_run("config check", config, as_of, dry_run), json_output=json_output, renderer=_render)


def _render(report: ConfigReport) -> None:
    """``config check`` prints its notes only; ``config show`` adds the settings, one row per key."""
    rows = []
    for section, values in (report.settings or {}).items():
        if isinstance(values, dict):
            for key, value in values.items():
                rows.append([section, key, value])
    render.table("settings", ["section", "key", "value"], rows)
