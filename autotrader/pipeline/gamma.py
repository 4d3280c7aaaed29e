"""``gamma`` and ``gamma_hedge``: gamma scalping (``policy.gamma``), in run-daily's intraday slots.

``gamma`` (a buying step): inside ``[size]``'s trading window, each name of ``[gamma] underlyings`` with no
gamma position (no structure not yet closed, and no shares of the last one left) gets one synthetic straddle:
its puts bought as one limit order through the options checks; its id ``gamma-<name>-<session>`` makes it
once a session at most, and structure and intent are stored together before the order goes out.

``gamma_hedge`` (with the exits, every slot while the session is open), for each name's latest gamma position:

- open: its whole result (the puts at their mid, the shares at the underlying's price) is measured; when an exit
  rule says so, the puts are sold and the shares with them; else the shares are brought to the neutral
  quantity once the delta is outside the band, by a day market order of shares (options never go at market);
- closed, with shares still held (a sale that did not fill, an expiry): the shares are sold;
- while any of its orders is working or in doubt, nothing more is sent for it.

Every order has its client order id from the structure and its attempt number (orders of the same purpose made
so far), so a rerun of a slot never sends one twice. The hedge's shares are the options book's: sync records
their fills there (the intent's book), and the management steps, which manage only the signals and rebalance
books, never touch them.
"""

from __future__ import annotations

from autotrader.domain.enums import Book, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.models import OrderIntent
from autotrader.domain.options import MULTIPLIER, OptionQuote, is_option_order, parse_occ, synthetic_straddle
from autotrader.domain.reports import Report, SkipLine
from autotrader.exports import fmt
from autotrader.ledger import options as store
from autotrader.ledger import repo
from autotrader.pipeline import option_chain
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.option_orders import (
    closed_for_entries,
    closing_attempts,
    closing_intent,
    expiry_chain,
    is_working,
    mid_value,
    option_rules,
    options_at_risk,
    place_all,
    plan_opening,
    store_openings,
)
from autotrader.pipeline.rules import rules_from_settings
from autotrader.policy import gamma as policy
from autotrader.policy import option_checks as checks
from autotrader.policy.option_chain import days_to_expiry

STEP, HEDGE_STEP, STRATEGY = "gamma", "gamma_hedge", "gamma"


def rules(ctx: StepContext) -> policy.GammaRules:
    return rules_from_settings(policy.GammaRules, (ctx.settings.gamma,))


def _shares_held(ctx: StepContext, name: str) -> float:
    position = repo.get_position(ctx.ledger, str(Book.OPTIONS), name)
    return position.qty if position is not None else 0.0


def latest_positions(ctx: StepContext) -> dict[str, store.StructureRow]:
    """Each name's latest gamma structure (the one its options-book shares belong to)."""
    out: dict[str, store.StructureRow] = {}
    for s in store.structures(ctx.ledger):
        if s.strategy == STRATEGY:
            out[s.underlying] = s  # in planning order: the last one wins
    return out


# -- entries -------------------------------------------------------------------------------------------------


def run(ctx: StepContext) -> Report:
    shut = closed_for_entries(ctx, ctx.settings.gamma.enabled, "gamma", "no straddle bought")
    if shut is not None:
        return shut
    report = ctx.report()
    r, ledger = rules(ctx), ctx.ledger
    latest = latest_positions(ctx)
    account = ctx.deps.broker.account()
    free_cash, at_risk = account.buying_power, options_at_risk(ledger)
    planned: list[tuple[store.StructureRow, OrderIntent]] = []
    for name in r.underlyings:
        last = latest.get(name)
        if last is not None and last.status not in ("closed", "abandoned"):
            continue
        if _shares_held(ctx, name) > 0:
            report.skipped.append(SkipLine(name, "the last straddle's shares are still held"))
            continue
        mine, spot = expiry_chain(ctx, name, r.dte_min, r.dte_max)
        put = policy.choose_put(mine, spot) if spot is not None else None
        if put is None or spot is None:
            report.skipped.append(SkipLine(name, f"no put near the money {r.dte_min} to {r.dte_max} days out"))
            continue
        structure = synthetic_straddle(put.contract, spot)
        percentile = None
        if r.iv_range is not None:
            percentile = option_chain.iv_standing(ctx, name, option_chain.current_iv30(ctx, name)).percentile
        case = checks.OptionCase(structure, {put.contract.symbol: put}, account.equity, at_risk, free_shares=0.0,
                                 free_cash=free_cash, rules=option_rules(ctx), iv_percentile=percentile,
                                 iv_range=r.iv_range, held=store.committed_contracts(ctx.ledger))  # fmt: skip
        built = plan_opening(
            ctx, case, structure_id=f"gamma-{name}-{ctx.session_date}", strategy=STRATEGY, step=STEP,
            extra={"entry_price": spot},
            describe=f"straddle at {put.contract.strike:g} as two puts {put.contract.symbol} and shares x{{units}} at "
                     "{net:.2f} for two puts",
        )  # fmt: skip
        if isinstance(built, str):
            report.skipped.append(SkipLine(name, built))
            continue
        row, _ = built
        planned.append(built)
        at_risk += row.risk
        free_cash -= (checks.hedge_cash(structure) + row.planned_net * MULTIPLIER) * row.units
    place_all(ctx, report, store_openings(ctx, planned), "straddle opening")
    return report.build(Report)


