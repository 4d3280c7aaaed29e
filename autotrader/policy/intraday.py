"""The built-in intraday setups on 1-minute bars. Pure: one New York session's minute bars of a
universe up to the evaluation minute in, one ``Evaluation`` per setup at the last bar out.

``MinuteBars`` holds the session's minute grid from the open (row ``i`` is the bar that starts ``i`` minutes
after the open, a minute without a bar a NaN row), cut before the evaluation minute: its last row is the last
bar completed by then, and every setup decides at that row only, from that row and the rows before it.

The setups share the indicators (``engine``): EMA ``ema_fast`` and ``ema_slow`` (20 and 50), the session's VWAP
with its σ bands, relative volume over ``relative_volume_bars`` bars, the opening range, the high of day and
Wilder's ATR of the minute bars. Each is a buy with one list of named conditions (a symbol fires when all hold):

- ``ema_cross``: EMA20 at or below EMA50 on the bar before and above it on this bar; the close above EMA50
  (with both EMAs of the closes a cross from below already needs a close above the previous EMA50, so the
  last condition only matters for indicators computed otherwise; it is kept as the setup states it).
- ``vwap_reclaim``: the close above VWAP after a close below it in the last ``below_within`` bars; relative
  volume at least ``min_relative_volume``; no ``vwap_reclaim`` hit for the symbol in the last
  ``cooldown_minutes``. The earlier hits are derived from the same bars at the session's earlier evaluation
  rows (``earlier_rows``): no state is kept between evaluations.
- ``sigma_fade``: the close at or below VWAP − ``k``·σ; EMA20 above EMA50 (a supportive trend); relative volume
  at least ``min_relative_volume``.
- ``hod_failure``: a fresh high of day within the last ``within`` bars, a pullback of at least
  ``min_pullback_pct`` % from it, the close still above VWAP, EMA20 rising (above its previous bar).
- ``orb``: after the first ``minutes`` minutes, the close above the opening range's high; EMA20 above EMA50;
  relative volume at least ``min_relative_volume``.
- ``trend_pullback``: an uptrend on both timeframes (EMA20 above EMA50 on the minutes; the last daily close
  above its daily SMA50), the bar's low back within ``touch_pct`` % of EMA20 and the close still above it, and
  a regime score of at least ``min_regime_score``.
- ``vwap_mean_reversion``: the close at least ``min_discount_pct`` % below VWAP, and a regime score of at
  least ``min_regime_score`` (the broader trend constructive, so the discount is a dip rather than a slide).

The two last ones read the symbol's **daily trend** (``DailyTrend``), computed from the completed daily closes
before the session, never from the session itself: the regime score is the sum of three votes, +1 when bullish
and −1 when not — the last close above its SMA ``slow_sma`` (50), SMA ``fast_sma`` (20) above SMA ``slow_sma``,
and the least-squares slope of the log closes over ``slope_sessions`` (20) positive — so it is −3, −1, +1 or +3,
and positive when most of them agree the trend is up. A symbol without enough daily history has no score and
neither setup fires for it.

Every setup also needs an ATR for its stop. Entry: the close; stop: ``stop_atr_multiplier`` × ATR below it;
target: ``target_two_atr`` × ATR above it (the signal's ``target``); ``target_one_atr`` × ATR above it is the
first target (the signal's ``target_one``: the management's partial exit, then the stop to break-even).
Strength: the close's distance from the setup's reference level in ATRs (EMA50 for the cross and the pullback;
VWAP for the reclaim, the high-of-day failure and the mean reversion; the band; the range high); conviction 1 at
0 and 10 at 2 ATRs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from autotrader.policy import engine
from autotrader.policy.scanners import Evaluation, Hit

SETUPS = ("ema_cross", "vwap_reclaim", "sigma_fade", "hod_failure", "orb", "trend_pullback", "vwap_mean_reversion")
#: The setups that read the daily trend besides the minute bars.
DAILY_SETUPS = ("trend_pullback", "vwap_mean_reversion")


@dataclass(frozen=True)
class DailyTrend:
    """Each symbol's daily trend before the session (one value per symbol; NaN without enough history)."""

    close: np.ndarray  # the last completed daily close
    sma: np.ndarray  # its SMA ``slow_sma``
    score: np.ndarray  # the regime score: −3, −1, +1 or +3
    votes: dict[str, np.ndarray]  # each vote's name → +1 / −1 (NaN without history)

    @classmethod
    def unknown(cls, symbols: int) -> DailyTrend:
        nan = np.full(symbols, np.nan)
        return cls(nan, nan, nan, {})


