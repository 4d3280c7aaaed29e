"""``rehydrate``: the end-of-day step (16:15 New York), idempotent per session date.

1. ``sync``: the ledger catches up with the broker.
2. Outcomes: every signal's pending horizons and rule exit are recomputed from data up to the as-of.
3. Snapshot: equity, cash, deployed capital per book and per category (one row per session date).
4. Reviews: every newly closed trade is reviewed (R multiple, excursions, holding time, exit reason, what
   management did and what it was worth, whether the pick beat the benchmark) and the review stored; an
   optional external reviewer (``[review] command``) gets each trade as JSON on stdin and its answer is
   stored with it.
5. The portfolio value sizing uses is set to the broker's equity.
6. The day's report is written to ``[report] dir``/YYYY-MM-DD.html (``pipeline.report.evening``); a page that
   cannot be written is a note, never a failure of the bookkeeping above.

Running it twice for the same session changes nothing the second time: every write is keyed (snapshot by
session date, review by trade id, outcomes by signal and horizon).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections import defaultdict
from typing import Any

from autotrader.domain.enums import Book
from autotrader.domain.reports import RehydrateReport
from autotrader.exports.fmt import usd
from autotrader.ledger import repo
from autotrader.pipeline import outcomes, sync, trades
from autotrader.pipeline import report as daily_report
from autotrader.pipeline.context import StepContext
from autotrader.policy.kill_switch import without_halt_note

REVIEWER_OUTPUT_LIMIT = 64 * 1024


def run(ctx: StepContext) -> RehydrateReport:
    report = ctx.report()
    synced = sync.run(ctx)
    report.notes.extend(f"sync: {note}" for note in without_halt_note(synced.notes))
    if synced.exit_code:
        report.exit_code, report.ok = synced.exit_code, False
        report.fields["sync_diffs"] = synced.diffs

    if ctx.outcomes_at_end:
        report.notes.append("outcomes: left to the end of the replay (refreshed once there)")
    else:
        refreshed = outcomes.refresh(ctx)
        report.fields["outcomes"] = refreshed
        report.notes.append(
            f"outcomes: {refreshed['signals']} signals, {refreshed['completed_horizons']} horizons complete, "
            f"{refreshed['pending_horizons']} pending"
        )

    # The market data only for the trades closed but not yet reviewed; the snapshot's exposure by category reads
    # the open trades' fills alone. An evening's work does not grow with the history or with what is held.
    done = repo.reviewed_trade_ids(ctx.ledger)
    loaded = trades.load(ctx, keep=lambda t: t.closed_at is not None and t.trade_id not in done)
    snapshot = _snapshot(ctx, trades.outlines(ctx))
    report.fields["snapshot"] = snapshot
    report.notes.append(
        f"snapshot {snapshot['session_date']}: equity {usd(snapshot['equity'])}, cash {usd(snapshot['cash'])}"
    )

    reviewed = _review_closed_trades(ctx, loaded, done)
    report.fields["reviews"] = reviewed
    report.notes.append(f"reviews: {len(reviewed)} newly closed trade(s) reviewed")

    with ctx.ledger.write():
        repo.kv_set(ctx.ledger, repo.PORTFOLIO_VALUE_KEY, repr(snapshot["equity"]), now=ctx.now)
    report.fields["portfolio_value"] = snapshot["equity"]
    report.notes.append(f"portfolio value for sizing: {usd(snapshot['equity'])} (broker equity)")
    report.notes.append(daily_report.evening(ctx))
    return report.build(RehydrateReport)


def _snapshot(ctx: StepContext, outlined: list[trades.TradeOutline]) -> dict[str, Any]:
    account = ctx.deps.broker.account()
    positions = repo.all_positions(ctx.ledger)
    deployed: dict[str, float] = defaultdict(float)
    for p in positions:
        if p.book != Book.EXTERNAL:
            deployed[p.book] += p.qty * p.avg_cost
    by_category: dict[str, float] = defaultdict(float)
    for outline in outlined:
        if outline.trade.closed_at is None and outline.category is not None:
            by_category[outline.category] += outline.open_cost
    session_date = ctx.session_date
    snapshot: dict[str, Any] = {
        "session_date": session_date,
        "equity": round(account.equity, 2),
        "cash": round(account.cash, 2),
        "deployed": {k: round(v, 2) for k, v in sorted(deployed.items())},
        "by_category": {k: round(v, 2) for k, v in sorted(by_category.items())},
        "positions": [{"book": p.book, "symbol": p.symbol, "qty": p.qty, "avg_cost": p.avg_cost} for p in positions],
    }
    with ctx.ledger.write():
        repo.save_snapshot(
            ctx.ledger,
            session_date=session_date,
            as_of=ctx.now,
            equity=snapshot["equity"],
            cash=snapshot["cash"],
            deployed=snapshot["deployed"],
            by_category=snapshot["by_category"],
            positions=snapshot["positions"],
            now=ctx.now,
        )
    return snapshot


def _review_closed_trades(ctx: StepContext, loaded: list[trades.TradeView], done: set[str]) -> list[dict[str, Any]]:
    command = ctx.settings.review.command
    out = []
    for view in loaded:
        trade = view.trade
        if trade.closed_at is None or trade.trade_id in done:
            continue
        review = view.review()
        output, code = (None, None)
        if command:
            output, code = _external_review(command, review, ctx.settings.review.timeout_seconds)
            ctx.log.event("trade_reviewed", trade_id=trade.trade_id, reviewer_exit_code=code)
        with ctx.ledger.write():
            repo.save_review(
                ctx.ledger,
                trade_id=trade.trade_id,
                signal_id=trade.signal_id,
                book=trade.book,
                symbol=trade.symbol,
                opened_at=trade.opened_at,
                closed_at=trade.closed_at,
                review=review,
                reviewer_output=output,
                reviewer_exit_code=code,
                now=ctx.now,
            )
        out.append({**review, "reviewer_exit_code": code})
    return out


def _external_review(command: str, review: dict[str, Any], timeout: float) -> tuple[str | None, int | None]:
    """Run the reviewer with the trade as JSON on stdin; its failure is recorded, never fatal."""
    try:
        done = subprocess.run(
            shlex.split(command),
            input=json.dumps(review, default=str).encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"reviewer timed out after {timeout:g}s", -1
    except (OSError, ValueError) as error:
        return f"reviewer could not start: {error}", -1
    # Whatever bytes it printed: undecodable ones are replaced, never a reason to fail the evening step.
    return done.stdout[:REVIEWER_OUTPUT_LIMIT].decode("utf-8", errors="replace"), done.returncode
