"""The --json contract: the README's lists of fields match the report types, and the commands print exactly
the fields their report type declares (``autotrader/domain/reports.py``)."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autotrader.domain import reports
from autotrader.domain.reports import Report, ReportDraft, Row, SkipLine, report_for

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
AS_OF = "2026-03-02T10:30:00-05:00"

# -- the README's lists ---------------------------------------------------------------------------------------

Shape = dict[str, Any]  # field name -> its shape (None when the README gives none); "..." marks a partial list


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _shape(text: str) -> Shape | None:
    """``[{a, b: {c}}]`` or ``{a, b}`` → ``{"a": None, "b": {"c": None}}``."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    out: Shape = {}
    for item in _split_top(text[1:-1]):
        name, _, rest = item.partition(":")
        out[name.strip()] = _shape(rest) if rest else None
    return out


def _entries(readme: str = README) -> dict[str, str]:
    """README bullet text per command label (continuation lines joined)."""
    section = readme.split("`--json` output follows one contract", 1)[1].split("On an error it prints", 1)[0]
    bullets = re.findall(r"^- (.*?)(?=^- |\Z)", section, flags=re.S | re.M)
    entries = {}
    for bullet in bullets:
        label, _, text = " ".join(bullet.split()).partition(": ")
        for command in re.findall(r"`([^`]+)`", label) or [label]:
            entries[command] = text
    return entries


def readme_fields(command: str, readme: str = README) -> Shape:
    text = _entries(readme)[command]
    inherited = re.search(r"the (\S+) fields above", text)
    fields: Shape = dict(readme_fields(inherited.group(1), readme)) if inherited else {}
    text = re.sub(r"\([^()]*\)", "", text).split(";")[0]  # remarks and trailing prose are not fields
    for span in re.findall(r"`([^`]+)`", text):
        name, _, rest = span.partition(":")
        fields[name.strip()] = _shape(rest) if rest else None
    return fields


def _check_shape(row: type[Row], shape: Shape, where: str, *, whole: bool = True) -> None:
    """``shape`` names ``row``'s fields (all of them when ``whole`` and no "..."); nested shapes likewise."""
    listed = [name for name in shape if name != "..."]
    declared = row.json_fields()
    unknown = set(listed) - set(declared)
    assert not unknown, f"{where}: the README lists {sorted(unknown)}, which {row.__name__} does not have"
    if whole and "..." not in shape:
        assert set(listed) == set(declared), f"{where}: the README omits {sorted(set(declared) - set(listed))}"
    for name in listed:
        if shape[name] is not None and shape[name] != {"...": None}:
            nested = row.nested(name)
            assert nested is not None, f"{where}.{name}: the README gives a shape, {row.__name__} an open value"
            _check_shape(nested, shape[name], f"{where}.{name}")


COMMANDS = [command for kind in reports.REPORTS for command in kind.COMMANDS]


def test_the_readme_lists_every_report_type():
    assert set(_entries()) == {"every command", *COMMANDS}


def check_command(command: str, readme: str) -> None:
    kind = report_for(command)
    listed = readme_fields(command, readme)
    own = [name for name in listed if name not in Report.ENVELOPE]
    assert set(own) == set(kind.command_fields()), (
        f"{command}: README {sorted(own)} != {kind.__name__} {sorted(kind.command_fields())}"
    )
    _check_shape(kind, listed, command, whole=False)


@pytest.mark.parametrize("command", COMMANDS)
def test_the_readme_lists_exactly_each_commands_fields(command):
    check_command(command, README)


def test_the_readme_describes_the_envelopes_rows():
    listed = readme_fields("every command")
    assert set(listed) == {"orders", "skipped"}
    _check_shape(Report, listed, "every command", whole=False)


def test_the_shape_parser_reads_nested_rows():
    assert _shape("[{a, b: {c, d: [{e}]}, ...}]") == {"a": None, "b": {"c": None, "d": {"e": None}}, "...": None}


def test_a_drifted_readme_fails_the_check():
    renamed = README.replace("`new_fills`", "`fills_new`")
    assert renamed != README
    with pytest.raises(AssertionError, match="sync"):
        check_command("sync", renamed)
    partial = README.replace(
        "`settled: [{client_order_id, status, message}]`", "`settled: [{client_order_id, status}]`"
    )
    assert partial != README
    with pytest.raises(AssertionError, match="omits"):
        check_command("sync", partial)
    check_command("sync", README)


