"""The scorecard through the command line equals an independent hand computation.

Hand-made daily bars (local files) for SPY and two symbols over ten March 2026 sessions, four signals
imported with `scan` as they were published (each at its own generated_at, so none is late and each is
scored from its claimed time), one traded position with a profit-take leg, and `scorecard --json` at the close of
the tenth session. Every expected figure below is worked out by hand from the tables, in the comments.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autotrader.domain.enums import Book, BrokerOrderStatus, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.models import BrokerOrder, Fill, OrderIntent, OrderRequest
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger

pytestmark = pytest.mark.slow  # whole commands run end to end over a workspace

DAYS = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06",
        "2026-03-09", "2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13"]  # fmt: skip
#        open   high   low    close
SPY = [(100.0, 101.0, 99.0, 100.5), (100.5, 102.0, 100.0, 101.0), (101.0, 102.0, 100.0, 101.5),
       (101.5, 103.0, 101.0, 102.0), (102.0, 103.0, 101.0, 102.5), (102.5, 104.0, 102.0, 103.0),
       (103.0, 104.0, 102.0, 103.5), (103.5, 105.0, 103.0, 104.0), (104.0, 105.0, 103.0, 104.5),
       (104.5, 106.0, 104.0, 105.0)]  # fmt: skip
AAA = [(50.0, 51.0, 49.0, 50.5)] + [(50.5 + i, 52.0 + i, 50.0 + i, 51.5 + i) for i in range(9)]
BBB = [(20.0, 20.5, 19.5, 20.0), (20.0, 20.2, 18.8, 19.0), (19.0, 19.5, 18.5, 19.2), (19.2, 19.6, 19.0, 19.4),
       (19.4, 19.8, 19.2, 19.6), (19.6, 20.0, 19.4, 19.8), (19.8, 20.2, 19.6, 20.0), (20.0, 20.4, 19.8, 20.2),
       (20.2, 20.6, 20.0, 20.4), (20.4, 20.8, 20.2, 20.6)]  # fmt: skip

SIGNALS = """symbol,category,source,side,conviction,entry,stop,target,horizon_days,generated_at,note
AAA,long_term,alpha,buy,9,,,,,2026-03-02T08:00:00-05:00,quality pick
BBB,swing,beta,buy,5,20,19,22,5,2026-03-02T08:00:00-05:00,breakout
AAA,swing,beta,buy,7,,,,5,2026-03-03T12:00:00-05:00,momentum
BBB,long_term,alpha,buy,10,,,,,2026-03-12T20:00:00-04:00,late pick
"""

CONFIG = """
[data]
kind = "local"
path = "market"
[reference]
kind = "local"
[signals]
max_age_days = 30
synthetic_feed = false
[scorecard]
horizons = [1, 5]
primary_horizon = 5
primary_horizons = { long_term = 5, swing = 5, day_trade = 5 }
min_signals = 2
bootstrap_resamples = 500
"""


def _scan_as_published(runner, app, workspace: Path, config: str) -> None:
    """One document per generated_at, each scanned at that instant: every signal arrives on time."""
    header, *lines = SIGNALS.strip().splitlines()
    for n, generated_at in enumerate(dict.fromkeys(line.split(",")[9] for line in lines)):
        document = workspace / f"signals-{n}.csv"
        document.write_text("\n".join([header, *(li for li in lines if li.split(",")[9] == generated_at)]) + "\n")
        scanned = runner.invoke(app, ["scan", "--file", str(document), "--json", "--as-of", generated_at,
                                      "--config", config])  # fmt: skip
        assert scanned.exit_code == 0, scanned.output
        assert json.loads(scanned.stdout)["imported"] >= 1


def _write_bars(folder: Path, symbol: str, rows) -> None:
    lines = ["date,open,high,low,close,volume"]
    lines += [f"{day},{o},{h},{lo},{c},1000000" for day, (o, h, lo, c) in zip(DAYS, rows, strict=True)]
    (folder / f"{symbol}.csv").write_text("\n".join(lines) + "\n")


def _trade(ledger, signal_id: int) -> None:
    """Entry: buy 100 AAA at 50.00 on 2026-03-02; profit-take tier 1: sell 20 at 54.00 on 2026-03-05."""
    now = datetime(2026, 3, 13, 21, tzinfo=UTC)
    legs = [
        ("2026-03-02", LegKind.ENTRY, 0, Side.BUY, 100, 50.0, datetime(2026, 3, 2, 14, 31, tzinfo=UTC)),
        ("2026-03-05", LegKind.PROFIT_TAKE, 1, Side.SELL, 20, 54.0, datetime(2026, 3, 5, 15, 0, tzinfo=UTC)),
    ]
    for n, (session, leg, tier, side, qty, price, at) in enumerate(legs, start=1):
        cid = f"hand-{n}"
        request = OrderRequest(cid, "AAA", side, qty, OrderType.MARKET, TimeInForce.DAY)
        intent = OrderIntent(cid, session, "test", Book.SIGNALS, leg, tier, request, signal_id=signal_id)
        order = BrokerOrder(f"b{n}", cid, "AAA", side, qty, OrderType.MARKET, TimeInForce.DAY,
                            str(BrokerOrderStatus.FILLED), qty, price, submitted_at=at, updated_at=at)  # fmt: skip
        with ledger.write():
            repo.insert_intent(ledger, intent, run_id="hand", now=at)
            repo.upsert_order(ledger, order, book="signals", now=at)
            repo.record_fill(ledger, Fill(f"f{n}", f"b{n}", "AAA", side, qty, price, at), book="signals",
                             run_id="hand", now=now)  # fmt: skip


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    workspace = tmp_path_factory.mktemp("hand")
    (workspace / "config.toml").write_text(CONFIG)
    market = workspace / "market"
    market.mkdir()
    _write_bars(market, "SPY", SPY)
    _write_bars(market, "AAA", AAA)
    _write_bars(market, "BBB", BBB)
    runner = CliRunner()
    config = str(workspace / "config.toml")
    _scan_as_published(runner, app, workspace, config)
    ledger = open_ledger(workspace / "ledger-sim.db")
    first = ledger.query("SELECT id FROM signals WHERE symbol = 'AAA' AND category = 'long_term'")[0]["id"]
    _trade(ledger, first)
    ledger.close()
    result = runner.invoke(app, ["scorecard", "--json", "--as-of", "2026-03-13T17:00:00-04:00", "--config", config])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def row(payload, group, key):
    return next(r for r in payload["rows"] if r["group"] == group and r["key"] == key)


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_counts(payload):
    assert row(payload, "category", "long_term")["signals"] == 2
    assert row(payload, "category", "swing")["signals"] == 2
    assert row(payload, "category", "long_term")["traded"] == 1
    # The late BBB pick entered at the 03-13 open: horizon 1 is complete at 17:00, horizon 5 is not.
    assert row(payload, "category", "long_term")["pending"] == 0
    assert row(payload, "category", "long_term")["completed"] == {"1": 2, "5": 1}


def test_forward_returns_and_excess_by_hand(payload):
    swing = row(payload, "category", "swing")
    # BBB swing: entry 03-02 open 20.00; h5 exit = 03-06 close 19.60 → −2.00%; SPY 100.00 → 102.50 = +2.50%.
    # AAA swing: generated 03-03 12:00 (in session) → entry 03-04 open 51.50; h5 exit = 03-10 close 56.50
    #   → +9.7087%; SPY 101.00 → 103.50 = +2.4752%.
    excess = [-0.02 - 0.025, (56.5 / 51.5 - 1) - (103.5 / 101.0 - 1)]
    assert swing["excess_return_mean"]["5"] == pytest.approx(sum(excess) / 2)
    assert swing["excess_return_median"]["5"] == pytest.approx(sum(excess) / 2)
    # Hits at h5: BBB −2% (miss), AAA +9.7% (hit) → 1/2, Wilson interval by the formula.
    assert swing["hit_rate"]["5"] == pytest.approx(0.5)
    assert swing["hit_rate_ci"]["5"] == pytest.approx(list(wilson(1, 2)))
    # h1: BBB 20.00 → 20.00 (0%: not a hit); AAA 51.50 → 52.50 (+1.94%: a hit).
    assert swing["hit_rate"]["1"] == pytest.approx(0.5)
    long_term = row(payload, "category", "long_term")
    # AAA long-term: entry 03-02 open 50.00; h5 = 03-06 close 54.50 → +9%; SPY +2.5% → excess +6.5%.
    assert long_term["excess_return_mean"]["5"] == pytest.approx(0.09 - 0.025)
    assert long_term["verdict"] == "too few signals: 1 < 2"
    # Two swing signals, one above and one below SPY: the interval straddles zero.
    assert swing["verdict"] == "no evidence"


def test_rule_exits_by_hand(payload):
    swing = row(payload, "category", "swing")["rule_exit"]
    # BBB: stop 19.00 touched on 03-03 (low 18.80, open 20.00 above the stop) → exit 19.00, R = −1.
    # AAA swing: no stop or target; 5-session horizon → exit 03-10 close 56.50; 1R = 5% × 51.50 = 2.575
    #   → R = 5.00 / 2.575.
    r_values = [-1.0, 5.0 / 2.575]
    assert swing["signals"] == 2
    assert swing["expectancy_r"] == pytest.approx(sum(r_values) / 2)
    assert swing["win_rate"] == pytest.approx(0.5)


def test_pick_only_managed_and_management_alpha_by_hand(payload):
    long_term = row(payload, "category", "long_term")
    # The trade: 100 @ 50.00, then 20 sold @ 54.00; the long-term rule exit (60 sessions) is still pending, so
    # the pick is marked at the last close, 03-13: 59.50.
    # pick = 100 × (59.50 − 50.00) = 950
    # managed = −5,000 + 20 × 54.00 + 80 × 59.50 = 840
    # profit-take tier 1 vs the pick = 20 × (54.00 − 59.50) = −110; open remainder 80 × (59.50 − 59.50) = 0
    assert long_term["pick_only"]["pnl"] == pytest.approx(950)
    assert long_term["managed"]["pnl"] == pytest.approx(840)
    assert long_term["management_alpha"]["total"] == pytest.approx(-110)
    assert long_term["management_alpha"]["by_action"]["profit_take"] == pytest.approx(-110)
    assert long_term["management_alpha"]["by_action"]["profit_take:1"] == pytest.approx(-110)
    assert row(payload, "category", "swing")["management_alpha"]["total"] in (0, 0.0, None)


def test_source_and_conviction_rows(payload):
    alpha = row(payload, "source", "alpha")
    assert alpha["signals"] == 2 and alpha["traded"] == 1
    # Conviction buckets (default 1-4, 5-6, 7-8, 9-10): 9 and 10 → "9-10"; 5 → "5-6"; 7 → "7-8".
    assert row(payload, "conviction", "9-10")["signals"] == 2
    assert row(payload, "conviction", "5-6")["signals"] == 1
    assert row(payload, "conviction", "7-8")["signals"] == 1


@pytest.fixture(scope="module")
def hand_workspace(payload, tmp_path_factory):
    # `payload` built the workspace; find it again through the module's temp factory.
    base = tmp_path_factory.getbasetemp()
    return next(p for p in base.iterdir() if p.name.startswith("hand") and (p / "ledger-sim.db").exists())


def _scorecard(workspace: Path, *args: str):
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    return CliRunner().invoke(
        app, ["scorecard", *args, "--as-of", "2026-03-13T17:00:00-04:00", "--config", str(workspace / "config.toml")]
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--category", "swing"], {("category", "swing"), ("source", "beta"), ("conviction", "5-6"),
                                   ("conviction", "7-8")}),
        (["--source", "alpha"], {("category", "long_term"), ("source", "alpha"), ("conviction", "9-10")}),
        # Generated on or after 03-03 (New York): the AAA swing (03-03 12:00) and the late BBB pick.
        (["--since", "2026-03-03"], {("category", "swing"), ("category", "long_term"), ("source", "beta"),
                                     ("source", "alpha"), ("conviction", "7-8"), ("conviction", "9-10")}),
        (["--until", "2026-03-02"], {("category", "swing"), ("category", "long_term"), ("source", "beta"),
                                     ("source", "alpha"), ("conviction", "5-6"), ("conviction", "9-10")}),
    ],
)  # fmt: skip
def test_filters(hand_workspace, args, expected):
    result = _scorecard(hand_workspace, "--json", *args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert {(r["group"], r["key"]) for r in rows} == expected


@pytest.mark.parametrize(
    "args", [["--since", "March"], ["--category", "scalp"], ["--since", "2026-03-05", "--until", "2026-03-01"]]
)
def test_bad_filters_exit_2(hand_workspace, args):
    result = _scorecard(hand_workspace, *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_csv_and_html_exports(hand_workspace, tmp_path):
    html_file = tmp_path / "report" / "scorecard.html"
    result = _scorecard(hand_workspace, "--json", "--csv", str(tmp_path / "csv"), "--html", str(html_file))
    assert result.exit_code == 0, result.output
    import csv

    with (tmp_path / "csv" / "scorecard.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    swing = next(r for r in rows if r["group"] == "category" and r["key"] == "swing")
    assert float(swing["hit_rate.5"]) == pytest.approx(0.5)
    assert (tmp_path / "csv" / "calibration.csv").exists() and (tmp_path / "csv" / "signals.csv").exists()
    _the_page_says_what_the_json_says(html_file.read_text(), json.loads(result.stdout))


def _the_page_says_what_the_json_says(html: str, payload: dict) -> None:
    """Every verdict-board figure read back off the page equals the ``--json`` figure, to the digit shown."""
    from tests import page_reader

    page = page_reader.read(html)
    assert page.title == "autotrader scorecard" and "simulated" in page.headings[0]
    assert {"Verdict board", "Did management add value?", "Execution quality"} <= set(page.headings)
    checked = 0
    for group in ("source", "category", "conviction"):
        shown = {r[group]: r for r in page.table(f"board-{group}").records()}
        for r in (r for r in payload["rows"] if r["group"] == group):
            h, cells = r["primary_horizon"], shown[r["key"]]
            assert cells["verdict"] == r["verdict"] and cells["h"] == h
            matured = [int(n) for n in cells["n (matured)"].replace(",", "").split(" of ")]
            assert matured[0] == r["completed"][h]  # "2 of 3" while some are pending, else just "3"
            assert matured[-1] == (r["signals"] if len(matured) > 1 else r["completed"][h])
            mean, ci = r["abnormal_return_mean"][h], r["abnormal_return_ci"][h]
            written = cells["abnormal return [95% CI]"].replace("[", " ").replace("]", " ").replace(",", " ").split()
            assert page_reader.shows(written[0], mean)
            if ci:
                assert page_reader.shows(written[1], ci[0]) and page_reader.shows(written[2], ci[1])
            if group == "source":  # each hand source is the only one of its category: its base rate is itself
                assert cells["beat rate vs base"].endswith(" (alone in its category)")
                assert page_reader.shows(cells["beat rate vs base"].split(" (")[0], r["beat_rate"][h])
            else:
                beat, base = cells["beat rate vs base"].split(" vs ")
                assert page_reader.shows(beat, r["beat_rate"][h]) and page_reader.shows(base, r["base_rate"][h])
            checked += 1
    assert checked == len(payload["rows"])
    management = {r["category"]: r for r in page.table_with("pick-only P&L", "management added").records()}
    for r in (r for r in payload["rows"] if r["group"] == "category"):
        assert page_reader.shows(management[r["key"]]["managed P&L"], r["managed"]["pnl"])
        assert page_reader.shows(management[r["key"]]["management added"], r["management_alpha"]["total"])


def test_an_earlier_as_of_sees_nothing_later_and_changes_nothing(hand_workspace, payload):
    # At 2026-03-05 17:00 the late BBB pick does not exist yet and no 5-session horizon has completed
    # (the earliest, from the 03-02 entry, closes on 03-06); the trade's profit-take (03-05 15:00) has happened.
    earlier = json.loads(_scorecard_at(hand_workspace, "2026-03-05T17:00:00-05:00").stdout)
    assert sum(r["signals"] for r in earlier["rows"] if r["group"] == "category") == 3
    assert all(r["completed"]["5"] == 0 for r in earlier["rows"] if r["group"] == "category")
    assert row(earlier, "category", "swing")["excess_return_mean"]["5"] is None
    # ...and asking about the past did not turn complete outcomes back into pending ones.
    again = json.loads(_scorecard_at(hand_workspace, "2026-03-13T17:00:00-04:00").stdout)
    assert again["rows"] == payload["rows"]


def _scorecard_at(workspace: Path, as_of: str):
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    return CliRunner().invoke(
        app, ["scorecard", "--json", "--as-of", as_of, "--config", str(workspace / "config.toml")]
    )


def test_a_missing_bar_leaves_the_horizon_pending_instead_of_shifting_it(tmp_path):
    """BBB has no bar for 03-04: its swing signal (entry 03-02) must not exit on 03-09 as if 03-04 never
    happened; the 5-session horizon stays pending, the 1-session one (03-02) is still complete."""
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    (tmp_path / "config.toml").write_text(CONFIG)
    market = tmp_path / "market"
    market.mkdir()
    _write_bars(market, "SPY", SPY)
    _write_bars(market, "AAA", AAA)
    lines = (market / "SPY.csv").read_text().splitlines()[:1]
    lines += [
        f"{day},{o},{h},{lo},{c},1000000" for day, (o, h, lo, c) in zip(DAYS, BBB, strict=True) if day != "2026-03-04"
    ]
    (market / "BBB.csv").write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    config = str(tmp_path / "config.toml")
    _scan_as_published(runner, app, tmp_path, config)
    result = runner.invoke(app, ["scorecard", "--json", "--as-of", "2026-03-13T17:00:00-04:00", "--config", config])
    assert result.exit_code == 0, result.output
    swing = row(json.loads(result.stdout), "category", "swing")
    assert swing["completed"] == {"1": 2, "5": 1}  # AAA's swing completes; BBB's h5 waits on the gap
    import sqlite3

    conn = sqlite3.connect(tmp_path / "ledger-sim.db")
    status = conn.execute(
        "SELECT o.status, o.exit_date FROM signal_outcomes o JOIN signals s ON s.id = o.signal_id "
        "WHERE s.symbol = 'BBB' AND s.category = 'swing' AND o.horizon = 5"
    ).fetchone()
    conn.close()
    assert status == ("pending", None)



def test_the_predictions_panel_is_absent_when_no_signal_carries_a_prediction(payload):
    assert "predictions" not in payload
