"""`autotrader rebalance`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import RebalanceReport


def rebalance(
    tickers: Annotated[
        str | None,
        typer.Option("--tickers", metavar="A,B,...", help="Use only these tickers of the strategies, for this run."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Also write an HTML report with NAV curves.")
    ] = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Backtest the ticker-group strategies, pick the best NAV, and trade the rebalance book's deltas
    (market orders when open, market-on-open when closed)."""
    from functools import partial

    from autotrader.pipeline import rebalance as step
    from autotrader.pipeline.context import invoke

    symbols = tuple(s.strip().upper() for s in tickers.split(",") if s.strip()) if tickers is not None else None
    body = partial(step.run, tickers=symbols, html=html)
    prepare = partial(_check_input, symbols, html)
    outcome = invoke("rebalance", body, config_path=config, as_of=as_of, dry_run=dry_run, prepare=prepare)
    finish(outcome, json_output=json_output, renderer=_render)


def _render(report: RebalanceReport) -> None:
    from autotrader.exports import fmt

    render.table(
        "strategies",
        ["strategy", "final NAV", "CAGR", "Sharpe", "max drawdown", "PSR vs runner-up", "winner"],
        [
            [s.name, fmt.usd(s.nav), fmt.pct(s.cagr, signed=True), fmt.ratio(s.sharpe), fmt.pct(s.max_drawdown),
             fmt.ratio(s.psr, 3), "yes" if s.name == report.winner else ""]
            for s in report.strategies
        ],
    )  # fmt: skip
    selection = report.selection
    render.table(
        "selection",
        ["", ""],
        [
            ["winner / runner-up", f"{report.winner} / {report.runner_up or 'none'}"],
            ["PSR vs runner-up", fmt.ratio(selection.psr_vs_runner_up, 3)],
            [f"deflated Sharpe ({selection.strategies_tried} tried)", fmt.ratio(selection.deflated_sharpe, 3)],
            ["significant", selection.significant],
            ["traded", f"{report.selected}: {selection.reason}"],
            ["capital / buy scale", f"{fmt.usd(report.capital)} / {fmt.pct(report.buy_scale, 0)}"],
            ["timing", report.timing],
        ],
    )
    render.table(
        f"targets ({report.selected})",
        ["symbol", "weight", "shares", "price"],
        [[t.symbol, fmt.pct(t.weight), fmt.number(t.shares), fmt.usd(t.price, cents=True)] for t in report.targets],
    )
    render.table(
        "deltas",
        ["symbol", "side", "qty", "target", "current", "reason"],
        [[d.symbol, d.side, fmt.number(d.qty), fmt.number(d.target), fmt.number(d.current), d.reason]
         for d in report.deltas],
    )  # fmt: skip
    render.render_orders(report)


def _check_input(symbols: tuple[str, ...] | None, html: Path | None, config) -> None:
    """An empty --tickers or a report path that cannot be written is refused before anything runs (exit 2,
    nothing sent, no ledger opened)."""
    from autotrader.errors import InputError

    if symbols is not None and not symbols:
        raise InputError("--tickers: give at least one ticker (e.g. --tickers GLD,SPY,QQQ)")
    if html is not None:
        from autotrader.exports.html_page import check_writable

        check_writable("--html", html)
