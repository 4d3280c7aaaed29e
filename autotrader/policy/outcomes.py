"""What happened after a signal, from daily bars. Pure: arrays in, frozen values out; no clock, no calendar.

Inputs
------
- ``Bars``: one symbol's daily bars, one row per session, oldest first. ``dates`` is a ``datetime64[D]``
  array (the session dates; ``Bars.from_frame`` takes the ports' daily frame); ``open/high/low/close`` are
  float64 arrays. Session indices below are positions in these arrays.
- ``BenchmarkBars``: SPY's ``open``/``close`` on the *same* sessions (same length, same order); NaN where
  the benchmark has no bar, which makes the benchmark figures ``None`` rather than guessed.
- ``complete_sessions``: how many sessions, counting the entry session as 1, are complete at the as-of
  instant. The caller derives it from the calendar and the clock; a session it calls complete whose bar
  is absent from ``bars`` is treated as not complete (pending), never guessed.
- ``side``: ``"buy"`` or ``"sell"`` (``domain.enums.Side`` works too); s = +1 for a buy, −1 for a sell.

Conventions
-----------
- A signal's clock starts when it became knowable (``knowable_at``): the later of its claimed
  ``generated_at`` and the instant autotrader first saw it (its import). A backdated file is therefore
  scored from its arrival, never credited for moves that had already happened.
- The entry is the first price after that instant. Arriving while a session is open (strictly after its
  open, before its close) with minute data for the symbol, it is the open of the first 1-minute bar
  starting at or after the instant, and the session's bar is cut to the minutes from the entry on
  (``enter_intraday``: open = the entry price, high/low = the extremes of those minutes, close unchanged).
  Otherwise it is the OPEN of the next session (``entry_session_index``). Horizon h exits at the CLOSE of
  the h-th session counting the entry session as 1, so horizon 1 is entry → the entry session's close
  (the whole day, open → close, for an entry at the open).
- The benchmark runs over the same window: from SPY's price at the entry instant (its session open, or
  for an intraday entry the open of its 1-minute bar starting at the same minute; NaN, hence no
  benchmark figures, when SPY has no such bar) to SPY's close of the exit session.
- A side-adjusted return is s · (exit / entry − 1): what the signal's direction earned.
- Daily bars cannot tell the order of events inside a session. If a session *opens* beyond a level, that
  level is known to come first and fills at the open (a gap: the open is worse than a stop, better than a
  target). Otherwise a bar whose range reaches both the stop and the target is ambiguous: ``first_touch``
  reports ``"both"`` and ``rule_exit`` counts it as the stop (conservative).
- The whole entry-session bar counts for touches, including (for an actual fill after the open) any part
  of the range printed before the fill: daily bars cannot separate it. A scoring entry inside a session
  with minute data does separate it (``enter_intraday``).

Abnormal return
---------------
``abnormal_returns`` is the one definition every figure of the scorecard uses: s · (log(exit / entry) −
h·α − β·log(SPY exit / SPY entry)) over the window above, α and β from ``market_fit`` (daily log returns on
SPY's, sessions −250 … −11). ``forward_outcomes`` stores it per signal and horizon; the scorecard's panels
read those stored values, and score the placebo's random picks by ``abnormal_returns_from_open`` (the same
function over a panel of many symbols, entered at a session's open).

The per-signal functions are O(window) numpy work; ``market_fits`` and ``abnormal_returns_from_open`` do
many entries at once. Nothing here touches pandas except ``from_frame``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from autotrader.policy import event_study

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "Bars",
    "BenchmarkBars",
    "HorizonOutcome",
    "MarketFit",
    "PricePanel",
    "abnormal_return",
    "abnormal_returns",
    "abnormal_returns_from_open",
    "RuleExit",
    "Touch",
    "enter_intraday",
    "entry_fits",
    "entry_session_index",
    "entry_session_indices",
    "first_touch",
    "forward_outcomes",
    "instants_ns",
    "knowable_at",
    "log_returns",
    "market_fit",
    "market_fits",
    "rule_exit",
    "session_in_progress",
    "side_sign",
]

TouchKind = Literal["target", "stop", "both", "neither", "pending", "n/a"]
ExitReason = Literal["stop", "target", "horizon"]
Status = Literal["complete", "pending"]


def side_sign(side: str) -> int:
    """+1 for a buy, −1 for a sell; ``ValueError`` for anything else."""
    if side == "buy":
        return 1
    if side == "sell":
        return -1
    raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")


def _float_array(name: str, values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


@dataclass(frozen=True, eq=False)
class Bars:
    """Daily OHLC of one symbol: equal-length 1-D arrays, one element per session, oldest first.

    ``dates`` is ``datetime64[D]`` (session dates); prices are float64. Arrays are converted on construction.
    """

    dates: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "dates", np.asarray(self.dates, dtype="datetime64[D]"))
        for name in ("open", "high", "low", "close"):
            object.__setattr__(self, name, _float_array(name, getattr(self, name)))
        lengths = {len(getattr(self, name)) for name in ("dates", "open", "high", "low", "close")}
        if len(lengths) != 1:
            raise ValueError(f"bar arrays differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.close)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Bars:
        """From a ports daily frame (``DatetimeIndex`` of session dates; ``open, high, low, close`` columns)."""
        return cls(
            dates=frame.index.to_numpy().astype("datetime64[D]"),
            open=frame["open"].to_numpy(dtype=np.float64),
            high=frame["high"].to_numpy(dtype=np.float64),
            low=frame["low"].to_numpy(dtype=np.float64),
            close=frame["close"].to_numpy(dtype=np.float64),
        )

    def session_date(self, index: int) -> date:
        return self.dates[index].astype(object)


@dataclass(frozen=True, eq=False)
class BenchmarkBars:
    """The benchmark's (SPY's) open and close on the same sessions as the symbol's ``Bars`` (NaN if missing)."""

    open: np.ndarray
    close: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "open", _float_array("open", self.open))
        object.__setattr__(self, "close", _float_array("close", self.close))
        if len(self.open) != len(self.close):
            raise ValueError(f"benchmark arrays differ in length: {len(self.open)} != {len(self.close)}")

    def __len__(self) -> int:
        return len(self.close)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, dates: np.ndarray) -> BenchmarkBars:
        """From a ports daily frame, aligned onto ``dates`` (the symbol's sessions); absent sessions are NaN."""
        index = pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[D]").astype("datetime64[ns]"))
        aligned = frame.reindex(index)
        return cls(open=aligned["open"].to_numpy(dtype=np.float64), close=aligned["close"].to_numpy(dtype=np.float64))


