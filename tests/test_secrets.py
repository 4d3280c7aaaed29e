"""Secrets never appear in output, logs, the ledger or any file a run writes."""

from __future__ import annotations

from pathlib import Path

import pytest

CANARIES = ("PKCANARYKEY0123456789", "SECRETCANARY0123456789abcdef")


def _contains_canary(data: bytes) -> bool:
    for canary in CANARIES:
        for i in range(len(canary) - 7):  # any 8-character piece of a canary is a leak
            if canary[i : i + 8].encode() in data:
                return True
    return False


@pytest.mark.slow
def test_no_canary_anywhere(cli, write_config, monkeypatch, tmp_path):
    config = write_config("")
    (config.parent / ".env").write_text(f"ALPACA_API_KEY={CANARIES[0]}\n")
    monkeypatch.setenv("ALPACA_SECRET_KEY", CANARIES[1])
    outputs = []
    for args in (
        ["sync", "--as-of", "2026-03-02T10:30"],
        ["run-daily", "--json", "--as-of", "2026-03-02T10:30"],
        ["run-daily", "--dry-run", "--as-of", "2026-03-02T11:30"],
        ["replay", "--start", "2026-03-02", "--end", "2026-03-03", "--json"],
        ["status", "--json"],
        ["config", "show"],
        ["config", "show", "--json"],
        ["config", "check"],
    ):
        result = cli(*args, "--config", str(config))
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    # A failing config must not echo the secret either.
    bad = write_config("[sizing]\nmax_position_pct = -1\n", folder="bad")
    (bad.parent / ".env").write_text(f"ALPACA_API_KEY={CANARIES[0]}\n")
    outputs.append(cli("sync", "--config", str(bad)).output)
    assert not any(_contains_canary(o.encode()) for o in outputs)
    written = [p for p in Path(config.parent).rglob("*") if p.is_file() and p.name != ".env"]
    assert any(p.suffix == ".db" for p in written) and any(p.suffix == ".jsonl" for p in written)
    for path in written:
        assert not _contains_canary(path.read_bytes()), path
