"""The daily report from a hand-built ledger whose every figure is worked out below, its page and Markdown held
to its JSON, and the page rehydrate leaves each evening.

The ledger (New York times): snapshots on 03-11 (equity 100,000), 03-12 (100,200, holding 10 AAA at 60) and
03-13 (99,900). AAA: bought 10 at 60.00 on 03-12, 10 more at 62.00 on 03-13 (average 61), 5 sold at 64.00 on
03-13 with a $1 commission. AAA closes at 58.50 on 03-12 and 59.50 on 03-13; SPY at 104.00, 104.50 and 105.00.
03-13 has cron's runs, the owner's halt and two of the owner's reads (a scorecard, and an orders show that failed).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser

import pandas as pd
import pytest

from autotrader.clock import SimulatedClock
from autotrader.domain.enums import Book, BrokerOrderStatus, LegKind, OrderType, Side, TimeInForce
from autotrader.domain.models import BrokerOrder, Fill, Halt, OrderIntent, OrderRequest, Signal
from autotrader.eventlog import EventLog
from autotrader.exports import daily
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger
from autotrader.pipeline import rehydrate
from autotrader.pipeline import report as step
from autotrader.pipeline.context import StepContext
from autotrader.settings import ReportSection, default_config
from tests import page_reader
from tests.factories import et, make_deps
from tests.fakes.memory_broker import MemoryBroker
from tests.fakes.static_market import StaticMarketData

DAY, BEFORE = date(2026, 3, 13), date(2026, 3, 12)
AS_OF = "2026-03-13 17:00"
RUN_ID = "the-report-itself"
CLOSES = {"AAA": {"2026-03-11": 57.5, "2026-03-12": 58.5, "2026-03-13": 59.5},
          "SPY": {"2026-03-11": 104.0, "2026-03-12": 104.5, "2026-03-13": 105.0}}  # fmt: skip


def _market(clock) -> StaticMarketData:
    market = StaticMarketData(clock)
    for symbol, closes in CLOSES.items():
        index = pd.DatetimeIndex(pd.to_datetime(list(closes)), name="date")
        values = [[c, c, c, c, 1e6] for c in closes.values()]
        market.daily[symbol] = pd.DataFrame(values, index=index, columns=["open", "high", "low", "close", "volume"])
    return market


def _fill(ledger, n: int, session: str, step_name: str, leg: LegKind, tier: int, side: Side, qty: float,
          price: float, at: str, commission: float = 0.0) -> None:  # fmt: skip
    cid, when = f"cid-{n}", et(at)
    request = OrderRequest(cid, "AAA", side, qty, OrderType.MARKET, TimeInForce.DAY)
    order = BrokerOrder(f"b{n}", cid, "AAA", side, qty, OrderType.MARKET, TimeInForce.DAY,
                        str(BrokerOrderStatus.FILLED), qty, price, submitted_at=when, updated_at=when)  # fmt: skip
    with ledger.write():
        repo.insert_intent(ledger, OrderIntent(cid, session, step_name, Book.SIGNALS, leg, tier, request),
                           run_id="t", now=when)  # fmt: skip
        repo.upsert_order(ledger, order, book="signals", now=when)
        repo.record_fill(ledger, Fill(f"f{n}", f"b{n}", "AAA", side, qty, price, when, commission), book="signals",
                         run_id="t", now=when)  # fmt: skip


def _signals(ledger) -> None:
    """CCC (gamma, day trade) arrives on the evening of 03-12; three more on the morning of 03-13. Size decides all
    four on 03-13: AAA ordered, both BBB stopped by the earnings blackout, CCC by the daily loss breaker."""
    batches = [
        ("2026-03-12 21:00", [Signal("CCC", "day_trade", "gamma", et("2026-03-12 20:30"))]),
        ("2026-03-13 08:00", [Signal("AAA", "swing", "alpha", et("2026-03-13 07:30")),
                              Signal("BBB", "swing", "alpha", et("2026-03-13 07:30")),
                              Signal("BBB", "long_term", "beta", et("2026-03-13 07:30"))]),
    ]  # fmt: skip
    ids = []
    for n, (at, signals) in enumerate(batches):
        with ledger.write():
            _, stored = repo.record_import(
                ledger, content_hash=f"h{n}", origin="test", signals=signals, skipped=[], rows_total=len(signals),
                archive_path=None, run_id="t", now=et(at),
            )  # fmt: skip
        ids += stored
    ccc, aaa, bbb_swing, bbb_long = ids
    blackout = "earnings blackout: earnings in 2 days ≤ 3"
    decided = [
        (aaa, "ordered", "", "max_position"),
        (bbb_swing, "skipped", blackout, "earnings"),
        (bbb_long, "skipped", blackout, "earnings"),
        (ccc, "skipped", "max daily loss reached: P&L $-3,000.00 ≤ $-2,500.00", "max_daily_loss"),
    ]
    with ledger.write():
        for signal_id, outcome, reason, last_rule in decided:
            trace = [{"name": "side", "effect": "buy"}, {"name": last_rule, "effect": reason or "ok"}]
            repo.record_decision(ledger, signal_id=signal_id, step="size", outcome=outcome, reason=reason, trace=trace,
                                 client_order_id=None, run_id="t", now=et("2026-03-13 09:00"))  # fmt: skip


def _runs(ledger) -> None:
    halted = "sync: 1 unexplained difference(s) between broker and ledger: buying halted"
    runs = [  # command, as of (New York), exit code (None: never ended), error, notes
        ("scan", "2026-03-12 20:00", 0, None, ["1 signal(s) imported"]),  # 03-13 00:00 UTC: still 03-12 in New York
        ("run-daily", "2026-03-13 09:30", 0, None, ["sync: 3 broker orders seen",
                                                    "size: rejected cid-9: insufficient_buying_power"]),
        ("run-daily", "2026-03-13 10:00", 3, "broker and ledger disagree", [halted]),
        ("run-daily", "2026-03-13 10:30", 3, "broker and ledger disagree", [halted]),
        ("size", "2026-03-13 11:00", None, None, []),
        ("halt", "2026-03-13 12:00", 0, None, ["kill switch on: checking a split"]),  # a control: listed
        ("scorecard", "2026-03-13 12:30", 0, None, ["wrote card.html"]),  # the owner's reads: counted, not listed
        ("orders show", "2026-03-13 12:45", 2, "no order b9", []),
        ("report", AS_OF, None, None, []),  # the report's own run, still going: not one of the day's runs
    ]  # fmt: skip
    for n, (command, at, code, error, notes) in enumerate(runs):
        run_id = RUN_ID if command == "report" else f"run-{n}"
        repo.start_run(ledger, run_id=run_id, command=command, as_of=et(at), mode="sim", dry_run=False,
                       started_at=et(at))  # fmt: skip
        if code is not None:
            repo.finish_run(ledger, run_id=run_id, exit_code=code, ended_at=et(at), error=error,
                            summary={"ok": code == 0, "orders": 0, "skipped": 0, "notes": notes})  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("daily")
    clock = SimulatedClock(et(AS_OF))
    ledger = open_ledger(folder / "ledger-sim.db")
    for session, equity, held in (("2026-03-11", 100_000.0, []), ("2026-03-12", 100_200.0, [("AAA", 10, 60.0)]),
                                  ("2026-03-13", 99_900.0, [("AAA", 15, 61.0)])):  # fmt: skip
        positions = [{"book": "signals", "symbol": s, "qty": q, "avg_cost": c} for s, q, c in held]
        with ledger.write():
            repo.save_snapshot(ledger, session_date=session, as_of=et(f"{session} 16:15"), equity=equity,
                               cash=equity - sum(q * c for _, q, c in held), deployed={"signals": 0.0} if not held
                               else {"signals": held[0][1] * held[0][2]}, by_category={}, positions=positions,
                               now=et(f"{session} 16:15"))  # fmt: skip
    _fill(ledger, 1, "2026-03-12", "size", LegKind.ENTRY, 0, Side.BUY, 10, 60.0, "2026-03-12 11:00")
    _fill(ledger, 2, "2026-03-13", "dipbuy", LegKind.DIP_BUY, 1, Side.BUY, 10, 62.0, "2026-03-13 09:31")
    _fill(ledger, 3, "2026-03-13", "profittake", LegKind.PROFIT_TAKE, 1, Side.SELL, 5, 64.0, "2026-03-13 14:00", 1.0)
    _signals(ledger)
    _runs(ledger)
    with ledger.write():
        repo.set_halt(ledger, Halt("checking a split", False, et("2026-03-13 12:00"), "t"))
    config = default_config(folder)
    # The breakers read the broker's equity now (as the next size would) against the snapshot before the day.
    config = replace(config, settings=config.settings.model_copy(
        update={"risk": config.settings.risk.model_copy(update={"max_daily_loss": 200.0})}))  # fmt: skip
    broker = MemoryBroker(time_source=clock, cash=99_900.0)
    deps = make_deps(clock, broker=broker, market_data=_market(clock))
    ctx = StepContext("report", config, deps, ledger, False, RUN_ID, EventLog(None, run_id=RUN_ID, command="report",
                      mode="sim"))  # fmt: skip
    built = {DAY: step.build(ctx, DAY), BEFORE: step.build(ctx, BEFORE)}
    yield ctx, built, folder
    ledger.close()


def test_the_days_money_is_the_snapshots_change_and_the_sells_at_average_cost(world):
    _, built, _ = world
    s = built[DAY].summary
    assert (s.equity, s.equity_from, s.previous_date, s.equity_change) == (99_900.0, "snapshot", "2026-03-12", -300.0)
    assert s.equity_change_pct == pytest.approx(-300 / 100_200, abs=1e-6)
    # The sell of 5 at 64.00 against the average of 61.00: +15; less the day's $1 commission.
    assert (s.realized_pnl, s.commissions) == (14.0, 1.0)
    assert [f.realized_pnl for f in built[DAY].fills] == [None, 15.0]
    # 15 shares left at 61.00, priced at the 03-13 close of 59.50.
    (held,) = built[DAY].positions
    assert (held.symbol, held.qty, held.avg_cost, held.price, held.price_date) == ("AAA", 15, 61.0, 59.5, "2026-03-13")
    assert (held.market_value, held.unrealized_pnl, s.unrealized_pnl) == (892.5, -22.5, -22.5)
    assert built[DAY].positions_from == "ledger"
    assert [(o.step, o.leg, o.tier, o.filled_qty, o.filled_avg_price) for o in built[DAY].day_orders] == [
        ("dipbuy", "dip_buy", 1, 10, 62.0), ("profittake", "profit_take", 1, 5, 64.0)]  # fmt: skip


def test_a_past_day_is_its_own_snapshot_fills_and_runs(world):
    _, built, _ = world
    past = built[BEFORE]
    assert (past.summary.equity, past.summary.equity_change, past.summary.realized_pnl) == (100_200.0, 200.0, 0.0)
    (held,) = past.positions  # 03-12's snapshot: 10 at 60.00, at that day's close of 58.50
    assert past.positions_from == "snapshot" and (held.qty, held.price, held.unrealized_pnl) == (10, 58.5, -15.0)
    assert [(f.side, f.qty, f.price) for f in past.fills] == [("buy", 10, 60.0)]
    # 20:00 New York on 03-12 is 03-13 in UTC: the scan still belongs to 03-12.
    assert [r.command for r in past.runs] == ["scan"]


def test_the_runs_are_crons_and_the_owners_controls_and_the_reads_are_counted(world):
    _, built, _ = world
    day = built[DAY]
    assert [r.command for r in day.runs] == ["run-daily", "run-daily", "run-daily", "size", "halt"]
    assert (day.reads_left_out, built[BEFORE].reads_left_out) == (2, 0)  # the scorecard and the orders show
    assert "5 run(s) (2 read-only left out)" in day.notes[1]
    (runs,) = [s for s in daily.sections(day) if s.title == "Runs of the day"]
    assert "; 2 read-only run(s) of the day (report, scorecard, orders list, positions...) left out" in runs.lede
    assert ("error", "orders show", "exit 2: no order b9", 1) in [
        (p.level, p.command, p.message, p.count) for p in day.problems]  # fmt: skip


def test_without_a_date_a_day_without_a_session_is_the_last_session(world):
    ctx, _, _ = world
    sunday = SimulatedClock(et("2026-03-15 12:00"))
    deps = make_deps(sunday, broker=MemoryBroker(time_source=sunday, cash=99_900.0), market_data=_market(sunday))
    weekend = replace(ctx, deps=deps)
    last = step.run(weekend)
    assert (last.date, last.trading_day, last.positions_from, last.summary.equity) == (
        "2026-03-13", True, "snapshot", 99_900.0)  # fmt: skip
    assert [r.command for r in last.runs][:1] == ["run-daily"] and len(last.fills) == 2
    assert "no --date: 2026-03-15 has no NYSE session, so the last session, 2026-03-13" in last.notes
    asked = step.run(weekend, day=date(2026, 3, 15))  # a --date is what it says, a Sunday too
    assert (asked.date, asked.trading_day, asked.runs, asked.fills) == ("2026-03-15", False, (), ())
    assert not any(n.startswith("no --date") for n in asked.notes)
    during = step.run(replace(ctx, deps=make_deps(clock := SimulatedClock(et("2026-03-13 10:00")),
                                                  broker=MemoryBroker(time_source=clock, cash=99_900.0),
                                                  market_data=_market(clock))))  # fmt: skip
    assert during.date == "2026-03-13"  # a session day before its close: that session


def test_signals_are_counted_by_source_and_skips_by_the_rule_that_stopped_them(world):
    _, built, _ = world
    tallies = {(t.source, t.category): (t.received, t.traded, t.skipped) for t in built[DAY].signals}
    assert tallies == {
        ("alpha", "swing"): (2, 1, 1),
        ("beta", "long_term"): (1, 0, 1),
        ("gamma", "day_trade"): (0, 0, 1),
    }
    assert [(r.reason, r.signals) for r in built[DAY].skip_reasons] == [("earnings", 2), ("max_daily_loss", 1)]
    assert built[DAY].skip_reasons[0].example == "earnings blackout: earnings in 2 days ≤ 3"
    assert [(t.source, t.received, t.skipped) for t in built[BEFORE].signals] == [("gamma", 1, 0)]


def test_errors_and_warnings_are_said_once_each_with_how_many_runs_said_them(world):
    _, built, _ = world
    found = [(p.level, p.command, p.message[:20], p.count) for p in built[DAY].problems]
    assert found == [
        ("error", "run-daily", "exit 3: broker and l", 2),
        ("error", "size", "no end recorded: the", 1),
        ("error", "orders show", "exit 2: no order b9", 1),  # from every run: a read's error too
        ("warning", "run-daily", "size: rejected cid-9", 1),
        ("warning", "run-daily", "sync: 1 unexplained ", 2),
    ]
    assert built[BEFORE].problems == ()


def test_performance_is_the_account_against_spy_over_the_snapshots(world):
    _, built, _ = world
    perf = built[DAY].performance
    assert perf is not None and perf.benchmark is not None
    assert perf.account.total_return == pytest.approx(99_900 / 100_000 - 1)
    assert perf.benchmark.total_return == pytest.approx(105 / 104 - 1)
    assert perf.excess_return == pytest.approx(99_900 / 100_000 - 105 / 104)
    assert perf.account.max_drawdown == pytest.approx(1 - 99_900 / 100_200)
    assert built[DAY].summary.drawdown == pytest.approx(1 - 99_900 / 100_200, abs=1e-6)  # still in it
    assert [(p.date, p.spy, round(p.drawdown, 6)) for p in built[DAY].curve] == [
        ("2026-03-11", 104.0, 0.0),
        ("2026-03-12", 104.5, 0.0),
        ("2026-03-13", 105.0, round(1 - 99_900 / 100_200, 6)),
    ]
    # Deployed capital is a path at cost, per book: 0 on 03-11, 600 on 03-12, 915 on 03-13.
    (signals_book,) = built[DAY].deployed
    assert (signals_book.group, signals_book.first, signals_book.last, signals_book.peak) == ("book", 0.0, 915.0, 915.0)


def test_the_breakers_are_those_size_would_meet_and_the_halt_is_shown(world):
    _, built, _ = world
    breakers = {b.name: b for b in built[DAY].breakers}
    assert set(breakers) == {"consecutive_losses", "max_daily_loss", "daily_profit_target", "drawdown_pause"}
    # The broker's 99,900 against the 100,200 of the snapshot before the day: −300, past the −200 limit.
    loss = breakers["max_daily_loss"]
    assert loss.tripped and (loss.value, loss.limit) == (-300.0, -200.0)
    assert loss.detail.startswith("max daily loss reached: P&L ")  # size's own words, kept in the JSON
    assert not any(b.tripped for name, b in breakers.items() if name != "max_daily_loss")
    assert (breakers["consecutive_losses"].value, breakers["consecutive_losses"].limit) == (0, 5)
    assert breakers["drawdown_pause"].limit == pytest.approx(0.15)
    # The page writes the figures itself, through fmt: a real minus sign.
    (controls,) = [s for s in daily.sections(built[DAY]) if s.title.startswith("Breakers")]
    shown = {row[0]: row[2] for row in controls.rows}
    assert shown["max_daily_loss"] == "P&L today −$300.00; trips at −$200.00"
    assert shown["daily_profit_target"] == "P&L today −$300.00; trips at +$5,000"
    assert shown["consecutive_losses"] == "0 losing trade(s) in a row; pauses at 5"
    assert shown["drawdown_pause"] == "drawdown 0.30% from the peak; no new entries above 15.0%"
    assert built[DAY].halt is not None and built[DAY].halt.reason == "checking a split"
    assert built[DAY].notes[0].startswith("HALTED since")


def test_percentages_and_minus_signs_are_written_as_on_the_other_pages(world):
    _, built, _ = world
    report = built[DAY]
    facts = {f.label: f.text for f in daily.headline(report)}
    # Below 1%: two decimals; the account's −0.1% and SPY's +0.96% over the snapshots.
    assert (facts["Change %"], facts["Total return"], facts["SPY, same sessions"]) == ("−0.30%", "−0.10%", "+0.96%")
    big = replace(report, summary=replace(report.summary, equity_change_pct=0.137, drawdown=-0.0123))
    assert {f.label: f.text for f in daily.headline(big)}["Change %"] == "+13.7%"  # one decimal, as replay's page
    assert {f.label: f.text for f in daily.headline(big)}["Drawdown now"] == "−1.2%"
    # No figure of the page's own with an ASCII minus: only quoted words (size's skip examples, run notes, errors,
    # the halt's reason) are shown as they were recorded.
    quoted = {"Skipped, by the rule that stopped them": 2, "Errors and warnings": 3, "Runs of the day": 3}
    for section in daily.sections(report):
        for row in section.rows:
            for i, cell in enumerate(row):
                if i != quoted.get(section.title) and row[0] != "kill switch":
                    assert not re.search(r"(?<!\w)-[$\d]", cell), (section.title, cell)
    assert [f.text for f in daily.headline(report) if "-" in f.text] == []


def test_the_performance_text_says_how_many_snapshots_a_cagr_needs(world):
    from autotrader.policy.performance import MIN_CAGR_SESSIONS

    _, built, _ = world
    (perf,) = [s for s in daily.sections(built[DAY]) if s.title.startswith("Performance")]
    needs = f"CAGR is stated from {MIN_CAGR_SESSIONS} daily returns, i.e. {MIN_CAGR_SESSIONS + 1} snapshots: "
    assert needs in perf.lede and "(2 daily returns)" in perf.lede
    assert [row[4] for row in perf.rows] == ["–", "–"]  # 3 snapshots: no CAGR


class _Keyed(HTMLParser):
    """The headline's figures by the JSON key each cell names."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self._key: str | None = None

    def handle_starttag(self, tag, attrs):
        self._key = dict(attrs).get("data-key") or self._key

    def handle_data(self, data):
        if self._key is not None:
            self.figures[self._key] = data
            self._key = None


