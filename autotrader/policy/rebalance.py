"""The nightly strategy rebalancer: backtest ticker-group strategies on daily closes, select the one
with the highest final NAV (with a significance guard), and turn its holdings into whole-share deltas. Pure:
numpy and pandas only; nothing here reads a clock, a ledger, a broker or a file.

**Backtest** (:func:`backtest`) of one :class:`Strategy` on exactly the rows of ``closes`` it is given (the caller
passes data up to the as-of date only). Rows are sessions ``0..T−1``, one column per ticker, NaN where there is
no bar (a close ≤ 0 counts as no bar); ``r[t] = close[t] / close[t−1] − 1`` (NaN when either close is missing).
With :class:`Params`:

- ``capital`` (100,000): the starting NAV.
- **Start.** The first eligible session is row ``t₀ = max(sharpe_lookback, lookback_days)`` (``sharpe_lookback``
  alone without the momentum filter): the first with ``sharpe_lookback`` returns and a ``lookback_days`` return
  inside the frame. The NAV series starts there, so every strategy backtested on the same frame starts on the
  same date and their final NAVs compare. A frame with ``T ≤ t₀`` rows is a ``ValueError``.
- **Momentum filter** (``momentum_filter``, on; ``lookback_days`` = L, 10): at a rebalance at row t a ticker is
  eligible only if ``close[t] / close[t − L] − 1 > 0`` (both closes present). Off, the ranking alone decides.
- **Ranking** (``sharpe_lookback`` = S, 30): the Sharpe ratio of ``r[t−S+1 .. t]``, ``mean / std × √252``
  (sample std, ddof=1, risk-free 0). A ticker with a missing return in the window, or a zero std (below
  ``ZERO_STD`` = 1e-12: the float noise of a constant-return window), is not eligible.
- **Weights** (``top_n``, 3): the ``top_n`` eligible tickers with the highest Sharpe (ties: the strategy's ticker
  order), ``1/top_n`` each. Fewer eligible leave the rest in cash (the weights sum to < 1); none eligible is all
  cash.
- **Trading.** A rebalance is decided with the data up to and including close t and trades at close t; the
  holdings are held from t to t+1. Between rebalances the holdings are fixed quantities (the weights drift with
  prices); a held ticker without a bar is valued at its last close. Every rebalance resets the weights to
  ``1/top_n``, even when the set is unchanged.
- **Costs** (``cost_bps``, 0): ``cost_bps / 10⁴ × Σ |w·NAV − held value|`` (the traded notional, on the
  pre-trade NAV), taken from the NAV before the new weights are applied to it.
- **Cooldown** (``cooldown_days`` = c, 5): the first rebalance is at t₀; after that every session at which
  ≥ c sessions have passed since the previous rebalance (or drawdown exit) is a rebalance, so without a drawdown
  exit rebalances fall on rows ``t₀, t₀ + c, t₀ + 2c, …``.
- **Drawdown stop** (``drawdown_stop``, 10 percent; 0 = off): the running peak follows the NAV at every close. At
  any close where the strategy holds something and ``NAV ≤ (1 − drawdown_stop / 100) × peak``, it liquidates to
  cash at that close (reason ``"drawdown"``), whether or not a rebalance is due: a stop-out does not wait for
  the calendar. The exit restarts the cooldown and resets the peak to that NAV, so the strategy re-enters at the
  next rebalance c sessions later if anything is eligible.
- With ``momentum_filter=False`` and ``drawdown_stop=0`` a rotation is only "rank by Sharpe → top ``top_n`` →
  equal weight", rebalanced every ``cooldown_days`` sessions.
- ``kind="buy_hold"``: at t₀, equal weight over the strategy's tickers that have a close at or before t₀ (the
  last one), then never rebalanced; no drawdown rule, no cooldown.

The rebalances are listed as ``(date, weights, reason)`` with ``reason`` one of ``"initial"`` (t₀),
``"scheduled"`` and ``"drawdown"``. :attr:`Backtest.weights` are the strategy's holdings at the last close as
fractions of its NAV (cash implied): at a rebalance close the new target weights, otherwise those weights as the
prices have drifted them. :attr:`Backtest.target_weights` are the weights set at the last rebalance.

**Metrics** (on the NAV series from t₀): ``final_nav``; ``cagr = (final / capital)^(365.25 / days) − 1`` with
``days`` the *calendar* days from the first to the last date (not sessions / 252); ``sharpe`` = mean / std
(ddof=1) × √252 of the daily NAV returns (NaN for a zero std or fewer than two returns); ``max_drawdown`` = the
largest ``1 − NAV / running peak`` (a positive fraction); ``momentum`` = the NAV return over the last
``pm_momentum_lookback`` sessions (reported only: selection is on final NAV, as the seed's script does).

**Selection** (:func:`select`): the winner has the highest final NAV (ties: the earlier name in the input
order), the runner-up the next. For the winner's daily returns: the probabilistic Sharpe ratio against the
runner-up's per-period Sharpe (:func:`probabilistic_sharpe`), and the deflated Sharpe ratio, the PSR against
``SR₀ = √V × ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N·e)))`` with γ the Euler–Mascheroni constant, N the number of
strategies tried and V the sample variance (ddof=1) of their per-period Sharpe ratios (Bailey & López de Prado,
2014; :func:`expected_max_sharpe`). The win is ``significant`` when the PSR ≥ ``level`` (0.95); otherwise the
selection carries a warning. :func:`keep_current` keeps the strategy the book already follows when
``min_significance > 0`` and the winner's PSR against that strategy's Sharpe is below it.

**Orders** (:func:`target_shares`, :func:`deltas`): targets are ``floor(weight × capital / price)`` whole
shares. A delta is ``target − current``. A symbol held but not targeted is sold entirely (its whole quantity,
fractional or not); a targeted one whose delta is under ``tolerance_pct`` % of its target is skipped; other
deltas trade whole shares (floored); a buy of a symbol in ``no_buy`` (quarantined for the session) is a
skipped line, while its sells go ahead. Sells come first. Buys are checked against ``buying_power`` plus the sells'
proceeds at the given prices (a sell without a price adds none); when short, every buy is scaled by the same
factor ``available / needed`` and floored to whole shares, and the factor is recorded in :attr:`Plan.buy_scale`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

__all__ = [
    "Backtest",
    "OrderLine",
    "Params",
    "Plan",
    "Rebalance",
    "Selection",
    "Strategy",
    "backtest",
    "cagr",
    "deflated_sharpe",
    "deltas",
    "expected_max_sharpe",
    "first_row",
    "keep_current",
    "max_drawdown",
    "per_period_sharpe",
    "probabilistic_sharpe",
    "select",
    "target_shares",
]

#: Sessions per year for annualising daily Sharpe ratios.
PERIODS_PER_YEAR = 252
#: A standard deviation of daily returns at or below this is zero (float noise of a constant-return series).
ZERO_STD = 1e-12
#: Euler–Mascheroni constant (γ in the deflated Sharpe ratio).
EULER_GAMMA = 0.5772156649
#: Slack when flooring a share count computed in floating point (1/3 × 90 / 30 must be 1 share, not 0).
SHARE_EPS = 1e-9

KINDS = ("rotation", "buy_hold")
NAN = float("nan")


# ----------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Params:
    capital: float = 100_000.0
    lookback_days: int = 10
    sharpe_lookback: int = 30
    top_n: int = 3
    cooldown_days: int = 5
    drawdown_stop: float = 10.0  # percent below the running peak; 0 = no stop-out
    momentum_filter: bool = True
    pm_momentum_lookback: int = 10
    cost_bps: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if not self.capital > 0:
            problems.append(f"capital must be > 0, got {self.capital}")
        for name, low in (
            ("lookback_days", 1),
            ("sharpe_lookback", 2),
            ("top_n", 1),
            ("cooldown_days", 1),
            ("pm_momentum_lookback", 1),
        ):
            value = getattr(self, name)
            if int(value) != value or value < low:
                problems.append(f"{name} must be an integer ≥ {low}, got {value}")
        if not 0 <= self.drawdown_stop < 100:
            problems.append(f"drawdown_stop must be a percent in [0, 100) (0 = off), got {self.drawdown_stop}")
        if not self.cost_bps >= 0:
            problems.append(f"cost_bps must be ≥ 0, got {self.cost_bps}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Strategy:
    name: str
    tickers: tuple[str, ...]
    kind: Literal["rotation", "buy_hold"] = "rotation"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"strategy {self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.tickers:
            raise ValueError(f"strategy {self.name}: no tickers")
        if len(set(self.tickers)) != len(self.tickers):
            raise ValueError(f"strategy {self.name}: duplicate tickers in {self.tickers}")


# ---------------------------------------------------------------------------------------------------- results


class Rebalance(NamedTuple):
    date: pd.Timestamp
    weights: dict[str, float]  # ticker -> weight set at this close ({} = all cash), highest Sharpe first
    reason: str  # initial | scheduled | drawdown


@dataclass(frozen=True, eq=False)
class Backtest:
    name: str
    kind: str
    tickers: tuple[str, ...]
    nav: pd.Series  # NAV at each close from the first eligible session on
    weights: dict[str, float]  # holdings at the last close as fractions of the NAV (cash implied)
    target_weights: dict[str, float]  # the weights set at the last rebalance
    rebalances: list[Rebalance]
    daily_returns: np.ndarray  # NAV returns, len(nav) − 1
    final_nav: float
    cagr: float
    sharpe: float  # annualised
    max_drawdown: float  # positive fraction
    momentum: float  # NAV return over the last pm_momentum_lookback sessions
    sessions: int  # len(nav)

    @property
    def sharpe_per_period(self) -> float:
        return per_period_sharpe(self.daily_returns)


@dataclass(frozen=True)
class Selection:
    winner: str
    runner_up: str | None
    ranking: tuple[str, ...]  # names by final NAV, highest first (ties: input order)
    psr_vs_runner_up: float  # PSR of the winner against the runner-up's per-period Sharpe (NaN if undefined)
    deflated_sharpe: float  # PSR of the winner against SR₀ (NaN if undefined)
    sr0: float  # the deflated Sharpe's benchmark, per period
    strategies_tried: int
    level: float
    significant: bool
    warning: str | None


# ---------------------------------------------------------------------------------------------------- metrics


def _clean(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[~np.isnan(array)]


def per_period_sharpe(returns: ArrayLike) -> float:
    """``mean / std`` (ddof=1) of the returns, not annualised; NaN with fewer than two or a zero std."""
    x = _clean(returns)
    if x.size < 2:
        return NAN
    std = float(x.std(ddof=1))
    return NAN if std <= ZERO_STD else float(x.mean()) / std


def cagr(nav: pd.Series, start: float | None = None) -> float:
    """``(final / start)^(365.25 / days) − 1``, days = calendar days from the first to the last date of ``nav``
    (calendar days / 365.25, not sessions / 252); ``start`` defaults to the first NAV. NaN for fewer than one day
    or a non-positive start or end."""
    if len(nav) < 2:
        return NAN
    days = (pd.Timestamp(nav.index[-1]) - pd.Timestamp(nav.index[0])).days
    first = float(nav.iloc[0]) if start is None else float(start)
    final = float(nav.iloc[-1])
    if days <= 0 or first <= 0 or final <= 0:
        return NAN
    return (final / first) ** (365.25 / days) - 1


def max_drawdown(nav: ArrayLike) -> float:
    """The largest ``1 − NAV / running peak``, a fraction ≥ 0 (NaN for an empty series)."""
    x = _clean(nav)
    if x.size == 0:
        return NAN
    return float(np.max(1.0 - x / np.maximum.accumulate(x)))


# --------------------------------------------------------------------------------------------------- backtest


def _forward_fill(a: np.ndarray) -> np.ndarray:
    rows, cols = a.shape
    index = np.where(np.isnan(a), 0, np.arange(rows)[:, None])
    np.maximum.accumulate(index, axis=0, out=index)
    return a[index, np.arange(cols)]


def _prices(closes: pd.DataFrame, strategy: Strategy) -> np.ndarray:
    if not isinstance(closes.index, pd.DatetimeIndex):
        raise ValueError("closes must have a DatetimeIndex of sessions")
    if not (closes.index.is_monotonic_increasing and closes.index.is_unique):
        raise ValueError("closes' sessions must be increasing and unique")
    missing = [t for t in strategy.tickers if t not in closes.columns]
    if missing:
        raise ValueError(f"strategy {strategy.name}: no column in closes for {', '.join(missing)}")
    prices = closes.loc[:, list(strategy.tickers)].to_numpy(dtype=np.float64, copy=True)
    with np.errstate(invalid="ignore"):
        prices[~(prices > 0)] = np.nan
    return prices


def first_row(params: Params) -> int:
    """t₀: the first row with ``sharpe_lookback`` returns and, when the momentum filter is on, a
    ``lookback_days`` return inside the frame."""
    return max(params.sharpe_lookback, params.lookback_days if params.momentum_filter else 0)


def _ranked(params: Params, prices: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each rebalance row: (eligible mask, Sharpe) per ticker, shapes (len(rows), K)."""
    window = params.sharpe_lookback
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = prices[1:] / prices[:-1] - 1.0  # returns[j] is the return of row j + 1
        # windows[w] = returns[w : w + S], the S returns ending at row w + S
        windows = sliding_window_view(returns, window, axis=0)[rows - window]  # (R, K, S)
        mean = windows.mean(axis=-1)
        std = windows.std(axis=-1, ddof=1)
        sharpe = mean / std * math.sqrt(PERIODS_PER_YEAR)
    eligible = (std > ZERO_STD) & np.isfinite(sharpe)
    if params.momentum_filter:
        with np.errstate(invalid="ignore", divide="ignore"):
            momentum = prices[rows] / prices[rows - params.lookback_days] - 1.0
        eligible &= momentum > 0
    return eligible, sharpe


