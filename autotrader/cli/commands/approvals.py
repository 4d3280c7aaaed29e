"""`autotrader approvals`, `approve ID|--all` and `reject ID [--reason]`: the manual approval gate."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import ApprovalsReport

IdArgument = Annotated[str | None, typer.Argument(help="The entry's client order id.", metavar="ID")]


def approvals(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """The entries waiting for your approval, each with its size trace and when its approval expires."""
    from autotrader.pipeline import approvals as step
    from autotrader.pipeline.context import invoke

    finish(invoke("approvals", step.list_pending, config_path=config, as_of=as_of, dry_run=dry_run),
           json_output=json_output, renderer=_render)  # fmt: skip


def approve(
    ident: IdArgument = None,
    every: Annotated[bool, typer.Option("--all", help="Every entry still awaiting approval.")] = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Approve an entry (or --all): the next run sends it, inside its window."""
    from autotrader.errors import InputError
    from autotrader.pipeline import approvals as step
    from autotrader.pipeline.context import Outcome, invoke

    if (ident is None) == (not every):
        error = InputError("approve needs exactly one of ID and --all")
        finish(Outcome("approve", error.exit_code, error=error, dry_run=dry_run), json_output=json_output)
    body = partial(step.approve, ident=ident, every=every)
    finish(invoke("approve", body, config_path=config, as_of=as_of, dry_run=dry_run), json_output=json_output,
           renderer=_render)  # fmt: skip


def reject(
    ident: Annotated[str, typer.Argument(help="The entry's client order id.", metavar="ID")],
    reason: Annotated[str, typer.Option("--reason", help="Why, kept with the intent.")] = "rejected by the owner",
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Reject an entry awaiting approval: it is abandoned, never sent."""
    from autotrader.pipeline import approvals as step
    from autotrader.pipeline.context import invoke

    body = partial(step.reject, ident=ident, reason=reason)
    finish(invoke("reject", body, config_path=config, as_of=as_of, dry_run=dry_run), json_output=json_output,
           renderer=_render)  # fmt: skip


def _render(report: ApprovalsReport) -> None:
    render.table(
        "awaiting approval",
        ["client order id", "symbol", "side", "qty", "expires at"],
        [[p.client_order_id, p.symbol, p.side, p.qty, p.expires_at] for p in report.pending],
    )
