"""What the owner's kill switch stops. Pure.

``autotrader halt`` stops the orders that add risk or reshape the book: entries, dip-buys and rebalances.
``halt --exits`` stops every order, exits included (stops, targets, trails, time exits, loss cuts and profit
takes), for an owner who wants nothing sent at all. Orders already at the broker are left alone: a halt
stops sending, it does not cancel or flatten (``flatten`` and ``orders cancel-all`` do, on request, and go
through even while halted: they are the owner's own explicit instruction).
"""

from __future__ import annotations

from collections.abc import Iterable

from autotrader.clock import ET
from autotrader.domain.enums import LegKind
from autotrader.domain.models import Halt

#: Held by every halt.
RISK_ADDING_LEGS = frozenset({LegKind.ENTRY, LegKind.DIP_BUY, LegKind.REBALANCE})


def held_by_halt(leg: str, halt: Halt | None) -> str | None:
    """Why an order of this leg may not be sent now, or None when it may."""
    if halt is None or (leg not in RISK_ADDING_LEGS and not halt.exits):
        return None
    return f"{describe(halt)}; sent after `autotrader resume` if still inside its window"


HALT_NOTE_PREFIX = "HALTED since "


def describe(halt: Halt) -> str:
    """One line for every run's notes and ``status``."""
    scope = "no order at all is sent" if halt.exits else "no entry, dip-buy or rebalance order is sent"
    return f"{HALT_NOTE_PREFIX}{halt.since.astimezone(ET):%Y-%m-%d %H:%M} ET ({halt.reason}): {scope}"


def without_halt_note(notes: Iterable[str]) -> tuple[str, ...]:
    """A step's notes as a run that calls several steps repeats them: the halt is said once, by the run."""
    return tuple(note for note in notes if not note.startswith(HALT_NOTE_PREFIX))
