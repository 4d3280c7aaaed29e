"""`autotrader orders list|show|cancel|cancel-all|cancel-stale`, `positions`, `balances` and `flatten`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish
from autotrader.exports import fmt

if TYPE_CHECKING:
    from autotrader.domain.reports import BalancesReport, OrdersReport, PositionsReport

orders_app = typer.Typer(
    help="The orders autotrader placed (and, with --include-external, the others).", no_args_is_help=True,
    add_completion=False,
)  # fmt: skip

SymbolOption = Annotated[str | None, typer.Option("--symbol", help="Only this symbol.", metavar="S")]
BookOption = Annotated[
    str | None, typer.Option("--book", help="Only this book: signals, rebalance or external.", metavar="B")
]
ExternalOption = Annotated[
    bool, typer.Option("--include-external", help="Also touch orders and positions autotrader did not create.")
]
YesOption = Annotated[bool, typer.Option("--yes", help="Confirm (needed in live mode).")]


def _run(
    command: str,
    body: Callable[..., Any],
    config: str | None,
    as_of: str | None,
    dry_run: bool,
    json_output: bool,
    renderer: Callable[..., None],
) -> None:
    from autotrader.pipeline.context import invoke

    finish(invoke(command, body, config_path=config, as_of=as_of, dry_run=dry_run), json_output=json_output,
           renderer=renderer)  # fmt: skip


def _scope(
    command: str,
    symbol: str | None,
    book: str | None,
    include_external: bool,
    *,
    json_output: bool,
    dry_run: bool,
    problem: str | None = None,
) -> Any:
    """The command's ``Scope``, or exit 2 (nothing opened, nothing written) for an unknown book or the
    command's own ``problem`` with its options."""
    from autotrader.domain.enums import Book
    from autotrader.errors import InputError
    from autotrader.pipeline.context import Outcome
    from autotrader.pipeline.orders import Scope

    books = [str(b) for b in Book]
    error = InputError(problem) if problem else None
    if error is None and book is not None and book not in books:
        error = InputError(f"--book {book!r}: unknown book", hint=f"allowed: {', '.join(books)}")
    if error is not None:
        finish(Outcome(command, error.exit_code, error=error, dry_run=dry_run), json_output=json_output)
    return Scope(
        symbol=symbol.upper() if symbol else None, book=book, include_external=include_external or book == "external"
    )


