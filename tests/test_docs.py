"""The docs are part of the product: the Quick start, the CI script, every command documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from autotrader.cli.app import app

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


def _registered_commands(typer_app: typer.Typer, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every command the Typer app registers, as typed on the command line (``config show``), groups walked."""
    names = []
    for info in typer_app.registered_commands:
        names.append(" ".join((*prefix, info.name or typer.main.get_command_name(info.callback.__name__))))
    for group in typer_app.registered_groups:
        names.extend(_registered_commands(group.typer_instance, (*prefix, group.name)))
    return names


def _readme_table_commands() -> list[str]:
    """The commands the README's command table documents: the leading words of each backticked first cell."""
    table = README.split("| command | what it does |", 1)[1].split("\n\n", 1)[0]
    names = []
    for row in table.splitlines()[2:]:
        first_cell = row.split(" | ", 1)[0]
        for usage in re.findall(r"`([^`]+)`", first_cell):
            words = []
            for word in usage.split():
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                words.append(word)
            names.append(" ".join(words))
    return names


REGISTERED = _registered_commands(app)


def test_the_readme_table_documents_exactly_the_registered_commands():
    documented = _readme_table_commands()
    assert len(REGISTERED) >= 14 and len(set(REGISTERED)) == len(REGISTERED)
    assert sorted(documented) == sorted(set(documented)), "a command is in the README's table twice"
    assert set(REGISTERED) - set(documented) == set(), "registered but missing from the README's command table"
    assert set(documented) - set(REGISTERED) == set(), "in the README's command table but not registered"


@pytest.mark.parametrize("command", REGISTERED)
def test_every_registered_command_has_help(cli, command):
    click_command = typer.main.get_command(app)
    for word in command.split():
        click_command = click_command.commands[word]
    assert (click_command.help or "").strip(), f"{command} has no help text"
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


#: Pointers into documents that are not in this repository (a design brief's sections, numbered seed
#: documents, a reliability checklist's items). A comment or doc says the rule itself instead.
OUTSIDE_CITATIONS = re.compile(
    r"§"
    r"|\bARCHITECTURE\b"
    r"|\bseeds? \d{3}\b"
    r"|\breliability (?:checklist|group|[A-Z]\d)"
    r"|\b(?:checklist|reference) (?:groups? )?[A-Z]\d?\b"
    r"|\((?:[A-Z]\d{1,2}(?:[-/,] ?)?)+\)"
)


def _citations_in(text: str) -> list[str]:
    return [m.group(0) for m in OUTSIDE_CITATIONS.finditer(text)]


@pytest.mark.parametrize(
    "text",
    [
        "(ARCHITECTURE §6)",
        "seed 003",
        "seeds 001 and 004",
        "reliability §3.4",
        "(reliability I1)",
        "(V5)",
        "checklist H6/H7",
        "reference A6",
        "(A3-A8)",
        "reliability group G",
    ],
)
def test_the_citation_pattern_catches_the_known_forms(text):
    assert _citations_in(text)


@pytest.mark.slow
def test_no_comment_or_doc_cites_a_document_outside_the_repository():
    files = [ROOT / name for name in ("README.md", "config.toml", "crontab.example")]
    for folder in ("autotrader", "tests", "docs", "benchmarks", ".ci"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md", ".toml", ""} and p.is_file()]
    this_file = Path(__file__).resolve()
    found = []
    for path in files:
        if path.resolve() == this_file:
            continue  # the examples above
        text = path.read_text(encoding="utf-8")
        for hit in OUTSIDE_CITATIONS.finditer(text):
            found.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, hit.start()) + 1}: {hit.group(0)}")
    assert len(files) > 50
    assert found == [], "say the rule itself instead of citing a document outside the repository"


def test_the_readme_names_the_whole_suite_and_the_fast_lane():
    note = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "runs the whole suite" in note and "`.ci/run` runs exactly that" in note
    assert '`.venv/bin/pytest -n 2 -m "not slow"` is the fast lane' in note
    assert '"slow: ' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # the marker is declared


def test_every_test_named_in_the_guarantees_exists():
    """docs/guarantees.md cites its proofs as ``tests/<file>.py::test_<name>``: each must still be defined."""
    doc = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    cited = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", doc)
    assert len(cited) >= 30
    missing = [
        f"{path}::{name}"
        for path, name in cited
        if not (ROOT / path).is_file()
        or not re.search(rf"^def {name}\(", (ROOT / path).read_text(encoding="utf-8"), flags=re.M)
    ]
    assert missing == [], "docs/guarantees.md names tests that do not exist"
    for page in ("README.md", "docs/architecture.md"):
        assert "guarantees.md" in (ROOT / page).read_text(encoding="utf-8"), f"{page} does not link the guarantees"
