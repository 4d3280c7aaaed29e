"""The panels' wiring: which sizing rule lost a signal, and the primary horizon a category is judged at."""

from __future__ import annotations

import json

from autotrader.pipeline.scorecard_panels import _gate, _primary
from autotrader.settings import Settings


def test_a_lost_signal_is_counted_under_the_rule_whose_trace_step_skipped():
    trace = [
        {"name": "base", "inputs": {}, "effect": "$1,000 base"},
        {"name": "allocation_cap", "inputs": {}, "effect": "skip: the swing book is full"},
    ]
    assert _gate(json.dumps(trace)) == "allocation_cap"
    assert _gate(json.dumps(trace[:1])) == "unknown"
    assert _gate(None) == "unknown"


def test_the_panels_judge_each_category_at_its_primary_horizon():
    assert [_primary(Settings(), c) for c in ("day_trade", "swing", "long_term")] == [1, 10, 60]
    settings = Settings.model_validate(
        {
            "scorecard": {
                "horizons": [1, 5],
                "primary_horizon": 5,
                "primary_horizons": {"day_trade": 1, "swing": 5, "long_term": 5},
            }
        }
    )
    assert [_primary(settings, c) for c in ("day_trade", "swing", "long_term")] == [1, 5, 5]
