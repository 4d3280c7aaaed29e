"""Active management of open positions: dip-buys, profit-takes, loss cuts, stops, targets, trailing and time
exits. Pure: positions, prices and rules in; decisions out. Nothing here reads a clock, a ledger or a broker.

Every decision is one *management leg* of one position life (a dip-buy or profit-take tier, a loss cut, a
stop, a target, a trail, a time exit), so the scorecard can price management apart from the pick.

The rules:

- **Dip-buys** (long-term only). The dip is measured from ``dip_buy_reference``: the average cost (default;
  after tier 1 the average falls, so tier 2 fires further below the first entry than its label says) or the
  entry leg's price. One add-on per run at most: the lowest tier not yet fired whose threshold is crossed;
  its size is ``add_pct`` of the *original* quantity, cut to keep the position under ``max_position_pct`` of
  the portfolio, the signals book under its allocation cap and cash above ``min_cash``.
- **Profit-takes** (long-term only). The gain is measured from the average cost. Every crossed tier
  not yet fired fires, lowest first, each trimming ``trim_pct`` of the position left by the tier before it;
  a trim never takes the position below ``min_hold_pct`` of the original quantity (it is cut to fit; a tier
  with nothing left above that floor is skipped with the reason, not fired, so it may still fire once
  dip-buys have raised the quantity).
- **Exits** (every category; the first of ``EXIT_RULES`` that applies wins): the day-trade close-out and the
  time stop, the loss cut, a stop the price is already through (the broker's stop should have fired: it may
  be missing or the price gapped), the final target, then the first target's partial exit (which moves the
  stop to break-even).
- **The protective stop** at the broker is the highest of the trade stop (the signal's stop or entry −
  ATR × multiplier, raised to break-even after the first target and to the trail once it is active; it only
  ever rises) and the loss-cut level (which follows the average cost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from autotrader.domain.money import to_tick

EPS = 1e-9


@dataclass(frozen=True)
class DipTier:
    dip_pct: float
    add_pct: float


@dataclass(frozen=True)
class ProfitTier:
    gain_pct: float
    trim_pct: float


@dataclass(frozen=True)
class Rules:
    dip_buy_enabled: bool = True
    dip_buy_tiers: tuple[DipTier, ...] = (DipTier(5, 50), DipTier(10, 75), DipTier(15, 100))
    dip_buy_cooldown_hours: float = 24.0
    dip_buy_reference: str = "avg_cost"  # or "first_entry"
    dip_buy_when_regime_paused: bool = False
    profit_take_enabled: bool = True
    profit_take_tiers: tuple[ProfitTier, ...] = (ProfitTier(25, 20), ProfitTier(50, 25), ProfitTier(75, 25))
    min_hold_pct: float = 30.0
    exits_enabled: bool = True
    loss_cut_pct: dict[str, float] = field(default_factory=lambda: {"long_term": 25.0, "swing": 8.0, "day_trade": 3.0})
    atr_categories: frozenset[str] = frozenset({"swing", "day_trade"})
    stop_atr_multiplier: float = 1.5
    target_one_atr_multiplier: float = 1.5
    target_two_atr_multiplier: float = 3.0
    partial_exit_pct: float = 50.0
    trail_categories: frozenset[str] = frozenset({"swing"})
    trail_pct: float = 4.0
    trail_activation_pct: float = 6.0
    trail_from_avg_cost: bool = False  # activation measured from the average cost, not the entry leg's price
    max_holding_sessions: dict[str, float] = field(
        default_factory=lambda: {"long_term": 756, "swing": 20, "day_trade": 1}
    )
    max_position_pct: float = 5.0
    max_total_allocation: float = 250_000.0
    min_cash: float = 10_000.0
    fractional_shares: bool = False
    # [symbols.<TICKER>] overrides, symbol -> value: the plan's stop / target percent from the entry price (when
    # the signal names none), and the trail's percent and activation in place of trail_pct / trail_activation_pct
    symbol_stop_pct: dict[str, float] = field(default_factory=dict)
    symbol_target_pct: dict[str, float] = field(default_factory=dict)
    symbol_trail_pct: dict[str, float] = field(default_factory=dict)
    symbol_trail_activation_pct: dict[str, float] = field(default_factory=dict)

    def trail_of(self, symbol: str) -> tuple[float, float]:
        """(trail_pct, trail_activation_pct) for ``symbol``: its own, else the rules'."""
        return (
            self.symbol_trail_pct.get(symbol, self.trail_pct),
            self.symbol_trail_activation_pct.get(symbol, self.trail_activation_pct),
        )

    def __post_init__(self) -> None:
        if self.dip_buy_reference not in ("avg_cost", "first_entry"):
            raise ValueError(f"dip_buy_reference must be 'avg_cost' or 'first_entry', got {self.dip_buy_reference!r}")


