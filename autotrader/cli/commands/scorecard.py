"""`autotrader scorecard`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autotrader.cli import render
from autotrader.cli.options import AsOfOption, ConfigOption, DryRunOption, JsonOption
from autotrader.cli.runner import check_page, finish
from autotrader.exports import fmt

if TYPE_CHECKING:  # the report types are built when a command runs, not on `--help`'s path
    from autotrader.domain.reports import (
        CalendarTimeRow,
        Calibration,
        EventWindowRow,
        ExecutionRow,
        LeaderboardRow,
        LineageReport,
        ManagementAlpha,
        PlaceboRow,
        PredictionRow,
        Ranking,
        ScorecardReport,
        ScorecardRow,
        StabilityRow,
    )


def scorecard(
    since: Annotated[str | None, typer.Option("--since", help="Signals generated on or after this date.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Signals generated on or before this date.")] = None,
    category: Annotated[list[str] | None, typer.Option("--category", help="Only this category (repeatable).")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
    csv_dir: Annotated[Path | None, typer.Option("--csv", help="Also write CSV files into this folder.")] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write an HTML report with charts.")] = None,
    signal: Annotated[int | None, typer.Option("--signal", help="Show one signal's lineage instead.")] = None,
    ledger: Annotated[
        str, typer.Option("--ledger", help="'main' (this mode's ledger) or 'replay' (the last replay's).")
    ] = "main",
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
) -> None:
    """Per category, source and conviction: was the pick good, and did management add value?"""
    from autotrader.domain.reports import LineageReport
    from autotrader.pipeline import scorecard as step
    from autotrader.pipeline.context import invoke

    def body(ctx):
        if signal is not None:
            return ctx.report().build(LineageReport, lineage=step.lineage(ctx, signal))
        filters = step.Filters.parse(since, until, category or [], source or [])
        return step.run(ctx, filters, step.Exports(csv_dir, html_file) if (csv_dir or html_file) else None)

    check_page("scorecard", "--html", html_file, json_output, dry_run)
    outcome = invoke(
        "scorecard", body, config_path=config, as_of=as_of, dry_run=dry_run, **step.ledger_choice(ledger)
    )
    finish(outcome, json_output=json_output, renderer=render_scorecard)


def _pct(value, digits: int = 1) -> str:
    return fmt.pct(value, digits)


def _num(value, digits: int = 2) -> str:
    return fmt.number(value, digits) if value is None or abs(value) >= 1000 else fmt.ratio(value, digits)


def render_scorecard(report: ScorecardReport | LineageReport) -> None:
    from autotrader.domain.reports import LineageReport

    if isinstance(report, LineageReport):
        render_lineage(report.lineage)
        return
    render_rows(report.rows, report.calibration, report.horizons, report.primary_horizon)
    render_leaderboard(report.leaderboard)
    render_calendar_time(report.calendar_time)
    render_placebo(report.placebo)
    render_ranking(report.ranking)
    render_event_window(report.event_window)
    render_execution(report.execution)
    render_stability(report.stability)
    render_predictions(report.predictions)


def render_lineage(lineage: dict) -> None:
    """One signal's history for a person, in the order it happened: the pick, what sizing decided, the
    orders, the trade's fills and what management did, then how the pick itself scored (``--json`` has all)."""
    s = lineage["signal"]
    levels = ("entry", "stop", "target_one", "target")
    prices = ", ".join(f"{k} {fmt.number(s[k], 2)}" for k in levels if s.get(k) is not None)
    render.lines([
        f"signal {s['id']}: {s['side']} {s['symbol']} · {s['category']} · {s['source']} · conviction "
        f"{fmt.plain(s.get('conviction'))}" + (f" · {prices}" if prices else ""),
        f"generated {fmt.ny_time(s['generated_at'])}, imported {fmt.ny_time(s['created_at'])}"
        + (f" · {s['note']}" if s.get("note") else ""),
    ], indent="")  # fmt: skip
    render.table("decisions", ["step", "outcome", "when", "reason"],
                 [[d["step"], d["outcome"], fmt.ny_time(d["decided_at"]), d["reason"]] for d in lineage["decisions"]])
    render.table("orders", ["leg", "side", "qty", "type", "status", "created", "client order id"],
                 [[f"{o['leg']} {o['tier']}" if o["tier"] else o["leg"], o["side"], fmt.number(o["qty"]), o["type"],
                   o["status"], fmt.ny_time(o["created_at"]), o["client_order_id"]] for o in lineage["orders"]])
    for t in lineage["trades"]:
        render.lines([
            f"trade {t['trade_id']}: {fmt.usd(t['managed_pnl'], signed=True)} managed, "
            f"{fmt.usd(t['pick_pnl'], signed=True)} pick-only, management {fmt.usd(t['management_alpha'], signed=True)}"
            f" · exit {t.get('exit_reason') or 'open'}",
        ], indent="")  # fmt: skip
        render.table(
            "fills",
            ["filled", "leg", "side", "qty", "price"],
            [[fmt.ny_time(f["filled_at"]), f"{f['leg']} {f['tier']}" if f["tier"] else f["leg"], f["side"],
              fmt.number(f["qty"]), fmt.number(f["price"], 2)] for f in t["fills"]],
        )  # fmt: skip
    render.table("how the pick scored", ["horizon", "status", "entry", "exit", "return", "vs SPY", "abnormal"],
                 [[o["horizon"], o["status"], o.get("entry_date"), o.get("exit_date"),
                   fmt.pct(o.get("ret"), signed=True), fmt.pct(o.get("excess"), signed=True),
                   fmt.pct(o.get("abnormal"), signed=True)]
                  for o in lineage["outcomes"]])  # fmt: skip
    rule = lineage.get("rule_exit")
    if rule:
        render.lines([
            f"rule exit ({rule['status']}): {rule.get('exit_reason') or 'not yet'} on {rule.get('exit_date') or '–'}, "
            f"return {fmt.pct(rule.get('ret'), signed=True)}, R {fmt.ratio(rule.get('r_multiple'))}",
        ], indent="")  # fmt: skip


