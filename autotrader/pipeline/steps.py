"""The step registry: name → pipeline entry point. ``run-daily`` and ``replay`` chain steps from here."""

from __future__ import annotations

from collections.abc import Callable

from autotrader.domain.reports import Report
from autotrader.pipeline.context import StepContext


def _sync(ctx: StepContext) -> Report:
    from autotrader.pipeline import sync

    return sync.run(ctx)


def _scan(ctx: StepContext) -> Report:
    from autotrader.pipeline import scan

    return scan.run(ctx, files=None)  # the inbox and the built-in sources


def _size(ctx: StepContext) -> Report:
    from autotrader.pipeline import size

    return size.run(ctx)


def _profittake(ctx: StepContext) -> Report:
    from autotrader.pipeline import manage

    return manage.run_profittake(ctx)


def _dipbuy(ctx: StepContext) -> Report:
    from autotrader.pipeline import manage

    return manage.run_dipbuy(ctx)


def _rehydrate(ctx: StepContext) -> Report:
    from autotrader.pipeline import rehydrate

    return rehydrate.run(ctx)


STEPS: dict[str, Callable[[StepContext], Report]] = {
    "sync": _sync,
    "scan": _scan,
    "size": _size,
    "profittake": _profittake,
    "dipbuy": _dipbuy,
    "rehydrate": _rehydrate,
}
