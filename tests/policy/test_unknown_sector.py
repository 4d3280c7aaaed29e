"""What the sector cap does with a symbol whose sector is unknown: ``unknown_sector = "own_bucket"`` (the
default) caps every unknown-sector holding and entry together, like one sector; ``"skip"`` skips the entry.
The trace's sector step says which rule applied."""

from __future__ import annotations

import pytest

from autotrader.policy.sizing import UNKNOWN_SECTOR, Rules, decide_all, sector_bucket
from tests.policy.test_sizing import SECTOR, batch, make_book, make_risk, run, sig, skipped, step


def test_the_bucket_of_an_unknown_sector_is_its_own():
    assert sector_bucket(None) == UNKNOWN_SECTOR
    assert sector_bucket(SECTOR) == SECTOR


def test_own_bucket_caps_unknown_sectors_together():
    d = run(sig("swing"), sector=None, book=make_book(sector_exposure={UNKNOWN_SECTOR: 290_000}))
    assert (d.outcome, d.notional) == ("reduced", 10_000)
    cap = step(d, "sector_cap")
    assert cap.inputs["sector"] == UNKNOWN_SECTOR and cap.inputs["unknown_sector"] == "own_bucket"
    assert cap.inputs["exposure"] == 290_000 and "reduced to $10,000" in cap.effect


def test_own_bucket_skips_when_the_bucket_is_full():
    d = run(sig("swing"), sector=None, book=make_book(sector_exposure={UNKNOWN_SECTOR: 300_000}))
    skipped(d, f"sector cap: {UNKNOWN_SECTOR} $300,000 + $20,000 > 30% of $1,000,000", at="sector_cap")


def test_own_bucket_fills_up_across_a_batch():
    items = batch(*(sig(symbol=f"S{i}", signal_id=i) for i in range(4)), sector=None)
    decisions = decide_all(items, make_book(), make_risk(), Rules(max_sector_pct=5))
    assert [d.notional for d in decisions] == [20_000, 20_000, 10_000, 0]
    assert [d.outcome for d in decisions] == ["ordered", "ordered", "reduced", "skipped"]


def test_skip_skips_an_unknown_sector_and_says_so():
    rules = Rules(unknown_sector="skip")
    d = run(sig("swing"), sector=None, rules=rules)
    skipped(d, "sector unknown", at="sector_cap")
    assert step(d, "sector_cap").inputs == {"sector": None, "unknown_sector": "skip"}
    # A known sector is capped as always, and its trace carries no unknown-sector rule.
    known = run(sig("swing"), rules=rules)
    assert known.notional == 20_000 and "unknown_sector" not in step(known, "sector_cap").inputs


def test_skip_in_a_batch_leaves_the_book_for_the_known_sectors():
    items = [*batch(sig(symbol="U", signal_id=1), sector=None), *batch(sig(symbol="K", signal_id=2))]
    decisions = decide_all(items, make_book(), make_risk(), Rules(unknown_sector="skip"))
    assert [d.outcome for d in decisions] == ["skipped", "ordered"]


def test_the_rule_must_be_one_of_the_two():
    with pytest.raises(ValueError, match="unknown_sector must be 'skip' or 'own_bucket'"):
        Rules(unknown_sector="ignore")
