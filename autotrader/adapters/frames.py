"""What every MarketData adapter builds the same way: bar frames, instants as nanoseconds, quotes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from autotrader.domain.models import Quote

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def to_ns(at: datetime) -> int:
    """A tz-aware instant as integer nanoseconds since the epoch (exact to the microsecond)."""
    return (at - EPOCH) // timedelta(microseconds=1) * 1000


def day_ns(day: date) -> int:
    """Midnight of a calendar date as naive nanoseconds (the daily index convention of ports.py)."""
    return (day.toordinal() - EPOCH_ORDINAL) * 86_400 * 10**9


def require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


def daily_frame(index_ns: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """Daily bars: naive midnight index named ``date``; ``values`` is (n, 5) in BAR_COLUMNS order."""
    index = pd.DatetimeIndex(np.asarray(index_ns).astype("datetime64[ns]"), name="date")
    # One 2-D block: several times cheaper to build than a dict of columns (replay builds many frames).
    return pd.DataFrame(np.asarray(values, dtype=np.float64), index=index, columns=list(BAR_COLUMNS))


def minute_frame(index_ns: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """Minute bars: tz-aware UTC ``DatetimeIndex`` of bar starts named ``timestamp``."""
    index = pd.DatetimeIndex(np.asarray(index_ns).astype("datetime64[ns]"), name="timestamp").tz_localize(UTC)
    # A copy: an array source may hand over a view of its cached bars, which a frame must not write into.
    return pd.DataFrame(np.array(values, dtype=np.float64), index=index, columns=list(BAR_COLUMNS))


_NO_VALUES = np.empty((0, len(BAR_COLUMNS)), dtype=np.float64)
# No bars as arrays (instants as int64 nanoseconds, values in BAR_COLUMNS order), as the array ports hand them.
NO_BARS: tuple[np.ndarray, np.ndarray] = (np.empty(0, np.int64), _NO_VALUES)


def empty_daily_frame() -> pd.DataFrame:
    return daily_frame(np.empty(0, np.int64), _NO_VALUES)


def empty_minute_frame() -> pd.DataFrame:
    return minute_frame(np.empty(0, np.int64), _NO_VALUES)


def quote_from_last(symbol: str, last: float, quoted_ns: int, spread_bps: float = 0.0) -> Quote:
    """A quote around a last price; at least one cent each side when there is a spread (the penny tick)."""
    half = max(0.01, round(last * spread_bps / 20_000, 2)) if spread_bps > 0 else 0.0
    quoted_at = EPOCH + timedelta(microseconds=quoted_ns // 1000)
    bid = max(0.01, round(last - half, 2))
    return Quote(symbol=symbol, bid=bid, ask=round(last + half, 2), last=last, quoted_at=quoted_at)
