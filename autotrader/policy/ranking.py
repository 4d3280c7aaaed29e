"""Ranking under the cap: which of a slot's new signals ``size`` spends the capital on first. Pure.

Without it, ``size`` takes a slot's signals in the order they arrived, and the allocation cap goes to
whichever source published first. With ``[rank] enabled`` every candidate is scored and put in order, and
each is tagged ``execute`` (sized, in rank order, until the caps say stop) or ``watch`` (not bought this
slot, with the reason):

1. **Order**: the strongest first: conviction (a built-in scanner's conviction is its strength on a fixed
   scale), then the prediction's confidence (the signal's ``probability`` column, when a model gave one),
   then average dollar volume (the more liquid of two equally strong picks), then arrival.
2. **Filters**, each a small named rule applied in that order; the first that fails tags the candidate
   ``watch`` with its reason: ``liquidity`` (average dollar volume over the last ``liquidity_sessions`` at
   least ``min_dollar_volume``; a symbol without that history is not judged liquid), ``falling_knife`` (not
   down more than ``falling_knife_pct`` over the last ``falling_knife_sessions``), ``sector_spread`` (at most
   ``max_per_sector`` entries per sector per day, counting the day's earlier entries), ``per_day`` (at most
   ``max_per_day`` executes per day, counting the day's earlier entries).

A candidate tagged ``watch`` is decided (skipped, with its reason in the trace) like one a sizing gate
stops, so the next slot does not rank it again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from autotrader.policy.sizing import TraceStep

EXECUTE, WATCH = "execute", "watch"


@dataclass(frozen=True)
class Candidate:
    signal_id: int
    symbol: str
    conviction: float | None
    sector: str | None
    dollar_volume: float | None  # average close × volume over the liquidity window (None: too little history)
    recent_return: float | None  # over the falling-knife window (None: too little history)
    arrival: int  # its place in the order the signals arrived
    probability: float | None = None  # the model's probability the prediction is right (None: none given)


@dataclass(frozen=True)
class RankRules:
    min_dollar_volume: float
    liquidity_sessions: int
    falling_knife_pct: float
    falling_knife_sessions: int
    max_per_sector: int
    max_per_day: int


@dataclass(frozen=True)
class Today:
    """The day's entries before this slot: how many, and how many per sector."""

    entries: int
    by_sector: dict[str, int]


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    rank: int  # 1 = the strongest
    tag: str  # execute | watch
    reason: str

    def trace(self) -> TraceStep:
        """The ranking as the first step of the size trace (a watch is a skip, as a gate's would be)."""
        c = self.candidate
        inputs = {"rank": self.rank, "conviction": c.conviction, "probability": c.probability,
                  "dollar_volume": c.dollar_volume, "recent_return": c.recent_return, "sector": c.sector}  # fmt: skip
        effect = f"{self.tag}: {self.reason}" if self.tag == EXECUTE else f"skip: watch: {self.reason}"
        return TraceStep("rank", inputs, effect)


def order(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Strongest first: conviction (none counts as the middle, 5), then the prediction's probability (none
    counts as 0.5, a coin toss), then dollar volume, then arrival."""

    def key(c: Candidate) -> tuple[float, float, float, int]:
        conviction = 5.0 if c.conviction is None else float(c.conviction)
        probability = c.probability if c.probability is not None and math.isfinite(c.probability) else 0.5
        volume = c.dollar_volume if c.dollar_volume is not None and math.isfinite(c.dollar_volume) else 0.0
        return (-conviction, -probability, -volume, c.arrival)

    return sorted(candidates, key=key)


# A filter: (the candidate, the rules, the executes so far today) → why it is only watched, or None.
Filter = Callable[[Candidate, RankRules, Today], str | None]


def liquidity(c: Candidate, rules: RankRules, today: Today) -> str | None:
    if c.dollar_volume is None:
        return f"illiquid: no {rules.liquidity_sessions}-session dollar volume"
    if c.dollar_volume < rules.min_dollar_volume:
        return f"illiquid: ${c.dollar_volume:,.0f} a day < ${rules.min_dollar_volume:,.0f}"
    return None


def falling_knife(c: Candidate, rules: RankRules, today: Today) -> str | None:
    if c.recent_return is not None and c.recent_return * 100 < -rules.falling_knife_pct:
        return (
            f"falling knife: {c.recent_return * 100:.1f}%".replace("-", "−")
            + f" over {rules.falling_knife_sessions} sessions (< −{rules.falling_knife_pct:g}%)"
        )
    return None


def sector_spread(c: Candidate, rules: RankRules, today: Today) -> str | None:
    held = today.by_sector.get(c.sector or "unknown", 0)
    if held >= rules.max_per_sector:
        return f"sector spread: {held} {c.sector or 'unknown-sector'} entries today (max {rules.max_per_sector})"
    return None


def per_day(c: Candidate, rules: RankRules, today: Today) -> str | None:
    if today.entries >= rules.max_per_day:
        return f"{today.entries} entries today (max {rules.max_per_day})"
    return None


FILTERS: tuple[Filter, ...] = (liquidity, falling_knife, sector_spread, per_day)


def rank(candidates: Sequence[Candidate], rules: RankRules, today: Today) -> list[Ranked]:
    """Every candidate in rank order, tagged; an execute counts toward the day's and its sector's limits."""
    out = []
    for i, c in enumerate(order(candidates), start=1):
        reason = next((why for rule in FILTERS if (why := rule(c, rules, today)) is not None), None)
        if reason is not None:
            out.append(Ranked(c, i, WATCH, reason))
            continue
        sector = c.sector or "unknown"
        today = replace(today, entries=today.entries + 1, by_sector={**today.by_sector,
                        sector: today.by_sector.get(sector, 0) + 1})  # fmt: skip
        out.append(Ranked(c, i, EXECUTE, f"rank {i} of {len(candidates)}"))
    return out
