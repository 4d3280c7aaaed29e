"""``SyntheticMarketData``: seeded, deterministic daily and 1-minute bars, so the pipeline runs offline.

The model, per seed:

- one market factor (SPY-like) whose volatility follows a three-state Markov chain (calm / normal /
  stressed); the stressed state also carries a negative drift, which is what makes drawdowns cluster;
- per symbol: a beta to that factor, an idiosyncratic drift and volatility (index funds calm,
  speculative names wild), overnight gaps (open = previous close x gap), larger gaps on the symbol's
  earnings days, and a lognormal volume that rises with the size of the move;
- a VIX-like index driven by the regime and the factor's realised volatility, mean-reverting, jumping up
  when the factor falls;
- **news episodes**, the world's hidden abnormal returns (below);
- for every session, a Brownian bridge from that day's open to its close gives the 1-minute bars; the
  daily high/low *are* the max/min of those minutes, so both views agree exactly.

Two properties matter more than realism:

- **Determinism.** Every random number is a pure function of (seed, symbol, purpose, index) through a
  counter-based generator (SplitMix64 over a blake2b key), never Python's salted ``hash()`` nor a
  numpy stream whose algorithm may change between releases.
- **No look-ahead.** A symbol's whole daily path is generated once over a fixed span of XNYS sessions
  and only sliced afterwards, so a bar's value never depends on the requested range or on the clock; the
  clock only decides which complete bars are returned (the rule of ``autotrader.ports``).

News episodes (known truth for the scorecard's statistics)
-----------------------------------------------------------
The timeline of every large-cap and defensive stock (``NEWS_STYLES``; growth and speculative names and the
funds have none) is cut into consecutive episodes. An episode has a number of *pick days* k, uniform on
1..``NEWS_MAX_PICK_DAYS``, and lasts ``k + NEWS_HORIZON - 1`` sessions: exactly the union of the windows of
k picks made on its first k sessions and held ``NEWS_HORIZON`` sessions each. Its *kind* is drawn
independently of everything else: ``good`` (the news the synthetic catalyst desk publishes), ``bad`` (what
the synthetic hype desk chases) or ``hidden`` (nobody publishes it). Each kind carries a daily abnormal
log drift (``news_drift``): good +25 %/yr, bad -12 %/yr, and hidden whatever makes the mean over kinds
exactly zero (about -58 %/yr), so a stock's long-run abnormal return stays nil and a market model
estimated over earlier sessions is unbiased (earlier episodes' kinds are independent of the current one's).

The drift of a session is added to its *open-to-close* log return only (the overnight gap carries none) and
outside the mean reversion, so any window from a session's open to a later session's close collects
exactly (live sessions in it) x drift, whatever else happens. Hence, for a pick entered at the open of one
of its episode's pick days, the expected cumulative abnormal *log* return over h <= ``NEWS_HORIZON``
sessions, sum of (log r - a - b log r_m) with the symbol's own market-model a and b, is exactly drift x h;
beyond, the episode's remaining sessions count and later episodes add zero in expectation. In simple
returns the same holds to a relative error of order the daily variance (below 0.1 %). The ``no_skill``
world (``world="no_skill"``, for tests) has the very same episodes with zero drift: identical noise,
no abnormal return anywhere.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from autotrader.adapters.frames import (
    EPOCH_ORDINAL,
    NO_BARS,
    daily_frame,
    minute_frame,
    quote_from_last,
    require_aware,
    to_ns,
)
from autotrader.clock import MarketCalendar
from autotrader.domain.models import Quote
from autotrader.domain.options import OptionContract, OptionQuote
from autotrader.ports import Clock

if TYPE_CHECKING:
    from autotrader.adapters.synthetic_options import SyntheticOptionChains

VIX_SYMBOL = "VIX"

# The fixed span every path is generated over. Requests outside it get no bars.
SPAN_START = date(2015, 1, 2)
SPAN_END = date(2034, 12, 29)
# Start prices are set at this session (not at the span's start), so that prices are plausible around the
# years the toolkit actually runs in rather than drifted for a decade.
_PRICE_ANCHOR = date(2025, 1, 2)

# -- the universe ----------------------------------------------------------------------------------

# Funds carry no earnings. Values: (beta, idiosyncratic daily vol, start price, base volume, spread bps).
_FUNDS: dict[str, tuple[float, float, float, float, float]] = {
    "SPY": (1.00, 0.0005, 590.0, 80e6, 0.3),
    "QQQ": (1.15, 0.0040, 510.0, 45e6, 0.5),
    "IWM": (1.15, 0.0050, 220.0, 30e6, 0.8),
    "DIA": (0.92, 0.0025, 425.0, 4e6, 1.0),
    "GLD": (0.05, 0.0085, 240.0, 8e6, 1.0),
    "TLT": (-0.25, 0.0075, 88.0, 20e6, 1.0),
    "SLX": (1.30, 0.0120, 65.0, 0.15e6, 8.0),
    "CPER": (0.60, 0.0110, 28.0, 0.3e6, 8.0),
}

# Stocks by behaviour class; the class sets the ranges their parameters are drawn from.
_STOCK_STYLES: dict[str, str] = {
    **dict.fromkeys(
        (
            "AAPL", "MSFT", "GOOGL", "AMZN", "ORCL", "CRM", "DIS", "HD", "NKE", "XOM", "CVX", "COP", "SLB",
            "JPM", "BAC", "GS", "V", "MA", "JEF", "LLY", "MRK", "ABBV", "CAT", "GE", "BA", "HON", "UPS",
            "LIN", "NEM", "DOW", "PLD", "AMT",
        ),
        "large",
    ),
    **dict.fromkeys(("META", "NVDA", "AVGO", "AMD", "TSLA", "NFLX", "RMBS", "FCX"), "growth"),
    **dict.fromkeys(("PLTR", "OKLO", "QBTS", "IREN", "AFRM", "SOFI"), "spec"),
    **dict.fromkeys(
        ("MCD", "PG", "KO", "WMT", "COST", "JNJ", "UNH", "PFE", "O", "NEE", "DUK", "SO"), "defensive"
    ),
}  # fmt: skip

DEFAULT_UNIVERSE: tuple[str, ...] = (*_FUNDS, *_STOCK_STYLES)
FUNDS: frozenset[str] = frozenset(_FUNDS)

# (beta lo, hi), (idio vol lo, hi), earnings jump sd, spread bps, (base volume lo, hi)
_STYLE_RANGES: dict[str, tuple[tuple[float, float], tuple[float, float], float, float, tuple[float, float]]] = {
    "defensive": ((0.40, 0.70), (0.008, 0.012), 0.030, 2.0, (3e6, 15e6)),
    "large": ((0.80, 1.20), (0.010, 0.016), 0.045, 2.0, (3e6, 25e6)),
    "growth": ((1.20, 1.70), (0.018, 0.028), 0.080, 3.0, (10e6, 60e6)),
    "spec": ((1.40, 2.20), (0.030, 0.045), 0.140, 8.0, (10e6, 60e6)),
}
_EXTRA_STYLE = "large"  # symbols added through ``extra_symbols``

# -- the market regime model -----------------------------------------------------------------------
CALM, NORMAL, STRESSED = 0, 1, 2
_MKT_VOL = np.array([0.0055, 0.0095, 0.0200])  # daily sd of the factor per regime
_MKT_DRIFT = np.array([0.0006, 0.0003, -0.0012])  # stressed drifts down: drawdowns cluster
_IDIO_MULT = np.array([0.85, 1.0, 1.4])  # stock-specific noise also rises in a stressed market
_VOLUME_MULT = np.array([0.85, 1.0, 1.45])
_TRANSITIONS = np.array(
    [
        [0.985, 0.015, 0.000],
        [0.010, 0.980, 0.010],
        [0.000, 0.040, 0.960],
    ]
)

_EARNINGS_EVERY = 63  # sessions in a quarter
_MEAN_REVERSION = 1 / 750  # pull of log price toward its trend; keeps 20-year paths in a plausible range
_INTRADAY_SHARE = 0.85  # share of the day's sd that unfolds between the open and the close
_NORMAL_MINUTES = 390
_MINUTE_NS = 60 * 10**9
_BLOCK = 16  # sessions per lazily generated block of intraday bridges
# Threads that generate the bridges of many symbols at once (``sync_daily``): numpy lets go of the GIL in
# its array loops, so each thread takes a core; a few are enough on any machine this toolkit runs on. They
# take up to _THREADED_SESSIONS sessions an array: with a block's worth, the Python between numpy's loops,
# under the GIL, is most of the time and the threads only wait on each other (alone, one thread is fastest
# with a block's worth: its arrays stay in the processor's cache).
_THREADS = max(1, min(4, os.cpu_count() or 1))
_THREADED_SESSIONS = 4 * _BLOCK

# -- news episodes (see the module doc) --------------------------------------------------------------
GOOD, BAD, HIDDEN = "good", "bad", "hidden"
NEWS_KINDS: tuple[str, ...] = (GOOD, BAD, HIDDEN)
NEWS_STYLES: frozenset[str] = frozenset({"large", "defensive"})
NEWS_HORIZON = 10  # sessions each pick of an episode is held: the swing horizon of the demo feed
NEWS_MAX_PICK_DAYS = 4
# Shares of episodes by kind, and the annual abnormal drift of the published kinds. The good share is large
# on purpose: the catalyst desk must hold about 25 names at a time for a +25 %/yr edge against ~20 %/yr
# idiosyncratic volatility to show within a quarter of a year (t ~ 0.25/0.21 x sqrt(0.21 yr x 25 names)).
_NEWS_SHARE = np.array([0.62, 0.14, 0.24])
_NEWS_ANNUAL = np.array([0.25, -0.12, 0.0])
_NEWS_ANNUAL[2] = -float(_NEWS_SHARE[:2] @ _NEWS_ANNUAL[:2]) / float(_NEWS_SHARE[2])  # the mean is exactly 0
WORLDS: tuple[str, ...] = ("default", "no_skill")

# -- counter-based random numbers ------------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_VOLUME_SALT = np.uint64(0x5851F42D4C957F2D)
_SHIFT11, _SHIFT27, _SHIFT30, _SHIFT31 = (np.uint64(n) for n in (11, 27, 30, 31))


def _stable_key(*parts: object) -> int:
    """A 64-bit key from the parts' text, identical in every process (unlike ``hash()``)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _unit(*parts: object) -> float:
    """A number in [0, 1) from the parts' text: for per-symbol parameters."""
    return _stable_key(*parts) / 2.0**64


