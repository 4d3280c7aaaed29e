"""Which steps a ``run-daily`` slot runs, from where the instant stands in the NYSE session. Pure.

cron fires ``run-daily`` at fixed New York times (crontab.example, ``[schedule] times``); the step list is
decided here from the session state, not from the cron line, so one crontab entry serves every slot and a
holiday or a 13:00 early close needs no special cron handling.

Slots:
  ``premarket``  a session day before the open
  ``intraday``   the regular session is open
  ``close``      after the close, before 16:15 ET (sync only: the day is still settling)
  ``eod``        16:15 to 16:30 ET (end-of-day work: rehydrate)
  ``evening``    from 16:30 ET (nightly work)
  ``closed``     no session today (weekend, holiday)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from autotrader.clock import ET, SessionState

EOD_FROM = time(16, 15)
EVENING_FROM = time(16, 30)

# The steps of each slot, in order. A step is listed only once it exists; `sync` always runs first.
SLOT_STEPS: dict[str, tuple[str, ...]] = {
    "premarket": ("sync", "scan", "size"),
    # Exits before add-ons, add-ons before new entries: risk first, then the capital that is left.
    "intraday": (
        "sync", "profittake", "rebalance_profittake", "verticals_exits", "condor_exits", "gamma_hedge", "dipbuy",
        "scan", "size", "verticals", "wheel", "condor", "gamma",
    ),  # fmt: skip
    "close": ("sync",),
    "eod": ("rehydrate", "options_iv"),  # rehydrate syncs first itself; options_iv: [options] iv_underlyings
    "evening": ("sync", "rebalance"),  # rebalance: only when [rebalance] enabled
    "closed": ("sync",),
}

# Steps that send orders: they only run while the session is open (or as market-on-open before it).
ORDER_STEPS: frozenset[str] = frozenset(
    {"size", "profittake", "rebalance_profittake", "dipbuy", "verticals", "verticals_exits", "wheel", "condor",
     "condor_exits", "gamma", "gamma_hedge"}
)
# Steps that buy: a broker/ledger disagreement (a step exiting 3) stops them for the rest of the slot. Exits
# keep running (they skip a halted position themselves): a halt in one symbol must not keep a day trade open.
BUYING_STEPS: frozenset[str] = frozenset({"size", "dipbuy", "rebalance", "verticals", "wheel", "condor", "gamma"})


@dataclass(frozen=True)
class Slot:
    name: str
    steps: tuple[str, ...]
    reason: str  # why the session is (not) open, for the report


def slot_for(at: datetime, state: SessionState) -> Slot:
    """The slot an instant falls in, given the calendar's verdict about it."""
    if state.session_date is None:
        name = "closed"
    elif state.is_open:
        name = "intraday"
    elif state.open_at is not None and at < state.open_at:
        name = "premarket"
    elif at.astimezone(ET).time() >= EVENING_FROM:
        name = "evening"
    elif at.astimezone(ET).time() >= EOD_FROM:
        name = "eod"
    else:
        name = "close"
    return Slot(name, SLOT_STEPS[name], state.reason)
