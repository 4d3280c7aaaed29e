"""``compare --html FILE``: the variants' equity curves side by side, each variant's figures and management, and
each change's verdicts against the base (over the same signals, and account against account). The terminal
prints the same tables (``variant_rows``, ``difference_rows``, ``account_rows``); every figure is one of the
``--json`` report's fields."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from autotrader.domain.reports import CompareReport
from autotrader.exports import fmt
from autotrader.exports.html_page import PageFacts, figure, grid, png, pyplot, verdict, write_page

VARIANT_HEADERS = ["variant", "settings", "final equity", "total return", "max drawdown", "Sharpe", "orders",
                   "traded", "P&L", "pick-only P&L", "management added"]  # fmt: skip
DIFFERENCE_HEADERS = ["variant", "vs base", "interval", "signals", "sessions", "verdict"]


def _settings(settings: dict[str, object]) -> str:
    """The overrides as they were written: ``KEY=VALUE`` with TOML's spelling of the value."""
    return "; ".join(f"{k}={_toml(v)}" for k, v in settings.items()) or "as configured"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


def settings_lines(report: CompareReport) -> list[str]:
    """One line per variant: its name and the settings it changed (the terminal's tables leave them out)."""
    return [f"{v.name}: {_settings(v.settings)}" for v in report.variants]


# What the terminal's 80 columns hold: the name, the account, and what the trades made with management's part.
TERMINAL_COLUMNS = (0, 2, 3, 4, 5, 8, 10)


def variant_rows(report: CompareReport, *, terminal: bool = False) -> tuple[list[str], list[list[str]]]:
    """The variants' figures (``terminal``: only ``TERMINAL_COLUMNS``; the settings go on lines of their own)."""
    rows = []
    for v in report.variants:
        if v.exit_code:
            rows.append([v.name, _settings(v.settings), f"failed (exit {v.exit_code})", *["–"] * 8])
        else:
            rows.append([
            v.name, _settings(v.settings), fmt.usd(v.final_equity), fmt.pct(v.total_return, signed=True),
            fmt.pct(v.max_drawdown), fmt.ratio(v.sharpe), fmt.count(v.orders), f"{v.traded:,} of {v.signals:,}",
            fmt.usd(v.managed_pnl, signed=True), fmt.usd(v.pick_pnl, signed=True),
            fmt.usd(v.management_alpha, signed=True),
        ])  # fmt: skip
    if not terminal:
        return VARIANT_HEADERS, rows
    return [VARIANT_HEADERS[i] for i in TERMINAL_COLUMNS], [[r[i] for i in TERMINAL_COLUMNS] for r in rows]


def difference_rows(report: CompareReport) -> tuple[list[str], list[list[str]]]:
    rows = [
        [d.variant, fmt.usd(d.total, signed=True, cents=False), _interval(d.lo, d.hi), fmt.count(d.signals),
         fmt.count(d.sessions), d.verdict]
        for d in report.differences
    ]  # fmt: skip
    return DIFFERENCE_HEADERS, rows


ACCOUNT_HEADERS = ["variant", "vs base", "interval", "sessions", "verdict"]


def account_rows(report: CompareReport) -> tuple[list[str], list[list[str]]]:
    """Each variant's account against the base's (the change in final equity and its interval)."""
    rows = [
        [a.variant, fmt.usd(a.total, signed=True, cents=False), _interval(a.lo, a.hi), fmt.count(a.sessions),
         a.verdict]
        for a in report.accounts
    ]  # fmt: skip
    return ACCOUNT_HEADERS, rows


def _interval(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "–"
    return f"{fmt.usd(lo, signed=True, cents=False)} to {fmt.usd(hi, signed=True, cents=False)}"


def benchmark_line(report: CompareReport) -> str | None:
    """SPY over the same sessions, the figure each variant's account is read against."""
    b = report.benchmark
    if b is None:
        return None
    return (
        f"SPY over the same sessions: total return {fmt.pct(b.total_return, signed=True)}, max drawdown "
        f"{fmt.pct(b.max_drawdown)}, Sharpe {fmt.ratio(b.sharpe)}"
    )


def equity_chart(report: CompareReport, benchmark: pd.Series | None) -> str:
    """Every variant's equity rebased to 100 at the start, and SPY's closes alike."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for v in report.variants:
        if v.exit_code or len(v.equity) < 2:
            continue
        path = pd.Series({pd.Timestamp(day): value for day, value in v.equity})
        ax.plot(path.index, 100 * path / path.iloc[0], label=v.name, linewidth=1.5)
    if benchmark is not None and len(benchmark):
        ax.plot(benchmark.index, 100 * benchmark / benchmark.iloc[0], label="SPY", linestyle="--", linewidth=1.1,
                color="#555")  # fmt: skip
    ax.set_title("Each variant's equity, and SPY (all start at 100)")
    ax.set_ylabel("growth of 100")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    data = png(fig)
    plt.close(fig)
    return data


def management_rows(report: CompareReport) -> tuple[list[str], list[list[str]]]:
    actions = sorted({a for v in report.variants for a in v.management})
    rows = [[v.name, *(fmt.usd(v.management.get(a), signed=True) if a in v.management else "–" for a in actions)]
            for v in report.variants if not v.exit_code]  # fmt: skip
    return ["variant", *actions], rows


def write_html(path: Path, report: CompareReport, facts: PageFacts, benchmark: pd.Series | None = None) -> Path:
    lede = (
        f"The same {fmt.count(report.sessions)} sessions ({report.start} to {report.end}) replayed under "
        f"{len(report.variants)} rule sets through the steps cron runs, on the simulated broker; each variant is "
        f"compared with {report.base} over the same signals, with a {report.level:.1%} interval that resamples "
        "whole sessions (corrected for the number of comparisons)."
    )
    headers, rows = variant_rows(report)
    d_headers, d_rows = difference_rows(report)
    m_headers, m_rows = management_rows(report)
    verdicts = "".join(f"<p>{verdict(d.verdict)} {html.escape(d.statement)}</p>" for d in report.differences)
    a_headers, a_rows = account_rows(report)
    account_verdicts = "".join(f"<p>{verdict(a.verdict)} {html.escape(a.statement)}</p>" for a in report.accounts)
    spy = benchmark_line(report)
    body = "\n".join([
        f'<p class="lede">{lede}</p>',
        figure("Each variant's equity against SPY", equity_chart(report, benchmark)),
        "<h2>The variants</h2>", grid(headers, rows, numeric=range(2, 11), css="variants"),
        f"<h2>Against {report.base}</h2>", verdicts,
        grid(d_headers, d_rows, numeric=(1, 3, 4), css="differences") if d_rows else "",
        f"<h2>Each account against {report.base}'s</h2>",
        "<p>Session by session, the variant's P&amp;L minus the base's, with a moving-block bootstrap interval over "
        "sessions: what a change outside the signals' trades (the rebalancer's selection, its book) did.</p>",
        f"<p>{html.escape(spy)}</p>" if spy else "", account_verdicts,
        grid(a_headers, a_rows, numeric=(1, 3), css="accounts") if a_rows else "",
        "<h2>What management did in each</h2>",
        "<p>Each action's value against holding the pick to its rule exit, summed over the variant's trades.</p>",
        grid(m_headers, m_rows, numeric=range(1, len(m_headers)), css="management"),
    ])  # fmt: skip
    return write_page(path, facts.title, body, heading_marks=facts.marks())
