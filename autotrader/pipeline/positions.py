"""Open positions as management sees them, their remembered state, and the protective orders that guard them.

``refresh`` turns each open position of the signals book into a ``management.Position``: the entry leg from
the fills of the current life (its quantity is the *original* quantity the tiers are measured in), the
signal and category, the legs already fired, and the ``position_state`` row (created at the first sight of a
new life; high-water mark, trail and stop ratcheted from what the market reached; the last price seen, so
that a split is caught before it can look like a dip or a loss: one the data source lists and the ledger
has not applied, or a gap matching a split ratio between consecutive prices, each session's close against
the previous one, halts the position).

``maintain_protection`` keeps, for every position, exactly one protective order at the broker matching the
ledger: a stop (or an OCO of final-target limit and stop) for the shares not already promised to an exit.
cron cannot watch prices between runs; the broker can. Anything else is cancelled and re-placed; a position
that closed keeps no protective order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from autotrader.clock import ET
from autotrader.domain.enums import Book, LegKind, OrderClass, OrderType, Side, TimeInForce
from autotrader.domain.models import OrderIntent, OrderTerms, Quote
from autotrader.domain.money import to_tick, whole_shares
from autotrader.errors import InputError
from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.corporate_actions import ListedSplit, listed_splits, split_factor, unrecorded
from autotrader.pipeline.gateway import GatewayResult, OrderGateway
from autotrader.pipeline.rules import rules_from_settings, symbol_values
from autotrader.policy import management as mg
from autotrader.policy.indicators import last_atr
from autotrader.settings import ExitsSection, Settings

MANAGED_BOOKS = (str(Book.SIGNALS), str(Book.REBALANCE))
REBALANCE_CATEGORY = "rebalance"  # the rebalance book's positions: only its trailing profit taker applies
PROTECTIVE_STEP = "protect"
REFRESH_MEMO = "positions.refresh"  # StepContext.memo's entry: (instant, preset), ledger changes, positions
ATR_LOOKBACK_DAYS = 200  # calendar days of daily bars for the ATR at entry: ~140 sessions, plenty for seeding


def rules_for(ctx: StepContext, book: str, preset: str | None = None) -> mg.Rules:
    """The management rules of a book: the signals book's tiers and exits, or the rebalance book's trailing
    profit taker (``[rebalance] profit_taker_preset``, or ``preset``) and nothing else."""
    if book != str(Book.REBALANCE):
        return rules_from(ctx)
    s = ctx.settings.rebalance
    trail = s.profit_taker_presets[preset or s.profit_taker_preset]
    return mg.Rules(
        dip_buy_enabled=False,
        profit_take_enabled=False,
        exits_enabled=True,
        loss_cut_pct={},
        atr_categories=frozenset(),
        trail_categories=frozenset({REBALANCE_CATEGORY}),
        trail_pct=trail.trail_pct,
        trail_activation_pct=trail.activation_pct,
        # The book is topped up to target every night: the gain that matters is over what it paid on average.
        trail_from_avg_cost=True,
        max_holding_sessions={},
    )


def rules_from(ctx: StepContext) -> mg.Rules:
    """The management rules from the settings (made once per settings object: ``StepContext.from_settings``)."""
    return ctx.from_settings(management_rules)


def management_rules(s: Settings) -> mg.Rules:
    """Each field from the setting of its name (``rules_from_settings``); only the tiers, the per-category
    tables and the trail's reference are spelled out."""
    categories = ("long_term", "swing", "day_trade")
    return rules_from_settings(
        mg.Rules,
        (s.dipbuy, s.profittake, s.exits, s.sizing, s.account, s.size),
        derived={
            "dip_buy_tiers": tuple(mg.DipTier(t.dip_pct, t.add_pct) for t in s.dipbuy.dip_buy_tiers),
            "profit_take_tiers": tuple(mg.ProfitTier(t.gain_pct, t.trim_pct) for t in s.profittake.profit_take_tiers),
            "loss_cut_pct": {c: s.exits.loss_cut_pct.of(c) for c in categories},
            "max_holding_sessions": {c: s.exits.max_holding_days.of(c) for c in categories},
            "trail_from_avg_cost": False,  # the signals book measures activation from the entry; a preset may not
            **symbol_values(s.symbols, "stop_pct", "target_pct", "trail_pct", "trail_activation_pct"),
        },
    )


@dataclass(frozen=True)
class Managed:
    """A position with what the run knows about it."""

    position: mg.Position
    price: float | None  # the last trade, None when the data has no quote
    signal_id: int | None


def market_for(ctx: StepContext, price: float) -> mg.Market:
    state = ctx.session
    minutes = None
    if state.is_open and state.close_at is not None:
        minutes = (state.close_at - ctx.now).total_seconds() / 60
    return mg.Market(price=price, now=ctx.now, session_open=state.is_open, minutes_to_close=minutes)


