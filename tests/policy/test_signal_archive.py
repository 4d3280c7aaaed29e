"""The owner's files cut for a replay: each row arrives no earlier than it was generated nor than its archive
folder's day, each part keeps the file's lines, and the source offers a part only once it has arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autotrader.clock import ET, SimulatedClock
from autotrader.policy import signal_files
from autotrader.policy.signal_archive import SignalFolder, by_arrival, folder_date, split_file

FILE = b"""symbol,category,source,generated_at,note
MSFT,swing,owner,2026-03-02T08:00,"a note, with a comma"

AAPL,swing,owner,2026-03-03T11:00:30-05:00,
NVDA,swing,owner,2026-03-02T08:00,
TSLA,swing,owner,,no generated_at
"""


def _et(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ET).astimezone(UTC)


def _parse(origin: str, text: str) -> signal_files.ParsedDocument:
    return signal_files.parse_document(origin, text.encode(), as_of=_et("2026-03-04T12:00"),
                                       max_age=timedelta(days=5), known_symbol=lambda s: True)  # fmt: skip


def test_each_row_arrives_at_the_later_of_its_time_and_its_folder_day_in_parts_that_keep_its_lines():
    assert folder_date(["archive", "2026-03-03", "evening"]) == _et("2026-03-03T00:00")
    assert folder_date(["archive", "2026-13-45"]) is None
    parts = split_file("a.csv", FILE, earliest=None)
    assert [(p.origin, p.arrival, p.rows) for p in parts] == [
        ("a.csv@2026-03-02T08:00", _et("2026-03-02T08:00"), 3),  # TSLA, undated, goes with the file's earliest
        ("a.csv@2026-03-03T11:01", _et("2026-03-03T11:01"), 1),  # 11:00:30 is not known at 11:00
    ]
    whole = _parse("a.csv", FILE.decode())
    pieces = [_parse(p.origin, p.text) for p in parts]
    # The same signals and the same skips, on the file's own lines: one parser, one set of checks.
    assert sorted((s.dedupe_key, s.line, s.note) for p in pieces for s in p.signals) == sorted(
        (s.dedupe_key, s.line, s.note) for s in whole.signals
    )
    assert [(s.line, s.reason) for p in pieces for s in p.skipped] == [(6, "missing value: generated_at")]
    # Backdated: a file in the archive's folder of 03-03 was not seen before 03-03, whatever it claims.
    late = split_file("2026-03-03/a.csv", FILE, earliest=folder_date(["2026-03-03"]))
    assert [p.arrival for p in late] == [_et("2026-03-03T00:00"), _et("2026-03-03T11:01")]


def test_the_source_offers_a_part_from_its_arrival_while_it_can_hold_a_fresh_row():
    from autotrader.adapters.archive_signals import ArchiveSignals

    parts = by_arrival(split_file("a.csv", FILE, earliest=None))
    clock = SimulatedClock(_et("2026-03-02T07:59"))
    source = ArchiveSignals(SignalFolder("f", 1, 5, parts), clock, max_age=timedelta(days=5))
    offered = []
    for at in ("2026-03-02T07:59", "2026-03-02T08:00", "2026-03-03T11:00", "2026-03-03T11:01", "2026-03-07T08:00",
               "2026-03-07T08:01"):  # fmt: skip
        clock.set(_et(at))
        offered.append([origin for origin, _ in source.documents(clock.now().astimezone(ET).date())])
    first, second = "a.csv@2026-03-02T08:00", "a.csv@2026-03-03T11:01"
    assert offered == [[], [first], [first], [first, second], [first, second], [second]]
    assert source.documents(clock.now().date())[0][1] == parts[1].text  # the same text at every slot: imported once
