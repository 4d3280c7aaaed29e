"""The scorecard: how good the signals were, per category, per source and per conviction bucket. Pure.

It keeps two questions apart:

- **Was the pick good?** Forward returns and excess returns over SPY at fixed horizons (``outcomes``), and
  the pick alone held to its rule exit (``rule_exits``; pick-only P&L of traded positions).
- **Did active management add value?** Managed P&L minus pick-only P&L of the traded positions, split by
  management leg (``legs``: dip buys, profit takes, loss cuts, ... and the open remainder).

Inputs (pandas DataFrames; extra columns are ignored; an empty frame may omit its columns)
-----------------------------------------------------------------------------------------
- ``outcomes``: one row per (signal, horizon): ``signal_id, category, source, conviction`` (float, NaN = none),
  ``horizon`` (int, sessions), ``status`` ("complete" | "pending"), ``ret`` and ``excess`` (side-adjusted,
  fractions), ``hit`` (bool). Only rows with ``status == "complete"`` and a horizon in ``horizons`` count.
- ``rule_exits``: one row per signal: ``signal_id, category, source, conviction, status, r_multiple, ret,
  holding_sessions``. Only ``status == "complete"`` rows count.
- ``trades``: one row per traded position: ``signal_id, category, source, conviction, pick_pnl, pick_r,
  managed_pnl, holding_days, closed`` (bool); optional ``managed_r`` (managed P&L / initial risk) and
  ``pick_holding_days`` (the pick's holding to its rule exit), and ``entry_date`` (the entry session, ISO; without
  it each trade is its own date in the management alpha's bootstrap). Without them the managed R statistics and
  the pick-only holding time are ``None``: never guessed.
- ``legs``: one row per management leg: ``signal_id, category, source, conviction, action, tier``
  (int; 0 = untiered), ``pnl_vs_pick`` (what the leg added over the pick alone, in dollars).

Definitions (per row, i.e. per group key; "h" ranges over ``horizons``)
----------------------------------------------------------------------
- ``signals``: distinct ``signal_id`` over all four inputs; ``traded``: distinct ``signal_id`` in ``trades``;
  ``pending``: signals with no complete outcome at any of ``horizons``; ``late``: signals whose
  ``outcomes`` rows say ``late`` (optional bool column: imported well after the time they claim, and scored
  from their arrival; 0 without the column).
- ``completed[h]``: complete outcome rows at h. ``hit_rate[h]`` = #hit / #complete (rows with a missing
  ``hit`` left out); ``hit_rate_ci[h]``: Wilson 95% interval (``metrics.wilson_interval``).
- ``excess_return_mean[h]`` / ``excess_return_median[h]``: over complete rows with a finite ``excess``;
  ``excess_return_median_ci[h]``: the same for the median;
  ``excess_return_ci[h]``: 95% interval of the mean (``metrics.bootstrap_ci``: percentile bootstrap with
  2000 resamples up to 5000 values, the normal approximation above; both adjustable).
- ``rule_exit``: over complete rule exits: ``signals`` (their count), ``win_rate`` (share with ret > 0),
  ``expectancy_r`` (mean R), ``sqn`` (√N·mean R / sd R), ``avg_holding_sessions``.
- ``pick_only`` / ``managed``: ``trades`` (all traded positions, open or closed), ``closed`` (closed ones),
  ``pnl`` = Σ P&L over *all* trades (open ones at the caller's mark); ``win_rate``, ``avg_win``,
  ``avg_loss`` (positive), ``profit_factor``, ``expectancy_r``, ``sqn`` and ``avg_holding_days`` over
  *closed* trades only, since an open trade's result can still change (``metrics`` for each formula).
- ``management_alpha.total`` = managed.pnl − pick_only.pnl, exactly (the same two floats).
  ``per_trade``: the mean of managed − pick-only P&L over the row's *closed* trades (``closed_trades`` of them;
  an open trade's alpha can still change), with ``per_trade_ci`` from the date-block bootstrap over entry
  sessions (``entry_date``; blocks as long as the median holding, since positions held over the same days move
  together) at ``level`` = 1 − 0.05/m, m the rows of the group with at least ``MIN_ALPHA_TRADES`` closed trades
  (Bonferroni: the rows' intervals hold together); ``verdict``: "management added" / "cost" that much a trade
  when the interval excludes zero, else "no evidence"; fewer closed trades: no interval, "too few".
  ``by_action``: Σ ``pnl_vs_pick`` per action and per ``"action:tier"`` (tiers > 0 only), sorted by key;
  they add up to the total when the caller's legs account for the whole difference
  (``policy.attribution`` builds them that way).
- ``verdict`` at ``primary_horizon`` with n = complete rows with a finite excess there:
  n < ``min_signals`` → "too few signals: n < min_signals"; else the excess-return CI's lower bound > 0 →
  "beats SPY"; upper bound < 0 → "trails SPY"; otherwise (or no CI) → "no evidence".

Keys: category and source rows sorted by name (a missing value is the key ``"(missing)"``); conviction rows
in ``conviction_buckets`` order (inclusive bounds), then ``"none"`` (no conviction), then ``"other"`` (a
conviction outside every bucket). Only keys with at least one signal get a row.
Output is JSON-ready: horizon keys are strings, every number is a python int/float, NaN and ±inf are ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autotrader.policy import inference, metrics
from autotrader.policy import verdicts as verdict_rules
from autotrader.policy.verdicts import verdict

__all__ = [
    "DEFAULT_CONVICTION_BUCKETS",
    "GROUPS",
    "build_rows",
    "hypotheses",
    "calibration",
    "conviction_labels",
    "verdict",
]

Bucket = tuple[float, float, str]

DEFAULT_CONVICTION_BUCKETS: tuple[Bucket, ...] = ((1, 4, "1-4"), (5, 6, "5-6"), (7, 8, "7-8"), (9, 10, "9-10"))
GROUPS: tuple[str, ...] = ("category", "source", "conviction")
NO_CONVICTION = "none"
UNBUCKETED = "other"
MISSING = "(missing)"
NAN = float("nan")

_KEY_COLUMNS = ("signal_id", "category", "source", "conviction")
OUTCOME_COLUMNS = (*_KEY_COLUMNS, "horizon", "status", "ret", "excess", "hit")
RULE_EXIT_COLUMNS = (*_KEY_COLUMNS, "status", "r_multiple", "ret", "holding_sessions")
TRADE_COLUMNS = (*_KEY_COLUMNS, "pick_pnl", "pick_r", "managed_pnl", "holding_days", "closed")
LEG_COLUMNS = (*_KEY_COLUMNS, "action", "tier", "pnl_vs_pick")


# ---------------------------------------------------------------------------------------------- helpers


def _num(value: Any) -> float | None:
    """A JSON-safe number: ``None`` for None, NaN and ±inf."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _interval(bounds: tuple[float, float]) -> list[float] | None:
    lo, hi = _num(bounds[0]), _num(bounds[1])
    return None if lo is None or hi is None else [lo, hi]


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


