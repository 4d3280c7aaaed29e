"""Monitoring that notices silence: the pings a run sends an uptime service, and the metrics file it rewrites.

The uptime service is a stdlib HTTP server on 127.0.0.1 recording the paths it is asked for (healthchecks.io's
convention: ``/<check>/start`` when a run begins, ``/<check>/<exit code>`` when it ends, ``?rid=`` pairing them).
The metrics file is read back with prometheus_client's own parser, and its values checked against the ledger
the test wrote.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from autotrader import killpoints
from autotrader.domain.enums import OrderType, Side, TimeInForce
from autotrader.domain.models import BrokerOrder, Fill, Halt, Signal
from autotrader.ledger import repo
from autotrader.ledger.db import open_ledger

AS_OF = "2026-03-02T10:30:00-05:00"
CHECK = "5f1c8a3e-0d2b-4c6e-9a7f-3b2d1e0c9a8b"  # the check's key: the secret part of a ping URL


class Receiver:
    """An uptime service: every request's path, in order; answers ``status``."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server naming
                receiver.paths.append(self.path)
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{CHECK}"


@pytest.fixture(scope="module")
def _service() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def service(_service: Receiver) -> Receiver:
    _service.paths.clear()
    _service.status = 200
    return _service


@pytest.fixture(autouse=True)
def _disarmed() -> Iterator[None]:
    killpoints.disarm()
    yield
    killpoints.disarm()


def _workspace(write_config, ping_url: str | None, *, extra: str = "") -> Path:
    lines = ["[monitor]", 'textfile_dir = "metrics"']
    if ping_url is not None:
        lines.append(f'ping_url = "{ping_url}"')
    config = write_config("\n".join(lines) + "\n" + extra)
    (config.parent / "metrics").mkdir()
    return config


def _run_ids(config: Path) -> list[str]:
    ledger = open_ledger(config.parent / "ledger-sim.db")
    try:
        return [r["run_id"] for r in ledger.query("SELECT run_id FROM runs ORDER BY id")]
    finally:
        ledger.close()


def _pings(run_id: str, *events: str) -> list[str]:
    return [f"/{CHECK}/{event}?rid={uuid.UUID(run_id)}" for event in events]


def _metrics(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a metrics file: (sample name, sorted labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8"))
        for sample in family.samples
    }


def _sample(metrics: dict, name: str, **labels: str) -> float:
    return metrics[(name, tuple(sorted({"mode": "sim", **labels}.items())))]


def _log_lines(config: Path) -> list[dict]:
    return [json.loads(line) for path in (config.parent / "logs").glob("*.jsonl") for line in path.open()]


# -- the pings ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [((), 0), (("--clear-halt", "NOPE"), 2)],  # a success; bad input found after the config loaded (exit 2)
    ids=["success", "failure"],
)
def test_a_run_that_ends_pings_start_then_its_exit_code_and_its_metrics_show_the_end(
    cli, write_config, service, args, code
):
    config = _workspace(write_config, service.url)
    result = cli("sync", *args, "--as-of", AS_OF, "--config", str(config))
    assert result.exit_code == code, result.output
    [run_id] = _run_ids(config)
    assert service.paths == _pings(run_id, "start", str(code))

    metrics = _metrics(config.parent / "metrics" / "autotrader_sim.prom")
    assert _sample(metrics, "autotrader_last_run_exit_code", command="sync") == code
    assert _sample(metrics, "autotrader_run_in_progress", command="sync") == 0
    started = _sample(metrics, "autotrader_last_run_start_timestamp_seconds", command="sync")
    ended = _sample(metrics, "autotrader_last_run_end_timestamp_seconds", command="sync")
    assert abs(started - datetime.now(UTC).timestamp()) < 60 and started <= ended  # wall-clock times, not --as-of


def test_a_killed_run_pings_start_only_and_its_metrics_keep_it_in_progress(cli, write_config, service):
    config = _workspace(write_config, service.url)
    assert cli("sync", "--as-of", AS_OF, "--config", str(config)).exit_code == 0
    killpoints.arm("mid_reconcile")
    with pytest.raises(killpoints.Killed):
        cli("sync", "--as-of", "2026-03-02T10:35:00-05:00", "--config", str(config))
    first, killed = _run_ids(config)
    assert service.paths == _pings(first, "start", "0") + _pings(killed, "start")

    metrics = _metrics(config.parent / "metrics" / "autotrader_sim.prom")  # as the killed run's start left it
    assert _sample(metrics, "autotrader_run_in_progress", command="sync") == 1
    started = _sample(metrics, "autotrader_last_run_start_timestamp_seconds", command="sync")
    assert started > _sample(metrics, "autotrader_last_run_end_timestamp_seconds", command="sync")
    assert _sample(metrics, "autotrader_last_run_exit_code", command="sync") == 0  # the last run that ended


