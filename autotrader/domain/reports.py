"""Reports: what a step did, or would do under --dry-run. The CLI renders them; ``--json`` prints ``to_json()``.

Every command's result is a frozen, typed report: the envelope every command shares (``Report``: command,
as_of, dry_run, ok, exit_code, orders, skipped, notes) and, per command, a subclass whose fields are that
command's part of the ``--json`` contract, in the order they are printed. Fields may be added to a report
but never renamed or removed: scripts and monitors read them. Nested rows with a fixed shape are typed
(``Diff``, ``SettledOrder``, ``Check``...); a ``dict`` is used only where the keys are open-ended (a
horizon, a book, a size trace).

A field declared with ``optional()`` is left out of the JSON while it is ``None`` (the step did not get that
far, or the option that produces it was not given); every other field is always printed, ``null`` or not.

A step fills a mutable ``ReportDraft`` as it goes (``ctx.report()``: orders, skipped lines, notes, the exit
code and its command-specific fields) and ends with ``draft.build(SomeReport)``, which freezes it into the
typed report. ``build`` is where the shape is checked: a field the report does not declare, or a required
one missing, is an error, and a nested row given as a mapping is parsed into its typed row.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

_OMIT_IF_NONE = "omit_if_none"
_JSON_NAME = "json_name"
_INTERNAL = "internal"

R = TypeVar("R", bound="Row")


def optional(default: Any = None) -> Any:
    """A field printed only when it is not ``None``."""
    return field(default=default, metadata={_OMIT_IF_NONE: True})


def plain_json(value: Any) -> Any:
    """``value`` as ``--json`` prints it: rows as mappings, tuples as lists (what a report page reads)."""
    return _json(value)


def _json(value: Any) -> Any:
    if isinstance(value, Row):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Row:
    """A typed piece of a report: ``to_json`` gives its fields in order, ``from_json`` parses a mapping back."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.metadata.get(_INTERNAL):
                continue
            value = getattr(self, f.name)
            if value is None and f.metadata.get(_OMIT_IF_NONE):
                continue
            out[f.metadata.get(_JSON_NAME, f.name)] = _json(value)
        return out

    @classmethod
    def json_fields(cls) -> tuple[str, ...]:
        """The JSON keys this row can print, in order."""
        return tuple(f.metadata.get(_JSON_NAME, f.name) for f in fields(cls) if not f.metadata.get(_INTERNAL))

    @classmethod
    def always_printed(cls) -> tuple[str, ...]:
        """The JSON keys printed whatever the values are (not ``optional()``)."""
        return tuple(
            f.metadata.get(_JSON_NAME, f.name)
            for f in fields(cls)
            if not f.metadata.get(_INTERNAL) and not f.metadata.get(_OMIT_IF_NONE)
        )

    @classmethod
    def nested(cls, name: str) -> type[Row] | None:
        """The row type of field ``name`` (or of its elements), when it is a typed row."""
        return _row_type(_hints(cls)[_attribute(cls, name)])

    @classmethod
    def from_json(cls: type[R], data: Mapping[str, Any]) -> R:
        parse = _parsers(cls)
        unknown = [key for key in data if key not in parse]
        if unknown:
            raise TypeError(f"{cls.__name__}: no field {', '.join(map(repr, unknown))}")
        return cls(**{parse[k][0]: parse[k][1](v) for k, v in data.items()})


_HINTS: dict[type, dict[str, Any]] = {}
# Per row type: JSON key -> (attribute, the coercer of its hint). Reports are built thousands of times in a
# replay; reading the type hints once per type, not once per value, keeps building them cheap.
_PARSERS: dict[type, dict[str, tuple[str, Callable[[Any], Any]]]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _parsers(cls: type[Row]) -> dict[str, tuple[str, Callable[[Any], Any]]]:
    if cls not in _PARSERS:
        hints = _hints(cls)
        _PARSERS[cls] = {f.metadata.get(_JSON_NAME, f.name): (f.name, _coercer(hints[f.name])) for f in fields(cls)}
    return _PARSERS[cls]


def _attribute(cls: type[Row], json_name: str) -> str:
    return next(f.name for f in fields(cls) if f.metadata.get(_JSON_NAME, f.name) == json_name)


def _row_type(hint: Any) -> type[Row] | None:
    if isinstance(hint, type) and issubclass(hint, Row):
        return hint
    origin = get_origin(hint)
    if origin is tuple or origin in (Union, types.UnionType):
        for arg in get_args(hint):
            found = _row_type(arg)
            if found is not None:
                return found
    return None


def _unchanged(value: Any) -> Any:
    return value


def _coercer(hint: Any) -> Callable[[Any], Any]:
    """What turns a value into the type ``hint`` names: mappings become rows, sequences of rows tuples of
    rows; ``None`` stays ``None``. Decided once per hint."""
    if get_origin(hint) in (Union, types.UnionType):
        present = [arg for arg in get_args(hint) if arg is not type(None)]
        return _coercer(present[0]) if len(present) == 1 else _unchanged
    if get_origin(hint) is tuple:
        element = _coercer(get_args(hint)[0])
        return lambda value: None if value is None else tuple(element(v) for v in value)
    row = _row_type(hint)
    if row is None:
        return _unchanged

    def to_row(value: Any) -> Any:
        if value is None or isinstance(value, row):
            return value
        if isinstance(value, SkipLine):
            value = value.to_json()
        return row.from_json(value)

    return to_row


# -- the envelope's lines -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLine(Row):
    symbol: str
    side: str
    qty: float
    type: str
    time_in_force: str
    client_order_id: str
    book: str
    leg: str
    reason: str
    tier: int = 0
    status: str = ""
    limit_price: float | None = None
    stop_price: float | None = None
    take_profit: float | None = None
    order_class: str = "simple"
    signal_id: int | None = None
    trace: list[dict[str, Any]] | None = None
    trigger_price: float | None = None  # management legs: the price level that fired the rule
    position_key: str | None = None


@dataclass(frozen=True)
class SkipLine:
    """A skipped line as a step notes it in its draft; ``build`` types it as the report's skip row."""

    symbol: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "reason": self.reason, **self.detail}


@dataclass(frozen=True)
class Skip(Row):
    symbol: str
    reason: str


@dataclass(frozen=True)
class ScanSkip(Skip):
    line: int
    file: str


