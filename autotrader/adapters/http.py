"""The request budget the HTTP data adapters share: a rate limiter, one retry policy, one timeout default.

The Polygon (``polygon_data``, ``sic_sectors``) and Finnhub (``finnhub_reference``) adapters send every
request, pagination pages and retries included, through a ``RequestBudget``:

  - ``RateLimiter``: at most N requests in any sliding minute, as the vendors count them. One limiter per
    API key: Polygon's market data and its reference lookups share one.
  - the retry policy (``call_with_retries``): a rate limit (429), a server error, a timeout or a dropped
    connection is retried up to ``MAX_ATTEMPTS`` times within ``MAX_RETRY_SECONDS``, waiting what the
    server's ``Retry-After`` asks (capped at ``MAX_RETRY_AFTER_SECONDS``) or an exponential back-off with
    jitter; then it becomes ``TransientError`` (exit 75: safe to rerun later). Anything else (a rejected
    key, a missing ticker) is raised at once: retrying cannot change it.
  - timeouts: each adapter gives its SDK a connect and read timeout, ``DEFAULT_TIMEOUT_SECONDS`` unless the
    settings say otherwise, and switches the SDK's own retries off, so that nothing bypasses the limiter.

Which answers count as retryable is the adapter's call (it knows how its SDK reports a status); the
wording of the reasons is shared here so that a log reads the same whatever the vendor. Reasons never hold
a URL or a header: a URL can carry a key.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from autotrader.errors import TransientError

T = TypeVar("T")

#: Connect and read timeout of one request when the settings do not give one.
DEFAULT_TIMEOUT_SECONDS = 10.0
#: Attempts per request (the first one included) before a retryable failure becomes a TransientError.
MAX_ATTEMPTS = 4
#: Give up retrying one request after this long, whatever the attempt count.
MAX_RETRY_SECONDS = 300.0
#: A server's Retry-After is honoured up to this many seconds: a longer ask is capped, and if the server
#: still refuses, the bounded attempts end the run with a TransientError (rerun later) instead of a long stall.
MAX_RETRY_AFTER_SECONDS = 65.0


class RateLimiter:
    """At most ``capacity`` requests in any ``window`` seconds: a sliding log of grant instants.

    A sliding window rather than a token bucket: a bucket refilled at 5/min that starts full lets 10
    requests through in the first minute, which a server counting per minute refuses.

    Args:
        requests_per_minute: the budget; a fraction (e.g. 0.5) spaces single requests further apart.
        monotonic: the time source, in seconds (injectable so tests run on a fake clock).
        sleep: how to wait (injectable, paired with ``monotonic``).
        margin_seconds: how much longer than the window a grant waits for the oldest one to age out. The server
            counts requests by their arrival, which network jitter can bring closer together than their
            departures: a request sent exactly one window after the first of a full window can arrive inside it
            and be refused with a 429.
    """

    def __init__(
        self,
        requests_per_minute: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_seconds: float = 1.0,
    ) -> None:
        if not requests_per_minute > 0:
            raise ValueError("requests_per_minute must be > 0")
        self.capacity = max(1, math.floor(requests_per_minute))
        self.window = 60.0 * self.capacity / requests_per_minute
        self.margin = margin_seconds
        self.sleep = sleep
        self._monotonic = monotonic
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self.granted = 0
        #: Grant instants (``monotonic`` seconds), most recent last, for diagnostics and tests.
        self.history: deque[float] = deque(maxlen=100_000)

    def acquire(self) -> float:
        """Wait until a request may go out; returns the instant it was granted."""
        with self._lock:
            while True:
                now = self._monotonic()
                while self._recent and now - self._recent[0] >= self.window + self.margin:
                    self._recent.popleft()
                if len(self._recent) < self.capacity:
                    self._recent.append(now)
                    self.history.append(now)
                    self.granted += 1
                    return now
                # At least a millisecond: float rounding must not turn this into a busy loop.
                self.sleep(max(self._recent[0] + self.window + self.margin - now, 0.001))


class RetryableRequest(Exception):
    """A failure worth another try (rate limit, server error, timeout). Internal to the retry policy."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds; None when absent or not a number (an HTTP date: back off instead)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def retryable_status(status: int, retry_after: str | None) -> RetryableRequest:
    """The retryable failure for an HTTP status the adapter chose to retry (429 or a server error)."""
    reason = "rate limited (HTTP 429)" if status == 429 else f"server error (HTTP {status})"
    return RetryableRequest(reason, retry_after=retry_after_seconds(retry_after))


def no_answer(vendor: str, error: BaseException) -> RetryableRequest:
    """The retryable failure for a timeout or a dropped connection. Only the exception's type is kept: its
    text can hold the URL."""
    return RetryableRequest(f"no answer from {vendor} ({type(error).__name__})")


_backoff = wait_exponential_jitter(initial=1.0, max=30.0, jitter=1.0)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    retry_after = error.retry_after if isinstance(error, RetryableRequest) else None
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER_SECONDS)
    return _backoff(state)


def call_with_retries(attempt: Callable[[], T], *, sleep: Callable[[float], None], what: str) -> T:
    """Run ``attempt`` under the one retry policy of the data adapters.

    ``attempt`` raises ``RetryableRequest`` for what may pass (429, 5xx, timeout, dropped connection); any
    other exception goes straight through. After ``MAX_ATTEMPTS`` the failure becomes ``TransientError``,
    whose message names ``what`` and the last reason, never a URL's query or a header.
    """
    retrying = Retrying(
        stop=stop_after_attempt(MAX_ATTEMPTS) | stop_after_delay(MAX_RETRY_SECONDS),
        wait=_wait,
        retry=retry_if_exception_type(RetryableRequest),
        sleep=sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except RetryableRequest as e:
        attempts = retrying.statistics.get("attempt_number", MAX_ATTEMPTS)
        raise TransientError(
            f"{what}: {e.reason} (gave up after {attempts} attempts)",
            hint="a temporary failure or a spent rate limit; rerun later",
        ) from None


class RequestBudget:
    """Sends requests under a rate limiter and the retry policy, and counts them (retries included).

    Args:
        limiter: the key's limiter; several budgets may share one (one key, one rate limit).
    """

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.requests = 0

    def call(self, send: Callable[[], T], *, what: str) -> T:
        """``send()`` once a request may go out, again on each ``RetryableRequest`` it raises.

        Raises:
            TransientError: still failing after the bounded attempts; ``what`` names the request.
        """

        def attempt() -> T:
            self.limiter.acquire()
            self.requests += 1
            return send()

        return call_with_retries(attempt, sleep=self.limiter.sleep, what=what)
