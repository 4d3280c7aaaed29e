"""`compare`: variants read from the command line or a file and checked before anything runs; each replayed
into its own folder; a variant that can only lose money comes out a cost; the same results whether the
replays run in one process, a local pool or a Dask cluster."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from autotrader.errors import InputError
from autotrader.pipeline import compare


def test_a_variant_is_a_name_and_its_settings():
    v = compare.parse_variant("tight: exits.loss_cut_pct.swing=5; dipbuy.dip_buy_enabled=false")
    assert v.name == "tight" and v.settings == {"exits.loss_cut_pct.swing": 5, "dipbuy.dip_buy_enabled": False}
    assert compare.parse_variant("base").overrides == ()
    with pytest.raises(InputError, match="not a variant name"):
        compare.parse_variant("Bad Name: dipbuy.dip_buy_enabled=false")
    with pytest.raises(InputError, match="--variant tight: --set"):
        compare.parse_variant("tight: exits.loss_cut_pct.swing")


def test_variants_from_a_file_in_its_order(tmp_path):
    path = tmp_path / "variants.toml"
    path.write_text('[base]\n[no-dipbuy]\ndipbuy.dip_buy_enabled = false\n[tight]\nexits.loss_cut_pct.swing = 5.0\n')
    found = compare.variants_from_file(path)
    assert [v.name for v in found] == ["base", "no-dipbuy", "tight"]
    assert found[2].settings == {"exits.loss_cut_pct.swing": 5.0}
    path.write_text("[base\n")
    with pytest.raises(InputError, match="not TOML"):
        compare.variants_from_file(path)


def test_bad_variants_are_refused_before_anything_runs(cli, write_config, tmp_path):
    config = str(write_config(""))
    one = cli("compare", "--start", "2026-02-02", "--end", "2026-02-13", "--variant", "base", "--config", config)
    assert one.exit_code == 2 and "at least two variants" in one.stderr
    bad = cli("compare", "--start", "2026-02-02", "--end", "2026-02-13", "--variant", "base", "--variant",
              "odd: exits.loss_cut_pct.swing=-1", "--config", config)  # fmt: skip
    assert bad.exit_code == 2 and "--variant odd" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "compare").exists()


@pytest.mark.slow  # two ten-session replays
def test_a_variant_that_can_only_lose_money_is_a_cost(cli, write_config):
    """400 bps of slippage on every fill: the same signals, each traded worse. The comparison is paired, so
    the loss is significant over ten sessions, at the level corrected for both intervals (signals, account)."""
    config = str(write_config(""))
    result = cli("compare", "--start", "2026-02-02", "--end", "2026-02-13", "--variant", "base", "--variant",
                 "costly: broker.slippage_bps=400", "--json", "--as-of", "2026-03-01T12:00",
                 "--config", config)  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    base, costly = payload["variants"]
    assert costly["settings"] == {"broker.slippage_bps": 400} and costly["final_equity"] < base["final_equity"]
    (difference,) = payload["differences"]
    assert difference["verdict"] == "cost" and difference["hi"] < 0 and difference["total"] < 0
    assert difference["total"] == pytest.approx(costly["managed_pnl"] - base["managed_pnl"], abs=0.05)
    assert payload["level"] == pytest.approx(0.975)  # two intervals against one base
    (account,) = payload["accounts"]  # the whole account ends lower by what the final equities say
    assert account["total"] == pytest.approx(costly["final_equity"] - base["final_equity"], abs=0.05)
    assert account["total"] < 0 and account["verdict"] in ("cost", "no evidence")


@pytest.mark.slow  # the same two one-session replays in three execution modes
def test_serial_a_process_pool_and_a_dask_cluster_give_the_same_results(tmp_path):
    from distributed import LocalCluster

    from autotrader.pipeline.demo import create_workspace

    create_workspace(tmp_path / "ws")
    config = str(tmp_path / "ws" / "config.toml")
    variants = [compare.Variant("base"), compare.parse_variant("costly: broker.slippage_bps=200")]

    def tasks(mode: str) -> list[compare.VariantTask]:
        return [compare.VariantTask(v, config, date(2026, 2, 2), date(2026, 2, 2), "2026-03-01T12:00",
                                    str(tmp_path / mode / v.name)) for v in variants]  # fmt: skip

    def comparable(results: list[compare.VariantResult]) -> list[compare.VariantResult]:
        return [replace(r, seconds=0.0) for r in results]

    serial = comparable(compare.serial(tasks("serial")))
    assert all(r.exit_code == 0 for r in serial) and serial[0].orders > 0
    assert comparable(compare.process_pool(2)(tasks("pool"))) == serial
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        assert comparable(compare.dask_cluster(cluster.scheduler_address)(tasks("dask"))) == serial
