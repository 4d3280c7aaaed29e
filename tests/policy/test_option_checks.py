"""The pre-trade checks on an options structure, its size by maximum loss, and that no short leg is naked; each
refusal says why and the trace shows every rule up to it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from autotrader.domain import options as o
from autotrader.domain.enums import OptionRight, Side
from autotrader.policy import option_checks as oc

EXPIRY = date(2026, 4, 17)
NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
CALL, PUT = OptionRight.CALL, OptionRight.PUT


def c(strike: float, right: OptionRight = CALL) -> o.OptionContract:
    return o.OptionContract("XYZ", EXPIRY, right, strike)


def q(contract: o.OptionContract, bid: float, ask: float, oi: int = 5_000, volume: int = 300) -> o.OptionQuote:
    return o.OptionQuote(contract, bid, ask, NOW, iv=0.3, open_interest=oi, volume=volume, underlying_price=100.0)


RULES = oc.OptionRules(concession_pct=25.0)
SPREAD = o.vertical(c(100.0), c(110.0))
SPREAD_QUOTES = {c(100.0).symbol: q(c(100.0), 5.00, 5.20), c(110.0).symbol: q(c(110.0), 1.50, 1.60)}


def short_leg(bid: float, ask: float, **kw) -> dict:
    """The spread's quotes with the short leg's replaced."""
    return {"quotes": {**SPREAD_QUOTES, c(110.0).symbol: q(c(110.0), bid, ask, **kw)}}


def case(structure=SPREAD, quotes=None, **changes) -> oc.OptionCase:
    base = oc.OptionCase(
        structure=structure,
        quotes=SPREAD_QUOTES if quotes is None else quotes,
        portfolio_value=100_000.0,
        options_at_risk=0.0,
        free_shares=0.0,
        free_cash=50_000.0,
        rules=RULES,
    )
    return replace(base, **changes)


def test_a_debit_spread_that_passes_is_sized_by_its_maximum_loss():
    decision = oc.decide(case())
    # Mid 5.10 - 1.55 = 3.55, natural 5.20 - 1.50 = 3.70: a quarter of the way is 3.5875, 3.59 in cents
    # (rounded toward the natural price).
    assert oc.net_prices(SPREAD, SPREAD_QUOTES) == (pytest.approx(3.55), pytest.approx(3.70))
    assert decision.net_limit == 3.59
    # 1 % of $100,000 = $1,000 at risk; each unit risks the debit, $359: 2 units.
    assert decision.profile.max_loss == pytest.approx(359.0) and decision.units == 2
    assert decision.refused is None
    assert [s.name for s in decision.steps] == [
        "netting", "quotes_present", "spread", "liquidity", "iv_percentile", "premium", "max_loss",
        "covered"]  # fmt: skip


def test_the_allocation_cap_counts_the_open_structures_risk():
    # 10 % of $100,000 = $10,000 for all options; $9,500 already at risk leaves $500: one unit.
    assert oc.decide(case(options_at_risk=9_500.0)).units == 1
    refused = oc.decide(case(options_at_risk=9_800.0))
    assert refused.units == 0 and "allocation room $200.00" in refused.refused


@pytest.mark.parametrize(
    ("changes", "rule", "words"),
    [
        ({"quotes": {c(100.0).symbol: SPREAD_QUOTES[c(100.0).symbol]}}, "quotes_present", "no market in XYZ2604"),
        (short_leg(1.00, 1.60), "spread", "bid-ask 0.60"),
        (short_leg(0.10, 0.14), "spread", "(33.3% of mid)"),
        (short_leg(1.5, 1.6, oi=40), "liquidity", "open interest 40"),
        (short_leg(1.5, 1.6, volume=2), "liquidity", "volume 2 under"),
        ({"iv_range": (0.5, 1.0), "iv_percentile": 0.3}, "iv_percentile", "IV percentile 30% outside 50% to 100%"),
        ({"iv_range": (0.5, 1.0)}, "iv_percentile", "no IV percentile yet"),
        ({"rules": replace(RULES, max_premium_per_contract=300.0)}, "premium", "a debit of $359.00 per unit"),
        ({"portfolio_value": 20_000.0}, "max_loss", "one unit risks $359.00, more than the $200.00"),
    ],
)
def test_each_refusal_names_its_rule_and_why(changes, rule, words):
    decision = oc.decide(case(**changes))
    assert decision.units == 0 and words in decision.refused
    assert decision.steps[-1].name == rule and decision.steps[-1].effect.startswith("skip: ")


def test_a_structure_that_can_lose_without_limit_is_refused():
    short = o.straddle(c(100.0), c(100.0, PUT), Side.SELL)
    quotes = {c(100.0).symbol: q(c(100.0), 5.0, 5.2), c(100.0, PUT).symbol: q(c(100.0, PUT), 4.0, 4.2)}
    decision = oc.decide(case(short, quotes, free_shares=10_000, free_cash=1e6))
    assert decision.refused == "the structure can lose without limit"


def test_a_cash_secured_put_is_cut_to_the_cash_that_secures_it():
    put = o.cash_secured_put(c(50.0, PUT))
    quotes = {c(50.0, PUT).symbol: q(c(50.0, PUT), 1.00, 1.04)}
    rich = case(put, quotes, portfolio_value=1_000_000.0, free_cash=12_000.0)
    # Credit: mid 1.02, natural 1.00 (the bid): -1.02 + 0.25 x 0.02 = -1.015, -1.01 or -1.02 in cents.
    decision = oc.decide(rich)
    assert decision.net_limit == pytest.approx(-1.015, abs=0.006)
    assert oc.uncovered(put) == (0, 5_000.0)
    # 1 % of $1,000,000 = $10,000 allows 2 units at ~$4,899 each; $12,000 of free cash secures 2.
    assert decision.units == 2
    assert oc.decide(replace(rich, free_cash=7_000.0)).units == 1
    naked = oc.decide(replace(rich, free_cash=4_000.0))
    assert naked.units == 0 and "a short put would be naked" in naked.refused


def test_a_covered_call_needs_the_shares():
    call = o.covered_call(c(110.0), share_price=100.0)
    quotes = {c(110.0).symbol: q(c(110.0), 1.50, 1.60)}
    without = oc.decide(case(call, quotes, portfolio_value=1_000_000.0, free_shares=50))
    assert without.units == 0 and "needs 100 shares" in without.refused
    # The shares' risk is already held: one call per 100 shares, whatever the per-trade limit (1 % of $100,000
    # is far less than the ~$9,846 each unit of shares and call could lose).
    with_shares = oc.decide(case(call, quotes, free_shares=250))
    assert with_shares.units == 2


def test_credit_spreads_and_condors_hold_their_width_in_cash_and_debit_spreads_their_debit():
    condor = o.iron_condor(c(90.0, PUT), c(95.0, PUT), c(105.0), c(110.0))
    assert oc.uncovered(condor) == (0, 1_000.0)  # each side's 5-wide spread held against it, as brokers do
    assert oc.uncovered(o.vertical(c(95.0, PUT), c(100.0, PUT))) == (0, 500.0)  # a put credit spread
    assert oc.uncovered(o.vertical(c(100.0), c(110.0))) == (0, 0.0)  # a call debit spread: only its debit
    assert oc.uncovered(o.straddle(c(100.0), c(100.0, PUT), Side.SELL)) == (1, 10_000.0)
    quotes = {k.symbol: q(k, b, a) for k, b, a in [(c(90.0, PUT), 0.50, 0.55), (c(95.0, PUT), 1.20, 1.28),
                                                   (c(105.0), 1.40, 1.48), (c(110.0), 0.60, 0.65)]}  # fmt: skip
    decision = oc.decide(case(condor, quotes, free_cash=2_500.0))
    assert decision.refused is None and decision.net_limit < 0
    # Credit ~1.43 on 5-wide wings: ~$357 maximum loss, so $1,000 allows 2 units, and $2,500 holds both.
    assert decision.profile.max_loss == pytest.approx((5 + decision.net_limit) * 100) and decision.units == 2
    assert oc.decide(case(condor, quotes, free_cash=1_500.0)).units == 1  # cut to what the cash holds
    short = oc.decide(case(condor, quotes, free_cash=900.0))
    assert short.units == 0 and short.refused.startswith("not enough cash: each unit needs $1,000.00")
    debit = oc.decide(case(free_cash=500.0))  # the 3.59 debit spread: $359 a unit in cash
    assert debit.units == 1 and oc.decide(case(free_cash=300.0)).refused.startswith("not enough cash")


def test_a_synthetic_straddle_keeps_the_cash_its_hedge_may_need():
    put = c(100.0, PUT)
    twin = o.synthetic_straddle(put, 100.0)
    quotes = {put.symbol: q(put, 3.90, 4.10)}  # mid 4.00; two puts per unit: 8.00 a share, 8.05 at 25 %
    roomy = oc.decide(case(twin, quotes, portfolio_value=1_000_000.0, free_cash=45_000.0))
    assert roomy.net_limit == 8.05
    # Its maximum loss is the straddle's debit: two puts and the shares at 100, worth the strike (100) at worst.
    assert roomy.profile.max_loss == pytest.approx(805.0) and roomy.profile.max_profit is None
    # 1 % of $1,000,000 allows 12 units by loss; the hedge may hold 200 shares a unit under 100: $20,000 each.
    assert oc.hedge_cash(twin) == 20_000.0 and roomy.units == 2 and roomy.refused is None
    short = oc.decide(case(twin, quotes, portfolio_value=1_000_000.0, free_cash=15_000.0))
    assert short.units == 0 and short.refused.startswith("not enough cash: each unit needs $20,805.00 (the hedge's")
    # A covered call's shares are held already: they need no cash, only to be free.
    assert oc.hedge_cash(o.covered_call(c(105.0), 100.0)) == 0.0


def test_a_structure_never_trades_a_held_contract_the_other_way():
    long_call, short_call = c(100.0).symbol, c(110.0).symbol
    against = oc.decide(case(held={short_call: 3.0}))  # the 110 call is held long: this spread would sell it
    assert against.units == 0 and against.refused.startswith(f"{short_call} held the other way")
    assert [s.name for s in against.steps] == ["netting"]
    assert oc.decide(case(held={long_call: 2.0, short_call: -1.0})).refused is None  # the same way: fine
