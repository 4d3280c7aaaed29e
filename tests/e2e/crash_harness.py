"""Running the real command in a child process that dies on purpose, and checking a workspace converged.

``run_child`` starts ``python -m autotrader ...`` with extra environment (``AUTOTRADER_KILL_AT`` to die at a
named kill point) or a file-size limit (a full disk without root). ``violations`` reads a workspace that uses
the simulated broker, whose state lives in the same ledger file as the toolkit's, and lists every way the
toolkit and the broker disagree; an empty list is convergence.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

from autotrader import killpoints

# A child starts in about two seconds; one stuck for this long is a hang, not a slow machine.
CHILD_TIMEOUT_S = 120


def run_child(
    config: Path, *args: str, env: dict[str, str] | None = None, max_file_bytes: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``autotrader <args> --config <config>`` in a child process, in the workspace folder."""

    def limit_file_size() -> None:  # runs in the child before it starts: every file it writes stops there
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run(
        [sys.executable, "-m", "autotrader", *args, "--config", str(config)],
        cwd=config.parent,
        env={**os.environ, **(env or {})},
        preexec_fn=limit_file_size if max_file_bytes is not None else None,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )


def run_killed(config: Path, point: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command with the kill switch set; it must die there (exit 137), not finish."""
    done = run_child(config, *args, env={killpoints.ENV: point})
    assert done.returncode == killpoints.KILL_EXIT_CODE, (
        f"{point}: exit {done.returncode}, the kill point was never reached\n{done.stdout}\n{done.stderr}"
    )
    return done


def read(folder: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(folder / "ledger-sim.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def submits_per_order(folder: Path) -> Counter[str]:
    """How many times each client order id was POSTed to the broker, from every day's log."""
    sent: Counter[str] = Counter()
    for path in sorted((folder / "logs").glob("autotrader-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event["event"] == "order_submit":
                sent[event["client_order_id"]] += 1
    return sent


def violations(folder: Path) -> list[str]:
    """Every disagreement between the ledger and the simulated broker, after a completed reconcile.

    How often an order was *sent* is not among them: a send the broker provably never took (its own write
    failed) is rightly sent again; ``submits_per_order`` counts sends for the tests where none may repeat."""
    found: list[str] = []
    integrity = read(folder, "PRAGMA integrity_check")
    if integrity != [("ok",)]:
        found.append(f"integrity_check: {integrity}")
    at_broker = Counter(cid for (cid,) in read(folder, "SELECT client_order_id FROM sim_orders"))
    found += [f"{cid} is at the broker {n} times" for cid, n in at_broker.items() if n > 1]
    intents = {cid: (status, broker_id) for cid, status, broker_id in read(
        folder, "SELECT client_order_id, status, broker_order_id FROM order_intents"
    )}
    roots = read(folder, "SELECT broker_order_id, client_order_id FROM sim_orders WHERE parent_broker_order_id IS NULL")
    for broker_id, cid in roots:
        if cid not in intents:
            found.append(f"broker order {broker_id} ({cid}) has no intent")
        elif intents[cid][1] != broker_id:
            found.append(f"intent {cid} records broker order {intents[cid][1]}, the broker has {broker_id}")
    found += [f"intent {cid} left {s}" for cid, (s, _) in intents.items() if s in ("submitting", "unknown")]
    ours = dict(read(folder, "SELECT symbol, SUM(qty) FROM positions GROUP BY symbol HAVING ABS(SUM(qty)) > 1e-9"))
    theirs = dict(read(folder, "SELECT symbol, qty FROM sim_positions WHERE ABS(qty) > 1e-9"))
    if ours != theirs:
        found.append(f"positions differ: ledger {ours}, broker {theirs}")
    our_fills = {f for (f,) in read(folder, "SELECT fill_id FROM fills")}
    their_fills = {f for (f,) in read(folder, "SELECT fill_id FROM sim_fills")}
    if our_fills != their_fills:
        only_ours, only_theirs = our_fills - their_fills, their_fills - our_fills
        found.append(f"fills only in the ledger: {only_ours}; only at the broker: {only_theirs}")
    return found


def broker_orders(folder: Path) -> set[tuple]:
    """What the broker holds, by client order id: the state an uninterrupted run must also reach."""
    return set(read(folder, "SELECT client_order_id, symbol, side, qty, status, filled_qty FROM sim_orders"))
