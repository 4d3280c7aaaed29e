"""The seeded chaos test: run-daily over the fake servers with random faults and kills (tests/chaos/harness.py).

A few fixed seeds run in the whole suite. The campaign runs only when asked for:
``pytest tests/chaos -m chaos`` (1,000 seeds from a random base, printed), ``--chaos-runs N`` for another
number, ``--chaos-seed S`` to replay one seed, as a failure's message says.
"""

from __future__ import annotations

import random
import re

import pytest

from autotrader import killpoints
from tests.chaos.conftest import SUMMARY_KEY
from tests.chaos.harness import FAULT_KINDS, ChaosRun, campaign

CAMPAIGN_RUNS = 1000
# Seeds whose scenarios between them trade, meet broker and vendor faults, leave an order's outcome unknown
# (exit 3), run out of retries (exit 75), and see a partial fill then expiry and replayed fills. 1551835634
# found an order whose submit timed out while the request was still on its way: the lookup found nothing, the
# intent went back to planned and was abandoned a session later while the broker held it filled. 2143136053:
# the lookup made before abandoning such an intent failed, and planned -> unknown was not an allowed move.
SUITE_SEEDS = (10, 13, 15, 1551835634, 2143136053)


@pytest.mark.slow  # whole run-daily slots over HTTP
@pytest.mark.parametrize("seed", SUITE_SEEDS)
def test_a_seeded_scenario_keeps_every_invariant(seed, tmp_path):
    result = ChaosRun(seed, tmp_path / "ws").run()
    assert result.violations == []
    assert result.orders_posted > 0 and sum(result.faults_taken.values()) > 0  # it traded, and faults met it
    assert any(slot.reconciled for slot in result.slots)


@pytest.mark.slow
def test_a_kill_that_fires_ends_the_run_and_the_next_slot_recovers(tmp_path, monkeypatch):
    """A kill point reached in the run raises Killed: the harness counts it as fired, the run leaves the ledger
    as a dead process would, and the later slots converge with the broker. The point is placed here in the
    gateway's adoption of an accepted order (after the POST, before its answer is stored)."""
    from autotrader.pipeline.gateway import OrderGateway

    adopt = OrderGateway.adopt

    def adopt_after_kill_point(self, order):
        killpoints.kill_point("after_post_before_answer")
        return adopt(self, order)

    monkeypatch.setattr(OrderGateway, "adopt", adopt_after_kill_point)
    result = ChaosRun(
        7, tmp_path / "ws", slots=(6, 6), fault_rate=0.0, kill_rate=1.0, kill_points=("after_post_before_answer",)
    ).run()
    assert result.kills_fired["after_post_before_answer"] >= 1
    assert [s.exit_code for s in result.slots].count(None) == result.kills_fired.total()
    assert result.violations == []


def _campaign_selected(config: pytest.Config) -> bool:
    asked = config.getoption("--chaos-runs") is not None or config.getoption("--chaos-seed") is not None
    return asked or re.search(r"(?<!not )\bchaos\b", config.option.markexpr or "") is not None


@pytest.mark.chaos
def test_chaos_campaign(request, tmp_path, capsys):
    config = request.config
    if not _campaign_selected(config):
        pytest.skip("the chaos campaign runs with -m chaos, --chaos-runs N or --chaos-seed S")
    replay = config.getoption("--chaos-seed")
    if replay is not None:
        seeds = [replay]
    else:
        base = random.SystemRandom().randrange(2**31)
        seeds = list(range(base, base + (config.getoption("--chaos-runs") or CAMPAIGN_RUNS)))
    with capsys.disabled():
        print(f"\nchaos: {len(seeds)} seed(s) from {seeds[0]}; faults {', '.join(FAULT_KINDS)}", flush=True)
    summary = campaign(seeds, tmp_path)
    config.stash[SUMMARY_KEY] = summary.lines()
    assert summary.violations == [], "\n".join(summary.violations[:20])


@pytest.mark.slow
# Seeds whose owner commands meet trading, faults and a kill point (60 seeds scanned, none broke; 22 and 25
# trade and meet faults without a kill).
@pytest.mark.parametrize("seed", (104, 138))
def test_the_owners_commands_amid_faults_and_kills_never_send_an_intent_twice(seed, tmp_path):
    """halt, resume, approve --all and flatten run before random slots, under the same broker faults and kill
    points as run-daily, with the approval gate on: every invariant holds (one broker order per intent above
    all), whatever the order of commands, answers and crashes."""
    run = ChaosRun(seed, tmp_path / "ws", slots=(6, 8), owner=True)
    result = run.run()
    assert result.violations == []
    assert sum(run.owner_actions.values()) >= 2 and run.owner_actions["approve --all"] >= 1
    assert result.orders_posted > 0 and sum(result.faults_taken.values()) > 0
