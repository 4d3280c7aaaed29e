"""The step registry: name → pipeline entry point. ``run-daily`` and ``replay`` chain steps from here."""

from __future__ import annotations

from collections.abc import Callable

from autotrader.domain.reports import Report
from autotrader.pipeline.context import StepContext


def _sync(ctx: StepContext) -> Report:
    from autotrader.pipeline import sync

    return sync.run(ctx)


STEPS: dict[str, Callable[[StepContext], Report]] = {
    "sync": _sync,
}
