"""The order gateway: every order exactly once, through reruns, crashes and ambiguous outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autotrader.clock import SimulatedClock
from autotrader.domain.enums import IntentStatus, LegKind, Side
from autotrader.domain.ids import client_order_id
from autotrader.errors import AmbiguousOrderOutcome, ConfigError, DuplicateClientOrderId
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline.gateway import OrderGateway
from tests.factories import et, make_intent
from tests.fakes.memory_broker import Crash, Faults, MemoryBroker


@pytest.fixture
def world(tmp_path, migrated_ledger):
    clock = SimulatedClock(et("2026-03-02 10:00"))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    broker = MemoryBroker(time_source=clock)

    def gateway() -> OrderGateway:
        # A new gateway per "run": nothing survives in memory between runs, only the ledger.
        return OrderGateway(ledger, broker, clock, run_id="r", log=EventLog(None, run_id="r", command="t", mode="t"))

    yield clock, ledger, broker, gateway
    ledger.close()


def _status(ledger, cid) -> IntentStatus:
    return IntentStatus(repo.get_intent(ledger, cid)["status"])


def test_client_order_ids_are_deterministic_short_and_distinct():
    keys = dict(session_date="2026-03-02", step="size", book="signals", symbol="BRK.B", leg="entry")
    a = client_order_id(**keys)
    assert a == client_order_id(**keys)
    assert len(a) <= 48 and a.startswith("at-20260302-BRK.B-en0-")
    variants = {
        client_order_id(**{**keys, "session_date": "2026-03-03"}),
        client_order_id(**{**keys, "book": "rebalance"}),
        client_order_id(**{**keys, "symbol": "AAPL"}),
        client_order_id(**keys, tier=1),
        client_order_id(**keys, attempt=1),
        client_order_id(**{**keys, "step": "dipbuy"}),
        client_order_id(**{**keys, "symbol": "ABCDEFGHIJKLMNOP"}),
        client_order_id(**keys, key="signal:1"),
        client_order_id(**keys, key="signal:2"),
    }
    assert a not in variants and len(variants) == 9
    assert all(len(v) <= 48 for v in variants)


def test_an_intent_is_stored_before_it_is_sent(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(crash_before_send=1)
    with pytest.raises(Crash):
        gateway().place([intent])
    row = repo.get_intent(ledger, intent.client_order_id)
    assert row is not None and IntentStatus(row["status"]) == IntentStatus.SUBMITTING
    assert broker.submits_received == 0


def test_refused_keys_settle_the_intent_as_rejected_and_stop_the_run(world, monkeypatch):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())

    def refuse(request):
        raise ConfigError("Alpaca rejected the API keys (401)")

    monkeypatch.setattr(broker, "submit", refuse)
    with pytest.raises(ConfigError):
        gateway().place([intent])
    row = repo.get_intent(ledger, intent.client_order_id)
    assert IntentStatus(row["status"]) == IntentStatus.REJECTED
    assert row["error_code"] == "credentials_refused" and broker.submits_received == 0


def test_an_order_the_broker_provably_never_received_is_retried_later_not_declared_unknown(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(refuse_unacted=2)  # two 429s the broker did not act on
    first = gateway().place([intent])[0]
    assert first.status == IntentStatus.PLANNED and first.sent
    assert broker.submits_received == 2 and not broker.orders_by_cid
    clock.set(clock.now() + timedelta(minutes=30))
    again = gateway().resolve_in_flight()  # the next sync, same session
    assert [r.status for r in again] == [IntentStatus.ACCEPTED]
    assert broker.submits_received == 3 and list(broker.orders_by_cid) == [intent.client_order_id]


def test_a_run_that_cannot_place_an_order_does_not_halt_and_says_so(world):
    from autotrader.domain.reports import ReportDraft
    from autotrader.pipeline.gateway import report_outcomes

    clock, ledger, broker, gateway = world
    broker.faults = Faults(refuse_unacted=2)
    results = gateway().place([make_intent(at=clock.now())])
    report = ReportDraft(command="size", as_of=clock.now(), dry_run=False)
    report_outcomes(report, results, "1 order", in_doubt=gateway().in_doubt())
    assert report.exit_code == 0 and report.ok
    assert any(note.startswith("not yet placed") for note in report.notes)


def test_an_unplaced_order_past_its_session_is_abandoned_not_sent(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(refuse_unacted=2)
    gateway().place([intent])
    clock.set(clock.now() + timedelta(days=1))
    (late,) = gateway().resolve_in_flight()
    assert late.status == IntentStatus.ABANDONED and broker.submits_received == 2


def test_rerun_places_nothing_new(world):
    clock, ledger, broker, gateway = world
    intents = [make_intent(at=clock.now(), symbol=s) for s in ("AAPL", "MSFT")]
    first = gateway().place(intents)
    assert [r.sent for r in first] == [True, True]
    second = gateway().place(intents)
    assert [r.sent for r in second] == [False, False]
    assert broker.submits_received == 2
    assert len(broker.orders_by_cid) == 2


def test_crash_between_storing_and_submitting_resubmits_exactly_once(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(crash_before_send=1)
    with pytest.raises(Crash):
        gateway().place([intent])
    clock.set(clock.now() + timedelta(minutes=30))
    result = gateway().place([intent])[0]
    assert result.sent and result.status == IntentStatus.ACCEPTED
    gateway().place([intent])
    gateway().resolve_in_flight()
    assert broker.submits_received == 1
    assert len(broker.orders_by_cid) == 1


def test_lost_response_is_resolved_by_client_order_id(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(lose_response=1)
    result = gateway().place([intent])[0]
    assert result.status == IntentStatus.ACCEPTED
    assert "adopted" in result.message
    assert result.broker_order_id == broker.orders_by_cid[intent.client_order_id].broker_order_id
    assert broker.submits_received == 1 and len(broker.orders_by_cid) == 1


def test_duplicate_client_order_id_is_adopted_not_doubled(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(duplicate_on_submit=1)
    result = gateway().place([intent])[0]
    assert result.status == IntentStatus.ACCEPTED and "adopted" in result.message
    assert len(broker.orders_by_cid) == 1


class _RefusesFirstSubmit(MemoryBroker):
    """Answers the first submit with ``refusal`` without storing the order (it never landed)."""

    refusal: Exception | None = None

    def submit(self, request):
        if self.refusal is not None:
            error, self.refusal = self.refusal, None
            self.submits_received += 1
            raise error
        return super().submit(request)


def _gateway_for(ledger, broker, clock) -> OrderGateway:
    return OrderGateway(ledger, broker, clock, run_id="r", log=EventLog(None, run_id="r", command="t", mode="t"))


def test_a_duplicate_refusal_with_no_such_order_is_unknown_whatever_its_wording(world):
    clock, ledger, _, _ = world
    broker = _RefusesFirstSubmit(time_source=clock)
    broker.refusal = DuplicateClientOrderId("id already taken")  # the type says duplicate, not the words
    intent = make_intent(at=clock.now())
    result = _gateway_for(ledger, broker, clock).place([intent])[0]
    assert result.status == IntentStatus.UNKNOWN  # the broker says the id is taken: never send it again
    assert broker.submits_received == 1 and broker.orders_by_cid == {}


def test_an_ambiguous_outcome_mentioning_unique_is_resent_once_proven_absent(world):
    clock, ledger, _, _ = world
    broker = _RefusesFirstSubmit(time_source=clock)
    broker.refusal = AmbiguousOrderOutcome("502 from a proxy: upstream must be unique-ly addressed")
    intent = make_intent(at=clock.now())
    result = _gateway_for(ledger, broker, clock).place([intent])[0]
    assert result.status == IntentStatus.ACCEPTED
    assert broker.submits_received == 2 and list(broker.orders_by_cid) == [intent.client_order_id]


def test_lookup_failure_leaves_the_outcome_unknown_and_is_resolved_later(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(lose_response=1, transient_lookup=1)
    result = gateway().place([intent])[0]
    assert result.status == IntentStatus.UNKNOWN
    # A rerun does not send again: it resolves by client order id first.
    settled = gateway().resolve_in_flight()
    assert [s.status for s in settled] == [IntentStatus.ACCEPTED]
    assert broker.submits_received == 1 and len(broker.orders_by_cid) == 1


def test_a_rejection_is_final_and_never_retried(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(reject_reason="insufficient_buying_power")
    result = gateway().place([intent])[0]
    assert result.status == IntentStatus.REJECTED
    gateway().place([intent])
    gateway().resolve_in_flight()
    assert broker.submits_received == 1
    row = repo.get_intent(ledger, intent.client_order_id)
    assert row["error_code"] == "insufficient_buying_power"


def test_an_intent_from_an_earlier_session_is_abandoned_not_sent(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now())
    broker.faults = Faults(crash_before_send=1)
    with pytest.raises(Crash):
        gateway().place([intent])
    clock.set(et("2026-03-03 10:00"))
    settled = gateway().resolve_in_flight()
    assert [s.status for s in settled] == [IntentStatus.ABANDONED]
    assert broker.submits_received == 0


def test_fills_move_the_intent_to_filled(world):
    clock, ledger, broker, gateway = world
    intent = make_intent(at=clock.now(), qty=10)
    gateway().place([intent])
    broker.fill(intent.client_order_id, 100.0, qty=4)
    gateway().adopt(broker.orders_by_cid[intent.client_order_id])
    assert _status(ledger, intent.client_order_id) == IntentStatus.PARTIALLY_FILLED
    broker.fill(intent.client_order_id, 101.0)
    gateway().adopt(broker.orders_by_cid[intent.client_order_id])
    assert _status(ledger, intent.client_order_id) == IntentStatus.FILLED
    # Stale news (an older 'accepted' snapshot) never moves a filled intent back.
    from dataclasses import replace

    gateway().adopt(replace(broker.orders_by_cid[intent.client_order_id], status="accepted"))
    assert _status(ledger, intent.client_order_id) == IntentStatus.FILLED


def test_while_an_order_is_in_doubt_buys_wait_and_sells_go(world):
    clock, ledger, broker, gateway = world
    doubtful = make_intent(at=clock.now(), symbol="AAA")
    broker.faults = Faults(lose_request=1, transient_lookup=1)
    gateway().place([doubtful])  # the broker cannot confirm whether it has it
    assert _status(ledger, doubtful.client_order_id) == IntentStatus.UNKNOWN
    buy = make_intent(at=clock.now(), symbol="BBB")
    sell = make_intent(at=clock.now(), symbol="CCC", side=Side.SELL, leg=LegKind.LOSS_CUT, step="profittake")
    held, sent = gateway().place([buy, sell])
    assert held.status == IntentStatus.PLANNED and not held.sent and "buying halted" in held.message
    assert sent.status == IntentStatus.ACCEPTED
    assert broker.sent == [doubtful.client_order_id, sell.client_order_id]
    # The doubt resolves (the broker provably never got it: sent again under its id); the buy goes out after it.
    settled = gateway().resolve_in_flight()
    assert [r.client_order_id for r in settled] == [doubtful.client_order_id, buy.client_order_id]
    assert [r.status for r in settled] == [IntentStatus.ACCEPTED, IntentStatus.ACCEPTED]
    assert broker.sent == [doubtful.client_order_id, sell.client_order_id, doubtful.client_order_id,
                           buy.client_order_id]  # fmt: skip


def test_a_step_ends_with_exit_3_while_any_order_is_in_doubt(world):
    from autotrader.domain.reports import ReportDraft
    from autotrader.pipeline.gateway import report_outcomes

    clock, ledger, broker, gateway = world
    broker.faults = Faults(lose_request=1, transient_lookup=1)
    gateway().place([make_intent(at=clock.now(), symbol="AAA")])
    later = gateway()
    results = later.place([make_intent(at=clock.now(), symbol="CCC", side=Side.SELL, leg=LegKind.LOSS_CUT)])
    report = ReportDraft(command="profittake", as_of=clock.now(), dry_run=False)
    report_outcomes(report, results, "1 order", in_doubt=later.in_doubt())
    assert report.exit_code == 3 and not report.ok  # its own order went out; another is still in doubt
    assert report.notes[-1] == "1 order(s) with unknown outcome: buying halted until resolved"


def test_the_doubt_policy_holds_only_buys():
    from autotrader.policy.order_doubt import doubt_exit_code, held_by_doubt

    assert held_by_doubt(Side.SELL, ["x"]) is None and held_by_doubt(Side.BUY, []) is None
    assert "1 order(s) with unknown outcome (x)" in (held_by_doubt(Side.BUY, ["x"]) or "")
    assert (doubt_exit_code([]), doubt_exit_code(["x"])) == (0, 3)
