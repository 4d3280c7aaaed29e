"""A signal's own first target (the signal file's ``target_one``) runs management's ladder: the partial exit
there, the stop to break-even, then the final target.

AAA trades at 100 until Monday. A swing row (entry 100, stop 95, target_one 104, target 110) is imported and
``size`` enters it as a bracket (stop 95, take-profit 110), filled at Monday's close (daily bars only). On
Tuesday at 10:00 the price is 104.20: ``profittake`` sells half (leg ``target`` tier 1, trigger 104), after
cancelling the bracket's legs, and protects the rest with an OCO at break-even (100) and the final target.
Wednesday trades up to 111: the OCO's limit sells the rest at 110.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from autotrader.adapters.sim_broker import SimBroker
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.eventlog import EventLog
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import manage, size, sync
from autotrader.pipeline.context import StepContext
from autotrader.policy.signal_files import parse_document
from autotrader.settings import default_config
from tests.factories import et, make_deps
from tests.fakes.static_market import COLUMNS, StaticMarketData

CAL = MarketCalendar.xnys()
SIGNALS = (
    "symbol,category,source,conviction,entry,stop,target_one,target,horizon_days,generated_at\n"
    "AAA,swing,finds,8,100,95,104,110,10,2026-03-02T08:00:00-05:00\n"
)


def _daily(rows: dict[date, tuple[float, float, float, float]]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in rows], name="date")
    return pd.DataFrame([[*ohlc, 1_000_000.0] for ohlc in rows.values()], index=index, columns=COLUMNS)


def test_a_signals_first_target_sells_half_moves_the_stop_to_break_even_and_the_target_sells_the_rest(
    tmp_path, migrated_ledger
):
    clock = SimulatedClock(et("2026-03-02 10:30"))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    market = StaticMarketData(clock, {"AAA": 100.0})
    flat = {d: (100.0, 100.0, 100.0, 100.0) for d in CAL.sessions_between(date(2026, 2, 2), date(2026, 3, 2))}
    after = {date(2026, 3, 3): (100.0, 104.5, 100.0, 104.2), date(2026, 3, 4): (104.2, 111.0, 104.0, 109.0)}
    market.daily["AAA"] = _daily({**flat, **after})
    broker = SimBroker(ledger, market, CAL, clock, slippage_bps=0.0)
    deps = make_deps(clock, broker=broker, market_data=market)
    config = default_config(tmp_path)

    def step(run, at: str):
        clock.set(et(at))
        log = EventLog(None, run_id=at, command="t", mode="sim")
        return run(StepContext("t", config, deps, ledger, False, at, log))

    parsed = parse_document(
        "signals.csv", SIGNALS.encode(), as_of=clock.now(), max_age=timedelta(days=5), known_symbol=lambda s: True
    )
    assert parsed.skipped == () and parsed.signals[0].target_one == 104.0
    with ledger.write():
        repo.record_import(ledger, content_hash="h", origin="signals.csv", signals=list(parsed.signals), skipped=[],
                           rows_total=1, archive_path=None, run_id="r", now=clock.now())  # fmt: skip
    assert ledger.query("SELECT target_one FROM signals") == [{"target_one": 104.0}]

    (entry,) = step(size.run, "2026-03-02 10:30").orders
    assert (entry.order_class, entry.take_profit, entry.stop_price) == ("bracket", 110.0, 95.0)
    step(sync.run, "2026-03-02 16:05")  # filled at Monday's close
    entered = repo.get_position(ledger, "signals", "AAA").qty
    assert entered >= 2
    (state,) = repo.position_states(ledger)
    assert (state["stop_price"], state["target_one_price"], state["target_price"]) == (95.0, 104.0, 110.0)

    market.prices["AAA"] = 104.2
    first = step(manage.run_profittake, "2026-03-03 10:00")
    (leg,) = first.orders
    assert (leg.leg, leg.tier, leg.qty, leg.trigger_price) == ("target", 1, entered // 2, 104.0)
    (state,) = repo.position_states(ledger)
    assert (state["stop_price"], state["target_one_done"]) == (100.0, 1)
    # The bracket's legs were cancelled first; the rest is protected at break-even with the final target.
    (oco,) = [o for o in broker.orders(status="open") if o.symbol == "AAA" and o.type != "market"]
    rest = entered - entered // 2
    assert (oco.order_class, oco.qty, oco.limit_price, oco.legs[0].stop_price) == ("oco", rest, 110.0, 100.0)

    step(sync.run, "2026-03-03 16:05")  # the half sold at Tuesday's close
    market.prices["AAA"] = 109.0
    step(sync.run, "2026-03-04 16:05")  # Wednesday reached 111: the OCO's limit sold the rest
    sells = [(r["leg"], r["tier"], r["qty"], r["price"]) for r in repo.leg_fills(ledger) if r["side"] == "sell"]
    assert sells == [("target", 1, entered // 2, 104.2), ("target", 2, rest, 110.0)]
    assert repo.get_position(ledger, "signals", "AAA").qty == 0
    assert [o for o in broker.orders(status="open") if o.symbol == "AAA"] == []
    ledger.close()
