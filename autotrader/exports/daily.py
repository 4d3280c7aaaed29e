"""The daily report (``autotrader report``, and ``rehydrate``'s evening page) as a self-contained HTML page and as
Markdown.

Both are built from one list of sections (``headline`` and ``sections``), every figure written once through
``exports.fmt``, so the page, the Markdown and the terminal (which shows each section's ``short`` columns)
never disagree; and every figure comes from the typed report, so the page cannot say what ``--json`` does
not. The page adds two charts (embedded PNGs, matplotlib's Agg backend: no network, no display): the equity
against SPY, both rebased to 100, and the drawdown, once there are two snapshots to draw.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autotrader.domain.reports import BreakerState, DailyReport, PerformanceFigures
from autotrader.exports import fmt
from autotrader.exports.html_page import Raw, figure, grid, marks, png, pyplot, write_page
from autotrader.policy.performance import MIN_CAGR_SESSIONS


@dataclass(frozen=True)
class Fact:
    key: str  # where the figure is in the report's JSON ("summary.equity"): the page names it beside the text
    label: str
    text: str
    group: str  # the headline's row it belongs to, with what its figures are measured from


@dataclass(frozen=True)
class Section:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lede: str = ""  # what the figures mean
    numeric: tuple[int, ...] = ()  # right-aligned columns
    short: tuple[int, ...] | None = None  # the columns an 80-column terminal shows (None: all)
    empty: str = "none"


def _pct(value: float | None, *, signed: bool = False) -> str:
    """A percentage at the precision of every page: one decimal, two below 1% (``fmt.pct_digits``)."""
    return fmt.pct(value, fmt.pct_digits(value), signed=signed)


def title(report: DailyReport) -> str:
    return f"autotrader daily report {report.date}"


def lede(report: DailyReport) -> str:
    day = "an NYSE session" if report.trading_day else "no NYSE session"
    return f"{report.date} ({day}) · as of {fmt.ny_time(report.as_of)} · mode {report.mode}"


def headline(report: DailyReport) -> list[Fact]:
    """The figures an owner looks at first: the day's money, then the account since its first snapshot."""
    s, perf = report.summary, report.performance
    account = perf.account if perf else None
    bench = perf.benchmark if perf else None
    source = {"snapshot": "the day's snapshot", "broker": "the broker now"}.get(s.equity_from or "", "none")
    day = (
        f"The day: equity from {source}, change since {s.previous_date or 'no earlier snapshot'}, realized net of "
        "commissions, unrealized at the last close"
    )
    since = (
        f"Since the close of {account.start} ({fmt.count(account.sessions + 1)} snapshots)" if account
        else "No snapshot yet"
    )  # fmt: skip
    return [
        Fact("summary.equity", "Equity", fmt.usd(s.equity), day),
        Fact("summary.equity_change", "Change", fmt.usd(s.equity_change, signed=True), day),
        Fact("summary.equity_change_pct", "Change %", _pct(s.equity_change_pct, signed=True), day),
        Fact("summary.realized_pnl", "Realized P&L", fmt.usd(s.realized_pnl, signed=True), day),
        Fact("summary.unrealized_pnl", "Unrealized P&L", fmt.usd(s.unrealized_pnl, signed=True), day),
        Fact("performance.account.total_return", "Total return",
             _pct(account.total_return if account else None, signed=True), since),
        Fact("performance.benchmark.total_return", "SPY, same sessions",
             _pct(bench.total_return if bench else None, signed=True), since),
        Fact("performance.excess_return", "Excess over SPY",
             _pct(perf.excess_return if perf else None, signed=True), since),
        Fact("summary.drawdown", "Drawdown now", _pct(s.drawdown), since),
        Fact("performance.account.max_drawdown", "Max drawdown",
             _pct(account.max_drawdown if account else None), since),
    ]  # fmt: skip


def _figures_row(name: str, f: PerformanceFigures) -> tuple[str, ...]:
    return (
        name, f"{f.start} – {f.end}", fmt.count(f.sessions), _pct(f.total_return, signed=True),
        _pct(f.cagr, signed=True), fmt.ratio(f.sharpe), fmt.ratio(f.sortino), _pct(f.max_drawdown),
    )  # fmt: skip


