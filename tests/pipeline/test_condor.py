"""An iron condor through a breach on the simulated broker: the threatened side alone is bought back (its short
and its wing, one order), the other side stays on and is watched on its own, and once nothing is held the
structure's result is every cash flow of its fills."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from autotrader.domain.models import Quote
from autotrader.domain.options import parse_occ
from autotrader.ledger import options as store
from autotrader.pipeline import condor, sync
from autotrader.settings import CondorSection
from tests.pipeline.options_world import DAY, options_world

NAME = "SPY"


@pytest.fixture
def world(tmp_path, migrated_ledger, monkeypatch):
    section = CondorSection(enabled=True, underlyings=[NAME], max_band_width_pct=100.0)
    for w in options_world(tmp_path, migrated_ledger, condor=section):
        real = w.market.latest_quote
        moved: dict[str, float] = {}

        def quote(symbol: str, real=real, moved=moved) -> Quote | None:  # the underlying where the test puts it
            q = real(symbol)
            if q is None or symbol not in moved:
                return q
            return Quote(symbol, moved[symbol] - 0.01, moved[symbol] + 0.01, moved[symbol], q.quoted_at)

        monkeypatch.setattr(w.market, "latest_quote", quote)
        yield w.ctx, w.clock, moved, w.ledger


def _settle(ctx, clock, minutes: int) -> None:
    clock.set(clock.now() + timedelta(minutes=minutes))
    sync.run(ctx())


def test_a_breach_closes_the_threatened_side_and_the_other_is_watched_alone(world):
    ctx, clock, moved, ledger = world
    assert len(condor.run(ctx()).orders) == 1
    _settle(ctx, clock, 5)
    s = store.get_structure(ledger, f"condor-{NAME}-{DAY}")
    assert s.status == "open"
    entry = s.extra["entry_price"]
    long_put, short_put, short_call, long_call = (parse_occ(leg["symbol"]) for leg in s.legs)

    moved[NAME] = entry + 0.69 * (short_put.strike - entry)  # not yet 70 % of the way down to the short put
    clock.set(clock.now() + timedelta(minutes=30))
    assert condor.run_exits(ctx()).orders == ()
    moved[NAME] = entry + 0.71 * (short_put.strike - entry)
    (line,) = condor.run_exits(ctx()).orders
    assert line.leg == "loss_cut" and "the put side closed" in line.reason
    (legs,) = ledger.query("SELECT legs_json FROM order_intents WHERE leg = 'loss_cut'")
    assert {leg["symbol"] for leg in json.loads(legs["legs_json"])} == {short_put.symbol, long_put.symbol}
    _settle(ctx, clock, 5)
    s = store.get_structure(ledger, s.structure_id)
    assert s.status == "open"  # the call side is still held

    clock.set(clock.now() + timedelta(minutes=30))
    moved[NAME] = entry  # back where it was sold: the call side is worth about its credit, and no rule holds
    assert condor.run_exits(ctx()).orders == ()
    moved[NAME] = entry + 0.71 * (short_call.strike - entry)  # now the call side is threatened: the rest goes
    (last,) = condor.run_exits(ctx()).orders
    assert last.leg == "loss_cut" and "side closed" not in last.reason
    _settle(ctx, clock, 5)
    s = store.get_structure(ledger, s.structure_id)
    assert s.status == "closed" and s.close_reason.count("the price") == 2
    (flows,) = ledger.query("SELECT SUM(CASE side WHEN 'buy' THEN -qty * price ELSE qty * price END) * 100 "
                            "- SUM(commission) AS cash FROM option_fills WHERE structure_id = ?", [s.structure_id])
    assert s.realized_pnl == pytest.approx(flows["cash"], abs=0.02)
    assert store.option_holdings(ledger) == {} or set(store.option_holdings(ledger)) <= {long_call.symbol}
    assert sync.run(ctx()).diffs == ()
