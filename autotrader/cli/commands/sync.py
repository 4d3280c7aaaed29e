"""`autotrader sync`."""

from __future__ import annotations

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish


def sync(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Reconcile broker orders, fills and positions into the ledger (exit 3 on an unexplained difference)."""
    from autotrader.pipeline import sync as step
    from autotrader.pipeline.context import invoke

    outcome = invoke("sync", step.run, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=_render)


def _render(payload: dict) -> None:
    render.table(
        "differences",
        ["kind", "symbol", "broker qty", "ledger qty", "by book"],
        [
            [d["kind"], d.get("symbol", d.get("fill_id")), d.get("broker_qty"), d.get("ledger_qty"), d.get("by_book")]
            for d in payload.get("diffs", [])
        ],
    )
    render.table(
        "settled in-flight orders",
        ["client_order_id", "status", "message"],
        [[s["client_order_id"], s["status"], s["message"]] for s in payload.get("settled", [])],
    )
