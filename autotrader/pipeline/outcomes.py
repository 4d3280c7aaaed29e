"""Outcomes for every signal, traded or not: forward returns, excess over SPY, excursions, first touch, and
the pick's rule exit. Computed only from bars complete at the as-of instant; an incomplete horizon stays
``pending`` and is recomputed by the next refresh, a complete one is final.

Shared by ``rehydrate`` (which stores them) and ``scorecard`` (which reads them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from autotrader.clock import ET, MarketCalendar
from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext
from autotrader.policy import outcomes as policy

BENCHMARK = "SPY"
# Daily bars are fetched from a little before the earliest entry: enough for the entry session.
LOOKBACK = timedelta(days=10)


@dataclass(frozen=True)
class SymbolHistory:
    """One symbol's complete daily bars, aligned SPY, and each bar's session open instant."""

    bars: policy.Bars
    spy: policy.BenchmarkBars | None
    opens: list[datetime]

    def complete_from(self, entry_idx: int) -> int:
        return len(self.bars) - entry_idx


def load_history(ctx: StepContext, symbol: str, start: date) -> SymbolHistory | None:
    market = ctx.deps.market_data  # type: ignore[attr-defined]
    calendar: MarketCalendar = ctx.deps.calendar  # type: ignore[attr-defined]
    if not market.has_symbol(symbol):
        return None
    end = ctx.now.astimezone(ET).date()
    frame = market.daily_bars(symbol, start, end)
    if frame.empty:
        return SymbolHistory(policy.Bars([], [], [], [], []), None, [])
    bars = policy.Bars.from_frame(frame)
    spy_frame = market.daily_bars(BENCHMARK, start, end) if market.has_symbol(BENCHMARK) else None
    spy = policy.BenchmarkBars.from_frame(spy_frame, bars.dates) if spy_frame is not None else None
    opens = [calendar.session_open(bars.session_date(i)) for i in range(len(bars))]
    return SymbolHistory(bars, spy, opens)


def entry_index(history: SymbolHistory, at: datetime) -> int | None:
    """The session whose open is the first at or after ``at`` among the complete bars (None: not yet)."""
    if not history.opens:
        return None
    return policy.entry_session_index(history.opens, at)


def risk_per_share(ctx: StepContext, signal: dict[str, Any], entry_price: float) -> float:
    """1R: the distance to the signal's stop, else ``[scorecard] risk_pct`` of the entry for its category."""
    if signal["stop"] is not None:
        distance = abs(entry_price - signal["stop"])
        if distance > 0:
            return distance
    return entry_price * ctx.settings.scorecard.risk_pct.of(signal["category"]) / 100


def horizon_sessions(ctx: StepContext, signal: dict[str, Any]) -> int:
    if signal["horizon_days"]:
        return int(signal["horizon_days"])
    return int(ctx.settings.scorecard.default_horizon_sessions.of(signal["category"]))


def rule_exit_from(
    ctx: StepContext, signal: dict[str, Any], history: SymbolHistory, entry_idx: int, entry_price: float
) -> policy.RuleExit:
    return policy.rule_exit(
        signal["side"],
        entry_idx,
        entry_price,
        history.bars,
        signal["stop"],
        signal["target"],
        horizon_sessions(ctx, signal),
        history.complete_from(entry_idx),
        risk_per_share(ctx, signal, entry_price),
    )


def _needs_work(ctx: StepContext) -> list[dict[str, Any]]:
    """Signals with any horizon or rule exit not yet final."""
    horizons = len(ctx.settings.scorecard.horizons)
    return ctx.ledger.query(
        """
        SELECT s.* FROM signals s
        LEFT JOIN signal_rule_exits r ON r.signal_id = s.id
        LEFT JOIN (
            SELECT signal_id, count(*) AS done FROM signal_outcomes WHERE status = 'complete' GROUP BY signal_id
        ) o ON o.signal_id = s.id
        WHERE r.status IS NULL OR r.status != 'complete' OR COALESCE(o.done, 0) < ?
        ORDER BY s.id
        """,
        [horizons],
    )


