"""Before an options structure is opened: the pre-trade checks on its legs' quotes, the size by maximum loss,
and the rule that no short leg is ever naked. Pure; each rule a small function, applied in order, each leaving
a step in the trace (``policy.sizing.TraceStep``, the shape ``size``'s decisions have) and the first refusal
stopping the decision.

In order:

0. ``netting``: no leg trades a contract the book already holds (or is opening) the other way: a broker nets
   a contract's positions, and two structures on opposite sides of one would leave neither closable.
1. ``quotes_present``: every leg has a quote with a positive ask (a leg without a market cannot be priced).
2. ``spread``: each leg's bid-ask width is at most ``max_spread_usd`` per share and ``max_spread_pct`` of its mid.
3. ``liquidity``: each leg's open interest is at least ``min_open_interest`` and its volume today at least
   ``min_volume``.
4. ``iv_percentile``: when the strategy asks for a range, the underlying's IV percentile is inside it (an
   unknown percentile, too little recorded history, refuses).
5. ``premium``: a debit of at most ``max_premium_per_contract`` dollars per unit (credits pass).
6. ``max_loss``: the structure's maximum loss is bounded (a structure that can lose without limit is refused
   whatever covers it) and the units are as many as ``max_loss_per_trade_pct`` of the portfolio allows, then
   as many as the room left under ``max_allocation_pct`` (the maximum losses of the open options structures
   count against it). A covered call is the exception: the shares and their risk are already held, so it is
   one contract per 100 free shares.
7. ``covered``: each short call not matched by a long call of the structure needs 100 free shares per unit;
   in free cash per unit it needs what a broker holds against its short legs (``uncovered``: a credit
   spread's width, an unmatched short put's strike x 100) and its debit; the units are cut to what the shares
   and cash cover, so the broker does not refuse the order for buying power. Never a naked short. A
   structure that buys shares beside its puts (the synthetic straddle) keeps the cash its hedge may come to
   need: its puts' strikes x 100 per unit (``hedge_cash``).

A structure that passes gets its units and the net limit price (``net_limit``): the legs' net mid moved toward
the natural price (paying each ask, receiving each bid) by ``concession_pct`` of the way, in cents. Options are
only ever traded with limit orders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from autotrader.domain.enums import Side, StructureKind
from autotrader.domain.options import MULTIPLIER, OptionQuote, Structure
from autotrader.policy.option_payoff import Profile, profile
from autotrader.policy.sizing import Inputs, TraceStep


@dataclass(frozen=True)
class OptionRules:
    max_spread_usd: float = 0.50
    max_spread_pct: float = 10.0
    min_open_interest: int = 100
    min_volume: int = 10
    max_premium_per_contract: float = 1_000.0
    max_loss_per_trade_pct: float = 1.0
    max_allocation_pct: float = 10.0
    concession_pct: float = 50.0


@dataclass(frozen=True)
class IvPercentileRange:
    """A strategy's rules that may ask entries for an IV-percentile range (the whole range: nothing asked)."""

    iv_percentile_min: float = 0.0
    iv_percentile_max: float = 1.0

    @property
    def iv_range(self) -> tuple[float, float] | None:
        """The IV-percentile range entries need, None when it is the whole range (nothing to check)."""
        if self.iv_percentile_min <= 0.0 and self.iv_percentile_max >= 1.0:
            return None
        return self.iv_percentile_min, self.iv_percentile_max


@dataclass(frozen=True)
class OptionCase:
    """Everything one decision reads."""

    structure: Structure
    quotes: Mapping[str, OptionQuote]  # by OCC symbol
    portfolio_value: float
    options_at_risk: float  # the maximum losses of the open options structures, dollars
    free_shares: float  # of the underlying, not already covering a short call
    free_cash: float  # not already securing a short put
    rules: OptionRules
    iv_percentile: float | None = None
    iv_range: tuple[float, float] | None = None  # what the strategy asks of the IV percentile (0 to 1)
    held: Mapping[str, float] = field(default_factory=dict)  # contracts the book holds or is opening (short -)


@dataclass(frozen=True)
class OptionDecision:
    units: int  # 0: refused
    net_limit: float | None  # per share: + a debit paid, - a credit received
    profile: Profile | None  # per unit, at the net limit
    steps: tuple[TraceStep, ...]
    refused: str | None = None


@dataclass(frozen=True)
class _State:
    case: OptionCase
    net_limit: float | None = None
    profile: Profile | None = None
    units: int = 0


