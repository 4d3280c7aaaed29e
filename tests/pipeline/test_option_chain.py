"""The 30-day IV from a chain's expiries, its recording after each close, and its rank and percentile among the
recorded sessions; the `options chain` command."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from autotrader.adapters.synthetic_data import SyntheticMarketData
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.domain.enums import OptionRight
from autotrader.domain.options import OptionContract, OptionQuote
from autotrader.eventlog import EventLog
from autotrader.ledger import options as store
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import option_chain
from autotrader.pipeline.context import StepContext
from autotrader.policy import option_chain as policy
from autotrader.settings import OptionsSection, default_config
from tests.factories import make_deps

CAL = MarketCalendar.xnys()
NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


def term(days: float, iv: float) -> policy.ExpiryIv:
    return policy.ExpiryIv(date(2026, 1, 1), days / 365, iv, 100.0)


def test_the_30_day_iv_interpolates_total_variance_between_the_expiries_around_it():
    # 20 days at 30 %, 40 days at 20 %: variance 0.09 x 20/365 and 0.04 x 40/365; halfway in time at 30 days.
    expected = math.sqrt((0.09 * 20 + 0.04 * 40) / 2 / 30)
    assert policy.iv30([term(10, 0.5), term(20, 0.30), term(40, 0.20), term(90, 0.1)]) == pytest.approx(expected)
    assert policy.iv30([term(30, 0.25), term(60, 0.1)]) == pytest.approx(0.25)  # an expiry at 30 days exactly
    assert policy.iv30([term(45, 0.22)]) == 0.22 and policy.iv30([]) is None
    # Every expiry before 30 days (or after): the nearest two, extrapolated.
    assert policy.iv30([term(10, 0.2), term(20, 0.2)]) == pytest.approx(0.2)
    assert policy.iv30([term(40, 0.2), term(50, 0.2)]) == pytest.approx(0.2)


def _quote(expiry: date, strike: float, right: OptionRight, iv: float, spot: float = 101.0) -> OptionQuote:
    return OptionQuote(OptionContract("XYZ", expiry, right, strike), 1.0, 1.1, NOW, iv=iv, underlying_price=spot)


def test_each_expiry_s_atm_iv_is_the_mean_of_the_call_and_put_nearest_the_money():
    expiry = date(2026, 4, 17)
    quotes = [_quote(expiry, 100.0, OptionRight.CALL, 0.20), _quote(expiry, 100.0, OptionRight.PUT, 0.24),
              _quote(expiry, 105.0, OptionRight.CALL, 0.10), _quote(expiry, 95.0, OptionRight.PUT, 0.40)]  # fmt: skip
    (found,) = policy.atm_ivs(quotes, {expiry: CAL.session_close(expiry)}, NOW)
    assert (found.atm_strike, found.atm_iv) == (100.0, pytest.approx(0.22))
    near = policy.near_the_money(quotes, 101.0, 1)
    assert [(q.contract.strike, str(q.contract.right)) for q in near] == [(100.0, "call"), (100.0, "put"),
                                                                          (105.0, "call")]  # fmt: skip


def test_iv_rank_and_percentile():
    history = [0.20, 0.25, 0.30, 0.40, float("nan"), 0.60]
    assert policy.iv_rank(history, 0.40) == pytest.approx(0.5)  # (0.40 - 0.20) / (0.60 - 0.20)
    assert policy.iv_rank(history, 0.90) == 1.0 and policy.iv_rank(history, 0.10) == 0.0
    assert policy.iv_percentile(history, 0.40) == pytest.approx(3 / 5)  # 0.20, 0.25, 0.30 are below
    assert policy.iv_rank([0.3, 0.3], 0.3) is None and policy.iv_rank([0.3], 0.3) is None
    assert policy.iv_percentile([], 0.3) is None

@pytest.fixture
def step(tmp_path, migrated_ledger):
    """run_iv over the synthetic world, its clock settable, recording SPY and KO."""
    clock = SimulatedClock(NOW)
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    market = SyntheticMarketData(clock, CAL)
    config = default_config(tmp_path)
    options = OptionsSection(iv_underlyings=["SPY", "KO"], iv_min_history=10)
    config = replace(config, settings=config.settings.model_copy(update={"options": options}))
    log = EventLog(None, run_id="r", command="run-daily", mode="sim")

    def at(when: datetime, *, dry_run: bool = False) -> StepContext:
        clock.set(when)
        return StepContext("run-daily", config, make_deps(clock, market_data=market), ledger, dry_run, "r", log)

    return at, ledger


@pytest.mark.slow
def test_the_30_day_iv_is_recorded_once_per_session_after_the_close(step):
    at, ledger = step
    sessions = CAL.sessions_between(date(2026, 2, 20), date(2026, 3, 9))
    assert len(sessions) == 12
    for day in sessions:
        ctx = at(CAL.session_close(day) + timedelta(minutes=20))
        report = option_chain.run_iv(ctx)
        assert any("SPY: 30-day IV" in note and "recorded for" in note for note in report.notes)
    again = option_chain.run_iv(at(CAL.session_close(sessions[-1]) + timedelta(minutes=40)))
    assert all("already recorded" in n for n in again.notes if "30-day IV" in n)
    # Before a close nothing is recorded, and a dry run records nothing.
    before = option_chain.run_iv(at(CAL.session_open(date(2026, 3, 10)) + timedelta(hours=1)))
    assert "after a close" in before.notes[-1]
    option_chain.run_iv(at(CAL.session_close(date(2026, 3, 10)) + timedelta(minutes=20), dry_run=True))
    history = store.iv_history(ledger, "SPY", before="2026-12-31", sessions=1000)
    assert [row.session_date for row in history] == [d.isoformat() for d in sessions]
    # Each recorded value is the 30-day IV the chain gave after that close.
    ctx = at(CAL.session_close(sessions[3]) + timedelta(minutes=20))
    assert history[3].iv30 == pytest.approx(option_chain.current_iv30(ctx, "SPY"))

    # The rank and percentile of today's IV among the sessions recorded before today, computed independently.
    ctx = at(CAL.session_open(date(2026, 3, 10)) + timedelta(hours=2))
    current = option_chain.current_iv30(ctx, "KO")
    standing = option_chain.iv_standing(ctx, "KO", current)
    values = np.array([row.iv30 for row in store.iv_history(ledger, "KO", before="2026-03-10", sessions=1000)])
    assert standing.sessions == 12
    assert standing.rank == pytest.approx(min(max((current - values.min()) / np.ptp(values), 0), 1))
    assert standing.percentile == pytest.approx((values < current).sum() / 12)
    # With fewer recorded sessions than iv_min_history there is no standing.
    short = option_chain.iv_standing(at(CAL.session_open(sessions[9]) + timedelta(hours=2)), "KO", current)
    assert (short.rank, short.percentile, short.sessions) == (None, None, 9)


def test_options_chain_prints_the_chain_near_the_money(cli, write_config, monkeypatch):
    path = write_config()
    monkeypatch.chdir(path.parent)
    result = cli("options", "chain", "spy", "--as-of", "2026-03-10T11:00", "--dte", "20-40", "--strikes", "2",
                 "--right", "put", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["underlying"] == "SPY" and out["iv_sessions"] == 0 and out["iv_rank"] is None
    assert 0.05 < out["iv30"] < 0.5
    assert [e["dte"] for e in out["expiries"]] == [23, 31, 38]
    assert len(out["contracts"]) == 3 * 4 and {c["right"] for c in out["contracts"]} == {"put"}
    strikes = sorted({c["strike"] for c in out["contracts"]})
    assert strikes[1] <= out["underlying_price"] < strikes[2]  # two below the price, two above
    person = cli("options", "chain", "SPY", "--as-of", "2026-03-10T11:00", "--dte", "20-25", "--strikes", "1")
    assert person.exit_code == 0 and "2026-04-02: 23 days" in person.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SPY", "--dte", "40-20"], "need 0 <= MIN <= MAX"),
        (["SPY", "--dte", "soon"], "MIN-MAX days to expiry"),
        (["SPY", "--strikes", "0"], "between 1 and 200"),
        (["SPY", "--right", "calls"], "allowed: call, put, both"),
        (["ZZZZ"], "ZZZZ: the data source does not know this symbol"),
    ],
)
def test_bad_options_exit_2_with_what_is_allowed(cli, write_config, monkeypatch, args, message):
    path = write_config()
    monkeypatch.chdir(path.parent)
    result = cli("options", "chain", *args, "--as-of", "2026-03-10T11:00")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_data_without_option_chains_is_a_configuration_error(cli, write_config, monkeypatch, tmp_path):
    (tmp_path / "bars").mkdir()
    path = write_config('[data]\nkind = "local"\npath = "../bars"\n')
    monkeypatch.chdir(path.parent)
    result = cli("options", "chain", "SPY", "--as-of", "2026-03-10T11:00")
    assert result.exit_code == 2 and "serves no option chains" in result.output


class _Recording:
    """An option chains source that notes each window it is asked for."""

    def __init__(self, inner):
        self.inner, self.windows = inner, []

    def option_chain(self, underlying, first_expiry, last_expiry):
        self.windows.append((first_expiry, last_expiry))
        return self.inner.option_chain(underlying, first_expiry, last_expiry)

    def option_quotes(self, contracts):
        return self.inner.option_quotes(contracts)


@pytest.mark.parametrize(("dte_min", "dte_max", "queries"), [(21, 60, 1), (30, 45, 1), (0, 3, 1), (200, 330, 2)])
def test_an_expiry_s_chain_asks_for_the_week_around_the_middle_and_gives_what_the_whole_window_gives(
    tmp_path, migrated_ledger, dte_min, dte_max, queries
):
    # 200..330 days out only monthlies are listed: the week around the middle holds none, the whole window is read.
    from autotrader.adapters.synthetic_options import SyntheticOptionChains
    from autotrader.pipeline.option_orders import expiry_chain
    from autotrader.policy.verticals import choose_expiry

    clock = SimulatedClock(datetime(2026, 3, 10, 15, 30, tzinfo=UTC))
    market = SyntheticMarketData(clock, CAL)
    source = _Recording(SyntheticOptionChains(market, CAL))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger.db"))
    deps = make_deps(clock, market_data=market, option_chains=source)
    ctx = StepContext("run-daily", default_config(tmp_path), deps, ledger, False, "r",
                      EventLog(None, run_id="r", command="run-daily", mode="sim"))  # fmt: skip
    mine, spot = expiry_chain(ctx, "AAPL", dte_min, dte_max)
    ledger.close()
    today = date(2026, 3, 10)
    whole = source.inner.option_chain("AAPL", today + timedelta(days=dte_min), today + timedelta(days=dte_max))
    chosen = choose_expiry({q.contract.expiry: (q.contract.expiry - today).days for q in whole}, dte_min, dte_max)
    assert chosen is not None
    assert mine == [q for q in whole if q.contract.expiry == chosen]
    assert spot == mine[0].underlying_price
    assert len(source.windows) == queries
    first, last = source.windows[0]
    assert (last - first).days <= 7 and today + timedelta(days=dte_min) <= first
