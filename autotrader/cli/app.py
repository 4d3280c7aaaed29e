"""The Typer application. Commands are thin: options → invoke(pipeline step) → render → exit code.

Nothing heavy is imported here (pandas, exchange-calendars and pydantic load inside the commands), so
``autotrader --help`` starts fast enough for cron and shells.
"""

from __future__ import annotations

import typer

from autotrader import __version__
from autotrader.cli.commands.approvals import approvals, approve, reject
from autotrader.cli.commands.compare import compare
from autotrader.cli.commands.config import config_app
from autotrader.cli.commands.control import halt, resume
from autotrader.cli.commands.demo import demo
from autotrader.cli.commands.doctor import doctor
from autotrader.cli.commands.init import init
from autotrader.cli.commands.manage import dipbuy, profittake
from autotrader.cli.commands.notify import notify_app
from autotrader.cli.commands.options_chain import options_app
from autotrader.cli.commands.orders import balances, flatten, orders_app, positions
from autotrader.cli.commands.preview import preview_app
from autotrader.cli.commands.rebalance import rebalance
from autotrader.cli.commands.rehydrate import rehydrate
from autotrader.cli.commands.replay import replay
from autotrader.cli.commands.report import report
from autotrader.cli.commands.run_daily import run_daily
from autotrader.cli.commands.scan import scan
from autotrader.cli.commands.schedule import schedule
from autotrader.cli.commands.scorecard import scorecard
from autotrader.cli.commands.size import size
from autotrader.cli.commands.status import status
from autotrader.cli.commands.sync import sync

app = typer.Typer(
    name="autotrader",
    help="Cron-driven batch jobs that trade US equities and score how good trading recommendations really are.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # never dump locals: they can hold keys
    rich_markup_mode=None,
)

app.command("sync")(sync)
app.command("scan")(scan)
app.command("size")(size)
app.command("dipbuy")(dipbuy)
app.command("profittake")(profittake)
app.command("rebalance")(rebalance)
app.command("rehydrate")(rehydrate)
app.command("scorecard")(scorecard)
app.command("report")(report)
app.command("status")(status)
app.command("doctor")(doctor)
app.command("run-daily")(run_daily)
app.command("halt")(halt)
app.command("approvals")(approvals)
app.command("approve")(approve)
app.command("reject")(reject)
app.command("resume")(resume)
app.command("replay")(replay)
app.command("compare")(compare)
app.command("demo")(demo)
app.command("init")(init)
app.command("schedule")(schedule)
app.add_typer(config_app, name="config")
app.add_typer(orders_app, name="orders")
app.add_typer(preview_app, name="preview")
app.add_typer(notify_app, name="notify")
app.add_typer(options_app, name="options")
app.command("positions")(positions)
app.command("balances")(balances)
app.command("flatten")(flatten)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autotrader {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Cron-driven batch jobs that trade US equities and score how good trading recommendations really are."""


def main() -> None:
    app()
