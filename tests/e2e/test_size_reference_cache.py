"""`size` on local bars with Finnhub sectors (a loopback fake): the one reference cache. Runs of `size` read
cached sectors without making them younger, so a known sector is fetched again after its TTL and an unknown
one after the short retry; and the trace says what the sector cap did with an unknown sector."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime

import pytest

from autotrader.adapters.cached_reference import FINNHUB_SECTOR_TTL
from autotrader.clock import ET, MarketCalendar
from tests.fakes.finnhub_server import FakeFinnhub

KEY = "test-finnhub-key"
# Finnhub has no profile for NOPE or NEWCO: their sectors are unknown.
PRICES = {"SPY": 500.0, "AAPL": 100.0, "NOPE": 40.0, "NEWCO": 25.0}


@pytest.fixture
def finnhub():
    with FakeFinnhub(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def workspace(tmp_path, finnhub, monkeypatch):
    monkeypatch.setenv("FINNHUB_API_KEY", KEY)
    market = tmp_path / "market"
    market.mkdir()
    days = MarketCalendar.xnys().sessions_between(date(2026, 1, 30), date(2026, 3, 20))
    for symbol, price in PRICES.items():
        rows = ["date,open,high,low,close,volume"] + [f"{d},{price},{price},{price},{price},5000000" for d in days]
        (market / f"{symbol}.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def write_config(folder, finnhub_url: str, extra: str = "") -> str:
    (folder / "config.toml").write_text(
        '[data]\nkind = "local"\npath = "market"\n'
        f'[reference]\nkind = "finnhub"\nbase_url = "{finnhub_url}"\n'
        "[signals]\nsynthetic_feed = false\n" + extra
    )
    return str(folder / "config.toml")


def size_on(cli, folder, config: str, day: str, symbols: tuple[str, ...] = ("AAPL", "NOPE")) -> dict:
    """Scan a long-term signal per symbol published at 08:00 New York on ``day``, then size at 09:00."""
    signals = folder / f"signals-{day}.csv"
    published = datetime.fromisoformat(f"{day}T08:00").replace(tzinfo=ET).isoformat()
    signals.write_text(
        "symbol,category,source,conviction,entry,stop,target,horizon_days,generated_at\n"
        + "".join(f"{symbol},long_term,finds,8,,,,,{published}\n" for symbol in symbols)
    )
    scanned = cli("scan", "--file", str(signals), "--as-of", f"{day}T08:30", "--config", config)
    assert scanned.exit_code == 0, scanned.output
    sized = cli("size", "--json", "--as-of", f"{day}T09:00", "--config", config)
    assert sized.exit_code == 0, sized.output
    return json.loads(sized.stdout)


def fetched_at(folder, symbol: str) -> datetime:
    conn = sqlite3.connect(folder / "ledger-sim.db")
    (value,) = conn.execute(
        "SELECT fetched_at FROM reference_cache WHERE symbol = ? AND kind = 'sector'", [symbol]
    ).fetchone()
    conn.close()
    return datetime.fromisoformat(value)


def profile_requests(finnhub: FakeFinnhub, symbol: str) -> int:
    return sum(1 for r in finnhub.requests_to("profile2") if r.query["symbol"] == symbol)


def test_runs_of_size_do_not_keep_cached_sectors_alive(workspace, finnhub, cli):
    config = write_config(workspace, finnhub.url)
    size_on(cli, workspace, config, "2026-03-02")
    first = fetched_at(workspace, "AAPL")
    assert (profile_requests(finnhub, "AAPL"), profile_requests(finnhub, "NOPE")) == (1, 1)

    # Two days on: the known sector is served from the cache, the unknown one is asked again.
    size_on(cli, workspace, config, "2026-03-04")
    assert (profile_requests(finnhub, "AAPL"), profile_requests(finnhub, "NOPE")) == (1, 2)
    assert fetched_at(workspace, "AAPL") == first  # reading the row did not refresh it

    # Eight days after the first fetch the known sector's TTL has run out, however often size read it.
    assert datetime(2026, 3, 10, 9, tzinfo=ET) - first >= FINNHUB_SECTOR_TTL
    size_on(cli, workspace, config, "2026-03-10")
    assert profile_requests(finnhub, "AAPL") == 2
    assert fetched_at(workspace, "AAPL") > first


def sector_step(payload: dict, symbol: str) -> dict:
    lines = [*payload["orders"], *payload["skipped"]]
    (line,) = [line for line in lines if line["symbol"] == symbol]
    return next(step for step in line["trace"] if step["name"] == "sector_cap")


def test_the_trace_says_the_unknown_sector_counted_in_its_own_bucket_by_default(workspace, finnhub, cli):
    payload = size_on(cli, workspace, write_config(workspace, finnhub.url), "2026-03-02")
    step = sector_step(payload, "NOPE")
    assert step["inputs"]["unknown_sector"] == "own_bucket" and step["inputs"]["sector"] == "unknown sector"
    assert {o["symbol"] for o in payload["orders"]} == {"AAPL", "NOPE"}
    assert "unknown_sector" not in sector_step(payload, "AAPL")["inputs"]
    (nope,) = [o for o in payload["orders"] if o["symbol"] == "NOPE"]
    # The next run counts NOPE's open entry in the unknown-sector bucket another unknown sector joins.
    later = size_on(cli, workspace, write_config(workspace, finnhub.url), "2026-03-03", ("NEWCO",))
    assert sector_step(later, "NEWCO")["inputs"]["exposure"] == pytest.approx(nope["qty"] * PRICES["NOPE"])


def test_the_trace_says_the_unknown_sector_was_skipped_when_the_setting_says_so(workspace, finnhub, cli):
    config = write_config(workspace, finnhub.url, '[risk]\nunknown_sector = "skip"\n')
    payload = size_on(cli, workspace, config, "2026-03-02")
    step = sector_step(payload, "NOPE")
    assert step["inputs"]["unknown_sector"] == "skip" and step["effect"].startswith("skip: sector unknown")
    assert [o["symbol"] for o in payload["orders"]] == ["AAPL"]
    assert [s["symbol"] for s in payload["skipped"]] == ["NOPE"]
