"""Scorecard exports: CSV files for spreadsheets and one self-contained HTML page with PNG charts.

The charts are drawn with matplotlib's Agg backend (no display needed) and embedded in the page as
base64 PNGs, so the report is a single file that can be mailed or archived as is.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

import pandas as pd

from autotrader.errors import InputError
from autotrader.exports.html_page import image, png, pyplot, table, write_page

SECTIONS = ("rule_exit", "pick_only", "managed")


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


def charts(rows: list[dict[str, Any]], series: pd.DataFrame, *, horizons: list[int], primary: int) -> dict[str, str]:
    """The three charts as base64 PNGs: cumulative excess per category, hit rate by horizon, calibration."""
    plt = pyplot()

    out: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(8, 3.6))
    if not series.empty:
        for category, frame in series.sort_values("generated_at").groupby("category"):
            ax.plot(frame["generated_at"], frame["excess"].cumsum() * 100, label=str(category))
        ax.legend()
    ax.set_title(f"Cumulative excess return over SPY at {primary} sessions, per category (sum of signals, %)")
    ax.axhline(0, color="grey", linewidth=0.8)
    fig.autofmt_xdate()
    out["cumulative_excess"] = png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for row in (r for r in rows if r["group"] == "category"):
        xs, ys, lo, hi = [], [], [], []
        for h in horizons:
            value, ci = row["hit_rate"].get(str(h)), row["hit_rate_ci"].get(str(h))
            if value is None or ci is None:
                continue
            xs.append(h)
            ys.append(value * 100)
            lo.append((value - ci[0]) * 100)
            hi.append((ci[1] - value) * 100)
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=row["key"])
    ax.axhline(50, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xticks(horizons, [str(h) for h in horizons])
    ax.set_xlabel("horizon (sessions)")
    ax.set_ylabel("hit rate, % (95% Wilson)")
    ax.set_title("Hit rate by horizon, per category")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    out["hit_rate"] = png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 3.6))
    conviction = [r for r in rows if r["group"] == "conviction"]
    labels: list[str] = []
    means: list[float] = []
    errs: list[list[float]] = [[], []]
    for row in conviction:
        at = str(row.get("primary_horizon") or primary)
        mean, ci = row["abnormal_return_mean"].get(at), row["abnormal_return_ci"].get(at)
        labels.append(row["key"])
        means.append((mean or 0.0) * 100)
        errs[0].append(((mean - ci[0]) * 100) if mean is not None and ci else 0.0)
        errs[1].append(((ci[1] - mean) * 100) if mean is not None and ci else 0.0)
    ax.bar(labels, means, yerr=errs, capsize=4, color="#4c72b0")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("conviction")
    ax.set_ylabel("mean abnormal return at the primary horizon, %")
    ax.set_title("Conviction calibration (95% date-block bootstrap interval)")
    out["calibration"] = png(fig)
    plt.close(fig)
    return out


def write_html(
    path: Path,
    rows: list[dict[str, Any]],
    calibration: dict[str, Any],
    series: pd.DataFrame,
    *,
    horizons: list[int],
    primary: int,
    title: str,
) -> Path:
    images = charts(rows, series, horizons=horizons, primary=primary)
    p = str(primary)
    quality = [
        ("group", "group"),
        ("key", "key"),
        ("signals", "signals"),
        ("traded", "traded"),
        ("pending", "pending"),
        *[(f"hit {h}", f"hit_rate.{h}") for h in horizons],
        (f"excess mean {p}", f"excess_return_mean.{p}"),
        (f"excess 95% CI {p}", f"excess_return_ci.{p}"),
        (f"excess median {p}", f"excess_return_median.{p}"),
        ("verdict", "verdict"),
    ]
    management = [
        ("group", "group"),
        ("key", "key"),
        ("rule-exit win rate", "rule_exit.win_rate"),
        ("rule-exit expectancy R", "rule_exit.expectancy_r"),
        ("trades", "pick_only.trades"),
        ("pick-only P&L", "pick_only.pnl"),
        ("pick-only win rate", "pick_only.win_rate"),
        ("pick-only PF", "pick_only.profit_factor"),
        ("pick-only SQN", "pick_only.sqn"),
        ("managed P&L", "managed.pnl"),
        ("managed win rate", "managed.win_rate"),
        ("management alpha", "management_alpha.total"),
    ]
    alpha_rows = [
        {"group": r["group"], "key": r["key"], "action": action, "pnl": value}
        for r in rows
        for action, value in sorted(r["management_alpha"].get("by_action", {}).items())
    ]
    statement = html.escape(str(calibration.get("statement", "")))
    body = f"""<h2>Was the pick good?</h2>
{table(rows, quality, flatten_row)}
{image("cumulative excess return per category", images["cumulative_excess"])}
{image("hit rate by horizon", images["hit_rate"])}
<h2>Did management add value?</h2>
<p>Pick-only: the entry alone held to its rule exit. Managed: the same positions with their dip-buys,
profit-takes and exits. Management alpha = managed − pick-only, by action below.</p>
{table(rows, management, flatten_row)}
{table(alpha_rows, [("group", "group"), ("key", "key"), ("action", "action"), ("P&L vs pick", "pnl")])}
<h2>Conviction calibration</h2>
<p>{statement}</p>
{image("conviction calibration", images["calibration"])}"""
    write_page(path, title, body)
    return path