def _top(eligible: np.ndarray, sharpe: np.ndarray, top_n: int) -> tuple[np.ndarray, list[int]]:
    """The weights of one rebalance (``1/top_n`` for each of the best ``top_n`` eligible tickers, ties in ticker
    order) and the chosen columns, highest Sharpe first."""
    score = np.where(eligible, sharpe, -np.inf)
    order = np.argsort(-score, kind="stable")[:top_n]
    chosen = [int(i) for i in order if eligible[i]]
    target = np.zeros(eligible.size)
    target[chosen] = 1.0 / top_n
    return target, chosen


def _stopped_out(pre: float, peak: float, params: Params) -> bool:
    return params.drawdown_stop > 0 and pre <= (1.0 - params.drawdown_stop / 100) * peak


def _trade(pre: float, weights: np.ndarray, held: np.ndarray, price: np.ndarray, cost_bps: float):
    """Rebalance at one close from holdings worth ``held`` to ``weights``: (post-trade NAV, units, cash)."""
    cost = cost_bps / 1e4 * float(np.abs(weights * pre - held).sum()) if cost_bps else 0.0
    post = pre - cost
    invested = weights * post
    units = np.divide(invested, price, out=np.zeros_like(invested), where=weights > 0)
    return post, units, post - float(invested.sum())