@dataclass(frozen=True)
class MinuteBars:
    """One session's minute bars from the open, (minutes, symbols), the last row the last completed bar, and
    the symbols' daily trend before the session (None: not known, the setups that need it do not fire)."""

    symbols: tuple[str, ...]
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    daily: DailyTrend | None = None

    def first(self, rows: int) -> MinuteBars:
        """The first ``rows`` bars (the session as it stood ``rows`` minutes after the open)."""
        return replace(self, **{name: getattr(self, name)[:rows] for name in ("high", "low", "close", "volume")})


@dataclass(frozen=True)
class EmaCross:
    pass


@dataclass(frozen=True)
class VwapReclaim:
    below_within: int = 10
    min_relative_volume: float = 1.5
    cooldown_minutes: int = 30


@dataclass(frozen=True)
class SigmaFade:
    k: float = 2.0
    min_relative_volume: float = 1.2


@dataclass(frozen=True)
class HodFailure:
    within: int = 15
    min_pullback_pct: float = 0.3


@dataclass(frozen=True)
class Orb:
    minutes: int = 30
    min_relative_volume: float = 1.5


@dataclass(frozen=True)
class TrendPullback:
    touch_pct: float = 0.1
    min_regime_score: float = 1.0


@dataclass(frozen=True)
class VwapMeanReversion:
    min_discount_pct: float = 1.0
    min_regime_score: float = 1.0


@dataclass(frozen=True)
class Regime:
    fast_sma: int = 20
    slow_sma: int = 50
    slope_sessions: int = 20

    @property
    def sessions(self) -> int:
        """The daily closes the score needs (the longest window)."""
        return max(self.slow_sma, self.fast_sma, self.slope_sessions)


@dataclass(frozen=True)
class Params:
    ema_fast: int = 20
    ema_slow: int = 50
    relative_volume_bars: int = 20
    atr_period: int = 14
    stop_atr_multiplier: float = 1.0
    target_one_atr: float = 1.0
    target_two_atr: float = 2.0
    ema_cross: EmaCross = field(default_factory=EmaCross)
    vwap_reclaim: VwapReclaim = field(default_factory=VwapReclaim)
    sigma_fade: SigmaFade = field(default_factory=SigmaFade)
    hod_failure: HodFailure = field(default_factory=HodFailure)
    orb: Orb = field(default_factory=Orb)
    trend_pullback: TrendPullback = field(default_factory=TrendPullback)
    vwap_mean_reversion: VwapMeanReversion = field(default_factory=VwapMeanReversion)
    regime: Regime = field(default_factory=Regime)


