"""``compare``: the same history replayed under several rule sets, and what each change made, signal by signal.

1. **Variants** (``--variant "NAME: SECTION.KEY=VALUE; ..."`` or a TOML file of tables, one per variant): each a
   name and settings overrides, validated as ``--set`` is (``settings.load_config``) before anything runs. The
   first is the base the others are compared with.
2. **Tasks**: one replay per variant (``run_variant``, the one task function of every mode), each into its own
   folder ``compare/<name>/`` of the workspace (its ledger, log and lock), with the synthetic or configured data,
   the sources and the sizing of the config, changed only by the variant's overrides. They run one after another,
   in a local process pool (``--workers N``) or on a Dask cluster (``--scheduler``): each task owns its ledger,
   so the mode changes nothing in what comes out.
3. **Merge** (``policy.whatif``): per variant its equity, return, drawdown, Sharpe and the management side of its
   trades; per variant against the base, the paired difference over the same signals with a session-clustered
   bootstrap interval and a verdict.
"""

from __future__ import annotations

import re
import shutil
import time
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autotrader.clock import ET
from autotrader.domain.enums import ExitCode
from autotrader.errors import ConfigError, InputError
from autotrader.policy import whatif
from autotrader.settings import Override, load_config, parse_override, shown_overrides

if TYPE_CHECKING:
    from autotrader.domain.reports import CompareReport, ReplayReport
    from autotrader.pipeline.context import StepContext

FOLDER = "compare"
MODE = "compare"  # the command's own ledger, ledger-compare.db: its run, nothing else
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_NAME_HINT = "a variant name: lower-case letters, digits, - and _, up to 40 (e.g. base, no-dipbuy, tight_stops)"


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: tuple[Override, ...] = ()

    @property
    def settings(self) -> dict[str, Any]:
        """The overrides as output shows them: by dotted key, secrets masked (as ``replay``'s ``overrides``)."""
        return shown_overrides(self.overrides)


def parse_variant(text: str) -> Variant:
    """``NAME`` (the config as it is) or ``NAME: SECTION.KEY=VALUE; SECTION.KEY=VALUE`` (``;`` between the
    overrides, since a TOML value may hold commas). Raises ``InputError`` (exit 2)."""
    name, colon, rest = text.partition(":")
    name = name.strip()
    if not _NAME.match(name):
        raise InputError(f"--variant {text.strip()[:40]!r}: {name!r} is not a variant name", hint=_NAME_HINT)
    items = [item.strip() for item in rest.split(";") if item.strip()] if colon else []
    try:
        return Variant(name, tuple(parse_override(item) for item in items))
    except ConfigError as error:
        raise InputError(f"--variant {name}: {error.message}", hint=error.hint) from None


