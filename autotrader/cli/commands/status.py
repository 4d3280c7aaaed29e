"""`autotrader status`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

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
                report.deployed_usd,
                report.deployed_by_book,
            ]
        ],
    )
    render.table(
        "last runs",
        ["command", "as of", "started", "exit", "error"],
        [[r.command, r.as_of, r.started_at, r.exit_code, r.error] for r in report.last_runs],
    )
    render.table(
        "open intents",
        ["client_order_id", "symbol", "side", "qty", "status", "book", "leg"],
        [[i.client_order_id, i.symbol, i.side, i.qty, i.status, i.book, i.leg] for i in report.open_intents],
    )
    render.table(
        "positions",
        ["book", "symbol", "qty", "avg cost", "realized P&L"],
        [[p.book, p.symbol, p.qty, p.avg_cost, p.realized_pnl] for p in report.positions],
    )