@dataclass
class _Run:
    """One backtest's state as it moves through the rows (mutable; never leaves this module)."""

    nav: np.ndarray  # NAV at each close, filled from t₀
    units: np.ndarray
    cash: float
    target: np.ndarray  # the weights set at the last rebalance
    rebalances: list[Rebalance]


def _buy_hold(params: Params, tickers: tuple[str, ...], filled: np.ndarray, valued: np.ndarray, dates, t0: int) -> _Run:
    """Equal weight at t₀ over the tickers with a close by then, held as quantities to the end."""
    total, count = filled.shape
    have = np.isfinite(filled[t0])
    target = np.where(have, 1.0 / max(int(have.sum()), 1), 0.0)
    nav = np.empty(total)
    nav[t0], units, cash = _trade(params.capital, target, np.zeros(count), filled[t0], params.cost_bps)
    nav[t0 + 1 :] = cash + valued[t0 + 1 :] @ units
    initial = Rebalance(dates[t0], {tickers[i]: float(target[i]) for i in np.flatnonzero(have)}, "initial")
    return _Run(nav, units, cash, target, [initial])


def _rotation(
    params: Params, tickers: tuple[str, ...], prices: np.ndarray, filled: np.ndarray, valued: np.ndarray, dates, t0: int
) -> _Run:
    """Top ``top_n`` by Sharpe every ``cooldown_days`` sessions, with the drawdown stop checked at every close."""
    total, count = prices.shape
    rows = np.arange(t0, total)
    eligible, sharpe = _ranked(params, prices, rows)
    run = _Run(np.empty(total), np.zeros(count), params.capital, np.zeros(count), [])
    peak = params.capital
    last_rebalance = t0
    for t in range(t0, total):
        pre = params.capital if t == t0 else float(run.cash + valued[t] @ run.units)
        peak = max(peak, pre)
        held = run.units * valued[t]
        if t != t0 and run.units.any() and _stopped_out(pre, peak, params):
            # The stop-out acts at any close, cooldown or not, and restarts the cooldown.
            run.target = np.zeros(count)
            post, run.units, run.cash = _trade(pre, run.target, held, filled[t], params.cost_bps)
            peak = post
            last_rebalance = t
            run.rebalances.append(Rebalance(dates[t], {}, "drawdown"))
        elif t == t0 or t - last_rebalance >= params.cooldown_days:
            run.target, chosen = _top(eligible[t - t0], sharpe[t - t0], params.top_n)
            post, run.units, run.cash = _trade(pre, run.target, held, filled[t], params.cost_bps)
            peak = max(peak, post)
            last_rebalance = t
            reason = "initial" if t == t0 else "scheduled"
            run.rebalances.append(Rebalance(dates[t], {tickers[i]: float(run.target[i]) for i in chosen}, reason))
        else:
            post = pre
        run.nav[t] = post
    return run


