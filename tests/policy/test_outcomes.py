"""policy.outcomes on a hand-built 8-session table; every expected number is worked out in the comments.

    idx  date         open  high  low  close  | SPY open  close
     0   2026-03-02   100   102    99   101   |   400      402
     1   2026-03-03   101   104   100   103   |   402      404
     2   2026-03-04   103   106   103   105   |   404      406
     3   2026-03-05   105   105    95    96   |   406      401
     4   2026-03-06    90    92    88    91   |   398      399     ← gaps down (open 90 < previous low 95)
     5   2026-03-09    91   112    90   110   |   399      405     ← wide bar: 90 … 112
     6   2026-03-10   110   111   108   109   |   405      404
     7   2026-03-11   109   113   107   112   |   404      408

Session opens: 14:30 UTC until the US switch to daylight time on Sunday 2026-03-08, 13:30 UTC after it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from autotrader.domain.enums import Side
from autotrader.policy.outcomes import (
    Bars,
    BenchmarkBars,
    MarketFit,
    enter_intraday,
    entry_session_index,
    entry_session_indices,
    first_touch,
    forward_outcomes,
    knowable_at,
    rule_exit,
    session_in_progress,
)

DATES = np.array(
    ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-09", "2026-03-10", "2026-03-11"],
    dtype="datetime64[D]",
)
BARS = Bars(
    dates=DATES,
    open=[100, 101, 103, 105, 90, 91, 110, 109],
    high=[102, 104, 106, 105, 92, 112, 111, 113],
    low=[99, 100, 103, 95, 88, 90, 108, 107],
    close=[101, 103, 105, 96, 91, 110, 109, 112],
)
SPY = BenchmarkBars(open=[400, 402, 404, 406, 398, 399, 405, 404], close=[402, 404, 406, 401, 399, 405, 404, 408])
OPENS = np.array(
    [f"{d}T14:30" for d in DATES[:5].astype(str)] + [f"{d}T13:30" for d in DATES[5:].astype(str)],
    dtype="datetime64[ns]",
)
NY = ZoneInfo("America/New_York")


# ------------------------------------------------------------------------------------------------ entry session


@pytest.mark.parametrize(
    ("generated_at", "expected"),
    [
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), 0),  # before the first open
        (datetime(2026, 3, 2, 14, 30, tzinfo=UTC), 0),  # exactly at the open: enters at that open
        (datetime(2026, 3, 2, 15, 0, tzinfo=UTC), 1),  # during the session: the next open
        (datetime(2026, 3, 6, 22, 0, tzinfo=UTC), 5),  # Friday evening: Monday
        (datetime(2026, 3, 9, 9, 29, tzinfo=NY), 5),  # 13:29 UTC, a minute before Monday's (daylight-time) open
        (datetime(2026, 3, 9, 9, 31, tzinfo=NY), 6),
        (datetime(2026, 3, 11, 13, 31, tzinfo=UTC), None),  # after the last listed open
    ],
)
def test_entry_session_index(generated_at, expected):
    assert entry_session_index(OPENS, generated_at) == expected
    tz_aware_opens = pd.DatetimeIndex(OPENS).tz_localize("UTC").tz_convert(NY)
    assert entry_session_index(tz_aware_opens, generated_at) == expected


def test_entry_session_indices_vectorised():
    generated = np.array(["2026-03-02T12:00", "2026-03-02T15:00", "2026-03-09T13:30", "2026-03-12T00:00"], "M8[ns]")
    assert entry_session_indices(OPENS, generated).tolist() == [0, 1, 5, -1]


def test_entry_session_index_refuses_naive_datetime():
    with pytest.raises(ValueError, match="timezone-aware"):
        entry_session_index(OPENS, datetime(2026, 3, 2, 15, 0))  # noqa: DTZ001


# ------------------------------------------------------------------------------------------------ forward outcomes

# A buy entering at session 1's open, 101. Horizons 1, 3, 5, 6 with 5 complete sessions.
# h=1: exit close[1] = 103  ret = 2/101 = 0.0198020; SPY 404/402 − 1 = 2/402 = 0.0049751
#      excess = 0.0198020 − 0.0049751 = 0.0148269; MFE high 104 → 3/101 = 0.0297030; MAE low 100 → −1/101
# h=3: exit close[3] = 96   ret = −5/101 = −0.0495050; SPY 401/402 − 1 = −1/402 = −0.0024876
#      excess = −0.0495050 + 0.0024876 = −0.0470174; MFE max(104,106,105) = 106 → 5/101; MAE min(100,103,95) = 95
#      → −6/101 = −0.0594059; hit False
# h=5: exit close[5] = 110  ret = 9/101 = 0.0891089; SPY 405/402 − 1 = 3/402 = 0.0074627; excess 0.0816462
#      MFE max high 112 → 11/101 = 0.1089109; MAE min low 88 → −13/101 = −0.1287129
# h=6: only 5 sessions complete → pending
BUY_EXPECTED = {
    1: dict(
        exit_idx=1, exit_price=103, ret=2 / 101, bench=2 / 402, excess=2 / 101 - 2 / 402, mfe=3 / 101, mae=-1 / 101
    ),
    3: dict(
        exit_idx=3, exit_price=96, ret=-5 / 101, bench=-1 / 402, excess=-5 / 101 + 1 / 402, mfe=5 / 101, mae=-6 / 101
    ),
    5: dict(
        exit_idx=5, exit_price=110, ret=9 / 101, bench=3 / 402, excess=9 / 101 - 3 / 402, mfe=11 / 101, mae=-13 / 101
    ),
}


@pytest.mark.parametrize("horizon", [1, 3, 5])
def test_forward_outcomes_buy_hand_worked(horizon):
    outcome = forward_outcomes("buy", 1, BARS, SPY, [1, 3, 5, 6], complete_sessions=5)[[1, 3, 5].index(horizon)]
    expected = BUY_EXPECTED[horizon]
    assert outcome.status == "complete" and outcome.horizon == horizon
    assert outcome.exit_idx == expected["exit_idx"]
    assert outcome.exit_date == DATES[expected["exit_idx"]].astype(object)
    assert outcome.entry_price == 101 and outcome.exit_price == expected["exit_price"]
    assert outcome.price_return == pytest.approx(expected["ret"])
    assert outcome.ret == pytest.approx(expected["ret"])
    assert outcome.benchmark_return == pytest.approx(expected["bench"])
    assert outcome.excess_return == pytest.approx(expected["excess"])
    assert outcome.mfe == pytest.approx(expected["mfe"])
    assert outcome.mae == pytest.approx(expected["mae"])
    assert outcome.hit is (expected["ret"] > 0)


def test_forward_outcomes_pending_horizon_has_no_numbers():
    pending = forward_outcomes("buy", 1, BARS, SPY, [1, 3, 5, 6], complete_sessions=5)[3]
    assert pending.horizon == 6 and pending.status == "pending"
    assert all(
        getattr(pending, name) is None
        for name in ("exit_idx", "exit_price", "ret", "benchmark_return", "excess_return", "mfe", "mae", "hit")
    )


@pytest.mark.parametrize(
    ("horizon", "ret", "excess", "mfe", "mae", "hit"),
    [
        # sell at 101, h=1: ret −2/101; excess = −2/101 − (−1)(2/402) = −0.0148269;
        # MFE = 1 − min low/entry = 1 − 100/101 = 1/101; MAE = 1 − max high/entry = 1 − 104/101 = −3/101
        (1, -2 / 101, -2 / 101 + 2 / 402, 1 / 101, -3 / 101, False),
        # h=3: ret +5/101; excess = 5/101 − (−1)(−1/402) = 0.0470174; MFE 1 − 95/101 = 6/101; MAE 1 − 106/101
        (3, 5 / 101, 5 / 101 - 1 / 402, 6 / 101, -5 / 101, True),
    ],
)
def test_forward_outcomes_sell_is_mirrored(horizon, ret, excess, mfe, mae, hit):
    (outcome,) = forward_outcomes(Side.SELL, 1, BARS, SPY, [horizon], complete_sessions=8)
    assert outcome.price_return == pytest.approx(-ret)
    assert outcome.ret == pytest.approx(ret)
    assert outcome.excess_return == pytest.approx(excess)
    assert (outcome.mfe, outcome.mae) == pytest.approx((mfe, mae))
    assert outcome.hit is hit


def test_forward_outcomes_excursions_at_the_open():
    # Buy at session 3's open 105 = its high: the best move is 105/105 − 1 = 0 → MFE 0; MAE 95/105 − 1.
    (buy,) = forward_outcomes("buy", 3, BARS, SPY, [1], complete_sessions=1)
    assert buy.mfe == 0.0 and buy.mae == pytest.approx(-10 / 105)
    # Sell at session 2's open 103 = its low: MFE = max(0, 1 − 103/103) = 0; MAE = 1 − 106/103.
    (sell,) = forward_outcomes("sell", 2, BARS, SPY, [1], complete_sessions=1)
    assert sell.mfe == 0.0 and sell.mae == pytest.approx(-3 / 103)


def test_forward_outcomes_excursions_are_clipped_at_zero():
    # Vendors' daily bars can open outside the session's high-low range (an auction print). Open 100, high 99.5,
    # low 97: a buy's best is 99.5/100 − 1 = −0.005 → MFE = max(0, −0.005) = 0; a sell's worst is
    # 1 − 99.5/100 = +0.005 → MAE = min(0, 0.005) = 0.
    bars = Bars(dates=DATES[:1], open=[100], high=[99.5], low=[97], close=[98])
    (buy,) = forward_outcomes("buy", 0, bars, None, [1], complete_sessions=1)
    (sell,) = forward_outcomes("sell", 0, bars, None, [1], complete_sessions=1)
    assert (buy.mfe, buy.mae) == pytest.approx((0.0, -0.03))
    assert (sell.mfe, sell.mae) == pytest.approx((0.03, 0.0))


def test_forward_outcomes_missing_bars_stay_pending():
    # Entry at session 6: the caller says 3 sessions are complete, but only sessions 6 and 7 have bars.
    outcomes = forward_outcomes("buy", 6, BARS, SPY, [2, 3], complete_sessions=3)
    assert [o.status for o in outcomes] == ["complete", "pending"]
    assert outcomes[0].ret == pytest.approx(112 / 110 - 1)


def test_forward_outcomes_without_benchmark_data():
    spy = BenchmarkBars(open=SPY.open, close=np.where(np.arange(8) == 3, np.nan, SPY.close))
    one, three = forward_outcomes("buy", 1, BARS, spy, [1, 3], complete_sessions=5)
    assert one.excess_return == pytest.approx(2 / 101 - 2 / 402)
    assert three.ret == pytest.approx(-5 / 101) and three.benchmark_return is None and three.excess_return is None
    (alone,) = forward_outcomes("buy", 1, BARS, None, [1], complete_sessions=5)
    assert alone.ret == pytest.approx(2 / 101) and alone.excess_return is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("hold", 1, [1], 5), "side"),
        (("buy", 8, [1], 5), "entry_idx"),
        (("buy", 1, [0], 5), "horizons"),
        (("buy", 1, [1], -1), "complete_sessions"),
    ],
)
def test_forward_outcomes_rejects_bad_input(args, message):
    side, entry_idx, horizons, complete = args
    with pytest.raises(ValueError, match=message):
        forward_outcomes(side, entry_idx, BARS, SPY, horizons, complete)


def test_bars_from_frames_align_the_benchmark():
    index = pd.DatetimeIndex(DATES.astype("datetime64[ns]"), name="date")
    frame = pd.DataFrame({"open": BARS.open, "high": BARS.high, "low": BARS.low, "close": BARS.close}, index=index)
    bars = Bars.from_frame(frame)
    assert bars.dates.tolist() == DATES.tolist() and bars.close.tolist() == BARS.close.tolist()
    spy_frame = pd.DataFrame({"open": SPY.open, "close": SPY.close}, index=index).drop(index[2])
    spy = BenchmarkBars.from_frame(spy_frame, bars.dates)
    assert np.isnan(spy.close[2]) and spy.close[3] == 401 and len(spy) == 8


# ------------------------------------------------------------------------------------------------ first touch


@pytest.mark.parametrize(
    ("side", "entry_idx", "stop", "target", "complete", "max_sessions", "expected"),
    [
        # Buy at 101, target 105.5: session 1 high 104 < 105.5; session 2 high 106 ≥ 105.5 (low 103 > stop 98)
        ("buy", 1, 98, 105.5, 7, 7, ("target", 2, 2, 105.5, False)),
        # Stop 93: lows 100, 103, 95 stay above; session 4 OPENS at 90 ≤ 93 → gap, filled at the open 90
        ("buy", 1, 93, 115, 7, 7, ("stop", 4, 4, 90.0, True)),
        # Buy at session 5's open 91, stop 90, target 111.5: the same bar has low 90 ≤ 90 and high 112 ≥ 111.5,
        # opening at 91 between them → ambiguous, "both", priced at the stop
        ("buy", 5, 90, 111.5, 3, 3, ("both", 5, 1, 90.0, False)),
        # The gap at session 4 is the 4th session: with 3 complete it has not happened yet → pending
        ("buy", 1, 93, 115, 3, 7, ("pending", None, None, None, False)),
        # Far levels, 5 of 7 sessions complete → pending; 5-session window complete → neither
        ("buy", 1, 80, 120, 5, 7, ("pending", None, None, None, False)),
        ("buy", 1, 80, 120, 5, 5, ("neither", None, None, None, False)),
        ("buy", 1, 80, 120, 7, 5, ("neither", None, None, None, False)),
        # Target only
        ("buy", 1, None, 105.5, 7, 7, ("target", 2, 2, 105.5, False)),
        ("buy", 1, None, None, 7, 7, ("n/a", None, None, None, False)),
        ("buy", 1, float("nan"), float("nan"), 7, 7, ("n/a", None, None, None, False)),
        # Sell at 101, stop 107 above, target 94 below: highs 104, 106, 105 < 107; lows 100, 103, 95 > 94;
        # session 4 opens at 90 ≤ 94 → the target gapped through, filled at the (better) open 90
        ("sell", 1, 107, 94, 7, 7, ("target", 4, 4, 90.0, True)),
        # Sell at session 4's open 90, stop 100: session 4 high 92; session 5 high 112 ≥ 100, open 91 < 100
        ("sell", 4, 100, 80, 7, 7, ("stop", 5, 2, 100.0, False)),
    ],
)
def test_first_touch(side, entry_idx, stop, target, complete, max_sessions, expected):
    touch = first_touch(side, entry_idx, BARS, stop, target, complete, max_sessions)
    assert (touch.kind, touch.session_idx, touch.sessions, touch.price, touch.gap) == expected


def test_an_open_beyond_one_level_is_not_ambiguous():
    # Session 1 opens at 110 above the target 105 and later trades down to 80 below the stop 90: the target
    # (filled at the open) is known to come first, so this is not a "both".
    bars = Bars(dates=DATES[:2], open=[100, 110], high=[101, 111], low=[99, 80], close=[100, 85])
    touch = first_touch("buy", 0, bars, 90, 105, 2, 2)
    assert (touch.kind, touch.session_idx, touch.price, touch.gap) == ("target", 1, 110.0, True)
    exit_ = rule_exit("buy", 0, 100.0, bars, 90, 105, 5, 2, risk_per_share=10)
    assert (exit_.reason, exit_.exit_price, exit_.r_multiple) == ("target", 110.0, 1.0)


# ------------------------------------------------------------------------------------------------ rule exit


@pytest.mark.parametrize(
    ("side", "entry_idx", "entry_price", "stop", "target", "horizon", "complete", "risk", "expected"),
    [
        # Target 105.5 touched at session 2: ret 4.5/101 = 0.0445545; R = 4.5/3 = 1.5; held 2 sessions
        ("buy", 1, 101, 98, 105.5, 5, 5, 3, ("target", 2, 105.5, 4.5 / 101, 1.5, 2, False)),
        # Same with an actual fill at 101.5 and risk 3.5: ret 4/101.5 = 0.0394089; R = 4/3.5 = 1.142857
        ("buy", 1, 101.5, 98, 105.5, 5, 5, 3.5, ("target", 2, 105.5, 4 / 101.5, 4 / 3.5, 2, False)),
        # Gap through the stop 93 at session 4: out at the open 90; ret −11/101 = −0.1089109; R = −11/8 = −1.375
        ("buy", 1, 101, 93, 115, 5, 5, 8, ("stop", 4, 90.0, -11 / 101, -1.375, 4, True)),
        # Nothing touched in 3 sessions: out at close[3] = 96; ret −5/101; R = −5/21 = −0.2380952
        ("buy", 1, 101, 80, 120, 3, 5, 21, ("horizon", 3, 96.0, -5 / 101, -5 / 21, 3, False)),
        # No levels at all: the horizon close, 2 sessions → close[2] = 105; ret 4/101; R = 4/(0.05·101)
        ("buy", 1, 101, None, None, 2, 5, 5.05, ("horizon", 2, 105.0, 4 / 101, 4 / 5.05, 2, False)),
        # Same-bar double touch at session 5 → the stop (conservative): ret −1/91 = −0.0109890; R = −1
        ("buy", 5, 91, 90, 111.5, 3, 3, 1, ("stop", 5, 90.0, -1 / 91, -1.0, 1, False)),
        # Target reached inside the horizon's last session beats its close: session 2 is the horizon, high 106
        ("buy", 1, 101, None, 105.5, 2, 2, 3, ("target", 2, 105.5, 4.5 / 101, 1.5, 2, False)),
        # Sell at 90, stop 100: session 5's high 112 reaches it → ret −(100/90 − 1) = −0.1111111; R = −10/10
        ("sell", 4, 90, 100, 80, 5, 5, 10, ("stop", 5, 100.0, -10 / 90, -1.0, 2, False)),
        # Sell at 101, target 94 gapped through at session 4's open 90: ret 11/101; R = 11/6 = 1.833333
        ("sell", 1, 101, 107, 94, 5, 5, 6, ("target", 4, 90.0, 11 / 101, 11 / 6, 4, True)),
    ],
)
def test_rule_exit_complete(side, entry_idx, entry_price, stop, target, horizon, complete, risk, expected):
    result = rule_exit(side, entry_idx, entry_price, BARS, stop, target, horizon, complete, risk)
    reason, exit_idx, price, ret, r_multiple, held, gap = expected
    assert result.status == "complete"
    assert (result.reason, result.exit_idx, result.holding_sessions, result.gap) == (reason, exit_idx, held, gap)
    assert result.exit_date == DATES[exit_idx].astype(object)
    assert result.exit_price == pytest.approx(price)
    assert result.ret == pytest.approx(ret)
    assert result.r_multiple == pytest.approx(r_multiple)


@pytest.mark.parametrize(
    ("stop", "target", "horizon", "complete"),
    [
        (80, 120, 5, 4),  # untouched, horizon 5 not complete
        (93, 115, 5, 3),  # the gap through the stop is at session 4, not complete yet
        (80, 120, 5, 0),  # nothing complete at all
    ],
)
def test_rule_exit_pending(stop, target, horizon, complete):
    result = rule_exit("buy", 1, 101, BARS, stop, target, horizon, complete, 3)
    assert result.status == "pending"
    assert (result.reason, result.exit_price, result.ret, result.r_multiple, result.holding_sessions) == (None,) * 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"risk_per_share": 0.0}, "risk_per_share"), ({"horizon_sessions": 0}, "horizon"), ({"entry_price": 0}, "entry")],
)
def test_rule_exit_rejects_bad_input(kwargs, message):
    arguments = {
        "side": "buy",
        "entry_idx": 1,
        "entry_price": 101.0,
        "bars": BARS,
        "stop": 98.0,
        "target": 105.5,
        "horizon_sessions": 5,
        "complete_sessions": 5,
        "risk_per_share": 3.0,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        rule_exit(**arguments)


# ------------------------------------------------------------------------------------------------ point in time

CLOSES = OPENS + np.timedelta64(390, "m")  # 21:00 UTC before daylight time, 20:00 after


def test_knowable_at_is_the_later_of_the_claim_and_the_import():
    claimed = datetime(2026, 3, 3, 8, 0, tzinfo=NY)
    imported = datetime(2026, 3, 5, 20, 0, tzinfo=NY)
    assert knowable_at(claimed, imported) == imported  # a backdated file: its arrival
    assert knowable_at(imported, claimed) == imported  # imported before the time it claims: the claim
    assert knowable_at(claimed, None) == claimed


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), None),  # before the first open
        (datetime(2026, 3, 2, 14, 30, tzinfo=UTC), None),  # exactly at the open: the open itself is the entry
        (datetime(2026, 3, 2, 14, 30, 1, tzinfo=UTC), 0),
        (datetime(2026, 3, 9, 15, 59, tzinfo=NY), 5),
        (datetime(2026, 3, 9, 16, 0, tzinfo=NY), None),  # at the close: between sessions
        (datetime(2026, 3, 7, 12, 0, tzinfo=UTC), None),  # a Saturday
    ],
)
def test_session_in_progress(at, expected):
    assert session_in_progress(OPENS, CLOSES, at) == expected


def test_enter_intraday_scores_only_the_minutes_from_the_entry():
    # A buy entering inside session 5 (open 91, range 90 … 112, close 110) at 100.00, where the minutes from
    # the entry on ranged 99 … 104; SPY was at 402 that minute. Horizon 1: 110/100 − 1 = 0.10; SPY 405/402 − 1;
    # MFE 104/100 − 1 = 0.04 (the 112 printed before the entry is not counted), MAE 99/100 − 1 = −0.01.
    bars, spy = enter_intraday(BARS, SPY, 5, price=100.0, high=104.0, low=99.0, benchmark_price=402.0)
    (h1, h2) = forward_outcomes("buy", 5, bars, spy, [1, 2], complete_sessions=3)
    assert h1.entry_price == 100.0 and h1.exit_price == 110
    assert h1.ret == pytest.approx(0.10)
    assert h1.benchmark_return == pytest.approx(405 / 402 - 1)
    assert h1.excess_return == pytest.approx(0.10 - (405 / 402 - 1))
    assert h1.mfe == pytest.approx(0.04) and h1.mae == pytest.approx(-0.01)
    # Horizon 2 reaches the next, untouched session: high 111, close 109.
    assert h2.ret == pytest.approx(0.09) and h2.mfe == pytest.approx(0.11)
    assert h2.benchmark_return == pytest.approx(404 / 402 - 1)
    # A target at 110 was reached at 112 before the entry only: the first touch is the next session's 111.
    touch = first_touch("buy", 5, bars, None, 110.5, complete_sessions=3, max_sessions=3)
    assert touch.kind == "target" and touch.session_idx == 6
    # The inputs are unchanged.
    assert BARS.open[5] == 91 and BARS.high[5] == 112 and SPY.open[5] == 399


def test_enter_intraday_without_a_benchmark_minute_gives_no_benchmark_figures():
    bars, spy = enter_intraday(BARS, SPY, 5, price=100.0, high=104.0, low=99.0, benchmark_price=float("nan"))
    (h1,) = forward_outcomes("buy", 5, bars, spy, [1], complete_sessions=1)
    assert h1.ret == pytest.approx(0.10)
    assert h1.benchmark_return is None and h1.excess_return is None


def test_a_sell_signals_abnormal_return_counts_the_price_falling_as_a_gain():
    # Entry at session 3's open 105, h=1 exit at its close 96 (−8.6%); SPY 406 → 401. Market model α = 0, β = 1:
    # a buy's CAR = log(96/105) − log(401/406) = −0.07724; the sell's is its mirror, +0.07724, and a hit.
    fit = MarketFit(alpha=0.0, beta=1.0, fallback=False)
    (buy,) = forward_outcomes("buy", 3, BARS, SPY, [1], complete_sessions=1, fit=fit)
    (sell,) = forward_outcomes("sell", 3, BARS, SPY, [1], complete_sessions=1, fit=fit)
    expected = np.log(96 / 105) - np.log(401 / 406)
    assert buy.abnormal_return == pytest.approx(expected) and expected < 0
    assert sell.abnormal_return == pytest.approx(-expected) and sell.abnormal_return > 0
    assert sell.ret == pytest.approx(1 - 96 / 105) and sell.hit is True
