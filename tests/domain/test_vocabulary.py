"""One vocabulary per concept: exit codes, rejection reasons and terminal statuses are defined once, in domain/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autotrader import errors
from autotrader.domain.enums import (
    IN_FLIGHT_INTENT_STATUSES,
    OPEN_INTENT_STATUSES,
    TERMINAL_BROKER_STATUSES,
    TERMINAL_INTENT_STATUSES,
    BrokerOrderStatus,
    ExitCode,
    IntentStatus,
    RejectReason,
    intent_status_from_broker,
)

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _subclasses(cls: type) -> list[type]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


def test_the_readme_exit_code_table_lists_exactly_the_exit_codes():
    section = README.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = [int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.M)]
    assert documented == sorted(code.value for code in ExitCode)


def test_every_error_class_carries_one_of_the_exit_codes():
    for cls in _subclasses(errors.AutotraderError):
        assert isinstance(cls.exit_code, ExitCode), cls.__name__


def test_a_rejection_reason_outside_the_vocabulary_is_refused():
    assert errors.OrderRejected("no", reason="insufficient_buying_power").reason is (
        RejectReason.INSUFFICIENT_BUYING_POWER
    )
    assert errors.OrderRejected("no").reason is RejectReason.REJECTED
    with pytest.raises(ValueError):
        errors.OrderRejected("no", reason="buying power")  # type: ignore[arg-type]


def test_a_terminal_broker_status_ends_the_intent_and_an_open_one_does_not():
    for status in BrokerOrderStatus:
        assert BrokerOrderStatus.is_terminal(status) == (status in TERMINAL_BROKER_STATUSES)
        if status in TERMINAL_BROKER_STATUSES:
            assert intent_status_from_broker(status).is_terminal, status
        elif status != BrokerOrderStatus.PARTIALLY_FILLED:
            assert intent_status_from_broker(status) == IntentStatus.ACCEPTED, status
    assert not BrokerOrderStatus.is_terminal("a_status_alpaca_adds_later")


def test_open_and_in_flight_intent_statuses_follow_from_the_terminal_ones():
    assert set(OPEN_INTENT_STATUSES) == set(IntentStatus) - TERMINAL_INTENT_STATUSES
    assert set(IN_FLIGHT_INTENT_STATUSES) <= set(OPEN_INTENT_STATUSES)
    assert all(s.needs_resolution for s in IN_FLIGHT_INTENT_STATUSES if s != IntentStatus.PLANNED)
