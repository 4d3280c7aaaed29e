"""`autotrader preview bracket|risk`: an order and every rule `size` would apply to it, nothing sent."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import check_options, finish

if TYPE_CHECKING:
    from autotrader.domain.reports import PreviewReport

preview_app = typer.Typer(help="What an order would be, and every overlay on it; nothing is sent.",
                          no_args_is_help=True, add_completion=False)  # fmt: skip

SymbolArgument = Annotated[str, typer.Argument(help="The symbol.", metavar="SYMBOL")]
QtyOption = Annotated[float, typer.Option("--qty", help="Shares.", metavar="N")]


@preview_app.command("risk")
def risk(
    symbol: SymbolArgument,
    qty: QtyOption,
    category: Annotated[str, typer.Option("--category", help="long_term, swing or day_trade.")] = "swing",
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Every gate, check, multiplier and cap `size` would apply to buying N shares now, and the notional."""
    from autotrader.pipeline import preview
    from autotrader.pipeline.context import invoke

    check_options("preview risk", lambda: preview.check_risk(qty, category), json_output, dry_run)
    body = partial(preview.risk, symbol=symbol, qty=qty, category=category)
    finish(invoke("preview risk", body, config_path=config, as_of=as_of, dry_run=dry_run), json_output=json_output,
           renderer=_render)  # fmt: skip


@preview_app.command("bracket")
def bracket(
    symbol: SymbolArgument,
    qty: QtyOption,
    stop_pct: Annotated[float, typer.Option("--stop-pct", help="Stop this percent below the price.", metavar="P")],
    tp_pct: Annotated[float, typer.Option("--tp-pct", help="Take profit this percent above.", metavar="P")],
    price: Annotated[float | None, typer.Option("--price", help="Instead of the latest ask.", metavar="X")] = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """A market entry with a stop and a take profit (good till cancelled): its legs, risk and reward, and the
    overlays `size` would apply. Nothing is sent."""
    from autotrader.pipeline import preview
    from autotrader.pipeline.context import invoke

    check_options("preview bracket", lambda: preview.check_bracket(qty, stop_pct, tp_pct, price), json_output, dry_run)
    body = partial(preview.bracket, symbol=symbol, qty=qty, stop_pct=stop_pct, tp_pct=tp_pct, price=price)
    finish(invoke("preview bracket", body, config_path=config, as_of=as_of, dry_run=dry_run),
           json_output=json_output, renderer=_render)  # fmt: skip


def _render(report: PreviewReport) -> None:
    rows = [[s["name"], s["effect"]] for s in (*report.checks, *report.multipliers, *report.caps)]
    render.table(f"{report.symbol}: {report.qty:g} shares", ["rule", "effect"], rows)
