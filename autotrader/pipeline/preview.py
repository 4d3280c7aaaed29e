"""``preview bracket`` and ``preview risk``: what an order would be and every rule ``size`` would apply to
it, from the same book, risk state and rules a ``size`` run reads now. Nothing is sent, nothing is stored.
"""

from __future__ import annotations

from autotrader.domain.enums import TimeInForce
from autotrader.domain.money import to_tick
from autotrader.domain.reports import PreviewReport
from autotrader.errors import InputError
from autotrader.pipeline import size
from autotrader.pipeline.context import StepContext
from autotrader.policy import sizing

CATEGORIES = ("long_term", "swing", "day_trade")


def _overlays(ctx: StepContext, symbol: str, qty: float, category: str, price: float | None) -> dict[str, object]:
    tif, _ = size.entry_timing(ctx)
    quote, asset, sector, days = size.market_inputs(ctx, symbol, tif or TimeInForce.DAY)
    if price is not None:  # the owner's price stands in for the quote's ask (and bid, last)
        quote = sizing.QuoteIn(bid=price, ask=price, last=price, age_seconds=0.0)
    account = ctx.deps.broker.account()
    book, risk = size.book_state(ctx, account), size.risk_state(ctx, account)
    signal = sizing.SignalIn(0, symbol, category, "buy", 10 if category == "long_term" else None, None, None, None)
    case = sizing.Case(signal, quote, asset, sector, days, book, risk, size.rules_from(ctx))
    reference = quote.ask if quote is not None and quote.ask > 0 else None
    notional = qty * reference if reference is not None else 0.0
    found = sizing.overlays(case, notional)
    allowed_qty = found.allowed_dollars / reference if reference else 0.0
    return {
        "symbol": symbol,
        "qty": qty,
        "price": reference,
        "notional": round(notional, 2),
        "portfolio_pct": round(notional / book.portfolio_value * 100, 4) if book.portfolio_value > 0 else None,
        "allowed_qty": round(allowed_qty, 6),
        "blocked_by": list(found.blocked_by),
        "checks": [s.to_json() for s in found.checks],
        "multipliers": [s.to_json() for s in found.multipliers],
        "caps": [s.to_json() for s in found.caps],
    }


def check_risk(qty: float, category: str) -> None:
    """The options of ``preview risk``, checked before anything opens (``InputError``: exit 2)."""
    _positive("--qty", qty)
    if category not in CATEGORIES:
        raise InputError(f"--category {category!r}: unknown", hint=f"allowed: {', '.join(CATEGORIES)}")


def check_bracket(qty: float, stop_pct: float, tp_pct: float, price: float | None) -> None:
    """The options of ``preview bracket``, checked before anything opens (``InputError``: exit 2)."""
    _positive("--qty", qty)
    if not 0 < stop_pct < 100:
        raise InputError(f"--stop-pct {stop_pct:g}: must be between 0 and 100 (exclusive)")
    _positive("--tp-pct", tp_pct)
    if price is not None:
        _positive("--price", price)


def risk(ctx: StepContext, *, symbol: str, qty: float, category: str) -> PreviewReport:
    check_risk(qty, category)
    report = ctx.report()
    fields = _overlays(ctx, symbol.upper(), qty, category, None)
    report.notes.append(_summary(fields))
    return report.build(PreviewReport, **fields)


def bracket(
    ctx: StepContext, *, symbol: str, qty: float, stop_pct: float, tp_pct: float, price: float | None
) -> PreviewReport:
    check_bracket(qty, stop_pct, tp_pct, price)
    report = ctx.report()
    fields = _overlays(ctx, symbol.upper(), qty, "swing", price)
    base = fields["price"]
    if base is None:
        raise InputError(f"{symbol}: no price to build the bracket on", hint="pass --price X")
    assert isinstance(base, float)
    stop = to_tick(base * (1 - stop_pct / 100), direction="down")
    target = to_tick(base * (1 + tp_pct / 100), direction="up")
    risk_usd, reward_usd = qty * (base - stop), qty * (target - base)
    fields["bracket"] = {
        "entry": "market", "time_in_force": "gtc", "stop_price": stop, "take_profit": target,
        "risk_usd": round(risk_usd, 2), "reward_usd": round(reward_usd, 2),
        "reward_risk": round(reward_usd / risk_usd, 4) if risk_usd > 0 else None,
    }  # fmt: skip
    report.notes.append(
        f"bracket: buy {qty:g} {fields['symbol']} at market, stop {stop:g}, take profit {target:g}: risk "
        f"${risk_usd:,.2f}, reward ${reward_usd:,.2f}; nothing sent"
    )
    report.notes.append(_summary(fields))
    return report.build(PreviewReport, **fields)


def _positive(option: str, value: float) -> None:
    if not value > 0:
        raise InputError(f"{option} {value:g}: must be > 0")


def _summary(fields: dict[str, object]) -> str:
    blocked = fields["blocked_by"]
    assert isinstance(blocked, list)
    if blocked:
        return f"size would not buy {fields['symbol']} now: " + "; ".join(str(b) for b in blocked)
    return (
        f"{fields['qty']:g} shares = ${fields['notional']:,.2f}; the caps allow {fields['allowed_qty']:g} "
        "(nothing sent)"
    )