@dataclass(frozen=True)
class HorizonOutcome:
    """Forward outcome of one signal at one horizon. Every number is ``None`` while ``status == "pending"``.

    - ``price_return``  = exit / entry − 1 (the raw price change);
    - ``ret``           = s · price_return (side-adjusted);
    - ``benchmark_return`` = SPY close(exit session) / SPY open(entry session) − 1 (after ``enter_intraday``
      that open is SPY's price at the entry minute: the same window as the signal's);
    - ``excess_return`` = ret − s · benchmark_return: a buy is compared with buying SPY, a sell with
      shorting SPY over the same window (so a short that falls less than SPY has negative excess);
    - ``mfe`` = max(0, best side-adjusted excursion): buys max(high)/entry − 1, sells 1 − min(low)/entry,
      over the entry session through the exit session; ``mae`` = min(0, worst): buys min(low)/entry − 1,
      sells 1 − max(high)/entry. So mfe ≥ 0 ≥ mae always;
    - ``hit`` = ret > 0 (strictly);
    - ``abnormal_return``: the side-adjusted cumulative abnormal *log* return of the same window under the
      symbol's market model (``abnormal_return``); ``None`` without a fit or a benchmark price.
    """

    horizon: int
    status: Status
    exit_idx: int | None = None
    exit_date: date | None = None
    entry_price: float | None = None
    exit_price: float | None = None
    price_return: float | None = None
    ret: float | None = None
    benchmark_return: float | None = None
    excess_return: float | None = None
    mfe: float | None = None
    mae: float | None = None
    hit: bool | None = None
    abnormal_return: float | None = None


@dataclass(frozen=True)
class MarketFit:
    """A symbol's market model at one entry: ``log r = alpha + beta · log r_m`` per session, on daily
    close-to-close log returns over sessions entry−250 … entry−11 (``event_study.market_model``); with fewer
    than 60 usable sessions alpha = 0, beta = 1 and ``fallback`` is set."""

    alpha: float
    beta: float
    fallback: bool


