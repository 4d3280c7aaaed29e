"""The default demo ends with a "beats SPY" verdict, a "no evidence" one and a "needs ~N more" note. It replays
63 sessions (about a minute), so it runs on request: AUTOTRADER_LONG_CHECKS=1."""

from __future__ import annotations

import json
import os

import pytest


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("AUTOTRADER_LONG_CHECKS"), reason="set AUTOTRADER_LONG_CHECKS=1")
def test_the_default_demo_reaches_verdicts_both_ways(cli, tmp_path):
    result = cli("demo", "--dir", str(tmp_path / "demo"), "--json", "--as-of", "2026-12-03T12:00:00-05:00")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["sessions"] == 63
    sources = {row["key"]: row for row in report["rows"] if row["group"] == "source"}
    assert sources["synthetic:catalyst-desk"]["verdict"] == "beats SPY"
    assert any(row["verdict"] == "no evidence" and row["needs_more"] for row in sources.values())
