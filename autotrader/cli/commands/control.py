"""`autotrader halt` and `autotrader resume`: the owner's kill switch."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish
from autotrader.domain.enums import Breaker
from autotrader.exports import fmt

if TYPE_CHECKING:
    from autotrader.domain.reports import ControlReport


def halt(
    reason: Annotated[
        str, typer.Option("--reason", help="Why, shown by every run and by status.")
    ] = "halted by the owner",
    exits: Annotated[bool, typer.Option("--exits", help="Hold back exits too: no order at all is sent.")] = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Stop sending entry, dip-buy and rebalance orders (with --exits, every order) until `resume`."""
    from autotrader.pipeline import control
    from autotrader.pipeline.context import invoke

    body = partial(control.halt, reason=reason, exits=exits)
    finish(invoke("halt", body, config_path=config, as_of=as_of, dry_run=dry_run), json_output=json_output,
           renderer=_render)  # fmt: skip


def resume(
    breaker: Annotated[
        Breaker | None,
        typer.Option("--breaker", help="End a circuit breaker's pause instead (streak: the losing streak)."),
    ] = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Lift the kill switch set by `halt`, or with --breaker streak end the losing-streak pause."""
    from autotrader.pipeline import control
    from autotrader.pipeline.context import invoke

    body = partial(control.resume, breaker=breaker)
    finish(invoke("resume", body, config_path=config, as_of=as_of, dry_run=dry_run), json_output=json_output,
           renderer=_render)  # fmt: skip


def _render(report: ControlReport) -> None:
    state = report.halt
    rows = [["halted", "yes" if state else "no"]]
    if state is not None:
        rows += [["reason", state.reason], ["exits held", "yes" if state.exits else "no"],
                 ["since", fmt.ny_time(state.since)]]  # fmt: skip
    if report.streak_reset_at:
        rows.append(["streak pause ended", fmt.ny_time(report.streak_reset_at)])
    render.table("kill switch", ["", ""], rows)