def _nanmean(values: np.ndarray) -> float:
    """Mean of the non-NaN values; NaN (without numpy's empty-slice warning) when there is none."""
    return _mean(values[~np.isnan(values)])


def _floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> pd.DataFrame:
    if len(frame) == 0 and not set(columns) <= set(frame.columns):
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it needs {list(columns)}")
    return frame


def _check_buckets(buckets: Sequence[Bucket]) -> None:
    spans = sorted((float(lo), float(hi), label) for lo, hi, label in buckets)
    for lo, hi, label in spans:
        if lo > hi:
            raise ValueError(f"conviction bucket {label!r} has lower bound {lo} > upper bound {hi}")
    for (_, hi, label), (lo, _, next_label) in zip(spans, spans[1:], strict=False):
        if lo <= hi:
            raise ValueError(f"conviction buckets {label!r} and {next_label!r} overlap")
    labels = [label for _, _, label in buckets]
    if len(set(labels)) != len(labels) or {NO_CONVICTION, UNBUCKETED} & set(labels):
        raise ValueError(f"conviction bucket labels must be unique and not {NO_CONVICTION!r}/{UNBUCKETED!r}")


def conviction_labels(conviction: Any, buckets: Sequence[Bucket] = DEFAULT_CONVICTION_BUCKETS) -> np.ndarray:
    """The bucket label of each conviction: lo ≤ c ≤ hi → label; NaN → "none"; outside every bucket → "other"."""
    values = np.asarray(conviction, dtype=np.float64)
    labels = np.full(values.shape, UNBUCKETED, dtype=object)
    labels[np.isnan(values)] = NO_CONVICTION
    for lo, hi, label in buckets:
        labels[(values >= lo) & (values <= hi)] = label
    return labels


