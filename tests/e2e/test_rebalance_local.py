"""`rebalance` through the command line on local data, checked against an independent backtest written here
(a plain loop over the semantics the README states), plus its timing, reruns, buying power, --tickers,
--html, and the rebalance book's trailing profit taker."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import date

import numpy as np
import pytest

from autotrader.clock import MarketCalendar
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger

pytestmark = pytest.mark.slow  # whole commands run end to end over a workspace

CAL = MarketCalendar.xnys()
LAST = date(2026, 3, 13)  # the last complete session at the as-of instants below (a Friday)
BACKTEST_DAYS = 80
S, L, C, TOP, STOP_PCT, CAPITAL = 10, 5, 5, 2, 10.0, 100_000.0
STRATEGIES = {"ROT3": ["AAA", "BBB", "CCC"], "ROT4": ["AAA", "BBB", "CCC", "DDD"], "HOLD": ["BBB", "CCC"]}
CONFIG = f"""
[data]
kind = "local"
path = "market"
[reference]
kind = "local"
[signals]
synthetic_feed = false
[broker]
slippage_bps = 0.0
[rebalance]
backtest_days = {BACKTEST_DAYS}
sharpe_lookback = {S}
lookback_days = {L}
cooldown_days = {C}
top_n = {TOP}
drawdown_stop = {STOP_PCT}
capital = {CAPITAL}
[rebalance.groups]
a = ["AAA", "BBB", "CCC"]
d = ["DDD"]
h = ["BBB", "CCC"]
[rebalance.strategies]
ROT3 = {{ groups = ["a"] }}
ROT4 = {{ groups = ["a", "d"] }}
HOLD = {{ groups = ["h"], kind = "buy_hold" }}
"""


def sessions() -> list[date]:
    """The sessions in the data files: the BACKTEST_DAYS sessions of the window and one more before it, which
    the backtest must not see."""
    return CAL.sessions_between(CAL.sessions_back(LAST, BACKTEST_DAYS), LAST)


def window(closes: dict[str, list[float]]) -> dict[str, list[float]]:
    return {symbol: series[-BACKTEST_DAYS:] for symbol, series in closes.items()}


def make_closes() -> dict[str, list[float]]:
    rng = np.random.default_rng(7)
    n = len(sessions())
    drifts = {"AAA": 0.004, "BBB": 0.001, "CCC": -0.002, "DDD": 0.0}
    vols = {"AAA": 0.01, "BBB": 0.008, "CCC": 0.012, "DDD": 0.03}
    out = {}
    for symbol, drift in drifts.items():
        steps = drift + vols[symbol] * rng.standard_normal(n)
        out[symbol] = [round(50 * math.exp(x), 2) for x in np.cumsum(steps)]
    return out


def independent_backtest(
    closes: dict[str, list[float]], tickers: list[str], kind: str, momentum: bool = True, stop_pct: float = STOP_PCT
):
    """The README's rules, written as a plain loop: returns (final NAV, weights at the last close)."""
    n = len(closes[tickers[0]])
    t0 = max(S, L) if momentum else S
    shares = {k: 0.0 for k in tickers}
    cash = CAPITAL
    peak = CAPITAL
    last_rebalance = None
    nav = CAPITAL
    for t in range(t0, n):
        nav = cash + sum(shares[k] * closes[k][t] for k in tickers)
        if t == t0:
            nav = CAPITAL
        peak = max(peak, nav)
        if kind == "buy_hold":
            if t == t0:
                shares = {k: CAPITAL / len(tickers) / closes[k][t] for k in tickers}
                cash = 0.0
            continue
        if stop_pct and any(shares.values()) and nav <= (1 - stop_pct / 100) * peak:  # it acts at any close
            shares, cash, peak, last_rebalance = {k: 0.0 for k in tickers}, nav, nav, t
            continue
        if last_rebalance is not None and t - last_rebalance < C:
            continue
        last_rebalance = t
        scored = []
        for i, k in enumerate(tickers):
            if momentum and closes[k][t] / closes[k][t - L] - 1 <= 0:
                continue
            window = [closes[k][j] / closes[k][j - 1] - 1 for j in range(t - S + 1, t + 1)]
            mean = sum(window) / S
            std = math.sqrt(sum((x - mean) ** 2 for x in window) / (S - 1))
            if std > 1e-12:
                scored.append((-(mean / std), i, k))
        chosen = [k for _, _, k in sorted(scored)[:TOP]]
        shares = {k: (nav / TOP / closes[k][t] if k in chosen else 0.0) for k in tickers}
        cash = nav - sum(shares[k] * closes[k][t] for k in tickers)
    final = cash + sum(shares[k] * closes[k][n - 1] for k in tickers)
    weights = {k: shares[k] * closes[k][n - 1] / final for k in tickers if shares[k] > 0}
    return final, weights


