"""Market-model event study: abnormal returns of many signals at once. Pure numpy; nothing here reads a clock,
a ledger or a file.

**Layout.** ``stock`` is an (S sessions × K symbols) array of simple daily returns, ``stock[t, k]`` the return
of symbol k over session t (close t−1 → close t; NaN when either close is missing); ``market`` is the (S,)
array of the benchmark's (SPY's) returns on the same sessions. A signal (an *event*) is a symbol column
``symbol[i]`` and an entry session index ``entry[i]``: its holding window is sessions ``entry+1 … entry+h``
(the caller aligns the entry so that session ``entry + 1`` is the first return it earns). ``side[i]`` is +1
for a buy and −1 for a sell: a sell's abnormal return is negated, so higher is always better.

**Market model.** Per event, α and β are the OLS intercept and slope of the stock's returns on the market's
over sessions ``entry−250 … entry−11`` (clipped at the panel's start; sessions where either return is NaN
are skipped). With fewer than 60 usable sessions, or a market without variance there, α = 0, β = 1 and
``fallback`` is set (the abnormal return is then the plain excess over the market).

**Abnormal return** at session t: ``AR = r[t] − (α + β r_m[t])`` (times ``side``); the cumulative abnormal
return at horizon h is ``CAR_h = Σ_{j=1..h} AR[entry + j]``, NaN when any of those sessions is missing or
beyond the panel (still pending).

These daily paths serve the scorecard's event-window profile. A signal's own abnormal return at a horizon,
which every scorecard figure reports, is ``policy.outcomes.abnormal_returns`` (from the entry instant, log
returns; its ``market_fits`` run ``market_model`` here on daily log returns).

Usage (a DataFrame of returns ``df`` indexed by session, one column per symbol)::

    from autotrader.policy import event_study as es
    stock, market = df.to_numpy(), spy.to_numpy()
    symbol = df.columns.get_indexer(signals.symbol)     # column of each signal
    entry = df.index.get_indexer(signals.entry_session)  # session index of each entry
    model = es.market_model(stock, market, symbol, entry)
    car = es.cumulative_abnormal(stock, market, symbol, entry, model, (1, 5, 20, 60), side=side)  # (E, 4)
    ar = es.paths(stock, market, symbol, entry, range(1, h + 1), model=model, side=side)  # (E, h) per session
    profile = es.event_profile(stock, market, symbol, entry, model, rng, side=side)  # mean CAR −20 … +60
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from autotrader.policy.inference import block_bootstrap_means, block_length, small_sample_widening

__all__ = [
    "ESTIMATION_WINDOW",
    "MIN_ESTIMATION_SESSIONS",
    "MarketModel",
    "Profile",
    "cumulative_abnormal",
    "event_profile",
    "market_model",
    "paths",
]

#: The estimation window, in sessions relative to the entry (inclusive): ends well before the signal so that
#: the run-up a signal may react to does not leak into its β.
ESTIMATION_WINDOW = (-250, -11)
#: Fewer usable sessions than this and the market model falls back to α = 0, β = 1.
MIN_ESTIMATION_SESSIONS = 60
#: A market variance at or below this over the window counts as none (a constant series).
ZERO_VARIANCE = 1e-14
#: Symbol columns per block of prefix sums (bounded memory however wide the panel).
COLUMNS_PER_CHUNK = 256
#: Events per block when gathering per-session paths.
EVENTS_PER_CHUNK = 1 << 15

NAN = float("nan")


@dataclass(frozen=True)
class MarketModel:
    alpha: np.ndarray  # (E,) per-session intercept
    beta: np.ndarray  # (E,)
    n_obs: np.ndarray  # (E,) usable sessions in the estimation window
    fallback: np.ndarray  # (E,) bool: too little history, α = 0 and β = 1

    def take(self, index: ArrayLike) -> MarketModel:
        """The models of events ``index`` (positions into these arrays), e.g. one fit shared by many rows."""
        i = np.asarray(index, dtype=np.int64)
        return MarketModel(self.alpha[i], self.beta[i], self.n_obs[i], self.fallback[i])


def _events(symbol: ArrayLike, entry: ArrayLike, n_sessions: int, n_symbols: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.asarray(symbol, dtype=np.int64).ravel()
    e = np.asarray(entry, dtype=np.int64).ravel()
    if k.shape != e.shape:
        raise ValueError(f"symbol and entry differ in length: {k.shape[0]} != {e.shape[0]}")
    if k.size and (k.min() < 0 or k.max() >= n_symbols or e.min() < 0 or e.max() >= n_sessions):
        raise ValueError("every symbol must be a column and every entry a session of the panel")
    return k, e


def _window_sums(
    stock: np.ndarray, market: np.ndarray, k: np.ndarray, e: np.ndarray, windows: Sequence[tuple[int, int]]
) -> np.ndarray:
    """(5, E, W) sums over each event's sessions ``entry+lo … entry+hi`` (clipped to the panel) where both
    returns exist: count, Σr_m, Σr, Σ r·r_m, Σ r_m²; from per-column prefix sums, a block of columns at a time."""
    n_sessions = stock.shape[0]
    out = np.zeros((5, len(e), len(windows)))
    used, column = np.unique(k, return_inverse=True)
    bounds = np.asarray(windows, dtype=np.int64)
    for first in range(0, len(used), COLUMNS_PER_CHUNK):
        cols = used[first : first + COLUMNS_PER_CHUNK]
        r = stock[:, cols]
        m = np.broadcast_to(market[:, None], r.shape)
        valid = ~(np.isnan(r) | np.isnan(m))
        x, y = np.where(valid, m, 0.0), np.where(valid, r, 0.0)
        # Sessions first, so the running sum adds whole contiguous rows (fast), then terms first for indexing.
        terms = np.stack([valid.astype(np.float64), x, y, x * y, x * x], axis=1)
        running = np.cumsum(terms, axis=0).transpose(1, 0, 2)
        prefix = np.concatenate([np.zeros((5, 1, len(cols))), running], axis=1)
        members = np.flatnonzero((column >= first) & (column < first + len(cols)))
        local = column[members] - first
        lo = np.clip(e[members, None] + bounds[:, 0], 0, n_sessions)
        hi = np.clip(e[members, None] + bounds[:, 1] + 1, 0, n_sessions)
        hi = np.maximum(hi, lo)
        out[:, members, :] = prefix[:, hi, local[:, None]] - prefix[:, lo, local[:, None]]
    return out


def market_model(
    stock: ArrayLike,
    market: ArrayLike,
    symbol: ArrayLike,
    entry: ArrayLike,
    *,
    window: tuple[int, int] = ESTIMATION_WINDOW,
    min_obs: int = MIN_ESTIMATION_SESSIONS,
) -> MarketModel:
    """Per event, the OLS fit ``r = α + β r_m`` over sessions ``entry+window[0] … entry+window[1]``:

        β = (n Σxy − Σx Σy) / (n Σx² − (Σx)²),   α = (Σy − β Σx) / n

    (x the market's, y the stock's returns, n the sessions where both exist). Falls back to α = 0, β = 1 with
    ``fallback`` set when n < ``min_obs`` or the market's variance over the window is zero."""
    r = np.asarray(stock, dtype=np.float64)
    m = np.asarray(market, dtype=np.float64).ravel()
    k, e = _events(symbol, entry, r.shape[0], r.shape[1])
    n, sx, sy, sxy, sxx = _window_sums(r, m, k, e, [window])[:, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = n * sxx - sx * sx
        fallback = (n < min_obs) | ~(spread > ZERO_VARIANCE * n * n)
        beta = np.where(fallback, 1.0, (n * sxy - sx * sy) / np.where(fallback, 1.0, spread))
        alpha = np.where(fallback, 0.0, (sy - beta * sx) / np.where(n > 0, n, 1.0))
    return MarketModel(alpha, beta, n.astype(np.int64), fallback)


def _side(side: ArrayLike | None, size: int) -> np.ndarray:
    if side is None:
        return np.ones(size)
    s = np.asarray(side, dtype=np.float64).ravel()
    if s.shape[0] != size or not np.all(np.abs(s) == 1.0):
        raise ValueError("side must hold +1 (buy) or -1 (sell) for every event")
    return s


def cumulative_abnormal(
    stock: ArrayLike,
    market: ArrayLike,
    symbol: ArrayLike,
    entry: ArrayLike,
    model: MarketModel,
    horizons: Iterable[int],
    *,
    side: ArrayLike | None = None,
) -> np.ndarray:
    """(E, H) ``CAR_h = side · Σ_{j=1..h} (r[entry+j] − α − β r_m[entry+j])`` for each horizon h; NaN when a
    session of the window is missing or not yet in the panel. O(S·K + E·H) from prefix sums."""
    r = np.asarray(stock, dtype=np.float64)
    m = np.asarray(market, dtype=np.float64).ravel()
    k, e = _events(symbol, entry, r.shape[0], r.shape[1])
    hs = np.asarray(list(horizons), dtype=np.int64)
    if hs.size and hs.min() < 1:
        raise ValueError(f"horizons must be >= 1, got {hs.tolist()}")
    n, sx, sy, _, _ = _window_sums(r, m, k, e, [(1, int(h)) for h in hs])
    complete = (n == hs) & (e[:, None] + hs <= r.shape[0] - 1)
    car = sy - hs * model.alpha[:, None] - model.beta[:, None] * sx
    return np.where(complete, car, NAN) * _side(side, len(e))[:, None]


def paths(
    stock: ArrayLike,
    market: ArrayLike,
    symbol: ArrayLike,
    entry: ArrayLike,
    offsets: Iterable[int],
    *,
    model: MarketModel | None = None,
    side: ArrayLike | None = None,
) -> np.ndarray:
    """(E, len(offsets)) per-session returns at sessions ``entry + offset``: abnormal
    (``side · (r − α − β r_m)``) with a ``model``, raw (``side · r``) without. NaN outside the panel or where a
    return is missing. These are the inputs of a calendar-time portfolio and of the event-window profile."""
    r = np.asarray(stock, dtype=np.float64)
    m = np.asarray(market, dtype=np.float64).ravel()
    k, e = _events(symbol, entry, r.shape[0], r.shape[1])
    steps = np.asarray(list(offsets), dtype=np.int64)
    sign = _side(side, len(e))
    out = np.empty((len(e), len(steps)))
    for first in range(0, len(e), EVENTS_PER_CHUNK):
        sl = slice(first, first + EVENTS_PER_CHUNK)
        rows = e[sl, None] + steps
        inside = (rows >= 0) & (rows < r.shape[0])
        rows = np.where(inside, rows, 0)
        value = np.take(r, rows * r.shape[1] + k[sl, None])  # flat positions: one gather, no index broadcast
        if model is not None:
            value = value - model.alpha[sl, None] - model.beta[sl, None] * m[rows]
        out[sl] = np.where(inside, value, NAN) * sign[sl, None]
    return out


@dataclass(frozen=True)
class Profile:
    offsets: np.ndarray  # −pre … post
    mean: np.ndarray  # mean CAR at each offset, 0 at the entry
    lo: np.ndarray  # percentile band from the date-block bootstrap
    hi: np.ndarray
    n: np.ndarray  # events with a value at each offset
    level: float


def event_profile(
    stock: ArrayLike,
    market: ArrayLike,
    symbol: ArrayLike,
    entry: ArrayLike,
    model: MarketModel,
    rng: np.random.Generator,
    *,
    side: ArrayLike | None = None,
    dates: ArrayLike | None = None,
    pre: int = 20,
    post: int = 60,
    block: int | None = None,
    resamples: int = 2000,
    level: float = 0.95,
) -> Profile:
    """Mean cumulative abnormal return from ``pre`` sessions before to ``post`` after the entry, anchored at 0
    on the entry session so that the curve at +h is the mean ``CAR_h``:

        CAR(τ) = Σ_{s=1..τ} AR[entry+s]  (τ > 0),   0  (τ = 0),   −Σ_{s=τ+1..0} AR[entry+s]  (τ < 0)

    A source that chases price shows a curve that climbs into the entry (CAR(−20) well below 0). The band is
    the percentile interval of the date-block bootstrap
    (:func:`~autotrader.policy.inference.block_bootstrap_means`, clustered on ``dates``, default the entry
    sessions; ``block`` default :func:`block_length` of ``post``), widened for few blocks as in
    :func:`~autotrader.policy.inference.block_bootstrap_mean` (NaN with a single block), so events on the same
    or neighbouring dates move together. An event contributes at an offset only if every AR between it and
    the entry exists. The offsets −pre … −11 lie inside the estimation window, where the ARs
    average 0 by design.
    """
    ar = paths(stock, market, symbol, entry, range(-pre + 1, post + 1), model=model, side=side)
    before = -np.cumsum(ar[:, :pre][:, ::-1], axis=1)[:, ::-1]  # offsets −pre … −1
    after = np.cumsum(ar[:, pre:], axis=1)  # offsets 1 … post
    curves = np.concatenate([before, np.zeros((len(ar), 1)), after], axis=1)
    labels = np.asarray(entry).ravel() if dates is None else np.asarray(dates).ravel()
    n_dates = len(np.unique(labels))
    length = min(block or block_length(post, n_dates), max(1, n_dates))
    means, draws = block_bootstrap_means(curves, labels, rng, block=length, resamples=resamples)
    widened = means + small_sample_widening(-(-n_dates // length), level) * (draws - means)  # NaN: one block
    quantile = np.nanquantile if np.isnan(widened).any() else np.quantile  # nanquantile is much the slower
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column (one block) is a NaN band
        lo, hi = quantile(widened, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return Profile(np.arange(-pre, post + 1), means, lo, hi, (~np.isnan(curves)).sum(axis=0), level)
