"""``ArchiveSignals``: the owner's own recommendation files as a replay's ``SignalSource`` (``replay --signals``).

``read_folder`` reads a folder of signal CSV files (the inbox's format; subfolders too, as the archive nests them
by date) once, before the replay runs, and cuts each file into the parts that arrive at the same minute
(``policy.signal_archive``: when a row arrives, and why that is the scorecard's rule). A structurally bad file,
or a folder without one, is an ``InputError`` (exit 2) then, so nothing runs. ``ArchiveSignals.documents`` then
offers at each scan the parts that have arrived by the clock, never one that has not: the clock rule of
``autotrader.ports`` keeps the replay honest. A part stays on offer while it can still hold a fresh row (it
arrived within ``[signals] max_age_days``), and ``scan`` imports it once by its content hash; a part older than
that holds only rows ``scan`` would skip as stale (a row arrives no earlier than it was generated), so it is
left out rather than parsed again at every slot.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from autotrader.errors import InputError
from autotrader.policy import signal_archive
from autotrader.policy.signal_archive import Part, SignalFolder
from autotrader.ports import Clock

SUFFIX = ".csv"
OTHER_FORMATS = (".json",)  # what the inbox also takes: named in the replay's notes, not replayed


def read_folder(folder: Path, display: Callable[[Path], str]) -> SignalFolder:
    """Every ``*.csv`` under ``folder`` (dot-files and dot-folders left out: editors' temporaries), parsed and cut
    into parts once. ``display`` names a path in messages. Raises ``InputError``."""
    shown = display(folder)
    if not folder.is_dir():
        raise InputError(f"--signals {shown}: not a folder", hint="--signals takes a folder of signal CSV files")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p.relative_to(folder)))
    csvs = [p for p in files if p.suffix.lower() == SUFFIX]
    if not csvs:
        raise InputError(
            f"--signals {shown}: no .csv signal file in it or its subfolders",
            hint="point it at a folder of recommendation files (the inbox's CSV format), e.g. signals/archive",
        )
    parts: list[Part] = []
    rows = 0
    for path in csvs:
        origin = display(path)
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise InputError(f"{origin}: cannot read: {e.strerror}") from None
        # The folders between the one given and the file, and the one given itself: the archive's date folder.
        folders = [folder.resolve().name, *path.relative_to(folder).parts[:-1]]
        cut = signal_archive.split_file(origin, raw, earliest=signal_archive.folder_date(folders))
        parts.extend(cut)
        rows += sum(p.rows for p in cut)
    others = tuple(display(p) for p in files if p.suffix.lower() in OTHER_FORMATS)
    return SignalFolder(shown, len(csvs), rows, signal_archive.by_arrival(parts), others)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


class ArchiveSignals:
    """The parts of a ``SignalFolder`` that have arrived by the clock (see the module doc)."""

    name = "archive"

    def __init__(self, folder: SignalFolder, clock: Clock, *, max_age: timedelta) -> None:
        self.folder = folder
        self._clock = clock
        self._max_age = max_age
        self._first = [p for p in folder.parts if p.arrival is None]  # no arrival of their own: from the first scan
        self._timed = [p for p in folder.parts if p.arrival is not None]  # by arrival (SignalFolder's order)
        self._arrivals = [at for p in self._timed if (at := p.arrival) is not None]

    def documents(self, session: date) -> list[tuple[str, str]]:
        now = self._clock.now()
        lo = bisect.bisect_left(self._arrivals, now - self._max_age)
        hi = bisect.bisect_right(self._arrivals, now)
        return [(p.origin, p.text) for p in (*self._first, *self._timed[lo:hi])]
