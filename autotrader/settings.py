"""Settings: ``config.toml`` plus ``AUTOTRADER_<SECTION>__<KEY>`` environment overrides, strict and frozen.

Precedence: environment > config file > defaults. Every section forbids unknown keys, NaN and infinity, and
checks ranges, so a typo or a nonsense value stops the run *before* any work, with exit 2 and a message that
names the file and line (or the environment variable) and the allowed range. Nothing is written. One thing is
reported rather than refused: a ``${NAME}`` in ``[notify] urls`` that is not set leaves that URL out
(``Config.notify_problems``), since a notification must never stop a run, the kill switch least of all.

API keys never live in the config file: they are ``SecretStr`` read from the environment or the workspace's
``.env`` (``Secrets``), and a key-like entry in the TOML is an unknown key like any other.

The workspace is the config file's folder: the ledger, logs, inbox and data paths are relative to it.
"""

from __future__ import annotations

import copy
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from autotrader import killpoints
from autotrader.errors import ConfigError

ENV_PREFIX = "AUTOTRADER_"
# Environment variables with the prefix that are not config overrides.
NON_SETTING_ENV = {"AUTOTRADER_CONFIG", "AUTOTRADER_LIVE_CONFIRM", killpoints.ENV}


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, validate_default=True)


Pct = Annotated[float, Field(gt=0, le=100)]
Hhmm = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class AccountSection(Section):
    portfolio_value: float = Field(
        1_000_000.0, gt=0, le=1e12, description="Sizing capital when set; else the broker's equity (see sizing_capital)"
    )
    max_total_allocation: float = Field(250_000.0, gt=0, le=1e12, description="Hard cap on deployed capital")


class SizingSection(Section):
    use_dynamic_sizing: bool = True
    base_allocation_pct: Pct = 2.0
    max_position_pct: Pct = 5.0
    risk_per_trade_pct: Pct = 1.0
    position_size: float = Field(5_000.0, gt=0, le=1e12, description="Flat dollars when dynamic sizing is off")
    conviction_multipliers: dict[str, Annotated[float, Field(gt=0, le=10)]] = Field(
        default_factory=lambda: {"10": 1.5, "9": 1.25, "8": 1.0, "7": 0.75}, min_length=1
    )
    fractional_shares: bool = False
    long_term_entry: Literal["market", "limit"] = "market"

    @field_validator("conviction_multipliers")
    @classmethod
    def _conviction_keys(cls, value: dict[str, float]) -> dict[str, float]:
        for key in value:
            if not key.isdigit() or not 1 <= int(key) <= 10:
                raise ValueError(f"conviction {key!r} must be a whole number from 1 to 10")
        return value

    def multipliers(self) -> dict[int, float]:
        return {int(k): v for k, v in self.conviction_multipliers.items()}


class DipTier(Section):
    dip_pct: float = Field(gt=0, lt=100, description="Fall from the reference price, in percent")
    add_pct: float = Field(gt=0, le=500, description="Add-on size, percent of the original quantity")


class ProfitTier(Section):
    gain_pct: float = Field(gt=0, le=10_000, description="Gain from the reference price, in percent")
    trim_pct: float = Field(gt=0, le=100, description="Trim size, percent of the position")


def _require_increasing(values: list[float], what: str) -> None:
    for i in range(1, len(values)):
        if values[i] <= values[i - 1]:
            raise ValueError(
                f"{what} must be strictly increasing: tier {i + 1} ({values[i]:g}) "
                f"is not above tier {i} ({values[i - 1]:g})"
            )


def _require_decreasing(values: list[float], what: str) -> None:
    """Bands are read from the top down (the first that holds applies): each edge below the one before."""
    for i in range(1, len(values)):
        if values[i] >= values[i - 1]:
            raise ValueError(f"{what}: band {i + 1} ({values[i]:g}) is not below band {i} ({values[i - 1]:g})")


class DipBuySection(Section):
    dip_buy_enabled: bool = True
    dip_buy_tiers: list[DipTier] = Field(
        default_factory=lambda: [
            DipTier(dip_pct=5, add_pct=50),
            DipTier(dip_pct=10, add_pct=75),
            DipTier(dip_pct=15, add_pct=100),
        ],
        min_length=1,
        max_length=10,
    )
    dip_buy_cooldown_hours: float = Field(24.0, ge=0, le=8760)
    dip_buy_reference: Literal["avg_cost", "first_entry"] = "avg_cost"
    dip_buy_when_regime_paused: bool = False

    @field_validator("dip_buy_tiers")
    @classmethod
    def _ordered(cls, tiers: list[DipTier]) -> list[DipTier]:
        _require_increasing([t.dip_pct for t in tiers], "dip_pct")
        return tiers


class ProfitTakeSection(Section):
    profit_take_enabled: bool = True
    min_hold_pct: float = Field(30.0, ge=0, le=100)
    profit_take_tiers: list[ProfitTier] = Field(
        default_factory=lambda: [
            ProfitTier(gain_pct=25, trim_pct=20),
            ProfitTier(gain_pct=50, trim_pct=25),
            ProfitTier(gain_pct=75, trim_pct=25),
        ],
        min_length=1,
        max_length=10,
    )

    @field_validator("profit_take_tiers")
    @classmethod
    def _ordered(cls, tiers: list[ProfitTier]) -> list[ProfitTier]:
        _require_increasing([t.gain_pct for t in tiers], "gain_pct")
        return tiers


class VixBandSetting(Section):
    """One VIX band, from its lower edge up to the next band's: ``above = x`` holds a VIX strictly greater
    than x, ``at_least = x`` a VIX of x or more. Each band names exactly one of the two, so which band a
    VIX exactly on an edge belongs to is written in the file, not left to the code."""

    above: float | None = Field(None, ge=0, le=200)
    at_least: float | None = Field(None, ge=0, le=200)
    multiplier: float = Field(ge=0, le=10)
    pause_long_term: bool = False

    @model_validator(mode="after")
    def _one_edge(self) -> VixBandSetting:
        if (self.above is None) == (self.at_least is None):
            raise ValueError(
                "a VIX band needs exactly one lower edge: `above = x` (VIX > x) or `at_least = x` (VIX >= x)"
            )
        return self

    @property
    def edge(self) -> float:
        """The lower edge, whichever key gives it."""
        edge = self.at_least if self.above is None else self.above
        assert edge is not None  # _one_edge
        return edge

    @property
    def inclusive(self) -> bool:
        """Whether a VIX exactly at the edge belongs to this band."""
        return self.at_least is not None


class DrawdownBandSetting(Section):
    above_pct: float = Field(ge=0, lt=100)
    multiplier: float = Field(ge=0, le=1)


class RiskSection(Section):
    market_regime_enabled: bool = True
    max_sector_pct: Pct = 30.0
    earnings_avoid_enabled: bool = True
    earnings_blackout_days: int = Field(3, ge=0, le=60)
    kelly_adaptive_enabled: bool = False
    unknown_earnings: Literal["allow", "skip"] = "allow"
    unknown_sector: Literal["skip", "own_bucket"] = "own_bucket"
    vix_bands: list[VixBandSetting] = Field(
        default_factory=lambda: [
            VixBandSetting(above=30, multiplier=0.5, pause_long_term=True),
            VixBandSetting(above=25, multiplier=0.6),
            VixBandSetting(at_least=15, multiplier=1.0),
            VixBandSetting(at_least=0, multiplier=1.1),
        ],
        min_length=1,
    )
    spy_below_sma_multiplier: float = Field(0.8, ge=0, le=1)
    spy_sma_days: int = Field(20, ge=2, le=400)
    kelly_mode: Literal["seed", "normalized"] = "seed"
    kelly_reference_fraction: float = Field(0.25, gt=0, le=1)
    kelly_min_trades: int = Field(10, ge=1, le=100_000)
    kelly_min_multiplier: float = Field(0.25, gt=0, le=10)
    kelly_max_multiplier: float = Field(2.0, gt=0, le=10)
    drawdown_bands: list[DrawdownBandSetting] = Field(
        default_factory=lambda: [
            DrawdownBandSetting(above_pct=15, multiplier=0.0),
            DrawdownBandSetting(above_pct=10, multiplier=0.5),
            DrawdownBandSetting(above_pct=5, multiplier=0.75),
        ]
    )
    daily_profit_target: float = Field(5_000.0, gt=0, le=1e12)
    max_daily_loss: float = Field(2_500.0, gt=0, le=1e12)
    max_consecutive_losses: int = Field(5, ge=1, le=1000)
    streak_pause_sessions: int = Field(
        5, ge=0, le=1000, description="Sessions a losing-streak pause lasts after the last loss (0: until resumed)"
    )

    @field_validator("vix_bands")
    @classmethod
    def _vix_descending(cls, bands: list[VixBandSetting]) -> list[VixBandSetting]:
        _require_decreasing(
            [b.edge for b in bands], "vix_bands must be ordered by strictly decreasing edge (`above` / `at_least`)"
        )
        return bands

    @field_validator("drawdown_bands")
    @classmethod
    def _drawdown_descending(cls, bands: list[DrawdownBandSetting]) -> list[DrawdownBandSetting]:
        _require_decreasing(
            [b.above_pct for b in bands], "drawdown_bands must be ordered by strictly decreasing above_pct"
        )
        return bands

    @model_validator(mode="after")
    def _kelly_clamp(self) -> RiskSection:
        if self.kelly_min_multiplier > self.kelly_max_multiplier:
            raise ValueError("kelly_min_multiplier must not exceed kelly_max_multiplier")
        return self

    def kelly_range(self) -> tuple[float, float]:
        """What the Kelly multiplier can actually be, given the formula.

        f = (W·avgWin − (1−W)·avgLoss)/avgWin ≤ W ≤ 1, so f/2 ≤ 0.5: the seed's formula can only shrink
        a position; "normalized" divides f/2 by the reference fraction so a strong edge can size up.
        """
        top = 0.5 if self.kelly_mode == "seed" else 0.5 / self.kelly_reference_fraction
        lo, hi = self.kelly_min_multiplier, self.kelly_max_multiplier
        return lo, max(lo, min(hi, top))