def _refused_port() -> str:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/{CHECK}"


@pytest.mark.parametrize("receiver", ["refused", "silent", "error"])
def test_a_ping_that_fails_is_logged_without_the_url_and_never_changes_the_exit_code(
    cli, write_config, service, receiver
):
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        url, reason = {
            "refused": (_refused_port(), "connection refused"),
            "silent": (f"http://127.0.0.1:{silent.getsockname()[1]}/{CHECK}", "no answer within 0.05 s"),
            "error": (service.url, "HTTP 500"),
        }[receiver]
        service.status = 500 if receiver == "error" else 200
        config = _workspace(write_config, url, extra="timeout_seconds = 0.05\n")
        result = cli("sync", "--as-of", AS_OF, "--config", str(config))
    finally:
        silent.close()
    assert result.exit_code == 0, result.output
    failed = [line for line in _log_lines(config) if line["event"] == "monitor_ping_failed"]
    assert [(f["ping"], f["host"], f["reason"]) for f in failed] == [
        ("start", "127.0.0.1", reason),
        ("0", "127.0.0.1", reason),
    ]
    assert CHECK not in "".join(p.read_text() for p in (config.parent / "logs").glob("*")) + result.output
    metrics = _metrics(config.parent / "metrics" / "autotrader_sim.prom")
    assert _sample(metrics, "autotrader_last_run_exit_code", command="sync") == 0


def test_a_missing_metrics_folder_is_made_in_the_workspace_and_one_that_cannot_be_is_logged(
    cli, write_config, service
):
    config = write_config(f'[monitor]\ntextfile_dir = "collector/prom"\nping_url = "{service.url}"\n')
    assert cli("sync", "--as-of", AS_OF, "--config", str(config)).exit_code == 0
    # Made, parents too, under the workspace (the tests run from another folder): not a silent gap in the metrics.
    assert (config.parent / "collector" / "prom" / "autotrader_sim.prom").is_file()
    assert not (Path.cwd() / "collector").exists()
    shutil.rmtree(config.parent / "collector")
    (config.parent / "collector").write_text("")  # a file where the folder goes: it cannot be made
    result = cli("sync", "--as-of", "2026-03-02T10:35:00-05:00", "--config", str(config))
    assert result.exit_code == 0, result.output
    failed = [line for line in _log_lines(config) if line["event"] == "monitor_textfile_failed"]
    assert [f["at"] for f in failed] == ["start", "0"]
    assert "autotrader_sim.prom: Not a directory" in failed[0]["reason"]
    assert len(service.paths) == 4  # the pings went out all the same


def test_a_dry_run_pings_nothing_and_writes_no_metrics(cli, write_config, service):
    config = _workspace(write_config, service.url)
    assert cli("sync", "--dry-run", "--as-of", AS_OF, "--config", str(config)).exit_code == 0
    assert service.paths == []
    assert list((config.parent / "metrics").iterdir()) == []


def test_the_owners_commands_never_ping(cli, write_config, service):
    """Someone reading the state by hand must not pass for a live schedule: no ping, and a read (`orders list`)
    leaves no run in the metrics either; a control command (`halt`) is a run and shows at once."""
    config = _workspace(write_config, service.url)
    for command in (["status"], ["orders", "list"], ["halt", "--reason", "a look"]):
        result = cli(*command, "--as-of", AS_OF, "--config", str(config))
        assert result.exit_code == 0, result.output
    assert service.paths == []
    metrics = _metrics(config.parent / "metrics" / "autotrader_sim.prom")
    assert _sample(metrics, "autotrader_halted") == 1  # written by halt's own run
    shown = {dict(labels).get("command") for _, labels in metrics}
    assert "orders list" not in shown and "halt" in shown


def test_only_the_commands_cron_runs_ping_and_only_scratch_ledgers_publish_nothing(write_config):
    from autotrader.pipeline.monitor import WatchPlan, plan_watch
    from autotrader.settings import load_config

    config = load_config(_workspace(write_config, "https://hc-ping.com/" + CHECK))
    plans = {c: plan_watch(config, c) for c in ("run-daily", "rehydrate", "halt", "scorecard", "replay", "demo")}
    assert plans == {
        "run-daily": WatchPlan(ping=True, publish=True),
        "rehydrate": WatchPlan(ping=True, publish=True),
        "halt": WatchPlan(ping=False, publish=True),
        "scorecard": WatchPlan(ping=False, publish=True),
        "replay": WatchPlan(ping=False, publish=False),  # a scratch ledger, and a fresh demo workspace
        "demo": WatchPlan(ping=False, publish=False),
    }


