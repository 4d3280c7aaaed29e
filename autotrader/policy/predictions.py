"""Prediction files (CSV, from an external ML model) → validated ``Prediction`` values plus the rows skipped
and why. Pure.

A file holds rows ``symbol, date, predicted_return_3d, predicted_return_10d, predicted_return_30d,
probability``: ``date`` is the session the prediction is *for* (made before that session's open), each
``predicted_return_Nd`` the model's expected return from that session's open over the next N sessions as a
fraction (0.012 = +1.2%), and ``probability`` the model's chance, in [0, 1], that the **10-session return is
positive**. Only ``symbol`` and ``date`` are required; an empty cell is an absent value, but a row needs at
least one prediction.

Checked the way signal files are (``policy.signal_files``):

- **Structural** (the file cannot be trusted as a whole): not UTF-8, zero bytes, a missing required or an
  unknown column, a row with the wrong number of fields, an unterminated quote, a value that is not a number
  or an ISO date. ``InputError`` naming ``file:line`` and the allowed columns; nothing of the file is used.
- **Row-level**: a missing symbol or date, an unknown symbol, a date that is not a trading session, a return
  that is not > −1 (a long position cannot lose more than everything), a probability outside [0, 1], no
  prediction at all, the same symbol and date twice. The row is skipped with its line and reason.

Point in time: a prediction for session D is usable on D's morning and on D only (``for_session``): never
before (a file may hold tomorrow's rows; they wait for their date), and not on a later session either (a
prediction for D is about D's open; an older one is stale, not a forecast).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from autotrader.errors import InputError
from autotrader.policy import csv_cells

RETURN_COLUMNS: tuple[str, ...] = ("predicted_return_3d", "predicted_return_10d", "predicted_return_30d")
HORIZONS: dict[str, int] = {"predicted_return_3d": 3, "predicted_return_10d": 10, "predicted_return_30d": 30}
PREDICTION_COLUMNS: tuple[str, ...] = (*RETURN_COLUMNS, "probability")
COLUMNS: tuple[str, ...] = ("symbol", "date", *PREDICTION_COLUMNS)
REQUIRED: tuple[str, ...] = ("symbol", "date")
#: What ``probability`` is the chance of.
PROBABILITY_MEANS = "a positive 10-session return"

_ALLOWED = ", ".join(COLUMNS)
_HINT = (
    f"columns: {_ALLOWED} (required: {', '.join(REQUIRED)}); UTF-8 CSV; date = the session (YYYY-MM-DD); "
    "returns as fractions > -1; probability in [0, 1]"
)


@dataclass(frozen=True, slots=True)
class Prediction:
    symbol: str
    session: date
    predicted_return_3d: float | None = None
    predicted_return_10d: float | None = None
    predicted_return_30d: float | None = None
    probability: float | None = None
    origin: str = ""
    line: int = 0

    def value(self, column: str) -> float | None:
        return getattr(self, column)


@dataclass(frozen=True, slots=True)
class SkippedPrediction:
    line: int
    symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedPredictions:
    origin: str
    rows: int
    predictions: tuple[Prediction, ...]
    skipped: tuple[SkippedPrediction, ...]


def value_problem(values: dict[str, float | None]) -> str | None:
    """Why these prediction values (any of ``PREDICTION_COLUMNS``, None = absent) cannot be used, or None. Signal
    files' optional prediction columns are checked by the same rule."""
    for name in RETURN_COLUMNS:
        v = values.get(name)
        if v is not None and not (math.isfinite(v) and v > -1):
            return f"{name} {v:g} must be a fraction above -1 (0.02 = +2%)"
    p = values.get("probability")
    if p is not None and not (math.isfinite(p) and 0 <= p <= 1):
        return f"probability {p:g} must be from 0 to 1"
    return None


# -- structure -------------------------------------------------------------------------------------


def _header(origin: str, record: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in record]
    seen: set[str] = set()
    for name in names:
        if name not in COLUMNS:
            shown = "empty column name (a trailing comma?)" if not name else f"unknown column {name!r}"
            raise InputError(f"{origin}:1: {shown} (allowed: {_ALLOWED})", hint=_HINT)
        if name in seen:
            raise InputError(f"{origin}:1: column {name!r} appears twice (allowed: {_ALLOWED})", hint=_HINT)
        seen.add(name)
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        raise InputError(f"{origin}:1: missing required column(s) {', '.join(missing)} (allowed: {_ALLOWED})",
                         hint=_HINT)  # fmt: skip
    return names


