"""The two lanes of the suite: the whole suite keeps every property's full example count; the fast lane
(``-m "not slow"``) loads the thinner Hypothesis profile."""

from __future__ import annotations

import pytest
from hypothesis import settings

from tests.properties import FAST_PROFILE, examples


def test_the_whole_suite_keeps_each_propertys_count_and_the_fast_lane_takes_a_tenth():
    current = settings.get_current_profile_name()
    try:
        settings.load_profile("default")
        assert [examples(n) for n in (200, 100, 25)] == [200, 100, 25]
        settings.load_profile(FAST_PROFILE)
        assert [examples(n) for n in (200, 100, 25, 5)] == [20, 10, 10, 5]
    finally:
        settings.load_profile(current)


def test_the_profile_in_effect_matches_the_lane(request: pytest.FixtureRequest):
    if request.config.getoption("--hypothesis-profile"):
        pytest.skip("a profile named on the command line wins")
    fast_lane = "not slow" in (request.config.option.markexpr or "")
    assert (settings.get_current_profile_name() == FAST_PROFILE) == fast_lane
