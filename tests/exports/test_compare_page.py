"""compare's page and terminal tables show what its --json report says: each variant, each change's verdict over
the same signals, each account against the base's, and SPY over the same sessions (a report built by hand, no
replay)."""

from __future__ import annotations

from datetime import UTC, datetime

from autotrader.domain.reports import CompareReport
from autotrader.exports.compare import account_rows, benchmark_line, difference_rows, write_html
from autotrader.exports.html_page import PageFacts
from tests.page_reader import read


def _variant(name: str, equity: float, settings: dict) -> dict:
    return {
        "name": name, "settings": settings, "exit_code": 0, "error": None, "seconds": 1.0, "orders": 10, "fills": 8,
        "final_equity": equity, "total_return": equity / 100_000 - 1, "cagr": None, "max_drawdown": 0.05,
        "sharpe": 1.2, "signals": 40, "traded": 12, "pick_pnl": 100.0, "managed_pnl": 150.0,
        "management_alpha": 50.0, "management": {"dip_buy": 50.0},
        "equity": [["2026-01-30", 100_000.0], ["2026-02-02", 100_500.0], ["2026-02-03", equity]],
    }  # fmt: skip


def _report() -> CompareReport:
    spy = {"start": "2026-01-30", "end": "2026-02-03", "sessions": 2, "start_value": 600.0, "end_value": 612.0,
           "total_return": 0.02, "cagr": None, "sharpe": 1.5, "sortino": None, "max_drawdown": 0.01}  # fmt: skip
    account = {"variant": "fixed", "base": "selected", "sessions": 2, "total": -1234.0, "lo": -3000.0, "hi": 900.0,
               "level": 0.975, "block": 5, "verdict": "no evidence",
               "statement": "no evidence that fixed's account differs from selected's: −$1,234"}  # fmt: skip
    difference = {"variant": "fixed", "base": "selected", "signals": 40, "traded": 12, "sessions": 2, "total": 0.0,
                  "lo": None, "hi": None, "level": 0.975, "verdict": "too few sessions",
                  "statement": "fixed vs selected: $0 over 40 signals, but only 2 sessions"}  # fmt: skip
    return CompareReport.from_json({
        "command": "compare", "as_of": datetime(2026, 3, 1, 17, tzinfo=UTC), "dry_run": False, "ok": True,
        "exit_code": 0, "orders": [], "skipped": [], "notes": [], "start": "2026-02-02", "end": "2026-02-03",
        "sessions": 2, "base": "selected", "mode": "serial", "seconds": 2.0, "level": 0.975,
        "variants": [_variant("selected", 101_000.0, {"rebalance.enabled": True}),
                     _variant("fixed", 99_766.0, {"rebalance.enabled": True, "rebalance.only": ["BUY_HOLD"]})],
        "differences": [difference], "accounts": [account], "benchmark": spy,
    })  # fmt: skip


def test_the_terminal_tables_hold_the_reports_figures():
    report = _report()
    headers, rows = account_rows(report)
    assert headers == ["variant", "vs base", "interval", "sessions", "verdict"]
    assert rows == [["fixed", "−$1,234", "−$3,000 to +$900", "2", "no evidence"]]
    assert difference_rows(report)[1] == [["fixed", "$0", "–", "40", "2", "too few sessions"]]
    assert benchmark_line(report) == "SPY over the same sessions: total return +2.0%, max drawdown 1.0%, Sharpe 1.50"


def test_the_page_shows_each_verdict_the_account_table_and_spy(tmp_path):
    report = _report()
    path = write_html(tmp_path / "compare.html", report, PageFacts("compare", "2026-03-01 12:00", True, False))
    page = read(path.read_text(encoding="utf-8"))
    assert "Each account against selected's" in page.headings
    accounts = page.table("accounts").records()
    assert accounts == [{"variant": "fixed", "vs base": "−$1,234", "interval": "−$3,000 to +$900", "sessions": "2",
                         "verdict": "no evidence"}]  # fmt: skip
    assert "SPY over the same sessions: total return +2.0%" in page.text
    assert report.accounts[0].statement in page.text and report.differences[0].statement in page.text
    assert 'rebalance.only=["BUY_HOLD"]' in page.text  # the variant's settings as written
