"""`autotrader scan` from the command line: exit 2 and nothing written for a bad file given by hand, a bad inbox
file set aside while the others import, the --json contract,
--file and stdin, --dry-run, and run-daily importing the synthetic feed once."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

AS_OF = "2026-03-02T10:00:00-05:00"
NO_FEED = "[signals]\nsynthetic_feed = false\n"
HEADER = "symbol,category,source,side,conviction,entry,stop,target,horizon_days,generated_at,note"
GOOD = "AAPL,long_term,alpha,buy,7,100,90,130,60,2026-03-02T08:00:00-05:00,a pick"
SWING = "MSFT,swing,beta,,5,,,,,2026-03-02,"


@pytest.fixture
def run(cli):
    """``run(*args, input=...)``: the ``cli`` fixture plus stdin."""
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def ws(write_config):
    config = write_config(NO_FEED)
    inbox = config.parent / "signals" / "inbox"
    inbox.mkdir(parents=True)
    return config


def _inbox(config: Path) -> Path:
    return config.parent / "signals" / "inbox"


def _ledger(config: Path) -> Path:
    return config.parent / "ledger-sim.db"


def _count(config: Path, table: str) -> int:
    with sqlite3.connect(_ledger(config)) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def doc(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def test_scan_has_help_and_the_shared_options(run):
    result = run("scan", "--help")
    assert result.exit_code == 0
    for option in ("--file", "--dry-run", "--json", "--as-of", "--config"):
        assert option in result.output


BAD = [
    pytest.param("x.csv", b"", "x.csv:1", id="zero-bytes"),
    pytest.param("x.csv", doc(GOOD).replace("source,", "").encode(), "x.csv:1", id="missing-column"),
    pytest.param("x.csv", doc(GOOD + ",1").replace("note", "note,price").encode(), "x.csv:1", id="unknown-column"),
    pytest.param("x.csv", doc(GOOD, GOOD.replace("2026-03-02T08", "2026-13-02T08")).encode(), "x.csv:3", id="date"),
    pytest.param("x.csv", doc(GOOD, SWING.replace(",5,", ",five,")).encode(), "x.csv:3", id="number"),
    pytest.param("x.csv", (doc(GOOD) + "MSFT,swing,be").encode(), "x.csv:3", id="truncated"),
    pytest.param("x.csv", doc(GOOD.replace("a pick", '"a pick'), SWING).encode(), "x.csv:2", id="quote"),
    pytest.param("x.csv", doc(SWING, GOOD.replace("a pick", "\u00e0 la carte")).encode("cp1252"), "x.csv:3", id="enc"),
    pytest.param("x.json", b'[\n{"symbol": "AAPL",\n"category" "swing"}]', "x.json:3", id="json-syntax"),
    pytest.param("x.json", b'[{"symbol": "AAPL"}]', "x.json: item 1", id="json-item"),
]


@pytest.mark.parametrize(("name", "raw", "where"), BAD)
def test_a_structurally_bad_file_given_by_hand_exits_2_and_writes_nothing(run, ws, tmp_path, name, raw, where):
    good, bad = tmp_path / "a-good.csv", tmp_path / name
    good.write_text(doc(GOOD))  # a good file in the same run imports nothing either
    bad.write_bytes(raw)
    result = run("scan", "--file", str(good), "--file", str(bad), "--as-of", AS_OF, "--config", str(ws))
    assert result.exit_code == 2, result.output
    stderr = " ".join(result.stderr.split())  # rich may wrap long lines
    assert f"{tmp_path}/{where}" in stderr
    assert "hint" in stderr and "required: symbol, category, source, generated_at" in stderr  # what is allowed
    assert "Traceback" not in result.output
    assert not _ledger(ws).exists()  # not even a runs row
    assert good.exists() and bad.exists()


@pytest.mark.parametrize(("name", "raw", "where"), BAD)
def test_a_structurally_bad_inbox_file_is_set_aside_and_the_others_import(run, ws, name, raw, where):
    (_inbox(ws) / "a-good.csv").write_text(doc(GOOD))
    (_inbox(ws) / name).write_bytes(raw)
    result = run("scan", "--json", "--as-of", AS_OF, "--config", str(ws))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["imported"] == 1 and [d["origin"] for d in payload["documents"]] == ["signals/inbox/a-good.csv"]
    (rejected,) = payload["rejected"]
    assert rejected["origin"] == f"signals/inbox/{name}" and f"signals/inbox/{where}" in rejected["reason"]
    assert rejected["moved_to"] == f"signals/rejected/2026-03-02/{name}"
    aside = ws.parent / rejected["moved_to"]
    assert aside.read_bytes() == raw  # set aside as it came, with why beside it
    assert (aside.parent / f"{name}.reason.txt").read_text().strip() == rejected["reason"]
    assert list(_inbox(ws).iterdir()) == [] and any(
        n.startswith(f"rejected signals/inbox/{name}") for n in payload["notes"]
    )
    logged = [json.loads(line) for f in (ws.parent / "logs").glob("*.jsonl") for line in f.open()]
    assert [e["file"] for e in logged if e["event"] == "signal_file_rejected"] == [f"signals/inbox/{name}"]


def test_a_bad_inbox_file_under_dry_run_is_listed_not_moved(run, ws):
    (_inbox(ws) / "b.csv").write_text(doc(SWING) + "XOM,swing\n")
    payload = json.loads(run("scan", "--json", "--dry-run", "--as-of", AS_OF, "--config", str(ws)).stdout)
    assert payload["rejected"][0]["moved_to"] is None and "signals/inbox/b.csv:3" in payload["rejected"][0]["reason"]
    assert (_inbox(ws) / "b.csv").exists() and not (ws.parent / "signals" / "rejected").exists()


def test_a_bad_file_given_by_hand_leaves_an_existing_ledger_byte_identical(run, ws):
    (_inbox(ws) / "a.csv").write_text(doc(GOOD))
    assert run("scan", "--as-of", AS_OF, "--config", str(ws)).exit_code == 0
    before = _ledger(ws).read_bytes()
    (_inbox(ws) / "b.csv").write_text(doc(SWING) + "XOM,swing\n")
    result = run("scan", "--json", "--file", str(_inbox(ws) / "b.csv"), "--as-of", AS_OF, "--config", str(ws))
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["error"]["code"] == "bad_input"
    assert "signals/inbox/b.csv:3" in payload["error"]["message"]
    assert _ledger(ws).read_bytes() == before
    assert (_inbox(ws) / "b.csv").exists()


def test_json_contract(run, ws):
    (_inbox(ws) / "a.csv").write_text(doc(GOOD, "ZZZZ,swing,beta,,5,,,,,2026-03-02,", SWING.replace("swing", "scalp")))
    result = run("scan", "--json", "--as-of", AS_OF, "--config", str(ws))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    for key in ("command", "as_of", "dry_run", "ok", "exit_code", "orders", "notes"):
        assert key in payload
    assert payload["command"] == "scan" and payload["orders"] == [] and payload["imported"] == 1
    assert payload["signals"] == [
        {"id": 1, "symbol": "AAPL", "category": "long_term", "source": "alpha", "conviction": 7}
    ]
    assert payload["skipped"] == [
        {"symbol": "ZZZZ", "reason": "unknown symbol 'ZZZZ'", "line": 3, "file": "signals/inbox/a.csv"},
        {
            "symbol": "MSFT",
            "reason": "invalid category 'scalp' (allowed: long_term, swing, day_trade)",
            "line": 4,
            "file": "signals/inbox/a.csv",
        },
    ]
    assert payload["documents"] == [
        {
            "origin": "signals/inbox/a.csv",
            "status": "imported",
            "rows": 3,
            "imported": 1,
            "skipped": 2,
            "archived_to": "signals/archive/2026-03-02/a.csv",
        }
    ]
    assert (ws.parent / "signals" / "archive" / "2026-03-02" / "a.csv").exists()


def test_human_output_has_the_tables(run, ws):
    (_inbox(ws) / "a.csv").write_text(doc(GOOD, "ZZZZ,swing,beta,,5,,,,,2026-03-02,"))
    result = run("scan", "--as-of", AS_OF, "--config", str(ws))
    assert result.exit_code == 0
    for text in ("imported signals", "skipped rows", "unknown symbol 'ZZZZ'", "AAPL", "documents"):
        assert text in result.stdout


def test_the_same_file_twice_imports_once(run, ws, tmp_path):
    source = tmp_path / "recs.csv"
    source.write_text(doc(GOOD, SWING))
    first = json.loads(run("scan", "--json", "--file", str(source), "--as-of", AS_OF, "--config", str(ws)).stdout)
    second = json.loads(run("scan", "--json", "--file", str(source), "--as-of", AS_OF, "--config", str(ws)).stdout)
    assert first["imported"] == 2
    assert second["imported"] == 0 and second["documents"][0]["status"] == "duplicate"
    assert _count(ws, "signals") == 2 and _count(ws, "signal_imports") == 1
    assert source.exists()  # outside the inbox: never moved


def test_repeated_file_options_and_stdin(run, ws, tmp_path):
    one, two = tmp_path / "one.csv", tmp_path / "two.json"
    one.write_text(doc(GOOD))
    two.write_text(json.dumps({"signals": [{"symbol": "XOM", "category": "swing", "source": "j",
                                            "generated_at": "2026-03-02"}]}))  # fmt: skip
    result = run("scan", "--json", "--file", str(one), "--file", str(two), "--as-of", AS_OF, "--config", str(ws))
    assert [s["symbol"] for s in json.loads(result.stdout)["signals"]] == ["AAPL", "XOM"]

    piped = run("scan", "--json", "--file", "-", "--as-of", AS_OF, "--config", str(ws), input=doc(SWING))
    assert piped.exit_code == 0, piped.output
    payload = json.loads(piped.stdout)
    assert payload["signals"][0]["symbol"] == "MSFT" and payload["documents"][0]["origin"] == "<stdin>.csv"
    assert payload["documents"][0]["archived_to"] is None

    items = [{"symbol": "KO", "category": "day_trade", "source": "pipe", "generated_at": "2026-03-02T09:00"}]
    piped_json = run("scan", "--json", "--file", "-", "--as-of", AS_OF, "--config", str(ws), input=json.dumps(items))
    assert json.loads(piped_json.stdout)["signals"][0]["symbol"] == "KO"

    bad = run("scan", "--file", "-", "--as-of", AS_OF, "--config", str(ws), input=doc(GOOD) + "KO,swing\n")
    assert bad.exit_code == 2 and "<stdin>.csv:3" in bad.stderr


def test_a_bom_file_from_excel_imports(run, ws):
    (_inbox(ws) / "excel.csv").write_bytes(b"\xef\xbb\xbf" + doc(GOOD).replace("\n", "\r\n").encode())
    payload = json.loads(run("scan", "--json", "--as-of", AS_OF, "--config", str(ws)).stdout)
    assert payload["imported"] == 1


def test_dry_run_moves_nothing_and_leaves_the_ledger_byte_identical(run, ws):
    (_inbox(ws) / "a.csv").write_text(doc(GOOD))
    fresh = run("scan", "--dry-run", "--json", "--as-of", AS_OF, "--config", str(ws))
    assert fresh.exit_code == 0 and json.loads(fresh.stdout)["imported"] == 1
    assert not _ledger(ws).exists()
    assert run("scan", "--as-of", AS_OF, "--config", str(ws)).exit_code == 0
    before = _ledger(ws).read_bytes()
    (_inbox(ws) / "b.csv").write_text(doc(SWING))
    result = run("scan", "--dry-run", "--json", "--as-of", AS_OF, "--config", str(ws))
    payload = json.loads(result.stdout)
    assert payload["dry_run"] is True and payload["imported"] == 1
    assert payload["documents"][0]["archived_to"] == "signals/archive/2026-03-02/b.csv"  # what a real run would do
    assert (_inbox(ws) / "b.csv").exists() and not (ws.parent / "signals/archive/2026-03-02/b.csv").exists()
    assert _ledger(ws).read_bytes() == before


def _published_rows(session: date, at: str) -> list[str]:
    """The sources of the rows the synthetic feed (seed 42, the default) publishes for ``session``."""
    from autotrader.adapters.synthetic_data import SyntheticMarketData
    from autotrader.adapters.synthetic_signals import SyntheticSignalFeed
    from autotrader.clock import MarketCalendar, SimulatedClock

    calendar, clock = MarketCalendar.xnys(), SimulatedClock(datetime.fromisoformat(at))
    feed = SyntheticSignalFeed(SyntheticMarketData(clock, calendar, seed=42), calendar, clock, seed=42)
    return [row["source"] for _, text in feed.documents(session) for row in csv.DictReader(io.StringIO(text))]


def test_run_daily_imports_the_days_synthetic_feed_once(run, write_config):
    config = write_config("")  # synthetic data, with the demo feed
    first = run("run-daily", "--json", "--as-of", "2026-03-03T10:00:00-05:00", "--config", str(config))
    assert first.exit_code == 0, first.output
    step = next(s for s in json.loads(first.stdout)["steps"] if s["command"] == "scan")
    assert step["ok"] and step["ran"]
    with sqlite3.connect(_ledger(config)) as conn:
        imported = conn.execute("SELECT source, generated_at FROM signals").fetchall()
    # Every row the feed published that morning, once (the feed itself, asked at the same instant).
    published = _published_rows(date(2026, 3, 3), "2026-03-03T10:00:00-05:00")
    assert len(imported) == len(published) > 0
    assert sorted(source for source, _ in imported) == sorted(published)
    assert all(source.startswith("synthetic:") for source, _ in imported)
    assert {at for _, at in imported} == {"2026-03-03T13:00:00.000000+00:00"}  # 08:00 New York
    second = run("run-daily", "--json", "--as-of", "2026-03-03T10:30:00-05:00", "--config", str(config))
    assert second.exit_code == 0
    step = next(s for s in json.loads(second.stdout)["steps"] if s["command"] == "scan")
    assert step["notes"][0].startswith("0 signal(s) imported")
    assert _count(config, "signals") == len(imported)
