"""Splits: a split must never look like a dip or a rally, or management would trade on it.

A broker applies a split overnight: the position's quantity changes with no fill. ``explain_splits`` takes
``sync``'s position differences and, where the broker's quantity is the ledger's times a known split ratio
(``[exits] split_ratios``, or the inverse for a reverse split; a reverse split may leave a fraction paid in
cash), and either the data source lists a split of that ratio since the ledger's last one (``listed_splits``:
the vendor's word is the evidence, effective at its ex-date's open) or the price moved the other way by
roughly the same ratio (judged when a quote from after the split exists, against the last price a run saw,
else the average cost), applies the split to the ledger: every
book's quantity × ratio and average cost ÷ ratio, the cost basis unchanged, and the position's remembered
prices (entry, stop, targets, high-water mark, last price) ÷ ratio. Anything else stays a difference:
buying halts (exit 3) until a human looks.

Fills before the split stay as the broker reported them; the trade views scale them by the splits after
them, so quantities add up across the split and no P&L moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from autotrader.clock import ET
from autotrader.domain.money import QTY_TOLERANCE
from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext
from autotrader.policy import management as mg


@dataclass(frozen=True)
class ListedSplit:
    """A split the data source lists: ``ratio`` new shares per old, effective at its ex-date's open (UTC ISO)."""

    symbol: str
    ratio: float
    effective_at: str


PRICE_COLUMNS = ("entry_price", "atr", "stop_price", "target_price", "target_one_price", "high_water", "last_price")


def split_factor(splits: list[dict[str, Any]], symbol: str, at: str) -> float:
    """How a quantity at ``at`` (UTC ISO) restates in today's units: the product of the ratios of the symbol's
    splits effective after it (a price divides by the same factor, so cash is unchanged)."""
    factor = 1.0
    for split in splits:
        if split["symbol"] == symbol and at < split["effective_at"]:
            factor *= split["ratio"]
    return factor


def listed_splits(ctx: StepContext, symbol: str) -> list[ListedSplit]:
    """The data source's splits of ``symbol`` (none when it lists no splits), oldest first, each effective at
    its ex-date's session open (midnight New York on a day without a session), as a broker applies it."""
    source = ctx.deps.split_source
    if source is None:
        return []
    calendar = ctx.deps.calendar
    out = []
    for listed_symbol, ex_date, ratio in source.splits():
        if listed_symbol != symbol:
            continue
        opens = calendar.session_open(ex_date) if calendar.is_session(ex_date) else None
        effective = opens or datetime.combine(ex_date, time(), tzinfo=ET)
        out.append(ListedSplit(symbol, ratio, repo.utc_iso(effective)))
    return sorted(out, key=lambda s: s.effective_at)


def unrecorded(listed: list[ListedSplit], recorded: list[dict[str, Any]], *, after: str) -> list[ListedSplit]:
    """The listed splits effective after ``after`` (UTC ISO) and after every split the ledger recorded for the
    symbol: a split the ledger applied later than its ex-date (the broker was late) stands for the listed one."""
    since = max([after, *(r["effective_at"] for r in recorded if r["symbol"] in {s.symbol for s in listed})])
    return [s for s in listed if s.effective_at > since]


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
    exits = ctx.settings.exits
    books = tuple(diff.get("by_book", {}).values()) or (ours,)
    found = _quantity_ratio(ours, theirs, tuple(exits.split_ratios), exits.split_tolerance_pct, books=books)
    if found is None:
        return None
    ratio, cash_in_lieu = found
    symbol = diff["symbol"]
    state = ctx.session
    effective = state.open_at if state.open_at is not None and ctx.now > state.open_at else ctx.now
    held = repo.all_positions(ctx.ledger)
    opened = min((p.opened_at for p in held if p.symbol == symbol and p.opened_at), default="")
    listed = [
        s for s in unrecorded(listed_splits(ctx, symbol), repo.splits(ctx.ledger, symbol), after=opened)
        if abs(s.ratio / ratio - 1) < 1e-6 and s.effective_at <= repo.utc_iso(ctx.now)
    ]  # fmt: skip
    price_ratio = _price_ratio(ctx, symbol, effective)
    if listed:  # the data source reports this split: no price evidence needed, and its own date
        effective = repo.parse_utc(listed[-1].effective_at)  # type: ignore[assignment]
    elif price_ratio is not None and not _price_agrees(price_ratio, ratio):
        return None
    return {
        "symbol": symbol,
        "ratio": ratio,
        "ledger_qty": ours,
        "broker_qty": theirs,
        "price_ratio": price_ratio,
        "cash_in_lieu_shares": cash_in_lieu,
        "effective_at": repo.utc_iso(effective),
        "listed_by_data_source": bool(listed),
    }


