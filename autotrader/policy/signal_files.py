"""Signal documents (CSV or JSON) → validated ``Signal`` values plus the rows skipped and why. Pure.

Two kinds of problem, two outcomes (a file that cannot be trusted imports nothing; a bad row is skipped alone):

- **Structural** (the document cannot be trusted as a whole): not UTF-8, zero bytes, a missing required or an
  unknown column, a row with the wrong number of fields, an unterminated quote, a value that does not parse
  as a number or a date. ``InputError`` (exit 2) naming ``file:line`` and what is allowed; the caller then
  imports nothing at all. A half-written file usually shows up here (truncated last line).
- **Row-level** (the document is fine, one recommendation is not usable): unknown symbol, category or side
  outside the allowed values, conviction outside 1-10, non-positive prices or horizon, stop/target on the
  wrong side of the entry, a first target (``target_one``) without a target or not between the entry (else the
  stop) and the target, a predicted return not above −1 or a probability outside [0, 1] (the optional
  prediction columns, checked as prediction files are: ``policy.predictions``), stale or future
  ``generated_at``. The row is skipped with its line and reason; the other rows import.

Duplicates against the ledger are not decided here (that needs the ledger); the pipeline does it.

Leniency, where it cannot change meaning: cells are stripped, an empty cell (or a JSON null) is an absent
value, blank lines are ignored, header names, category and side are case-insensitive, symbols are
upper-cased, side defaults to buy. ``generated_at`` is stored in UTC, so the same instant written with
different offsets is the same recommendation (``Signal.dedupe_key``).

Line numbers: CSV lines are physical lines, header = line 1 (a quoted multi-line field counts from the
line its row starts on). JSON items have no useful line, so a JSON row's ``line`` is its item number
(1-based) and structural errors say ``file: item N``; a JSON syntax error gives the decoder's line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from autotrader.clock import ET
from autotrader.domain.enums import Side
from autotrader.domain.models import CATEGORIES, Signal
from autotrader.errors import InputError
from autotrader.policy import csv_cells, predictions

COLUMNS: tuple[str, ...] = (
    "symbol",
    "category",
    "source",
    "side",
    "conviction",
    "entry",
    "stop",
    "target_one",
    "target",
    "horizon_days",
    "generated_at",
    "note",
)
#: Every column a document may have: ``COLUMNS`` and the optional prediction columns (what a model predicted
#: for the symbol, checked as prediction files are: ``policy.predictions``).
ALL_COLUMNS: tuple[str, ...] = (*COLUMNS, *predictions.PREDICTION_COLUMNS)
REQUIRED: tuple[str, ...] = ("symbol", "category", "source", "generated_at")
SIDES: tuple[str, ...] = tuple(str(s) for s in Side)
MAX_HORIZON_DAYS = 2520  # ten years of sessions: anything longer is a typo, not a horizon
NUMBER_COLUMNS: tuple[str, ...] = (
    "conviction",
    "entry",
    "stop",
    "target_one",
    "target",
    "horizon_days",
    *predictions.PREDICTION_COLUMNS,
)
PRICE_COLUMNS: tuple[str, ...] = ("entry", "stop", "target_one", "target")
CONVICTION_RANGE = (1, 10)

_ALLOWED_COLUMNS = ", ".join(ALL_COLUMNS)
_FORMAT_HINT = (
    f"columns: {_ALLOWED_COLUMNS} (required: {', '.join(REQUIRED)}); UTF-8 text; "
    "generated_at in ISO 8601 (no offset = New York time)"
)


@dataclass(frozen=True, slots=True)
class Row:
    """One data row after the structural checks: text cells parsed into numbers and an aware UTC instant."""

    line: int
    values: dict[str, Any]  # column → str | float | datetime | None (None = empty / absent)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    line: int
    symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    origin: str
    rows: int  # data rows (header and blank lines excluded)
    signals: tuple[Signal, ...]
    skipped: tuple[SkippedRow, ...]


# -- structure -------------------------------------------------------------------------------------


def is_json(origin: str) -> bool:
    return origin.lower().endswith(".json")


def read_rows(origin: str, raw: bytes) -> list[Row]:
    """The document's rows, typed; raises ``InputError`` for anything structural (see the module doc)."""
    if not raw:
        raise InputError(
            f"{origin}:1: empty file (0 bytes); a signal file needs at least a header line (CSV) or [] (JSON)",
            hint=_FORMAT_HINT,
        )
    text = csv_cells.decode(origin, raw, hint="save the file as UTF-8 (" + _FORMAT_HINT + ")")
    cells = _json_cells(origin, text) if is_json(origin) else _csv_cells(origin, text)
    return [Row(line, _typed(origin, where, values)) for line, where, values in cells]