def _performance(report: DailyReport) -> Section:
    perf = report.performance
    rows: list[tuple[str, ...]] = []
    text = "No snapshot yet: rehydrate stores one every evening."
    if perf is not None:
        rows.append(_figures_row("account", perf.account))
        if perf.benchmark is not None:
            rows.append(_figures_row("SPY", perf.benchmark))
        versus = (
            f"excess return over SPY {_pct(perf.excess_return, signed=True)}"
            if perf.benchmark is not None
            else "SPY has no close on the first or last of these sessions, so no comparison"
        )
        text = (
            f"From the {fmt.count(perf.account.sessions + 1)} end-of-day snapshots up to the day "
            f"({fmt.count(perf.account.sessions)} daily returns); SPY's closes on the same sessions ({versus}). "
            f"Sharpe and Sortino: daily returns annualised (√252), risk-free rate 0. "
            f"CAGR is stated from {fmt.count(MIN_CAGR_SESSIONS)} daily returns, i.e. "
            f"{fmt.count(MIN_CAGR_SESSIONS + 1)} snapshots: a shorter span's annual figure says nothing."
        )
    return Section(
        "Performance: account vs SPY",
        ("", "from – to (closes)", "daily returns", "total return", "CAGR", "Sharpe", "Sortino", "max drawdown"),
        tuple(rows), text, numeric=(2, 3, 4, 5, 6, 7), short=(0, 3, 4, 5, 7),
    )  # fmt: skip


def _deployed(report: DailyReport) -> Section:
    rows = tuple(
        (d.group, d.key, d.start, fmt.usd(d.first), fmt.usd(d.last), fmt.usd(d.change, signed=True), fmt.usd(d.peak))
        for d in report.deployed
    )
    text = (
        "The snapshots keep, per book and per category, the capital deployed at cost, not its market value nor "
        "its cash flows: these rows are the path of what was invested, not a return. The account's return is above."
    )
    return Section("Deployed capital per book and category", ("group", "key", "since", "first", "last", "change",
                   "peak"), rows, text, numeric=(3, 4, 5, 6), short=(0, 1, 4, 5, 6))  # fmt: skip


def _positions(report: DailyReport) -> Section:
    rows = tuple(
        (p.book, p.symbol, fmt.shares(p.qty), fmt.usd(p.avg_cost, cents=True), fmt.usd(p.price, cents=True),
         p.price_date or fmt.DASH, fmt.usd(p.market_value), fmt.usd(p.unrealized_pnl, signed=True))
        for p in report.positions
    )  # fmt: skip
    where = {
        "ledger": "The ledger's positions now",
        "snapshot": "The positions of the day's snapshot",
    }.get(report.positions_from or "", "No snapshot of that day, so no positions to show")
    text = f"{where}, priced at their last daily close on or before the day (external positions are not ours)."
    return Section("Open positions", ("book", "symbol", "qty", "avg cost", "last close", "close of", "value",
                   "unrealized"), rows, text, numeric=(2, 3, 4, 6, 7), short=(1, 2, 3, 4, 7))  # fmt: skip


def _leg(leg: str, tier: int) -> str:
    return f"{leg} {tier}" if tier else leg


def _orders(report: DailyReport) -> Section:
    rows = tuple(
        (fmt.ny_time(o.created_at), o.step, o.book, o.symbol, o.side, fmt.shares(o.qty), _leg(o.leg, o.tier),
         o.status, fmt.shares(o.filled_qty), fmt.usd(o.filled_avg_price, cents=True))
        for o in report.day_orders
    )  # fmt: skip
    return Section(
        "Orders decided that day",
        ("decided", "step", "book", "symbol", "side", "qty", "leg", "status", "filled", "avg price"), rows,
        "Each order intent of the day with its status and what the broker filled, as the last sync recorded.",
        numeric=(5, 8, 9), short=(3, 4, 5, 6, 7, 8),
    )  # fmt: skip


def _fills(report: DailyReport) -> Section:
    rows = tuple(
        (fmt.ny_time(f.filled_at), f.book, f.symbol, f.side, fmt.shares(f.qty), fmt.usd(f.price, cents=True),
         _leg(f.leg, f.tier), fmt.usd(f.realized_pnl, signed=True), fmt.usd(f.commission, cents=True))
        for f in report.fills
    )  # fmt: skip
    return Section(
        "Fills", ("filled", "book", "symbol", "side", "qty", "price", "leg", "realized", "commission"), rows,
        "A sell's realized P&L is (price − average cost) × quantity, before its commission; the day's realized "
        f"P&L above is their sum less the day's commissions ({fmt.usd(report.summary.commissions, cents=True)}).",
        numeric=(4, 5, 7, 8), short=(2, 3, 4, 5, 6, 7),
    )  # fmt: skip


