"""``rebalance --html FILE``: the strategy table, the selection, the targets and deltas, and NAV curves."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from autotrader.exports import fmt
from autotrader.exports.html_page import PageFacts, figure, grid, png, pyplot, write_page


def nav_chart(navs: dict[str, pd.Series]) -> str:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(9, 4.5))
    for name, nav in navs.items():
        if len(nav):
            axis.plot(nav.index, nav.to_numpy(), label=name, linewidth=1.4)
    axis.set_title("Backtest NAV per strategy")
    axis.set_ylabel("NAV ($)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.autofmt_xdate()
    data = png(figure)
    plt.close(figure)
    return data


def write_html(path: Path, payload: dict[str, Any], navs: dict[str, pd.Series], facts: PageFacts) -> Path:
    selection = payload.get("selection", {})
    winner = payload.get("winner")
    strategies = [
        [s["name"], fmt.usd(s.get("nav")), fmt.pct(s.get("cagr"), signed=True), fmt.ratio(s.get("sharpe")),
         fmt.pct(s.get("max_drawdown")), fmt.pct(s.get("momentum"), signed=True), fmt.count(s.get("rebalances")),
         "winner" if s["name"] == winner else ""]
        for s in payload.get("strategies", [])
    ]  # fmt: skip
    summary = (
        f"Winner: {winner} (runner-up {payload.get('runner_up') or 'none'}); probabilistic Sharpe ratio against "
        f"the runner-up {fmt.ratio(selection.get('psr_vs_runner_up'), 3)}, deflated Sharpe over "
        f"{fmt.count(selection.get('strategies_tried'))} strategies {fmt.ratio(selection.get('deflated_sharpe'), 3)}. "
        f"Traded: {payload.get('selected')} — {selection.get('reason', '')}."
    )
    # The terminal's caution, kept on the page: a winner that is not significant may have won by luck.
    warning = selection.get("warning")
    body = "\n".join([
        f"<p>{html.escape(summary)}</p>",
        f'<p class="warn">{html.escape(warning)}</p>' if warning else "",
        grid(["strategy", "final NAV", "CAGR", "Sharpe", "max drawdown", "NAV momentum", "rebalances", ""],
             strategies, numeric=range(1, 7), css="strategies"),
        figure("Backtest NAV per strategy", nav_chart(navs)),
        "<h2>Targets</h2>",
        grid(["symbol", "weight", "shares", "price"],
             [[t["symbol"], fmt.pct(t.get("weight")), fmt.number(t.get("shares")), fmt.number(t.get("price"), 2)]
              for t in payload.get("targets", [])], numeric=(1, 2, 3), css="targets"),
        "<h2>Deltas</h2>",
        grid(["symbol", "side", "qty", "target", "current", "reason"],
             [[d["symbol"], d["side"], fmt.number(d.get("qty")), fmt.number(d.get("target")),
               fmt.number(d.get("current")), d.get("reason", "")] for d in payload.get("deltas", [])],
             numeric=(2, 3, 4), css="deltas"),
    ])  # fmt: skip
    return write_page(path, f"{facts.title} as of {facts.as_of}", body, heading_marks=facts.marks())