def backtest(closes: pd.DataFrame, strategy: Strategy, params: Params | None = None) -> Backtest:
    """Backtest ``strategy`` on ``closes`` (see the module docstring for the exact rules)."""
    params = params or Params()
    prices = _prices(closes, strategy)
    total = prices.shape[0]
    t0 = first_row(params)
    if total <= t0:
        needed = "max(sharpe_lookback, lookback_days)" if params.momentum_filter else "sharpe_lookback"
        raise ValueError(f"strategy {strategy.name}: {total} sessions; the backtest needs more than {t0} ({needed})")
    filled = _forward_fill(prices)
    valued = np.nan_to_num(filled, nan=0.0)  # only held tickers count, and a held ticker always has a close
    if strategy.kind == "buy_hold":
        run = _buy_hold(params, strategy.tickers, filled, valued, closes.index, t0)
    else:
        run = _rotation(params, strategy.tickers, prices, filled, valued, closes.index, t0)
    return _result(strategy, params, run, valued[-1], closes.index, t0)


def _result(strategy: Strategy, params: Params, run: _Run, last_prices: np.ndarray, dates, t0: int) -> Backtest:
    tickers, nav = strategy.tickers, run.nav
    series = pd.Series(nav[t0:], index=dates[t0:], name=strategy.name)
    values = run.units * last_prices
    weights = {tickers[i]: float(values[i] / nav[-1]) for i in np.flatnonzero(run.units > 0)}
    daily = np.diff(nav[t0:]) / nav[t0:-1]
    window = params.pm_momentum_lookback
    momentum = float(nav[-1] / nav[-1 - window] - 1.0) if series.size > window else NAN
    return Backtest(
        name=strategy.name,
        kind=strategy.kind,
        tickers=tickers,
        nav=series,
        weights=weights,
        target_weights={tickers[i]: float(run.target[i]) for i in np.flatnonzero(run.target > 0)},
        rebalances=run.rebalances,
        daily_returns=daily,
        final_nav=float(nav[-1]),
        cagr=cagr(series, start=params.capital),
        sharpe=per_period_sharpe(daily) * math.sqrt(PERIODS_PER_YEAR),
        max_drawdown=max_drawdown(series.to_numpy()),
        momentum=momentum,
        sessions=int(series.size),
    )


