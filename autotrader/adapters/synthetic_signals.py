"""``SyntheticSignalFeed``: the synthetic world's own daily recommendations, clearly labelled as a demo.

Four pretend sources publish one CSV document each at 08:00 New York on every session day (nothing before
that instant, nothing on a non-session day), 8-12 rows in all, deterministic for (seed, session):

=================================  ==========  =========================================================
source                             category    how it picks (and why it is good or poor)
=================================  ==========  =========================================================
``synthetic:quality-compounders``  long_term   the stocks with the highest generating drift, seen through
                                               estimation noise (``expected_annual_drift`` is the world's
                                               hidden truth). Real skill, but modest: drifts differ by a few
                                               percent a year against 15-55 % volatility. Its conviction
                                               rises with the true drift, plus noise: mildly informative.
``synthetic:hype-desk``            long_term   names from the weakest third of the drifts, with loud,
                                               uninformative conviction (7-10). Poor by construction.
``synthetic:breakout-scanner``     swing       20-session momentum leaders up to the previous close; entry =
                                               previous close, stop = entry - 2 x ATR(14), target = entry +
                                               3 x ATR(14) (Wilder), horizon 10 sessions. No hidden truth.
``synthetic:coinflip-daytrades``   day_trade   random names; stop -1 %, target +2 %, horizon 1. No skill.
=================================  ==========  =========================================================

Every row says ``note = "synthetic demo signal"`` and every source name starts with ``synthetic:``, so demo
recommendations can never be mistaken for real ones. Only public ``MarketData`` methods read bars, and only
up to the previous session's close, so the clock rule of ``autotrader.ports`` keeps the feed honest in replay.
Random numbers come from blake2b of (seed, session, source, ...) - no stream state, so a source's picks do
not depend on which other sources ran or in what order.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable
from datetime import date, datetime
from statistics import NormalDist

import pandas as pd

from autotrader.adapters.synthetic_data import FUNDS, SyntheticMarketData
from autotrader.clock import ET, MarketCalendar
from autotrader.ports import Clock

PUBLISH_AT = "08:00"  # New York time, on each session day
NOTE = "synthetic demo signal"
QUALITY = "synthetic:quality-compounders"
HYPE = "synthetic:hype-desk"
BREAKOUT = "synthetic:breakout-scanner"
COINFLIP = "synthetic:coinflip-daytrades"
SOURCES: tuple[str, ...] = (QUALITY, HYPE, BREAKOUT, COINFLIP)

HEADER = ("symbol", "category", "source", "side", "conviction", "entry", "stop", "target", "horizon_days",
          "generated_at", "note")  # fmt: skip

# Sessions of history read for each symbol (up to the previous close): enough for a settled Wilder ATR(14).
LOOKBACK_SESSIONS = 60
MOMENTUM_SESSIONS = 20
ATR_PERIOD = 14

# How wrong the quality source's estimate of a drift is (annual, like the drift): large enough that its
# picks rotate among the better names rather than repeating the top three forever.
QUALITY_NOISE = 0.03
# The hype desk picks among the weakest third of the drifts. It has no taste for volatility on purpose: in
# this world (as in any lognormal one) a more volatile name has a *higher* arithmetic mean return for the
# same drift (+sigma^2/2), so preferring volatile names handed the "poor" source a convexity bonus that beat
# the good source's mean 60-session return in most seeds we tried.
HYPE_POOL = 1 / 3
HYPE_NOISE = 0.03

_NORMAL = NormalDist()

Pick = dict[str, object]


def _unit(*parts: object) -> float:
    """A number in (0, 1) from the parts' text, identical in every process."""
    digest = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "little") + 0.5) / 2.0**64


def _normal(*parts: object) -> float:
    return _NORMAL.inv_cdf(_unit(*parts))


def _cents(value: float) -> float:
    return round(value + 0.0, 2)


def _clamp_conviction(value: float) -> int:
    return int(min(10, max(1, round(value))))