@pytest.fixture
def world(tmp_path, cli):
    closes = make_closes()
    market = tmp_path / "market"
    market.mkdir()
    for symbol, series in closes.items():
        rows = ["date,open,high,low,close,volume"] + [
            f"{d},{c},{c},{c},{c},5000000" for d, c in zip(sessions(), series, strict=True)
        ]
        (market / f"{symbol}.csv").write_text("\n".join(rows) + "\n")
    (market / "reference.csv").write_text("symbol,sector,earnings_dates\n")
    (tmp_path / "config.toml").write_text(CONFIG)
    return tmp_path, str(tmp_path / "config.toml"), closes


def run(cli, config: str, *args: str, at: str, ok: tuple[int, ...] = (0,)) -> dict:
    result = cli("rebalance", *args, "--json", "--as-of", at, "--config", config)
    assert result.exit_code in ok, result.output
    return json.loads(result.stdout)


def test_the_dry_run_picks_what_an_independent_computation_picks(world, cli):
    folder, config, closes = world
    expected = {name: independent_backtest(window(closes), tickers, kind(name)) for name, tickers in STRATEGIES.items()}
    winner = max(expected, key=lambda name: expected[name][0])
    payload = run(cli, config, "--dry-run", at="2026-03-13T19:05")
    navs = {s["name"]: s["nav"] for s in payload["strategies"]}
    assert navs == pytest.approx({name: round(v[0], 2) for name, v in expected.items()}, abs=0.01)
    assert payload["winner"] == payload["selected"] == winner
    prices = {k: v[-1] for k, v in closes.items()}
    weights = expected[winner][1]
    targets = {k: math.floor(w * CAPITAL / prices[k]) for k, w in weights.items()}
    assert {t["symbol"]: t["shares"] for t in payload["targets"]} == targets
    assert sorted((o["symbol"], o["side"], o["qty"]) for o in payload["orders"]) == sorted(
        (k, "buy", float(q)) for k, q in targets.items() if q > 0
    )
    assert {o["time_in_force"] for o in payload["orders"]} == {"opg"}
    assert not (folder / "ledger-sim.db").exists() or "rebalance" not in (folder / "ledger-sim.db").read_text(
        errors="ignore"
    )
    strategies = {s["name"]: s for s in payload["strategies"]}
    assert strategies[winner]["psr"] == payload["selection"]["psr_vs_runner_up"]
    assert payload["selection"]["strategies_tried"] == 3


def test_the_window_is_exactly_backtest_days_sessions(world, cli):
    folder, config, closes = world
    run(cli, config, "--dry-run", at="2026-03-13T19:05")
    log = (folder / "logs" / "rebalance-20260313.log").read_text()
    first = sessions()[1]  # sessions()[0] is the one session of the files before the window
    assert f"{BACKTEST_DAYS} sessions {first}..{LAST}" in log
    # The session before the window changes nothing: drop it from the files, and the decision is the same.
    with_extra = run(cli, config, "--dry-run", at="2026-03-13T19:05")
    for symbol in closes:
        path = folder / "market" / f"{symbol}.csv"
        header, _, *rows = path.read_text().splitlines()
        path.write_text("\n".join([header, *rows]) + "\n")
    assert run(cli, config, "--dry-run", at="2026-03-13T19:05")["strategies"] == with_extra["strategies"]


def kind(name: str) -> str:
    return "buy_hold" if name == "HOLD" else "rotation"


