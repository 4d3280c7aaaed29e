"""Ranking under the cap: the strongest first, and each filter's watch with its reason (hand-worked cases)."""

from __future__ import annotations

from autotrader.policy import ranking

RULES = ranking.RankRules(min_dollar_volume=1e6, liquidity_sessions=20, falling_knife_pct=15.0,
                          falling_knife_sessions=5, max_per_sector=2, max_per_day=4)  # fmt: skip
NONE_TODAY = ranking.Today(0, {})


def _c(i: int, conviction=5, sector="Tech", volume=5e6, recent=0.0) -> ranking.Candidate:
    return ranking.Candidate(i, f"S{i}", conviction, sector, volume, recent, arrival=i)


def _tags(ranked: list[ranking.Ranked]) -> list[tuple[int, str]]:
    return [(r.candidate.signal_id, r.tag) for r in ranked]


def test_the_strongest_first_then_the_more_liquid_then_the_earlier():
    ranked = ranking.rank([_c(0, 5), _c(1, 9, "Energy"), _c(2, 5, volume=9e6), _c(3, None, "Health")], RULES,
                          NONE_TODAY)  # fmt: skip
    assert [r.candidate.signal_id for r in ranked] == [1, 2, 0, 3]  # 9; then 5 by volume; no conviction = 5, later
    assert [r.rank for r in ranked] == [1, 2, 3, 4]


def test_a_models_probability_breaks_a_conviction_tie_before_liquidity():
    sure = ranking.Candidate(0, "S0", 7, "Tech", 1e6, 0.0, arrival=0, probability=0.8)
    unsure = ranking.Candidate(1, "S1", 7, "Tech", 9e9, 0.0, arrival=1, probability=0.3)
    silent = ranking.Candidate(2, "S2", 7, "Tech", 1e6, 0.0, arrival=2)  # no prediction: a coin toss, 0.5
    stronger = ranking.Candidate(3, "S3", 8, "Tech", 1e6, 0.0, arrival=3, probability=0.1)
    ranked = ranking.rank([sure, unsure, silent, stronger], RULES, NONE_TODAY)
    assert [r.candidate.signal_id for r in ranked] == [3, 0, 2, 1]
    assert ranked[1].trace().inputs["probability"] == 0.8


def test_each_filter_watches_with_its_reason_and_the_rest_execute():
    ranked = ranking.rank(
        [_c(0, 9, volume=5e5), _c(1, 8, recent=-0.2), _c(2, 7, volume=None), _c(3, 6)], RULES, NONE_TODAY
    )
    assert _tags(ranked) == [(0, "watch"), (1, "watch"), (2, "watch"), (3, "execute")]
    assert ranked[0].reason == "illiquid: $500,000 a day < $1,000,000"
    assert ranked[1].reason == "falling knife: −20.0% over 5 sessions (< −15%)"
    assert ranked[2].reason == "illiquid: no 20-session dollar volume"
    assert ranked[1].trace().effect.startswith("skip: watch: falling knife")
    assert ranked[3].trace().effect == "execute: rank 4 of 4" and ranked[3].trace().inputs["rank"] == 4


def test_the_sector_and_day_limits_count_the_days_earlier_entries():
    earlier = ranking.Today(entries=2, by_sector={"Tech": 1})
    ranked = ranking.rank([_c(0, 9), _c(1, 8), _c(2, 7, "Energy"), _c(3, 6, "Energy")], RULES, earlier)
    assert _tags(ranked) == [(0, "execute"), (1, "watch"), (2, "execute"), (3, "watch")]
    assert ranked[1].reason == "sector spread: 2 Tech entries today (max 2)"
    assert ranked[3].reason == "4 entries today (max 4)"
