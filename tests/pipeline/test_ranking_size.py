"""`size` with `[rank] enabled`: the slot's signals are sized strongest first, and the ones only watched are
decided with their reason, the ranking the first step of every trace and shown by `scan --json` beforehand."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow  # a scan and a size through the whole envelope
def test_size_spends_the_cap_in_rank_order_and_records_each_watch(cli, write_config):
    config = str(write_config("[rank]\nenabled = true\nmax_per_day = 3\nmin_dollar_volume = 1.0\n"))
    at = "2026-03-10T09:00"
    scanned = cli("scan", "--json", "--as-of", at, "--config", config)
    assert scanned.exit_code == 0, scanned.output
    result = cli("size", "--json", "--as-of", at, "--config", config)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    # scan shows the ranking size then applies: the same signals, order, tags and reasons (nothing between).
    preview = json.loads(scanned.stdout)["ranking"]
    assert preview and preview == payload["ranking"]
    assert {r["tag"] for r in preview} == {"execute", "watch"}
    traces = [o["trace"] for o in payload["orders"]] + [s["trace"] for s in payload["skipped"] if s["trace"]]
    assert traces and all(t[0]["name"] == "rank" for t in traces)
    ranks = [t[0]["inputs"]["rank"] for t in (o["trace"] for o in payload["orders"])]
    assert ranks == sorted(ranks)  # the orders went out in rank order
    watched = [s for s in payload["skipped"] if s["reason"].startswith("watch: ")]
    assert watched and len(payload["orders"]) <= 3  # at most three entries a day
    assert any("entries today (max 3)" in s["reason"] for s in watched)
    convictions = [t[0]["inputs"]["conviction"] or 5 for t in sorted(traces, key=lambda t: t[0]["inputs"]["rank"])]
    assert convictions == sorted(convictions, reverse=True)
