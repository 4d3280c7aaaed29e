"""The indicator engine: each indicator for the whole universe at once. Pure numpy.

Arrays are ``(bars, symbols)``: time on axis 0, one column per symbol, float64, **NaN where a symbol has no
bar**. A 1-D array (one symbol's bars) works too and comes back 1-D. Every output has the input's shape and is
aligned with it: row ``t`` uses bars ``<= t`` only, so truncating the data at a bar never changes a value at or
before it.

Conventions are TA-Lib's (what users compare their charts against), in its default compatibility mode:

- ``sma``: the mean of the last ``n`` bars; NaN for the first ``n - 1``.
- ``ema``: seeded with the SMA of the first ``n`` bars (at bar ``n - 1``), then ``e += α·(x − e)``, ``α = 2/(n+1)``.
- ``rsi``: Wilder's: the average gain and loss of the first ``n`` changes (at bar ``n``), then
  ``avg = (avg·(n−1) + value)/n``; ``100·gain/(gain + loss)``, and 0 when both are 0 (TA-Lib's value for a
  series that did not move: a scanner must not read a flat, halted symbol as oversold without checking).
- ``true_range``/``atr``: Wilder's true range (NaN on the first bar, which has no previous close) and its
  Wilder average seeded with the mean of the first ``n`` true ranges (at bar ``n``), as
  ``policy/indicators.wilder_atr``.
- ``bollinger``: SMA ± k·σ with σ the population standard deviation of the window (TA-Lib BBANDS, MA type 0).
- ``linreg``: the least-squares line through the last ``n`` bars: ``slope`` (LINEARREG_SLOPE), ``intercept``
  (LINEARREG_INTERCEPT: the line at the window's first bar), ``forecast`` (LINEARREG: the line at the
  window's last bar) and ``r2`` (CORREL(bar index, y)²; 0 for a flat window, as TA-Lib's CORREL gives 0).

**Gaps.** A missing bar is a gap and stays one: nothing is ever forward-filled into a price that did not trade.
A window that holds a missing bar gives NaN (``sma``, ``bollinger``, ``linreg``, ``relative_volume``). The
recursive averages (``ema``, ``rsi``, ``atr``) give NaN at a missing bar and start again after it, seeded as at
the start of the data: carrying the average across the gap would either treat the missing bar as if it had a
price or silently join two stretches of bars as if they were adjacent, and neither is a value TA-Lib (run on
the bars after the gap) would show. So on every stretch of consecutive bars the engine equals TA-Lib run on
that stretch alone. A bar counts as missing when any of the inputs it needs is NaN (for ``true_range``/``atr``
any of high, low and close, and the bar before it as well). So on the minute bars of a thinly traded symbol,
where a minute without a trade is a missing bar, an EMA exists only after ``n`` consecutive traded minutes.

**Precision.** Window sums are built pairwise by doubling (blocks of 1, 2, 4, … bars from their halves, a
window of ``n`` the blocks of ``n``'s binary digits end to end): ``log2(n)`` vector operations per window, each
window's sum a tree over its own values only (error about ``log2(n)`` ulps, independent of the series' length; no
cumulative sum whose rounding grows with the history). The windowed variance and the co-moment with the bar index
(σ, slope, R²) are merged the same way with Chan's pairwise update, each block's sums taken from its own first bar,
so no sum carries the price level: they stay within about 1e-12 relative of an extended-precision two-pass
computation (1e-16 of the price per bar where the slope is near zero). TA-Lib's LINEARREG_SLOPE (from sums that
carry the level) and CORREL are off by up to ~5e-8 and ~2e-8 relative where slope and R² approach zero on
ordinary random walks (the slope far more at a high price that barely moves); there the engine, not TA-Lib, is
the reference (tests/policy/test_engine.py shows both against extended precision).

The intraday functions take a ``session`` array, one integer label per row (e.g. the New York date ordinal);
a session is a run of rows with the same label. Rows are the minute grid from the session's open, a missing
minute a NaN row rather than an absent one, so a row's offset in its session is minutes since the open.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


class Bands(NamedTuple):
    """Bollinger bands: the SMA, SMA ± k·σ, and σ (population standard deviation of the window)."""

    mid: Array
    upper: Array
    lower: Array
    sd: Array


class Regression(NamedTuple):
    """The least-squares line through each window of ``n`` bars (x = bar position in the window)."""

    slope: Array  # per bar
    intercept: Array  # the line's value at the window's first bar (TA-Lib LINEARREG_INTERCEPT)
    r2: Array  # coefficient of determination, CORREL(x, y)²
    forecast: Array  # the line's value at the window's last bar (TA-Lib LINEARREG)


class VwapBands(NamedTuple):
    """The session's running VWAP, its volume-weighted σ, and VWAP ± k·σ keyed by each k asked for."""

    vwap: Array
    sd: Array
    upper: dict[float, Array]
    lower: dict[float, Array]


