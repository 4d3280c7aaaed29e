"""The kill-point switch itself: it must fire exactly where and when asked, and refuse names it does not know."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autotrader import killpoints


@pytest.fixture(autouse=True)
def _clean():
    killpoints.disarm()
    yield
    killpoints.disarm()


def test_unarmed_points_do_nothing(monkeypatch):
    monkeypatch.delenv(killpoints.ENV, raising=False)
    for name in killpoints.POINTS:
        killpoints.kill_point(name)


def test_an_undeclared_point_is_a_programming_error():
    with pytest.raises(ValueError, match="not declared"):
        killpoints.kill_point("after_lunch")


def test_armed_point_raises_on_the_nth_pass_only(monkeypatch):
    monkeypatch.delenv(killpoints.ENV, raising=False)
    killpoints.arm("mid_reconcile", 2)
    killpoints.kill_point("mid_reconcile")
    killpoints.kill_point("after_intent_stored")  # another point does not count
    with pytest.raises(killpoints.Killed) as caught:
        killpoints.kill_point("mid_reconcile")
    assert caught.value.point == "mid_reconcile"
    killpoints.kill_point("mid_reconcile")  # fired once, then disarmed


def test_killed_is_not_swallowed_by_except_exception():
    killpoints.arm("mid_migration")
    with pytest.raises(killpoints.Killed):
        try:
            killpoints.kill_point("mid_migration")
        except Exception:  # noqa: BLE001 - the point of the test
            pytest.fail("an except Exception caught a kill")


@pytest.mark.parametrize("spec", ["after_lunch", "mid_reconcile:x", "mid_reconcile:0"])
def test_a_bad_environment_value_names_the_allowed_points(monkeypatch, spec):
    monkeypatch.setenv(killpoints.ENV, spec)
    with pytest.raises(ValueError, match=killpoints.ENV):
        killpoints.kill_point("mid_reconcile")


def test_the_environment_switch_exits_hard_at_the_nth_pass():
    code = (
        "from autotrader import killpoints\n"
        "for i in range(3):\n"
        "    print(i, flush=True)\n"
        "    killpoints.kill_point('after_submit_committed')\n"
        "print('survived')\n"
    )
    env = {"AUTOTRADER_KILL_AT": "after_submit_committed:2", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == killpoints.KILL_EXIT_CODE
    assert done.stdout.split() == ["0", "1"]