@dataclass(frozen=True)
class Plan:
    """The exit plan of one position life, fixed at entry except for the stop (which only rises)."""

    stop_price: float | None = None
    stop_leg: str = "stop"  # stop | trail: what set the current trade stop
    target_price: float | None = None  # final target
    target_one_price: float | None = None  # first target (partial exit)
    target_one_done: bool = False
    high_water: float | None = None
    trail_active: bool = False


@dataclass(frozen=True)
class Position:
    """One open position life in a book, as management sees it."""

    key: str
    book: str
    symbol: str
    category: str | None  # None: no originating signal (not managed by category rules)
    qty: float
    avg_cost: float
    original_qty: float
    entry_price: float
    opened_at: datetime
    sessions_held: int  # trading sessions since the entry, the entry session counting as 1
    plan: Plan = Plan()
    fired: frozenset[tuple[str, int]] = frozenset()  # (leg, tier) legs already sent in this life
    last_dip_buy_at: datetime | None = None
    halted_reason: str | None = None
    pending_exit_qty: float = 0.0  # shares promised to open exit (non-protective) sell orders


@dataclass(frozen=True)
class Market:
    """What the run knows of the symbol and the session."""

    price: float  # the last trade
    now: datetime
    session_open: bool  # the regular session is open
    minutes_to_close: float | None  # None when the session is not open


@dataclass(frozen=True)
class Book:
    """The signals book and the account, for the dip-buy guards."""

    portfolio_value: float
    cash: float
    deployed: float  # at cost, including open buys
    position_value: dict[str, float]  # symbol -> value held (and pending buys)
    regime_paused: bool = False  # a VIX band pauses new long-term buys


@dataclass(frozen=True)
class Action:
    """One management leg to send."""

    position_key: str
    symbol: str
    side: str  # buy | sell
    qty: float
    leg: str  # dip_buy | profit_take | loss_cut | stop | target | trail | time_exit | signal_exit
    tier: int
    trigger_price: float  # the price level that fired the rule
    reason: str


@dataclass(frozen=True)
class Skip:
    position_key: str
    symbol: str
    reason: str


@dataclass
class Decisions:
    actions: list[Action] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    plans: dict[str, Plan] = field(default_factory=dict)  # position key -> plan after this run

    def add(self, other: Decisions) -> None:
        self.actions.extend(other.actions)
        self.skipped.extend(other.skipped)
        self.plans.update(other.plans)


def _shares(qty: float, fractional: bool) -> float:
    if fractional:
        return math.floor(qty * 1e6 + EPS) / 1e6
    return float(math.floor(qty + EPS))


def _pct(x: float) -> str:
    return f"{x:+.2f}%"


# -- the plan at entry ---------------------------------------------------------------------------------------