@pytest.mark.parametrize(
    ("momentum", "stop_pct"),
    [(False, STOP_PCT), (True, 5.0), (False, 0.0)],  # (False, 0.0) is the seed's simplified backtest
)
def test_the_momentum_filter_and_the_drawdown_stop_are_settings(world, cli, momentum, stop_pct):
    folder, config, closes = world
    today = {name: independent_backtest(window(closes), tickers, kind(name)) for name, tickers in STRATEGIES.items()}
    expected = {
        name: independent_backtest(window(closes), tickers, kind(name), momentum=momentum, stop_pct=stop_pct)
        for name, tickers in STRATEGIES.items()
    }
    assert {n: v[0] for n, v in expected.items()} != {n: v[0] for n, v in today.items()}  # the setting matters here
    settings = f"drawdown_stop = {stop_pct}\nmomentum_filter = {str(momentum).lower()}\n"
    (folder / "config.toml").write_text(CONFIG.replace(f"drawdown_stop = {STOP_PCT}\n", settings))
    payload = run(cli, config, "--dry-run", at="2026-03-13T19:05")
    navs = {s["name"]: s["nav"] for s in payload["strategies"]}
    assert navs == pytest.approx({name: round(v[0], 2) for name, v in expected.items()}, abs=0.01)
    assert payload["winner"] == max(expected, key=lambda name: expected[name][0])


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("drawdown_stop = -1.0", "greater than or equal to 0"),
        ("drawdown_stop = 100.0", "less than 100"),
        ("momentum_filter = 3", "must be true or false (unquoted), not int 3"),
        ("drawdown_threshold = 0.1", "drawdown_threshold is now drawdown_stop, in percent"),
    ],
)
def test_the_rule_settings_are_checked_strictly(world, cli, setting, words):
    folder, config, _ = world
    text = CONFIG.replace(f"drawdown_stop = {STOP_PCT}\n", f"{setting}\n")
    (folder / "config.toml").write_text(text)
    lines = text.splitlines()
    # The old key is no key of the section any more: the error names the section's line.
    where = lines.index("[rebalance]" if "threshold" in setting else setting) + 1
    result = cli("config", "check", "--config", config)
    assert result.exit_code == 2 and words in result.output and f"config.toml:{where}:" in result.output, result.output


@pytest.mark.parametrize(
    ("at", "tif"),
    [("2026-03-13T19:05", "opg"), ("2026-03-14T11:00", "opg"), ("2026-03-13T16:30", "day")],
)
def test_market_on_open_when_the_auction_takes_it_else_queued_day_orders(world, cli, at, tif):
    _, config, _ = world
    payload = run(cli, config, "--dry-run", at=at)
    assert {o["time_in_force"] for o in payload["orders"]} == {tif}
    assert {o["type"] for o in payload["orders"]} == {"market"}


def test_market_orders_while_the_market_is_open(world, cli):
    _, config, _ = world
    # At 10:00 on 2026-03-16 the last complete session is still 2026-03-13: the same decision.
    payload = run(cli, config, "--dry-run", at="2026-03-16T10:00")
    assert {o["time_in_force"] for o in payload["orders"]} == {"day"} and payload["timing"].startswith("market open")


def test_a_rerun_the_same_evening_places_nothing_new(world, cli):
    folder, config, _ = world
    first = run(cli, config, at="2026-03-13T19:05")
    assert first["orders"] and all(o["status"] == "accepted" for o in first["orders"])
    again = run(cli, config, at="2026-03-13T19:40")
    assert again["orders"] == []  # the working orders already cover the deltas
    conn = sqlite3.connect(folder / "ledger-sim.db")
    assert conn.execute("SELECT count(*) FROM sim_orders").fetchone()[0] == len(first["orders"])
    assert conn.execute("SELECT value FROM kv WHERE key = 'rebalance.strategy'").fetchone()[0] == first["selected"]
    assert (folder / "logs" / "rebalance-20260313.log").read_text().count("order buy") == len(first["orders"])


