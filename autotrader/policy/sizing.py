"""The sizing engine: from a signal and the state of the book to an order (or a skip), with every step traced. Pure.

No I/O, no clock, no ledger, no settings: the ``size`` pipeline gathers the inputs (quote, asset, sector,
earnings distance, book, risk state) and maps its settings onto :class:`Rules`. Every decision carries a
trace, one :class:`TraceStep` per rule, whose numbers are the numbers the computation used.

For one buy signal, in this order (the first failing rule skips it; the trace ends at that rule). The gates,
pre-trade checks, multipliers and caps are small named functions, listed in order in ``GATES``,
``PRE_TRADE_CHECKS``, ``MULTIPLIERS`` and ``CAPS``; each reads the whole :class:`Case` and returns its trace
step with what it found (a :class:`Verdict`, a :class:`Factor`, or the size a cap leaves: :class:`Capped`),
so a rule is added, moved or tested on its own.

1. **Gates.** side is ``buy`` (the toolkit opens longs only); the signal's prices are positive; the category
   is known; the symbol is not denied and is allowed when an allow list is set; the asset is known and
   tradable; no position in the symbol when ``one_position_per_symbol``, else fewer than
   ``max_entries_per_symbol`` entries in it (0: no limit); ``open_positions < max_open_positions`` (adding to a
   held symbol opens nothing); ``new_trades_today < max_new_trades_per_day``; ``open_buy_orders <
   max_open_orders`` (0: no limit).
   Circuit breakers (block new entries only): ``consecutive_losses ≥ max_consecutive_losses``;
   ``daily_pnl ≤ −max_daily_loss``; ``daily_pnl ≥ daily_profit_target``. Earnings blackout: skip when
   ``next_earnings_in_days ≤ earnings_blackout_days``; an unknown date skips only under
   ``unknown_earnings = "skip"``. Regime pause: the VIX band has ``pause_long_term`` and the signal is
   long-term. Drawdown pause: the drawdown band's multiplier is 0.
2. **Pre-trade checks.** A quote exists; ``age_seconds ≤ max_quote_age_seconds``; bid/ask are valid
   (``ask > 0``, ``bid > 0``, ``bid ≤ ask``). Reference price ``P = ask`` (a buy pays the ask). With a
   signal entry ``E``: ``drift% = |last − E| / E × 100 ≤ max_price_drift_pct``. Spread:
   ``(ask − bid) / ((ask + bid)/2) × 10,000 ≤ max_spread_bps``.
3. **Base size** ``D₀`` in dollars (PV = portfolio_value):
   - dynamic sizing off:                ``D₀ = position_size``
   - swing / day trade with a stop ``S`` (entry ``E``, else P): ``shares = PV × risk_per_trade_pct/100 / (E − S)``,
     ``D₀ = shares × P`` (requires ``S < E``; the seed's example: $1M × 1% / |100 − 95| = 2,000 shares)
   - long-term (with or without a stop: the seed sizes its "Suggested Finds" by conviction; a stop only
     shapes the protective order): ``D₀ = PV × base_allocation_pct/100 × m(conviction)``, with
     ``m`` the multiplier of the largest key ≤ conviction (a conviction above the top key uses the top
     key's; below the lowest key, or missing, skips)
   - swing / day trade without a stop:  ``D₀ = PV × base_allocation_pct/100`` (conviction not applied)
4. **Multipliers** ``D = D₀ × Π mᵢ``:
   - VIX band (``market_regime_enabled``): the first band, by descending edge ``above``, that holds the VIX:
     ``VIX > above``, or ``VIX ≥ above`` when the band is ``inclusive``; defaults VIX > 30 → 0.5,
     (25, 30] → 0.6, [15, 25] → 1.0, [0, 15) → 1.1, so 30 is in 25–30, 25 and 15 are normal (× 1.0);
     VIX unknown, or under every band → 1.0.
   - SPY trend (``market_regime_enabled``): ``spy_close < spy_sma`` → ``spy_below_sma_multiplier``.
   - half-Kelly (``kelly_adaptive_enabled`` and the category has ``trades ≥ kelly_min_trades``):
     ``W = wins/trades``, ``f = (W·avgWin − (1 − W)·avgLoss) / avgWin``;
     seed mode ``m = clamp(f/2, lo, hi)``; normalized mode ``m = clamp((f/2) / kelly_reference_fraction, lo, hi)``;
     ``f ≤ 0`` (or no average win) → ``lo``; fewer trades → 1.0. Since ``f ≤ W ≤ 1``, ``f/2 ≤ 0.5``: the seed
     mode can only shrink a position; see :func:`kelly_multiplier_range`.
   - drawdown band: the first band, by descending ``above_pct``, with ``drawdown_pct > above_pct``
     (defaults > 15% → 0 = no entries, > 10% → 0.5, > 5% → 0.75).
   - daily P&L (target T > 0): ``daily_pnl ≥ 0.9·T`` → 0.25; ``≥ 0.8·T`` → 0.5.
5. **Caps**, in order (``min`` = one share at P, or $1 when fractional):
   - max position: ``room = PV × max_position_pct/100 − held``; ``D > room`` → ``D = room`` (reduced),
     or skip when ``room < min``.
   - allocation: ``deployed + D > max_total_allocation`` → skip (the seed skips; it does not reduce).
   - sector: ``room = PV × max_sector_pct/100 − exposure[sector]``; reduce or skip as above. An unknown
     sector (None) skips the signal under ``unknown_sector = "skip"``; under ``"own_bucket"`` every
     unknown-sector holding and entry counts in one bucket, ``UNKNOWN_SECTOR``, capped like a sector.
   - cash: ``room = cash − min_cash``; reduce or skip as above.
6. **Quantity** ``q = floor(D / P)`` whole shares, or ``floor(D / P × 10⁴) / 10⁴`` when ``fractional_shares``
   and the asset is fractionable and the order is not a bracket; skip when ``q < 1`` (whole) or the notional
   is under $1 (fractional). ``notional = q × P``.
7. **Order.** Stop and target → a bracket with a market entry, ``take_profit = tick_down(target)`` and
   ``stop_loss = tick_up(stop)`` — both legs round *toward the entry*, so the loss per share never exceeds
   the one the risk budget was computed with and the target is never further than the signal asked for;
   skip unless ``stop_loss < P < take_profit``. Long-term without a stop or target: market, or a limit at
   ``tick_down(entry)`` (a buy never pays more than the signal's entry) under ``long_term_entry = "limit"``.
   Everything else: simple market. Ticks: $0.01 at or above $1, $0.0001 below (``domain.money.to_tick``).

``outcome`` is ``reduced`` when a cap (max position, sector, cash) cut the size, ``ordered`` otherwise;
the multipliers do not make an order "reduced" (they are the size, not a cut of it).

:func:`decide_all` decides a batch in order and hands each decision the book as the previous ordered ones
left it (deployed, cash, position and sector values, open positions, trades today), so the caps hold across
the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple, NoReturn

from autotrader.domain.money import tick_size, to_tick, whole_shares

__all__ = [
    "CAPS",
    "GATES",
    "MULTIPLIERS",
    "PRE_TRADE_CHECKS",
    "AssetIn",
    "BookState",
    "Capped",
    "Case",
    "Decision",
    "DrawdownBand",
    "Factor",
    "KellyStats",
    "QuoteIn",
    "RiskState",
    "Rules",
    "SignalIn",
    "TraceStep",
    "Verdict",
    "VixBand",
    "decide",
    "decide_all",
    "kelly_multiplier_range",
    "sector_bucket",
    "vix_band",
]

CATEGORIES = ("long_term", "swing", "day_trade")

#: Fractional quantities are floored to this many decimals (Alpaca accepts up to 9; 4 keeps them readable).
FRACTION_DECIMALS = 4
#: Alpaca's smallest fractional (notional) order.
MIN_FRACTIONAL_NOTIONAL = 1.0
#: The sector-exposure key of symbols whose sector is unknown (``unknown_sector = "own_bucket"``).
UNKNOWN_SECTOR = "unknown sector"
#: Daily-P&L throttle: (share of the target reached, multiplier), highest first: at 90% of the day's profit
#: target new sizes are quartered, at 80% halved.
DAILY_PNL_STEPS = ((0.9, 0.25), (0.8, 0.5))


# ----------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SignalIn:
    signal_id: int
    symbol: str
    category: str  # long_term | swing | day_trade
    side: str  # "buy"; a "sell" is skipped (the toolkit only opens longs)
    conviction: int | None
    entry: float | None
    stop: float | None
    target: float | None


@dataclass(frozen=True)
class QuoteIn:
    bid: float
    ask: float
    last: float
    age_seconds: float  # how old the quote is at the decision instant


@dataclass(frozen=True)
class AssetIn:
    tradable: bool
    fractionable: bool


@dataclass(frozen=True)
class BookState:
    """The signals book before this decision."""

    portfolio_value: float
    cash: float
    deployed: float  # positions at cost + open (submitted, unfilled) buy orders, signals book
    position_value: dict[str, float]  # symbol -> value held in the signals book (0/absent = none)
    sector_exposure: dict[str, float]  # sector -> value held (all books we manage)
    open_positions: int  # symbols held in the signals book
    new_trades_today: int
    # Where portfolio_value came from: "pinned" (the setting), "broker equity" (read this run), "last close
    # equity" (stored at the last end of day) or "default" (the setting's default, before any end of day).
    portfolio_value_from: str = "default"
    open_buy_orders: int = 0  # the book's buy orders working at the broker or about to be sent
    # symbol -> entries (one per signal) in its current position or on their way, since it was last flat
    entries_in_symbol: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class KellyStats:
    """Completed trades of one category, from the ledger."""

    trades: int
    wins: int
    avg_win: float
    avg_loss: float  # positive


@dataclass(frozen=True)
class RiskState:
    vix: float | None
    spy_close: float | None
    spy_sma: float | None
    drawdown_pct: float  # from the equity curve's peak, >= 0, in percent
    daily_pnl: float  # today's P&L in dollars (negative = loss)
    consecutive_losses: int  # most recent closed trades, all books of signals
    kelly: dict[str, KellyStats]  # per category
    streak_resumes_on: str | None = None  # while the losing-streak pause has an end: its first open session


@dataclass(frozen=True)
class VixBand:
    """A VIX level of ``above`` or more: strictly more unless ``inclusive`` (then ``above`` itself belongs here)."""

    above: float
    multiplier: float
    pause_long_term: bool = False
    inclusive: bool = False

    def holds(self, vix: float) -> bool:
        return vix >= self.above if self.inclusive else vix > self.above

    def edge(self) -> str:
        """The band's lower edge as a condition on the VIX: "> 30" or "≥ 15"."""
        return f"{'≥' if self.inclusive else '>'} {_num(self.above)}"


