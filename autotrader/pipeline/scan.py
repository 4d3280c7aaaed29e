"""``scan``: signal intake. Documents in, validated signals stored once, inbox files archived.

1. Gather: the inbox's ``*.csv`` and ``*.json`` sorted by name (or the ``--file`` paths, ``-`` = stdin),
   plus every document the built-in sources (``deps.signal_sources``) have published for the New York
   date of the as-of.
2. Parse all of them (``policy.signal_files``). A structurally bad document given by hand (``--file``, stdin)
   stops the run with exit 2 before anything is written: never a partial set, which a rerun could not tell
   from a whole one. A structurally bad *inbox* file is set aside instead, as an unattended run must: it is
   moved to ``<rejected>/<YYYY-MM-DD>/`` with ``<name>.reason.txt`` beside it (file:line and why), listed in
   the report's ``rejected`` and logged as ``signal_file_rejected``, and the other documents import as
   usual (one bad cell must not stop every later cron slot). Under ``--dry-run`` it is listed, not moved.
3. Decide duplicates: a document whose SHA-256 is already in ``signal_imports`` (or earlier in this run) is
   a duplicate and stores nothing; a row whose ``Signal.dedupe_key`` is already stored (or earlier in this
   run) is skipped.
4. Apply: one transaction records every new document (``signal_imports``, its skipped rows as JSON) and its
   signals. Only after it commits are inbox files moved to ``<archive>/<YYYY-MM-DD>/`` (New York date of
   the as-of; ``name-1.csv``... when the name is taken). A crash in between leaves the file in the inbox;
   the next scan finds its hash known and just archives it. Duplicate inbox documents are archived too.
   ``--file`` paths outside the inbox and stdin are never moved; under ``--dry-run`` nothing moves.

The inbox belongs to the mode's own ledger: a run writing elsewhere (``replay``'s scratch ledger) reads
only the built-in sources and never touches the inbox, so a replay cannot swallow tomorrow's real files.

The CLI uses ``Intake``: it reads and structurally checks the documents in ``invoke``'s ``prepare`` hook,
before the ledger is opened, so a bad file leaves the ledger byte-identical (or not created) - not even a
``runs`` row. ``run-daily`` calls ``run`` directly (its run is already recorded by then).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from autotrader.clock import ET
from autotrader.domain.models import Signal
from autotrader.domain.reports import ReportDraft, ScanReport, SkipLine
from autotrader.errors import InputError
from autotrader.ledger import repo
from autotrader.pipeline.context import StepContext
from autotrader.policy import signal_files
from autotrader.policy.signal_files import ParsedDocument, SkippedRow
from autotrader.settings import Config

INBOX_SUFFIXES = (".csv", ".json")
STDIN = "-"

IMPORTED, DUPLICATE, EMPTY = "imported", "duplicate", "empty"


@dataclass(frozen=True)
class RawDocument:
    origin: str  # how messages, the report and the ledger name it
    raw: bytes
    path: Path | None = None  # the file on disk; None for stdin and built-in sources
    movable: bool = False  # an inbox file: archived once its import (or duplicate) is committed
    from_inbox: bool = False  # read from the inbox by an unattended scan: set aside, not fatal, when bad
    builtin: bool = False  # from a built-in source (republished every slot: a duplicate is routine)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass
class _Plan:
    doc: RawDocument
    parsed: ParsedDocument
    status: str
    signals: list[Signal] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    archive_to: Path | None = None
    ids: list[int] = field(default_factory=list)
    duplicate_of: str | None = None


# -- gathering -------------------------------------------------------------------------------------


def inbox_path(config: Config) -> Path:
    return config.resolve(config.settings.signals.inbox)


def read_documents(config: Config, files: list[str] | None, *, inbox: bool = True) -> list[RawDocument]:
    """The given files (``-`` = stdin), else the inbox's documents (when ``inbox``). Raises ``InputError``."""
    if files:
        return [_read_given(config, name) for name in files]
    return _read_inbox(config) if inbox else []


