"""The step registry: name → pipeline entry point. ``run-daily`` and ``replay`` chain steps from here."""

from __future__ import annotations

from collections.abc import Callable

from autotrader.domain.reports import Report
from autotrader.pipeline.context import StepContext
from autotrader.settings import Settings


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


def _rebalance(ctx: StepContext) -> Report:
    """The nightly rebalancer, in run-daily's evening slots when ``[rebalance] enabled``."""
    if not ctx.settings.rebalance.enabled:
        return _disabled(ctx)
    from autotrader.pipeline import rebalance

    tif, why = rebalance.order_timing(ctx)
    if str(tif) != "opg":
        # The seed trades the deltas at the next open: the evening slots wait for the broker's auction window.
        report = ctx.report()
        report.notes.append(f"waiting for the market-on-open window (from 19:00 New York): {why}")
        return report.build(Report)
    return rebalance.run(ctx)


def _rebalance_profittake(ctx: StepContext) -> Report:
    """The rebalance book's trailing profit taker, in run-daily's intraday slots when the rebalancer is on."""
    if not ctx.settings.rebalance.enabled:
        return _disabled(ctx)
    from autotrader.pipeline import manage

    return manage.run_profittake(ctx, book="rebalance")


def _disabled(ctx: StepContext) -> Report:
    report = ctx.report()
    report.notes.append("[rebalance] enabled = false: nothing to do")
    return report.build(Report)


def _rehydrate(ctx: StepContext) -> Report:
    from autotrader.pipeline import rehydrate

    return rehydrate.run(ctx)


def _options_iv(ctx: StepContext) -> Report:
    from autotrader.pipeline import option_chain

    return option_chain.run_iv(ctx)


def _verticals(ctx: StepContext) -> Report:
    from autotrader.pipeline import verticals

    return verticals.run(ctx)


def _verticals_exits(ctx: StepContext) -> Report:
    from autotrader.pipeline import verticals  # switched with [verticals] enabled (SWITCHED)

    return verticals.run_exits(ctx)


def _wheel(ctx: StepContext) -> Report:
    from autotrader.pipeline import wheel

    return wheel.run(ctx)


def _condor(ctx: StepContext) -> Report:
    from autotrader.pipeline import condor

    return condor.run(ctx)


def _condor_exits(ctx: StepContext) -> Report:
    from autotrader.pipeline import condor  # switched with [condor] enabled (SWITCHED)

    return condor.run_exits(ctx)


def _gamma(ctx: StepContext) -> Report:
    from autotrader.pipeline import gamma

    return gamma.run(ctx)


def _gamma_hedge(ctx: StepContext) -> Report:
    from autotrader.pipeline import gamma  # switched with [gamma] enabled (SWITCHED)

    return gamma.run_hedge(ctx)


# The options strategies' steps, each switched by its section's ``enabled``: run-daily leaves a switched-off one
# out before any of a step's bookkeeping (every intraday slot of a replay would otherwise pay for five no-ops).
SWITCHED: dict[str, tuple[str, Callable[[Settings], bool]]] = {
    "verticals": ("verticals", lambda s: s.verticals.enabled),
    "verticals_exits": ("verticals", lambda s: s.verticals.enabled),
    "wheel": ("wheel", lambda s: s.wheel.enabled),
    "condor": ("condor", lambda s: s.condor.enabled),
    "condor_exits": ("condor", lambda s: s.condor.enabled),
    "gamma": ("gamma", lambda s: s.gamma.enabled),
    "gamma_hedge": ("gamma", lambda s: s.gamma.enabled),
}


def switched_off(settings: Settings, name: str) -> str | None:
    """Why step ``name`` does not run under these settings (None: it runs)."""
    switch = SWITCHED.get(name)
    if switch is None or switch[1](settings):
        return None
    return f"[{switch[0]}] enabled = false"


STEPS: dict[str, Callable[[StepContext], Report]] = {
    "sync": _sync,
    "scan": _scan,
    "size": _size,
    "profittake": _profittake,
    "dipbuy": _dipbuy,
    "rebalance": _rebalance,
    "rebalance_profittake": _rebalance_profittake,
    "rehydrate": _rehydrate,
    "options_iv": _options_iv,
    "verticals": _verticals,
    "verticals_exits": _verticals_exits,
    "wheel": _wheel,
    "condor": _condor,
    "condor_exits": _condor_exits,
    "gamma": _gamma,
    "gamma_hedge": _gamma_hedge,
}
