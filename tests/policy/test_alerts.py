"""What a finished run announces (policy.alerts), from hand-built reports: each rule, its level and its key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from autotrader.domain.enums import Side
from autotrader.domain.models import Fill
from autotrader.domain.reports import (
    ControlReport,
    ManageReport,
    RehydrateReport,
    Report,
    ReportDraft,
    RunDailyReport,
    ScanReport,
    ScorecardReport,
    SizeReport,
    StepRun,
    SyncReport,
)
from autotrader.policy.alerts import (
    AlertLevel,
    AlertRules,
    Finished,
    SessionVolume,
    WaitingApproval,
    alerts_for,
    loss_level,
    reaches,
    unsent,
)

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
RULES = AlertRules(large_loss_usd=1000.0, unusual_volume_multiple=3.0, shadow=False)


def build(kind: type[Report], command: str, *, exit_code: int = 0, notes: tuple[str, ...] = (), **fields: Any):
    draft = ReportDraft(command=command, as_of=NOW, dry_run=False, ok=exit_code == 0, exit_code=exit_code)
    draft.notes.extend(notes)
    return draft.build(kind, **fields)


def finished(report: Report | None = None, *, command: str = "run-daily", exit_code: int = 0, **facts: Any):
    code = report.exit_code if report is not None and not exit_code else exit_code
    return Finished(command, "run-1", facts.pop("session_date", "2026-03-03"), code, report, **facts)


def alerts(run: Finished, rules: AlertRules = RULES):
    return [(a.level, a.key.split(":")[0], a.title) for a in alerts_for(run, rules)]


def daily(*steps: Report, exit_code: int = 0, failed: tuple[StepRun, ...] = ()) -> RunDailyReport:
    rows = [
        StepRun(command=s.command, ok=s.ok, ran=True, exit_code=s.exit_code, notes=s.notes, report=s) for s in steps
    ]
    orders = [o for s in steps for o in s.orders]
    draft = ReportDraft(command="run-daily", as_of=NOW, dry_run=False, ok=exit_code == 0, exit_code=exit_code)
    draft.orders.extend(orders)
    session = {"open": True, "reason": "open", "session_date": "2026-03-03"}
    return draft.build(RunDailyReport, slot="intraday", session=session, steps=[*rows, *failed])


def sync(**over: Any) -> SyncReport:
    fields = dict(settled=[], orders_seen=0, external_orders=0, new_fills=0, diffs=[], unknown_intents=[],
                  splits=[], protective_orders=[])  # fmt: skip
    return build(SyncReport, "sync", **{**fields, **over})


def size(skipped=(), orders=()) -> SizeReport:
    draft = ReportDraft(command="size", as_of=NOW, dry_run=False)
    draft.skipped.extend(skipped)
    draft.orders.extend(orders)
    return draft.build(SizeReport, timing="day orders")


def order(symbol: str, status: str = "accepted", signal_id: int = 1) -> dict[str, Any]:
    return {"symbol": symbol, "side": "buy", "qty": 10.0, "type": "market", "time_in_force": "day",
            "client_order_id": f"cid-{symbol}", "book": "signals", "leg": "entry", "reason": "new signal",
            "status": status, "signal_id": signal_id}  # fmt: skip


def skip(symbol: str, gate: str, reason: str, signal_id: int = 1) -> dict[str, Any]:
    trace = [{"name": "side", "effect": "buy"}, {"name": gate, "effect": f"skip: {reason}"}]
    return {"symbol": symbol, "reason": reason, "signal_id": signal_id, "trace": trace}


def manage(*positions: tuple[str, float, float, float], command: str = "profittake") -> ManageReport:
    rows = [
        {"position_key": f"signals:{symbol}:2026-03-02", "symbol": symbol, "category": "swing", "qty": qty,
         "avg_cost": cost, "original_qty": qty, "entry_price": cost, "price": price, "sessions_held": 1,
         "stop": None, "stop_leg": None, "target": None, "target_one": None, "target_one_done": False,
         "high_water": None, "trail_active": False, "fired": [], "halted": None}
        for symbol, qty, cost, price in positions
    ]  # fmt: skip
    return build(ManageReport, command, book="signals", positions=rows, protective_orders=[])


# -- a quiet run, and the levels --------------------------------------------------------------------------------


def test_a_quiet_run_announces_nothing():
    assert alerts(finished(daily(sync(), size(), manage(("AAPL", 10, 100.0, 101.0))))) == []
    assert alerts(finished(sync(), command="sync")) == []


def test_a_url_takes_the_alerts_at_or_above_its_level():
    run = finished(None, command="sync", exit_code=75, error="network down")
    (warning,) = alerts_for(run, RULES)
    assert warning.level == AlertLevel.WARNING
    assert reaches(warning, "INFO") and reaches(warning, "WARNING") and not reaches(warning, "CRITICAL")


# -- failures --------------------------------------------------------------------------------------------------


def test_a_failed_run_without_a_report_is_critical_with_its_message():
    run = finished(None, command="size", exit_code=1, error="unexpected error: KeyError: 'x' (see the log)")
    (alert,) = alerts_for(run, RULES)
    assert alert.level == AlertLevel.CRITICAL and alert.title == "size failed (exit 1)"
    assert "KeyError" in alert.body


def test_the_same_failure_is_one_event_a_session_and_a_new_message_is_a_new_one():
    first = alerts_for(finished(None, command="sync", exit_code=1, error="boom"), RULES)[0]
    again = alerts_for(finished(None, command="sync", exit_code=1, error="boom"), RULES)[0]
    other = alerts_for(finished(None, command="sync", exit_code=1, error="bang"), RULES)[0]
    tomorrow = alerts_for(finished(None, command="sync", exit_code=1, error="boom", session_date="2026-03-04"), RULES)
    assert first.key == again.key and first.key != other.key and first.key != tomorrow[0].key


def test_a_disagreement_in_a_slot_names_the_failing_steps_notes():
    stopped = sync(exit_code=3, notes=("position mismatch AAPL: broker 12, ledger 10",))
    run = finished(daily(stopped, exit_code=3))
    (alert,) = alerts_for(run, RULES)
    assert alert.level == AlertLevel.CRITICAL and "(exit 3)" in alert.title
    assert alert.body == "sync: position mismatch AAPL: broker 12, ledger 10"
    storage = alerts_for(finished(None, command="scan", exit_code=74, error="disk full"), RULES)
    assert [(a.level, a.title) for a in storage] == [(AlertLevel.CRITICAL, "scan could not write the ledger (exit 74)")]


def test_a_step_that_lost_the_connection_is_a_warning_beside_the_runs_own_failure():
    failed_step = StepRun(command="dipbuy", ok=False, ran=True, exit_code=75, notes=("failed: quote timed out",))
    run = finished(daily(sync(exit_code=3, notes=("unknown order",)), exit_code=3, failed=(failed_step,)))
    assert [(level, kind) for level, kind, _ in alerts(run)] == [
        (AlertLevel.CRITICAL, "exit"),
        (AlertLevel.WARNING, "exit"),
    ]
    connection = alerts_for(run, RULES)[1]
    assert connection.title.startswith("connection problem") and "quote timed out" in connection.body


def test_exits_that_are_no_failure_announce_nothing():
    for code in (0, 2, 4, 5):
        assert alerts(finished(None, command="sync", exit_code=code, error="x")) == []


# -- the owner's controls and the breakers ----------------------------------------------------------------------


def _control(command: str, halt: dict | None, was: dict | None, reset: str | None = None) -> ControlReport:
    return build(ControlReport, command, halt=halt, was=was, streak_reset_at=reset)


HALT = {"reason": "earnings week", "exits": False, "since": "2026-03-03T14:00:00.000000+00:00", "run_id": "r0"}


def test_halt_and_resume_are_warnings_and_halting_again_is_the_same_halt():
    halted = alerts_for(finished(_control("halt", HALT, None), command="halt"), RULES)
    again = alerts_for(finished(_control("halt", {**HALT, "reason": "still"}, HALT), command="halt"), RULES)
    assert [(a.level, a.title) for a in halted] == [(AlertLevel.WARNING, "halted: earnings week")]
    assert again[0].key == halted[0].key
    resumed = alerts_for(finished(_control("resume", None, HALT), command="resume"), RULES)
    assert [(a.level, a.title) for a in resumed] == [(AlertLevel.WARNING, "resumed: the kill switch is off")]
    assert alerts(finished(_control("resume", None, None), command="resume")) == []  # not halted: nothing changed


def test_ending_the_losing_streak_pause_is_announced_only_by_the_run_that_ended_it():
    now = NOW.isoformat(timespec="microseconds")
    ended = alerts_for(finished(_control("resume", None, None, reset=now), command="resume"), RULES)
    assert [a.title for a in ended] == ["resumed: losing-streak pause ended"]
    earlier = _control("resume", None, None, reset="2026-03-01T15:00:00.000000+00:00")
    assert alerts(finished(earlier, command="resume")) == []


def test_a_breaker_is_one_warning_per_breaker_and_session_naming_the_signals_it_stopped():
    stopped = size(
        skipped=[
            skip("AAPL", "max_daily_loss", "max daily loss reached: P&L −$3,000 ≤ −$2,500", 1),
            skip("MSFT", "max_daily_loss", "max daily loss reached: P&L −$3,000 ≤ −$2,500", 2),
            skip("XOM", "earnings", "earnings blackout: earnings in 1 days ≤ 2", 3),  # a gate, not a breaker
        ]
    )
    (alert,) = alerts_for(finished(daily(stopped)), RULES)
    assert alert.level == AlertLevel.WARNING and alert.title == "breaker tripped: daily loss limit"
    assert alert.key == "breaker:max_daily_loss:2026-03-03"
    assert "2 new signals not bought: AAPL, MSFT" in alert.body
    later = size(skipped=[skip("JPM", "max_daily_loss", "max daily loss reached", 4)])
    assert alerts_for(finished(later, command="size"), RULES)[0].key == alert.key  # held all day: one event


# -- signals and positions --------------------------------------------------------------------------------------


def _scan(*rejected: tuple[str, str]) -> ScanReport:
    rows = [{"origin": o, "reason": r, "moved_to": f"signals/rejected/2026-03-03/{o.rsplit('/', 1)[-1]}"}
            for o, r in rejected]  # fmt: skip
    return build(ScanReport, "scan", imported=0, signals=[], documents=[], rejected=rows)


def test_rejected_inbox_files_are_one_warning_listing_them():
    scan = _scan(("signals/inbox/a.csv", "a.csv:2: no symbol column"), ("signals/inbox/b.csv", "b.csv:3: bad date"))
    (alert,) = alerts_for(finished(daily(scan)), RULES)
    assert alert.level == AlertLevel.WARNING and alert.title.startswith("2 inbox files rejected")
    assert "signals/inbox/a.csv: a.csv:2: no symbol column (moved to signals/rejected/2026-03-03/a.csv)" in alert.body
    assert alerts(finished(daily(_scan()))) == []


def test_a_large_loss_is_one_warning_per_position_even_when_two_steps_price_it():
    lossy = ("AAPL", 100, 100.0, 88.0)  # -$1,200
    milder = ("AAPL", 100, 100.0, 89.0)  # -$1,100, at dipbuy's price
    run = finished(daily(manage(lossy), manage(milder, ("MSFT", 10, 100.0, 50.0), command="dipbuy")))
    (alert,) = alerts_for(run, RULES)  # MSFT lost $500: under the limit; the deeper of AAPL's two prices speaks
    assert alert.level == AlertLevel.WARNING and alert.key == "loss:signals:AAPL:2026-03-02:1"
    assert alert.title == "large loss: AAPL −$1,200" and "beyond the $1,000 limit" in alert.body
    # The next session's same loss is the same event: the key names the position and its level, not the day.
    assert alerts_for(finished(daily(manage(lossy)), session_date="2026-03-04"), RULES)[0].key == alert.key
    # Its cost is $10,000: the levels it could still reach are 2, 4 and 8 limits.
    assert alert.supersedes == tuple(f"loss:signals:AAPL:2026-03-02:{n}" for n in (2, 4, 8))


def test_a_large_loss_is_announced_again_only_when_it_doubles_past_the_level_announced():
    """The review's replay: a $50k position losing more than the $1,000 limit on most of nine sessions was one
    warning a session. Now: once when it crosses, then at 2×, 4× ... the limit, never on the way back."""
    from autotrader.settings import NotifySection, RiskSection

    assert AlertRules().large_loss_usd == NotifySection().large_loss_usd == RiskSection().max_daily_loss == 2500
    assert [loss_level(loss, 1000.0) for loss in (999.99, 1000, 1999, 2000, 3999, 4000, 7999.5, 8000)] == [
        0, 1, 1, 2, 2, 4, 4, 8,
    ]  # fmt: skip
    sent: set[str] = set()
    announced = []
    losses = [1_200, 1_500, 900, 1_100, 2_100, 1_900, 5_000, 3_000, 2_500]  # nine sessions, cost $50,000
    for day, loss in enumerate(losses, start=1):
        run = finished(daily(manage(("XOM", 500, 100.0, 100.0 - loss / 500))), session_date=f"2026-03-{day:02d}")
        for alert in unsent(alerts_for(run, RULES), sent):
            sent.add(alert.key)
            announced.append((day, alert.key.rsplit(":", 1)[1], alert.body))
    # 2× on day 5; straight to 4× on day 7, after which 2× (day 8, day 9) is old news.
    assert [(day, level) for day, level, _ in announced] == [(1, "1"), (5, "2"), (7, "4")]
    assert announced[2][2].endswith("beyond 4× the $1,000 limit; announced again only if the loss passes $8,000")


def test_a_source_whose_edge_broke_is_a_warning_once_per_alarm():
    stability = [
        {"source": "alpha", "window": 60, "signals": 80, "last": -0.012, "rolling": [], "alarm_date": "2026-02-10",
         "alarm_statistic": 5.2},
        {"source": "beta", "window": 60, "signals": 40, "last": 0.004, "rolling": [], "alarm_date": None,
         "alarm_statistic": None},
    ]  # fmt: skip
    card = build(
        ScorecardReport, "scorecard", rows=[], horizons=["1"], primary_horizon="1", signals_total=120,
        hypotheses=0, fdr=0.1, filters={"since": None, "until": None, "category": [], "source": []},
        calibration={"horizon": "1", "signals": 0, "buckets": [], "spearman": None, "spearman_ci": None,
                     "rank_ic": None, "statement": ""},
        stability=stability,
    )  # fmt: skip
    (alert,) = alerts_for(finished(card, command="scorecard"), RULES)
    assert (alert.level, alert.key, alert.title) == (AlertLevel.WARNING, "edge:alpha:2026-02-10", "edge broke: alpha")


def test_entries_waiting_for_approval_are_one_info_message():
    waiting = (WaitingApproval("cid-a", "AAPL", "buy", 10, "signals", "2026-03-03T19:00:00+00:00"),)
    (alert,) = alerts_for(finished(daily(size()), approvals=waiting), RULES)
    assert alert.level == AlertLevel.INFO and alert.title == "1 entry waiting for your approval"
    assert "`autotrader approve cid-a`" in alert.body and "2026-03-03 14:00 ET" in alert.body


def test_orders_sent_and_filled_are_one_message_per_run_and_unsent_ones_are_left_out():
    sized = size(orders=[order("AAPL"), order("MSFT", signal_id=2), order("XOM", "planned", 3)])
    fill = Fill("f1", "b1", "JPM", Side.SELL, 5.0, 201.5, NOW, 0.0)
    (alert,) = alerts_for(finished(daily(sized), fills=(fill,)), RULES)
    assert alert.level == AlertLevel.INFO and alert.title == "2 orders sent, 1 fill"
    assert alert.body.splitlines() == [
        "sent buy 10 AAPL market (entry, signals)",
        "sent buy 10 MSFT market (entry, signals)",
        "filled sell 5 JPM at $201.50",
    ]
    assert alerts(finished(daily(size(orders=[order("XOM", "planned")])))) == []


def test_unusual_volume_at_the_multiple_and_not_below():
    volumes = (
        SessionVolume("AAPL", "2026-03-03", 3_100_000, 1_000_000),
        SessionVolume("MSFT", "2026-03-03", 2_900, 1_000),
    )
    (alert,) = alerts_for(finished(volumes=volumes), RULES)
    assert (alert.level, alert.key, alert.title) == (AlertLevel.INFO, "volume:AAPL:2026-03-03", "unusual volume: AAPL")
    assert "3.1× the average" in alert.body


def _rehydrate() -> RehydrateReport:
    snapshot = {"session_date": "2026-03-03", "equity": 1_010_000.0, "cash": 900_000.0,
                "deployed": {"signals": 110_000.0}, "by_category": {},
                "positions": [{"book": "signals", "symbol": "AAPL", "qty": 10, "avg_cost": 100.0}]}  # fmt: skip
    outcomes = {"signals": 4, "completed_horizons": 6, "pending_horizons": 14, "no_data": 0}
    return build(RehydrateReport, "rehydrate", outcomes=outcomes, snapshot=snapshot, reviews=[],
                 portfolio_value=1_010_000.0)  # fmt: skip


def test_the_end_of_day_summary_is_one_info_message_a_session():
    (alert,) = alerts_for(finished(daily(_rehydrate()), previous_equity=1_000_000.0), RULES)
    assert (alert.level, alert.key) == (AlertLevel.INFO, "summary:2026-03-03")
    assert alert.title == "end of day 2026-03-03: equity $1,010,000"
    assert alert.body.splitlines()[0] == "equity $1,010,000 (+$10,000, +1.00%), cash $900,000"


def test_the_shadow_summary_lists_every_signal_only_in_shadow_mode():
    decided = size(orders=[order("AAPL")], skipped=[skip("XOM", "earnings", "earnings blackout", 3)])
    assert alerts(finished(decided, command="size"), RULES) == [(AlertLevel.INFO, "orders", "1 order sent")]
    shadow = AlertRules(shadow=True)
    alert = alerts_for(finished(decided, command="size"), shadow)[-1]
    assert (alert.level, alert.title) == (AlertLevel.INFO, "signals: 1 traded, 1 not")
    assert alert.body.splitlines() == ["AAPL: buy 10 market (accepted)", "XOM: not traded, earnings blackout"]