Rule = Callable[[_State], tuple[_State, TraceStep, str | None]]


def _fmt(x: float) -> str:
    return f"{x:,.2f}"


def net_prices(structure: Structure, quotes: Mapping[str, OptionQuote]) -> tuple[float, float]:
    """(net mid, natural) per share: a bought leg at its mid / ask, a sold one at minus its mid / bid."""
    mid = natural = 0.0
    for leg in structure.legs:
        q = quotes[leg.contract.symbol]
        mid += leg.sign * leg.ratio * q.mid
        natural += leg.ratio * (q.ask if leg.side == Side.BUY else -q.bid)
    return mid, natural


def net_limit(structure: Structure, quotes: Mapping[str, OptionQuote], concession_pct: float) -> float:
    """The net limit per share: the mid moved ``concession_pct`` of the way to the natural price, in cents,
    rounded toward the natural price (a cent short of the point a market maker fills at would leave the order
    resting for nothing)."""
    mid, natural = net_prices(structure, quotes)
    raw = (mid + (natural - mid) * concession_pct / 100.0) * 100
    cents = math.ceil(raw - 1e-6) if natural >= mid else math.floor(raw + 1e-6)
    return cents / 100


def netting(s: _State) -> tuple[_State, TraceStep, str | None]:
    """No leg trades a contract the book holds (or is opening) the other way: a broker nets one contract's
    positions, so two structures on opposite sides of it would leave neither one's closing order valid."""
    opposed = [leg.contract.symbol for leg in s.case.structure.legs
               if s.case.held.get(leg.contract.symbol, 0.0) * leg.sign < 0]  # fmt: skip
    inputs: Inputs = {"opposed": ", ".join(opposed) or None}
    if opposed:
        why = f"{', '.join(opposed)} held the other way by another structure (a broker nets a contract's positions)"
        return s, TraceStep("netting", inputs, f"skip: {why}"), why
    return s, TraceStep("netting", inputs, "no leg against a held contract"), None


def quotes_present(s: _State) -> tuple[_State, TraceStep, str | None]:
    missing = [leg.contract.symbol for leg in s.case.structure.legs
               if (q := s.case.quotes.get(leg.contract.symbol)) is None or q.ask <= 0]  # fmt: skip
    step = TraceStep("quotes_present", {"legs": len(s.case.structure.legs), "missing": ", ".join(missing) or None},
                     "every leg quoted" if not missing else f"skip: no market in {', '.join(missing)}")  # fmt: skip
    if missing:
        return s, step, f"no market in {', '.join(missing)}"
    limit = net_limit(s.case.structure, s.case.quotes, s.case.rules.concession_pct)
    return replace(s, net_limit=limit), step, None


def spread(s: _State) -> tuple[_State, TraceStep, str | None]:
    rules = s.case.rules
    worst = None
    for leg in s.case.structure.legs:
        q = s.case.quotes[leg.contract.symbol]
        pct = q.width / q.mid * 100 if q.mid > 0 else math.inf
        if q.width > rules.max_spread_usd + 1e-9 or pct > rules.max_spread_pct + 1e-9:
            worst = (leg.contract.symbol, q.width, pct)
            break
    inputs: Inputs = {"max_spread_usd": rules.max_spread_usd, "max_spread_pct": rules.max_spread_pct}
    if worst is None:
        return s, TraceStep("spread", inputs, "every leg's bid-ask width inside the limits"), None
    why = (f"{worst[0]} bid-ask {_fmt(worst[1])} ({worst[2]:.1f}% of mid) is wider than "
           f"{_fmt(rules.max_spread_usd)} or {rules.max_spread_pct:g}%")  # fmt: skip
    return s, TraceStep("spread", {**inputs, "leg": worst[0], "width": worst[1]}, f"skip: {why}"), why


def liquidity(s: _State) -> tuple[_State, TraceStep, str | None]:
    rules = s.case.rules
    inputs: Inputs = {"min_open_interest": rules.min_open_interest, "min_volume": rules.min_volume}
    for leg in s.case.structure.legs:
        q = s.case.quotes[leg.contract.symbol]
        oi, volume = q.open_interest or 0, q.volume or 0
        if oi < rules.min_open_interest or volume < rules.min_volume:
            why = (f"{leg.contract.symbol} open interest {oi:,} / volume {volume:,} under "
                   f"{rules.min_open_interest:,} / {rules.min_volume:,}")  # fmt: skip
            return s, TraceStep("liquidity", {**inputs, "leg": leg.contract.symbol}, f"skip: {why}"), why
    return s, TraceStep("liquidity", inputs, "every leg's open interest and volume at the minima or above"), None


