"""Whether bars can be trusted: one set of checks for every source and every step.

A bar is unusable with a missing, non-finite, zero or negative price, a high below its low, or a missing,
non-finite or negative volume (where volume is required). A series is unusable when one of its bars is, when
a date appears twice (duplicated) or after a later one (out of order), or when a session it should cover has
no bar (missing). The Polygon adapter applies them to what the vendor sends; the buying steps apply them
(``pipeline.quarantine``) to the daily bars a symbol is bought on, whatever the source.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np


def bar_problem(
    open_: float | None,
    high: float | None,
    low: float | None,
    close: float | None,
    volume: float | None,
    *,
    volume_required: bool = True,
) -> str | None:
    """Why a bar cannot be used, or None when it can."""
    for name, value in (("open", open_), ("high", high), ("low", low), ("close", close)):
        if value is None or not math.isfinite(value):
            return f"{name} is missing or not a number"
        if value <= 0:
            return f"{name} is {value:g}; prices must be > 0"
    assert high is not None and low is not None
    if high < low:
        return f"high {high:g} is below low {low:g}"
    if volume is None or not math.isfinite(volume):
        return "volume is missing or not a number" if volume_required else None
    if volume < 0:
        return f"volume is {volume:g}; volume must be >= 0"
    return None


def first_bad_bar(values: np.ndarray, *, volume_required: bool = True) -> int | None:
    """The position of the first row of ``values`` ((n, 5) open, high, low, close, volume; NaN for missing)
    that :func:`bar_problem` rejects, or None: the same checks over whole columns at once, for readers of
    thousands of bars (ask ``bar_problem`` for that row's reason)."""
    prices, volume = values[:, :4], values[:, 4]
    with np.errstate(invalid="ignore"):
        good = np.isfinite(prices).all(axis=1) & (prices > 0).all(axis=1) & (values[:, 1] >= values[:, 2])
        finite_volume = np.isfinite(volume)
        good &= finite_volume | (not volume_required)
        good &= ~(finite_volume & (volume < 0))
    bad = np.flatnonzero(~good)
    return int(bad[0]) if len(bad) else None


def order_problem(previous: int | None, stamp: int, label: str) -> str | None:
    """Why a bar stamped ``stamp`` cannot follow one stamped ``previous`` (any increasing unit), or None."""
    if previous is None or stamp > previous:
        return None
    if stamp == previous:
        return f"the bar for {label} appears twice (duplicated)"
    return f"the bar for {label} arrived after a later one (out of order)"


Bar = tuple[float | None, float | None, float | None, float | None, float | None]  # open, high, low, close, volume


def daily_problem(days: Sequence[date], bars: Sequence[Bar], sessions: Sequence[date]) -> str | None:
    """Why daily bars (``days[i]`` is the session of ``bars[i]``, in the order served) cannot be used to cover
    ``sessions``, or None: the first bad, duplicated or out-of-order bar, else the first session with none."""
    previous: int | None = None
    for day, bar in zip(days, bars, strict=True):
        problem = order_problem(previous, day.toordinal(), f"{day}") or bar_problem(*bar)
        if problem:
            return f"daily bar {day}: {problem}"
        previous = day.toordinal()
    have = set(days)
    for session in sessions:
        if session not in have:
            return f"no daily bar for the session {session} (missing)"
    return None


def implausible_price(
    days: Sequence[date],
    closes: Sequence[float],
    *,
    max_move_pct: float,
    max_price: float,
    split_days: Iterable[date] = (),
) -> str | None:
    """Why valid daily closes (oldest first) are not believable, or None: a close above ``max_price`` (a
    999,999 that would be sized as real), or a close-to-close move beyond ``max_move_pct`` percent on a
    session that is not a known split's ex-date (a split moves the price by its ratio and is not news)."""
    splits = set(split_days)
    for day, close in zip(days, closes, strict=True):
        if close > max_price:
            return f"daily bar {day}: close {close:,.2f} is above [data] max_price {max_price:,.0f}"
    for i in range(1, len(closes)):
        move = (closes[i] / closes[i - 1] - 1.0) * 100.0
        if abs(move) > max_move_pct and days[i] not in splits:
            return (
                f"daily bar {days[i]}: close {closes[i]:,.2f} moved {move:+.0f}% from {closes[i - 1]:,.2f} with no "
                f"known split (more than [data] max_daily_move_pct {max_move_pct:g}%)"
            )
    return None