@dataclass(frozen=True)
class DrawdownBand:
    above_pct: float
    multiplier: float  # 0 = no new entries


def _default_convictions() -> dict[int, float]:
    return {10: 1.5, 9: 1.25, 8: 1.0, 7: 0.75}


@dataclass(frozen=True)
class Rules:
    use_dynamic_sizing: bool = True
    base_allocation_pct: float = 2.0
    max_position_pct: float = 5.0
    risk_per_trade_pct: float = 1.0
    position_size: float = 5000.0
    conviction_multipliers: dict[int, float] = field(default_factory=_default_convictions)
    fractional_shares: bool = False
    max_total_allocation: float = 250_000.0
    market_regime_enabled: bool = True
    vix_bands: tuple[VixBand, ...] = (
        VixBand(30, 0.5, True),
        VixBand(25, 0.6),
        VixBand(15, 1.0, inclusive=True),
        VixBand(0, 1.1, inclusive=True),
    )
    spy_below_sma_multiplier: float = 0.8
    kelly_adaptive_enabled: bool = False
    kelly_mode: str = "seed"  # or "normalized"
    kelly_reference_fraction: float = 0.25
    kelly_min_trades: int = 10
    kelly_clamp: tuple[float, float] = (0.25, 2.0)
    drawdown_bands: tuple[DrawdownBand, ...] = (
        DrawdownBand(15, 0.0),
        DrawdownBand(10, 0.5),
        DrawdownBand(5, 0.75),
    )
    daily_profit_target: float = 5000.0  # <= 0 switches the target breaker and the throttle off
    max_daily_loss: float = 2500.0  # <= 0 switches the breaker off
    max_consecutive_losses: int = 5  # <= 0 switches the breaker off
    max_sector_pct: float = 30.0
    earnings_avoid_enabled: bool = True
    earnings_blackout_days: int = 3
    unknown_earnings: str = "allow"  # or "skip"
    unknown_sector: str = "own_bucket"  # or "skip"
    max_open_positions: int = 20
    max_new_trades_per_day: int = 10
    min_cash: float = 10_000.0
    allow_symbols: frozenset[str] = frozenset()
    deny_symbols: frozenset[str] = frozenset()
    one_position_per_symbol: bool = True
    max_entries_per_symbol: int = 0  # 0: no limit
    max_open_orders: int = 20  # 0: no limit
    max_price_drift_pct: float = 2.0
    max_spread_bps: float = 50.0
    max_quote_age_seconds: float = 900.0
    long_term_entry: str = "market"  # or "limit" (at the signal's entry)
    # [symbols.<TICKER>] overrides, symbol -> value: shares per entry; stop / target percent from the entry price
    symbol_qty: dict[str, int] = field(default_factory=dict)
    symbol_stop_pct: dict[str, float] = field(default_factory=dict)
    symbol_target_pct: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Only what would make the formulas meaningless; ranges are the settings layer's job.
        if self.kelly_mode not in ("seed", "normalized"):
            raise ValueError(f"kelly_mode must be 'seed' or 'normalized', got {self.kelly_mode!r}")
        if not self.kelly_reference_fraction > 0:
            raise ValueError(f"kelly_reference_fraction must be > 0, got {self.kelly_reference_fraction!r}")
        lo, hi = self.kelly_clamp
        if not 0 <= lo <= hi:
            raise ValueError(f"kelly_clamp must satisfy 0 <= lo <= hi, got {self.kelly_clamp!r}")
        if self.unknown_earnings not in ("allow", "skip"):
            raise ValueError(f"unknown_earnings must be 'allow' or 'skip', got {self.unknown_earnings!r}")
        if self.unknown_sector not in ("skip", "own_bucket"):
            raise ValueError(f"unknown_sector must be 'skip' or 'own_bucket', got {self.unknown_sector!r}")
        if self.long_term_entry not in ("market", "limit"):
            raise ValueError(f"long_term_entry must be 'market' or 'limit', got {self.long_term_entry!r}")


# ---------------------------------------------------------------------------------------------------- outputs


_PLAIN = (int, str, bool, type(None))


def _json_value(value: Any) -> Any:
    """JSON has no NaN or infinity: they become None (the step's ``effect`` text still shows them)."""
    kind = type(value)
    if kind is float:  # the common cases first, by exact type: a size trace holds thousands of numbers
        return value if math.isfinite(value) else None
    if kind in _PLAIN:
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


@dataclass(frozen=True)
class TraceStep:
    name: str
    inputs: dict[str, float | str | int | bool | None]  # the numbers the step used
    effect: str  # plain words with the numbers
    multiplier: float | None = None
    dollars_after: float | None = None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "inputs": _json_value(self.inputs),
            "effect": self.effect,
            "multiplier": _json_value(self.multiplier),
            "dollars_after": _json_value(self.dollars_after),
        }


@dataclass(frozen=True)
class Decision:
    signal_id: int
    symbol: str
    outcome: str  # "ordered" | "skipped" | "reduced"
    qty: float  # 0 when skipped
    notional: float  # qty × reference price
    reference_price: float | None
    order_type: str  # "market" | "limit"
    limit_price: float | None
    order_class: str  # "simple" | "bracket"
    take_profit: float | None
    stop_loss: float | None
    reason: str  # the skip reason, or a one-line summary of the size
    trace: tuple[TraceStep, ...]

    def to_json(self) -> dict:
        data = {f.name: _json_value(getattr(self, f.name)) for f in fields(self) if f.name != "trace"}
        data["trace"] = self.trace_json()
        return data

    def trace_json(self) -> list[dict]:
        """The trace alone, as the ledger keeps it and the report shows it."""
        return [step.to_json() for step in self.trace]


# ------------------------------------------------------------------------------------------------- formatting


def _num(x: float | None, places: int = 4) -> str:
    """Up to ``places`` decimals, trailing zeros dropped, thousands separated: 27.4, 0.25, 12,345.5."""
    if x is None:
        return "unknown"
    if not math.isfinite(x):
        return str(x)
    text = f"{x:,.{places}f}".rstrip("0").rstrip(".")
    # A typographic minus, as every figure a person reads is written (``exports.fmt``).
    return "0" if text == "-0" else text.replace("-", "−")