def test_buys_are_scaled_down_to_the_buying_power(world, cli):
    folder, config, closes = world
    poorer = CONFIG.replace("slippage_bps = 0.0", "slippage_bps = 0.0\nstarting_cash = 30000.0")
    (folder / "config.toml").write_text(poorer)
    payload = run(cli, config, "--dry-run", at="2026-03-13T19:05")
    assert 0 < payload["buy_scale"] < 1
    prices = {k: v[-1] for k, v in closes.items()}
    spent = sum(o["qty"] * prices[o["symbol"]] for o in payload["orders"])
    assert 30000 * 0.9 < spent <= 30000


def test_unknown_tickers_are_bad_input_and_html_draws_the_curves(world, cli):
    folder, config, _ = world
    bad = cli("rebalance", "--tickers", "AAA,ZZZZ", "--as-of", "2026-03-13T19:05", "--config", config)
    assert bad.exit_code == 2 and "ZZZZ" in bad.output
    page = folder / "report.html"
    payload = run(cli, config, "--dry-run", "--tickers", "AAA,BBB", "--html", str(page), at="2026-03-13T19:05")
    assert {s["name"] for s in payload["strategies"]} == {"ROT3", "ROT4", "HOLD"}
    assert all(set(s["tickers"]) <= {"AAA", "BBB"} for s in payload["strategies"])
    from tests import page_reader

    shown = page_reader.read(page.read_text())
    assert shown.images == 1 and shown.title.startswith("autotrader rebalance as of 2026-03-13 19:05 ET")
    assert "simulated" in shown.headings[0] and "dry run" in shown.headings[0]
    table = {r["strategy"]: r for r in shown.table("strategies").records()}
    for s in payload["strategies"]:
        assert page_reader.shows(table[s["name"]]["final NAV"], s["nav"])
        assert page_reader.shows(table[s["name"]]["Sharpe"], s["sharpe"])
        assert page_reader.shows(table[s["name"]]["max drawdown"], s["max_drawdown"])
    assert table[payload["winner"]][""] == "winner"
    # The terminal's caution is on the page whenever the selection is not significant.
    warning = payload["selection"].get("warning")
    assert (warning is not None) == (not payload["selection"]["significant"] or payload["runner_up"] is None)
    if warning:
        assert warning in shown.text


