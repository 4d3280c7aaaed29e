"""A combination fires only when every condition holds: one test per condition broken, on hand-built series
(Bollinger through its band, a steady climb) and hand-set predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autotrader.policy import scanners
from autotrader.policy.predictions import PREDICTION_COLUMNS

COMMON = scanners.Common(atr_period=14, stop_atr_multiplier=1.5, max_per_day=10)
RULE = ["bollinger", "prediction_3d_positive", "prediction_10d_positive", "prediction_30d_positive",
        "probability_above_0.6"]  # fmt: skip
GOOD = {"predicted_return_3d": 0.01, "predicted_return_10d": 0.02, "predicted_return_30d": 0.05, "probability": 0.7}


def _bars(closes: list[float]) -> scanners.Bars:
    close = np.asarray(closes, dtype=float)[:, None]
    return scanners.Bars(("S0",), close * 1.005, close * 0.995, close)


def _through_the_band() -> scanners.Bars:
    return _bars([100.0 + 0.5 * math.sin(i) for i in range(40)] + [97.0])


def _evaluate(bars: scanners.Bars, conditions: list[str], predicted: dict[str, float | None]) -> scanners.Evaluation:
    evaluations = {
        "bollinger": scanners.evaluate_bollinger(bars, COMMON, period=20, k=2.0, target="middle"),
        "regression": scanners.evaluate_regression(bars, COMMON, window=20, min_r2=0.6, min_annual_pct=20,
                                                   horizon_days=10),  # fmt: skip
    }
    columns = {c: np.array([np.nan if predicted.get(c) is None else predicted[c]]) for c in PREDICTION_COLUMNS}
    return scanners.evaluate_combination("dip-up", conditions, evaluations, columns)


def test_every_condition_holding_is_a_signal_with_the_first_scanners_levels_and_a_note_naming_each():
    bars = _through_the_band()
    combination = _evaluate(bars, RULE, GOOD)
    (hit,) = scanners.hits(combination, bars, COMMON)
    (alone,) = scanners.bollinger(bars, COMMON, period=20, k=2.0, target="middle")
    assert (hit.scanner, hit.entry, hit.stop, hit.target, hit.conviction) == (
        "dip-up", alone.entry, alone.stop, alone.target, alone.conviction
    )
    assert list(combination.conditions) == RULE
    for condition in RULE:
        assert condition in hit.note
    assert "predicted_return_3d 0.01" in hit.note and alone.note in hit.note


def test_the_scanner_not_firing_breaks_it():
    bars = _bars([100.0 + 0.5 * math.sin(i) for i in range(40)] + [99.6])  # inside the band
    assert not _evaluate(bars, RULE, GOOD).fired[0]


@pytest.mark.parametrize(
    ("condition", "broken"),
    [
        ("prediction_3d_positive", {"predicted_return_3d": -0.01}),
        ("prediction_3d_positive", {"predicted_return_3d": 0.0}),
        ("prediction_10d_positive", {"predicted_return_10d": -0.02}),
        ("prediction_30d_positive", {"predicted_return_30d": -0.05}),
        ("probability_above_0.6", {"probability": 0.6}),
        ("prediction_3d_positive", {"predicted_return_3d": None}),  # no prediction never holds
    ],
)
def test_each_prediction_condition_broken_alone_breaks_it(condition, broken):
    evaluation = _evaluate(_through_the_band(), RULE, GOOD | broken)
    assert not evaluation.fired[0]
    assert [name for name, held in evaluation.conditions.items() if not held[0]] == [condition]


def test_a_scanner_in_a_combination_needs_all_its_scanners():
    """Two scanners: a close through the band is no steady climb, so bollinger + regression does not fire."""
    evaluation = _evaluate(_through_the_band(), ["bollinger", "regression"], GOOD)
    assert not evaluation.fired[0] and evaluation.conditions["bollinger"][0]
