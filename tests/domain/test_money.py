"""Prices on the tick (sub-penny rules) and whole shares."""

from __future__ import annotations

import pytest

from autotrader.domain.money import is_on_tick, to_tick, whole_shares


@pytest.mark.parametrize(
    ("price", "direction", "expected"),
    [
        (95.004, "nearest", 95.0),
        (95.005, "nearest", 95.01),
        (95.004, "up", 95.01),
        (95.004, "down", 95.0),
        (95.0, "up", 95.0),
        (95.0, "down", 95.0),
        (0.12345, "nearest", 0.1235),  # below $1: four decimals
        (0.12345, "down", 0.1234),
        (0.12341, "up", 0.1235),
        (1.999, "down", 1.99),
    ],
)
def test_to_tick(price, direction, expected):
    assert to_tick(price, direction=direction) == expected
    assert is_on_tick(to_tick(price, direction=direction))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_to_tick_refuses_non_prices(bad):
    with pytest.raises(ValueError):
        to_tick(bad)


@pytest.mark.parametrize(
    ("qty", "expected"), [(2.9999999999, 3.0), (2.5, 2.0), (0.4, 0.0), (-1, 0.0), (float("nan"), 0.0)]
)
def test_whole_shares_rounds_down(qty, expected):
    assert whole_shares(qty) == expected
