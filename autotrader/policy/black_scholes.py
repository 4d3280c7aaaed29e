"""European option prices and greeks (Black-Scholes-Merton) and the implied volatility that gives a price. Pure.

With spot S, strike K, years to expiry T, the continuously compounded risk-free rate r, dividend yield q and
volatility sigma:

    d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt T),   d2 = d1 - sigma sqrt T
    call = S e^(-qT) N(d1) - K e^(-rT) N(d2),   put = K e^(-rT) N(-d2) - S e^(-qT) N(-d1)

Greeks, per contract share (multiply by 100 for a contract): delta and gamma per $1 of the underlying; vega per
1.00 of volatility (100 vol points: divide by 100 for one point); theta per year of calendar time (divide by 365
for a day); rho per 1.00 of the rate. At or past expiry (T <= 0) a price is the intrinsic value and the greeks are
those of the payoff (delta 0 or +-1, the rest 0); a volatility of zero prices the forward's discounted intrinsic
value (delta that of the forward, the rest 0).

US equity options are American. For calls on a stock paying no dividend before expiry the European price is the
American one; for puts and dividend payers it is a lower bound that the toolkit uses as an estimate, like the
greeks data vendors publish. The functions take numpy arrays (a whole chain at once) or plain numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

IV_LOW, IV_HIGH = 1e-4, 5.0  # the volatilities the solver searches between (0.01% to 500%)
IV_TOLERANCE = 1e-10  # in price: a solution reprices the target within this (or the bracket is 1e-12 wide)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Greeks:
    delta: Any
    gamma: Any
    vega: Any
    theta: Any
    rho: Any


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _inputs(
    spot: ArrayLike, strike: ArrayLike, years: ArrayLike, rate: ArrayLike, dividend: ArrayLike, vol: ArrayLike
) -> tuple[np.ndarray, ...]:
    s, k, t, r, q, v = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in
                                           (spot, strike, years, rate, dividend, vol)))  # fmt: skip
    if np.any(s <= 0) or np.any(k <= 0):
        raise ValueError("spot and strike must be positive")
    if np.any(v < 0):
        raise ValueError("volatility must not be negative")
    return s, k, t, r, q, v


def _d1_d2(s: np.ndarray, k: np.ndarray, t: np.ndarray, r: np.ndarray, q: np.ndarray, v: np.ndarray):
    """d1 and d2 where T > 0 and sigma > 0 (elsewhere NaN: the callers take the limit there)."""
    live = (t > 0) & (v > 0)
    root = np.where(live, v * np.sqrt(np.where(t > 0, t, 1.0)), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.where(live, (np.log(s / k) + (r - q + 0.5 * v * v) * t) / root, np.nan)
    return d1, d1 - root, live, root


def _sign(right: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    """+1 for a call, -1 for a put, from "call"/"put" (or an array of them)."""
    names = np.broadcast_to(np.asarray(right), shape)
    calls, puts = names == "call", names == "put"
    if not np.all(calls | puts):
        raise ValueError("right must be 'call' or 'put'")
    return np.where(calls, 1.0, -1.0)


@dataclass(frozen=True)
class _Terms:
    """What a price and its greeks both start from, broadcast to one shape."""

    s: np.ndarray
    k: np.ndarray
    t: np.ndarray
    r: np.ndarray
    q: np.ndarray
    v: np.ndarray
    w: np.ndarray  # +1 call, -1 put
    d1: np.ndarray
    d2: np.ndarray
    live: np.ndarray  # T > 0 and sigma > 0
    root: np.ndarray  # sigma sqrt T where live
    t_pos: np.ndarray
    growth: np.ndarray  # e^(-qT)
    discount: np.ndarray  # e^(-rT)


def _terms(right: ArrayLike, spot: ArrayLike, strike: ArrayLike, years: ArrayLike, vol: ArrayLike,
           rate: ArrayLike, dividend: ArrayLike) -> _Terms:  # fmt: skip
    s, k, t, r, q, v = _inputs(spot, strike, years, rate, dividend, vol)
    w = _sign(right, s.shape)
    d1, d2, live, root = _d1_d2(s, k, t, r, q, v)
    t_pos = np.maximum(t, 0.0)
    return _Terms(s, k, t, r, q, v, w, d1, d2, live, root, t_pos, np.exp(-q * t_pos), np.exp(-r * t_pos))


def _out(x: np.ndarray) -> Any:
    return float(x) if x.ndim == 0 else x


def price(
    right: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend: ArrayLike = 0.0,
) -> Any:
    """The Black-Scholes-Merton price per share of a European call or put (module docstring)."""
    x = _terms(right, spot, strike, years, vol, rate, dividend)
    s, k, t, w, d1, d2, live, growth, discount = x.s, x.k, x.t, x.w, x.d1, x.d2, x.live, x.growth, x.discount
    analytic = w * (s * growth * ndtr(w * d1) - k * discount * ndtr(w * d2))
    forward_intrinsic = np.maximum(w * (s * growth - k * discount), 0.0)  # sigma = 0: the discounted forward's
    expired = np.maximum(w * (s - k), 0.0)
    return _out(np.where(live, analytic, np.where(t > 0, forward_intrinsic, expired)))


def greeks(
    right: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend: ArrayLike = 0.0,
) -> Greeks:
    """Delta, gamma, vega, theta and rho per share (units in the module docstring)."""
    x = _terms(right, spot, strike, years, vol, rate, dividend)
    s, k, t, r, q, v, w = x.s, x.k, x.t, x.r, x.q, x.v, x.w
    d1, d2, live, root, t_pos, growth, discount = x.d1, x.d2, x.live, x.root, x.t_pos, x.growth, x.discount
    pdf = np.where(live, _pdf(np.nan_to_num(d1)), 0.0)
    n1, n2 = ndtr(w * np.nan_to_num(d1)), ndtr(w * np.nan_to_num(d2))
    sqrt_t = np.sqrt(t_pos)
    delta = np.where(live, w * growth * n1, np.where(w * (s * growth - k * discount) > 0, w * growth, 0.0))
    delta = np.where(t > 0, delta, np.where(w * (s - k) > 0, w, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(live, growth * pdf / (s * root), 0.0)
        theta = np.where(
            live,
            -s * growth * pdf * v / (2.0 * np.where(sqrt_t > 0, sqrt_t, 1.0))
            - w * r * k * discount * n2
            + w * q * s * growth * n1,
            0.0,
        )
    vega = np.where(live, s * growth * pdf * sqrt_t, 0.0)
    rho = np.where(live, w * k * t_pos * discount * n2, 0.0)
    return Greeks(_out(delta), _out(gamma), _out(vega), _out(theta), _out(rho))


def implied_vol(
    option_price: float,
    right: str,
    spot: float,
    strike: float,
    years: float,
    rate: float = 0.0,
    dividend: float = 0.0,
) -> float | None:
    """The volatility at which ``price`` gives ``option_price``; None when no volatility in [IV_LOW, IV_HIGH]
    does, or when the price cannot tell volatilities apart: a price at or below the no-arbitrage floor (the
    discounted forward's intrinsic value), at or above the ceiling (the discounted spot for a call, the
    discounted strike for a put), within ``IV_TOLERANCE`` of either (deep in the money days out, every volatility
    up to a large one prices the same to the last digits, and whichever the search stopped at would be
    arbitrary), or past expiry.

    Safeguarded Newton: each step is Newton's on vega, kept inside a bracket that halves whenever Newton would
    leave it, so it converges wherever the price is attainable (the price rises strictly with volatility)."""
    if years <= 0 or not math.isfinite(option_price):
        return None

    def at(vol: float) -> float:
        return float(price(right, spot, strike, years, vol, rate, dividend))

    lo, hi = IV_LOW, IV_HIGH
    if not at(lo) + IV_TOLERANCE < option_price < at(hi) - IV_TOLERANCE:
        return None
    vol = 0.3
    for _ in range(100):
        error = at(vol) - option_price
        if abs(error) < IV_TOLERANCE or hi - lo < 1e-12:
            return vol
        if error > 0:
            hi = vol
        else:
            lo = vol
        vega = float(greeks(right, spot, strike, years, vol, rate, dividend).vega)
        step = vol - error / vega if vega > 0 else math.nan
        vol = step if lo < step < hi else 0.5 * (lo + hi)
    return vol