class SizeSection(Section):
    """Gates and pre-trade checks of the `size` step: what a signal must pass before it gets an order."""

    max_open_positions: int = Field(20, ge=1, le=10_000)
    max_new_trades_per_day: int = Field(10, ge=1, le=10_000)
    min_cash: float = Field(10_000.0, ge=0, le=1e12)
    allow_symbols: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9.\-]{0,9}$")]] = Field(default_factory=list)
    deny_symbols: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9.\-]{0,9}$")]] = Field(default_factory=list)
    one_position_per_symbol: bool = True
    max_entries_per_symbol: int = Field(
        0, ge=0, le=100, description="With one_position_per_symbol off: signals' entries per symbol (0: no limit)"
    )
    max_open_orders: int = Field(20, ge=0, le=10_000, description="Buy orders working at once (0: no limit)")
    trading_window_start: Hhmm = "09:35"
    trading_window_end: Hhmm = "15:45"
    max_price_drift_pct: float = Field(2.0, gt=0, le=100)
    max_spread_bps: float = Field(50.0, gt=0, le=10_000)
    max_quote_age_minutes: float = Field(15.0, gt=0, le=1440)
    allow_short: bool = Field(False, description="Short selling is not built: only false is accepted")

    @model_validator(mode="after")
    def _window(self) -> SizeSection:
        if self.allow_short:
            raise ValueError(
                "allow_short = true: short selling is not built; a sell signal only exits a held position "
                '([exits] on_sell_signal = "exit")'
            )
        if self.trading_window_end <= self.trading_window_start:
            raise ValueError(
                f"trading_window_end {self.trading_window_end} must be after trading_window_start "
                f"{self.trading_window_start}"
            )
        return self


def _loopback_only(url: str | None) -> str | None:
    """Base URL overrides exist for tests against local fake servers; anything else could be a live endpoint."""
    if url is None:
        return None
    host = urlparse(url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise ValueError("base_url may only point at a loopback address (127.0.0.0/8, ::1, localhost)")
    return url.rstrip("/")


LoopbackUrl = Annotated[str | None, AfterValidator(_loopback_only)]


class BrokerSection(Section):
    kind: Literal["sim", "alpaca"] = "sim"
    mode: Literal["paper", "live"] = "paper"
    base_url: LoopbackUrl = None
    starting_cash: float = Field(1_000_000.0, gt=0, le=1e12, description="Simulated broker only")
    slippage_bps: float = Field(5.0, ge=0, le=1000, description="Simulated broker only")
    commission_per_share: float = Field(0.0, ge=0, le=1, description="Simulated broker only")
    commission_min: float = Field(0.0, ge=0, le=100, description="Simulated broker only")
    max_volume_pct: Pct = Field(10.0, description="Simulated broker only: most of a bar's volume our orders take")
    option_fill_pct: float = Field(
        50.0, ge=0, le=100, description="Simulated broker only: how far from mid to natural an option order must reach"
    )
    option_commission_per_contract: float = Field(0.0, ge=0, le=10, description="Simulated broker only")
    timeout_seconds: float = Field(10.0, gt=0, le=300, description="Alpaca: HTTP timeout per request")
    max_retries: int = Field(3, ge=0, le=10, description="Alpaca: retries of reads and cancels (never of orders)")


class DataSection(Section):
    kind: Literal["synthetic", "local", "polygon"] = "synthetic"
    path: str = "data"
    seed: int = Field(42, ge=0, le=2**31 - 1)
    symbols: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9.\-]{0,9}$")]] = Field(default_factory=list)
    base_url: LoopbackUrl = None
    requests_per_minute: float = Field(5.0, gt=0, le=100_000, description="Polygon: client-side rate limit")
    timeout_seconds: float = Field(10.0, gt=0, le=300, description="Polygon: HTTP timeout per request")
    vix_symbol: str = Field("I:VIX", pattern=r"^[A-Z:.\-]{1,12}$")
    vix_proxy: str = Field("VIXY", pattern=r"^[A-Z.\-]{1,10}$", description="Used when the plan lacks indices")
    max_bar_age_sessions: int = Field(1, ge=0, le=30, description="Polygon: a last daily bar older than this is stale")
    max_daily_move_pct: float = Field(
        50.0, gt=0, le=10_000, description="A close-to-close move beyond this, without a known split, quarantines"
    )
    max_price: float = Field(100_000.0, gt=0, le=1e9, description="A close above this quarantines the symbol")


class ReferenceSection(Section):
    kind: Literal["auto", "synthetic", "local", "polygon", "finnhub"] = "auto"
    base_url: LoopbackUrl = None
    unknown_sector_retry_hours: float = Field(
        24.0, gt=0, le=720, description="Polygon/Finnhub: ask again for a sector the source did not know"
    )


class SignalsSection(Section):
    inbox: str = "signals/inbox"
    archive: str = "signals/archive"
    rejected: str = "signals/rejected"
    max_age_days: float = Field(5.0, gt=0, le=3650)
    synthetic_feed: bool = Field(True, description="Synthetic data only; an error with a real broker")


class PerCategory(Section):
    long_term: float
    swing: float
    day_trade: float

    def of(self, category: str) -> float:
        return float(getattr(self, category))


class PerCategoryPct(PerCategory):
    long_term: float = Field(gt=0, le=100)
    swing: float = Field(gt=0, le=100)
    day_trade: float = Field(gt=0, le=100)


class PerCategorySessions(PerCategory):
    long_term: float = Field(ge=1, le=2520)
    swing: float = Field(ge=1, le=2520)
    day_trade: float = Field(ge=1, le=2520)


class PrimaryHorizons(Section):
    """The horizon, in sessions, each category's verdict is read at (each one of ``[scorecard] horizons``)."""

    long_term: int = Field(60, ge=1, le=2520)
    swing: int = Field(10, ge=1, le=2520)
    day_trade: int = Field(1, ge=1, le=2520)

    def of(self, category: str) -> int:
        return int(getattr(self, category))


Category = Literal["long_term", "swing", "day_trade"]


class ExitsSection(Section):
    """Loss cuts, stops, targets, trailing and time exits (run by ``profittake`` and every intraday slot)."""

    exits_enabled: bool = True
    loss_cut_pct: PerCategoryPct = Field(
        default_factory=lambda: PerCategoryPct(long_term=25.0, swing=8.0, day_trade=3.0)
    )
    atr_categories: list[Category] = Field(default_factory=lambda: list[Category](["swing", "day_trade"]))
    atr_period: int = Field(14, ge=2, le=200)
    stop_atr_multiplier: float = Field(1.5, gt=0, le=20)
    target_one_atr_multiplier: float = Field(1.5, gt=0, le=50)
    target_two_atr_multiplier: float = Field(3.0, gt=0, le=100)
    partial_exit_pct: float = Field(50.0, gt=0, lt=100)
    trail_categories: list[Category] = Field(default_factory=lambda: list[Category](["swing"]))
    trail_pct: float = Field(4.0, gt=0, lt=100)
    trail_activation_pct: float = Field(6.0, ge=0, le=1000)
    max_holding_days: PerCategorySessions = Field(
        default_factory=lambda: PerCategorySessions(long_term=756, swing=20, day_trade=1)
    )
    day_trade_flat_minutes_before_close: int = Field(5, ge=1, le=120)
    split_ratios: list[Annotated[float, Field(gt=1, le=100)]] = Field(
        default_factory=lambda: [1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0], min_length=1
    )
    split_tolerance_pct: float = Field(3.0, gt=0, le=20)
    on_sell_signal: Literal["ignore", "exit"] = Field(
        "ignore",
        description='A sell signal for a symbol the signals book holds: "exit" sells the whole position (at size), '
        '"ignore" skips it (scored either way)',
    )

    @model_validator(mode="after")
    def _targets_ordered(self) -> ExitsSection:
        if self.target_two_atr_multiplier <= self.target_one_atr_multiplier:
            raise ValueError(
                f"target_two_atr_multiplier ({self.target_two_atr_multiplier:g}) must be above "
                f"target_one_atr_multiplier ({self.target_one_atr_multiplier:g})"
            )
        return self


Ticker = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9.\-]{0,9}$")]
IndexSymbol = Annotated[str, Field(pattern=r"^I:[A-Z0-9]{1,10}$")]  # an index as Polygon names it: I:SPX


class SymbolOverride(Section):
    """``[symbols.<TICKER>]``: one symbol's own values, each optional; an unset key leaves the section default.

    ``qty`` replaces the computed share count of the symbol's entries (the gates and caps still apply: a cap may
    cut it, nothing raises it); ``stop_pct`` / ``target_pct`` put the entry's stop / target that far from the
    entry price when the signal names none (a signal's own stop or target wins) and likewise the position's
    plan; ``trail_pct`` / ``trail_activation_pct`` replace ``[exits]``'s for the symbol's positions."""

    qty: int | None = Field(None, ge=1, le=10_000_000, description="Shares per entry, instead of the computed size")
    stop_pct: float | None = Field(None, gt=0, lt=100, description="Stop this far below the entry price, in percent")
    target_pct: float | None = Field(
        None, gt=0, le=10_000, description="Target this far above the entry price, in percent"
    )
    trail_pct: float | None = Field(None, gt=0, lt=100, description="Replaces [exits] trail_pct")
    trail_activation_pct: float | None = Field(None, ge=0, le=1000, description="Replaces [exits] trail_activation_pct")



class RebalanceStrategySetting(Section):
    groups: list[str] = Field(min_length=1)
    kind: Literal["rotation", "buy_hold"] = "rotation"


class TrailPreset(Section):
    activation_pct: float = Field(ge=0, le=1000)
    trail_pct: float = Field(gt=0, lt=100)


def _default_groups() -> dict[str, list[str]]:
    return {
        "core": ["GLD", "SLX", "JEF", "CPER"],
        "benchmarks": ["SPY", "QQQ"],
        "speculative": ["NVDA", "PLTR", "TSLA", "MSFT"],
        "asymmetric": ["OKLO", "RMBS", "QBTS", "IREN", "AFRM", "SOFI"],
    }


