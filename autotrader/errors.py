"""One exception hierarchy. Each class carries the process exit code it maps to: one code per kind of failure.

The CLI catches ``AutotraderError`` once, at the top, prints ``message`` (and ``hint``) without a
traceback and exits with ``exit_code``. Anything else is a bug: exit 1 with the trace in the log.
"""

from __future__ import annotations

from typing import ClassVar


class AutotraderError(Exception):
    """Base class of every expected failure."""

    exit_code: ClassVar[int] = 1
    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(AutotraderError):
    """Bad input: a config file, a data file, a signal file or a command-line value. Nothing was written."""

    exit_code = 2
    code = "bad_input"


class ConfigError(InputError):
    """The configuration is invalid."""

    code = "bad_config"


class DataError(InputError):
    """A market-data file or response is malformed (names the file and line)."""

    code = "bad_data"


class ReconciliationError(AutotraderError):
    """The broker and the ledger disagree, or an order's outcome is unknown: buying halts."""

    exit_code = 3
    code = "reconciliation"

    def __init__(self, message: str, *, hint: str | None = None, diffs: list[dict] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.diffs = diffs or []


class LockHeld(AutotraderError):
    """Another run holds this workspace's lock."""

    exit_code = 4
    code = "locked"


class SafetyRefusal(AutotraderError):
    """A safety rule refused the run (live without confirmation, clock skew, time travel on a real broker)."""

    exit_code = 5
    code = "safety"


class TransientError(AutotraderError):
    """A temporary failure (network, rate limit) after bounded retries; safe to rerun.

    This is the only type the retry policy retries.
    """

    exit_code = 75
    code = "temporary"


class BrokerError(AutotraderError):
    """The broker refused or failed a request."""

    exit_code = 1
    code = "broker"


class OrderRejected(BrokerError):
    """A definitive rejection (buying power, sub-penny price, not tradable...). Never retried."""

    code = "order_rejected"

    def __init__(self, message: str, *, reason: str = "rejected", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class DuplicateClientOrderId(BrokerError):
    """The broker already has an order with this client_order_id: look it up and adopt it."""

    code = "duplicate_client_order_id"


class AmbiguousOrderOutcome(BrokerError):
    """The submit may or may not have reached the broker (timeout, 5xx, 429): resolve by client_order_id."""

    code = "ambiguous_outcome"


class OrderNotFound(BrokerError):
    """The broker definitively does not know this order."""

    code = "not_found"


EXIT_CODES: dict[int, str] = {
    0: "done (including 'market closed, nothing to do')",
    1: "unexpected failure (a bug), or a failed `status --check`",
    2: "bad input or config; nothing written",
    3: "broker/ledger disagreement or unknown order outcome; buying halted",
    4: "another run holds the workspace lock",
    5: "safety refusal",
    75: "temporary failure after bounded retries; safe to rerun",
}