def _splitmix(x: np.ndarray) -> np.ndarray:
    return _mix(x + _GOLDEN)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on ``z`` (already offset by the golden gamma), in place: the streams are large
    arrays and every temporary of theirs is memory traffic. uint64 arithmetic wraps modulo 2**64, which is
    exactly what SplitMix64 needs."""
    z ^= z >> _SHIFT30
    z *= _MIX1
    z ^= z >> _SHIFT27
    z *= _MIX2
    z ^= z >> _SHIFT31
    return z


def _uniforms(keys: np.ndarray, n: int) -> np.ndarray:
    """``(len(keys), n)`` uniforms in (0, 1): the SplitMix64 stream started at each key."""
    counters = keys[:, None] + np.arange(1, n + 1, dtype=np.uint64)[None, :] * _GOLDEN
    counters += _GOLDEN
    bits = _mix(counters)
    bits >>= _SHIFT11
    out = bits.astype(np.float64)
    out += 0.5
    out *= 2.0**-53
    return out


def _normals(keys: np.ndarray, n: int) -> np.ndarray:
    """``(len(keys), n)`` standard normals (Box-Muller on ``_uniforms``); ``n`` must be even."""
    u = _uniforms(keys, n)
    half = n // 2
    radius = np.sqrt(-2.0 * np.log(u[:, :half]))
    angle = 2.0 * np.pi * u[:, half:]
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def _series_normals(key: int, n: int) -> np.ndarray:
    return _normals(np.array([key], dtype=np.uint64), n + n % 2)[0, :n]


def _series_uniforms(key: int, n: int) -> np.ndarray:
    return _uniforms(np.array([key], dtype=np.uint64), n)[0]


# -- the span of sessions (per calendar) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Span:
    dates: tuple[date, ...]
    ordinals: np.ndarray  # int64 proleptic ordinals, for searchsorted on ``date`` arguments
    days_ns: np.ndarray  # datetime64[ns], naive midnight: the daily frame's index
    opens_ns: np.ndarray  # int64 UTC
    closes_ns: np.ndarray  # int64 UTC
    minutes: np.ndarray  # int64: 390, or 210 on an early close

    def index_of(self, day: date) -> int | None:
        """The row of session ``day``; None for a day that is not a session of the span."""
        i = int(np.searchsorted(self.ordinals, day.toordinal()))
        return i if i < len(self.dates) and self.dates[i] == day else None


@cache
def _span(calendar: MarketCalendar) -> _Span:
    dates = tuple(calendar.sessions_between(SPAN_START, SPAN_END))
    ordinals = np.array([d.toordinal() for d in dates], dtype=np.int64)
    opens = np.array([to_ns(calendar.session_open(d)) for d in dates], dtype=np.int64)
    closes = np.array([to_ns(calendar.session_close(d)) for d in dates], dtype=np.int64)
    days_ns = ((ordinals - EPOCH_ORDINAL) * 86_400 * 10**9).astype("datetime64[ns]")
    return _Span(dates, ordinals, days_ns, opens, closes, (closes - opens) // _MINUTE_NS)


# -- the market factor and VIX (per calendar and seed) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Market:
    regime: np.ndarray  # int64 regime per session
    returns: np.ndarray  # the factor's close-to-close log-return per session
    vix: np.ndarray  # (n, 5) open, high, low, close, volume


@cache
def _market(calendar: MarketCalendar, seed: int) -> _Market:
    n = len(_span(calendar).dates)
    switch = _series_uniforms(_stable_key(seed, "market", "regime"), n).tolist()
    stay_or_down = np.cumsum(_TRANSITIONS, axis=1)[:, :2].tolist()
    states = []
    state = NORMAL
    for u in switch:  # a Markov chain is sequential by nature: 5k plain-float steps, once per seed
        state = CALM if u < stay_or_down[state][0] else NORMAL if u < stay_or_down[state][1] else STRESSED
        states.append(state)
    regime = np.array(states, dtype=np.int64)
    shocks = _series_normals(_stable_key(seed, "market", "returns"), n)
    returns = _MKT_DRIFT[regime] + _MKT_VOL[regime] * shocks
    return _Market(regime, returns, _vix_path(seed, regime, returns))


def _vix_path(seed: int, regime: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """VIX bars: log-VIX reverts to a level set by regime and realised vol; it jumps when the market falls."""
    n = len(returns)
    annual = np.sqrt(252.0) * 100.0
    window = 20
    padded = np.concatenate([np.zeros(1), np.cumsum(returns)])
    padded_sq = np.concatenate([np.zeros(1), np.cumsum(returns**2)])
    realised = _MKT_VOL[regime] * annual
    idx = np.arange(window, n + 1)
    mean = (padded[idx] - padded[idx - window]) / window
    var = (padded_sq[idx] - padded_sq[idx - window]) / window - mean**2
    realised[window - 1 :] = np.sqrt(np.maximum(var, 0.0)) * annual
    target = np.log(0.55 * _MKT_VOL[regime] * annual + 0.45 * realised + 5.0)

    noise = _series_normals(_stable_key(seed, "vix", "level"), n)
    drive = (0.08 * target - 5.0 * returns + 0.035 * noise).tolist()
    levels = []
    v = float(target[0])
    for d in drive:  # an AR(1) toward a moving target; sequential, once per seed
        v = 0.92 * v + d
        levels.append(v)
    level = np.array(levels)
    close = np.clip(np.exp(level), 9.0, 85.0)
    previous = np.concatenate([close[:1], close[:-1]])
    gap = _series_normals(_stable_key(seed, "vix", "gap"), n)
    wick = _series_uniforms(_stable_key(seed, "vix", "wick"), 2 * n).reshape(2, n)
    open_ = previous * np.exp(0.4 * np.log(close / previous) + 0.01 * gap)
    high = np.maximum(open_, close) * np.exp(-0.02 * np.log(wick[0]))
    low = np.minimum(open_, close) * np.exp(0.02 * np.log(wick[1]))
    bars = np.column_stack([open_, high, low, close, np.zeros(n)])
    bars[:, :4] = np.round(bars[:, :4], 2)
    return bars


# -- per-symbol parameters and paths ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Profile:
    beta: float
    idio_vol: float  # daily sd of the stock-specific log-return in the normal regime
    alpha: float  # daily stock-specific drift
    start: float  # close at ``_PRICE_ANCHOR``
    earnings_sd: float  # sd of the earnings-day gap; 0 for funds
    spread_bps: float
    base_volume: float


def _between(lo_hi: tuple[float, float], u: float) -> float:
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * u


@cache
def _profile(symbol: str) -> _Profile:
    # Parameters depend on the symbol only, so a name keeps its character whatever the seed.
    if symbol in _FUNDS:
        beta, idio, start, volume, spread = _FUNDS[symbol]
        return _Profile(beta, idio, 0.0, start, 0.0, spread, volume)
    betas, vols, earnings_sd, spread, volumes = _STYLE_RANGES[_STOCK_STYLES.get(symbol, _EXTRA_STYLE)]
    return _Profile(
        beta=_between(betas, _unit("beta", symbol)),
        idio_vol=_between(vols, _unit("vol", symbol)),
        alpha=_between((-0.05, 0.05), _unit("alpha", symbol)) / 252,
        start=float(np.exp(_between((np.log(20.0), np.log(500.0)), _unit("start", symbol)))),
        earnings_sd=earnings_sd,
        spread_bps=spread,
        base_volume=float(np.exp(_between((np.log(volumes[0]), np.log(volumes[1])), _unit("volume", symbol)))),
    )


@cache
def _earnings_index(calendar: MarketCalendar, symbol: str) -> tuple[int, ...]:
    """Session indices (into the span) of the symbol's earnings days: about every 63 sessions."""
    if symbol in _FUNDS or symbol == VIX_SYMBOL:
        return ()
    n = len(_span(calendar).dates)
    offset = int(_unit("earnings-offset", symbol) * _EARNINGS_EVERY)
    found = []
    for quarter, anchor in enumerate(range(offset, n, _EARNINGS_EVERY)):
        jitter = int(_unit("earnings-jitter", symbol, quarter) * 7) - 3  # reports drift a few days
        if 0 <= anchor + jitter < n:
            found.append(anchor + jitter)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class _News:
    starts: np.ndarray  # int64 span index of each episode's first session (ascending; the first is 0)
    pick_days: np.ndarray  # int64 k per episode
    kinds: np.ndarray  # int64 index into NEWS_KINDS per episode
    episode: np.ndarray  # int64 episode number of every session of the span


