"""The built-in daily scanners as a signal source: each morning, one document per enabled scanner.

``BuiltinScanners`` is a ``SignalSource`` like the synthetic demo feed: ``scan`` reads its documents with the
inbox's, through the same parser and checks, so its signals are stored, sized, traded and scored like an
outside source's (``builtin:bollinger``, ``builtin:regression``): the scorecard answers for the owner's own
strategies what it answers for anyone's picks.

A session's documents are published at ``[scanners] publish_at`` (New York, before the open) and decided from
the daily bars of the sessions *before* it only: the bars are cut at the previous session explicitly, not
by trusting the data's clock, so the same morning's signals come out the same whenever they are computed
(``replay`` and the no-look-ahead test rely on it). Once decided, a session's documents are kept: every
slot of a replay asks again.

Combinations (``[[scanners.combinations]]``) publish with the scanners: one document each, source
``builtin:<name>``, decided from the same bars and from the prediction files in ``[scanners] predictions_dir``
(``policy.predictions``), of which only the rows *for* the session decided are read: a file's rows for later
sessions wait for their date. A structurally bad prediction file is left out whole and each skipped row is
named (``notes``, which ``scan`` adds to its report); the combinations then see no prediction from it.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autotrader.clock import ET
from autotrader.errors import InputError
from autotrader.pipeline.prefetch import daily_arrays, warm
from autotrader.policy import predictions as predictions_policy
from autotrader.policy import scanners as policy

if TYPE_CHECKING:
    from autotrader.clock import MarketCalendar
    from autotrader.domain.reports import ExplainReport
    from autotrader.pipeline.context import StepContext
    from autotrader.ports import Clock, MarketData
    from autotrader.settings import Config, ScannersSection

#: The source name a scanner's signals carry: ``builtin:<scanner>``.
SOURCE_PREFIX = "builtin:"
COLUMNS = ("symbol", "category", "source", "side", "conviction", "entry", "stop", "target", "horizon_days",
           "generated_at", "note")  # fmt: skip
MAX_NOTES_PER_FILE = 5


def source_name(scanner: str) -> str:
    return f"{SOURCE_PREFIX}{scanner}"


class BuiltinScanners:
    """The enabled daily scanners over ``universe``, published every session at ``publish_at``."""

    name = "builtin"

    def __init__(
        self,
        settings: ScannersSection,
        market_data: MarketData,
        calendar: MarketCalendar,
        clock: Clock,
        universe: tuple[str, ...],
        predictions_dir: Path | None = None,
    ) -> None:
        self._settings = settings
        self._predictions_dir = predictions_dir
        self._notes: dict[date, list[str]] = {}
        self._data = market_data
        self._calendar = calendar
        self._clock = clock
        self._universe = universe
        self._published: dict[date, list[tuple[str, str]]] = {}

    def published_at(self, session: date) -> datetime:
        return self._calendar.at_et(session, self._settings.publish_at)

    def documents(self, session: date) -> list[tuple[str, str]]:
        if not self._calendar.is_session(session) or self._clock.now() < self.published_at(session):
            return []
        if session not in self._published:
            self._published[session] = self._decide(session)
        return list(self._published[session])

    def _decide(self, session: date) -> list[tuple[str, str]]:
        bars = self.bars_before(session)
        if bars is None:
            return []
        s = self._settings
        common = policy.Common(s.atr_period, s.stop_atr_multiplier, s.max_per_day)
        generated_at = self.published_at(session).isoformat()
        documents = []
        evaluations = {scanner: self.evaluate(scanner, bars, common) for scanner in self.needed()}
        for scanner in s.enabled:
            category, horizon = self.kind(scanner)
            hits = policy.hits(evaluations[scanner], bars, common)
            if hits:
                name = f"builtin-{scanner}-{session.isoformat()}.csv"
                documents.append((name, _csv(scanner, hits, category, horizon, generated_at)))
        if s.combinations:
            morning = self.predictions(session)
            for rule, evaluation in zip(s.combinations, self.combine(evaluations, bars, morning), strict=True):
                category, horizon = self.kind(rule.scanner)
                hits = policy.hits(evaluation, bars, common)
                if hits:
                    name = f"builtin-{rule.name}-{session.isoformat()}.csv"
                    documents.append((name, _csv(rule.name, hits, category, horizon, generated_at, morning)))
        return documents

    def needed(self) -> list[str]:
        """The scanners to evaluate: the enabled ones and every one a combination names (enabled or not)."""
        named = {c for rule in self._settings.combinations for c in rule.all}
        return [scanner for scanner in SCANNERS if scanner in self._settings.enabled or scanner in named]

    def combine(
        self, evaluations: dict[str, policy.Evaluation], bars: policy.Bars, morning: dict[str, Any]
    ) -> list[policy.Evaluation]:
        """Each combination's evaluation over the universe, from the scanners' and the morning's predictions."""
        predicted = {
            column: np.array([_value(morning.get(symbol), column) for symbol in bars.symbols], dtype=np.float64)
            for column in predictions_policy.PREDICTION_COLUMNS
        }
        return [
            policy.evaluate_combination(rule.name, rule.all, {c: evaluations[c] for c in rule.all if c in evaluations},
                                        predicted)  # fmt: skip
            for rule in self._settings.combinations
        ]

    def notes(self, session: date) -> list[str]:
        """What was wrong with the prediction files read for ``session`` (a file left out, rows skipped)."""
        return list(self._notes.get(session, []))

    def predictions(self, session: date) -> dict[str, predictions_policy.Prediction]:
        """The predictions for ``session`` by symbol, from every ``*.csv`` of the predictions folder by name (a
        later file wins a symbol); rows for other sessions are not used (point in time)."""
        folder = self._predictions_dir
        notes = self._notes.setdefault(session, [])
        notes.clear()
        if folder is None or not folder.is_dir():
            return {}
        usable: list[predictions_policy.Prediction] = []
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            if not path.is_file() or path.name.startswith(".") or path.suffix.lower() != ".csv":
                continue
            origin = f"{folder.name}/{path.name}"
            try:
                parsed = predictions_policy.parse_predictions(
                    origin, path.read_bytes(), known_symbol=self._data.has_symbol,
                    is_session=self._calendar.is_session,
                )  # fmt: skip
            except InputError as error:
                notes.append(f"prediction file {origin} not used: {error.message}")
                continue
            except OSError as error:
                notes.append(f"prediction file {origin} not used: cannot read: {error.strerror}")
                continue
            for row in parsed.skipped[:MAX_NOTES_PER_FILE]:
                notes.append(f"{origin}:{row.line}: prediction row skipped: {row.reason}")
            if len(parsed.skipped) > MAX_NOTES_PER_FILE:
                notes.append(f"{origin}: {len(parsed.skipped) - MAX_NOTES_PER_FILE} more prediction rows skipped")
            usable += parsed.predictions
        return predictions_policy.for_session(usable, session)

    def kind(self, scanner: str) -> tuple[str, int]:
        """The category and horizon a scanner's signals carry (a combination's: its first scanner's)."""
        table = self._settings.bollinger if scanner == "bollinger" else self._settings.regression
        return table.category, table.horizon_days

    def evaluate(self, scanner: str, bars: policy.Bars, common: policy.Common) -> policy.Evaluation:
        s = self._settings
        if scanner == "bollinger":
            b = s.bollinger
            return policy.evaluate_bollinger(bars, common, period=b.period, k=b.k, target=b.target)
        r = s.regression
        return policy.evaluate_regression(bars, common, window=r.window, min_r2=r.min_r2,
                                          min_annual_pct=r.min_annual_pct, horizon_days=r.horizon_days)  # fmt: skip

    def lookback(self) -> int:
        """Sessions of history the enabled scanners need (their windows and the ATR's, and some slack)."""
        s = self._settings
        return max(s.bollinger.period, s.regression.window, s.atr_period + 1) + 5

    def bars_before(self, session: date) -> policy.Bars | None:
        """The universe's daily bars of the ``lookback`` sessions before ``session`` (NaN where one has none)."""
        return daily_bars_before(self._data, self._calendar, self._universe, session, self.lookback())