def _default_strategies() -> dict[str, RebalanceStrategySetting]:
    return {
        "BUY_HOLD": RebalanceStrategySetting(groups=["benchmarks"], kind="buy_hold"),
        "TACTICAL": RebalanceStrategySetting(groups=["core", "benchmarks"]),
        "SPEC": RebalanceStrategySetting(groups=["core", "benchmarks", "speculative"]),
        "ASYM": RebalanceStrategySetting(groups=["core", "benchmarks", "speculative", "asymmetric"]),
    }


def _default_presets() -> dict[str, TrailPreset]:
    return {
        "conservative": TrailPreset(activation_pct=8.0, trail_pct=4.0),
        "moderate": TrailPreset(activation_pct=5.0, trail_pct=2.5),
        "aggressive": TrailPreset(activation_pct=3.0, trail_pct=1.5),
    }


class RebalanceSection(Section):
    """The nightly strategy rebalancer and its book's intraday profit taker."""

    enabled: bool = False
    capital: float = Field(100_000.0, gt=0, le=1e12, description="Dollars for the rebalance book (the seed's CAPITAL)")
    capital_pct: float = Field(0.0, ge=0, le=100, description="> 0: percent of broker equity instead of capital")
    tolerance_pct: float = Field(2.0, ge=0, le=100)
    backtest_days: int = Field(504, ge=40, le=10_000, description="Sessions of history each backtest runs over")
    momentum_filter: bool = Field(True, description="Only tickers up over the last lookback_days sessions are eligible")
    lookback_days: int = Field(10, ge=1, le=500, description="The momentum filter's lookback (sessions)")
    sharpe_lookback: int = Field(30, ge=2, le=1000)
    cooldown_days: int = Field(5, ge=1, le=1000)
    drawdown_stop: float = Field(10.0, ge=0, lt=100, description="Percent under its peak that moves a strategy to cash")
    pm_momentum_lookback: int = Field(10, ge=1, le=1000)
    top_n: int = Field(3, ge=1, le=100)
    significance_level: float = Field(0.95, gt=0, lt=1)
    min_significance: float = Field(0.0, ge=0, lt=1)
    groups: dict[str, list[Ticker]] = Field(default_factory=_default_groups, min_length=1)
    strategies: dict[str, RebalanceStrategySetting] = Field(default_factory=_default_strategies, min_length=1)
    only: list[str] = Field(
        default_factory=list,
        description="Backtest and trade only these of the strategies (empty: all); one name holds that strategy "
        "fixed, the baseline a walk-forward of the selection is compared with",
    )
    profit_taker_preset: str = "moderate"
    profit_taker_presets: dict[str, TrailPreset] = Field(default_factory=_default_presets, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        # The drawdown rule's setting was a fraction named drawdown_threshold; say what it is now.
        if isinstance(data, dict) and "drawdown_threshold" in data:
            raise ValueError(
                "drawdown_threshold is now drawdown_stop, in percent, 0 = off "
                "(drawdown_threshold = 0.10 is drawdown_stop = 10.0)"
            )
        return data

    @model_validator(mode="after")
    def _enough_history(self) -> RebalanceSection:
        lookbacks = {"sharpe_lookback": self.sharpe_lookback, "pm_momentum_lookback": self.pm_momentum_lookback}
        if self.momentum_filter:
            lookbacks["lookback_days"] = self.lookback_days
        needed = max(lookbacks.values())
        if self.backtest_days <= needed:
            raise ValueError(
                f"backtest_days ({self.backtest_days}) must be more than {', '.join(sorted(lookbacks))} "
                f"(largest: {needed})"
            )
        return self

    @model_validator(mode="after")
    def _known_names(self) -> RebalanceSection:
        for name, strategy in self.strategies.items():
            unknown = [g for g in strategy.groups if g not in self.groups]
            if unknown:
                raise ValueError(
                    f"strategy {name} names unknown group(s) {', '.join(unknown)}; groups: {', '.join(self.groups)}"
                )
        unknown = [name for name in self.only if name not in self.strategies]
        if unknown:
            raise ValueError(
                f"only names unknown strateg(ies) {', '.join(unknown)}; strategies: {', '.join(self.strategies)}"
            )
        if self.profit_taker_preset not in self.profit_taker_presets:
            raise ValueError(
                f"profit_taker_preset {self.profit_taker_preset!r} is not one of {', '.join(self.profit_taker_presets)}"
            )
        return self

    def strategy_tickers(self, name: str) -> list[str]:
        seen: list[str] = []
        for group in self.strategies[name].groups:
            seen.extend(t for t in self.groups[group] if t not in seen)
        return seen


class ConvictionBucket(Section):
    low: int = Field(ge=1, le=10)
    high: int = Field(ge=1, le=10)


class ScorecardSection(Section):
    horizons: list[Annotated[int, Field(ge=1, le=2520)]] = Field(
        default_factory=lambda: [1, 5, 10, 20, 60], min_length=1
    )
    primary_horizon: int = Field(
        20, ge=1, le=2520, description="Verdict horizon of rows whose signals are of more than one category"
    )
    primary_horizons: PrimaryHorizons = Field(
        default_factory=PrimaryHorizons, description="Verdict horizon of each category's rows"
    )
    fdr: float = Field(0.10, gt=0, lt=1, description="False discovery rate a verdict's q-value must be below")
    min_signals: int = Field(20, ge=2, le=1_000_000)
    bootstrap_resamples: int = Field(2000, ge=100, le=100_000)
    seed: int = Field(7, ge=0, le=2**31 - 1)
    risk_pct: PerCategoryPct = Field(
        default_factory=lambda: PerCategoryPct(long_term=10.0, swing=5.0, day_trade=2.0),
        description="1R as a percent of entry for a signal without a stop",
    )
    default_horizon_sessions: PerCategorySessions = Field(
        default_factory=lambda: PerCategorySessions(long_term=60, swing=10, day_trade=1),
        description="How long the pick alone is held when the signal gives no horizon_days",
    )
    conviction_buckets: list[ConvictionBucket] = Field(
        default_factory=lambda: [
            ConvictionBucket(low=1, high=4),
            ConvictionBucket(low=5, high=6),
            ConvictionBucket(low=7, high=8),
            ConvictionBucket(low=9, high=10),
        ],
        min_length=1,
    )
    late_tolerance_minutes: float = Field(
        60.0,
        ge=0,
        le=10_080,
        description="A signal imported more than this many minutes after its generated_at is counted as late",
    )
    placebo_draws: int = Field(200, ge=10, le=100_000, description="Random-pick portfolios per source in the placebo")

    @field_validator("horizons")
    @classmethod
    def _horizons_ordered(cls, horizons: list[int]) -> list[int]:
        _require_increasing([float(h) for h in horizons], "horizons")
        return horizons

    @field_validator("conviction_buckets")
    @classmethod
    def _buckets_ordered(cls, buckets: list[ConvictionBucket]) -> list[ConvictionBucket]:
        for i, bucket in enumerate(buckets):
            if bucket.high < bucket.low:
                raise ValueError(f"bucket {i + 1}: high ({bucket.high}) is below low ({bucket.low})")
            if i and bucket.low <= buckets[i - 1].high:
                raise ValueError(f"bucket {i + 1} overlaps bucket {i} (buckets must be ordered and disjoint)")
        return buckets

    @model_validator(mode="after")
    def _primary_is_a_horizon(self) -> ScorecardSection:
        if self.primary_horizon not in self.horizons:
            raise ValueError(f"primary_horizon {self.primary_horizon} must be one of horizons {self.horizons}")
        for category in ("long_term", "swing", "day_trade"):
            h = self.primary_horizons.of(category)
            if h not in self.horizons:
                raise ValueError(f"primary_horizons.{category} {h} must be one of horizons {self.horizons}")
        return self


class ReviewSection(Section):
    command: str | None = Field(None, description="External trade reviewer: gets each closed trade as JSON on stdin")
    timeout_seconds: float = Field(30.0, gt=0, le=600)


class LedgerSection(Section):
    dir: str = "."


class ReportSection(Section):
    # A folder, not a file: rehydrate writes one page per session into it and never deletes one.
    dir: str = Field("reports", description="Where rehydrate writes each evening's YYYY-MM-DD.html; \"\" for none")


class LogsSection(Section):
    dir: str = "logs"


def _default_times() -> list[str]:
    half_hours = [f"{h:02d}:{m:02d}" for h in range(9, 16) for m in (0, 30)]
    # 12:55 and 15:55: the last slots before an early (13:00) and a normal close, where day trades go flat.
    # 19:05: the first evening slot in which the broker takes market-on-open orders (the rebalancer's).
    return sorted([*half_hours, "12:55", "15:55", "16:00", "16:15", "16:30", "19:05"])


class ScheduleSection(Section):
    times: list[Hhmm] = Field(default_factory=_default_times, min_length=1)

    @field_validator("times")
    @classmethod
    def _ordered(cls, times: list[str]) -> list[str]:
        for earlier, later in zip(times, times[1:], strict=False):
            if later <= earlier:
                raise ValueError(f"times must be strictly increasing: {later} follows {earlier}")
        return times


ApprovalBook = Literal["signals", "rebalance"]


def _signals_book() -> list[ApprovalBook]:
    return ["signals"]


class BollingerScanner(Section):
    """The Bollinger strategy on completed daily bars: a close below the lower band is a buy."""

    period: int = Field(20, ge=2, le=400, description="Sessions of the band's moving average")
    k: float = Field(2.0, gt=0, le=10, description="Band width in standard deviations")
    category: Category = "swing"
    horizon_days: int = Field(10, ge=1, le=2520)
    target: Literal["middle", "upper"] = Field("middle", description="The exit the signal names: band middle or upper")


class RegressionScanner(Section):
    """Regression momentum: a steady climb of log prices (slope and R² over a window) is a buy."""

    window: int = Field(20, ge=3, le=400, description="Sessions the log-price regression is fitted over")
    min_r2: float = Field(0.6, ge=0, le=1, description="How straight the climb must be")
    min_annual_pct: float = Field(20.0, ge=0, le=10_000, description="Slope, as an annualised percentage")
    category: Category = "swing"
    horizon_days: int = Field(10, ge=1, le=2520)


class RankSection(Section):
    """Ranking under the cap: a slot's new signals sized strongest first, the rest watched (``policy.ranking``)."""

    enabled: bool = Field(False, description="Rank each slot's new signals (off: they are sized as they arrived)")
    min_dollar_volume: float = Field(5_000_000.0, ge=0, le=1e13, description="Average dollars traded a day, at least")
    liquidity_sessions: int = Field(20, ge=1, le=400)
    falling_knife_pct: float = Field(15.0, gt=0, le=100, description="Down more than this over the window: watched")
    falling_knife_sessions: int = Field(5, ge=1, le=400)
    max_per_sector: int = Field(3, ge=1, le=1000, description="Entries per sector per day, at most")
    max_per_day: int = Field(10, ge=1, le=10_000, description="Ranked entries per day, at most")


SCANNER_NAMES = ("bollinger", "regression")


class CombinationRule(Section):
    """A combination: a symbol is a signal of source ``builtin:<name>`` when every condition of ``all`` holds, a
    daily scanner's name (it fired, enabled or not) or a prediction condition (``policy.predictions``)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$", description="Its source is builtin:<name>")
    all: list[str] = Field(min_length=1, description="Conditions that must all hold; the first scanner's levels")

    @field_validator("all")
    @classmethod
    def _known_conditions(cls, conditions: list[str]) -> list[str]:
        from autotrader.policy.predictions import CONDITION_VOCABULARY, prediction_condition

        for condition in conditions:
            if condition not in SCANNER_NAMES and prediction_condition(condition) is None:
                raise ValueError(
                    f"unknown condition {condition!r} (allowed: {', '.join(SCANNER_NAMES)}, {CONDITION_VOCABULARY} "
                    "with 0 < P < 1, e.g. probability_above_0.6)"
                )
        if not any(c in SCANNER_NAMES for c in conditions):
            scanners = " or ".join(SCANNER_NAMES)
            raise ValueError(f"needs a scanner ({scanners}): its entry, stop and target are the signal's")
        if len(set(conditions)) != len(conditions):
            raise ValueError("a condition appears twice")
        return conditions

    @property
    def scanner(self) -> str:
        """The first scanner named: the combination's levels, category and horizon are its."""
        return next(c for c in self.all if c in SCANNER_NAMES)


class ScannersSection(Section):
    """The built-in daily scanners: sources like any other (``builtin:<name>``), judged by the same scorecard."""

    enabled: list[Literal["bollinger", "regression"]] = Field(
        default_factory=list, description="The built-in daily scanners that publish signals (empty: none)"
    )
    universe: list[Ticker] = Field(
        default_factory=list, description="Symbols they scan (empty: [data] symbols, or the synthetic universe)"
    )
    publish_at: Hhmm = Field("08:00", description="New York time their signals are published, before the open")
    atr_period: int = Field(14, ge=2, le=200, description="The ATR their stops are set from")
    stop_atr_multiplier: float = Field(1.5, gt=0, le=20, description="Stop = entry − this × ATR")
    max_per_day: int = Field(10, ge=1, le=1000, description="Each scanner's strongest signals per session, at most")
    bollinger: BollingerScanner = BollingerScanner()
    regression: RegressionScanner = RegressionScanner()
    predictions_dir: str = Field(
        "predictions", description="Folder of an ML model's prediction CSV files (relative to the workspace)"
    )
    combinations: list[CombinationRule] = Field(
        default_factory=list, description="[[scanners.combinations]] name, all = [conditions]: each its own source"
    )

    @model_validator(mode="after")
    def _distinct_combinations(self) -> ScannersSection:
        names = [c.name for c in self.combinations]
        for name in names:
            if name in SCANNER_NAMES:
                raise ValueError(f"combination name {name!r} is a scanner's (its source would be the scanner's)")
            if names.count(name) > 1:
                raise ValueError(f"combination name {name!r} appears twice")
        return self


IntradaySetupName = Literal[
    "ema_cross", "vwap_reclaim", "sigma_fade", "hod_failure", "orb", "trend_pullback", "vwap_mean_reversion"
]


class VwapReclaimSetup(Section):
    """The close back above VWAP after a close below it, on volume, once per cooldown per symbol."""

    below_within: int = Field(10, ge=1, le=390, description="A close below VWAP in this many bars before")
    min_relative_volume: float = Field(1.5, ge=0, le=1000)
    cooldown_minutes: int = Field(30, ge=0, le=390, description="No second hit for a symbol within this")


class SigmaFadeSetup(Section):
    """The close at or below the lower σ VWAP band, in an uptrend (EMA fast > slow), on volume."""

    k: float = Field(2.0, gt=0, le=10, description="The band: VWAP − k·σ")
    min_relative_volume: float = Field(1.2, ge=0, le=1000)


class HodFailureSetup(Section):
    """A pullback from a fresh high of day, still above VWAP, EMA fast rising."""

    within: int = Field(15, ge=1, le=390, description="The high of day was made in this many bars")
    min_pullback_pct: float = Field(0.3, gt=0, le=100, description="The close this far below the high of day")


class OrbSetup(Section):
    """Opening range breakout: after the range, the close above its high, EMA fast > slow, on volume."""

    minutes: int = Field(30, ge=1, le=389, description="The opening range's minutes")
    min_relative_volume: float = Field(1.5, ge=0, le=1000)


class TrendPullbackSetup(Section):
    """A pullback to EMA fast in an uptrend on the minutes and the days, with a positive regime score."""

    touch_pct: float = Field(0.1, ge=0, le=10, description="The bar's low within this % of EMA fast")
    min_regime_score: Literal[-3, -1, 1, 3] = Field(1, description="The daily regime score at least this")


class VwapMeanReversionSetup(Section):
    """A deep discount below VWAP while the daily regime stays constructive."""

    min_discount_pct: float = Field(1.0, gt=0, le=50, description="The close at least this % below VWAP")
    min_regime_score: Literal[-3, -1, 1, 3] = Field(1, description="The daily regime score at least this")


class RegimeSettings(Section):
    """The daily regime score (−3..+3) from the completed daily closes before the session: one vote each for
    the close above SMA slow, SMA fast above SMA slow, and the slope of the log closes up."""

    fast_sma: int = Field(20, ge=2, le=250)
    slow_sma: int = Field(50, ge=3, le=400)
    slope_sessions: int = Field(20, ge=3, le=400, description="The least-squares slope over this many sessions")

    @model_validator(mode="after")
    def _ordered(self) -> RegimeSettings:
        if self.slow_sma <= self.fast_sma:
            raise ValueError(f"slow_sma {self.slow_sma} must be longer than fast_sma {self.fast_sma}")
        return self


class SessionPolicy(Section):
    """A time-of-day playbook: inside [start, end) New York, only these setups may fire (for these symbols)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    start: Hhmm
    end: Hhmm
    setups: list[IntradaySetupName] = Field(min_length=1, description="The setups allowed in the window")
    symbols: list[Ticker] = Field(default_factory=list, description="Only for these symbols (empty: every one)")

    @model_validator(mode="after")
    def _a_window(self) -> SessionPolicy:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class IntradaySection(Section):
    """The built-in intraday setups on 1-minute bars (``builtin:<setup>``, category ``day_trade``)."""

    enabled: list[IntradaySetupName] = Field(
        default_factory=list, description="The intraday setups that publish signals (empty: none, no cron entry)"
    )
    universe: list[Ticker] = Field(
        default_factory=list, description="Symbols (empty: [scanners] universe, [data] symbols, synthetic universe)"
    )
    every_minutes: int = Field(5, ge=1, le=60, description="Evaluated every this many minutes in the trading window")
    ema_fast: int = Field(20, ge=2, le=390)
    ema_slow: int = Field(50, ge=3, le=390)
    relative_volume_bars: int = Field(20, ge=1, le=390, description="Volume over the mean of this many bars before")
    atr_period: int = Field(14, ge=2, le=390, description="The ATR of the minute bars the stops are set from")
    stop_atr_multiplier: float = Field(1.0, gt=0, le=20, description="Stop = entry − this × ATR")
    target_one_atr: float = Field(1.0, gt=0, le=50, description="First target = entry + this × ATR (in the note)")
    target_two_atr: float = Field(2.0, gt=0, le=50, description="The signal's target = entry + this × ATR")
    max_per_slot: int = Field(10, ge=1, le=1000, description="Each setup's strongest signals per evaluation")
    vwap_reclaim: VwapReclaimSetup = VwapReclaimSetup()
    sigma_fade: SigmaFadeSetup = SigmaFadeSetup()
    hod_failure: HodFailureSetup = HodFailureSetup()
    orb: OrbSetup = OrbSetup()
    trend_pullback: TrendPullbackSetup = TrendPullbackSetup()
    vwap_mean_reversion: VwapMeanReversionSetup = VwapMeanReversionSetup()
    regime: RegimeSettings = RegimeSettings()
    sessions: list[SessionPolicy] = Field(
        default_factory=list, description="Time-of-day playbooks; where none matches, the trading window applies"
    )
    execution_map: dict[IndexSymbol, Ticker] = Field(
        default_factory=dict, description="Setups computed on an index (I:SPX) are traded on its fund (SPY)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> IntradaySection:
        if self.ema_slow <= self.ema_fast:
            raise ValueError(f"ema_slow {self.ema_slow} must be longer than ema_fast {self.ema_fast}")
        if self.target_two_atr < self.target_one_atr:
            raise ValueError(f"target_two_atr {self.target_two_atr:g} is below target_one_atr {self.target_one_atr:g}")
        return self


class ApprovalSection(Section):
    """The manual approval gate of the first live weeks: entries wait for `autotrader approve`."""

    required: bool = False
    books: list[ApprovalBook] = Field(
        default_factory=_signals_book, description="Whose buys need approval: signals entries, rebalance buys"
    )
    categories: list[Literal["long_term", "swing", "day_trade"]] = Field(
        default_factory=list, description="Only these categories' entries need approval (empty: every one)"
    )
    expiry_minutes: float = Field(240.0, gt=0, le=10_080, description="An unapproved entry is abandoned after this")

    def needs(self, book: str, category: str | None = None) -> bool:
        """Whether a buy of ``book`` (a signals entry of ``category``) waits for the owner's approval."""
        if not self.required or book not in self.books:
            return False
        return book != "signals" or not self.categories or category in self.categories


AlertLevelName = Literal["INFO", "WARNING", "CRITICAL"]
# A URL is ``scheme://...`` (apprise picks the service by its scheme); ${NAME} placeholders are filled later.
_URL_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://\S+$")


class NotifyTarget(Section):
    """One notification URL (any apprise URL) and the least serious alert it receives."""

    url: str
    level: AlertLevelName = "INFO"

    @field_validator("url")
    @classmethod
    def _looks_like_a_url(cls, url: str) -> str:
        # The message never repeats the URL: it may hold a token.
        if not _URL_SHAPE.match(url):
            raise ValueError("must be an apprise URL, scheme://... (e.g. ntfys://ntfy.sh/TOPIC)")
        return url


class NotifySection(Section):
    """Notifications through apprise after each run (see the README's "Notifications")."""

    urls: list[NotifyTarget] = Field(
        default_factory=list, description='A URL ("scheme://...", every alert) or { url = "...", level = "WARNING" }'
    )
    large_loss_usd: float = Field(
        2500.0, gt=0, le=1e12, description="An open position's unrealized loss to announce, and again at 2×, 4× ..."
    )
    unusual_volume_multiple: float = Field(
        3.0, gt=1, le=1000, description="A held symbol's session volume at this multiple of its average is announced"
    )
    volume_average_sessions: int = Field(20, ge=2, le=250, description="Sessions the average volume is taken over")
    shadow: bool = Field(False, description="After each size run, a summary of every signal, traded or not")
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="How long one URL may take to answer")

    @field_validator("urls", mode="before")
    @classmethod
    def _plain_urls(cls, value: Any) -> Any:
        """A bare string is a URL that takes every alert (level INFO). Anything but a list is refused here, in
        words: the type check's message would quote the value, and a URL can hold a token."""
        if not isinstance(value, list):
            raise ValueError('must be a list: urls = ["scheme://...", { url = "...", level = "WARNING" }]')
        out = []
        for entry in value:
            if isinstance(entry, str):
                entry = {"url": entry}
            elif not isinstance(entry, dict | NotifyTarget):
                raise ValueError('each entry is a URL in quotes or a table { url = "...", level = "WARNING" }')
            out.append(entry)
        return out


