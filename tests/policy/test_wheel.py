"""The wheel's choices: the week's first session, the names by IV percentile, the put and the call."""

from __future__ import annotations

from datetime import UTC, date, datetime

from autotrader.domain.enums import OptionRight
from autotrader.domain.options import OptionContract, OptionQuote
from autotrader.policy import wheel as w

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
RULES = w.WheelRules(underlyings=("A", "B", "C", "D"), max_names=2)


def q(strike: float, right: OptionRight, delta: float, bid: float = 1.0) -> OptionQuote:
    return OptionQuote(OptionContract("XYZ", date(2026, 4, 17), right, strike), bid, bid + 0.1, NOW, delta=delta)


def test_the_week_starts_on_its_first_session():
    week = [date(2026, 1, 20), date(2026, 1, 21)]  # Monday 19 January was a holiday
    assert w.first_session_of_week(date(2026, 1, 20), week) and not w.first_session_of_week(date(2026, 1, 21), week)


def test_names_are_ranked_by_iv_percentile_then_iv():
    percentile = {"A": 0.2, "B": 0.9, "C": None, "D": 0.5}
    iv30 = {"A": 0.3, "B": 0.2, "C": 0.8, "D": 0.25}
    chosen, passed = w.rank_names(["A", "B", "C", "D"], percentile, iv30, RULES, slots=2)
    assert chosen == ["B", "D"] and passed == {"A": "2 names at a time", "C": "2 names at a time"}
    strict = w.WheelRules(underlyings=RULES.underlyings, max_names=3, iv_percentile_min=0.4)
    chosen, passed = w.rank_names(["A", "B", "C", "D"], percentile, iv30, strict, slots=3)
    assert chosen == ["B", "D"] and passed["A"] == "IV percentile 20% under 40%"
    assert passed["C"] == "no IV percentile yet"
    chosen, _ = w.rank_names(["C", "A"], {"C": None, "A": None}, iv30, RULES, slots=1)
    assert chosen == ["C"]  # without history: by the 30-day IV


def test_the_put_by_delta_and_the_call_above_the_cost():
    puts = [q(95.0, OptionRight.PUT, -0.20), q(97.5, OptionRight.PUT, -0.29), q(100.0, OptionRight.PUT, -0.45),
            q(92.5, OptionRight.PUT, -0.31, bid=0.0)]  # fmt: skip
    assert w.choose_put(puts, RULES).contract.strike == 97.5  # nearest 0.30 with a bid
    calls = [q(100.0, OptionRight.CALL, 0.52), q(102.5, OptionRight.CALL, 0.40), q(105.0, OptionRight.CALL, 0.31),
             q(110.0, OptionRight.CALL, 0.12)]  # fmt: skip
    assert w.choose_call(calls, 101.0, RULES).contract.strike == 105.0
    assert w.choose_call(calls, 106.0, RULES).contract.strike == 110.0  # never below the shares' cost
    assert w.choose_call(calls, 120.0, RULES) is None
