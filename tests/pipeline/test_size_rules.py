"""Settings → sizing rules: one mapping by field name, and VIX bands whose edges say where they belong."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import BaseModel

from autotrader.errors import ConfigError
from autotrader.pipeline.rules import RulesMappingError, rules_from_settings
from autotrader.pipeline.size import sizing_rules
from autotrader.policy.sizing import (
    AssetIn,
    BookState,
    DrawdownBand,
    QuoteIn,
    RiskState,
    Rules,
    SignalIn,
    VixBand,
    decide,
    vix_band,
)
from autotrader.settings import Settings, load_config

ROOT = Path(__file__).resolve().parents[2]

# -------------------------------------------------------------------------------- the mapping, by field name


class _Limits(BaseModel):
    limit: float = 1.0
    names: list[str] = ["A"]
    minutes: float = 2.0


class _Switches(BaseModel):
    enabled: bool = True
    order: list[int] = [3, 1]


@dataclass(frozen=True)
class _Rules:
    limit: float = 0.0
    names: frozenset[str] = frozenset()
    enabled: bool = False
    order: tuple[int, ...] = ()
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)


def test_each_field_takes_the_setting_of_its_name_and_lists_take_the_fields_container():
    rules = rules_from_settings(
        _Rules, (_Limits(limit=7.5, names=["X", "Y"]), _Switches()), {"seconds": 120.0, "extra": {"a": 1}}
    )
    assert rules == _Rules(
        limit=7.5, names=frozenset({"X", "Y"}), enabled=True, order=(3, 1), seconds=120.0, extra={"a": 1}
    )


def test_a_field_no_section_provides_is_an_error_not_a_silent_default():
    with pytest.raises(RulesMappingError, match=r"_Rules\.seconds needs exactly one setting.*none of _Limits"):
        rules_from_settings(_Rules, (_Limits(), _Switches()), {"extra": {}})


def test_a_name_in_two_sections_is_an_error():
    class _Twice(BaseModel):
        limit: float = 2.0

    with pytest.raises(RulesMappingError, match=r"_Rules\.limit .* found in _Limits, _Twice"):
        rules_from_settings(_Rules, (_Limits(), _Twice(), _Switches()), {"seconds": 1.0, "extra": {}})


def test_a_derived_key_that_is_no_field_is_an_error():
    with pytest.raises(RulesMappingError, match="no field secs"):
        rules_from_settings(_Rules, (_Limits(), _Switches()), {"seconds": 1.0, "extra": {}, "secs": 1})


def test_default_settings_give_the_default_sizing_rules():
    assert sizing_rules(Settings()) == Rules()


def test_every_sizing_setting_reaches_its_rule(write_config):
    text = """