def initial_plan(
    category: str | None,
    entry_price: float,
    atr: float | None,
    signal_stop: float | None,
    signal_target: float | None,
    rules: Rules,
    *,
    symbol: str | None = None,
    signal_target_one: float | None = None,
) -> Plan:
    """The exit plan a position starts with: the signal's own stop and target win; then the symbol's own
    ``stop_pct`` / ``target_pct`` (entry ∓ pct); then an ATR category fills in what is still missing (stop at
    entry − k·ATR; first and final targets at entry + k1·ATR and + k2·ATR).

    The signal's own first target (``signal_target_one``) is the plan's first target when the signal has a
    target too and the first target lies strictly between the entry price and it (on the tick); otherwise a
    signal's target has no first target (as for an entry filled at or beyond the signal's first target)."""
    stop, target, target_one = signal_stop, signal_target, None
    if (
        signal_target is not None
        and signal_target_one is not None
        and entry_price + EPS < to_tick(signal_target_one) < to_tick(signal_target) - EPS
    ):
        target_one = signal_target_one
    stop_pct = rules.symbol_stop_pct.get(symbol) if symbol is not None else None
    target_pct = rules.symbol_target_pct.get(symbol) if symbol is not None else None
    if stop is None and stop_pct is not None:
        stop = entry_price * (1 - stop_pct / 100)
    if target is None and target_pct is not None:
        target = entry_price * (1 + target_pct / 100)
    if category in rules.atr_categories and atr is not None and atr > 0:
        if stop is None:
            stop = entry_price - rules.stop_atr_multiplier * atr
        if target is None:
            target_one = entry_price + rules.target_one_atr_multiplier * atr
            target = entry_price + rules.target_two_atr_multiplier * atr
    if stop is not None and stop <= 0:
        stop = None
    return Plan(
        stop_price=to_tick(stop) if stop is not None else None,
        target_price=to_tick(target) if target is not None else None,
        target_one_price=to_tick(target_one) if target_one is not None else None,
        high_water=entry_price,
    )


# -- the stop: high-water mark, trail, break-even, loss cut --------------------------------------------------


def advance_plan(position: Position, high_since: float, rules: Rules) -> Plan:
    """Raise the high-water mark to what the market reached, activate the trail and ratchet the stop."""
    plan = position.plan
    high = max(x for x in (plan.high_water, high_since, position.entry_price) if x is not None)
    plan = replace(plan, high_water=high)
    if position.category in rules.trail_categories:
        base = position.avg_cost if rules.trail_from_avg_cost and position.avg_cost > 0 else position.entry_price
        trail_pct, activation_pct = rules.trail_of(position.symbol)
        activation = base * (1 + activation_pct / 100)
        if plan.trail_active or high >= activation - EPS:
            trail = to_tick(high * (1 - trail_pct / 100))
            plan = replace(plan, trail_active=True)
            if plan.stop_price is None or trail > plan.stop_price + EPS:
                plan = replace(plan, stop_price=trail, stop_leg="trail")
    return plan


def loss_cut_level(position: Position, rules: Rules) -> float | None:
    pct = rules.loss_cut_pct.get(position.category or "")
    if not pct or position.avg_cost <= 0:
        return None
    return to_tick(position.avg_cost * (1 - pct / 100))


def protective_stop(position: Position, plan: Plan, rules: Rules) -> tuple[float | None, str]:
    """The stop the broker should hold, and the leg a fill of it is: the higher of the trade stop and the
    loss-cut level."""
    cut = loss_cut_level(position, rules) if rules.exits_enabled else None
    stop = plan.stop_price
    if cut is not None and (stop is None or cut > stop + EPS):
        return cut, "loss_cut"
    return stop, plan.stop_leg


# -- exits ---------------------------------------------------------------------------------------------------


def decide_exits(position: Position, market: Market, rules: Rules, *, flat_minutes_before_close: float) -> Decisions:
    """At most one exit for the position (the first of ``EXIT_RULES`` that applies), or the first target's
    partial exit."""
    out = Decisions()
    out.plans[position.key] = position.plan
    if not rules.exits_enabled or position.category is None:
        return out
    if position.halted_reason:
        # A price that looks like a split must not trigger a loss cut or a stop either: a human decides.
        out.skipped.append(Skip(position.key, position.symbol, f"exits halted: {position.halted_reason}"))
        return out
    qty = _shares(position.qty - position.pending_exit_qty, rules.fractional_shares)
    if qty <= 0:
        return out
    for rule in EXIT_RULES:
        hit = rule(position, market, rules, flat_minutes_before_close)
        if hit is not None:
            out.actions.append(Action(position.key, position.symbol, "sell", qty, *hit))
            return out
    out.add(_first_target(position, market, rules, qty))
    return out