def _local_codes(frame: pd.DataFrame, group: str, buckets: Sequence[Bucket]) -> tuple[np.ndarray, list[str]]:
    """Codes 0..m−1 for the rows of one frame and the key each code stands for."""
    if group == "conviction":
        conviction = _floats(frame, "conviction")
        codes = np.full(len(frame), len(buckets) + 1, dtype=np.int64)  # "other" unless placed below
        codes[np.isnan(conviction)] = len(buckets)
        for position, (lo, hi, _) in enumerate(buckets):
            codes[(conviction >= lo) & (conviction <= hi)] = position
        return codes, [label for _, _, label in buckets] + [NO_CONVICTION, UNBUCKETED]
    codes, uniques = pd.factorize(frame[group], use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    codes[codes < 0] = len(uniques)
    return codes, [str(value) for value in uniques] + [MISSING]


class _Keys:
    """One grouping (category, source or conviction) applied to every input frame, on one shared key list."""

    def __init__(self, group: str, frames: Sequence[pd.DataFrame], buckets: Sequence[Bucket]) -> None:
        local = [_local_codes(frame, group, buckets) for frame in frames]
        seen: set[str] = set()
        for codes, names in local:
            seen.update(names[code] for code in np.unique(codes))
        if group == "conviction":
            order = [label for _, _, label in buckets] + [NO_CONVICTION, UNBUCKETED]
            self.keys = [key for key in order if key in seen]
        else:
            self.keys = sorted(seen)
        position = {key: index for index, key in enumerate(self.keys)}
        # Keys a frame names but never uses map to -1; no row carries them.
        self.codes = [
            np.array([position.get(name, -1) for name in names], dtype=np.int64)[codes] for codes, names in local
        ]


def _split(codes: np.ndarray, size: int) -> list[np.ndarray]:
    """Row indices per code 0..size−1 (one stable sort, not one mask per key)."""
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.cumsum(np.bincount(codes, minlength=size))[:-1])


def _trade_block(
    pnl: np.ndarray, closed: np.ndarray, r: np.ndarray | None, holding: np.ndarray | None
) -> dict[str, Any]:
    closed_pnl = pnl[closed]
    closed_r = r[closed] if r is not None else None
    return {
        "trades": int(len(pnl)),
        "closed": int(closed.sum()),
        "win_rate": _num(metrics.win_rate(closed_pnl)),
        "avg_win": _num(metrics.average_win(closed_pnl)),
        "avg_loss": _num(metrics.average_loss(closed_pnl)),
        "profit_factor": _num(metrics.profit_factor(closed_pnl)),
        "expectancy_r": _num(metrics.expectancy_r(closed_r)) if closed_r is not None else None,
        "sqn": _num(metrics.sqn(closed_r)) if closed_r is not None else None,
        "pnl": float(np.nansum(pnl)),
        "avg_holding_days": _num(_nanmean(holding[closed])) if holding is not None else None,
    }


# ---------------------------------------------------------------------------------------------- build_rows