def _at(payload: dict, key: str):
    for part in key.split("."):
        payload = payload[part]
    return payload


@pytest.mark.slow  # draws the two charts
def test_the_page_says_what_the_json_says(world):
    _, built, folder = world
    report = built[DAY]
    payload = json.loads(json.dumps(report.to_json()))  # exactly what --json prints
    page_text = daily.write_html(folder / "day.html", report).read_text()
    keyed = _Keyed()
    keyed.feed(page_text)
    assert set(keyed.figures) == {f.key for f in daily.headline(report)} and len(keyed.figures) == 10
    for key, text in keyed.figures.items():
        assert page_reader.shows(text, _at(payload, key)), (key, text, _at(payload, key))
    page = page_reader.read(page_text)
    assert "simulated" in page.headings[0] and page.images == 2
    (held,) = page.table_with("symbol", "unrealized").records()
    assert page_reader.shows(held["unrealized"], payload["positions"][0]["unrealized_pnl"])
    assert page_reader.shows(held["last close"], payload["positions"][0]["price"])
    realized = [r["realized"] for r in page.table_with("filled", "realized").records()]
    assert realized[0] == "–" and page_reader.shows(realized[1], payload["fills"][1]["realized_pnl"])
    controls = {r["control"]: r["state"] for r in page.table_with("control", "state").records()}
    assert controls["kill switch"] == "HALTED" and controls["max_daily_loss"] == "TRIPPED"
    assert {s.title for s in daily.sections(report)} <= set(page.headings)


