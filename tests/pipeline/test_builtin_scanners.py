"""The built-in scanners as a signal source: documents the signal parser accepts, published each morning,
decided from the sessions before only (the same documents whenever they are computed), and imported by
`scan` as sources of their own."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.pipeline.scanners import BuiltinScanners
from autotrader.policy import signal_files
from autotrader.settings import ScannersSection

CAL = MarketCalendar.xnys()
SESSIONS = [date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)]
SETTINGS = ScannersSection(enabled=["bollinger", "regression"], max_per_day=25)


def _source(at) -> BuiltinScanners:
    clock = SimulatedClock(at)
    data = SyntheticMarketData(clock, CAL, seed=42)
    return BuiltinScanners(SETTINGS, data, CAL, clock, data.universe)


@pytest.mark.slow  # three mornings of the synthetic universe
def test_each_morning_publishes_documents_the_signal_parser_accepts():
    day = SESSIONS[0]
    assert _source(CAL.at_et(day, "07:59")).documents(day) == []  # not yet published
    sources = set()
    for d in SESSIONS:
        for origin, text in _source(CAL.at_et(d, "08:00")).documents(d):
            parsed = signal_files.parse_document(
                origin, text.encode(), as_of=CAL.at_et(d, "09:00"), max_age=timedelta(days=5),
                known_symbol=lambda _: True,
            )  # fmt: skip
            assert parsed.skipped == () and parsed.signals  # every row passes the checks an outside file gets
            assert {s.generated_at for s in parsed.signals} == {CAL.at_et(d, "08:00")}
            assert all(s.stop < s.entry < s.target and 1 <= s.conviction <= 10 for s in parsed.signals)
            sources |= {s.source for s in parsed.signals}
    assert sources == {"builtin:bollinger", "builtin:regression"}


def test_a_mornings_signals_are_the_same_whenever_they_are_computed():
    """No look-ahead: decided at 08:00 that morning, or weeks later with every later bar in reach, a session's
    documents are the same bytes (the bars are cut at the previous session)."""
    for day in SESSIONS:
        then = _source(CAL.at_et(day, "08:00")).documents(day)
        later = _source(CAL.at_et(date(2026, 4, 30), "20:00")).documents(day)
        assert then == later and then


@pytest.mark.slow  # one scan through the whole envelope
def test_scan_imports_the_scanners_signals_as_their_own_sources(cli, write_config):
    config = write_config('[scanners]\nenabled = ["bollinger", "regression"]\nmax_per_day = 25\n')
    result = cli("scan", "--json", "--as-of", "2026-03-10T09:00", "--config", str(config))
    assert result.exit_code == 0, result.output
    imported = {s["source"] for s in json.loads(result.stdout)["signals"]}
    assert {"builtin:bollinger", "builtin:regression"} <= imported


@pytest.mark.slow  # a few commands through the whole envelope
def test_explain_shows_the_conditions_the_morning_decided_from(cli, write_config):
    """`scan --explain` is the decision's own evaluation: a symbol it says fired is in that morning's document,
    one it says did not is not; bad --setup or symbol: exit 2; it records no run."""
    config = str(write_config(""))
    day = SESSIONS[1]
    published = {
        scanner: {line.split(",")[0] for line in text.splitlines()[1:]}
        for origin, text in _source(CAL.at_et(day, "08:00")).documents(day)
        for scanner in ("bollinger", "regression") if f"-{scanner}-" in origin
    }
    fired = set()
    for symbol in sorted({s for symbols in published.values() for s in symbols})[:3] + ["AAPL"]:
        result = cli("scan", "--explain", symbol, "--json", "--as-of", f"{day}T09:00", "--config", config)
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["session"] == str(day) and payload["decided_from"] == str(CAL.previous_session(day))
        for setup in payload["setups"]:
            assert setup["fired"] == all(c["held"] for c in setup["conditions"])
            listed = published.get(setup["setup"], set())
            # A symbol listed fired; one that fired is listed unless the document was full (the strongest only).
            assert setup["fired"] if symbol in listed else (not setup["fired"] or len(listed) == SETTINGS.max_per_day)
            fired |= {(symbol, setup["setup"])} if setup["fired"] else set()
    assert fired  # the symbols taken from the documents fired
    assert cli("scan", "--explain", "AAPL", "--setup", "vwap", "--config", config).exit_code == 2
    assert cli("scan", "--explain", "NOPE1", "--as-of", f"{day}T09:00", "--config", config).exit_code == 2
    import sqlite3

    ledger = config.replace("config.toml", "ledger-sim.db")
    conn = sqlite3.connect(ledger)
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    conn.close()
