"""The indicator engine against TA-Lib (daily indicators), extended precision (where TA-Lib's own rounding is
the larger error) and plain-Python per-session loops (the intraday indicators TA-Lib lacks).

Every comparison is column by column, over seeded geometric random walks (504 daily bars) and a "real-looking"
universe (price levels from $3 to $900, volatility regimes, overnight gaps, cent prices, a quiet stretch at a high
price, and gaps of a few missing bars). TA-Lib runs on each stretch of consecutive bars separately; the engine must
equal it there and give NaN everywhere else.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view

from autotrader.policy import engine
from autotrader.policy.indicators import wilder_atr

TOLERANCE = 1e-9  # relative, the bar
BARS = 504


# -- data -----------------------------------------------------------------------------------------------------------


def random_walk(seed: int, bars: int = BARS, symbols: int = 6) -> dict[str, np.ndarray]:
    """Geometric random walks, one column per symbol, with wicks and overnight gaps."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(20, 300, symbols)
    close = start * np.exp(np.cumsum(rng.normal(0.0003, 0.018, (bars, symbols)), axis=0))
    open_ = np.vstack([start, close[:-1]]) * np.exp(rng.normal(0, 0.006, (bars, symbols)))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.008, (bars, symbols))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.008, (bars, symbols))))
    volume = np.round(rng.lognormal(13, 0.6, (bars, symbols)))
    return {"high": high, "low": low, "close": close, "volume": volume}


def real_looking(seed: int = 42, bars: int = BARS) -> dict[str, np.ndarray]:
    """Four symbols as a data feed delivers them: $3, $45, $180 and $900 stocks in cents, volatility that clusters,
    a jump, the $900 one quiet for a stretch (little movement at a high price), and missing bars (a halt, data
    holes) of 1-3 bars."""
    rng = np.random.default_rng(seed)
    levels = np.array([3.0, 45.0, 180.0, 900.0])
    vol = np.empty((bars, 4))
    vol[0] = [0.04, 0.02, 0.015, 0.01]
    for t in range(1, bars):  # a GARCH-like clustering of volatility
        shock = rng.normal(0, 1, 4)
        vol[t] = np.sqrt(0.000004 + 0.9 * vol[t - 1] ** 2 + 0.08 * (vol[t - 1] * shock) ** 2)
    vol[300:360, 3] = 0.0008  # the quiet stretch
    returns = rng.standard_t(4, (bars, 4)) * vol / math.sqrt(2)
    returns[200, 1] += 0.25  # a jump on news
    close = np.round(levels * np.exp(np.cumsum(returns, axis=0)), 2)
    open_ = np.round(np.vstack([levels, close[:-1]]) * np.exp(rng.normal(0, 0.3, (bars, 4)) * vol), 2)
    high = np.maximum(open_, close) + np.round(np.abs(rng.normal(0, 0.5, (bars, 4))) * vol * close, 2)
    low = np.minimum(open_, close) - np.round(np.abs(rng.normal(0, 0.5, (bars, 4))) * vol * close, 2)
    volume = np.round(rng.lognormal(12, 1.0, (bars, 4)) / 100) * 100
    for column, rows in ((0, [50, 51, 52]), (1, [120]), (2, [260, 261]), (3, [30, 31, 400]), (0, [450])):
        for array in (high, low, close, volume):
            array[rows, column] = np.nan
    return {"high": high, "low": low, "close": close, "volume": volume}


def with_holes(bars: dict[str, np.ndarray], fraction: float, seed: int) -> dict[str, np.ndarray]:
    """The same bars with ``fraction`` of them missing at random: many gaps, in every column, on most rows."""
    gone = np.random.default_rng(seed).random(bars["close"].shape) < fraction
    return {name: np.where(gone, np.nan, values) for name, values in bars.items()}


UNIVERSES = {
    "random walks": random_walk(7),
    "real-looking": real_looking(),
    "random walks with holes": with_holes(random_walk(8), 0.03, seed=9),
}


# -- comparing ------------------------------------------------------------------------------------------------------


