"""The scorecard's options rows: the closed structures of the window gathered with the shares' own return
over each one's holding (and a gamma position's hedge: its shares' result, split into the straddle's base and
the scalping), then ``policy.option_scorecard`` per strategy."""

from __future__ import annotations

from datetime import date

import numpy as np

from autotrader.clock import ET
from autotrader.domain.options import MULTIPLIER
from autotrader.ledger import options as store
from autotrader.ledger.repo import parse_utc
from autotrader.pipeline import gamma
from autotrader.pipeline.context import StepContext
from autotrader.policy.option_scorecard import ClosedStructure, strategy_rows


def _close(ctx: StepContext, symbol: str, day: date) -> float | None:
    bars = ctx.deps.market_data.daily_bars(symbol, day, day)
    return float(bars["close"].iloc[-1]) if bars is not None and len(bars) else None


def gather(ctx: StepContext, since: date | None, until: date | None) -> list[ClosedStructure]:
    """The structures closed in [since, until] (New York dates of their close), as the policy reads them."""
    rows = [s for s in store.structures(ctx.ledger, statuses=("closed",)) if s.realized_pnl is not None]
    sides = store.signal_sides(ctx.ledger, [s.signal_id for s in rows if s.signal_id is not None])
    out = []
    for s in rows:
        opened, closed = parse_utc(s.opened_at), parse_utc(s.closed_at)
        if opened is None or closed is None:
            continue
        opened_day, closed_day = opened.astimezone(ET).date(), closed.astimezone(ET).date()
        if (since and closed_day < since) or (until and closed_day > until):
            continue
        shares = None
        if s.signal_id is not None and s.signal_id in sides:
            start, end = _close(ctx, s.underlying, opened_day), _close(ctx, s.underlying, closed_day)
            if start and end:
                shares = (end / start - 1) * (1 if sides[s.signal_id] == "buy" else -1)
        pnl, scalping = s.realized_pnl or 0.0, None
        if s.strategy == gamma.STRATEGY:  # its hedge's shares are part of its result
            quote = ctx.deps.market_data.latest_quote(s.underlying)
            split = gamma.result(ctx, s, None, quote.last if quote is not None else None)[1]
            pnl, scalping = pnl + split.shares, split.scalping
        out.append(ClosedStructure(
            strategy=s.strategy, opened=opened_day, pnl=pnl, risk=s.risk,
            debit=(s.open_net or 0.0) * MULTIPLIER * s.units, shares_return=shares, scalping=scalping,
        ))  # fmt: skip
    return out


def rows(ctx: StepContext, since: date | None, until: date | None) -> list[dict[str, object]] | None:
    """The per-strategy rows, None when no structure closed in the window."""
    closed = gather(ctx, since, until)
    if not closed:
        return None
    settings = ctx.settings.scorecard
    return strategy_rows(closed, np.random.default_rng(settings.seed), resamples=settings.bootstrap_resamples)
