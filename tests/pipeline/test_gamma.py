"""Gamma scalping over the synthetic world and the simulated broker: the puts bought are the ones the rules pick
from the chain, and slot by slot the shares are hedged exactly when the delta computed here from the quotes
themselves leaves the band, to the neutral quantity, never short; a rerun of a slot sends nothing again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline import gamma, sync
from autotrader.policy.option_chain import days_to_expiry
from autotrader.settings import GammaSection
from tests.pipeline.options_world import CAL, DAY, options_world

NAME = "GOOGL"


@pytest.fixture
def world(tmp_path, migrated_ledger):
    section = GammaSection(enabled=True, underlyings=[NAME], hedge_band=0.05)
    for w in options_world(tmp_path, migrated_ledger, gamma=section):
        yield w.ctx, w.clock, w.market, w.broker, w.ledger


def _held(ledger) -> float:
    position = repo.get_position(ledger, "options", NAME)
    return position.qty if position else 0.0


@pytest.mark.slow
def test_the_puts_are_bought_at_the_money_and_the_shares_hedge_exactly_outside_the_band(world):
    ctx, clock, market, broker, ledger = world
    report = gamma.run(ctx())
    assert report.exit_code == 0 and len(report.orders) == 1
    s = store.get_structure(ledger, f"gamma-{NAME}-{DAY}")
    # Hand check against the chain: the expiry nearest 45 days out, the put whose strike is nearest the price.
    chain = market.option_chain(NAME, DAY + timedelta(30), DAY + timedelta(60))
    expiries = {e: days_to_expiry(e, ctx().now) for e in {q.contract.expiry for q in chain}}
    expiry = min(expiries, key=lambda e: (abs(expiries[e] - 45), e))
    puts = [q for q in chain if q.contract.expiry == expiry and q.contract.right == "put"]
    spot = puts[0].underlying_price
    put = min(puts, key=lambda q: (abs(q.contract.strike - spot), -q.contract.strike))
    (leg,) = s.legs
    assert (leg["symbol"], leg["side"], leg["ratio"]) == (put.contract.symbol, "buy", 2)
    (order,) = ledger.query("SELECT symbol, qty, limit_price, type, order_class FROM order_intents")
    assert order == {"symbol": put.contract.symbol, "qty": 2 * s.units, "limit_price": pytest.approx(s.planned_net / 2,
                     abs=0.005), "type": "limit", "order_class": "simple"}  # fmt: skip
    assert gamma.run(ctx()).orders == ()  # the same slot again: nothing more

    band = 0.05 * 100 * s.units
    hedged = {"buy": 0, "sell": 0}
    day = DAY
    for _ in range(6):
        for minutes in (60, 180, 300):
            at = CAL.session_open(day) + timedelta(minutes=minutes)
            clock.set(at)
            sync.run(ctx())
            s = store.get_structure(ledger, s.structure_id)
            if s.status != "open":
                continue
            held = _held(ledger)
            delta = market.option_quotes([put.contract])[put.contract.symbol].delta
            exposure = 200 * s.units * delta + held  # the position's delta in shares, from the quote itself
            out = gamma.run_hedge(ctx())
            if abs(exposure) <= band:
                assert out.orders == (), (at, exposure)
                continue
            (line,) = out.orders
            target = min(max(round(-200 * s.units * delta), 0), 200 * s.units)
            assert (line.side, line.qty, line.type) == ("buy" if target > held else "sell", abs(target - held),
                                                         "market")  # fmt: skip
            hedged[line.side] += 1
            assert gamma.run_hedge(ctx()).orders == ()  # rerun of the slot: the order works, nothing new
            clock.set(at + timedelta(minutes=5))
            sync.run(ctx())
            assert _held(ledger) == target and _held(ledger) >= 0
        day = CAL.next_session(day)
    assert hedged["buy"] >= 1 and hedged["sell"] >= 1
    assert sync.run(ctx()).diffs == ()
    sent = len(broker.orders(status="all")) + len(broker.option_orders())
    assert sent == len(ledger.query("SELECT 1 FROM order_intents"))  # each intent sent once
