"""The structural reading every strict CSV input shares (signal files, prediction files). Pure.

Bytes to text (UTF-8, a byte-order mark allowed), then records to cells: each data row's cells by column
name (stripped; an empty cell is None), with the physical line it starts on, blank lines skipped. Anything
that makes the document untrustworthy as a whole is an ``InputError`` naming ``file:line``: not UTF-8, a
malformed record (an unterminated quote), a row whose field count differs from the header's, no header at
all. The header itself is the caller's to check (``header``: its allowed and required columns and words).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from autotrader.errors import InputError


def decode(origin: str, raw: bytes, *, hint: str) -> str:
    try:
        return raw.decode("utf-8-sig")  # a UTF-8 byte-order mark (Excel's "CSV UTF-8") is fine
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(
            f"{origin}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})", hint=hint
        ) from None


def cells(
    origin: str, text: str, header: Callable[[list[str]], list[str]], *, hint: str
) -> list[tuple[int, dict[str, str | None]]]:
    """(line, cells by column) per data row; ``header`` checks the header record and returns its names."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out: list[tuple[int, dict[str, str | None]]] = []
    names: list[str] | None = None
    while True:
        start = reader.line_num + 1  # the physical line this record starts on
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            what = (
                "unterminated quote (the quoted field runs to the end of the file)"
                if "end of data" in str(e)
                else str(e)
            )
            raise InputError(f"{origin}:{start}: malformed CSV: {what}", hint=hint) from None
        if names is None:
            names = header(record)
            continue
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line
        if len(record) != len(names):
            raise InputError(
                f"{origin}:{start}: {len(record)} fields, but the header has {len(names)} "
                "(a truncated line, a stray comma, or an unquoted comma inside a value)",
                hint=hint,
            )
        out.append((start, {name: (cell.strip() or None) for name, cell in zip(names, record, strict=True)}))
    if names is None:
        raise InputError(f"{origin}:1: no header line (the file holds only blank space)", hint=hint)
    return out
