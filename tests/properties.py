"""How many examples each Hypothesis property runs.

The whole suite runs every property with its full count. The fast lane (``pytest -m "not slow"``) loads the
``fast`` profile (see tests/conftest.py), under which each property runs a tenth of its count, and at least
ten: the same properties over the same strategies, sampled more thinly, for the edit-test loop.
"""

from __future__ import annotations

from hypothesis import settings

FAST_PROFILE = "fast"
#: Hypothesis' own default ``max_examples``: the profile the whole suite runs under.
FULL_BUDGET = 100
FAST_BUDGET = 10
MIN_EXAMPLES = 10

settings.register_profile(FAST_PROFILE, max_examples=FAST_BUDGET)


def examples(full: int) -> int:
    """``full`` under the default profile; scaled by the loaded profile's budget (the fast lane: a tenth)."""
    scaled = full * settings.default.max_examples // FULL_BUDGET
    return min(full, max(MIN_EXAMPLES, scaled))
