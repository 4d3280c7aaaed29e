"""``doctor``: is this workspace ready to run unattended? Every check says what it found and what to fix.

Read-only: no lock, no runs row, the ledger read through a private copy (a data source's cache writes land
in the copy), nothing ever sent to the broker. Checks, in order:

1. configuration: loaded and valid (else exit 2 before any check), mode and adapters;
2. keys: which keys the chosen adapters need, by name only (never a value);
3. monitor and notify (when configured): the ping URL's host, the metrics folder writable (or makeable), every
   notification URL's ``${NAME}``s set and readable by apprise (nothing pinged, written or sent);
4. broker: account and clock answer; the broker's clock within ``MAX_CLOCK_SKEW`` of this machine's;
5. calendar: the broker's sessions (when it publishes them) agree with XNYS over the next 30 days;
6. market data: SPY's latest complete daily bar is at most one session old; the volatility index answers;
7. reference: a sector for SPY's fellow large caps (information only);
8. rate limits: the broker's remaining requests in its window; the data source's configured rate;
9. requests (Polygon data): the most requests each slot should cost for the held positions, the rebalancer's
   universe and the bar cache, and the minutes the rate limiter needs for them (``requests`` in the report);
   an intraday slot that would outlast the crontab's shortest timeout fails.

The exit code is the most serious failure's: 2 (a key or setting to fix), 5 (clock skew), 3 (calendar or
data disagreement), 75 (a source did not answer: network, outage, rate limit).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autotrader.clock import MarketCalendar, SimulatedClock, SystemClock
from autotrader.domain.enums import ExitCode
from autotrader.domain.reports import Check, DoctorReport, ReportDraft, SlotRequests
from autotrader.errors import AutotraderError, ConfigError
from autotrader.ledger import bar_cache, repo
from autotrader.policy import request_budget as budget
from autotrader.ports import BrokerCalendar, Clock, RateLimitGauge
from autotrader.settings import Config, mask_url

if TYPE_CHECKING:
    from autotrader.bootstrap import Deps
    from autotrader.ledger.db import Ledger

MAX_CLOCK_SKEW = timedelta(seconds=5)
#: The shortest timeout crontab.example gives an intraday slot (12:55 and 15:55, before the closes).
SHORTEST_SLOT_MINUTES = 4
CALENDAR_DAYS = 30
# The more serious first: the exit code is that of the first failing kind in this order.
SEVERITY = (ExitCode.BAD_INPUT, ExitCode.SAFETY, ExitCode.HALTED, ExitCode.TEMPORARY, ExitCode.FAILURE)


def needed_keys(config: Config) -> list[tuple[str, str, bool]]:
    """``(setting name, environment variable, required)`` for the adapters the configuration uses."""
    s = config.settings
    keys: list[tuple[str, str, bool]] = []
    if s.broker.kind == "alpaca":
        keys += [("alpaca_api_key", "ALPACA_API_KEY", True), ("alpaca_secret_key", "ALPACA_SECRET_KEY", True)]
    if s.data.kind == "polygon" or s.reference.kind == "polygon":
        keys.append(("polygon_api_key", "MASSIVE_API_KEY", True))
    if s.reference.kind == "finnhub":
        keys.append(("finnhub_api_key", "FINNHUB_API_KEY", True))
    elif s.data.kind == "polygon" and s.reference.kind == "auto":
        keys.append(("finnhub_api_key", "FINNHUB_API_KEY", False))
    return keys


def _setup_words(config: Config) -> str:
    """The configured broker and data in words, for a check's detail ("simulated broker, offline data")."""
    s = config.settings
    broker = "simulated broker" if s.broker.kind == "sim" else f"Alpaca {s.broker.mode} account"
    data = "Polygon data" if s.data.kind == "polygon" else f"offline {s.data.kind} data"
    return f"{broker}, {data}"