def daily_bars_before(
    data: MarketData, calendar: MarketCalendar, universe: tuple[str, ...], session: date, sessions: int
) -> policy.Bars | None:
    """``universe``'s daily bars of the ``sessions`` sessions before ``session``, on one grid of those sessions
    (NaN where a symbol has no bar: a gap stays a gap); None for an empty universe."""
    if not universe:
        return None
    last = calendar.previous_session(session)
    first = calendar.sessions_back(last, sessions - 1)
    days = calendar.sessions_between(first, last)
    grid = pd.DatetimeIndex([pd.Timestamp(d) for d in days]).as_unit("ns").asi8
    # (session, symbol, high/low/close), placed by date on the grid with numpy: a pandas reindex per symbol
    # was most of a scan of a large universe. A bar off the grid (after the last session: the data's clock may
    # allow the session decided) is left out; a session without a bar stays NaN.
    values = np.full((len(grid), len(universe), 3), np.nan)
    warm(data, universe, first, last)
    for j, symbol in enumerate(universe):
        stamps, bars = daily_arrays(data, symbol, first, last)
        if not len(stamps):
            continue
        at = np.minimum(np.searchsorted(grid, stamps), len(grid) - 1)
        on_grid = grid[at] == stamps
        values[at[on_grid], j, :] = bars[on_grid, 1:4]
    return policy.Bars(universe, values[:, :, 0].copy(), values[:, :, 1].copy(), values[:, :, 2].copy())


