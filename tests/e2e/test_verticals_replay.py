"""Verticals and the wheel over weeks of the synthetic world, and through a kill: every option order a day limit
order sent once, never a naked short, the ledger's options book level with the simulated broker's, puts on the
week's first session and calls on assigned shares at or above their cost, and the scorecard's options rows; a
process killed after the broker took a spread's order converges on a rerun without sending it again."""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autotrader import killpoints
from autotrader.adapters.sim_options import collateral
from autotrader.cli.app import app
from autotrader.clock import ET, MarketCalendar
from autotrader.domain.options import parse_occ
from tests.conftest import ISOLATED_PREFIXES
from tests.e2e.crash_harness import read, run_child, submits_per_order, violations

pytestmark = pytest.mark.slow  # weeks of replay, and child processes

ON = '[verticals]\nenabled = true\nmin_conviction = 7\n'


def _options_book_agrees(db: sqlite3.Connection) -> None:
    held: Counter[str] = Counter()
    for symbol, side, qty in db.execute("SELECT symbol, side, qty FROM option_fills"):
        held[symbol] += qty if side == "buy" else -qty
    for (symbol,) in db.execute("SELECT symbol FROM option_events"):
        held.pop(symbol, None)
    ours = {s: q for s, q in held.items() if abs(q) > 1e-9}
    assert ours == dict(db.execute("SELECT symbol, qty FROM sim_option_positions").fetchall())
    assert {f for (f,) in db.execute("SELECT fill_id FROM option_fills")} == {
        f for (f,) in db.execute("SELECT fill_id FROM sim_option_fills")}
    by_underlying: dict[str, dict[str, float]] = {}
    for symbol, qty in ours.items():
        by_underlying.setdefault(parse_occ(symbol).underlying, {})[symbol] = qty
    for underlying, legs in by_underlying.items():
        shares = db.execute("SELECT COALESCE(SUM(qty), 0) FROM sim_positions WHERE symbol = ?", (underlying,))
        assert collateral(legs, shares.fetchone()[0]) is not None, legs  # never a naked short


INTRADAY = "2026-03-09T10:30:00-04:00"