def _controls(report: DailyReport) -> Section:
    halt = report.halt
    rows = [
        ("kill switch", "HALTED" if halt else "off",
         f"since {fmt.ny_time(halt.since)}: {halt.reason}{' (exits held too)' if halt.exits else ''}" if halt
         else "not halted"),
    ]  # fmt: skip
    rows += [(b.name, "TRIPPED" if b.tripped else "clear", _breaker(b)) for b in report.breakers]
    return Section(
        "Breakers and the kill switch", ("control", "state", "detail"), tuple(rows),
        f"At the as-of ({fmt.ny_time(report.as_of)}), as the next entry would meet them; for a past day these "
        "are today's states, not that evening's.",
    )  # fmt: skip


def _breaker(b: BreakerState) -> str:
    """What the breaker reads and where it trips, every figure through ``fmt`` (size's own words are the JSON's
    ``detail``)."""
    if b.limit is None:
        return "off: no drawdown band stops new entries" if b.name == "drawdown_pause" else "off"
    if b.name == "consecutive_losses":
        text = f"{fmt.count(b.value)} losing trade(s) in a row; pauses at {fmt.count(b.limit)}"
        return f"{text}: paused until {b.resumes_on or '`autotrader resume --breaker streak`'}" if b.tripped else text
    if b.name in ("max_daily_loss", "daily_profit_target"):
        return f"P&L today {fmt.usd(b.value, signed=True)}; trips at {fmt.usd(b.limit, signed=True)}"
    if b.name == "drawdown_pause":
        return f"drawdown {_pct(b.value)} from the peak; no new entries above {_pct(b.limit)}"
    return b.detail


def _approvals(report: DailyReport) -> Section:
    rows = tuple(
        (a.symbol, a.side, fmt.shares(a.qty), a.book, fmt.ny_time(a.requested_at), fmt.ny_time(a.expires_at),
         fmt.plain(a.expired))
        for a in report.approvals
    )  # fmt: skip
    return Section("Entries awaiting approval", ("symbol", "side", "qty", "book", "requested", "expires", "expired"),
                   rows, numeric=(2,), short=(0, 2, 3, 5, 6))  # fmt: skip


def _signals(report: DailyReport) -> list[Section]:
    tallies = tuple(
        (t.source, t.category, fmt.count(t.received), fmt.count(t.traded), fmt.count(t.skipped)) for t in report.signals
    )
    reasons = tuple((r.reason, fmt.count(r.signals), r.example) for r in report.skip_reasons)
    return [
        Section("Signals", ("source", "category", "received", "traded", "skipped"), tallies,
                "Received: imported that day. Traded and skipped: what size decided that day (a signal received the "
                "evening before is decided the next morning).", numeric=(2, 3, 4)),
        Section("Skipped, by the rule that stopped them", ("rule", "signals", "example"), reasons, numeric=(1,)),
    ]  # fmt: skip


def _runs(report: DailyReport) -> tuple[Section, Section]:
    runs = tuple(
        (fmt.ny_time(r.as_of), r.command, fmt.plain(r.exit_code) if r.exit_code is not None else "no end",
         r.error or (r.notes[0] if r.notes else ""))
        for r in report.runs
    )  # fmt: skip
    problems = tuple((p.level, fmt.ny_time(p.as_of), p.command, p.message, fmt.count(p.count)) for p in report.problems)
    return (
        Section("Errors and warnings", ("level", "first", "command", "message", "runs"), problems,
                "Errors: runs that exited non-zero or recorded no end. Warnings: notes that say an order was "
                "rejected, abandoned or not placed, a file could not be moved, or buying halted.",
                numeric=(4,), short=(0, 2, 3, 4), empty="none: every run of the day exited 0, and no note warned"),
        Section("Runs of the day", ("as of", "command", "exit", "error or first note"), runs,
                "Cron's runs (run-daily and its steps) and the owner's controls (halt, resume, approve, reject, "
                f"flatten, orders cancel); {fmt.count(report.reads_left_out)} read-only run(s) of the day (report, "
                "scorecard, orders list, positions...) left out here, not from the errors and warnings above.",
                numeric=(2,)),
    )  # fmt: skip


def sections(report: DailyReport) -> list[Section]:
    problems, runs = _runs(report)
    return [
        problems, _performance(report), _positions(report), _orders(report), _fills(report), _deployed(report),
        _controls(report), _approvals(report), *_signals(report), runs,
    ]  # fmt: skip


# -- the page -----------------------------------------------------------------------------------------------------


def _rebased(values: Sequence[float | None]) -> list[float | None]:
    base = next((v for v in values if v), None)
    return [None if v is None or base is None else 100.0 * v / base for v in values]


