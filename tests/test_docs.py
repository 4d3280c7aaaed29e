"""The docs are part of the product: the Quick start, the CI script, every command documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 1
    return [line for line in blocks[0].splitlines() if line.strip() and not line.startswith("#")]


def test_quick_start_has_exactly_two_commands_demo_then_tests():
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert commands[0].endswith("autotrader demo")
    assert "pytest" in commands[1] and ".[test]" in commands[1]


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = _quick_start_commands()[1].replace("pip install -e", "pip install -q -e")
    assert test_command in script


@pytest.mark.parametrize("command", ["sync", "status", "run-daily", "replay", "demo", "config show", "config check"])
def test_every_command_is_in_the_readme_and_has_help(cli, command):
    assert f"`{command.split()[0]}" in README
    result = cli(*command.split(), "--help")
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 3


def test_crontab_example_uses_new_york_time_and_absolute_paths():
    crontab = (ROOT / "crontab.example").read_text(encoding="utf-8")
    assert "CRON_TZ=America/New_York" in crontab
    entries = [
        line for line in crontab.splitlines() if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert entries
    for entry in entries:
        executable = next(part for part in entry.split()[5:] if "autotrader" in part)
        assert executable.startswith("/"), entry


def test_architecture_doc_names_every_module():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "autotrader").rglob("*.py")):
        if path.name in {"__init__.py", "__main__.py"} or "commands" in path.parts:
            continue
        assert path.stem in doc, f"docs/architecture.md does not mention {path.relative_to(ROOT)}"


def test_logs_folder_is_kept():
    assert (ROOT / "logs" / ".gitkeep").exists()