def daily_trend(closes: np.ndarray, r: Regime) -> DailyTrend:
    """The daily trend at the last of ``closes`` (completed daily closes, sessions × symbols, oldest first)."""
    closes = np.asarray(closes, dtype=np.float64)
    if closes.ndim != 2 or len(closes) == 0:
        return DailyTrend.unknown(closes.shape[1] if closes.ndim == 2 else 0)
    last = closes[-1]
    fast, slow = engine.sma(closes, r.fast_sma)[-1], engine.sma(closes, r.slow_sma)[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = engine.linreg(np.log(closes), r.slope_sessions).slope[-1]
        facts = {
            f"close above SMA{r.slow_sma}": (last > slow, np.isfinite(last) & np.isfinite(slow)),
            f"SMA{r.fast_sma} above SMA{r.slow_sma}": (fast > slow, np.isfinite(fast) & np.isfinite(slow)),
            f"{r.slope_sessions}-session slope up": (slope > 0, np.isfinite(slope)),
        }
    votes = {name: np.where(known, np.where(up, 1.0, -1.0), np.nan) for name, (up, known) in facts.items()}
    return DailyTrend(last, slow, np.sum(list(votes.values()), axis=0), votes)


class Indicators(NamedTuple):
    """The setups' indicators over the whole session (rows as the bars')."""

    fast: np.ndarray
    slow: np.ndarray
    vwap: engine.VwapBands
    rvol: np.ndarray
    atr: np.ndarray
    hod: np.ndarray  # the session's running high (missing bars skipped, not NaN)
    or_high: np.ndarray


def indicators(bars: MinuteBars, p: Params) -> Indicators:
    session = np.zeros(len(bars.close), dtype=np.int64)
    h, lo, c, v = bars.high, bars.low, bars.close, bars.volume
    bands = engine.vwap(h, lo, c, v, session, k=(p.sigma_fade.k,))
    or_high, _ = engine.opening_range(h, lo, session, p.orb.minutes) if len(c) else (c, c)
    return Indicators(
        engine.ema(c, p.ema_fast),
        engine.ema(c, p.ema_slow),
        bands,
        engine.relative_volume(v, p.relative_volume_bars),
        engine.atr(h, lo, c, p.atr_period),
        np.fmax.accumulate(h, axis=0) if len(h) else h,
        or_high,
    )


def _row(a: np.ndarray, t: int) -> np.ndarray:
    """Row ``t`` of ``a``, all NaN when there is none (before the first bar)."""
    return a[t] if 0 <= t < len(a) else np.full(a.shape[1], np.nan)


def _conviction(strength: np.ndarray) -> np.ndarray:
    share = np.clip(np.nan_to_num(strength / 2.0, nan=0.0), 0.0, 1.0)
    return np.rint(1 + 9 * share).astype(np.int64)


def _evaluation(
    setup: str,
    bars: MinuteBars,
    p: Params,
    ind: Indicators,
    conditions: dict[str, np.ndarray],
    level: np.ndarray,
    values: dict[str, np.ndarray],
    why: str,
) -> Evaluation:
    """The evaluation with the ATR stop and targets every setup shares; strength = (close − level)/ATR."""
    t = len(bars.close) - 1
    close, atr = _row(bars.close, t), _row(ind.atr, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        stop = close - p.stop_atr_multiplier * atr
        target_one = close + p.target_one_atr * atr
        target = close + p.target_two_atr * atr
        strength = np.abs(close - level) / atr
        conditions = {**conditions, "an ATR for the stop": np.isfinite(stop) & (stop > 0) & (atr > 0)}
    notes = [
        f"{why} at {close[j]:.2f}; stop {stop[j]:.2f} ({p.stop_atr_multiplier:g} ATR), first target "
        f"{target_one[j]:.2f} ({p.target_one_atr:g} ATR), final target {target[j]:.2f} ({p.target_two_atr:g} ATR)"
        for j in range(len(close))
    ]
    values = {"close": close, **values, "atr": atr, "target_one": target_one}
    return Evaluation(setup, conditions, values, strength, _conviction(strength), close, stop, target, notes)


def evaluate_ema_cross(bars: MinuteBars, p: Params, ind: Indicators) -> Evaluation:
    t = len(bars.close) - 1
    close = _row(bars.close, t)
    fast, slow, fast_before, slow_before = (
        _row(ind.fast, t),
        _row(ind.slow, t),
        _row(ind.fast, t - 1),
        _row(ind.slow, t - 1),
    )
    f, s = p.ema_fast, p.ema_slow
    conditions = {
        f"EMA{f} at or below EMA{s} on the bar before": fast_before <= slow_before,
        f"EMA{f} above EMA{s} on this bar": fast > slow,
        f"close above EMA{s}": close > slow,
    }
    values = {f"ema{f}": fast, f"ema{s}": slow, f"ema{f}_before": fast_before, f"ema{s}_before": slow_before}
    return _evaluation("ema_cross", bars, p, ind, conditions, slow, values, f"EMA{f} crossed above EMA{s}")


def _reclaim_raw(bars: MinuteBars, p: Params, ind: Indicators, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """At each of ``rows``: close above VWAP, a close below it in the bars before, relative volume."""
    r = p.vwap_reclaim
    close, vwap = bars.close, ind.vwap.vwap
    with np.errstate(invalid="ignore"):
        below = close < vwap
    # a close below VWAP in the `below_within` bars before each row: a running count of the flags
    counts = np.vstack([np.zeros((1, close.shape[1])), np.cumsum(below, axis=0)])
    earliest = np.maximum(rows - r.below_within, 0)
    was_below = (counts[rows] - counts[earliest]) > 0
    with np.errstate(invalid="ignore"):
        above = close[rows] > vwap[rows]
        volume = ind.rvol[rows] >= r.min_relative_volume
    return above, was_below, volume


def evaluate_vwap_reclaim(bars: MinuteBars, p: Params, ind: Indicators, earlier_rows: Sequence[int] = ()) -> Evaluation:
    """``earlier_rows``: the rows this setup was evaluated at earlier in the session (the cooldown's hits)."""
    r = p.vwap_reclaim
    t = len(bars.close) - 1
    n = bars.close.shape[1]
    rows = np.array([x for x in earlier_rows if 0 <= x < t] + [t], dtype=np.int64) if t >= 0 else np.array([], np.int64)
    if t >= 0:
        above, was_below, volume = _reclaim_raw(bars, p, ind, rows)
        atr = ind.atr[rows]
        raw = above & was_below & volume & np.isfinite(atr) & (atr > 0)
    else:
        above = was_below = volume = raw = np.zeros((1, n), dtype=bool)
    last_hit = np.full(n, -np.inf)
    for i, row in enumerate(rows[:-1].tolist()):  # earlier evaluations, oldest first: each hit starts a cooldown
        hit = raw[i] & (row - last_hit >= r.cooldown_minutes)
        last_hit[hit] = row
    since = t - last_hit
    conditions = {
        "close above VWAP": above[-1],
        f"a close below VWAP in the last {r.below_within} bars": was_below[-1],
        f"relative volume at least {r.min_relative_volume:g}": volume[-1],
        f"no vwap_reclaim hit in the last {r.cooldown_minutes} minutes": since >= r.cooldown_minutes,
    }
    vwap = _row(ind.vwap.vwap, t)
    values = {"vwap": vwap, "relative_volume": _row(ind.rvol, t), "minutes_since_hit": since}
    return _evaluation("vwap_reclaim", bars, p, ind, conditions, vwap, values, "close reclaimed VWAP")


def evaluate_sigma_fade(bars: MinuteBars, p: Params, ind: Indicators) -> Evaluation:
    s = p.sigma_fade
    t = len(bars.close) - 1
    close, fast, slow = _row(bars.close, t), _row(ind.fast, t), _row(ind.slow, t)
    lower, sd, rvol = _row(ind.vwap.lower[float(s.k)], t), _row(ind.vwap.sd, t), _row(ind.rvol, t)
    with np.errstate(invalid="ignore"):
        conditions = {
            f"close at or below VWAP − {s.k:g}σ": close <= lower,
            f"EMA{p.ema_fast} above EMA{p.ema_slow}": fast > slow,
            f"relative volume at least {s.min_relative_volume:g}": rvol >= s.min_relative_volume,
        }
    values = {"vwap": _row(ind.vwap.vwap, t), "lower_band": lower, "sd": sd, f"ema{p.ema_fast}": fast,
              f"ema{p.ema_slow}": slow, "relative_volume": rvol}  # fmt: skip
    return _evaluation("sigma_fade", bars, p, ind, conditions, lower, values, f"close at the lower {s.k:g}σ band")


def evaluate_hod_failure(bars: MinuteBars, p: Params, ind: Indicators) -> Evaluation:
    h = p.hod_failure
    t = len(bars.close) - 1
    close, vwap = _row(bars.close, t), _row(ind.vwap.vwap, t)
    hod, hod_before = _row(ind.hod, t), _row(ind.hod, t - h.within)
    fast, fast_before = _row(ind.fast, t), _row(ind.fast, t - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pullback = (1 - close / hod) * 100
        conditions = {
            f"a fresh high of day in the last {h.within} bars": hod > hod_before,
            f"pulled back at least {h.min_pullback_pct:g}% from it": pullback >= h.min_pullback_pct,
            "close above VWAP": close > vwap,
            f"EMA{p.ema_fast} rising": fast > fast_before,
        }
    values = {"high_of_day": hod, f"high_of_day_{h.within}_bars_before": hod_before, "pullback_pct": pullback,
              "vwap": vwap, f"ema{p.ema_fast}": fast, f"ema{p.ema_fast}_before": fast_before}  # fmt: skip
    return _evaluation("hod_failure", bars, p, ind, conditions, vwap, values, "pullback from a fresh high of day")


def evaluate_orb(bars: MinuteBars, p: Params, ind: Indicators) -> Evaluation:
    o = p.orb
    t = len(bars.close) - 1
    close, top, rvol = _row(bars.close, t), _row(ind.or_high, t), _row(ind.rvol, t)
    fast, slow = _row(ind.fast, t), _row(ind.slow, t)
    with np.errstate(invalid="ignore"):
        conditions = {
            f"close above the {o.minutes}-minute opening-range high (after it)": (t >= o.minutes) & (close > top),
            f"EMA{p.ema_fast} above EMA{p.ema_slow}": fast > slow,
            f"relative volume at least {o.min_relative_volume:g}": rvol >= o.min_relative_volume,
        }
    values = {"opening_range_high": top, f"ema{p.ema_fast}": fast, f"ema{p.ema_slow}": slow, "relative_volume": rvol}
    return _evaluation("orb", bars, p, ind, conditions, top, values, f"break of the {o.minutes}-minute range high")


def _daily(bars: MinuteBars) -> DailyTrend:
    return bars.daily if bars.daily is not None else DailyTrend.unknown(len(bars.symbols))


def evaluate_trend_pullback(bars: MinuteBars, p: Params, ind: Indicators) -> Evaluation:
    tp, daily = p.trend_pullback, _daily(bars)
    t = len(bars.close) - 1
    close, low, fast, slow = _row(bars.close, t), _row(bars.low, t), _row(ind.fast, t), _row(ind.slow, t)
    f, s, d = p.ema_fast, p.ema_slow, p.regime.slow_sma
    with np.errstate(invalid="ignore"):
        conditions = {
            f"EMA{f} above EMA{s} (the minute trend)": fast > slow,
            f"daily close above its SMA{d} (the daily trend)": daily.close > daily.sma,
            f"the low within {tp.touch_pct:g}% of EMA{f}": low <= fast * (1 + tp.touch_pct / 100),
            f"close above EMA{f}": close > fast,
            f"regime score at least {tp.min_regime_score:g}": daily.score >= tp.min_regime_score,
        }
    values = {"low": low, f"ema{f}": fast, f"ema{s}": slow, "daily_close": daily.close, f"daily_sma{d}": daily.sma,
              "regime_score": daily.score}  # fmt: skip
    return _evaluation("trend_pullback", bars, p, ind, conditions, slow, values, f"pullback to EMA{f} in an uptrend")


def evaluate_vwap_mean_reversion(bars: MinuteBars, p: Params, ind: Indicators) -> Evaluation:
    m, daily = p.vwap_mean_reversion, _daily(bars)
    t = len(bars.close) - 1
    close, vwap = _row(bars.close, t), _row(ind.vwap.vwap, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        discount = (1 - close / vwap) * 100
        conditions = {
            f"close at least {m.min_discount_pct:g}% below VWAP": discount >= m.min_discount_pct,
            f"regime score at least {m.min_regime_score:g}": daily.score >= m.min_regime_score,
        }
    values = {"vwap": vwap, "discount_pct": discount, "regime_score": daily.score}
    return _evaluation("vwap_mean_reversion", bars, p, ind, conditions, vwap, values, "deep discount below VWAP")


def evaluate(
    setup: str, bars: MinuteBars, p: Params, ind: Indicators | None = None, earlier_rows: Sequence[int] = ()
) -> Evaluation:
    """One setup at the last bar (``ind``: the session's indicators, computed here when not given)."""
    ind = indicators(bars, p) if ind is None else ind
    if setup == "vwap_reclaim":
        return evaluate_vwap_reclaim(bars, p, ind, earlier_rows)
    functions = {"ema_cross": evaluate_ema_cross, "sigma_fade": evaluate_sigma_fade,
                 "hod_failure": evaluate_hod_failure, "orb": evaluate_orb, "trend_pullback": evaluate_trend_pullback,
                 "vwap_mean_reversion": evaluate_vwap_mean_reversion}  # fmt: skip
    if setup not in functions:
        raise ValueError(f"unknown intraday setup {setup!r}: expected one of {', '.join(SETUPS)}")
    return functions[setup](bars, p, ind)


def evaluate_all(
    setups: Sequence[str], bars: MinuteBars, p: Params, earlier_rows: Sequence[int] = ()
) -> dict[str, Evaluation]:
    """Each setup at the last bar, from one computation of the indicators."""
    ind = indicators(bars, p)
    return {setup: evaluate(setup, bars, p, ind, earlier_rows) for setup in setups}


def evaluation_minutes(first: int, last: int, every: int) -> list[int]:
    """The evaluation minutes (since the open) from ``first`` to ``last`` inclusive, ``every`` minutes apart."""
    return list(range(first, last + 1, every))


def earlier_rows(minute: int, first: int, every: int) -> list[int]:
    """The last bar's row of each evaluation before ``minute`` (a minute ``m`` decides at row ``m − 1``)."""
    return [m - 1 for m in range(first, minute, every) if m >= 1]


@dataclass(frozen=True)
class Playbook:
    """A session policy: inside [start, end) New York (``HH:MM``), only ``setups`` may fire, and only for
    ``symbols`` when it names any."""

    name: str
    start: str
    end: str
    setups: tuple[str, ...]
    symbols: tuple[str, ...] = ()


def allowed(playbooks: Sequence[Playbook], hhmm: str, setup: str, symbol: str) -> str | None:
    """Whether ``setup`` may fire for ``symbol`` at New York time ``hhmm``: None when it may, else why not.
    The playbooks whose window holds the minute decide (any one that allows it is enough); when none does,
    the trading window alone applies and every enabled setup may fire."""
    matching = [p for p in playbooks if p.start <= hhmm < p.end]
    if not matching:
        return None
    if any(setup in p.setups and (not p.symbols or symbol in p.symbols) for p in matching):
        return None
    names = ", ".join(p.name for p in matching)
    return f"{setup} is not in the playbook of {hhmm} ({names}) for {symbol}"


def on_fund(hit: Hit, fund: str, fund_close: float) -> Hit:
    """A setup that fired on an index, traded on its fund: the levels scaled by the fund's close over the
    index's at the signal's minute (stop and target keep their distance from the entry in percent)."""
    ratio = fund_close / hit.entry
    note = (
        f"{hit.note}; computed on {hit.symbol}, traded on {fund}: levels × {ratio:.6g} "
        f"({fund} {fund_close:.2f} / {hit.symbol} {hit.entry:.2f})"
    )
    target_one = hit.target_one * ratio if hit.target_one is not None else None
    return replace(hit, symbol=fund, entry=fund_close, stop=hit.stop * ratio, target=hit.target * ratio,
                   target_one=target_one, note=note)  # fmt: skip