def _amt(x: float) -> str:
    """Dollars without the sign: whole amounts without cents (240,000), else cents (200,740.50)."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:,.0f}" if abs(x - round(x)) < 0.005 else f"{x:,.2f}"


def _usd(x: float) -> str:
    return f"−${_amt(-x)}" if x < 0 else f"${_amt(x)}"


def _px(p: float | None) -> str:
    """A price as it is quoted: cents at or above $1, 4 decimals below."""
    if p is None:
        return "unknown"
    if not math.isfinite(p):
        return str(p)
    return f"{p:,.2f}" if p >= 1 else f"{p:.4f}"


def _pct(x: float) -> str:
    return f"{_num(x, 2)}%"


# -------------------------------------------------------------------------------------------------- machinery

#: The numbers a trace step shows.
Inputs = dict[str, float | str | int | bool | None]


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Trace:
    """The steps of one decision; ``skip`` records the failing rule and stops the decision."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps: list[TraceStep] = []

    def add(
        self,
        name: str,
        inputs: Inputs,
        effect: str,
        multiplier: float | None = None,
        dollars_after: float | None = None,
    ) -> None:
        self.steps.append(TraceStep(name, inputs, effect, multiplier, dollars_after))

    def skip(self, name: str, inputs: Inputs, reason: str) -> NoReturn:
        self.steps.append(TraceStep(name, inputs, f"skip: {reason}"))
        raise _Skip(reason)

    def record(self, step: TraceStep, skip: str | None) -> None:
        """Add a rule's step; a rule that found a reason to skip stops the decision here."""
        self.steps.append(step)
        if skip is not None:
            raise _Skip(skip)


@dataclass(frozen=True)
class Case:
    """Everything one decision reads: the arguments of :func:`decide`, passed whole to every rule."""

    signal: SignalIn
    quote: QuoteIn | None
    asset: AssetIn | None
    sector: str | None
    next_earnings_in_days: int | None
    book: BookState
    risk: RiskState
    rules: Rules

    @property
    def price(self) -> float:
        """The reference price: the ask (a buy pays the ask). Only read once the quote checks have passed."""
        assert self.quote is not None, "the quote checks run before anything reads the price"
        return self.quote.ask

    @property
    def fractional(self) -> bool:
        """Whether the quantity may be fractional: the rules allow it, the asset does, and it is no bracket
        (a bracket order must be in whole shares)."""
        return (
            self.rules.fractional_shares
            and bool(self.asset and self.asset.fractionable)
            and _order_shape(self.signal, self.rules).order_class != "bracket"
        )


class Verdict(NamedTuple):
    """What one gate or pre-trade check found: its trace step, and the skip reason when it stops the signal."""

    step: TraceStep
    skip: str | None = None


def _passes(name: str, inputs: Inputs, effect: str) -> Verdict:
    return Verdict(TraceStep(name, inputs, effect))


def _fails(name: str, inputs: Inputs, reason: str) -> Verdict:
    return Verdict(TraceStep(name, inputs, f"skip: {reason}"), reason)


class Factor(NamedTuple):
    """What one multiplier does to the size: ``multiplier`` with the words ``effect`` that explain it."""

    name: str
    inputs: Inputs
    effect: str
    multiplier: float


class Capped(NamedTuple):
    """What one cap did: its trace step, the size after it, the name the summary gives it when it cut the
    size, and the skip reason when not one order's worth is left."""

    step: TraceStep
    dollars: float
    cut: str | None = None
    skip: str | None = None