def _csv_cells(origin: str, text: str) -> list[tuple[int, str, dict[str, str | None]]]:
    rows = csv_cells.cells(origin, text, lambda record: _header(origin, record), hint=_FORMAT_HINT)
    return [(line, f"{origin}:{line}", values) for line, values in rows]


def _header(origin: str, record: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in record]
    seen: set[str] = set()
    for name in names:
        if not name:
            raise InputError(f"{origin}:1: empty column name (a trailing comma?) (allowed: {_ALLOWED_COLUMNS})")
        if name not in ALL_COLUMNS:
            raise InputError(f"{origin}:1: unknown column {name!r} (allowed: {_ALLOWED_COLUMNS})", hint=_FORMAT_HINT)
        if name in seen:
            raise InputError(f"{origin}:1: column {name!r} appears twice", hint=_FORMAT_HINT)
        seen.add(name)
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        raise InputError(
            f"{origin}:1: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED)})",
            hint=_FORMAT_HINT,
        )
    return names


def _json_cells(origin: str, text: str) -> list[tuple[int, str, dict[str, str | None]]]:
    try:
        # NaN/Infinity are not JSON; Python accepts them by default. Let them through as non-finite floats
        # so the number check below names the item and field.
        document = json.loads(text, parse_constant=lambda name: float("nan"))
    except json.JSONDecodeError as e:
        raise InputError(
            f"{origin}:{e.lineno}: invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})",
            hint='a list of objects, or {"signals": [...]}; ' + _FORMAT_HINT,
        ) from None
    except ValueError as e:  # e.g. an integer with more digits than Python converts
        raise InputError(f"{origin}: invalid JSON: {e}", hint=_FORMAT_HINT) from None
    if isinstance(document, dict) and set(document) == {"signals"}:
        document = document["signals"]
    if not isinstance(document, list):
        raise InputError(
            f'{origin}:1: expected a list of signal objects or {{"signals": [...]}}, got {type(document).__name__}',
            hint=_FORMAT_HINT,
        )
    out: list[tuple[int, str, dict[str, Any]]] = []
    for n, item in enumerate(document, start=1):
        where = f"{origin}: item {n}"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected an object, got {type(item).__name__}", hint=_FORMAT_HINT)
        for key in item:
            if key not in ALL_COLUMNS:
                raise InputError(f"{where}: unknown field {key!r} (allowed: {_ALLOWED_COLUMNS})", hint=_FORMAT_HINT)
        missing = [name for name in REQUIRED if name not in item]
        if missing:
            raise InputError(
                f"{where}: missing required field{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                hint=_FORMAT_HINT,
            )
        values: dict[str, Any] = {}
        for name in ALL_COLUMNS:
            value = item.get(name)
            if isinstance(value, str):
                value = value.strip() or None
            elif value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise InputError(
                    f"{where}: field {name!r} must be a string or a number, got {type(value).__name__}",
                    hint=_FORMAT_HINT,
                )
            elif value is not None and name not in NUMBER_COLUMNS:
                value = str(value)  # e.g. a numeric note; text columns stay text
            values[name] = value
        out.append((n, where, values))
    return out


