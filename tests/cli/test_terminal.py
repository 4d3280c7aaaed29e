"""The terminal reads well: tables fit 80 columns with words kept whole, values are plain, markup in data
stays visible, and a progress bar appears only for a person at a terminal."""

from __future__ import annotations

import io

import pytest

from autotrader.cli import render


@pytest.fixture
def eighty(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def _printed(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_a_wide_table_fits_80_columns_without_splitting_a_word(eighty, capsys):
    # Eight columns whose longest words sum to 64: with the seven gaps, 78 characters.
    headers = ["broker id", "book", "symbol", "side", "qty", "status", "leg", "reason"]
    rows = [["sim-o-00000470", "rebalance", "AAPL", "sell", 1277.0, "accepted", "profit_take",
             "trim 20% at +12.5% from the average cost of 88.51"]]
    render.table("orders", headers, rows)
    lines = _printed(capsys)
    assert max(len(line) for line in lines) <= 80
    words = " ".join(lines).split()
    for word in ("symbol", "accepted", "profit_take", "rebalance", "sim-o-00000470", "status", "average"):
        assert word in words, word
    assert "1,277" in words  # a quantity as a number, not 1277.0


def test_values_are_plain_and_markup_in_the_data_stays(eighty, capsys):
    render.table("[rebalance] book", ["name", "value"],
                 [["held", True], ["deployed by book", {"signals": 243281.29, "rebalance": 0.0}],
                  ["reason", "sell [rebalance] drift"]])  # fmt: skip
    text = "\n".join(_printed(capsys))
    assert "[rebalance] book" in text and "sell [rebalance] drift" in text
    assert "yes" in text and "signals: 243,281.29, rebalance: 0" in text
    assert "True" not in text and "{" not in text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_only_for_a_person_at_a_terminal():
    assert render.wants_progress(False, _Terminal())
    assert not render.wants_progress(True, _Terminal())  # --json
    assert not render.wants_progress(False, io.StringIO())  # a pipe, a file, cron's mail
    with render.progress("replaying", False) as advance:
        assert advance is None
