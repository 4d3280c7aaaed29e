"""The scorecard's panels through the command line on the hand-made ledger of ``test_scorecard_hand_case``
(ten March 2026 sessions of local bars, four signals, one traded position), against figures worked out from
its bar tables. With ten sessions of history every market model falls back to α = 0, β = 1, so a signal's
abnormal return is its log return from the entry session's open to the h-th close minus SPY's over the same
window (what its stored outcome holds); the event window's daily path is the plain daily return minus SPY's,
summed from the close of the entry session."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.e2e.test_scorecard_hand_case import AAA, BBB, DAYS, SPY, payload  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow


def _returns(bars):
    close = np.array([c for _, _, _, c in bars])
    return close[1:] / close[:-1] - 1.0  # return of DAYS[i + 1]


def _car(bars, entry_day: str, h: int) -> float:
    """Σ (r − r_SPY) over the h sessions after the entry session: the event window's path at +h."""
    e = DAYS.index(entry_day)
    return float(np.sum(_returns(bars)[e : e + h] - _returns(SPY)[e : e + h]))


def _abnormal(bars, entry_day: str, h: int) -> float:
    """log(close of the h-th session / entry open) − the same for SPY: the abnormal return with α = 0, β = 1."""
    e = DAYS.index(entry_day)
    return math.log(bars[e + h - 1][3] / bars[e][0]) - math.log(SPY[e + h - 1][3] / SPY[e][0])


def test_the_report_carries_every_panel(payload):  # noqa: F811
    for field in ("calendar_time", "placebo", "ranking", "leaderboard", "event_window", "execution", "stability"):
        assert field in payload, field


def test_leaderboard_means_are_the_abnormal_returns_by_hand(payload):  # noqa: F811
    board = {r["source"]: r for r in payload["leaderboard"]}
    # alpha: AAA entered at the 03-02 open, out at the 03-06 close; its late BBB pick entered 03-13 is still
    # pending. beta: BBB from the 03-02 open and AAA, published 03-03 at noon, from the 03-04 open.
    assert board["alpha"]["mean"] == pytest.approx(_abnormal(AAA, "2026-03-02", 5))
    assert board["alpha"]["signals"] == 1
    expected_beta = (_abnormal(BBB, "2026-03-02", 5) + _abnormal(AAA, "2026-03-04", 5)) / 2
    assert board["beta"]["mean"] == pytest.approx(expected_beta)
    assert board["beta"]["beat_rate"] == pytest.approx(
        np.mean([_abnormal(BBB, "2026-03-02", 5) > 0, _abnormal(AAA, "2026-03-04", 5) > 0])
    )


def test_calendar_time_of_a_single_live_pick_is_its_regression_on_spy(payload):  # noqa: F811
    row = next(r for r in payload["calendar_time"] if r["source"] == "alpha" and r["category"] == "long_term")
    y, x = _returns(AAA)[:5], _returns(SPY)[:5]  # AAA held over 03-03 … 03-09
    beta, alpha = np.polyfit(x, y, 1)
    assert row["sessions"] == 5
    assert (row["alpha"], row["beta"]) == pytest.approx((alpha, beta), rel=1e-6)


def test_execution_of_the_traded_pick(payload):  # noqa: F811
    row = next(r for r in payload["execution"] if r["source"] == "alpha" and r["category"] == "long_term")
    # Two long-term signals from alpha, one traded: bought at 50.00, the scoring entry (03-02 open) 50.00.
    assert (row["signals"], row["traded"], row["fill_rate"]) == (2, 1, 0.5)
    assert row["slippage_vs_entry_bps"] == pytest.approx(0.0)
    assert "slippage_vs_signal_bps" in row and row["slippage_vs_signal_bps"] is None  # the signal gave no entry
    assert row["pick_traded"] == pytest.approx(_abnormal(AAA, "2026-03-02", 5))
    actions = {a["action"]: a for a in row["management"]}
    assert actions["profit_take"]["total"] == pytest.approx(-110)  # 20 × (54.00 − 59.50)


def test_event_window_at_plus_five_is_the_mean_car(payload):  # noqa: F811
    row = next(r for r in payload["event_window"] if r["source"] == "beta" and r["category"] == "swing")
    point = next(p for p in row["points"] if p["offset"] == 5)
    assert point["n"] == 2
    assert point["mean"] == pytest.approx((_car(BBB, "2026-03-02", 5) + _car(AAA, "2026-03-04", 5)) / 2)


def test_placebo_draws_from_the_universe_of_the_same_day(payload):  # noqa: F811
    row = next(r for r in payload["placebo"] if r["source"] == "alpha")
    # One pick (AAA, 03-02); the universe on 03-02 is AAA and BBB, so a placebo portfolio is one of the two,
    # each entered at the 03-02 open like the pick.
    assert row["observed"] == pytest.approx(_abnormal(AAA, "2026-03-02", 5))
    assert row["placebo_mean"] == pytest.approx(
        (_abnormal(AAA, "2026-03-02", 5) + _abnormal(BBB, "2026-03-02", 5)) / 2,
        abs=0.2 * abs(_abnormal(BBB, "2026-03-02", 5)),
    )
    assert row["draws"] == 200