def _read_inbox(config: Config) -> list[RawDocument]:
    folder = inbox_path(config)
    if not folder.is_dir():
        return []
    # Dot-files are editors' and writers' temporaries; a writer should write ``x.csv.tmp`` and rename it.
    paths = sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in INBOX_SUFFIXES
        ),
        key=lambda p: p.name,
    )
    return [
        RawDocument(_display(config, p), _read_bytes(p, _display(config, p)), p, movable=True, from_inbox=True)
        for p in paths
    ]


def _read_given(config: Config, name: str) -> RawDocument:
    if name == STDIN:
        raw = sys.stdin.buffer.read()
        return RawDocument(_stdin_origin(raw), raw)
    path = Path(name).expanduser()
    if not path.is_file():
        raise InputError(f"{name}: no such file", hint="--file takes a CSV or JSON signal file, or - for stdin")
    movable = path.resolve().parent == inbox_path(config).resolve()
    return RawDocument(name, _read_bytes(path, name), path, movable=movable)


def _read_bytes(path: Path, origin: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{origin}: cannot read: {e.strerror}") from None


def _stdin_origin(raw: bytes) -> str:
    # stdin has no suffix to choose the format by: a document that opens with [ or { is JSON.
    head = raw.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    return "<stdin>.json" if head in (b"[", b"{") else "<stdin>.csv"


def _display(config: Config, path: Path) -> str:
    """A path relative to the workspace when it is inside it (shorter messages, portable ledger rows)."""
    try:
        return str(path.resolve().relative_to(config.workspace))
    except ValueError:
        return str(path)


def builtin_documents(ctx: StepContext) -> list[RawDocument]:
    day = ctx.now.astimezone(ET).date()
    return [
        RawDocument(name, text.encode("utf-8"), builtin=True)
        for source in ctx.deps.signal_sources
        for name, text in source.documents(day)
    ]


def builtin_notes(ctx: StepContext) -> list[str]:
    """What the built-in sources found wrong in their own inputs this session (e.g. a bad prediction file)."""
    day = ctx.now.astimezone(ET).date()
    return [note for source in ctx.deps.signal_sources for note in getattr(source, "notes", lambda _: [])(day)]


def check_structure(documents: list[RawDocument]) -> None:
    """Raise ``InputError`` for the first structurally bad document given by hand (the row checks need the
    as-of: later); a bad inbox file is the step's to set aside."""
    for doc in documents:
        if not doc.from_inbox:
            signal_files.read_rows(doc.origin, doc.raw)


def rejected_path(config: Config) -> Path:
    return config.resolve(config.settings.signals.rejected)


@dataclass(frozen=True)
class _Rejected:
    doc: RawDocument
    reason: str
    move_to: Path | None  # None under --dry-run, or for a document that is not a file in the inbox


def owns_inbox(ctx: StepContext) -> bool:
    """Whether this run writes to the mode's own ledger (not replay's scratch one): only then is the inbox read."""
    path = ctx.ledger.path
    return path is not None and path.resolve() == ctx.config.ledger_path.resolve()


class Intake:
    """``scan`` from the command line: documents are read and structurally checked in ``prepare`` (invoke's
    hook, under the lock, before the ledger is opened), then ``run`` imports exactly those bytes."""

    def __init__(self, files: list[str] | None) -> None:
        self.files = list(files) if files else None
        self.documents: list[RawDocument] | None = None

    def prepare(self, config: Config) -> None:
        documents = read_documents(config, self.files)
        check_structure(documents)
        self.documents = documents

    def run(self, ctx: StepContext) -> ScanReport:
        return run(ctx, files=self.files, preloaded=self.documents)


# -- the step --------------------------------------------------------------------------------------


def run(ctx: StepContext, *, files: list[str] | None = None, preloaded: list[RawDocument] | None = None) -> ScanReport:
    reads_inbox = owns_inbox(ctx)
    documents = list(preloaded) if preloaded is not None else read_documents(ctx.config, files, inbox=reads_inbox)
    documents += builtin_documents(ctx)

    as_of = ctx.now
    max_age = timedelta(days=ctx.settings.signals.max_age_days)
    known_symbol = ctx.deps.market_data.has_symbol
    # Everything is parsed before anything is decided: one structurally bad document given by hand and nothing
    # imports; a bad inbox file is set aside and the others go on.
    day = as_of.astimezone(ET).date().isoformat()
    parsed: list[ParsedDocument] = []
    kept: list[RawDocument] = []
    rejected: list[_Rejected] = []
    taken: set[Path] = set()
    for doc in documents:
        if doc.builtin and (earlier := repo.import_exists(ctx.ledger, doc.content_hash)) is not None:
            # A built-in source republishes its document every slot: the same bytes were parsed and imported
            # before, so they are a duplicate whatever they hold (parsing them again only to discard them is the
            # larger part of a scan in a replay).
            parsed.append(signal_files.ParsedDocument(doc.origin, earlier["rows_total"], (), ()))
            kept.append(doc)
            continue
        try:
            parsed.append(
                signal_files.parse_document(
                    doc.origin, doc.raw, as_of=as_of, max_age=max_age, known_symbol=known_symbol
                )
            )
            kept.append(doc)
        except InputError as error:
            if not doc.from_inbox:
                raise
            move_to = None
            if not ctx.dry_run and doc.path is not None:
                move_to = _free_name(rejected_path(ctx.config) / day, doc.path.name, taken)
            rejected.append(_Rejected(doc, error.message, move_to))
    archive_dir = ctx.config.resolve(ctx.settings.signals.archive) / day
    plans = _plan(ctx, kept, parsed, archive_dir)

    new = [p for p in plans if p.status != DUPLICATE]
    if new:
        with ctx.ledger.write():
            for plan in new:
                _, plan.ids = repo.record_import(
                    ctx.ledger,
                    content_hash=plan.doc.content_hash,
                    origin=plan.doc.origin,
                    signals=plan.signals,
                    skipped=[{"line": s.line, "symbol": s.symbol, "reason": s.reason} for s in plan.skipped],
                    rows_total=plan.parsed.rows,
                    archive_path=_display(ctx.config, plan.archive_to) if plan.archive_to else None,
                    run_id=ctx.run_id,
                    now=as_of,
                )

    report = _report(ctx, plans, reads_inbox)
    report.notes.extend(builtin_notes(ctx))
    if ctx.settings.rank.enabled:
        _rank_preview(ctx, report)
    if not ctx.dry_run:
        # Only after the commit: a crash before this line leaves files in the inbox, archived next time.
        for plan in plans:
            if plan.archive_to is not None:
                _archive(ctx.config, plan, report)
    report.fields["rejected"] = [_set_aside(ctx, r, report) for r in rejected]
    return report.build(ScanReport)


def _rank_preview(ctx: StepContext, report: ReportDraft) -> None:
    """``[rank]``: the undecided signals in the order ``size`` would spend the cap on them now, each tagged."""
    from autotrader.pipeline.size import ranking_preview

    report.fields["ranking"] = ranking_preview(ctx)
    if ctx.dry_run:
        report.notes.append("ranking: the signals already stored only (a dry run stores none of this scan's)")
    elif report.fields["ranking"]:
        executes = sum(r["tag"] == "execute" for r in report.fields["ranking"])
        report.notes.append(
            f"ranking: {executes} of {len(report.fields['ranking'])} undecided signal(s) would be sized now "
            "(`size` decides; see `ranking`)"
        )


def _set_aside(ctx: StepContext, rejected: _Rejected, report: ReportDraft) -> dict[str, Any]:
    """Move a structurally bad inbox file out of the inbox with its reason beside it, and say so."""
    doc, target = rejected.doc, rejected.move_to
    moved: str | None = None
    if target is not None and doc.path is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(doc.path), str(target))
            target.with_name(target.name + ".reason.txt").write_text(rejected.reason + "\n", encoding="utf-8")
            moved = _display(ctx.config, target)
        except OSError as e:
            report.notes.append(f"could not move {doc.origin} aside: {e.strerror}; the next scan will try again")
    where = f"moved to {moved}" if moved else "left in the inbox" + (" (dry run)" if ctx.dry_run else "")
    report.notes.append(f"rejected {doc.origin}, nothing of it imported ({where}): {rejected.reason}")
    ctx.log.event("signal_file_rejected", file=doc.origin, reason=rejected.reason, moved_to=moved)
    return {"origin": doc.origin, "reason": rejected.reason, "moved_to": moved}


