"""Scorecard exports: CSV files for spreadsheets and one self-contained HTML page for an owner with a minute.

The page reads top-down as the owner's questions come: which source and category is good (the verdict
board), then per source why (its abnormal-return path around the entry, its beat rate against the base
rate, its calendar-time portfolio against SPY, its ranking skill), then whether management added value
(per action, tiers folded under their action so nothing is counted twice), then execution (fills,
slippage, signals lost to each cap). Every figure on it is one of the ``--json`` report's fields, written
by ``exports.fmt``; the charts are matplotlib PNGs embedded in the file (no network, no script), so the
page can be mailed or archived as is.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from autotrader.domain.reports import CurveRow
from autotrader.errors import InputError
from autotrader.exports import fmt
from autotrader.exports.html_page import PageFacts, Raw, figure, grid, png, pyplot, verdict, write_page
from autotrader.policy.performance import MIN_CAGR_SESSIONS


def flatten_row(row: dict[str, Any]) -> dict[str, Any]:
    """One scorecard row as flat columns: nested dicts become ``parent.child`` (lists become 'lo..hi')."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list | tuple):
            flat[prefix] = "..".join("" if v is None else f"{v:.6g}" for v in value)
        else:
            flat[prefix] = value

    walk("", row)
    return flat


def write_csv(
    folder: Path, rows: list[dict[str, Any]], calibration: dict[str, Any], signals: pd.DataFrame
) -> list[Path]:
    """``scorecard.csv`` (one line per row), ``calibration.csv`` and ``signals.csv`` (per-signal outcomes)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--csv {folder}: cannot create the folder ({error.strerror})") from None
    written = []
    flat = [flatten_row(r) for r in rows]
    columns: list[str] = []
    for line in flat:
        columns.extend(k for k in line if k not in columns)
    path = folder / "scorecard.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(flat)
    written.append(path)
    path = folder / "calibration.csv"
    buckets = calibration.get("buckets", [])
    with path.open("w", newline="", encoding="utf-8") as handle:
        bucket_columns = list(buckets[0]) if buckets else ["bucket"]
        writer = csv.DictWriter(handle, fieldnames=bucket_columns)
        writer.writeheader()
        writer.writerows(buckets)
    written.append(path)
    path = folder / "signals.csv"
    signals.to_csv(path, index=False)
    written.append(path)
    return written



def _at(row: dict[str, Any], field: str, h: str) -> Any:
    return (row.get(field) or {}).get(h)


def _needs(row: dict[str, Any]) -> str:
    more = row.get("needs_more")
    return f"~{fmt.count(more['signals'])} more signals" if more else ""


def _matured(row: dict[str, Any], h: str) -> str:
    """The signals the verdict rests on (those whose horizon h has completed), and of how many, while some are
    still pending: a source of 154 signals with 10 matured is not a source of 10."""
    done, total = row["completed"].get(h, 0), row["signals"]
    return fmt.count(done) if done >= total else f"{fmt.count(done)} of {fmt.count(total)}"


def board(payload: dict[str, Any], group: str) -> str:
    """The verdict of every source (or category) at its own primary horizon, best evidence first."""
    chosen = [r for r in payload.get("rows") or () if r["group"] == group]

    def order(row: dict[str, Any]) -> tuple[int, float]:
        rank = {"beats SPY": 0, "trails SPY": 1, "no evidence": 2}.get(row["verdict"], 3)
        return rank, -(_at(row, "abnormal_return_mean", row["primary_horizon"]) or 0.0)

    cells = []
    # Sources and categories best evidence first; conviction buckets in their own order, low to high.
    for r in chosen if group == "conviction" else sorted(chosen, key=order):
        h = r["primary_horizon"]
        cells.append([
            r["key"], Raw(verdict(r["verdict"])),
            fmt.pct_interval(_at(r, "abnormal_return_mean", h), _at(r, "abnormal_return_ci", h)),
            _matured(r, h), h, fmt.q_value(_at(r, "abnormal_return_q", h)),
            _beat_vs_base(payload, r, h), _needs(r),
        ])  # fmt: skip
    headers = [group, "verdict", "abnormal return [95% CI]", "n (matured)", "h", "q", "beat rate vs base",
               "for a verdict"]  # fmt: skip
    return grid(headers, cells, numeric=(2, 3, 4, 5, 6), css=f"board board-{group}")


def _event_axis(axis: Any, windows: list[dict[str, Any]]) -> None:
    for window in windows:
        points = window["points"]
        offsets = [p["offset"] for p in points]
        mean = [100 * (p["mean"] if p["mean"] is not None else float("nan")) for p in points]
        lo = [100 * (p["lo"] if p["lo"] is not None else float("nan")) for p in points]
        hi = [100 * (p["hi"] if p["hi"] is not None else float("nan")) for p in points]
        line = axis.plot(offsets, mean, marker=".", label=f"{window['category']} (n {window['signals']:,})")[0]
        axis.fill_between(offsets, lo, hi, color=line.get_color(), alpha=0.18, linewidth=0)
    axis.axhline(0, color="grey", linewidth=0.8)
    axis.axvline(0, color="grey", linewidth=0.8, linestyle=":")
    axis.set_xlabel("sessions from the entry")
    banded = any(p["lo"] is not None for w in windows for p in w["points"])
    axis.set_ylabel("mean abnormal return, %" + (" (95% band)" if banded else ""))
    axis.set_title("Abnormal return around the entry")
    if windows:
        axis.legend(fontsize=8)


def _curve_axis(axis: Any, curves: Sequence[CurveRow]) -> None:
    import pandas as pd

    for curve in curves:
        dates = pd.to_datetime(list(curve.dates))
        line = axis.plot(dates, [100 * v for v in curve.portfolio], label=f"picks ({curve.category})")[0]
        axis.plot(dates, [100 * v for v in curve.market], color=line.get_color(), linestyle="--", alpha=0.7,
                  label=f"SPY, same sessions ({curve.category})")  # fmt: skip
    axis.set_ylabel("growth of 100")
    axis.set_title("Calendar-time portfolio vs SPY")
    axis.grid(alpha=0.3)
    if curves:
        axis.legend(fontsize=8)
    axis.figure.autofmt_xdate()


def source_chart(source: str, windows: list[dict[str, Any]], curves: Sequence[CurveRow]) -> str:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    _event_axis(left, windows)
    _curve_axis(right, curves)
    data = png(fig)
    plt.close(fig)
    return data


def _by(rows: Sequence[dict[str, Any]] | None, source: str) -> list[dict[str, Any]]:
    return [r for r in rows or () if r.get("source") == source or r.get("key") == source]


def _alone(payload: dict[str, Any], source: str) -> bool:
    """Whether the source is the only one in each of its categories: its base rate (the share of its
    category's signals on the same days that beat their market model) is then its own beat rate."""
    pairs = {(r["source"], r["category"]) for r in payload.get("execution") or ()}
    mine = {category for s, category in pairs if s == source}
    return bool(mine) and all(s == source for s, category in pairs if category in mine)


def _beat_vs_base(payload: dict[str, Any], row: dict[str, Any], h: str) -> str:
    beat = fmt.pct(_at(row, "beat_rate", h), 0)
    if row["group"] == "source" and _alone(payload, row["key"]):
        return f"{beat} (alone in its category)"
    return f"{beat} vs {fmt.pct(_at(row, 'base_rate', h), 0)}"


def _annual(ct: dict[str, Any], field: str, text: Any) -> Any:
    """An annualised figure only from a year of sessions (as the CAGR): 8 sessions' "alpha a year" of −101%
    says nothing, and a quarter's is a forecast of three more like it."""
    return text(ct.get(field)) if (ct.get("sessions") or 0) >= MIN_CAGR_SESSIONS else fmt.DASH


def _facts(row: dict[str, Any], h: str, placebo: dict[str, Any], ranking: dict[str, Any], alone: bool) -> str:
    """What the source's verdict rests on, in words; the parts the sample cannot say yet are left out."""
    if _at(row, "beat_rate", h) is None:
        return f"No signal of this source has reached its {h}-session horizon yet."
    base = (
        "it is the only source of its category, so there is no base rate to beat"
        if alone else f"against a base rate of {fmt.pct(_at(row, 'base_rate', h), 0)} (the share of its "
        "category's signals entered on the same days that beat their market model)"
    )  # fmt: skip
    parts = [
        f"At {h} session{'' if h == '1' else 's'}: beat rate {fmt.pct(_at(row, 'beat_rate', h), 0)}, {base}; "
        f"up rate {fmt.pct(_at(row, 'up_rate', h), 0)}."
    ]
    if placebo.get("p_value") is not None:
        parts.append(
            f"Placebo p-value {fmt.q_value(placebo['p_value'])}: the chance that random picks on the same days, "
            "held alike, do at least as well."
        )
    if _at(ranking, "ic_mean", h) is not None:
        parts.append(
            f"Ranking skill: rank IC {fmt.ratio(_at(ranking, 'ic_mean', h), 3)} (Newey–West t "
            f"{fmt.ratio(_at(ranking, 'ic_t_hac', h))}), Brier score {fmt.ratio(ranking.get('brier'), 3)}."
        )
    return " ".join(parts)


def source_section(payload: dict[str, Any], row: dict[str, Any], curves: Sequence[CurveRow]) -> str:
    """One source: what its verdict rests on, its calendar-time portfolio per category, then its chart."""
    source = row["key"]
    h = row["primary_horizon"]
    calendar = {r["category"]: r for r in _by(payload.get("calendar_time"), source)}
    placebo = next(iter(_by(payload.get("placebo"), source)), {})
    ranking = next(iter(_by((payload.get("ranking") or {}).get("sources"), source)), {})
    cells = []
    for category, ct in sorted(calendar.items()):
        cells.append([
            category, fmt.count(ct["signals"]), _annual(ct, "alpha_annual", lambda v: fmt.pct(v, signed=True)),
            fmt.ratio(ct.get("alpha_t")), _annual(ct, "sharpe", fmt.ratio),
            _annual(ct, "psr", lambda v: fmt.pct(v, 0)), fmt.count(ct.get("sessions")),
        ])  # fmt: skip
    facts = _facts(row, h, placebo, ranking, _alone(payload, source))
    windows = [w for w in payload.get("event_window") or () if w["source"] == source]
    mine = [c for c in curves if c.source == source]
    table_html = grid(
        ["category", "signals", "alpha a year", "alpha t (HAC)", "Sharpe", "P(Sharpe > 0)", "sessions"],
        cells, numeric=range(1, 7),
    )  # fmt: skip
    caption = f"{source}: mean abnormal return from 20 sessions before to 60 after the entry; its picks' " \
        "calendar-time portfolio against SPY"  # fmt: skip
    return (
        f"<h3>{html.escape(source)} {verdict(row['verdict'])}</h3>\n<p>{html.escape(facts)}</p>\n{table_html}\n"
        + (figure(caption, source_chart(source, windows, mine)) if windows or mine else "")
    )


def _per_trade(alpha: dict[str, Any]) -> str:
    lo, hi = alpha.get("per_trade_ci") or (None, None)
    mean = fmt.usd(alpha.get("per_trade"), signed=True)
    return f"{mean} [{fmt.usd(lo, signed=True)}, {fmt.usd(hi, signed=True)}]" if lo is not None else mean


def management(payload: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Per source and category: each action's worth against the pick held alone, per position with its
    interval; tiers folded under their action (the action's line is their sum, never added to it)."""
    tiers = {r["key"]: r["management_alpha"].get("by_action", {}) for r in rows if r["group"] == "source"}
    parts = []
    for ex in payload.get("execution") or ():
        actions = ex.get("management") or []
        if not actions:
            continue
        by_tier = tiers.get(ex["source"], {})
        cells = []
        # An action worth exactly nothing against the pick on every position (the open remainder, a target
        # hit where the pick's own rule exit fell) is named in one line, not given a table row of zeros.
        level = [a for a in actions if a.get("total") == 0 and a.get("lo") in (None, 0) and a.get("hi") in (None, 0)]
        for a in (a for a in actions if a not in level):
            detail = {k: v for k, v in by_tier.items() if k.startswith(a["action"] + ":")}
            inner = html.escape(
                ", ".join(f"tier {k.split(':', 1)[1]} {fmt.usd(v, signed=True)}" for k, v in detail.items())
            )
            folded = f"<details><summary>{len(detail)} tiers</summary>{inner}</details>" if len(detail) > 1 else inner
            interval = (
                f"{fmt.usd(a['mean'], signed=True)} [{fmt.usd(a['lo'], signed=True)}, {fmt.usd(a['hi'], signed=True)}]"
                if a.get("lo") is not None else fmt.usd(a.get("mean"), signed=True)
            )  # fmt: skip
            cells.append([a["action"], fmt.count(a["positions"]), interval, fmt.usd(a.get("total"), signed=True),
                          Raw(folded)])  # fmt: skip
        parts.append(f"<h3>{html.escape(ex['source'])} · {html.escape(ex['category'])}</h3>")
        if cells:
            parts.append(grid(["action", "positions", "per position [95% CI]", "total", "tiers"], cells,
                              numeric=(1, 2, 3)))  # fmt: skip
        if level:
            same = ", ".join(f"{a['action']} ({fmt.count(a['positions'])})" for a in level)
            parts.append(f'<p class="muted">No different from the pick held alone on any position: '
                         f"{html.escape(same)}.</p>")  # fmt: skip
    totals = [
        [r["key"], fmt.count(r["pick_only"]["trades"]), fmt.usd(r["pick_only"]["pnl"], signed=True),
         fmt.usd(r["managed"]["pnl"], signed=True), fmt.usd(r["management_alpha"]["total"], signed=True),
         _per_trade(r["management_alpha"]), r["management_alpha"].get("verdict", "")]
        for r in rows if r["group"] == "category"
    ]  # fmt: skip
    summary = grid(["category", "trades", "pick-only P&L", "managed P&L", "management added", "a closed trade [CI]",
                    "verdict"], totals, numeric=(1, 2, 3, 4, 5))  # fmt: skip
    return summary + "".join(parts) if parts else summary + '<p class="muted">No management action yet.</p>'


def execution(payload: dict[str, Any]) -> str:
    cells = []
    for ex in payload.get("execution") or ():
        ranked = sorted(ex["lost"].items(), key=lambda kv: -kv[1])
        lost = Raw("<br>".join(html.escape(f"{gate} {fmt.count(n)}") for gate, n in ranked) or "none")
        cells.append([
            ex["source"], ex["category"], fmt.count(ex["signals"]), fmt.count(ex["traded"]),
            fmt.pct(ex["fill_rate"], 0),
            fmt.sig(ex.get("slippage_vs_signal_bps"), 2), fmt.sig(ex.get("slippage_vs_entry_bps"), 2),
            f"{fmt.pct(ex.get('pick_traded'), signed=True)} vs {fmt.pct(ex.get('pick_all'), signed=True)}",
            lost,
        ])  # fmt: skip
    headers = ["source", "category", "signals", "traded", "traded share", "slippage vs signal (bps)",
               "vs open (bps)", "picks traded vs all", "lost to caps"]  # fmt: skip
    return grid(headers, cells, numeric=(2, 3, 4, 5, 6, 7))


def calibration_chart(rows: list[dict[str, Any]], primary: str) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    conviction = [r for r in rows if r["group"] == "conviction"]
    labels: list[str] = []
    means: list[float] = []
    errors: list[list[float]] = [[], []]
    for row in conviction:
        h = row.get("primary_horizon") or primary
        mean, ci = _at(row, "abnormal_return_mean", h), _at(row, "abnormal_return_ci", h)
        labels.append(row["key"])
        means.append((mean or 0.0) * 100)
        errors[0].append((mean - ci[0]) * 100 if mean is not None and ci else 0.0)
        errors[1].append((ci[1] - mean) * 100 if mean is not None and ci else 0.0)
    ax.bar(labels, means, yerr=errors, capsize=4, color="#4c72b0")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("conviction")
    ax.set_ylabel("mean abnormal return, %")
    ax.set_title("Does higher conviction earn more? (95% date-block intervals)")
    data = png(fig)
    plt.close(fig)
    return data


def robustness(payload: dict[str, Any]) -> str:
    """The shrunk leaderboard and each source's stability alarm: what keeps a lucky streak from a verdict."""
    alarms = {r["source"]: r.get("alarm_date") for r in payload.get("stability") or ()}
    cells = [
        [r["rank"], r["source"], fmt.count(r["signals"]), fmt.pct(r.get("mean"), 2, signed=True),
         fmt.pct(r.get("shrunk_mean"), 2, signed=True), fmt.pct(r.get("shrunk_beat_rate"), 0),
         f"edge broke on {alarms[r['source']]}" if alarms.get(r["source"]) else "holds"]
        for r in payload.get("leaderboard") or ()
    ]  # fmt: skip
    headers = ["rank", "source", "signals", "mean abnormal", "shrunk mean", "shrunk beat rate", "stability"]
    return grid(headers, cells, numeric=(0, 2, 3, 4, 5))


def predictions(payload: dict[str, Any]) -> str:
    """The predictions panel, when some signal carries one: per source, the rank IC of each scored predicted
    horizon (Newey–West t, dates) and the Brier score of ``probability``."""
    rows = payload.get("predictions") or []
    if not rows:
        return ""
    scored, skipped = list(rows[0]["scored"]), list(rows[0]["skipped"])
    cells = [
        [r["source"], fmt.count(r["signals"]),
         *(f"{fmt.ratio(r['ic_mean'].get(h), 3)} (t {fmt.ratio(r['ic_t_hac'].get(h))}; "
           f"{fmt.count(r['ic_dates'].get(h))} dates)" for h in scored),
         fmt.ratio(r.get("brier"), 3)]
        for r in rows
    ]  # fmt: skip
    headers = ["source", "signals", *(f"rank IC at {h} sessions" for h in scored), "Brier of probability"]
    lede = (
        "Signals carrying an ML model's predictions: the mean per-date rank correlation of each predicted return "
        "with the stock's realized return over the same sessions, and the Brier score of its probability of a "
        "positive 10-session return (0 perfect, 0.25 a coin)."
        + (f" Not scored (not scorecard horizons): {', '.join(skipped)} sessions." if skipped else "")
    )
    return "\n".join(["<h2>Predictions</h2>", f"<p>{html.escape(lede)}</p>",
                      grid(headers, cells, numeric=tuple(range(1, len(headers))))])  # fmt: skip


def options(payload: dict[str, Any]) -> str:
    """The options panel, when a structure closed: per strategy its results, and the options against the shares."""
    rows = payload.get("options") or []
    if not rows:
        return ""

    def interval(row: dict[str, Any], field: str) -> str:
        lo, hi = row.get(f"{field}_ci") or (None, None)
        return f"{fmt.ratio(row.get(field), 2)} [{fmt.ratio(lo, 2)}, {fmt.ratio(hi, 2)}]"

    cells = [
        [r["strategy"], fmt.count(r["structures"]), fmt.usd(r["total_pnl"], signed=True),
         f"{fmt.pct(r['win_rate'])} [{fmt.pct(r['win_rate_ci'][0])}, {fmt.pct(r['win_rate_ci'][1])}]",
         interval(r, "expectancy_r"), fmt.count(r["paired"]), fmt.pct(r.get("options_return"), signed=True),
         fmt.pct(r.get("shares_return"), signed=True), r["verdict"],
         fmt.usd(r.get("options_pnl"), signed=True), fmt.usd(r.get("scalping_pnl"), signed=True)]
        for r in rows
    ]  # fmt: skip
    headers = ["strategy", "closed", "P&L", "win rate [95% CI]", "expectancy in R [95% CI]", "on signals",
               "options' return", "shares' return", "options vs shares", "straddle P&L", "scalping P&L"]  # fmt: skip
    lede = (
        "Closed options structures per strategy. Expectancy is the mean result in units of each structure's "
        "maximum loss at entry, its interval a block bootstrap over opening sessions. For structures opened on a "
        "signal, the options' return on the debit beside the shares' own return over the same holding. For gamma "
        "positions, the straddle's own P&L apart from what hedging its delta with shares made (scalping)."
    )
    return "\n".join(["<h2>Options</h2>", f"<p>{html.escape(lede)}</p>",
                      grid(headers, cells, numeric=(1, 2, 3, 4, 5, 6, 7, 9, 10))])  # fmt: skip


def write_html(path: Path, payload: dict[str, Any], curves: Sequence[CurveRow], facts: PageFacts) -> Path:
    """The page from the report's own fields (``payload``: what ``--json`` prints) and the curves."""
    body = body_html(payload, curves, facts.as_of)
    return write_page(path, facts.title, body, heading_marks=facts.marks())


def body_html(payload: dict[str, Any], curves: Sequence[CurveRow], as_of: str) -> str:
    """The scorecard's sections (a replay's page ends with them too)."""
    rows = list(payload.get("rows") or [])
    primary = str(payload.get("primary_horizon", ""))
    traded = sum(r["traded"] for r in rows if r["group"] == "category")
    lede = (
        f"As of {as_of} · {fmt.count(payload.get('signals_total', 0))} signals, {fmt.count(traded)} traded · "
        f"a verdict needs its abnormal return's 95% interval clear of zero and a q-value under "
        f"{fmt.sig(payload.get('fdr'), 2)} over {fmt.count(payload.get('hypotheses', 0))} tests, at each row's "
        f"primary horizon h (sessions)."
    )
    calibration = payload.get("calibration") or {}
    sources = [r for r in rows if r["group"] == "source"]
    return "\n".join([
        f'<p class="lede">{html.escape(lede)}</p>',
        "<h2>Verdict board</h2>", board(payload, "source"), board(payload, "category"),
        "<h2>Per source</h2>", *(source_section(payload, r, curves) for r in sources),
        "<h2>Did management add value?</h2>",
        "<p>Pick-only: the entry alone, held to its rule exit. Managed: the same positions with their dip-buys, "
        "profit-takes and exits. Each action's line is its worth against the pick held alone.</p>",
        management(payload, rows),
        "<h2>Execution quality</h2>",
        "<p>Traded share: the signals that became a position, of all the source's signals (the rest were lost to "
        "the caps listed, or never filled). Slippage: the entry fill against the signal's own price and against "
        "the open it is scored from, in basis points (positive: paid more). Picks traded vs all: the mean "
        "abnormal return of the traded signals beside all of them — what the caps' selection did.</p>",
        execution(payload),
        "<h2>Conviction calibration</h2>", f"<p>{html.escape(str(calibration.get('statement', '')))}</p>",
        board(payload, "conviction"),
        figure("Mean abnormal return per conviction bucket", calibration_chart(rows, primary)),
        "<h2>Robustness</h2>", robustness(payload),
        *([predictions(payload)] if payload.get("predictions") else []),
        *([options(payload)] if payload.get("options") else []),
    ])  # fmt: skip
