"""replay --signals FOLDER: the owner's own files replayed point in time over the synthetic world, each row
imported once at the first scan from its arrival (never earlier), scored under its own source."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from autotrader.clock import ET

A = """symbol,category,source,conviction,horizon_days,generated_at
MSFT,swing,owner-picks,8,10,2026-03-02T08:00:00-05:00
AAPL,swing,owner-picks,7,10,2026-03-03T11:00:00-05:00
"""
# Claims session 1 but sits in the archive's folder of session 2: it was not seen before session 2.
B = """symbol,category,source,generated_at
NVDA,long_term,owner-picks,2026-03-02T07:00:00
"""


def _utc(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=ET).astimezone(UTC).isoformat()


def test_a_replay_imports_the_owners_files_at_their_arrival_once_each(cli, write_config):
    config = write_config('[schedule]\ntimes = ["09:00", "10:30", "11:00", "16:15"]\n')
    folder = config.parent / "picks"
    (folder / "2026-03-03").mkdir(parents=True)
    (folder / "a.csv").write_text(A)
    (folder / "2026-03-03" / "b.csv").write_text(B)
    window = ["--start", "2026-03-02", "--end", "2026-03-04", "--as-of", "2026-03-05T12:00", "--config", str(config)]
    result = cli("replay", *window, "--json", "--signals", str(folder))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["signals_folder"] == {"path": "picks", "files": 2, "rows": 3, "parts": 3}
    with sqlite3.connect(config.parent / "ledger-replay.db") as db:
        imported = db.execute(
            "SELECT s.symbol, i.origin, i.imported_at FROM signals s JOIN signal_imports i ON i.id = s.import_id"
        ).fetchall()
    # AAPL is not imported at 10:30 on session 2, only at 11:00; NVDA at session 2's first scan, not session 1's.
    assert sorted((symbol, origin, datetime.fromisoformat(at).isoformat()) for symbol, origin, at in imported) == [
        ("AAPL", "picks/a.csv@2026-03-03T11:00", _utc("2026-03-03T11:00")),
        ("MSFT", "picks/a.csv@2026-03-02T08:00", _utc("2026-03-02T09:00")),
        ("NVDA", "picks/2026-03-03/b.csv@2026-03-03T00:00", _utc("2026-03-03T09:00")),
    ]
    sources = {row["key"]: row["signals"] for row in payload["rows"] if row["group"] == "source"}
    assert sources == {"owner-picks": 3}  # the synthetic feed is off: the owner's picks replace the made-up ones
    bad = config.parent / "bad"
    bad.mkdir()
    (bad / "x.csv").write_text("symbol,category,source,generated_at\nMSFT,swing,owner\n")
    refused = cli("replay", *window, "--signals", str(bad))
    assert refused.exit_code == 2 and "bad/x.csv:2: 3 fields, but the header has 4" in refused.stderr
    assert (config.parent / "ledger-replay.db").exists()  # nothing ran: the last replay's ledger is still there
    empty = cli("replay", *window, "--signals", str(config.parent / "logs"))
    assert empty.exit_code == 2 and "no .csv signal file" in empty.stderr
