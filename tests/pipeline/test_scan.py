"""scan: documents in, signals stored once, inbox files archived only after the commit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from autotrader.clock import SimulatedClock
from autotrader.errors import InputError
from autotrader.eventlog import EventLog
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import scan
from autotrader.pipeline.context import StepContext
from autotrader.settings import default_config
from tests.factories import et, make_deps
from tests.fakes.static_market import StaticMarketData

HEADER = "symbol,category,source,conviction,entry,stop,target,generated_at"
AAPL = "AAPL,long_term,alpha,7,100,90,130,2026-03-02T08:00:00-05:00"
MSFT = "MSFT,swing,beta,5,,,,2026-03-02T08:30:00-05:00"
XOM = "XOM,day_trade,beta,3,,,,2026-03-02T09:00:00-05:00"


def doc(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


class Source:
    """A built-in source publishing fixed documents."""

    name = "fake"

    def __init__(self, docs: list[tuple[str, str]]) -> None:
        self.docs = docs
        self.asked: list = []

    def documents(self, session):
        self.asked.append(session)
        return list(self.docs)


@pytest.fixture
def world(tmp_path):
    config = default_config(tmp_path)
    inbox = tmp_path / "signals" / "inbox"
    inbox.mkdir(parents=True)
    clock = SimulatedClock(et("2026-03-02 10:00"))
    ledgers = []

    def run(*, files=None, sources=(), ledger_path: Path | None = None, dry_run=False, preloaded=None):
        ledger = open_ledger(ledger_path or config.ledger_path, snapshot=dry_run)
        ledgers.append(ledger)
        market = StaticMarketData(clock, {"AAPL": 100.0, "MSFT": 100.0, "XOM": 100.0})
        deps = make_deps(clock, market_data=market, signal_sources=tuple(sources))
        ctx = StepContext(
            "scan", config, deps, ledger, dry_run, "run-1", EventLog(None, run_id="r", command="scan", mode="sim")
        )
        return scan.run(ctx, files=files, preloaded=preloaded), ledger

    yield SimpleNamespace(config=config, inbox=inbox, archive=tmp_path / "signals" / "archive", clock=clock, run=run)
    for ledger in ledgers:
        ledger.close()


def test_inbox_documents_import_in_name_order_and_move_to_the_archive(world):
    (world.inbox / "b.csv").write_text(doc(MSFT, "ZZZZ,swing,beta,5,,,,2026-03-02"))
    (world.inbox / "a.json").write_text(json.dumps([{"symbol": "XOM", "category": "swing", "source": "j",
                                                      "generated_at": "2026-03-02"}]))  # fmt: skip
    (world.inbox / "a.csv").write_text(doc(AAPL))
    (world.inbox / "notes.txt").write_text("not a signal file")
    report, ledger = world.run()

    documents = report.to_json()["documents"]
    assert [d["origin"] for d in documents] == ["signals/inbox/a.csv", "signals/inbox/a.json", "signals/inbox/b.csv"]
    assert [d["status"] for d in documents] == ["imported"] * 3
    assert report.imported == 3
    assert [s.symbol for s in report.signals] == ["AAPL", "XOM", "MSFT"]
    assert [(s.symbol, s.line, s.file) for s in report.skipped] == [("ZZZZ", 3, "signals/inbox/b.csv")]

    day = world.archive / "2026-03-02"
    assert sorted(p.name for p in day.iterdir()) == ["a.csv", "a.json", "b.csv"]
    assert [p.name for p in world.inbox.iterdir()] == ["notes.txt"]
    assert documents[0]["archived_to"] == "signals/archive/2026-03-02/a.csv"

    imports = ledger.query("SELECT * FROM signal_imports ORDER BY id")
    assert [(i["origin"], i["rows_total"], i["rows_imported"], i["rows_skipped"]) for i in imports] == [
        ("signals/inbox/a.csv", 1, 1, 0),
        ("signals/inbox/a.json", 1, 1, 0),
        ("signals/inbox/b.csv", 2, 1, 1),
    ]
    assert json.loads(imports[2]["skipped_json"]) == [{"line": 3, "symbol": "ZZZZ", "reason": "unknown symbol 'ZZZZ'"}]
    assert imports[0]["archive_path"] == "signals/archive/2026-03-02/a.csv"
    stored = ledger.query("SELECT symbol, source, category, conviction, entry, line, generated_at FROM signals")
    assert stored[0] == {
        "symbol": "AAPL",
        "source": "alpha",
        "category": "long_term",
        "conviction": 7,
        "entry": 100.0,
        "line": 2,
        "generated_at": "2026-03-02T13:00:00.000000+00:00",
    }


def test_the_same_document_twice_imports_once_and_the_duplicate_is_archived_with_a_suffix(world):
    (world.inbox / "a.csv").write_text(doc(AAPL, MSFT))
    first, ledger = world.run()
    assert first.imported == 2
    (world.inbox / "a.csv").write_text(doc(AAPL, MSFT))  # the source dropped the very same file again
    second, _ = world.run()
    assert second.imported == 0 and second.signals == ()
    assert second.to_json()["documents"] == [
        {
            "origin": "signals/inbox/a.csv",
            "status": "duplicate",
            "rows": 2,
            "imported": 0,
            "skipped": 0,
            "archived_to": "signals/archive/2026-03-02/a-1.csv",
        }
    ]
    assert any("duplicate document" in note for note in second.notes)
    assert ledger.scalar("SELECT count(*) FROM signal_imports") == 1
    assert ledger.scalar("SELECT count(*) FROM signals") == 2
    assert sorted(p.name for p in (world.archive / "2026-03-02").iterdir()) == ["a-1.csv", "a.csv"]
    assert list(world.inbox.iterdir()) == []


def test_a_name_taken_in_the_archive_gets_the_next_free_suffix(world):
    day = world.archive / "2026-03-02"
    day.mkdir(parents=True)
    (day / "a.csv").write_text("older")
    (day / "a-1.csv").write_text("older still")
    (world.inbox / "a.csv").write_text(doc(AAPL))
    report, _ = world.run()
    assert report.documents[0].archived_to == "signals/archive/2026-03-02/a-2.csv"
    assert (day / "a-2.csv").read_text() == doc(AAPL)
    assert (day / "a.csv").read_text() == "older"


def test_duplicate_rows_already_stored_or_earlier_in_the_run_are_skipped(world):
    (world.inbox / "a.csv").write_text(doc(AAPL))
    world.run()
    # A new document (different bytes) repeating a stored row, and a row twice across two files.
    (world.inbox / "b.csv").write_text(doc(MSFT, AAPL))
    (world.inbox / "c.csv").write_text(doc(XOM, MSFT))
    report, ledger = world.run()
    assert [s.symbol for s in report.signals] == ["MSFT", "XOM"]
    skipped = [(s.file, s.line, s.reason) for s in report.skipped]
    assert skipped == [
        ("signals/inbox/b.csv", 3, "duplicate: this signal is already stored"),
        ("signals/inbox/c.csv", 3, "duplicate of signals/inbox/b.csv:2"),
    ]
    assert ledger.scalar("SELECT count(*) FROM signals") == 3


def test_a_structurally_bad_inbox_document_is_set_aside_and_the_others_import(world):
    (world.inbox / "a.csv").write_text(doc(AAPL))
    (world.inbox / "b.csv").write_text(doc(MSFT) + "XOM,swing\n")  # a truncated last line
    report, _ = world.run()
    (rejected,) = report.rejected
    assert rejected.origin == "signals/inbox/b.csv" and "signals/inbox/b.csv:3:" in rejected.reason
    ledger = open_ledger(world.config.ledger_path)
    try:
        assert ledger.scalar("SELECT count(*) FROM signal_imports") == 1
        assert ledger.scalar("SELECT symbol FROM signals") == "AAPL"
    finally:
        ledger.close()
    assert list(world.inbox.iterdir()) == []
    # A second bad file of the same name the same day does not overwrite the first one set aside.
    (world.inbox / "b.csv").write_text(doc(MSFT) + "XOM,swing\n")
    again, _ = world.run()
    assert again.rejected[0].moved_to == "signals/rejected/2026-03-02/b-1.csv"


def test_a_structurally_bad_document_given_by_hand_imports_nothing(world, tmp_path):
    good, bad = tmp_path / "a.csv", tmp_path / "b.csv"
    good.write_text(doc(AAPL))
    bad.write_text(doc(MSFT) + "XOM,swing\n")
    with pytest.raises(InputError, match=r"b\.csv:3:"):
        world.run(files=[str(good), str(bad)])
    ledger = open_ledger(world.config.ledger_path)
    try:
        assert ledger.scalar("SELECT count(*) FROM signal_imports") == 0
    finally:
        ledger.close()


def test_a_crash_between_commit_and_move_leaves_the_file_and_the_next_scan_archives_it(world, monkeypatch):
    (world.inbox / "a.csv").write_text(doc(AAPL))

    def crash(*args):
        raise KeyboardInterrupt("killed after the commit")

    monkeypatch.setattr(scan.shutil, "move", crash)
    with pytest.raises(KeyboardInterrupt):
        world.run()
    assert (world.inbox / "a.csv").exists()
    monkeypatch.undo()
    report, ledger = world.run()
    assert report.imported == 0
    assert report.documents[0].status == "duplicate"
    assert (world.archive / "2026-03-02" / "a.csv").exists() and not (world.inbox / "a.csv").exists()
    assert ledger.scalar("SELECT count(*) FROM signals") == 1


def test_a_file_that_cannot_be_moved_is_reported_not_fatal(world, monkeypatch):
    (world.inbox / "a.csv").write_text(doc(AAPL))

    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(scan.shutil, "move", refuse)
    report, ledger = world.run()
    assert report.exit_code == 0 and report.imported == 1
    assert any("could not archive signals/inbox/a.csv" in note for note in report.notes)
    assert ledger.scalar("SELECT count(*) FROM signals") == 1


def test_given_files_outside_the_inbox_are_never_moved_but_inbox_ones_are(world, tmp_path):
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(doc(AAPL))
    (world.inbox / "in.csv").write_text(doc(MSFT))
    (world.inbox / "other.csv").write_text(doc(XOM))
    report, _ = world.run(files=[str(outside), str(world.inbox / "in.csv")])
    assert [d.origin for d in report.documents] == [str(outside), str(world.inbox / "in.csv")]
    assert [d.archived_to for d in report.documents] == [None, "signals/archive/2026-03-02/in.csv"]
    assert outside.exists()
    assert sorted(p.name for p in world.inbox.iterdir()) == ["other.csv"]  # only the given files are read


def test_a_missing_given_file_is_bad_input(world):
    with pytest.raises(InputError, match="nope.csv: no such file"):
        world.run(files=["nope.csv"])


def test_built_in_sources_are_imported_for_the_new_york_session_date_and_never_moved(world):
    source = Source([("fake-2026-03-02.csv", doc(AAPL, MSFT))])
    report, _ = world.run(sources=[source])
    assert [str(d) for d in source.asked] == ["2026-03-02"]
    assert report.to_json()["documents"] == [
        {"origin": "fake-2026-03-02.csv", "status": "imported", "rows": 2, "imported": 2, "skipped": 0,
         "archived_to": None}
    ]  # fmt: skip
    again, _ = world.run(sources=[source])
    assert again.imported == 0 and again.documents[0].status == "duplicate"
    assert not any("duplicate document" in note for note in again.notes)  # routine for a built-in source
    world.clock.set(et("2026-03-02 23:30"))  # still the 2nd in New York (the 3rd in UTC)
    world.run(sources=[source])
    assert str(source.asked[-1]) == "2026-03-02"


def test_a_bad_built_in_document_also_stops_everything(world):
    (world.inbox / "a.csv").write_text(doc(AAPL))
    with pytest.raises(InputError, match="broken.csv:1: unknown column"):
        world.run(sources=[Source([("broken.csv", "symbol,colour\n")])])
    assert (world.inbox / "a.csv").exists()


def test_rows_are_judged_at_the_as_of(world):
    (world.inbox / "a.csv").write_text(doc(AAPL, XOM))
    world.clock.set(et("2026-03-02 08:45"))  # XOM's row is stamped 09:00: not yet generated at 08:45
    report, _ = world.run()
    assert [s.symbol for s in report.signals] == ["AAPL"]
    assert "generated in the future" in report.skipped[0].reason


def test_an_empty_document_is_recorded_and_archived(world):
    (world.inbox / "a.csv").write_text(HEADER + "\n")
    report, ledger = world.run()
    assert report.documents[0].status == "empty"
    assert ledger.scalar("SELECT rows_total FROM signal_imports") == 0
    assert not (world.inbox / "a.csv").exists()


def test_dry_run_moves_nothing_and_leaves_the_file_ledger_alone(world):
    (world.inbox / "a.csv").write_text(doc(AAPL))
    world.run()  # a ledger on disk, with one import
    (world.inbox / "b.csv").write_text(doc(MSFT))
    before = world.config.ledger_path.read_bytes()
    report, _ = world.run(dry_run=True)
    assert report.imported == 1  # the same report a real run would give
    assert report.documents[0].archived_to == "signals/archive/2026-03-02/b.csv"
    assert (world.inbox / "b.csv").exists() and not (world.archive / "2026-03-02" / "b.csv").exists()
    assert world.config.ledger_path.read_bytes() == before


def test_a_scratch_ledger_never_reads_or_moves_the_inbox(world, tmp_path):
    (world.inbox / "a.csv").write_text(doc(AAPL))
    report, _ = world.run(ledger_path=tmp_path / "ledger-replay.db", sources=[Source([("f.csv", doc(MSFT))])])
    assert [d.origin for d in report.documents] == ["f.csv"]
    assert (world.inbox / "a.csv").exists()
    assert any("inbox not read" in note for note in report.notes)


def test_stored_signals_are_immutable(world):
    (world.inbox / "a.csv").write_text(doc(AAPL))
    _, ledger = world.run()
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        ledger.conn.execute("UPDATE signals SET conviction = 10")
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        ledger.conn.execute("DELETE FROM signals")
    assert ledger.query("SELECT conviction FROM signals") == [{"conviction": 7}]


def test_preloaded_documents_are_imported_as_read(world):
    """The CLI reads (and checks) documents before the ledger opens; run imports exactly those bytes."""
    intake = scan.Intake(None)
    (world.inbox / "a.csv").write_text(doc(AAPL))
    intake.prepare(world.config)
    (world.inbox / "a.csv").write_text(doc(MSFT))  # changed afterwards: not what was checked
    report, _ = world.run(preloaded=intake.documents)
    assert [s.symbol for s in report.signals] == ["AAPL"]


def test_a_signal_files_prediction_columns_are_stored_with_the_signal(world):
    header = HEADER + ",predicted_return_3d,predicted_return_10d,predicted_return_30d,probability"
    (world.inbox / "p.csv").write_text(
        "\n".join([header, AAPL + ",0.012,0.03,,0.65", MSFT + ",,,,1.5", XOM + ",-1,,,"]) + "\n"
    )
    report, ledger = world.run()
    assert [(s.symbol, s.reason) for s in report.skipped] == [
        ("MSFT", "probability 1.5 must be from 0 to 1"),
        ("XOM", "predicted_return_3d -1 must be a fraction above -1 (0.02 = +2%)"),
    ]
    stored = ledger.query("SELECT symbol, predicted_return_3d, predicted_return_10d, predicted_return_30d, probability "
                          "FROM signals")  # fmt: skip
    assert stored == [{"symbol": "AAPL", "predicted_return_3d": 0.012, "predicted_return_10d": 0.03,
                       "predicted_return_30d": None, "probability": 0.65}]  # fmt: skip
