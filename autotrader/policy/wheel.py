"""The wheel: cash-secured puts on the names whose options are dearest, covered calls on the shares an
assignment brings, and round again. Pure.

- When: a put is sold on the first session of the week (Monday, or the day after a Monday holiday), at the
  first slot inside the trading window; a covered call at any slot once assigned shares are held and not yet
  covered.
- Which names: those of ``[wheel] underlyings`` with neither a wheel structure open nor wheel shares held, ranked
  by IV percentile (highest first; a name without enough recorded IV history ranks after every name with it, by
  its 30-day IV), at most ``max_names`` at a time; a name under ``iv_percentile_min`` is passed over (with a
  minimum above 0, a name without a percentile too).
- The put: the expiry nearest the middle of ``dte_min..dte_max``, the put whose delta is nearest
  ``-put_delta``, held to expiry: it expires worthless or is assigned.
- The call: the same expiry rule, the call whose delta is nearest ``call_delta`` among the strikes at or above
  the shares' cost, one contract per 100 shares held; held to expiry: it expires (the shares stay, and another
  call is sold) or the shares are called away (and the next week's put starts the wheel again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from autotrader.domain.enums import OptionRight
from autotrader.domain.options import OptionQuote


@dataclass(frozen=True)
class WheelRules:
    underlyings: tuple[str, ...] = ()
    max_names: int = 3
    put_delta: float = 0.30
    call_delta: float = 0.30
    dte_min: int = 25
    dte_max: int = 45
    iv_percentile_min: float = 0.0


def first_session_of_week(day: date, sessions_this_week: Sequence[date]) -> bool:
    """Whether ``day`` is the week's first session (``sessions_this_week``: that week's sessions, in order)."""
    return bool(sessions_this_week) and sessions_this_week[0] == day


def rank_names(
    candidates: Iterable[str], percentile: Mapping[str, float | None], iv30: Mapping[str, float | None],
    rules: WheelRules, slots: int,
) -> tuple[list[str], dict[str, str]]:  # fmt: skip
    """(the names to sell puts on, best first; why each other candidate was passed over)."""
    passed: dict[str, str] = {}
    eligible = []
    for name in candidates:
        p = percentile.get(name)
        if rules.iv_percentile_min > 0 and (p is None or p < rules.iv_percentile_min):
            passed[name] = (f"IV percentile {p:.0%} under {rules.iv_percentile_min:.0%}" if p is not None
                            else "no IV percentile yet")  # fmt: skip
            continue
        if iv30.get(name) is None:
            passed[name] = "no 30-day IV"
            continue
        eligible.append(name)
    eligible.sort(key=lambda n: (percentile.get(n) is None, -(percentile.get(n) or 0.0), -(iv30.get(n) or 0.0), n))
    chosen = eligible[: max(slots, 0)]
    passed.update((n, f"{rules.max_names} names at a time") for n in eligible[len(chosen):])
    return chosen, passed


def choose_put(quotes: Iterable[OptionQuote], rules: WheelRules) -> OptionQuote | None:
    puts = [q for q in quotes if q.contract.right == OptionRight.PUT and q.delta is not None and q.bid > 0]
    return min(puts, key=lambda q: (abs(abs(q.delta or 0.0) - rules.put_delta), -q.contract.strike), default=None)


def choose_call(quotes: Iterable[OptionQuote], cost: float, rules: WheelRules) -> OptionQuote | None:
    """The call to write against shares that cost ``cost`` each: strike at or above it, delta nearest."""
    calls = [q for q in quotes if q.contract.right == OptionRight.CALL and q.delta is not None and q.bid > 0
             and q.contract.strike >= cost - 1e-9]  # fmt: skip
    return min(calls, key=lambda q: (abs((q.delta or 0.0) - rules.call_delta), q.contract.strike), default=None)