def _number(where: str, name: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"{where}: {name} {text[:40]!r} is not a number", hint=_HINT) from None
    if not math.isfinite(number):
        raise InputError(f"{where}: {name} {text!r} is not a finite number", hint=_HINT)
    return number


def _date(where: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{where}: date {text[:40]!r} is not an ISO date (YYYY-MM-DD)", hint=_HINT) from None


def read_rows(origin: str, raw: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(line, typed values) per data row; raises ``InputError`` for anything structural."""
    if not raw:
        raise InputError(f"{origin}:1: empty file (0 bytes); a prediction file needs a header line", hint=_HINT)
    text = csv_cells.decode(origin, raw, hint=_HINT)
    out: list[tuple[int, dict[str, Any]]] = []
    for start, cells in csv_cells.cells(origin, text, lambda record: _header(origin, record), hint=_HINT):
        where = f"{origin}:{start}"
        values: dict[str, Any] = {
            "symbol": cells.get("symbol"),
            "date": _date(where, cells.get("date")),
            **{name: _number(where, name, cells.get(name)) for name in PREDICTION_COLUMNS},
        }
        out.append((start, values))
    return out


# -- rows ------------------------------------------------------------------------------------------


def parse_predictions(
    origin: str,
    raw: bytes,
    *,
    known_symbol: Callable[[str], bool] = lambda _: True,
    is_session: Callable[[date], bool] = lambda _: True,
) -> ParsedPredictions:
    """Parse and validate one prediction file. Raises ``InputError`` for structural problems (nothing usable)."""
    rows = read_rows(origin, raw)
    kept: list[Prediction] = []
    skipped: list[SkippedPrediction] = []
    seen: dict[tuple[str, date], int] = {}
    for line, v in rows:
        symbol = (v["symbol"] or "").upper()
        reason = _row_problem(symbol, v, known_symbol, is_session)
        if reason is None and (symbol, v["date"]) in seen:
            reason = f"duplicate: {symbol} {v['date']} already predicted on line {seen[(symbol, v['date'])]}"
        if reason is not None:
            skipped.append(SkippedPrediction(line, symbol, reason))
            continue
        seen[(symbol, v["date"])] = line
        kept.append(Prediction(symbol, v["date"], **{name: v[name] for name in PREDICTION_COLUMNS}, origin=origin,
                               line=line))  # fmt: skip
    return ParsedPredictions(origin, len(rows), tuple(kept), tuple(skipped))


def _row_problem(
    symbol: str, v: dict[str, Any], known_symbol: Callable[[str], bool], is_session: Callable[[date], bool]
) -> str | None:
    missing = [name for name in REQUIRED if not v[name]]
    if missing:
        return f"missing value: {', '.join(missing)}"
    if not known_symbol(symbol):
        return f"unknown symbol {symbol!r}"
    if not is_session(v["date"]):
        return f"{v['date']} is not a trading session"
    if all(v[name] is None for name in PREDICTION_COLUMNS):
        return f"no prediction (one of {', '.join(PREDICTION_COLUMNS)} is needed)"
    return value_problem(v)


def for_session(predictions: Iterable[Prediction], session: date) -> dict[str, Prediction]:
    """The predictions usable on ``session``'s morning, by symbol: those made for that session only. When two
    files predict the same symbol for it, the later file (by name; the caller passes them in that order) wins."""
    return {p.symbol: p for p in predictions if p.session == session}


# -- combination conditions ------------------------------------------------------------------------

#: ``prediction_<N>d_positive``: the N-session predicted return is above 0 (N = 3, 10, 30).
#: ``probability_above_<p>``: the probability is above p, a decimal strictly between 0 and 1 (e.g. 0.6).
_POSITIVE = re.compile(r"^prediction_(3|10|30)d_positive$")
_ABOVE = re.compile(r"^probability_above_(0\.\d*[1-9])$")
CONDITION_VOCABULARY = "prediction_3d_positive, prediction_10d_positive, prediction_30d_positive, probability_above_P"


def prediction_condition(name: str) -> tuple[str, float] | None:
    """A prediction condition's (column, threshold: the value must be above it), or None for another name."""
    if m := _POSITIVE.match(name):
        return f"predicted_return_{m.group(1)}d", 0.0
    if m := _ABOVE.match(name):
        return "probability", float(m.group(1))
    return None