# -- the report types -----------------------------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


def _draft(**fields: Any) -> ReportDraft:
    return ReportDraft(command="doctor", as_of=NOW, dry_run=False, fields=fields)


def test_a_report_is_frozen():
    report = _draft().build(reports.DoctorReport, checks=[reports.Check("config", True, "ok")], requests=[])
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.ok = False  # type: ignore[misc]
    assert report.checks == (reports.Check("config", True, "ok"),)


def test_build_refuses_an_undeclared_field_and_a_missing_one():
    with pytest.raises(TypeError, match="no field 'surprise'"):
        _draft(checks=[], surprise=1).build(reports.DoctorReport)
    with pytest.raises(TypeError, match="checks"):
        _draft().build(reports.DoctorReport)


def test_build_parses_nested_rows_and_types_the_skipped_lines():
    draft = ReportDraft(command="scan", as_of=NOW, dry_run=True)
    draft.skipped.append(SkipLine("ZZZZ", "unknown symbol", {"line": 3, "file": "a.csv"}))
    draft.fields.update(
        imported=1,
        signals=[{"id": 7, "symbol": "AAPL", "category": "swing", "source": "x", "conviction": 4.0}],
        documents=[],
        rejected=[],
    )
    report = draft.build(reports.ScanReport)
    assert report.signals[0].symbol == "AAPL" and isinstance(report.signals[0], reports.ImportedSignal)
    assert report.skipped == (reports.ScanSkip("ZZZZ", "unknown symbol", line=3, file="a.csv"),)
    assert report.to_json()["skipped"] == [{"symbol": "ZZZZ", "reason": "unknown symbol", "line": 3, "file": "a.csv"}]
    assert report.to_json()["as_of"] == NOW.isoformat()


def test_an_optional_field_is_printed_only_when_set_and_a_null_field_always():
    draft = ReportDraft(command="size", as_of=NOW, dry_run=False, fields={"timing": "market closed"})
    assert set(draft.build(reports.SizeReport).to_json()) == {*Report.ENVELOPE, "timing"}
    split = {"symbol": "AAPL", "ratio": 2.0, "ledger_qty": 10, "broker_qty": 20, "price_ratio": None,
             "cash_in_lieu_shares": 0, "effective_at": "2026-03-02T14:30:00Z",
             "listed_by_data_source": False}  # fmt: skip
    assert reports.SplitApplied.from_json(split).to_json() == split  # price_ratio: null, printed
    assert reports.Diff(kind="fill_without_order", fill_id="f1").to_json() == {
        "kind": "fill_without_order",
        "fill_id": "f1",
    }


def test_a_json_name_that_is_not_an_identifier_round_trips():
    assert "return" in reports.TradeReview.json_fields() and "trade_return" not in reports.TradeReview.json_fields()
    assert "exit_code" not in reports.Check.json_fields()  # the doctor's internal severity, not printed


# -- what the commands print ----------------------------------------------------------------------------------


def _check_keys(value: Any, row: type[Row], where: str) -> None:
    """Every printed row has the keys its type declares: all of them but the unset optional ones."""
    assert isinstance(value, dict), where
    keys = set(value)
    declared = set(row.json_fields())
    if row is reports.Skip:  # run-daily gathers every step's skipped lines, each typed by its own step
        declared |= {name for kind in reports.Skip.__subclasses__() for name in kind.json_fields()}
    assert keys <= declared, f"{where}: undeclared {sorted(keys - declared)}"
    assert keys >= set(row.always_printed()), f"{where}: missing {sorted(set(row.always_printed()) - keys)}"
    for name in keys & set(row.json_fields()):
        nested = row.nested(name)
        if nested is None or value[name] is None:
            continue
        items = value[name] if isinstance(value[name], list) else [value[name]]
        for i, item in enumerate(items):
            _check_keys(item, nested, f"{where}.{name}[{i}]")


def _run_json(cli, *args: str) -> dict[str, Any]:
    result = cli(*args)
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout)


@pytest.fixture
def workspace(cli, write_config, tmp_path):
    config = write_config("")
    inbox = config.parent / "signals" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "picks.csv").write_text(
        "symbol,category,source,conviction,entry,stop,target,horizon_days,generated_at\n"
        "AAPL,swing,test,7,,,,10,2026-03-02\n"
        "NOPE_NOT_A_SYMBOL,swing,test,5,,,,10,2026-03-02\n",
        encoding="utf-8",
    )
    return config