_Exit = tuple[str, int, float, str]  # leg, tier, trigger price, reason: a full exit


def _day_trade_close_out(p: Position, market: Market, rules: Rules, flat_minutes: float) -> _Exit | None:
    if p.category != "day_trade" or market.minutes_to_close is None or market.minutes_to_close > flat_minutes + EPS:
        return None
    return "time_exit", 1, market.price, f"day trade flat {flat_minutes:g} min before the close"


def _time_stop(p: Position, market: Market, rules: Rules, flat_minutes: float) -> _Exit | None:
    max_sessions = rules.max_holding_sessions.get(p.category or "")
    if max_sessions is None or p.sessions_held <= max_sessions:
        return None
    reason = f"held {p.sessions_held} sessions, more than the {max_sessions:g} allowed for {p.category}"
    return "time_exit", 0, market.price, reason


def _loss_cut(p: Position, market: Market, rules: Rules, flat_minutes: float) -> _Exit | None:
    cut = loss_cut_level(p, rules)
    if cut is None or market.price > cut + EPS:
        return None
    change = (market.price / p.avg_cost - 1) * 100
    reason = (
        f"{_pct(change)} from average cost {p.avg_cost:.2f}: loss cut at "
        f"-{rules.loss_cut_pct[p.category or '']:g}% ({cut:.2f})"
    )
    return "loss_cut", 0, cut, reason


def _stop_through(p: Position, market: Market, rules: Rules, flat_minutes: float) -> _Exit | None:
    """The broker's stop should have fired: it may be missing, or the price gapped through it."""
    stop = p.plan.stop_price
    if stop is None or market.price > stop + EPS:
        return None
    return p.plan.stop_leg, 0, stop, f"price {market.price:.2f} at or through the stop {stop:.2f}"


def _final_target(p: Position, market: Market, rules: Rules, flat_minutes: float) -> _Exit | None:
    target = p.plan.target_price
    if target is None or market.price < target - EPS:
        return None
    return "target", 2, target, f"price {market.price:.2f} reached the final target {target:.2f}"


# The full exits, in the order they are tried: the first that applies wins.
EXIT_RULES = (_day_trade_close_out, _time_stop, _loss_cut, _stop_through, _final_target)


def decide_signal_exit(position: Position, market: Market, rules: Rules) -> Decisions:
    """A sell signal for a symbol the book holds (``[exits] on_sell_signal = "exit"``, decided by ``size``): one
    ``signal_exit`` leg selling what is held and not already promised to a working exit (whole shares unless
    fractional), never more; nothing while the position is halted or every share is promised already."""
    out = Decisions()
    if position.halted_reason:
        out.skipped.append(Skip(position.key, position.symbol, f"exits halted: {position.halted_reason}"))
        return out
    qty = _shares(position.qty - position.pending_exit_qty, rules.fractional_shares)
    if qty <= 0:
        why = f"all {position.qty:g} shares are already promised to a working exit"
        out.skipped.append(Skip(position.key, position.symbol, why))
        return out
    reason = f"sell signal: exit {qty:g} shares"
    out.actions.append(Action(position.key, position.symbol, "sell", qty, "signal_exit", 0, market.price, reason))
    return out


def _first_target(position: Position, market: Market, rules: Rules, qty: float) -> Decisions:
    """The first target's partial exit: sell ``partial_exit_pct`` of the position (at most ``qty``) and raise
    the stop to break-even."""
    out = Decisions()
    plan, price = position.plan, market.price
    if plan.target_one_price is None or plan.target_one_done or price < plan.target_one_price - EPS:
        return out
    part = min(_shares(position.qty * rules.partial_exit_pct / 100, rules.fractional_shares), qty)
    breakeven = to_tick(position.entry_price)
    new_plan = replace(plan, target_one_done=True)
    if new_plan.stop_price is None or breakeven > new_plan.stop_price + EPS:
        new_plan = replace(new_plan, stop_price=breakeven, stop_leg="stop")
    out.plans[position.key] = new_plan
    if part > 0:
        out.actions.append(
            Action(
                position.key, position.symbol, "sell", part, "target", 1, plan.target_one_price,
                f"price {price:.2f} reached the first target {plan.target_one_price:.2f}: sell "
                f"{rules.partial_exit_pct:g}%, stop to break-even {breakeven:.2f}",
            )
        )  # fmt: skip
    return out