def test_the_markdown_has_the_same_figures(world):
    _, built, _ = world
    report = built[DAY]
    text = daily.markdown(report)
    payload = json.loads(json.dumps(report.to_json()))
    for fact in daily.headline(report):
        (cell,) = re.findall(rf"^\| {re.escape(fact.label)} \| (.+) \|$", text, flags=re.M)
        assert cell == fact.text and page_reader.shows(cell, _at(payload, fact.key))
    for section in daily.sections(report):
        assert f"\n## {section.title}\n" in text
    assert "| signals | AAA | 15 | $61.00 | $59.50 | 2026-03-13 | $892.50 | −$22.50 |" in text
    assert text.startswith("# autotrader daily report 2026-03-13 (simulated)\n")


# -- the evening's page -------------------------------------------------------------------------------------------


@pytest.fixture
def evening(tmp_path, migrated_ledger):
    """An empty account at rehydrate's slot on 03-13, and how to run rehydrate there (optionally as a dry run,
    a replay's slot, or with other settings)."""
    clock = SimulatedClock(et("2026-03-13 16:20"))
    ledger = open_ledger(migrated_ledger(tmp_path / "ledger-sim.db"))
    deps = make_deps(clock, market_data=_market(clock))

    def run(*, dry_run: bool = False, replaying: bool = False, report_dir: str | None = None):
        config = default_config(tmp_path)
        if report_dir is not None:
            config = replace(
                config, settings=config.settings.model_copy(update={"report": ReportSection(dir=report_dir)})
            )
        log = EventLog(None, run_id="r", command="rehydrate", mode="sim")
        return rehydrate.run(StepContext("rehydrate", config, deps, ledger, dry_run, "r", log, replaying=replaying))

    yield run, tmp_path / "reports" / "2026-03-13.html"
    ledger.close()


