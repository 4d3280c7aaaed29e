"""`autotrader doctor`."""

from __future__ import annotations

from autotrader.cli import render
from autotrader.cli.options import ConfigOption, JsonOption
from autotrader.cli.runner import finish


def doctor(json_output: JsonOption = False, config: ConfigOption = None) -> None:
    """Check the config, the keys (names only), the broker and data connections, clock skew, the calendar and
    rate-limit headroom; exit non-zero with what to fix. Sends nothing, writes nothing."""
    from autotrader.pipeline import doctor as step
    from autotrader.pipeline.context import invoke_readonly

    outcome = invoke_readonly("doctor", step.run, config_path=config, as_of=None, dry_run=False)
    finish(outcome, json_output=json_output, renderer=_render)


def _render(payload: dict) -> None:
    render.table(
        "checks",
        ["check", "ok", "found", "fix"],
        [[c["name"], "ok" if c["ok"] else "FAIL", c["detail"], c["fix"]] for c in payload.get("checks", [])],
    )
