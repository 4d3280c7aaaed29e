"""Numbers and times as a person reads them, shared by the terminal and every report.

One place decides how a percentage, a dollar amount, a q-value or a time is written, so the terminal, the
HTML pages, the Markdown report and the notifications never disagree about the same figure. Missing or
non-finite values are written as an en dash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from autotrader.clock import ET

DASH = "–"
MINUS = "−"  # U+2212: a typographic minus, as wide as the plus


def _missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def _signed(text: str) -> str:
    """Python's ``-`` as a real minus sign; a zero that rounds to "-0" loses its sign."""
    if text.startswith("-"):
        body = text[1:]
        return body if not body.strip("0.,%$") else MINUS + body
    if text.startswith("+") and not text[1:].strip("0.,%$"):
        return text[1:]
    return text


def pct(value: float | None, digits: int = 1, *, signed: bool = False) -> str:
    """A fraction as a percentage: ``pct(0.0123) == "1.2%"``; ``signed`` adds a plus sign to gains."""
    if _missing(value):
        return DASH
    assert value is not None
    return _signed(f"{value * 100:{'+' if signed else ''}.{digits}f}%")


def pct_digits(*values: float | None) -> int:
    """Two decimals when every figure is below 1% in size (so 0.3% and 0.05% stay apart), else one."""
    present = [abs(v) for v in values if not _missing(v)]  # type: ignore[arg-type]
    return 2 if present and max(present) < 0.01 else 1


def pct_interval(mean: float | None, ci: Sequence[float | None] | None, *, signed: bool = True) -> str:
    """``+1.2% [−0.3%, +2.8%]``: the estimate and its interval at one precision."""
    bounds = list(ci or ())
    digits = pct_digits(mean, *bounds)
    text = pct(mean, digits, signed=signed)
    if len(bounds) == 2 and not any(_missing(b) for b in bounds):
        text += f" [{pct(bounds[0], digits, signed=signed)}, {pct(bounds[1], digits, signed=signed)}]"
    return text


def usd(value: float | None, *, signed: bool = False, cents: bool | None = None) -> str:
    """Dollars with thousands separators: cents below $1,000 (``$12.34``), whole dollars above (``$45,830``)."""
    if _missing(value):
        return DASH
    assert value is not None
    show_cents = abs(value) < 1000 if cents is None else cents
    sign = "-" if value < 0 else ("+" if signed else "")
    body = f"{abs(value):,.{2 if show_cents else 0}f}"
    return _signed(f"{sign}${body}")


def sig(value: float | None, digits: int = 3) -> str:
    """A plain number to ``digits`` significant digits with thousands separators: 45,830.2 → ``45,800``;
    0.012345 → ``0.0123``. Never scientific notation."""
    if _missing(value):
        return DASH
    assert value is not None
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - magnitude, 0)
    rounded = round(value, digits - 1 - magnitude)  # a negative place rounds to tens, hundreds...
    return _signed(f"{rounded:,.{decimals}f}")


def count(value: int | float | None) -> str:
    """A whole number with thousands separators."""
    if _missing(None if value is None else float(value)):
        return DASH
    assert value is not None
    return f"{round(value):,}"


def shares(value: float | None) -> str:
    """A quantity of shares: whole ones as a count (``1,200``), fractional ones to four decimals (``0.5``)."""
    if _missing(value):
        return DASH
    assert value is not None
    if abs(value - round(value)) < 1e-9:
        return _signed(f"{round(value):,}")
    return _signed(f"{value:,.4f}".rstrip("0"))


def q_value(value: float | None) -> str:
    """A q- or p-value: ``<0.001``, three decimals below 0.1, two above."""
    if _missing(value):
        return DASH
    assert value is not None
    return "<0.001" if value < 0.001 else f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def ratio(value: float | None, digits: int = 2) -> str:
    """A ratio such as a Sharpe, a beta or an R multiple, to fixed decimals."""
    if _missing(value):
        return DASH
    assert value is not None
    return _signed(f"{value:.{digits}f}")


def ny_time(when: datetime | str | None) -> str:
    """An instant in New York time to the minute: ``2026-12-03 09:35 ET``."""
    if when is None or when == "":
        return DASH
    instant = datetime.fromisoformat(when) if isinstance(when, str) else when
    if instant.tzinfo is None:  # stored instants are UTC; a naive one is taken as such
        from datetime import UTC

        instant = instant.replace(tzinfo=UTC)
    return f"{instant.astimezone(ET):%Y-%m-%d %H:%M} ET"


def number(value: float | None, decimals: int = 4) -> str:
    """A quantity or amount as stored, without float noise: ``1277.0`` → ``1,277``, ``242207.13`` →
    ``242,207.13``, ``0.09373`` → ``0.0937`` (at most ``decimals`` decimals, trailing zeros dropped)."""
    if _missing(value):
        return DASH
    assert value is not None
    text = f"{value:,.{decimals}f}".rstrip("0").rstrip(".")
    return _signed(text)


def plain(value: object) -> str:
    """Any value as text for a person: no Python reprs (``True`` → ``yes``, a dict → ``key: value, ...``)."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, int):
        return count(value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {plain(inner)}" for key, inner in value.items()) or DASH
    if isinstance(value, list | tuple):
        return ", ".join(plain(inner) for inner in value) or DASH
    return str(value)
