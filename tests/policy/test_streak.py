"""The losing-streak pause: when it starts, and that it ends (by hand-worked sequences of closed trades)."""

from __future__ import annotations

from datetime import date, timedelta

from autotrader.policy.streak import Streak, losing_streak


def weekdays_after(n: int):
    def after(day: date) -> date:
        for _ in range(n):
            day += timedelta(days=1)
            while day.weekday() >= 5:
                day += timedelta(days=1)
        return day

    return after


def streak(closes, *, today, limit=3, pause=2):
    return losing_streak(closes, limit=limit, pause_sessions=pause, today=today, resume_after=weekdays_after(pause))


MON, TUE, WED, THU, FRI = (date(2026, 3, d) for d in (2, 3, 4, 5, 6))
NEXT_MON, NEXT_TUE = date(2026, 3, 9), date(2026, 3, 10)


def test_a_streak_below_the_limit_does_not_pause():
    assert streak([(MON, True), (TUE, True)], today=WED) == Streak(2, None)
    assert streak([(MON, True), (TUE, False), (WED, True)], today=THU) == Streak(1, None)  # a win breaks it


def test_the_pause_ends_the_given_sessions_after_the_last_loss():
    losses = [(MON, True), (TUE, True), (WED, True)]
    assert streak(losses, today=THU) == Streak(3, FRI)  # paused; entries again from Friday
    assert streak(losses, today=FRI) == Streak(0, None)  # served: a flat book is not paused forever
    # A loss closing during the pause moves its end; over the weekend sessions, not days, are counted.
    assert streak([*losses, (THU, True)], today=FRI) == Streak(4, NEXT_MON)


def test_after_a_served_pause_the_count_starts_again():
    history = [(MON, True), (TUE, True), (WED, True), (NEXT_MON, True), (NEXT_TUE, True)]
    assert streak(history, today=NEXT_TUE) == Streak(2, None)


def test_without_an_end_the_pause_lasts_until_the_owner_ends_it():
    losses = [(MON, True), (TUE, True), (WED, True)]
    assert streak(losses, today=date(2026, 6, 1), pause=0) == Streak(3, None)
    assert streak([], today=date(2026, 6, 1), pause=0) == Streak(0, None)  # what resume --breaker streak leaves
