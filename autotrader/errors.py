"""One exception hierarchy. Each class carries the process exit code it maps to (``ExitCode``).

The CLI catches ``AutotraderError`` once, at the top, prints ``message`` (and ``hint``) without a
traceback and exits with ``exit_code``. Anything else is a bug: exit 1 with the trace in the log.
"""

from __future__ import annotations

from typing import ClassVar

from autotrader.domain.enums import ExitCode, RejectReason


class AutotraderError(Exception):
    """Base class of every expected failure."""

    exit_code: ClassVar[ExitCode] = ExitCode.FAILURE
    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(AutotraderError):
    """Bad input: a config file, a data file, a signal file or a command-line value. Nothing was written."""

    exit_code = ExitCode.BAD_INPUT
    code = "bad_input"


class ConfigError(InputError):
    """The configuration is invalid."""

    code = "bad_config"


class DataError(InputError):
    """A market-data file or response is malformed (names the file and line)."""

    code = "bad_data"


class LockHeld(AutotraderError):
    """Another run holds this workspace's lock."""

    exit_code = ExitCode.LOCKED
    code = "locked"


class SafetyRefusal(AutotraderError):
    """A safety rule refused the run (live without confirmation, clock skew, time travel on a real broker)."""

    exit_code = ExitCode.SAFETY
    code = "safety"


class StorageError(AutotraderError):
    """The disk refused a write (full, over quota, failing). The transaction that hit it was rolled back, so the
    ledger holds what it held before; once there is room the next run carries on from there."""

    exit_code = ExitCode.STORAGE
    code = "storage"


class TransientError(AutotraderError):
    """A temporary failure (network, rate limit) after bounded retries; safe to rerun.

    This is the only type the retry policy retries.
    """

    exit_code = ExitCode.TEMPORARY
    code = "temporary"


class BrokerError(AutotraderError):
    """The broker refused or failed a request."""

    exit_code = ExitCode.FAILURE
    code = "broker"


class OrderRejected(BrokerError):
    """A definitive rejection (buying power, sub-penny price, not tradable...). Never retried."""

    code = "order_rejected"

    def __init__(self, message: str, *, reason: RejectReason = RejectReason.REJECTED, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = RejectReason(reason)  # a word outside the vocabulary is a bug: ValueError


class DuplicateClientOrderId(BrokerError):
    """The broker already has an order with this client_order_id: look it up and adopt it."""

    code = "duplicate_client_order_id"


class AmbiguousOrderOutcome(BrokerError):
    """The submit may or may not have reached the broker (timeout, 5xx, 429): resolve by client_order_id.

    ``in_flight``: no answer came (a timeout, a dropped connection), so the request may still be on its way and
    a lookup that finds nothing proves nothing. An answered 429 or 5xx is not in flight: once the broker has
    answered, a lookup that finds no order under the id shows it was not placed."""

    code = "ambiguous_outcome"

    def __init__(self, message: str, *, hint: str | None = None, in_flight: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.in_flight = in_flight


class OrderNotFound(BrokerError):
    """The broker definitively does not know this order."""

    code = "not_found"