def run(config: Config, at: datetime, dry_run: bool) -> DoctorReport:
    report = ReportDraft(command="doctor", as_of=at, dry_run=dry_run)
    checks: list[Check] = []
    s = config.settings
    checks.append(
        Check(
            "config",
            True,
            f"{config.config_path or 'embedded defaults'}: mode {s.mode_name}, broker {s.broker.kind}, "
            f"data {s.data.kind}, reference {s.reference.kind}",
        )
    )
    present = set(config.secrets.present())
    missing = [env for name, env, required in needed_keys(config) if required and name not in present]
    named = [f"{env} {'set' if name in present else 'not set'}" for name, env, _ in needed_keys(config)]
    checks.append(
        Check(
            "keys",
            not missing,
            ", ".join(named) or f"no keys needed ({_setup_words(config)})",
            fix=f"set {', '.join(missing)} in the environment or the workspace's .env" if missing else "",
            exit_code=ExitCode.BAD_INPUT if missing else ExitCode.OK,
        )
    )
    checks.extend(outlet_checks(config))
    budget: list[SlotRequests] = []
    if not missing:
        live, budget = _live_checks(config, at)
        checks.extend(live)
    failed = [c for c in checks if not c.ok]
    report.notes.append(
        f"{len(checks)} checks, {len(failed)} failed" + (f": {', '.join(c.name for c in failed)}" if failed else "")
    )
    if failed:
        report.ok = False
        codes = {c.exit_code for c in failed}
        report.exit_code = next((code for code in SEVERITY if code in codes), ExitCode.FAILURE)
    return report.build(DoctorReport, checks=checks, requests=budget)


def outlet_checks(config: Config) -> list[Check]:
    """``monitor`` and ``notify``, when configured: where the news goes. Nothing is pinged, written or sent."""
    checks = []
    monitor = config.settings.monitor
    if monitor.ping_url is not None or monitor.textfile_dir is not None:
        checks.append(_monitor(config))
    if config.settings.notify.urls:
        checks.append(_notify(config))
    return checks


def _monitor(config: Config) -> Check:
    from autotrader.bootstrap import build_monitor

    settings = config.settings.monitor
    monitor = build_monitor(config, config.settings.mode_name)
    assert monitor is not None  # a ping URL or a folder is configured
    parts, problem = [], monitor.textfile_problem()
    if settings.ping_url is not None:  # an http(s) URL with a host, or the config would not have loaded
        parts.append(f"ping_url: {mask_url(settings.ping_url.get_secret_value())} (not pinged)")
    if settings.textfile_dir is not None:
        folder = config.resolve(settings.textfile_dir)
        file = folder / f"autotrader_{config.settings.mode_name}.prom"
        made = "" if folder.is_dir() else ", made by the first run"
        parts.append(f"metrics: {file}: {problem}" if problem else f"metrics: {file} (folder writable{made})")
    detail = "; ".join(parts)
    if problem:
        fix = "point [monitor] textfile_dir at a folder this user can write (node_exporter's textfile directory)"
        return Check("monitor", False, detail, fix=fix, exit_code=ExitCode.BAD_INPUT)
    return Check("monitor", True, detail)


def _notify(config: Config) -> Check:
    """Each ``[notify] urls`` entry: its ${NAME}s set, and a URL apprise can read (nothing is sent)."""
    from autotrader.bootstrap import build_notifier

    notifier = build_notifier(config)
    unreadable = notifier.unreadable() if notifier is not None else []
    labels = {u.index: u.label for u in config.notify_urls}
    problems = [p.message for p in config.notify_problems]
    problems += [f"notify.urls.{i - 1} ({labels[i]}): apprise cannot read it: {why}" for i, why in unreadable]
    fixes = [p.fix for p in config.notify_problems]
    if unreadable:
        fixes.append("write the URL as apprise's documentation of its service gives it")
    if problems:
        return Check("notify", False, "; ".join(problems), fix="; ".join(fixes), exit_code=ExitCode.BAD_INPUT)
    shown = ", ".join(f"#{u.index} {u.label} ({u.level})" for u in config.notify_urls)
    return Check("notify", True, f"{len(config.notify_urls)} URL(s) apprise can read: {shown} (nothing sent)")