# -- hedging and exits ---------------------------------------------------------------------------------------


def result(ctx: StepContext, s: store.StructureRow, quotes: dict[str, OptionQuote] | None,
           price: float | None) -> tuple[float | None, policy.PnlSplit]:  # fmt: skip
    """(the puts' result now, dollars: realized once closed, at their mid while open, None without a market;
    the shares' result split into base and scalping)."""
    fills = store.structure_share_fills(ctx.ledger, s.structure_id)
    trades = [policy.ShareTrade(Side(f.side), f.qty, f.price, f.commission) for f in fills]
    shares = policy.split(trades, s.units, price)
    if s.status == "closed":
        return s.realized_pnl, shares
    value = mid_value(s, quotes) if quotes is not None else None
    if value is None or s.open_net is None:
        return None, shares
    return (value - s.open_net) * MULTIPLIER * s.units, shares


def _share_intent(ctx: StepContext, s: store.StructureRow, side: Side, qty: float, leg: LegKind, attempt: int,
                  reason: str) -> OrderIntent:  # fmt: skip
    close_at = ctx.session.close_at
    return OrderIntent.create(
        session_date=ctx.session_date, step=HEDGE_STEP, book=Book.OPTIONS, leg=leg, symbol=s.underlying, side=side,
        qty=float(qty), attempt=attempt, key=f"{s.structure_id}-shares", position_key=s.structure_id,
        reason=reason, type=OrderType.MARKET, time_in_force=TimeInForce.DAY, expires_at=close_at,
    )  # fmt: skip


def _plan_one(ctx: StepContext, s: store.StructureRow, r: policy.GammaRules,
              notes: list[str]) -> list[OrderIntent]:  # fmt: skip
    """The orders one name's gamma position needs now (module docstring)."""
    intents = repo.position_intents(ctx.ledger, s.structure_id)
    if any(is_working(i) for i in intents):
        notes.append(f"{s.underlying}: an order of {s.structure_id} is still working")
        return []
    option_side = [i for i in intents if is_option_order(i["symbol"], i["order_class"])]
    share_orders = len(intents) - len(option_side)
    held = _shares_held(ctx, s.underlying)
    quote = ctx.deps.market_data.latest_quote(s.underlying)
    price = quote.last if quote is not None else None
    if s.status in ("closed", "abandoned"):
        if held <= 0:
            return []
        closing = [i for i in option_side if i["leg"] != str(LegKind.ENTRY)]
        leg = LegKind(closing[-1]["leg"]) if closing else LegKind.TIME_EXIT
        notes.append(f"{s.underlying}: {s.structure_id} is closed; its {held:g} shares are sold")
        return [_share_intent(ctx, s, Side.SELL, held, leg, share_orders, f"{s.structure_id} closed: its shares")]
    if s.status != "open" or price is None:
        return []
    (contract,) = (parse_occ(leg["symbol"]) for leg in s.legs)
    quotes = option_chain.chains(ctx).option_quotes([contract])
    puts, shares = result(ctx, s, quotes, price)
    put = quotes.get(contract.symbol)
    if puts is None or put is None or put.delta is None:
        notes.append(f"{s.underlying}: no market in {contract.symbol}: not hedged this slot")
        return []
    risk = s.risk
    total = puts + shares.shares
    delta = policy.position_delta(put.delta, s.units, held)
    straddle, scalping = (fmt.usd(x, signed=True, cents=True) for x in (puts + shares.base, shares.scalping))
    notes.append(f"{s.underlying}: delta {delta:+.0f} shares with {held:g} held; options (straddle) P&L {straddle}, "
                 f"scalping P&L {scalping}")  # fmt: skip
    found = policy.exit_reason(total, risk, days_to_expiry(contract.expiry, ctx.now), r)
    if found is not None:
        _, attempts = closing_attempts(option_side)
        structure = synthetic_straddle(contract, float(s.extra.get("entry_price") or price))
        close = closing_intent(ctx, s, structure, quotes, found, HEDGE_STEP, attempts)
        out = [close] if close is not None else []
        if held > 0:
            out.append(_share_intent(ctx, s, Side.SELL, held, found[0], share_orders, f"{found[1]}: its shares"))
        return out
    trade = policy.hedge(put.delta, s.units, held, r.hedge_band)
    if trade == 0:
        return []
    side = Side.BUY if trade > 0 else Side.SELL
    qty = min(abs(trade), held) if side == Side.SELL else trade  # never more than held: the account is never short
    reason = (f"delta {delta:+.0f} shares outside +/-{r.hedge_band * MULTIPLIER * s.units:g}: {side} {qty:g} to "
              f"{policy.neutral_shares(put.delta, s.units)} held")  # fmt: skip
    return [_share_intent(ctx, s, side, qty, LegKind.HEDGE, share_orders, reason)] if qty > 0 else []


def run_hedge(ctx: StepContext) -> Report:
    report = ctx.report()
    positions = latest_positions(ctx)
    if not positions:
        report.notes.append("no gamma positions")
        return report.build(Report)
    if not ctx.session.is_open:
        report.notes.append("market closed: gamma positions are hedged and closed in the session")
        return report.build(Report)
    r = rules(ctx)
    intents: list[OrderIntent] = []
    for s in positions.values():
        intents.extend(_plan_one(ctx, s, r, report.notes))
    place_all(ctx, report, intents, "gamma")
    return report.build(Report)

