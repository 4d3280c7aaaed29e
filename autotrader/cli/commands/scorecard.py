"""`autotrader scorecard`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish


def scorecard(
    since: Annotated[str | None, typer.Option("--since", help="Signals generated on or after this date.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Signals generated on or before this date.")] = None,
    category: Annotated[list[str] | None, typer.Option("--category", help="Only this category (repeatable).")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
    csv_dir: Annotated[Path | None, typer.Option("--csv", help="Also write CSV files into this folder.")] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write an HTML report with charts.")] = None,
    signal: Annotated[int | None, typer.Option("--signal", help="Show one signal's lineage instead.")] = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Per category, source and conviction: was the pick good, and did management add value?"""
    from autotrader.pipeline import scorecard as step
    from autotrader.pipeline.context import invoke

    def body(ctx):
        if signal is not None:
            report = ctx.report()
            report.fields["lineage"] = step.lineage(ctx, signal)
            return report
        filters = step.Filters.parse(since, until, category or [], source or [])
        return step.run(ctx, filters, step.Exports(csv_dir, html_file) if (csv_dir or html_file) else None)

    outcome = invoke("scorecard", body, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=render_scorecard)


def _pct(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _num(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text  # no "-0"


def render_scorecard(payload: dict) -> None:
    if "lineage" in payload:
        render.print_json(payload["lineage"])
        return
    horizons = payload.get("horizons", [])
    primary = payload.get("primary_horizon")
    rows = payload.get("rows", [])
    for group in ("category", "source", "conviction"):
        render.table(
            f"was the pick good? by {group} · hit rate at {'/'.join(horizons)} sessions · excess over SPY and "
            f"verdict at {primary}",
            [group, "signals", "traded", "pending", "hit rate", f"excess {primary} [95% CI]", "verdict"],
            [
                [r["key"], r["signals"], r["traded"], r["pending"],
                 " ".join(_pct(r["hit_rate"].get(h), 0) for h in horizons),
                 f"{_pct(r['excess_return_mean'].get(primary))} "
                 f"[{' .. '.join(_pct(v) for v in (r['excess_return_ci'].get(primary) or [None, None]))}]",
                 r["verdict"]]
                for r in rows if r["group"] == group
            ],
        )  # fmt: skip
    render.table(
        "did management add value? pick-only = the entry held to its rule exit; alpha = managed − pick-only",
        ["category", "rule-exit R", "trades", "pick-only P&L", "managed P&L", "alpha", "alpha by action"],
        [
            [r["key"], _num(r["rule_exit"].get("expectancy_r")), r["pick_only"]["trades"],
             _num(r["pick_only"].get("pnl"), 0), _num(r["managed"].get("pnl"), 0),
             _num(r["management_alpha"].get("total"), 0),
             ", ".join(f"{k} {v:,.0f}" for k, v in r["management_alpha"].get("by_action", {}).items() if ":" not in k)
             or "–"]
            for r in rows if r["group"] == "category"
        ],
    )  # fmt: skip
    calibration = payload.get("calibration") or {}
    render.table(
        f"conviction calibration at {calibration.get('horizon')} sessions: {calibration.get('statement', '')}",
        ["conviction", "signals", "mean excess", "hit rate"],
        [
            [b.get("key"), b.get("signals"), _pct(b.get("excess_return_mean")), _pct(b.get("hit_rate"))]
            for b in calibration.get("buckets", [])
        ],
    )
