"""A model-based test of the order lifecycle: the gateway, ``sync`` and a broker, driven by random rules.

Hypothesis plays cron, the market and bad luck at once. Its rules plan an order intent the way the steps do
(an entry or an exit, market or limit, with the deterministic client order id and window the steps give
it), send it with a random fault, move the simulated clock (within the session, across the close, to the
next session's open or the market-on-open window before it), fill an order partly or fully, replay a fill,
split a holding overnight, trade outside autotrader, crash (at a named kill point, at a broker call, or by
dropping the ledger's connection), restart (reopen the ledger file, a new gateway) and reconcile.

After every step:

- no client order id is ever POSTed while the broker already holds an order under it (so at most one broker
  order per id, even against a broker that would take a second);
- every broker order of ours has its intent in the ledger (stored before it was sent);
- every fill the ledger holds is one the broker reported, with the same numbers;
- no POST went out while the market was closed for that order's time in force (a day order outside the
  regular session, a market-on-open order after the cut-off or once the session opened) or after the
  window its step gave it.

After each reconcile that completes (no crash):

- no intent is left ``submitting`` (nor ``unknown``: the model's broker answers every lookup);
- the ledger holds exactly the broker's fills;
- per symbol the books sum to the broker's position, or the report names that symbol's difference and the
  run exits 3 (never a silent disagreement); an exit 0 means every position agrees;
- every broker order is in the ledger, and each intent of ours says what its broker order says.

A restart in live mode without ``AUTOTRADER_LIVE_CONFIRM=yes`` (or with a near miss such as ``YES``) is
refused before anything is built, and nothing is sent.

The whole suite runs a small budget (``DEFAULT_EXAMPLES`` × ``DEFAULT_STEPS``); ``--model-examples N`` and
``--model-steps M`` run a bigger one and print how many examples and steps ran.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from autotrader import killpoints
from autotrader.bootstrap import build_deps
from autotrader.clock import ET, OPG_CUTOFF, SimulatedClock, session_date_for
from autotrader.domain.enums import (
    Book,
    BrokerOrderStatus,
    IntentStatus,
    LegKind,
    OrderType,
    Side,
    TimeInForce,
    intent_status_from_broker,
)
from autotrader.domain.models import OrderIntent
from autotrader.errors import SafetyRefusal
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import Ledger, open_ledger
from autotrader.pipeline import sync
from autotrader.pipeline.context import StepContext
from autotrader.pipeline.gateway import OrderGateway
from autotrader.settings import default_config, load_config
from tests.factories import et, make_deps
from tests.fakes.memory_broker import Crash, Faults, MemoryBroker
from tests.fakes.static_market import StaticMarketData

pytestmark = pytest.mark.slow

DEFAULT_EXAMPLES = 12
DEFAULT_STEPS = 30

SYMBOLS = ("AAPL", "MSFT", "XOM")
START = "2026-03-02 09:45"  # a Monday, in the session
QTY_TOLERANCE = 1e-6

#: What a submit meets at the broker (see tests/fakes/memory_broker.py's ``Faults``).
SUBMIT_FAULTS: dict[str, Faults] = {
    "none": Faults(),
    "crash_before_send": Faults(crash_before_send=1),
    "lose_response": Faults(lose_response=1),
    "accept_then_504": Faults(fail_after_accept=1),
    "crash_after_accept": Faults(crash_after_accept=1),
    "duplicate_refusal": Faults(duplicate_on_submit=1),
    "one_429": Faults(refuse_unacted=1),
    "two_429s": Faults(refuse_unacted=2),
    "lost_and_lookup_fails": Faults(lose_response=1, transient_lookup=1),
    "rejected": Faults(reject_reason="insufficient_buying_power"),
}
#: Where a crash can land: a named kill point (in-process, ``Killed``), or a broker call the next step makes.
CRASH_SITES = (
    *sorted(killpoints.POINTS - {"mid_migration"}),
    "broker:submit",
    "broker:order_by_client_id",
    "broker:orders",
    "broker:fills",
    "broker:positions",
    "drop_connection",  # the process dies between steps: the ledger connection goes, nothing else
)
EXIT_LEGS = (LegKind.LOSS_CUT, LegKind.TIME_EXIT, LegKind.PROFIT_TAKE)
SPLIT_RATIOS = (2.0, 3.0, 0.5)


class Tally:
    """How many examples and steps ran, and how often each rule (read by the test to report them)."""

    rules: Counter[str]
    examples = 0
    steps = 0
    posts = 0
    reconciles = 0
    successful_reconciles = 0
    crashes = 0


def counted(method: Callable[..., Any]) -> Callable[..., Any]:
    """Count each run of a rule in the machine's tally."""

    @functools.wraps(method)
    def run(self: OrderLifecycle, *args: Any, **kwargs: Any) -> Any:
        self.tally.rules[method.__name__] += 1
        return method(self, *args, **kwargs)

    return run


