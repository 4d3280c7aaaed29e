"""The composition root checks each adapter's optional capabilities once, against the Protocols in ports.py."""

from __future__ import annotations

from autotrader.bootstrap import build_deps
from autotrader.clock import SimulatedClock
from autotrader.ledger.db import open_ledger
from autotrader.settings import load_config
from tests.factories import et


def _deps(write_config, text: str = "", *, dry_run: bool = False):
    config = load_config(write_config(text))
    ledger = open_ledger(config.ledger_path)
    return build_deps(config, ledger, SimulatedClock(et("2026-03-02 10:00")), dry_run=dry_run), ledger


def test_the_simulated_world_offers_no_extras(write_config):
    deps, ledger = _deps(write_config)
    try:
        assert deps.split_source is None and deps.data_quality is None and deps.volatility_proxy is None
        assert deps.broker_calendar is None and deps.rate_limit is None
    finally:
        ledger.close()


def test_local_files_offer_their_split_list(write_config, tmp_path):
    data = tmp_path / "ws" / "data"
    data.mkdir(parents=True)
    (data / "splits.csv").write_text("symbol,ex_date,ratio\nAAPL,2026-02-02,2\n", encoding="utf-8")
    deps, ledger = _deps(write_config, '[data]\nkind = "local"\npath = "data"\n')
    try:
        assert deps.split_source is deps.market_data
        assert [tuple(s) for s in deps.split_source.splits()][0][0] == "AAPL"
    finally:
        ledger.close()