# -- shapes ---------------------------------------------------------------------------------------------------------


def _columns(*arrays: npt.ArrayLike) -> tuple[list[Array], bool]:
    """The inputs as float64 2-D (bars, symbols) arrays of one shape, and whether they came in 1-D."""
    out = [np.asarray(a, dtype=np.float64) for a in arrays]
    shape = out[0].shape
    if any(a.shape != shape for a in out):
        raise ValueError(f"inputs differ in shape: {[a.shape for a in out]}")
    if out[0].ndim == 1:
        return [a[:, None] for a in out], True
    if out[0].ndim != 2:
        raise ValueError(f"expected (bars,) or (bars, symbols) arrays, got shape {shape}")
    return out, False


def _back(a: Array, one_d: bool) -> Array:
    return a[:, 0] if one_d else a


def _period(n: int, minimum: int = 1) -> int:
    if isinstance(n, bool) or int(n) != n or n < minimum:
        raise ValueError(f"period must be an integer >= {minimum}, got {n!r}")
    return int(n)


# -- pairwise window statistics -----------------------------------------------------------------------------------
#
# Windows are computed a slab of columns at a time (about 64 kB per array), so the temporaries stay in cache and
# come from memory the allocator reuses, and each output is written once: fresh memory's page faults, for
# full-size temporaries, would otherwise cost more than the arithmetic.

_SLAB_ELEMENTS = 8_192