class StatusSection(Section):
    max_age_hours: float = Field(26.0, gt=0, le=24 * 366)


def _http_url(url: SecretStr | None) -> SecretStr | None:
    """An uptime service's ping URL. The message never repeats the value: the URL is the check's key."""
    if url is None:
        return None
    try:
        parts = urlparse(url.get_secret_value())
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed [ in the host
        ok = False
    if not ok:
        raise ValueError("[monitor] ping_url must be an http:// or https:// URL, e.g. https://hc-ping.com/<uuid>")
    return url


class MonitorSection(Section):
    """Monitoring that notices silence: a ping per cron run to an uptime service, and a metrics file."""

    ping_url: Annotated[SecretStr | None, AfterValidator(_http_url)] = Field(
        None, description="healthchecks.io-style check URL: <url>/start when a run begins, <url>/<exit code> at its end"
    )
    timeout_seconds: float = Field(5.0, gt=0, le=60, description="Seconds a ping may take before it counts as failed")
    textfile_dir: str | None = Field(
        None, description="node_exporter textfile collector folder: autotrader_<mode>.prom is written there"
    )


class OptionsSection(Section):
    """What the options side shares: which underlyings' implied volatility is recorded, and how its history is read."""

    iv_underlyings: list[Ticker] = Field(
        default_factory=list, description="Underlyings whose 30-day IV is recorded after each close (empty: none)"
    )
    iv_history_sessions: int = Field(252, ge=20, le=2520, description="Sessions the IV rank and percentile look back")
    iv_min_history: int = Field(20, ge=2, le=2520, description="Fewer recorded sessions: no IV rank or percentile")
    # The pre-trade checks and limits every options strategy's entries pass (policy/option_checks.py).
    max_spread_usd: float = Field(0.50, gt=0, le=100, description="Widest bid-ask per share of any leg")
    max_spread_pct: float = Field(10.0, gt=0, le=200, description="Widest bid-ask of any leg, percent of its mid")
    min_open_interest: int = Field(100, ge=0, le=10_000_000)
    min_volume: int = Field(10, ge=0, le=10_000_000, description="Contracts traded today in each leg, at least")
    max_premium_per_contract: float = Field(1_000.0, gt=0, le=1e7, description="Largest debit per unit, dollars")
    max_loss_per_trade_pct: float = Field(1.0, gt=0, le=100, description="Percent of the portfolio one trade may risk")
    max_allocation_pct: float = Field(10.0, gt=0, le=100, description="Percent of the portfolio all options may risk")
    concession_pct: float = Field(50.0, ge=0, le=100, description="Limit: this far from the mid toward the natural")


class ExpiryWindowSection(Section):
    """A strategy section with a window of days to expiry (each subclass sets its own defaults): the window must
    not be empty."""

    dte_min: int = Field(1, ge=1, le=730)
    dte_max: int = Field(730, ge=1, le=730)

    @model_validator(mode="after")
    def _window_ordered(self) -> ExpiryWindowSection:
        if self.dte_min > self.dte_max:
            raise ValueError(f"dte_min ({self.dte_min}) must not exceed dte_max ({self.dte_max})")
        return self


class IvRangeSection(ExpiryWindowSection):
    """A strategy section whose entries may ask for a range of the underlying's IV percentile (0 to 1, the
    whole range by default: nothing asked)."""

    iv_percentile_min: float = Field(0.0, ge=0, le=1)
    iv_percentile_max: float = Field(1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> IvRangeSection:
        if self.iv_percentile_min > self.iv_percentile_max:
            raise ValueError("iv_percentile_min must not exceed iv_percentile_max")
        return self


def _swing_only() -> list[Category]:
    return ["swing"]


class VerticalsSection(IvRangeSection):
    """Debit spreads on strong signals: a bull call spread on a buy, a bear put spread on a sell."""

    enabled: bool = False
    min_conviction: int = Field(8, ge=1, le=10, description="Signals at least this sure open a spread")
    categories: list[Category] = Field(default_factory=_swing_only)
    dte_min: int = Field(21, ge=1, le=730)
    dte_max: int = Field(60, ge=1, le=730)
    long_delta: float = Field(0.55, ge=0.05, le=0.95, description="The bought leg's delta (absolute), nearest")
    width_pct: float = Field(5.0, gt=0, le=50, description="Strikes apart, percent of the underlying's price")
    profit_target_pct: float = Field(50.0, gt=0, le=1000, description="Close at this gain on the debit")
    stop_pct: float = Field(50.0, gt=0, le=100, description="Close at this loss of the debit")
    exit_dte: int = Field(5, ge=0, le=365, description="Close this many days before expiry")


class WheelSection(ExpiryWindowSection):
    """Cash-secured puts on the dearest names of a list, covered calls on assigned shares, and round again."""

    enabled: bool = False
    underlyings: list[Ticker] = Field(default_factory=list, description="The names the wheel may sell puts on")
    max_names: int = Field(3, ge=1, le=100, description="Names in the wheel at once (a put or shares)")
    put_delta: float = Field(0.30, ge=0.05, le=0.95, description="The put sold: delta (absolute) nearest")
    call_delta: float = Field(0.30, ge=0.05, le=0.95, description="The call sold: delta nearest")
    dte_min: int = Field(25, ge=1, le=730)
    dte_max: int = Field(45, ge=1, le=730)
    iv_percentile_min: float = Field(0.0, ge=0, le=1, description="Names under this IV percentile are passed over")


class CondorSection(ExpiryWindowSection):
    """Iron condors on range-bound names, watched every slot."""

    enabled: bool = False
    underlyings: list[Ticker] = Field(default_factory=list, description="The names condors may be sold on")
    entry_time: Hhmm = Field("10:00", description="New York time from which condors are sold")
    bollinger_period: int = Field(20, ge=5, le=200, description="Sessions of the range-bound test")
    max_band_width_pct: float = Field(10.0, gt=0, le=100, description="Widest Bollinger band width, percent of the mid")
    dte_min: int = Field(30, ge=1, le=730)
    dte_max: int = Field(45, ge=1, le=730)
    short_delta: float = Field(0.16, ge=0.02, le=0.5, description="The sold put's and call's delta (absolute)")
    wing_width_pct: float = Field(3.0, gt=0, le=50, description="Wings this percent of the price beyond the shorts")
    breach_pct: float = Field(70.0, gt=0, le=100, description="Close once the price has come this far to a short")
    breach_action: Literal["side", "whole"] = Field(
        "side", description="At a breach close the threatened side alone (side) or the whole condor (whole)"
    )
    profit_target_pct: float = Field(40.0, gt=0, le=100, description="Close once this share of the credit is kept")
    exit_dte: int = Field(7, ge=0, le=365, description="Close with fewer days than this to expiry")


class GammaSection(IvRangeSection):
    """Gamma scalping: a long straddle (held as two puts and shares per unit) whose delta shares re-hedge."""

    enabled: bool = False
    underlyings: list[Ticker] = Field(default_factory=list, description="The names a straddle may be bought on")
    dte_min: int = Field(30, ge=1, le=730)
    dte_max: int = Field(60, ge=1, le=730)
    hedge_band: float = Field(0.10, gt=0, le=1, description="Delta per unit (x 100 shares) left unhedged, at most")
    profit_target_pct: float = Field(25.0, gt=0, le=1000, description="Close at this gain on the maximum loss")
    stop_pct: float = Field(50.0, gt=0, le=100, description="Close at this loss of the maximum loss")
    exit_dte: int = Field(14, ge=0, le=365, description="Close with fewer days than this to expiry")


class Settings(BaseSettings):
    """The whole configuration. Build it with ``load_settings``; it is frozen."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        case_sensitive=False,
    )

    account: AccountSection = AccountSection()
    sizing: SizingSection = SizingSection()
    dipbuy: DipBuySection = DipBuySection()
    profittake: ProfitTakeSection = ProfitTakeSection()
    exits: ExitsSection = ExitsSection()
    risk: RiskSection = RiskSection()
    size: SizeSection = SizeSection()
    broker: BrokerSection = BrokerSection()
    data: DataSection = DataSection()
    reference: ReferenceSection = ReferenceSection()
    signals: SignalsSection = SignalsSection()
    ledger: LedgerSection = LedgerSection()
    logs: LogsSection = LogsSection()
    schedule: ScheduleSection = ScheduleSection()
    status: StatusSection = StatusSection()
    monitor: MonitorSection = MonitorSection()
    approval: ApprovalSection = ApprovalSection()
    scanners: ScannersSection = ScannersSection()
    intraday: IntradaySection = IntradaySection()
    rank: RankSection = RankSection()
    notify: NotifySection = NotifySection()
    scorecard: ScorecardSection = ScorecardSection()
    review: ReviewSection = ReviewSection()
    report: ReportSection = ReportSection()
    rebalance: RebalanceSection = RebalanceSection()
    options: OptionsSection = OptionsSection()
    verticals: VerticalsSection = VerticalsSection()
    wheel: WheelSection = WheelSection()
    condor: CondorSection = CondorSection()
    gamma: GammaSection = GammaSection()
    symbols: dict[Ticker, SymbolOverride] = Field(
        default_factory=dict, description="[symbols.<TICKER>] tables: per-symbol overrides (config file only)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML document arrives as init data; the environment overrides it. No .env for settings:
        # .env is for secrets only, and a secret file is not a place for behaviour.
        # One run's --set overrides (``load_config(overrides=...)``) are in the TOML document too, so every check
        # sees them, and come first here as well: typed for this run, they win over the environment's standing
        # settings (the sources' tables merge key by key, so an override replaces only what it names).
        overrides = _ACTIVE_OVERRIDES.get()
        if overrides:
            tables = apply_overrides({}, overrides, defaults=False)
            return (InitSettingsSource(settings_cls, init_kwargs=tables), env_settings, init_settings)
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.broker.kind == "sim" and self.broker.mode == "live":
            raise ValueError("broker.mode = 'live' needs broker.kind = 'alpaca' (the simulator has no live mode)")
        # Both hold their shares in the options book, one position per name: a name in both would mix the
        # wheel's assigned shares with the straddle's hedge.
        shared = sorted(set(self.wheel.underlyings) & set(self.gamma.underlyings))
        if shared:
            raise ValueError(f"gamma.underlyings and wheel.underlyings share {', '.join(shared)}: a name in one only")
        return self

    @property
    def sizing_capital(self) -> Literal["pinned", "broker", "last_close"]:
        """Where sizing's portfolio value comes from: ``pinned`` when ``[account] portfolio_value`` is set (file
        or environment); else with a real broker its equity at each run (``broker``), never the default sized
        for the simulator; else the equity the last end of day stored, or the default before one (``last_close``).
        """
        if "portfolio_value" in self.account.model_fields_set:
            return "pinned"
        return "last_close" if self.broker.kind == "sim" else "broker"

    @property
    def mode_name(self) -> str:
        """Which ledger this configuration writes to: ``sim``, ``paper`` or ``live``."""
        return "sim" if self.broker.kind == "sim" else self.broker.mode


class Secrets(BaseSettings):
    """API keys, from the environment or the workspace's ``.env`` only. Never printed, logged or stored."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=False)

    alpaca_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("ALPACA_API_KEY", "APCA_API_KEY_ID"))
    alpaca_secret_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ALPACA_SECRET_KEY", "APCA_API_SECRET_KEY")
    )
    polygon_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("MASSIVE_API_KEY", "POLYGON_API_KEY"))
    finnhub_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("FINNHUB_API_KEY"))

    def present(self) -> list[str]:
        """Names (never values) of the keys that are set."""
        return [name for name, value in self if value is not None and value.get_secret_value()]

    def values(self) -> list[str]:
        """The secret values, for the log redaction filter only."""
        return [v.get_secret_value() for _, v in self if v is not None and v.get_secret_value()]