def iv_percentile(s: _State) -> tuple[_State, TraceStep, str | None]:
    wanted, found = s.case.iv_range, s.case.iv_percentile
    low, high = wanted if wanted is not None else (None, None)
    inputs: Inputs = {"iv_percentile": found, "low": low, "high": high}
    if wanted is None:
        return s, TraceStep("iv_percentile", inputs, "the strategy asks nothing of the IV percentile"), None
    if found is None:
        why = "no IV percentile yet (too few sessions of recorded IV)"
        return s, TraceStep("iv_percentile", inputs, f"skip: {why}"), why
    if not wanted[0] <= found <= wanted[1]:
        why = f"IV percentile {found:.0%} outside {wanted[0]:.0%} to {wanted[1]:.0%}"
        return s, TraceStep("iv_percentile", inputs, f"skip: {why}"), why
    return s, TraceStep("iv_percentile", inputs, f"IV percentile {found:.0%} inside the range"), None


def premium(s: _State) -> tuple[_State, TraceStep, str | None]:
    assert s.net_limit is not None
    per_unit = s.net_limit * MULTIPLIER
    cap = s.case.rules.max_premium_per_contract
    inputs: Inputs = {"net_limit": s.net_limit, "debit_per_unit": round(per_unit, 2), "max": cap}
    if per_unit > cap + 1e-9:
        why = f"a debit of ${_fmt(per_unit)} per unit is over the ${_fmt(cap)} maximum premium"
        return s, TraceStep("premium", inputs, f"skip: {why}"), why
    effect = "a credit" if per_unit < 0 else f"a debit of ${_fmt(per_unit)} per unit, within ${_fmt(cap)}"
    return s, TraceStep("premium", inputs, effect), None


