"""The ledger reads and writes of the size step: typed rows out, one decision per signal and step."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from autotrader.domain.enums import Book, LegKind, Side
from autotrader.domain.models import Signal
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from tests.factories import et, make_intent

NOW = et("2026-03-09 09:00")


@pytest.fixture
def ledger(tmp_path):
    ledger = open_ledger(tmp_path / "l.db")
    yield ledger
    ledger.close()


def _signals(ledger, *generated) -> list[int]:
    signals = [
        Signal(symbol=f"S{i}", category="swing", source="test", generated_at=at, conviction=8, entry=10.0, stop=9.5)
        for i, at in enumerate(generated)
    ]
    with ledger.write():
        _, ids = repo.record_import(
            ledger,
            content_hash="h",
            origin="test",
            signals=signals,
            skipped=[],
            rows_total=len(signals),
            archive_path=None,
            run_id="r",
            now=NOW,
        )
    return ids


def test_undecided_signals_are_typed_rows_in_the_window_oldest_first(ledger):
    late, early, old, future = _signals(
        ledger, NOW - timedelta(hours=1), NOW - timedelta(hours=2), NOW - timedelta(days=9), NOW + timedelta(hours=1)
    )
    rows = repo.undecided_signals(ledger, "size", since=NOW - timedelta(days=5), until=NOW)
    assert [r.id for r in rows] == [early, late]
    first = rows[0]
    assert isinstance(first, repo.SignalRow)
    assert (first.symbol, first.category, first.side, first.conviction, first.entry, first.stop, first.target) == (
        "S1",
        "swing",
        "buy",
        8,
        10.0,
        9.5,
        None,
    )
    assert first.generated_at == NOW - timedelta(hours=2)
    assert {old, future}.isdisjoint(r.id for r in rows)


def test_a_signal_is_decided_once_per_step(ledger):
    (signal_id,) = _signals(ledger, NOW - timedelta(hours=1))
    trace = [{"name": "side", "effect": "buy: a long entry", "inputs": {"side": "buy"}}]
    with ledger.write():
        assert repo.record_decision(
            ledger, signal_id=signal_id, step="size", outcome="skipped", reason="no quote", trace=trace,
            client_order_id=None, run_id="r1", now=NOW,
        )  # fmt: skip
        assert not repo.record_decision(
            ledger, signal_id=signal_id, step="size", outcome="ordered", reason="again", trace=[],
            client_order_id="x", run_id="r2", now=NOW,
        )  # fmt: skip
    (row,) = ledger.query("SELECT * FROM decisions")
    assert (row["outcome"], row["reason"], row["run_id"]) == ("skipped", "no quote", "r1")
    assert row["trace_json"] == json.dumps(trace) and row["decided_at"] == repo.utc_iso(NOW)
    assert repo.undecided_signals(ledger, "size", since=NOW - timedelta(days=1), until=NOW) == []
    assert [r.id for r in repo.undecided_signals(ledger, "other", since=NOW - timedelta(days=1), until=NOW)] == [
        signal_id
    ]


def test_intent_extra_decodes_or_is_empty():
    assert repo.intent_extra({"extra_json": None}) == {}
    assert repo.intent_extra({"extra_json": '{"reference_price": 12.5}'}) == {"reference_price": 12.5}
    assert repo.intent_extra({"intent_extra": '{"a": 1}'}, "intent_extra") == {"a": 1}


def test_working_buys_and_entries_of_the_session(ledger):
    entry = replace(make_intent(at=NOW, symbol="AAA", qty=10), extra={"reference_price": 20.0})
    sell = make_intent(at=NOW, symbol="BBB", side=Side.SELL, leg=LegKind.PROFIT_TAKE)
    other_book = make_intent(at=NOW, symbol="CCC", book=Book.REBALANCE)
    with ledger.write():
        for intent in (entry, sell, other_book):
            repo.insert_intent(ledger, intent, run_id="r", now=NOW)
    (buy,) = repo.working_buys(ledger, str(Book.SIGNALS))
    assert buy == repo.WorkingBuy("AAA", 10, None, {"reference_price": 20.0})
    session = entry.session_date
    assert repo.intents_on(ledger, book=str(Book.SIGNALS), leg=str(LegKind.ENTRY), session_date=session) == 1
    assert repo.intents_on(ledger, book=str(Book.SIGNALS), leg=str(LegKind.ENTRY), session_date="2026-03-10") == 0


def test_equity_curve_and_the_equity_before_a_session(ledger):
    assert repo.equity_curve(ledger) == [] and repo.equity_before(ledger, "2026-03-09") is None
    with ledger.write():
        for day, equity in (("2026-03-06", 101.0), ("2026-03-04", 100.0), ("2026-03-09", 103.0)):
            repo.save_snapshot(
                ledger, session_date=day, as_of=NOW, equity=equity, cash=0.0, deployed={}, by_category={},
                positions=[], now=NOW,
            )  # fmt: skip
    assert repo.equity_curve(ledger) == [100.0, 101.0, 103.0]
    assert repo.equity_before(ledger, "2026-03-09") == 101.0
    assert repo.equity_before(ledger, "2026-03-04") is None


def test_entries_since_flat_count_the_live_entries_of_the_current_position_life(ledger):
    def entry(symbol: str, at, status: str, *, leg=LegKind.ENTRY, attempt=0):
        intent = make_intent(at=at, symbol=symbol, leg=leg, attempt=attempt)
        with ledger.write():
            repo.insert_intent(ledger, intent, run_id="r", now=at)
            ledger.conn.execute(
                "UPDATE order_intents SET status = ? WHERE client_order_id = ?", [status, intent.client_order_id]
            )

    day = timedelta(days=1)
    entry("AAPL", NOW - 10 * day, "filled")  # before AAPL's last position closed: not counted
    with ledger.write():
        repo.save_position_state(
            ledger,
            {"position_key": "signals:AAPL:old", "book": "signals", "symbol": "AAPL", "opened_at": "x",
             "original_qty": 1, "entry_price": 1, "closed_at": repo.utc_iso(NOW - 5 * day)},
            now=NOW,
        )  # fmt: skip
    entry("AAPL", NOW - 2 * day, "filled")
    entry("AAPL", NOW - day, "accepted", attempt=1)
    entry("AAPL", NOW - day, "rejected", attempt=2)  # never took a position
    entry("AAPL", NOW, "planned", leg=LegKind.DIP_BUY)  # an add-on by management, not a signal's entry
    entry("MSFT", NOW, "abandoned")
    entry("IBM", NOW, "unknown")
    assert repo.entries_since_flat(ledger, "signals") == {"AAPL": 2, "IBM": 1}
