"""``SyntheticSignalFeed``: the synthetic world's own daily recommendations, clearly labelled as a demo, whose
true edge is known exactly so that the scorecard's statistics can be tested against it.

Four pretend sources publish one CSV document each at 08:00 New York on every session day (nothing before
that instant, nothing on a non-session day), deterministic for (seed, session):

================================  =========  ===========================================================
source                            category   how it picks, and its true edge
================================  =========  ===========================================================
``synthetic:catalyst-desk``       swing      the first k sessions of every *good* news episode (see
                                             ``synthetic_data``): about 6 picks a session, the same name
                                             on up to 4 consecutive days, horizon 10. Strong: +25 %/yr
                                             abnormal return (about +1 % per 10 sessions).
``synthetic:hype-desk``           swing      the same for *bad* episodes, loud conviction (7-10): about
                                             1.5 picks a session. Poor: -12 %/yr abnormal.
``synthetic:high-beta-scanner``   long_term  2-3 names a session from the ten highest-beta stocks (growth
                                             and speculative names, beta 1.3-2.1), horizon 60, conviction
                                             rising with beta. No abnormal return at all: its raw excess
                                             over SPY is (beta - 1) x the market's move, positive in any
                                             rising market; only a market-model adjustment exposes it.
``synthetic:coinflip-daytrades``  day_trade  2-3 random names of the whole universe; stop -1 %, target
                                             +2 %, horizon 1. No skill.
================================  =========  ===========================================================

The truth (``true_abnormal_return``, ``truth``; for tests only, nothing in the pipeline reads it) is exact by
construction, not estimated: a source's picks are decided from the world's news schedule and its own seeded
draws, never from prices after publication, and the world adds each episode's drift to the prices
(``synthetic_data``'s module doc). For the two news desks, a pick entered at the open of its session
collects the episode's daily drift d on each of the next h <= 10 sessions: expected cumulative abnormal
log return d x h (summed daily ``log r - a - b log r_m`` with the symbol's own market model). Past 10
sessions the episode's remaining sessions count (the same name picked on later days keeps it alive) and
later episodes add zero in expectation. The other two sources pick independently of the news, whose kinds
average to zero drift: their truth is exactly 0 at every horizon. In the ``no_skill`` world every truth is 0.

Every row says ``note = "synthetic demo signal"`` and every source name starts with ``synthetic:``, so demo
recommendations can never be mistaken for real ones. Only public ``MarketData`` methods read bars, and only
up to the previous session's close (entries and ATR levels), so the clock rule of ``autotrader.ports``
keeps the feed honest in replay. Random numbers come from blake2b of (seed, session, source, ...) - no
stream state, so a source's picks do not depend on which other sources ran or in what order.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from autotrader.adapters.frames import BAR_COLUMNS, day_ns
from autotrader.adapters.synthetic_data import (
    BAD,
    FUNDS,
    GOOD,
    NEWS_HORIZON,
    NEWS_MAX_PICK_DAYS,
    NewsEpisode,
    SyntheticMarketData,
)
from autotrader.clock import ET, MarketCalendar
from autotrader.policy.indicators import last_atr
from autotrader.ports import Clock

PUBLISH_AT = "08:00"  # New York time, on each session day
NOTE = "synthetic demo signal"
CATALYST = "synthetic:catalyst-desk"
HYPE = "synthetic:hype-desk"
HIGH_BETA = "synthetic:high-beta-scanner"
COINFLIP = "synthetic:coinflip-daytrades"
SOURCES: tuple[str, ...] = (CATALYST, HYPE, HIGH_BETA, COINFLIP)

HEADER = ("symbol", "category", "source", "side", "conviction", "entry", "stop", "target", "horizon_days",
          "generated_at", "note")  # fmt: skip

# Sessions of history read for each symbol (up to the previous close): enough for a settled Wilder ATR(14).
LOOKBACK_SESSIONS = 60
ATR_PERIOD = 14
_HIGH, _LOW, _CLOSE = (BAR_COLUMNS.index(c) for c in ("high", "low", "close"))  # columns of a bars array
HIGH_BETA_POOL = 10
LONG_TERM_HORIZON = 60

_CATEGORY = {CATALYST: "swing", HYPE: "swing", HIGH_BETA: "long_term", COINFLIP: "day_trade"}
_HORIZON = {CATALYST: NEWS_HORIZON, HYPE: NEWS_HORIZON, HIGH_BETA: LONG_TERM_HORIZON, COINFLIP: 1}
_NEWS_KIND = {CATALYST: GOOD, HYPE: BAD}

Pick = dict[str, object]


@dataclass(frozen=True)
class SourceTruth:
    """What a synthetic source really earns (tests only). Abnormal means beyond the symbol's market model."""

    source: str
    category: str
    horizon_sessions: int  # the horizon_days of its picks
    daily_abnormal: float  # expected abnormal log return per held session
    annual_abnormal: float  # daily_abnormal x 252
    pick_beta: float  # expected beta of the names it picks (each name equally likely)