def _positive_price(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def _known(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@lru_cache(maxsize=64)
def _upper(symbols: frozenset[str]) -> frozenset[str]:
    return frozenset(s.upper() for s in symbols)


@lru_cache(maxsize=64)
def _vix_bands_desc(bands: tuple[VixBand, ...]) -> tuple[VixBand, ...]:
    # Highest edge first; at an equal edge the band strictly above it first (it holds the higher levels).
    return tuple(sorted(bands, key=lambda b: (b.above, not b.inclusive), reverse=True))


@lru_cache(maxsize=64)
def _drawdown_bands_desc(bands: tuple[DrawdownBand, ...]) -> tuple[DrawdownBand, ...]:
    return tuple(sorted(bands, key=lambda b: b.above_pct, reverse=True))


def vix_band(vix: float | None, rules: Rules) -> tuple[VixBand | None, VixBand | None]:
    """The band the VIX falls in and the band just above it, whose edge is its upper bound (None for the top
    band); (None, None) when the VIX is unknown or under every band."""
    if not _known(vix):
        return None, None
    upper: VixBand | None = None
    for band in _vix_bands_desc(rules.vix_bands):
        if band.holds(vix):  # type: ignore[arg-type]
            return band, upper
        upper = band
    return None, None


def _vix_where(band: VixBand, upper: VixBand | None) -> str:
    """Where the band lies: "> 30", or an interval whose brackets say which edges belong to it: "(25, 30]"."""
    if upper is None:
        return band.edge()
    low = "[" if band.inclusive else "("
    high = ")" if upper.inclusive else "]"
    return f"in {low}{_num(band.above)}, {_num(upper.above)}{high}"


def _drawdown_band(drawdown_pct: float, rules: Rules) -> DrawdownBand | None:
    for band in _drawdown_bands_desc(rules.drawdown_bands):
        if drawdown_pct > band.above_pct:
            return band
    return None


def kelly_multiplier_range(rules: Rules) -> tuple[float, float]:
    """The smallest and largest Kelly multiplier ``rules`` can produce (for ``config check``).

    ``f ≤ W ≤ 1`` so ``f/2 ≤ 0.5``: in seed mode the top is ``min(hi, 0.5)``, in normalized mode
    ``min(hi, 0.5 / kelly_reference_fraction)``; never below the clamp's lower bound.
    """
    lo, hi = rules.kelly_clamp
    top = 0.5 if rules.kelly_mode == "seed" else 0.5 / rules.kelly_reference_fraction
    return lo, max(lo, min(hi, top))


def _kelly(stats: KellyStats | None, rules: Rules) -> tuple[float, str, Inputs]:
    """(multiplier, effect, inputs) of the half-Kelly overlay for one category's completed trades."""
    lo, hi = rules.kelly_clamp
    trades = stats.trades if stats is not None else 0
    inputs: Inputs = {
        "trades": trades,
        "min_trades": rules.kelly_min_trades,
        "mode": rules.kelly_mode,
        "clamp_lo": lo,
        "clamp_hi": hi,
    }
    if stats is None or trades < rules.kelly_min_trades:
        return 1.0, f"inactive: {trades} < {rules.kelly_min_trades} completed trades: × 1", inputs
    if trades <= 0:
        return 1.0, "inactive: no completed trades: × 1", inputs
    w = min(max(stats.wins / trades, 0.0), 1.0)
    inputs.update(wins=stats.wins, win_rate=w, avg_win=stats.avg_win, avg_loss=stats.avg_loss)
    if not (_known(stats.avg_win) and stats.avg_win > 0 and _known(stats.avg_loss)):
        return lo, f"no average win over {trades} trades: no measurable edge → lower bound × {_num(lo)}", inputs
    f = (w * stats.avg_win - (1 - w) * stats.avg_loss) / stats.avg_win
    inputs["f"] = f
    formula = (
        f"W = {stats.wins}/{trades} = {_num(w)}; f = ({_num(w)}·{_num(stats.avg_win)} − {_num(1 - w)}·"
        f"{_num(stats.avg_loss)})/{_num(stats.avg_win)} = {_num(f)}"
    )
    if f <= 0:
        return lo, f"{formula} ≤ 0: no edge → lower bound × {_num(lo)}", inputs
    half = f / 2
    if rules.kelly_mode == "normalized":
        raw = half / rules.kelly_reference_fraction
        inputs["reference_fraction"] = rules.kelly_reference_fraction
        shown = f"f/2 = {_num(half)} / reference {_num(rules.kelly_reference_fraction)} = {_num(raw)}"
    else:
        raw = half
        shown = f"f/2 = {_num(half)}"
    m = min(max(raw, lo), hi)
    clamp = "" if m == raw else f" → clamped to [{_num(lo)}, {_num(hi)}]"
    return m, f"{formula}; {shown}{clamp}: × {_num(m)}", inputs


# ------------------------------------------------------------------------------------------------- the engine


@dataclass(frozen=True)
class _Order:
    """What kind of order the signal becomes; known from the signal and the rules before any sizing."""

    order_type: str = "market"
    order_class: str = "simple"


def _order_shape(signal: SignalIn, rules: Rules) -> _Order:
    if signal.stop is not None and signal.target is not None:
        return _Order("market", "bracket")
    if (
        signal.category == "long_term"
        and signal.stop is None
        and signal.target is None
        and rules.long_term_entry == "limit"
        and signal.entry is not None
    ):
        return _Order("limit", "simple")
    return _Order("market", "simple")


def decide(
    signal: SignalIn,
    quote: QuoteIn | None,
    asset: AssetIn | None,
    sector: str | None,
    next_earnings_in_days: int | None,
    book: BookState,
    risk: RiskState,
    rules: Rules,
) -> Decision:
    """Decide one signal against ``book``: an order (``ordered`` / ``reduced``) or a skip, with its trace."""
    case = Case(signal, quote, asset, sector, next_earnings_in_days, book, risk, rules)
    trace = _Trace()
    # Presence decides the shape: a per-symbol stop_pct / target_pct fills what the signal lacks.
    order = _order_shape(_symbol_levels(signal, rules, signal.entry or 1.0)[0], rules)
    price: float | None = None  # known once the pre-trade checks pass; a later skip still reports it
    try:
        for gate in GATES:
            trace.record(*gate(case))
        for check in PRE_TRADE_CHECKS:
            trace.record(*check(case))
        price = case.price
        filled, step = _symbol_levels(signal, rules, price)
        if step is not None:
            trace.add(*step)
            case = replace(case, signal=filled)
        return _sized(case, price, order, trace)
    except _Skip as skip:
        return Decision(
            signal_id=signal.signal_id,
            symbol=signal.symbol,
            outcome="skipped",
            qty=0.0,
            notional=0.0,
            reference_price=price,
            order_type=order.order_type,
            limit_price=None,
            order_class=order.order_class,
            take_profit=None,
            stop_loss=None,
            reason=skip.reason,
            trace=tuple(trace.steps),
        )


def _sized(c: Case, price: float, order: _Order, t: _Trace) -> Decision:
    """Steps 3 to 7 for a signal that passed the gates and the pre-trade checks."""
    s = c.signal
    fixed = c.rules.symbol_qty.get(s.symbol)
    if fixed is not None:
        dollars = base = fixed * price
        t.add(
            "base",
            {"method": "per-symbol quantity", "qty": fixed, "reference_price": price},
            f"per-symbol quantity: [symbols.{s.symbol}] qty {_num(fixed)} × {_px(price)} = {_usd(dollars)} "
            "(replaces the computed size and its multipliers; the caps still apply)",
            dollars_after=dollars,
        )
    else:
        dollars, base = _base(c, price, t)
        dollars = _multipliers(c, dollars, t)
    dollars, cut_by = _caps(c, dollars, t)
    qty = _quantity(dollars, price, c.fractional, t)
    notional = qty * price
    limit_price, take_profit, stop_loss = _order(s, price, order, c.rules, t)

    summary = (
        f"buy {_num(qty)} {s.symbol} at ~{_px(price)} = {_usd(notional)}: base {_usd(base)}, sized {_usd(dollars)}"
    )
    if cut_by:
        summary += f" after {', '.join(cut_by)} cap{'s' if len(cut_by) > 1 else ''}"
    if order.order_class == "bracket":
        summary += f"; bracket target {_px(take_profit)} stop {_px(stop_loss)}"
    elif order.order_type == "limit":
        summary += f"; limit {_px(limit_price)}"
    return Decision(
        signal_id=s.signal_id,
        symbol=s.symbol,
        outcome="reduced" if cut_by else "ordered",
        qty=qty,
        notional=notional,
        reference_price=price,
        order_type=order.order_type,
        limit_price=limit_price,
        order_class=order.order_class,
        take_profit=take_profit,
        stop_loss=stop_loss,
        reason=summary,
        trace=tuple(t.steps),
    )


# ---------------------------------------------------------------------------------------------- 1. the gates
#
# A sell signal opens nothing ([size] allow_short is not built); one for a held symbol is an exit, decided before
# the gates when [exits] on_sell_signal = "exit" (pipeline/sell_signals.py).
SHORT_SKIP = (
    "no short selling: short entries are not supported (a sell signal exits a held position only with [exits] "
    'on_sell_signal = "exit")'
)

# Each gate reads the whole case and returns its trace step, failing or not; the first failing one skips.


def gate_side(c: Case) -> Verdict:
    side = c.signal.side.lower()
    if side == "sell":
        return _fails("side", {"side": c.signal.side}, SHORT_SKIP)
    if side != "buy":
        return _fails("side", {"side": c.signal.side}, f"side {c.signal.side!r} is not supported (buy only)")
    return _passes("side", {"side": side}, "buy: a long entry")


def gate_signal_prices(c: Case) -> Verdict:
    s = c.signal
    prices: Inputs = {"entry": s.entry, "stop": s.stop, "target": s.target}
    for label, value in prices.items():
        if value is not None and not _positive_price(value):  # type: ignore[arg-type]
            return _fails("signal_prices", prices, f"signal {label} {value!r} is not a positive price")
    return _passes("signal_prices", prices, "prices given are positive")


def gate_category(c: Case) -> Verdict:
    category = c.signal.category
    if category not in CATEGORIES:
        return _fails("category", {"category": category}, f"unknown category {category!r}")
    return _passes("category", {"category": category}, category)


def gate_symbol_lists(c: Case) -> Verdict:
    rules, symbol = c.rules, c.signal.symbol.upper()
    lists: Inputs = {
        "symbol": symbol,
        "allow_symbols": len(rules.allow_symbols),
        "deny_symbols": len(rules.deny_symbols),
    }
    if symbol in _upper(rules.deny_symbols):
        return _fails("symbol_lists", lists, f"{symbol} is on the deny list")
    if rules.allow_symbols and symbol not in _upper(rules.allow_symbols):
        return _fails("symbol_lists", lists, f"{symbol} is not on the allow list ({len(rules.allow_symbols)} symbols)")
    return _passes("symbol_lists", lists, "allowed" if rules.allow_symbols else "not denied")


def gate_asset(c: Case) -> Verdict:
    asset, symbol = c.asset, c.signal.symbol.upper()
    if asset is None:
        return _fails("asset", {"known": False}, f"{symbol} is not a known asset at the broker")
    if not asset.tradable:
        return _fails("asset", {"tradable": False}, f"{symbol} is not tradable at the broker")
    return _passes("asset", {"tradable": True, "fractionable": asset.fractionable}, "tradable")


def _held(c: Case) -> float:
    """What the signals book already holds in the signal's symbol."""
    return c.book.position_value.get(c.signal.symbol, 0.0) or 0.0


def gate_one_position_per_symbol(c: Case) -> Verdict:
    held, rule = _held(c), c.rules.one_position_per_symbol
    one: Inputs = {"held": held, "one_position_per_symbol": rule}
    if rule and held > 0:
        symbol = c.signal.symbol.upper()
        return _fails("one_position_per_symbol", one, f"one position per symbol: {symbol} already held ({_usd(held)})")
    return _passes("one_position_per_symbol", one, "not held" if held <= 0 else f"adding to {_usd(held)} held")


def gate_max_entries_per_symbol(c: Case) -> Verdict:
    """With add-ons allowed (``one_position_per_symbol`` off), how many signals' entries may stack in one
    symbol: the seed's positions-per-symbol limit, counted in entries since the symbol was last flat."""
    symbol = c.signal.symbol.upper()
    count, limit = c.book.entries_in_symbol.get(symbol, 0), c.rules.max_entries_per_symbol
    inputs: Inputs = {"entries_in_symbol": count, "max_entries_per_symbol": limit}
    if limit > 0 and count >= limit:
        why = f"max entries per symbol reached: {symbol} has {count} ≥ {limit}"
        return _fails("max_entries_per_symbol", inputs, why)
    effect = f"{count} < {limit} entries in {symbol}" if limit > 0 else "no limit"
    return _passes("max_entries_per_symbol", inputs, effect)


def gate_max_open_orders(c: Case) -> Verdict:
    count, limit = c.book.open_buy_orders, c.rules.max_open_orders
    inputs: Inputs = {"open_buy_orders": count, "max_open_orders": limit}
    if limit > 0 and count >= limit:
        return _fails("max_open_orders", inputs, f"max open orders reached: {count} buy orders working ≥ {limit}")
    return _passes("max_open_orders", inputs, f"{count} < {limit} buy orders working" if limit > 0 else "no limit")


def gate_max_open_positions(c: Case) -> Verdict:
    # Adding to a symbol already held opens no new position, so only a new symbol counts against the limit.
    opens = _held(c) <= 0
    count, limit = c.book.open_positions, c.rules.max_open_positions
    positions: Inputs = {"open_positions": count, "max_open_positions": limit, "opens_new": opens}
    if opens and count >= limit:
        return _fails("max_open_positions", positions, f"max open positions reached: {count} ≥ {limit}")
    return _passes(
        "max_open_positions",
        positions,
        f"{count} < {limit} open positions" if opens else f"adds to an open position ({count} open)",
    )


def gate_max_new_trades_per_day(c: Case) -> Verdict:
    count, limit = c.book.new_trades_today, c.rules.max_new_trades_per_day
    today: Inputs = {"new_trades_today": count, "max_new_trades_per_day": limit}
    if count >= limit:
        return _fails("max_new_trades_per_day", today, f"max new trades per day reached: {count} ≥ {limit}")
    return _passes("max_new_trades_per_day", today, f"{count} < {limit} trades today")


# Circuit breakers: they stop new entries; exits and protective stops are other steps' business. A limit of
# zero or less switches its breaker off.


def gate_consecutive_losses(c: Case) -> Verdict:
    losses, limit, until = c.risk.consecutive_losses, c.rules.max_consecutive_losses, c.risk.streak_resumes_on
    inputs: Inputs = {"consecutive_losses": losses, "max_consecutive_losses": limit, "resumes_on": until}
    if limit > 0 and losses >= limit:
        ends = f"until {until}" if until else "until `autotrader resume --breaker streak`"
        why = f"paused after {losses} consecutive losing trades (max {limit}) {ends}"
        return _fails("consecutive_losses", inputs, why)
    return _passes(
        "consecutive_losses",
        inputs,
        f"{losses} consecutive {'loss' if losses == 1 else 'losses'} (pause at {limit})" if limit > 0
        else "breaker off",
    )


def gate_max_daily_loss(c: Case) -> Verdict:
    pnl, limit = c.risk.daily_pnl, c.rules.max_daily_loss
    inputs: Inputs = {"daily_pnl": pnl, "max_daily_loss": limit}
    if limit > 0 and pnl <= -limit:
        return _fails("max_daily_loss", inputs, f"max daily loss reached: P&L {_usd(pnl)} ≤ {_usd(-limit)}")
    return _passes("max_daily_loss", inputs, f"P&L {_usd(pnl)} > {_usd(-limit)}" if limit > 0 else "breaker off")


def gate_daily_profit_target(c: Case) -> Verdict:
    pnl, target = c.risk.daily_pnl, c.rules.daily_profit_target
    inputs: Inputs = {"daily_pnl": pnl, "daily_profit_target": target}
    if target > 0 and pnl >= target:
        return _fails("daily_profit_target", inputs, f"daily profit target reached: P&L {_usd(pnl)} ≥ {_usd(target)}")
    return _passes(
        "daily_profit_target", inputs, f"P&L {_usd(pnl)} < {_usd(target)} target" if target > 0 else "target off"
    )


def gate_earnings(c: Case) -> Verdict:
    rules, days = c.rules, c.next_earnings_in_days
    blackout = rules.earnings_blackout_days
    earnings: Inputs = {
        "enabled": rules.earnings_avoid_enabled,
        "next_earnings_in_days": days,
        "blackout_days": blackout,
        "unknown_earnings": rules.unknown_earnings,
    }
    if not rules.earnings_avoid_enabled:
        return _passes("earnings", earnings, "earnings blackout off")
    if days is None:
        if rules.unknown_earnings == "skip":
            return _fails("earnings", earnings, "earnings date unknown (unknown_earnings = skip)")
        return _passes("earnings", earnings, "earnings date unknown: allowed (unknown_earnings = allow)")
    if days <= blackout:
        return _fails("earnings", earnings, f"earnings blackout: earnings in {days} days ≤ {blackout}")
    return _passes("earnings", earnings, f"earnings in {days} days > {blackout}-day blackout")


def gate_regime_pause(c: Case) -> Verdict:
    """A VIX band with ``pause_long_term`` stops new long-term buys (other categories go on, sized down)."""
    rules, vix, category = c.rules, c.risk.vix, c.signal.category
    band, _upper_bound = vix_band(vix, rules)
    pause: Inputs = {
        "enabled": rules.market_regime_enabled,
        "vix": vix,
        "category": category,
        "band_above": band.above if band else None,
    }
    if not rules.market_regime_enabled:
        return _passes("regime_pause", pause, "regime overlay off")
    if band is None or not band.pause_long_term:
        return _passes("regime_pause", pause, f"VIX {_num(vix)}: no pause")
    if category == "long_term":
        return _fails("regime_pause", pause, f"regime: VIX {_num(vix)} {band.edge()} pauses new long-term buys")
    return _passes(
        "regime_pause", pause, f"VIX {_num(vix)} {band.edge()} pauses long-term buys only: {category} allowed"
    )


def gate_drawdown_pause(c: Case) -> Verdict:
    drawdown = c.risk.drawdown_pct
    dd = _drawdown_band(drawdown, c.rules)
    draw: Inputs = {
        "drawdown_pct": drawdown,
        "band_above_pct": dd.above_pct if dd else None,
        "band_multiplier": dd.multiplier if dd else None,
    }
    if dd is not None and dd.multiplier <= 0:
        return _fails("drawdown_pause", draw, f"drawdown {_pct(drawdown)} > {_pct(dd.above_pct)}: no new entries")
    return _passes("drawdown_pause", draw, f"drawdown {_pct(drawdown)}: entries allowed")


#: The gates, in the order they are tried.
GATES: tuple[Callable[[Case], Verdict], ...] = (
    gate_side,
    gate_signal_prices,
    gate_category,
    gate_symbol_lists,
    gate_asset,
    gate_one_position_per_symbol,
    gate_max_entries_per_symbol,
    gate_max_open_positions,
    gate_max_new_trades_per_day,
    gate_max_open_orders,
    gate_consecutive_losses,
    gate_max_daily_loss,
    gate_daily_profit_target,
    gate_earnings,
    gate_regime_pause,
    gate_drawdown_pause,
)

#: The circuit breakers among the gates: the account's state, not the signal's, decides them.
BREAKERS: tuple[Callable[[Case], Verdict], ...] = (
    gate_consecutive_losses,
    gate_max_daily_loss,
    gate_daily_profit_target,
    gate_drawdown_pause,
)


def breakers(risk: RiskState, rules: Rules) -> tuple[Verdict, ...]:
    """Each circuit breaker as the next entry would meet it (a report shows them without a signal at hand).
    The breakers read only ``risk`` and ``rules``, so the case around them is left empty."""
    nobody = SignalIn(0, "", "", "buy", None, None, None, None)
    empty = BookState(0.0, 0.0, 0.0, {}, {}, 0, 0)
    case = Case(nobody, None, None, None, None, empty, risk, rules)
    return tuple(gate(case) for gate in BREAKERS)


# ----------------------------------------------------------------------------------------- 2. pre-trade checks
#
# The same shape as the gates; after ``check_quote`` has passed the quote is known and sane, and the
# reference price (``Case.price``) is its ask.


def _quote(c: Case) -> QuoteIn:
    assert c.quote is not None, "check_quote runs first and skips a missing quote"
    return c.quote


def check_quote(c: Case) -> Verdict:
    quote = c.quote
    if quote is None:
        return _fails("quote", {"quote": None}, "no quote")
    q: Inputs = {"bid": quote.bid, "ask": quote.ask, "last": quote.last}
    if not (_positive_price(quote.ask) and _positive_price(quote.bid) and quote.bid <= quote.ask):
        return _fails("quote", q, f"invalid quote: bid {_num(quote.bid)}, ask {_num(quote.ask)}")
    return _passes("quote", q, f"reference price = ask {_px(quote.ask)} (a buy pays the ask)")


def check_quote_age(c: Case) -> Verdict:
    age, limit = _quote(c).age_seconds, c.rules.max_quote_age_seconds
    inputs: Inputs = {"age_seconds": age, "max_quote_age_seconds": limit}
    if not age <= limit:  # NaN age counts as stale
        return _fails("quote_age", inputs, f"stale quote: {_num(age, 2)}s old (max {_num(limit, 2)}s)")
    return _passes("quote_age", inputs, f"quote {_num(age, 2)}s old ≤ {_num(limit, 2)}s")


def check_drift(c: Case) -> Verdict:
    entry, limit = c.signal.entry, c.rules.max_price_drift_pct
    if entry is None:
        return _passes("drift", {"entry": None}, "no signal entry: drift not measured")
    # Drift compares the last trade with the signal's entry (a stale signal is not chased); without a last,
    # the ask stands in.
    quote = _quote(c)
    last = quote.last if _positive_price(quote.last) else c.price
    drift = abs(last - entry) / entry * 100
    d: Inputs = {"last": last, "entry": entry, "drift_pct": drift, "max_price_drift_pct": limit}
    if drift > limit:
        return _fails(
            "drift", d, f"price drifted {_pct(drift)} from the signal's entry {_px(entry)} (max {_pct(limit)})"
        )
    return _passes("drift", d, f"last {_px(last)} is {_pct(drift)} from the entry {_px(entry)} (max {_pct(limit)})")


def check_spread(c: Case) -> Verdict:
    quote, limit = _quote(c), c.rules.max_spread_bps
    mid = (quote.ask + quote.bid) / 2
    bps = (quote.ask - quote.bid) / mid * 10_000
    sp: Inputs = {"bid": quote.bid, "ask": quote.ask, "spread_bps": bps, "max_spread_bps": limit}
    if bps > limit:
        return _fails(
            "spread",
            sp,
            f"spread {_num(bps, 2)} bps > {_num(limit)} bps (bid {_px(quote.bid)}, ask {_px(quote.ask)})",
        )
    return _passes("spread", sp, f"spread {_num(bps, 2)} bps ≤ {_num(limit)} bps")


#: The pre-trade checks, in order.
PRE_TRADE_CHECKS: tuple[Callable[[Case], Verdict], ...] = (check_quote, check_quote_age, check_drift, check_spread)


def _symbol_levels(s: SignalIn, rules: Rules, price: float) -> tuple[SignalIn, tuple[str, Inputs, str] | None]:
    """The signal with a per-symbol ``stop_pct`` / ``target_pct`` filling the stop / target it does not name,
    measured from its entry (else the reference price); a signal's own stop or target wins. The trace step
    (name, inputs, effect) when the symbol has either override, else None."""
    stop_pct, target_pct = rules.symbol_stop_pct.get(s.symbol), rules.symbol_target_pct.get(s.symbol)
    if stop_pct is None and target_pct is None:
        return s, None
    entry = s.entry if s.entry is not None else price
    inputs: Inputs = {"entry": entry, "entry_from": "signal" if s.entry is not None else "ask"}
    said, stop, target = [], s.stop, s.target
    for name, pct, own, sign in (("stop", stop_pct, s.stop, -1), ("target", target_pct, s.target, 1)):
        if pct is None:
            continue
        inputs[f"{name}_pct"] = pct
        if own is not None:
            said.append(f"the signal's own {name} {_px(own)} wins over {name}_pct {_pct(pct)}")
            continue
        level = round(entry * (1 + sign * pct / 100), 6)  # 100 × 1.15 is 114.999…, not to be ticked to 114.99
        inputs[name] = level
        said.append(f"{name} {_px(entry)} {'−' if sign < 0 else '+'} {_pct(pct)} = {_px(level)}")
        if name == "stop":
            stop = level
        else:
            target = level
    effect = f"[symbols.{s.symbol}]: " + "; ".join(said)
    return replace(s, stop=stop, target=target), ("per_symbol_levels", inputs, effect)


# ---------------------------------------------------------------------------------------------- 3. base size


def _base(c: Case, price: float, t: _Trace) -> tuple[float, float]:
    """(dollars, base dollars): the size before the multipliers."""
    s, rules, pv = c.signal, c.rules, c.book.portfolio_value
    if not rules.use_dynamic_sizing:
        dollars = rules.position_size
        t.add(
            "base",
            {"method": "flat", "position_size": dollars},
            f"dynamic sizing off: flat position_size {_usd(dollars)}",
            dollars_after=dollars,
        )
        return dollars, dollars
    if not (_known(pv) and pv > 0):
        t.skip("base", {"portfolio_value": pv}, f"portfolio value {_usd(pv)} is not positive")

    # Long-term holds (suggested finds) are sized by conviction, scanner trades with a stop by the risk to
    # the stop: a long-term signal's stop shapes its protective order, not its size.
    if s.stop is not None and s.category != "long_term":
        dollars = _risk_base(c, s.stop, price, t)
        return dollars, dollars

    base = pv * rules.base_allocation_pct / 100
    inputs: Inputs = {
        "method": "allocation",
        "portfolio_value": pv,
        "portfolio_value_from": c.book.portfolio_value_from,
        "base_allocation_pct": rules.base_allocation_pct,
    }
    if s.category != "long_term":
        t.add(
            "base",
            inputs,
            f"{_usd(pv)} × {_pct(rules.base_allocation_pct)} = {_usd(base)} "
            f"({s.category} without a stop: conviction not applied)",
            dollars_after=base,
        )
        return base, base
    t.add("base", inputs, f"{_usd(pv)} × {_pct(rules.base_allocation_pct)} = {_usd(base)}", dollars_after=base)
    return _conviction(s, base, rules, t), base


def _risk_base(c: Case, stop: float, price: float, t: _Trace) -> float:
    """Shares = the risk budget over the loss per share to the stop, priced at the reference price."""
    s, pv, pct = c.signal, c.book.portfolio_value, c.rules.risk_per_trade_pct
    entry = s.entry if s.entry is not None else price
    inputs: Inputs = {
        "method": "risk",
        "portfolio_value": pv,
        "portfolio_value_from": c.book.portfolio_value_from,
        "risk_per_trade_pct": pct,
        "entry": entry,
        "entry_from": "signal" if s.entry is not None else "ask",
        "stop": stop,
        "reference_price": price,
    }
    if stop >= entry:
        t.skip("base", inputs, f"stop {_px(stop)} is not below the entry {_px(entry)} for a buy")
    budget = pv * pct / 100
    per_share = entry - stop
    shares = budget / per_share
    dollars = shares * price
    inputs.update(risk_budget=budget, risk_per_share=per_share, shares=shares)
    t.add(
        "base",
        inputs,
        f"risk-based: {_usd(pv)} × {_pct(pct)} = {_usd(budget)} / "
        f"|{_px(entry)} − {_px(stop)}| = {_num(shares)} shares × {_px(price)} = {_usd(dollars)}",
        dollars_after=dollars,
    )
    return dollars


def _conviction(s: SignalIn, base: float, rules: Rules, t: _Trace) -> float:
    """The long-term base times the multiplier of the largest conviction key at or below the signal's."""
    table = rules.conviction_multipliers
    conv: Inputs = {"conviction": s.conviction}
    if not table:
        t.skip("conviction", conv, "no conviction multipliers configured")
    lowest, top = min(table), max(table)
    conv.update(lowest_key=lowest, top_key=top)
    if s.conviction is None:
        t.skip("conviction", conv, f"conviction missing (the lowest sized conviction is {lowest})")
    if s.conviction < lowest:
        t.skip("conviction", conv, f"conviction {s.conviction} below the lowest sized conviction {lowest}")
    key = max(k for k in table if k <= s.conviction)
    m = table[key]
    dollars = base * m
    conv.update(key=key, multiplier=m)
    note = f" (above the top key {top})" if s.conviction > top else ""
    t.add("conviction", conv, f"conviction {s.conviction}{note}: × {_num(m)} = {_usd(dollars)}", m, dollars)
    if dollars <= 0:
        t.skip("conviction", conv, f"conviction {s.conviction} multiplier {_num(m)} leaves no size")
    return dollars


# ---------------------------------------------------------------------------------------------- 4. multipliers
#
# Each multiplier reads the case and returns its factor; they compound in order, and a product that leaves
# no size skips at the multiplier that zeroed it.


def multiplier_vix(c: Case) -> Factor:
    rules, vix = c.rules, c.risk.vix
    if not rules.market_regime_enabled:
        return Factor("regime_vix", {"enabled": False}, "regime overlay off: × 1", 1.0)
    band, upper = vix_band(vix, rules)
    inputs: Inputs = {
        "vix": vix,
        "band_above": band.above if band else None,
        "band_upper": upper.above if upper else None,
    }
    if not _known(vix):
        return Factor("regime_vix", inputs, "VIX unknown: × 1", 1.0)
    if band is None:
        lowest = min(rules.vix_bands, key=lambda b: b.above, default=None)
        edge = "at least" if lowest is not None and lowest.inclusive else "above"
        shown = f"lowest {edge} {_num(lowest.above if lowest else None)}"
        return Factor("regime_vix", inputs, f"VIX {_num(vix)} in no band ({shown}): × 1", 1.0)
    where = _vix_where(band, upper)
    return Factor("regime_vix", inputs, f"VIX {_num(vix)} {where}: × {_num(band.multiplier)}", band.multiplier)


def multiplier_spy_trend(c: Case) -> Factor:
    rules, risk = c.rules, c.risk
    if not rules.market_regime_enabled:
        return Factor("regime_spy_sma", {"enabled": False}, "regime overlay off: × 1", 1.0)
    below = rules.spy_below_sma_multiplier
    spy: Inputs = {"spy_close": risk.spy_close, "spy_sma": risk.spy_sma, "below_multiplier": below}
    if not (_known(risk.spy_close) and _known(risk.spy_sma)):
        return Factor("regime_spy_sma", spy, "SPY trend unknown: × 1", 1.0)
    close, sma = _px(risk.spy_close), _px(risk.spy_sma)
    if risk.spy_close < risk.spy_sma:  # type: ignore[operator]
        return Factor("regime_spy_sma", spy, f"SPY {close} below its SMA {sma}: × {_num(below)}", below)
    return Factor("regime_spy_sma", spy, f"SPY {close} at or above its SMA {sma}: × 1", 1.0)


def multiplier_kelly(c: Case) -> Factor:
    if not c.rules.kelly_adaptive_enabled:
        return Factor("kelly", {"enabled": False}, "half-Kelly off: × 1", 1.0)
    category = c.signal.category
    m, effect, inputs = _kelly(c.risk.kelly.get(category), c.rules)
    inputs["category"] = category
    return Factor("kelly", inputs, f"{category}: {effect}", m)


def multiplier_drawdown(c: Case) -> Factor:
    drawdown = c.risk.drawdown_pct
    dd = _drawdown_band(drawdown, c.rules)
    draw: Inputs = {"drawdown_pct": drawdown, "band_above_pct": dd.above_pct if dd else None}
    if dd is None:
        lowest = min((b.above_pct for b in c.rules.drawdown_bands), default=None)
        shown = f" ≤ {_pct(lowest)}" if lowest is not None else " (no bands)"
        return Factor("drawdown", draw, f"drawdown {_pct(drawdown)}{shown}: × 1", 1.0)
    return Factor(
        "drawdown", draw, f"drawdown {_pct(drawdown)} > {_pct(dd.above_pct)}: × {_num(dd.multiplier)}", dd.multiplier
    )


def multiplier_daily_pnl(c: Case) -> Factor:
    """Near today's profit target, new sizes shrink (``DAILY_PNL_STEPS``)."""
    pnl, target = c.risk.daily_pnl, c.rules.daily_profit_target
    inputs: Inputs = {"daily_pnl": pnl, "daily_profit_target": target}
    if target <= 0:
        return Factor("daily_pnl", inputs, "no daily profit target: × 1", 1.0)
    share = pnl / target
    inputs["share_of_target"] = share
    for level, m in DAILY_PNL_STEPS:
        if pnl >= level * target:
            effect = f"daily P&L {_usd(pnl)} ≥ {_pct(level * 100)} of the {_usd(target)} target: × {_num(m)}"
            return Factor("daily_pnl", inputs, effect, m)
    return Factor(
        "daily_pnl", inputs, f"daily P&L {_usd(pnl)} is {_pct(share * 100)} of the {_usd(target)} target: × 1", 1.0
    )


#: The multipliers, in the order they compound.
MULTIPLIERS: tuple[Callable[[Case], Factor], ...] = (
    multiplier_vix,
    multiplier_spy_trend,
    multiplier_kelly,
    multiplier_drawdown,
    multiplier_daily_pnl,
)


def _multipliers(c: Case, dollars: float, t: _Trace) -> float:
    for multiplier in MULTIPLIERS:
        f = multiplier(c)
        dollars *= f.multiplier
        t.add(f.name, f.inputs, f"{f.effect} → {_usd(dollars)}", f.multiplier, dollars)
        if dollars <= 0:
            t.skip(f.name, f.inputs, f"{f.name}: {f.effect} leaves no size")
    return dollars


# ---------------------------------------------------------------------------------------------------- 5. caps
#
# Each cap reads the case and the size so far and returns what it did: kept the size, cut it to the room
# left, or skipped because the room left is less than one order's worth (``_smallest``).


def sector_bucket(sector: str | None) -> str:
    """The key a symbol's exposure counts under: its sector, or ``UNKNOWN_SECTOR`` when it is unknown."""
    return UNKNOWN_SECTOR if sector is None else sector


def _smallest(c: Case) -> tuple[float, str]:
    """The smallest order: one share at the reference price, or the fractional minimum; and how to say it."""
    if c.fractional:
        return MIN_FRACTIONAL_NOTIONAL, f"the {_usd(MIN_FRACTIONAL_NOTIONAL)} minimum"
    return c.price, f"one share at {_px(c.price)}"


def _room_cap(
    c: Case,
    name: str,
    cut: str,
    inputs: Inputs,
    dollars: float,
    room: float,
    *,
    kept: Callable[[], str],
    cut_to: Callable[[], str],
    skip: Callable[[], str],
) -> Capped:
    """A cap that cuts the size to ``room``, or skips (``skip`` completed with the smallest order) when less
    than one order's worth is left. The words are built only for the branch taken."""
    if not dollars > room:
        return Capped(TraceStep(name, inputs, kept(), dollars_after=dollars), dollars)
    smallest, smallest_text = _smallest(c)
    if room < smallest:
        reason = f"{skip()} {smallest_text}"
        return Capped(TraceStep(name, inputs, f"skip: {reason}"), dollars, skip=reason)
    return Capped(TraceStep(name, inputs, cut_to(), dollars_after=room), room, cut=cut)


def cap_max_position(c: Case, dollars: float) -> Capped:
    """The whole position, including what is already held, stays within ``max_position_pct``."""
    pv, pct, symbol = c.book.portfolio_value, c.rules.max_position_pct, c.signal.symbol
    held = _held(c)
    limit = pv * pct / 100
    room = limit - held
    inputs: Inputs = {
        "portfolio_value": pv,
        "max_position_pct": pct,
        "limit": limit,
        "held": held,
        "room": room,
        "dollars": dollars,
    }
    return _room_cap(
        c,
        "max_position",
        "max_position",
        inputs,
        dollars,
        room,
        kept=lambda: f"{_usd(held)} held + {_usd(dollars)} ≤ {_usd(limit)} ({_pct(pct)} of {_usd(pv)})",
        cut_to=lambda: (
            f"{_usd(held)} held + {_usd(dollars)} > {_pct(pct)} of {_usd(pv)} = {_usd(limit)}: reduced to {_usd(room)}"
        ),
        skip=lambda: (
            f"max position: {symbol} holds {_usd(held)} of the {_usd(limit)} limit ({_pct(pct)} of {_usd(pv)}); "
            f"room {_usd(room)} is less than"
        ),
    )


def cap_allocation(c: Case, dollars: float) -> Capped:
    """Deployed capital plus the new order within ``max_total_allocation``: over it the trade is skipped,
    not shrunk, as the seed's sizing does."""
    deployed, limit = c.book.deployed, c.rules.max_total_allocation
    alloc: Inputs = {"deployed": deployed, "dollars": dollars, "max_total_allocation": limit}
    if deployed + dollars > limit:
        reason = f"allocation cap: deployed {_amt(deployed)} + new {_amt(dollars)} > {_amt(limit)}"
        return Capped(TraceStep("allocation_cap", alloc, f"skip: {reason}"), dollars, skip=reason)
    effect = f"deployed {_amt(deployed)} + new {_amt(dollars)} ≤ {_amt(limit)}"
    return Capped(TraceStep("allocation_cap", alloc, effect, dollars_after=dollars), dollars)


def cap_sector(c: Case, dollars: float) -> Capped:
    """The sector, across every book we manage, within ``max_sector_pct``. An unknown sector is skipped under
    ``unknown_sector = "skip"``; under ``"own_bucket"`` it is capped as the one ``UNKNOWN_SECTOR`` bucket."""
    unknown = c.sector is None
    if unknown and c.rules.unknown_sector == "skip":
        reason = "sector unknown ([risk] unknown_sector = skip)"
        inputs_skip: Inputs = {"sector": None, "unknown_sector": "skip"}
        return Capped(TraceStep("sector_cap", inputs_skip, f"skip: {reason}"), dollars, skip=reason)
    sector = sector_bucket(c.sector)
    pv, pct = c.book.portfolio_value, c.rules.max_sector_pct
    exposure = c.book.sector_exposure.get(sector, 0.0) or 0.0
    limit = pv * pct / 100
    room = limit - exposure
    inputs: Inputs = {
        "sector": sector,
        "exposure": exposure,
        "max_sector_pct": pct,
        "limit": limit,
        "room": room,
        "dollars": dollars,
    }
    if unknown:
        inputs["unknown_sector"] = "own_bucket"
    return _room_cap(
        c,
        "sector_cap",
        "sector",
        inputs,
        dollars,
        room,
        kept=lambda: f"{sector} {_usd(exposure)} + {_usd(dollars)} ≤ {_usd(limit)} ({_pct(pct)})",
        cut_to=lambda: (
            f"{sector} {_usd(exposure)} + {_usd(dollars)} > {_usd(limit)} ({_pct(pct)}): reduced to {_usd(room)}"
        ),
        skip=lambda: (
            f"sector cap: {sector} {_usd(exposure)} + {_usd(dollars)} > {_pct(pct)} of {_usd(pv)} = {_usd(limit)}; "
            f"room {_usd(room)} is less than"
        ),
    )


def cap_cash(c: Case, dollars: float) -> Capped:
    """The order leaves at least ``min_cash`` in cash."""
    cash, reserve = c.book.cash, c.rules.min_cash
    available = cash - reserve
    inputs: Inputs = {"cash": cash, "min_cash": reserve, "available": available, "dollars": dollars}
    return _room_cap(
        c,
        "cash",
        "cash",
        inputs,
        dollars,
        available,
        kept=lambda: f"{_usd(dollars)} ≤ cash {_usd(cash)} − reserve {_usd(reserve)}",
        cut_to=lambda: f"{_usd(dollars)} > cash {_usd(cash)} − reserve {_usd(reserve)}: reduced to {_usd(available)}",
        skip=lambda: f"cash: {_usd(cash)} − reserve {_usd(reserve)} leaves {_usd(available)}, less than",
    )


#: The caps, in order; each sees the size the previous one left.
CAPS: tuple[Callable[[Case, float], Capped], ...] = (cap_max_position, cap_allocation, cap_sector, cap_cash)


def _caps(c: Case, dollars: float, t: _Trace) -> tuple[float, list[str]]:
    """(dollars, names of the caps that cut them)."""
    cut_by: list[str] = []
    for cap in CAPS:
        result = cap(c, dollars)
        t.record(result.step, result.skip)
        if result.cut is not None:
            cut_by.append(result.cut)
        dollars = result.dollars
    return dollars, cut_by


# ------------------------------------------------------------------------------------------------ 6. quantity


def _quantity(dollars: float, price: float, fractional: bool, t: _Trace) -> float:
    raw = dollars / price
    inputs: dict[str, float | str | int | bool | None] = {"dollars": dollars, "reference_price": price, "raw_qty": raw}
    if fractional:
        step = 10**FRACTION_DECIMALS
        # Floored, like whole shares: rounding up could push a capped size over its cap.
        qty = math.floor(raw * step + 1e-9) / step if math.isfinite(raw) and raw > 0 else 0.0
        notional = qty * price
        inputs["qty"] = qty
        if qty <= 0 or notional < MIN_FRACTIONAL_NOTIONAL:
            t.skip(
                "fractional_shares",
                inputs,
                f"size rounds to 0 shares: {_usd(dollars)} at {_px(price)} is "
                f"{_num(qty)} shares ({_usd(notional)} < the {_usd(MIN_FRACTIONAL_NOTIONAL)} minimum)",
            )
        t.add(
            "fractional_shares",
            inputs,
            f"{_usd(dollars)} / {_px(price)} = {_num(qty)} shares "
            f"(floored to {FRACTION_DECIMALS} decimals) = {_usd(notional)}",
            dollars_after=notional,
        )
        return qty
    qty = whole_shares(raw)
    notional = qty * price
    inputs["qty"] = qty
    if qty < 1:
        t.skip(
            "whole_shares",
            inputs,
            f"size rounds to 0 shares: {_usd(dollars)} at {_px(price)} is {_num(raw)} of a share",
        )
    t.add(
        "whole_shares",
        inputs,
        f"{_usd(dollars)} / {_px(price)} = {_num(raw)} → {_num(qty)} whole shares = {_usd(notional)}",
        dollars_after=notional,
    )
    return qty


# --------------------------------------------------------------------------------------------------- 7. order


def _order(
    s: SignalIn, price: float, order: _Order, rules: Rules, t: _Trace
) -> tuple[float | None, float | None, float | None]:
    """(limit_price, take_profit, stop_loss) on the tick."""
    if order.order_class == "bracket":
        assert s.stop is not None and s.target is not None
        inputs: dict[str, float | str | int | bool | None] = {
            "target": s.target,
            "stop": s.stop,
            "reference_price": price,
        }
        if s.target <= s.stop:
            t.skip("order", inputs, f"bracket: target {_px(s.target)} is not above the stop {_px(s.stop)}")
        # Both legs round toward the entry: the loss per share stays within the risk budget the quantity was
        # computed with, and the take-profit is never further away than the signal asked for.
        take_profit = to_tick(s.target, direction="down")
        stop_loss = _tick_up(s.stop)
        inputs.update(take_profit=take_profit, stop_loss=stop_loss)
        if not stop_loss < price < take_profit:
            t.skip(
                "order",
                inputs,
                f"bracket: the ask {_px(price)} is not between the stop {_px(stop_loss)} and the "
                f"target {_px(take_profit)}",
            )
        t.add(
            "order",
            inputs,
            f"bracket: market entry, take-profit {_px(take_profit)} (target {_num(s.target)} "
            f"ticked down), stop-loss {_px(stop_loss)} (stop {_num(s.stop)} ticked up)",
        )
        return None, take_profit, stop_loss
    if order.order_type == "limit":
        assert s.entry is not None
        limit = to_tick(s.entry, direction="down")
        t.add(
            "order",
            {"entry": s.entry, "limit_price": limit, "long_term_entry": rules.long_term_entry},
            f"limit buy at {_px(limit)} (the signal's entry {_num(s.entry)} ticked down)",
        )
        return limit, None, None
    why = "long-term entry at market" if s.category == "long_term" else "simple market order"
    if s.stop is not None or s.target is not None:
        why += " (a bracket needs both a stop and a target)"
    t.add("order", {"stop": s.stop, "target": s.target}, why)
    return None, None, None


def _tick_up(price: float) -> float:
    """The smallest price on the tick at or above ``price``.

    Built on ``to_tick(direction="down")``: its ``"up"`` rounds toward zero (it returns 95.00 for 95.004),
    which for a stop would widen the loss per share past the risk budget.
    """
    down = to_tick(price, direction="down")
    if Decimal(str(down)) >= Decimal(str(price)):
        return down
    return float(Decimal(str(down)) + tick_size(down))


# ----------------------------------------------------------------------------------------------------- batch


def decide_all(
    items: Sequence[tuple[SignalIn, QuoteIn | None, AssetIn | None, str | None, int | None]],
    book: BookState,
    risk: RiskState,
    rules: Rules,
) -> list[Decision]:
    """Decide ``items`` in order; each ordered decision updates the book the next one sees.

    After an order of notional N in symbol X (sector K): deployed += N, cash −= N, position_value[X] += N,
    sector_exposure[K] += N (``UNKNOWN_SECTOR`` when K is unknown), open_positions += 1 when X was not held,
    new_trades_today += 1, open_buy_orders += 1, entries_in_symbol[X] += 1.
    The caller's book is not modified.
    """
    positions = dict(book.position_value)
    sectors = dict(book.sector_exposure)
    deployed, cash = book.deployed, book.cash
    open_positions, trades_today = book.open_positions, book.new_trades_today
    open_orders, entries = book.open_buy_orders, dict(book.entries_in_symbol)
    decisions: list[Decision] = []
    for signal, quote, asset, sector, days in items:
        # The dicts are shared with the per-decision book: decide() only reads them and keeps no reference.
        current = BookState(
            book.portfolio_value, cash, deployed, positions, sectors, open_positions, trades_today,
            book.portfolio_value_from, open_orders, entries,
        )  # fmt: skip
        decision = decide(signal, quote, asset, sector, days, current, risk, rules)
        decisions.append(decision)
        if decision.outcome == "skipped":
            continue
        notional = decision.notional
        held = positions.get(signal.symbol, 0.0) or 0.0
        if held <= 0:
            open_positions += 1
        positions[signal.symbol] = held + notional
        bucket = sector_bucket(sector)
        sectors[bucket] = (sectors.get(bucket, 0.0) or 0.0) + notional
        deployed += notional
        cash -= notional
        trades_today += 1
        open_orders += 1
        entries[signal.symbol.upper()] = entries.get(signal.symbol.upper(), 0) + 1
    return decisions


# --------------------------------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class Overlays:
    """Every rule ``size`` would apply to a buy of ``dollars`` (``preview risk``): all of them evaluated, none
    stopping the others, so the owner sees each one that would bind."""

    checks: tuple[TraceStep, ...]  # every gate and pre-trade check, passed or not
    multipliers: tuple[TraceStep, ...]  # what each overlay would multiply size's own base size by
    caps: tuple[TraceStep, ...]  # each cap applied in turn to the asked dollars
    allowed_dollars: float  # what is left of the asked dollars after the caps (0 when one skips)
    blocked_by: tuple[str, ...]  # the reasons a signal in this symbol would be skipped now


def overlays(case: Case, dollars: float) -> Overlays:
    """The gates all run; the pre-trade checks run until one fails (the later ones read a valid quote); the
    multipliers and caps need that quote's price, so without it only the checks are shown."""
    checks: list[TraceStep] = []
    blocked: list[str] = []
    for gate in GATES:
        step, skip = gate(case)
        checks.append(step)
        blocked += [skip] if skip is not None else []
    quote_ok = True
    for check in PRE_TRADE_CHECKS:
        step, skip = check(case)
        checks.append(step)
        if skip is not None:
            blocked.append(skip)
            quote_ok = check is not check_quote
            break
    if not quote_ok:
        return Overlays(tuple(checks), (), (), 0.0, tuple(blocked))
    multipliers = [TraceStep(f.name, f.inputs, f.effect, f.multiplier) for f in (m(case) for m in MULTIPLIERS)]
    caps: list[TraceStep] = []
    allowed = dollars
    for cap in CAPS:
        result = cap(case, allowed)
        caps.append(result.step)
        if result.skip is not None:
            blocked.append(result.skip)
            allowed = 0.0
            break
        allowed = result.dollars
    return Overlays(tuple(checks), tuple(multipliers), tuple(caps), allowed, tuple(blocked))
