"""The intraday setups as a signal source: documents the signal parser accepts, one per setup that fired at an
evaluation minute of the trading window, decided from the minute bars completed before it (the same documents
whenever they are computed)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import ET, MarketCalendar, SimulatedClock
from autotrader.pipeline.intraday import IntradayScanners
from autotrader.policy import signal_files
from autotrader.policy.intraday import SETUPS
from autotrader.settings import IntradaySection

CAL = MarketCalendar.xnys()
DAY = date(2026, 3, 10)
SETTINGS = IntradaySection(enabled=list(SETUPS))


def _source(at: datetime, symbols: int = 12) -> IntradayScanners:
    clock = SimulatedClock(at)
    data = SyntheticMarketData(clock, CAL, seed=42)
    return IntradayScanners(SETTINGS, ("09:35", "15:45"), data, CAL, clock, data.universe[:symbols])


def test_evaluation_minutes_are_the_trading_window_every_five_minutes():
    minutes = [m.astimezone(ET).strftime("%H:%M") for m in _source(CAL.at_et(DAY, "08:00")).minutes(DAY)]
    assert minutes[:3] == ["09:35", "09:40", "09:45"] and minutes[-1] == "15:45" and len(minutes) == 75
    early = date(2026, 11, 27)  # the day after Thanksgiving closes at 13:00
    assert _source(CAL.at_et(early, "08:00")).minutes(early)[-1] == CAL.at_et(early, "12:55")
    assert _source(CAL.at_et(DAY, "09:34")).documents(DAY) == []  # before the first evaluation minute


def test_documents_pass_the_signal_parser_stamped_with_their_minute():
    documents = _source(CAL.at_et(DAY, "11:00")).documents(DAY)
    assert documents
    for origin, text in documents:
        minute = CAL.at_et(DAY, f"{origin[-8:-6]}:{origin[-6:-4]}")
        parsed = signal_files.parse_document(
            origin, text.encode(), as_of=minute, max_age=timedelta(hours=1), known_symbol=lambda _: True
        )
        assert parsed.skipped == () and parsed.signals  # every row passes the checks an outside file gets
        assert {s.generated_at for s in parsed.signals} == {minute}
        assert {s.category for s in parsed.signals} == {"day_trade"}
        assert len({s.source for s in parsed.signals}) == 1 and parsed.signals[0].source in origin.replace("-", ":", 1)
        assert all(s.stop < s.entry < s.target and 1 <= s.conviction <= 10 for s in parsed.signals)
        # the first target (1 ATR) halfway to the final one (2 ATRs): the management's partial exit runs there
        assert all(s.target_one == pytest.approx((s.entry + s.target) / 2, abs=1e-3) for s in parsed.signals)


@pytest.mark.slow  # a whole session of evaluations
def test_a_minutes_documents_are_the_same_whenever_they_are_computed():
    """No look-ahead: computed at 11:00, or at 20:00 with every later bar in reach, the documents of the minutes
    up to 11:00 are the same bytes (the bars are cut at each minute, not by the data's clock)."""
    then = _source(CAL.at_et(DAY, "11:00"), symbols=6).documents(DAY)
    later = _source(CAL.at_et(DAY, "20:00"), symbols=6).documents(DAY)
    assert then and later[: len(then)] == then and len(later) > len(then)
    assert all(origin[-8:-4] > "1100" for origin, _ in later[len(then) :])


def test_the_daily_trend_is_read_from_the_sessions_before_only():
    """The regime score of a session is the same computed that morning or a week later (the later daily bars
    in reach), and equals the score of the daily closes up to the session before."""
    from autotrader.policy.intraday import Regime, daily_trend

    morning = _source(CAL.at_et(DAY, "09:40")).daily_trend(DAY)
    later = _source(CAL.at_et(DAY + timedelta(days=7), "20:00")).daily_trend(DAY)
    assert np.array_equal(morning.score, later.score, equal_nan=True) and np.isfinite(morning.score).all()
    clock = SimulatedClock(CAL.at_et(DAY, "09:40"))
    data = SyntheticMarketData(clock, CAL, seed=42)
    closes = np.column_stack([
        data.daily_bars(symbol, DAY - timedelta(days=120), DAY - timedelta(days=1))["close"].to_numpy()[-55:]
        for symbol in data.universe[:12]
    ])  # fmt: skip
    assert np.array_equal(daily_trend(closes, Regime()).score, morning.score)


def test_bootstrap_adds_the_source_over_its_universe(tmp_path):
    from autotrader.bootstrap import build_signal_sources
    from autotrader.settings import config_from_text

    text = '[data]\nkind = "synthetic"\n[intraday]\nenabled = ["orb"]\nuniverse = ["AAPL", "MSFT"]\n'
    config = config_from_text(text, tmp_path / "config.toml", workspace=tmp_path)
    clock = SimulatedClock(CAL.at_et(DAY, "10:00"))
    sources = build_signal_sources(config, SyntheticMarketData(clock, CAL, seed=42), CAL, clock)
    (intraday,) = [s for s in sources if isinstance(s, IntradayScanners)]
    assert intraday.bars_before(DAY, CAL.at_et(DAY, "10:00")).symbols == ("AAPL", "MSFT")
    config = config_from_text('[data]\nkind = "synthetic"\n', tmp_path / "config.toml", workspace=tmp_path)
    assert not any(
        isinstance(s, IntradayScanners)
        for s in build_signal_sources(config, SyntheticMarketData(clock, CAL, seed=42), CAL, clock)
    )


@pytest.mark.slow  # a few explains through the whole envelope
def test_explain_shows_each_intraday_setup_as_its_minute_decided_it(cli, write_config):
    """`scan --explain` inside the session: each intraday setup's conditions at the last evaluation minute, the
    same evaluation as that minute's documents (a setup it says fired is in them, one it says did not is not)."""
    import json

    config = str(write_config(""))
    documents = _source(CAL.at_et(DAY, "11:02"), symbols=40).documents(DAY)
    at_11 = [text for origin, text in documents if origin.endswith("-1100.csv")]
    listed = {(line.split(",")[2].removeprefix("builtin:"), line.split(",")[0]) for text in at_11
              for line in text.splitlines()[1:]}  # fmt: skip
    assert listed  # the 11:00 documents name at least one symbol (orb fires on this synthetic day)
    symbols = sorted({symbol for _, symbol in listed})[:2]
    for symbol in symbols:
        result = cli("scan", "--explain", symbol, "--json", "--as-of", f"{DAY}T11:02", "--config", config)
        assert result.exit_code == 0, result.output
        shown = {s["setup"]: s for s in json.loads(result.stdout)["setups"]}
        assert set(SETUPS) <= set(shown)
        for setup in SETUPS:
            assert shown[setup]["fired"] == all(c["held"] for c in shown[setup]["conditions"])
            if (setup, symbol) in listed:
                assert shown[setup]["fired"], (setup, symbol)
    early = cli("scan", "--explain", "AAPL", "--setup", "orb", "--as-of", f"{DAY}T09:00", "--config", config)
    assert early.exit_code == 2 and "no evaluation minute" in early.stderr


def test_a_session_policy_keeps_a_minutes_documents_to_its_setups():
    """At 11:00 orb fires on this synthetic day; a playbook for 10:30–11:30 that allows only ema_cross leaves
    no orb document at 11:00, and one that allows orb keeps its documents as before (and no other's)."""
    from autotrader.settings import SessionPolicy

    def at_11(playbooks) -> list[str]:
        clock = SimulatedClock(CAL.at_et(DAY, "11:02"))
        data = SyntheticMarketData(clock, CAL, seed=42)
        settings = IntradaySection(enabled=list(SETUPS), sessions=playbooks)
        source = IntradayScanners(settings, ("09:35", "15:45"), data, CAL, clock, data.universe[:40])
        return [origin for origin, _ in source.documents(DAY) if origin.endswith("-1100.csv")]

    before = at_11([])
    assert "builtin-orb-2026-03-10-1100.csv" in before
    only_cross = SessionPolicy(name="late-morning", start="10:30", end="11:30", setups=["ema_cross"])
    assert "builtin-orb-2026-03-10-1100.csv" not in at_11([only_cross])
    with_orb = only_cross.model_copy(update={"setups": ["ema_cross", "orb"]})
    assert at_11([with_orb]) == [o for o in before if "-orb-" in o or "-ema_cross-" in o]


class _WithIndex:
    """The synthetic world with an index, I:SPX, whose minute bars are SPY's at ten times the price and, as
    Polygon's index aggregates, without volume: with SPY's volume in its place every setup fires on it exactly
    when it fires on SPY (the indicators scale with the price)."""

    def __init__(self, data: SyntheticMarketData) -> None:
        self._data = data

    def minute_bars(self, symbol, start, end):
        if symbol != "I:SPX":
            return self._data.minute_bars(symbol, start, end)
        frame = self._data.minute_bars("SPY", start, end).copy()
        frame[["open", "high", "low", "close"]] *= 10
        frame["volume"] = float("nan")
        return frame

    def __getattr__(self, name):
        return getattr(self._data, name)


@pytest.mark.slow  # a whole synthetic session of minutes, twice
def test_a_setup_on_an_index_is_traded_on_its_fund_with_the_levels_scaled():
    """The execution map: a signal computed on I:SPX goes out as SPY at SPY's close, its stop and target scaled
    by SPY / I:SPX; here the index is SPY × 10, so the SPY rows equal those SPY itself would publish."""
    import csv

    clock = SimulatedClock(CAL.at_et(DAY, "15:50"))
    data = _WithIndex(SyntheticMarketData(clock, CAL, seed=42))
    mapped = IntradaySection(enabled=list(SETUPS), execution_map={"I:SPX": "SPY"})

    def rows(settings: IntradaySection, universe: tuple[str, ...]) -> dict[str, list[list[str]]]:
        source = IntradayScanners(settings, ("09:35", "15:45"), data, CAL, clock, universe)
        return {origin: list(csv.reader(text.splitlines()[1:])) for origin, text in source.documents(DAY)}

    on_spy = rows(SETTINGS, ("SPY",))
    on_index = rows(mapped, ())
    assert on_spy  # SPY fires some setup on this synthetic day
    assert on_index.keys() == on_spy.keys()
    for origin, spy_rows in on_spy.items():
        for spy, index in zip(spy_rows, on_index[origin], strict=True):
            assert index[0] == "SPY" and index[2] == spy[2]
            for column in (5, 6, 7):  # entry, stop, target
                assert float(index[column]) == pytest.approx(float(spy[column]), rel=1e-9, abs=1e-4)
            assert "computed on I:SPX, traded on SPY" in index[-1]
