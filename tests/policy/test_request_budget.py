"""The request model doctor prints: the adapter's cheapest way to fill missing sessions, the limiter's minutes."""

from __future__ import annotations

from autotrader.policy import request_budget as rb


def test_missing_sessions_cost_one_request_each_unless_fewer_symbols_ask_for_a_long_gap():
    assert rb.fill_requests(504, 500) == 500  # a cold 500-symbol universe over two years: per symbol is cheaper
    assert rb.fill_requests(252, 500) == 252  # one year: one grouped request per session
    assert rb.fill_requests(4, 2) == 4  # a short gap is filled by session whatever the number of symbols
    assert rb.fill_requests(0, 500) == 0 and rb.fill_requests(10, 0) == 0


def test_the_limiter_grants_a_window_at_once_then_one_window_and_its_margin_per_further_window():
    assert rb.minutes_at(5, 5) == 0.0
    assert rb.minutes_at(6, 5) == 1.0  # 61 s
    assert rb.minutes_at(11, 5) == 2.0
    assert rb.minutes_at(253, 5) == 50.8  # 248 more: 50 further windows of 61 s


def test_the_intraday_slot_pays_its_daily_extras_and_a_quote_per_held_symbol():
    row = rb.intraday_budget(6, 5)
    assert (row.slot, row.requests, row.minutes) == ("intraday", 9, 1.0)
    assert rb.rebalance_budget(60, 504, 504, 5).requests == 1  # a warm cache: the splits listing only
