"""How figures are written for a person: percentages, dollars, significant digits, New York times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from autotrader.exports import fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [(45_830.2, "45,800"), (0.012345, "0.0123"), (4.583e4, "45,800"), (-1.5e-7, "−0.000000150"), (0.0, "0"),
     (999.6, "1,000"), (float("nan"), "–"), (None, "–")],
)  # fmt: skip
def test_significant_digits_never_scientific(value, text):
    assert fmt.sig(value) == text


def test_percentages_dollars_and_intervals():
    assert fmt.pct(0.0937348) == "9.4%"
    assert fmt.pct(-0.00001, signed=True) == "0.0%"  # no "-0.0%"
    assert fmt.pct_interval(0.011, [0.005, 0.017]) == "+1.1% [+0.5%, +1.7%]"
    assert fmt.pct_interval(0.0009, [-0.002, 0.004]) == "+0.09% [−0.20%, +0.40%]"
    assert fmt.usd(243_281.29) == "$243,281" and fmt.usd(-12.345) == "−$12.35" and fmt.usd(5, signed=True) == "+$5.00"
    assert fmt.q_value(0.0004) == "<0.001" and fmt.q_value(0.0876) == "0.088" and fmt.q_value(0.5) == "0.50"


def test_times_are_new_york_to_the_minute():
    assert fmt.ny_time(datetime(2026, 7, 1, 13, 35, 59, tzinfo=UTC)) == "2026-07-01 09:35 ET"
    assert fmt.ny_time("2026-12-03T14:35:00+00:00") == "2026-12-03 09:35 ET"
    assert fmt.ny_time(None) == "–"


def test_plain_values_not_python_reprs():
    assert fmt.plain(True) == "yes" and fmt.plain(None) == "–"
    assert fmt.plain({"signals": 243_281.29, "rebalance": 0.0}) == "signals: 243,281.29, rebalance: 0"
    assert fmt.plain(1277.0) == "1,277" and fmt.plain(0.093734) == "0.0937" and fmt.plain(-0.00001) == "0"
