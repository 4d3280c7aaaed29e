"""The management rules come from the settings by field name: nothing copied by hand can drift."""

from __future__ import annotations

from autotrader.pipeline.positions import management_rules
from autotrader.policy import management as mg
from autotrader.settings import load_config


def _rules(write_config, text: str = "") -> mg.Rules:
    config = load_config(write_config(text))
    return management_rules(config.settings)


def test_the_default_settings_give_the_policys_defaults(write_config):
    assert _rules(write_config) == mg.Rules()


def test_every_setting_reaches_its_rule(write_config):
    rules = _rules(
        write_config,
        "[dipbuy]\ndip_buy_cooldown_hours = 48\ndip_buy_reference = 'first_entry'\n"
        "[profittake]\nmin_hold_pct = 40\n"
        "[exits]\ntrail_pct = 5.5\natr_categories = ['swing']\n"
        "loss_cut_pct = { long_term = 20, swing = 7, day_trade = 2 }\n"
        "[sizing]\nmax_position_pct = 4\nfractional_shares = true\n"
        "[size]\nmin_cash = 5000\n",
    )
    assert (rules.dip_buy_cooldown_hours, rules.dip_buy_reference, rules.min_hold_pct) == (48, "first_entry", 40)
    assert (rules.trail_pct, rules.atr_categories) == (5.5, frozenset({"swing"}))
    assert rules.loss_cut_pct == {"long_term": 20, "swing": 7, "day_trade": 2}
    assert (rules.max_position_pct, rules.fractional_shares, rules.min_cash) == (4, True, 5000)