SCANNERS = ("bollinger", "regression")


def check_setup(setup: str | None, config: Config) -> None:
    """``--setup`` names a daily scanner, a combination of the config or an intraday setup (checked before
    the ledger is opened: a typo writes nothing)."""
    from autotrader.errors import InputError
    from autotrader.policy.intraday import SETUPS as INTRADAY

    known = [*SCANNERS, *(rule.name for rule in config.settings.scanners.combinations), *INTRADAY]
    if setup is not None and setup not in known:
        raise InputError(f"--setup {setup!r}: expected one of {', '.join(known)}")


def explain(ctx: StepContext, symbol: str, setup: str | None) -> ExplainReport:
    """Each scanner's conditions for ``symbol`` on the morning of the as-of's session (the next session when
    the as-of's day has none), decided exactly as that morning's documents are: from the sessions before."""
    from autotrader.domain.reports import ExplainReport
    from autotrader.errors import InputError
    from autotrader.policy.intraday import SETUPS as INTRADAY

    check_setup(setup, ctx.config)
    combinations = {rule.name: rule for rule in ctx.settings.scanners.combinations}
    symbol = symbol.upper()
    if not ctx.deps.market_data.has_symbol(symbol):
        raise InputError(f"--explain {symbol}: the market data does not know this symbol")
    calendar, settings = ctx.deps.calendar, ctx.settings.scanners
    day = ctx.now.astimezone(ET).date()
    session = day if calendar.is_session(day) else calendar.next_session(day)
    source = BuiltinScanners(settings, ctx.deps.market_data, calendar, ctx.deps.clock, (symbol,),
                             ctx.config.resolve(settings.predictions_dir))  # fmt: skip
    bars = source.bars_before(session)
    assert bars is not None  # one symbol: never an empty universe
    common = policy.Common(settings.atr_period, settings.stop_atr_multiplier, settings.max_per_day)
    evaluations = {scanner: source.evaluate(scanner, bars, common) for scanner in SCANNERS}
    if combinations:
        for rule, evaluation in zip(combinations.values(), source.combine(evaluations, bars,
                                    source.predictions(session)), strict=True):  # fmt: skip
            evaluations[rule.name] = evaluation
    report = ctx.report()
    intraday = _intraday(ctx, symbol, day) if setup is None or setup in INTRADAY else None
    if intraday is not None:
        minute, found = intraday
        evaluations.update(found)
        report.notes.append(f"intraday setups at {minute.astimezone(ET):%H:%M} New York, from the minute bars before")
    elif setup in INTRADAY:
        raise InputError(f"--setup {setup}: no evaluation minute of a session has passed by the as-of yet")
    chosen = [setup] if setup else list(evaluations)
    setups = [_explained(name, evaluations[name]) for name in chosen]
    last = calendar.previous_session(session)
    report.notes.extend(source.notes(session))
    enabled = ", ".join(settings.enabled) or "none"
    report.notes.append(f"{symbol} on the morning of {session}, from the bars up to {last} (enabled: {enabled})")
    return report.build(ExplainReport, symbol=symbol, session=session.isoformat(), decided_from=last.isoformat(),
                        setups=setups)  # fmt: skip