def _live_checks(config: Config, at: datetime) -> tuple[list[Check], list[SlotRequests]]:
    """The checks that talk to the broker and the data source, through the same adapters a run builds, and the
    requests each slot is expected to cost."""
    from autotrader.bootstrap import build_deps
    from autotrader.ledger.db import open_ledger

    checks: list[Check] = []
    present = abs(datetime.now(UTC) - at) < timedelta(minutes=1)
    clock = SystemClock() if present else SimulatedClock(at)
    # A private copy (or an empty one): doctor never writes to the real ledger.
    ledger = open_ledger(config.ledger_path, snapshot=True)
    try:
        try:
            deps = build_deps(config, ledger, clock, dry_run=True)
        except AutotraderError as error:
            return [Check("adapters", False, error.message, fix=error.hint or "", exit_code=error.exit_code)], []
        label = "simulated" if config.settings.broker.kind == "sim" else f"Alpaca {config.settings.broker.mode}"
        checks.append(_guarded("broker", lambda: _broker(deps.broker, clock, skew=present, label=label)))
        checks.append(_guarded("calendar", lambda: _calendar(deps.broker_calendar, deps.calendar, clock)))
        checks.append(_guarded("market data", lambda: _market_data(deps, clock)))
        checks.append(_guarded("reference", lambda: _reference(deps.reference)))
        checks.append(_guarded("rate limits", lambda: _rate_limits(config, deps.rate_limit)))
        budget = (
            expected_requests(config, ledger, deps.calendar, clock) if config.settings.data.kind == "polygon" else []
        )
        if budget:
            checks.append(_requests_check(config, budget))
    finally:
        ledger.close()
    return checks, budget


def expected_requests(config: Config, ledger: Ledger, calendar: MarketCalendar, clock: Clock) -> list[SlotRequests]:
    """The most market-data requests each request-spending ``run-daily`` slot should cost with this ledger's
    positions and bar cache and this configuration's universe and rate (``policy.request_budget``)."""
    rpm = config.settings.data.requests_per_minute
    held = {p.symbol for p in repo.all_positions(ledger)}
    rows = [budget.intraday_budget(len(held), rpm)]
    rebalance = config.settings.rebalance
    if rebalance.enabled:
        universe = {t for tickers in rebalance.groups.values() for t in tickers}
        last = calendar.last_closed_session(clock.now())
        window = calendar.sessions_between(calendar.sessions_back(last, rebalance.backtest_days - 1), last)
        cached = set(bar_cache.grouped_sessions(ledger)) & set(window)
        rows.append(budget.rebalance_budget(len(universe), len(window), len(cached), rpm))
    return rows


def _requests_check(config: Config, rows: list[SlotRequests]) -> Check:
    rpm = config.settings.data.requests_per_minute
    parts = [f"{r.slot} <= {r.requests} ({r.minutes:g} min at {rpm:g}/min)" for r in rows]
    intraday = next(r for r in rows if r.slot == "intraday")
    detail = "expected Polygon requests per slot: " + "; ".join(parts)
    if intraday.minutes > SHORTEST_SLOT_MINUTES:
        return Check(
            "requests",
            False,
            detail,
            fix=f"an intraday slot would outlast the crontab's {SHORTEST_SLOT_MINUTES}-minute timeout: hold fewer "
            "symbols or raise [data] requests_per_minute with a paid plan",
            exit_code=ExitCode.TEMPORARY,
        )
    return Check("requests", True, detail)


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except ConfigError as error:
        return Check(
            name, False, error.message, fix=error.hint or "check the keys and settings", exit_code=ExitCode.BAD_INPUT
        )
    except AutotraderError as error:
        code = ExitCode.TEMPORARY if error.exit_code in (ExitCode.FAILURE, ExitCode.TEMPORARY) else error.exit_code
        return Check(name, False, error.message, fix=error.hint or "check the network and try again", exit_code=code)


def _broker(broker: Any, clock: Any, *, skew: bool, label: str) -> Check:
    account = broker.account()
    if broker.time_travel:
        return Check("broker", True, f"{label}: equity {account.equity:,.2f}, cash {account.cash:,.2f}")
    if not skew:
        return Check("broker", True, f"{label}: equity {account.equity:,.2f}; clock skew not checked (--as-of)")
    before = clock.now()
    broker_clock = broker.clock()
    after = clock.now()
    local = before + (after - before) / 2  # the round trip's midpoint, the fairest local instant
    offset = abs(broker_clock.timestamp - local)
    detail = f"{label}: equity {account.equity:,.2f}; broker clock {offset.total_seconds():.2f} s from this machine's"
    if offset > MAX_CLOCK_SKEW:
        return Check(
            "broker", False, detail, fix="synchronise this machine's clock (NTP/chrony)", exit_code=ExitCode.SAFETY
        )
    return Check("broker", True, detail)


