"""`autotrader init [DIR]`: an empty, ready workspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from autotrader.cli import render
from autotrader.cli.options import DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import InitReport


def init(
    folder: Annotated[Path, typer.Argument(help="The workspace folder (created if missing).", metavar="DIR")] = Path(),
    broker: Annotated[str, typer.Option("--broker", help="sim or alpaca.", metavar="sim|alpaca")] = "sim",
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="synthetic, local or polygon (default: polygon with alpaca, else synthetic).",
            metavar="synthetic|local|polygon",
        ),
    ] = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
) -> None:
    """Create a workspace: config.toml (every setting with its comment), logs/, signals/inbox, archive and
    rejected folders, and a .env template (mode 0600) for the keys. Never overwrites."""
    from datetime import UTC, datetime

    from autotrader.domain.reports import InitReport, ReportDraft
    from autotrader.errors import AutotraderError, InputError
    from autotrader.pipeline import workspace
    from autotrader.pipeline.context import Outcome
    from autotrader.pipeline.demo import default_config_text

    now = datetime.now(UTC)
    chosen = data or ("polygon" if broker == "alpaca" else "synthetic")
    try:
        if broker not in ("sim", "alpaca"):
            raise InputError(f"--broker {broker!r}: unknown broker", hint="allowed: sim, alpaca")
        if chosen not in ("synthetic", "local", "polygon"):
            raise InputError(f"--data {chosen!r}: unknown data source", hint="allowed: synthetic, local, polygon")
        plan = workspace.plan_workspace(folder, default_config_text(), broker=_broker(broker), data=_data(chosen))
        made = [] if dry_run else workspace.apply(plan)
    except AutotraderError as error:
        finish(Outcome("init", error.exit_code, error=error, as_of=now, dry_run=dry_run), json_output=json_output)
    listed = made or [plan.folder, *plan.folders, *(f.path for f in plan.files)]
    report = ReportDraft(command="init", as_of=now, dry_run=dry_run, notes=_next_steps(plan, dry_run))
    built = report.build(
        InitReport,
        workspace=str(plan.folder.resolve()),
        broker=plan.broker,
        data=plan.data,
        created=[str(p) for p in listed],
    )
    finish(Outcome("init", 0, report=built, as_of=now, dry_run=dry_run), json_output=json_output, renderer=_render)


def _broker(value: str) -> Literal["sim", "alpaca"]:
    return "alpaca" if value == "alpaca" else "sim"


def _data(value: str) -> Literal["synthetic", "local", "polygon"]:
    return "local" if value == "local" else "polygon" if value == "polygon" else "synthetic"


def _next_steps(plan, dry_run: bool) -> list[str]:  # noqa: ANN001 - a WorkspacePlan, imported lazily
    config = plan.folder / "config.toml"
    steps = ["dry run: nothing was created"] if dry_run else [f"workspace ready: {plan.folder.resolve()}"]
    if plan.broker == "alpaca" or plan.data == "polygon":
        steps.append(f"put your keys in {plan.folder / '.env'} (see the commented names)")
    if plan.data == "local":
        steps.append(f"put SYMBOL.csv daily bars in {plan.folder / 'data'}")
    steps += [
        f"check it: autotrader doctor --config {config}",
        f"schedule it: autotrader schedule --print --config {config}",
    ]
    return steps


def _render(report: InitReport) -> None:
    render.table("created", ["path"], [[p] for p in report.created])