def stretches(*columns: np.ndarray) -> list[slice]:
    """The runs of consecutive bars where every input has a value."""
    present = ~np.any([np.isnan(c) for c in columns], axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], present.astype(int), [0]])))
    return [slice(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def by_stretch(fn: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
    """TA-Lib's ``fn`` on each column's each gap-free stretch alone; NaN elsewhere (and where TA-Lib gives none)."""
    out = np.full(arrays[0].shape, np.nan)
    for j in range(arrays[0].shape[1]):
        columns = [np.ascontiguousarray(a[:, j]) for a in arrays]
        for run in stretches(*columns):
            out[run, j] = fn(*(c[run] for c in columns))
    return out


def max_relative(got: np.ndarray, want: np.ndarray) -> float:
    """max |got − want| / |want| over the values ``want`` has, after checking both have the same NaN bars (and
    that a zero comes out exactly zero)."""
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    mask = ~np.isnan(want)
    assert mask.any()
    g, w = got[mask], want[mask]
    exact = w == 0
    assert np.array_equal(g[exact], w[exact])
    return float(np.max(np.abs(g[~exact] - w[~exact]) / np.abs(w[~exact]), initial=0.0))


def within(got: np.ndarray, want: np.ndarray, rtol: float, atol: np.ndarray | float, where: np.ndarray) -> bool:
    """|got − want| <= rtol·|want| + atol wherever ``where`` (and the same NaN bars): for slope and R², which pass
    through zero, where a relative difference means nothing below the prices' own resolution."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    with np.errstate(invalid="ignore"):
        ok = np.abs(got - want) <= rtol * np.abs(want) + atol
    return bool(ok[where & ~np.isnan(want)].all())


def resolution(close: np.ndarray) -> dict[str, np.ndarray | float]:
    """Float64's resolution of a slope (1e-16 of the price per bar) and of an R² (1e-15)."""
    return {"slope": 1e-16 * np.abs(close), "r2": 1e-15}


def windows_exact(y: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Slope, R² and σ of every window, two-pass in extended precision (NaN where a window has a gap)."""
    long = np.longdouble
    windows = sliding_window_view(y.astype(long), n, axis=0)  # (bars − n + 1, symbols, n)
    position = np.arange(n, dtype=long) - long(n - 1) / 2
    deviation = windows - windows.mean(axis=-1, keepdims=True)
    co = (deviation * position).sum(axis=-1)
    m2 = (deviation * deviation).sum(axis=-1)
    sxx = (position * position).sum()
    out = {}
    for name, values in (("slope", co / sxx), ("r2", co * co / (sxx * m2)), ("sd", np.sqrt(m2 / n))):
        full = np.full(y.shape, np.nan)
        full[n - 1 :] = values.astype(float)
        out[name] = full
    return out


# -- against TA-Lib -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("universe", UNIVERSES)
@pytest.mark.parametrize("n", [5, 20, 50])
def test_moving_averages_equal_talib(universe, n):
    close = UNIVERSES[universe]["close"]
    assert max_relative(engine.sma(close, n), by_stretch(lambda x: talib.SMA(x, n), close)) <= TOLERANCE
    assert max_relative(engine.ema(close, n), by_stretch(lambda x: talib.EMA(x, n), close)) <= TOLERANCE


@pytest.mark.parametrize("universe", UNIVERSES)
@pytest.mark.parametrize("n", [2, 14])
def test_wilder_rsi_and_atr_equal_talib(universe, n):
    bars = UNIVERSES[universe]
    high, low, close = bars["high"], bars["low"], bars["close"]
    assert max_relative(engine.rsi(close, n), by_stretch(lambda x: talib.RSI(x, n), close)) <= TOLERANCE
    want_atr = by_stretch(lambda h, lo, c: talib.ATR(h, lo, c, n), high, low, close)
    assert max_relative(engine.atr(high, low, close, n), want_atr) <= TOLERANCE
    want_tr = by_stretch(talib.TRANGE, high, low, close)
    assert max_relative(engine.true_range(high, low, close), want_tr) <= TOLERANCE


@pytest.mark.parametrize("universe", UNIVERSES)
@pytest.mark.parametrize(("n", "k"), [(20, 2.0), (10, 1.5)])
def test_bollinger_equals_talib(universe, n, k):
    close = UNIVERSES[universe]["close"]
    bands = engine.bollinger(close, n, k)
    names = ("upper", "mid", "lower")
    for i, name in enumerate(names):
        want = by_stretch(lambda x, i=i: talib.BBANDS(x, n, k, k, 0)[i], close)
        assert max_relative(getattr(bands, name), want) <= TOLERANCE, name
    assert max_relative(bands.sd, by_stretch(lambda x: talib.STDDEV(x, n, 1.0), close)) <= TOLERANCE


@pytest.mark.parametrize("universe", UNIVERSES)
@pytest.mark.parametrize("n", [20, 7])
def test_linear_regression_equals_talib(universe, n):
    close = UNIVERSES[universe]["close"]
    fit = engine.linreg(close, n)
    assert max_relative(fit.forecast, by_stretch(lambda y: talib.LINEARREG(y, n), close)) <= TOLERANCE
    assert max_relative(fit.intercept, by_stretch(lambda y: talib.LINEARREG_INTERCEPT(y, n), close)) <= TOLERANCE
    # Slope and R² pass through zero, where TA-Lib's sums lose digits (its slope is up to ~3e-8 relative off the
    # exact value there on these walks): TA-Lib is the oracle on the windows (over 98%) where it is itself within
    # a tenth of the bar of extended precision, and extended precision everywhere (the next test).
    exact, atol = windows_exact(close, n), resolution(close)
    want_slope = by_stretch(lambda y: talib.LINEARREG_SLOPE(y, n), close)
    want_r2 = by_stretch(lambda y: talib.CORREL(np.arange(len(y), dtype=float), y, n) ** 2, close)
    for name, got, want in (("slope", fit.slope, want_slope), ("r2", fit.r2, want_r2)):
        true = exact[name]
        with np.errstate(invalid="ignore"):
            talib_accurate = np.abs(want - true) <= TOLERANCE / 10 * np.abs(true) + atol[name]
        assert talib_accurate.sum() > 0.98 * (~np.isnan(true)).sum()
        assert within(got, want, TOLERANCE, atol[name], where=talib_accurate), name


@pytest.mark.parametrize("universe", UNIVERSES)
def test_slope_r2_and_sigma_equal_extended_precision_everywhere(universe):
    close = UNIVERSES[universe]["close"]
    for n in (7, 20):
        exact, atol = windows_exact(close, n), resolution(close)
        fit, bands = engine.linreg(close, n), engine.bollinger(close, n)
        everywhere = np.ones(close.shape, dtype=bool)
        assert within(fit.slope, exact["slope"], 1e-13, atol["slope"], where=everywhere)
        assert within(fit.r2, exact["r2"], 1e-13, atol["r2"], where=everywhere)
        assert max_relative(bands.sd, exact["sd"]) <= 1e-13


def test_at_a_high_price_with_little_movement_the_engine_keeps_the_digits_talib_loses():
    # $5,000 moving by a few cents a bar: TA-Lib's slope comes from sums that carry the price level (n·Σix − Σi·Σx
    # cancels most of its digits); the engine's blocks are taken from their own first bar, so its rounding is at
    # the scale of the moves.
    rng = np.random.default_rng(3)
    close = 5000 + np.cumsum(rng.normal(0, 0.02, (300, 2)), axis=0)
    exact = windows_exact(close, 20)
    assert max_relative(by_stretch(lambda x: talib.LINEARREG_SLOPE(x, 20), close), exact["slope"]) > TOLERANCE
    fit, bands = engine.linreg(close, 20), engine.bollinger(close, 20)
    assert max_relative(fit.slope, exact["slope"]) <= 1e-14
    assert max_relative(fit.r2, exact["r2"]) <= 1e-14
    assert max_relative(bands.sd, exact["sd"]) <= 1e-14


def test_flat_windows_give_exact_zeros_as_talib_does_up_to_its_rounding():
    close = np.concatenate([100 + np.random.default_rng(1).normal(0, 1, 40), np.full(25, 101.37)])
    bands, fit = engine.bollinger(close, 20), engine.linreg(close, 20)
    assert bands.sd[-6:].tolist() == [0.0] * 6
    assert bands.upper[-6:].tolist() == bands.lower[-6:].tolist() == [pytest.approx(101.37, rel=1e-15)] * 6
    assert fit.slope[-6:].tolist() == fit.r2[-6:].tolist() == [0.0] * 6
    assert talib.STDDEV(close, 20)[-1] == 0 and talib.CORREL(np.arange(65.0), close, 20)[-1] == 0
    assert abs(talib.LINEARREG_SLOPE(close, 20)[-1]) < 1e-12
    # RSI of a series that never moved is TA-Lib's 0, not NaN or 50.
    assert engine.rsi(np.full(30, 7.5), 14)[14:].tolist() == talib.RSI(np.full(30, 7.5), 14)[14:].tolist() == [0.0] * 16


def test_the_old_wilder_atr_equals_the_engine_on_one_column():
    bars = random_walk(11, symbols=1)
    high, low, close = (bars[k][:, 0] for k in ("high", "low", "close"))
    old, new = wilder_atr(high, low, close, 14), engine.atr(high, low, close, 14)
    assert max_relative(new, old) <= 1e-12


# -- gaps -----------------------------------------------------------------------------------------------------------


def test_a_gap_restarts_the_ema_seeded_afresh_and_is_never_filled():
    x = np.array([1.0, 2, 3, np.nan, 4, 5, 6, 7])
    # Before the gap: seed mean(1, 2, 3) = 2 at bar 2. After it: the seed is mean(4, 5, 6) = 5 at bar 6, then
    # 5 + (7 − 5)·0.5 = 6. A forward fill would have given a value at bar 3 and carried 3.0 into bar 4's average.
    assert np.array_equal(engine.ema(x, 3), [np.nan, np.nan, 2, np.nan, np.nan, np.nan, 5, 6], equal_nan=True)
    assert np.array_equal(engine.sma(x, 3), [np.nan, np.nan, 2, np.nan, np.nan, np.nan, 5, 6], equal_nan=True)
    # A stretch shorter than the period never gets a value.
    assert np.isnan(engine.ema(np.array([1.0, 2, np.nan, 3, 4, np.nan, 5, 6, 7]), 3)[:8]).all()


def test_a_missing_close_alone_makes_the_bar_missing_for_the_true_range():
    high, low, close = np.array([11.0, 12, 13, 14]), np.array([9.0, 10, 11, 12]), np.array([10.0, np.nan, 12, 13])
    tr = engine.true_range(high, low, close)
    assert np.isnan(tr[:3]).all() and tr[3] == 2.0  # bar 2's previous bar has no close; bar 1 is missing


def test_every_value_depends_only_on_bars_up_to_it():
    bars = UNIVERSES["real-looking"]
    high, low, close, volume = bars["high"], bars["low"], bars["close"], bars["volume"]
    session = np.arange(BARS) // 78  # as if 78-bar sessions, for the intraday functions

    def everything(k: int) -> list[np.ndarray]:
        h, lo, c, v, s = high[:k], low[:k], close[:k], volume[:k], session[:k]
        vw = engine.vwap(h, lo, c, v, s)
        return [
            engine.sma(c, 20), engine.ema(c, 20), engine.rsi(c), engine.atr(h, lo, c), *engine.bollinger(c),
            *engine.linreg(c, 20), vw.vwap, vw.sd, engine.relative_volume(v, 20),
            *engine.opening_range(h, lo, s, 30), engine.high_of_day(h, s),
        ]  # fmt: skip

    whole = everything(BARS)
    for k in (1, 19, 20, 78, 100, 301):
        for part, full in zip(everything(k), whole, strict=True):
            assert np.array_equal(part, full[:k], equal_nan=True)


# -- intraday, against plain-Python loops ---------------------------------------------------------------------------


def minute_bars(seed: int = 5, lengths: tuple[int, ...] = (90, 45, 75), symbols: int = 3) -> dict[str, np.ndarray]:
    """Three sessions of minute bars (labels as New York date ordinals) with missing minutes and zero-volume bars;
    the last symbol has no bar in the second session's first 20 minutes (a late open)."""
    rng = np.random.default_rng(seed)
    bars = sum(lengths)
    session = np.repeat(738000 + np.arange(len(lengths)), lengths)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.001, (bars, symbols)), axis=0))
    high = close * (1 + np.abs(rng.normal(0, 0.0008, (bars, symbols))))
    low = close * (1 - np.abs(rng.normal(0, 0.0008, (bars, symbols))))
    volume = np.round(rng.lognormal(8, 1, (bars, symbols)))
    volume[rng.random((bars, symbols)) < 0.05] = 0.0
    missing = rng.random((bars, symbols)) < 0.08
    missing[90:110, 2] = True
    for array in (high, low, close, volume):
        array[missing] = np.nan
    return {"high": high, "low": low, "close": close, "volume": volume, "session": session}


def loop_intraday(bars: dict[str, np.ndarray], ks: tuple[float, ...], minutes: int) -> dict[str, np.ndarray]:
    """VWAP and its σ by definition (a second pass over the session so far), the opening range and the high of day,
    one symbol and one session at a time."""
    high, low, close, volume, session = (bars[k] for k in ("high", "low", "close", "volume", "session"))
    rows, symbols = close.shape
    out = {name: np.full(close.shape, np.nan) for name in ("vwap", "sd", "or_high", "or_low", "hod")}
    for k in ks:
        out[f"upper{k}"] = np.full(close.shape, np.nan)
        out[f"lower{k}"] = np.full(close.shape, np.nan)
    for j in range(symbols):
        seen: list[tuple[float, float]] = []  # (typical price, volume) of the session's bars so far
        hod = math.nan
        range_high = range_low = math.nan
        first = 0
        for t in range(rows):
            if t == 0 or session[t] != session[t - 1]:
                seen, hod, first = [], math.nan, t
                lows = [low[i, j] for i in range(t, min(t + minutes, rows)) if session[i] == session[t]]
                highs = [high[i, j] for i in range(t, min(t + minutes, rows)) if session[i] == session[t]]
                complete = t + minutes < rows and session[t + minutes] == session[t]
                range_high = max((h for h in highs if not math.isnan(h)), default=math.nan)
                range_low = min((x for x in lows if not math.isnan(x)), default=math.nan)
                if not complete:
                    range_high = range_low = math.nan
            values = (high[t, j], low[t, j], close[t, j], volume[t, j])
            if any(math.isnan(x) for x in values):
                continue
            seen.append(((values[0] + values[1] + values[2]) / 3, values[3]))
            hod = values[0] if math.isnan(hod) else max(hod, values[0])
            out["hod"][t, j] = hod
            if t - first >= minutes:
                out["or_high"][t, j], out["or_low"][t, j] = range_high, range_low
            total = math.fsum(v for _, v in seen)
            if total > 0:
                vwap = math.fsum(p * v for p, v in seen) / total
                sd = math.sqrt(math.fsum(v * (p - vwap) ** 2 for p, v in seen) / total)
                out["vwap"][t, j], out["sd"][t, j] = vwap, sd
                for k in ks:
                    out[f"upper{k}"][t, j], out[f"lower{k}"][t, j] = vwap + k * sd, vwap - k * sd
    return out


def loop_relative_volume(volume: np.ndarray, n: int) -> np.ndarray:
    out = np.full(volume.shape, np.nan)
    for j in range(volume.shape[1]):
        for t in range(n, volume.shape[0]):
            before = volume[t - n : t, j]
            if not math.isnan(volume[t, j]) and not np.isnan(before).any() and before.sum() > 0:
                out[t, j] = volume[t, j] / (math.fsum(before) / n)
    return out


def test_intraday_indicators_equal_a_plain_python_loop():
    bars = minute_bars()
    ks, minutes = (1.0, 2.0, 2.5), 30
    want = loop_intraday(bars, ks, minutes)
    high, low, close, volume, session = (bars[k] for k in ("high", "low", "close", "volume", "session"))
    got = engine.vwap(high, low, close, volume, session, k=ks)
    assert max_relative(got.vwap, want["vwap"]) <= TOLERANCE
    # σ is zero at a session's first traded bar; elsewhere it is compared relatively, as the bands are.
    np.testing.assert_allclose(got.sd, want["sd"], rtol=TOLERANCE, atol=1e-12)
    for k in ks:
        assert max_relative(got.upper[k], want[f"upper{k}"]) <= TOLERANCE
        assert max_relative(got.lower[k], want[f"lower{k}"]) <= TOLERANCE
    or_high, or_low = engine.opening_range(high, low, session, minutes)
    assert np.array_equal(or_high, want["or_high"], equal_nan=True)
    assert np.array_equal(or_low, want["or_low"], equal_nan=True)
    assert np.array_equal(engine.high_of_day(high, session), want["hod"], equal_nan=True)
    for n in (1, 5, 20):
        assert max_relative(engine.relative_volume(volume, n), loop_relative_volume(volume, n)) <= TOLERANCE


def test_the_opening_range_is_unknown_until_the_bar_after_it():
    session = np.zeros(40, dtype=int)
    high = np.arange(40.0) + 10
    low = np.arange(40.0)
    or_high, or_low = engine.opening_range(high, low, session, minutes=30)
    assert np.isnan(or_high[:30]).all() and np.isnan(or_low[:30]).all()  # a bar in the range never sees it
    assert (or_high[30:] == 39.0).all() and (or_low[30:] == 0.0).all()  # bars 0..29: highs up to 39, lows from 0
    # A session shorter than the range never has one; the next session's range starts from its own open.
    two = np.repeat([1, 2], [20, 40])
    h, lo = engine.opening_range(np.arange(60.0), np.arange(60.0), two, minutes=30)
    assert np.isnan(h[:50]).all() and (h[50:] == 49.0).all() and (lo[50:] == 20.0).all()


def test_vwap_is_nan_until_the_session_trades_and_resets_each_session():
    session = np.repeat([1, 2], 3)
    high = low = close = np.array([10.0, 11, 12, 20, 21, 22])
    volume = np.array([0.0, 100, 300, 50, np.nan, 50])
    bands = engine.vwap(high, low, close, volume, session, k=(1.0,))
    assert np.isnan(bands.vwap[0])  # no volume yet
    assert bands.vwap[1:4].tolist() == pytest.approx([11.0, (1100 + 3600) / 400, 20.0])
    assert np.isnan(bands.vwap[4])  # a missing bar: no value, and it does not count
    assert bands.vwap[5] == pytest.approx(21.0)
    assert bands.sd[5] == pytest.approx(1.0) and bands.upper[1.0][5] == pytest.approx(22.0)


def test_relative_volume_excludes_the_bar_itself_and_refuses_a_zero_base():
    volume = np.array([100.0, 200, 300, 600, 0, 0, 0, 50])
    rv = engine.relative_volume(volume, 3)
    assert np.isnan(rv[:3]).all()
    assert rv[3] == pytest.approx(600 / 200) and rv[4] == 0.0
    assert np.isnan(rv[7])  # the three bars before it traded nothing


# -- shapes and arguments ------------------------------------------------------------------------------------------


def test_one_symbol_in_one_dimension_comes_back_in_one():
    bars = random_walk(2, bars=60, symbols=1)
    close = bars["close"]
    assert engine.sma(close[:, 0], 5).shape == (60,)
    assert np.array_equal(engine.rsi(close[:, 0]), engine.rsi(close)[:, 0], equal_nan=True)
    assert engine.linreg(close[:, 0], 5).r2.shape == (60,)
    assert np.array_equal(engine.ema(close, 5.0), engine.ema(close, 5), equal_nan=True)  # an integral float period


def test_fewer_bars_than_the_period_give_nan():
    close = random_walk(3, bars=10, symbols=2)["close"]
    for out in (engine.sma(close, 11), engine.ema(close, 11), engine.rsi(close, 10), engine.linreg(close, 11).slope):
        assert out.shape == (10, 2) and np.isnan(out).all()


@pytest.mark.parametrize(
    "call",
    [
        lambda: engine.sma(np.ones(5), 0),
        lambda: engine.ema(np.ones(5), 2.5),
        lambda: engine.linreg(np.ones(5), 1),
        lambda: engine.atr(np.ones(5), np.ones(4), np.ones(5)),
        lambda: engine.sma(np.ones((2, 2, 2)), 2),
        lambda: engine.high_of_day(np.ones((5, 2)), np.zeros(4)),
    ],
)
def test_bad_arguments_are_refused(call):
    with pytest.raises(ValueError):
        call()