def test_later_bars_change_nothing_and_the_profit_taker_trails_the_book(world, cli):
    folder, config, closes = world
    expected = run(cli, config, "--dry-run", at="2026-03-13T19:05")
    # Sessions after the decision exist in the files now: the 19:05 decision must not see them.
    later = {date(2026, 3, 16): 1.0, date(2026, 3, 17): 1.05, date(2026, 3, 18): 1.02, date(2026, 3, 19): 1.02}
    highs = {date(2026, 3, 17): 1.06}
    for symbol, series in closes.items():
        path = folder / "market" / f"{symbol}.csv"
        base = series[-1]
        rows = []
        for d, k in later.items():
            c = round(base * (k if symbol == "AAA" else 1.0), 2)
            h = round(base * highs.get(d, k), 2) if symbol == "AAA" else c
            rows.append(f"{d},{c},{h},{c},{c},5000000")
        path.write_text(path.read_text() + "\n".join(rows) + "\n")
    placed = run(cli, config, at="2026-03-13T19:05")
    assert [(o["symbol"], o["qty"]) for o in placed["orders"]] == [(o["symbol"], o["qty"]) for o in expected["orders"]]
    assert "AAA" in {o["symbol"] for o in placed["orders"]}
    assert cli("sync", "--as-of", "2026-03-16T17:00", "--config", config).exit_code == 0
    # The aggressive preset: active 3% above the entry, stop 1.5% under the high. The 2026-03-17 high is 6%
    # above the entry (stop at 1.06 × 0.985 = 1.0441 × entry); the 2026-03-18 close of 1.02 × entry is through it.
    result = cli(
        "profittake", "--book", "rebalance", "--preset", "aggressive", "--json", "--as-of", "2026-03-19T10:00",
        "--config", config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    [leg] = payload["orders"]
    entry = closes["AAA"][-1]
    assert (leg["symbol"], leg["book"], leg["leg"], leg["side"]) == ("AAA", "rebalance", "trail", "sell")
    assert leg["trigger_price"] == pytest.approx(round(round(entry * 1.06, 2) * 0.985, 2), abs=0.011)
    others = [p for p in payload["positions"] if p["symbol"] != "AAA"]
    assert all(not p["trail_active"] for p in others)  # flat prices: nothing else trails
    bad = cli("profittake", "--preset", "aggressive", "--as-of", "2026-03-19T10:00", "--config", config)
    assert bad.exit_code == 2 and "--book rebalance" in bad.output


def test_run_daily_rebalances_in_the_evening_slot_when_enabled(world, cli):
    folder, config, _ = world
    off = json.loads(cli("run-daily", "--json", "--as-of", "2026-03-13T16:30", "--config", config).stdout)
    [step] = [s for s in off["steps"] if s["command"] == "rebalance"]
    assert step["orders"] == [] and "enabled = false" in step["notes"][0]
    (folder / "config.toml").write_text(CONFIG.replace("[rebalance]\n", "[rebalance]\nenabled = true\n"))
    # 16:30: the broker takes no market-on-open order until 19:00: the slot waits.
    early = json.loads(cli("run-daily", "--json", "--as-of", "2026-03-13T16:30", "--config", config).stdout)
    [step] = [s for s in early["steps"] if s["command"] == "rebalance"]
    assert step["orders"] == [] and "waiting for the market-on-open window" in step["notes"][0]
    on = json.loads(cli("run-daily", "--json", "--as-of", "2026-03-13T19:05", "--config", config).stdout)
    [step] = [s for s in on["steps"] if s["command"] == "rebalance"]
    assert on["slot"] == "evening" and step["orders"]
    assert {o["time_in_force"] for o in step["orders"]} == {"opg"}


def test_a_split_in_the_data_is_restated_before_the_backtest(world, cli):
    folder, config, closes = world
    clean = run(cli, config, "--dry-run", at="2026-03-13T19:05")
    # BBB split 2:1 on the 60th session: raw closes halve from there, and splits.csv says why.
    ex = sessions()[60]
    path = folder / "market" / "BBB.csv"
    rows = path.read_text().splitlines()
    raw = [rows[0]]
    for line in rows[1:]:
        d, *_ = line.split(",")
        c = closes["BBB"][sessions().index(date.fromisoformat(d))]
        c = round(c / 2, 4) if date.fromisoformat(d) >= ex else c
        raw.append(f"{d},{c},{c},{c},{c},5000000")
    path.write_text("\n".join(raw) + "\n")
    (folder / "market" / "splits.csv").write_text(f"symbol,ex_date,ratio\nBBB,{ex},2\n")
    split = run(cli, config, "--dry-run", at="2026-03-13T19:05")
    assert {s["name"]: s["nav"] for s in split["strategies"]} == pytest.approx(
        {s["name"]: s["nav"] for s in clean["strategies"]}, abs=0.05
    )
    assert split["winner"] == clean["winner"]


def test_bad_input_exits_2_and_sends_nothing(world, cli):
    folder, config, _ = world
    for args, words in [
        (["--tickers", ""], "at least one ticker"),
        (["--html", str(folder / "config.toml" / "r.html")], "cannot write"),  # a file is not a folder
    ]:
        result = cli("rebalance", *args, "--as-of", "2026-03-13T19:05", "--config", config)
        assert result.exit_code == 2 and words in result.output, result.output
    assert not (folder / "ledger-sim.db").exists()  # refused before the ledger was even opened
    unknown = cli("rebalance", "--tickers", "AAA,QQQQ", "--as-of", "2026-03-13T19:05", "--config", config)
    assert unknown.exit_code == 2 and "QQQQ" in unknown.output
    assert sqlite3.connect(folder / "ledger-sim.db").execute("SELECT count(*) FROM order_intents").fetchone() == (0,)
    (folder / "config.toml").write_text(CONFIG.replace(f"backtest_days = {BACKTEST_DAYS}", "backtest_days = 8"))
    short = cli("config", "check", "--config", config)
    assert short.exit_code == 2 and "backtest_days" in short.output
    (folder / "config.toml").write_text(CONFIG.replace('a = ["AAA", "BBB", "CCC"]', 'a = ["XXX"]').replace(
        'd = ["DDD"]', 'd = ["YYY"]').replace('h = ["BBB", "CCC"]', 'h = ["ZZZ"]'))  # fmt: skip
    none = cli("rebalance", "--as-of", "2026-03-13T19:05", "--config", config)
    assert none.exit_code == 2 and "knows none" in none.output


def test_tickers_add_their_own_rotation_and_leave_the_held_strategy_alone(world, cli):
    folder, config, _ = world
    # DDD in no strategy: --tickers AAA,DDD keeps ROT3 and ROT4 as AAA alone and adds a rotation over both.
    (folder / "config.toml").write_text(CONFIG.replace('ROT4 = { groups = ["a", "d"] }', 'ROT4 = { groups = ["a"] }'))
    run(cli, config, at="2026-03-13T19:05")
    conn = sqlite3.connect(folder / "ledger-sim.db")
    held = conn.execute("SELECT value FROM kv WHERE key = 'rebalance.strategy'").fetchone()[0]
    payload = run(cli, config, "--tickers", "AAA,DDD", "--dry-run", at="2026-03-13T19:30")
    assert {s["name"]: s["tickers"] for s in payload["strategies"]} == {
        "ROT3": ["AAA"],
        "ROT4": ["AAA"],
        "TICKERS": ["AAA", "DDD"],
    }
    run(cli, config, "--tickers", "AAA,DDD", at="2026-03-13T19:30")
    assert conn.execute("SELECT value FROM kv WHERE key = 'rebalance.strategy'").fetchone()[0] == held


def test_a_held_symbol_without_data_is_held_not_sold(world, cli):
    folder, config, _ = world
    first = run(cli, config, at="2026-03-13T19:05")
    held = {o["symbol"] for o in first["orders"]}
    # Filled at the next open; then the data for one held symbol disappears.
    extra = {s: (folder / "market" / f"{s}.csv") for s in ("AAA", "BBB", "CCC", "DDD")}
    for path in extra.values():
        last = path.read_text().splitlines()[-1].split(",")
        path.write_text(path.read_text() + f"2026-03-16,{last[4]},{last[4]},{last[4]},{last[4]},5000000\n")
    assert cli("sync", "--as-of", "2026-03-16T17:00", "--config", config).exit_code == 0
    gone = sorted(held)[0]
    extra[gone].unlink()
    payload = run(cli, config, "--dry-run", at="2026-03-16T19:05")
    assert gone not in {o["symbol"] for o in payload["orders"]}
    assert any(gone in note and "held as it is" in note for note in payload["notes"])


def test_a_symbol_whose_daily_bars_fail_is_not_bought(world, cli):
    folder, config, _ = world
    clean = run(cli, config, "--dry-run", at="2026-03-13T19:05")
    assert clean["quarantined"] == []
    bought = sorted(o["symbol"] for o in clean["orders"])
    bad, good = bought[0], bought[1:]
    # A session missing from the symbol's last five daily bars (the backtest sees it as one missing close).
    path = folder / "market" / f"{bad}.csv"
    path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith("2026-03-11,")))
    payload = run(cli, config, at="2026-03-13T19:05")
    assert bad not in {o["symbol"] for o in payload["orders"]} and {o["symbol"] for o in payload["orders"]} == set(good)
    [held] = payload["quarantined"]
    assert (held["symbol"], held["session_date"]) == (bad, "2026-03-13") and "2026-03-11 (missing)" in held["reason"]
    [line] = [d for d in payload["deltas"] if d["symbol"] == bad]
    assert line["qty"] == 0 and line["target"] > 0 and held["reason"] in line["reason"]
    assert any(s["symbol"] == bad and held["reason"] in s["reason"] for s in payload["skipped"])
    assert f"{bad}: not bought" in (folder / "logs" / "rebalance-20260313.log").read_text()
    logged = [json.loads(line) for f in sorted(folder.rglob("autotrader-*.jsonl")) for line in f.open()]
    assert [(e["symbol"], e["reason"]) for e in logged if e["event"] == "quarantined"] == [(bad, held["reason"])]
    conn = sqlite3.connect(folder / "ledger-sim.db")
    assert conn.execute("SELECT count(*) FROM order_intents WHERE symbol = ?", [bad]).fetchone() == (0,)