def test_the_ping_url_may_come_from_the_environment_and_is_never_shown(cli, write_config, service, monkeypatch):
    config = _workspace(write_config, None)
    monkeypatch.setenv("AUTOTRADER_MONITOR__PING_URL", service.url)
    assert cli("sync", "--as-of", AS_OF, "--config", str(config)).exit_code == 0
    assert [path.split("?")[0] for path in service.paths] == [f"/{CHECK}/start", f"/{CHECK}/0"]
    shown = cli("config", "show", "--json", "--config", str(config))
    assert shown.exit_code == 0 and json.loads(shown.stdout)["settings"]["monitor"]["ping_url"] == "**********"
    assert CHECK not in shown.stdout


@pytest.mark.parametrize("url", ["ftp://hc-ping.com/" + CHECK, "hc-ping.com/" + CHECK, "https:///" + CHECK])
def test_a_ping_url_that_is_not_http_or_https_is_a_config_error(cli, write_config, url):
    config = write_config(f'[monitor]\nping_url = "{url}"\n')
    result = cli("sync", "--as-of", AS_OF, "--config", str(config))
    assert result.exit_code == 2
    assert "[monitor] ping_url" in result.stderr and "config.toml:2" in result.stderr
    assert CHECK not in result.output + result.stderr
    assert not (config.parent / "ledger-sim.db").exists()


# -- the metrics, from a ledger written by hand -------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 10:30 in New York: "today" is 2026-03-02 there
YESTERDAY_EVENING = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)  # 22:30 on 1 March in New York: not today


def _order(ledger, n: int, submitted_at: datetime) -> None:
    order = BrokerOrder(
        f"b{n}", f"c{n}", "AAPL", Side.BUY, 10, OrderType.MARKET, TimeInForce.DAY, "filled", submitted_at=submitted_at
    )
    repo.upsert_order(ledger, order, book="signals", now=NOW)


def _decide(ledger, signal_id: int, outcome: str, rules: list[str]) -> None:
    trace = [{"name": rule, "effect": "..."} for rule in rules]
    repo.record_decision(
        ledger, signal_id=signal_id, step="size", outcome=outcome, reason="", trace=trace, client_order_id=None,
        run_id="r", now=NOW,
    )  # fmt: skip