[account]
max_total_allocation = 100000.0
[sizing]
use_dynamic_sizing = false
base_allocation_pct = 3.0
max_position_pct = 6.0
risk_per_trade_pct = 0.5
position_size = 4000.0
conviction_multipliers = { "9" = 1.2, "6" = 0.5 }
fractional_shares = true
long_term_entry = "limit"
[risk]
market_regime_enabled = false
max_sector_pct = 20.0
earnings_avoid_enabled = false
earnings_blackout_days = 5
kelly_adaptive_enabled = true
unknown_earnings = "skip"
vix_bands = [{ at_least = 40.0, multiplier = 0.3, pause_long_term = true }, { above = 10.0, multiplier = 0.9 }]
spy_below_sma_multiplier = 0.7
kelly_mode = "normalized"
kelly_reference_fraction = 0.5
kelly_min_trades = 30
kelly_min_multiplier = 0.5
kelly_max_multiplier = 1.5
drawdown_bands = [{ above_pct = 20.0, multiplier = 0.0 }]
daily_profit_target = 9000.0
max_daily_loss = 1000.0
max_consecutive_losses = 3
[size]
max_open_positions = 7
max_new_trades_per_day = 4
min_cash = 500.0
allow_symbols = ["AAPL", "MSFT"]
deny_symbols = ["GME"]
one_position_per_symbol = false
max_price_drift_pct = 1.5
max_spread_bps = 25.0
max_quote_age_minutes = 2.5
"""
    rules = sizing_rules(load_config(write_config(text)).settings)
    assert rules == Rules(
        use_dynamic_sizing=False,
        base_allocation_pct=3.0,
        max_position_pct=6.0,
        risk_per_trade_pct=0.5,
        position_size=4000.0,
        conviction_multipliers={9: 1.2, 6: 0.5},
        fractional_shares=True,
        max_total_allocation=100_000.0,
        market_regime_enabled=False,
        vix_bands=(VixBand(40, 0.3, True, inclusive=True), VixBand(10, 0.9)),
        spy_below_sma_multiplier=0.7,
        kelly_adaptive_enabled=True,
        kelly_mode="normalized",
        kelly_reference_fraction=0.5,
        kelly_min_trades=30,
        kelly_clamp=(0.5, 1.5),
        drawdown_bands=(DrawdownBand(20, 0.0),),
        daily_profit_target=9000.0,
        max_daily_loss=1000.0,
        max_consecutive_losses=3,
        max_sector_pct=20.0,
        earnings_avoid_enabled=False,
        earnings_blackout_days=5,
        unknown_earnings="skip",
        max_open_positions=7,
        max_new_trades_per_day=4,
        min_cash=500.0,
        allow_symbols=frozenset({"AAPL", "MSFT"}),
        deny_symbols=frozenset({"GME"}),
        one_position_per_symbol=False,
        max_price_drift_pct=1.5,
        max_spread_bps=25.0,
        max_quote_age_seconds=150.0,
        long_term_entry="limit",
    )


# ----------------------------------------------------------------------------------------- VIX band edges


def _multiplier_at(vix: float, rules: Rules) -> float:
    """The VIX multiplier a plain swing signal gets (every other overlay neutral)."""
    book = BookState(1_000_000.0, 1_000_000.0, 0.0, {}, {}, 0, 0)
    risk = RiskState(vix, None, None, 0.0, 0.0, 0, {})
    signal = SignalIn(1, "AAPL", "swing", "buy", None, None, None, None)
    decision = decide(signal, QuoteIn(99.99, 100.0, 100.0, 1.0), AssetIn(True, False), None, 30, book, risk, rules)
    return next(s.multiplier for s in decision.trace if s.name == "regime_vix")  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("vix", "multiplier"),
    [(14.99, 1.1), (15.0, 1.0), (20.0, 1.0), (25.0, 1.0), (25.01, 0.6), (30.0, 0.6), (30.01, 0.5)],
)
def test_the_shipped_bands_put_each_edge_where_the_seed_says(vix, multiplier):
    # VIX > 30 → 0.5, 25–30 → 0.6 (30 included), 15–25 → 1.0 (15 and 25 included), < 15 → 1.1.
    rules = sizing_rules(load_config(ROOT / "config.toml").settings)
    assert _multiplier_at(vix, rules) == multiplier


def test_an_at_least_edge_holds_its_own_value_and_an_above_edge_does_not():
    rules = Rules(vix_bands=(VixBand(20, 0.5, inclusive=True), VixBand(10, 0.8)))
    assert vix_band(20.0, rules)[0] == VixBand(20, 0.5, inclusive=True)
    assert vix_band(19.99, rules)[0] == VixBand(10, 0.8)
    assert vix_band(10.0, rules) == (None, None)


def test_a_band_with_above_keeps_its_strict_meaning(write_config):
    config = load_config(write_config("[risk]\nvix_bands = [{ above = 15.0, multiplier = 1.1 }]\n"))
    band = config.settings.risk.vix_bands[0]
    assert (band.edge, band.inclusive) == (15.0, False)
    assert sizing_rules(config.settings).vix_bands == (VixBand(15.0, 1.1),)


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.message


@pytest.mark.parametrize(
    "band",
    ["{ above = 15.0, at_least = 15.0, multiplier = 1.0 }", "{ multiplier = 1.0 }"],
)
def test_a_band_needs_exactly_one_edge(write_config, band):
    message = _error(write_config(f"[risk]\nmarket_regime_enabled = true\nvix_bands = [\n    {band},\n]\n"))
    assert "config.toml:3" in message and "risk.vix_bands.0" in message
    assert "exactly one lower edge" in message and "at_least" in message


def test_bands_are_ordered_by_their_edge_whichever_key_gives_it(write_config):
    text = "[risk]\nvix_bands = [{ at_least = 15.0, multiplier = 1.0 }, { above = 20.0, multiplier = 1.1 }]\n"
    message = _error(write_config(text))
    assert "config.toml:2" in message
    assert "strictly decreasing edge" in message and "band 2 (20) is not below band 1 (15)" in message


def test_an_edge_out_of_range_is_refused(write_config):
    message = _error(write_config("[risk]\nvix_bands = [{ at_least = -1.0, multiplier = 1.0 }]\n"))
    assert "config.toml:2" in message and "risk.vix_bands.0.at_least" in message