# -------------------------------------------------------------------------------------------------- selection


def probabilistic_sharpe(returns: ArrayLike, sr_benchmark: float) -> float:
    """PSR = Φ((SR̂ − SR*) √(n − 1) / √(1 − γ₃ SR̂ + (γ₄ − 1)/4 SR̂²)), all per period.

    SR̂ = mean / std (ddof=1); γ₃ = m₃ / m₂^1.5 and γ₄ = m₄ / m₂² (biased central moments, γ₄ = 3 for a normal).
    NaN entries are dropped. NaN for n < 3, a zero std, a non-finite benchmark or a non-positive variance term.
    """
    x = _clean(returns)
    n = x.size
    if n < 3 or not math.isfinite(sr_benchmark):
        return NAN
    deviations = x - x.mean()
    m2 = float(np.mean(deviations**2))
    std = math.sqrt(m2 * n / (n - 1))
    if std <= ZERO_STD:
        return NAN
    sr = float(x.mean()) / std
    skew = float(np.mean(deviations**3)) / m2**1.5
    kurtosis = float(np.mean(deviations**4)) / m2**2
    spread = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if not spread > 0:
        return NAN
    return NormalDist().cdf((sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(spread))


def expected_max_sharpe(sharpes: Sequence[float]) -> float:
    """SR₀ = √V × ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N·e))), N = len(sharpes) (every strategy tried),
    V = the sample variance (ddof=1) of the finite ones. NaN when N < 2 or fewer than two are finite."""
    n = len(sharpes)
    finite = [s for s in sharpes if math.isfinite(s)]
    if n < 2 or len(finite) < 2:
        return NAN
    variance = float(np.var(finite, ddof=1))
    inv = NormalDist().inv_cdf
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * inv(1 - 1 / n) + EULER_GAMMA * inv(1 - 1 / (n * math.e)))


