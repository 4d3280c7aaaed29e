"""Notifications end to end, against a local receiver on 127.0.0.1 (apprise's json://): what arrives, once; what a
dead URL changes (nothing but a log line); where a URL may show (its scheme and host only)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autotrader.clock import ET
from autotrader.errors import ConfigError, TransientError
from autotrader.pipeline import replay
from autotrader.pipeline.context import invoke
from autotrader.pipeline.steps import STEPS
from autotrader.settings import load_config, mask_url
from tests.fakes.notify_receiver import Receiver, dead_url

TOKEN = "tok3nCANARY0123456789"  # filled in from .env: it must never show anywhere
SATURDAY = "2026-03-07T10:00"


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def _workspace(write_config, receiver: Receiver, *, extra: str = "", dead: bool = False) -> Path:
    """/all takes every alert, /warn WARNING and above; the token reaches /warn through ${HOOK_TOKEN}."""
    urls = [
        f'"{receiver.url("/all")}"',
        f'{{ url = "{receiver.url("/warn")}?+X-Token=${{HOOK_TOKEN}}", level = "WARNING" }}',
    ]
    if dead:
        urls.append(f'"{dead_url()}"')
    config = write_config(f"[notify]\nurls = [{', '.join(urls)}]\n{extra}")
    (config.parent / ".env").write_text(f"HOOK_TOKEN={TOKEN}\n")
    return config


def _everything_written(workspace: Path) -> bytes:
    """Every file a run wrote (the ledger, the logs), not the two the test wrote."""
    return b"".join(
        p.read_bytes() for p in workspace.rglob("*") if p.is_file() and p.name not in (".env", "config.toml")
    )


def _log_events(workspace: Path, event: str) -> list[dict]:
    lines = [
        json.loads(line) for path in (workspace / "logs").glob("*.jsonl") for line in path.read_text().splitlines()
    ]
    return [line for line in lines if line["event"] == event]


def test_placeholders_are_filled_from_the_environment_or_the_env_file(write_config, monkeypatch):
    monkeypatch.setenv("NTFY_TOPIC", "my-topic")
    config_path = write_config(
        '[notify]\nurls = ["ntfys://ntfy.sh/${NTFY_TOPIC}", { url = "json://h.example/${P}" }]\n'
    )
    (config_path.parent / ".env").write_text("P=from-dotenv\nNTFY_TOPIC=loses-to-the-environment\n")
    config = load_config(config_path)
    assert [u.url.get_secret_value() for u in config.notify_urls] == [
        "ntfys://ntfy.sh/my-topic",
        "json://h.example/from-dotenv",
    ]
    assert [u.label for u in config.notify_urls] == ["ntfys://ntfy.sh", "json://h.example"]
    assert "from-dotenv" in config.secret_values() and "my-topic" in config.secret_values()


def test_an_unset_placeholder_leaves_out_that_url_only_and_every_command_still_runs(cli, write_config, receiver):
    """A notification problem never stops trading or the kill switch: the entry is left out, every run's log
    says so once, and the commands asked about the configuration (config check, notify test) fail naming it."""
    config = write_config(
        f'[data]\nseed = 7\n\n[notify]\nurls = ["{receiver.url("/all")}", "tgram://${{BOT_TOKEN}}/${{CHAT}}"]\n'
    )
    (config.parent / ".env").write_text("CHAT=12345\n")
    loaded = load_config(config)
    assert [(u.index, u.label) for u in loaded.notify_urls] == [(1, "json://127.0.0.1")]
    (problem,) = loaded.notify_problems
    message = (
        f"{config}:5: notify.urls.1: ${{BOT_TOKEN}} is not set in the environment or the workspace's .env; "
        "this URL is left out (the others still work)"
    )
    assert (problem.index, problem.variables, problem.message) == (2, ("BOT_TOKEN",), message)
    halted = cli("halt", "--reason", "test", "--config", str(config))
    status = cli("status", "--config", str(config))
    assert (halted.exit_code, status.exit_code) == (0, 0), halted.output + status.output
    assert receiver.titles("/all") == ["autotrader sim: halted: test"]  # the other URL still works
    unusable = _log_events(config.parent, "notify_url_unusable")
    assert [(e["command"], e["setting"], e["variables"]) for e in unusable] == [
        ("halt", "notify.urls.1", ["BOT_TOKEN"])
    ]
    checked = cli("config", "check", "--config", str(config))
    said = " ".join(checked.stderr.split())
    assert checked.exit_code == 2 and message in said
    assert "hint: set BOT_TOKEN in the environment or the workspace's .env" in said
    tested = cli("notify", "test", "--dry-run", "--json", "--config", str(config))
    assert tested.exit_code == 1
    assert [(t["index"], t["target"], t["sent"]) for t in json.loads(tested.stdout)["targets"]] == [
        (1, "json://127.0.0.1", False), (2, "tgram://…", False),
    ]  # fmt: skip
    assert "12345" not in "".join(r.output for r in (halted, status, checked, tested)) + str(unusable)


@pytest.mark.slow  # three commands and four deliveries
def test_notify_test_sends_one_message_to_every_url_whatever_its_level(cli, write_config, receiver):
    config = _workspace(write_config, receiver, dead=True)
    result = cli("notify", "test", "--json", "--config", str(config))
    assert result.exit_code == 1, result.output  # one URL is dead
    targets = json.loads(result.stdout)["targets"]
    assert [(t["index"], t["target"], t["level"], t["sent"]) for t in targets] == [
        (1, "json://127.0.0.1", "INFO", True), (2, "json://127.0.0.1", "WARNING", True),
        (3, "json://127.0.0.1", "INFO", False),
    ]  # fmt: skip
    assert "Connection error" in targets[2]["error"]
    assert [m.path for m in receiver.messages] == ["/all", "/warn"]
    assert receiver.headers[1]["X-Token"] == TOKEN  # the placeholder was filled for apprise, and only there
    human = cli("notify", "test", "--config", str(config))
    assert human.exit_code == 1 and "2 of 3 URL(s) reached" in human.output and "Connection error" in human.output
    assert all(f"#{n} json://127.0.0.1" in human.output for n in (1, 2, 3))  # two URLs on one host, told apart
    shown = cli("config", "show", "--json", "--config", str(config))
    masked = [{"url": "json://127.0.0.1", "level": level} for level in ("INFO", "WARNING", "INFO")]
    assert json.loads(shown.stdout)["settings"]["notify"]["urls"] == masked
    for output in (result.output, human.output, shown.output):
        assert TOKEN not in output and str(receiver.port) not in output


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ntfys://ntfy.sh/my-topic", "ntfys://ntfy.sh"),
        ("json://127.0.0.1:8080/hook?+X-Token=abc", "json://127.0.0.1"),
        ("mailtos://me:pa/ss@gmail.com?to=you@example.com", "mailtos://…"),  # a password with a slash: no host seen
        ("mailtos://me:secret@gmail.com?to=you@example.com", "mailtos://gmail.com"),
        ("tgram://123456:AAE-bot-token/987", "tgram://…"),  # Telegram's token stands where a host would
        ("discord://webhook-id/webhook-token", "discord://…"),
    ],
)
def test_a_url_shows_only_its_scheme_and_a_host_name(url, shown):
    assert mask_url(url) == shown


def test_urls_that_are_not_a_list_are_refused_without_quoting_them(write_config):
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(f'[notify]\nurls = "json://h.example/{TOKEN}"\n'))
    assert "notify.urls: Value error, must be a list" in raised.value.message and TOKEN not in raised.value.message
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(f'[notify]\nurls = ["h.example/{TOKEN}"]\n'))
    assert "notify.urls.0.url" in raised.value.message and TOKEN not in raised.value.message


def test_notify_test_without_urls_is_bad_input_and_under_dry_run_sends_nothing(cli, write_config):
    result = cli("notify", "test", "--config", str(write_config("")))
    assert result.exit_code == 2 and "[notify] urls is empty" in result.stderr
    dry = cli(
        "notify", "test", "--dry-run", "--json", "--config", str(write_config(f'[notify]\nurls = ["{dead_url()}"]\n'))
    )
    assert dry.exit_code == 0
    assert json.loads(dry.stdout)["targets"] == [
        {"index": 1, "target": "json://127.0.0.1", "level": "INFO", "sent": False, "error": "not sent (--dry-run)"}
    ]


@pytest.mark.slow  # four runs, each opening a ledger
def test_a_halt_is_announced_once_and_a_dead_url_changes_no_exit_code(cli, write_config, receiver):
    config = _workspace(write_config, receiver, dead=True)
    results = [
        cli("halt", "--reason", "earnings week", "--config", str(config)),
        cli("halt", "--reason", "still earnings week", "--config", str(config)),  # the same halt
        cli("resume", "--config", str(config)),
        cli("resume", "--config", str(config)),  # not halted: nothing happened
    ]
    assert [r.exit_code for r in results] == [0, 0, 0, 0]
    assert receiver.titles("/warn") == [
        "autotrader sim: halted: earnings week",
        "autotrader sim: resumed: the kill switch is off",
    ]
    assert receiver.titles("/all") == receiver.titles("/warn")
    failed = _log_events(config.parent, "notify_failed")
    assert [(e["command"], e["target"]) for e in failed] == [
        ("halt", "json://127.0.0.1"),
        ("resume", "json://127.0.0.1"),
    ]
    assert "the failures are in the log" in results[0].output
    outputs = "".join(r.output for r in results).encode()
    assert TOKEN.encode() not in outputs + _everything_written(config.parent)
    assert f":{receiver.port}".encode() not in _everything_written(config.parent)


def test_a_quiet_run_and_a_dry_run_send_nothing(cli, write_config, receiver):
    config = _workspace(write_config, receiver)
    quiet = cli("run-daily", "--json", "--as-of", SATURDAY, "--config", str(config))
    assert quiet.exit_code == 0 and not any("notifications" in n for n in json.loads(quiet.stdout)["notes"])
    dry = cli("halt", "--dry-run", "--json", "--config", str(config))
    assert dry.exit_code == 0
    assert (
        json.loads(dry.stdout)["notes"][-1]
        == "notifications: not sent under --dry-run (1): halted: halted by the owner"
    )
    assert receiver.messages == []


def test_a_run_that_fails_without_a_report_still_alerts_with_its_exit_code(write_config, receiver):
    config = str(_workspace(write_config, receiver))

    def lost(ctx):
        raise TransientError("the broker did not answer after 3 tries")

    def bug(ctx):
        raise RuntimeError("injected")

    outcomes = [invoke(name, body, config_path=config, as_of=SATURDAY, dry_run=False) for name, body in
                [("sync", lost), ("sync", lost), ("size", bug)]]  # fmt: skip
    assert [o.exit_code for o in outcomes] == [75, 75, 1]
    assert [(m.path, m.type, m.title) for m in receiver.messages] == [
        ("/all", "warning", "autotrader sim: connection problem: sync (exit 75, safe to rerun)"),
        ("/warn", "warning", "autotrader sim: connection problem: sync (exit 75, safe to rerun)"),
        ("/all", "failure", "autotrader sim: size failed (exit 1)"),
        ("/warn", "failure", "autotrader sim: size failed (exit 1)"),
    ]  # the second lost connection is the same event that session: not sent again
    assert receiver.messages[0].body.startswith("the broker did not answer after 3 tries")
    assert "unexpected error: RuntimeError: injected" in receiver.messages[2].body


# -- a replay with injected events ------------------------------------------------------------------------------

START, END = "2026-03-02", "2026-03-03"
BAD_FILE = "symbol,category,source,conviction,entry,stop,target,generated_at\nXOM,swing\n"


@pytest.mark.slow
def test_a_replay_with_notify_sends_each_injected_event_once(write_config, receiver, monkeypatch):
    """Day one: a structurally bad inbox file, positions that lose (large_loss_usd = 1); day two: yesterday's
    close restated a million dollars higher (the daily loss breaker stops the morning's entries), then a step
    that crashes at 10:00 (the failed run ends the replay). Each arrives once at /warn, which takes nothing less
    than a warning; /all has them too, with the orders and the end-of-day summary. A dead URL changes nothing."""
    config = _workspace(
        write_config,
        receiver,
        dead=True,
        extra='large_loss_usd = 1.0\n\n[schedule]\ntimes = ["09:00", "10:00", "15:30", "16:15"]\n',
    )
    from autotrader.pipeline import scan

    monkeypatch.setattr(scan, "owns_inbox", lambda ctx: True)  # a replay never reads the inbox: this one does
    original = STEPS["profittake"]

    def crash_on_day_two(ctx):
        if ctx.now == datetime(2026, 3, 3, 10, 0, tzinfo=ET):
            raise RuntimeError("injected failure")
        return original(ctx)

    monkeypatch.setitem(STEPS, "profittake", crash_on_day_two)

    def inject(ctx, slot: int) -> None:
        if ctx.now == datetime(2026, 3, 2, 9, 0, tzinfo=ET):
            inbox = config.parent / "signals" / "inbox"
            inbox.mkdir(parents=True, exist_ok=True)
            (inbox / "bad.csv").write_text(BAD_FILE)
        if ctx.now == datetime(2026, 3, 3, 9, 0, tzinfo=ET):
            with ctx.ledger.write():
                ctx.ledger.conn.execute("UPDATE snapshots SET equity = equity + 1e6 WHERE session_date = ?", [START])

    def body(ctx):
        return replay.run(ctx, replay.parse_day(START, "--start"), replay.parse_day(END, "--end"),
                          before_slot=inject, notify=True)  # fmt: skip

    outcome = replay.invoke_replay("replay", body, config_path=str(config), as_of="2026-03-04T12:00", prepare=None,
                                   fresh=True)  # fmt: skip
    assert outcome.exit_code == 1 and outcome.report is not None  # the injected failure's, dead URL or not
    assert outcome.report.failed_at == datetime(2026, 3, 3, 10, 0, tzinfo=ET).astimezone(UTC).isoformat()

    def titles(path: str) -> list[str]:
        return [t.removeprefix("autotrader replay: ") for t in receiver.titles(path)]

    warned = titles("/warn")
    assert [t for t in warned if not t.startswith("large loss: ")] == [
        "1 inbox file rejected: nothing of it imported",
        "breaker tripped: daily loss limit",
        "run-daily failed (exit 1)",
    ], warned
    # Each losing position once a session, though profittake and dipbuy price it at every slot.
    losses = [m for m in receiver.messages if m.path == "/warn" and "large loss: " in m.title]
    priced = [(m.title.split()[4], m.body.rsplit(" at ", 1)[-1][:10]) for m in losses]
    assert priced and len(priced) == len(set(priced))
    crash = next(m for m in receiver.messages if m.path == "/warn" and "failed" in m.title)
    assert (
        crash.type == "failure" and "profittake: failed: unexpected error: RuntimeError: injected failure" in crash.body
    )
    # /all has the same alerts, and the news a warning URL does not take: the orders, the end of day.
    everything = titles("/all")
    news = [t for t in everything if t not in warned]
    assert [t for t in everything if t in warned] == warned and len(everything) == len(set(everything))
    assert [t for t in news if t.startswith("end of day")] == ["end of day 2026-03-02: equity $1,002,943"]
    assert news[0] == "5 orders sent" and "5 fills" in news
    assert all(t.startswith("end of day") or t.endswith(("orders sent", "fills")) for t in news), news
    # Every alert is remembered once; the dead URL failed each of them and changed nothing else.
    conn = sqlite3.connect(config.parent / "ledger-replay.db")
    assert conn.execute("SELECT count(DISTINCT key) FROM notifications").fetchone()[0] == len(everything)
    conn.close()
    assert (
        f"notifications: {len(everything)} alert(s) from the replayed slots sent, {len(everything)} deliveries "
        "failed (see the log: notify_failed)" in outcome.report.notes
    )