def _finish(plt: Any, fig: Any, axis: Any, dates: Any) -> str:
    """Dates as days (a session each when they are few enough to read), a light grid, and the PNG."""
    import matplotlib.dates as mdates

    if len(dates) <= 12:
        axis.set_xticks(dates)
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    axis.grid(alpha=0.3)
    fig.autofmt_xdate()
    data = png(fig)
    plt.close(fig)
    return data


def charts(report: DailyReport) -> list[tuple[str, str]]:
    """(caption, PNG) for the equity against SPY and for the drawdown; none before two snapshots."""
    curve = report.curve
    if len(curve) < 2:
        return []
    import pandas as pd

    plt = pyplot()
    dates = pd.to_datetime([p.date for p in curve])
    span = f"{curve[0].date} – {curve[-1].date}, {fmt.count(len(curve))} sessions"
    fig, axis = plt.subplots(figsize=(9, 3.6))
    axis.plot(dates, _rebased([p.equity for p in curve]), label="account equity", linewidth=1.6, marker=".")
    spy = _rebased([p.spy for p in curve])
    if any(v is not None for v in spy):
        axis.plot(dates, [float("nan") if v is None else v for v in spy], label="SPY", linewidth=1.2, alpha=0.8)
    axis.set_title(f"Equity vs SPY, both rebased to 100 ({span})")
    axis.set_ylabel("rebased to 100")
    axis.legend(fontsize=8)
    equity_png = _finish(plt, fig, axis, dates)
    fig, axis = plt.subplots(figsize=(9, 2.4))
    below = [-100.0 * p.drawdown for p in curve]
    axis.fill_between(dates, below, 0.0, color="#c0392b", alpha=0.35, linewidth=0)
    axis.plot(dates, below, color="#c0392b", linewidth=1.0)
    axis.set_title(f"Drawdown from the running peak ({span})")
    axis.set_ylabel("% below the peak")
    drawdown_png = _finish(plt, fig, axis, dates)
    return [
        (f"Account equity and SPY's close, both rebased to 100 on {curve[0].date}", equity_png),
        ("The account's fall from its running peak, in percent", drawdown_png),
    ]


def _headline_html(facts: list[Fact]) -> str:
    parts = []
    for group in dict.fromkeys(f.group for f in facts):
        row = [f for f in facts if f.group == group]
        cells = [Raw(f'<span data-key="{html.escape(f.key)}">{html.escape(f.text)}</span>') for f in row]
        parts += [f'<p class="muted">{html.escape(group)}</p>',
                  grid([f.label for f in row], [cells], numeric=range(len(row)), css="facts")]  # fmt: skip
    return "\n".join(parts)


def _section_html(section: Section) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.lede:
        parts.append(f'<p class="lede">{html.escape(section.lede)}</p>')
    if section.rows:
        parts.append(grid(list(section.headers), section.rows, numeric=section.numeric))
    else:
        parts.append(f'<p class="muted">{html.escape(section.empty)}</p>')
    return "\n".join(parts)


def page_body(report: DailyReport) -> str:
    return "\n".join([
        f'<p class="lede">{html.escape(lede(report))}</p>',
        _headline_html(headline(report)),
        *(figure(caption, data) for caption, data in charts(report)),
        *(_section_html(s) for s in sections(report)),
    ])  # fmt: skip


def write_html(path: Path, report: DailyReport, *, option: str = "--html") -> Path:
    """Write the page; a path that cannot be written raises ``InputError`` naming ``option`` and the path."""
    heading = marks(dry_run=report.dry_run, simulated=report.simulated, synthetic=report.synthetic)
    return write_page(path, title(report), page_body(report), heading_marks=heading, option=option)


# -- Markdown -----------------------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int]) -> list[str]:
    align = ["---:" if i in numeric else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def markdown(report: DailyReport) -> str:
    """The same report as Markdown: the headline, then every section (the charts are the page's alone)."""
    flags = [label for label, on in (("simulated", report.simulated), ("dry run", report.dry_run)) if on]
    heading = title(report) + (f" ({', '.join(flags)})" if flags else "")
    lines = [f"# {heading}", "", lede(report)]
    facts = headline(report)
    for group in dict.fromkeys(f.group for f in facts):
        lines += ["", f"{group}:", ""]
        lines += _md_table(("figure", "value"), [(f.label, f.text) for f in facts if f.group == group], (1,))
    for section in sections(report):
        lines += ["", f"## {section.title}", ""]
        if section.lede:
            lines += [section.lede, ""]
        lines += _md_table(section.headers, section.rows, section.numeric) if section.rows else [section.empty]
    return "\n".join(lines) + "\n"
