"""`autotrader doctor`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import finish

if TYPE_CHECKING:
    from autotrader.domain.reports import DoctorReport


def doctor(
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Check the config, the keys (names only), the broker and data connections, clock skew, the calendar and
    rate-limit headroom; exit non-zero with what to fix. Sends nothing, writes nothing (--dry-run or not).
    --as-of judges the market data as of that instant (the clock-skew check then needs the present: skipped)."""
    from autotrader.pipeline import doctor as step
    from autotrader.pipeline.context import invoke_readonly

    outcome = invoke_readonly("doctor", step.run, config_path=config, as_of=as_of, dry_run=dry_run)
    finish(outcome, json_output=json_output, renderer=_render)


def _render(report: DoctorReport) -> None:
    render.table(
        "checks",
        ["check", "ok", "found", "fix"],
        [[c.name, "ok" if c.ok else "FAIL", c.detail, c.fix] for c in report.checks],
    )
    if report.requests:
        render.table(
            "expected requests per slot",
            ["slot", "at most", "minutes", "what"],
            [[r.slot, str(r.requests), f"{r.minutes:g}", r.detail] for r in report.requests],
        )
