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


def test_the_primary_horizon_falls_back_to_the_scorecard_setting():
    settings = Settings.model_validate({"scorecard": {"primary_horizon": 5, "horizons": [1, 5]}})
    assert [_primary(settings, c) for c in ("day_trade", "swing", "long_term")] == [5, 5, 5]