def _r_interval(mean: float | None, ci: Sequence[float] | None) -> str:
    return _num(mean) + (f" [{_num(ci[0])}, {_num(ci[1])}]" if ci else "")


def _needs_note(row: ScorecardRow) -> str | None:
    more = row.needs_more
    if not more:
        return None
    return f"{row.key}: needs ~{more['signals']:,} more signals (~{more['sessions']:,} more sessions at its pace)"


def _verdict_cells(r: ScorecardRow, fallback: str) -> list[object]:
    h = r.primary_horizon or fallback
    beat, base = r.beat_rate.get(h), r.base_rate.get(h)
    return [
        r.key, r.completed.get(h, 0) if r.completed.get(h, 0) >= r.signals else f"{r.completed.get(h, 0)}/{r.signals}",
        h, r.verdict,
        fmt.pct_interval(r.abnormal_return_mean.get(h), r.abnormal_return_ci.get(h)),
        fmt.q_value(r.abnormal_return_q.get(h)),
        f"{_pct(beat, 0)} vs {_pct(base, 0)}",
    ]  # fmt: skip


def _alpha_interval(alpha: ManagementAlpha) -> str:
    """The per-trade alpha and its interval, or why there is none."""
    if alpha.per_trade_ci is None:
        return f"{fmt.usd(alpha.per_trade, signed=True)} ({alpha.closed_trades} closed)"
    lo, hi = alpha.per_trade_ci
    return f"{fmt.usd(alpha.per_trade, signed=True)} [{fmt.usd(lo, signed=True)}, {fmt.usd(hi, signed=True)}]"


def render_rows(rows: Sequence[ScorecardRow], calibration: Calibration, horizons: Sequence[str], primary: str) -> None:
    """The scorecard's tables (also the end of ``replay`` and ``demo``); per-horizon figures are keyed by horizon.

    Each row is shown at its own primary horizon (``h``): ``primary`` is the horizon of rows that mix
    categories."""
    for group in ("category", "source", "conviction"):
        in_group = [r for r in rows if r.group == group]
        render.table(
            f"was the pick good? by {group} · at each row's primary horizon h (sessions): abnormal return over "
            f"its market model [95% date-block CI], BH q-value, beat rate vs base rate",
            [group, "n", "h", "verdict", "abnormal [95% CI]", "q", "beat vs base"],
            [_verdict_cells(r, primary) for r in in_group],
        )
        render.lines([note for note in map(_needs_note, in_group) if note])
    categories = [r for r in rows if r.group == "category"]
    render.table(
        "did management add value? pick-only = the entry held to its rule exit; alpha = managed − pick-only; per "
        "closed trade with its date-block interval (the categories tested at once)",
        ["category", "rule-exit R", "trades", "pick-only P&L", "managed P&L", "alpha", "alpha a trade [CI]",
         "alpha by action"],
        [
            [r.key, _r_interval(r.rule_exit.expectancy_r, r.rule_exit.expectancy_r_ci), r.pick_only.trades,
             fmt.usd(r.pick_only.pnl, signed=True), fmt.usd(r.managed.pnl, signed=True),
             fmt.usd(r.management_alpha.total, signed=True), _alpha_interval(r.management_alpha),
             ", ".join(f"{k} {fmt.usd(v, signed=True)}" for k, v in r.management_alpha.by_action.items()
                       if ":" not in k and v != 0) or "–"]
            for r in categories
        ],
    )  # fmt: skip
    render.lines([f"{r.key}: {r.management_alpha.verdict}" for r in categories])
    render.table(
        f"conviction calibration at {calibration.horizon} sessions: {calibration.statement}",
        # The calibration's hit is a positive raw return: label it as the up rate the rows show apart.
        ["conviction", "signals", "mean abnormal", "beat rate", "mean excess over SPY", "up rate (raw return > 0)"],
        [
            [b.key, b.signals, _pct(b.abnormal_return_mean), _pct(b.beat_rate, 0), _pct(b.excess_return_mean),
             _pct(b.hit_rate, 0)]
            for b in calibration.buckets
        ],  # fmt: skip
    )


