"""``options chain`` and the end-of-day ``options_iv`` step: an underlying's chain as the data source quotes it
now, its 30-day IV, and that IV's standing among the sessions recorded before today.

``options_iv`` runs in run-daily's end-of-day slot: for each of ``[options] iv_underlyings`` it reads the
chain after the close, works out the 30-day IV (``policy.option_chain``) and records it for the session, once
(a rerun keeps the first). Gather (the chains) → plan (the rows, frozen) → apply (one write).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from autotrader.clock import ET
from autotrader.domain.options import OptionQuote
from autotrader.domain.reports import OptionChainReport, Report
from autotrader.errors import ConfigError, InputError
from autotrader.ledger import options as store
from autotrader.pipeline.context import StepContext
from autotrader.policy import option_chain as chain_policy
from autotrader.ports import OptionChains

# The chain read for the 30-day IV: the expiries around 30 days, and the next beyond them.
IV_WINDOW_DAYS = 75
RIGHTS = ("call", "put", "both")


def chains(ctx: StepContext) -> OptionChains:
    """The data source's option chains, or a ConfigError naming the setting when it serves none."""
    if ctx.deps.option_chains is None:
        raise ConfigError(
            f"[data] kind = {ctx.settings.data.kind!r} serves no option chains",
            hint="options need kind = 'synthetic' or 'polygon'",
        )
    return ctx.deps.option_chains


def expiry_closes(ctx: StepContext, quotes: list[OptionQuote]) -> dict[date, datetime]:
    calendar = ctx.deps.calendar
    return {e: calendar.session_close(e) for e in {q.contract.expiry for q in quotes} if calendar.is_session(e)}


def current_iv30(ctx: StepContext, underlying: str) -> float | None:
    """The underlying's 30-day IV from its chain now; None when the chain gives none."""
    today = ctx.now.astimezone(ET).date()
    quotes = chains(ctx).option_chain(underlying, today, today + timedelta(days=IV_WINDOW_DAYS))
    return chain_policy.iv30(chain_policy.atm_ivs(quotes, expiry_closes(ctx, quotes), ctx.now))


@dataclass(frozen=True)
class IvStanding:
    rank: float | None
    percentile: float | None
    sessions: int


def iv_standing(ctx: StepContext, underlying: str, current: float | None) -> IvStanding:
    """Where ``current`` stands among the recorded 30-day IVs of the sessions before today (None, None while
    fewer than ``[options] iv_min_history`` are recorded)."""
    settings = ctx.settings.options
    history = store.iv_history(ctx.ledger, underlying, before=ctx.session_date, sessions=settings.iv_history_sessions)
    if current is None or len(history) < settings.iv_min_history:
        return IvStanding(None, None, len(history))
    values = [row.iv30 for row in history]
    return IvStanding(chain_policy.iv_rank(values, current), chain_policy.iv_percentile(values, current), len(history))


def check_chain(dte_min: int, dte_max: int, strikes: int, right: str) -> None:
    """The options of ``options chain``, checked before anything opens (``InputError``: exit 2)."""
    if not 0 <= dte_min <= dte_max <= 1000:
        raise InputError(f"--dte {dte_min}-{dte_max}: need 0 <= MIN <= MAX <= 1000 days")
    if not 1 <= strikes <= 200:
        raise InputError(f"--strikes {strikes}: between 1 and 200 strikes each side of the money")
    if right not in RIGHTS:
        raise InputError(f"--right {right!r}: unknown", hint=f"allowed: {', '.join(RIGHTS)}")


