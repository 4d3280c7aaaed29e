"""The market-model event study against statsmodels' OLS and plain loops over the documented definitions."""

from __future__ import annotations

import numpy as np
import pytest

from autotrader.policy import event_study as es


def _panel(seed=0, sessions=400, symbols=4):
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.01, sessions)
    betas = np.array([0.6, 1.0, 1.5, 2.0])[:symbols]
    stock = 0.0003 + betas * market[:, None] + rng.normal(0, 0.015, (sessions, symbols))
    stock[rng.random(stock.shape) < 0.03] = np.nan  # missing bars
    return stock, market, rng


def test_market_model_matches_statsmodels_ols_on_each_estimation_window():
    from statsmodels.regression.linear_model import OLS

    stock, market, rng = _panel()
    symbol = np.array([0, 1, 2, 3, 2, 1])
    entry = np.array([300, 260, 399, 120, 200, 350])
    model = es.market_model(stock, market, symbol, entry)
    for i, (k, e) in enumerate(zip(symbol, entry, strict=True)):
        window = slice(max(0, e - 250), e - 10)
        y, x = stock[window, k], market[window]
        keep = ~np.isnan(y)
        fit = OLS(y[keep], np.column_stack([np.ones(keep.sum()), x[keep]])).fit()
        assert model.n_obs[i] == keep.sum() and not model.fallback[i]
        assert model.alpha[i] == pytest.approx(fit.params[0], rel=1e-8, abs=1e-12)
        assert model.beta[i] == pytest.approx(fit.params[1], rel=1e-8)


def test_market_model_falls_back_to_beta_one_without_enough_history():
    stock, market, _ = _panel()
    stock[:, 0] = 1.5 * market + 0.001  # complete history
    flat = market.copy()
    flat[:200] = 0.001  # no market variance before session 200
    # Entry 70's window is sessions 0..59: exactly 60; entry 69's is 0..58: one short.
    model = es.market_model(stock, market, [0, 0], [70, 69])
    assert list(model.n_obs) == [60, 59] and list(model.fallback) == [False, True]
    assert model.beta[0] == pytest.approx(1.5) and model.alpha[0] == pytest.approx(0.001)
    assert (model.alpha[1], model.beta[1]) == (0.0, 1.0)
    constant = es.market_model(stock, flat, [0], [180])
    assert constant.fallback[0] and (constant.alpha[0], constant.beta[0]) == (0.0, 1.0)


def test_cumulative_abnormal_is_the_sum_of_abnormal_returns_and_negated_for_sells():
    stock, market, _ = _panel(seed=3)
    symbol = np.array([0, 1, 2, 3, 0])
    entry = np.array([300, 280, 380, 390, 100])
    side = np.array([1, -1, 1, 1, -1])
    model = es.market_model(stock, market, symbol, entry)
    horizons = (1, 5, 20)
    car = es.cumulative_abnormal(stock, market, symbol, entry, model, horizons, side=side)
    for i, (k, e) in enumerate(zip(symbol, entry, strict=True)):
        for j, h in enumerate(horizons):
            sessions = range(e + 1, e + h + 1)
            if sessions[-1] >= len(market) or any(np.isnan(stock[t, k]) for t in sessions):
                assert np.isnan(car[i, j])
                continue
            ar = sum(stock[t, k] - model.alpha[i] - model.beta[i] * market[t] for t in sessions)
            assert car[i, j] == pytest.approx(side[i] * ar, rel=1e-9, abs=1e-12)
    assert np.isnan(car[3, 2])  # 390 + 20 is past the panel: still pending