@pytest.mark.slow
def test_each_command_prints_exactly_its_report_types_fields(cli, workspace):
    config = str(workspace)
    printed: dict[str, dict[str, Any]] = {}
    for args in (
        ("sync",),
        ("scan",),
        ("size",),
        ("dipbuy",),
        ("profittake",),
        ("rehydrate",),
        ("scorecard",),
        ("doctor",),
        ("status", "--check", "--max-age", "30d"),
        ("config", "show"),
        ("config", "check"),
    ):
        payload = _run_json(cli, *args, "--json", "--as-of", AS_OF, "--config", config)
        command = " ".join(args[:2]) if args[0] == "config" else args[0]
        assert payload["command"] == command
        kind = report_for(command)
        _check_keys(payload, kind, command)
        printed[command] = payload
    # What these runs exercise (a signal imported and skipped, sized, a scorecard row, a runs row to check).
    assert {"AAPL"} <= {s["symbol"] for s in printed["scan"]["signals"]}
    assert [s["line"] for s in printed["scan"]["skipped"] if s["file"].endswith("picks.csv")] == [3]
    assert printed["size"]["orders"] and set(printed["size"]["book"]) == set(reports.SizeBook.json_fields())
    assert printed["scorecard"]["rows"] and printed["status"]["check"]["ok"] is True
    assert set(printed["config show"]) == {*Report.ENVELOPE, *reports.ConfigReport.command_fields()}


def test_run_daily_prints_its_fields_and_each_steps_lines(cli, workspace):
    payload = _run_json(cli, "run-daily", "--json", "--as-of", AS_OF, "--config", str(workspace))
    _check_keys(payload, reports.RunDailyReport, "run-daily")
    assert set(payload) == {*Report.ENVELOPE, *reports.RunDailyReport.command_fields()}
    ran = {s["command"]: s for s in payload["steps"]}
    assert ran["scan"]["skipped"] and ran["size"]["orders"]  # typed lines of two kinds, gathered
    assert {"line", "file"} <= set(ran["scan"]["skipped"][0]) and "trace" in ran["size"]["orders"][0]


@pytest.mark.slow
def test_replay_and_demo_print_their_fields_with_the_scorecard(cli, write_config, tmp_path):
    payload = _run_json(
        cli, "replay", "--start", "2026-02-26", "--end", "2026-02-26", "--json", "--as-of", AS_OF,
        "--config", str(write_config("")),
    )  # fmt: skip
    _check_keys(payload, reports.ReplayReport, "replay")
    # Every field but the page's path, printed only with --html (tests/e2e/test_report_pages.py).
    assert set(payload) == {*Report.ENVELOPE, *reports.ReplayReport.command_fields()} - {"html"}
    # The replay's signals are scored again later from its own ledger, never from an empty one made up.
    config = str(write_config(""))
    again = _run_json(cli, "scorecard", "--ledger", "replay", "--json", "--as-of", AS_OF, "--config", config)
    assert again["signals_total"] == payload["signals_total"] > 0
    missing = cli("scorecard", "--ledger", "replay", "--config", str(write_config("", folder="empty")))
    assert missing.exit_code == 2 and "no replay ledger" in missing.stderr
    assert not list((tmp_path / "empty").glob("ledger-*.db"))
    demo = _run_json(cli, "demo", "--dir", str(tmp_path / "demo"), "--sessions", "1", "--json", "--dry-run")
    _check_keys(demo, reports.DemoReport, "demo")
    # A dry run writes no page: its report has every field but the page's path.
    assert demo["workspace"] is None
    assert set(demo) == {*Report.ENVELOPE, *reports.DemoReport.command_fields()} - {"html"}


def test_the_runs_row_keeps_a_summary_of_the_report(cli, workspace):
    payload = _run_json(cli, "scan", "--json", "--as-of", AS_OF, "--config", str(workspace))
    conn = sqlite3.connect(workspace.parent / "ledger-sim.db")
    (summary,) = conn.execute("SELECT summary_json FROM runs WHERE command = 'scan'").fetchone()
    conn.close()
    assert json.loads(summary) == {
        "ok": True,
        "orders": 0,
        "skipped": len(payload["skipped"]),
        "notes": payload["notes"][:10],
    }