def test_a_quarantined_symbol_the_book_holds_is_still_sold(world, cli):
    folder, config, _ = world
    first = run(cli, config, at="2026-03-13T19:05")
    held = sorted(o["symbol"] for o in first["orders"])
    for symbol in ("AAA", "BBB", "CCC", "DDD"):  # one more flat session: the orders fill at its open
        path = folder / "market" / f"{symbol}.csv"
        close = path.read_text().splitlines()[-1].split(",")[4]
        path.write_text(path.read_text() + f"2026-03-16,{close},{close},{close},{close},5000000\n")
    assert cli("sync", "--as-of", "2026-03-16T17:00", "--config", config).exit_code == 0
    sold, kept = held[0], held[1:]
    ledger = open_ledger(folder / "ledger-sim.db")
    with ledger.write():  # set aside for the session by an earlier step
        repo.quarantine(ledger, repo.QuarantineRow(sold, "2026-03-16", "bad bars", "x"), run_id="test")
    ledger.close()
    # Only the other held symbols are targeted now: the quarantined one is sold all the same.
    payload = run(cli, config, "--tickers", ",".join(kept), at="2026-03-16T19:05")
    assert [q["symbol"] for q in payload["quarantined"]] == [sold]
    assert [(o["symbol"], o["side"]) for o in payload["orders"] if o["symbol"] == sold] == [(sold, "sell")]