def test_a_high_beta_stock_in_a_rising_market_has_no_abnormal_return():
    rng = np.random.default_rng(5)
    market = rng.normal(0.002, 0.01, 500)  # a strongly rising market
    stock = (2.0 * market)[:, None]  # pure beta, no skill
    model = es.market_model(stock, market, [0], [400])
    car = es.cumulative_abnormal(stock, market, [0], [400], model, (20,))
    assert model.beta[0] == pytest.approx(2.0) and car[0, 0] == pytest.approx(0.0, abs=1e-12)
    excess = stock[401:421, 0].sum() - market[401:421].sum()
    assert excess > 0.01  # what raw-minus-SPY would have credited


def test_paths_abnormal_and_raw_with_nan_outside_the_panel():
    stock, market, _ = _panel(seed=1)
    model = es.market_model(stock, market, [2, 3], [200, 398])
    ar = es.paths(stock, market, [2, 3], [200, 398], range(-2, 4), model=model, side=[-1, 1])
    raw = es.paths(stock, market, [2, 3], [200, 398], range(-2, 4))
    for j, offset in enumerate(range(-2, 4)):
        t = 200 + offset
        assert ar[0, j] == pytest.approx(-(stock[t, 2] - model.alpha[0] - model.beta[0] * market[t]), nan_ok=True)
        assert raw[0, j] == pytest.approx(stock[t, 2], nan_ok=True)
    assert np.isnan(ar[1, 4:]).all() and np.isnan(raw[1, 4:]).all()  # 398 + 2 and + 3 do not exist


def test_event_profile_is_anchored_at_entry_and_shows_a_run_up():
    rng = np.random.default_rng(7)
    sessions, events = 600, 120
    market = rng.normal(0.0003, 0.01, sessions)
    stock = market[:, None] + rng.normal(0, 0.01, (sessions, events))
    symbol = np.arange(events)  # one symbol per event, so one event's run-up is not another's aftermath
    entry = rng.integers(300, 500, events)
    for k, e in zip(symbol, entry, strict=True):
        stock[e - 4 : e + 1, k] += 0.01  # a 5% run-up into the entry, none after
    model = es.market_model(stock, market, symbol, entry)
    profile = es.event_profile(stock, market, symbol, entry, model, rng, pre=20, post=30, resamples=300)
    assert list(profile.offsets) == list(range(-20, 31))
    assert profile.mean[20] == 0.0
    car = es.cumulative_abnormal(stock, market, symbol, entry, model, (10, 30))
    assert profile.mean[30] == pytest.approx(np.nanmean(car[:, 0]))
    assert profile.mean[50] == pytest.approx(np.nanmean(car[:, 1]))
    ar = es.paths(stock, market, symbol, entry, range(-19, 1), model=model)
    assert profile.mean[0] == pytest.approx(np.nanmean(-ar.sum(axis=1)))
    assert profile.mean[15] < -0.04 and profile.hi[15] < 0  # the climb into the entry
    assert np.all(profile.lo <= profile.mean + 1e-15) and np.all(profile.mean <= profile.hi + 1e-15)
    assert profile.lo[40] < 0 < profile.hi[40]  # nothing after it


def test_bad_inputs_raise():
    stock, market, _ = _panel()
    with pytest.raises(ValueError):
        es.market_model(stock, market, [9], [100])
    model = es.market_model(stock, market, [0], [100])
    with pytest.raises(ValueError):
        es.cumulative_abnormal(stock, market, [0], [100], model, (0,))
    with pytest.raises(ValueError):
        es.cumulative_abnormal(stock, market, [0], [100], model, (1,), side=[2])


def test_event_profile_band_is_none_from_a_single_block():
    stock, market, rng = _panel(seed=2)
    symbol, entry = np.array([0, 1, 2, 3, 0, 1]), np.array([300, 300, 301, 302, 303, 304])
    model = es.market_model(stock, market, symbol, entry)
    profile = es.event_profile(stock, market, symbol, entry, model, rng, post=30, resamples=50)
    assert np.isnan(profile.lo).all() and np.isnan(profile.hi).all()  # 5 dates, one 30-session block
    assert np.isfinite(profile.mean[:45]).all()