# -- profit-takes --------------------------------------------------------------------------------------------


def decide_profit_takes(position: Position, market: Market, rules: Rules) -> Decisions:
    out = Decisions()
    if not rules.profit_take_enabled or position.category != "long_term":
        return out
    if position.halted_reason:
        out.skipped.append(Skip(position.key, position.symbol, f"halted: {position.halted_reason}"))
        return out
    gain = (market.price / position.avg_cost - 1) * 100 if position.avg_cost > 0 else 0.0
    floor_qty = position.original_qty * rules.min_hold_pct / 100
    remaining = position.qty - position.pending_exit_qty
    for number, tier in enumerate(rules.profit_take_tiers, start=1):
        if ("profit_take", number) in position.fired or gain < tier.gain_pct - EPS:
            continue
        wanted = _shares(remaining * tier.trim_pct / 100, rules.fractional_shares)
        allowed = _shares(max(0.0, remaining - floor_qty), rules.fractional_shares)
        qty = min(wanted, allowed)
        trigger = to_tick(position.avg_cost * (1 + tier.gain_pct / 100))
        if qty <= 0:
            out.skipped.append(
                Skip(
                    position.key, position.symbol,
                    f"profit-take tier {number} ({_pct(gain)} >= +{tier.gain_pct:g}%): nothing to trim above the "
                    f"minimum hold of {rules.min_hold_pct:g}% of {position.original_qty:g} shares",
                )
            )  # fmt: skip
            continue
        cut = " (cut to the minimum hold)" if qty < wanted else ""
        out.actions.append(
            Action(
                position.key, position.symbol, "sell", qty, "profit_take", number, trigger,
                f"{_pct(gain)} from average cost {position.avg_cost:.2f} >= +{tier.gain_pct:g}%: trim "
                f"{tier.trim_pct:g}% of {remaining:g}{cut}",
            )
        )  # fmt: skip
        remaining -= qty
    return out


# -- dip-buys ------------------------------------------------------------------------------------------------


def _dip_reference(position: Position, rules: Rules) -> float:
    return position.avg_cost if rules.dip_buy_reference == "avg_cost" else position.entry_price


def due_dip_tier(position: Position, price: float, rules: Rules) -> tuple[int, DipTier] | None:
    """The lowest tier not yet fired whose threshold the price has crossed (``(number, tier)``), or None."""
    if not rules.dip_buy_enabled or position.category != "long_term":
        return None
    reference = _dip_reference(position, rules)
    if reference <= 0:
        return None
    dip = (1 - price / reference) * 100
    for number, tier in enumerate(rules.dip_buy_tiers, start=1):
        if ("dip_buy", number) not in position.fired and dip >= tier.dip_pct - EPS:
            return number, tier
    return None