def deflated_sharpe(returns: ArrayLike, sharpes: Sequence[float]) -> float:
    """The PSR of ``returns`` against :func:`expected_max_sharpe` of the per-period Sharpes of all trials."""
    return probabilistic_sharpe(returns, expected_max_sharpe(sharpes))


def select(results: Mapping[str, Backtest], level: float = 0.95) -> Selection:
    """The highest final NAV wins (ties: the earlier name), with its PSR against the runner-up and its DSR."""
    if not results:
        raise ValueError("select: no backtests")
    names = list(results)
    ranking = tuple(sorted(names, key=lambda name: -results[name].final_nav))  # sorted is stable: ties keep order
    winner = ranking[0]
    runner_up = ranking[1] if len(ranking) > 1 else None
    returns = results[winner].daily_returns
    sharpes = [results[name].sharpe_per_period for name in names]
    psr = probabilistic_sharpe(returns, results[runner_up].sharpe_per_period) if runner_up else NAN
    sr0 = expected_max_sharpe(sharpes)
    dsr = probabilistic_sharpe(returns, sr0)
    significant = bool(psr >= level)
    warning = None
    if runner_up is None:
        warning = f"only one strategy ({winner}): nothing to compare it with"
    elif not significant:
        shown = "undefined" if math.isnan(psr) else f"{psr:.3f}"
        warning = (
            f"{winner} has the highest final NAV, but its probabilistic Sharpe ratio against {runner_up} is "
            f"{shown} (< {level}): the win may be noise"
        )
    return Selection(
        winner=winner,
        runner_up=runner_up,
        ranking=ranking,
        psr_vs_runner_up=psr,
        deflated_sharpe=dsr,
        sr0=sr0,
        strategies_tried=len(names),
        level=level,
        significant=significant,
        warning=warning,
    )