def _has_news(symbol: str) -> bool:
    return symbol not in _FUNDS and _STOCK_STYLES.get(symbol, _EXTRA_STYLE) in NEWS_STYLES


@cache
def _news(calendar: MarketCalendar, seed: int, symbol: str) -> _News | None:
    """The symbol's episodes over the span (None for a name without news). Independent of the world."""
    if not _has_news(symbol):
        return None
    n = len(_span(calendar).dates)
    most = n // NEWS_HORIZON + 1  # episodes last at least NEWS_HORIZON sessions
    pick_days = 1 + (_series_uniforms(_stable_key(seed, symbol, "news", "days"), most) * NEWS_MAX_PICK_DAYS)
    pick_days = pick_days.astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(pick_days + NEWS_HORIZON - 1)[:-1]])
    keep = starts < n
    kind_u = _series_uniforms(_stable_key(seed, symbol, "news", "kind"), most)
    kinds = np.searchsorted(np.cumsum(_NEWS_SHARE)[:-1], kind_u, side="right").astype(np.int64)
    starts, pick_days, kinds = starts[keep], pick_days[keep], kinds[keep]
    episode = np.searchsorted(starts, np.arange(n), side="right") - 1
    return _News(starts, pick_days, kinds, episode)


def _news_daily_drift(world: str) -> np.ndarray:
    """Daily abnormal log drift per kind in ``world``."""
    return _NEWS_ANNUAL / 252.0 if world == "default" else np.zeros(len(NEWS_KINDS))


