"""The built-in daily scanners (Bollinger mean reversion, regression momentum). Pure: completed daily bars of
a universe in, signals out.

Each scanner reads the universe as 2-D arrays (sessions × symbols, NaN where a symbol has no bar) whose last
row is the last completed session, and decides at that last row only: what it says on a morning depends on
nothing after the previous close. A symbol with no bar on that session, or too few bars for the indicator's
window, is not judged (no signal, never a guess from older prices).

- **Bollinger** (``bollinger``): the close below the lower band (``period``-session SMA − ``k`` population
  standard deviations, TA-Lib's BBANDS) is a buy. Strength: how far below, in standard deviations. The exit
  it names is the band's middle (or upper): where a mean reversion would end.
- **Regression momentum** (``regression``): the least-squares line through the last ``window`` log closes
  rises at least ``min_annual_pct`` a year (e^(252·slope) − 1) and fits them with R² ≥ ``min_r2`` (a steady
  climb, not one jump). Strength: the annual slope times R². The exit it names is that line carried
  ``horizon_days`` sessions ahead from the close (e^(slope·h) × close).

Every signal's stop is ``stop_atr_multiplier`` × Wilder's ATR below the close, its entry the close. Its
conviction (1–10) is the strength on a fixed scale, stated per scanner below, so the scorecard's calibration
can ask whether a stronger signal did better. Each scanner keeps its ``max_per_day`` strongest signals.

A **combination** (``evaluate_combination``) is a rule of conditions that must all hold: scanners that fired
and the morning's predictions (``policy.predictions``); its signals carry its first scanner's levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autotrader.policy import engine, predictions

ANNUAL_SESSIONS = 252


@dataclass(frozen=True)
class Bars:
    """Completed daily bars, sessions × symbols, the last row the session the scanners decide after."""

    symbols: tuple[str, ...]
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


@dataclass(frozen=True)
class Hit:
    scanner: str
    symbol: str
    strength: float
    conviction: int
    entry: float
    stop: float
    target: float
    note: str
    target_one: float | None = None  # the first target (the intraday setups'), None: only the final one


@dataclass(frozen=True)
class Common:
    atr_period: int
    stop_atr_multiplier: float
    max_per_day: int


def _conviction(value: float, low: float, high: float) -> int:
    """``value`` on the scale [low, high] as a conviction 1–10 (clipped at both ends)."""
    share = (value - low) / (high - low) if high > low else 1.0
    return int(min(10, max(1, round(1 + 9 * share))))


@dataclass(frozen=True)
class Evaluation:
    """One scanner at the last session, for every symbol at once: its named conditions (a symbol is a signal
    when all hold), the values they were decided from, and what a signal of each symbol would carry. The
    decision and ``scan --explain`` read the same evaluation, so the explanation is the decision's own."""

    scanner: str
    conditions: dict[str, np.ndarray]  # condition → bool per symbol
    values: dict[str, np.ndarray]  # indicator → value per symbol
    strength: np.ndarray
    conviction: np.ndarray
    entry: np.ndarray
    stop: np.ndarray
    target: np.ndarray
    notes: list[str]

    @property
    def fired(self) -> np.ndarray:
        out = np.ones(len(self.entry), dtype=bool)
        for held in self.conditions.values():
            out &= held
        return out


def _stops(bars: Bars, common: Common) -> tuple[np.ndarray, np.ndarray]:
    atr = engine.atr(bars.high, bars.low, bars.close, common.atr_period)[-1]
    return atr, bars.close[-1] - common.stop_atr_multiplier * atr