def wilder_atr(frame: pd.DataFrame, period: int = ATR_PERIOD) -> float | None:
    """Wilder's ATR at the last bar: seeded with the simple mean of the first ``period`` true ranges (the
    TA-Lib convention), then ``atr = (atr * (period - 1) + tr) / period``. None with too little history."""
    high, low, close = frame["high"].tolist(), frame["low"].tolist(), frame["close"].tolist()
    true_ranges = [
        max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1])) for i in range(1, len(close))
    ]
    if len(true_ranges) < period:
        return None
    atr = sum(true_ranges[:period]) / period
    for tr in true_ranges[period:]:
        atr = (atr * (period - 1) + tr) / period
    return atr


class SyntheticSignalFeed:
    """The demo's built-in ``SignalSource`` (see the module doc). ``sources`` narrows it to some of them."""

    name = "synthetic"

    def __init__(
        self,
        market_data: SyntheticMarketData,
        calendar: MarketCalendar,
        clock: Clock,
        *,
        seed: int,
        sources: Iterable[str] = SOURCES,
    ) -> None:
        self._data = market_data
        self._calendar = calendar
        self._clock = clock
        self._seed = int(seed)
        self._sources = tuple(sources)
        unknown = set(self._sources) - set(SOURCES)
        if unknown:
            raise ValueError(f"unknown synthetic sources: {', '.join(sorted(unknown))}")
        # Documents are a pure function of (seed, session) once published: replay asks every slot, so keep them.
        self._published: dict[date, list[tuple[str, str]]] = {}
        self._truth: dict[str, float] | None = None

    def published_at(self, session: date) -> datetime:
        return self._calendar.at_et(session, PUBLISH_AT)

    def documents(self, session: date) -> list[tuple[str, str]]:
        if not self._calendar.is_session(session) or self._clock.now() < self.published_at(session):
            return []
        if session not in self._published:
            self._published[session] = self._build(session)
        return list(self._published[session])

    # -- building ----------------------------------------------------------------------------------
    def _build(self, session: date) -> list[tuple[str, str]]:
        history = _History(self._data, self._calendar, session)
        makers: dict[str, Callable[[date, _History], list[Pick]]] = {
            QUALITY: self._quality,
            HYPE: self._hype,
            BREAKOUT: self._breakout,
            COINFLIP: self._coinflip,
        }
        generated_at = self.published_at(session).astimezone(ET).isoformat()
        out = []
        for source in self._sources:
            picks = makers[source](session, history)
            if picks:
                name = f"{source.replace(':', '-')}-{session.isoformat()}.csv"
                out.append((name, _csv(source, generated_at, picks)))
        return out

    def _count(self, session: date, source: str) -> int:
        return 2 + int(_unit(self._seed, session, source, "count") < 0.5)

    def _stocks(self) -> list[str]:
        return [s for s in self._data.universe if s not in FUNDS]

    def _drifts(self) -> dict[str, float]:
        """The hidden truth the long-term sources peek at (a constant of the world: computed once)."""
        if self._truth is None:
            self._truth = {s: self._data.expected_annual_drift(s) for s in self._stocks()}
        return self._truth

    def _quality(self, session: date, history: _History) -> list[Pick]:
        stocks = self._stocks()
        truth = self._drifts()
        estimate = {s: truth[s] + QUALITY_NOISE * _normal(self._seed, session, QUALITY, s) for s in stocks}
        ranked = sorted(stocks, key=lambda s: truth[s])
        percentile = {s: i / (len(ranked) - 1) for i, s in enumerate(ranked)}
        picks = []
        for symbol in sorted(stocks, key=lambda s: -estimate[s]):
            entry = history.last_close(symbol)
            if entry is None:
                continue
            conviction = 3 + 7 * percentile[symbol] + 1.2 * _normal(self._seed, session, QUALITY, symbol, "conviction")
            picks.append(_long_term(symbol, entry, _clamp_conviction(conviction), stop=0.85, target=1.30))
            if len(picks) == self._count(session, QUALITY):
                break
        return picks

    def _hype(self, session: date, history: _History) -> list[Pick]:
        truth = self._drifts()
        pool = sorted(truth, key=lambda s: (truth[s], s))[: max(3, round(len(truth) * HYPE_POOL))]
        score = {s: -truth[s] + HYPE_NOISE * _normal(self._seed, session, HYPE, s) for s in pool}
        picks = []
        for symbol in sorted(pool, key=lambda s: -score[s]):
            entry = history.last_close(symbol)
            if entry is None:
                continue
            conviction = 6.5 + 4 * _unit(self._seed, session, HYPE, symbol, "conviction")  # loud, and says nothing
            picks.append(_long_term(symbol, entry, _clamp_conviction(conviction), stop=0.80, target=1.50))
            if len(picks) == self._count(session, HYPE):
                break
        return picks

    def _breakout(self, session: date, history: _History) -> list[Pick]:
        momentum = {}
        for symbol in self._data.universe:
            frame = history.bars(symbol)
            if len(frame) > MOMENTUM_SESSIONS:
                closes = frame["close"]
                momentum[symbol] = float(closes.iloc[-1] / closes.iloc[-1 - MOMENTUM_SESSIONS] - 1.0)
        picks = []
        for symbol in sorted((s for s in momentum if momentum[s] > 0), key=lambda s: (-momentum[s], s)):
            frame = history.bars(symbol)
            atr = wilder_atr(frame)
            entry = _cents(float(frame["close"].iloc[-1]))
            if atr is None:
                continue
            stop, target = _cents(entry - 2 * atr), _cents(entry + 3 * atr)
            if not 0 < stop < entry < target:
                continue
            conviction = 4 + 12 * momentum[symbol] + _normal(self._seed, session, BREAKOUT, symbol)
            picks.append(
                {"symbol": symbol, "category": "swing", "conviction": _clamp_conviction(conviction), "entry": entry,
                 "stop": stop, "target": target, "horizon_days": 10}
            )  # fmt: skip
            if len(picks) == self._count(session, BREAKOUT):
                break
        return picks

    def _coinflip(self, session: date, history: _History) -> list[Pick]:
        order = sorted(self._data.universe, key=lambda s: _unit(self._seed, session, COINFLIP, s))
        picks = []
        for symbol in order:
            entry = history.last_close(symbol)
            if entry is None:
                continue
            stop, target = _cents(entry * 0.99), _cents(entry * 1.02)
            if not 0 < stop < entry < target:
                continue
            conviction = 1 + 10 * _unit(self._seed, session, COINFLIP, symbol, "conviction") - 0.5
            picks.append(
                {"symbol": symbol, "category": "day_trade", "conviction": _clamp_conviction(conviction),
                 "entry": entry, "stop": stop, "target": target, "horizon_days": 1}
            )  # fmt: skip
            if len(picks) == self._count(session, COINFLIP):
                break
        return picks