def run(ctx: StepContext, *, symbol: str, dte_min: int, dte_max: int, strikes: int, right: str) -> OptionChainReport:
    check_chain(dte_min, dte_max, strikes, right)
    symbol = symbol.upper()
    source = chains(ctx)
    if not ctx.deps.market_data.has_symbol(symbol):
        raise InputError(f"{symbol}: the data source does not know this symbol")
    report = ctx.report()
    today = ctx.now.astimezone(ET).date()
    quotes = source.option_chain(symbol, today + timedelta(days=dte_min), today + timedelta(days=dte_max))
    current = current_iv30(ctx, symbol)
    standing = iv_standing(ctx, symbol, current)
    terms = chain_policy.atm_ivs(quotes, expiry_closes(ctx, quotes), ctx.now)
    spot = next((q.underlying_price for q in quotes if q.underlying_price is not None), None)
    shown = chain_policy.near_the_money(quotes, spot, strikes) if spot is not None else quotes
    if right != "both":
        shown = [q for q in shown if str(q.contract.right) == right]
    if not quotes:
        report.notes.append(f"{symbol}: no listed options expire {dte_min} to {dte_max} days from today")
    if standing.rank is None:
        report.notes.append(
            f"IV rank: {standing.sessions} session(s) recorded, {ctx.settings.options.iv_min_history} needed "
            "([options] iv_underlyings records them after each close)"
        )
    by_expiry = {t.expiry: t for t in terms}
    return report.build(
        OptionChainReport,
        underlying=symbol,
        underlying_price=spot,
        quoted_at=quotes[0].quoted_at.isoformat() if quotes else None,
        iv30=_round(current),
        iv_rank=_round(standing.rank),
        iv_percentile=_round(standing.percentile),
        iv_sessions=standing.sessions,
        expiries=[
            {"expiry": e.isoformat(), "dte": chain_policy.days_to_expiry(e, ctx.now),
             "atm_iv": _round(by_expiry[e].atm_iv) if e in by_expiry else None,
             "atm_strike": by_expiry[e].atm_strike if e in by_expiry else None}
            for e in sorted({q.contract.expiry for q in quotes})
        ],  # fmt: skip
        contracts=[_contract(q) for q in shown],
    )


def _round(value: float | None, places: int = 6) -> float | None:
    return None if value is None else round(value, places)


def _contract(q: OptionQuote) -> dict[str, object]:
    return {
        "symbol": q.contract.symbol,
        "expiry": q.contract.expiry.isoformat(),
        "right": str(q.contract.right),
        "strike": q.contract.strike,
        "bid": q.bid,
        "ask": q.ask,
        "mid": round(q.mid, 4),
        "iv": _round(q.iv),
        "delta": _round(q.delta),
        "gamma": _round(q.gamma),
        "theta": _round(q.theta),
        "vega": _round(q.vega),
        "open_interest": q.open_interest,
        "volume": q.volume,
    }


# -- the end-of-day step -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IvPlan:
    session_date: str
    rows: tuple[tuple[str, float], ...]  # (underlying, iv30) to record
    missing: tuple[str, ...]  # underlyings whose chain gave no 30-day IV


def iv_underlyings(ctx: StepContext) -> list[str]:
    """The underlyings whose 30-day IV is recorded: ``[options] iv_underlyings`` and, with the wheel or gamma
    on, their names (the wheel ranks its names by IV percentile; gamma may ask for a range of it)."""
    names = list(ctx.settings.options.iv_underlyings)
    if ctx.settings.wheel.enabled:
        names += [n for n in ctx.settings.wheel.underlyings if n not in names]
    if ctx.settings.gamma.enabled:
        names += [n for n in ctx.settings.gamma.underlyings if n not in names]
    return names


def plan_iv(ctx: StepContext) -> IvPlan | None:
    """What to record now: None unless a session has closed today and there are underlyings to record."""
    underlyings = iv_underlyings(ctx)
    state = ctx.session
    if not underlyings or state.session_date is None or ctx.now < ctx.deps.calendar.session_close(state.session_date):
        return None
    found = {u: current_iv30(ctx, u) for u in underlyings}
    return IvPlan(
        state.session_date.isoformat(),
        tuple((u, iv) for u, iv in found.items() if iv is not None),
        tuple(u for u, iv in found.items() if iv is None),
    )


def run_iv(ctx: StepContext) -> Report:
    report = ctx.report()
    if not iv_underlyings(ctx):
        report.notes.append("[options] iv_underlyings is empty (and no wheel names): nothing to record")
        return report.build(Report)
    plan = plan_iv(ctx)
    if plan is None:
        report.notes.append("no session has closed today: the 30-day IV is recorded after a close")
        return report.build(Report)
    stored = []
    if not ctx.dry_run:
        with ctx.ledger.write():
            stored = [u for u, iv in plan.rows if store.record_iv(ctx.ledger, u, plan.session_date, iv, now=ctx.now)]
    for underlying, iv in plan.rows:
        kept = "recorded" if underlying in stored else "would record" if ctx.dry_run else "already recorded"
        report.notes.append(f"{underlying}: 30-day IV {iv:.2%} {kept} for {plan.session_date}")
    for underlying in plan.missing:
        report.notes.append(f"{underlying}: no 30-day IV (the chain has no quotes near the money)")
    return report.build(Report)
