"""``replay --html FILE`` (and the demo's page): what a backtest's user opens later.

First the account against SPY over the same sessions (total return, CAGR, max drawdown, Sharpe, Sortino),
its equity and drawdown charts, then every closed trade with what management did to it, then the replayed
signals' scorecard (``exports.scorecard``). Every figure is one of the ``--json`` report's fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from autotrader.domain.reports import ScorecardReport
from autotrader.exports import fmt
from autotrader.exports import scorecard as scorecard_page
from autotrader.exports.html_page import PageFacts, figure, grid, png, pyplot, write_page

PERFORMANCE_HEADERS = [
    "", "total return", "CAGR", "max drawdown", "Sharpe", "Sortino", "sessions", "from the close of", "to the close of"
]


def performance_rows(comparison: dict[str, Any] | None) -> list[list[str]]:
    """The account's and SPY's figures, one row each (what the terminal prints too)."""
    if not comparison:
        return []
    rows = []
    for name, figures in (("account", comparison["account"]), ("SPY", comparison.get("benchmark"))):
        if figures is None:
            continue
        rows.append([
            name, fmt.pct(figures["total_return"], signed=True), fmt.pct(figures["cagr"], signed=True),
            fmt.pct(figures["max_drawdown"]), fmt.ratio(figures["sharpe"]), fmt.ratio(figures["sortino"]),
            fmt.count(figures["sessions"]), figures["start"], figures["end"],
        ])  # fmt: skip
    return rows


def equity_chart(equity: pd.Series, benchmark: pd.Series | None) -> str:
    """Both rebased to 100 at the start, with the account's drawdown under it."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    top.plot(equity.index, 100 * equity / equity.iloc[0], label="account", linewidth=1.6)
    if benchmark is not None and len(benchmark):
        spy = benchmark.reindex(equity.index).dropna()
        if len(spy):
            top.plot(spy.index, 100 * spy / spy.iloc[0], label="SPY", linestyle="--", linewidth=1.2)
    top.set_title("Account equity against SPY (both start at 100)")
    top.set_ylabel("growth of 100")
    top.grid(alpha=0.3)
    top.legend(fontsize=8)
    drawdown = 100 * (equity / equity.cummax() - 1)
    bottom.fill_between(drawdown.index, drawdown.to_numpy(), 0, color="#c0392b", alpha=0.35, linewidth=0)
    bottom.set_ylabel("drawdown, %")
    bottom.grid(alpha=0.3)
    fig.autofmt_xdate()
    data = png(fig)
    plt.close(fig)
    return data


def trades_table(reviews: list[dict[str, Any]]) -> str:
    cells = [
        [t["symbol"], t.get("category") or "–", t.get("source") or "–", fmt.ny_time(t["opened_at"]),
         fmt.ny_time(t.get("closed_at")), t.get("exit_reason") or "–", fmt.usd(t["managed_pnl"], signed=True),
         fmt.usd(t["pick_pnl"], signed=True), fmt.usd(t["management_alpha"], signed=True),
         fmt.pct(t.get("return"), signed=True)]
        for t in reviews
    ]  # fmt: skip
    headers = ["symbol", "category", "source", "opened", "closed", "exit", "P&L", "pick-only P&L",
               "management added", "return"]  # fmt: skip
    return grid(headers, cells, numeric=(6, 7, 8, 9), css="trades")


def write_html(
    path: Path,
    payload: dict[str, Any],
    card: ScorecardReport,
    equity: pd.Series,
    benchmark: pd.Series | None,
    reviews: list[dict[str, Any]],
    facts: PageFacts,
) -> Path:
    comparison = payload.get("performance")
    lede = (
        f"{fmt.count(payload['sessions'])} sessions replayed from {payload['start']} to {payload['end']} through "
        f"the same steps cron runs, on the simulated broker: {fmt.count(payload['orders_total'])} orders, "
        f"{fmt.count(payload['fills_total'])} fills, final equity {fmt.usd(payload['final_equity'])}."
    )
    closed = f"{len(reviews):,} closed trades" if reviews else "No trade closed during the replay."
    body = "\n".join([
        f'<p class="lede">{lede}</p>',
        "<h2>Performance against SPY</h2>",
        grid(PERFORMANCE_HEADERS, performance_rows(comparison), numeric=range(1, 7), css="performance"),
        figure("Account equity against SPY, and the account's drawdown", equity_chart(equity, benchmark))
        if len(equity) > 1 else "",
        "<h2>Trades</h2>", f"<p>{closed}</p>", trades_table(reviews) if reviews else "",
        "<h2>The replayed signals' scorecard</h2>",
        scorecard_page.body_html(card.to_json(), card.curves, facts.as_of),
    ])  # fmt: skip
    return write_page(path, facts.title, body, heading_marks=facts.marks())