def _quantity_ratio(
    ours: float, theirs: float, ratios: tuple[float, ...], tolerance_pct: float, *, books: tuple[float, ...] = ()
) -> tuple[float, float] | None:
    """The split ratio a quantity change matches, and the shares paid as cash in lieu (a reverse split rounds
    each holding down and pays the fraction in cash); None when it matches none.

    The ratio is recognised within ``tolerance_pct``, but it must then explain the broker's quantity exactly:
    shares split by a whole ratio land on a whole number, and a change that is only near one (a split plus a
    share bought after it) would leave the ledger holding what the broker does not. ``books``: the quantity of
    each book (``ours`` in all, one book when empty); the ledger rounds each one down after a reverse split,
    so their rounded sum must be the broker's."""
    if ours <= 0 or theirs <= 0:
        return None
    ratio = mg.split_ratio(theirs / ours, ratios, tolerance_pct)
    if ratio is not None and abs(ours * ratio - theirs) <= QTY_TOLERANCE:
        return ratio, 0.0
    for r in ratios:
        if sum(math.floor(q / r + 1e-9) if q > 0 else q / r for q in books or (ours,)) == theirs:
            return 1 / r, ours / r - theirs
    return None


def _price_ratio(ctx: StepContext, symbol: str, effective: datetime) -> float | None:
    """The last price seen before over the quote now, or None without evidence. It counts only when the quote
    is from after the split took effect (daily-only data still quotes yesterday's close during the session)."""
    last_seen = [s["last_price"] for s in repo.position_states(ctx.ledger) if s["symbol"] == symbol and s["last_price"]]
    if not last_seen:  # no price seen by a run: the average cost is the best pre-split price the ledger has
        last_seen = [p.avg_cost for p in repo.all_positions(ctx.ledger) if p.symbol == symbol and p.avg_cost > 0]
    quote = ctx.deps.market_data.latest_quote(symbol)
    if not last_seen or quote is None or quote.quoted_at < effective:
        return None
    return last_seen[0] / quote.last


def _price_agrees(price_ratio: float, ratio: float) -> bool:
    """The price moved by roughly the split (``price_ratio`` > 1 when it fell, as it does in a split): closer
    to the ratio than to no move at all."""
    return abs(math.log(price_ratio / ratio)) < abs(math.log(ratio)) / 2


def _apply(ctx: StepContext, split: dict[str, Any]) -> None:
    ledger, ratio, symbol = ctx.ledger, split["ratio"], split["symbol"]
    with ledger.write():
        repo.record_split(
            ledger, symbol=symbol, ratio=ratio, effective_at=repo.parse_utc(split["effective_at"]),  # type: ignore[arg-type]
            detected_by="position quantity change without fills"
            + (", listed by the data source" if split.get("listed_by_data_source") else ""),
            details=split, run_id=ctx.run_id, now=ctx.now,
        )  # fmt: skip
        if split["cash_in_lieu_shares"]:
            # The fraction left as cash: the ledger holds what the broker holds.
            repo.floor_position_quantities(ledger, symbol)
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
