"""The package stays type-checked and within the complexity limit: both run as part of the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_type_checker_finds_nothing():
    result = _run("mypy")  # [tool.mypy] in pyproject.toml: the package, with the pydantic plugin
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_ruff_passes_with_the_complexity_limit():
    # [tool.ruff.lint] selects C90 with max-complexity 15: a function over it needs a noqa with its reason.
    result = _run("ruff", "check", "autotrader", "tests")
    assert result.returncode == 0, result.stdout[-6000:]
