"""`autotrader report` on the command line: a bad --date writes nothing, --dry-run writes the page asked for (marked
so) and leaves the ledger byte-identical, --md prints Markdown, --json wins over it."""

from __future__ import annotations

import json

import pytest

AS_OF = "2026-03-13T17:00:00-04:00"


@pytest.fixture
def workspace(write_config, migrated_ledger):
    config = write_config("")
    migrated_ledger(config.parent / "ledger-sim.db")
    return config


@pytest.mark.parametrize(
    ("day", "words"),
    [("2026-13-01", "--date '2026-13-01': not a date"), ("2026-03-14", "--date 2026-03-14: after the as-of's")],
)
def test_a_bad_date_is_exit_2_naming_the_option_and_nothing_is_written(cli, write_config, day, words):
    config = write_config("")
    result = cli("report", "--date", day, "--json", "--as-of", AS_OF, "--config", str(config))
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["error"]["message"].startswith(words)
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.toml"]  # no ledger, lock or log


def test_a_dry_run_writes_the_page_asked_for_and_the_ledger_stays_byte_identical(cli, workspace):
    from tests import page_reader

    ledger = workspace.parent / "ledger-sim.db"
    before = ledger.read_bytes()
    page = workspace.parent / "day.html"
    result = cli("report", "--dry-run", "--html", str(page), "--json", "--as-of", AS_OF, "--config", str(workspace))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["dry_run"] is True and f"wrote {page}" in payload["notes"] and payload["html"] == str(page)
    assert "dry run" in page_reader.read(page.read_text()).headings[0]  # the dry run leaves the ledger, not the file
    assert ledger.read_bytes() == before
    markdown = cli("report", "--dry-run", "--md", "--as-of", AS_OF, "--config", str(workspace))
    assert markdown.exit_code == 0 and markdown.stdout.startswith("# autotrader daily report 2026-03-13 (simulated")
    assert "┃" not in markdown.stdout  # Markdown instead of the tables, not beside them
    both = cli("report", "--dry-run", "--md", "--json", "--as-of", AS_OF, "--config", str(workspace))
    assert json.loads(both.stdout)["date"] == "2026-03-13"