def test_rehydrate_writes_the_days_page_and_a_second_rehydrate_rewrites_it(evening):
    run, page = evening
    first = run()
    assert first.exit_code == 0 and f"daily report: {page}" in first.notes
    written = page.read_text()
    assert "autotrader daily report 2026-03-13" in written and "$1,000,000" in written
    (page.parent / "2026-03-13.html").write_text("stale")
    second = run()
    assert second.exit_code == 0 and f"daily report: {page}" in second.notes
    assert page.read_text() != "stale" and "autotrader daily report 2026-03-13" in page.read_text()


def test_a_page_that_cannot_be_written_is_a_note_and_rehydrate_keeps_its_exit_code(evening, tmp_path):
    run, page = evening
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the reports folder should be")
    done = run(report_dir=str(blocked))
    assert done.exit_code == 0 and done.snapshot.session_date == "2026-03-13"
    (note,) = [n for n in done.notes if n.startswith("daily report")]
    assert note.startswith("daily report not written: [report] dir ") and str(blocked) in note


def test_no_page_under_dry_run_in_a_replay_or_when_switched_off(evening, tmp_path):
    run, page = evening
    assert f"daily report: {page} not written (dry run)" in run(dry_run=True).notes
    assert "daily report: not written for a replayed session" in run(replaying=True).notes
    assert 'daily report: off ([report] dir = "")' in run(report_dir="").notes
    assert not (tmp_path / "reports").exists()


def test_the_terminal_shows_each_section_in_80_columns(world, monkeypatch, capsys):
    from autotrader.cli.commands import report as command

    _, built, _ = world
    monkeypatch.setenv("COLUMNS", "80")
    command._render(built[DAY])
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    # A position's row and a fill's row stay whole: the short columns fit without folding a figure.
    assert any("AAA" in line and "$61.00" in line and "−$22.50" in line for line in lines)
    assert any("sell" in line and "$64.00" in line and "+$15.00" in line for line in lines)
    assert "Entries awaiting approval: none" in lines
