"""The sizing engine: from a signal and the state of the book to an order (or a skip), with every step traced. Pure.

No I/O, no clock, no ledger, no settings: the ``size`` pipeline gathers the inputs (quote, asset, sector,
earnings distance, book, risk state) and maps its settings onto :class:`Rules`. Every decision carries a
trace, one :class:`TraceStep` per rule, whose numbers are the numbers the computation used.

For one buy signal, in this order (the first failing rule skips it; the trace ends at that rule):

1. **Gates.** side is ``buy`` (the toolkit opens longs only); the signal's prices are positive; the category
   is known; the symbol is not denied and is allowed when an allow list is set; the asset is known and
   tradable; no position in the symbol when ``one_position_per_symbol``; ``open_positions <
   max_open_positions`` (adding to a held symbol opens nothing); ``new_trades_today < max_new_trades_per_day``.
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
   - VIX band (``market_regime_enabled``): the first band, by descending ``above``, with ``VIX > above``;
     defaults VIX > 30 → 0.5, (25, 30] → 0.6, (15, 25] → 1.0, otherwise 1.1; VIX unknown → 1.0.
   - SPY trend (``market_regime_enabled``): ``spy_close < spy_sma`` → ``spy_below_sma_multiplier``.
   - half-Kelly (``kelly_adaptive_enabled`` and the category has ``trades ≥ kelly_min_trades``):
     ``W = wins/trades``, ``f = (W·avgWin − (1 − W)·avgLoss) / avgWin``;
     seed mode ``m = clamp(f/2, lo, hi)``; normalized mode ``m = clamp((f/2) / kelly_reference_fraction, lo, hi)``;
     ``f ≤ 0`` (or no average win) → ``lo``; fewer trades → 1.0. Since ``f ≤ W ≤ 1``, ``f/2 ≤ 0.5``: the seed
     mode can only shrink a position, never enlarge it; see :func:`kelly_multiplier_range`.
   - drawdown band: the first band, by descending ``above_pct``, with ``drawdown_pct > above_pct``
     (defaults > 15% → 0 = no entries, > 10% → 0.5, > 5% → 0.75).
   - daily P&L (target T > 0): ``daily_pnl ≥ 0.9·T`` → 0.25; ``≥ 0.8·T`` → 0.5.
5. **Caps**, in order (``min`` = one share at P, or $1 when fractional):
   - max position: ``room = PV × max_position_pct/100 − held``; ``D > room`` → ``D = room`` (reduced),
     or skip when ``room < min``.
   - allocation: ``deployed + D > max_total_allocation`` → skip (the seed skips; it does not reduce).
   - sector (when known): ``room = PV × max_sector_pct/100 − exposure[sector]``; reduce or skip as above.
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
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from functools import lru_cache
from typing import Any, NoReturn

from autotrader.domain.money import tick_size, to_tick, whole_shares

__all__ = [
    "AssetIn",
    "BookState",
    "Decision",
    "DrawdownBand",
    "KellyStats",
    "QuoteIn",
    "RiskState",
    "Rules",
    "SignalIn",
    "TraceStep",
    "VixBand",
    "decide",
    "decide_all",
    "kelly_multiplier_range",
]

CATEGORIES = ("long_term", "swing", "day_trade")

#: Fractional quantities are floored to this many decimals (Alpaca accepts up to 9; 4 keeps them readable).
FRACTION_DECIMALS = 4
#: Alpaca's smallest fractional (notional) order.
MIN_FRACTIONAL_NOTIONAL = 1.0
#: Daily-P&L throttle: (share of the target reached, multiplier), highest first: near the day's target, entries shrink.
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


@dataclass(frozen=True)
class VixBand:
    above: float
    multiplier: float
    pause_long_term: bool = False


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
        VixBand(15, 1.0),
        VixBand(0, 1.1),
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
    max_open_positions: int = 20
    max_new_trades_per_day: int = 10
    min_cash: float = 10_000.0
    allow_symbols: frozenset[str] = frozenset()
    deny_symbols: frozenset[str] = frozenset()
    one_position_per_symbol: bool = True
    max_price_drift_pct: float = 2.0
    max_spread_bps: float = 50.0
    max_quote_age_seconds: float = 900.0
    long_term_entry: str = "market"  # or "limit" (at the signal's entry)

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
        if self.long_term_entry not in ("market", "limit"):
            raise ValueError(f"long_term_entry must be 'market' or 'limit', got {self.long_term_entry!r}")


# ---------------------------------------------------------------------------------------------------- outputs


def _json_value(value: Any) -> Any:
    """JSON has no NaN or infinity: they become None (the step's ``effect`` text still shows them)."""
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
        data["trace"] = [step.to_json() for step in self.trace]
        return data


# ------------------------------------------------------------------------------------------------- formatting


def _num(x: float | None, places: int = 4) -> str:
    """Up to ``places`` decimals, trailing zeros dropped, thousands separated: 27.4, 0.25, 12,345.5."""
    if x is None:
        return "unknown"
    if not math.isfinite(x):
        return str(x)
    text = f"{x:,.{places}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _amt(x: float) -> str:
    """Dollars without the sign: whole amounts without cents (240,000), else cents (200,740.50)."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:,.0f}" if abs(x - round(x)) < 0.005 else f"{x:,.2f}"


def _usd(x: float) -> str:
    return f"-${_amt(-x)}" if x < 0 else f"${_amt(x)}"


def _px(p: float | None) -> str:
    """A price as it is quoted: cents at or above $1, 4 decimals below."""
    if p is None:
        return "unknown"
    if not math.isfinite(p):
        return str(p)
    return f"{p:,.2f}" if p >= 1 else f"{p:.4f}"


def _pct(x: float) -> str:
    return f"{_num(x)}%"


# -------------------------------------------------------------------------------------------------- machinery


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
        inputs: dict[str, float | str | int | bool | None],
        effect: str,
        multiplier: float | None = None,
        dollars_after: float | None = None,
    ) -> None:
        self.steps.append(TraceStep(name, inputs, effect, multiplier, dollars_after))

    def skip(self, name: str, inputs: dict[str, float | str | int | bool | None], reason: str) -> NoReturn:
        self.steps.append(TraceStep(name, inputs, f"skip: {reason}"))
        raise _Skip(reason)


def _positive_price(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def _known(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@lru_cache(maxsize=64)
def _upper(symbols: frozenset[str]) -> frozenset[str]:
    return frozenset(s.upper() for s in symbols)


@lru_cache(maxsize=64)
def _vix_bands_desc(bands: tuple[VixBand, ...]) -> tuple[VixBand, ...]:
    return tuple(sorted(bands, key=lambda b: b.above, reverse=True))


@lru_cache(maxsize=64)
def _drawdown_bands_desc(bands: tuple[DrawdownBand, ...]) -> tuple[DrawdownBand, ...]:
    return tuple(sorted(bands, key=lambda b: b.above_pct, reverse=True))


def vix_band(vix: float | None, rules: Rules) -> tuple[VixBand | None, float | None]:
    """The band the VIX falls in and the band's upper bound (None for the top band), or (None, None)."""
    if not _known(vix):
        return None, None
    upper: float | None = None
    for band in _vix_bands_desc(rules.vix_bands):
        if vix > band.above:  # type: ignore[operator]
            return band, upper
        upper = band.above
    return None, None


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


def _kelly(stats: KellyStats | None, rules: Rules) -> tuple[float, str, dict[str, float | str | int | bool | None]]:
    """(multiplier, effect, inputs) of the half-Kelly overlay for one category's completed trades."""
    lo, hi = rules.kelly_clamp
    trades = stats.trades if stats is not None else 0
    inputs: dict[str, float | str | int | bool | None] = {
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


@dataclass
class _Order:
    """What kind of order the signal becomes; known from the signal and the rules before any sizing."""

    order_type: str = "market"
    order_class: str = "simple"
    reference_price: float | None = None


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
    trace = _Trace()
    order = _order_shape(signal, rules)
    try:
        return _decide(signal, quote, asset, sector, next_earnings_in_days, book, risk, rules, trace, order)
    except _Skip as skip:
        return Decision(
            signal_id=signal.signal_id,
            symbol=signal.symbol,
            outcome="skipped",
            qty=0.0,
            notional=0.0,
            reference_price=order.reference_price,
            order_type=order.order_type,
            limit_price=None,
            order_class=order.order_class,
            take_profit=None,
            stop_loss=None,
            reason=skip.reason,
            trace=tuple(trace.steps),
        )


def _decide(
    s: SignalIn,
    quote: QuoteIn | None,
    asset: AssetIn | None,
    sector: str | None,
    days: int | None,
    book: BookState,
    risk: RiskState,
    rules: Rules,
    t: _Trace,
    order: _Order,
) -> Decision:
    _gates(s, asset, days, book, risk, rules, t)
    price = _pre_trade(s, quote, rules, t)
    order.reference_price = price
    dollars, base = _base(s, price, book, rules, t)
    dollars = _multipliers(s, dollars, risk, rules, t)
    fractional = rules.fractional_shares and bool(asset and asset.fractionable) and order.order_class != "bracket"
    dollars, cut_by = _caps(s, dollars, price, fractional, sector, book, rules, t)
    qty = _quantity(dollars, price, fractional, t)
    notional = qty * price
    limit_price, take_profit, stop_loss = _order(s, price, order, rules, t)

    shown_qty = _num(qty)
    summary = (
        f"buy {shown_qty} {s.symbol} at ~{_px(price)} = {_usd(notional)}: base {_usd(base)}, sized {_usd(dollars)}"
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


def _gates(
    s: SignalIn, asset: AssetIn | None, days: int | None, book: BookState, risk: RiskState, rules: Rules, t: _Trace
) -> None:
    side = s.side.lower()
    if side == "sell":
        t.skip("side", {"side": s.side}, "short entries are not supported")
    if side != "buy":
        t.skip("side", {"side": s.side}, f"side {s.side!r} is not supported (buy only)")
    t.add("side", {"side": side}, "buy: a long entry")

    prices: dict[str, float | str | int | bool | None] = {"entry": s.entry, "stop": s.stop, "target": s.target}
    for label, value in prices.items():
        if value is not None and not _positive_price(value):  # type: ignore[arg-type]
            t.skip("signal_prices", prices, f"signal {label} {value!r} is not a positive price")
    t.add("signal_prices", prices, "prices given are positive")

    if s.category not in CATEGORIES:
        t.skip("category", {"category": s.category}, f"unknown category {s.category!r}")
    t.add("category", {"category": s.category}, s.category)

    symbol = s.symbol.upper()
    lists: dict[str, float | str | int | bool | None] = {
        "symbol": symbol,
        "allow_symbols": len(rules.allow_symbols),
        "deny_symbols": len(rules.deny_symbols),
    }
    if symbol in _upper(rules.deny_symbols):
        t.skip("symbol_lists", lists, f"{symbol} is on the deny list")
    if rules.allow_symbols and symbol not in _upper(rules.allow_symbols):
        t.skip("symbol_lists", lists, f"{symbol} is not on the allow list ({len(rules.allow_symbols)} symbols)")
    t.add("symbol_lists", lists, "allowed" if rules.allow_symbols else "not denied")

    if asset is None:
        t.skip("asset", {"known": False}, f"{symbol} is not a known asset at the broker")
    if not asset.tradable:
        t.skip("asset", {"tradable": False}, f"{symbol} is not tradable at the broker")
    t.add("asset", {"tradable": True, "fractionable": asset.fractionable}, "tradable")

    held = book.position_value.get(s.symbol, 0.0) or 0.0
    one: dict[str, float | str | int | bool | None] = {
        "held": held,
        "one_position_per_symbol": rules.one_position_per_symbol,
    }
    if rules.one_position_per_symbol and held > 0:
        t.skip("one_position_per_symbol", one, f"one position per symbol: {symbol} already held ({_usd(held)})")
    t.add("one_position_per_symbol", one, "not held" if held <= 0 else f"adding to {_usd(held)} held")

    # Adding to a symbol already held opens no new position, so only a new symbol counts against the limit.
    opens = held <= 0
    positions: dict[str, float | str | int | bool | None] = {
        "open_positions": book.open_positions,
        "max_open_positions": rules.max_open_positions,
        "opens_new": opens,
    }
    if opens and book.open_positions >= rules.max_open_positions:
        t.skip(
            "max_open_positions",
            positions,
            f"max open positions reached: {book.open_positions} ≥ {rules.max_open_positions}",
        )
    t.add(
        "max_open_positions",
        positions,
        f"{book.open_positions} < {rules.max_open_positions} open positions"
        if opens
        else f"adds to an open position ({book.open_positions} open)",
    )

    today: dict[str, float | str | int | bool | None] = {
        "new_trades_today": book.new_trades_today,
        "max_new_trades_per_day": rules.max_new_trades_per_day,
    }
    if book.new_trades_today >= rules.max_new_trades_per_day:
        t.skip(
            "max_new_trades_per_day",
            today,
            f"max new trades per day reached: {book.new_trades_today} ≥ {rules.max_new_trades_per_day}",
        )
    t.add("max_new_trades_per_day", today, f"{book.new_trades_today} < {rules.max_new_trades_per_day} trades today")

    # Circuit breakers: they stop new entries; exits and protective stops are other steps' business.
    losses: dict[str, float | str | int | bool | None] = {
        "consecutive_losses": risk.consecutive_losses,
        "max_consecutive_losses": rules.max_consecutive_losses,
    }
    if rules.max_consecutive_losses > 0 and risk.consecutive_losses >= rules.max_consecutive_losses:
        t.skip(
            "consecutive_losses",
            losses,
            f"paused after {risk.consecutive_losses} consecutive losing trades (max {rules.max_consecutive_losses})",
        )
    t.add(
        "consecutive_losses",
        losses,
        f"{risk.consecutive_losses} consecutive losses (pause at {rules.max_consecutive_losses})"
        if rules.max_consecutive_losses > 0
        else "breaker off",
    )

    loss: dict[str, float | str | int | bool | None] = {
        "daily_pnl": risk.daily_pnl,
        "max_daily_loss": rules.max_daily_loss,
    }
    if rules.max_daily_loss > 0 and risk.daily_pnl <= -rules.max_daily_loss:
        t.skip(
            "max_daily_loss",
            loss,
            f"max daily loss reached: P&L {_usd(risk.daily_pnl)} ≤ {_usd(-rules.max_daily_loss)}",
        )
    t.add(
        "max_daily_loss",
        loss,
        f"P&L {_usd(risk.daily_pnl)} > {_usd(-rules.max_daily_loss)}" if rules.max_daily_loss > 0 else "breaker off",
    )

    target: dict[str, float | str | int | bool | None] = {
        "daily_pnl": risk.daily_pnl,
        "daily_profit_target": rules.daily_profit_target,
    }
    if rules.daily_profit_target > 0 and risk.daily_pnl >= rules.daily_profit_target:
        t.skip(
            "daily_profit_target",
            target,
            f"daily profit target reached: P&L {_usd(risk.daily_pnl)} ≥ {_usd(rules.daily_profit_target)}",
        )
    t.add(
        "daily_profit_target",
        target,
        f"P&L {_usd(risk.daily_pnl)} < {_usd(rules.daily_profit_target)} target"
        if rules.daily_profit_target > 0
        else "target off",
    )

    earnings: dict[str, float | str | int | bool | None] = {
        "enabled": rules.earnings_avoid_enabled,
        "next_earnings_in_days": days,
        "blackout_days": rules.earnings_blackout_days,
        "unknown_earnings": rules.unknown_earnings,
    }
    if not rules.earnings_avoid_enabled:
        t.add("earnings", earnings, "earnings blackout off")
    elif days is None:
        if rules.unknown_earnings == "skip":
            t.skip("earnings", earnings, "earnings date unknown (unknown_earnings = skip)")
        t.add("earnings", earnings, "earnings date unknown: allowed (unknown_earnings = allow)")
    elif days <= rules.earnings_blackout_days:
        t.skip("earnings", earnings, f"earnings blackout: earnings in {days} days ≤ {rules.earnings_blackout_days}")
    else:
        t.add("earnings", earnings, f"earnings in {days} days > {rules.earnings_blackout_days}-day blackout")

    band, _upper_bound = vix_band(risk.vix, rules)
    pause: dict[str, float | str | int | bool | None] = {
        "enabled": rules.market_regime_enabled,
        "vix": risk.vix,
        "category": s.category,
        "band_above": band.above if band else None,
    }
    if rules.market_regime_enabled and band is not None and band.pause_long_term and s.category == "long_term":
        t.skip("regime_pause", pause, f"regime: VIX {_num(risk.vix)} > {_num(band.above)} pauses new long-term buys")
    if not rules.market_regime_enabled:
        effect = "regime overlay off"
    elif band is not None and band.pause_long_term:
        effect = f"VIX {_num(risk.vix)} > {_num(band.above)} pauses long-term buys only: {s.category} allowed"
    else:
        effect = f"VIX {_num(risk.vix)}: no pause"
    t.add("regime_pause", pause, effect)

    dd = _drawdown_band(risk.drawdown_pct, rules)
    draw: dict[str, float | str | int | bool | None] = {
        "drawdown_pct": risk.drawdown_pct,
        "band_above_pct": dd.above_pct if dd else None,
        "band_multiplier": dd.multiplier if dd else None,
    }
    if dd is not None and dd.multiplier <= 0:
        t.skip("drawdown_pause", draw, f"drawdown {_pct(risk.drawdown_pct)} > {_pct(dd.above_pct)}: no new entries")
    t.add("drawdown_pause", draw, f"drawdown {_pct(risk.drawdown_pct)}: entries allowed")


# ----------------------------------------------------------------------------------------- 2. pre-trade checks


def _pre_trade(s: SignalIn, quote: QuoteIn | None, rules: Rules, t: _Trace) -> float:
    """The reference price (the ask), once the quote is fresh, sane, near the signal's entry and tight."""
    if quote is None:
        t.skip("quote", {"quote": None}, "no quote")
    q: dict[str, float | str | int | bool | None] = {"bid": quote.bid, "ask": quote.ask, "last": quote.last}
    if not (_positive_price(quote.ask) and _positive_price(quote.bid) and quote.bid <= quote.ask):
        t.skip("quote", q, f"invalid quote: bid {_num(quote.bid)}, ask {_num(quote.ask)}")
    price = quote.ask
    t.add("quote", q, f"reference price = ask {_px(price)} (a buy pays the ask)")

    age: dict[str, float | str | int | bool | None] = {
        "age_seconds": quote.age_seconds,
        "max_quote_age_seconds": rules.max_quote_age_seconds,
    }
    if not quote.age_seconds <= rules.max_quote_age_seconds:  # NaN age counts as stale
        t.skip(
            "quote_age",
            age,
            f"stale quote: {_num(quote.age_seconds, 2)}s old (max {_num(rules.max_quote_age_seconds, 2)}s)",
        )
    t.add("quote_age", age, f"quote {_num(quote.age_seconds, 2)}s old ≤ {_num(rules.max_quote_age_seconds, 2)}s")

    if s.entry is None:
        t.add("drift", {"entry": None}, "no signal entry: drift not measured")
    else:
        # Drift compares the last trade with the signal's entry (a run-away price is not chased); else the ask.
        last = quote.last if _positive_price(quote.last) else price
        drift = abs(last - s.entry) / s.entry * 100
        d: dict[str, float | str | int | bool | None] = {
            "last": last,
            "entry": s.entry,
            "drift_pct": drift,
            "max_price_drift_pct": rules.max_price_drift_pct,
        }
        if drift > rules.max_price_drift_pct:
            t.skip(
                "drift",
                d,
                f"price drifted {_pct(drift)} from the signal's entry {_px(s.entry)} "
                f"(max {_pct(rules.max_price_drift_pct)})",
            )
        t.add(
            "drift",
            d,
            f"last {_px(last)} is {_pct(drift)} from the entry {_px(s.entry)} (max {_pct(rules.max_price_drift_pct)})",
        )

    mid = (quote.ask + quote.bid) / 2
    bps = (quote.ask - quote.bid) / mid * 10_000
    sp: dict[str, float | str | int | bool | None] = {
        "bid": quote.bid,
        "ask": quote.ask,
        "spread_bps": bps,
        "max_spread_bps": rules.max_spread_bps,
    }
    if bps > rules.max_spread_bps:
        t.skip(
            "spread",
            sp,
            f"spread {_num(bps, 2)} bps > {_num(rules.max_spread_bps)} bps "
            f"(bid {_px(quote.bid)}, ask {_px(quote.ask)})",
        )
    t.add("spread", sp, f"spread {_num(bps, 2)} bps ≤ {_num(rules.max_spread_bps)} bps")
    return price


# ---------------------------------------------------------------------------------------------- 3. base size


def _base(s: SignalIn, price: float, book: BookState, rules: Rules, t: _Trace) -> tuple[float, float]:
    """(dollars, base dollars): the size before the multipliers."""
    pv = book.portfolio_value
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

    # The seed sizes long-term holds (its "Suggested Finds") by conviction, and scanner trades with a stop by
    # the risk to the stop: a long-term signal's stop shapes its protective order, not its size.
    if s.stop is not None and s.category != "long_term":
        entry = s.entry if s.entry is not None else price
        inputs: dict[str, float | str | int | bool | None] = {
            "method": "risk",
            "portfolio_value": pv,
            "risk_per_trade_pct": rules.risk_per_trade_pct,
            "entry": entry,
            "entry_from": "signal" if s.entry is not None else "ask",
            "stop": s.stop,
            "reference_price": price,
        }
        if s.stop >= entry:
            t.skip("base", inputs, f"stop {_px(s.stop)} is not below the entry {_px(entry)} for a buy")
        budget = pv * rules.risk_per_trade_pct / 100
        per_share = entry - s.stop
        shares = budget / per_share
        dollars = shares * price
        inputs.update(risk_budget=budget, risk_per_share=per_share, shares=shares)
        t.add(
            "base",
            inputs,
            f"risk-based: {_usd(pv)} × {_pct(rules.risk_per_trade_pct)} = {_usd(budget)} / "
            f"|{_px(entry)} − {_px(s.stop)}| = {_num(shares)} shares × {_px(price)} = {_usd(dollars)}",
            dollars_after=dollars,
        )
        return dollars, dollars

    base = pv * rules.base_allocation_pct / 100
    inputs = {"method": "allocation", "portfolio_value": pv, "base_allocation_pct": rules.base_allocation_pct}
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
    table = rules.conviction_multipliers
    conv: dict[str, float | str | int | bool | None] = {"conviction": s.conviction}
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
    return dollars, base


# ---------------------------------------------------------------------------------------------- 4. multipliers


def _multipliers(s: SignalIn, dollars: float, risk: RiskState, rules: Rules, t: _Trace) -> float:
    def apply(name: str, inputs: dict[str, float | str | int | bool | None], effect: str, m: float) -> None:
        nonlocal dollars
        dollars *= m
        t.add(name, inputs, f"{effect} → {_usd(dollars)}", m, dollars)
        if dollars <= 0:
            t.skip(name, inputs, f"{name}: {effect} leaves no size")

    # Regime: VIX band, then SPY's trend.
    if not rules.market_regime_enabled:
        apply("regime_vix", {"enabled": False}, "regime overlay off: × 1", 1.0)
        apply("regime_spy_sma", {"enabled": False}, "regime overlay off: × 1", 1.0)
    else:
        band, upper = vix_band(risk.vix, rules)
        vix: dict[str, float | str | int | bool | None] = {
            "vix": risk.vix,
            "band_above": band.above if band else None,
            "band_upper": upper,
        }
        if not _known(risk.vix):
            apply("regime_vix", vix, "VIX unknown: × 1", 1.0)
        elif band is None:
            lowest = min((b.above for b in rules.vix_bands), default=None)
            apply("regime_vix", vix, f"VIX {_num(risk.vix)} in no band (lowest above {_num(lowest)}): × 1", 1.0)
        elif upper is None:
            apply(
                "regime_vix",
                vix,
                f"VIX {_num(risk.vix)} > {_num(band.above)}: × {_num(band.multiplier)}",
                band.multiplier,
            )
        else:
            apply(
                "regime_vix",
                vix,
                f"VIX {_num(risk.vix)} in ({_num(band.above)}, {_num(upper)}]: × {_num(band.multiplier)}",
                band.multiplier,
            )

        spy: dict[str, float | str | int | bool | None] = {
            "spy_close": risk.spy_close,
            "spy_sma": risk.spy_sma,
            "below_multiplier": rules.spy_below_sma_multiplier,
        }
        if not (_known(risk.spy_close) and _known(risk.spy_sma)):
            apply("regime_spy_sma", spy, "SPY trend unknown: × 1", 1.0)
        elif risk.spy_close < risk.spy_sma:  # type: ignore[operator]
            apply(
                "regime_spy_sma",
                spy,
                f"SPY {_px(risk.spy_close)} below its SMA {_px(risk.spy_sma)}: "
                f"× {_num(rules.spy_below_sma_multiplier)}",
                rules.spy_below_sma_multiplier,
            )
        else:
            apply("regime_spy_sma", spy, f"SPY {_px(risk.spy_close)} at or above its SMA {_px(risk.spy_sma)}: × 1", 1.0)

    if not rules.kelly_adaptive_enabled:
        apply("kelly", {"enabled": False}, "half-Kelly off: × 1", 1.0)
    else:
        m, effect, inputs = _kelly(risk.kelly.get(s.category), rules)
        inputs["category"] = s.category
        apply("kelly", inputs, f"{s.category}: {effect}", m)

    dd = _drawdown_band(risk.drawdown_pct, rules)
    draw: dict[str, float | str | int | bool | None] = {
        "drawdown_pct": risk.drawdown_pct,
        "band_above_pct": dd.above_pct if dd else None,
    }
    if dd is None:
        lowest = min((b.above_pct for b in rules.drawdown_bands), default=None)
        shown = f" ≤ {_pct(lowest)}" if lowest is not None else " (no bands)"
        apply("drawdown", draw, f"drawdown {_pct(risk.drawdown_pct)}{shown}: × 1", 1.0)
    else:
        apply(
            "drawdown",
            draw,
            f"drawdown {_pct(risk.drawdown_pct)} > {_pct(dd.above_pct)}: × {_num(dd.multiplier)}",
            dd.multiplier,
        )

    target = rules.daily_profit_target
    pnl: dict[str, float | str | int | bool | None] = {"daily_pnl": risk.daily_pnl, "daily_profit_target": target}
    if target <= 0:
        apply("daily_pnl", pnl, "no daily profit target: × 1", 1.0)
    else:
        share = risk.daily_pnl / target
        pnl["share_of_target"] = share
        for level, m in DAILY_PNL_STEPS:
            if risk.daily_pnl >= level * target:
                apply(
                    "daily_pnl",
                    pnl,
                    f"daily P&L {_usd(risk.daily_pnl)} ≥ {_pct(level * 100)} of the {_usd(target)} target: × {_num(m)}",
                    m,
                )
                break
        else:
            apply(
                "daily_pnl",
                pnl,
                f"daily P&L {_usd(risk.daily_pnl)} is {_pct(share * 100)} of the {_usd(target)} target: × 1",
                1.0,
            )
    return dollars


# ---------------------------------------------------------------------------------------------------- 5. caps


def _caps(
    s: SignalIn,
    dollars: float,
    price: float,
    fractional: bool,
    sector: str | None,
    book: BookState,
    rules: Rules,
    t: _Trace,
) -> tuple[float, list[str]]:
    """(dollars, names of the caps that cut them). A cap that leaves less than one order's worth skips."""
    pv = book.portfolio_value
    smallest = MIN_FRACTIONAL_NOTIONAL if fractional else price
    smallest_text = f"the {_usd(MIN_FRACTIONAL_NOTIONAL)} minimum" if fractional else f"one share at {_px(price)}"
    cut_by: list[str] = []

    # Max position: the whole position, including what is already held, stays within the limit.
    held = book.position_value.get(s.symbol, 0.0) or 0.0
    limit = pv * rules.max_position_pct / 100
    room = limit - held
    pos: dict[str, float | str | int | bool | None] = {
        "portfolio_value": pv,
        "max_position_pct": rules.max_position_pct,
        "limit": limit,
        "held": held,
        "room": room,
        "dollars": dollars,
    }
    if dollars > room:
        if room < smallest:
            t.skip(
                "max_position",
                pos,
                f"max position: {s.symbol} holds {_usd(held)} of the {_usd(limit)} limit "
                f"({_pct(rules.max_position_pct)} of {_usd(pv)}); room {_usd(room)} is less than {smallest_text}",
            )
        cut_by.append("max_position")
        t.add(
            "max_position",
            pos,
            f"{_usd(held)} held + {_usd(dollars)} > {_pct(rules.max_position_pct)} of "
            f"{_usd(pv)} = {_usd(limit)}: reduced to {_usd(room)}",
            dollars_after=room,
        )
        dollars = room
    else:
        t.add(
            "max_position",
            pos,
            f"{_usd(held)} held + {_usd(dollars)} ≤ {_usd(limit)} ({_pct(rules.max_position_pct)} of {_usd(pv)})",
            dollars_after=dollars,
        )

    # Allocation cap: the seed skips the trade rather than shrinking it.
    alloc: dict[str, float | str | int | bool | None] = {
        "deployed": book.deployed,
        "dollars": dollars,
        "max_total_allocation": rules.max_total_allocation,
    }
    if book.deployed + dollars > rules.max_total_allocation:
        t.skip(
            "allocation_cap",
            alloc,
            f"allocation cap: deployed {_amt(book.deployed)} + new {_amt(dollars)} > "
            f"{_amt(rules.max_total_allocation)}",
        )
    t.add(
        "allocation_cap",
        alloc,
        f"deployed {_amt(book.deployed)} + new {_amt(dollars)} ≤ {_amt(rules.max_total_allocation)}",
        dollars_after=dollars,
    )

    if sector is None:
        t.add("sector_cap", {"sector": None}, "sector unknown: no sector cap", dollars_after=dollars)
    else:
        exposure = book.sector_exposure.get(sector, 0.0) or 0.0
        sector_limit = pv * rules.max_sector_pct / 100
        sector_room = sector_limit - exposure
        sec: dict[str, float | str | int | bool | None] = {
            "sector": sector,
            "exposure": exposure,
            "max_sector_pct": rules.max_sector_pct,
            "limit": sector_limit,
            "room": sector_room,
            "dollars": dollars,
        }
        if dollars > sector_room:
            if sector_room < smallest:
                t.skip(
                    "sector_cap",
                    sec,
                    f"sector cap: {sector} {_usd(exposure)} + {_usd(dollars)} > "
                    f"{_pct(rules.max_sector_pct)} of {_usd(pv)} = {_usd(sector_limit)}; room {_usd(sector_room)} "
                    f"is less than {smallest_text}",
                )
            cut_by.append("sector")
            t.add(
                "sector_cap",
                sec,
                f"{sector} {_usd(exposure)} + {_usd(dollars)} > {_usd(sector_limit)} "
                f"({_pct(rules.max_sector_pct)}): reduced to {_usd(sector_room)}",
                dollars_after=sector_room,
            )
            dollars = sector_room
        else:
            t.add(
                "sector_cap",
                sec,
                f"{sector} {_usd(exposure)} + {_usd(dollars)} ≤ {_usd(sector_limit)} ({_pct(rules.max_sector_pct)})",
                dollars_after=dollars,
            )

    available = book.cash - rules.min_cash
    cash: dict[str, float | str | int | bool | None] = {
        "cash": book.cash,
        "min_cash": rules.min_cash,
        "available": available,
        "dollars": dollars,
    }
    if dollars > available:
        if available < smallest:
            t.skip(
                "cash",
                cash,
                f"cash: {_usd(book.cash)} − reserve {_usd(rules.min_cash)} leaves {_usd(available)}, "
                f"less than {smallest_text}",
            )
        cut_by.append("cash")
        t.add(
            "cash",
            cash,
            f"{_usd(dollars)} > cash {_usd(book.cash)} − reserve {_usd(rules.min_cash)}: reduced to {_usd(available)}",
            dollars_after=available,
        )
        dollars = available
    else:
        t.add(
            "cash",
            cash,
            f"{_usd(dollars)} ≤ cash {_usd(book.cash)} − reserve {_usd(rules.min_cash)}",
            dollars_after=dollars,
        )
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
    sector_exposure[K] += N (when K is known), open_positions += 1 when X was not held, new_trades_today += 1.
    The caller's book is not modified.
    """
    positions = dict(book.position_value)
    sectors = dict(book.sector_exposure)
    deployed, cash = book.deployed, book.cash
    open_positions, trades_today = book.open_positions, book.new_trades_today
    decisions: list[Decision] = []
    for signal, quote, asset, sector, days in items:
        # The dicts are shared with the per-decision book: decide() only reads them and keeps no reference.
        current = BookState(book.portfolio_value, cash, deployed, positions, sectors, open_positions, trades_today)
        decision = decide(signal, quote, asset, sector, days, current, risk, rules)
        decisions.append(decision)
        if decision.outcome == "skipped":
            continue
        notional = decision.notional
        held = positions.get(signal.symbol, 0.0) or 0.0
        if held <= 0:
            open_positions += 1
        positions[signal.symbol] = held + notional
        if sector is not None:
            sectors[sector] = (sectors.get(sector, 0.0) or 0.0) + notional
        deployed += notional
        cash -= notional
        trades_today += 1
    return decisions
