"""``rebalance --html FILE``: the strategy table, the selection, the targets and deltas, and NAV curves."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from autotrader.exports.html_page import image, png, pyplot, table, write_page


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


def write_html(path: Path, payload: dict[str, Any], navs: dict[str, pd.Series]) -> Path:
    selection = payload.get("selection", {})
    strategies = [
        ("strategy", "name"), ("final NAV", "nav"), ("CAGR", "cagr"), ("Sharpe", "sharpe"),
        ("max drawdown", "max_drawdown"), ("NAV momentum", "momentum"), ("rebalances", "rebalances"),
    ]  # fmt: skip
    summary = (
        f"Winner: <b>{html.escape(str(payload.get('winner')))}</b> (runner-up "
        f"{html.escape(str(payload.get('runner_up')))}); probabilistic Sharpe ratio against the runner-up "
        f"{selection.get('psr_vs_runner_up')}, deflated Sharpe over {selection.get('strategies_tried')} strategies "
        f"{selection.get('deflated_sharpe')}. Traded: <b>{html.escape(str(payload.get('selected')))}</b> — "
        f"{html.escape(str(selection.get('reason', '')))}."
    )
    body = f"""<p>{summary}</p>
{table(payload.get("strategies", []), strategies)}
{image("backtest NAV per strategy", nav_chart(navs))}
<h2>Targets</h2>
{
        table(
            payload.get("targets", []),
            [("symbol", "symbol"), ("weight", "weight"), ("shares", "shares"), ("price", "price")],
        )
    }
<h2>Deltas</h2>
{
        table(
            payload.get("deltas", []),
            [
                ("symbol", "symbol"),
                ("side", "side"),
                ("qty", "qty"),
                ("target", "target"),
                ("current", "current"),
                ("reason", "reason"),
            ],
        )
    }"""
    return write_page(path, f"autotrader rebalance {payload.get('as_of', '')}", body)
