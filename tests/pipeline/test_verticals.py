"""Debit spreads on signals over the synthetic world and the simulated broker: the spread opened is the one the
rules pick from the chain, it is closed at the first slot where an exit rule holds (checked slot by slot against
the quotes themselves), every order is a limit order sent once, and an answer lost in transit is resolved by
client order id, never sent twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autotrader.adapters.sim_broker import SimBroker
from autotrader.domain.enums import Side
from autotrader.domain.models import Signal
from autotrader.errors import AmbiguousOrderOutcome
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline import sync, verticals
from autotrader.policy import verticals as policy
from autotrader.policy.option_chain import days_to_expiry
from autotrader.settings import VerticalsSection
from tests.pipeline.options_world import CAL, DAY, options_world


@pytest.fixture
def world(tmp_path, migrated_ledger):
    section = VerticalsSection(enabled=True, min_conviction=7)
    for w in options_world(tmp_path, migrated_ledger, verticals=section):
        yield w.ctx, w.clock, w.market, w.broker, w.ledger


def add_signal(ledger, symbol: str, side: Side, conviction: int, at) -> int:
    signal = Signal(symbol, "swing", "test", at, side=side, conviction=conviction)
    with ledger.write():
        _, (signal_id,) = repo.record_import(
            ledger, content_hash=f"h-{symbol}-{side}", origin="t", signals=[signal], skipped=[], rows_total=1,
            archive_path=None, run_id="r", now=at,
        )  # fmt: skip
    return signal_id


@pytest.mark.slow
def test_a_buy_signal_opens_the_spread_the_rules_pick_and_it_closes_at_the_first_exit(world):
    ctx, clock, market, broker, ledger = world
    sid = add_signal(ledger, "MSFT", Side.BUY, 8, CAL.at_et(DAY, "08:00"))
    add_signal(ledger, "KO", Side.BUY, 5, CAL.at_et(DAY, "08:00"))  # too unsure: no spread
    report = verticals.run(ctx())
    assert report.exit_code == 0 and len(report.orders) == 1
    (line,) = report.orders
    assert (line.type, line.order_class, line.book, line.leg) == ("limit", "mleg", "options", "entry")
    s = store.get_structure(ledger, f"verticals-{sid}")
    # Hand check against the chain: the expiry nearest 40.5 days, the call nearest delta 0.55, 5 % higher sold.
    expiries = {e: days_to_expiry(e, ctx().now) for e in
                {q.contract.expiry for q in market.option_chain("MSFT", DAY + timedelta(21), DAY + timedelta(60))}}
    expiry = min(expiries, key=lambda e: (abs(expiries[e] - 40.5), e))
    chain = [q for q in market.option_chain("MSFT", expiry, expiry) if q.contract.right == "call"]
    bought = min(chain, key=lambda q: (abs(q.delta - 0.55), q.contract.strike))
    spot = chain[0].underlying_price
    sold = min((q for q in chain if q.contract.strike > bought.contract.strike),
               key=lambda q: abs(q.contract.strike - bought.contract.strike - 0.05 * spot))  # fmt: skip
    assert [leg["symbol"] for leg in s.legs] == [bought.contract.symbol, sold.contract.symbol]
    assert s.max_loss == pytest.approx(s.planned_net * 100) and s.units * s.max_loss <= 0.01 * 1_000_000 + 1
    # A second run in the same slot decides nothing again and sends nothing.
    assert verticals.run(ctx()).orders == ()
    assert sync.run(ctx()).options.opened == 1
    s = store.get_structure(ledger, f"verticals-{sid}")
    assert s.status == "open"

    # Slot by slot (every half hour of the session), the exit rule computed here from the quotes themselves.
    rules = verticals.rules(ctx())
    expected, closed_at = None, None
    day = DAY
    for _ in range(40):
        day = CAL.next_session(day)
        for minutes in range(0, 390, 30):
            at = CAL.session_open(day) + timedelta(minutes=35 + minutes)
            if at >= CAL.session_close(day):
                break
            clock.set(at)
            quotes = market.option_quotes([bought.contract, sold.contract])
            value = quotes[bought.contract.symbol].mid - quotes[sold.contract.symbol].mid
            rule = policy.exit_reason(s.open_net, value, days_to_expiry(expiry, at), rules)
            sync.run(ctx())
            out = verticals.run_exits(ctx())
            if rule is not None and expected is None:
                expected = (at, rule[0])
            if out.orders:
                closed_at = (at, out.orders[0].leg)
                break
        if closed_at:
            break
    assert closed_at is not None and closed_at[0] == expected[0] and closed_at[1] == str(expected[1])
    clock.set(closed_at[0] + timedelta(minutes=1))
    report = sync.run(ctx())
    final = store.get_structure(ledger, f"verticals-{sid}")
    assert final.status == "closed" and report.diffs == ()
    intents = ledger.query("SELECT type, leg FROM order_intents WHERE book = 'options'")
    assert {i["type"] for i in intents} == {"limit"}  # never a market order on an option


def test_a_sell_signal_opens_a_bear_put_spread(world):
    ctx, _, _, _, ledger = world
    sid = add_signal(ledger, "XOM", Side.SELL, 9, CAL.at_et(DAY, "08:00"))
    verticals.run(ctx())
    s = store.get_structure(ledger, f"verticals-{sid}")
    long, short = s.legs
    assert long["symbol"][-9] == "P" and long["side"] == "buy" and short["side"] == "sell"
    assert float(long["symbol"][-8:]) > float(short["symbol"][-8:])  # bought the higher strike


def test_outside_the_trading_window_nothing_is_decided(world):
    ctx, clock, _, _, ledger = world
    add_signal(ledger, "MSFT", Side.BUY, 8, CAL.at_et(DAY, "08:00"))
    clock.set(CAL.at_et(DAY, "09:31"))
    report = verticals.run(ctx())
    assert report.orders == () and "outside the trading window" in report.notes[-1]
    assert ledger.query("SELECT * FROM decisions WHERE step = 'verticals'") == []


def test_an_answer_lost_in_transit_is_resolved_by_client_order_id_not_sent_again(world, monkeypatch):
    ctx, clock, _, broker, ledger = world
    sid = add_signal(ledger, "MSFT", Side.BUY, 8, CAL.at_et(DAY, "08:00"))
    real = SimBroker.submit

    def lost(self, request):
        real(self, request)  # the order reaches the broker, the answer does not come back
        raise AmbiguousOrderOutcome("timed out", in_flight=True)

    monkeypatch.setattr(SimBroker, "submit", lost)
    report = verticals.run(ctx())
    # The gateway looks the order up by its client order id at once and finds it: not in doubt, not resent.
    assert report.exit_code == 0 and len(broker.option_orders()) == 1
    monkeypatch.setattr(SimBroker, "submit", real)
    clock.set(CAL.at_et(DAY, "11:00"))
    assert sync.run(ctx()).options.opened == 1
    assert verticals.run(ctx()).orders == ()
    assert len(broker.option_orders()) == 1
    (intent,) = ledger.query("SELECT status FROM order_intents WHERE position_key = ?", [f"verticals-{sid}"])
    assert intent["status"] == "filled"
