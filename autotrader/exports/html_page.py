"""What every self-contained HTML report shares: base64 PNG charts, tables of flattened rows, the page.

Charts are drawn with matplotlib's Agg backend (no display needed) and embedded as base64 PNGs, so a report
is a single file that can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from autotrader.errors import InputError

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f3f3f3; } td:first-child, td:nth-child(2) { text-align: left; }
"""


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported only when a report is drawn)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def image(alt: str, data: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return " .. ".join(cell(v) for v in value)
    return html.escape(str(value))


def table(
    rows: Iterable[dict[str, Any]], columns: list[tuple[str, str]], flatten: Callable[[dict], dict] = lambda r: r
) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for title, _ in columns)
    body = []
    for row in rows:
        flat = flatten(row)
        body.append("<tr>" + "".join(f"<td>{cell(flat.get(key))}</td>" for _, key in columns) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_page(path: Path, title: str, body: str) -> Path:
    """Write the page; a path that cannot be written is bad input (exit 2), named with the option."""
    page = (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>\n'
        f"<style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise InputError(f"--html {path}: cannot write the file ({error.strerror})") from None
    return path
