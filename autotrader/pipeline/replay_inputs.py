"""What a replay runs with besides the config file as it is: ``--set`` overrides and ``--signals FOLDER``.

``ReplayInputs.load`` is ``invoke``'s ``load`` hook, so everything given on the command line is read and checked
before the workspace is locked or a ledger opened: a bad override or a structurally bad signal file is exit 2
with nothing written, not even the previous replay's ledger removed. The settings are the config's with the
overrides applied (``settings.load_config``). With ``--signals`` the folder's files are a signal source of the
replay in place of the synthetic world's made-up feed (``attach``; the owner's picks replace the made-up ones),
fed point in time (``policy.signal_archive``). The built-in scanners stay as configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from autotrader.settings import Config, config_path_from, load_config

if TYPE_CHECKING:
    from autotrader.domain.reports import ReplayReport
    from autotrader.pipeline.context import StepContext
    from autotrader.policy.signal_archive import SignalFolder


class ReplayInputs:
    def __init__(self, config_path: str | None, overrides: Sequence[str] = (), signals: Path | None = None) -> None:
        self.config_path = config_path
        self.overrides = list(overrides)
        self.signals = signals
        self.folder: SignalFolder | None = None  # read by ``load``

    def load(self) -> Config:
        config = load_config(config_path_from(self.config_path), overrides=self.overrides)
        if self.signals is not None:
            from autotrader.bootstrap import read_signal_folder

            self.folder = read_signal_folder(config, self.signals)
        return config

    def attach(self, ctx: StepContext) -> StepContext:
        """``ctx`` with the signal folder among its sources instead of the synthetic feed (unchanged without
        ``--signals``)."""
        if self.folder is None:
            return ctx
        from autotrader.bootstrap import with_signal_folder

        return replace(ctx, deps=with_signal_folder(ctx.deps, ctx.config, self.folder))

    def annotate(self, report: ReplayReport) -> ReplayReport:
        """The replay's report with the folder it read (``signals_folder``) and a note saying so."""
        folder = self.folder
        if folder is None:
            return report
        from autotrader.domain.reports import SignalFolderLine

        note = (
            f"signals: {folder.rows} row(s) of {folder.files} file(s) from {folder.path}, each imported at its first "
            f"scan from its arrival ({len(folder.parts)} part(s) by file and minute); the synthetic feed off"
        )
        notes = [*report.notes[:1], note, *report.notes[1:]]
        if folder.skipped_files:
            notes.append(
                f"signals: {len(folder.skipped_files)} JSON file(s) in {folder.path} not replayed (CSV only): "
                + ", ".join(folder.skipped_files[:5])
                + (", ..." if len(folder.skipped_files) > 5 else "")
            )
        line = SignalFolderLine(folder.path, folder.files, folder.rows, len(folder.parts))
        return replace(report, signals_folder=line, notes=tuple(notes))