def _unit(*parts: object) -> float:
    """A number in (0, 1) from the parts' text, identical in every process."""
    digest = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "little") + 0.5) / 2.0**64


def _cents(value: float) -> float:
    return round(value + 0.0, 2)


def _clamp_conviction(value: float) -> int:
    return int(min(10, max(1, round(value))))


def news_window_sessions(horizon_sessions: int, hold: int = NEWS_HORIZON, most: int = NEWS_MAX_PICK_DAYS) -> float:
    """Expected sessions of its own episode inside a news pick's first ``horizon_sessions`` sessions.

    A pick on day j (0-based) of an episode with k pick days has k + hold - 1 - j of the episode's sessions
    from its entry on. Episodes have k uniform on 1..most, and an episode with k pick days holds k picks,
    so a random pick comes from such an episode with probability proportional to k and has j uniform on
    0..k-1: the mean is sum over k and j of min(h, k + hold - 1 - j), divided by sum of k.
    """
    h = int(horizon_sessions)
    if h < 1:
        raise ValueError(f"horizon_sessions must be >= 1, got {horizon_sessions}")
    total = sum(min(h, k + hold - 1 - j) for k in range(1, most + 1) for j in range(k))
    return total / sum(range(1, most + 1))


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

    def published_at(self, session: date) -> datetime:
        return self._calendar.at_et(session, PUBLISH_AT)

    def documents(self, session: date) -> list[tuple[str, str]]:
        if not self._calendar.is_session(session) or self._clock.now() < self.published_at(session):
            return []
        if session not in self._published:
            self._published[session] = self._build(session)
        return list(self._published[session])

    # -- the known truth (tests only) --------------------------------------------------------------
    def truth(self, source: str) -> SourceTruth:
        """The source's true edge in this feed's world. For tests only: no pipeline step reads it."""
        if source not in SOURCES:
            raise ValueError(f"unknown synthetic source: {source}")
        kind = _NEWS_KIND.get(source)
        daily = self._data.news_drift(kind) if kind is not None else 0.0
        return SourceTruth(
            source=source,
            category=_CATEGORY[source],
            horizon_sessions=_HORIZON[source],
            daily_abnormal=daily,
            annual_abnormal=252.0 * daily,
            pick_beta=float(np.mean([self._data.beta(s) for s in self._candidates(source)])),
        )

    def true_abnormal_return(self, source: str, horizon_sessions: int) -> float:
        """Expected cumulative abnormal log return of one of the source's picks over ``horizon_sessions``
        sessions from its entry (the open of its publication session; horizon 1 = that session's open to its
        close). Exact, not estimated; for tests only."""
        truth = self.truth(source)
        if truth.daily_abnormal == 0.0:
            return 0.0
        return truth.daily_abnormal * news_window_sessions(horizon_sessions)

    def _candidates(self, source: str) -> tuple[str, ...]:
        """The names a source may pick, each equally likely in the long run."""
        if source in _NEWS_KIND:
            return self._data.news_symbols()
        if source == HIGH_BETA:
            return self._high_beta_pool()
        return self._data.universe

    def _high_beta_pool(self) -> tuple[str, ...]:
        stocks = [s for s in self._data.universe if s not in FUNDS]
        return tuple(sorted(stocks, key=lambda s: (-(self._data.beta(s) or 0.0), s))[:HIGH_BETA_POOL])

    # -- building ----------------------------------------------------------------------------------
    def _build(self, session: date) -> list[tuple[str, str]]:
        history = _History(self._data, self._calendar, session)
        makers: dict[str, Callable[[date, _History], list[Pick]]] = {
            CATALYST: self._catalyst,
            HYPE: self._hype,
            HIGH_BETA: self._high_beta,
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

    def _news_today(self, session: date, kind: str) -> list[NewsEpisode]:
        """Episodes of ``kind`` on one of their pick days this session: what a desk that knows them picks."""
        found = (self._data.news(s, session) for s in self._data.news_symbols())
        return [e for e in found if e is not None and e.kind == kind and e.day < e.pick_days]

    def _news_picks(
        self, session: date, history: _History, source: str, conviction: Callable[[str], float]
    ) -> list[Pick]:
        # Every episode is published, whatever its prices: a pick that depended on the path would change
        # what the source truly earns. Levels come from the previous close and ATR, never filter a pick.
        picks = []
        for episode in self._news_today(session, _NEWS_KIND[source]):
            entry = history.last_close(episode.symbol)
            if entry is None:
                continue
            stop, target = _swing_levels(history.bars(episode.symbol), entry)
            picks.append(
                {"symbol": episode.symbol, "category": "swing", "entry": entry, "stop": stop, "target": target,
                 "conviction": _clamp_conviction(conviction(episode.symbol)), "horizon_days": NEWS_HORIZON}
            )  # fmt: skip
        return picks

    def _catalyst(self, session: date, history: _History) -> list[Pick]:
        # Conviction says nothing: every good episode carries the same drift.
        return self._news_picks(
            session, history, CATALYST, lambda s: 5 + 4 * _unit(self._seed, session, CATALYST, s, "conviction")
        )

    def _hype(self, session: date, history: _History) -> list[Pick]:
        return self._news_picks(
            session, history, HYPE, lambda s: 6.5 + 4 * _unit(self._seed, session, HYPE, s, "conviction")
        )

    def _high_beta(self, session: date, history: _History) -> list[Pick]:
        pool = self._high_beta_pool()
        order = sorted(pool, key=lambda s: _unit(self._seed, session, HIGH_BETA, s))
        picks = []
        for symbol in order:
            entry = history.last_close(symbol)
            if entry is None:
                continue
            beta = self._data.beta(symbol) or 1.0
            conviction = 5 + 4 * (beta - 1.2) + _unit(self._seed, session, HIGH_BETA, symbol, "conviction")
            picks.append(
                {"symbol": symbol, "category": "long_term", "conviction": _clamp_conviction(conviction), "entry": entry,
                 "stop": _cents(entry * 0.80), "target": _cents(entry * 1.40), "horizon_days": LONG_TERM_HORIZON}
            )  # fmt: skip
            if len(picks) == self._count(session, HIGH_BETA):
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
            if not 0 < stop < entry < target:  # only under $0.50, which no synthetic name reaches in practice
                continue
            conviction = 1 + 10 * _unit(self._seed, session, COINFLIP, symbol, "conviction") - 0.5
            picks.append(
                {"symbol": symbol, "category": "day_trade", "conviction": _clamp_conviction(conviction),
                 "entry": entry, "stop": stop, "target": target, "horizon_days": 1}
            )  # fmt: skip
            if len(picks) == self._count(session, COINFLIP):
                break
        return picks


def _swing_levels(bars: np.ndarray, entry: float) -> tuple[float, float]:
    """Stop at entry - 2 x ATR(14), target at entry + 3 x ATR(14) (Wilder) of daily ``bars`` ((n, 5), open to
    volume); -5 % / +8 % when ATR cannot give valid levels (too little history, or a stop at or below zero)."""
    atr = last_atr(bars[:, _HIGH], bars[:, _LOW], bars[:, _CLOSE], period=ATR_PERIOD)
    if atr is not None:
        stop, target = _cents(entry - 2 * atr), _cents(entry + 3 * atr)
        if 0 < stop < entry < target:
            return stop, target
    return _cents(entry * 0.95), _cents(entry * 1.08)


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
    """Daily bars up to the previous session's close, read at most once per symbol per document build, as arrays
    ((n, 5) in open, high, low, close, volume order): a document build reads hundreds of them, and a frame each
    cost more than everything the feed does with them."""

    def __init__(self, data: SyntheticMarketData, calendar: MarketCalendar, session: date) -> None:
        self._data = data
        self._end = calendar.previous_session(session)
        self._end_ns = day_ns(self._end)
        self._start = calendar.sessions_back(self._end, LOOKBACK_SESSIONS)
        self._bars: dict[str, np.ndarray] = {}

    def bars(self, symbol: str) -> np.ndarray:
        if symbol not in self._bars:
            days_ns, values = self._data.daily_arrays(symbol, self._start, self._end)
            # Only a history that reaches the previous session counts (a symbol without yesterday's bar is
            # not one a source would recommend this morning).
            if len(days_ns) and int(days_ns[-1]) != self._end_ns:
                values = values[:0]
            self._bars[symbol] = values
        return self._bars[symbol]

    def last_close(self, symbol: str) -> float | None:
        values = self.bars(symbol)
        return _cents(float(values[-1, _CLOSE])) if len(values) else None