def decide_dip_buy(position: Position, market: Market, book: Book, rules: Rules) -> Decisions:
    """The due tier's add-on (see ``due_dip_tier``), unless one of ``DIP_GUARDS`` stops it; cut to the room
    under the position cap, the allocation cap and the cash floor."""
    out = Decisions()
    due = due_dip_tier(position, market.price, rules)
    if due is None:
        return out
    number, tier = due
    reference = _dip_reference(position, rules)
    dip = (1 - market.price / reference) * 100
    label = f"dip-buy tier {number} ({_pct(-dip)} from {rules.dip_buy_reference.replace('_', ' ')} {reference:.2f})"

    def skip(reason: str) -> Decisions:
        out.skipped.append(Skip(position.key, position.symbol, f"{label}: {reason}"))
        return out

    guarded = next((r for guard in DIP_GUARDS if (r := guard(position, market, book, rules)) is not None), None)
    if guarded is not None:
        return skip(guarded)
    wanted = _shares(position.original_qty * tier.add_pct / 100, rules.fractional_shares)
    if wanted <= 0:
        return skip(f"{tier.add_pct:g}% of the original {position.original_qty:g} shares rounds to zero")
    qty, binding = _dip_room(position, market.price, book, rules, wanted)
    if qty <= 0:
        return skip(f"no room under the {binding}")
    cut_note = f" (cut to {qty:g} by the {binding})" if qty < wanted else ""
    trigger = to_tick(reference * (1 - tier.dip_pct / 100))
    out.actions.append(
        Action(
            position.key, position.symbol, "buy", qty, "dip_buy", number, trigger,
            f"{label} <= -{tier.dip_pct:g}%: add {tier.add_pct:g}% of the original {position.original_qty:g} "
            f"shares{cut_note}",
        )
    )  # fmt: skip
    return out


def _halted(p: Position, market: Market, book: Book, rules: Rules) -> str | None:
    return f"halted: {p.halted_reason}" if p.halted_reason else None


def _exit_pending(p: Position, market: Market, book: Book, rules: Rules) -> str | None:
    return f"an exit of {p.pending_exit_qty:g} shares is being sent" if p.pending_exit_qty > 0 else None


def _into_loss_cut(p: Position, market: Market, book: Book, rules: Rules) -> str | None:
    cut = loss_cut_level(p, rules) if rules.exits_enabled else None
    if cut is None or market.price > cut + EPS:
        return None
    return f"at or below the loss cut ({cut:.2f}): no averaging down into an exit"


def _outside_session(p: Position, market: Market, book: Book, rules: Rules) -> str | None:
    return None if market.session_open else "only in the regular session"


def _regime_paused(p: Position, market: Market, book: Book, rules: Rules) -> str | None:
    if book.regime_paused and not rules.dip_buy_when_regime_paused:
        return "the market regime pauses new long-term buys"
    return None


def _cooling_down(p: Position, market: Market, book: Book, rules: Rules) -> str | None:
    if p.last_dip_buy_at is None:
        return None
    ready_at = p.last_dip_buy_at + timedelta(hours=rules.dip_buy_cooldown_hours)
    return f"cooldown until {ready_at.isoformat(timespec='minutes')}" if market.now < ready_at else None


# What stops a due dip-buy, in the order they are checked: the first that applies is the reason given.
DIP_GUARDS = (_halted, _exit_pending, _into_loss_cut, _outside_session, _regime_paused, _cooling_down)


def _dip_room(p: Position, price: float, book: Book, rules: Rules, wanted: float) -> tuple[float, str]:
    """``wanted`` shares cut to the tightest of the room left (and the limit that bound it, "" if none)."""
    held = book.position_value.get(p.symbol, 0.0)
    room = [
        ("max position", book.portfolio_value * rules.max_position_pct / 100 - held),
        ("allocation cap", rules.max_total_allocation - book.deployed),
        ("cash", book.cash - rules.min_cash),
    ]  # fmt: skip
    qty, binding = wanted, ""
    for name, dollars in room:
        fits = _shares(max(0.0, dollars) / price, rules.fractional_shares)
        if fits < qty:
            qty, binding = fits, name
    return qty, binding


# -- splits --------------------------------------------------------------------------------------------------


def split_ratio(observed: float, ratios: tuple[float, ...], tolerance_pct: float) -> float | None:
    """The split ratio (new shares per old share) ``observed`` matches, or None.

    ``observed`` is a quantity ratio (new/old): 2 for a 2:1 split, 0.1 for a 1:10 reverse split. A price ratio
    (new/old) must be inverted by the caller.
    """
    if not observed > 0 or not math.isfinite(observed):
        return None
    for r in ratios:
        for candidate in (r, 1 / r):
            if abs(observed / candidate - 1) * 100 <= tolerance_pct:
                return candidate
    return None