def refresh(ctx: StepContext) -> dict[str, int]:
    """Recompute every signal whose outcomes are not final; returns counts for the report."""
    settings = ctx.settings.scorecard
    now_iso = repo.utc_iso(ctx.now)
    todo = _needs_work(ctx)
    by_symbol: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for signal in todo:
        by_symbol[signal["symbol"]].append(signal)
    outcome_rows: list[dict[str, Any]] = []
    exit_rows: list[dict[str, Any]] = []
    for symbol, signals in sorted(by_symbol.items()):
        earliest = min(datetime.fromisoformat(s["generated_at"]) for s in signals)
        history = load_history(ctx, symbol, earliest.astimezone(ET).date() - LOOKBACK)
        for signal in signals:
            rows, exit_row = _evaluate(ctx, signal, history, settings.horizons)
            outcome_rows.extend({**row, "computed_at": now_iso} for row in rows)
            exit_rows.append({**exit_row, "computed_at": now_iso})
    with ctx.ledger.write() as db:
        if outcome_rows:
            db["signal_outcomes"].upsert_all(_complete(outcome_rows, OUTCOME_COLUMNS), pk=("signal_id", "horizon"))
        if exit_rows:
            db["signal_rule_exits"].upsert_all(_complete(exit_rows, EXIT_COLUMNS), pk="signal_id")
    complete = sum(1 for r in outcome_rows if r["status"] == "complete")
    return {
        "signals": len(todo),
        "completed_horizons": complete,
        "pending_horizons": sum(1 for r in outcome_rows if r["status"] == "pending"),
        "no_data": sum(1 for r in exit_rows if r["status"] == "no_data"),
    }


OUTCOME_COLUMNS = (
    "signal_id", "horizon", "status", "entry_date", "entry_price", "exit_date", "exit_price", "ret",
    "benchmark_ret", "excess", "mfe", "mae", "hit", "computed_at",
)  # fmt: skip
EXIT_COLUMNS = (
    "signal_id", "status", "entry_date", "entry_price", "first_touch", "first_touch_date", "exit_date",
    "exit_price", "exit_reason", "ret", "r_multiple", "holding_sessions", "computed_at",
)  # fmt: skip


def _complete(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every row with every column: a pending row must also clear what an earlier refresh wrote."""
    return [{column: row.get(column) for column in columns} for row in rows]


def _evaluate(
    ctx: StepContext, signal: dict[str, Any], history: SymbolHistory | None, horizons: list[int]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    base = {"signal_id": signal["id"]}
    if history is None:
        return [{**base, "horizon": h, "status": "no_data"} for h in horizons], {**base, "status": "no_data"}
    idx = entry_index(history, datetime.fromisoformat(signal["generated_at"]))
    if idx is None:
        return [{**base, "horizon": h, "status": "pending"} for h in horizons], {**base, "status": "pending"}
    bars = history.bars
    entry_date = bars.session_date(idx).isoformat()
    entry_price = float(bars.open[idx])
    complete = history.complete_from(idx)
    rows = []
    for outcome in policy.forward_outcomes(signal["side"], idx, bars, history.spy, horizons, complete):
        rows.append(
            {
                **base,
                "horizon": outcome.horizon,
                "status": outcome.status,
                "entry_date": entry_date,
                "entry_price": entry_price,
                "exit_date": outcome.exit_date.isoformat() if outcome.exit_date else None,
                "exit_price": outcome.exit_price,
                "ret": outcome.ret,
                "benchmark_ret": outcome.benchmark_return,
                "excess": outcome.excess_return,
                "mfe": outcome.mfe,
                "mae": outcome.mae,
                "hit": None if outcome.hit is None else int(outcome.hit),
            }
        )
    touch = policy.first_touch(
        signal["side"], idx, bars, signal["stop"], signal["target"], complete, horizon_sessions(ctx, signal)
    )
    exit_ = rule_exit_from(ctx, signal, history, idx, entry_price)
    exit_row = {
        **base,
        "status": exit_.status,
        "entry_date": entry_date,
        "entry_price": entry_price,
        "first_touch": touch.kind,
        "first_touch_date": bars.session_date(touch.session_idx).isoformat() if touch.session_idx is not None else None,
        "exit_date": exit_.exit_date.isoformat() if exit_.exit_date else None,
        "exit_price": exit_.exit_price,
        "exit_reason": exit_.reason,
        "ret": exit_.ret,
        "r_multiple": exit_.r_multiple,
        "holding_sessions": exit_.holding_sessions,
    }
    return rows, exit_row