def _intraday(ctx: StepContext, symbol: str, day: date) -> tuple[datetime, dict[str, policy.Evaluation]] | None:
    """The intraday setups for ``symbol`` at the as-of day's last evaluation minute by now (None on a day
    without a session, or before its first evaluation minute)."""
    from autotrader.pipeline.intraday import IntradayScanners

    if not ctx.deps.calendar.is_session(day):
        return None
    s = ctx.settings
    window = (s.size.trading_window_start, s.size.trading_window_end)
    source = IntradayScanners(s.intraday, window, ctx.deps.market_data, ctx.deps.calendar, ctx.deps.clock, (symbol,))
    return source.evaluations_at(day, ctx.now)


def _explained(scanner: str, e: policy.Evaluation) -> dict[str, Any]:
    def value(v: float) -> float | None:
        return float(v) if np.isfinite(v) else None

    fired = bool(e.fired[0])
    signal = None
    if fired:
        signal = {"entry": value(e.entry[0]), "stop": value(e.stop[0]), "target": value(e.target[0]),
                  "conviction": int(e.conviction[0]), "strength": value(e.strength[0]), "note": e.notes[0]}  # fmt: skip
    return {
        "setup": scanner, "source": source_name(scanner), "fired": fired,
        "conditions": [{"name": name, "held": bool(held[0])} for name, held in e.conditions.items()],
        "values": {name: value(v[0]) for name, v in e.values.items()}, "signal": signal,
    }  # fmt: skip


def _value(prediction: predictions_policy.Prediction | None, column: str) -> float:
    value = None if prediction is None else prediction.value(column)
    return np.nan if value is None else float(value)


def _csv(
    scanner: str, hits: list[policy.Hit], category: str, horizon: int, generated_at: str,
    morning: dict[str, predictions_policy.Prediction] | None = None,
) -> str:  # fmt: skip
    """A scanner's (or a combination's) document; a combination's rows carry the morning's predictions too."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    extra = predictions_policy.PREDICTION_COLUMNS if morning is not None else ()
    writer.writerow((*COLUMNS, *extra))
    for h in hits:
        predicted = [] if morning is None else [_cell(morning.get(h.symbol), column) for column in extra]
        writer.writerow([h.symbol, category, source_name(scanner), "buy", h.conviction, f"{h.entry:.4f}",
                         f"{h.stop:.4f}", f"{h.target:.4f}", horizon, generated_at, h.note, *predicted])  # fmt: skip
    return out.getvalue()


def _cell(prediction: predictions_policy.Prediction | None, column: str) -> str:
    value = None if prediction is None else prediction.value(column)
    return "" if value is None else repr(float(value))
