"""Reading a chain: the at-the-money volatility of each expiry, the 30-day volatility between them, and the
strikes near the money. Pure.

The 30-day implied volatility (``iv30``) is the underlying's one number for its option prices, the figure whose
stored history gives the IV rank and percentile: each expiry's at-the-money IV (the mean of the call's and the
put's at the strike nearest the forward, where the source gives both) is turned into a total variance
``sigma^2 T``, and the variance at 30 calendar days is interpolated linearly in time between the expiries on
either side (the way the VIX blends its two terms). With no expiry beyond 30 days the nearest two are
extrapolated; with one expiry only, its own IV is the answer. Its rank and percentile place today's among the
stored history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from numpy.typing import ArrayLike

from autotrader.clock import ET
from autotrader.domain.options import OptionQuote

IV30_DAYS = 30
_YEAR_SECONDS = 365.0 * 86_400


@dataclass(frozen=True)
class ExpiryIv:
    expiry: date
    years: float  # to the expiry's close
    atm_iv: float
    atm_strike: float


def years_to(close: datetime, now: datetime) -> float:
    """Calendar years from ``now`` to an expiry's close (the convention of the prices and greeks)."""
    return (close - now).total_seconds() / _YEAR_SECONDS


def days_to_expiry(expiry: date, now: datetime) -> int:
    """Calendar days from today (New York) to the expiry date: 0 on expiry day."""
    return (expiry - now.astimezone(ET).date()).days


def atm_ivs(quotes: Iterable[OptionQuote], closes: dict[date, datetime], now: datetime) -> list[ExpiryIv]:
    """Each expiry's at-the-money IV (module docstring), in expiry order; expiries without an IV near the money
    or without an underlying price are left out."""
    by_expiry: dict[date, list[OptionQuote]] = {}
    for q in quotes:
        if q.iv is not None and q.underlying_price is not None and q.contract.expiry in closes:
            by_expiry.setdefault(q.contract.expiry, []).append(q)
    out = []
    for expiry in sorted(by_expiry):
        group = by_expiry[expiry]
        years = years_to(closes[expiry], now)
        if years <= 0:
            continue
        spot = group[0].underlying_price
        assert spot is not None
        strike = min({q.contract.strike for q in group}, key=lambda k: (abs(k - spot), k))
        at_strike = [q.iv for q in group if q.contract.strike == strike and q.iv is not None]
        out.append(ExpiryIv(expiry, years, sum(at_strike) / len(at_strike), strike))
    return out


def iv30(terms: Sequence[ExpiryIv]) -> float | None:
    """The 30-day IV from the expiries' at-the-money IVs (module docstring); None without any."""
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0].atm_iv
    target = IV30_DAYS / 365.0
    first_beyond = next((i for i, t in enumerate(terms) if t.years >= target), None)
    # Between the two expiries around 30 days; else the nearest two, extrapolated.
    j = len(terms) - 1 if first_beyond is None else max(first_beyond, 1)
    a, b = terms[j - 1], terms[j]
    va, vb = a.atm_iv**2 * a.years, b.atm_iv**2 * b.years
    variance = va + (vb - va) * (target - a.years) / (b.years - a.years)
    return math.sqrt(variance / target) if variance > 0 else None


def near_the_money(quotes: Iterable[OptionQuote], spot: float, each_side: int) -> list[OptionQuote]:
    """The quotes at the ``each_side`` strikes below and above ``spot`` (per expiry), by expiry, strike, right."""
    by_expiry: dict[date, list[OptionQuote]] = {}
    for q in quotes:
        by_expiry.setdefault(q.contract.expiry, []).append(q)
    kept: list[OptionQuote] = []
    for expiry in sorted(by_expiry):
        strikes = sorted({q.contract.strike for q in by_expiry[expiry]})
        below = [k for k in strikes if k <= spot][-each_side:]
        above = [k for k in strikes if k > spot][:each_side]
        chosen = set(below) | set(above)
        kept.extend(q for q in by_expiry[expiry] if q.contract.strike in chosen)
    return sorted(kept, key=lambda q: (q.contract.expiry, q.contract.strike, str(q.contract.right)))


def iv_rank(history: ArrayLike, current: float) -> float | None:
    """Where ``current`` stands between the lowest and highest of ``history`` (0 = at the low, 1 = at the high;
    NaNs ignored); None with fewer than two values or a flat history."""
    values = np.asarray(history, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2 or values.max() == values.min():
        return None
    return float(np.clip((current - values.min()) / (values.max() - values.min()), 0.0, 1.0))


def iv_percentile(history: ArrayLike, current: float) -> float | None:
    """The share of ``history``'s values (NaNs ignored) strictly below ``current``; None for an empty history."""
    values = np.asarray(history, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    return float(np.mean(values < current))
