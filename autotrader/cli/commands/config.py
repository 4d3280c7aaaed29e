"""`autotrader config show|check`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import ConfigReport
    from autotrader.settings import Settings

config_app = typer.Typer(help="Show or check the configuration.", no_args_is_help=True, add_completion=False)


def _run(command: str, config: str | None, as_of: str | None, dry_run: bool, symbol: str | None = None):
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
        per_symbol = {}
        if symbol is not None:
            ticker = symbol.upper()
            if re.fullmatch(r"[A-Z][A-Z0-9.\-]{0,9}", ticker) is None:
                from autotrader.errors import InputError

                raise InputError(f"--symbol {symbol!r}: not a ticker", hint="e.g. --symbol NVDA or --symbol BRK.B")
            per_symbol = {"symbol": ticker, "symbol_values": symbol_values(cfg.settings, ticker)}
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
            **per_symbol,
        )

    return invoke_readonly(command, body, config_path=config, as_of=as_of, dry_run=dry_run)


def symbol_values(settings: Settings, symbol: str) -> list[dict[str, Any]]:
    """The per-symbol values in effect for ``symbol``, each with its source: its ``[symbols.<TICKER>]`` table,
    or the section default that applies instead (``value`` None: nothing fixed, the size or level is computed)."""
    own = settings.symbols.get(symbol)
    exits = settings.exits
    atr = f"ATR for {', '.join(exits.atr_categories) or 'no category'}"
    defaults: dict[str, tuple[float | None, str]] = {
        "qty": (None, "[sizing] (the computed size)"),
        "stop_pct": (None, f"[exits] (the signal's stop, else {atr}: entry − {exits.stop_atr_multiplier:g} ATR)"),
        "target_pct": (
            None,
            f"[exits] (the signal's target, else {atr}: entry + {exits.target_one_atr_multiplier:g} / "
            f"{exits.target_two_atr_multiplier:g} ATR)",
        ),
        "trail_pct": (exits.trail_pct, "[exits] trail_pct"),
        "trail_activation_pct": (exits.trail_activation_pct, "[exits] trail_activation_pct"),
    }
    rows = []
    for key, (default, source) in defaults.items():
        value = getattr(own, key) if own is not None else None
        if value is not None:
            rows.append({"key": key, "value": value, "source": f"[symbols.{symbol}]"})
        else:
            rows.append({"key": key, "value": default, "source": source})
    return rows


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
    symbol: Annotated[
        str | None,
        typer.Option("--symbol", metavar="S", help="Also the values in effect for S: its [symbols.S] or the default."),
    ] = None,
) -> None:
    """Print the effective settings (file + environment); API keys show only as set or not."""
    finish(_run("config show", config, as_of, dry_run, symbol), json_output=json_output, renderer=_render)


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
    if report.symbol_values is not None:
        render.table(
            f"{report.symbol} (per-symbol values)",
            ["key", "value", "from"],
            [[v.key, "-" if v.value is None else f"{v.value:g}", v.source] for v in report.symbol_values],
        )
