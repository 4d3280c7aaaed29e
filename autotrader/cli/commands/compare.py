"""`autotrader compare`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, JsonOption
from autotrader.cli.runner import check_options, check_page, finish

if TYPE_CHECKING:
    from autotrader.domain.reports import CompareReport
    from autotrader.pipeline.compare import Variant


def compare(
    start: Annotated[str, typer.Option("--start", help="First session to replay (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last session to replay (YYYY-MM-DD).")],
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            metavar='"NAME[: SECTION.KEY=VALUE; ...]"',
            help="A rule set to replay: a name and its settings (TOML values, ';' between them); repeatable. "
            "The first is the base the others are compared with.",
        ),
    ] = None,
    variants_file: Annotated[
        Path | None,
        typer.Option("--variants", help="A TOML file of variants: one [name] table each, keys as config.toml's."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Replays run at once (processes).")] = 1,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="A Dask distributed scheduler (tcp://host:8786) to run the replays on."),
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Also write a page: the equity curves side by side, the verdicts.")
    ] = None,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Replay the same sessions under several rule sets and say, signal by signal, what each change made."""
    from autotrader.pipeline import compare as step
    from autotrader.pipeline import replay
    from autotrader.settings import config_path_from

    check_page("compare", "--html", html_file, json_output, False)

    def variants() -> list[Variant]:
        found = [step.parse_variant(text) for text in variant or ()]
        if variants_file is not None:
            found += step.variants_from_file(variants_file)
        step.check_variants(found, config_path_from(config))
        return found

    chosen = check_options("compare", variants, json_output, False)
    if scheduler is not None:
        runner, mode = step.dask_cluster(scheduler), f"Dask scheduler {scheduler}"
    elif workers > 1:
        runner, mode = step.process_pool(workers), f"{workers} local processes"
    else:
        runner, mode = step.serial, "one process"

    def body(ctx):
        days = replay.parse_day(start, "--start"), replay.parse_day(end, "--end")
        return step.run(ctx, chosen, *days, runner, mode=mode, html=html_file)

    outcome = replay.invoke_replay(
        "compare",
        body,
        config_path=config,
        as_of=as_of,
        ledger_mode=step.MODE,
        prepare=lambda c: replay.discard_previous(c, step.MODE),
        fresh=True,
    )
    finish(outcome, json_output=json_output, renderer=render_summary)


def render_summary(report: CompareReport) -> None:
    from autotrader.exports.compare import account_rows, benchmark_line, difference_rows, settings_lines, variant_rows

    for line in settings_lines(report):
        typer.echo(f"  {line}")
    render.table("variants", *variant_rows(report, terminal=True))
    if report.differences:
        render.table(f"against {report.base}, over the same signals", *difference_rows(report))
    if report.accounts:
        render.table(f"each account against {report.base}'s", *account_rows(report))
    spy = benchmark_line(report)
    if spy is not None:
        typer.echo(f"  {spy}")