def max_loss(s: _State) -> tuple[_State, TraceStep, str | None]:
    assert s.net_limit is not None
    case = s.case
    shape = profile(case.structure, s.net_limit)
    if case.structure.kind == StructureKind.COVERED_CALL:
        # The shares' risk is already held: a covered call is sized by the shares it covers (``covered``).
        # ``covered`` refuses it when fewer than 100 shares are free.
        units = max(int(case.free_shares // MULTIPLIER), 1)
        step = TraceStep("max_loss", {"free_shares": case.free_shares},
                         "a covered call: one contract per 100 shares held")  # fmt: skip
        return replace(s, profile=shape, units=units), step, None
    if shape.max_loss is None:
        why = "the structure can lose without limit"
        return s, TraceStep("max_loss", {"max_loss_per_unit": None}, f"skip: {why}"), why
    per_trade = case.portfolio_value * case.rules.max_loss_per_trade_pct / 100.0
    room = max(case.portfolio_value * case.rules.max_allocation_pct / 100.0 - case.options_at_risk, 0.0)
    budget = min(per_trade, room)
    units = int(budget // shape.max_loss) if shape.max_loss > 0 else 0
    inputs: Inputs = {"max_loss_per_unit": round(shape.max_loss, 2), "per_trade": round(per_trade, 2),
              "allocation_room": round(room, 2)}  # fmt: skip
    if units < 1:
        why = (f"one unit risks ${_fmt(shape.max_loss)}, more than the ${_fmt(budget)} the limits leave "
               f"(per trade ${_fmt(per_trade)}, allocation room ${_fmt(room)})")  # fmt: skip
        return s, TraceStep("max_loss", inputs, f"skip: {why}"), why
    effect = f"{units} unit(s) at ${_fmt(shape.max_loss)} maximum loss each, within ${_fmt(budget)}"
    return replace(s, profile=shape, units=units), TraceStep("max_loss", inputs, effect), None


def uncovered(structure: Structure) -> tuple[int, float]:
    """Per unit: (short calls no long call of the structure covers, the cash a broker holds against its short
    legs). Per right, the shorts are matched with the longs in order (puts from the highest strike down, calls
    from the lowest up), as brokers pair a spread: a matched short owes the strikes' distance when its long is
    further out of the money (a credit spread: the most it can lose before the credit), nothing when the long is
    nearer (a debit spread, whose cost is its debit); an unmatched short put owes its strike x 100."""
    owed = 0.0
    naked_calls = 0
    for is_call in (False, True):
        shorts = sorted((leg.contract.strike for leg in structure.legs if leg.contract.is_call == is_call
                         for _ in range(leg.ratio) if leg.side == Side.SELL), reverse=not is_call)  # fmt: skip
        longs = sorted((leg.contract.strike for leg in structure.legs if leg.contract.is_call == is_call
                        for _ in range(leg.ratio) if leg.side == Side.BUY), reverse=not is_call)  # fmt: skip
        for i, strike in enumerate(shorts):
            if i < len(longs):
                owed += max(longs[i] - strike if is_call else strike - longs[i], 0.0) * MULTIPLIER
            elif is_call:
                naked_calls += 1
            else:
                owed += strike * MULTIPLIER
    held = round(structure.shares / MULTIPLIER)  # the shares a covered call holds cover its own call
    return max(naked_calls - held, 0), owed


def hedge_cash(structure: Structure) -> float:
    """Per unit: the cash the shares of a structure that buys them beside its puts may come to cost (the
    synthetic straddle's hedge: up to 100 shares per long put, held below the strike, so at most the strike
    x 100 each). Shares that cover a short call are held already and cost nothing more."""
    if not structure.shares or any(leg.contract.is_call and leg.side == Side.SELL for leg in structure.legs):
        return 0.0
    return sum(leg.ratio * leg.contract.strike * MULTIPLIER for leg in structure.legs
               if not leg.contract.is_call and leg.side == Side.BUY)  # fmt: skip


def _naked_puts(structure: Structure) -> bool:
    """Whether a short put of the structure has no long put to pair with (only cash secures it)."""
    puts = [leg for leg in structure.legs if not leg.contract.is_call]
    sold = sum(leg.ratio for leg in puts if leg.side == Side.SELL)
    return sold > sum(leg.ratio for leg in puts if leg.side == Side.BUY)


def covered(s: _State) -> tuple[_State, TraceStep, str | None]:
    case = s.case
    calls, cash_per_unit = uncovered(case.structure)
    bought = hedge_cash(case.structure)
    shares_needed = calls * MULTIPLIER + (case.structure.shares if not bought else 0)
    assert s.net_limit is not None
    cash_per_unit += bought + max(s.net_limit, 0.0) * MULTIPLIER  # a debit is paid in cash too
    units = s.units
    if shares_needed:
        units = min(units, int(case.free_shares // shares_needed))
    if cash_per_unit:
        units = min(units, int(case.free_cash // cash_per_unit))
    inputs: Inputs = {"shares_per_unit": shares_needed, "cash_per_unit": cash_per_unit, "free_shares": case.free_shares,
              "free_cash": round(case.free_cash, 2)}  # fmt: skip
    if units < 1:
        if shares_needed and case.free_shares < shares_needed:
            why = (f"a short call would be naked: each unit needs {shares_needed:,} shares, "
                   f"{case.free_shares:,.0f} are free")  # fmt: skip
        elif _naked_puts(case.structure):
            why = (f"a short put would be naked: each unit needs ${_fmt(cash_per_unit)} in cash, "
                   f"${_fmt(case.free_cash)} is free")  # fmt: skip
        else:
            what = "the hedge's shares, " if bought else ""
            why = (f"not enough cash: each unit needs ${_fmt(cash_per_unit)} ({what}its debit and what the broker "
                   f"holds against its short legs), ${_fmt(case.free_cash)} is free")  # fmt: skip
        return s, TraceStep("covered", inputs, f"skip: {why}"), why
    effect = "no short leg" if not (shares_needed or cash_per_unit) else f"{units} unit(s) covered"
    return replace(s, units=units), TraceStep("covered", inputs, effect), None


CHECKS: tuple[Rule, ...] = (netting, quotes_present, spread, liquidity, iv_percentile, premium, max_loss, covered)


def decide(case: OptionCase) -> OptionDecision:
    """The rules in order (module docstring); the first refusal stops the decision."""
    state = _State(case)
    steps: list[TraceStep] = []
    for rule in CHECKS:
        state, step, refused = rule(state)
        steps.append(step)
        if refused is not None:
            return OptionDecision(0, state.net_limit, state.profile, tuple(steps), refused)
    return OptionDecision(state.units, state.net_limit, state.profile, tuple(steps))