def _workspace(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(ON, encoding="utf-8")
    return config


def _run(config: Path, at: str) -> None:
    result = CliRunner().invoke(app, ["run-daily", "--json", "--as-of", at, "--config", str(config)])
    assert result.exit_code == 0, result.output


def _first_spread_submit(folder: Path) -> int:
    """Which submit of the intraday run (1-based) sent the first spread's order."""
    spreads = {c for (c,) in read(folder, "SELECT client_order_id FROM order_intents WHERE book = 'options'")}
    intraday = []
    for path in sorted((folder / "logs").glob("autotrader-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event["event"] == "order_submit" and event["command"] == "run-daily":
                intraday.append(event)
    runs = [e["run_id"] for e in intraday]
    last = runs[-1]
    mine = [e["client_order_id"] for e in intraday if e["run_id"] == last]
    return next(i for i, cid in enumerate(mine, start=1) if cid in spreads)


def test_a_kill_after_the_broker_took_a_spread_converges_without_sending_it_again(tmp_path):
    clean = _workspace(tmp_path / "clean")
    _run(clean, INTRADAY)  # the morning's signals are scanned, sized and expressed in this one slot
    k = _first_spread_submit(clean.parent)
    expected = set(read(clean.parent, "SELECT client_order_id, underlying, qty, status FROM sim_option_orders"))
    assert expected

    config = _workspace(tmp_path / "killed")
    done = run_child(config, "run-daily", "--as-of", INTRADAY, env={killpoints.ENV: f"after_post_before_answer:{k}"})
    assert done.returncode == killpoints.KILL_EXIT_CODE, done.stderr
    assert read(config.parent, "SELECT COUNT(*) FROM sim_option_orders") == [(1,)]
    _run(config, INTRADAY)
    assert violations(config.parent) == []
    assert set(submits_per_order(config.parent).values()) == {1}
    after = read(config.parent, "SELECT client_order_id, underlying, qty, status FROM sim_option_orders")
    assert set(after) == expected
    with sqlite3.connect(config.parent / "ledger-sim.db") as db:
        _options_book_agrees(db)


WHEEL = """[wheel]
enabled = true
underlyings = ["AAPL", "XOM", "DIS", "V", "JNJ", "HON"]
[condor]
enabled = true
underlyings = ["SPY", "QQQ", "WMT"]
[gamma]
enabled = true
underlyings = ["GOOGL"]
exit_dte = 21
[options]
max_loss_per_trade_pct = 5.0
max_allocation_pct = 50.0
"""


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> Path:
    """Verticals, the wheel, iron condors and gamma together, one trading slot a session (mid-morning) and a sync
    after the close, from January to mid-March (ten weeks): spreads and condors open and close, a wheel put is
    assigned on 6 February and covered from the next session, and straddles' shares are hedged daily until their
    time exits."""
    folder = tmp_path_factory.mktemp("options-replay")
    config = folder / "config.toml"
    # Each session's 16:05 slot is a sync alone: the ledger ends every day level with what the day's orders did.
    config.write_text(ON + WHEEL + '[schedule]\ntimes = ["10:30", "16:05"]\n', encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:  # module-scoped: the per-test environment isolation is not set yet
        for name in list(os.environ):
            if name.upper().startswith(ISOLATED_PREFIXES):
                patch.delenv(name)
        result = CliRunner().invoke(app, ["replay", "--start", "2026-01-05", "--end", "2026-03-13", "--json",
                                          "--config", str(config)])  # fmt: skip
    assert result.exit_code == 0, result.output
    return config


def test_verticals_keep_the_book_level_and_every_order_a_limit(replayed, cli):
    config = replayed
    with sqlite3.connect(config.parent / "ledger-replay.db") as db:
        kinds = set(db.execute("SELECT type, time_in_force FROM order_intents WHERE book = 'options' "
                               "AND (order_class = 'mleg' OR symbol GLOB '*[0-9][CP][0-9]*')"))  # fmt: skip
        assert kinds == {("limit", "day")}  # every option order (gamma's hedges trade shares)
        # Sized to the cash the broker holds against them, never against another structure's contract, and
        # closes always taken: the broker refused none.
        assert db.execute("SELECT COUNT(*) FROM order_intents WHERE book = 'options' AND status = 'rejected'"
                          ).fetchone() == (0,)  # fmt: skip
        mine = db.execute("SELECT status FROM option_structures WHERE strategy = 'verticals'")
        statuses = Counter(s for (s,) in mine)
        assert statuses["closed"] >= 5 and set(statuses) <= {"open", "closed", "abandoned", "opening"}
        entries = Counter(k for (k,) in db.execute(
            "SELECT position_key FROM order_intents WHERE book = 'options' AND leg = 'entry'"))
        assert set(entries.values()) == {1}  # one opening order per structure, one structure per signal
        at_desk = Counter(c for (c,) in db.execute("SELECT client_order_id FROM sim_option_orders"))
        assert set(at_desk.values()) == {1}
        # Every spread closed by an order made what its fills' cash flows say.
        for sid, pnl in db.execute("SELECT structure_id, realized_pnl FROM option_structures WHERE status = 'closed' "
                                   "AND strategy = 'verticals' AND close_reason NOT LIKE 'expiry%'"):  # fmt: skip
            flows = db.execute("SELECT SUM(CASE side WHEN 'buy' THEN -qty * price ELSE qty * price END) * 100 "
                               "FROM option_fills WHERE structure_id = ?", (sid,)).fetchone()[0]  # fmt: skip
            assert pnl == pytest.approx(flows, abs=0.02)
        _options_book_agrees(db)
    page = config.parent / "card.html"
    card = cli("scorecard", "--ledger", "replay", "--json", "--html", str(page), "--config", str(config))
    by = {row["strategy"]: row for row in json.loads(card.stdout)["options"]}
    assert by["verticals"]["structures"] == statuses["closed"] and "wheel" in by
    text = page.read_text(encoding="utf-8")
    assert "<h2>Options</h2>" in text and "<td>verticals</td>" in text and by["verticals"]["verdict"] in text


def test_the_wheel_sells_puts_on_mondays_calls_on_assigned_shares_and_goes_round(replayed):
    config = replayed
    with sqlite3.connect(config.parent / "ledger-replay.db") as db:
        rows = db.execute("SELECT structure_id, kind, status, opened_at, close_reason, legs_json FROM "
                          "option_structures WHERE strategy = 'wheel' ORDER BY planned_at").fetchall()  # fmt: skip
        puts = [r for r in rows if r[1] == "cash_secured_put"]
        calls = [r for r in rows if r[1] == "covered_call"]
        assert puts and calls
        calendar = MarketCalendar.xnys()
        for sid, *_ in puts:  # every put on the week's first session (its id carries that session)
            day = date.fromisoformat(sid.rsplit("-put-", 1)[1])
            monday = day - timedelta(days=day.weekday())
            assert calendar.sessions_between(monday, day)[0] == day, sid
        assigned = [r for r in puts if r[4] == "expiry: assigned"]
        assert assigned  # a put was assigned: shares came in, and calls were written on them
        for sid, _, _, opened, _, legs in calls:
            name = sid.split("-")[1]
            strike = float(json.loads(legs)[0]["symbol"][-8:]) / 1000
            cost = db.execute("SELECT price FROM fills WHERE book = 'options' AND symbol = ? AND side = 'buy' "
                              "AND filled_at <= ? ORDER BY filled_at DESC", (name, opened)).fetchone()[0]  # fmt: skip
            assert strike >= cost - 1e-9, (sid, strike, cost)  # never below what the shares cost
        assert {(t, tif) for t, tif in db.execute(
            "SELECT type, time_in_force FROM order_intents WHERE step = 'wheel'")} == {("limit", "day")}
        _options_book_agrees(db)


def test_condors_are_sold_from_ten_and_closed_by_their_rules(replayed):
    with sqlite3.connect(replayed.parent / "ledger-replay.db") as db:
        rows = db.execute("SELECT structure_id, status, planned_at, close_reason FROM option_structures "
                          "WHERE strategy = 'condor'").fetchall()  # fmt: skip
        assert rows and any(r[1] == "closed" for r in rows)
        for sid, status, planned, reason in rows:
            at = datetime.fromisoformat(planned).astimezone(ET)
            assert (at.hour, at.minute) >= (10, 0), sid  # never before the entry time
            assert sid.endswith(at.date().isoformat())  # one a session at most (the id carries it)
            if status == "closed":
                assert reason.startswith(("the price", "buys back at", "expiry:")) or "day(s) to expiry" in reason
        legs = db.execute("SELECT COUNT(*) FROM order_intents WHERE step = 'condor' AND order_class != 'mleg'")
        assert legs.fetchone() == (0,)  # each condor one order of its four legs
        # A breach buys back the threatened side alone: its short and its wing, one order of one right.
        sides = db.execute("SELECT legs_json FROM order_intents WHERE step = 'condor_exits' AND leg = 'loss_cut' "
                           "AND reason LIKE '%side closed'").fetchall()  # fmt: skip
        assert sides
        for (legs_json,) in sides:
            closed_legs = json.loads(legs_json)
            assert len(closed_legs) == 2 and len({leg["symbol"][-9] for leg in closed_legs}) == 1
        # Closed in parts or whole, a condor whose wings expired worthless made its fills' cash flows.
        for sid, pnl in db.execute("SELECT structure_id, realized_pnl FROM option_structures WHERE strategy = "
                                   "'condor' AND status = 'closed' AND close_reason NOT LIKE '%assigned%' AND "
                                   "close_reason NOT LIKE '%exercised%'"):  # fmt: skip
            flows = db.execute("SELECT SUM(CASE side WHEN 'buy' THEN -qty * price ELSE qty * price END) * 100 "
                               "- SUM(commission) FROM option_fills WHERE structure_id = ?", (sid,)).fetchone()[0]
            assert pnl == pytest.approx(flows, abs=0.02), sid


def test_gamma_hedges_with_shares_never_short_and_closes_by_its_rules(replayed, cli):
    config = replayed
    calendar = MarketCalendar.xnys()
    with sqlite3.connect(config.parent / "ledger-replay.db") as db:
        rows = db.execute("SELECT structure_id, status, units, legs_json, close_reason, realized_pnl FROM "
                          "option_structures WHERE strategy = 'gamma' ORDER BY planned_at").fetchall()  # fmt: skip
        assert len(rows) >= 2 and rows[0][1] == "closed"  # one closed, and the next bought after it
        assert all(json.loads(r[3])[0]["ratio"] == 2 and json.loads(r[3])[0]["side"] == "buy" for r in rows)
        orders = db.execute("SELECT position_key, leg, side, qty, type, time_in_force, symbol, created_at FROM "
                            "order_intents WHERE step LIKE 'gamma%' ORDER BY created_at").fetchall()  # fmt: skip
        shares = [o for o in orders if o[6] == "GOOGL"]
        assert {(o[4], o[5]) for o in shares} == {("market", "day")}  # shares at market, in the session
        assert {(o[4], o[5]) for o in orders if o[6] != "GOOGL"} == {("limit", "day")}  # options never
        assert sum(o[1] == "hedge" for o in shares) >= 3
        # Held shares never go short, nor over the 200 a unit the hedge can need.
        units = {r[0]: r[2] for r in rows}
        held = 0.0
        for key, side, qty in db.execute(
                "SELECT i.position_key, f.side, f.qty FROM fills f JOIN orders o ON "
                "o.broker_order_id = f.broker_order_id JOIN order_intents i ON i.client_order_id = o.client_order_id "
                "WHERE f.book = 'options' "
                "AND f.symbol = 'GOOGL' ORDER BY f.filled_at, f.fill_id"):  # fmt: skip
            held += qty if side == "buy" else -qty
            assert 0 <= held <= 200 * units[key] + 1e-9
        # Each closed by time was closed at the first slot with fewer than 21 days to its expiry.
        for sid, status, _, legs, reason, _ in rows:
            if status != "closed" or "day(s) to expiry" not in reason:
                continue
            expiry = parse_occ(json.loads(legs)[0]["symbol"]).expiry
            day = datetime.fromisoformat(next(o[7] for o in orders if o[0] == sid and o[1] == "time_exit"))
            day = day.astimezone(ET).date()
            before = calendar.sessions_between(day - timedelta(days=7), day - timedelta(days=1))[-1]
            assert (expiry - day).days < 21 <= (expiry - before).days, sid
        # The result: every cash flow of the closed positions' options and shares, all flat by now.
        closed = [r[0] for r in rows if r[1] == "closed"]
        marks = ", ".join("?" * len(closed))
        flows = db.execute(
            f"SELECT SUM(CASE side WHEN 'buy' THEN -qty * price ELSE qty * price END * 100 - commission) FROM "
            f"option_fills WHERE structure_id IN ({marks})", closed).fetchone()[0]  # fmt: skip
        flows += db.execute(
            "SELECT SUM(CASE f.side WHEN 'buy' THEN -f.qty * f.price ELSE f.qty * f.price END - f.commission) FROM "
            "fills f JOIN orders o ON o.broker_order_id = f.broker_order_id JOIN order_intents i ON "
            f"i.client_order_id = o.client_order_id WHERE i.position_key IN ({marks})", closed).fetchone()[0]
        _options_book_agrees(db)
    card = cli("scorecard", "--ledger", "replay", "--json", "--config", str(config))
    row = next(r for r in json.loads(card.stdout)["options"] if r["strategy"] == "gamma")
    assert row["structures"] == len(closed) and row["total_pnl"] == pytest.approx(flows, abs=0.05)
    assert row["options_pnl"] + row["scalping_pnl"] == pytest.approx(row["total_pnl"], abs=0.02)


def test_under_broker_faults_no_option_or_hedge_order_is_placed_twice(tmp_path, monkeypatch):
    """Two weeks of run-daily slots with the wheel, condors and gamma, and the broker failing half the submits (the
    answer lost after the order was placed, an answered 503 before it was, a network error) and a third of the
    lookups: an order in doubt halts buying until a later sync resolves it, nothing is ever placed twice,
    and once the faults stop the options book is level with the broker's."""
    from autotrader.adapters.sim_broker import SimBroker
    from autotrader.errors import AmbiguousOrderOutcome, TransientError

    rng = __import__("random").Random(18)
    placed: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    submit, lookup = SimBroker.submit, SimBroker.order_by_client_id
    failing = [True]

    def faulty_submit(self, request):
        if request.client_order_id in placed:  # sent again after the broker took it: what must never happen
            placed[request.client_order_id] += 1
        draw = rng.random() if failing[0] else 1.0
        if draw < 0.15:
            faults["503"] += 1
            raise AmbiguousOrderOutcome("503 Service Unavailable")  # answered: provably not placed
        if draw < 0.25:
            faults["network"] += 1
            raise TransientError("connection reset before the request was sent")
        order = submit(self, request)
        placed[request.client_order_id] = max(placed[request.client_order_id], 1)
        if draw < 0.50:
            faults["lost answer"] += 1
            raise AmbiguousOrderOutcome("read timed out", in_flight=True)
        return order

    def faulty_lookup(self, client_order_id):
        if failing[0] and rng.random() < 0.30:
            faults["lookup"] += 1
            raise TransientError("lookup timed out")
        return lookup(self, client_order_id)

    monkeypatch.setattr(SimBroker, "submit", faulty_submit)
    monkeypatch.setattr(SimBroker, "order_by_client_id", faulty_lookup)
    config = tmp_path / "config.toml"
    config.write_text(WHEEL, encoding="utf-8")  # the wheel, condors and gamma (verticals meet faults above)
    calendar, codes = MarketCalendar.xnys(), Counter()
    for day in calendar.sessions_between(date(2026, 1, 5), date(2026, 1, 16)):
        for at in ("10:30",):
            result = CliRunner().invoke(app, ["run-daily", "--json", "--as-of", calendar.at_et(day, at).isoformat(),
                                              "--config", str(config)])  # fmt: skip
            codes[result.exit_code] += 1
            assert result.exit_code in (0, 3, 75), result.output  # 3: an order in doubt; 75: retries ran out
    failing[0] = False
    _run(config, calendar.at_et(date(2026, 1, 20), "10:30").isoformat())
    after = calendar.at_et(date(2026, 1, 20), "10:35").isoformat()
    synced = CliRunner().invoke(app, ["sync", "--json", "--as-of", after, "--config", str(config)])
    assert synced.exit_code == 0, synced.output  # what the last slot's orders did, recorded
    assert len(faults) == 4 and codes[0] > 0 and codes[3] > 0  # every kind of fault met, and orders in doubt
    with sqlite3.connect(tmp_path / "ledger-sim.db") as db:
        steps = {s for (s,) in db.execute("SELECT DISTINCT step FROM order_intents WHERE book = 'options'")}
        assert steps >= {"wheel", "condor", "gamma", "gamma_hedge"}
        assert placed and set(placed.values()) == {1}  # nothing placed twice, options or shares
        unsettled = db.execute("SELECT COUNT(*) FROM order_intents WHERE status IN ('submitting', 'unknown')")
        assert unsettled.fetchone() == (0,)
        _options_book_agrees(db)
        held = {sid for (sid,) in db.execute(
            "SELECT structure_id FROM option_structures WHERE status IN ('opening', 'open', 'closing')")}
    assert violations(tmp_path) == []
    shown = CliRunner().invoke(app, ["status", "--json", "--as-of", after, "--config", str(config)])
    listed = json.loads(shown.stdout)["options"]
    assert held and {o["structure_id"] for o in listed} == held  # status lists the structures still held
    assert all(o["legs"] and o["max_loss"] > 0 for o in listed)