def _calendar(published: BrokerCalendar | None, calendar: MarketCalendar, clock: Clock) -> Check:
    if published is None:
        return Check("calendar", True, "the broker uses the toolkit's XNYS calendar")
    today = clock.now().date()
    end = today + timedelta(days=CALENDAR_DAYS)
    theirs = {s.session: (s.open_at, s.close_at) for s in published.calendar(today, end)}
    ours = {d: (calendar.session_open(d), calendar.session_close(d)) for d in calendar.sessions_between(today, end)}
    differences = [
        f"{d}: broker {theirs.get(d, 'closed')}, XNYS {ours.get(d, 'closed')}"
        for d in sorted(set(theirs) | set(ours))
        if theirs.get(d) != ours.get(d)
    ]
    if differences:
        return Check(
            "calendar", False, "; ".join(differences[:3]),
            fix="update exchange-calendars (pip install -U exchange-calendars) or report the broker's calendar",
            exit_code=ExitCode.HALTED,
        )  # fmt: skip
    return Check("calendar", True, f"{len(ours)} sessions in the next {CALENDAR_DAYS} days agree with the broker")


def _market_data(deps: Deps, clock: Clock) -> Check:
    market, calendar = deps.market_data, deps.calendar
    now = clock.now()
    expected = calendar.last_closed_session(now)
    bars = market.daily_bars("SPY", expected - timedelta(days=10), expected)
    if not len(bars):
        return Check(
            "market data",
            False,
            "no daily bars for SPY in the last 10 days",
            fix="check the data source",
            exit_code=ExitCode.HALTED,
        )
    last = bars.index[-1].date()
    behind = len(calendar.sessions_between(last, expected)) - 1
    vix = market.vix_daily(expected - timedelta(days=10), expected)
    detail = f"SPY's last daily bar {last} ({behind} session(s) behind {expected}); volatility index: " + (
        f"{float(vix['close'].iloc[-1]):.2f}" if len(vix) else "no bars"
    )
    if deps.volatility_proxy is not None and deps.volatility_proxy.vix_proxied:
        detail += (
            "; WARNING: the plan has no index data, the volatility gauge is the proxy ETF, whose price is not on"
            " the VIX scale: review [risk] vix_bands or set market_regime_enabled = false"
        )
    if behind > 1:
        return Check(
            "market data",
            False,
            detail,
            fix="the data source is stale: check its status and plan",
            exit_code=ExitCode.HALTED,
        )
    return Check("market data", True, detail)


def _reference(reference: Any) -> Check:
    sectors = {s: reference.sector(s) for s in ("AAPL", "JPM", "XOM")}
    known = {s: v for s, v in sectors.items() if v}
    listed = ", ".join(f"{symbol} {sector}" for symbol, sector in known.items())
    return Check("reference", True, f"sectors: {listed or 'none known'}")


def _rate_limits(config: Config, gauge: RateLimitGauge | None) -> Check:
    parts = []
    seen = gauge.rate_limit() if gauge is not None else None
    ok = True
    if seen is not None:
        remaining, limit = seen
        parts.append(f"broker {remaining:g} of {limit:g} requests left in this minute")
        ok = remaining >= 0.1 * limit
    elif config.settings.broker.kind == "alpaca":
        parts.append("the broker has not reported its rate limit yet")
    if config.settings.data.kind == "polygon":
        parts.append(f"Polygon limited here to {config.settings.data.requests_per_minute:g} requests/minute")
    detail = "; ".join(parts) or f"no rate limits apply ({_setup_words(config)})"
    if not ok:
        return Check(
            "rate limits",
            False,
            detail,
            fix="another process is using the same keys heavily",
            exit_code=ExitCode.TEMPORARY,
        )
    return Check("rate limits", True, detail)