def variants_from_file(path: Path) -> list[Variant]:
    """A TOML file with one table per variant, its keys the settings it changes as config.toml writes them::

        [base]
        [no-dipbuy]
        dipbuy.dip_buy_enabled = false
        [tight]
        exits.loss_cut_pct.swing = 5.0

    The variants come in the file's order. Raises ``InputError`` (exit 2) naming the file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"--variants {path}: cannot read it: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"--variants {path}: not TOML: {error}") from None
    variants = []
    for name, table in document.items():
        if not isinstance(table, dict):
            raise InputError(f"--variants {path}: {name!r} is not a table", hint="one [name] table per variant")
        if not _NAME.match(name):
            raise InputError(f"--variants {path}: [{name}] is not a variant name", hint=_NAME_HINT)
        variants.append(Variant(name, tuple(Override(p, v) for p, v in _leaves(table, ()))))
    return variants


def _leaves(table: dict[str, Any], prefix: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], Any]]:
    for key, value in table.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def check_variants(variants: Sequence[Variant], config_path: Path) -> None:
    """At least two, each name once, and each variant's settings valid (``load_config`` with its overrides):
    a bad one is exit 2 naming the variant, before any replay runs."""
    if len(variants) < 2:
        raise InputError(
            f"compare needs at least two variants, got {len(variants)}",
            hint='e.g. --variant base --variant "no-dipbuy: dipbuy.dip_buy_enabled=false"',
        )
    seen: set[str] = set()
    for v in variants:
        if v.name in seen:
            raise InputError(f"--variant {v.name}: the name is given twice")
        seen.add(v.name)
        try:
            load_config(config_path, overrides=v.overrides)
        except ConfigError as error:
            raise InputError(f"--variant {v.name}: {error.message}", hint=error.hint) from None


# -- the task: one variant's replay --------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantTask:
    """Everything a worker needs, picklable: the variant, the config file, the sessions, its folder."""

    variant: Variant
    config_path: str
    start: date
    end: date
    as_of: str | None
    folder: str


@dataclass(frozen=True)
class VariantResult:
    name: str
    exit_code: int
    error: str | None
    seconds: float
    orders: int = 0
    fills: int = 0
    final_equity: float | None = None
    performance: dict[str, Any] | None = None
    equity: tuple[tuple[str, float], ...] = ()  # (session date, equity) from the close before the first
    signals: dict[str, whatif.SignalResult] = field(default_factory=dict)
    pick_pnl: float = 0.0
    managed_pnl: float = 0.0
    management: dict[str, float] = field(default_factory=dict)  # leg value vs the pick, summed per action


def run_variant(task: VariantTask) -> VariantResult:
    """Replay the variant into its own folder and read what it did: the one task of every execution mode."""
    from autotrader.pipeline import replay

    folder = Path(task.folder)
    own = (Override(("ledger", "dir"), str(folder)), Override(("logs", "dir"), str(folder / "logs")),
           Override(("notify", "urls"), []))  # fmt: skip
    config_path = Path(task.config_path)
    read: dict[str, Any] = {}

    def body(ctx: StepContext) -> ReplayReport:
        report = replay.run(ctx, task.start, task.end, score=False)
        if report.exit_code == ExitCode.OK:
            read.update(_read(ctx, report))
        return report

    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    outcome = replay.invoke_replay(
        "replay",
        body,
        config_path=task.config_path,
        as_of=task.as_of,
        fresh=True,
        load=lambda: load_config(config_path, overrides=(*task.variant.overrides, *own)),
        lock_path=folder / ".autotrader.lock",
    )
    seconds = round(time.perf_counter() - started, 3)
    if outcome.report is None or outcome.exit_code != ExitCode.OK:
        message = outcome.error.message if outcome.error is not None else f"exit {outcome.exit_code}"
        return VariantResult(task.variant.name, int(outcome.exit_code), message, seconds)
    return VariantResult(task.variant.name, int(outcome.exit_code), None, seconds, **read)


def _read(ctx: StepContext, report: ReplayReport) -> dict[str, Any]:
    """The variant's account path and its signals' P&L, from its ledger at the replay's last instant."""
    from autotrader.ledger import repo
    from autotrader.pipeline import trades

    pnl: dict[int, float] = defaultdict(float)
    management: dict[str, float] = defaultdict(float)
    pick = managed = 0.0
    for view in trades.load(ctx):
        a = view.attribution
        if view.trade.signal_id is not None:
            pnl[view.trade.signal_id] += a.managed_pnl
        pick += a.pick_pnl
        managed += a.managed_pnl
        for leg in a.legs:
            management[leg.action] += leg.pnl_vs_pick
    signals = {
        row.key: whatif.SignalResult(row.generated_at.astimezone(ET).date(), round(pnl.get(row.id, 0.0), 6),
                                     row.id in pnl)  # fmt: skip
        for row in repo.signal_identities(ctx.ledger)
    }
    calendar = ctx.deps.calendar
    start = date.fromisoformat(report.start)
    equity = [(calendar.previous_session(start).isoformat(), float(ctx.settings.broker.starting_cash))]
    equity += [(s.session_date, s.equity) for s in repo.snapshots(ctx.ledger) if s.session_date >= report.start]
    performance = report.performance.to_json() if report.performance is not None else None
    return {
        "orders": report.orders_total, "fills": report.fills_total, "final_equity": report.final_equity,
        "performance": performance, "equity": tuple(equity), "signals": signals,
        "pick_pnl": round(pick, 2), "managed_pnl": round(managed, 2),
        "management": {k: round(v, 2) for k, v in sorted(management.items())},
    }  # fmt: skip


# -- running the tasks -----------------------------------------------------------------------------------------

Runner = Callable[[Sequence[VariantTask]], list[VariantResult]]


def serial(tasks: Sequence[VariantTask]) -> list[VariantResult]:
    return [run_variant(t) for t in tasks]


def process_pool(workers: int) -> Runner:
    """A local pool of ``workers`` processes, started fresh (spawn): a forked child would inherit the parent's
    open ledger connections, which SQLite does not allow to be used across a fork."""

    def run(tasks: Sequence[VariantTask]) -> list[VariantResult]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(run_variant, tasks))

    return run


def dask_cluster(address: str) -> Runner:
    """The tasks on an existing Dask distributed scheduler (``pip install autotrader[cluster]``); each worker
    needs autotrader installed and the workspace's config and data reachable at the same paths."""

    def run(tasks: Sequence[VariantTask]) -> list[VariantResult]:
        try:
            from distributed import Client
        except ImportError:
            raise InputError(
                "--scheduler needs Dask distributed", hint="pip install 'autotrader[cluster]'"
            ) from None
        with Client(address, timeout="30s") as client:
            futures = client.map(run_variant, list(tasks), pure=False)
            return list(client.gather(futures))

    return run


# -- the step --------------------------------------------------------------------------------------------------


