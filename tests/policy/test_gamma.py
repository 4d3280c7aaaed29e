"""Gamma scalping's arithmetic: the twin it holds is a straddle by put-call parity (against an independent
Black-Scholes), the neutral shares and the band, the split of the shares' result into the straddle's base and
the scalping (hand-computed), and the exits in order."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

from autotrader.domain.enums import LegKind, OptionRight, Side
from autotrader.domain.options import OptionContract, OptionQuote, synthetic_straddle
from autotrader.policy import gamma as g
from autotrader.policy.option_payoff import profile

RULES = g.GammaRules()
NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
EXPIRY = date(2026, 4, 17)


def _bs(spot: float, strike: float, years: float, rate: float, vol: float) -> tuple[float, float, float, float]:
    """(call, put, call delta, put delta), written out from the textbook formulas with math.erf."""
    n = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    d1 = (math.log(spot / strike) + (rate + vol * vol / 2) * years) / (vol * math.sqrt(years))
    d2 = d1 - vol * math.sqrt(years)
    call = spot * n(d1) - strike * math.exp(-rate * years) * n(d2)
    put = strike * math.exp(-rate * years) * n(-d2) - spot * n(-d1)
    return call, put, n(d1), n(d1) - 1


@pytest.mark.parametrize("spot", [80.0, 100.0, 125.0])
def test_two_puts_and_the_shares_are_a_straddle_by_put_call_parity(spot):
    call, put, call_delta, put_delta = _bs(spot, 100.0, 0.25, 0.04, 0.3)
    # value: 2 puts + the shares - the strike's present value (financed) = the call + the put
    assert 2 * put + spot - 100.0 * math.exp(-0.04 * 0.25) == pytest.approx(call + put)
    # delta: the twin's unhedged delta (2 put deltas + 1 share) is the straddle's
    assert 2 * put_delta + 1 == pytest.approx(call_delta + put_delta)
    # so the neutral shares of the twin are the straddle's hedge plus 100 a unit, from 0 to 200
    straddle_hedge = -(call_delta + put_delta) * 100
    assert g.neutral_shares(put_delta, 1) == round(100 + straddle_hedge)


def test_the_twin_loses_at_most_the_straddles_debit_and_breaks_even_where_a_straddle_does():
    twin = synthetic_straddle(OptionContract("XYZ", EXPIRY, OptionRight.PUT, 100.0), 100.0)
    shape = profile(twin, 8.0)  # two puts at 4.00
    assert shape.max_loss == pytest.approx(800.0) and shape.max_profit is None
    assert shape.breakevens == pytest.approx((92.0, 108.0))  # the strike -/+ the debit


def test_neutral_shares_and_the_band():
    assert [g.neutral_shares(d, 3) for d in (0.0, -0.25, -0.5, -1.0)] == [0, 150, 300, 600]
    assert g.neutral_shares(-0.4449, 1) == 89  # whole shares
    # 2 units at put delta -0.45: neutral 180; the band is 0.10 x 100 x 2 = 20 shares of delta
    assert g.position_delta(-0.45, 2, 190) == pytest.approx(10.0)
    assert g.hedge(-0.45, 2, 190, 0.10) == 0  # +10: inside
    assert g.hedge(-0.45, 2, 200, 0.10) == 0  # +20: on the band, inside
    assert g.hedge(-0.45, 2, 210, 0.10) == -30  # +30: sold back to 180
    assert g.hedge(-0.60, 2, 180, 0.10) == 60  # the price fell: -60, bought up to 240


def test_the_shares_result_splits_into_the_base_and_the_scalping():
    buy, sell = Side.BUY, Side.SELL
    trades = [g.ShareTrade(buy, 100, 50.0), g.ShareTrade(buy, 20, 48.0), g.ShareTrade(sell, 20, 52.0),
              g.ShareTrade(sell, 100, 51.0, commission=1.0)]  # fmt: skip
    # cash: -5,000 - 960 + 1,040 + 5,100 - 1 = 179; flat, so the base closes at the last price, 51:
    # 100 x (51 - 50) = 100; bought 20 at 48 and sold them at 52: 80, less the commission.
    assert g.split(trades, 1, None) == g.PnlSplit(179.0, 100.0, 79.0)
    # Still holding 120 after the second buy: marked at the price now.
    assert g.split(trades[:2], 1, 49.0) == g.PnlSplit(120 * 49.0 - 5_960.0, -100.0, 120 * 49.0 - 5_960.0 + 100)
    assert g.split([], 1, 49.0) == g.PnlSplit(0.0, 0.0, 0.0)


def test_the_exits_profit_then_stop_then_time():
    assert g.exit_reason(250.0, 1_000.0, 30, RULES)[0] == LegKind.PROFIT_TAKE  # 25 % of the risk
    assert g.exit_reason(249.0, 1_000.0, 30, RULES) is None
    assert g.exit_reason(-500.0, 1_000.0, 30, RULES)[0] == LegKind.LOSS_CUT
    assert g.exit_reason(0.0, 1_000.0, 13, RULES) == (LegKind.TIME_EXIT, "13 day(s) to expiry, under 14")
    assert g.exit_reason(300.0, 1_000.0, 13, RULES)[0] == LegKind.PROFIT_TAKE  # the result first


def test_the_put_nearest_the_money():
    def q(strike: float, right: OptionRight = OptionRight.PUT) -> OptionQuote:
        return OptionQuote(OptionContract("XYZ", EXPIRY, right, strike), 1.0, 1.1, NOW, delta=-0.5)

    chain = [q(95.0), q(100.0), q(105.0), q(101.0, OptionRight.CALL)]
    assert g.choose_put(chain, 101.0).contract.strike == 100.0
    assert g.choose_put(chain, 102.5).contract.strike == 105.0  # as near: the higher
    assert g.choose_put([q(101.0, OptionRight.CALL)], 101.0) is None
