"""The simulated account the options strategy tests trade on: the synthetic world at 10:30 New York on a
session, a simulated broker with a million dollars and its options desk, the default config with the given
sections replaced, and a context maker for the steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from autotrader.adapters.sim_broker import SimBroker
from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.eventlog import EventLog
from autotrader.ledger.db import Ledger, open_ledger
from autotrader.pipeline.context import StepContext
from autotrader.settings import default_config
from tests.factories import make_deps

CAL = MarketCalendar.xnys()
DAY = date(2026, 3, 10)


@dataclass
class OptionsWorld:
    ctx: Callable[[], StepContext]
    clock: SimulatedClock
    market: SyntheticMarketData
    broker: SimBroker
    ledger: Ledger


def options_world(tmp_path: Path, migrated_ledger: Callable[[Path], Path], **sections: Any) -> Iterator[OptionsWorld]:
    """Yield the world (module docstring), its ledger closed after; ``sections``: settings sections by name."""
    clock = SimulatedClock(CAL.at_et(DAY, "10:30"))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    market = SyntheticMarketData(clock, CAL)
    broker = SimBroker(ledger, market, CAL, clock, starting_cash=1_000_000.0)
    config = default_config(tmp_path)
    config = replace(config, settings=config.settings.model_copy(update=sections))
    log = EventLog(None, run_id="r", command="run-daily", mode="sim")

    def ctx() -> StepContext:
        deps = make_deps(clock, broker=broker, market_data=market, options_broker=broker)
        return StepContext("run-daily", config, deps, ledger, False, "r", log)

    yield OptionsWorld(ctx, clock, market, broker, ledger)
    ledger.close()