@dataclass(frozen=True)
class SizeSkip(Skip):
    signal_id: int
    trace: list[dict[str, Any]]


@dataclass(frozen=True)
class ManageSkip(Skip):
    position_key: str
    trigger_price: float | None = optional()  # a leg decided but not sent (market closed)


@dataclass(frozen=True)
class RebalanceSkip(Skip):
    target: float
    current: float


# -- the envelope ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Report(Row):
    COMMANDS: ClassVar[tuple[str, ...]] = ()  # the commands whose result this is (``--json`` contract docs)
    ENVELOPE: ClassVar[tuple[str, ...]] = (
        "command", "as_of", "dry_run", "ok", "exit_code", "orders", "skipped", "notes",
    )  # fmt: skip

    command: str
    as_of: datetime
    dry_run: bool
    ok: bool = True
    exit_code: int = 0
    orders: tuple[OrderLine, ...] = ()
    skipped: tuple[Skip, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out["as_of"] = self.as_of.isoformat()
        return out

    @classmethod
    def command_fields(cls) -> tuple[str, ...]:
        """This command's own JSON fields, after the envelope."""
        return tuple(name for name in cls.json_fields() if name not in Report.ENVELOPE)


@dataclass
class ReportDraft:
    """The report while a step runs: lines and notes are appended, the exit code set, ``fields`` filled;
    ``build`` freezes it into the command's typed report."""

    command: str
    as_of: datetime
    dry_run: bool
    ok: bool = True
    exit_code: int = 0
    orders: list[OrderLine] = field(default_factory=list)
    skipped: list[SkipLine | Skip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)

    def build(self, kind: type[R], **more: Any) -> R:
        return kind.from_json(
            {
                "command": self.command,
                "as_of": self.as_of,
                "dry_run": self.dry_run,
                "ok": self.ok,
                "exit_code": self.exit_code,
                "orders": self.orders,
                "skipped": self.skipped,
                "notes": self.notes,
                **self.fields,
                **more,
            }
        )


# -- sync -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettledOrder(Row):
    """What the gateway made of one order: its intent's status and the broker's message."""

    client_order_id: str
    status: str
    message: str


@dataclass(frozen=True)
class Diff(Row):
    """An unexplained difference between broker and ledger (``kind``: position_mismatch, fill_without_order,
    order_without_intent, halted); each kind prints the fields it has."""

    kind: str
    symbol: str | None = optional()
    client_order_id: str | None = optional()
    broker_order_id: str | None = optional()
    fill_id: str | None = optional()
    broker_qty: float | None = optional()
    ledger_qty: float | None = optional()
    by_book: dict[str, float] | None = optional()
    difference: float | None = optional()
    reason: str | None = optional()


@dataclass(frozen=True)
class SplitApplied(Row):
    symbol: str
    ratio: float
    ledger_qty: float
    broker_qty: float
    price_ratio: float | None
    cash_in_lieu_shares: float
    effective_at: str
    listed_by_data_source: bool = False  # the data source listed it: its ex-date, no price evidence needed


@dataclass(frozen=True)
class OptionsSync(Row):
    """What sync recorded of the options book (printed once the options book has anything)."""

    new_fills: int  # option legs' executions recorded
    events: int  # expiries, exercises and assignments recorded
    opened: int  # structures whose opening order filled
    closed: int  # structures closed (by an order or by expiry) or abandoned unfilled
    open_structures: int


@dataclass(frozen=True, kw_only=True)
class SyncReport(Report):
    COMMANDS = ("sync",)
    settled: tuple[SettledOrder, ...]
    orders_seen: int
    external_orders: int
    new_fills: int
    diffs: tuple[Diff, ...]
    unknown_intents: tuple[str, ...]
    splits: tuple[SplitApplied, ...]
    protective_orders: tuple[SettledOrder, ...]
    options: OptionsSync | None = optional()


# -- scan -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedSignal(Row):
    id: int
    symbol: str
    category: str
    source: str
    conviction: float | None


@dataclass(frozen=True)
class ScanDocument(Row):
    origin: str
    status: str  # imported | duplicate | empty
    rows: int
    imported: int
    skipped: int
    archived_to: str | None


@dataclass(frozen=True)
class RejectedFile(Row):
    origin: str
    reason: str  # file:line and why
    moved_to: str | None  # where it was set aside (None: left in the inbox, e.g. under --dry-run)


@dataclass(frozen=True)
class RankedSignal(Row):
    """A signal's place in ``[rank]``'s order: ``execute`` (sized in this order) or ``watch`` (not bought)."""

    signal_id: int
    symbol: str
    rank: int  # 1 = the strongest
    tag: str  # execute | watch
    reason: str
    conviction: float | None
    probability: float | None
    dollar_volume: float | None
    recent_return: float | None
    sector: str | None


@dataclass(frozen=True, kw_only=True)
class ScanReport(Report):
    COMMANDS = ("scan",)
    skipped: tuple[ScanSkip, ...] = ()
    imported: int
    signals: tuple[ImportedSignal, ...]
    documents: tuple[ScanDocument, ...]
    rejected: tuple[RejectedFile, ...]  # structurally bad inbox files set aside, nothing of them imported
    # With [rank] enabled: the undecided signals as `size` would rank them now (nothing is decided here).
    ranking: tuple[RankedSignal, ...] | None = optional()


# -- size -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeBook(Row):
    portfolio_value: float
    portfolio_value_from: str  # pinned | broker equity | last close equity | default
    cash: float
    deployed: float
    open_positions: int
    new_trades_today: int


@dataclass(frozen=True)
class SizeRisk(Row):
    vix: float | None
    spy_close: float | None
    spy_sma: float | None
    drawdown_pct: float
    daily_pnl: float
    consecutive_losses: int


@dataclass(frozen=True)
class QuarantinedSymbol(Row):
    """A symbol whose data failed validation, set aside (nothing buys it) for the New York session."""

    symbol: str
    session_date: str
    reason: str
    detected_at: str


@dataclass(frozen=True, kw_only=True)
class SizeReport(Report):
    COMMANDS = ("size",)
    skipped: tuple[SizeSkip, ...] = ()
    timing: str
    quarantined: tuple[QuarantinedSymbol, ...] | None = optional()  # the session's; absent like ``book``
    book: SizeBook | None = optional()  # absent when nothing was sized (outside the window, no new signal)
    risk: SizeRisk | None = optional()
    ranking: tuple[RankedSignal, ...] | None = optional()  # with [rank] enabled, when there were signals to size


# -- dipbuy / profittake --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagedPosition(Row):
    position_key: str
    symbol: str
    category: str | None
    qty: float
    avg_cost: float
    original_qty: float
    entry_price: float
    price: float | None
    sessions_held: int | None
    stop: float | None
    stop_leg: str | None
    target: float | None
    target_one: float | None
    target_one_done: bool
    high_water: float | None
    trail_active: bool
    fired: tuple[str, ...]
    halted: str | None


@dataclass(frozen=True, kw_only=True)
class ManageReport(Report):
    COMMANDS = ("dipbuy", "profittake")
    skipped: tuple[ManageSkip, ...] = ()
    book: str
    positions: tuple[ManagedPosition, ...]
    protective_orders: tuple[SettledOrder, ...]
    quarantined: tuple[QuarantinedSymbol, ...] | None = optional()  # dipbuy only: the session's quarantine


# -- rebalance ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrategyResult(Row):
    name: str
    tickers: tuple[str, ...]
    nav: float
    cagr: float | None
    sharpe: float | None
    max_drawdown: float | None
    momentum: float | None
    psr: float | None  # the winner's probabilistic Sharpe ratio against the runner-up
    rebalances: int
    weights: dict[str, float]


@dataclass(frozen=True)
class Selection(Row):
    psr_vs_runner_up: float | None
    deflated_sharpe: float | None
    significant: bool
    significance_level: float
    strategies_tried: int
    held_before: str | None
    reason: str
    warning: str | None = optional()  # why the winner's edge may be noise (one strategy, or PSR below the level)


@dataclass(frozen=True)
class Target(Row):
    symbol: str
    shares: float
    weight: float
    price: float | None


@dataclass(frozen=True)
class Delta(Row):
    symbol: str
    side: str
    qty: float
    target: float
    current: float
    reason: str


@dataclass(frozen=True, kw_only=True)
class RebalanceReport(Report):
    COMMANDS = ("rebalance",)
    skipped: tuple[RebalanceSkip, ...] = ()
    strategies: tuple[StrategyResult, ...]
    winner: str
    runner_up: str | None
    selected: str
    selection: Selection
    capital: float
    targets: tuple[Target, ...]
    deltas: tuple[Delta, ...]
    buy_scale: float
    timing: str
    quarantined: tuple[QuarantinedSymbol, ...]  # the session's quarantine: none of these is bought
    html: str | None = optional()  # with --html: the report written


# -- scorecard ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshCounts(Row):
    """What a refresh of the signals' outcomes did."""

    signals: int
    completed_horizons: int
    pending_horizons: int
    no_data: int


@dataclass(frozen=True)
class RuleExitStats(Row):
    signals: int
    win_rate: float | None
    expectancy_r: float | None
    sqn: float | None
    avg_holding_sessions: float | None
    expectancy_r_ci: Any  # [lo, hi] of the mean R (date-block bootstrap), None below two exits


@dataclass(frozen=True)
class TradeStats(Row):
    trades: int
    closed: int
    win_rate: float | None
    avg_win: float | None
    avg_loss: float | None
    profit_factor: float | None
    expectancy_r: float | None
    sqn: float | None
    pnl: float
    avg_holding_days: float | None


@dataclass(frozen=True)
class ManagementAlpha(Row):
    total: float
    by_action: dict[str, float]  # per action and per "action:tier"
    closed_trades: int  # what the per-trade figures are over
    per_trade: float | None  # mean managed - pick-only P&L per closed trade
    per_trade_ci: tuple[float | None, ...] | None  # date-block bootstrap at ``level`` (None: too few trades)
    level: float | None  # 1 - 0.05/m: the group's rows tested at once
    verdict: str


@dataclass(frozen=True)
class ScorecardRow(Row):
    """One (group, key) of the scorecard; the per-horizon figures are keyed by the horizon in sessions."""

    group: str  # category | source | conviction
    key: str
    signals: int
    traded: int
    pending: int
    late: int  # imported more than [scorecard] late_tolerance_minutes after their claimed time
    hit_rate: dict[str, float | None]
    hit_rate_ci: dict[str, Any]
    excess_return_mean: dict[str, float | None]
    excess_return_median: dict[str, float | None]
    excess_return_ci: dict[str, Any]
    excess_return_median_ci: dict[str, Any]
    completed: dict[str, int]
    rule_exit: RuleExitStats
    pick_only: TradeStats
    managed: TradeStats
    management_alpha: ManagementAlpha
    verdict: str  # at primary_horizon, from the abnormal return's interval and q-value
    # Market-model abnormal return per horizon: mean, 95% date-block bootstrap interval, p and BH q-value.
    abnormal_return_mean: dict[str, float | None]
    abnormal_return_ci: dict[str, Any]
    abnormal_return_p: dict[str, float | None]
    abnormal_return_q: dict[str, float | None]
    # Share with an abnormal return > 0 (the headline hit rate), its Wilson interval, the date-matched base
    # rate of the same category's signals and the binomial test against it; up_rate = share with ret > 0.
    beat_rate: dict[str, float | None]
    beat_rate_ci: dict[str, Any]
    base_rate: dict[str, float | None]
    beat_rate_p: dict[str, float | None]
    up_rate: dict[str, float | None]
    beta_fallback: int  # signals whose beta fell back to 1 (too little history)
    primary_horizon: str  # the horizon this row's verdict is read at
    needs_more: dict[str, int] | None  # {signals, sessions} still needed for a verdict, or None


@dataclass(frozen=True)
class CalibrationBucket(Row):
    key: str
    signals: int
    excess_return_mean: float | None
    hit_rate: float | None  # the up rate: raw return > 0
    abnormal_return_mean: float | None
    beat_rate: float | None  # abnormal return > 0


@dataclass(frozen=True)
class RankInformation(Row):
    """The mean per-date rank IC of conviction against abnormal return, with its date-block interval."""

    mean: float | None
    lo: float | None
    hi: float | None
    p_value: float | None
    t_hac: float | None  # Newey–West t over dates, h − 1 lags
    dates: int
    block: int  # bootstrap block length in dates


@dataclass(frozen=True)
class Calibration(Row):
    horizon: str
    signals: int
    buckets: tuple[CalibrationBucket, ...]
    spearman: float | None  # pooled over signals: descriptive only
    spearman_ci: Any  # [lo, hi] as if signals were independent, or None below the minimum sample
    rank_ic: RankInformation | None  # what the statement rests on; None with too few dates
    statement: str


@dataclass(frozen=True)
class ScorecardFilters(Row):
    since: str | None
    until: str | None
    category: tuple[str, ...]
    source: tuple[str, ...]


# The scorecard's report-level panels (``policy.research``); figures that cannot be computed are None.


@dataclass(frozen=True)
class CalendarTimeRow(Row):
    source: str
    category: str
    horizon: int  # sessions each pick is held in the portfolio
    signals: int
    sessions: int  # sessions with a live pick and a market return (0: too few for a regression)
    mean_live: float | None = optional()  # average live picks per such session
    alpha: float | None = optional()  # per session
    alpha_annual: float | None = optional()  # 252 × alpha
    beta: float | None = optional()
    alpha_t: float | None = optional()  # Newey–West
    alpha_p: float | None = optional()
    sharpe: float | None = optional()  # annualised
    psr: float | None = optional()  # probabilistic Sharpe ratio vs 0
    min_track_record: float | None = optional()  # sessions (None: the Sharpe does not beat 0)


@dataclass(frozen=True)
class PlaceboRow(Row):
    source: str
    signals: int
    observed: float | None  # the source's mean abnormal return at the primary horizon
    placebo_mean: float | None
    placebo_sd: float | None
    p_value: float | None  # (1 + #{placebo ≥ observed}) / (draws + 1)
    draws: int


@dataclass(frozen=True)
class RankingRow(Row):
    key: str  # a source, or "all"
    signals: int
    ic_mean: dict[str, float | None]  # per horizon: mean per-date Spearman IC
    ic_t: dict[str, float | None]
    ic_t_hac: dict[str, float | None]
    ic_dates: dict[str, int]
    brier: float | None


@dataclass(frozen=True)
class ReliabilityBucket(Row):
    conviction: int
    predicted: float  # conviction / 10
    observed: float  # share that beat the benchmark at the primary horizon
    signals: int


@dataclass(frozen=True)
class Ranking(Row):
    probability_rule: str
    sources: tuple[RankingRow, ...]
    reliability: tuple[ReliabilityBucket, ...]
    brier: float | None


@dataclass(frozen=True)
class ProbabilityBucket(Row):
    bucket: float  # the bin's lower edge (ten equal-width bins of [0, 1])
    predicted: float  # mean ``probability`` in the bin
    observed: float  # share with a positive 10-session raw return
    signals: int


@dataclass(frozen=True)
class PredictionRow(Row):
    """One source's predictions scored against realized raw returns (``policy.research.prediction_rows``)."""

    source: str
    signals: int  # signals carrying at least one prediction, with a scoring entry
    scored: tuple[str, ...]  # predicted horizons that are [scorecard] horizons
    skipped: tuple[str, ...]  # predicted horizons that are not (no realized return stored)
    ic_mean: dict[str, float | None]  # per scored horizon: mean per-date Spearman IC, predicted vs realized
    ic_t_hac: dict[str, float | None]  # Newey–West t of that mean (h − 1 lags)
    ic_dates: dict[str, int]
    probability_signals: int  # signals with a probability and a complete 10-session return
    brier: float | None  # of probability vs a positive 10-session return; None unless 10 is scored
    reliability: tuple[ProbabilityBucket, ...]


@dataclass(frozen=True)
class LeaderboardRow(Row):
    rank: int
    source: str
    signals: int
    mean: float | None
    se: float | None  # date-block bootstrap
    shrunk_mean: float | None  # normal-normal empirical Bayes
    shrink_weight: float | None  # share of the source's own mean that survives
    beat_rate: float | None
    shrunk_beat_rate: float | None  # beta-binomial


@dataclass(frozen=True)
class EventPoint(Row):
    offset: int  # sessions from the entry
    mean: float | None  # mean CAR
    lo: float | None
    hi: float | None
    n: int


@dataclass(frozen=True)
class EventWindowRow(Row):
    category: str
    source: str
    signals: int
    level: float
    points: tuple[EventPoint, ...]


@dataclass(frozen=True)
class ActionAlpha(Row):
    action: str
    positions: int
    mean: float | None  # per position
    lo: float | None  # 95% bootstrap over positions
    hi: float | None
    total: float | None


@dataclass(frozen=True)
class ExecutionRow(Row):
    source: str
    category: str
    signals: int
    traded: int
    fill_rate: float
    slippage_vs_signal_bps: float | None
    slippage_vs_entry_bps: float | None
    lost: dict[str, int]  # signals skipped, per sizing gate
    pick_all: float | None  # mean abnormal return at the primary horizon, all signals
    pick_traded: float | None  # the same, traded signals only
    management: tuple[ActionAlpha, ...]


@dataclass(frozen=True)
class RollingPoint(Row):
    date: str
    mean: float | None
    n: int


@dataclass(frozen=True)
class StabilityRow(Row):
    source: str
    window: int  # sessions
    signals: int
    last: float | None
    rolling: tuple[RollingPoint, ...]
    alarm_date: str | None  # first CUSUM alarm (entry date), None when the edge holds
    alarm_statistic: float | None


@dataclass(frozen=True)
class CurveRow(Row):
    """A calendar-time portfolio's path for a chart: growth of 1 in the picks (equal weight, each held over
    its primary horizon) and in SPY over the same sessions, from the close before the first live session."""

    source: str
    category: str
    dates: tuple[str, ...]
    portfolio: tuple[float, ...]
    market: tuple[float, ...]


@dataclass(frozen=True)
class OptionStrategyRow(Row):
    """One options strategy's closed structures (policy.option_scorecard)."""

    strategy: str
    structures: int
    total_pnl: float
    win_rate: float | None
    win_rate_ci: tuple[float | None, ...]
    expectancy_r: float | None  # mean result in units of the maximum loss at entry
    expectancy_r_ci: tuple[float | None, ...]
    paired: int  # structures opened on a signal with a debit: compared with the shares
    options_return: float | None  # mean return on the debit
    shares_return: float | None  # mean return of the shares over the same holdings
    vs_shares: float | None
    vs_shares_ci: tuple[float | None, ...]
    verdict: str
    options_pnl: float | None  # gamma: the straddle's own result (puts and base shares); None for the others
    scalping_pnl: float | None  # gamma: what hedging the delta with shares made


@dataclass(frozen=True, kw_only=True)
class ScorecardReport(Report):
    COMMANDS = ("scorecard",)
    refreshed: RefreshCounts | None = optional()  # when the run refreshed pending outcomes first
    rows: tuple[ScorecardRow, ...]
    calibration: Calibration
    horizons: tuple[str, ...]
    primary_horizon: str
    filters: ScorecardFilters
    signals_total: int
    hypotheses: int  # p-values the Benjamini-Hochberg step covered (rows x horizons)
    fdr: float  # [scorecard] fdr: a verdict needs its q-value below this
    written: tuple[str, ...] | None = optional()  # with --csv/--html: the files written
    calendar_time: tuple[CalendarTimeRow, ...] | None = optional()
    placebo: tuple[PlaceboRow, ...] | None = optional()
    ranking: Ranking | None = optional()
    leaderboard: tuple[LeaderboardRow, ...] | None = optional()
    event_window: tuple[EventWindowRow, ...] | None = optional()
    execution: tuple[ExecutionRow, ...] | None = optional()
    stability: tuple[StabilityRow, ...] | None = optional()
    predictions: tuple[PredictionRow, ...] | None = optional()  # only when some signal carries a prediction
    options: tuple[OptionStrategyRow, ...] | None = optional()  # only when an options structure closed
    # The HTML page's chart paths: drawn, not printed (``--json`` carries the regression, not the path).
    curves: tuple[CurveRow, ...] = field(default=(), metadata={_INTERNAL: True})


@dataclass(frozen=True)
class ConditionCheck(Row):
    name: str
    held: bool


@dataclass(frozen=True)
class SetupExplanation(Row):
    setup: str  # the scanner
    source: str  # builtin:<scanner>
    fired: bool  # every condition held: the session's documents carry this signal (if among the strongest)
    conditions: tuple[ConditionCheck, ...]
    values: dict[str, float | None]  # the indicator values the conditions were decided from
    signal: dict[str, Any] | None  # entry, stop, target, conviction, strength, note (when it fired)


@dataclass(frozen=True, kw_only=True)
class ExplainReport(Report):
    """``scan --explain SYMBOL``: each built-in scanner's conditions for the symbol, true or false, and why."""

    COMMANDS = ("scan --explain",)
    symbol: str
    session: str  # the session the decision is for
    decided_from: str  # the last session whose bar it reads
    setups: tuple[SetupExplanation, ...]


@dataclass(frozen=True, kw_only=True)
class LineageReport(Report):
    """``scorecard --signal ID``: signal → decisions → orders → fills → management legs → exit."""

    COMMANDS = ("scorecard --signal",)
    lineage: dict[str, Any]


# -- rehydrate ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotPosition(Row):
    book: str
    symbol: str
    qty: float
    avg_cost: float


@dataclass(frozen=True)
class Snapshot(Row):
    session_date: str
    equity: float
    cash: float
    deployed: dict[str, float]  # per book
    by_category: dict[str, float]
    positions: tuple[SnapshotPosition, ...]


@dataclass(frozen=True)
class ManagementLeg(Row):
    action: str
    tier: int
    qty: float
    price: float
    value_vs_pick: float
    realized_pnl: float


@dataclass(frozen=True)
class PickExit(Row):
    reason: str | None
    price: float | None
    status: str | None


@dataclass(frozen=True)
class TradeReview(Row):
    trade_id: str
    signal_id: int | None
    book: str
    symbol: str
    category: str | None
    source: str | None
    conviction: float | None
    opened_at: str
    closed_at: str | None
    holding_days: float | None
    entry_qty: float
    entry_price: float
    exit_reason: str | None
    managed_pnl: float
    pick_pnl: float
    management_alpha: float
    management: tuple[ManagementLeg, ...]
    r_multiple: float | None
    pick_r_multiple: float | None
    pick_exit: PickExit | None
    mfe: float | None
    mae: float | None
    trade_return: float | None = field(metadata={_JSON_NAME: "return"})
    benchmark_return: float | None
    beat_benchmark: bool | None
    reviewer_exit_code: int | None


@dataclass(frozen=True, kw_only=True)
class RehydrateReport(Report):
    COMMANDS = ("rehydrate",)
    sync_diffs: tuple[Diff, ...] | None = optional()  # when the sync it starts with failed
    outcomes: RefreshCounts | None = optional()  # absent in a replay's evenings: refreshed once at its end
    snapshot: Snapshot
    reviews: tuple[TradeReview, ...]
    portfolio_value: float


# -- run-daily, replay, demo ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionState(Row):
    open: bool
    reason: str
    session_date: str | None


@dataclass(frozen=True)
class StepRun(Row):
    """One step of a run-daily slot: what it did, or why it did not run (``ran`` false, ``reason``)."""

    command: str
    ok: bool
    ran: bool
    reason: str | None = optional()
    exit_code: int | None = optional()
    orders: tuple[OrderLine, ...] = ()
    skipped: tuple[Skip, ...] = ()
    notes: tuple[str, ...] | None = optional()
    # The step's own typed report (a rejected file, a position's price...) for what the run announces
    # (``policy.alerts``); never printed: the row above is the step's part of the JSON contract.
    report: Report | None = field(default=None, metadata={_INTERNAL: True}, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class RunDailyReport(Report):
    COMMANDS = ("run-daily",)
    slot: str
    session: SessionState
    steps: tuple[StepRun, ...]


@dataclass(frozen=True)
class PerformanceFigures(Row):
    """An equity (or price) path's figures (``policy.performance``); None where the sample cannot say."""

    start: str  # the session whose close is the starting point
    end: str
    sessions: int  # daily returns from start to end (the sessions after the start)
    start_value: float
    end_value: float
    total_return: float | None
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None


@dataclass(frozen=True)
class PerformanceComparison(Row):
    account: PerformanceFigures
    benchmark: PerformanceFigures | None  # SPY over the account's own sessions; None without its closes
    excess_return: float | None  # account total return − SPY's


@dataclass(frozen=True)
class SignalFolderLine(Row):
    """``replay --signals FOLDER``: the owner's files it replayed."""

    path: str
    files: int  # CSV files read (subfolders included)
    rows: int
    parts: int  # the documents they were cut into, one per file and arrival minute


@dataclass(frozen=True, kw_only=True)
class ReplayReport(Report):
    COMMANDS = ("replay",)
    start: str
    end: str
    sessions: int
    slots: int
    seconds: float
    sessions_per_second: float | None
    final_equity: float
    final_cash: float
    orders_total: int
    fills_total: int
    failed_at: str | None  # the slot that stopped the replay (its exit code is the report's)
    # --set SECTION.KEY=VALUE: the settings this replay ran with instead of the config's, as applied (secrets
    # masked); empty for a replay of the config as it is.
    overrides: dict[str, Any] = field(default_factory=dict)
    signals_folder: SignalFolderLine | None = None  # with --signals: the folder read (its parts fed point in time)
    # From the starting cash (the close before the first session) through each evening's snapshot, vs SPY.
    performance: PerformanceComparison | None = optional()
    html: str | None = optional()  # with --html: the page written
    # The scorecard at the replay's last instant, when every slot succeeded.
    rows: tuple[ScorecardRow, ...] | None = optional()
    calibration: Calibration | None = optional()
    horizons: tuple[str, ...] | None = optional()
    primary_horizon: str | None = optional()
    signals_total: int | None = optional()


@dataclass(frozen=True)
class CompareVariant(Row):
    """One variant's replay: its settings, its account against the start, and what management did."""

    name: str
    settings: dict[str, Any]  # the overrides it ran with ({} for the config as it is)
    exit_code: int
    error: str | None
    seconds: float
    orders: int
    fills: int
    final_equity: float | None
    total_return: float | None
    cagr: float | None
    max_drawdown: float | None
    sharpe: float | None
    signals: int
    traded: int
    pick_pnl: float  # its trades' P&L had each pick been held to its rule exit
    managed_pnl: float  # what its trades made (open ones marked at the end)
    management_alpha: float
    management: dict[str, float]  # each action's value against the pick, summed over its trades
    equity: tuple[tuple[str, float], ...]  # (session date, equity), from the close before the first session


@dataclass(frozen=True)
class CompareDifference(Row):
    """A variant against the base over the same signals (``policy.whatif``)."""

    variant: str
    base: str
    signals: int
    traded: int
    sessions: int
    total: float
    lo: float | None
    hi: float | None
    level: float
    verdict: str  # added | cost | no evidence | too few sessions
    statement: str


@dataclass(frozen=True)
class CompareAccount(Row):
    """A variant's whole account against the base's, session by session (``policy.whatif.paired_account``)."""

    variant: str
    base: str
    sessions: int
    total: float  # the difference in final equity
    lo: float | None
    hi: float | None
    level: float
    block: int  # sessions per bootstrap block
    verdict: str  # added | cost | no evidence | too few sessions
    statement: str


@dataclass(frozen=True, kw_only=True)
class CompareReport(Report):
    COMMANDS = ("compare",)
    start: str
    end: str
    sessions: int
    base: str
    mode: str  # serial | N local processes | the Dask scheduler's address
    seconds: float
    level: float  # each interval's confidence, corrected for the number of comparisons
    variants: tuple[CompareVariant, ...]
    differences: tuple[CompareDifference, ...]
    # Each variant's account against the base's: what a change outside the signals' trades (the rebalancer's
    # selection, its book) did, which the per-signal differences cannot see.
    accounts: tuple[CompareAccount, ...]
    benchmark: PerformanceFigures | None  # SPY over the same sessions (None without its closes)
    html: str | None = optional()


@dataclass(frozen=True, kw_only=True)
class DemoReport(ReplayReport):
    COMMANDS = ("demo",)
    workspace: str | None  # None under --dry-run (a throw-away folder)
    reports: tuple[str, ...]  # the pages it left in the workspace (none under --dry-run)

    @classmethod
    def of(
        cls, replayed: ReplayReport, *, workspace: str | None, notes: Sequence[str], reports: Sequence[str]
    ) -> DemoReport:
        """The demo's report: its replay's, with the workspace it made, the pages and where to look."""
        values = {f.name: getattr(replayed, f.name) for f in fields(replayed)}
        values["notes"] = (*replayed.notes, *notes)
        return cls(**values, workspace=workspace, reports=tuple(reports))


# -- status, doctor, config -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord(Row):
    command: str
    as_of: str
    mode: str
    started_at: str
    ended_at: str | None
    exit_code: int | None
    error: str | None


@dataclass(frozen=True)
class SuccessfulRun(Row):
    command: str
    as_of: str
    started_at: str
    ended_at: str | None


@dataclass(frozen=True)
class OpenIntent(Row):
    client_order_id: str
    symbol: str
    side: str
    qty: float
    status: str
    book: str
    leg: str
    session_date: str


@dataclass(frozen=True)
class LedgerPosition(Row):
    symbol: str
    book: str
    qty: float
    avg_cost: float
    realized_pnl: float


@dataclass(frozen=True)
class OpenStructure(Row):
    """An options structure not yet closed, as the ledger holds it."""

    structure_id: str
    strategy: str
    kind: str
    underlying: str
    status: str  # opening (its order not filled yet), open, closing
    units: float
    legs: tuple[str, ...]  # "buy 2 AAPL260320P00150000" per leg
    open_net: float | None  # per share: + debit paid, - credit received (None until it opened)
    max_loss: float | None  # dollars, all units
    opened_at: str | None


@dataclass(frozen=True)
class FreshnessCheck(Row):
    ok: bool
    message: str
    max_age_seconds: float


@dataclass(frozen=True)
class HaltState(Row):
    """The owner's kill switch as stored: why, whether exits are held too, since when, by which run."""

    reason: str
    exits: bool
    since: str
    run_id: str


@dataclass(frozen=True, kw_only=True)
class StatusReport(Report):
    COMMANDS = ("status",)
    mode: str
    ledger: str
    ledger_exists: bool
    last_runs: tuple[RunRecord, ...]
    last_success: SuccessfulRun | None
    open_intents: tuple[OpenIntent, ...]
    orders_total: int
    fills_total: int
    intents_total: int | None = optional()  # absent while there is no ledger
    positions: tuple[LedgerPosition, ...]
    options: tuple[OpenStructure, ...]  # the options book's structures not yet closed
    deployed_usd: float
    deployed_by_book: dict[str, float]
    halt: HaltState | None  # the owner's kill switch (`autotrader halt`), None when not halted
    check: FreshnessCheck | None = optional()  # with --check


@dataclass(frozen=True, kw_only=True)
class ControlReport(Report):
    COMMANDS = ("halt", "resume")
    halt: HaltState | None  # the kill switch after the command (None: not halted)
    was: HaltState | None  # before it
    streak_reset_at: str | None  # when the losing-streak pause was last ended by `resume --breaker streak`


@dataclass(frozen=True)
class Check(Row):
    """One doctor check: what it found and, when it failed, what to fix and the exit code it stands for."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    exit_code: int = field(default=0, metadata={_INTERNAL: True})


@dataclass(frozen=True)
class SlotRequests(Row):
    """The market-data requests one ``run-daily`` slot is expected to cost at most, and the minutes the rate
    limiter needs for them at the configured rate."""

    slot: str
    requests: int
    minutes: float
    detail: str


@dataclass(frozen=True, kw_only=True)
class DoctorReport(Report):
    COMMANDS = ("doctor",)
    checks: tuple[Check, ...]
    requests: tuple[SlotRequests, ...]  # empty when the data source sends no requests (synthetic, local)


@dataclass(frozen=True, kw_only=True)
class ConfigReport(Report):
    COMMANDS = ("config show", "config check")
    config_path: str
    workspace: str
    mode: str
    ledger: str
    keys_present: tuple[str, ...]
    settings: dict[str, Any] | None = optional()  # config show only
    kelly_multiplier_range: tuple[float, float]
    sizing_capital: str  # pinned | broker | last_close (Settings.sizing_capital)
    symbol: str | None = None  # config show --symbol only (null otherwise)
    symbol_values: tuple[SymbolValue, ...] | None = None  # config show --symbol: its effective values


@dataclass(frozen=True)
class SymbolValue(Row):
    """One per-symbol value as ``config show --symbol`` prints it: what applies and where it comes from."""

    key: str  # qty | stop_pct | target_pct | trail_pct | trail_activation_pct
    value: float | None  # None: no fixed value (the computed size, the signal's or the ATR stop / target)
    source: str  # "[symbols.NVDA]", or the section default that applies instead


@dataclass(frozen=True, kw_only=True)
class InitReport(Report):
    COMMANDS = ("init",)
    workspace: str
    broker: str
    data: str
    created: tuple[str, ...]  # folders and files made (what would be, under --dry-run)


@dataclass(frozen=True, kw_only=True)
class ScheduleReport(Report):
    COMMANDS = ("schedule",)
    format: str  # crontab | systemd
    text: str  # what to install


@dataclass(frozen=True)
class NotifyTargetResult(Row):
    index: int  # its place in [notify] urls, from 1: two URLs on one host look alike otherwise
    target: str  # the URL's scheme and host only: the rest may hold a token
    level: str  # the least serious alert it takes
    sent: bool
    error: str | None  # why not (never the URL)


@dataclass(frozen=True, kw_only=True)
class NotifyReport(Report):
    COMMANDS = ("notify test",)
    targets: tuple[NotifyTargetResult, ...]  # one per [notify] urls entry, in order


@dataclass(frozen=True)
class ListedOrder(Row):
    broker_order_id: str | None  # None: an intent the broker has not received (yet)
    client_order_id: str | None
    book: str
    symbol: str
    side: str
    qty: float
    type: str
    status: str | None  # the broker's status as the ledger last recorded it
    filled_qty: float
    filled_avg_price: float | None
    limit_price: float | None
    stop_price: float | None
    submitted_at: str | None
    leg: str | None  # what the order did for its position (None: external)
    intent_status: str | None


@dataclass(frozen=True, kw_only=True)
class OrdersReport(Report):
    COMMANDS = ("orders list", "orders show", "orders cancel", "orders cancel-all", "orders cancel-stale", "flatten")
    listed: tuple[ListedOrder, ...]
    canceled: tuple[str, ...]  # broker order ids this run canceled
    record: dict[str, Any] | None = optional()  # orders show: {intent, order, fills, decision}


@dataclass(frozen=True)
class PositionView(Row):
    symbol: str
    book: str
    ledger_qty: float
    broker_qty: float  # the broker's whole position in the symbol (all books)
    avg_cost: float
    price: float | None
    market_value: float | None
    unrealized_pnl: float | None


@dataclass(frozen=True, kw_only=True)
class PositionsReport(Report):
    COMMANDS = ("positions",)
    positions: tuple[PositionView, ...]


@dataclass(frozen=True, kw_only=True)
class BalancesReport(Report):
    COMMANDS = ("balances",)
    equity: float
    cash: float
    buying_power: float
    deployed_by_book: dict[str, float]  # at cost


@dataclass(frozen=True, kw_only=True)
class PreviewReport(Report):
    COMMANDS = ("preview bracket", "preview risk")
    symbol: str
    qty: float
    price: float | None  # the reference price: the ask (or --price)
    notional: float
    portfolio_pct: float | None
    allowed_qty: float  # what is left of qty after every cap
    blocked_by: tuple[str, ...]  # why size would skip a signal in this symbol now
    checks: tuple[dict[str, Any], ...]  # every gate and pre-trade check, as size traces them
    multipliers: tuple[dict[str, Any], ...]
    caps: tuple[dict[str, Any], ...]
    bracket: dict[str, Any] | None = optional()  # preview bracket: the legs, risk and reward


@dataclass(frozen=True)
class PendingApproval(Row):
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    book: str
    signal_id: int | None
    requested_at: str
    expires_at: str
    expired: bool
    trace: list[dict[str, Any]] | None  # the size decision's trace


@dataclass(frozen=True, kw_only=True)
class ApprovalsReport(Report):
    COMMANDS = ("approvals", "approve", "reject")
    pending: tuple[PendingApproval, ...]  # still awaiting an answer after this command
    decided: tuple[str, ...]  # the client order ids this command approved or rejected


# -- report (the daily report) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaySummary(Row):
    """The day's money: the equity at its end and its change, and what was realized and is still open."""

    equity: float | None  # the day's snapshot; for today before rehydrate, the broker's equity now
    equity_from: str | None  # "snapshot" | "broker" | None (a past day without a snapshot)
    cash: float | None
    previous_date: str | None  # the last snapshot before the day
    previous_equity: float | None
    equity_change: float | None  # equity − previous_equity: everything, open positions' moves included
    equity_change_pct: float | None  # a fraction of previous_equity
    realized_pnl: float  # the day's sells at average cost in our books, net of the day's commissions
    commissions: float
    unrealized_pnl: float | None  # the open positions listed, at their last daily close
    drawdown: float | None  # the equity's fall from its running peak at the day's end (a fraction)


@dataclass(frozen=True)
class CurvePoint(Row):
    date: str
    equity: float
    spy: float | None  # SPY's close that session
    drawdown: float  # the equity's fall from its running peak (a fraction)


@dataclass(frozen=True)
class DeployedPath(Row):
    """Capital deployed at cost in one book or category over the snapshots: its path, not a return."""

    group: str  # "book" | "category"
    key: str
    start: str  # the first snapshot that has it
    first: float
    last: float
    change: float
    peak: float


@dataclass(frozen=True)
class DayPosition(Row):
    book: str
    symbol: str
    qty: float
    avg_cost: float
    price: float | None  # the last daily close at or before the day (None: no bar)
    price_date: str | None
    market_value: float | None
    unrealized_pnl: float | None


@dataclass(frozen=True)
class DayOrder(Row):
    """An order intent decided that day, with what the broker did with it as last synced."""

    client_order_id: str
    created_at: str
    step: str
    book: str
    symbol: str
    side: str
    qty: float
    type: str
    leg: str
    tier: int
    status: str  # the intent's
    filled_qty: float
    filled_avg_price: float | None
    error: str | None


@dataclass(frozen=True)
class DayFill(Row):
    filled_at: str
    book: str
    symbol: str
    side: str
    qty: float
    price: float
    commission: float
    leg: str
    tier: int
    signal_id: int | None
    client_order_id: str | None
    realized_pnl: float | None  # a sell's (price − average cost) × qty, before commission; None for a buy


@dataclass(frozen=True)
class BreakerState(Row):
    name: str
    tripped: bool
    detail: str  # size's own words: its trace step, or the skip reason its decisions record
    # What the breaker reads and where it trips, in one unit (losing trades in a row; today's P&L in dollars;
    # the drawdown from the peak as a fraction); limit None: the breaker is off (no band pauses, for the drawdown).
    value: float | None
    limit: float | None
    resumes_on: str | None  # a losing-streak pause's first open session (None: until `resume --breaker streak`)


@dataclass(frozen=True)
class SignalTally(Row):
    source: str
    category: str
    received: int  # imported that day
    traded: int  # sized that day into an order (ordered or reduced)
    skipped: int  # sized that day into a skip


@dataclass(frozen=True)
class SkipTally(Row):
    reason: str  # the sizing rule that stopped the signal
    signals: int
    example: str  # one of those skips' words, with its numbers


@dataclass(frozen=True)
class DayRun(Row):
    command: str
    as_of: str
    exit_code: int | None  # None: no end recorded (killed, or its end could not be stored)
    error: str | None
    notes: tuple[str, ...]  # the first ten, as the runs row keeps them


@dataclass(frozen=True)
class Problem(Row):
    level: str  # "error" | "warning"
    command: str
    as_of: str  # the first run that said it
    message: str
    count: int  # runs that said the same


@dataclass(frozen=True, kw_only=True)
class DailyReport(Report):
    COMMANDS = ("report",)
    date: str  # the New York day reported
    trading_day: bool  # an NYSE session
    mode: str
    simulated: bool  # a simulated broker: no real money
    synthetic: bool  # the seeded synthetic market data: no real prices
    summary: DaySummary
    performance: PerformanceComparison | None  # from the snapshots up to the day; None before the first
    curve: tuple[CurvePoint, ...]
    deployed: tuple[DeployedPath, ...]
    positions_from: str | None  # "ledger" (today) | "snapshot" (a past day) | None (no snapshot that day)
    positions: tuple[DayPosition, ...]
    day_orders: tuple[DayOrder, ...]
    fills: tuple[DayFill, ...]
    halt: HaltState | None
    breakers: tuple[BreakerState, ...]  # as the next `size` would find them, at the as-of
    approvals: tuple[PendingApproval, ...]
    signals: tuple[SignalTally, ...]
    skip_reasons: tuple[SkipTally, ...]
    runs: tuple[DayRun, ...]  # cron's runs and the owner's controls (`report.LISTED_COMMANDS`)
    reads_left_out: int  # the day's other runs, the owner's reads (report, scorecard, orders list...)
    problems: tuple[Problem, ...]  # from every run of the day, reads included
    html: str | None = optional()  # with --html: the page written


# -- options chain ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainExpiry(Row):
    expiry: str
    dte: int  # calendar days from today (New York)
    atm_iv: float | None
    atm_strike: float | None


@dataclass(frozen=True)
class ChainContract(Row):
    symbol: str  # OCC, as Alpaca writes it
    expiry: str
    right: str
    strike: float
    bid: float
    ask: float
    mid: float
    iv: float | None
    delta: float | None
    gamma: float | None
    theta: float | None  # per calendar day, per share
    vega: float | None  # per volatility point, per share
    open_interest: int | None
    volume: int | None


@dataclass(frozen=True, kw_only=True)
class OptionChainReport(Report):
    COMMANDS = ("options chain",)
    underlying: str
    underlying_price: float | None
    quoted_at: str | None
    iv30: float | None  # the 30-day IV now (policy.option_chain.iv30)
    iv_rank: float | None  # among the recorded sessions' 30-day IVs (0 = the low, 1 = the high)
    iv_percentile: float | None  # the share of recorded sessions with a lower 30-day IV
    iv_sessions: int  # recorded sessions the rank and percentile read
    expiries: tuple[ChainExpiry, ...]
    contracts: tuple[ChainContract, ...]


REPORTS: tuple[type[Report], ...] = (
    SyncReport, ScanReport, SizeReport, ManageReport, RebalanceReport, ScorecardReport, LineageReport,
    RehydrateReport, RunDailyReport, ReplayReport, DemoReport, StatusReport, DoctorReport, ConfigReport,
    ControlReport, InitReport, ScheduleReport, OrdersReport, PositionsReport, BalancesReport,
    PreviewReport, ApprovalsReport, DailyReport,
    NotifyReport, ExplainReport, CompareReport, OptionChainReport,
)  # fmt: skip


def report_for(command: str) -> type[Report]:
    """The report type a command prints (``config show``, ``scorecard --signal``... as the README names them)."""
    return next(kind for kind in REPORTS if command in kind.COMMANDS)