# -- refresh: gather what the ledger and the market say, plan the new states (pure), write them ------------


def refresh(ctx: StepContext, *, preset: str | None = None) -> list[Managed]:
    """Bring ``position_state`` up to date with the ledger's positions and the market; return them.

    A second refresh at the same instant with the same rules, the ledger unchanged since the first, would read
    the same rows and the same quotes and store nothing: it returns the first one's positions instead."""
    key = (ctx.now, preset)
    last = ctx.memo.get(REFRESH_MEMO)
    if last is not None and last[0] == key and last[1] == ctx.ledger.changes():
        return list(last[2])
    managed = _refresh(ctx, preset)
    ctx.memo[REFRESH_MEMO] = (key, ctx.ledger.changes(), tuple(managed))
    return managed


def _refresh(ctx: StepContext, preset: str | None) -> list[Managed]:
    book_rules = {book: rules_for(ctx, book, preset) for book in MANAGED_BOOKS}
    # A one-off preset decides this run; the stored trail keeps following the configured one.
    stored_rules = {book: rules_for(ctx, book) for book in MANAGED_BOOKS} if preset else None
    ledgered = _read_ledger(ctx)
    looks = [_look(ctx, ledgered, held, book_rules[held.row.book]) for held in ledgered.held]
    plan = plan_refresh(
        looks, book_rules, stored_rules, ctx.settings.exits, stale=ledgered.stale, closed_at=repo.utc_iso(ctx.now)
    )
    _write_states(ctx, plan)
    for symbol, key, reason in plan.halted:
        ctx.log.event("position_halted", symbol=symbol, position_key=key, reason=reason)
    return list(plan.managed)


@dataclass(frozen=True)
class _Held:
    row: repo.PositionRow
    key: str
    opened_at: str  # as the ledger stores it
    opened: datetime


@dataclass(frozen=True)
class _Ledgered:
    """What every position needs from the ledger, in a few queries rather than a few per position."""

    held: list[_Held]
    states: dict[str, dict[str, Any]]  # position key -> its open ``position_state`` row
    intents: dict[str, list[dict[str, Any]]]  # position key -> its management intents
    dip_buys: dict[tuple[str, str], datetime]
    splits: list[dict[str, Any]]
    fills: dict[tuple[str, str], list[dict[str, Any]]]  # (book, symbol) -> its life's fills with legs, oldest first

    @property
    def stale(self) -> list[str]:
        """The remembered lives no longer held: they closed."""
        held = {h.key for h in self.held}
        return [k for k in self.states if k not in held]


def _read_ledger(ctx: StepContext) -> _Ledgered:
    ledger = ctx.ledger
    held = [
        _Held(p, repo.position_key(p.book, p.symbol, p.opened_at), p.opened_at, datetime.fromisoformat(p.opened_at))
        for p in repo.all_positions(ledger)
        if p.book in MANAGED_BOOKS and p.qty > 0 and p.opened_at is not None
    ]
    states = {r["position_key"]: r for r in repo.position_states(ledger)}
    # ``_look`` goes no further for a life remembered as unmanaged: its fills and intents are not read.
    looked = [h for h in held if not _remembered_unmanaged(states.get(h.key))]
    return _Ledgered(
        held=held,
        states=states,
        intents=repo.position_intents_of(ledger, [h.key for h in looked], except_step=PROTECTIVE_STEP),
        dip_buys=repo.last_dip_buys(ledger),
        splits=repo.splits(ledger),
        fills=_by_position(repo.leg_fills(ledger, lives=[(h.row.book, h.row.symbol, h.opened_at) for h in looked])),
    )


def _remembered_unmanaged(state: dict[str, Any] | None) -> bool:
    """A life whose stored state has no category: bought outside any signal, it stays unmanaged while held."""
    return state is not None and state["category"] is None


