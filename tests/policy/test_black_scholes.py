"""Option prices, greeks and implied volatilities against independent computations: QuantLib's analytic European
engine, a textbook example, put-call parity, and finite differences of the price itself.

QuantLib is imported inside the test that uses it: the import costs each test worker a noticeable part of a second."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autotrader.policy import black_scholes as bs

# (right, spot, strike, days, vol, rate, dividend): in and out of the money, short and long, high and low vol.
CASES = [
    ("call", 100.0, 100.0, 30, 0.25, 0.04, 0.0),
    ("put", 100.0, 100.0, 30, 0.25, 0.04, 0.0),
    ("call", 100.0, 120.0, 365, 0.40, 0.05, 0.02),
    ("put", 100.0, 120.0, 365, 0.40, 0.05, 0.02),
    ("call", 250.0, 200.0, 7, 0.15, 0.03, 0.01),
    ("put", 250.0, 200.0, 7, 0.15, 0.03, 0.01),
    ("call", 42.0, 45.0, 91, 0.80, 0.0, 0.0),
    ("put", 12.5, 10.0, 540, 1.20, 0.045, 0.03),
]


def _quantlib(right: str, spot: float, strike: float, days: int, vol: float, rate: float, dividend: float):
    import QuantLib as ql

    today = ql.Date(2, 1, 2026)
    ql.Settings.instance().evaluationDate = today
    count = ql.Actual365Fixed()
    kind = ql.Option.Call if right == "call" else ql.Option.Put
    option = ql.VanillaOption(ql.PlainVanillaPayoff(kind, strike), ql.EuropeanExercise(today + days))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, dividend, count)),  # continuous compounding
        ql.YieldTermStructureHandle(ql.FlatForward(today, rate, count)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, count)),
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option, process


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]:g}-{c[2]:g}-{c[3]}d")
def test_price_and_greeks_match_quantlib(case):
    right, spot, strike, days, vol, rate, dividend = case
    option, process = _quantlib(*case)
    years = days / 365
    g = bs.greeks(right, spot, strike, years, vol, rate, dividend)
    assert bs.price(right, spot, strike, years, vol, rate, dividend) == pytest.approx(option.NPV(), rel=1e-10)
    assert g.delta == pytest.approx(option.delta(), rel=1e-9, abs=1e-12)
    assert g.gamma == pytest.approx(option.gamma(), rel=1e-9, abs=1e-12)
    assert g.vega == pytest.approx(option.vega(), rel=1e-9, abs=1e-10)
    assert g.theta == pytest.approx(option.theta(), rel=1e-9, abs=1e-10)
    assert g.rho == pytest.approx(option.rho(), rel=1e-9, abs=1e-10)
    found = bs.implied_vol(option.NPV(), right, spot, strike, years, rate, dividend)
    if g.vega > 1e-3:
        # QuantLib's own solver finds the same volatility from the same price.
        ql_vol = option.impliedVolatility(option.NPV(), process, 1e-12, 500, 1e-4, 5.0)
        assert found == pytest.approx(ql_vol, abs=1e-8)
    else:
        # Deep in the money a week out, the price equals its floor to the last digit: no volatility is readable
        # from it, and the solver says so rather than returning its lower bound as QuantLib does.
        assert found is None


def test_hulls_example():
    # Hull, Options, Futures, and Other Derivatives, Example 15.6: c = 4.76, p = 0.81.
    assert bs.price("call", 42, 40, 0.5, 0.2, 0.1) == pytest.approx(4.76, abs=0.005)
    assert bs.price("put", 42, 40, 0.5, 0.2, 0.1) == pytest.approx(0.81, abs=0.005)


def test_put_call_parity_holds_across_a_chain():
    rng = np.random.default_rng(3)
    n = 500
    spot, strike = rng.uniform(5, 500, n), rng.uniform(5, 500, n)
    years, vol = rng.uniform(1 / 365, 2.0, n), rng.uniform(0.05, 1.5, n)
    rate, dividend = rng.uniform(0, 0.08, n), rng.uniform(0, 0.05, n)
    calls = bs.price("call", spot, strike, years, vol, rate, dividend)
    puts = bs.price("put", spot, strike, years, vol, rate, dividend)
    forward = spot * np.exp(-dividend * years) - strike * np.exp(-rate * years)
    np.testing.assert_allclose(calls - puts, forward, rtol=0, atol=1e-9 * spot.max())


@pytest.mark.parametrize("right", ["call", "put"])
def test_greeks_are_the_price_s_derivatives(right):
    spot, strike, years, vol, rate, dividend = 87.0, 90.0, 0.3, 0.35, 0.04, 0.015

    def p(**bump):
        args = dict(spot=spot, strike=strike, years=years, vol=vol, rate=rate, dividend=dividend) | bump
        return bs.price(right, **args)

    g = bs.greeks(right, spot, strike, years, vol, rate, dividend)
    h = 1e-3
    assert g.delta == pytest.approx((p(spot=spot + h) - p(spot=spot - h)) / (2 * h), rel=1e-6)
    assert g.gamma == pytest.approx((p(spot=spot + h) - 2 * p() + p(spot=spot - h)) / h**2, rel=1e-4)
    assert g.vega == pytest.approx((p(vol=vol + h) - p(vol=vol - h)) / (2 * h), rel=1e-6)
    # A smaller step in time: the price's third derivative in T makes h = 1e-3 years about 1e-6 off.
    t = 1e-5
    assert g.theta == pytest.approx(-(p(years=years + t) - p(years=years - t)) / (2 * t), rel=1e-6)
    assert g.rho == pytest.approx((p(rate=rate + h) - p(rate=rate - h)) / (2 * h), rel=1e-6)


def test_the_implied_volatility_round_trips_and_refuses_impossible_prices():
    for right in ("call", "put"):
        for vol in (0.02, 0.1, 0.3, 0.9, 2.5):
            for strike in (60.0, 100.0, 150.0):
                target = bs.price(right, 100.0, strike, 0.25, vol, 0.03, 0.01)
                found = bs.implied_vol(target, right, 100.0, strike, 0.25, 0.03, 0.01)
                if bs.greeks(right, 100.0, strike, 0.25, vol, 0.03, 0.01).vega < 1e-3:
                    # Far from the money at a low vol the price hardly moves with volatility: whatever the
                    # solver answers (or None) must at least reprice the target.
                    if found is not None:
                        repriced = bs.price(right, 100.0, strike, 0.25, found, 0.03, 0.01)
                        assert repriced == pytest.approx(target, abs=bs.IV_TOLERANCE)
                    continue
                assert found == pytest.approx(vol, rel=1e-6), (right, vol, strike)
    floor = bs.price("call", 100.0, 90.0, 0.25, 0.0, 0.03)  # the discounted forward's intrinsic value
    assert bs.implied_vol(floor - 0.01, "call", 100.0, 90.0, 0.25, 0.03) is None
    assert bs.implied_vol(100.0, "call", 100.0, 90.0, 0.25, 0.03) is None  # a call is never worth the stock
    assert bs.implied_vol(5.0, "put", 100.0, 90.0, 0.0, 0.03) is None  # expired
    assert bs.implied_vol(math.nan, "put", 100.0, 90.0, 0.25) is None


def test_a_price_a_few_digits_above_its_floor_pins_no_volatility():
    # Deep in the money a week out, every volatility up to about 20% gives the same price to the last digit, so a
    # quote one unit of the last place above it (as another library's rounding gives) must not read as some 25%.
    floor = bs.price("call", 250.0, 200.0, 7 / 365, 1e-4, 0.03, 0.01)
    assert bs.price("call", 250.0, 200.0, 7 / 365, 0.15, 0.03, 0.01) == floor
    for above in (math.nextafter(floor, math.inf), floor + 1e-11):
        assert bs.implied_vol(above, "call", 250.0, 200.0, 7 / 365, 0.03, 0.01) is None
    # Where the price does move with volatility the same quote plus a cent reads back.
    assert bs.implied_vol(floor + 0.01, "call", 250.0, 200.0, 7 / 365, 0.03, 0.01) is not None


def test_at_expiry_and_at_zero_volatility_the_price_is_an_intrinsic_value():
    assert bs.price("call", 105.0, 100.0, 0.0, 0.3) == 5.0 and bs.price("put", 105.0, 100.0, 0.0, 0.3) == 0.0
    g = bs.greeks("put", 95.0, 100.0, 0.0, 0.3)
    assert (g.delta, g.gamma, g.vega, g.theta) == (-1.0, 0.0, 0.0, 0.0)
    discounted = 105.0 - 100.0 * math.exp(-0.05)
    assert bs.price("call", 105.0, 100.0, 1.0, 0.0, 0.05) == pytest.approx(discounted)
    assert bs.greeks("call", 105.0, 100.0, 1.0, 0.0, 0.05).delta == 1.0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="spot and strike must be positive"):
        bs.price("call", 0.0, 100.0, 0.5, 0.2)
    with pytest.raises(ValueError, match="volatility must not be negative"):
        bs.price("call", 100.0, 100.0, 0.5, -0.2)
    with pytest.raises(ValueError, match="right must be 'call' or 'put'"):
        bs.price("straddle", 100.0, 100.0, 0.5, 0.2)

