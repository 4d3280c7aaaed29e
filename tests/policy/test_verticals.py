"""Which expiry and strikes express a signal as a debit spread, and when the spread is closed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from autotrader.domain.enums import LegKind, OptionRight, Side
from autotrader.domain.options import OptionContract, OptionQuote
from autotrader.policy import verticals as v

RULES = v.VerticalRules()
NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
EXPIRY = date(2026, 4, 17)


def q(strike: float, right: OptionRight, delta: float | None) -> OptionQuote:
    return OptionQuote(OptionContract("XYZ", EXPIRY, right, strike), 1.0, 1.1, NOW, delta=delta, underlying_price=100.0)


def test_a_signal_is_wanted_by_its_category_and_conviction():
    assert v.wants(8, "swing", RULES) is None
    assert v.wants(7, "swing", RULES) == "conviction 7 under 8"
    assert v.wants(None, "swing", RULES) == "conviction none under 8"
    assert v.wants(9, "day_trade", RULES) == "category day_trade is not in [verticals] categories"


def test_the_expiry_nearest_the_middle_of_the_window():
    days = {date(2026, 3, 20): 10, date(2026, 4, 2): 23, date(2026, 4, 17): 38, date(2026, 5, 15): 66}
    assert v.choose_expiry(days, 21, 60) == date(2026, 4, 17)  # 40.5 is the middle of 21..60
    assert v.choose_expiry({date(2026, 3, 20): 10, date(2026, 5, 15): 66}, 21, 60) is None
    tie = {date(2026, 4, 1): 30, date(2026, 4, 20): 51}
    assert v.choose_expiry(tie, 21, 60) == date(2026, 4, 1)  # 10.5 from the middle either way: the earlier


@settings(max_examples=100, deadline=None)
@given(
    days=st.sets(st.integers(0, 400), max_size=12),
    low=st.integers(0, 120),
    span=st.integers(0, 200),
)
def test_the_week_around_the_middle_chooses_as_the_whole_window_whenever_it_holds_an_expiry(days, low, span):
    # Checked by brute force over every expiry set: the narrow query's choice is the whole window's.
    expiries = {date(2026, 1, 1) + timedelta(days=d): d for d in days}
    lo, hi = v.middle_days(low, low + span)
    assert low <= lo and hi <= low + span
    narrow = {e: d for e, d in expiries.items() if lo <= d <= hi}
    if narrow:
        assert v.choose_expiry(narrow, low, low + span) == v.choose_expiry(expiries, low, low + span)
    # The week is seven or eight days wide wherever the window allows it: a weekly always falls in it.
    assert hi - lo + 1 >= min(7, span + 1)


def test_a_buy_is_a_bull_call_spread_and_a_sell_a_bear_put_spread():
    chain = [q(95.0, OptionRight.CALL, 0.70), q(100.0, OptionRight.CALL, 0.56), q(105.0, OptionRight.CALL, 0.40),
             q(110.0, OptionRight.CALL, 0.25), q(95.0, OptionRight.PUT, -0.30), q(100.0, OptionRight.PUT, -0.44),
             q(105.0, OptionRight.PUT, -0.57), q(90.0, OptionRight.PUT, -0.15)]  # fmt: skip
    bought, sold = v.choose_spread(chain, Side.BUY, 100.0, RULES)
    assert (bought.strike, sold.strike, bought.right) == (100.0, 105.0, OptionRight.CALL)  # delta .56, 5 % wider
    bought, sold = v.choose_spread(chain, Side.SELL, 100.0, RULES)
    assert (bought.strike, sold.strike, bought.right) == (105.0, 100.0, OptionRight.PUT)  # |delta| .57, 5 % lower
    wide = v.VerticalRules(width_pct=12.0)
    assert v.choose_spread(chain, Side.BUY, 100.0, wide)[1].strike == 110.0
    assert v.choose_spread([q(100.0, OptionRight.CALL, 0.5)], Side.BUY, 100.0, RULES) is None  # nothing beyond
    assert v.choose_spread([q(100.0, OptionRight.CALL, None)], Side.BUY, 100.0, RULES) is None  # no delta


def test_exits_in_order_target_stop_time():
    assert v.exit_reason(2.00, 3.00, 30, RULES)[0] == LegKind.PROFIT_TAKE  # 50 % over the debit
    assert v.exit_reason(2.00, 2.99, 30, RULES) is None
    assert v.exit_reason(2.00, 1.00, 30, RULES)[0] == LegKind.LOSS_CUT  # 50 % under
    assert v.exit_reason(2.00, 1.01, 30, RULES) is None
    assert v.exit_reason(2.00, 2.10, 5, RULES) == (LegKind.TIME_EXIT, "5 day(s) to expiry, exit at 5")
    assert v.exit_reason(2.00, None, 6, RULES) is None  # no market in a leg: hold
    assert v.exit_reason(2.00, 3.50, 2, RULES)[0] == LegKind.PROFIT_TAKE  # the target wins over the time


def test_the_iv_range_is_checked_only_when_narrowed():
    assert RULES.iv_range is None
    assert v.VerticalRules(iv_percentile_max=0.5).iv_range == (0.0, 0.5)
