"""The JSON-lines event log: one file per (UTC) day under ``logs/``, one object per line.

One writer at a time is guaranteed by the workspace lock (``status`` and ``config`` do not write here),
and a file per day means no in-process rotation, which is unsafe while another process may be appending.
Every line passes through a redaction step that replaces the configured secret values, so a key can never
reach the log even if some code tried to log it.
"""

from __future__ import annotations

import json
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autotrader.clock import ET


class EventLog:
    def __init__(
        self, logs_dir: Path | None, *, run_id: str, command: str, mode: str, secrets: list[str] | None = None
    ) -> None:
        self._dir = logs_dir
        self.run_id = run_id
        self.command = command
        self.mode = mode
        self._secrets = [s for s in (secrets or []) if len(s) >= 4]
        self._warned = False

    def path_for(self, wall: datetime) -> Path | None:
        if self._dir is None:
            return None
        return self._dir / f"autotrader-{wall.astimezone(UTC):%Y-%m-%d}.jsonl"

    def event(self, event: str, **fields: Any) -> None:
        wall = datetime.now(UTC)  # log lines are stamped with when they were written, not the as-of
        path = self.path_for(wall)
        if path is None:
            return
        record = {
            "ts": wall.isoformat(timespec="milliseconds"),
            "ts_et": wall.astimezone(ET).isoformat(timespec="seconds"),
            "run_id": self.run_id,
            "command": self.command,
            "mode": self.mode,
            "event": event,
            **fields,
        }
        line = self._redact(json.dumps(record, default=str))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as error:
            # The log is a record, not the job: say once on stderr (cron mails it) and carry on.
            if not self._warned:
                self._warned = True
                sys.stderr.write(f"warning: cannot write the log {path}: {error.strerror}\n")

    def exception(self, event: str, error: BaseException, **fields: Any) -> None:
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.event(event, error=str(error), error_type=type(error).__name__, traceback=trace, **fields)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "**********")
        return text