def _typed(origin: str, where: str, values: dict[str, Any]) -> dict[str, Any]:
    typed: dict[str, Any] = {name: values.get(name) for name in ALL_COLUMNS}
    for name in NUMBER_COLUMNS:
        typed[name] = _number(where, name, typed[name])
    typed["generated_at"] = _instant(where, typed["generated_at"])
    return typed


def _number(where: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        shown = value if len(str(value)) <= 40 else f"{str(value)[:40]}..."
        raise InputError(f"{where}: {name} {shown!r} is not a number", hint=_FORMAT_HINT) from None
    if not math.isfinite(number):
        raise InputError(f"{where}: {name} {value!r} is not a finite number", hint=_FORMAT_HINT)
    return number


def parse_instant(text: str) -> datetime:
    """ISO 8601 → aware UTC. No offset means New York time; a bare date means 00:00 in New York."""
    if len(text) == 10:
        local = datetime.combine(date.fromisoformat(text), time(0, 0))
    else:
        local = datetime.fromisoformat(text)
    if local.tzinfo is None:
        local = local.replace(tzinfo=ET)
    return local.astimezone(UTC)


def _instant(where: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: generated_at must be an ISO 8601 string, got {value!r}", hint=_FORMAT_HINT)
    try:
        return parse_instant(value)
    except (ValueError, OverflowError):
        raise InputError(
            f"{where}: generated_at {value!r} is not an ISO 8601 date or time "
            "(e.g. 2026-03-02T08:00:00-05:00; no offset = New York time)",
            hint=_FORMAT_HINT,
        ) from None


# -- rows ------------------------------------------------------------------------------------------

# Each check looks at one row and returns why it cannot be used, or None. First failure wins.
RowCheck = Callable[[dict[str, Any], "_Frame"], str | None]


@dataclass(frozen=True, slots=True)
class _Frame:
    as_of: datetime
    max_age: timedelta
    known_symbol: Callable[[str], bool]


def _required_values(v: dict[str, Any], f: _Frame) -> str | None:
    missing = [name for name in REQUIRED if v[name] is None]
    return f"missing value: {', '.join(missing)}" if missing else None


def _symbol(v: dict[str, Any], f: _Frame) -> str | None:
    return None if f.known_symbol(v["symbol"]) else f"unknown symbol {v['symbol']!r}"


def _category(v: dict[str, Any], f: _Frame) -> str | None:
    if v["category"] in CATEGORIES:
        return None
    return f"invalid category {v['category']!r} (allowed: {', '.join(CATEGORIES)})"


def _side(v: dict[str, Any], f: _Frame) -> str | None:
    return None if v["side"] in SIDES else f"invalid side {v['side']!r} (allowed: {', '.join(SIDES)})"


def _conviction(v: dict[str, Any], f: _Frame) -> str | None:
    c = v["conviction"]
    lo, hi = CONVICTION_RANGE
    if c is None or (c == int(c) and lo <= c <= hi):
        return None
    return f"conviction {c:g} is not a whole number from {lo} to {hi}"


def _positive(v: dict[str, Any], f: _Frame) -> str | None:
    for name in PRICE_COLUMNS:
        if v[name] is not None and v[name] <= 0:
            return f"{name} {v[name]:g} must be > 0"
    h = v["horizon_days"]
    if h is not None and (h <= 0 or h != int(h) or h > MAX_HORIZON_DAYS):
        return f"horizon_days {h:g} must be a whole number from 1 to {MAX_HORIZON_DAYS}"
    return None


def _levels(v: dict[str, Any], f: _Frame) -> str | None:
    # A buy's stop is below its entry and its target above; a sell's the other way round. Without an entry,
    # stop and target must at least be on opposite sides in the same sense.
    entry, stop, target, buy = v["entry"], v["stop"], v["target"], v["side"] == str(Side.BUY)
    below, above = ("below", "above") if buy else ("above", "below")
    if entry is not None:
        if stop is not None and (stop >= entry if buy else stop <= entry):
            return f"stop {stop:g} must be {below} entry {entry:g} for a {v['side']}"
        if target is not None and (target <= entry if buy else target >= entry):
            return f"target {target:g} must be {above} entry {entry:g} for a {v['side']}"
    elif stop is not None and target is not None and (stop >= target if buy else stop <= target):
        return f"stop {stop:g} must be {below} target {target:g} for a {v['side']}"
    return None


def _target_one(v: dict[str, Any], f: _Frame) -> str | None:
    # The first target (a partial exit there, then the stop to break-even) lies between the entry and the final
    # target: a buy's above the entry and below the target, a sell's the other way round. Without an entry, it
    # is at least beyond the stop.
    first, entry, stop, target = v["target_one"], v["entry"], v["stop"], v["target"]
    if first is None:
        return None
    buy = v["side"] == str(Side.BUY)
    below, above = ("below", "above") if buy else ("above", "below")
    if target is None:
        return f"target_one {first:g} without a target (target_one is the first target, between entry and target)"
    if first >= target if buy else first <= target:
        return f"target_one {first:g} must be {below} target {target:g} for a {v['side']}"
    if entry is not None and (first <= entry if buy else first >= entry):
        return f"target_one {first:g} must be {above} entry {entry:g} for a {v['side']}"
    if entry is None and stop is not None and (first <= stop if buy else first >= stop):
        return f"target_one {first:g} must be {above} stop {stop:g} for a {v['side']}"
    return None


def _predictions(v: dict[str, Any], f: _Frame) -> str | None:
    return predictions.value_problem(v)


def _fresh(v: dict[str, Any], f: _Frame) -> str | None:
    at: datetime = v["generated_at"]
    if at > f.as_of:
        # Never look ahead: a recommendation stamped after the as-of instant cannot have been known then.
        return f"generated in the future ({at.isoformat()} is after the as-of {f.as_of.isoformat()})"
    if at < f.as_of - f.max_age:
        days = f.max_age / timedelta(days=1)
        return f"stale: generated {at.isoformat()}, more than {days:g} days before the as-of (max_age_days)"
    return None


ROW_CHECKS: tuple[RowCheck, ...] = (
    _required_values,
    _symbol,
    _category,
    _side,
    _conviction,
    _positive,
    _levels,
    _target_one,
    _predictions,
    _fresh,
)


def _normalised(values: dict[str, Any]) -> dict[str, Any]:
    """Case-insensitive symbols and enum values; side defaults to buy."""
    v = dict(values)
    if v["symbol"] is not None:
        v["symbol"] = v["symbol"].upper()
    if v["category"] is not None:
        v["category"] = v["category"].lower()
    v["side"] = (v["side"] or str(Side.BUY)).lower()
    return v


def parse_document(
    origin: str,
    raw: bytes,
    *,
    as_of: datetime,
    max_age: timedelta,
    known_symbol: Callable[[str], bool],
) -> ParsedDocument:
    """Parse and validate one document. Raises ``InputError`` for structural problems (nothing usable)."""
    frame = _Frame(as_of, max_age, known_symbol)
    signals: list[Signal] = []
    skipped: list[SkippedRow] = []
    rows = read_rows(origin, raw)
    for row in rows:
        v = _normalised(row.values)
        reason = next((r for check in ROW_CHECKS if (r := check(v, frame)) is not None), None)
        if reason is not None:
            skipped.append(SkippedRow(row.line, v["symbol"] or "", reason))
            continue
        signals.append(
            Signal(
                symbol=v["symbol"],
                category=v["category"],
                source=v["source"],
                generated_at=v["generated_at"],
                side=Side(v["side"]),
                conviction=None if v["conviction"] is None else int(v["conviction"]),
                entry=v["entry"],
                stop=v["stop"],
                target=v["target"],
                target_one=v["target_one"],
                horizon_days=None if v["horizon_days"] is None else int(v["horizon_days"]),
                note=v["note"] or "",
                line=row.line,
                **{name: v[name] for name in predictions.PREDICTION_COLUMNS},
            )
        )
    return ParsedDocument(origin, len(rows), tuple(signals), tuple(skipped))
