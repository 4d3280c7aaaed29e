"""The session's quarantine: symbols whose daily bars failed validation, set aside so that nothing buys them.

Every step that buys (``size``, ``dipbuy``, ``rebalance``) gathers it here before it plans a buy: the
symbols already quarantined for the New York session, and the symbols it is about to buy checked
(``policy.bar_quality`` over the last ``QUALITY_SESSIONS`` complete daily sessions: a zero, NaN or negative
price, a duplicated or out-of-order date, a missing session, or the data source's own rejection). A new
failure is stored in the ledger (the first reason found stays for the session) and logged as
``quarantined``; the step lists the session's quarantine in its report and plans no buy of those symbols.
Sells and stops never ask: an exit is never held back by a quarantine.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.prefetch import daily_arrays
from autotrader.policy.bar_quality import daily_problem, implausible_price
from autotrader.ports import SplitEvent

#: Complete daily sessions, up to the last one, whose bars must all be present and valid before a buy.
QUALITY_SESSIONS = 5


def gather(ctx: StepContext, symbols: Iterable[str]) -> dict[str, repo.QuarantineRow]:
    """The session's quarantine (symbol → its row), once ``symbols`` not yet in it have had their daily bars
    checked and the new failures have been stored and logged."""
    stored = repo.quarantined(ctx.ledger, ctx.session_date)
    found = {symbol: data_problem(ctx, symbol) for symbol in sorted(set(symbols) - set(stored))}
    new = plan_quarantine(ctx.session_date, stored, found, now=ctx.now)
    if new:
        with ctx.ledger.write():
            for row in new:
                repo.quarantine(ctx.ledger, row, run_id=ctx.run_id)
        for row in new:
            ctx.log.event("quarantined", symbol=row.symbol, session_date=row.session_date, reason=row.reason)
    return {**stored, **{row.symbol: row for row in new}}


def data_problem(ctx: StepContext, symbol: str) -> str | None:
    """Why the symbol's recent daily bars cannot be bought on, or None (``policy.bar_quality``)."""
    calendar = ctx.deps.calendar
    last = calendar.last_closed_session(ctx.now)
    sessions = calendar.sessions_between(calendar.sessions_back(last, QUALITY_SESSIONS - 1), last)
    stamps, values = daily_arrays(ctx.deps.market_data, symbol, sessions[0], last)
    rejected = ctx.deps.data_quality.rejected if ctx.deps.data_quality is not None else {}
    if symbol in rejected:  # the source set it aside (and served nothing): its reason is the precise one
        return rejected[symbol]
    days = stamps.astype("datetime64[ns]").astype("datetime64[D]").tolist()
    problem = daily_problem(days, [tuple(row) for row in values.tolist()], sessions)
    if problem is not None:
        return problem
    data = ctx.settings.data
    splits = [day for listed, day, _ in _listed(ctx) if listed == symbol]
    closes = values[:, 3].tolist()
    return implausible_price(
        days, closes, max_move_pct=data.max_daily_move_pct, max_price=data.max_price, split_days=splits
    )


def _listed(ctx: StepContext) -> list[SplitEvent]:
    source = ctx.deps.split_source
    return source.splits() if source is not None else []


def plan_quarantine(
    session_date: str, stored: dict[str, repo.QuarantineRow], found: dict[str, str | None], *, now: datetime
) -> tuple[repo.QuarantineRow, ...]:
    """The new quarantines: symbols checked this run whose data failed, not already set aside."""
    detected = repo.utc_iso(now)
    return tuple(
        repo.QuarantineRow(symbol, session_date, reason, detected)
        for symbol, reason in sorted(found.items())
        if reason is not None and symbol not in stored
    )


def why(row: repo.QuarantineRow) -> str:
    """The skip reason of a buy a quarantine holds back."""
    return f"quarantined for the session {row.session_date}: {row.reason}"


def report_rows(held: dict[str, repo.QuarantineRow]) -> list[dict[str, str]]:
    """The report's ``quarantined`` field (``QuarantinedSymbol`` rows)."""
    return [
        {"symbol": r.symbol, "session_date": r.session_date, "reason": r.reason, "detected_at": r.detected_at}
        for r in held.values()
    ]
