"""``init``: an empty workspace, ready for a first paper week.

Gather (the template config, the folder as it is) → plan (frozen: every folder and file with its text and
mode, the config already validated) → apply (write them; under ``--dry-run`` nothing). It refuses to
overwrite: a folder that already holds a ``config.toml`` or a ``.env`` is left as it is (exit 2).

The config is the documented template (every setting with its comment and default) with the chosen broker
and data source set, and the synthetic feed off unless the data is synthetic (a real broker never trades on
made-up prices or recommendations: ``settings`` refuses that combination, and so does ``init``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from autotrader.errors import InputError

BrokerKind = Literal["sim", "alpaca"]
DataKind = Literal["synthetic", "local", "polygon"]

ENV_TEMPLATE = """\
# API keys for this workspace. autotrader reads them from here or from the environment, never from
# config.toml, and never prints, logs or stores them. Keep this file private (mode 0600).
# Alpaca (paper keys from the Alpaca dashboard):
# ALPACA_API_KEY=
# ALPACA_SECRET_KEY=
# Polygon (Massive) market data:
# MASSIVE_API_KEY=
# Finnhub, optional: sectors and earnings dates:
# FINNHUB_API_KEY=
"""

FOLDERS = ("logs", "signals/inbox", "signals/archive", "signals/rejected")


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    text: str
    mode: int


@dataclass(frozen=True)
class WorkspacePlan:
    folder: Path
    folders: tuple[Path, ...]
    files: tuple[PlannedFile, ...]
    broker: BrokerKind
    data: DataKind


def config_text(template: str, *, broker: BrokerKind, data: DataKind) -> str:
    """The template with ``[broker] kind``, ``[data] kind`` and ``[signals] synthetic_feed`` set."""
    text = _set(template, "broker", "kind", f'"{broker}"')
    text = _set(text, "data", "kind", f'"{data}"')
    return _set(text, "signals", "synthetic_feed", "true" if data == "synthetic" else "false")


def _set(text: str, section: str, key: str, value: str) -> str:
    """Replace the first ``key = ...`` line inside ``[section]`` (the template has each once)."""
    header = re.search(rf"^\[{re.escape(section)}\]\s*$", text, flags=re.MULTILINE)
    if header is None:
        raise AssertionError(f"the config template has no [{section}] table")
    end = re.search(r"^\[", text[header.end() :], flags=re.MULTILINE)
    body_end = header.end() + (end.start() if end else len(text) - header.end())
    body = text[header.end() : body_end]
    new_body, count = re.subn(rf"^{re.escape(key)} = .*$", f"{key} = {value}", body, count=1, flags=re.MULTILINE)
    if count != 1:
        raise AssertionError(f"the config template has no {key} in [{section}]")
    return text[: header.end()] + new_body + text[body_end:]


def plan_workspace(folder: Path, template: str, *, broker: BrokerKind, data: DataKind) -> WorkspacePlan:
    """What ``init`` writes; raises ``InputError`` for a folder it must not touch or a refused combination."""
    folder = folder.expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder", hint="pass another DIR")
    for name in ("config.toml", ".env"):
        if (folder / name).exists():
            raise InputError(
                f"{folder / name}: already exists; init never overwrites a workspace",
                hint="pass a new or empty DIR, or edit the existing config.toml",
            )
    text = config_text(template, broker=broker, data=data)
    _validate(text, folder)
    folders = [folder / name for name in FOLDERS]
    if data == "local":
        folders.append(folder / "data")
    files = (PlannedFile(folder / "config.toml", text, 0o644), PlannedFile(folder / ".env", ENV_TEMPLATE, 0o600))
    return WorkspacePlan(folder, tuple(folders), files, broker, data)


def _validate(text: str, folder: Path) -> None:
    """The generated config must load like any other (the same checks, the same messages)."""
    from autotrader.settings import config_from_text

    config_from_text(text, folder / "config.toml", workspace=folder)


def apply(plan: WorkspacePlan) -> list[Path]:
    """Create the folders and write the files; returns what was created, in order."""
    created: list[Path] = []
    for path in (plan.folder, *plan.folders):
        if not path.exists():
            path.mkdir(parents=True)
            created.append(path)
    for planned in plan.files:
        # Created with its mode from the start: the keys file is never readable by others, not even briefly.
        with open(planned.path, "x", encoding="utf-8", opener=_opener(planned.mode)) as handle:
            handle.write(planned.text)
        created.append(planned.path)
    return created


def _opener(mode: int) -> Callable[[str, int], int]:
    def opener(path: str, flags: int) -> int:
        return os.open(path, flags, mode)

    return opener
