"""What every self-contained HTML report shares: base64 PNG charts, formatted grids, verdict badges, the page.

Charts are drawn with matplotlib's Agg backend (no display needed) and embedded as base64 PNGs, so a report
is a single file that can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autotrader.errors import InputError

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 72em;
  padding: 0 1em; color: #1f2328; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em;
  border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; } h3 { font-size: 1.05em; margin-top: 1.5em; }
p.lede { color: #57606a; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.9em; max-width: 100%; }
th, td { border-bottom: 1px solid #d8dee4; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; } td.num, th.num { text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { display: inline-block; padding: 0.1em 0.55em; border-radius: 1em; font-weight: 600;
  font-size: 0.9em; white-space: nowrap; }
.v-good { background: #dafbe1; color: #116329; } .v-bad { background: #ffebe9; color: #a40e26; }
.v-none { background: #eaeef2; color: #424a53; } .v-few { background: #fff8c5; color: #7d4e00; }
.mark { display: inline-block; padding: 0.1em 0.5em; margin-left: 0.4em; border: 1px solid #bf8700;
  color: #7d4e00; border-radius: 0.3em; font-size: 0.75em; vertical-align: middle; }
.muted { color: #57606a; } .warn { background: #fff8c5; border-left: 4px solid #bf8700; padding: 0.4em 0.8em; }
figure { margin: 0.8em 0 1.6em; } figure img { max-width: 100%; height: auto; }
figcaption { color: #57606a; font-size: 0.85em; }
details > summary { cursor: pointer; color: #0969da; } details { margin: 0.2em 0; }
"""


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported only when a report is drawn)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def image(alt: str, data: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def figure(caption: str, data: str) -> str:
    """A chart with its caption under it: the alt text and the caption say the same thing."""
    return f"<figure>{image(caption, data)}<figcaption>{html.escape(caption)}</figcaption></figure>"


# The scorecard's verdicts, each with its colour: one place, so every page colours them alike.
VERDICT_CLASS = {"beats SPY": "v-good", "trails SPY": "v-bad", "no evidence": "v-none", "added": "v-good",
                 "cost": "v-bad"}  # fmt: skip


def verdict(text: str) -> str:
    css = VERDICT_CLASS.get(text, "v-few" if text.startswith("too few") else "v-none")
    return f'<span class="verdict {css}">{html.escape(text)}</span>'


def marks(*, dry_run: bool = False, simulated: bool = False, synthetic: bool = False) -> str:
    """The labels that say a page is not about real money or real prices: a dry run, a simulated broker, the
    seeded synthetic market (whose SPY can rise 50% in a quarter: no comparison with it says anything real)."""
    flags = (("dry run", dry_run), ("simulated", simulated), ("synthetic data", synthetic))
    labels = [label for label, on in flags if on]
    return "".join(f'<span class="mark">{label}</span>' for label in labels)


@dataclass(frozen=True)
class PageFacts:
    """What every report page says at its top: its title, the instant it describes, and whether that is
    simulated (a simulated broker or a replay) or a dry run."""

    title: str
    as_of: str  # New York time, to the minute
    simulated: bool
    dry_run: bool
    synthetic: bool = False  # the seeded synthetic market data

    def marks(self) -> str:
        return marks(dry_run=self.dry_run, simulated=self.simulated, synthetic=self.synthetic)


class Raw(str):
    """Markup already escaped (a verdict badge, a link): ``grid`` puts it in as is."""


def grid(headers: list[str], rows: Iterable[Iterable[Any]], *, numeric: Iterable[int] = (), css: str = "") -> str:
    """A table of cells already formatted for a person (``exports.fmt``); ``numeric`` column indexes are
    right-aligned in tabular figures. Text is escaped unless it is ``Raw``."""
    right = set(numeric)

    def td(i: int, value: Any, tag: str = "td") -> str:
        klass = ' class="num"' if i in right else ""
        text = value if isinstance(value, Raw) else html.escape("–" if value is None else str(value))
        return f"<{tag}{klass}>{text}</{tag}>"

    head = "".join(td(i, h, "th") for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(td(i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def check_writable(option: str, path: Path) -> None:
    """Refuse (exit 2) a page path that cannot be written, before anything runs: a folder, or no writable folder
    on its way (the commands check it first so that a bad --html leaves the ledger as it was)."""
    import os

    folder = path.expanduser().resolve().parent
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if path.is_dir() or existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        raise InputError(f"{option} {path}: cannot write there", hint="give a file path in a writable folder")


def write_page(path: Path, title: str, body: str, *, heading_marks: str = "", option: str = "--html") -> Path:
    """Write the page; a path that cannot be written is bad input (exit 2), named with the option.
    ``heading_marks`` (``marks``) go beside the title."""
    page = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style></head><body>\n"
        f"<h1>{html.escape(title)}{heading_marks}</h1>\n{body}\n</body></html>\n"
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise InputError(f"{option} {path}: cannot write the file ({error.strerror})") from None
    return path
