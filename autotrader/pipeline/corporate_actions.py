"""Splits: a split must never look like a dip or a rally, or management would trade on it.

A broker applies a split overnight: the position's quantity changes with no fill. ``explain_splits`` takes
``sync``'s position differences and, where the broker's quantity is the ledger's times a known split ratio
(``[exits] split_ratios``, or the inverse for a reverse split; a reverse split may leave a fraction paid in
cash), and the price moved the other way by roughly the same ratio (judged when a quote from after the split
exists, against the last price a run saw, else the average cost), applies the split to the ledger: every
book's quantity × ratio and average cost ÷ ratio, the cost basis unchanged, and the position's remembered
prices (entry, stop, targets, high-water mark, last price) ÷ ratio. Anything else stays a difference:
buying halts (exit 3) until a human looks.

Fills before the split stay as the broker reported them; the trade views scale them by the splits after
them, so quantities add up across the split and no P&L moves.
"""

from __future__ import annotations

import math
from typing import Any

from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext
from autotrader.policy import management as mg

PRICE_COLUMNS = ("entry_price", "atr", "stop_price", "target_price", "target_one_price", "high_water", "last_price")


def split_factor(splits: list[dict[str, Any]], symbol: str, at: str) -> float:
    """How a quantity at ``at`` (UTC ISO) restates in today's units: the product of the ratios of the symbol's
    splits effective after it (a price divides by the same factor, so cash is unchanged)."""
    factor = 1.0
    for split in splits:
        if split["symbol"] == symbol and at < split["effective_at"]:
            factor *= split["ratio"]
    return factor


def explain_splits(
    ctx: StepContext, diffs: list[dict[str, Any]], *, exclude: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the differences a split does not explain, the splits applied)."""
    remaining, applied = [], []
    for diff in diffs:
        split = _split_for(ctx, diff, exclude)
        if split is None:
            remaining.append(diff)
            continue
        _apply(ctx, split)
        applied.append(split)
        ctx.log.event("split_applied", **split)
    return remaining, applied


def _split_for(ctx: StepContext, diff: dict[str, Any], exclude: set[str]) -> dict[str, Any] | None:
    if diff.get("kind") != "position_mismatch" or diff["symbol"] in exclude:
        return None
    ours, theirs = diff["ledger_qty"], diff["broker_qty"]
    if ours <= 0 or theirs <= 0:
        return None
    exits = ctx.settings.exits
    ratios = tuple(exits.split_ratios)
    ratio = mg.split_ratio(theirs / ours, ratios, exits.split_tolerance_pct)
    cash_in_lieu = 0.0
    if ratio is None:
        # A reverse split rounds each holding down and pays the fraction in cash.
        for r in ratios:
            if math.floor(ours / r + 1e-9) == theirs:
                ratio, cash_in_lieu = 1 / r, ours / r - theirs
                break
    if ratio is None:
        return None
    symbol = diff["symbol"]
    state = ctx.session
    effective = state.open_at if state.open_at is not None and ctx.now > state.open_at else ctx.now
    last_seen = [s["last_price"] for s in repo.position_states(ctx.ledger) if s["symbol"] == symbol and s["last_price"]]
    if not last_seen:  # no price seen by a run: the average cost is the best pre-split price the ledger has
        last_seen = [p.avg_cost for p in repo.all_positions(ctx.ledger) if p.symbol == symbol and p.avg_cost > 0]
    quote = ctx.deps.market_data.latest_quote(symbol)
    price_ratio = None
    # Price evidence counts only when the quote is from after the split took effect (daily-only data still
    # quotes yesterday's close during the session); then it must have moved by roughly the split, closer to
    # the ratio than to no move at all.
    if last_seen and quote is not None and quote.quoted_at >= effective:
        price_ratio = last_seen[0] / quote.last  # > 1 when the price fell, as it does in a split
        if abs(math.log(price_ratio / ratio)) >= abs(math.log(ratio)) / 2:
            return None
    return {
        "symbol": symbol,
        "ratio": ratio,
        "ledger_qty": ours,
        "broker_qty": theirs,
        "price_ratio": price_ratio,
        "cash_in_lieu_shares": cash_in_lieu,
        "effective_at": repo.utc_iso(effective),
    }


def _apply(ctx: StepContext, split: dict[str, Any]) -> None:
    ledger, ratio, symbol = ctx.ledger, split["ratio"], split["symbol"]
    with ledger.write():
        repo.record_split(
            ledger, symbol=symbol, ratio=ratio, effective_at=repo.parse_utc(split["effective_at"]),  # type: ignore[arg-type]
            detected_by="position quantity change without fills", details=split, run_id=ctx.run_id, now=ctx.now,
        )  # fmt: skip
        if split["cash_in_lieu_shares"]:
            # The fraction left as cash: the ledger holds what the broker holds.
            ledger.conn.execute("UPDATE positions SET qty = floor(qty + 1e-9) WHERE symbol = ? AND qty > 0", [symbol])
        for state in repo.position_states(ledger):
            if state["symbol"] != symbol:
                continue
            scaled = {c: state[c] / ratio for c in PRICE_COLUMNS if state[c] is not None}
            scaled["original_qty"] = state["original_qty"] * ratio
            scaled["last_price_at"] = split["effective_at"]  # the scaled price stands for the split instant
            halted = state["halted_reason"] or ""
            repo.save_position_state(
                ledger,
                {"position_key": state["position_key"], **scaled,
                 "halted_reason": None if "split" in halted else state["halted_reason"]},
                now=ctx.now,
            )  # fmt: skip