def _slabs(rows: int, columns: int) -> list[slice]:
    width = max(1, _SLAB_ELEMENTS // max(rows, 1))
    return [slice(start, min(start + width, columns)) for start in range(0, columns, width)]


def _window_sum(x: Array, n: int) -> Array:
    """Σ x over the ``n`` bars ending at each bar, rows ``n − 1`` on (one row per complete window); NaN where a
    window holds a NaN. Blocks are aligned by their first bar: ``block[i]`` sums ``x[i : i + size]``."""
    rows = x.shape[0]
    total: Array | None = None  # the newest `covered` bars of each window, aligned by their first bar
    covered = 0
    block, size, remaining = x, 1, n
    while True:
        if remaining & 1:
            if total is None:
                total = block
            else:
                total = block[: rows - covered - size + 1] + total[size:]  # this block goes before (older)
            covered += size
        remaining >>= 1
        if not remaining:
            break
        block = block[:-size] + block[size:]
        size *= 2
    assert total is not None
    return total


class _Block(NamedTuple):
    """Statistics of ``size`` consecutive bars starting at each row, taken from the block's first bar ``x[i]``:
    Σ(x − x[i]), Σ(x − mean)² and Σ(j − j̄)(x − mean) with j the bar's position in the block."""

    size: int
    total: Array | None  # None: zero (single bars, each its own reference)
    m2: Array | None  # None: zero
    co: Array | None  # None: zero


def _merge(older: _Block, newer: _Block, x: Array, with_co: bool) -> _Block:
    """Chan's pairwise update: two adjacent blocks as one, the older one first.

    The newer block's sum is moved to the older one's reference through ``x[i + a] − x[i]``, a difference of two
    nearby prices, so no sum ever carries the price level: the rounding stays at the scale of the moves.
    """
    rows = x.shape[0]
    a, b = older.size, newer.size
    length = rows - a - b + 1
    step = x[a : a + length] - x[:length]  # the newer block's first bar seen from the older one's
    s_a = None if older.total is None else older.total[:length]
    s_b = None if newer.total is None else newer.total[a : a + length]
    # δ = mean(newer) − mean(older), both from x[i]; the sum from x[i] is Σ_a + Σ_b + b·step.
    if s_a is None and s_b is None:  # two single bars
        delta = total = step
    else:
        if s_a is not None and s_b is not None and a == b:
            delta = s_b - s_a
            delta /= a
        else:
            delta = np.zeros_like(step) if s_b is None else s_b / b
            if s_a is not None:
                delta -= s_a / a
        delta += step
        total = step * b
        for part in (s_a, s_b):
            if part is not None:
                total += part
    m2 = delta * delta
    m2 *= a * b / (a + b)
    if older.m2 is not None:
        m2 += older.m2[:length]
    if newer.m2 is not None:
        m2 += newer.m2[a : a + length]
    co: Array | None = None
    if with_co:
        co = delta * (a * b / 2)  # the positions' means are (a + b)/2 apart
        if older.co is not None:
            co += older.co[:length]
        if newer.co is not None:
            co += newer.co[a : a + length]
    return _Block(a + b, total, m2, co)


def _window_moments(x: Array, n: int, with_co: bool) -> _Block:
    """Per window of ``n`` bars, rows ``n − 1`` on: Σ(x − x_first), Σ(x − x̄)² and (with_co) Σ(i − ī)(x − x̄),
    i = position, x_first the window's first bar (``x[: rows − n + 1]``). Needs ``n <= rows``; None means zero
    (``n == 1``)."""
    total: _Block | None = None
    block, remaining = _Block(1, None, None, None), n
    while True:
        if remaining & 1:
            total = block if total is None else _merge(block, total, x, with_co)
        remaining >>= 1
        if not remaining:
            break
        block = _merge(block, block, x, with_co)
    assert total is not None
    return total


# -- recursive averages -----------------------------------------------------------------------------------------


def _runs(missing: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Every stretch of consecutive bars without a gap, per column: (column, first row, length)."""
    rows, columns = missing.shape
    gap_rows, gap_columns = np.nonzero(missing)
    every = np.arange(columns)
    # Each column's gaps between two virtual ones (rows −1 and `rows`), sorted by column then row in one key.
    span = rows + 2
    keys = np.concatenate([every * span, gap_columns * span + gap_rows + 1, every * span + rows + 1])
    keys.sort()
    cols, marks = np.divmod(keys, span)
    marks -= 1
    same = cols[1:] == cols[:-1]
    start = marks[:-1][same] + 1
    length = marks[1:][same] - start
    keep = length > 0
    return cols[:-1][same][keep], start[keep], length[keep]


def _recursive(x: Array, n: int, wilder: bool, in_place: bool = False) -> Array:
    """TA-Lib's EMA (``wilder=False``) or Wilder's average (``wilder=True``) down each column, restarted after gaps.

    Each stretch without a gap is seeded with the SMA of its first ``n`` bars, placed at its ``n``-th bar. The
    recursion runs from NaN, so a stretch's first ``n − 1`` bars (all of a shorter one) and every missing bar give
    NaN, which it carries until the next seed. ``in_place`` overwrites ``x`` (a temporary of the caller's): every
    row is then recomputed from the one before it (a NaN row before the first), which turns the raw values before
    each seed into NaN.
    """
    rows = x.shape[0]
    out = x if in_place else np.full(x.shape, np.nan)
    cols, start, length = _runs(np.isnan(x))
    seeded = length >= n
    seed_cols, seed_rows = cols[seeded], start[seeded] + n - 1
    if not len(seed_rows):
        out[:] = np.nan
        return out
    seeds = x[start[seeded, None] + np.arange(n), seed_cols[:, None]].sum(axis=1) / n
    order = np.argsort(seed_rows, kind="stable")
    seed_rows, seed_cols, seeds = seed_rows[order], seed_cols[order], seeds[order]
    firsts = np.flatnonzero(np.concatenate([[True], np.diff(seed_rows) > 0]))
    lasts = np.append(firsts[1:], len(seed_rows))
    later = dict(zip(seed_rows[firsts].tolist(), zip(firsts.tolist(), lasts.tolist(), strict=True), strict=True))
    alpha = 2.0 / (n + 1)
    nothing, scratch = np.full(x.shape[1:], np.nan), np.empty(x.shape[1:])
    for t in range(0 if in_place else int(seed_rows[0]), rows):
        prev, cur = out[t - 1] if t else nothing, out[t]
        if wilder:  # TA-Lib's order of operations: prev·(n−1), + value, / n
            np.multiply(prev, n - 1, out=scratch)
            np.add(scratch, x[t], out=cur)
            cur /= n
        else:  # ((value − prev)·α) + prev
            np.subtract(x[t], prev, out=cur)
            cur *= alpha
            cur += prev
        if t in later:
            lo, hi = later[t]
            cur[seed_cols[lo:hi]] = seeds[lo:hi]
    return out


# -- daily indicators ---------------------------------------------------------------------------------------------


def sma(x: npt.ArrayLike, n: int) -> Array:
    """Simple moving average of the last ``n`` bars (TA-Lib SMA); NaN where the window is short or has a gap."""
    n = _period(n)
    (values,), one_d = _columns(x)
    rows, columns = values.shape
    out = np.full(values.shape, np.nan)
    if n <= rows:
        for cols in _slabs(rows, columns):
            np.divide(_window_sum(values[:, cols], n), n, out=out[n - 1 :, cols])
    return _back(out, one_d)


def ema(x: npt.ArrayLike, n: int) -> Array:
    """Exponential moving average, α = 2/(n+1), seeded with the SMA of the first ``n`` bars (TA-Lib EMA).

    Restarts after a missing bar, seeded again from the next ``n`` bars (see the module's note on gaps).
    """
    n = _period(n)
    (values,), one_d = _columns(x)
    return _back(_recursive(values, n, wilder=False), one_d)


def rsi(close: npt.ArrayLike, n: int = 14) -> Array:
    """Wilder's relative strength index (TA-Lib RSI): first value at bar ``n`` of each stretch without gaps."""
    n = _period(n)
    (values,), one_d = _columns(close)
    rows, symbols = values.shape
    # Gains and losses side by side, smoothed by one recursion (NaN kept: np.maximum propagates it).
    both = np.empty((rows, 2 * symbols))
    both[:1] = np.nan
    gain, loss = both[:, :symbols], both[:, symbols:]
    np.subtract(values[1:], values[:-1], out=gain[1:])
    np.negative(gain[1:], out=loss[1:])
    np.maximum(both, 0.0, out=both)
    _recursive(both, n, wilder=True, in_place=True)
    out = np.add(gain, loss)
    still = out == 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(gain, out, out=out)
    out *= 100.0
    out[still] = 0.0  # TA-Lib's value when nothing moved
    return _back(out, one_d)


def _missing(*arrays: Array) -> npt.NDArray[np.bool_]:
    missing = np.isnan(arrays[0])
    for a in arrays[1:]:
        missing |= np.isnan(a)
    return missing


def _true_range(high: Array, low: Array, close: Array) -> Array:
    tr = np.empty(high.shape)
    tr[:1] = np.nan
    if len(high) > 1:
        body, scratch, previous = tr[1:], np.empty(tr[1:].shape), close[:-1]
        np.subtract(high[1:], low[1:], out=body)
        for extreme in (high, low):
            np.subtract(extreme[1:], previous, out=scratch)
            np.abs(scratch, out=scratch)
            np.maximum(body, scratch, out=body)
        missing = _missing(high, low, close)
        body[missing[1:] | missing[:-1]] = np.nan  # this bar or the one before it has no bar: no true range
    return tr


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> Array:
    """Wilder's true range (TA-Lib TRANGE): max(high − low, |high − prev close|, |low − prev close|).

    NaN on the first bar and on any bar that, or whose previous bar, is missing.
    """
    (h, lo, c), one_d = _columns(high, low, close)
    return _back(_true_range(h, lo, c), one_d)


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, n: int = 14) -> Array:
    """Wilder's average true range (TA-Lib ATR): the mean of the first ``n`` true ranges at bar ``n``, then
    ``(atr·(n−1) + tr)/n``; restarted after a gap as the module's note says."""
    n = _period(n)
    (h, lo, c), one_d = _columns(high, low, close)
    return _back(_recursive(_true_range(h, lo, c), n, wilder=True, in_place=True), one_d)


def bollinger(close: npt.ArrayLike, n: int = 20, k: float = 2.0) -> Bands:
    """Bollinger bands (TA-Lib BBANDS with an SMA): mid ± k·σ, σ the population standard deviation of ``n`` bars."""
    n = _period(n)
    (values,), one_d = _columns(close)
    rows, columns = values.shape
    mid, upper, lower, sd = (np.full(values.shape, np.nan) for _ in range(4))
    if n <= rows:
        for cols in _slabs(rows, columns):
            column = values[:, cols]
            window = _window_moments(column, n, with_co=False)
            m, s = mid[n - 1 :, cols], sd[n - 1 :, cols]
            np.divide(_window_sum(column, n), n, out=m)  # the SMA itself, as TA-Lib's middle band is
            if window.m2 is None:
                np.multiply(m, 0.0, out=s)
            else:
                np.divide(window.m2, n, out=s)
                np.sqrt(s, out=s)
            spread = k * s
            np.add(m, spread, out=upper[n - 1 :, cols])
            np.subtract(m, spread, out=lower[n - 1 :, cols])
    return Bands(_back(mid, one_d), _back(upper, one_d), _back(lower, one_d), _back(sd, one_d))


def linreg(y: npt.ArrayLike, n: int) -> Regression:
    """The least-squares line through the last ``n`` bars (TA-Lib LINEARREG_SLOPE, LINEARREG_INTERCEPT, LINEARREG,
    and CORREL(bar index, y)² as R²)."""
    n = _period(n, minimum=2)
    (values,), one_d = _columns(y)
    rows, columns = values.shape
    slope, intercept, r2, forecast = (np.full(values.shape, np.nan) for _ in range(4))
    sxx = n * (n * n - 1) / 12.0  # Σ(i − ī)² over positions 0..n−1
    half = (n - 1) / 2.0
    if n <= rows:
        for cols in _slabs(rows, columns):
            column = values[:, cols]
            window = _window_moments(column, n, with_co=True)
            assert window.total is not None and window.m2 is not None and window.co is not None
            b = slope[n - 1 :, cols]
            np.divide(window.co, sxx, out=b)
            mean = window.total / n
            mean += column[: rows - n + 1]
            rise = b * half
            np.subtract(mean, rise, out=intercept[n - 1 :, cols])
            np.add(mean, rise, out=forecast[n - 1 :, cols])
            fit = r2[n - 1 :, cols]
            with np.errstate(invalid="ignore", divide="ignore"):
                np.divide(window.co * window.co, sxx * window.m2, out=fit)
            np.minimum(fit, 1.0, out=fit)
            fit[window.m2 == 0.0] = 0.0  # a flat window: nothing to explain (TA-Lib's CORREL gives 0)
    return Regression(_back(slope, one_d), _back(intercept, one_d), _back(r2, one_d), _back(forecast, one_d))


# -- intraday indicators ------------------------------------------------------------------------------------------


def _sessions(session: npt.ArrayLike, rows: int) -> list[tuple[int, int]]:
    """Each session's rows as [start, end): runs of equal labels."""
    labels = np.asarray(session)
    if labels.shape != (rows,):
        raise ValueError(f"session must have one label per bar ({rows},), got shape {labels.shape}")
    if not rows:
        return []
    starts = np.flatnonzero(np.concatenate([[True], labels[1:] != labels[:-1]]))
    ends = np.append(starts[1:], rows)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def vwap(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    session: npt.ArrayLike,
    k: Sequence[float] = (1.0, 2.0),
) -> VwapBands:
    """The session's running VWAP of the typical price (high + low + close)/3, with σ bands.

    ``vwap[t] = Σ v·tp / Σ v`` over the session's bars up to and including ``t``;
    ``sd[t]² = Σ v·(tp − vwap[t])² / Σ v`` over the same bars: the volume-weighted standard deviation of the
    typical price around the running VWAP (the usual "VWAP standard deviation bands"). ``upper[k] = vwap + k·sd``
    and ``lower[k] = vwap − k·sd`` for each k asked for.

    A missing bar (any of high, low, close, volume NaN) adds nothing and gives NaN; the bars before and after it
    in the session still count. NaN until the session has traded some volume. The sums are taken from each
    column's first typical price of the session, so σ keeps its digits at any price level.
    """
    (h, lo, c, v), one_d = _columns(high, low, close, volume)
    rows, symbols = h.shape
    out_vwap = np.full(h.shape, np.nan)
    out_sd = np.full(h.shape, np.nan)
    sessions = _sessions(session, rows)
    for cols in _slabs(rows, symbols):
        width = cols.stop - cols.start
        for start, end in sessions:
            part = slice(start, end)
            tp = h[part, cols] + lo[part, cols]
            tp += c[part, cols]
            tp /= 3.0
            here = ~_missing(tp, v[part, cols])
            center = tp[np.argmax(here, axis=0), np.arange(width)]  # the session's first typical price
            weight = np.where(here, v[part, cols], 0.0)
            deviation = np.where(here, tp - center, 0.0)
            sums = np.empty((end - start, 3 * width))
            np.multiply(weight, deviation, out=sums[:, width : 2 * width])
            np.multiply(sums[:, width : 2 * width], deviation, out=sums[:, 2 * width :])
            sums[:, :width] = weight
            np.cumsum(sums, axis=0, out=sums)
            total, first, second = sums[:, :width], sums[:, width : 2 * width], sums[:, 2 * width :]
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = first / total
                variance = second / total
            variance -= mean * mean
            np.maximum(variance, 0.0, out=variance)
            valid = here & (total > 0)
            mean += center
            out_vwap[part, cols] = np.where(valid, mean, np.nan)
            out_sd[part, cols] = np.where(valid, np.sqrt(variance), np.nan)
    upper = {float(m): _back(out_vwap + m * out_sd, one_d) for m in k}
    lower = {float(m): _back(out_vwap - m * out_sd, one_d) for m in k}
    return VwapBands(_back(out_vwap, one_d), _back(out_sd, one_d), upper, lower)


def relative_volume(volume: npt.ArrayLike, n: int) -> Array:
    """A bar's volume over the mean volume of the ``n`` bars before it (the bar itself excluded).

    The previous bars are the grid's, across session boundaries. NaN for the first ``n`` bars, at a missing bar,
    when one of the previous ``n`` is missing, and when those ``n`` traded nothing (no basis to compare with).
    """
    n = _period(n)
    (v,), one_d = _columns(volume)
    rows, columns = v.shape
    out = np.full(v.shape, np.nan)
    if n < rows:
        for cols in _slabs(rows, columns):
            previous = _window_sum(v[:, cols], n)[:-1]  # the n bars before each bar from bar n on
            previous /= n
            with np.errstate(invalid="ignore", divide="ignore"):
                out[n:, cols] = np.where(previous > 0, v[n:, cols] / previous, np.nan)
    return _back(out, one_d)


def opening_range(
    high: npt.ArrayLike, low: npt.ArrayLike, session: npt.ArrayLike, minutes: int = 30
) -> tuple[Array, Array]:
    """The high and low of each session's first ``minutes`` bars, from the bar after the range on.

    NaN during the range itself (a bar in the range never sees its own range: no look-ahead), at missing bars,
    and for a session with no bar in its range. Missing bars inside the range are skipped, not filled.
    """
    minutes = _period(minutes)
    (h, lo), one_d = _columns(high, low)
    rows = h.shape[0]
    or_high = np.full(h.shape, np.nan)
    or_low = np.full(h.shape, np.nan)
    missing = _missing(h, lo)
    for start, end in _sessions(session, rows):
        after = start + minutes
        if after >= end:
            continue
        here = ~missing[start:after]
        top = np.fmax.reduce(np.where(here, h[start:after], np.nan), axis=0)
        bottom = np.fmin.reduce(np.where(here, lo[start:after], np.nan), axis=0)
        gone = missing[after:end]
        or_high[after:end] = np.where(gone, np.nan, top)
        or_low[after:end] = np.where(gone, np.nan, bottom)
    return _back(or_high, one_d), _back(or_low, one_d)


def high_of_day(high: npt.ArrayLike, session: npt.ArrayLike) -> Array:
    """The session's highest high up to and including each bar; NaN at a missing bar."""
    (h,), one_d = _columns(high)
    out = np.full(h.shape, np.nan)
    for start, end in _sessions(session, h.shape[0]):
        running = np.fmax.accumulate(h[start:end], axis=0)
        out[start:end] = np.where(np.isnan(h[start:end]), np.nan, running)
    return _back(out, one_d)
