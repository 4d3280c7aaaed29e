"""Which portfolio value sizing uses: the pinned setting, a real broker's equity, or the simulator's last close."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from autotrader.domain.models import Account
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline.size import sizing_capital
from autotrader.settings import load_config

PAPER = '[broker]\nkind = "alpaca"\n[data]\nkind = "polygon"\n'
ACCOUNT = Account(equity=100_000.0, cash=80_000.0, buying_power=160_000.0)


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.db")
    yield opened
    opened.close()


def capital(write_config, ledger, text: str) -> tuple[float, str]:
    ctx = SimpleNamespace(settings=load_config(write_config(text)).settings, ledger=ledger)
    return sizing_capital(ctx, ACCOUNT)  # type: ignore[arg-type]


def test_a_real_broker_sizes_from_its_equity_not_the_simulators_default(write_config, ledger):
    assert capital(write_config, ledger, PAPER) == (100_000.0, "broker equity")
    with ledger.write():
        repo.kv_set(ledger, repo.PORTFOLIO_VALUE_KEY, "123456.0", now=datetime.now(UTC))
    assert capital(write_config, ledger, PAPER) == (100_000.0, "broker equity")  # read now, not last night


def test_a_pinned_value_wins_from_the_file_or_the_environment(write_config, ledger, monkeypatch):
    assert capital(write_config, ledger, PAPER + "[account]\nportfolio_value = 50000\n") == (50_000.0, "pinned")
    monkeypatch.setenv("AUTOTRADER_ACCOUNT__PORTFOLIO_VALUE", "75000")
    assert capital(write_config, ledger, PAPER) == (75_000.0, "pinned")
    assert load_config(write_config(PAPER)).settings.sizing_capital == "pinned"


def test_the_simulator_uses_the_last_close_equity_else_the_default(write_config, ledger):
    assert capital(write_config, ledger, "") == (1_000_000.0, "default")
    with ledger.write():
        repo.kv_set(ledger, repo.PORTFOLIO_VALUE_KEY, "1012345.5", now=datetime.now(UTC))
    assert capital(write_config, ledger, "") == (1_012_345.5, "last close equity")
    assert load_config(write_config("")).settings.sizing_capital == "last_close"


def test_config_check_says_which_rule_applies(cli, write_config):
    import json

    paper = json.loads(cli("config", "check", "--json", "--config", str(write_config(PAPER))).stdout)
    assert paper["sizing_capital"] == "broker" and "the broker's equity, read at each run" in " ".join(paper["notes"])


def test_the_streak_counts_only_trades_closed_after_the_owner_ended_a_pause(write_config, ledger):
    from autotrader.clock import ET, MarketCalendar
    from autotrader.pipeline.size import streak_state

    def view(day: int, pnl: float):
        closed = datetime(2026, 3, day, 15, 0, tzinfo=ET)
        return SimpleNamespace(trade=SimpleNamespace(closed_at=closed), managed_pnl=pnl)

    settings = load_config(write_config("[risk]\nmax_consecutive_losses = 3\nstreak_pause_sessions = 0\n")).settings
    ctx = SimpleNamespace(
        settings=settings,
        ledger=ledger,
        deps=SimpleNamespace(calendar=MarketCalendar.xnys()),
        now=datetime(2026, 3, 20, 10, 0, tzinfo=ET),
    )
    closed = [view(2, -10.0), view(3, -5.0), view(4, -1.0)]
    assert streak_state(ctx, closed).losses == 3  # paused, with no end of its own
    with ledger.write():
        repo.set_streak_reset(ledger, datetime(2026, 3, 4, 16, 0, tzinfo=ET))
    assert streak_state(ctx, closed).losses == 0
    assert streak_state(ctx, [*closed, view(5, -2.0)]).losses == 1