def _plan(
    ctx: StepContext, documents: list[RawDocument], parsed: list[ParsedDocument], archive_dir: Path
) -> list[_Plan]:
    stored = repo.known_dedupe_keys(ctx.ledger, [s.dedupe_key for p in parsed for s in p.signals])
    hashes_seen: dict[str, str] = {}
    keys_seen: dict[str, str] = {}
    taken: set[Path] = set()
    plans = []
    for doc, doc_parsed in zip(documents, parsed, strict=True):
        digest = doc.content_hash
        earlier = repo.import_exists(ctx.ledger, digest)
        if earlier is not None or digest in hashes_seen:
            where = hashes_seen.get(digest) or f"{earlier['origin']} (imported {earlier['imported_at']})"  # type: ignore[index]
            plan = _Plan(doc, doc_parsed, DUPLICATE, duplicate_of=where)
        else:
            hashes_seen[digest] = doc.origin
            plan = _Plan(doc, doc_parsed, IMPORTED if doc_parsed.rows else EMPTY, skipped=list(doc_parsed.skipped))
            for signal in doc_parsed.signals:
                key = signal.dedupe_key
                if key in stored:
                    plan.skipped.append(
                        SkippedRow(signal.line, signal.symbol, "duplicate: this signal is already stored")
                    )
                elif key in keys_seen:
                    plan.skipped.append(SkippedRow(signal.line, signal.symbol, f"duplicate of {keys_seen[key]}"))
                else:
                    keys_seen[key] = f"{doc.origin}:{signal.line}"
                    plan.signals.append(signal)
            plan.skipped.sort(key=lambda s: s.line)
        if doc.movable and doc.path is not None:
            plan.archive_to = _free_name(archive_dir, doc.path.name, taken)
        plans.append(plan)
    return plans