def test_the_metrics_say_what_the_ledger_holds(migrated_ledger, write_config, tmp_path):
    from autotrader.bootstrap import build_monitor
    from autotrader.pipeline.monitor import gather, plan_metrics
    from autotrader.settings import load_config

    ledger = open_ledger(migrated_ledger(tmp_path / "ledger-paper.db"))
    started = NOW - timedelta(hours=1)
    with ledger.write():
        for i, (command, ends, code) in enumerate([("sync", True, 0), ("run-daily", True, 3), ("run-daily", False, 0)]):
            at = started + timedelta(minutes=10 * i)
            run = dict(run_id=f"run{i}", command=command, as_of=at, mode="paper", dry_run=False, started_at=at)
            repo.start_run(ledger, **run)
            if ends:
                repo.finish_run(ledger, run_id=f"run{i}", exit_code=code, ended_at=at + timedelta(minutes=1),
                                summary=None, error=None)  # fmt: skip
        _order(ledger, 1, NOW - timedelta(hours=1))
        _order(ledger, 2, NOW - timedelta(minutes=5))
        _order(ledger, 3, YESTERDAY_EVENING)
        for n, at in ((1, NOW - timedelta(minutes=59)), (3, YESTERDAY_EVENING)):
            repo.record_fill(ledger, Fill(f"f{n}", f"b{n}", "AAPL", Side.BUY, 10, 100.0, at), book="signals",
                             run_id="r", now=NOW)  # fmt: skip
        signals = [Signal(s, "swing", source, NOW - timedelta(days=1)) for source, s in
                   [("Catalyst-Desk", "AAPL"), ("Catalyst-Desk", "MSFT"), ("Catalyst-Desk", "NVDA"),
                    ("hype", "TSLA"), ("hype", "PLTR")]]  # fmt: skip
        _, ids = repo.record_import(
            ledger, content_hash="h", origin="inbox", signals=signals, skipped=[], rows_total=5, archive_path=None,
            run_id="r", now=NOW,
        )  # fmt: skip
        gates = ["side", "consecutive_losses", "max_daily_loss", "daily_profit_target", "drawdown_pause"]
        _decide(ledger, ids[0], "ordered", [*gates, "base_size"])
        _decide(ledger, ids[1], "reduced", [*gates, "base_size", "position_cap"])
        _decide(ledger, ids[2], "skipped", ["side", "max_open_positions"])
        _decide(ledger, ids[3], "skipped", [*gates, "earnings"])
        _decide(ledger, ids[4], "skipped", ["side", "consecutive_losses"])  # the latest decision: the streak trips
        for day, equity in (("2026-02-26", 990_000.0), ("2026-02-27", 1_010_000.0)):
            repo.save_snapshot(
                ledger, session_date=day, as_of=datetime.fromisoformat(f"{day}T21:15:00+00:00"), equity=equity,
                cash=900_000.0, deployed={"signals": 80_000.0, "rebalance": 30_000.0}, by_category={}, positions=[],
                now=NOW,
            )  # fmt: skip
        repo.set_halt(ledger, Halt("owner looks", True, NOW - timedelta(minutes=30), "run0"))
        repo.cache_reference(ledger, "AAPL", "sector", "Technology", now=NOW - timedelta(hours=2))
        repo.cache_reference(ledger, "MSFT", "sector", "Technology", now=NOW - timedelta(days=3))
    facts = gather(ledger, NOW)
    ledger.close()

    config = load_config(write_config('[monitor]\ntextfile_dir = "prom"\n'))
    (config.workspace / "prom").mkdir()
    monitor = build_monitor(config, "paper")
    assert monitor is not None and monitor.ping_host is None
    assert monitor.publish(plan_metrics(facts, "paper")) is None
    assert [p.name for p in (config.workspace / "prom").iterdir()] == ["autotrader_paper.prom"]  # no temp file left
    m = _metrics(config.workspace / "prom" / "autotrader_paper.prom")

    def value(name: str, **labels: str) -> float:
        return _sample(m, name, **{"mode": "paper", **labels})

    minutes_ago = {"start": 40, "end": 49}  # the third run started 20 minutes after the first; the second ended
    for edge, minutes in minutes_ago.items():
        at = (NOW - timedelta(minutes=minutes)).timestamp()
        assert value(f"autotrader_last_run_{edge}_timestamp_seconds", command="run-daily") == at
    assert value("autotrader_last_run_exit_code", command="run-daily") == 3  # the latest that ended
    assert value("autotrader_run_in_progress", command="run-daily") == 1
    assert value("autotrader_run_in_progress", command="sync") == 0
    assert value("autotrader_last_run_exit_code", command="sync") == 0
    assert (value("autotrader_orders_total"), value("autotrader_orders_today")) == (3, 2)
    assert (value("autotrader_fills_total"), value("autotrader_fills_today")) == (2, 1)
    assert value("autotrader_signals_imported_total", source="catalyst-desk") == 3  # labels are lower case
    assert value("autotrader_signals_traded_total", source="catalyst-desk") == 2
    assert value("autotrader_signals_skipped_total", source="catalyst-desk", reason="max_open_positions") == 1
    assert value("autotrader_signals_imported_total", source="hype") == 2
    assert ("autotrader_signals_traded_total", (("mode", "paper"), ("source", "hype"))) in m  # 0, not absent
    assert value("autotrader_signals_traded_total", source="hype") == 0
    assert value("autotrader_signals_skipped_total", source="hype", reason="earnings") == 1
    assert value("autotrader_signals_skipped_total", source="hype", reason="consecutive_losses") == 1
    assert value("autotrader_equity_dollars") == 1_010_000  # the latest snapshot's
    assert value("autotrader_cash_dollars") == 900_000
    assert value("autotrader_deployed_dollars", book="signals") == 80_000
    assert value("autotrader_deployed_dollars", book="rebalance") == 30_000
    assert value("autotrader_snapshot_timestamp_seconds") == datetime(2026, 2, 27, 21, 15, tzinfo=UTC).timestamp()
    assert (value("autotrader_halted"), value("autotrader_halt_holds_exits")) == (1, 1)
    assert value("autotrader_halted_since_timestamp_seconds") == (NOW - timedelta(minutes=30)).timestamp()
    assert value("autotrader_breaker_tripped", breaker="streak") == 1
    for passed in ("max_daily_loss", "daily_profit_target", "drawdown_pause"):  # passed at the earnings skip
        assert value("autotrader_breaker_tripped", breaker=passed) == 0
    assert value("autotrader_provider_cached_responses", kind="sector") == 2
    assert value("autotrader_provider_fetched_today", kind="sector") == 1
    assert value("autotrader_provider_cached_responses", kind="grouped_daily") == 0


def test_the_breakers_are_named_as_the_sizing_gates_trace_them():
    """The metric finds a breaker by its gate's step name in the decisions' traces: a renamed step fails here."""
    from autotrader.pipeline.monitor import BREAKERS
    from autotrader.policy import sizing

    nobody = sizing.SignalIn(0, "", "swing", "buy", None, None, None, None)
    risk = sizing.RiskState(None, None, None, 0.0, 0.0, 0, {})
    book = sizing.BookState(0.0, 0.0, 0.0, {}, {}, 0, 0)
    case = sizing.Case(nobody, None, None, None, None, book, risk, sizing.Rules())
    for rule in BREAKERS:
        gate = getattr(sizing, f"gate_{rule}")
        assert gate in sizing.GATES and gate(case).step.name == rule
