"""The adapters' request budget on its own: limiter, retry policy, counting, reasons (no server needed)."""

from __future__ import annotations

import pytest

from autotrader.adapters.http import (
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER_SECONDS,
    RateLimiter,
    RequestBudget,
    no_answer,
    retry_after_seconds,
    retryable_status,
)
from autotrader.errors import DataError, TransientError
from tests.fakes.polygon_server import FakeTimer


def budget(rpm: float = 60) -> tuple[RequestBudget, FakeTimer]:
    timer = FakeTimer()
    return RequestBudget(RateLimiter(rpm, monotonic=timer.monotonic, sleep=timer.sleep)), timer


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("", None), ("-1", None), ("nan", None),
                            ("Wed, 21 Oct 2026 07:28:00 GMT", None)],
)  # fmt: skip
def test_retry_after_is_seconds_or_nothing(header, seconds):
    assert retry_after_seconds(header) == seconds


def test_a_retryable_failure_is_retried_then_succeeds_and_every_attempt_counts():
    requests, timer = budget()
    answers = iter([retryable_status(503, None), retryable_status(429, "2"), "ok"])

    def send() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert requests.call(send, what="Vendor thing") == "ok"
    assert requests.requests == 3 and requests.limiter.granted == 3
    assert timer.slept[-1] == 2.0  # the server's Retry-After, after the 429


def test_persistent_failures_end_in_a_transient_error_naming_the_request_and_reason():
    requests, timer = budget()

    def send() -> None:
        raise retryable_status(429, "999")

    with pytest.raises(TransientError, match=r"Vendor thing: rate limited \(HTTP 429\) \(gave up after 4 attempts\)"):
        requests.call(send, what="Vendor thing")
    assert requests.requests == MAX_ATTEMPTS
    assert timer.slept == [MAX_RETRY_AFTER_SECONDS] * (MAX_ATTEMPTS - 1)  # a long Retry-After is capped


def test_other_errors_go_straight_through_after_one_attempt():
    requests, _ = budget()

    def send() -> None:
        raise DataError("not found")

    with pytest.raises(DataError, match="not found"):
        requests.call(send, what="Vendor thing")
    assert requests.requests == 1


def test_reasons_keep_the_status_and_the_error_type_never_its_text():
    assert retryable_status(502, None).reason == "server error (HTTP 502)"
    assert retryable_status(429, "3").retry_after == 3.0
    reason = no_answer("Vendor", TimeoutError("https://vendor.example/x?apiKey=SECRET")).reason
    assert reason == "no answer from Vendor (TimeoutError)"


def test_budgets_sharing_a_limiter_share_its_rate_but_count_their_own_requests():
    first, timer = budget(rpm=2)
    second = RequestBudget(first.limiter)
    for _ in range(2):
        first.call(lambda: None, what="a")
    second.call(lambda: None, what="b")
    assert (first.requests, second.requests) == (2, 1)
    assert timer.now == pytest.approx(61.0)  # the third request waited for the window and its margin