@dataclass(frozen=True)
class NotifyUrl:
    """A ``[notify] urls`` entry with its ${NAME} placeholders filled: a secret, like an API key."""

    url: SecretStr
    level: AlertLevelName
    label: str  # what output and logs may show: the scheme and, when it is a plain host name, the host
    parts: tuple[str, ...] = ()  # the values filled in, each as secret as the whole URL

    index: int = 0  # its place in [notify] urls, from 1: two URLs on one host tell apart by it

    def secret_values(self) -> list[str]:
        return [self.url.get_secret_value(), *self.parts]


@dataclass(frozen=True)
class NotifyUrlProblem:
    """A ``[notify] urls`` entry left out: a ``${NAME}`` it needs is set in neither the environment nor the
    workspace's ``.env``. Names only, never a value."""

    index: int  # its place in [notify] urls, from 1
    entry: str  # the setting, as a config error names it: notify.urls.1 (from 0)
    where: str  # config.toml:42, or the environment variable that set [notify] urls
    variables: tuple[str, ...]  # the names that are not set

    @property
    def message(self) -> str:
        names = ", ".join(f"${{{name}}}" for name in self.variables)
        verb = "is" if len(self.variables) == 1 else "are"
        return (
            f"{self.where}: {self.entry}: {names} {verb} not set in the environment or the workspace's .env; "
            "this URL is left out (the others still work)"
        )

    @property
    def fix(self) -> str:
        return f"set {', '.join(self.variables)} in the environment or the workspace's .env"


