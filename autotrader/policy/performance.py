"""An account's performance from its end-of-day equity: the figures a backtester's user expects.

Pure: a series of equity values by session in, numbers out. The definitions are the standard ones, so a
figure here can be checked by hand or against any other tool:

- total return: final / first − 1;
- CAGR: (final / first)^(365.25 / calendar days) − 1 (``rebalance.cagr``), given only over at least
  ``MIN_CAGR_SESSIONS`` daily returns: a week's +2% compounds to an "annual" +190%, a figure no sample that
  short supports;
- Sharpe: mean / standard deviation (ddof = 1) of the daily simple returns × √252, risk-free rate 0;
- Sortino: mean daily return / downside deviation × √252, the downside deviation being
  √(mean(min(r, 0)²)) over every session (target 0; Sortino and Price's definition, as empyrical computes it);
- max drawdown: the largest fall from a running peak, a positive fraction.

A benchmark (SPY's closes) is measured over the same sessions the account has, so "vs SPY" compares like with
like: the account's first snapshot and the benchmark's close on that session are both the starting point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autotrader.policy.rebalance import cagr, max_drawdown

ANNUAL_SESSIONS = 252
#: Daily returns (a year of sessions) before a CAGR is stated rather than left undefined. A quarter's return
#: raised to the fourth power is a forecast of three more quarters like it, not a rate the sample measured.
MIN_CAGR_SESSIONS = 252
NAN = float("nan")


@dataclass(frozen=True)
class Performance:
    start: str  # first session (YYYY-MM-DD)
    end: str
    sessions: int  # daily returns the figures rest on: the equity values after the first
    start_value: float
    end_value: float
    total_return: float
    cagr: float
    sharpe: float
    sortino: float
    max_drawdown: float


@dataclass(frozen=True)
class Comparison:
    account: Performance
    benchmark: Performance | None  # None when the benchmark has no close on the account's sessions
    excess_return: float  # account total return − benchmark total return (NaN without a benchmark)


def daily_returns(values: pd.Series) -> np.ndarray:
    array = values.to_numpy(dtype=np.float64)
    if array.size < 2:
        return np.array([], dtype=np.float64)
    return array[1:] / array[:-1] - 1.0


def sharpe(returns: np.ndarray) -> float:
    """Annualised Sharpe of daily returns; NaN with fewer than two returns or no variation."""
    if returns.size < 2:
        return NAN
    sd = float(returns.std(ddof=1))
    return NAN if sd <= 1e-15 else float(returns.mean()) / sd * math.sqrt(ANNUAL_SESSIONS)


def sortino(returns: np.ndarray) -> float:
    """Annualised Sortino of daily returns against 0; NaN with fewer than two returns or no losing day."""
    if returns.size < 2:
        return NAN
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    return NAN if downside <= 1e-15 else float(returns.mean()) / downside * math.sqrt(ANNUAL_SESSIONS)


def drawdowns(values: pd.Series) -> pd.Series:
    """Each session's fall from the running peak, ``1 − value / peak`` (0 at a new high): the path whose
    largest value is ``max_drawdown``, and whose last is the drawdown an account is in now."""
    array = values.to_numpy(dtype=np.float64)
    return pd.Series(1.0 - array / np.maximum.accumulate(array), index=values.index)


def measure(values: pd.Series) -> Performance | None:
    """The figures of one equity (or price) series indexed by session date; None when it is empty or not
    positive at its start (nothing to compound from)."""
    values = values.dropna().sort_index()
    if values.empty or float(values.iloc[0]) <= 0:
        return None
    index = pd.DatetimeIndex(pd.to_datetime(values.index))
    series = pd.Series(values.to_numpy(dtype=np.float64), index=index)
    returns = daily_returns(series)
    first, last = float(series.iloc[0]), float(series.iloc[-1])
    return Performance(
        start=f"{index[0]:%Y-%m-%d}",
        end=f"{index[-1]:%Y-%m-%d}",
        sessions=len(series) - 1,
        start_value=first,
        end_value=last,
        total_return=last / first - 1.0,
        cagr=cagr(series) if returns.size >= MIN_CAGR_SESSIONS else NAN,
        sharpe=sharpe(returns),
        sortino=sortino(returns),
        max_drawdown=max_drawdown(series.to_numpy()),
    )


def compare(equity: pd.Series, benchmark: pd.Series | None) -> Comparison | None:
    """The account against the benchmark's closes on the account's own sessions (None: no equity at all)."""
    account = measure(equity)
    if account is None:
        return None
    bench = None
    if benchmark is not None and not benchmark.empty:
        aligned = benchmark.copy()
        aligned.index = pd.DatetimeIndex(pd.to_datetime(aligned.index))
        on_sessions = aligned.reindex(pd.DatetimeIndex(pd.to_datetime(equity.dropna().index)).sort_values())
        bench = measure(on_sessions)
        if bench is not None and (bench.start != account.start or bench.end != account.end):
            bench = None  # a benchmark missing the first or last session would compare different spans
    excess = account.total_return - bench.total_return if bench is not None else NAN
    return Comparison(account=account, benchmark=bench, excess_return=excess)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def figures(p: Performance) -> dict[str, object]:
    """One path's figures as the reports print them: NaN (undefined for the sample) becomes None."""
    return {
        "start": p.start, "end": p.end, "sessions": p.sessions, "start_value": p.start_value,
        "end_value": p.end_value, "total_return": _finite(p.total_return), "cagr": _finite(p.cagr),
        "sharpe": _finite(p.sharpe), "sortino": _finite(p.sortino), "max_drawdown": _finite(p.max_drawdown),
    }  # fmt: skip


def comparison_fields(c: Comparison) -> dict[str, object]:
    return {
        "account": figures(c.account),
        "benchmark": figures(c.benchmark) if c.benchmark is not None else None,
        "excess_return": _finite(c.excess_return),
    }