def keep_current(
    selection: Selection, current_strategy: str | None, results: Mapping[str, Backtest], min_significance: float
) -> tuple[str, str]:
    """(strategy to trade, why). Keeps ``current_strategy`` when ``min_significance > 0``, it is among the
    results and is not the winner, and the winner's PSR against its per-period Sharpe is below
    ``min_significance``; an undefined PSR does not keep it."""
    winner = selection.winner
    if min_significance <= 0 or current_strategy is None:
        return winner, "highest final NAV"
    if current_strategy == winner:
        return winner, "highest final NAV; already the held strategy"
    if current_strategy not in results:
        return winner, f"highest final NAV; the held strategy {current_strategy} is no longer backtested"
    psr = probabilistic_sharpe(results[winner].daily_returns, results[current_strategy].sharpe_per_period)
    if psr < min_significance:
        return current_strategy, (
            f"kept {current_strategy}: {winner}'s probabilistic Sharpe ratio against it is {psr:.3f} "
            f"< {min_significance}"
        )
    shown = "undefined" if math.isnan(psr) else f"{psr:.3f}"
    return winner, f"highest final NAV; probabilistic Sharpe ratio against the held {current_strategy}: {shown}"


# ----------------------------------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class OrderLine:
    symbol: str
    side: str  # buy | sell; hold when there is nothing to trade
    qty: float  # shares to trade; 0 = skipped (see reason)
    target: int  # target shares (0 when not targeted)
    current: float
    reason: str


@dataclass(frozen=True)
class Plan:
    lines: tuple[OrderLine, ...]  # sells, then buys, then skipped lines; each group by symbol
    buy_scale: float  # the factor every buy was scaled by for buying power (1.0 = not scaled)
    buying_power: float
    sell_proceeds: float  # Σ sell qty × price (sells without a price add nothing)
    buy_notional: float  # Σ buy qty × price after any scaling

    @property
    def orders(self) -> tuple[OrderLine, ...]:
        return tuple(line for line in self.lines if line.qty > 0)


def _price(prices: Mapping[str, float], symbol: str) -> float | None:
    value = prices.get(symbol)
    return float(value) if value is not None and math.isfinite(value) and value > 0 else None


def _whole(x: float) -> int:
    return int(math.floor(x + SHARE_EPS))


def _qty(x: float) -> float:
    return int(x) if float(x).is_integer() else float(x)


def target_shares(weights: Mapping[str, float], prices: Mapping[str, float], capital: float) -> dict[str, int]:
    """``floor(weight × capital / price)`` per symbol with a positive weight; a missing or non-positive price
    for such a symbol is a ``ValueError`` (a target cannot be sized without one)."""
    if not capital >= 0:
        raise ValueError(f"capital must be ≥ 0, got {capital}")
    out = {}
    for symbol, weight in weights.items():
        if not weight > 0:
            continue
        price = _price(prices, symbol)
        if price is None:
            raise ValueError(f"no valid price for {symbol}: cannot size its target")
        out[symbol] = _whole(weight * capital / price)
    return out


def _untargeted(symbol: str, targets: Mapping[str, float], held: float) -> OrderLine:
    """A symbol with no target, or a target of 0 shares: sell what is held, else nothing to do."""
    target = int(targets.get(symbol, 0))
    if held > 0:
        why = "held, not targeted: sell all" if symbol not in targets else "target 0 shares: sell all"
        return OrderLine(symbol, "sell", _qty(held), target, held, why)
    return OrderLine(symbol, "hold", 0, target, held, "target 0 shares")