def render_leaderboard(rows: Sequence[LeaderboardRow] | None) -> None:
    render.table(
        "leaderboard: sources by shrunk mean abnormal return at the primary horizon (few or clustered signals "
        "are pulled toward the average)",
        ["source", "signals", "mean AR", "± se", "shrunk", "beat rate", "shrunk beat rate"],
        [[r.source, r.signals, _pct(r.mean), _pct(r.se), _pct(r.shrunk_mean), _pct(r.beat_rate, 0),
          _pct(r.shrunk_beat_rate, 0)] for r in rows or ()],
    )  # fmt: skip


def render_calendar_time(rows: Sequence[CalendarTimeRow] | None) -> None:
    render.table(
        "calendar-time portfolio (equal weight, live picks) regressed on SPY · Newey–West t",
        ["source", "category", "sessions", "alpha/yr", "t", "beta", "Sharpe", "PSR", "min track"],
        [[r.source, r.category, r.sessions, _pct(r.alpha_annual), _num(r.alpha_t), _num(r.beta), _num(r.sharpe),
          _pct(r.psr, 0), _num(r.min_track_record, 0)] for r in rows or ()],
    )  # fmt: skip


def render_placebo(rows: Sequence[PlaceboRow] | None) -> None:
    render.table(
        "placebo: the source's mean abnormal return against random picks on the same days",
        ["source", "signals", "mean AR", "placebo mean", "p (empirical)"],
        [[r.source, r.signals, _pct(r.observed), _pct(r.placebo_mean), _num(r.p_value, 3)] for r in rows or ()],
    )


def render_ranking(ranking: Ranking | None) -> None:
    if ranking is None:
        return
    horizons = list(ranking.sources[-1].ic_mean) if ranking.sources else []
    render.table(
        f"ranking skill: mean per-date rank IC of conviction vs abnormal return at {'/'.join(horizons)} sessions "
        f"(HAC t) · Brier of {ranking.probability_rule.split(' =')[0]}",
        ["source", "IC by horizon", "t", "Brier"],
        [[r.key, " ".join(_num(r.ic_mean.get(h)) for h in horizons),
          " ".join(_num(r.ic_t_hac.get(h), 1) for h in horizons), _num(r.brier, 3)] for r in ranking.sources],
    )  # fmt: skip


def render_event_window(rows: Sequence[EventWindowRow] | None) -> None:
    def at(row: EventWindowRow, offset: int) -> str:
        point = next((p for p in row.points if p.offset == offset), None)
        return _pct(point.mean) if point else "–"

    render.table(
        "event window: mean abnormal CAR around the entry (a climb before 0 = the source chases price)",
        ["source", "category", "signals", "CAR −20", "+5", "+20", "+60"],
        [[r.source, r.category, r.signals, at(r, -20), at(r, 5), at(r, 20), at(r, 60)] for r in rows or ()],
    )


def render_execution(rows: Sequence[ExecutionRow] | None) -> None:
    render.table(
        "what was traded vs recommended: fill rate, entry slippage (bps vs the signal's price / the scoring "
        "entry), signals lost per gate, mean abnormal return of all vs traded signals",
        ["source", "category", "fill rate", "slippage", "lost (most by)", "AR all", "AR traded"],
        [[r.source, r.category, _pct(r.fill_rate, 0),
          f"{_num(r.slippage_vs_signal_bps, 0)} / {_num(r.slippage_vs_entry_bps, 0)}",
          f"{sum(r.lost.values())} ({max(r.lost, key=lambda k: r.lost[k])})" if r.lost else "0",
          _pct(r.pick_all), _pct(r.pick_traded)]
         for r in rows or ()],
    )  # fmt: skip


def render_stability(rows: Sequence[StabilityRow] | None) -> None:
    render.table(
        "stability: mean abnormal return over the last 60 entry sessions; CUSUM alarm when the edge breaks",
        ["source", "signals", "rolling mean", "alarm"],
        [[r.source, r.signals, _pct(r.last), r.alarm_date or "none"] for r in rows or ()],
    )


def render_predictions(rows: Sequence[PredictionRow] | None) -> None:
    if not rows:
        return
    scored, skipped = list(rows[0].scored), list(rows[0].skipped)
    unscored = f" ({'/'.join(skipped)} skipped: not scorecard horizons)" if skipped else ""
    render.table(
        f"predictions: mean per-date rank IC of predicted vs realized return at {'/'.join(scored) or 'no'} "
        f"sessions (HAC t, dates){unscored} · Brier of probability",
        ["source", "signals", "IC by horizon", "t", "dates", "Brier"],
        [[r.source, r.signals, " ".join(_num(r.ic_mean.get(h)) for h in scored),
          " ".join(_num(r.ic_t_hac.get(h), 1) for h in scored), " ".join(str(r.ic_dates.get(h, 0)) for h in scored),
          _num(r.brier, 3)] for r in rows],
    )  # fmt: skip