def log_returns(close: ArrayLike) -> np.ndarray:
    """Close-to-close log return of each session along the first axis (NaN for the first session and wherever
    a close is missing): ``close`` is one series (S,) or sessions × symbols (S, K)."""
    close = np.asarray(close, dtype=np.float64)
    out = np.full(close.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = np.log(close[1:] / close[:-1])
    return out


def market_fits(close: ArrayLike, spy_close: ArrayLike, symbol: ArrayLike, entry: ArrayLike) -> event_study.MarketModel:
    """``market_fit`` of many entries at once: ``close`` is sessions × symbols (NaN where a bar is missing),
    ``spy_close`` the benchmark's closes on the same sessions; event i is symbol column ``symbol[i]`` entered
    at session ``entry[i]``. The model of ``event_study.market_model`` on daily log returns."""
    return event_study.market_model(log_returns(close), log_returns(spy_close), symbol, entry)


def market_fit(bars: Bars, spy: BenchmarkBars | None, entry_idx: int) -> MarketFit | None:
    """The market model of ``bars`` on ``spy`` for an entry at session ``entry_idx`` (None without SPY).

    Only sessions that ended before the entry's estimation cut-off count, so nothing the signal could react
    to, and nothing after it, enters its beta."""
    fits = entry_fits(bars, spy, [entry_idx])
    return None if fits is None else fits[0]


def entry_fits(bars: Bars, spy: BenchmarkBars | None, entry_idxs: Sequence[int]) -> list[MarketFit] | None:
    """``market_fit`` of each entry session of one symbol, in one pass over its returns (None without SPY).
    Each fit reads only sessions before its own cut-off, so it is the same alone or among others."""
    if spy is None:
        return None
    model = market_fits(bars.close[:, None], spy.close, np.zeros(len(entry_idxs), dtype=np.int64), entry_idxs)
    return [
        MarketFit(float(a), float(b), bool(f)) for a, b, f in zip(model.alpha, model.beta, model.fallback, strict=True)
    ]


def abnormal_returns(
    sign: ArrayLike,
    alpha: ArrayLike,
    beta: ArrayLike,
    horizon: ArrayLike,
    entry: ArrayLike,
    exit_price: ArrayLike,
    spy_entry: ArrayLike,
    spy_exit: ArrayLike,
) -> np.ndarray:
    """``sign · (log(exit/entry) − horizon · alpha − beta · log(spy_exit/spy_entry))`` element by element (the
    arguments broadcast): the one definition of a signal's abnormal return, which every figure of the
    scorecard uses. NaN where a price is missing or not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        car = np.log(np.divide(exit_price, entry)) - np.multiply(horizon, alpha)
        car = np.multiply(sign, car - np.multiply(beta, np.log(np.divide(spy_exit, spy_entry))))
    return np.where(np.isfinite(car), car, np.nan)


def abnormal_return(
    sign: int, fit: MarketFit, horizon: int, entry: float, exit_price: float, spy_entry: float, spy_exit: float
) -> float | None:
    """The cumulative abnormal log return from the entry instant to the exit close (``abnormal_returns``), the
    sum of the per-session abnormal log returns over the window (its first session counted from the entry);
    None when a price is missing."""
    car = float(abnormal_returns(sign, fit.alpha, fit.beta, horizon, entry, exit_price, spy_entry, spy_exit))
    return car if np.isfinite(car) else None


@dataclass(frozen=True, eq=False)
class PricePanel:
    """Daily opens and closes of many symbols on the same sessions (sessions × symbols, NaN where a bar is
    missing) and the benchmark's (SPY's) on those sessions: what ``abnormal_returns_from_open`` reads."""

    open: np.ndarray
    close: np.ndarray
    spy_open: np.ndarray
    spy_close: np.ndarray

    def __post_init__(self) -> None:
        for name in ("open", "close"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
            if getattr(self, name).ndim != 2:
                raise ValueError(f"{name} must be sessions x symbols, got shape {getattr(self, name).shape}")
        for name in ("spy_open", "spy_close"):
            object.__setattr__(self, name, _float_array(name, getattr(self, name)))
        shapes = {self.open.shape, self.close.shape}
        if len(shapes) != 1 or {len(self.spy_open), len(self.spy_close)} != {self.open.shape[0]}:
            raise ValueError(f"price arrays differ in shape: {sorted(shapes)}, benchmark {len(self.spy_close)}")

    def complete(self, symbol: np.ndarray, entry: np.ndarray, horizon: np.ndarray) -> np.ndarray:
        """Whether every close of sessions entry … entry + horizon − 1 exists (``SymbolHistory.complete_from``
        reaches the horizon): a window with a missing bar, or past the last session, is pending."""
        gaps = np.concatenate([np.zeros((1, self.close.shape[1]), np.int64), np.isnan(self.close).cumsum(axis=0)])
        end = entry + horizon
        inside = end <= self.close.shape[0]
        end = np.where(inside, end, entry)
        return inside & (gaps[end, symbol] == gaps[entry, symbol])


def abnormal_returns_from_open(
    prices: PricePanel,
    symbol: ArrayLike,
    entry: ArrayLike,
    horizon: ArrayLike,
    sign: ArrayLike,
    model: event_study.MarketModel,
) -> np.ndarray:
    """Per event, the abnormal return (``abnormal_returns``) of an entry at the OPEN of session ``entry[i]`` of
    symbol column ``symbol[i]``, exiting at the close of the ``horizon[i]``-th session (the entry session
    counted as 1), benchmarked on SPY's open and close of the same sessions, under ``model`` (from
    ``market_fits`` for the same events): what ``forward_outcomes`` stores for a signal entered at that open.
    NaN while the window is not complete (a missing close, or past the panel) or a price is missing."""
    k, e = (np.asarray(a, dtype=np.int64).ravel() for a in (symbol, entry))
    h = np.broadcast_to(np.asarray(horizon, dtype=np.int64).ravel(), e.shape)
    if h.size and h.min() < 1:
        raise ValueError(f"horizons must be >= 1, got {sorted(set(h.tolist()))}")
    complete = prices.complete(k, e, h)
    exit_idx = np.where(complete, e + h - 1, e)
    car = abnormal_returns(
        sign, model.alpha, model.beta, h, prices.open[e, k], prices.close[exit_idx, k],
        prices.spy_open[e], prices.spy_close[exit_idx],
    )  # fmt: skip
    return np.where(complete, car, np.nan)


@dataclass(frozen=True)
class Touch:
    """Which of target and stop a daily bar reached first.

    ``kind``: ``"target"`` | ``"stop"`` | ``"both"`` (one ambiguous bar reached both) | ``"neither"`` (the
    ``max_sessions`` window completed untouched) | ``"pending"`` (untouched so far, window not complete) |
    ``"n/a"`` (no stop and no target). ``session_idx`` is the touching session's index in the bars and
    ``sessions`` its 1-based count from the entry session. ``price`` is where the level would have filled:
    the level itself, or the session's open when it opened beyond the level (``gap``); for ``"both"`` it is
    the stop's price, since the rule exit counts that bar as the stop.
    """

    kind: TouchKind
    session_idx: int | None = None
    sessions: int | None = None
    price: float | None = None
    gap: bool = False


@dataclass(frozen=True)
class RuleExit:
    """The pick alone held to its rule exit (stop, target or horizon close, whichever came first).

    ``ret`` = s · (exit_price / entry_price − 1); ``r_multiple`` = s · (exit_price − entry_price) / risk_per_share;
    ``holding_sessions`` counts the entry session as 1. All ``None`` while ``status == "pending"``.
    """

    status: Status
    reason: ExitReason | None = None
    exit_idx: int | None = None
    exit_date: date | None = None
    exit_price: float | None = None
    ret: float | None = None
    r_multiple: float | None = None
    holding_sessions: int | None = None
    gap: bool = False


def _utc_naive_ns(instant: datetime | np.datetime64) -> np.datetime64:
    if isinstance(instant, np.datetime64):
        return instant.astype("datetime64[ns]")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"generated_at must be timezone-aware, got naive {instant!r}")
    return pd.Timestamp(instant).tz_convert("UTC").tz_localize(None).to_datetime64()


def instants_ns(instants: ArrayLike | Sequence[datetime]) -> np.ndarray:
    """Instants (tz-aware datetimes, or naive ``datetime64`` meaning UTC) as naive UTC ``datetime64[ns]``: the
    form the session searches below take without converting again."""
    return _opens_ns(instants)


def _opens_ns(session_opens: ArrayLike | Sequence[datetime]) -> np.ndarray:
    if isinstance(session_opens, np.ndarray) and np.issubdtype(session_opens.dtype, np.datetime64):
        return session_opens.astype("datetime64[ns]", copy=False)
    index = pd.DatetimeIndex(session_opens)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy(dtype="datetime64[ns]")


def entry_session_index(
    session_opens: ArrayLike | Sequence[datetime], generated_at: datetime | np.datetime64
) -> int | None:
    """Index of the entry session: the first session whose open instant is at or after ``generated_at``.

    ``session_opens``: the sessions' open instants in UTC, ascending, aligned with the bars — a naive
    ``datetime64`` array meaning UTC, or anything ``pandas.DatetimeIndex`` accepts (tz-aware is converted).
    ``generated_at``: tz-aware ``datetime`` (naive is refused) or a naive ``datetime64`` meaning UTC.
    A signal generated during or after a session therefore enters at the next session's open; one
    generated exactly at an open enters at that open. ``None`` when no listed session opens that late.
    """
    opens = _opens_ns(session_opens)
    index = int(np.searchsorted(opens, _utc_naive_ns(generated_at), side="left"))
    return index if index < len(opens) else None


def entry_session_indices(session_opens: ArrayLike, generated_at: ArrayLike) -> np.ndarray:
    """Vectorised ``entry_session_index`` for many signals: int64 indices, −1 where there is no session yet.

    ``generated_at``: naive ``datetime64`` instants meaning UTC (or anything ``DatetimeIndex`` accepts).
    """
    opens = _opens_ns(session_opens)
    index = np.searchsorted(opens, _opens_ns(generated_at), side="left").astype(np.int64)
    index[index >= len(opens)] = -1
    return index


def knowable_at(generated_at: datetime, imported_at: datetime | None) -> datetime:
    """When a signal became knowable: the later of its claimed ``generated_at`` and its import instant
    (``None``: not known, the claim is taken). Both tz-aware."""
    if imported_at is None:
        return generated_at
    return max(generated_at, imported_at)


def session_in_progress(
    session_opens: ArrayLike | Sequence[datetime], session_closes: ArrayLike | Sequence[datetime], at: datetime
) -> int | None:
    """Index of the session open at ``at``: strictly after its open and before its close. ``None`` between
    sessions and exactly at an open (an arrival at the open enters at that session's open, as between
    sessions). Opens and closes are aligned and ascending, in the forms ``entry_session_index`` takes."""
    opens, closes = _opens_ns(session_opens), _opens_ns(session_closes)
    if len(opens) != len(closes):
        raise ValueError(f"{len(opens)} session opens but {len(closes)} closes")
    instant = _utc_naive_ns(at)
    index = int(np.searchsorted(opens, instant, side="left")) - 1
    return index if index >= 0 and instant < closes[index] else None


def enter_intraday(
    bars: Bars,
    spy: BenchmarkBars | None,
    entry_idx: int,
    *,
    price: float,
    high: float,
    low: float,
    benchmark_price: float,
) -> tuple[Bars, BenchmarkBars | None]:
    """The same history seen from an entry inside session ``entry_idx``: that session's open becomes the
    entry ``price`` and its high/low the extremes of the minutes from the entry on, so neither the forward
    outcomes nor the touches count any price printed before the entry; SPY's open there becomes
    ``benchmark_price`` (its price at the same minute; NaN = unknown). Every other session is unchanged and
    the inputs are not modified."""
    if not 0 <= entry_idx < len(bars):
        raise ValueError(f"entry_idx {entry_idx} outside the {len(bars)} bars")
    if not price > 0:
        raise ValueError(f"entry price must be > 0, got {price}")
    columns = {name: getattr(bars, name).copy() for name in ("open", "high", "low")}
    for name, value in (("open", price), ("high", high), ("low", low)):
        columns[name][entry_idx] = value
    seen = Bars(bars.dates, columns["open"], columns["high"], columns["low"], bars.close)
    if spy is None:
        return seen, None
    spy_open = spy.open.copy()
    spy_open[entry_idx] = benchmark_price
    return seen, BenchmarkBars(open=spy_open, close=spy.close)


def _check_entry(entry_idx: int, bars: Bars, complete_sessions: int) -> int:
    """The number of complete sessions that also have bars (the usable window)."""
    if not 0 <= entry_idx < len(bars):
        raise ValueError(f"entry_idx {entry_idx} outside the {len(bars)} bars")
    if complete_sessions < 0:
        raise ValueError(f"complete_sessions must be >= 0, got {complete_sessions}")
    return min(complete_sessions, len(bars) - entry_idx)


def _none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def forward_outcomes(
    signal_side: str,
    entry_idx: int,
    bars: Bars,
    spy: BenchmarkBars | None,
    horizons: Sequence[int],
    complete_sessions: int,
    fit: MarketFit | None = None,
) -> list[HorizonOutcome]:
    """One ``HorizonOutcome`` per horizon (same order), entering at ``bars.open[entry_idx]``.

    Horizon h (≥ 1) exits at ``bars.close[entry_idx + h − 1]``; it is complete when ``complete_sessions ≥ h``
    (and that bar exists), else pending with every number ``None``. Formulas: see ``HorizonOutcome``.
    ``spy`` may be ``None`` (no benchmark): ``benchmark_return`` and ``excess_return`` are then ``None``.
    """
    sign = side_sign(signal_side)
    if any(int(h) < 1 for h in horizons):
        raise ValueError(f"horizons must be >= 1, got {list(horizons)}")
    if spy is not None and len(spy) != len(bars):
        raise ValueError(f"benchmark has {len(spy)} sessions, bars have {len(bars)}")
    available = _check_entry(entry_idx, bars, complete_sessions)
    entry = float(bars.open[entry_idx])
    if not entry > 0:
        raise ValueError(f"entry open must be > 0, got {entry}")
    longest = max((int(h) for h in horizons if int(h) <= available), default=0)
    # Running extremes once for the longest complete horizon; each horizon reads its own prefix.
    window = slice(entry_idx, entry_idx + longest)
    running_high = np.maximum.accumulate(bars.high[window])
    running_low = np.minimum.accumulate(bars.low[window])
    spy_entry = float(spy.open[entry_idx]) if spy is not None else np.nan
    # Every complete horizon's abnormal return in one call (element by element, as alone).
    done = np.array([int(h) for h in horizons if int(h) <= available], dtype=np.int64)
    cars: dict[int, float] = {}
    if fit is not None and spy is not None and done.size:
        ends = entry_idx + done - 1
        values = abnormal_returns(sign, fit.alpha, fit.beta, done, entry, bars.close[ends], spy_entry, spy.close[ends])
        cars = dict(zip(done.tolist(), values.tolist(), strict=True))

    out: list[HorizonOutcome] = []
    for h in (int(h) for h in horizons):
        if h > available:
            out.append(HorizonOutcome(horizon=h, status="pending"))
            continue
        exit_idx = entry_idx + h - 1
        exit_price = float(bars.close[exit_idx])
        price_return = exit_price / entry - 1.0
        ret = sign * price_return
        benchmark = float(spy.close[exit_idx]) / spy_entry - 1.0 if spy is not None else np.nan
        excess = ret - sign * benchmark
        high_move = float(running_high[h - 1]) / entry - 1.0
        low_move = float(running_low[h - 1]) / entry - 1.0
        best, worst = (high_move, low_move) if sign > 0 else (-low_move, -high_move)
        car = cars.get(h)
        abnormal = car if car is not None and np.isfinite(car) else None
        out.append(
            HorizonOutcome(
                horizon=h,
                status="complete",
                exit_idx=exit_idx,
                exit_date=bars.session_date(exit_idx),
                entry_price=entry,
                exit_price=exit_price,
                price_return=price_return,
                ret=ret,
                benchmark_return=_none_if_nan(benchmark),
                excess_return=_none_if_nan(excess),
                mfe=max(0.0, best),
                mae=min(0.0, worst),
                hit=bool(ret > 0),
                abnormal_return=abnormal,
            )
        )
    return out


def _level(value: float | None) -> float:
    """A price level, NaN when absent: comparisons with NaN are False, so an absent level is never reached."""
    return np.nan if value is None else float(value)


EventKind = Literal["stop", "target", "both"]


def _first_event(
    sign: int, entry_idx: int, sessions: int, bars: Bars, stop: float, target: float
) -> tuple[int, EventKind, float, bool] | None:
    """The first of ``sessions`` sessions from the entry where the stop or the target (NaN = absent) is reached.

    Returns (k, kind, price, gap) with k the 1-based session count, or ``None`` when neither is reached.
    Rules: module docstring (a session opening beyond a level fills it at the open; a bar reaching both
    levels otherwise is "both", priced at the stop).
    """
    if sessions <= 0:
        return None
    window = slice(entry_idx, entry_idx + sessions)
    high, low = bars.high[window], bars.low[window]
    # Multiplying by the side's sign mirrors a sell onto a buy: the adverse extreme of a sell is its high.
    adverse, favourable = (low, high) if sign > 0 else (high, low)
    stop_hit = sign * (adverse - stop) <= 0
    target_hit = sign * (favourable - target) >= 0
    touched = stop_hit | target_hit
    if not touched.any():
        return None
    k = int(np.argmax(touched))
    opened = float(bars.open[entry_idx + k])
    if sign * (opened - stop) <= 0:
        return (k + 1, "stop", opened, True)
    if sign * (opened - target) >= 0:
        return (k + 1, "target", opened, True)
    if stop_hit[k] and target_hit[k]:
        return (k + 1, "both", stop, False)
    if stop_hit[k]:
        return (k + 1, "stop", stop, False)
    return (k + 1, "target", target, False)


def first_touch(
    side: str,
    entry_idx: int,
    bars: Bars,
    stop: float | None,
    target: float | None,
    complete_sessions: int,
    max_sessions: int,
) -> Touch:
    """Whether the target or the stop was touched first, scanning complete sessions from the entry session.

    Buy: target touched when high ≥ target, stop when low ≤ stop; sell mirrored (low ≤ target, high ≥ stop).
    Scans sessions 1 … min(max_sessions, complete_sessions). A missing level (``None`` or NaN) is never
    touched; with both missing the answer is ``"n/a"``. Untouched: ``"neither"`` once all ``max_sessions``
    sessions are complete, else ``"pending"``. See ``Touch`` for the fields and the module docstring for
    gaps and ambiguous bars.
    """
    sign = side_sign(side)
    if max_sessions < 1:
        raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
    available = _check_entry(entry_idx, bars, complete_sessions)
    stop_level, target_level = _level(stop), _level(target)
    if np.isnan(stop_level) and np.isnan(target_level):
        return Touch(kind="n/a")
    event = _first_event(sign, entry_idx, min(max_sessions, available), bars, stop_level, target_level)
    if event is None:
        return Touch(kind="neither" if available >= max_sessions else "pending")
    k, kind, price, gap = event
    return Touch(kind=kind, session_idx=entry_idx + k - 1, sessions=k, price=price, gap=gap)


def rule_exit(
    side: str,
    entry_idx: int,
    entry_price: float,
    bars: Bars,
    stop: float | None,
    target: float | None,
    horizon_sessions: int,
    complete_sessions: int,
    risk_per_share: float,
) -> RuleExit:
    """The pick alone, held from ``entry_price`` (session ``entry_idx``) to its first rule exit.

    Exits, whichever comes first: the stop (at the stop price, or at the open if the session opened through
    it), the target (at the target, or at the open if it opened through it), or the close of the
    ``horizon_sessions``-th session (entry session = 1). A bar reaching both levels without a gap counts as
    the stop. ``"pending"`` when none of these has happened within ``complete_sessions``.
    ``entry_price`` may be the virtual entry (the session's open) or an actual fill; ``risk_per_share`` (> 0)
    is the caller's |entry − stop|, or a category default × entry when there is no stop. See ``RuleExit``.
    """
    sign = side_sign(side)
    if horizon_sessions < 1:
        raise ValueError(f"horizon_sessions must be >= 1, got {horizon_sessions}")
    if not risk_per_share > 0:
        raise ValueError(f"risk_per_share must be > 0, got {risk_per_share}")
    if not entry_price > 0:
        raise ValueError(f"entry_price must be > 0, got {entry_price}")
    available = _check_entry(entry_idx, bars, complete_sessions)
    event = _first_event(sign, entry_idx, min(horizon_sessions, available), bars, _level(stop), _level(target))
    if event is not None:
        k, kind, price, gap = event
        reason: ExitReason = "target" if kind == "target" else "stop"
    elif available >= horizon_sessions:
        k, price, gap, reason = horizon_sessions, float(bars.close[entry_idx + horizon_sessions - 1]), False, "horizon"
    else:
        return RuleExit(status="pending")
    exit_idx = entry_idx + k - 1
    return RuleExit(
        status="complete",
        reason=reason,
        exit_idx=exit_idx,
        exit_date=bars.session_date(exit_idx),
        exit_price=price,
        ret=sign * (price / entry_price - 1.0),
        r_multiple=sign * (price - entry_price) / risk_per_share,
        holding_sessions=k,
        gap=gap,
    )