def build_rows(
    outcomes: pd.DataFrame,
    rule_exits: pd.DataFrame,
    trades: pd.DataFrame,
    legs: pd.DataFrame,
    *,
    horizons: Sequence[int],
    primary_horizon: int,
    min_signals: int,
    conviction_buckets: Sequence[Bucket] = DEFAULT_CONVICTION_BUCKETS,
    rng: np.random.Generator,
    resamples: int = 2000,
    exact_above: int = 5000,
    primary_horizons: Mapping[str, int] | None = None,
    fdr: float = 0.10,
) -> list[dict[str, Any]]:
    """The scorecard rows: one dict per (group, key), groups in ``GROUPS`` order. Definitions: module docstring.

    Row shape: ``{group, key, signals, traded, pending, late, hit_rate: {h}, hit_rate_ci: {h}, excess_return_mean: {h},
    excess_return_median: {h}, excess_return_ci: {h}, completed: {h}, rule_exit: {...}, pick_only: {...},
    managed: {...}, management_alpha: {total, by_action, closed_trades, per_trade, per_trade_ci, level, verdict},
    verdict}`` with ``h`` the horizons as strings.
    Deterministic for a given ``rng`` state (it is consumed in row order by the bootstrap intervals).
    ``resamples`` and ``exact_above`` go to ``metrics.bootstrap_ci``: the bootstrap is the only cost that grows
    with the number of keys (each key-horizon with ≤ ``exact_above`` values resamples it ``resamples`` times).
    Vectorised: each input is split by key once per group; per-key work is numpy on that key's rows.
    """
    horizons = [int(h) for h in horizons]
    for h in [primary_horizon, *(primary_horizons or {}).values()]:
        if h not in horizons:
            raise ValueError(f"primary_horizon {h} is not one of the horizons {horizons}")
    _check_buckets(conviction_buckets)
    outcomes = _require(outcomes, OUTCOME_COLUMNS, "outcomes")
    rule_exits = _require(rule_exits, RULE_EXIT_COLUMNS, "rule_exits")
    trades = _require(trades, TRADE_COLUMNS, "trades")
    legs = _require(legs, LEG_COLUMNS, "legs")
    frames = (outcomes, rule_exits, trades, legs)

    # Signal-level facts, computed once: the first row naming a signal fixes its keys.
    ids = pd.Index(pd.concat([frame["signal_id"] for frame in frames], ignore_index=True))
    first_mention = ~ids.duplicated(keep="first")
    o_horizon = pd.to_numeric(outcomes["horizon"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    o_hidx = np.full(len(outcomes), -1, dtype=np.int64)  # position in `horizons`; -1 = not reported
    for position, h in enumerate(horizons):
        o_hidx[o_horizon == h] = position
    complete = (outcomes["status"].to_numpy(dtype=object) == "complete") & (o_hidx >= 0)
    has_complete = ids.isin(pd.unique(outcomes["signal_id"].to_numpy()[complete]))
    t_first = ~pd.Index(trades["signal_id"]).duplicated(keep="first")
    late_ids = outcomes["signal_id"][outcomes["late"].eq(True)] if "late" in outcomes.columns else []
    is_late = ids.isin(pd.unique(np.asarray(late_ids)))

    excess = _floats(outcomes, "excess")[complete]
    hit = _floats(outcomes, "hit")[complete]
    hidx = o_hidx[complete]
    abnormal = _optional_floats(outcomes, "abnormal")[complete]
    o_ret = _floats(outcomes, "ret")[complete]
    o_dates = _entry_dates(outcomes)[complete]
    o_category = outcomes["category"].to_numpy(dtype=object)
    # Base-rate pools: every signal entered on the same session at the same horizon (for category rows), and
    # those of the same category (for source and conviction rows).
    same_category = np.char.add(hidx.astype(str), np.char.add(":", o_category[complete].astype(str)))
    peers = [
        verdict_rules.date_shares(abnormal, o_dates, hidx),
        verdict_rules.date_shares(abnormal, o_dates, same_category),
    ]
    fallback_flags = _optional_floats(outcomes, "beta_fallback") == 1
    categories = pd.concat([frame["category"] for frame in frames], ignore_index=True).astype(str).to_numpy()
    re_complete = rule_exits["status"].to_numpy(dtype=object) == "complete"
    re_ret = _floats(rule_exits, "ret")[re_complete]
    re_r = _floats(rule_exits, "r_multiple")[re_complete]
    re_hold = _floats(rule_exits, "holding_sessions")[re_complete]
    re_dates = _entry_dates(rule_exits)[re_complete]
    closed = trades["closed"].to_numpy(dtype=object, na_value=False).astype(bool)
    pick_pnl, managed_pnl = _floats(trades, "pick_pnl"), _floats(trades, "managed_pnl")
    pick_r, hold = _floats(trades, "pick_r"), _floats(trades, "holding_days")
    managed_r = _floats(trades, "managed_r") if "managed_r" in trades.columns else None
    pick_hold = _floats(trades, "pick_holding_days") if "pick_holding_days" in trades.columns else None
    leg_action = legs["action"].astype(str).to_numpy(dtype=object)
    leg_tier = pd.to_numeric(legs["tier"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    leg_pnl = _floats(legs, "pnl_vs_pick")
    alpha = managed_pnl - pick_pnl
    t_dates = _entry_dates(trades)

    n_h = len(horizons)
    rows: list[dict[str, Any]] = []
    estimates: list[dict[str, verdict_rules.Estimate]] = []
    # Every row and horizon resamples from the same stream: the same signals (a source alone in its
    # category and that category's row) then get the same interval, not two draws of it.
    stream = int(rng.integers(2**63 - 1))
    for group in GROUPS:
        keys = _Keys(group, frames, conviction_buckets)
        k = len(keys.keys)
        o_codes, re_codes, t_codes, l_codes = keys.codes
        universe = np.concatenate(keys.codes)[first_mention]
        signals = np.bincount(universe, minlength=k)
        pending = np.bincount(universe[~has_complete[first_mention]], minlength=k)
        late = np.bincount(universe[is_late[first_mention]], minlength=k)
        traded = np.bincount(t_codes[t_first], minlength=k)
        by_key_h = _split(o_codes[complete] * n_h + hidx, k * n_h)
        by_key_re = _split(re_codes[re_complete], k)
        by_key_t = _split(t_codes, k)
        alpha_by_key = _actions_by_key(l_codes, leg_action, leg_tier, leg_pnl)
        fallbacks = _distinct_per_code(o_codes[fallback_flags], outcomes["signal_id"].to_numpy()[fallback_flags], k)
        key_categories = pd.Series(categories[first_mention]).groupby(universe).unique()
        base = peers[0] if group == "category" else peers[1]
        alpha_samples: list[tuple[dict[str, Any], np.ndarray]] = []

        for code, key in enumerate(keys.keys):
            row: dict[str, Any] = {
                "group": group,
                "key": key,
                "signals": int(signals[code]),
                "traded": int(traded[code]),
                "pending": int(pending[code]),
                "late": int(late[code]),
                "beta_fallback": int(fallbacks[code]),
                "primary_horizon": str(
                    verdict_rules.row_primary_horizon(key_categories.get(code, []), primary_horizons, primary_horizon)
                ),
            }
            by_h: dict[str, dict[str, Any]] = {}
            estimates.append({})
            hit_rate, hit_ci, mean, median, mean_ci, median_ci, completed = {}, {}, {}, {}, {}, {}, {}
            for i, h in enumerate(horizons):
                index = by_key_h[code * n_h + i]
                hits = hit[index]
                hits = hits[~np.isnan(hits)]
                values = excess[index]
                values = values[~np.isnan(values)]
                name = str(h)
                completed[name] = int(len(index))
                hit_rate[name] = _num(_mean(hits))
                hit_ci[name] = _interval(metrics.wilson_interval(int(hits.sum()), len(hits)))
                mean[name] = _num(_mean(values))
                median[name] = _num(np.median(values)) if len(values) else None
                draws = np.random.default_rng(stream)
                mean_ci[name] = _interval(
                    metrics.bootstrap_ci(values, "mean", draws, resamples=resamples, exact_above=exact_above)
                )
                median_ci[name] = _interval(
                    metrics.bootstrap_ci(values, "median", draws, resamples=resamples, exact_above=exact_above)
                )
                sample = verdict_rules.HorizonSample(abnormal[index], o_dates[index], base[index], o_ret[index])
                by_h[name], estimates[-1][name] = verdict_rules.horizon_figures(
                    sample, h, np.random.default_rng(stream), resamples=resamples
                )
            row.update(
                hit_rate=hit_rate,
                hit_rate_ci=hit_ci,
                excess_return_mean=mean,
                excess_return_median=median,
                excess_return_ci=mean_ci,
                excess_return_median_ci=median_ci,
                completed=completed,
            )
            row.update({field: {h: figures[field] for h, figures in by_h.items()} for field in _VERDICT_FIELDS})
            index = by_key_re[code]
            row["rule_exit"] = {
                "signals": int(len(index)),
                "win_rate": _num(metrics.win_rate(re_ret[index])),
                "expectancy_r": _num(metrics.expectancy_r(re_r[index])),
                "sqn": _num(metrics.sqn(re_r[index])),
                "avg_holding_sessions": _num(_nanmean(re_hold[index])),
                "expectancy_r_ci": _r_interval(re_r[index], re_dates[index], re_hold[index], rng, resamples),
            }
            index = by_key_t[code]
            row["pick_only"] = _trade_block(
                pick_pnl[index], closed[index], pick_r[index], pick_hold[index] if pick_hold is not None else None
            )
            row["managed"] = _trade_block(
                managed_pnl[index], closed[index], managed_r[index] if managed_r is not None else None, hold[index]
            )
            row["management_alpha"] = {
                "total": row["managed"]["pnl"] - row["pick_only"]["pnl"],
                "by_action": alpha_by_key.get(code, {}),
            }
            alpha_samples.append((row["management_alpha"], index[closed[index]]))
            rows.append(row)
        _settle_alpha(alpha_samples, alpha, t_dates, hold, np.random.default_rng(stream), resamples)
    verdict_rules.settle(rows, estimates, min_signals=min_signals, fdr=fdr)
    return rows


_VERDICT_FIELDS = (
    "abnormal_return_mean", "abnormal_return_ci", "abnormal_return_p", "beat_rate", "beat_rate_ci", "base_rate",
    "beat_rate_p", "up_rate",
)  # fmt: skip


def hypotheses(rows: Sequence[dict[str, Any]]) -> int:
    """How many p-values the rows' Benjamini–Hochberg step covered (every row and horizon with a q-value)."""
    return sum(q is not None for row in rows for q in row.get("abnormal_return_q", {}).values())


def _optional_floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The column as floats, all NaN when the frame does not have it."""
    return _floats(frame, column) if column in frame.columns else np.full(len(frame), np.nan)


def _entry_dates(frame: pd.DataFrame) -> np.ndarray:
    """Each row's entry session (ISO text); without an ``entry_date`` column each signal is its own date."""
    if "entry_date" in frame.columns:
        return frame["entry_date"].astype(object).where(frame["entry_date"].notna(), None).to_numpy(dtype=object)
    return frame["signal_id"].astype(str).to_numpy(dtype=object)


def _distinct_per_code(codes: np.ndarray, ids: np.ndarray, size: int) -> np.ndarray:
    """How many distinct ids each code 0..size−1 has."""
    if len(codes) == 0:
        return np.zeros(size, dtype=np.int64)
    pairs = pd.DataFrame({"code": codes, "id": ids}).drop_duplicates()
    return np.bincount(pairs["code"].to_numpy(dtype=np.int64), minlength=size)


def _r_interval(
    r: np.ndarray, dates: np.ndarray, holding: np.ndarray, rng: np.random.Generator, resamples: int
) -> list[float] | None:
    """95% interval of the mean rule-exit R, by the date-block bootstrap over entry sessions with blocks as
    long as the median holding time, since exits held over overlapping sessions move together."""
    keep = ~np.isnan(r)
    if keep.sum() < 2:
        return None
    held = holding[keep]
    horizon = int(np.nanmedian(held)) if np.isfinite(held).any() else 1
    block = inference.block_length(max(1, horizon), len(pd.unique(dates[keep])))
    mean = inference.block_bootstrap_mean(r[keep], dates[keep], rng, block=block, resamples=resamples)
    return _interval((mean.lo, mean.hi))


MIN_ALPHA_TRADES = 10  # closed trades a row needs before its management alpha gets an interval and a verdict


def _settle_alpha(
    samples: Sequence[tuple[dict[str, Any], np.ndarray]], alpha: np.ndarray, dates: np.ndarray, holding: np.ndarray,
    rng: np.random.Generator, resamples: int,
) -> None:  # fmt: skip
    """Each row's management alpha per closed trade, with an interval and a verdict (module docstring), in place.

    The rows of one group are tested together: each interval is at 1 - 0.05/m for the m rows with enough closed
    trades (Bonferroni), so "management added value" in any one of them holds at 95 % for all of them at once."""
    tested = sum(len(index) >= MIN_ALPHA_TRADES for _, index in samples)
    level = 1 - 0.05 / max(tested, 1)
    for figures, index in samples:
        values = alpha[index]
        n = len(values)
        figures.update(closed_trades=n, per_trade=_num(_mean(values)), per_trade_ci=None, level=None)
        if n < MIN_ALPHA_TRADES:
            figures["verdict"] = f"too few closed trades ({n}, {MIN_ALPHA_TRADES} needed)"
            continue
        held = holding[index]
        horizon = int(np.nanmedian(held)) if np.isfinite(held).any() else 1
        block = inference.block_length(max(1, horizon), len(pd.unique(dates[index])))
        mean = inference.block_bootstrap_mean(values, dates[index], rng, block=block, resamples=resamples, level=level)
        lo, hi = _num(mean.lo), _num(mean.hi)
        figures.update(per_trade_ci=[lo, hi], level=round(level, 4))
        figures["verdict"] = _alpha_verdict(_num(mean.mean), lo, hi, n, level, tested)


def _alpha_verdict(mean: float | None, lo: float | None, hi: float | None, n: int, level: float, tested: int) -> str:
    def usd(x: float | None) -> str:
        return "n/a" if x is None else f"{'-' if x < 0 else '+'}${abs(x):,.2f}"

    span = f"{usd(lo)} to {usd(hi)} a trade, {level:.1%} interval over {n} closed trades" + (
        f", {tested} rows tested at once" if tested > 1 else "")  # fmt: skip
    if lo is not None and lo > 0:
        return f"management added {usd(mean)} a trade ({span})"
    if hi is not None and hi < 0:
        return f"management cost {usd(mean)} a trade ({span})"
    return f"no evidence management added or cost anything ({usd(mean)}, {span})"


def _actions_by_key(
    codes: np.ndarray, action: np.ndarray, tier: np.ndarray, pnl: np.ndarray
) -> dict[int, dict[str, float]]:
    """Σ pnl per key: per action and per "action:tier" (tier > 0), keys of each dict sorted."""
    if len(codes) == 0:
        return {}
    frame = pd.DataFrame({"code": codes, "action": action, "tier": tier, "pnl": pnl})
    out: dict[int, dict[str, float]] = {}
    for (code, name), total in frame.groupby(["code", "action"], sort=False)["pnl"].sum().items():
        out.setdefault(int(code), {})[str(name)] = float(total)
    tiered = frame[frame["tier"] > 0]
    for (code, name, level), total in tiered.groupby(["code", "action", "tier"], sort=False)["pnl"].sum().items():
        out.setdefault(int(code), {})[f"{name}:{int(level)}"] = float(total)
    return {code: {name: actions[name] for name in sorted(actions)} for code, actions in out.items()}


# ---------------------------------------------------------------------------------------------- calibration


#: The conviction statement needs at least this many entry dates with a rank IC (3+ ranked signals each).
MIN_IC_DATES = 10


def calibration(
    outcomes: pd.DataFrame,
    *,
    primary_horizon: int,
    rng: np.random.Generator,
    conviction_buckets: Sequence[Bucket] = DEFAULT_CONVICTION_BUCKETS,
    min_signals: int = 30,
    resamples: int = 500,
    ic_resamples: int = 2000,
) -> dict[str, Any]:
    """Does higher conviction pick better signals? Over the complete outcome rows at ``primary_horizon``.

    Returns ``{horizon, signals, buckets: [{key, signals, excess_return_mean, hit_rate, abnormal_return_mean,
    beat_rate}], spearman, spearman_ci, rank_ic, statement}``:

    - ``buckets``: every conviction bucket in order (empty ones included, with ``None`` figures), then
      ``"none"`` and ``"other"`` when they have rows; per bucket the mean excess return over SPY, the up rate
      (``hit``: #hit / #rows), the mean abnormal return and the beat rate (share with abnormal return > 0);
    - ``signals``: rows with a conviction and a finite excess return (one row per signal at one horizon);
    - ``spearman``: Spearman's ρ between conviction and excess return pooled over those rows (average ranks),
      and ``spearman_ci`` its 95% interval resampling signals as if independent
      (``metrics.spearman_bootstrap_ci``): descriptive only, since picks that share dates and overlapping
      windows are not independent; the statement does not rest on them;
    - ``rank_ic``: per entry date, Spearman's ρ of conviction against the abnormal return
      (``skill.rank_ic``: dates with 3+ signals and two distinct values of each); ``{mean, lo, hi, p_value,
      t_hac, dates, block}``: the mean over dates with its 95% interval from a date-block bootstrap of the
      per-date values (``inference.block_bootstrap_mean``, blocks of ``inference.block_length`` (h, dates)
      dates, ``ic_resamples`` resamples), and the Newey–West t over dates with h − 1 lags beside it; None
      without an abnormal return or an entry date, or with fewer than ``MIN_IC_DATES`` dates;
    - ``statement``: fewer than ``min_signals`` signals → "too few signals: n < min_signals"; no rank IC →
      "too few dates to judge conviction: …"; its interval entirely above 0 → "higher conviction ranked picks
      better on the same day (…)"; entirely below → "… worse …"; otherwise "no evidence that conviction ranks
      picks (…)".
    """
    _check_buckets(conviction_buckets)
    if not 1 <= resamples <= 500:
        raise ValueError(f"resamples must be in [1, 500], got {resamples}")
    outcomes = _require(outcomes, OUTCOME_COLUMNS, "outcomes")
    horizon = pd.to_numeric(outcomes["horizon"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    rows = (outcomes["status"].to_numpy(dtype=object) == "complete") & (horizon == primary_horizon)
    conviction = _floats(outcomes, "conviction")[rows]
    excess = _floats(outcomes, "excess")[rows]
    hit = _floats(outcomes, "hit")[rows]
    abnormal = _optional_floats(outcomes, "abnormal")[rows]
    dates = _entry_dates(outcomes)[rows] if "entry_date" in outcomes.columns else None
    labels = conviction_labels(conviction, conviction_buckets)

    buckets = []
    order = [label for _, _, label in conviction_buckets]
    order += [label for label in (NO_CONVICTION, UNBUCKETED) if (labels == label).any()]
    for label in order:
        mask = labels == label
        values, hits, ar = excess[mask], hit[mask], abnormal[mask]
        values, hits, ar = values[~np.isnan(values)], hits[~np.isnan(hits)], ar[~np.isnan(ar)]
        buckets.append(
            {
                "key": label,
                "signals": int(mask.sum()),
                "excess_return_mean": _num(_mean(values)),
                "hit_rate": _num(_mean(hits)),
                "abnormal_return_mean": _num(_mean(ar)),
                "beat_rate": _num(_mean((ar > 0).astype(np.float64))),
            }
        )

    usable = ~np.isnan(conviction) & ~np.isnan(excess)
    x, y = conviction[usable], excess[usable]
    n = len(x)
    rho = _num(metrics.spearman(x, y))
    ci = _interval(metrics.spearman_bootstrap_ci(x, y, rng, resamples=resamples)) if n >= min_signals else None
    ic = _rank_ic(dates, conviction, abnormal, primary_horizon, rng, ic_resamples) if dates is not None else None
    return {
        "horizon": str(primary_horizon),
        "signals": n,
        "buckets": buckets,
        "spearman": rho,
        "spearman_ci": ci,
        "rank_ic": ic.as_json() if ic is not None and ic.dates >= MIN_IC_DATES else None,
        "statement": _conviction_statement(n, min_signals, ic),
    }


@dataclass(frozen=True)
class _IC:
    """The mean per-date rank IC with its dependence-robust interval (see :func:`calibration`)."""

    mean: float
    lo: float
    hi: float
    p_value: float
    t_hac: float
    dates: int
    block: int

    def as_json(self) -> dict[str, Any]:
        return {
            "mean": _num(self.mean), "lo": _num(self.lo), "hi": _num(self.hi), "p_value": _num(self.p_value),
            "t_hac": _num(self.t_hac), "dates": self.dates, "block": self.block,
        }  # fmt: skip

    def describe(self) -> str:
        shown = f"mean rank IC {self.mean:+.3f} [{self.lo:+.3f}, {self.hi:+.3f}]".replace("-", "−")
        return f"{shown} over {self.dates} dates"


def _rank_ic(
    dates: np.ndarray, conviction: np.ndarray, abnormal: np.ndarray, horizon: int, rng: np.random.Generator,
    resamples: int,
) -> _IC | None:  # fmt: skip
    from autotrader.policy import skill

    known = np.array([d is not None for d in dates], dtype=bool)
    ic = skill.rank_ic(dates[known], conviction[known], abnormal[known], maxlags=max(0, horizon - 1))
    if ic.n_dates < MIN_IC_DATES:
        return _IC(NAN, NAN, NAN, NAN, NAN, ic.n_dates, 0)
    block = inference.block_length(horizon, ic.n_dates)
    per_date = ic.per_date.to_numpy(dtype=np.float64)
    fit = inference.block_bootstrap_mean(per_date, ic.per_date.index.to_numpy(), rng, block=block, resamples=resamples)
    return _IC(ic.mean, fit.lo, fit.hi, fit.p_value, ic.t_stat_hac, ic.n_dates, block)


def _conviction_statement(signals: int, min_signals: int, ic: _IC | None) -> str:
    if signals < min_signals:
        return f"too few signals: {signals} < {min_signals}"
    if ic is None or ic.dates < MIN_IC_DATES:
        dates = ic.dates if ic is not None else 0
        return f"too few dates to judge conviction: {dates} with 3+ ranked signals < {MIN_IC_DATES}"
    if ic.lo > 0:
        return f"higher conviction ranked picks better on the same day ({ic.describe()})"
    if ic.hi < 0:
        return f"higher conviction ranked picks worse on the same day ({ic.describe()})"
    return f"no evidence that conviction ranks picks ({ic.describe()})"