def mask_url(url: str) -> str:
    """``scheme://host`` with everything else left out (user, password, path, query: where tokens live). The
    host is shown only when it is a host name or address (``ntfy.sh``, ``127.0.0.1``): some services put
    their token where the host goes (``tgram://BOT_TOKEN/CHAT``), and that shows as ``…``."""
    scheme, _, rest = url.partition("://")
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]  # an address in the query (mailto's ?to=) is no host
    host = netloc.rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host  # a port, not an IPv6 address
    named = re.fullmatch(r"[A-Za-z0-9.\-]+", host) is not None and ("." in host or host.lower() == "localhost")
    return f"{scheme.lower()}://{host.lower() if named else '…'}"


@dataclass(frozen=True)
class Config:
    """Loaded settings plus where they came from."""

    settings: Settings
    secrets: Secrets
    config_path: Path | None  # None: embedded defaults
    workspace: Path
    notify_urls: tuple[NotifyUrl, ...] = ()  # [notify] urls, expanded: the entries whose ${NAME}s are all set
    notify_problems: tuple[NotifyUrlProblem, ...] = ()  # the entries left out, and why
    overrides: tuple[Override, ...] = ()  # one run's --set SECTION.KEY=VALUE, applied in this order

    def secret_values(self) -> list[str]:
        """Every secret value (API keys, notification URLs and what filled them), for the log's redaction only."""
        return [*self.secrets.values(), *(value for target in self.notify_urls for value in target.secret_values())]

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.workspace / path)

    @property
    def ledger_path(self) -> Path:
        return self.resolve(self.settings.ledger.dir) / f"ledger-{self.settings.mode_name}.db"

    def ledger_path_for(self, mode_name: str) -> Path:
        return self.resolve(self.settings.ledger.dir) / f"ledger-{mode_name}.db"

    @property
    def logs_dir(self) -> Path:
        return self.resolve(self.settings.logs.dir)

    @property
    def reports_dir(self) -> Path | None:
        """Where rehydrate writes the evening's daily report; None when ``[report] dir = ""`` turns it off."""
        folder = self.settings.report.dir.strip()
        return self.resolve(folder) if folder else None

    @property
    def lock_path(self) -> Path:
        return self.workspace / ".autotrader.lock"


# --------------------------------------------------------------------------------------------------
# Loading, and error messages that name the place
# --------------------------------------------------------------------------------------------------


def config_path_from(cli_value: str | None) -> Path:
    """``--config`` wins, then ``AUTOTRADER_CONFIG``, then ``./config.toml``."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get("AUTOTRADER_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path("config.toml")


def load_config(path: Path, *, overrides: Iterable[str | Override] = ()) -> Config:
    """Read, merge and validate the configuration at ``path``. Raises ``ConfigError`` (exit 2).

    ``overrides`` (``--set SECTION.KEY=VALUE``, see ``parse_override``) change this load only, never the file:
    they are applied to the parsed document before validation, so each goes through every check a value written
    in the file would, and they win over the environment too."""
    if not path.is_file():
        raise ConfigError(
            f"{path}: config file not found",
            hint="pass --config PATH, set AUTOTRADER_CONFIG, or run `autotrader demo` to create a workspace",
        )
    raw_bytes = path.read_bytes()
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(_toml_error(path, text, e), hint="fix the syntax at that line") from None
    _reject_non_finite(document, path, text)
    applied = parse_overrides(overrides)
    return _build(apply_overrides(document, applied), path, text, overrides=applied)


def config_from_text(text: str, path: Path, *, workspace: Path) -> Config:
    """A config file's text checked as ``load_config`` checks the file (before it is written, by ``init``)."""
    document = tomllib.loads(text)
    _reject_non_finite(document, path, text)
    return _build(document, path, text, workspace=workspace)


def _toml_error(path: Path, text: str, error: tomllib.TOMLDecodeError) -> str:
    """``file:line:column: message``; tomllib says "end of document" for an unclosed last value."""
    message = str(error)
    found = re.search(r"\(at line (\d+), column (\d+)\)$", message)
    if found:
        line, column = found.group(1), found.group(2)
        message = message[: found.start()].rstrip()
    else:
        lines = text.splitlines() or [""]
        line, column = str(len(lines)), str(len(lines[-1]) + 1)
        message = re.sub(r"\s*\(at end of document\)$", "", message) + " (at end of file)"
    return f"{path}:{line}:{column}: invalid TOML: {message} (line {line}, column {column})"


