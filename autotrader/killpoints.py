"""Named kill points: places where the process can be made to die on purpose, to prove recovery.

A crash can land anywhere, but a few moments matter most for the exactly-once promise: after an order's intent
is stored, after its submit is committed, after the POST and before its answer is stored, half-way through a
reconcile, half-way through a migration. Each of those calls ``kill_point(name)``. Normally it does nothing.

- ``AUTOTRADER_KILL_AT=<name>`` (or ``<name>:<n>`` for the n-th time that point is reached in the process, 1 by
  default) makes the process exit at once with ``os._exit(KILL_EXIT_CODE)``: no ``finally`` block, no rollback
  handler, no commit runs, as with ``kill -9`` (only what was already printed is flushed, for the test to
  read). The tests run the real command in a child process this way and then rerun it to check that the
  ledger and the broker converge.
- ``arm(name, n)`` makes the n-th pass raise ``Killed`` instead, inside the same process. ``Killed`` derives
  from ``BaseException`` so that no ``except Exception`` in the code under test can swallow it; SQLite drops
  the open transaction just as a dead process would. The seeded chaos suite uses this form because starting a
  process per kill would cost a second each.

An unknown name in the environment is an error at the first kill point reached, so that a typo cannot make a
crash test pass by never crashing.
"""

from __future__ import annotations

import os
import sys
from collections import Counter

ENV = "AUTOTRADER_KILL_AT"
#: The code a killed process exits with: 128 + SIGKILL, what a shell reports after ``kill -9``.
KILL_EXIT_CODE = 137

#: Every kill point in the code. A new ``kill_point`` call must add its name here.
POINTS: frozenset[str] = frozenset(
    {
        "after_intent_stored",
        "after_submit_committed",
        "after_post_before_answer",
        "mid_reconcile",
        "mid_migration",
    }
)


class Killed(BaseException):
    """Raised at an armed kill point in the same process (see ``arm``)."""

    def __init__(self, point: str) -> None:
        super().__init__(f"killed at {point}")
        self.point = point


_passes: Counter[str] = Counter()
_armed: dict[str, int] = {}


def _target(spec: str) -> tuple[str, int]:
    name, _, count = spec.partition(":")
    name = name.strip()
    if name not in POINTS:
        raise ValueError(f"{ENV}={spec!r}: unknown kill point; allowed: {', '.join(sorted(POINTS))}")
    try:
        nth = int(count) if count else 1
    except ValueError:
        raise ValueError(f"{ENV}={spec!r}: the part after ':' must be a whole number of passes") from None
    if nth < 1:
        raise ValueError(f"{ENV}={spec!r}: the pass number starts at 1")
    return name, nth


def arm(name: str, nth: int = 1) -> None:
    """Make the ``nth`` pass through ``name`` (counted from now) raise ``Killed`` in this process."""
    _target(f"{name}:{nth}")
    _armed[name] = _passes[name] + nth


def disarm() -> None:
    """Forget every armed point and every pass counted (between chaos runs)."""
    _armed.clear()
    _passes.clear()


def kill_point(name: str) -> None:
    if name not in POINTS:
        raise ValueError(f"kill_point({name!r}) is not declared in autotrader.killpoints.POINTS")
    spec = os.environ.get(ENV)
    if not spec and not _armed:
        return
    _passes[name] += 1
    if spec:
        target, nth = _target(spec)
        if target == name and _passes[name] == nth:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(KILL_EXIT_CODE)
    if _armed.get(name) == _passes[name]:
        del _armed[name]
        raise Killed(name)
