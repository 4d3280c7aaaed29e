"""Read a report page back as a person sees it: its tables by header, its headings and images, and the
figures in its cells as numbers, so a test can hold the page to the ``--json`` output it was drawn from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Table:
    css: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.headers, row, strict=False)) for row in self.rows]


@dataclass
class Page:
    title: str = ""
    headings: list[str] = field(default_factory=list)
    images: int = 0
    tables: list[Table] = field(default_factory=list)
    text: str = ""

    def table(self, css: str) -> Table:
        found = [t for t in self.tables if css in t.css.split()]
        assert len(found) == 1, f"{len(found)} tables of class {css!r}"
        return found[0]

    def table_with(self, *headers: str) -> Table:
        found = [t for t in self.tables if all(h in t.headers for h in headers)]
        assert found, f"no table with the columns {headers}"
        return found[0]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._heading: list[str] | None = None
        self._in_title = False
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table":
            self.page.tables.append(Table(attributes.get("class") or ""))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "img":
            self.page.images += 1
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            table = self.page.tables[-1]
            if not table.headers:
                table.headers = self._row
            else:
                table.rows.append(self._row)
            self._row = None
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self.page.headings.append(" ".join("".join(self._heading).split()))
            self._heading = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)
        if self._in_title:
            self.page.title += data
        self._text.append(data)


def read(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.page.text = " ".join("".join(reader._text).split())
    return reader.page


_NUMBER = r"[+\-−]?\$?[\d,]*\.?\d+%?"


def number(text: str) -> tuple[float, float]:
    """A written figure as (value, half its last digit): ``+1.2%`` → (0.012, 0.0005); ``−$1,234`` → (−1234, 0.5).
    Percentages come back as fractions."""
    text = text.strip().replace("−", "-")
    match = re.fullmatch(_NUMBER, text)
    assert match, f"not a figure: {text!r}"
    percent = text.endswith("%")
    digits = text.rstrip("%").replace("$", "").replace(",", "").lstrip("+")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value = float(digits)
    half = 0.5 * 10.0**-decimals
    return (value / 100, half / 100) if percent else (value, half)


def figures(text: str) -> list[tuple[float, float]]:
    """Every figure in a cell, in order: ``+1.1% [+0.5%, +1.7%]`` → three."""
    return [number(m) for m in re.findall(_NUMBER, text.replace("−", "-"))]


def shows(text: str, value: float | None) -> bool:
    """Whether the written figure is ``value`` rounded as written (a dash for None)."""
    if value is None:
        return text.strip() == "–"
    written, half = number(text)
    return abs(written - value) <= half * 1.0001 + 1e-12
