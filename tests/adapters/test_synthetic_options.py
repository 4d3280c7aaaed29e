"""The synthetic world's option chains: listing rules, prices consistent with their own IVs and with put-call
parity, a surface that skews, slopes with the VIX and carries earnings, and quotes that never look ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from autotrader.adapters import synthetic_options as so
from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.domain.enums import OptionRight
from autotrader.domain.options import OptionContract
from autotrader.policy import black_scholes as bs
from autotrader.ports import OptionChains

CAL = MarketCalendar.xnys()
AT = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 11:00 New York, a Tuesday


def world(at: datetime = AT, seed: int = 42) -> SyntheticMarketData:
    return SyntheticMarketData(SimulatedClock(at), CAL, seed=seed)


def test_the_synthetic_world_offers_option_chains():
    assert isinstance(world(), OptionChains)
    assert world().option_chain("NOPE", date(2026, 3, 1), date(2026, 12, 31)) == []
    assert world().option_chain("VIX", date(2026, 3, 1), date(2026, 12, 31)) == []


def test_expiries_are_the_weeklies_and_monthlies_moved_off_holidays():
    expiries = so.listed_expiries(CAL, AT)
    weeklies = [d for d in expiries if (d - AT.date()).days <= 42]
    # Fridays from 13 March to 17 April, Good Friday (3 April) moved to Thursday 2 April.
    assert weeklies == [date(2026, 3, 13), date(2026, 3, 20), date(2026, 3, 27), date(2026, 4, 2),
                        date(2026, 4, 10), date(2026, 4, 17)]  # fmt: skip
    monthlies = [d for d in expiries if (d - AT.date()).days > 42]
    assert monthlies[0] == date(2026, 5, 15) and monthlies[-1] == date(2027, 3, 19) and len(monthlies) == 11
    assert all(d.weekday() == 4 for d in monthlies if d != date(2026, 6, 18))  # Juneteenth: Thursday 18 June
    # On expiry day the contract is listed until the close, not after.
    friday_close = CAL.session_close(date(2026, 3, 13))
    assert date(2026, 3, 13) in so.listed_expiries(CAL, friday_close - timedelta(minutes=1))
    assert date(2026, 3, 13) not in so.listed_expiries(CAL, friday_close)


def test_strikes_are_a_grid_of_the_increment_for_the_price():
    assert so.strike_increment(20) == 0.5 and so.strike_increment(80) == 1.0
    assert so.strike_increment(180) == 2.5 and so.strike_increment(600) == 5.0
    strikes = so.listed_strikes(100.0)
    assert strikes[0] == 60.0 and strikes[-1] == 150.0 and np.allclose(np.diff(strikes), 2.5)


def test_quotes_are_consistent_with_their_own_iv_greeks_and_parity():
    market = world()
    chain = market.option_chain("MSFT", date(2026, 4, 17), date(2026, 4, 17))
    assert chain and {q.contract.expiry for q in chain} == {date(2026, 4, 17)}
    spot = market.latest_quote("MSFT").last
    years = (CAL.session_close(date(2026, 4, 17)) - AT).total_seconds() / (365 * 86400)
    by_key = {(q.contract.strike, q.contract.right): q for q in chain}
    for q in chain:
        assert q.underlying_price == spot and q.quoted_at <= AT
        model = bs.price(str(q.contract.right), spot, q.contract.strike, years, q.iv, so.RISK_FREE_RATE)
        assert q.bid <= model <= q.ask and q.ask - q.bid >= 0.01
        g = bs.greeks(str(q.contract.right), spot, q.contract.strike, years, q.iv, so.RISK_FREE_RATE)
        assert q.delta == pytest.approx(g.delta) and q.gamma == pytest.approx(g.gamma)
        assert q.theta == pytest.approx(g.theta / 365) and q.vega == pytest.approx(g.vega / 100)
        assert q.open_interest >= 0 and 0 <= q.volume
    # Put-call parity on the model prices (the IV is one per strike for both rights).
    for (strike, right), call in by_key.items():
        if right != OptionRight.CALL:
            continue
        put = by_key[(strike, OptionRight.PUT)]
        assert call.iv == put.iv
        c = bs.price("call", spot, strike, years, call.iv, so.RISK_FREE_RATE)
        p = bs.price("put", spot, strike, years, put.iv, so.RISK_FREE_RATE)
        assert c - p == pytest.approx(spot - strike * np.exp(-so.RISK_FREE_RATE * years), abs=1e-9)


def _atm_iv(market: SyntheticMarketData, symbol: str, expiry: date) -> float:
    chain = market.option_chain(symbol, expiry, expiry)
    spot = chain[0].underlying_price
    return min(chain, key=lambda q: abs(q.contract.strike - spot)).iv


def test_out_of_the_money_puts_are_dearer_than_calls():
    chain = world().option_chain("SPY", date(2026, 5, 15), date(2026, 5, 15))
    spot = chain[0].underlying_price
    low = min(chain, key=lambda q: abs(q.contract.strike - 0.9 * spot)).iv
    atm = min(chain, key=lambda q: abs(q.contract.strike - spot)).iv
    high = min(chain, key=lambda q: abs(q.contract.strike - 1.1 * spot)).iv
    assert low > atm > high


@pytest.mark.slow
def test_the_surface_moves_with_the_vix_and_inverts_when_it_is_high():
    sessions = CAL.sessions_between(date(2025, 1, 2), date(2026, 12, 31))[::10]
    vix, front, back = [], [], []
    for day in sessions:
        at = CAL.session_open(day) + timedelta(hours=2)
        market = world(at)
        expiries = so.listed_expiries(CAL, at)
        near = min(expiries, key=lambda e: abs((e - day).days - 30))
        far = min(expiries, key=lambda e: abs((e - day).days - 240))
        vix.append(market.latest_quote("VIX").last)
        front.append(_atm_iv(market, "SPY", near))
        back.append(_atm_iv(market, "SPY", far))
    vix, front, back = np.array(vix), np.array(front), np.array(back)
    assert np.corrcoef(vix, front)[0, 1] > 0.8
    assert np.all((front > back)[vix > 25]) and np.all((front < back)[vix < 15])
    assert (vix > 25).any() and (vix < 15).any()  # both kinds of market occur in the sample


def test_an_expiry_after_earnings_carries_the_earnings_move():
    market = world()
    earnings = next(d for d in market.earnings_dates("MSFT") if d > AT.date())
    expiries = so.listed_expiries(CAL, AT)
    before = max(e for e in expiries if e < earnings)
    after = min(e for e in expiries if e >= earnings)
    t0 = (CAL.session_close(before) - AT).total_seconds() / (365 * 86400)
    t1 = (CAL.session_close(after) - AT).total_seconds() / (365 * 86400)
    assert (after - before).days <= 8  # 2 and 10 April around the 9 April report: the weeklies are close
    iv0 = _atm_iv(market, "MSFT", before)
    v0, v1 = iv0**2 * t0, _atm_iv(market, "MSFT", after) ** 2 * t1
    # The total variance grows by the earnings gap's variance on top of the week's own; the term structure's
    # slope over a week and the smile between the strikes nearest the money are the small rest.
    assert v1 - v0 == pytest.approx(market.earnings_sd("MSFT") ** 2 + iv0**2 * (t1 - t0), rel=0.1)


def test_quotes_are_deterministic_and_never_look_ahead():
    a = world().option_chain("NVDA", date(2026, 3, 20), date(2026, 3, 27))
    b = world().option_chain("NVDA", date(2026, 3, 20), date(2026, 3, 27))
    assert a == b
    # A quote at AT is the same whether or not the world has been asked about later instants first.
    clock = SimulatedClock(AT + timedelta(days=20))
    market = SyntheticMarketData(clock, CAL)
    market.option_chain("NVDA", date(2026, 4, 1), date(2026, 4, 30))
    clock.set(AT)
    assert market.option_chain("NVDA", date(2026, 3, 20), date(2026, 3, 27)) == a
    # And it is priced off the underlying's quote at the clock, not a later one.
    assert {q.underlying_price for q in a} == {world().latest_quote("NVDA").last}


def test_named_contracts_are_quoted_until_they_expire():
    market = world()
    listed = OptionContract("AAPL", date(2026, 4, 17), OptionRight.PUT, 25.0)
    off_grid = OptionContract("AAPL", date(2026, 4, 17), OptionRight.CALL, 27.3)  # a strike today's grid lacks
    expired = OptionContract("AAPL", date(2026, 3, 6), OptionRight.CALL, 25.0)
    not_an_expiry = OptionContract("AAPL", date(2026, 4, 3), OptionRight.CALL, 25.0)  # Good Friday
    quotes = market.option_quotes([listed, off_grid, expired, not_an_expiry])
    assert set(quotes) == {listed.symbol, off_grid.symbol}
    in_chain = {q.contract.symbol: q for q in market.option_chain("AAPL", date(2026, 4, 17), date(2026, 4, 17))}
    assert quotes[listed.symbol] == in_chain[listed.symbol]
    close = CAL.session_close(date(2026, 4, 17))
    assert world(close - timedelta(minutes=1)).option_quotes([listed]) and not world(close).option_quotes([listed])


def test_what_was_priced_at_an_instant_is_priced_alike_until_the_clock_moves():
    clock = SimulatedClock(AT)
    market = SyntheticMarketData(clock, CAL)
    held = [OptionContract("AAPL", date(2026, 4, 17), OptionRight.PUT, 25.0),
            OptionContract("MSFT", date(2026, 4, 17), OptionRight.CALL, 400.0)]  # fmt: skip
    first = market.option_quotes(held)
    first.clear()  # a caller's copy: changing it changes nothing kept
    assert market.option_quotes(held) == world(AT).option_quotes(held) != {}
    later = AT + timedelta(minutes=30)
    clock.set(later)
    moved = market.option_quotes(held)
    assert moved == world(later).option_quotes(held)
    assert {q.quoted_at for q in moved.values()} != {q.quoted_at for q in world(AT).option_quotes(held).values()}
    clock.set(AT)  # and back: priced afresh at the earlier instant, as a fresh world prices it
    assert market.option_quotes(held) == world(AT).option_quotes(held)


def test_volume_builds_through_the_session():
    day = date(2026, 3, 10)
    early = world(CAL.session_open(day) + timedelta(minutes=30))
    late = world(CAL.session_close(day) - timedelta(minutes=1))
    expiry = date(2026, 3, 20)
    v_early = sum(q.volume for q in early.option_chain("SPY", expiry, expiry))
    v_late = sum(q.volume for q in late.option_chain("SPY", expiry, expiry))
    assert 0 < v_early < v_late
