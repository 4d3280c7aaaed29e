"""``SyntheticOptionChains``: listed option chains on the synthetic world's stocks, priced off an IV surface.

Everything a chain snapshot reports is derived from what the synthetic world shows at the clock (the
underlying's latest quote, the VIX's latest value, the last complete session's volume) plus two facts of the
world's own making that a vendor would also know: the underlying's generating volatility and the size of its
earnings moves. So a chain never looks ahead: at any instant it is a function of the past only.

Listing. Expiries: every Friday in the next six weeks (the weeklies) and the third Friday of each of the next
twelve months (the monthlies); an expiry that falls on a market holiday moves to the session before. A
contract expires at that session's close (13:00 New York on an early close). Strikes: a grid of one increment
(0.50 under $25, 1 under $100, 2.50 under $250, 5 above) from 60 % to 150 % of the underlying's price, for
calls and puts. ``option_quotes`` prices any contract on a known underlying that has not expired, listed in
today's chain or not, so a position opened on yesterday's grid keeps a market.

The surface, per underlying, with sigma0 its generating volatility in the normal regime, annualised:

- at the money, a front level ``sigma0 x VIX/20`` and a back level ``sigma0 x (VIX/20)^0.3``, blended
  ``back + (front - back) x exp(-T / 0.25)`` over T years to expiry: a high VIX inverts the term structure,
  a low one steepens it;
- times a daily factor ``exp(0.06 z)`` (z a standard normal per underlying and session): a name's IV moves a
  little on its own, so its IV rank is not the VIX's;
- an expiry after the next earnings open carries that move's variance too (the earnings jump's standard
  deviation, squared, added to the total variance ``sigma^2 T``);
- skew and smile in standardised moneyness ``x = ln(K/F) / (sigma_atm sqrt T)`` (clipped to +-3):
  ``sigma_atm x (1 - 0.10 x + 0.025 x^2)``: out-of-the-money puts dearer than calls, as in equity markets.

Prices and greeks are Black-Scholes-Merton's (``policy.black_scholes``) at that volatility, a 4 % risk-free rate
and no dividends (the synthetic world pays none). The market around the model price: a width of
``0.01 + mid x (1.5 % + 0.2 % per basis point of the underlying's own spread)``, wider by a quarter per unit of
|x|, in cents, the bid never below 0. Open interest falls with |x| and with time to expiry from the underlying's
last session's volume / 1000; the day's volume grows through the session to about a fifth of it. Deterministic:
the same seed, contract and instant give the same quote in every process.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

import numpy as np

from autotrader.adapters.synthetic_data import VIX_SYMBOL, SyntheticMarketData
from autotrader.clock import ET, MarketCalendar
from autotrader.domain.enums import OptionRight
from autotrader.domain.options import OptionContract, OptionQuote
from autotrader.policy import black_scholes as bs

RISK_FREE_RATE = 0.04
VIX_REFERENCE = 20.0  # the synthetic VIX's level in the normal regime
TERM_DECAY_YEARS = 0.25
IV_DAILY_NOISE = 0.06
SKEW, SMILE = 0.10, 0.025
WEEKLY_DAYS = 42
MONTHLY_COUNT = 12
STRIKE_RANGE = (0.60, 1.50)
_YEAR_SECONDS = 365.0 * 86_400


def strike_increment(price: float) -> float:
    return 0.5 if price < 25 else 1.0 if price < 100 else 2.5 if price < 250 else 5.0


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def listed_expiries(calendar: MarketCalendar, at: datetime) -> list[date]:
    """The expiries listed at ``at`` whose close is still ahead (module docstring), in order."""
    today = at.astimezone(ET).date()
    fridays = {today + timedelta(days=(4 - today.weekday()) % 7 + 7 * w) for w in range(WEEKLY_DAYS // 7 + 1)}
    fridays = {f for f in fridays if (f - today).days <= WEEKLY_DAYS}
    year, month = today.year, today.month
    for _ in range(MONTHLY_COUNT + 1):
        fridays.add(_third_friday(year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    expiries = set()
    for friday in fridays:
        day = friday if calendar.is_session(friday) else calendar.previous_session(friday)
        if calendar.session_close(day) > at:
            expiries.add(day)
    return sorted(expiries)


def listed_strikes(price: float) -> np.ndarray:
    step = strike_increment(price)
    lo = math.ceil(price * STRIKE_RANGE[0] / step)
    hi = math.floor(price * STRIKE_RANGE[1] / step)
    return np.round(np.arange(lo, hi + 1) * step, 3)


def _uniforms(*parts: object) -> tuple[float, float]:
    """Two numbers in (0, 1) from the parts' text, identical in every process (unlike ``hash()``)."""
    digest = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=16).digest()
    return ((int.from_bytes(digest[:8], "little") + 0.5) / 2.0**64,
            (int.from_bytes(digest[8:], "little") + 0.5) / 2.0**64)  # fmt: skip