@lru_cache(maxsize=8)
def _variance_profile(n_minutes: int) -> np.ndarray:
    """Share of the day's variance per minute: U-shaped (busy open and close), summing to n/390."""
    k = np.arange(n_minutes)
    weight = 1.0 + 2.0 * np.exp(-k / 25.0) + 1.0 * np.exp(-(n_minutes - 1 - k) / 25.0)
    return weight / weight.sum() * (n_minutes / _NORMAL_MINUTES)


@lru_cache(maxsize=8)
def _volume_profile(n_minutes: int) -> np.ndarray:
    k = np.arange(n_minutes)
    return 1.0 + 3.0 * np.exp(-k / 20.0) + 2.0 * np.exp(-(n_minutes - 1 - k) / 25.0)


def _bridges(
    keys: np.ndarray, open_: np.ndarray, close: np.ndarray, sigma: np.ndarray, n_minutes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unrounded minute OHLC, each ``(sessions, n_minutes)``, for sessions of equal length.

    A Brownian bridge in log price, pinned at the session's open and close, with U-shaped variance; the
    first minute opens at the day's open and the last closes at the day's close exactly. Highs are at or
    above max(open, close) and lows at or below min(open, close) *before* rounding, so rounding (monotone)
    keeps every bar consistent and max(round(high)) == round(max(high)): the daily high/low can be taken
    from the unrounded minutes without rounding all of them.
    """
    uniforms = _uniforms(keys, 3 * n_minutes)
    half = n_minutes // 2
    # The same arithmetic as the formulas in the comments, in place: these are the largest arrays the
    # synthetic world makes (every session's minutes), and their temporaries cost more than the maths.
    # shocks = sqrt(-2 log u1) * [cos(2 pi u2), sin(2 pi u2)]   (Box-Muller)
    radius = np.log(uniforms[:, :half])
    radius *= -2.0
    np.sqrt(radius, out=radius)
    angle = uniforms[:, half:n_minutes] * (2.0 * np.pi)
    shocks = np.empty((len(keys), n_minutes))
    np.cos(angle, out=shocks[:, :half])
    np.sin(angle, out=shocks[:, half:])
    shocks[:, :half] *= radius
    shocks[:, half:] *= radius

    share = _variance_profile(n_minutes)  # sums to n/390: a short session moves less
    minute_sd = sigma[:, None] * np.sqrt(share)[None, :]
    # walk = cumsum(shocks * minute_sd); path = log open + walk - elapsed * walk[-1] + elapsed * log(close/open)
    shocks *= minute_sd
    walk = np.cumsum(shocks, axis=1, out=shocks)
    elapsed = (np.cumsum(share) / share.sum())[None, :]
    log_open, log_close = np.log(open_)[:, None], np.log(close)[:, None]
    path = log_open + walk
    path -= elapsed * walk[:, -1:]
    path += elapsed * (log_close - log_open)

    closes = np.exp(path, out=path)
    closes[:, -1] = close
    opens = np.empty_like(closes)
    opens[:, 0] = open_
    opens[:, 1:] = closes[:, :-1]
    # Wicks: each minute trades a little beyond its open/close, exponentially distributed:
    # high = max(open, close) * exp(-log u3 * sd / 2), low = min(open, close) * exp(-(-log u4 * sd / 2)).
    up = np.log(uniforms[:, n_minutes : 2 * n_minutes])
    np.negative(up, out=up)
    up *= 0.5
    up *= minute_sd
    highs = np.maximum(opens, closes)
    highs *= np.exp(up, out=up)
    down = np.log(uniforms[:, 2 * n_minutes :])
    np.negative(down, out=down)
    down *= 0.5
    down *= minute_sd
    np.negative(down, out=down)
    lows = np.minimum(opens, closes)
    lows *= np.exp(down, out=down)
    return opens, highs, lows, closes


def _cents(prices: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(prices, 2), 0.01)


class _SymbolPath:
    """One symbol's daily path over the span; intraday bridges (hence high/low) are filled in lazily."""

    def __init__(self, calendar: MarketCalendar, seed: int, symbol: str, world: str) -> None:
        span, market = _span(calendar), _market(calendar, seed)
        profile = _profile(symbol)
        n = len(span.dates)
        self.span = span
        self.spread_bps = profile.spread_bps

        earnings = np.zeros(n, dtype=bool)
        earnings[list(_earnings_index(calendar, symbol))] = True
        idio_sd = profile.idio_vol * _IDIO_MULT[market.regime]
        jump = np.where(earnings, profile.earnings_sd * _series_normals(_stable_key(seed, symbol, "jump"), n), 0.0)
        # Beta scales the market's moves around its mean, not its long-run drift: compounding beta x the
        # drift for 20 years would give absurd prices. The trend is the market's drift plus alpha.
        market_mean = float(market.returns.mean())
        trend = market_mean + profile.alpha
        shock = (
            profile.beta * (market.returns - market_mean)
            + idio_sd * _series_normals(_stable_key(seed, symbol, "idio"), n)
            + jump
        )
        # Log price = trend + an AR(1) deviation (the mean reversion), solved in closed form:
        # y_t = d^t * sum_{s<=t} d^-s * e_s with d = 1 - kappa; d^-n stays small (~e^7) over the span.
        decay = (1.0 - _MEAN_REVERSION) ** np.arange(1, n + 1)
        deviation = decay * np.cumsum(shock / decay)
        # News drift is added outside the mean reversion, which would otherwise pull part of it back.
        news = _news(calendar, seed, symbol)
        drift = np.zeros(n) if news is None else _news_daily_drift(world)[news.kinds][news.episode]
        log_path = np.concatenate([[0.0], trend * np.arange(1, n + 1) + deviation + np.cumsum(drift)])
        # Scale so the price is ``profile.start`` at the anchor: plausible prices when the toolkit runs.
        anchor = int(np.searchsorted(span.ordinals, _PRICE_ANCHOR.toordinal()))
        log_path += np.log(profile.start) - log_path[anchor + 1]
        log_close = log_path[1:]
        move = np.diff(log_path)

        # Part of each day's move happens overnight; an earnings surprise happens entirely overnight; news
        # drift never does (it belongs to the open-to-close part, so a pick entered at an open collects it all).
        gap = 0.3 * (move - jump - drift) + 0.25 * idio_sd * _series_normals(_stable_key(seed, symbol, "gap"), n) + jump
        close = np.maximum(np.round(np.exp(log_close), 2), 0.01)
        previous_close = np.concatenate([[max(round(float(np.exp(log_path[0])), 2), 0.01)], close[:-1]])
        open_ = np.maximum(np.round(previous_close * np.exp(gap), 2), 0.01)

        day_sd = np.sqrt((profile.beta * _MKT_VOL[market.regime]) ** 2 + idio_sd**2)
        surprise = np.abs(move) / day_sd
        volume = (
            profile.base_volume
            * np.exp(0.3 * _series_normals(_stable_key(seed, symbol, "volume"), n) - 0.045)
            * np.maximum(0.3, 1.0 + 0.5 * (surprise - 0.8))
            * _VOLUME_MULT[market.regime]
            * np.where(earnings, 2.5, 1.0)
        )
        self.open = open_
        self.close = close
        self.volume = np.maximum(np.round(volume), 100.0)
        self.sigma = _INTRADAY_SHARE * day_sd
        self.keys = _splitmix(
            np.full(n, _stable_key(seed, symbol, "intraday"), dtype=np.uint64)
            ^ _splitmix(span.ordinals.astype(np.uint64))
        )
        self.high = np.full(n, np.nan)
        self.low = np.full(n, np.nan)
        self._ready = np.zeros((n + _BLOCK - 1) // _BLOCK, dtype=bool)

    def ready(self, lo: int, hi: int) -> bool:
        """Whether the daily high/low of sessions [lo, hi) are filled in already."""
        return bool(self._ready[lo // _BLOCK : (hi - 1) // _BLOCK + 1].all())

    def ensure_range(self, lo: int, hi: int, *, sessions: int = _BLOCK) -> None:
        """Fill daily high/low for sessions [lo, hi) from their minute bridges: the missing blocks, up to
        ``sessions`` sessions at a time (a session's values do not depend on the others built with it)."""
        for first, last in self._missing_runs(lo // _BLOCK, (hi - 1) // _BLOCK, max(1, sessions // _BLOCK)):
            rows = np.arange(first * _BLOCK, min((last + 1) * _BLOCK, len(self.open)))
            for n_minutes in np.unique(self.span.minutes[rows]):
                sel = rows[self.span.minutes[rows] == n_minutes]
                _, h, low, _ = _bridges(
                    self.keys[sel], self.open[sel], self.close[sel], self.sigma[sel], int(n_minutes)
                )
                self.high[sel] = _cents(h.max(axis=1))
                self.low[sel] = _cents(low.min(axis=1))
            self._ready[first : last + 1] = True

    def _missing_runs(self, first: int, last: int, longest: int) -> Iterator[tuple[int, int]]:
        """The blocks of [first, last] not yet built, as runs of consecutive ones (first, last), each at most
        ``longest`` blocks long."""
        start: int | None = None
        for block in range(first, last + 1):
            if self._ready[block]:
                if start is not None:
                    yield start, block - 1
                start = None
            elif start is None:
                start = block
            elif block - start == longest:
                yield start, block - 1
                start = block
        if start is not None:
            yield start, last

    def minutes(self, i: int) -> np.ndarray:
        """Session ``i``'s minute bars as an ``(n, 5)`` array (open, high, low, close, volume)."""
        return _session_minutes(self, i)


@cache
def _symbol_path(calendar: MarketCalendar, seed: int, symbol: str, world: str = "default") -> _SymbolPath:
    return _SymbolPath(calendar, seed, symbol, world)


@lru_cache(maxsize=1024)
def _session_minutes(path: _SymbolPath, i: int) -> np.ndarray:
    n_minutes = int(path.span.minutes[i])
    sel = slice(i, i + 1)
    o, h, low, c = _bridges(path.keys[sel], path.open[sel], path.close[sel], path.sigma[sel], n_minutes)
    noise = _normals(path.keys[sel] ^ _VOLUME_SALT, n_minutes)[0]
    weight = _volume_profile(n_minutes) * np.exp(0.35 * noise)
    volume = _apportion(path.volume[i], weight)
    bars = np.column_stack([_cents(o[0]), _cents(h[0]), _cents(low[0]), _cents(c[0]), volume])
    bars.setflags(write=False)
    return bars


def _apportion(total: float, weight: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to ``weight`` into integers that sum to it exactly."""
    raw = total * weight / weight.sum()
    whole = np.floor(raw)
    short = int(round(total - whole.sum()))
    if short > 0:  # largest remainders get the leftover shares
        whole[np.argsort(whole - raw, kind="stable")[:short]] += 1.0
    return whole


# -- the adapter -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewsEpisode:
    """One news episode of one symbol, as seen from one of its sessions (see the module doc)."""

    symbol: str
    kind: str  # one of NEWS_KINDS
    start: date  # its first session
    day: int  # the session's position in the episode, 0 = its first session
    pick_days: int  # k: the sessions a source that knows it picks the symbol (days 0..k-1)
    sessions: int  # its length, k + NEWS_HORIZON - 1
    daily_drift: float  # abnormal log drift added to each of its sessions' open-to-close return


class SyntheticMarketData:
    """Deterministic synthetic bars for ``DEFAULT_UNIVERSE`` plus ``extra_symbols``, and a VIX series.

    Args:
        clock: the Clock port; bars are returned only once complete at ``clock.now()``.
        calendar: the XNYS calendar (``MarketCalendar.xnys()``).
        seed: the world; the same (seed, symbol) gives the same bars in every process.
        extra_symbols: tickers to add to the universe (modelled as ordinary large caps with earnings).
        world: ``"default"``, or ``"no_skill"`` (tests only): the same episodes without any news drift.
    """

    def __init__(
        self,
        clock: Clock,
        calendar: MarketCalendar,
        *,
        seed: int = 42,
        extra_symbols: Iterable[str] = (),
        world: str = "default",
    ) -> None:
        if world not in WORLDS:
            raise ValueError(f"world must be one of {', '.join(WORLDS)}, got {world!r}")
        self._clock = clock
        self._calendar = calendar
        self._seed = int(seed)
        self._world = world
        self._symbols = frozenset(DEFAULT_UNIVERSE) | frozenset(extra_symbols)
        self._chains: SyntheticOptionChains | None = None

    # -- extras beyond the port --------------------------------------------------------------------
    @property
    def universe(self) -> tuple[str, ...]:
        """Every tradable symbol this source knows, sorted (VIX is an index and not included)."""
        return tuple(sorted(self._symbols))

    def earnings_dates(self, symbol: str) -> list[date]:
        """The symbol's earnings days over the whole span (not clock-limited: they are a schedule).

        Empty for funds, VIX and unknown symbols.
        """
        if symbol not in self._symbols:
            return []
        dates = _span(self._calendar).dates
        return [dates[i] for i in _earnings_index(self._calendar, symbol)]

    @property
    def world(self) -> str:
        return self._world

    def beta(self, symbol: str) -> float | None:
        """The symbol's generating beta to the market factor (a vendor's published beta, say). None if unknown."""
        return _profile(symbol).beta if symbol in self._symbols else None

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def clock(self) -> Clock:
        return self._clock

    def daily_vol(self, symbol: str) -> float:
        """The symbol's generating daily volatility in the normal regime (market and own parts together): what
        the option surface is built on, as a vendor's surface is on the stock's realised behaviour."""
        profile = _profile(symbol)
        return float(np.hypot(profile.beta * _MKT_VOL[NORMAL], profile.idio_vol))

    def earnings_sd(self, symbol: str) -> float:
        """The standard deviation of the symbol's earnings-day gap (0 for a fund)."""
        return _profile(symbol).earnings_sd

    def spread_bps(self, symbol: str) -> float:
        """The symbol's quoted spread in basis points."""
        return _profile(symbol).spread_bps

    def news_drift(self, kind: str) -> float:
        """The daily abnormal log drift of an episode of ``kind`` in this world (for the feed and for tests)."""
        return float(_news_daily_drift(self._world)[NEWS_KINDS.index(kind)])

    def news_symbols(self) -> tuple[str, ...]:
        """The symbols whose timeline carries news episodes, sorted."""
        return tuple(s for s in self.universe if _has_news(s))

    def news(self, symbol: str, session: date) -> NewsEpisode | None:
        """The news episode ``session`` falls in, for a symbol with news; None otherwise or outside the span.

        The world's hidden truth, not clock-limited (like the earnings schedule): only the synthetic feed
        reads it, on the morning of the session it publishes for, and tests.
        """
        news = self._news_of(symbol)
        i = _span(self._calendar).index_of(session)
        if news is None or i is None:
            return None
        e = int(news.episode[i])
        return self._episode(symbol, news, e, day=i - int(news.starts[e]))

    def episodes(self, symbol: str, start: date, end: date) -> list[NewsEpisode]:
        """Every news episode of the symbol that begins in [start, end], seen from its first session (tests)."""
        news = self._news_of(symbol)
        if news is None:
            return []
        ordinals = _span(self._calendar).ordinals[news.starts]
        lo = int(np.searchsorted(ordinals, start.toordinal(), side="left"))
        hi = int(np.searchsorted(ordinals, end.toordinal(), side="right"))
        return [self._episode(symbol, news, e, day=0) for e in range(lo, hi)]

    def _news_of(self, symbol: str) -> _News | None:
        return _news(self._calendar, self._seed, symbol) if symbol in self._symbols else None

    def _episode(self, symbol: str, news: _News, e: int, *, day: int) -> NewsEpisode:
        pick_days = int(news.pick_days[e])
        kind = NEWS_KINDS[int(news.kinds[e])]
        return NewsEpisode(
            symbol=symbol,
            kind=kind,
            start=_span(self._calendar).dates[int(news.starts[e])],
            day=day,
            pick_days=pick_days,
            sessions=pick_days + NEWS_HORIZON - 1,
            daily_drift=self.news_drift(kind),
        )

    # -- MarketData --------------------------------------------------------------------------------
    def has_symbol(self, symbol: str) -> bool:
        return symbol in self._symbols or symbol == VIX_SYMBOL

    def daily_bars(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        return daily_frame(*self.daily_arrays(symbol, start, end))

    def daily_arrays(self, symbol: str, start: date, end: date) -> tuple[np.ndarray, np.ndarray]:
        if symbol == VIX_SYMBOL:
            lo, hi = self._daily_range(start, end)
            if hi <= lo:
                return NO_BARS
            return _span(self._calendar).days_ns[lo:hi].view(np.int64), _market(self._calendar, self._seed).vix[lo:hi]
        if symbol not in self._symbols:
            return NO_BARS
        lo, hi = self._daily_range(start, end)
        if hi <= lo:
            return NO_BARS
        path = _symbol_path(self._calendar, self._seed, symbol, self._world)
        path.ensure_range(lo, hi)
        rows = slice(lo, hi)
        columns = [path.open[rows], path.high[rows], path.low[rows], path.close[rows], path.volume[rows]]
        return path.span.days_ns[rows].view(np.int64), np.column_stack(columns)

    def sync_daily(self, symbols: Iterable[str], start: date, end: date) -> int:
        """``ports.UniverseDailyBars``: fill in the daily high/low of these symbols over [start, end] before a
        step reads them one by one, several symbols at a time on ``_THREADS`` threads (the minute bridges behind
        them are most of what the world costs to build, and each symbol's are its own). The same numbers as
        when each read builds its own. Returns how many symbols had sessions to fill."""
        lo, hi = self._daily_range(start, end)
        if hi <= lo:
            return 0
        # Built here, in one thread: each path is cached for the process, and built once.
        paths = [_symbol_path(self._calendar, self._seed, symbol, self._world)
                 for symbol in dict.fromkeys(symbols) if symbol in self._symbols]  # fmt: skip
        missing = [path for path in paths if not path.ready(lo, hi)]
        if len(missing) < 2 or _THREADS == 1:
            for path in missing:
                path.ensure_range(lo, hi)
        else:
            with ThreadPoolExecutor(max_workers=_THREADS) as pool:
                for _ in pool.map(lambda path: path.ensure_range(lo, hi, sessions=_THREADED_SESSIONS), missing):
                    pass
        return len(missing)

    def session_range(self, symbol: str, day: date) -> tuple[float, float] | None:
        # The daily high and low are the extremes of the session's minute bars by construction (``_bridges``).
        i = _span(self._calendar).index_of(day)
        if symbol not in self._symbols or i is None:
            return None
        path = _symbol_path(self._calendar, self._seed, symbol, self._world)
        path.ensure_range(i, i + 1)
        return float(path.low[i]), float(path.high[i])

    def vix_daily(self, start: date, end: date) -> pd.DataFrame:
        return daily_frame(*self.daily_arrays(VIX_SYMBOL, start, end))

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        return minute_frame(*self.minute_arrays(symbol, start, end))

    def minute_arrays(self, symbol: str, start: datetime, end: datetime) -> tuple[np.ndarray, np.ndarray]:
        require_aware("start", start)
        require_aware("end", end)
        if symbol not in self._symbols:
            return NO_BARS  # VIX is daily only
        span = _span(self._calendar)
        start_ns = to_ns(start)
        # A bar starting at t is complete at t + 1 minute: cap starts at now - 1 minute (inclusive).
        stop_ns = min(to_ns(end), to_ns(self._clock.now()) - _MINUTE_NS + 1)
        first = int(np.searchsorted(span.closes_ns, start_ns, side="right"))
        last = int(np.searchsorted(span.opens_ns, stop_ns, side="left"))
        if stop_ns <= start_ns or last <= first:
            return NO_BARS
        path = _symbol_path(self._calendar, self._seed, symbol, self._world)
        starts, chunks = [], []
        for i in range(first, last):
            # Minute k of the session starts at open + k minutes: the window is a slice, [first k at or after
            # start_ns, first k at or after stop_ns), found by arithmetic (ceiling division) instead of a mask.
            open_ns, n_minutes = int(span.opens_ns[i]), int(span.minutes[i])
            lo = min(max(0, -((open_ns - start_ns) // _MINUTE_NS)), n_minutes)
            hi = min(max(0, -((open_ns - stop_ns) // _MINUTE_NS)), n_minutes)
            starts.append(open_ns + np.arange(lo, hi, dtype=np.int64) * _MINUTE_NS)
            chunks.append(path.minutes(i)[lo:hi])
        if len(starts) == 1:
            return starts[0], chunks[0]
        return np.concatenate(starts), np.concatenate(chunks)

    def latest_quote(self, symbol: str) -> Quote | None:
        if not self.has_symbol(symbol):
            return None
        span = _span(self._calendar)
        now = self._clock.now()
        now_ns = to_ns(now)
        i = int(np.searchsorted(span.opens_ns, now_ns, side="right")) - 1
        done = (now_ns - int(span.opens_ns[i])) // _MINUTE_NS if i >= 0 else 0
        in_session = i >= 0 and now_ns < span.closes_ns[i]
        if symbol != VIX_SYMBOL and in_session and done >= 1:
            path = _symbol_path(self._calendar, self._seed, symbol, self._world)
            last = float(path.minutes(i)[done - 1, 3])
            quoted_ns = int(span.opens_ns[i]) + int(done) * _MINUTE_NS
            return quote_from_last(symbol, last, quoted_ns, path.spread_bps)
        closed = int(np.searchsorted(span.closes_ns, now_ns, side="right"))
        if closed == 0:
            return None
        j = closed - 1
        if symbol == VIX_SYMBOL:  # an index has no book: bid = ask = last
            vix_close = float(_market(self._calendar, self._seed).vix[j, 3])
            return quote_from_last(symbol, vix_close, int(span.closes_ns[j]))
        path = _symbol_path(self._calendar, self._seed, symbol, self._world)
        return quote_from_last(symbol, float(path.close[j]), int(span.closes_ns[j]), path.spread_bps)

    # -- OptionChains: listed options priced off the world's IV surface (adapters/synthetic_options.py) ------
    def option_chain(self, underlying: str, first_expiry: date, last_expiry: date) -> list[OptionQuote]:
        return self._options().option_chain(underlying, first_expiry, last_expiry)

    def option_quotes(self, contracts: Sequence[OptionContract]) -> dict[str, OptionQuote]:
        return self._options().option_quotes(contracts)

    def _options(self) -> SyntheticOptionChains:
        if self._chains is None:
            from autotrader.adapters.synthetic_options import SyntheticOptionChains

            self._chains = SyntheticOptionChains(self, self._calendar)
        return self._chains

    # -- helpers -----------------------------------------------------------------------------------
    def _daily_range(self, start: date, end: date) -> tuple[int, int]:
        """Span indices [lo, hi) of sessions in [start, end] whose close is at or before the clock."""
        span = _span(self._calendar)
        lo = int(np.searchsorted(span.ordinals, start.toordinal(), side="left"))
        hi = int(np.searchsorted(span.ordinals, end.toordinal(), side="right"))
        complete = int(np.searchsorted(span.closes_ns, to_ns(self._clock.now()), side="right"))
        return lo, min(hi, complete)
