"""The report pages a replay leaves behind: what they say equals the ``--json`` output, and they load in a
real browser (headless Chromium from the system's packages) with their charts and tables."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests import page_reader

pytestmark = pytest.mark.slow  # a replay of a week through every step, once for the module

AS_OF = "2026-03-14T12:00"  # a Saturday: the demo replays the week before
START, END = "2026-03-10", "2026-03-13"


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """A four-session demo (the week before AS_OF, from Tuesday: two trades close in it) and the scorecard
    page of its workspace."""
    from typer.testing import CliRunner

    from autotrader.cli.app import app

    workspace = tmp_path_factory.mktemp("pages") / "demo"
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "--dir", str(workspace), "--sessions", "4", "--json", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    card_page = workspace / "reports" / "scorecard.html"
    card = runner.invoke(app, ["scorecard", "--json", "--html", str(card_page), "--as-of", AS_OF,
                               "--config", str(workspace / "config.toml")])  # fmt: skip
    assert card.exit_code == 0, card.output
    return workspace, json.loads(result.stdout), workspace / "reports" / "demo.html", card_page


def test_the_replay_summary_is_the_account_against_spy_from_its_snapshots(replayed):
    workspace, payload, _, _ = replayed
    assert (payload["start"], payload["end"]) == (START, END)
    conn = sqlite3.connect(workspace / "ledger-sim.db")
    equity = [e for (e,) in conn.execute("SELECT equity FROM snapshots ORDER BY session_date")]
    conn.close()
    account = payload["performance"]["account"]
    # Four evenings' snapshots after the starting cash at the close before the first session.
    assert len(equity) == 4 and account["sessions"] == 4 and account["end"] == END
    assert account["start_value"] == 1_000_000.0 and account["end_value"] == pytest.approx(equity[-1])
    assert account["total_return"] == pytest.approx(equity[-1] / 1_000_000.0 - 1)
    worst = max(1 - e / max([1_000_000.0, *equity[: i + 1]]) for i, e in enumerate(equity))
    assert account["max_drawdown"] == pytest.approx(max(worst, 0.0))
    assert account["cagr"] is None  # four sessions support no annual figure
    spy = payload["performance"]["benchmark"]
    assert spy["start"] == account["start"] and spy["end"] == END
    assert payload["performance"]["excess_return"] == pytest.approx(account["total_return"] - spy["total_return"])


def test_the_demo_imports_trades_and_scores_the_synthetic_feed_at_the_scan_slot(replayed):
    workspace, payload, _, _ = replayed
    assert payload["sessions"] == 4 and payload["workspace"] == str(workspace)
    # The synthetic feed's signals were imported, sized and traded: the account moved, the scorecard exists.
    assert payload["orders_total"] > 0 and payload["final_equity"] != 1_000_000.0
    assert {r["group"] for r in payload["rows"]} == {"category", "source", "conviction"}
    # The simulated scan instant (the 09:00 slot, not the wall clock) is each import's time: the feed's 08:00
    # documents arrive within the lateness tolerance and are scored from the session's open (New York is on
    # summer time from 2026-03-08: 09:00 is 13:00 UTC).
    conn = sqlite3.connect(workspace / "ledger-sim.db")
    imported = conn.execute("SELECT DISTINCT imported_at FROM signal_imports ORDER BY 1").fetchall()
    entries = conn.execute("SELECT DISTINCT entry_at FROM signal_rule_exits ORDER BY 1").fetchall()
    conn.close()
    days = ("10", "11", "12", "13")
    assert imported == [(f"2026-03-{d}T13:00:00.000000+00:00",) for d in days]
    assert entries == [(f"2026-03-{d}T13:30:00.000000+00:00",) for d in days]
    assert all(r["late"] == 0 for r in payload["rows"])


def test_the_demo_points_at_the_pages_it_wrote(replayed):
    workspace, payload, page_path, _ = replayed
    day_page = workspace / "reports" / f"{END}.html"
    assert payload["reports"] == [str(page_path), str(day_page)]
    assert page_path.exists() and day_page.exists()


def test_the_replay_page_says_what_the_json_says(replayed):
    workspace, payload, page_path, _ = replayed
    assert payload["html"] == str(page_path)
    page = page_reader.read(page_path.read_text())
    assert "simulated" in page.headings[0] and f"{START} to {END}" in page.title
    assert {"Performance against SPY", "Trades", "Verdict board"} <= set(page.headings)
    rows = {r[""]: r for r in page.table("performance").records()}
    for name, figures in (("account", payload["performance"]["account"]), ("SPY", payload["performance"]["benchmark"])):
        assert page_reader.shows(rows[name]["total return"], figures["total_return"])
        assert page_reader.shows(rows[name]["max drawdown"], figures["max_drawdown"])
        assert page_reader.shows(rows[name]["Sharpe"], figures["sharpe"])
        assert rows[name]["CAGR"] == "–"
    conn = sqlite3.connect(workspace / "ledger-sim.db")
    closed = conn.execute("SELECT COUNT(*) FROM trade_reviews").fetchone()[0]
    conn.close()
    assert len(page.table("trades").rows) == closed > 0
    assert page.images >= 2  # the equity/drawdown chart and at least one source's chart


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_every_report_loads_in_a_real_browser(replayed, tmp_path):
    """Headless Chromium opens each page from disk with the network cut off: no script error, no request
    leaving the file, every chart decoded, the verdict board and the tables on screen; a screenshot of each
    is left in the test's temporary folder."""
    browser_path = _chromium()
    if browser_path is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs Debian's chromium (.ci/run); it is missing")
        pytest.skip("no chromium on this machine (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    workspace, _, replay_page, card_page = replayed
    pages = {"replay": replay_page, "scorecard": card_page, "daily": workspace / "reports" / f"{END}.html"}
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run"]  # fmt: skip
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=flags)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
        for name, path in pages.items():
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error, problems=problems: problems.append(str(error)))
            page.on("console", lambda m, problems=problems: problems.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r, problems=problems: None if r.url.startswith(("file:", "data:"))
                    else problems.append(f"request to {r.url}"))  # fmt: skip
            page.goto(Path(path).as_uri(), wait_until="load")
            assert problems == [], (name, problems)
            images = page.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
            assert images and all(images), name
            assert page.locator("table").count() > 2 and page.locator("h2").count() > 2
            if name != "daily":  # the scorecard's sections, on its own page and at the end of the replay's
                assert page.locator("table.board-source").is_visible() and page.locator("span.verdict").count() > 0
            page.screenshot(path=str(tmp_path / f"{name}.png"))  # the first screenful: what the owner sees first
            assert (tmp_path / f"{name}.png").stat().st_size > 10_000
        browser.close()