class OrderLifecycle(RuleBasedStateMachine):
    template: Path  # an already-migrated ledger file, copied for each example
    tally: type[Tally] = Tally

    def __init__(self) -> None:
        super().__init__()
        self.tally.examples += 1
        killpoints.disarm()
        self.folder = Path(tempfile.mkdtemp(prefix="order-model-"))
        self.path = self.folder / "ledger.db"
        shutil.copyfile(self.template, self.path)
        self.clock = SimulatedClock(et(START))
        self.market = StaticMarketData(self.clock, dict.fromkeys(SYMBOLS, 100.0))
        self.broker = MemoryBroker(time_source=self.clock)
        self.deps = make_deps(self.clock, broker=self.broker, market_data=self.market)
        self.calendar = self.deps.calendar
        self.config = default_config(self.folder)
        self.runs = 0
        self.plans: list[OrderIntent] = []  # every intent a step decided, in order
        self.posts_checked = 0
        self.ledger: Ledger = open_ledger(self.path)
        self.alive = False
        self._start_run()

    def teardown(self) -> None:
        killpoints.disarm()
        self.ledger.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the process ------------------------------------------------------------------------------------------
    def _start_run(self) -> None:
        """A new run: the ledger reopened from its file, a gateway rebuilt from it (nothing kept in memory)."""
        self.ledger.close()
        self.ledger = open_ledger(self.path)
        self.runs += 1
        self.run_id = f"run-{self.runs}"
        self.log = EventLog(None, run_id=self.run_id, command="model", mode="test")
        self.gateway = OrderGateway(self.ledger, self.broker, self.clock, run_id=self.run_id, log=self.log)
        self.alive = True

    def _die(self) -> None:
        """The process is gone: its connection with it. What it committed is all the next run finds."""
        self.tally.crashes += 1
        self.ledger.close()
        self.ledger = open_ledger(self.path)  # for the checks only; a run needs ``restart``
        self.alive = False

    def _run(self, body: Any) -> Any:
        try:
            return body()
        except (Crash, killpoints.Killed):
            self._die()
            return None

    # -- time and the market ----------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self.clock.now()

    def _window(self) -> tuple[TimeInForce, datetime] | None:
        """How an order decided now may go out, as the steps decide it: a day order in the regular session
        (until the close), a market-on-open order before the open (until the cut-off); otherwise none."""
        now, state = self._now(), self.calendar.state(self._now())
        if state.is_open and state.close_at is not None:
            return TimeInForce.DAY, state.close_at
        if state.session_date is not None and state.open_at is not None and now < state.open_at:
            if self.calendar.opg_accepted(now):
                return TimeInForce.OPG, self.calendar.at_et(state.session_date, f"{OPG_CUTOFF:%H:%M}")
        return None

    def _can_plan(self) -> bool:
        return self.alive and self._window() is not None

    def _in_session(self) -> bool:
        return self.calendar.is_open(self._now())

    def _working(self) -> list[str]:
        orders = self.broker.orders_by_cid.items()
        return sorted(cid for cid, o in orders if not BrokerOrderStatus.is_terminal(o.status))

    def _advance_to(self, target: datetime) -> None:
        """Move the clock to ``target``, letting each open and close on the way do what the exchange does:
        the opening auction fills market-on-open orders, the close expires what day orders left unfilled."""
        at = self._now()
        while True:
            event = min(self.calendar.next_open(at), self.calendar.next_close(at))
            if event > target:
                break
            self.clock.set(event)
            opening = self.calendar.is_open(event)
            for cid in self._working():
                order = self.broker.orders_by_cid[cid]
                if order.time_in_force == TimeInForce.OPG and opening:
                    self.broker.fill(cid, self.market.prices[order.symbol])
                elif order.time_in_force in (TimeInForce.DAY, TimeInForce.OPG) and not opening:
                    self.broker.expire(cid)
            at = event
        self.clock.set(target)

    @initialize(symbol=st.sampled_from(SYMBOLS), qty=st.integers(1, 40))
    def a_held_position(self, symbol: str, qty: int) -> None:
        """Each example starts holding a position the signals book bought and a reconcile recorded, so that an
        exit can be decided from the first step."""
        tif, expires = self._window() or (TimeInForce.DAY, self._now())
        entry = OrderIntent.create(
            session_date=session_date_for(self._now()), step="size", book=Book.SIGNALS, leg=LegKind.ENTRY,
            key="signal:0", symbol=symbol, side=Side.BUY, qty=float(qty), time_in_force=tif, expires_at=expires,
        )  # fmt: skip
        self.gateway.place([entry])
        self.broker.fill(entry.client_order_id, self.market.prices[symbol])
        report = sync.run(self._sync_context())
        assert report.exit_code == 0 and self._held_by_signals() == {symbol: qty}

    # -- rules: decisions and sends ---------------------------------------------------------------------------
    @precondition(lambda self: self._can_plan())
    @rule(data=st.data())
    @counted
    def plan(self, data: st.DataObject) -> None:
        """A step decides an order and sends it at once: an exit of a position the signals book holds (in the
        session only, as management sends its legs), else an entry."""
        exit = data.draw(st.booleans(), label="exit")
        limit = data.draw(st.booleans(), label="limit")
        fault = data.draw(st.sampled_from(sorted(SUBMIT_FAULTS)), label="fault")
        window = self._window()
        assert window is not None
        tif, expires = window
        held = self._held_by_signals() if tif == TimeInForce.DAY else {}
        limit = limit and tif == TimeInForce.DAY  # before the open an order goes market-on-open
        if exit and held:
            symbol = data.draw(st.sampled_from(sorted(held)), label="symbol")
            qty = data.draw(st.integers(1, int(held[symbol])), label="qty")
            leg = data.draw(st.sampled_from(EXIT_LEGS), label="leg")
            tier = data.draw(st.integers(0, 1), label="tier")
            step, side, key, move = "manage", Side.SELL, f"signals|{symbol}", 0.99
        else:
            symbol = data.draw(st.sampled_from(SYMBOLS), label="symbol")
            qty = data.draw(st.integers(1, 40), label="qty")
            leg, tier = LegKind.ENTRY, 0
            signal = data.draw(st.integers(1, 3), label="signal")  # a small pool: the same decision recurs
            step, side, key, move = "size", Side.BUY, f"signal:{signal}", 1.01
        intent = OrderIntent.create(
            session_date=session_date_for(self._now()), step=step, book=Book.SIGNALS, leg=leg, tier=tier, key=key,
            symbol=symbol, side=side, qty=float(qty), type=OrderType.LIMIT if limit else OrderType.MARKET,
            time_in_force=tif, limit_price=round(self.market.prices[symbol] * move, 2) if limit else None,
            reason=f"model {leg}", expires_at=expires,
        )  # fmt: skip
        self.tally.rules[f"plan_{'entry' if leg == LegKind.ENTRY else 'exit'}"] += 1
        self.plans.append(intent)
        self._place(intent, fault)

    def _held_by_signals(self) -> dict[str, float]:
        return {p.symbol: p.qty for p in repo.all_positions(self.ledger) if p.book == str(Book.SIGNALS) and p.qty >= 1}

    @precondition(lambda self: self.alive and bool(self.plans))
    @rule(data=st.data())
    @counted
    def submit(self, data: st.DataObject) -> None:
        """A rerun of a step that decided an intent before (the same decision, so the same client order id)."""
        intent = data.draw(st.sampled_from(self.plans), label="intent")
        self._place(intent, data.draw(st.sampled_from(sorted(SUBMIT_FAULTS)), label="fault"))

    def _place(self, intent: OrderIntent, fault: str) -> None:
        """The step stores the intent and sends it through the gateway, meeting ``fault`` at the broker."""
        pending_crash = self.broker.faults.crash_on
        self.broker.faults = replace(SUBMIT_FAULTS[fault], crash_on=pending_crash)
        try:
            self._run(lambda: self.gateway.place([intent]))
        finally:
            # A fault belongs to this send: the broker is healthy again for whatever comes next.
            self.broker.faults = Faults(crash_on=self.broker.faults.crash_on)

    # -- rules: the market ------------------------------------------------------------------------------------
    # Mostly within the session; now and then across the close, to the next open or to the window before it.
    @rule(
        how=st.sampled_from(("minutes", "minutes", "minutes", "close", "next_open", "pre_open")),
        minutes=st.integers(1, 90),
    )
    @counted
    def tick(self, how: str, minutes: int) -> None:
        now = self._now()
        if how == "minutes":
            target = now + timedelta(minutes=minutes)
        elif how == "close":
            target = self.calendar.next_close(now) + timedelta(minutes=5)
        elif how == "next_open":
            target = self.calendar.next_open(now) + timedelta(minutes=5)
        else:  # the market-on-open window before the next session
            day = self.calendar.next_open(now).astimezone(ET).date()
            target = self.calendar.at_et(day, "09:00")
            if target <= now:
                return
        self._advance_to(target)

    @precondition(lambda self: self._in_session() and self._fillable())
    @rule(data=st.data())
    @counted
    def fill(self, data: st.DataObject) -> None:
        cid = data.draw(st.sampled_from(self._fillable()), label="order")
        full = data.draw(st.booleans(), label="full")
        move = data.draw(st.integers(-2, 2), label="price move %")
        order = self.broker.orders_by_cid[cid]
        remaining = int(round(order.qty - order.filled_qty))
        qty = remaining if full or remaining <= 1 else data.draw(st.integers(1, remaining - 1), label="qty")
        price = order.limit_price or round(self.market.prices[order.symbol] * (1 + move / 100), 2)
        self.broker.fill(cid, price, qty=float(qty))

    def _fillable(self) -> list[str]:
        """Working orders that trade in the session (a market-on-open order fills only in the auction)."""
        return [c for c in self._working() if self.broker.orders_by_cid[c].time_in_force != TimeInForce.OPG]

    @rule(kind=st.sampled_from(("replay_fill", "split", "external_buy", "external_sell")), data=st.data())
    def outside_event(self, kind: str, data: st.DataObject) -> None:
        """What the broker does on its own: report a fill again, split a holding overnight, or carry out a
        trade someone placed outside autotrader. One rule, so that together they come up as often as a fill."""
        self.tally.rules[kind] += 1
        if kind == "replay_fill":
            ids = sorted({f.fill_id for f in self.broker.fills_list})
            if ids:
                self.broker.replay_fill(data.draw(st.sampled_from(ids), label="fill"))
        elif kind == "split":
            candidates = self._splittable()
            if candidates and not self._in_session():  # a split takes effect overnight
                symbol = data.draw(st.sampled_from(candidates), label="symbol")
                ratio = data.draw(st.sampled_from(SPLIT_RATIOS), label="ratio")
                self.broker.split(symbol, ratio)
                self.market.prices[symbol] = round(self.market.prices[symbol] / ratio, 2)
        else:
            symbol = data.draw(st.sampled_from(SYMBOLS), label="symbol")
            qty = data.draw(st.integers(1, 20), label="qty")
            if kind == "external_sell" and self.broker.held.get(symbol, 0.0) < qty:
                return  # nobody sells shares the account does not hold
            side = Side.SELL if kind == "external_sell" else Side.BUY
            self.broker.place_external(symbol, float(qty), self.market.prices[symbol], side=side)

    def _splittable(self) -> list[str]:
        """Held symbols with no working order (the model's broker does not adjust orders for a split)."""
        working = {self.broker.orders_by_cid[c].symbol for c in self._working()}
        return sorted(s for s, q in self.broker.held.items() if q >= 1 and s not in working)

    # -- rules: crashes, restarts, reconciling ------------------------------------------------------------------
    @precondition(lambda self: self.alive)
    @rule(site=st.sampled_from(CRASH_SITES), nth=st.integers(1, 2))
    @counted
    def crash(self, site: str, nth: int) -> None:
        """Arm a crash at a site; it lands whenever a later step gets there (or never, if none does)."""
        if site == "drop_connection":
            self._die()
        elif site.startswith("broker:"):
            self.broker.faults = replace(self.broker.faults, crash_on=site.removeprefix("broker:"))
        else:
            killpoints.arm(site, nth)

    @rule(live_confirm=st.sampled_from((None, None, None, None, None, "", "YES", " yes", "true")))
    @counted
    def restart(self, live_confirm: str | None) -> None:
        """The next run (``live_confirm`` None); or one in live mode whose confirmation is missing or not
        exactly ``yes``, refused before any adapter exists."""
        if live_confirm is None:
            self._start_run()
        else:
            self._refused_live_run(live_confirm)

    def _refused_live_run(self, confirm: str) -> None:
        config_file = self.folder / "live.toml"
        live = '[broker]\nkind = "alpaca"\nmode = "live"\n[data]\nkind = "local"\npath = "."\n'
        config_file.write_text(live, encoding="utf-8")
        posts, intents = len(self.broker.posts), self._intents()
        saved = os.environ.get("AUTOTRADER_LIVE_CONFIRM")
        os.environ["AUTOTRADER_LIVE_CONFIRM"] = confirm
        try:
            with pytest.raises(SafetyRefusal):
                build_deps(load_config(config_file), self.ledger, self.clock)
        finally:
            if saved is None:
                os.environ.pop("AUTOTRADER_LIVE_CONFIRM", None)
            else:
                os.environ["AUTOTRADER_LIVE_CONFIRM"] = saved
        assert len(self.broker.posts) == posts and self._intents() == intents
        self.alive = False  # the refused run never started; the next one is a restart

    @precondition(lambda self: self.alive)
    @rule()
    @counted
    def reconcile(self) -> None:
        self.tally.reconciles += 1
        ctx = self._sync_context()
        report = self._run(lambda: sync.run(ctx))
        if report is None:
            return
        self._check_after_reconcile(report.exit_code, report.to_json())

    def _sync_context(self) -> StepContext:
        return StepContext("sync", self.config, self.deps, self.ledger, False, self.run_id, self.log)

    # -- reading the ledger -------------------------------------------------------------------------------------
    def _intents(self) -> dict[str, dict[str, Any]]:
        return {r["client_order_id"]: r for r in self.ledger.query("SELECT * FROM order_intents")}

    def _ledger_fills(self) -> dict[str, dict[str, Any]]:
        return {r["fill_id"]: r for r in self.ledger.query("SELECT * FROM fills")}

    def _ledger_orders(self) -> dict[str, dict[str, Any]]:
        return {r["broker_order_id"]: r for r in self.ledger.query("SELECT * FROM orders")}

    def _broker_fills(self) -> dict[str, Any]:
        return {f.fill_id: f for f in self.broker.fills_list}

    @staticmethod
    def _ours(cid: str) -> bool:
        return not cid.startswith("manual-")

    # -- invariants -----------------------------------------------------------------------------------------------
    @invariant()
    def after_every_step(self) -> None:
        self.tally.steps += 1
        assert self.broker.repeat_posts == [], f"POSTed under an id the broker already held: {self.broker.repeat_posts}"
        intents = self._intents()
        for cid in self.broker.orders_by_cid:
            if self._ours(cid):
                assert cid in intents, f"broker order {cid} has no intent in the ledger"
        broker_fills = self._broker_fills()
        for fill_id, row in self._ledger_fills().items():
            assert fill_id in broker_fills, f"the ledger holds fill {fill_id} the broker never reported"
            fill = broker_fills[fill_id]
            assert (row["broker_order_id"], row["symbol"], row["side"]) == (
                fill.broker_order_id, fill.symbol, str(fill.side),
            )  # fmt: skip
            assert abs(row["qty"] - fill.qty) < QTY_TOLERANCE and abs(row["price"] - fill.price) < 1e-9
        self._check_new_posts(intents)

    def _check_new_posts(self, intents: dict[str, dict[str, Any]]) -> None:
        for at, request in self.broker.posts[self.posts_checked :]:
            self.tally.posts += 1
            row = intents.get(request.client_order_id)
            assert row is not None, f"{request.client_order_id} was POSTed without a stored intent"
            expires = repo.parse_utc(row["expires_at"])
            assert expires is not None and at < expires, f"{request.client_order_id} POSTed at {at}, past {expires}"
            if request.time_in_force == TimeInForce.DAY:
                assert self.calendar.is_open(at), f"day order {request.client_order_id} POSTed at {at}, market closed"
            elif request.time_in_force == TimeInForce.OPG:
                assert self.calendar.opg_accepted(at) and not self.calendar.is_open(at), (
                    f"market-on-open order {request.client_order_id} POSTed at {at}"
                )
        self.posts_checked = len(self.broker.posts)

    def _check_after_reconcile(self, exit_code: int, report: dict[str, Any]) -> None:
        intents = self._intents()
        stuck = {cid: r["status"] for cid, r in intents.items() if r["status"] in ("submitting", "unknown")}
        assert not stuck, f"left in flight after a completed reconcile: {stuck}"

        broker_fills, ledger_fills = self._broker_fills(), self._ledger_fills()
        assert set(ledger_fills) == set(broker_fills), (
            f"fills: ledger only {set(ledger_fills) - set(broker_fills)}, broker only "
            f"{set(broker_fills) - set(ledger_fills)}"
        )

        ledger_qty: dict[str, float] = defaultdict(float)
        for position in repo.all_positions(self.ledger):
            ledger_qty[position.symbol] += position.qty
        differing = sorted(
            s
            for s in set(ledger_qty) | set(self.broker.held)
            if abs(ledger_qty.get(s, 0.0) - self.broker.held.get(s, 0.0)) > QTY_TOLERANCE
        )
        reported = {d.get("symbol") for d in report["diffs"] if d.get("kind") == "position_mismatch"}
        if differing:
            assert exit_code == 3 and set(differing) <= reported, (
                f"positions differ for {differing} (ledger {dict(ledger_qty)}, broker {self.broker.held}) "
                f"but the reconcile exited {exit_code} reporting {sorted(map(str, reported))}"
            )
        else:
            self.tally.successful_reconciles += exit_code == 0

        orders = self._ledger_orders()
        for cid, order in self.broker.orders_by_cid.items():
            assert order.broker_order_id in orders, f"broker order {cid} not in the ledger after a reconcile"
            if not self._ours(cid):
                continue
            intent = intents[cid]
            assert intent["broker_order_id"] == order.broker_order_id
            assert IntentStatus(intent["status"]) == intent_status_from_broker(order.status), (
                f"{cid}: intent {intent['status']}, broker {order.status}"
            )
        at_broker = {IntentStatus.ACCEPTED, IntentStatus.PARTIALLY_FILLED, IntentStatus.FILLED, IntentStatus.EXPIRED}
        for cid, intent in intents.items():
            if IntentStatus(intent["status"]) in at_broker:
                assert cid in self.broker.orders_by_cid, f"{cid} is {intent['status']} but the broker has no such order"


def test_the_order_lifecycle_holds_its_invariants_under_random_faults(migrated_ledger, tmp_path, request):
    examples = request.config.getoption("--model-examples") or DEFAULT_EXAMPLES
    steps = request.config.getoption("--model-steps") or DEFAULT_STEPS
    tally = type("RunTally", (Tally,), {"rules": Counter()})
    machine = type(
        "OrderLifecycleRun", (OrderLifecycle,), {"template": migrated_ledger(tmp_path / "template.db"), "tally": tally}
    )
    started = time.perf_counter()
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    elapsed = time.perf_counter() - started
    summary = (
        f"order lifecycle model: {tally.examples} examples, {tally.steps} steps, {tally.posts} POSTs, "
        f"{tally.reconciles} reconciles ({tally.successful_reconciles} with every position agreeing), "
        f"{tally.crashes} crashes, {elapsed:.1f} s; rules run: "
        + ", ".join(f"{name} {n}" for name, n in sorted(tally.rules.items()))
    )
    request.node.user_properties.append(("model_summary", summary))
    if request.config.getoption("--model-examples"):
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\n{summary}")
    assert tally.examples >= 1 and tally.steps >= tally.examples
