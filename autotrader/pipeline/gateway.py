"""The order gateway: the one path every order takes.

1. The intent is stored with its deterministic client_order_id, status PLANNED, and committed before any
   network call.
2. It is marked SUBMITTING (committed), then sent once. Submission is never retried blindly.
3. A definitive rejection is recorded as REJECTED. An ambiguous outcome (timeout, 5xx, 429, or the broker
   refusing the client_order_id as a duplicate) is resolved by looking the order up by client_order_id:
   found → adopted; proven absent → sent again under the same id (a late landing of the first attempt would
   then be refused as a duplicate, never doubled), except after a duplicate refusal (the broker says the id
   is taken: never guess); still unclear → UNKNOWN, and the step ends with exit 3.
4. An intent found SUBMITTING or UNKNOWN by a later run (the previous one crashed or was unsure) is resolved
   the same way before anything else; if it was planned in an earlier session and never reached the broker
   it is ABANDONED: a rerun never trades yesterday's decision.
5. While the owner's kill switch holds (``autotrader halt``), no entry, dip-buy or rebalance order is sent (with
   ``--exits`` no order at all): it stays PLANNED and goes out after ``resume`` if still inside its window
   (``policy.kill_switch``).
6. An entry awaiting the owner's approval (``[approval] required``) stays PLANNED until approved; a rejected
   one, or one whose approval expired, is ABANDONED (``policy.approval``).
7. While any intent is UNKNOWN, no buy is sent (it stays PLANNED and goes out once the doubt is resolved,
   within its window); sells still are (``policy.order_doubt``). A step ends with exit 3 while any order is
   in doubt, including the run that created it.

The gateway never holds a ledger transaction across a broker call, so a crash at any point leaves the
ledger describing exactly what may have been sent.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from autotrader.clock import session_date_for
from autotrader.domain.enums import (
    IN_FLIGHT_INTENT_STATUSES,
    BrokerOrderStatus,
    ExitCode,
    IntentStatus,
    OrderClass,
    OrderType,
    PositionIntent,
    RejectReason,
    Side,
    TimeInForce,
    intent_status_from_broker,
)
from autotrader.domain.models import BrokerOrder, OrderIntent, OrderLegRequest, OrderRequest
from autotrader.domain.reports import OrderLine, ReportDraft
from autotrader.errors import (
    AmbiguousOrderOutcome,
    ConfigError,
    DuplicateClientOrderId,
    OrderRejected,
    TransientError,
)
from autotrader.eventlog import EventLog
from autotrader.killpoints import kill_point
from autotrader.ledger import repo
from autotrader.ledger.db import Ledger
from autotrader.policy.approval import approval_gate
from autotrader.policy.kill_switch import held_by_halt
from autotrader.policy.order_doubt import doubt_exit_code, doubt_note, held_by_doubt
from autotrader.ports import Broker, Clock

# A proven-absent order is re-sent under the same id at most this many times in total.
#: Sends of one intent within one run. A send the broker provably did not receive (its lookup by client order id
#: finds nothing) does not count against the order's life: after this many in a run, the intent goes back to
#: PLANNED and a later run (the next slot, or ``sync``) sends it again under the same id, within its window.
MAX_SUBMIT_ATTEMPTS = 2


@dataclass(frozen=True)
class GatewayResult:
    client_order_id: str
    status: IntentStatus
    broker_order_id: str | None
    message: str
    sent: bool  # whether this call sent anything to the broker


class OrderGateway:
    def __init__(
        self, ledger: Ledger, broker: Broker, clock: Clock, *, run_id: str, log: EventLog, overrides_halt: bool = False
    ) -> None:
        self.ledger = ledger
        # The owner's own instruction (flatten, cancel): sent even while ``autotrader halt`` holds.
        self.overrides_halt = overrides_halt
        self.broker = broker
        self.clock = clock
        self.run_id = run_id
        self.log = log
        self._sends: dict[str, int] = {}  # client order id -> sends in this run
        self._in_flight: set[str] = set()  # client order ids a request of this run got no answer for

    # -- public ------------------------------------------------------------------------------------
    def place(self, intents: Sequence[OrderIntent]) -> list[GatewayResult]:
        """Store each intent (if new) and drive it to the broker exactly once."""
        results = []
        for intent in intents:
            with self.ledger.write():
                inserted = repo.insert_intent(self.ledger, intent, run_id=self.run_id, now=self.clock.now())
            kill_point("after_intent_stored")
            if inserted:
                self.log.event("intent_planned", client_order_id=intent.client_order_id, symbol=intent.symbol)
            results.append(self._drive(intent.client_order_id))
        return results

    def resolve_in_flight(self) -> list[GatewayResult]:
        """Settle every intent a previous run left PLANNED, SUBMITTING or UNKNOWN (called by ``sync``). Those
        that may be at the broker are looked up first: a buy waiting behind one of them goes out in the same
        run once it is resolved."""
        rows = repo.intents_with_status(self.ledger, IN_FLIGHT_INTENT_STATUSES)
        rows.sort(key=lambda row: row["status"] == IntentStatus.PLANNED)  # stable: otherwise oldest first
        return [self._drive(row["client_order_id"]) for row in rows]

    def in_doubt(self) -> list[str]:
        """The client order ids of the intents whose outcome the broker cannot confirm (UNKNOWN)."""
        return repo.unknown_intent_ids(self.ledger)

    def adopt(self, order: BrokerOrder) -> IntentStatus | None:
        """Record the broker's view of one of our orders (and its legs); returns the intent's new status."""
        with self.ledger.write():
            return self._adopt_locked(order)

    # -- the state machine ---------------------------------------------------------------------------
    def _drive(self, cid: str) -> GatewayResult:
        row = repo.get_intent(self.ledger, cid)
        assert row is not None, cid
        status = IntentStatus(row["status"])
        if status == IntentStatus.PLANNED:
            if self._is_stale(row) and row["submit_attempts"] > 0:
                # Sent before and deferred: the broker is asked once more before the intent is given up, in case
                # an earlier request arrived after all.
                return self._resolve(row, cause="its session has passed since it was deferred")
            if self._is_stale(row):
                return self._abandon(row, "planned in an earlier session and never sent")
            return self._submit(row)
        if status.needs_resolution:
            return self._resolve(row, cause="a previous run did not record the outcome")
        return GatewayResult(cid, status, row["broker_order_id"], "already placed: nothing sent", sent=False)

    def _submit(self, row: dict[str, Any]) -> GatewayResult:
        cid = row["client_order_id"]
        gate, why = approval_gate(repo.approval(self.ledger, cid), self.clock.now())
        if gate == "abandon":
            with self.ledger.write():
                repo.decide_approval(self.ledger, cid, "expired", now=self.clock.now(), reason=why)
            return self._abandon(row, why)
        if gate == "wait":
            return self._hold(row, why)
        held = held_by_halt(row["leg"], repo.current_halt(self.ledger)) if not self.overrides_halt else None
        held = held or held_by_doubt(Side(row["side"]), [c for c in self.in_doubt() if c != cid])
        if held is not None:
            return self._hold(row, held)
        self._sends[cid] = self._sends.get(cid, 0) + 1
        with self.ledger.write():
            repo.transition_intent(
                self.ledger,
                cid,
                IntentStatus.SUBMITTING,
                now=self.clock.now(),
                submit_attempts=row["submit_attempts"] + 1,
            )
        kill_point("after_submit_committed")
        request = request_from_row(row)
        self.log.event("order_submit", client_order_id=cid, symbol=request.symbol, qty=request.qty)
        try:
            order = self.broker.submit(request)
        except OrderRejected as rejection:
            return self._reject(cid, rejection.reason, rejection.message)
        except ConfigError as refused:
            # The broker refused the keys before looking at the order: a definitive "not placed", so the intent
            # is settled as rejected instead of waiting in `submitting`; the run still stops on the bad config.
            self._reject(cid, RejectReason.CREDENTIALS_REFUSED, refused.message)
            raise
        except (DuplicateClientOrderId, AmbiguousOrderOutcome, TransientError) as doubt:
            fresh = repo.get_intent(self.ledger, cid)
            assert fresh is not None
            duplicate = isinstance(doubt, DuplicateClientOrderId)
            if isinstance(doubt, AmbiguousOrderOutcome) and doubt.in_flight:
                self._in_flight.add(cid)
            return self._resolve(fresh, cause=str(doubt), sent=True, duplicate=duplicate)
        kill_point("after_post_before_answer")
        status = self.adopt(order)
        self.log.event("order_accepted", client_order_id=cid, broker_order_id=order.broker_order_id)
        return GatewayResult(cid, status or IntentStatus.ACCEPTED, order.broker_order_id, "sent", sent=True)

    def _resolve(
        self, row: dict[str, Any], *, cause: str, sent: bool = False, duplicate: bool = False
    ) -> GatewayResult:
        """Look the order up by client order id. ``duplicate``: the broker refused the id as already taken."""
        cid = row["client_order_id"]
        try:
            found = self.broker.order_by_client_id(cid)
        except TransientError as error:
            return self._unknown(row, f"{cause}; lookup by client order id failed: {error}", sent=sent)
        if found is not None:
            status = self.adopt(found)
            self.log.event("order_adopted", client_order_id=cid, broker_order_id=found.broker_order_id, cause=cause)
            return GatewayResult(
                cid, status or IntentStatus.ACCEPTED, found.broker_order_id, f"adopted after: {cause}", sent=sent
            )
        # The broker definitively has no such order.
        if self._is_stale(row):
            return self._abandon(row, f"never reached the broker ({cause}) and its session has passed")
        if duplicate:
            # The broker says the id is taken yet cannot find it: never guess.
            return self._unknown(row, f"{cause}; but no order has this id", sent=sent)
        if self._sends.get(cid, 0) >= MAX_SUBMIT_ATTEMPTS and cid in self._in_flight:
            # A request that got no answer may still reach the broker: not finding it yet is no proof.
            return self._unknown(row, f"{cause}; an earlier request got no answer and may still arrive", sent=sent)
        if self._sends.get(cid, 0) >= MAX_SUBMIT_ATTEMPTS:
            return self._defer(row, f"the broker has not received it ({cause}); sent again by a later run")
        resent = self._submit(row)
        return GatewayResult(resent.client_order_id, resent.status, resent.broker_order_id, resent.message, True)

    def _unknown(self, row: dict[str, Any], why: str, *, sent: bool = False) -> GatewayResult:
        cid = row["client_order_id"]
        with self.ledger.write():
            repo.transition_intent(self.ledger, cid, IntentStatus.UNKNOWN, now=self.clock.now(), error_message=why)
        self.log.event("order_unknown", client_order_id=cid, why=why)
        return GatewayResult(cid, IntentStatus.UNKNOWN, None, why, sent=sent)

    def _reject(self, cid: str, reason: str, message: str) -> GatewayResult:
        """A definitive refusal: REJECTED with its reason, never sent again."""
        with self.ledger.write():
            repo.transition_intent(
                self.ledger, cid, IntentStatus.REJECTED, now=self.clock.now(), error_code=reason, error_message=message
            )
        self.log.event("order_rejected", client_order_id=cid, reason=reason, message=message)
        return GatewayResult(cid, IntentStatus.REJECTED, None, message, sent=True)

    def _defer(self, row: dict[str, Any], why: str) -> GatewayResult:
        """Back to PLANNED: the broker provably has no order under this id, so it is not in doubt (not UNKNOWN,
        which halts buying); the next run that drives it sends it under the same id, unless its window passed."""
        cid = row["client_order_id"]
        with self.ledger.write():
            repo.transition_intent(self.ledger, cid, IntentStatus.PLANNED, now=self.clock.now(), error_message=why)
        self.log.event("order_deferred", client_order_id=cid, why=why)
        return GatewayResult(cid, IntentStatus.PLANNED, None, why, sent=True)

    def _hold(self, row: dict[str, Any], why: str) -> GatewayResult:
        """Not sent now, and provably not at the broker: PLANNED, so a later run sends it under the same id."""
        cid = row["client_order_id"]
        if row["status"] != IntentStatus.PLANNED:
            with self.ledger.write():
                repo.transition_intent(self.ledger, cid, IntentStatus.PLANNED, now=self.clock.now(), error_message=why)
        self.log.event("order_held", client_order_id=cid, why=why)
        return GatewayResult(cid, IntentStatus.PLANNED, None, why, sent=False)

    def _abandon(self, row: dict[str, Any], why: str) -> GatewayResult:
        cid = row["client_order_id"]
        with self.ledger.write():
            repo.transition_intent(self.ledger, cid, IntentStatus.ABANDONED, now=self.clock.now(), error_message=why)
        self.log.event("intent_abandoned", client_order_id=cid, why=why)
        return GatewayResult(cid, IntentStatus.ABANDONED, None, why, sent=False)

    def _is_stale(self, row: dict[str, Any]) -> bool:
        """Too late to send: past its expiry (the window it was decided for), else past its session date."""
        now = self.clock.now()
        if row.get("expires_at"):
            return now >= repo.parse_utc(row["expires_at"])  # type: ignore[operator]
        return row["session_date"] < session_date_for(now)

    def _adopt_locked(self, order: BrokerOrder, parent_book: str | None = None) -> IntentStatus | None:
        now = self.clock.now()
        book = repo.book_for_order(self.ledger, order, parent_book)
        repo.upsert_order(self.ledger, order, book=book, now=now)
        for leg in order.legs:
            self._adopt_locked(leg, parent_book=book)
        intent = repo.get_intent(self.ledger, order.client_order_id) if parent_book is None else None
        if intent is None:
            return None
        new_status = intent_status_from_broker(order.status)
        if order.order_class == OrderClass.OCO and new_status in (IntentStatus.CANCELED, IntentStatus.EXPIRED):
            # One cancels the other: when the stop leg filled, the exit did what that leg did.
            for leg in order.legs:
                if intent_status_from_broker(leg.status) in (IntentStatus.FILLED, IntentStatus.PARTIALLY_FILLED):
                    new_status = intent_status_from_broker(leg.status)
        current = IntentStatus(intent["status"])
        # An intent may move PLANNED→(SUBMITTING)→... only through the allowed table; when adopting after a
        # crash it is SUBMITTING/UNKNOWN, which may jump straight to any broker outcome.
        target = new_status
        if current == IntentStatus.PLANNED:
            repo.transition_intent(self.ledger, order.client_order_id, IntentStatus.SUBMITTING, now=now)
        changed = repo.transition_intent(
            self.ledger,
            order.client_order_id,
            target,
            now=now,
            broker_order_id=order.broker_order_id,
            error_message=order.reject_reason if order.status == BrokerOrderStatus.REJECTED else None,
        )
        return target if changed else IntentStatus(repo.get_intent(self.ledger, order.client_order_id)["status"])  # type: ignore[index]


def order_line(intent: OrderIntent, result: GatewayResult, **extra: Any) -> OrderLine:
    """The report line of an intent the gateway drove (``extra``: the step's own fields, e.g. ``trace``)."""
    r = intent.request
    return OrderLine(
        symbol=r.symbol,
        side=str(r.side),
        qty=r.qty,
        type=str(r.type),
        time_in_force=str(r.time_in_force),
        client_order_id=intent.client_order_id,
        book=str(intent.book),
        leg=str(intent.leg),
        reason=intent.reason,
        tier=intent.tier,
        status=str(result.status),
        signal_id=intent.signal_id,
        order_class=str(r.order_class),
        position_key=intent.position_key,
        **extra,
    )


def intent_line(row: dict[str, Any]) -> OrderLine:
    """The report line of a stored intent as the ledger holds it now (its status included)."""
    return OrderLine(
        symbol=row["symbol"],
        side=row["side"],
        qty=row["qty"],
        type=row["type"],
        time_in_force=row["time_in_force"],
        client_order_id=row["client_order_id"],
        book=row["book"],
        leg=row["leg"],
        reason=row["reason"],
        tier=row["tier"],
        status=row["status"],
        limit_price=row["limit_price"],
        stop_price=row["stop_price"],
        take_profit=row["take_profit_limit_price"],
        order_class=row["order_class"],
        signal_id=row["signal_id"],
        position_key=row["position_key"],
    )


def report_outcomes(
    report: ReportDraft, results: Iterable[GatewayResult], summary: str, *, in_doubt: Collection[str]
) -> None:
    """The notes every order-sending step ends with: ``summary`` with the rejections counted, each rejection
    with its reason, each order not yet placed, each one given up (an expired window or approval), and exit 3
    while an order's outcome is unknown (``in_doubt``: the ledger's UNKNOWN intents when the step ends,
    whichever run created them)."""
    results = list(results)
    rejected = [r for r in results if r.status == IntentStatus.REJECTED]
    deferred = [r for r in results if r.status == IntentStatus.PLANNED]
    abandoned = [r for r in results if r.status == IntentStatus.ABANDONED]
    report.notes.append(summary + (f", {len(rejected)} rejected by the broker" if rejected else ""))
    report.notes.extend(f"rejected {r.client_order_id}: {r.message}" for r in rejected)
    report.notes.extend(f"not yet placed {r.client_order_id}: {r.message}" for r in deferred)
    report.notes.extend(f"abandoned {r.client_order_id}: {r.message}" for r in abandoned)
    code = doubt_exit_code(in_doubt)
    if code != ExitCode.OK:
        report.exit_code, report.ok = code, False
        report.notes.append(doubt_note(in_doubt))


def _leg(stored: dict[str, Any]) -> OrderLegRequest:
    side, intent = Side(stored["side"]), PositionIntent(stored["position_intent"])
    return OrderLegRequest(stored["symbol"], side, int(stored["ratio_qty"]), intent)


def request_from_row(row: dict[str, Any]) -> OrderRequest:
    return OrderRequest(
        client_order_id=row["client_order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        qty=row["qty"],
        type=OrderType(row["type"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        limit_price=row["limit_price"],
        stop_price=row["stop_price"],
        trail_percent=row["trail_percent"],
        order_class=OrderClass(row["order_class"]),
        take_profit_limit_price=row["take_profit_limit_price"],
        stop_loss_stop_price=row["stop_loss_stop_price"],
        stop_loss_limit_price=row["stop_loss_limit_price"],
        legs=tuple(_leg(leg) for leg in json.loads(row.get("legs_json") or "[]")),
    )