def default_config(workspace: Path) -> Config:
    """The embedded defaults (no file), rooted at ``workspace``."""
    return _build({}, None, "", workspace=workspace)


def _build(
    document: dict[str, Any],
    path: Path | None,
    text: str,
    *,
    workspace: Path | None = None,
    overrides: tuple[Override, ...] = (),
) -> Config:
    with _overriding(overrides):
        return _build_settings(document, path, text, workspace=workspace, overrides=overrides)


def _build_settings(
    document: dict[str, Any], path: Path | None, text: str, *, workspace: Path | None, overrides: tuple[Override, ...]
) -> Config:
    _reject_unknown_env()
    _reject_wrong_types(document, path, text)
    try:
        settings = Settings(**document)
    except ValidationError as e:
        raise ConfigError(
            _describe(e, path, text), hint="see config.toml for every key and its allowed range"
        ) from None
    except SettingsError as e:
        # An environment value that is not valid JSON for a list or table setting.
        raise ConfigError(
            f"environment override: {e}",
            hint="list and table values are JSON, e.g. AUTOTRADER_SCORECARD__HORIZONS='[1, 5]'",
        ) from None
    _reject_made_up_data_for_a_real_broker(settings, path, text)
    workspace_dir = workspace if workspace is not None else (path.parent if path else Path.cwd())
    workspace_dir = workspace_dir.resolve()
    env_file = workspace_dir / ".env"
    try:
        secrets = Secrets(_env_file=env_file if env_file.is_file() else None)
    except ValidationError as e:
        # Only names, never input values: pydantic would echo the secret (pydantic-settings#256).
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in e.errors())
        raise ConfigError(f"invalid API key settings: {fields}") from None
    notify_urls, notify_problems = _notify_urls(settings, path, text, env_file if env_file.is_file() else None)
    return Config(
        settings=settings, secrets=secrets, config_path=path, workspace=workspace_dir, notify_urls=notify_urls,
        notify_problems=notify_problems, overrides=overrides,
    )  # fmt: skip


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _notify_urls(
    settings: Settings, path: Path | None, text: str, env_file: Path | None
) -> tuple[tuple[NotifyUrl, ...], tuple[NotifyUrlProblem, ...]]:
    """``[notify] urls`` with each ``${NAME}`` filled from the environment, else the workspace's ``.env``, so a
    token never has to sit in config.toml. An entry naming a variable set in neither (or set empty) is left out,
    and only it: a notification problem never stops a run (the kill switch, the stops and loss cuts), so it is
    reported instead (each run's log, ``config check``, ``doctor``), naming the entry and the variable, never a
    value."""
    if not settings.notify.urls:
        return (), ()
    from dotenv import dotenv_values

    dotenv = dotenv_values(env_file) if env_file is not None else {}
    urls, problems = [], []
    for i, target in enumerate(settings.notify.urls):
        values = {name: os.environ.get(name) or dotenv.get(name) for name in _PLACEHOLDER.findall(target.url)}
        unset = tuple(name for name, value in values.items() if not value)
        if unset:
            where = _origin(("notify", "urls"), path, text, explicit=True)
            problems.append(NotifyUrlProblem(i + 1, f"notify.urls.{i}", where, unset))
            continue
        url, parts = target.url, tuple(value for value in values.values() if value)
        for name, value in values.items():
            url = url.replace(f"${{{name}}}", value or "")
        urls.append(NotifyUrl(SecretStr(url), target.level, mask_url(target.url), parts, i + 1))
    return tuple(urls), tuple(problems)


def _origin(loc: tuple[str, str], path: Path | None, text: str, *, explicit: bool) -> str:
    """Where a setting's value comes from, for a message: the --set that gave it, its environment variable,
    ``file:line``, or the default."""
    given = _set_by(loc)
    if given:
        return given
    env = _env_name(loc)
    if env:
        return f"environment variable {env}"
    line = locate_line(text, loc) if explicit and path is not None else None
    return f"{path}:{line}" if line else "the default"


def _reject_made_up_data_for_a_real_broker(settings: Settings, path: Path | None, text: str) -> None:
    """A real broker (paper or live) must never be sent an order sized and priced from synthetic bars, nor act
    on the synthetic world's demo recommendations: either is a configuration error, naming both settings."""
    if settings.broker.kind == "sim":
        return
    broker = f"broker.kind = 'alpaca' ({_origin(('broker', 'kind'), path, text, explicit=True)})"
    data_explicit = "kind" in settings.data.model_fields_set
    feed_explicit = "synthetic_feed" in settings.signals.model_fields_set
    made_up = []
    if settings.data.kind == "synthetic":
        made_up.append(f"data.kind = 'synthetic' ({_origin(('data', 'kind'), path, text, explicit=data_explicit)})")
    if settings.signals.synthetic_feed and (feed_explicit or settings.data.kind == "synthetic"):
        origin = _origin(("signals", "synthetic_feed"), path, text, explicit=feed_explicit)
        made_up.append(f"signals.synthetic_feed = true ({origin})")
    if made_up:
        raise ConfigError(
            f"{broker} with {' and '.join(made_up)}: a real broker never trades on made-up prices or "
            "recommendations",
            hint='set [data] kind = "polygon" (or "local") and [signals] synthetic_feed = false, '
            'or use [broker] kind = "sim"',
        )