@orders_app.command("list")
def list_(
    status: Annotated[str, typer.Option("--status", help="open, closed or all.", metavar="open|closed|all")] = "open",
    symbol: SymbolOption = None,
    book: BookOption = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Orders as the ledger last recorded them (with the intent behind each), and intents not yet sent."""
    from autotrader.pipeline import orders

    unknown = (
        None if status in ("open", "closed", "all") else f"--status {status!r}: unknown (allowed: open, closed, all)"
    )
    scope = _scope("orders list", symbol, book, True, json_output=json_output, dry_run=dry_run, problem=unknown)
    _run("orders list", partial(orders.list_orders, status=status, scope=scope), config, as_of, dry_run, json_output,
         _render_orders)  # fmt: skip


@orders_app.command("show")
def show(
    ident: Annotated[str, typer.Argument(help="A broker order id or a client order id.", metavar="ID|CLIENT_ID")],
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """One order: its intent, the broker's order, its fills and the decision that made it."""
    from autotrader.pipeline import orders

    _run("orders show", partial(orders.show, ident=ident), config, as_of, dry_run, json_output, _render_record)


@orders_app.command("cancel")
def cancel(
    ident: Annotated[str, typer.Argument(help="A broker order id or a client order id.", metavar="ID")],
    include_external: ExternalOption = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Cancel one working order at the broker (an intent never sent is abandoned instead)."""
    from autotrader.pipeline import orders

    body = partial(orders.cancel, ident=ident, include_external=include_external)
    _run("orders cancel", body, config, as_of, dry_run, json_output, _render_orders)


@orders_app.command("cancel-all")
def cancel_all(
    symbol: SymbolOption = None,
    book: BookOption = None,
    include_external: ExternalOption = False,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Cancel every working order in scope, protective orders included, and abandon the planned intents."""
    from autotrader.pipeline import orders

    scope = _scope("orders cancel-all", symbol, book, include_external, json_output=json_output, dry_run=dry_run)
    _run("orders cancel-all", partial(orders.cancel_all, scope=scope, yes=yes), config, as_of, dry_run, json_output,
         _render_orders)  # fmt: skip


@orders_app.command("cancel-stale")
def cancel_stale(
    minutes: Annotated[float, typer.Option("--minutes", help="Working for longer than this.", metavar="N")],
    symbol: SymbolOption = None,
    book: BookOption = None,
    include_external: ExternalOption = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Cancel the working orders submitted more than N minutes ago; a position's protective orders stay."""
    from datetime import timedelta

    from autotrader.pipeline import orders

    problem = None if minutes > 0 else f"--minutes {minutes:g}: must be > 0"
    scope = _scope("orders cancel-stale", symbol, book, include_external, json_output=json_output, dry_run=dry_run,
                   problem=problem)  # fmt: skip
    body = partial(orders.cancel_all, scope=scope, yes=True, older_than=timedelta(minutes=minutes))
    _run("orders cancel-stale", body, config, as_of, dry_run, json_output, _render_orders)


def positions(
    symbol: SymbolOption = None,
    book: BookOption = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Positions per book, the ledger's next to the broker's, with unrealized P&L at the latest price."""
    from autotrader.pipeline import orders

    scope = _scope("positions", symbol, book, True, json_output=json_output, dry_run=dry_run)
    _run("positions", partial(orders.positions, scope=scope), config, as_of, dry_run, json_output, _render_positions)


def balances(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Equity, cash and buying power at the broker, and the capital deployed per book."""
    from autotrader.pipeline import orders

    _run("balances", orders.balances, config, as_of, dry_run, json_output, _render_balances)


def flatten(
    symbol: SymbolOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Every position in scope.")] = False,
    book: BookOption = None,
    include_external: ExternalOption = False,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Close positions: cancel their working and protective orders, then sell at market (a rerun never sells
    twice). Goes through a `halt`: it is the owner's own instruction."""
    from autotrader.pipeline import orders

    problem = "flatten needs exactly one of --symbol S and --all" if (symbol is None) == (not all_) else None
    scope = _scope("flatten", symbol, book, include_external, json_output=json_output, dry_run=dry_run, problem=problem)
    _run("flatten", partial(orders.flatten, scope=scope, yes=yes), config, as_of, dry_run, json_output, _render_orders)


def _render_orders(report: OrdersReport) -> None:
    render.render_orders(report)
    render.table(
        "orders",
        ["broker id", "book", "symbol", "side", "filled/qty", "type", "status", "leg"],
        [[o.broker_order_id or o.client_order_id, o.book, o.symbol, o.side,
          f"{fmt.number(o.filled_qty)}/{fmt.number(o.qty)}", o.type, o.status or o.intent_status, o.leg]
         for o in report.listed],
    )  # fmt: skip


def _render_record(report: OrdersReport) -> None:
    _render_orders(report)
    record = report.record or {}
    render.table("fills", ["fill id", "qty", "price", "filled at"],
                 [[f["fill_id"], fmt.number(f["qty"]), fmt.number(f["price"], 2), fmt.ny_time(f["filled_at"])]
                  for f in record.get("fills", [])])  # fmt: skip
    decision = record.get("decision")
    if decision:
        render.table("decision", ["signal", "outcome", "reason"],
                     [[decision["signal_id"], decision["outcome"], decision["reason"]]])  # fmt: skip


def _render_positions(report: PositionsReport) -> None:
    render.table(
        "positions",
        ["symbol", "book", "ledger qty", "broker qty", "avg cost", "price", "market value", "unrealized P&L"],
        [[p.symbol, p.book, fmt.number(p.ledger_qty), fmt.number(p.broker_qty), fmt.usd(p.avg_cost, cents=True),
          fmt.usd(p.price, cents=True), fmt.usd(p.market_value), fmt.usd(p.unrealized_pnl, signed=True)]
         for p in report.positions],
    )  # fmt: skip


def _render_balances(report: BalancesReport) -> None:
    render.table(
        "balances",
        ["equity", "cash", "buying power", "deployed by book"],
        [[fmt.usd(report.equity), fmt.usd(report.cash), fmt.usd(report.buying_power),
          ", ".join(f"{book} {fmt.usd(v)}" for book, v in report.deployed_by_book.items()) or "–"]],
    )
