"""Settings: strict, frozen, environment overrides, errors that name the place, secrets never shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autotrader.errors import ConfigError
from autotrader.settings import Settings, SymbolOverride, load_config, locate_line


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.message


def test_defaults_load_and_are_frozen(write_config):
    config = load_config(write_config(""))
    assert config.settings == Settings()
    assert config.settings.account.max_total_allocation == 250_000
    assert config.ledger_path == config.workspace / "ledger-sim.db"
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        config.settings.sizing.max_position_pct = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[sizing]\nmax_position_pct = 7\n", 7.0),
        ("[sizing]\n# a comment\nmax_position_pct = 0.5\n", 0.5),
    ],
)
def test_values_are_read(write_config, text, expected):
    assert load_config(write_config(text)).settings.sizing.max_position_pct == expected


def test_bad_toml_names_line_and_column(write_config):
    message = _error(write_config("[sizing]\nmax_position_pct = 'abc\n"))
    assert "config.toml" in message and "line 2" in message and "column" in message


def test_unknown_key_names_line_and_allowed_keys(write_config):
    message = _error(write_config("[sizing]\nbase_allocation_pct = 2\nmax_positon_pct = 7\n"))
    assert "config.toml:3" in message
    assert "sizing.max_positon_pct" in message
    assert "max_position_pct" in message.split("keys in [sizing]:")[1]


def test_unknown_section(write_config):
    message = _error(write_config("[sizeing]\nx = 1\n"))
    assert "config.toml:1" in message and "unknown section" in message


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("max_position_pct = nan", "sizing.max_position_pct"),
        ("max_position_pct = inf", "sizing.max_position_pct"),
        ("max_position_pct = -inf", "sizing.max_position_pct"),
        ("max_position_pct = -5", "sizing.max_position_pct"),
        ("max_position_pct = 0", "sizing.max_position_pct"),
        ("max_position_pct = 150", "sizing.max_position_pct"),
        ("risk_per_trade_pct = 'one'", "sizing.risk_per_trade_pct"),
    ],
)
def test_non_finite_negative_and_out_of_range_values(write_config, line, field):
    message = _error(write_config(f"[sizing]\n\n{line}\n"))
    assert "config.toml:3" in message
    assert field in message


def test_out_of_range_message_states_the_range(write_config):
    message = _error(write_config("[risk]\nearnings_blackout_days = 90\n"))
    assert "less than or equal to 60" in message


@pytest.mark.parametrize(
    ("section", "tiers", "complaint"),
    [
        ("dipbuy", "dip_buy_tiers = [{dip_pct = 10, add_pct = 50}, {dip_pct = 5, add_pct = 75}]", "dip_pct"),
        ("dipbuy", "dip_buy_tiers = [{dip_pct = 5, add_pct = 50}, {dip_pct = 5, add_pct = 75}]", "dip_pct"),
        (
            "profittake",
            "profit_take_tiers = [{gain_pct = 50, trim_pct = 20}, {gain_pct = 25, trim_pct = 25}]",
            "gain_pct",
        ),
        ("dipbuy", "dip_buy_tiers = []", "at least 1"),
        ("dipbuy", "dip_buy_tiers = [{dip_pct = 5, add_pct = 50, extra = 1}]", "unknown key"),
    ],
)
def test_tiers_must_be_ordered_and_well_formed(write_config, section, tiers, complaint):
    message = _error(write_config(f"[{section}]\n{tiers}\n"))
    assert "config.toml:2" in message
    assert complaint in message


def test_api_keys_are_not_accepted_in_the_file(write_config):
    message = _error(write_config("[broker]\napi_key = 'PKCANARY0123456789'\n"))
    assert "unknown key" in message
    assert "PKCANARY0123456789" not in message


def test_environment_overrides_the_file(write_config, monkeypatch):
    monkeypatch.setenv("AUTOTRADER_SIZING__MAX_POSITION_PCT", "4")
    assert load_config(write_config("[sizing]\nmax_position_pct = 7\n")).settings.sizing.max_position_pct == 4


def test_bad_environment_value_names_the_variable(write_config, monkeypatch):
    monkeypatch.setenv("AUTOTRADER_SIZING__MAX_POSITION_PCT", "nan")
    message = _error(write_config(""))
    assert "AUTOTRADER_SIZING__MAX_POSITION_PCT" in message


@pytest.mark.parametrize(
    "name", ["AUTOTRADER_SIZNG__MAX_POSITION_PCT", "AUTOTRADER_SIZING__MAX_POSITON_PCT", "AUTOTRADER_SIZING"]
)
def test_unknown_environment_override_is_refused(write_config, monkeypatch, name):
    monkeypatch.setenv(name, "4")
    assert name in _error(write_config(""))


def test_base_url_must_be_loopback(write_config):
    assert "loopback" in _error(write_config("[broker]\nbase_url = 'https://paper-api.alpaca.markets'\n"))
    config = load_config(write_config("[broker]\nbase_url = 'http://127.0.0.1:9999/'\n"))
    assert config.settings.broker.base_url == "http://127.0.0.1:9999"


def test_live_needs_alpaca(write_config):
    assert "kind = 'alpaca'" in _error(write_config("[broker]\nkind = 'sim'\nmode = 'live'\n"))


def test_secrets_come_from_dotenv_and_are_redacted(write_config, monkeypatch):
    path = write_config("")
    (path.parent / ".env").write_text("ALPACA_API_KEY=PKCANARY0123456789\nALPACA_SECRET_KEY=SECRETCANARY0123456789\n")
    config = load_config(path)
    assert config.secrets.present() == ["alpaca_api_key", "alpaca_secret_key"]
    assert "PKCANARY" not in repr(config.secrets)
    from autotrader.settings import redacted_dump

    dumped = json.dumps(redacted_dump(config))
    assert "CANARY" not in dumped and "**********" in dumped


def test_locate_line_follows_tables_and_dotted_keys():
    text = "[a]\nx = 1\n\n[b]\ny = 2\nz.w = 3\n[[c.d]]\nq = 1\n"
    assert locate_line(text, ("a", "x")) == 2
    assert locate_line(text, ("b", "y")) == 5
    assert locate_line(text, ("b", "z", "w")) == 6
    assert locate_line(text, ("b", "nope")) == 4
    assert locate_line(text, ("c", "d", "0", "q")) == 7  # an array-of-tables element: its header


def test_repository_config_equals_the_embedded_defaults():
    root = Path(__file__).resolve().parents[1]
    shipped = (root / "config.toml").read_text()
    assert shipped == (root / "autotrader" / "defaults" / "config.toml").read_text()
    assert load_config(root / "config.toml").settings == Settings()


def test_repository_config_lists_every_setting():
    root = Path(__file__).resolve().parents[1]
    import tomllib

    document = tomllib.loads((root / "config.toml").read_text())
    for section, field in Settings.model_fields.items():
        assert section in document, section
        if section == "symbols":  # [symbols.<TICKER>] tables: none by default, a commented example of each key
            for key in SymbolOverride.model_fields:
                assert f"# {key} = " in (root / "config.toml").read_text(), key
            continue
        for key, setting in field.annotation.model_fields.items():  # type: ignore[union-attr]
            if setting.default is None:  # optional settings (unset by default), shown commented out
                assert f"# {key} = " in (root / "config.toml").read_text()
                continue
            assert key in document[section], f"[{section}] {key} missing from config.toml"


@pytest.mark.parametrize("value", ["-1", "nan", "20000", "'an hour'"])
def test_late_tolerance_is_validated(write_config, value):
    message = _error(write_config(f"[scorecard]\nlate_tolerance_minutes = {value}\n"))
    assert "config.toml:2" in message and "scorecard.late_tolerance_minutes" in message


def test_late_tolerance_reads_from_the_file(write_config):
    settings = load_config(write_config("[scorecard]\nlate_tolerance_minutes = 15\n")).settings
    assert settings.scorecard.late_tolerance_minutes == 15
    assert Settings().scorecard.late_tolerance_minutes == 60


WRONG_TYPES = [
    ('[sizing]\nuse_dynamic_sizing = "off"\n', 2, "sizing.use_dynamic_sizing",
     "true or false (unquoted), not the text 'off'"),
    ("[sizing]\nfractional_shares = 1\n", 2, "sizing.fractional_shares", "true or false (unquoted), not int 1"),
    ('[size]\n# a gate\nmax_open_positions = "20"\n', 3, "size.max_open_positions",
     "a whole number (unquoted), not the text '20'"),
    ("[data]\nseed = 4.0\n", 2, "data.seed", "a whole number (unquoted), not float 4.0"),
    ('[data]\nsymbols = "AAPL"\n', 2, "data.symbols", "a list [ ... ], not the text 'AAPL'"),
    ('[dipbuy]\ndip_buy_tiers = [{dip_pct = "5", add_pct = 50}]\n', 2, "dipbuy.dip_buy_tiers.0.dip_pct", "a number"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "field", "words"), WRONG_TYPES)
def test_a_value_of_the_wrong_toml_type_is_refused_not_converted(write_config, text, line, field, words):
    message = _error(write_config(text))
    assert f"config.toml:{line}: {field}: must be {words}" in message


def test_whole_numbers_are_numbers_and_environment_text_is_still_converted(write_config, monkeypatch):
    settings = load_config(write_config("[sizing]\nbase_allocation_pct = 3\n")).settings
    assert settings.sizing.base_allocation_pct == 3.0
    monkeypatch.setenv("AUTOTRADER_SIZE__MAX_OPEN_POSITIONS", "12")
    monkeypatch.setenv("AUTOTRADER_SIZING__USE_DYNAMIC_SIZING", "false")
    settings = load_config(write_config("")).settings
    assert settings.size.max_open_positions == 12 and settings.sizing.use_dynamic_sizing is False


def test_a_real_broker_with_synthetic_data_names_both_settings(write_config):
    message = _error(write_config('[broker]\nkind = "alpaca"\n'))
    assert "broker.kind = 'alpaca' (" in message and "config.toml:2)" in message
    assert (
        "data.kind = 'synthetic' (the default)" in message and "signals.synthetic_feed = true (the default)" in message
    )
    message = _error(write_config('[broker]\nkind = "alpaca"\n\n[data]\nkind = "synthetic"\n'))
    assert "data.kind = 'synthetic' (" in message and "config.toml:5)" in message


def test_a_real_broker_with_the_synthetic_feed_asked_for_is_refused(write_config, monkeypatch):
    message = _error(
        write_config('[broker]\nkind = "alpaca"\n[data]\nkind = "polygon"\n[signals]\nsynthetic_feed = true\n')
    )
    assert "signals.synthetic_feed = true (" in message and "config.toml:6)" in message and "data.kind" not in message
    monkeypatch.setenv("AUTOTRADER_SIGNALS__SYNTHETIC_FEED", "true")
    message = _error(write_config('[broker]\nkind = "alpaca"\n[data]\nkind = "polygon"\n'))
    assert "environment variable AUTOTRADER_SIGNALS__SYNTHETIC_FEED" in message


def test_a_real_broker_with_real_data_and_the_simulator_with_anything_load(write_config):
    real = load_config(write_config('[broker]\nkind = "alpaca"\n[data]\nkind = "polygon"\n')).settings
    assert real.broker.kind == "alpaca" and real.signals.synthetic_feed  # inert: the feed needs synthetic data
    quiet = '[broker]\nkind = "alpaca"\n[data]\nkind = "local"\n[signals]\nsynthetic_feed = false\n'
    assert load_config(write_config(quiet)).settings.data.kind == "local"
    assert load_config(write_config("[signals]\nsynthetic_feed = true\n")).settings.broker.kind == "sim"


# -- --set SECTION.KEY=VALUE (replay's what-if) ---------------------------------------------------------------


def test_overrides_are_read_as_toml_and_applied_to_a_copy_of_the_document():
    from autotrader.settings import apply_overrides, parse_override, shown_overrides

    document = {"exits": {"loss_cut_pct": {"long_term": 20.0, "swing": 7.0, "day_trade": 2.0}}}
    applied = apply_overrides(
        document,
        ["dipbuy.dip_buy_enabled=false", "exits.loss_cut_pct.swing=5", "report.dir=daily", 'logs.dir="x y"',
         "scorecard.horizons=[1, 5]", 'symbols."BRK.B".max_position_pct = 3'],
    )  # fmt: skip
    assert applied["exits"]["loss_cut_pct"] == {"long_term": 20.0, "swing": 5, "day_trade": 2.0}
    assert document["exits"]["loss_cut_pct"]["swing"] == 7.0  # the parsed file itself is left as it was
    assert applied["dipbuy"] == {"dip_buy_enabled": False} and applied["report"]["dir"] == "daily"  # a bare word
    assert applied["logs"]["dir"] == "x y" and applied["scorecard"]["horizons"] == [1, 5]
    assert applied["symbols"]["BRK.B"] == {"max_position_pct": 3}
    # A table value names some keys of a table setting: the others keep the file's values, else the defaults.
    merged = apply_overrides(document, ["exits.loss_cut_pct={ long_term = 25.0 }"])["exits"]["loss_cut_pct"]
    assert merged == {"long_term": 25.0, "swing": 7.0, "day_trade": 2.0}
    default = Settings().exits.loss_cut_pct
    assert apply_overrides({}, ["exits.loss_cut_pct.swing=5"])["exits"]["loss_cut_pct"] == {
        "long_term": default.long_term, "swing": 5, "day_trade": default.day_trade}  # fmt: skip
    secret = parse_override('monitor.ping_url="https://hc-ping.com/CANARY-KEY"')
    assert shown_overrides([secret]) == {"monitor.ping_url": "**********"}
    refused = [("dipbuy", "SECTION.KEY=VALUE"), ("dipbuy=5", "keys in [dipbuy]"), ("a b.c=1", "dotted key"),
               ("exits.loss_cut_pct.swing=inf", "finite"), ("exits.loss_cut_pct.swing.x=1", "not a table")]  # fmt: skip
    for bad, words in refused:
        with pytest.raises(ConfigError, match=re.escape(words)):
            apply_overrides(document, [bad])


def test_an_override_is_validated_like_the_file_wins_over_the_environment_and_is_named(write_config, monkeypatch):
    path = write_config("[dipbuy]\ndip_buy_enabled = true\n")
    monkeypatch.setenv("AUTOTRADER_DIPBUY__DIP_BUY_ENABLED", "true")
    config = load_config(path, overrides=["dipbuy.dip_buy_enabled=false", "exits.loss_cut_pct.swing=5"])
    assert config.settings.dipbuy.dip_buy_enabled is False and config.settings.exits.loss_cut_pct.swing == 5
    assert config.settings.exits.loss_cut_pct.long_term == Settings().exits.loss_cut_pct.long_term
    assert [o.key for o in config.overrides] == ["dipbuy.dip_buy_enabled", "exits.loss_cut_pct.swing"]
    for override, words in [
        ("dipbuy.dip_buy_enabld=false", "--set dipbuy.dip_buy_enabld: unknown key (keys in [dipbuy]: dip_buy_enabled"),
        ("dipbuyy.x=1", "--set dipbuyy.x: dipbuyy: unknown section (sections: account"),
        ("exits.loss_cut_pct.swing=-5", "--set exits.loss_cut_pct.swing: Input should be greater than 0"),
        ("dipbuy.dip_buy_enabled=off", "--set dipbuy.dip_buy_enabled: must be true or false (unquoted), not the text"),
    ]:
        with pytest.raises(ConfigError) as info:
            load_config(path, overrides=[override])
        assert words in info.value.message and str(path) not in info.value.message


def test_a_name_is_the_wheels_or_gammas_not_both(write_config):
    message = _error(write_config('[wheel]\nunderlyings = ["AAPL", "KO"]\n[gamma]\nunderlyings = ["KO", "SPY"]\n'))
    assert "share KO" in message and "gamma.underlyings" in message and "wheel.underlyings" in message
    assert load_config(write_config('[wheel]\nunderlyings = ["AAPL"]\n[gamma]\nunderlyings = ["SPY"]\n'))