def _reject_non_finite(node: Any, path: Path, text: str, trail: tuple[str, ...] = ()) -> None:
    # TOML accepts nan and inf, and pydantic lets inf through `gt=0`; refuse both at the source.
    if isinstance(node, dict):
        for key, value in node.items():
            _reject_non_finite(value, path, text, (*trail, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _reject_non_finite(value, path, text, (*trail, str(i)))
    elif isinstance(node, float) and not math.isfinite(node):
        line = locate_line(text, trail)
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: {'.'.join(trail)} = {node}: must be a finite number")


# The errors strict validation adds to lax validation: a value of the wrong TOML type that pydantic would
# otherwise convert ("off" or 1 for a switch, "20" for a count, 2.0 for a count).
_TYPE_ERRORS = {"bool_type", "int_type", "float_type", "string_type", "int_from_float", "list_type", "dict_type"}


def _reject_wrong_types(document: dict[str, Any], path: Path | None, text: str) -> None:
    """Refuse a config-file value whose TOML type is not the setting's (``use_dynamic_sizing = "off"``,
    ``max_open_positions = "20"``): a quoted number or a 0/1 switch is a typo, not an intent. Environment
    overrides stay text converted by the setting's type, since text is all the environment holds."""
    errors: list[Any] = []
    symbols = document.get("symbols")
    for ticker, table in symbols.items() if isinstance(symbols, dict) else ():
        if isinstance(table, dict):  # [symbols.<TICKER>] tables: a dict of sections, not a section
            try:
                SymbolOverride.model_validate(table, strict=True)
            except ValidationError as e:
                errors.extend(
                    {**err, "loc": ("symbols", ticker, *err["loc"]), "msg": _type_message(err["type"], err["input"])}
                    for err in e.errors(include_url=False)
                    if err["type"] in _TYPE_ERRORS
                )
    for section, value in document.items():
        field = Settings.model_fields.get(section)
        model = field.annotation if field is not None else None
        if not isinstance(value, dict) or not (isinstance(model, type) and issubclass(model, Section)):
            continue  # an unknown section or a non-table: the full validation names it
        try:
            model.model_validate(value, strict=True)
        except ValidationError as e:
            errors.extend(
                {**err, "loc": (section, *err["loc"]), "msg": _type_message(err["type"], err["input"])}
                for err in e.errors(include_url=False)
                if err["type"] in _TYPE_ERRORS
            )
    if errors:
        raise ConfigError(_describe(errors, path, text), hint="write switches as true/false and numbers unquoted")


def _type_message(kind: str, value: Any) -> str:
    wanted = {
        "bool_type": "true or false (unquoted)",
        "int_type": "a whole number (unquoted)",
        "int_from_float": "a whole number (unquoted)",
        "float_type": "a number (unquoted)",
        "string_type": "quoted text",
        "list_type": "a list [ ... ]",
        "dict_type": "a table",
    }[kind]
    shown = f"the text {value!r}" if isinstance(value, str) else f"{type(value).__name__} {value!r}"
    return f"must be {wanted}, not {shown}"


def _reject_unknown_env() -> None:
    sections = set(Settings.model_fields)
    for name in os.environ:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NON_SETTING_ENV:
            continue
        parts = upper[len(ENV_PREFIX) :].lower().split("__")
        section = parts[0]
        if section not in sections or len(parts) != 2:
            raise ConfigError(
                f"environment variable {name}: not a setting",
                hint="overrides look like AUTOTRADER_<SECTION>__<KEY>, e.g. AUTOTRADER_SIZING__MAX_POSITION_PCT",
            )
        if section == "symbols":
            raise ConfigError(
                f"environment variable {name}: per-symbol overrides are set in the config file only",
                hint="write a [symbols.<TICKER>] table in config.toml",
            )
        model = Settings.model_fields[section].annotation
        if parts[1] not in model.model_fields:  # type: ignore[union-attr]
            allowed = ", ".join(model.model_fields)  # type: ignore[union-attr]
            raise ConfigError(f"environment variable {name}: [{section}] has no key {parts[1]!r} (keys: {allowed})")


def _env_name(loc: tuple[Any, ...]) -> str | None:
    if len(loc) < 2:
        return None
    name = f"{ENV_PREFIX}{str(loc[0]).upper()}__{str(loc[1]).upper()}"
    for key in os.environ:
        if key.upper() == name:
            return key
    return None


def _describe(error: ValidationError | list[Any], path: Path | None, text: str) -> str:
    lines = []
    errors = error if isinstance(error, list) else error.errors(include_url=False, include_input=False)
    for err in errors:
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc) or "(root)"
        env = _env_name(loc)
        given = _set_by(loc)
        if given:
            where = given
        elif env:
            where = f"environment variable {env}"
        elif path is not None:
            line = locate_line(text, tuple(str(p) for p in loc))
            where = f"{path}:{line}" if line else str(path)
        else:
            where = "settings"
        message = err["msg"]
        if loc[:1] == ("symbols",) and loc[-1:] == ("[key]",):
            dotted, message = ".".join(str(p) for p in loc[:-1]), "not a ticker (upper case, like AAPL or BRK.B)"
        if err["type"] == "extra_forbidden":
            section_model = Settings.model_fields.get(str(loc[0])) if len(loc) > 1 else None
            if len(loc) == 1:
                allowed = ", ".join(Settings.model_fields)
                message = f"unknown section (sections: {allowed})"
            elif loc[0] == "symbols":
                message = f"unknown key (keys in [symbols.<TICKER>]: {', '.join(SymbolOverride.model_fields)})"
            elif section_model is not None:
                allowed = ", ".join(section_model.annotation.model_fields)  # type: ignore[union-attr]
                message = f"unknown key (keys in [{loc[0]}]: {allowed})"
            else:
                message = "unknown key"
        # An error in exactly what a --set gave is named once: "--set exits.loss_cut_pct.swing: ...".
        lines.append(f"{where}: {message}" if where == f"{SET_OPTION} {dotted}" else f"{where}: {dotted}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=")


def locate_line(text: str, loc: tuple[str, ...]) -> int | None:
    """The 1-based line where the setting at ``loc`` (e.g. ``("sizing", "max_position_pct")``) is written.

    Good enough for error messages: it follows table headers and (dotted) keys, and returns the deepest
    part of ``loc`` it can find (a list element's line is its key's line).
    """
    if not loc:
        return None
    table: tuple[str, ...] = ()
    best: tuple[int, int] | None = None  # (depth matched, line)
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = tuple(part.strip().strip('"') for part in header.group(1).split("."))
            depth = _common(table, loc)
            if depth == len(table) and (best is None or depth > best[0]):
                best = (depth, number)
            continue
        key = _KEY.match(line)
        if key:
            full = table + tuple(part.strip() for part in key.group(1).split("."))
            depth = _common(full, loc)
            if depth == len(full) and (best is None or depth > best[0]):
                best = (depth, number)
    return best[1] if best else None


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def redacted_dump(config: Config) -> dict[str, Any]:
    """The effective settings plus which keys are set (never their values), for ``config show``."""
    data = config.settings.model_dump(mode="json")
    # A notification URL can carry a token even where it has no ${NAME}: only its scheme and host are shown.
    data["notify"]["urls"] = [{"url": mask_url(t.url), "level": t.level} for t in config.settings.notify.urls]
    data["secrets"] = {name: ("**********" if name in config.secrets.present() else None) for name, _ in config.secrets}
    return data


# --------------------------------------------------------------------------------------------------
# One run's what-if: --set SECTION.KEY=VALUE
# --------------------------------------------------------------------------------------------------

SET_OPTION = "--set"
SET_HINT = (
    "--set SECTION.KEY=VALUE, the key dotted as in config.toml (exits.loss_cut_pct.swing) and the value "
    'written as in TOML: true, 5, 2.5, "text", [1, 2], { long_term = 20.0 } (a bare word is text)'
)
# Settings whose values hold secrets (an uptime check's key in its ping URL, a token in a notification URL): an
# override of one, or of a table holding one, is shown masked, like ``config show`` shows them.
SECRET_SETTINGS: tuple[tuple[str, ...], ...] = (("monitor", "ping_url"), ("notify", "urls"))
MASKED = "**********"


@dataclass(frozen=True)
class Override:
    """One ``--set``: a dotted path into the settings (``("exits", "loss_cut_pct", "swing")``) and its value, as
    TOML reads it."""

    path: tuple[str, ...]
    value: Any

    @property
    def key(self) -> str:
        return ".".join(self.path)

    @property
    def secret(self) -> bool:
        return any(_prefix(self.path, s) or _prefix(s, self.path) for s in SECRET_SETTINGS)

    @property
    def shown(self) -> Any:
        """The value as output may show it: masked when it is (or holds) a secret."""
        return MASKED if self.secret else self.value


def parse_override(text: str) -> Override:
    """``SECTION.KEY=VALUE`` → ``Override``. The key is a TOML dotted key (a part with a dot in it is quoted:
    ``symbols."BRK.B".max_position_pct``), at least a section and a key; the value is read as a TOML value, and
    a value that is not one (a bare word: ``swing``) is taken as text. Raises ``ConfigError`` (exit 2), naming the
    key only: the value may be a secret."""
    key_text, equals, value_text = text.partition("=")
    key_text, value_text = key_text.strip(), value_text.strip()
    if not equals or not key_text:
        # Only what looks like a key is echoed: without its "=", the text may be a secret value.
        head = re.match(r"[A-Za-z0-9_.\-]{1,60}", text.strip())
        shown = f"{SET_OPTION} {head.group(0)}" if head else SET_OPTION
        raise ConfigError(f"{shown}: expected SECTION.KEY=VALUE", hint=SET_HINT)
    path = _dotted_key(key_text)
    if path is None:
        raise ConfigError(f"{SET_OPTION} {key_text}: not a dotted key like dipbuy.dip_buy_enabled", hint=SET_HINT)
    if len(path) < 2:
        section = Settings.model_fields.get(path[0])
        model = section.annotation if section is not None else None
        what = (
            f"keys in [{path[0]}]: {', '.join(model.model_fields)}"
            if isinstance(model, type) and issubclass(model, Section)
            else f"sections: {', '.join(Settings.model_fields)}"
        )
        raise ConfigError(f"{SET_OPTION} {key_text}: name a key inside a section ({what})", hint=SET_HINT)
    value = _toml_value(value_text)
    if not _finite(value):
        raise ConfigError(f"{SET_OPTION} {'.'.join(path)}: must be a finite number (not nan or inf)", hint=SET_HINT)
    return Override(path, value)


def parse_overrides(items: Iterable[str | Override]) -> tuple[Override, ...]:
    return tuple(item if isinstance(item, Override) else parse_override(item) for item in items)


def apply_overrides(
    document: Mapping[str, Any], overrides: Iterable[str | Override], *, defaults: bool = True
) -> dict[str, Any]:
    """A copy of the parsed TOML ``document`` with each override set in turn (a later one wins; one inside a table
    an earlier one set changes only its key). Pure: the document given is not changed.

    A key inside a table setting the file does not write (``exits.loss_cut_pct.swing``) changes that key of the
    setting's default table, the other keys keeping their defaults; a table value (``exits.loss_cut_pct={
    long_term = 20.0 }``) likewise sets the keys it names and keeps the others, as the dotted keys would. Any other
    value (a list, a number, text) replaces what was there. ``defaults=False``: only the keys given, for a layer
    merged over others. What the values mean is validation's to say (``load_config``); here only the shape: a
    path through a value that is not a table cannot be followed, so that value is set whole instead. Raises
    ``ConfigError`` (exit 2)."""
    out = copy.deepcopy(dict(document))
    for override in parse_overrides(overrides):
        node = out
        for depth, part in enumerate(override.path[:-1], start=1):
            if part not in node:
                # A section starts empty (its own defaults fill it); a table inside one starts as its default.
                seed = _default_table(override.path[:depth]) if defaults and depth > 1 else None
                node[part] = seed if seed is not None else {}
            child = node[part]
            if not isinstance(child, dict):
                above = ".".join(override.path[:depth])
                raise ConfigError(
                    f"{SET_OPTION} {override.key}: {above} is {_kind(child)}, not a table",
                    hint=f"set it whole: {SET_OPTION} {above}=...",
                )
            node = child
        value, last = copy.deepcopy(override.value), override.path[-1]
        if isinstance(value, dict):
            base = node.get(last, _default_table(override.path) if defaults else None)
            value = _merged(base, value) if isinstance(base, dict) else value
        node[last] = value
    return out


def shown_overrides(overrides: Iterable[Override]) -> dict[str, Any]:
    """``{dotted key: value}`` as output may show it (the last of a key twice, secrets masked)."""
    return {o.key: o.shown for o in overrides}


# The overrides of the load under way, for the settings source that makes them win over the environment and for
# the messages that name where a value came from (``_set_by``). Set only inside ``_build``.
_ACTIVE_OVERRIDES: ContextVar[tuple[Override, ...]] = ContextVar("autotrader_overrides", default=())


@contextmanager
def _overriding(overrides: tuple[Override, ...]) -> Iterator[None]:
    token = _ACTIVE_OVERRIDES.set(overrides)
    try:
        yield
    finally:
        _ACTIVE_OVERRIDES.reset(token)


def _set_by(loc: tuple[Any, ...]) -> str | None:
    """``--set KEY`` for the overrides that gave the setting at ``loc`` (or a value inside it, or the table around
    it: a section's own check may fail on what an override put in it), else None."""
    parts = tuple(str(p) for p in loc)
    keys = [o.key for o in _ACTIVE_OVERRIDES.get() if parts and (_prefix(o.path, parts) or _prefix(parts, o.path))]
    return ", ".join(f"{SET_OPTION} {key}" for key in dict.fromkeys(keys)) or None


def _default_table(path: tuple[str, ...]) -> dict[str, Any] | None:
    """The default of the table setting at ``path`` (``("exits", "loss_cut_pct")``) as the TOML document would
    write it, or None when ``path`` names no table setting with a default."""
    model: Any = Settings
    value: Any = None
    for part in path:
        fields = model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else {}
        if part not in fields:
            return None
        value = fields[part].get_default(call_default_factory=True)
        model = fields[part].annotation
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return copy.deepcopy(value) if isinstance(value, dict) else None


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in update.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _prefix(head: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return path[: len(head)] == head


def _dotted_key(text: str) -> tuple[str, ...] | None:
    """TOML's own reading of a dotted key (bare or quoted parts), or None when it is not one."""
    if "\n" in text or "\r" in text:
        return None
    try:
        node: Any = tomllib.loads(f"{text} = 0")
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(node, dict):
        if len(node) != 1:
            return None
        ((part, node),) = node.items()
        path.append(part)
    return tuple(path) if node == 0 and path else None


def _toml_value(text: str) -> Any:
    try:
        document = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    return document["v"] if set(document) == {"v"} else text


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}" if isinstance(value, bool | int | float) else "a value"