def _gaussian(*parts: object) -> float:
    """A standard normal from the parts' text (Box-Muller on ``_uniforms``)."""
    u1, u2 = _uniforms(*parts)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


class SyntheticOptionChains:
    """The ``OptionChains`` capability over ``SyntheticMarketData`` (module docstring)."""

    def __init__(self, market: SyntheticMarketData, calendar: MarketCalendar) -> None:
        self._market = market
        self._calendar = calendar
        # A quote is a function of the contract and the clock alone, so what was priced at this instant is kept
        # until the clock moves: the simulated broker values the same held contracts for every step of a slot.
        self._memo_at: datetime | None = None
        self._states: dict[str, tuple[float, float, float, datetime] | None] = {}
        self._quoted: dict[str, OptionQuote | None] = {}  # by contract symbol; None: not quotable now

    def option_chain(self, underlying: str, first_expiry: date, last_expiry: date) -> list[OptionQuote]:
        state = self._state(underlying)
        if state is None:
            return []
        spot = state[0]
        expiries = [e for e in listed_expiries(self._calendar, self._now()) if first_expiry <= e <= last_expiry]
        strikes = listed_strikes(spot).tolist()
        contracts = [OptionContract(underlying, e, right, k) for e in expiries for k in strikes
                     for right in (OptionRight.CALL, OptionRight.PUT)]  # fmt: skip
        return self._quotes(underlying, contracts, state)

    def option_quotes(self, contracts: Sequence[OptionContract]) -> dict[str, OptionQuote]:
        self._same_instant()
        wanted = {c.symbol: c for c in contracts}
        # Kept per contract: the steps of a slot ask for overlapping sets (a structure's legs, the whole book).
        missing = [c for symbol, c in wanted.items() if symbol not in self._quoted]
        if missing:
            priced = self._price_contracts(missing)
            self._quoted.update((c.symbol, priced.get(c.symbol)) for c in missing)  # None: it has no market
        return {symbol: quote for symbol in wanted if (quote := self._quoted[symbol]) is not None}

    def _price_contracts(self, contracts: Sequence[OptionContract]) -> dict[str, OptionQuote]:
        out: dict[str, OptionQuote] = {}
        for underlying in sorted({c.underlying for c in contracts}):
            state = self._state(underlying)
            if state is None:
                continue
            now = self._now()
            live = [c for c in contracts if c.underlying == underlying and self._calendar.is_session(c.expiry)
                    and self._calendar.session_close(c.expiry) > now]  # fmt: skip
            out.update((q.contract.symbol, q) for q in self._quotes(underlying, live, state))
        return out

    # -- the model ---------------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self._market.clock.now()

    def _same_instant(self) -> None:
        """Forget what was priced at an earlier instant."""
        now = self._now()
        if now != self._memo_at:
            self._memo_at, self._states, self._quoted = now, {}, {}

    def _state(self, underlying: str) -> tuple[float, float, float, datetime] | None:
        """(spot, VIX, the last session's volume, the quote's instant), or None for an unknown underlying."""
        self._same_instant()
        if underlying not in self._states:
            self._states[underlying] = self._read_state(underlying)
        return self._states[underlying]

    def _read_state(self, underlying: str) -> tuple[float, float, float, datetime] | None:
        if underlying == VIX_SYMBOL or underlying not in self._market.universe:
            return None
        quote = self._market.latest_quote(underlying)
        vix = self._market.latest_quote(VIX_SYMBOL)
        if quote is None or vix is None:
            return None
        now = self._now()
        _, bars = self._market.daily_arrays(underlying, (now - timedelta(days=10)).date(), now.date())
        volume = float(bars[-1, 4]) if len(bars) else 1e6
        return quote.last, vix.last, volume, quote.quoted_at

    def _quotes(
        self, underlying: str, contracts: Iterable[OptionContract], state: tuple[float, float, float, datetime]
    ) -> list[OptionQuote]:
        contracts = list(contracts)
        if not contracts:
            return []
        spot, vix, volume, quoted_at = state
        now = self._now()
        closes = {e: self._calendar.session_close(e) for e in {c.expiry for c in contracts}}
        years = np.array([(closes[c.expiry] - now).total_seconds() / _YEAR_SECONDS for c in contracts])
        strikes = np.array([c.strike for c in contracts])
        rights = np.array([str(c.right) for c in contracts])
        vol = self._surface(underlying, spot, vix, strikes, years, [closes[c.expiry] for c in contracts])
        mid = np.asarray(bs.price(rights, spot, strikes, years, vol, RISK_FREE_RATE))
        g = bs.greeks(rights, spot, strikes, years, vol, RISK_FREE_RATE)
        forward = spot * np.exp(RISK_FREE_RATE * years)
        x = np.clip(np.log(strikes / forward) / (vol * np.sqrt(years)), -6.0, 6.0)
        spread_bps = self._market.spread_bps(underlying)
        width = (0.01 + mid * (0.015 + 0.002 * spread_bps)) * (1.0 + 0.25 * np.abs(x))
        bid = np.maximum(np.floor((mid - width / 2) * 100 + 1e-9) / 100, 0.0)
        ask = np.maximum(np.ceil((mid + width / 2) * 100 - 1e-9) / 100, 0.01)
        session_share = self._session_share(now)
        day = now.astimezone(ET).date()
        quotes = []
        # Per contract in plain floats (``tolist``: the same doubles): indexing numpy arrays element by element
        # was most of this loop, and a chain quotes a hundred contracts or more.
        columns = zip(contracts, x.tolist(), years.tolist(), bid.tolist(), ask.tolist(), vol.tolist(),
                      g.delta.tolist(), g.gamma.tolist(), g.theta.tolist(), g.vega.tolist(), strict=True)  # fmt: skip
        for c, x_i, years_i, bid_i, ask_i, vol_i, delta_i, gamma_i, theta_i, vega_i in columns:
            interest, trading = _uniforms(self._market.seed, c.symbol, day)
            oi = int(volume / 1000 * math.exp(-0.5 * x_i**2) / (1.0 + 3.0 * years_i) * (0.5 + interest))
            traded = int(oi * 0.2 * session_share * (0.5 + trading))
            quotes.append(
                OptionQuote(
                    contract=c,
                    bid=bid_i,
                    ask=ask_i,
                    quoted_at=quoted_at,
                    iv=vol_i,
                    delta=delta_i,
                    gamma=gamma_i,
                    theta=theta_i / 365.0,
                    vega=vega_i / 100.0,
                    open_interest=oi,
                    volume=traded,
                    underlying_price=spot,
                )
            )
        return quotes

    def _surface(
        self, underlying: str, spot: float, vix: float, strikes: np.ndarray, years: np.ndarray, closes: list[datetime]
    ) -> np.ndarray:
        """The implied volatility of each (strike, years) on this underlying now (module docstring)."""
        sigma0 = self._market.daily_vol(underlying) * math.sqrt(252.0)
        ratio = vix / VIX_REFERENCE
        front, back = sigma0 * ratio, sigma0 * ratio**0.3
        now = self._now()
        noise = math.exp(IV_DAILY_NOISE * _gaussian(self._market.seed, underlying, "iv", now.astimezone(ET).date()))
        atm = (back + (front - back) * np.exp(-years / TERM_DECAY_YEARS)) * noise
        variance = atm**2 * years
        earnings = self._next_earnings_open(underlying, now)
        if earnings is not None:
            jump = self._market.earnings_sd(underlying)
            variance = variance + np.array([jump**2 if earnings <= close else 0.0 for close in closes])
        atm = np.sqrt(variance / years)
        forward = spot * np.exp(RISK_FREE_RATE * years)
        x = np.clip(np.log(strikes / forward) / (atm * np.sqrt(years)), -3.0, 3.0)
        return atm * (1.0 - SKEW * x + SMILE * x**2)

    def _next_earnings_open(self, underlying: str, now: datetime) -> datetime | None:
        for day in self._market.earnings_dates(underlying):
            opens = self._calendar.session_open(day)
            if opens > now:
                return opens
        return None

    @staticmethod
    def _session_share(now: datetime) -> float:
        """How far through a regular session's 390 minutes ``now`` is, in [0, 1] (1 after the close)."""
        local = now.astimezone(ET)
        minutes = (local.hour * 60 + local.minute) - (9 * 60 + 30)
        return min(max(minutes / 390.0, 0.0), 1.0)