def test_rebalance_buys_wait_for_approval_when_the_book_needs_it(world, cli):
    folder, config, _ = world
    (folder / "config.toml").write_text(CONFIG + '\n[approval]\nrequired = true\nbooks = ["rebalance"]\n')
    first = run(cli, config, at="2026-03-13T19:05")
    buys = [o["client_order_id"] for o in first["orders"] if o["side"] == "buy"]
    assert buys and all(o["status"] == "planned" for o in first["orders"])
    conn = sqlite3.connect(folder / "ledger-sim.db")
    assert conn.execute("SELECT count(*) FROM sim_orders").fetchone()[0] == 0
    pending = json.loads(cli("approvals", "--json", "--as-of", "2026-03-13T19:06", "--config", config).stdout)[
        "pending"
    ]
    assert sorted(p["client_order_id"] for p in pending) == sorted(buys)
    assert cli("approve", "--all", "--as-of", "2026-03-13T19:07", "--config", config).exit_code == 0
    assert cli("sync", "--as-of", "2026-03-13T19:08", "--config", config).exit_code == 0
    sent = {r[0] for r in conn.execute("SELECT client_order_id FROM sim_orders")}
    assert sent == set(buys)
    conn.close()


def test_only_holds_one_strategy_fixed_and_an_unknown_name_is_refused(world, cli):
    """``only``: the walk-forward's fixed baseline backtests and trades the strategies it names, nothing else."""
    folder, config, closes = world
    (folder / "config.toml").write_text(CONFIG.replace(f"drawdown_stop = {STOP_PCT}\n",
                                                       f'drawdown_stop = {STOP_PCT}\nonly = ["HOLD"]\n'))  # fmt: skip
    payload = run(cli, config, "--dry-run", at="2026-03-13T19:05")
    expected = independent_backtest(window(closes), STRATEGIES["HOLD"], "buy_hold")
    assert [s["name"] for s in payload["strategies"]] == ["HOLD"] and payload["selected"] == "HOLD"
    assert payload["strategies"][0]["nav"] == pytest.approx(round(expected[0], 2), abs=0.01)
    (folder / "config.toml").write_text(CONFIG.replace(f"drawdown_stop = {STOP_PCT}\n",
                                                       f'drawdown_stop = {STOP_PCT}\nonly = ["NOPE"]\n'))  # fmt: skip
    result = cli("config", "check", "--config", config)
    assert result.exit_code == 2 and "only names unknown strateg(ies) NOPE" in result.output, result.output
