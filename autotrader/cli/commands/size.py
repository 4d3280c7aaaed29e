"""`autotrader size`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import SizeReport


def size(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Size new signals through every risk overlay and place their entry orders (each decision traced)."""
    from autotrader.pipeline import size as step
    from autotrader.pipeline.context import invoke

    outcome = invoke("size", step.run, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=render_size)


def _steps(trace: list[dict[str, Any]] | None) -> str:
    # A trace is open-ended (each overlay records its own inputs); the steps that changed the size say so.
    return " → ".join(step["effect"] for step in (trace or []) if step.get("effect"))


def render_size(report: SizeReport) -> None:
    render.table(
        "entry orders",
        ["symbol", "qty", "type", "tif", "class", "stop", "target", "status", "how the size was reached"],
        [
            [o.symbol, o.qty, o.type, o.time_in_force, o.order_class, o.stop_price, o.take_profit, o.status,
             _steps(o.trace)]
            for o in report.orders
        ],
    )  # fmt: skip
    render.table(
        "skipped signals",
        ["symbol", "signal", "why"],
        [[s.symbol, s.signal_id, s.reason] for s in report.skipped],
    )
