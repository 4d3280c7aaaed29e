"""Prediction files: strict structure (file:line and the allowed columns), bad rows skipped with their reason,
and a prediction used on its own session only."""

from __future__ import annotations

from datetime import date

import pytest

from autotrader.errors import InputError
from autotrader.policy import predictions
from autotrader.policy.predictions import Prediction, for_session, parse_predictions, prediction_condition

HEADER = "symbol,date,predicted_return_3d,predicted_return_10d,predicted_return_30d,probability"
GOOD = "AAPL,2026-03-10,0.01,0.03,-0.02,0.7"


def _parse(*rows: str, **kw):
    return parse_predictions("predictions/p.csv", ("\n".join([HEADER, *rows]) + "\n").encode(), **kw)


def test_a_good_file_parses_into_predictions():
    parsed = _parse(GOOD, "msft,2026-03-10,,0.02,,")
    assert parsed.rows == 2 and parsed.skipped == ()
    assert parsed.predictions[0] == Prediction("AAPL", date(2026, 3, 10), 0.01, 0.03, -0.02, 0.7,
                                               origin="predictions/p.csv", line=2)  # fmt: skip
    assert parsed.predictions[1].symbol == "MSFT" and parsed.predictions[1].predicted_return_3d is None


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("symbol,date,predicted_return_5d\n", ":1:", "unknown column 'predicted_return_5d' (allowed: symbol, date,"),
        ("symbol,probability\n", ":1:", "missing required column(s) date"),
        (f"{HEADER}\n{GOOD}\nAAPL,2026-03-11,0.01\n", ":3:", "3 fields, but the header has 6"),
        (f"{HEADER}\n{GOOD}\nAAPL,2026-03-11,abc,,,\n", ":3:", "predicted_return_3d 'abc' is not a number"),
        (f"{HEADER}\nAAPL,10/03/2026,0.01,,,\n", ":2:", "is not an ISO date"),
        (f"{HEADER}\nAAPL,2026-03-11,inf,,,\n", ":2:", "not a finite number"),
        ("", ":1:", "empty file"),
    ],
)
def test_a_structural_problem_names_file_and_line_and_what_is_allowed(text, where, says):
    with pytest.raises(InputError) as e:
        parse_predictions("predictions/p.csv", text.encode())
    assert f"predictions/p.csv{where}" in e.value.message and says in e.value.message


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("AAPL,2026-03-10,-1.0,,,", "predicted_return_3d -1 must be a fraction above -1"),
        ("AAPL,2026-03-10,,,,1.2", "probability 1.2 must be from 0 to 1"),
        ("AAPL,2026-03-10,,,,", "no prediction"),
        (",2026-03-10,0.01,,,", "missing value: symbol"),
        ("ZZZZ,2026-03-10,0.01,,,", "unknown symbol 'ZZZZ'"),
        ("AAPL,2026-03-08,0.01,,,", "2026-03-08 is not a trading session"),
        (GOOD, "duplicate: AAPL 2026-03-10 already predicted on line 2"),
    ],
)
def test_a_bad_row_is_skipped_with_its_line_and_reason_and_the_others_kept(row, reason):
    parsed = _parse(GOOD, row, "MSFT,2026-03-10,0.02,,,", known_symbol=lambda s: s != "ZZZZ",
                    is_session=lambda d: d.weekday() < 5)  # fmt: skip
    assert [p.symbol for p in parsed.predictions] == ["AAPL", "MSFT"]
    assert len(parsed.skipped) == 1 and parsed.skipped[0].line == 3 and parsed.skipped[0].reason.startswith(reason)


def test_a_prediction_is_used_on_its_own_session_only():
    """Point in time: a row for D is not used on D−1 (it would be known before it was made), nor on D+1."""
    rows = _parse(GOOD, "AAPL,2026-03-11,0.05,,,").predictions
    assert for_session(rows, date(2026, 3, 9)) == {}
    assert for_session(rows, date(2026, 3, 10))["AAPL"].predicted_return_3d == 0.01
    assert for_session(rows, date(2026, 3, 11))["AAPL"].predicted_return_3d == 0.05
    assert for_session(rows, date(2026, 3, 12)) == {}


def test_the_condition_vocabulary():
    assert prediction_condition("prediction_3d_positive") == ("predicted_return_3d", 0.0)
    assert prediction_condition("prediction_30d_positive") == ("predicted_return_30d", 0.0)
    assert prediction_condition("probability_above_0.6") == ("probability", 0.6)
    for bad in ("prediction_5d_positive", "probability_above_1", "probability_above_0.", "bollinger"):
        assert prediction_condition(bad) is None
    assert predictions.PROBABILITY_MEANS == "a positive 10-session return"
