"""Combinations as built-in sources: decided from the scanners and the morning's predictions, a prediction
for session D used on D only (never on D−1), a bad prediction file left out and named."""

from __future__ import annotations

from datetime import date, timedelta

from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.pipeline.scanners import BuiltinScanners
from autotrader.policy import signal_files
from autotrader.settings import ScannersSection

CAL = MarketCalendar.xnys()
# In the seeded synthetic world (seed 42) Bollinger fires for TLT and SOFI on 03-09, OKLO, TLT, SOFI on 03-10.
UNIVERSE = ("TLT", "SOFI", "OKLO", "AAPL")
SETTINGS = ScannersSection(combinations=[{"name": "dip-up", "all": ["bollinger", "prediction_3d_positive"]}])
HEADER = "symbol,date,predicted_return_3d,predicted_return_10d,predicted_return_30d,probability\n"


def _source(tmp_path, day: date) -> BuiltinScanners:
    clock = SimulatedClock(CAL.at_et(day, "08:00"))
    data = SyntheticMarketData(clock, CAL, seed=42)
    return BuiltinScanners(SETTINGS, data, CAL, clock, UNIVERSE, tmp_path / "predictions")


def test_a_combination_publishes_its_own_source_from_the_mornings_predictions_only(tmp_path):
    folder = tmp_path / "predictions"
    folder.mkdir()
    (folder / "a.csv").write_text(
        HEADER + "TLT,2026-03-10,0.01,0.02,,0.7\nOKLO,2026-03-10,-0.01,,,\nSOFI,2026-03-11,0.03,,,\n"
    )
    (folder / "b.csv").write_text("symbol,date,predicted_return_5d\n")
    day = date(2026, 3, 10)
    source = _source(tmp_path, day)
    ((origin, text),) = source.documents(day)  # bollinger is not enabled: only the combination publishes
    assert origin == "builtin-dip-up-2026-03-10.csv"
    parsed = signal_files.parse_document(origin, text.encode(), as_of=CAL.at_et(day, "09:00"),
                                         max_age=timedelta(days=5), known_symbol=lambda _: True)  # fmt: skip
    (signal,) = parsed.signals  # OKLO fired but its 3-day prediction is negative; SOFI's is for 03-11
    assert (signal.symbol, signal.source, signal.predicted_return_3d, signal.probability) == (
        "TLT", "builtin:dip-up", 0.01, 0.7
    )
    assert "bollinger fired, prediction_3d_positive (predicted_return_3d 0.01)" in signal.note
    (note,) = source.notes(day)
    assert note.startswith("prediction file predictions/b.csv not used: predictions/b.csv:1: unknown column")

    # The morning before: TLT and SOFI fired, but no prediction is for 03-09 (03-10's is not known yet).
    before = date(2026, 3, 9)
    assert _source(tmp_path, before).documents(before) == []


def test_a_combination_names_only_known_conditions_and_a_scanner():
    import pytest
    from pydantic import ValidationError

    for rule, says in [
        ({"name": "x", "all": ["bollinger", "prediction_5d_positive"]}, "unknown condition 'prediction_5d_positive'"),
        ({"name": "x", "all": ["probability_above_0.6"]}, "needs a scanner (bollinger or regression)"),
        ({"name": "regression", "all": ["regression"]}, "combination name 'regression' is a scanner's"),
    ]:
        with pytest.raises(ValidationError, match=r"\(") as e:
            ScannersSection(combinations=[rule])
        assert says in str(e.value)
