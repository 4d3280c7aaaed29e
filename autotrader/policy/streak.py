"""The losing-streak breaker's clock. Pure.

``max_consecutive_losses`` losing trades in a row pause new entries (``sizing.gate_consecutive_losses``). A
pause must end: with a flat book no new trade can close to break the streak, so waiting for a win would pause
forever. It ends ``streak_pause_sessions`` sessions after the latest loss closed (the streak counts from zero
again from that session), with a win, or when the owner ends it (``autotrader resume --breaker streak``: the
caller then passes only the trades closed after that). ``streak_pause_sessions = 0`` keeps the pause until
the owner ends it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Streak:
    losses: int  # losing trades in a row counted now (0 once a pause has been served)
    resumes_on: date | None  # while paused with an end: the first session entries are allowed again


def losing_streak(
    closes: Sequence[tuple[date, bool]],
    *,
    limit: int,
    pause_sessions: int,
    today: date,
    resume_after: Callable[[date], date],
) -> Streak:
    """``closes``: each closed trade's close session and whether it lost, oldest first. ``resume_after(d)``: the
    session ``pause_sessions`` sessions after ``d``."""
    losses, resumes_on = 0, None
    for day, lost in closes:
        if resumes_on is not None and day >= resumes_on:
            losses, resumes_on = 0, None  # the pause was served before this trade closed
        losses = losses + 1 if lost else 0
        resumes_on = resume_after(day) if losses >= limit and pause_sessions > 0 else None
    if resumes_on is not None and today >= resumes_on:
        return Streak(0, None)
    return Streak(losses, resumes_on)
