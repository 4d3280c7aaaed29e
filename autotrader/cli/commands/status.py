"""`autotrader status`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish
from autotrader.exports import fmt

if TYPE_CHECKING:
    from autotrader.domain.reports import StatusReport


def status(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when the last successful step run is too old.")
    ] = False,
    max_age: Annotated[
        str | None, typer.Option("--max-age", help="With --check: e.g. 90m, 26h, 2d (default [status] max_age_hours).")
    ] = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Show the last runs, open intents, mode, deployed capital and positions (read-only, from the ledger)."""
    from autotrader.pipeline import status as step
    from autotrader.pipeline.context import invoke_readonly

    def body(cfg, now, dry):
        return step.run(cfg, now, dry, check_freshness=check, max_age=step.parse_age(max_age) if max_age else None)

    outcome = invoke_readonly("status", body, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=_render)


def _render(report: StatusReport) -> None:
    render.table(
        f"mode {report.mode} · ledger {report.ledger}",
        ["orders", "fills", "open intents", "deployed (signals book)", "deployed by book"],
        [
            [
                report.orders_total,
                report.fills_total,
                len(report.open_intents),
                fmt.usd(report.deployed_usd),
                ", ".join(f"{book} {fmt.usd(v)}" for book, v in report.deployed_by_book.items()) or "–",
            ]
        ],
    )
    render.table(
        "last runs",
        ["command", "as of", "started", "exit", "error"],
        [[r.command, fmt.ny_time(r.as_of), fmt.ny_time(r.started_at), r.exit_code, r.error] for r in report.last_runs],
    )
    render.table(
        "open intents",
        ["client_order_id", "symbol", "side", "qty", "status", "book", "leg"],
        [[i.client_order_id, i.symbol, i.side, i.qty, i.status, i.book, i.leg] for i in report.open_intents],
    )
    render.table(
        "positions",
        ["book", "symbol", "qty", "avg cost", "realized P&L"],
        [[p.book, p.symbol, fmt.number(p.qty), fmt.usd(p.avg_cost, cents=True), fmt.usd(p.realized_pnl, signed=True)]
         for p in report.positions],
    )
    if report.options:
        render.table(
            "options structures (not yet closed)",
            ["structure", "status", "legs", "open net", "max loss", "opened"],
            [[o.structure_id, o.status, ", ".join(o.legs), fmt.usd(o.open_net, signed=True, cents=True),
              fmt.usd(o.max_loss), fmt.ny_time(o.opened_at) if o.opened_at else "–"] for o in report.options],
        )  # fmt: skip
