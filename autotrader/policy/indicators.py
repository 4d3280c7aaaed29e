"""Technical indicators with their standard definitions. Pure, numpy only.

Seeding follows TA-Lib, which is what users compare their charts against: the first average is the
simple mean of the first ``period`` values, and Wilder's smoothing continues from there.
"""

from __future__ import annotations

import numpy as np


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Wilder's true range; the first bar has no previous close, so its value is NaN (as in TA-Lib)."""
    high, low, close = (np.asarray(a, dtype=float) for a in (high, low, close))
    tr = np.full(high.shape, np.nan)
    if len(high) > 1:
        previous = close[:-1]
        tr[1:] = np.maximum.reduce([high[1:] - low[1:], np.abs(high[1:] - previous), np.abs(low[1:] - previous)])
    return tr


def wilder_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's average true range, aligned with the input; NaN until ``period`` true ranges exist.

    ATR[period] = mean(TR[1..period]); then ATR[i] = (ATR[i-1] · (period − 1) + TR[i]) / period.
    """
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    tr = true_range(high, low, close)
    atr = np.full(tr.shape, np.nan)
    if len(tr) <= period:
        return atr
    atr[period] = tr[1 : period + 1].mean()
    for i in range(period + 1, len(tr)):
        atr[i] = (atr[i - 1] * (period - 1) + tr[i]) / period
    return atr


def last_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> float | None:
    """The most recent ATR value, or None when the bars are too few (or the last value is not finite)."""
    values = wilder_atr(high, low, close, period)
    if not len(values) or not np.isfinite(values[-1]):
        return None
    return float(values[-1])