def _by_position(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault((row["book"], row["symbol"]), []).append(row)
    return out


@dataclass(frozen=True)
class _Entry:
    """The entry leg of a life: every fill of its first order, in post-split units."""

    qty: float  # the original quantity the tiers are measured in
    price: float
    client_order_id: str | None
    signal_id: int | None


@dataclass(frozen=True)
class _Origin:
    """Where a life seen for the first time came from, read once to create its state row."""

    category: str | None  # None: no originating signal, nothing to manage
    stop: float | None
    target: float | None
    atr: float | None  # Wilder's ATR before the entry session, for the ATR categories
    target_one: float | None = None  # the signal's own first target (the plan takes it when it fits)


@dataclass(frozen=True)
class _Look:
    """What the run reads for one held position. The market is read only for a position that is managed."""

    held: _Held
    known: dict[str, Any] | None  # its stored state, None at the first sight of the life
    sessions_held: int
    intents: list[dict[str, Any]] = field(default_factory=list)
    last_dip_buy_at: datetime | None = None
    entry: _Entry | None = None  # None: fills not in yet (or split adjustments only)
    origin: _Origin | None = None  # only at the first sight
    splits: list[dict[str, Any]] = field(default_factory=list)  # the symbol's, oldest first
    quote: Quote | None = None
    sessions_high: float | None = None  # the highest high of the sessions completed since the last look
    high_checked_at: str | None = None
    # Since the last price seen, up to the quote: each complete session's (close instant, close) before the
    # quote's session, in today's units, and the splits the data source lists that the ledger has not applied.
    closes: tuple[tuple[str, float], ...] = ()
    listed: tuple[ListedSplit, ...] = ()


def _look(ctx: StepContext, ledgered: _Ledgered, held: _Held, rules: mg.Rules) -> _Look:
    p, known = held.row, ledgered.states.get(held.key)
    sessions_held = _sessions_held(ctx, held.opened)
    if _remembered_unmanaged(known):  # nothing to read
        return _Look(held, known, sessions_held)
    splits = [s for s in ledgered.splits if s["symbol"] == p.symbol]
    life = ledgered.fills.get((p.book, p.symbol), [])  # read from the life's opening on
    entry = _entry_leg(life, splits)
    if entry is None:
        return _Look(held, known, sessions_held)
    origin = _origin(ctx, held, entry, rules) if known is None else None
    category = origin.category if origin is not None else known["category"] if known is not None else None
    if category is None:
        return _Look(held, known, sessions_held, entry=entry, origin=origin)
    quote = ctx.deps.market_data.latest_quote(p.symbol)
    checked_at = known.get("high_water_at") if known is not None else None
    sessions_high, high_checked_at = _sessions_high(ctx, p.symbol, held.opened, checked_at, splits)
    # A life never priced is measured from its entry: a first look after an ex-date has no other reference.
    since = (known or {}).get("last_price_at") or held.opened_at
    closes, listed = _since_last_seen(ctx, p.symbol, since, quote, splits)
    return _Look(
        held, known, sessions_held,
        intents=ledgered.intents.get(held.key, []), last_dip_buy_at=ledgered.dip_buys.get((p.book, p.symbol)),
        entry=entry, origin=origin, splits=splits, quote=quote,
        sessions_high=sessions_high, high_checked_at=high_checked_at, closes=closes, listed=listed,
    )  # fmt: skip


def _since_last_seen(
    ctx: StepContext, symbol: str, since: str, quote: Quote | None, splits: list[dict[str, Any]]
) -> tuple[tuple[tuple[str, float], ...], tuple[ListedSplit, ...]]:
    """What happened between the last price a run saw (at ``since``; the entry for a life never priced) and
    ``quote``: the closes of the sessions completed in between, before the quote's own session, and the data
    source's splits not yet applied. Nothing is read when there is no newer quote to judge."""
    if quote is None or repo.utc_iso(quote.quoted_at) <= since:
        return (), ()
    listed = unrecorded(listed_splits(ctx, symbol), splits, after=since)
    calendar = ctx.deps.calendar
    quote_day = quote.quoted_at.astimezone(ET).date()
    first = datetime.fromisoformat(since).astimezone(ET).date()
    if quote_day <= first:
        return (), tuple(listed)
    bars = ctx.deps.market_data.daily_bars(symbol, first, quote_day - timedelta(days=1))
    days = [d.date() for d in bars.index]
    closes = _in_todays_units(bars["close"].to_numpy(dtype=float), days, splits)
    out = []
    for day, close in zip(days, closes, strict=True):
        closed_at = repo.utc_iso(calendar.session_close(day))
        if since < closed_at and day < quote_day:
            out.append((closed_at, float(close)))
    return tuple(out), tuple(listed)


def _in_todays_units(prices: np.ndarray, days: list[Any], splits: list[dict[str, Any]]) -> np.ndarray:
    """Unadjusted prices (every adapter serves them) of sessions before a split the ledger applied, restated in
    the units after it."""
    for split in splits:
        ex_day = datetime.fromisoformat(split["effective_at"]).astimezone(ET).date()
        prices = prices / np.array([split["ratio"] if d < ex_day else 1.0 for d in days])
    return prices


def _entry_leg(fills: list[dict[str, Any]], splits: list[dict[str, Any]]) -> _Entry | None:
    if not fills:
        return None
    first = fills[0]["broker_order_id"]
    entry = [f for f in fills if f["broker_order_id"] == first and f["side"] == "buy"]
    if not entry:
        return None
    qty = sum(f["qty"] * split_factor(splits, f["symbol"], f["filled_at"]) for f in entry)
    cost = sum(f["qty"] * f["price"] for f in entry)
    return _Entry(qty, cost / qty, entry[0]["client_order_id"], entry[0]["signal_id"])


def _origin(ctx: StepContext, held: _Held, entry: _Entry, rules: mg.Rules) -> _Origin:
    """The category, and the stop and target the entry carried (a bracket's legs, or those to attach after a
    market-on-open fill), else the signal's own; the signal's first target (no order carries one)."""
    levels = repo.entry_levels(ctx.ledger, entry.client_order_id) if entry.client_order_id else None
    signal = repo.entry_signal(ctx.ledger, entry.signal_id) if entry.signal_id is not None else None
    if signal is not None:
        category: str | None = signal.category
    else:
        category = REBALANCE_CATEGORY if held.row.book == str(Book.REBALANCE) else None
    stop = levels.stop if levels is not None else None
    target = levels.target if levels is not None else None
    if signal is not None:
        stop = stop if stop is not None else signal.stop
        target = target if target is not None else signal.target
    atr = _atr_before(ctx, held.row.symbol, held.opened) if category in rules.atr_categories else None
    return _Origin(category, stop, target, atr, signal.target_one if signal is not None else None)


def _atr_before(ctx: StepContext, symbol: str, opened: datetime) -> float | None:
    """Wilder's ATR of the complete daily bars before the entry session."""
    entry_day = opened.astimezone(ET).date()
    bars = ctx.deps.market_data.daily_bars(
        symbol, entry_day - timedelta(days=ATR_LOOKBACK_DAYS), entry_day - timedelta(days=1)
    )
    if len(bars) < ctx.settings.exits.atr_period + 1:
        return None
    return last_atr(
        bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy(), ctx.settings.exits.atr_period
    )


def _sessions_held(ctx: StepContext, opened: datetime) -> int:
    """Trading sessions since the entry, the entry session counting as 1."""
    sessions = ctx.deps.calendar.sessions_between(opened.astimezone(ET).date(), ctx.now.astimezone(ET).date())
    return max(1, len(sessions))


def _sessions_high(
    ctx: StepContext, symbol: str, opened: datetime, checked_at: str | None, splits: list[dict[str, Any]]
) -> tuple[float | None, str]:
    """The high of every complete session after the entry session not yet looked at (None: none), and when
    that was checked. The sessions are read once per day: the ones before the last check are already in the
    stored high-water mark."""
    calendar = ctx.deps.calendar
    last_complete = calendar.last_closed_session(ctx.now)
    first = opened.astimezone(ET).date() + timedelta(days=1)
    if checked_at is not None:
        checked = datetime.fromisoformat(checked_at)
        if checked >= calendar.session_close(last_complete):
            return None, checked_at  # no session has completed since the last look
        first = max(first, checked.astimezone(ET).date())
    if last_complete < first:
        return None, repo.utc_iso(ctx.now)
    bars = ctx.deps.market_data.daily_bars(symbol, first, last_complete)
    if not len(bars):
        return None, repo.utc_iso(ctx.now)
    highs = _in_todays_units(bars["high"].to_numpy(dtype=float), [d.date() for d in bars.index], splits)
    return float(np.nanmax(highs)), repo.utc_iso(ctx.now)


# -- the plan (pure) -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshPlan:
    """What refresh decided: the positions as management sees them, and what to remember of them."""

    managed: tuple[Managed, ...]
    save: tuple[dict[str, Any], ...]  # state rows that changed, whole
    close: tuple[str, ...]  # position keys of lives that ended
    closed_at: str
    halted: tuple[tuple[str, str, str], ...] = ()  # (symbol, position key, reason) of halts new in this run


def plan_refresh(
    looks: list[_Look],
    book_rules: dict[str, mg.Rules],
    stored_rules: dict[str, mg.Rules] | None,
    exits: ExitsSection,
    *,
    stale: list[str],
    closed_at: str,
) -> RefreshPlan:
    """Each position's state after this run: created at the first sight of a life, the high-water mark, trail
    and stop ratcheted from what the market reached, the last price remembered (a gap matching a split ratio
    halts the position). ``stored_rules``: those the stored trail follows when a one-off preset decides."""
    managed: list[Managed] = []
    save: list[dict[str, Any]] = []
    halted: list[tuple[str, str, str]] = []
    for look in looks:
        book = look.held.row.book
        m, state = _plan_position(look, book_rules[book], stored_rules[book] if stored_rules else None, exits)
        if m is not None:
            managed.append(m)
        if state is not None and state != look.known:
            save.append(state)
            reason = state.get("halted_reason")
            if reason and (look.known or {}).get("halted_reason") != reason:
                halted.append((look.held.row.symbol, look.held.key, reason))
    return RefreshPlan(tuple(managed), tuple(save), tuple(stale), closed_at, tuple(halted))


def _plan_position(
    look: _Look, rules: mg.Rules, stored_rules: mg.Rules | None, exits: ExitsSection
) -> tuple[Managed | None, dict[str, Any] | None]:
    """One position as management sees it, and its state row after this run (None: nothing to store)."""
    known, entry = look.known, look.entry
    if known is not None and known["category"] is None:
        return Managed(_position(look, known, managed=False), None, known["signal_id"]), None
    if entry is None:
        return None, None  # nothing to manage this run
    if known is None:
        assert look.origin is not None  # read at the first sight of a life
        state = _new_state(look.held, entry, look.origin, rules)
    else:
        state = known
    state = {**state, "original_qty": entry.qty, "entry_price": entry.price}
    if state["category"] is None:
        # No originating signal (nothing we can manage): remembered, never priced or traded.
        return Managed(_position(look, state, managed=False), None, state["signal_id"]), state
    quote = _usable_quote(look.quote, look.splits)
    price = quote.last if quote is not None else None
    position = _position(look, state, managed=True)
    if quote is not None:
        state = _seen_price(state, quote, exits, look)
    if state.get("halted_reason"):
        # Prices that may be in other units than the position's move nothing: not the high-water mark, not
        # the trail, not the sessions looked at.
        plan = position.plan
    else:
        high = max(price or 0.0, look.sessions_high) if look.sessions_high is not None else price or 0.0
        plan = mg.advance_plan(position, high, rules)
        stored = plan if stored_rules is None else mg.advance_plan(position, high, stored_rules)
        state = {**state, **_plan_columns(stored), "high_water_at": look.high_checked_at}
    position = replace(position, plan=plan, halted_reason=state["halted_reason"])
    return Managed(position, price, state["signal_id"]), state


def _new_state(held: _Held, entry: _Entry, origin: _Origin, rules: mg.Rules) -> dict[str, Any]:
    p = held.row
    plan = mg.initial_plan(
        origin.category, entry.price, origin.atr, origin.stop, origin.target, rules, symbol=p.symbol,
        signal_target_one=origin.target_one,
    )  # fmt: skip
    return {
        "position_key": held.key,
        "book": p.book,
        "symbol": p.symbol,
        "opened_at": p.opened_at,
        "signal_id": entry.signal_id,
        "category": origin.category,
        "original_qty": entry.qty,
        "entry_price": entry.price,
        "atr": origin.atr,
        **_plan_columns(plan),
        "last_price": None,
        "last_price_at": None,
        "halted_reason": None,
        "closed_at": None,
    }


def _usable_quote(quote: Quote | None, splits: list[dict[str, Any]]) -> Quote | None:
    """A price from before the symbol's last split is in old units: decide nothing on it."""
    if quote is not None and splits and repo.utc_iso(quote.quoted_at) < splits[-1]["effective_at"]:
        return None
    return quote


def _seen_price(state: dict[str, Any], quote: Quote, exits: ExitsSection, look: _Look) -> dict[str, Any]:
    """Remember a price newer than the last one seen, halting the position on a split the ledger has not
    applied: one the data source lists, or a gap that looks like one. A halted position keeps the last price
    from before the halt: it is in the ledger's units, so a split applied later scales it like the rest."""
    seen_at = repo.utc_iso(quote.quoted_at)
    if state.get("last_price_at") is None:
        # Never priced: the entry is the first price in the ledger's units. Without it a first look after an
        # ex-date would have nothing to measure the gap against, and the split would pass for a loss.
        state = {**state, "last_price": state["entry_price"], "last_price_at": state["opened_at"]}
    if seen_at <= state["last_price_at"]:
        return state
    halted = state.get("halted_reason") or _split_gap(exits, state, quote.last, look.closes, look.listed)
    if halted:
        return {**state, "halted_reason": halted}
    return {**state, "halted_reason": None, "last_price": quote.last, "last_price_at": seen_at}


def _plan_columns(plan: mg.Plan) -> dict[str, Any]:
    return {
        "stop_price": plan.stop_price,
        "stop_leg": plan.stop_leg,
        "target_price": plan.target_price,
        "target_one_price": plan.target_one_price,
        "target_one_done": int(plan.target_one_done),
        "high_water": plan.high_water,
        "trail_active": int(plan.trail_active),
    }


_UNSTORED = object()  # a column of a position with no state row: never equal to a plan's value


def _plan_of(state: dict[str, Any]) -> mg.Plan:
    return mg.Plan(
        stop_price=state["stop_price"],
        stop_leg=state["stop_leg"] or "stop",
        target_price=state["target_price"],
        target_one_price=state["target_one_price"],
        target_one_done=bool(state["target_one_done"]),
        high_water=state["high_water"],
        trail_active=bool(state["trail_active"]),
    )


def _position(look: _Look, state: dict[str, Any], *, managed: bool) -> mg.Position:
    """``managed``: with the legs already fired and the last dip-buy (an unmanaged position has none)."""
    p = look.held.row
    fired, pending_exit = _fired(look.intents) if managed else (frozenset(), 0.0)
    return mg.Position(
        key=look.held.key,
        book=p.book,
        symbol=p.symbol,
        category=state["category"],
        qty=p.qty,
        avg_cost=p.avg_cost,
        original_qty=state["original_qty"],
        entry_price=state["entry_price"],
        opened_at=look.held.opened,
        sessions_held=look.sessions_held,
        plan=_plan_of(state),
        fired=fired,
        last_dip_buy_at=look.last_dip_buy_at if managed else None,
        halted_reason=state.get("halted_reason"),
        pending_exit_qty=pending_exit,
    )


def _fired(intents: list[dict[str, Any]]) -> tuple[frozenset[tuple[str, int]], float]:
    """The (leg, tier) legs sent in this life, and the shares promised to exits still working."""
    fired = set()
    pending_exit = 0.0
    for row in intents:
        if row["step"] == PROTECTIVE_STEP:
            continue
        live = row["status"] in repo.LIVE_INTENT_STATUSES
        if live or row["filled_qty"] > 0:
            fired.add((row["leg"], int(row["tier"])))
        if row["side"] == "sell" and live and row["status"] != "filled":
            pending_exit += max(0.0, row["qty"] - row["filled_qty"])
    return frozenset(fired), pending_exit


def _split_gap(
    exits: ExitsSection,
    state: dict[str, Any],
    price: float,
    closes: tuple[tuple[str, float], ...],
    listed: tuple[ListedSplit, ...],
) -> str | None:
    """Why the prices since the last one a run saw cannot be compared with the ledger's, or None.

    A split the data source lists and the ledger has not applied: the prices after it are in new units and
    the position in old ones. Otherwise each price against the one before it, the last seen, then each
    session's close, then ``price``, so that the gap is always measured across one session (a reference
    several sessions old adds their moves to the split's ratio and lets it slip past the tolerance): a jump
    matching a split ratio is a corporate action the ledger does not know. Nothing may fire on either."""
    last, symbol = state.get("last_price"), state["symbol"]
    if not last:
        return None  # a halt just cleared: this price becomes the reference
    for split in listed:
        return (
            f"the data source lists a {split.ratio:g}-for-1 split of {symbol} effective {split.effective_at} that "
            "the ledger has not applied: nothing is decided on prices in two units until `autotrader sync` "
            "applies it (when the broker's quantity shows it)"
        )
    seen = "the entry price" if state["last_price_at"] == state["opened_at"] else "the last seen"
    chain = [(f"{seen} {last:.2f}", last)] + [(f"the {at[:10]} close {c:.2f}", c) for at, c in closes]
    chain.append((f"price {price:.2f}", price))
    for (before_label, before), (label, now) in zip(chain, chain[1:], strict=False):
        if not (before > 0 and now > 0):
            continue  # an unusable close is no evidence either way
        ratio = mg.split_ratio(before / now, tuple(exits.split_ratios), exits.split_tolerance_pct)
        if ratio is not None:
            return (
                f"{label} is {before / now:.4g}x below/above {before_label}, matching a {ratio:g}-for-1 split "
                f"that neither the ledger nor the data source has; clear with "
                f"`autotrader sync --clear-halt {symbol}`"
            )
    return None


# -- apply ---------------------------------------------------------------------------------------------------


def _write_states(ctx: StepContext, plan: RefreshPlan) -> None:
    if not plan.save and not plan.close:
        return
    with ctx.ledger.write():
        for state in plan.save:
            repo.save_position_state(ctx.ledger, state, now=ctx.now)
        for key in plan.close:
            repo.save_position_state(ctx.ledger, {"position_key": key, "closed_at": plan.closed_at}, now=ctx.now)


def save_plans(ctx: StepContext, plans: dict[str, mg.Plan]) -> None:
    """Store each position's plan where it differs from the stored one (a plan that did not move is not written:
    the positions a later step of the slot refreshes are then still those of ``refresh``'s memo)."""
    if not plans:
        return
    # Only the plans' lives, and only their plan's columns: a management step plans the positions it manages,
    # and the book may hold many it does not (bought outside any signal).
    names = list(_plan_columns(next(iter(plans.values()))))  # the same for every plan
    stored = repo.open_states_of(ctx.ledger, list(plans), names)
    changed = {
        key: columns
        for key, plan in plans.items()
        if (columns := _plan_columns(plan)) != {c: stored.get(key, {}).get(c, _UNSTORED) for c in columns}
    }
    if not changed:
        return
    with ctx.ledger.write():
        for key, columns in changed.items():
            repo.save_position_state(ctx.ledger, {"position_key": key, **columns}, now=ctx.now)


# -- protective orders ---------------------------------------------------------------------------------------


def clear_halts(ctx: StepContext, symbols: tuple[str, ...]) -> None:
    """A human looked: forget the halt and the last price (the next run starts from the price it sees).
    A symbol with no halted position is bad input (exit 2): a typo must not pass for a cleared halt."""
    halted = {s["symbol"] for s in repo.position_states(ctx.ledger) if s["halted_reason"]}
    unknown = [s for s in symbols if s not in halted]
    if unknown:
        raise InputError(
            f"--clear-halt {', '.join(unknown)}: no halted position",
            hint=f"halted now: {', '.join(sorted(halted)) or 'none'}",
        )
    with ctx.ledger.write():
        for state in repo.position_states(ctx.ledger):
            if state["symbol"] in symbols:
                repo.save_position_state(
                    ctx.ledger,
                    {"position_key": state["position_key"], "halted_reason": None, "last_price": None},
                    now=ctx.now,
                )
                ctx.log.event("halt_cleared", symbol=state["symbol"], position_key=state["position_key"])


def maintain_protection(
    ctx: StepContext, gateway: OrderGateway, managed: list[Managed], *, skip: frozenset[str] = frozenset()
) -> list[GatewayResult]:
    """One protective order per position, matching the ledger; none for a position that closed.

    ``skip``: symbols whose broker and ledger quantities disagree (nothing is touched until that is settled).
    A position whose buy order is still working is left until it is done (its quantity is still moving)."""
    ledger = ctx.ledger
    book_rules = {book: rules_for(ctx, book) for book in MANAGED_BOOKS}
    results: list[GatewayResult] = []
    held = {(m.position.book, m.position.symbol): m for m in managed}
    # Read once: each pass of the loop changes only its own (book, symbol)'s orders.
    working = repo.working_orders(ledger)
    # Held positions, and symbols with working sell orders (a closed position's stop must be cancelled).
    symbols = {key for key, rows in working.items() if any(r["side"] == "sell" for r in rows)}
    for book, symbol in sorted(symbols | set(held)):
        m = held.get((book, symbol))
        rows = working.get((book, symbol), [])
        buying = any(r["side"] == "buy" for r in rows)
        if not _ours_to_protect(m, book, symbol, skip, buying=buying):
            continue
        orders = [r for r in rows if r["side"] == "sell"]
        guarding = protective(orders)
        desired = _desired(m, orders, book_rules[book]) if m is not None else None
        if not _must_replace(guarding, desired):
            continue
        if desired is not None and repo.unsent_sell_intents(ledger, book, symbol):
            continue  # an earlier order's outcome is being settled: decide once it is known
        cancel_orders(ctx, gateway, guarding)
        if m is not None and desired is not None:
            results.extend(gateway.place([_protective_intent(ctx, m, desired)]))
    return results


def _ours_to_protect(m: Managed | None, book: str, symbol: str, skip: frozenset[str], *, buying: bool) -> bool:
    if m is not None and m.position.category is None:
        return False  # not ours to manage: its orders stay as they are
    return book in MANAGED_BOOKS and symbol not in skip and not buying


@dataclass(frozen=True)
class _Desired:
    qty: float
    stop: float | None
    stop_leg: str
    target: float | None


KEEP = _Desired(0.0, None, "", None)  # leave the protective orders at the broker as they are


def _must_replace(guarding: list[dict[str, Any]], desired: _Desired | None) -> bool:
    """Whether the protective orders at the broker go (and ``desired``, if any, takes their place)."""
    if desired is KEEP:
        return False
    if desired is None:
        return bool(guarding)
    return not _matches(guarding, desired)


def _desired(m: Managed, orders: list[dict[str, Any]], rules: mg.Rules) -> _Desired | None:
    p = m.position
    exiting = sum(o["qty"] - o["filled_qty"] for o in orders if o["type"] == str(OrderType.MARKET))
    qty = whole_shares(p.qty - exiting)
    stop, leg = mg.protective_stop(p, p.plan, rules)
    target = p.plan.target_price
    if qty <= 0 or (stop is None and target is None):
        return None
    desired = _Desired(qty, stop, leg, target)
    return desired if m.price is None else _fit_to_price(p, m.price, desired, orders, rules)


def _fit_to_price(
    p: mg.Position, price: float, d: _Desired, orders: list[dict[str, Any]], rules: mg.Rules
) -> _Desired | None:
    """A stop at or above the market would fill at once and a target below it too: the run's exits handle
    those. Until they do, the protection already at the broker stays; without one, the loss-cut level (when
    it is below the market) is the safety net."""
    target = d.target if d.target is not None and d.target > price else None
    stop, leg = d.stop, d.stop_leg
    if stop is not None and stop >= price:
        if protective(orders):
            return KEEP
        cut = mg.loss_cut_level(p, rules) if rules.exits_enabled else None
        stop, leg = (cut, "loss_cut") if cut is not None and cut < price else (None, leg)
    if stop is None and target is None:
        return None
    return _Desired(d.qty, stop, leg, target)


def _matches(guarding: list[dict[str, Any]], desired: _Desired) -> bool:
    roots = {o["parent_broker_order_id"] or o["broker_order_id"] for o in guarding}
    if len(roots) != 1:
        return False
    stops = [o for o in guarding if o["type"] in ("stop", "stop_limit", "trailing_stop")]
    limits = [o for o in guarding if o["type"] == "limit"]
    return _leg_matches(stops, "stop_price", desired.stop, desired.qty) and _leg_matches(
        limits, "limit_price", desired.target, desired.qty
    )


def _leg_matches(orders: list[dict[str, Any]], price_column: str, price: float | None, qty: float) -> bool:
    """No order where no price is wanted; else exactly one, at that price and for that quantity."""
    if price is None:
        return not orders
    return len(orders) == 1 and abs(orders[0][price_column] - price) <= 1e-6 and abs(orders[0]["qty"] - qty) <= 1e-9


def protective(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The protective ones among working sell orders: every kind but market (market sells are exits)."""
    return [o for o in orders if o["type"] != str(OrderType.MARKET)]


def protective_orders(ctx: StepContext, book: str, symbol: str) -> list[dict[str, Any]]:
    return protective(repo.open_sell_orders(ctx.ledger, book, symbol))


def cancel_orders(ctx: StepContext, gateway: OrderGateway, orders: list[dict[str, Any]]) -> None:
    """Cancel working orders, then record what the broker says of them (intents included)."""
    if not orders:
        return
    broker = ctx.deps.broker
    # Each working order by its own id: a filled bracket entry is not cancellable, its legs are; cancelling one
    # leg of a group cancels the rest, and cancelling a done order is not an error.
    ids = sorted({o["broker_order_id"] for o in orders})
    for order_id in ids:
        broker.cancel(order_id)
        ctx.log.event("order_cancel", broker_order_id=order_id)
    roots = {o["parent_broker_order_id"] or o["broker_order_id"] for o in orders}
    root_ids = repo.client_order_ids(ctx.ledger, sorted(roots))
    unresolved = list(ids)
    for root, cid in sorted(root_ids.items()):
        order = broker.order_by_client_id(cid) if cid else None
        if order is not None:
            gateway.adopt(order)  # the group as the broker now has it, legs included
            unresolved = [i for i in unresolved if i != root and i not in {leg.broker_order_id for leg in order.legs}]
    if unresolved:
        with ctx.ledger.write():
            repo.mark_orders_canceled(ctx.ledger, unresolved, now=ctx.now)


def _protective_intent(ctx: StepContext, m: Managed, d: _Desired) -> OrderIntent:
    p = m.position
    earlier = [r for r in repo.position_intents(ctx.ledger, p.key) if r["step"] == PROTECTIVE_STEP]
    leg = LegKind.TARGET if d.target is not None and d.stop is not None else LegKind(d.stop_leg if d.stop else "target")
    parts = [f"stop {d.stop:.2f} ({d.stop_leg})" if d.stop else None, f"target {d.target:.2f}" if d.target else None]
    return OrderIntent.create(
        session_date=ctx.session_date,
        step=PROTECTIVE_STEP,
        book=Book(p.book),
        leg=leg,
        tier=2 if leg == LegKind.TARGET else 0,
        attempt=len(earlier),
        id_tier=0,
        key=f"{p.key}|{d.qty:g}|{d.stop}|{d.target}",  # new levels are a new order
        symbol=p.symbol,
        side=Side.SELL,
        qty=d.qty,
        **_protective_terms(d),
        reason=f"protective order for {d.qty:g} shares: " + ", ".join(x for x in parts if x),
        signal_id=m.signal_id,
        position_key=p.key,
        extra={"stop_leg": d.stop_leg} if d.stop is not None else {},
    )


def _protective_terms(d: _Desired) -> OrderTerms:
    """Good-till-cancelled: an OCO of the target limit and the stop, or whichever of the two there is."""
    if d.stop is not None and d.target is not None:
        return OrderTerms(
            type=OrderType.LIMIT, time_in_force=TimeInForce.GTC, order_class=OrderClass.OCO,
            take_profit_limit_price=to_tick(d.target), stop_loss_stop_price=to_tick(d.stop),
        )  # fmt: skip
    if d.stop is not None:
        return OrderTerms(type=OrderType.STOP, time_in_force=TimeInForce.GTC, stop_price=to_tick(d.stop))
    assert d.target is not None  # _desired returns no order with neither
    return OrderTerms(type=OrderType.LIMIT, time_in_force=TimeInForce.GTC, limit_price=to_tick(d.target))