def _free_name(folder: Path, name: str, taken: set[Path]) -> Path:
    """``folder/name``, or ``stem-1.ext``, ``stem-2.ext``... when a file (or an earlier plan) has it."""
    candidate, n = folder / name, 0
    stem, suffix = Path(name).stem, Path(name).suffix
    while candidate.exists() or candidate in taken:
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    taken.add(candidate)
    return candidate


def _archive(config: Config, plan: _Plan, report: ReportDraft) -> None:
    source, target = plan.doc.path, plan.archive_to
    assert source is not None and target is not None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # appeared since planning (another process, by hand): never overwrite
            target = _free_name(target.parent, target.name, set())
        shutil.move(str(source), str(target))
    except OSError as e:
        # The import is committed; the file stays and the next scan archives it as a duplicate.
        report.notes.append(f"could not archive {plan.doc.origin}: {e.strerror}; the next scan will move it")


def _report(ctx: StepContext, plans: list[_Plan], reads_inbox: bool) -> ReportDraft:
    report = ctx.report()
    signals: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    for plan in plans:
        origin = plan.doc.origin
        for signal, signal_id in zip(plan.signals, plan.ids, strict=True):
            signals.append(
                {
                    "id": signal_id,
                    "symbol": signal.symbol,
                    "category": signal.category,
                    "source": signal.source,
                    "conviction": signal.conviction,
                }
            )
        for row in plan.skipped:
            report.skipped.append(SkipLine(row.symbol, row.reason, {"line": row.line, "file": origin}))
        documents.append(
            {
                "origin": origin,
                "status": plan.status,
                "rows": plan.parsed.rows,
                "imported": len(plan.signals),
                "skipped": len(plan.skipped),
                "archived_to": _display(ctx.config, plan.archive_to) if plan.archive_to else None,
            }
        )
        if plan.duplicate_of and not plan.doc.builtin:
            report.notes.append(f"{origin}: duplicate document (same content as {plan.duplicate_of}); nothing stored")
    report.fields.update({"imported": len(signals), "signals": signals, "documents": documents})
    counts = {status: sum(p.status == status for p in plans) for status in (IMPORTED, DUPLICATE, EMPTY)}
    report.notes.insert(
        0,
        f"{len(signals)} signal(s) imported, {len(report.skipped)} row(s) skipped; {len(plans)} document(s): "
        f"{counts[IMPORTED]} imported, {counts[DUPLICATE]} duplicate, {counts[EMPTY]} empty",
    )
    if not reads_inbox:
        report.notes.append("inbox not read: this run writes to a scratch ledger (built-in sources only)")
    return report