def _convictions(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.array([_conviction(float(v), low, high) if np.isfinite(v) else 1 for v in values], dtype=np.int64)


def hits(evaluation: Evaluation, bars: Bars, common: Common) -> list[Hit]:
    """The evaluation's signals, strongest first, at most ``max_per_day``."""
    e = evaluation
    found = [
        Hit(e.scanner, bars.symbols[j], float(e.strength[j]), int(e.conviction[j]), float(e.entry[j]),
            float(e.stop[j]), float(e.target[j]), e.notes[j],
            float(e.values["target_one"][j]) if "target_one" in e.values else None)
        for j in np.flatnonzero(e.fired)
    ]  # fmt: skip
    return sorted(found, key=lambda h: (-h.strength, h.symbol))[: common.max_per_day]


def _with(bars: Bars, count: int) -> np.ndarray:
    """Per symbol: a bar on the last session and ``count`` finite closes in the window (a gap is no guess)."""
    window = bars.close[-count:] if len(bars.close) >= count else np.full((count, bars.close.shape[1]), np.nan)
    return np.isfinite(window).all(axis=0)


def evaluate_bollinger(bars: Bars, common: Common, *, period: int, k: float, target: str) -> Evaluation:
    """Closes below the lower band. Conviction: 1 at the band, 10 at 2σ beyond it."""
    n = bars.close.shape[1]
    if len(bars.close) >= period:
        bands = engine.bollinger(bars.close, period, k)
        mid, upper, lower, sd = bands.mid[-1], bands.upper[-1], bands.lower[-1], bands.sd[-1]
    else:
        mid = upper = lower = sd = np.full(n, np.nan)
    close = bars.close[-1]
    atr, stop = _stops(bars, common)
    goal = mid if target == "middle" else upper
    with np.errstate(invalid="ignore", divide="ignore"):
        depth = (lower - close) / sd
        conditions = {
            f"{period} sessions of closes": _with(bars, period),
            "the band has a spread": sd > 0,
            "close below the lower band": close < lower,
            "an ATR for the stop": np.isfinite(stop) & (stop > 0),
        }
    notes = [
        f"close {close[j]:.2f} below the lower band {lower[j]:.2f} by {depth[j]:.2f}σ "
        f"({period}-session, {k:g}σ); exit at the band's {target} {goal[j]:.2f}"
        for j in range(n)
    ]
    values = {"close": close, "middle": mid, "upper": upper, "lower": lower, "sd": sd, "depth_sd": depth, "atr": atr}
    return Evaluation("bollinger", conditions, values, depth, _convictions(depth, 0.0, 2.0), close, stop, goal, notes)


def bollinger(bars: Bars, common: Common, *, period: int, k: float, target: str) -> list[Hit]:
    return hits(evaluate_bollinger(bars, common, period=period, k=k, target=target), bars, common)


def evaluate_regression(
    bars: Bars, common: Common, *, window: int, min_r2: float, min_annual_pct: float, horizon_days: int
) -> Evaluation:
    """Steady climbs. Conviction: R² from ``min_r2`` (1) to 1 (10)."""
    n = bars.close.shape[1]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if len(bars.close) >= window:
            fit = engine.linreg(np.log(np.where(bars.close > 0, bars.close, np.nan)), window)
            slope, r2 = fit.slope[-1], fit.r2[-1]
        else:
            slope = r2 = np.full(n, np.nan)
        close = bars.close[-1]
        atr, stop = _stops(bars, common)
        annual = np.expm1(ANNUAL_SESSIONS * slope)
        goal = close * np.exp(slope * horizon_days)
        conditions = {
            f"{window} sessions of closes": _with(bars, window),
            f"rising at least {min_annual_pct:g}% a year": (annual >= min_annual_pct / 100) & (slope > 0),
            f"R² at least {min_r2:g}": r2 >= min_r2,
            "an ATR for the stop": np.isfinite(stop) & (stop > 0),
        }
    notes = [
        f"log closes over {window} sessions rise {annual[j] * 100:.0f}% a year with R² {r2[j]:.2f}; "
        f"the line {horizon_days} sessions on: {goal[j]:.2f}"
        for j in range(n)
    ]
    values = {"close": close, "slope": slope, "annual": annual, "r2": r2, "atr": atr}
    return Evaluation("regression", conditions, values, annual * r2, _convictions(r2, min_r2, 1.0), close, stop, goal,
                      notes)  # fmt: skip


def regression(
    bars: Bars, common: Common, *, window: int, min_r2: float, min_annual_pct: float, horizon_days: int
) -> list[Hit]:
    evaluation = evaluate_regression(bars, common, window=window, min_r2=min_r2, min_annual_pct=min_annual_pct,
                                     horizon_days=horizon_days)  # fmt: skip
    return hits(evaluation, bars, common)


def evaluate_combination(
    name: str, conditions: list[str], scanners: dict[str, Evaluation], predicted: dict[str, np.ndarray]
) -> Evaluation:
    """A combination rule at the last session: a symbol is a signal when every condition holds, each a scanner
    of ``scanners`` (it fired) or a prediction condition (``policy.predictions.prediction_condition``: the
    morning's prediction, ``predicted`` column → value per symbol, NaN where none, is above its threshold; no
    prediction never holds). Its levels, strength and conviction are its first scanner's; its note names every
    condition with the value it was decided from, then that scanner's note."""
    first = scanners[next(c for c in conditions if c in scanners)]
    held: dict[str, np.ndarray] = {}
    shown: list[list[str]] = [[] for _ in first.entry]
    for condition in conditions:
        if condition in scanners:
            held[condition] = scanners[condition].fired
            for j, words in enumerate(shown):
                words.append(f"{condition} {'fired' if held[condition][j] else 'did not fire'}")
            continue
        rule = predictions.prediction_condition(condition)
        assert rule is not None, condition  # the settings allow no other name
        column, threshold = rule
        value = predicted[column]
        with np.errstate(invalid="ignore"):
            held[condition] = np.isfinite(value) & (value > threshold)
        for j, words in enumerate(shown):
            v = value[j]
            words.append(f"{condition} ({column} {v:g})" if np.isfinite(v) else f"{condition} (no prediction)")
    notes = [f"{name}: all of {', '.join(words)}; {note}" for words, note in zip(shown, first.notes, strict=True)]
    values = {column: predicted[column] for column in predictions.PREDICTION_COLUMNS}
    values |= {f"{first.scanner}.{k}": v for k, v in first.values.items()}
    return Evaluation(name, held, values, first.strength, first.conviction, first.entry, first.stop, first.target,
                      notes)  # fmt: skip
