"""`autotrader options chain`: an underlying's listed options as the data source quotes them now."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import check_options, finish
from autotrader.exports import fmt

if TYPE_CHECKING:
    from autotrader.domain.reports import OptionChainReport

options_app = typer.Typer(help="Listed equity options: chains, quotes, greeks and implied volatility.",
                          no_args_is_help=True, add_completion=False)  # fmt: skip


def _dte_range(text: str) -> tuple[int, int]:
    from autotrader.errors import InputError

    low, sep, high = text.partition("-")
    try:
        return (int(low), int(high)) if sep else (0, int(low))
    except ValueError:
        raise InputError(f"--dte {text!r}: MIN-MAX days to expiry (e.g. 20-45) or MAX (e.g. 60)") from None


@options_app.command("chain")
def chain(
    symbol: Annotated[str, typer.Argument(help="The underlying.", metavar="SYMBOL")],
    dte: Annotated[str, typer.Option("--dte", help="Days to expiry, MIN-MAX or MAX.", metavar="RANGE")] = "0-60",
    strikes: Annotated[int, typer.Option("--strikes", help="Strikes shown each side of the money.", metavar="N")] = 5,
    right: Annotated[str, typer.Option("--right", help="call, put or both.")] = "both",
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """The chain near the money per expiry (bid, ask, IV, greeks per share, open interest, volume), each expiry's
    at-the-money IV, the 30-day IV and its rank and percentile among the recorded sessions. Read-only."""
    from autotrader.pipeline import option_chain
    from autotrader.pipeline.context import invoke

    def parsed() -> tuple[int, int]:
        low, high = _dte_range(dte)
        option_chain.check_chain(low, high, strikes, right)
        return low, high

    low, high = check_options("options chain", parsed, json_output, dry_run)
    body = partial(option_chain.run, symbol=symbol, dte_min=low, dte_max=high, strikes=strikes, right=right)
    finish(invoke("options chain", body, config_path=config, as_of=as_of, dry_run=dry_run), json_output=json_output,
           renderer=_render)  # fmt: skip


def _render(report: OptionChainReport) -> None:
    standing = (
        f"rank {fmt.pct(report.iv_rank)}, percentile "
        f"{fmt.pct(report.iv_percentile)} "
        f"over {report.iv_sessions} sessions"
    )
    render.table(
        f"{report.underlying} at {fmt.usd(report.underlying_price, cents=True)}",
        ["30-day IV", "standing", "quoted"],
        [[fmt.pct(report.iv30), standing, fmt.ny_time(report.quoted_at)]],
    )
    for e in report.expiries:
        title = f"{e.expiry}: {e.dte} days, ATM IV {fmt.pct(e.atm_iv)} (theta per day, vega per vol point, per share)"
        render.table(
            title,
            ["strike", "right", "bid", "ask", "IV", "delta", "theta", "vega", "OI", "volume"],
            [[fmt.number(c.strike, 3), c.right, fmt.number(c.bid, 2), fmt.number(c.ask, 2), fmt.pct(c.iv),
              fmt.number(c.delta, 3), fmt.number(c.theta, 3), fmt.number(c.vega, 3), fmt.count(c.open_interest),
              fmt.count(c.volume)] for c in report.contracts if c.expiry == e.expiry],
        )  # fmt: skip
