"""Options every command shares, declared once (fastapi-cloud-cli style ``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

import typer

DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Plan and print; send nothing, and leave the ledger byte-identical."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Act as if it were this instant (ISO 8601; no offset = New York time). Default: now.",
        metavar="TIME",
    ),
]
ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        help="Config file (default: $AUTOTRADER_CONFIG, else ./config.toml). Its folder is the workspace.",
        metavar="PATH",
    ),
]
