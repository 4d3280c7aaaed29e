"""Shared test setup: the fast lane's Hypothesis profile, an isolated environment, a workspace, a CLI runner."""

from __future__ import annotations

# ruff: noqa: E402  (the one assignment below must come before the imports)
import sys

# Compiled test and project modules (and pytest's assert-rewritten copies of the test files) are kept in
# __pycache__, which git ignores, even where PYTHONDONTWRITEBYTECODE is set: compiling them afresh costs each
# xdist worker about 3 s on every run, a fifth of the fast lane. It is set before Hypothesis is
# imported: pytest rewrites the asserts of every module of a plugin's package, all of Hypothesis's included.
sys.dont_write_bytecode = False

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.properties import FAST_PROFILE

ISOLATED_PREFIXES = ("AUTOTRADER_", "ALPACA_", "APCA_", "MASSIVE_", "POLYGON_", "FINNHUB_")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The chaos lane's options (tests/chaos) and the order lifecycle model's (tests/model): declared here
    because pytest reads options only from the conftest at the root of the test paths."""
    group = parser.getgroup("chaos", "the seeded chaos campaign (tests/chaos)")
    group.addoption(
        "--chaos-runs",
        type=int,
        default=None,
        help="run the chaos campaign over this many seeds (with -m chaos the default is 1000)",
    )
    group.addoption("--chaos-seed", type=int, default=None, help="replay one chaos seed (a failure prints it)")
    model = parser.getgroup("model", "the order lifecycle model (tests/model)")
    model.addoption("--model-examples", type=int, default=None, help="run the model over this many examples")
    model.addoption("--model-steps", type=int, default=None, help="steps per example of the model")


# Where the tests' folders go on Linux: a memory filesystem (below).
MEMORY_FS = Path("/dev/shm")
_OWN_BASETEMP = pytest.StashKey[Path]()  # the folder this session made there, to remove when all passed


@pytest.hookimpl(tryfirst=True)  # before pytest's own configure reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    """The fast lane (``-m "not slow"``) samples each Hypothesis property more thinly (tests/properties.py);
    the whole suite, and any run naming ``--hypothesis-profile``, keeps the full example counts.

    The tests' folders (``tmp_path``) are made on a memory filesystem where there is one and no ``--basetemp``
    was given: every ledger a test opens keeps the product's durability (``synchronous = FULL``, an fsync per
    commit), and on a disk those fsyncs were about a seventh of the suite's time. One folder per session (xdist's
    workers get theirs inside it); removed at the end when every test passed, else kept for a look."""
    if "not slow" in (config.option.markexpr or "") and not config.getoption("--hypothesis-profile"):
        settings.load_profile(FAST_PROFILE)
    worker = hasattr(config, "workerinput")  # an xdist worker: its folder comes from the controller
    if config.option.basetemp is None and not worker and MEMORY_FS.is_dir() and os.access(MEMORY_FS, os.W_OK):
        _remove_ended_sessions()
        config.option.basetemp = str(MEMORY_FS / f"autotrader-tests-{os.getpid()}")
        config.stash[_OWN_BASETEMP] = Path(config.option.basetemp)


def _remove_ended_sessions() -> None:
    """The folders a failed session kept last until the next session starts (memory is not a disk)."""
    for folder in MEMORY_FS.glob("autotrader-tests-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    own = session.config.stash.get(_OWN_BASETEMP, None)
    if own is not None and exitstatus == pytest.ExitCode.OK:
        shutil.rmtree(own, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules holding a slow test run first, whole and in their own order, so that with ``-n 2`` the long
    tests start early and the short ones fill in at the end, instead of one long test finishing alone."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    # The type checker is the longest single test where its cache is cold (a fresh clone, as CI runs: 9 s of a
    # whole core), and the options replay module the longest file: they start first of all.
    first = {"test_static.py": 0, "test_verticals_replay.py": 1}
    items.sort(key=lambda item: (item.path not in slow_files, first.get(item.path.name, 2)))  # stable


@pytest.fixture(scope="session", autouse=True)
def _cli_built_once() -> Iterator[None]:
    """Typer's CliRunner rebuilds the click command from the app (every signature and type hint) on each
    invoke, about 19 ms of CPU each time, hundreds of times a run. ``autotrader`` builds it once per process;
    so do the tests, by caching what the runner calls. The command built is the same: the app never changes."""
    import typer.main
    import typer.testing

    patch = pytest.MonkeyPatch()
    patch.setattr(typer.testing, "_get_command", functools.cache(typer.main.get_command))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def _scratch_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cwd")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, _scratch_cwd: Path) -> Iterator[None]:
    """No test sees the developer's keys or overrides, and relative paths land in a temp folder that is empty
    when each test starts. One folder per worker, emptied after any test that wrote to it, rather than a
    ``tmp_path`` for every test: making and removing ~1,500 numbered folders cost the fast lane about 1.5 s of
    CPU, and most tests never write a relative path."""
    for name in list(os.environ):
        if name.upper().startswith(ISOLATED_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(_scratch_cwd)
    yield
    for leftover in list(_scratch_cwd.iterdir()):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


@pytest.fixture(scope="session")
def _migrated_ledger_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from autotrader.ledger.db import open_ledger

    path = tmp_path_factory.mktemp("template") / "ledger.db"
    open_ledger(path).close()
    return path


@pytest.fixture
def migrated_ledger(_migrated_ledger_template: Path) -> Callable[[Path], Path]:
    """Put an already-migrated ledger file at ``path`` and return ``path``: ``open_ledger`` then has nothing to
    apply. For tests of what is stored, not of migrating: migrating a new file costs ~65 ms of CPU (sqlite-utils
    splits each script character by character), and every CLI test and tests/ledger still migrate from scratch."""

    def place(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_ledger_template, path)
        return path

    return place


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config.toml (default settings plus ``text``) into a fresh workspace folder; return its path."""

    def write(text: str = "", folder: str = "ws") -> Path:
        workspace = tmp_path / folder
        workspace.mkdir(parents=True, exist_ok=True)
        path = workspace / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def cli():
    """Invoke the CLI in-process: ``cli("sync", "--json", ...)`` → click Result."""
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return run