def run(ctx: StepContext, variants: Sequence[Variant], start: date, end: date, runner: Runner,
        *, mode: str, seed: int = 0, html: Path | None = None) -> CompareReport:  # fmt: skip
    """Every variant replayed over [start, end], then each against the first (``policy.whatif``); ``html``: also
    the page (``exports.compare``)."""
    from autotrader.domain.reports import CompareReport
    from autotrader.pipeline import replay

    replay.validate_range(ctx, start, end)
    if ctx.config.config_path is None:
        raise InputError("compare needs a config file", hint="pass --config PATH (or run `autotrader demo`)")
    base_folder = ctx.config.workspace / FOLDER
    tasks = [
        VariantTask(v, str(ctx.config.config_path), start, end, ctx.now.isoformat(), str(base_folder / v.name))
        for v in variants
    ]
    for stale in (base_folder.iterdir() if base_folder.is_dir() else ()):
        if stale.is_dir() and stale.name not in {v.name for v in variants}:
            shutil.rmtree(stale, ignore_errors=True)  # an earlier compare's variant: its ledger would mislead
    started = time.perf_counter()
    results = runner(tasks)
    elapsed = time.perf_counter() - started
    report = ctx.report()
    failed = [r for r in results if r.exit_code != ExitCode.OK]
    for r in failed:
        report.notes.append(f"{r.name}: the replay failed (exit {r.exit_code}): {r.error}")
    if failed:
        report.exit_code, report.ok = ExitCode(failed[0].exit_code), False
    base = results[0]
    others = [r for r in results[1:] if r.exit_code == ExitCode.OK]
    # Two intervals per variant (its signals, its account): the correction counts both.
    level = whatif.level_for(2 * len(others))
    differences = [] if base.exit_code != ExitCode.OK else [
        whatif.paired(r.name, base.name, r.signals, base.signals, level=level, seed=seed) for r in others
    ]  # fmt: skip
    accounts = [] if base.exit_code != ExitCode.OK else [
        whatif.paired_account(r.name, base.name, r.equity, base.equity, level=level, seed=seed) for r in others
    ]  # fmt: skip
    report.notes.extend(d.statement for d in differences)
    report.notes.extend(a.statement for a in accounts)
    sessions = len(ctx.deps.calendar.sessions_between(start, end))
    report.notes.insert(0, f"compared {len(results)} variants over {sessions} sessions ({start} to {end}) in "
                           f"{elapsed:.1f}s ({mode})")  # fmt: skip
    by_name = {v.name: v for v in variants}
    report.fields.update(
        start=start.isoformat(), end=end.isoformat(), sessions=sessions, base=base.name, mode=mode,
        seconds=round(elapsed, 3), level=level,
        variants=[_variant_row(r, by_name[r.name]) for r in results],
        differences=[_difference_row(d) for d in differences],
        accounts=[_account_row(a) for a in accounts],
        benchmark=(base.performance or {}).get("benchmark"),
    )  # fmt: skip
    if html is not None:
        report.fields["html"] = str(_write_page(ctx, html, report.build(CompareReport), start, end))
        report.notes.append(f"wrote {report.fields['html']}")
    return report.build(CompareReport)


def _write_page(ctx: StepContext, path: Path, report: CompareReport, start: date, end: date) -> Path:
    from autotrader.exports.compare import write_html
    from autotrader.exports.fmt import ny_time
    from autotrader.exports.html_page import PageFacts
    from autotrader.pipeline.scorecard_panels import BENCHMARK

    calendar = ctx.deps.calendar
    bars = ctx.deps.market_data.daily_bars(BENCHMARK, calendar.previous_session(start), end)
    facts = PageFacts(f"autotrader compare {start} to {end}", ny_time(ctx.now), simulated=True, dry_run=False,
                      synthetic=ctx.settings.data.kind == "synthetic")  # fmt: skip
    return write_html(path, report, facts, None if bars.empty else bars["close"])


def _variant_row(r: VariantResult, v: Variant) -> dict[str, Any]:
    figures = (r.performance or {}).get("account") or {}
    return {
        "name": r.name, "settings": v.settings, "exit_code": r.exit_code, "error": r.error, "seconds": r.seconds,
        "orders": r.orders, "fills": r.fills, "final_equity": r.final_equity,
        "total_return": figures.get("total_return"), "cagr": figures.get("cagr"),
        "max_drawdown": figures.get("max_drawdown"), "sharpe": figures.get("sharpe"),
        "signals": len(r.signals), "traded": sum(s.traded for s in r.signals.values()),
        "pick_pnl": r.pick_pnl, "managed_pnl": r.managed_pnl, "management_alpha": round(r.managed_pnl - r.pick_pnl, 2),
        "management": r.management, "equity": [list(point) for point in r.equity],
    }  # fmt: skip


def _difference_row(d: whatif.Difference) -> dict[str, Any]:
    return {
        "variant": d.variant, "base": d.base, "signals": d.signals, "traded": d.traded, "sessions": d.sessions,
        "total": round(d.total, 2), "lo": None if d.lo is None else round(d.lo, 2),
        "hi": None if d.hi is None else round(d.hi, 2), "level": d.level, "verdict": d.verdict,
        "statement": d.statement,
    }  # fmt: skip


def _account_row(a: whatif.AccountDifference) -> dict[str, Any]:
    return {
        "variant": a.variant, "base": a.base, "sessions": a.sessions, "total": round(a.total, 2),
        "lo": None if a.lo is None else round(a.lo, 2), "hi": None if a.hi is None else round(a.hi, 2),
        "level": a.level, "block": a.block, "verdict": a.verdict, "statement": a.statement,
    }  # fmt: skip
