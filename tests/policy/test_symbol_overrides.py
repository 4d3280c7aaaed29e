"""``[symbols.<TICKER>]`` overrides: each key changes exactly its value, a signal's own levels win, the caps
still cut a fixed quantity, and ``config show --symbol`` names where each value comes from."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from autotrader.cli.commands.config import symbol_values
from autotrader.errors import ConfigError
from autotrader.pipeline.size import sizing_rules
from autotrader.policy import management as mg
from autotrader.policy.sizing import Rules
from autotrader.settings import Settings, load_config
from tests.policy.test_sizing import make_book, run, sig, step

NVDA = "[symbols.NVDA]\nqty = 10\nstop_pct = 6\ntarget_pct = 15\ntrail_pct = 3\ntrail_activation_pct = 5\n"


@pytest.mark.parametrize(("key", "value"), [("qty", 7), ("stop_pct", 6.0), ("target_pct", 15.0)])
def test_each_key_reaches_only_its_sizing_rule(key, value):
    rules = sizing_rules(Settings(symbols={"NVDA": {key: value}}))  # type: ignore[dict-item]
    assert rules == replace(sizing_rules(Settings()), **{f"symbol_{key}": {"NVDA": value}})


def test_qty_replaces_the_computed_size_and_says_so():
    plain = run(sig("swing", symbol="NVDA"))
    fixed = run(sig("swing", symbol="NVDA"), rules=Rules(symbol_qty={"NVDA": 10}))
    assert plain.qty == 200 and fixed.qty == 10 and fixed.outcome == "ordered"
    assert "per-symbol quantity" in step(fixed, "base").effect
    assert run(sig("swing", symbol="AAPL"), rules=Rules(symbol_qty={"NVDA": 10})).qty == plain.qty  # its symbol only


def test_the_caps_still_cut_an_overridden_qty_and_never_raise_it():
    rules = Rules(symbol_qty={"NVDA": 1000})  # $100,000 > 5% of $1M
    cut = run(sig("swing", symbol="NVDA"), rules=rules)
    assert cut.outcome == "reduced" and cut.qty == 500
    cash = run(sig("swing", symbol="NVDA"), rules=rules, book=make_book(cash=13_000.0))
    assert cash.qty == 30  # $13,000 - $10,000 reserve at $100
    assert run(sig("swing", symbol="NVDA"), rules=rules, book=make_book(open_positions=20)).outcome == "skipped"


def test_stop_and_target_pct_fill_a_bracket_from_the_entry():
    rules = Rules(symbol_stop_pct={"NVDA": 6}, symbol_target_pct={"NVDA": 15})
    d = run(sig("swing", symbol="NVDA", entry=100.0), rules=rules)
    assert d.order_class == "bracket" and d.stop_loss == 94.0 and d.take_profit == 115.0
    assert step(d, "base").inputs["stop"] == pytest.approx(94.0)  # the risk to the stop sizes it
    only_stop = run(sig("swing", symbol="NVDA", entry=100.0), rules=Rules(symbol_stop_pct={"NVDA": 6}))
    assert only_stop.order_class == "simple" and only_stop.take_profit is None


def test_a_signals_own_stop_wins_over_stop_pct():
    own = sig("swing", symbol="NVDA", entry=100.0, stop=97.0, target=110.0)
    d = run(own, rules=Rules(symbol_stop_pct={"NVDA": 6}))
    assert d.stop_loss == 97.0 and d.take_profit == 110.0
    assert "the signal's own stop 97.00 wins" in step(d, "per_symbol_levels").effect


def test_the_plan_takes_stop_and_target_pct_and_the_signal_still_wins():
    rules = mg.Rules(symbol_stop_pct={"NVDA": 6}, symbol_target_pct={"NVDA": 15})
    plan = mg.initial_plan("swing", 100.0, 2.0, None, None, rules, symbol="NVDA")
    assert (plan.stop_price, plan.target_price, plan.target_one_price) == (94.0, 115.0, None)  # no partial
    assert mg.initial_plan("swing", 100.0, 2.0, 99.0, None, rules, symbol="NVDA").stop_price == 99.0
    assert mg.initial_plan("swing", 100.0, 2.0, None, None, rules, symbol="AAPL") == mg.initial_plan(
        "swing", 100.0, 2.0, None, None, mg.Rules(), symbol="AAPL"
    )


def _position(symbol: str) -> mg.Position:
    at = datetime(2026, 3, 2, 15, tzinfo=UTC)
    return mg.Position("k", "signals", symbol, "swing", 10, 100.0, 10, 100.0, at, 1, mg.Plan(high_water=100.0))


def test_trail_pct_and_activation_replace_the_exits_values_for_the_symbol():
    rules = mg.Rules(symbol_trail_pct={"NVDA": 3}, symbol_trail_activation_pct={"NVDA": 5})
    own = mg.advance_plan(_position("NVDA"), 105.0, rules)  # 5% up: active at its own 5%, the default needs 6%
    assert own.trail_active and own.stop_price == 101.85
    assert not mg.advance_plan(_position("AAPL"), 105.0, rules).trail_active
    only_pct = mg.advance_plan(_position("NVDA"), 106.0, mg.Rules(symbol_trail_pct={"NVDA": 3}))
    assert only_pct.stop_price == 102.82  # 106 × 0.97, activation still the default 6%


def test_the_table_is_strict_and_config_show_symbol_names_the_sources(write_config, cli):
    path = write_config(NVDA + "\n[symbols.AAPL]\nstop_pct = 2\n")
    settings = load_config(path).settings
    rows = {r["key"]: (r["value"], r["source"]) for r in symbol_values(settings, "AAPL")}
    assert rows["stop_pct"] == (2.0, "[symbols.AAPL]")
    assert rows["trail_pct"] == (4.0, "[exits] trail_pct") and rows["qty"][0] is None
    shown = json.loads(cli("config", "show", "--symbol", "nvda", "--json", "--config", str(path)).stdout)
    assert shown["symbol"] == "NVDA"
    assert {r["key"]: r["source"] for r in shown["symbol_values"]} == dict.fromkeys(
        ("qty", "stop_pct", "target_pct", "trail_pct", "trail_activation_pct"), "[symbols.NVDA]"
    )
    for text, where, says in [
        ("[symbols.NVDA]\nqtty = 1\n", ":2", "unknown key"),
        ("[symbols.nvda]\nqty = 1\n", ":1", "not a ticker"),
        ('[symbols.NVDA]\nqty = "10"\n', ":2", "a whole number"),
    ]:
        with pytest.raises(ConfigError) as e:
            load_config(write_config(text, folder="bad"))
        assert f"config.toml{where}" in str(e.value) and says in str(e.value)
