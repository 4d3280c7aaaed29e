"""``demo``: a fresh workspace, about a quarter of a year of synthetic sessions replayed through the real steps.

The workspace gets the embedded default ``config.toml`` (simulated broker, synthetic data), so everything
the demo did can be inspected afterwards with ``--config <dir>/config.toml`` (``status``, ``sync``...).
A folder is only ever replaced if an earlier demo created it (it carries a marker file).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from autotrader.clock import MarketCalendar
from autotrader.errors import InputError

if TYPE_CHECKING:  # the CLI reads DEFAULT_SESSIONS from here on `--help`'s path: the report types load later
    from autotrader.domain.reports import DemoReport
    from autotrader.pipeline.context import StepContext

MARKER = ".autotrader-demo"
# About a quarter of a year: the strong synthetic source needs about that long to earn a "beats SPY" verdict
# from the dependence-robust, false-discovery-controlled statistics. `demo --sessions` and `demo_range` use it.
DEFAULT_SESSIONS = 63
# The page the demo leaves in its workspace: the replay's equity against SPY, its trades and its scorecard.
REPLAY_PAGE = "reports/demo.html"


def default_config_text() -> str:
    return resources.files("autotrader").joinpath("defaults/config.toml").read_text(encoding="utf-8")


def create_workspace(folder: Path) -> Path:
    """Make ``folder`` a fresh demo workspace; refuses to touch a folder the demo did not create."""
    folder = folder.expanduser()
    if folder.exists():
        if not folder.is_dir():
            raise InputError(f"{folder}: exists and is not a folder", hint="pass --dir with another path")
        if any(folder.iterdir()) and not (folder / MARKER).exists():
            raise InputError(
                f"{folder}: exists and was not created by `autotrader demo`; refusing to overwrite it",
                hint="pass --dir with a new or empty folder",
            )
        from autotrader.pipeline.context import WorkspaceLock

        # A demo still running there holds its workspace lock: refuse (exit 4) rather than delete under it.
        with WorkspaceLock(folder / ".autotrader.lock"):
            shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("created by `autotrader demo`; safe to delete\n", encoding="utf-8")
    (folder / "config.toml").write_text(default_config_text(), encoding="utf-8")
    (folder / "logs").mkdir()
    (folder / "signals" / "inbox").mkdir(parents=True)
    return folder.resolve()


def run(
    ctx: StepContext, sessions: int, *, workspace: Path | None, progress: Callable[[int, int], None] | None
) -> DemoReport:
    """Replay the last ``sessions`` sessions into the demo's workspace and leave its pages there: the
    replay's (``REPLAY_PAGE``) and the last evening's daily report, as ``rehydrate`` writes one every
    evening in real use (a replayed evening writes none, else the demo would draw one page per session).
    ``workspace`` None: a dry run's throw-away folder, where no page is written."""
    from autotrader.domain.reports import DemoReport
    from autotrader.pipeline import replay
    from autotrader.pipeline import report as daily_report

    start, end = demo_range(ctx.now, sessions, ctx.settings.schedule.times[-1])
    page = None if workspace is None else workspace / REPLAY_PAGE
    replayed = replay.run(ctx, start, end, html=page, progress=progress)
    if workspace is None:
        rehearsed = ("dry run: rehearsed in a temporary folder; nothing was written where --dir points",)
        return DemoReport.of(replayed, workspace=None, notes=rehearsed, reports=())
    day_note = daily_report.evening(ctx)
    day_page = daily_report.page_path(ctx)
    pages = tuple(str(p) for p in (page, day_page) if p is not None and p.exists())
    notes = (
        f"workspace: {workspace}",
        day_note,
        f"inspect it: autotrader status --config {workspace / 'config.toml'}",
    )
    return DemoReport.of(replayed, workspace=str(workspace), notes=notes, reports=pages)


def demo_range(now: datetime, sessions: int = DEFAULT_SESSIONS, last_slot: str = "16:30") -> tuple[date, date]:
    """The last ``sessions`` sessions whose every slot (up to ``last_slot`` ET) is in the past at ``now``."""
    if not 1 <= sessions <= 2520:
        raise InputError(f"--sessions: must be between 1 and 2520, got {sessions}")
    calendar = MarketCalendar.xnys()
    end = calendar.last_closed_session(now)
    if calendar.at_et(end, last_slot) > now:
        end = calendar.previous_session(end)
    start = calendar.sessions_back(end, sessions - 1)
    return start, end