def _to_target(symbol: str, target: int, held: float, prices: Mapping[str, float], tolerance_pct: float) -> OrderLine:
    """The whole-share trade from ``held`` to a positive ``target``, or a skipped line (qty 0) saying why not."""
    delta = target - held
    side = "buy" if delta > 0 else "sell"
    if delta == 0:
        return OrderLine(symbol, "hold", 0, target, held, "at target")
    if abs(delta) < tolerance_pct / 100 * target:
        return OrderLine(
            symbol, side, 0, target, held, f"delta {delta:+g} under {tolerance_pct:g}% of the target {target}"
        )
    if _whole(abs(delta)) < 1:
        return OrderLine(symbol, side, 0, target, held, f"delta {delta:+g} under one share")
    if side == "sell":
        return OrderLine(symbol, "sell", _whole(-delta), target, held, "sell to target")
    if _price(prices, symbol) is None:
        return OrderLine(symbol, "buy", 0, target, held, "no price: buy not sized")
    return OrderLine(symbol, "buy", _whole(delta), target, held, "buy to target")


def _scaled(buys: list[OrderLine], scale: float) -> tuple[list[OrderLine], list[OrderLine]]:
    """Every buy × ``scale``, floored to whole shares: (buys still at least one share, buys now skipped)."""
    kept, dropped = [], []
    why = f"buy to target, scaled ×{scale:.4f} for buying power"
    for line in buys:
        qty = int(math.floor(line.qty * scale))
        if qty >= 1:
            kept.append(OrderLine(line.symbol, "buy", qty, line.target, line.current, why))
        else:
            dropped.append(OrderLine(line.symbol, "buy", 0, line.target, line.current, f"{why}: under one share"))
    return kept, dropped


def _notional(lines: list[OrderLine], prices: Mapping[str, float]) -> float:
    """Σ qty × price; a line without a price adds nothing (a buy always has one: it is not sized without)."""
    return sum(line.qty * (_price(prices, line.symbol) or 0.0) for line in lines)


def deltas(
    targets: Mapping[str, float],
    current: Mapping[str, float],
    prices: Mapping[str, float],
    tolerance_pct: float = 2.0,
    *,
    buying_power: float,
    no_buy: Mapping[str, str] | None = None,
) -> Plan:
    """The orders that take ``current`` holdings to ``targets`` (see the module docstring). ``no_buy``: symbol
    → why it must not be bought now; its buy is a skipped line (its sells are not affected), and it takes no
    share of the buying power."""
    lines = []
    for symbol in sorted(set(targets) | {s for s, q in current.items() if q > 0}):
        held = float(current.get(symbol, 0.0))
        if symbol not in targets or targets[symbol] <= 0:
            lines.append(_untargeted(symbol, targets, held))
        else:
            line = _to_target(symbol, int(targets[symbol]), held, prices, tolerance_pct)
            if line.side == "buy" and line.qty > 0 and no_buy and symbol in no_buy:
                line = OrderLine(symbol, "buy", 0, line.target, held, f"not bought: {no_buy[symbol]}")
            lines.append(line)
    sells = [line for line in lines if line.qty > 0 and line.side == "sell"]
    buys = [line for line in lines if line.qty > 0 and line.side == "buy"]
    skipped = [line for line in lines if line.qty <= 0]

    proceeds = _notional(sells, prices)
    available = buying_power + proceeds
    needed = _notional(buys, prices)
    scale = 1.0
    if needed > available:
        scale = max(available, 0.0) / needed
        buys, dropped = _scaled(buys, scale)
        skipped = sorted(skipped + dropped, key=lambda line: line.symbol)
    notional = _notional(buys, prices)
    return Plan(
        lines=tuple(sells + buys + skipped),
        buy_scale=scale,
        buying_power=float(buying_power),
        sell_proceeds=float(proceeds),
        buy_notional=float(notional),
    )