def _long_term(symbol: str, entry: float, conviction: int, *, stop: float, target: float) -> Pick:
    return {"symbol": symbol, "category": "long_term", "conviction": conviction, "entry": entry,
            "stop": _cents(entry * stop), "target": _cents(entry * target), "horizon_days": 60}  # fmt: skip


def _csv(source: str, generated_at: str, picks: list[Pick]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for p in picks:
        writer.writerow(
            [p["symbol"], p["category"], source, "buy", p["conviction"], f"{p['entry']:.2f}", f"{p['stop']:.2f}",
             f"{p['target']:.2f}", p["horizon_days"], generated_at, NOTE]
        )  # fmt: skip
    return buffer.getvalue()


class _History:
    """Daily bars up to the previous session's close, read at most once per symbol per document build."""

    def __init__(self, data: SyntheticMarketData, calendar: MarketCalendar, session: date) -> None:
        self._data = data
        self._end = calendar.previous_session(session)
        self._start = calendar.sessions_back(self._end, LOOKBACK_SESSIONS)
        self._frames: dict[str, pd.DataFrame] = {}

    def bars(self, symbol: str) -> pd.DataFrame:
        if symbol not in self._frames:
            frame = self._data.daily_bars(symbol, self._start, self._end)
            # Only a history that reaches the previous session counts (a symbol without yesterday's bar is
            # not one a source would recommend this morning).
            if len(frame) and frame.index[-1].date() != self._end:
                frame = frame.iloc[0:0]
            self._frames[symbol] = frame
        return self._frames[symbol]

    def last_close(self, symbol: str) -> float | None:
        frame = self.bars(symbol)
        return _cents(float(frame["close"].iloc[-1])) if len(frame) else None
