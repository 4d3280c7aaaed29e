"""A process killed at each moment the exactly-once promise depends on, then run again, converges.

Each test runs the real ``run-daily`` in a child process with ``AUTOTRADER_KILL_AT`` set, checks it died there
(exit 137) and left the state that moment implies, reruns the slots without the switch, and then checks: each
client order id sent at most once and held once by the broker, every broker order mapped to its intent, no
intent left submitting, ledger fills and positions equal to the broker's, ``integrity_check`` ok, and the
broker holding exactly the orders an uninterrupted run of the same slots leaves.

The simulated broker keeps its state in the workspace's ledger file, so it survives the kill like a real
broker would (its own writes are committed before it answers).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autotrader.cli.app import app
from tests.conftest import ISOLATED_PREFIXES
from tests.e2e.crash_harness import broker_orders, read, run_killed, submits_per_order, violations

pytestmark = pytest.mark.slow  # each test starts a child process and runs whole slots

PREMARKET = "2026-03-09T09:05:00-04:00"  # sync, scan, size: market-on-open entries for the synthetic feed's picks
INTRADAY = "2026-03-09T10:30:00-04:00"  # sync records the open's fills and protects them; the intraday steps run


def _workspace(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text("", encoding="utf-8")  # the embedded default: simulated broker, synthetic data and feed
    return config


def _run_slot(config: Path, at: str) -> dict:
    result = CliRunner().invoke(app, ["run-daily", "--json", "--as-of", at, "--config", str(config)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> set[tuple]:
    """The broker's orders after both slots ran once each, with nothing killed."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith(ISOLATED_PREFIXES):
                patch.delenv(name)
        folder = tmp_path_factory.mktemp("uninterrupted")
        config = _workspace(folder)
        premarket = _run_slot(config, PREMARKET)
        assert len(premarket["orders"]) >= 3  # enough entries for a kill on the second to leave others behind
        _run_slot(config, INTRADAY)
        assert violations(folder) == []
        return broker_orders(folder)


@pytest.mark.parametrize(
    ("point", "second_intent", "orders_at_broker"),
    [
        ("after_intent_stored", "planned", 1),  # stored, never sent
        ("after_submit_committed", "submitting", 1),  # marked as being sent, the POST never left
        ("after_post_before_answer", "submitting", 2),  # the broker took it, the ledger never heard
    ],
)
def test_a_kill_in_the_order_gateway_then_rerunning_the_slots_converges(
    tmp_path, uninterrupted, point, second_intent, orders_at_broker
):
    config = _workspace(tmp_path / "ws")
    run_killed(config, f"{point}:2", "run-daily", "--as-of", PREMARKET)  # on the second order of the batch
    statuses = [s for (s,) in read(config.parent, "SELECT status FROM order_intents ORDER BY rowid")]
    assert statuses[:2] == ["accepted", second_intent]
    assert len(read(config.parent, "SELECT 1 FROM sim_orders")) == orders_at_broker

    _run_slot(config, PREMARKET)
    _run_slot(config, INTRADAY)
    assert violations(config.parent) == []
    assert set(submits_per_order(config.parent).values()) == {1}  # what the broker may have taken is never re-sent
    assert broker_orders(config.parent) == uninterrupted


def test_a_kill_half_way_through_reconcile_then_a_rerun_converges(tmp_path, uninterrupted):
    config = _workspace(tmp_path / "ws")
    _run_slot(config, PREMARKET)
    run_killed(config, "mid_reconcile", "run-daily", "--as-of", INTRADAY)
    # The orders' fills were adopted and committed; the fills themselves, and the positions, were not.
    assert read(config.parent, "SELECT COUNT(*) FROM order_intents WHERE status = 'filled'")[0][0] >= 1
    assert read(config.parent, "SELECT COUNT(*) FROM fills") == [(0,)]
    assert read(config.parent, "SELECT COUNT(*) FROM sim_fills")[0][0] >= 1

    _run_slot(config, INTRADAY)
    assert violations(config.parent) == []
    assert set(submits_per_order(config.parent).values()) == {1}
    assert broker_orders(config.parent) == uninterrupted
