"""What an order in doubt stops. Pure.

An intent is UNKNOWN when the broker cannot confirm whether it holds the order (the submit's answer was lost
and the lookup by client order id failed too). Such an order may be working, or even filled: a buy sent now
could double a position, so every buy waits until it is resolved. A sell never waits: protective stops,
day-trade close-outs and loss cuts only take risk off, and holding them back would leave it on. An order the
broker provably never received is not in doubt (it goes back to PLANNED and is sent again later).

The run that finds an order in doubt exits 3, whether it created it or an earlier run did, so cron and the
operator see it the moment it exists.
"""

from __future__ import annotations

from collections.abc import Collection

from autotrader.domain.enums import ExitCode, Side


def held_by_doubt(side: Side, in_doubt: Collection[str]) -> str | None:
    """Why an order may not be sent now, or None when it may. ``in_doubt``: the client order ids of the
    UNKNOWN intents (the order itself left out)."""
    if side != Side.BUY or not in_doubt:
        return None
    shown = ", ".join(sorted(in_doubt)[:3]) + (", ..." if len(in_doubt) > 3 else "")
    return f"buying halted: {len(in_doubt)} order(s) with unknown outcome ({shown}); sent once resolved"


def doubt_exit_code(in_doubt: Collection[str]) -> ExitCode:
    """The exit code an order-sending run ends with: 3 while any order's outcome is unknown."""
    return ExitCode.HALTED if in_doubt else ExitCode.OK


def doubt_note(in_doubt: Collection[str]) -> str:
    return f"{len(in_doubt)} order(s) with unknown outcome: buying halted until resolved"
