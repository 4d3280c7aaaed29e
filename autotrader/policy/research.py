"""The scorecard's report-level panels: calendar-time portfolios, placebo ranks, ranking skill, the shrunk
leaderboard, event-window profiles, execution versus recommendation, and stability. Pure: a frame of
per-signal events (and numpy arrays of the market panel) in, JSON-ready dicts out, one list of dicts per panel;
the statistics themselves live in ``event_study``, ``calendar_time``, ``inference`` and ``skill``.

**Events.** One row per signal with an entry inside the market panel (``pipeline/scorecard_panels`` builds
it): ``signal_id, source, category, conviction, symbol`` (column of the panel), ``entry`` (session index of
the panel of the signal's entry session), ``side`` (+1 buy, −1 sell), ``horizon`` (its category's primary
horizon), ``car`` (its abnormal return at that horizon, NaN while pending) and one ``car_<h>`` column per
scorecard horizon. ``car`` and ``car_<h>`` are the abnormal returns the scorecard rows use, one definition
(``policy.outcomes.abnormal_returns``: from the scoring entry, usually the entry session's open, to the h-th
close, log market model); the leaderboard, ranking, reliability, placebo, execution and stability panels read
only them. Values are side-adjusted throughout, so higher is always better.

**Daily paths.** The calendar-time portfolio and the event-window profile need a return per calendar
session, so they are built from the panel's daily simple close-to-close returns of the sessions after the
entry session (``event_study.paths``; the profile with its own simple-return market model): the same
signals and sessions, but a different number from ``car_<h>``, which also counts the entry session from its
open and compounds in logs.

Every figure that cannot be computed (too few sessions, dates or signals) is ``None`` in the output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from autotrader.policy import calendar_time as ct
from autotrader.policy import event_study as es
from autotrader.policy import inference as inf
from autotrader.policy import skill

#: A conviction (1–10) maps to a forecast probability of beating the benchmark by this rule: conviction / 10.
CONVICTION_SCALE = 10.0
#: The event-window curve is printed every this many sessions (the full curve is kept for charts).
PROFILE_STEP = 5
#: The rolling window of the stability panel, in sessions of entry dates.
ROLLING_WINDOW = 60
#: The rolling series is printed every this many entry sessions (and at the last one).
ROLLING_STEP = 20


def number(value: Any) -> float | None:
    """A finite float, or None (NaN and ±inf are not JSON numbers)."""
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _groups(events: pd.DataFrame, keys: list[str]) -> Iterable[tuple[tuple[str, ...], pd.DataFrame]]:
    for key, group in events.groupby(keys, sort=True):
        yield (key if isinstance(key, tuple) else (key,)), group


# ----------------------------------------------------------------------------------------- calendar time


def calendar_time_rows(events: pd.DataFrame, stock: np.ndarray, market: np.ndarray) -> list[dict[str, Any]]:
    """Per source and category: the equal-weight portfolio of its live picks, each held over its primary
    horizon (raw side-adjusted daily close-to-close returns of sessions entry+1 … entry+h, the sessions
    after the entry session: a daily-return object, not the pick's ``car``), regressed on the market
    (:func:`autotrader.policy.calendar_time.calendar_time`)."""
    rows = []
    for (source, category), group in _groups(events, ["source", "category"]):
        h = int(group["horizon"].iloc[0])
        raw = es.paths(stock, market, group["symbol"], group["entry"], range(1, h + 1), side=group["side"])
        fit = ct.calendar_time(group["entry"].to_numpy(), raw, market)
        row: dict[str, Any] = {"source": source, "category": category, "horizon": h, "signals": len(group)}
        if fit is None:
            rows.append({**row, "sessions": 0})
            continue
        rows.append(
            {**row, "sessions": fit.sessions, "mean_live": number(fit.mean_live), "alpha": number(fit.alpha),
             "alpha_annual": number(fit.alpha_annual), "beta": number(fit.beta), "alpha_t": number(fit.alpha_t),
             "alpha_p": number(fit.alpha_p), "sharpe": number(fit.sharpe.sharpe), "psr": number(fit.sharpe.psr),
             "min_track_record": number(fit.sharpe.min_track_record)}
        )  # fmt: skip
    return rows


def calendar_time_curves(
    events: pd.DataFrame, stock: np.ndarray, market: np.ndarray, sessions: Sequence[str]
) -> list[dict[str, Any]]:
    """Per source and category, the path of :func:`calendar_time_rows`' portfolio for a chart: growth of 1 in
    the picks and in the market (SPY) over the same sessions, from the close before the first session with a
    live pick (where both are 1) to the last; a session with no live pick holds cash (growth unchanged) while
    the market moves on."""
    curves = []
    for (source, category), group in _groups(events, ["source", "category"]):
        h = int(group["horizon"].iloc[0])
        raw = es.paths(stock, market, group["symbol"], group["entry"], range(1, h + 1), side=group["side"])
        series, live = ct.portfolio_returns(group["entry"].to_numpy(), raw, len(market))
        active = np.flatnonzero(live > 0)
        if active.size == 0:
            continue
        span = slice(int(active[0]), int(active[-1]) + 1)
        picks = np.cumprod(1.0 + np.nan_to_num(series[span], nan=0.0))
        spy = np.cumprod(1.0 + np.nan_to_num(market[span], nan=0.0))
        # Both start at 1 at the close before the first live session, the close the first return is from.
        first = max(int(active[0]) - 1, 0)
        start = () if first == int(active[0]) else (1.0,)
        curves.append(
            {"source": source, "category": category, "dates": tuple(sessions[first : span.stop]),
             "portfolio": (*start, *(float(v) for v in picks)), "market": (*start, *(float(v) for v in spy))}
        )  # fmt: skip
    return curves


# ----------------------------------------------------------------------------------------------- placebo


def placebo_labels(session: np.ndarray, side: np.ndarray, horizon: np.ndarray) -> np.ndarray:
    """One integer label per (entry session, side, horizon): a pick is compared only with the universe's picks
    of the same day, direction and holding length."""
    return (np.asarray(horizon, dtype=np.int64) * 2 + (np.asarray(side) < 0)) * 1_000_000 + np.asarray(
        session, dtype=np.int64
    )


def placebo_rows(
    events: pd.DataFrame, pool: pd.DataFrame, rng: np.random.Generator, *, draws: int
) -> list[dict[str, Any]]:
    """Per source, :func:`autotrader.policy.inference.placebo_test` of its picks' abnormal returns against
    random picks from ``pool`` (columns ``entry, side, horizon, car``: every universe symbol's value on every
    (entry, side, horizon) of a pick) on the same days."""
    pool = pool[pool["car"].notna()]
    pool_labels = placebo_labels(pool["entry"].to_numpy(), pool["side"].to_numpy(), pool["horizon"].to_numpy())
    rows = []
    for (source,), group in _groups(events, ["source"]):
        group = group[group["car"].notna()]
        labels = placebo_labels(group["entry"].to_numpy(), group["side"].to_numpy(), group["horizon"].to_numpy())
        keep = np.isin(labels, pool_labels)  # a pick whose day has no universe value (pending) is left out
        result = inf.placebo_test(group["car"].to_numpy()[keep], labels[keep], pool["car"].to_numpy(), pool_labels,
                                  rng, draws=draws)  # fmt: skip
        rows.append(
            {"source": source, "signals": int(keep.sum()), "observed": number(result.observed),
             "placebo_mean": number(result.placebo_mean), "placebo_sd": number(result.placebo_sd),
             "p_value": number(result.p_value), "draws": draws}
        )  # fmt: skip
    return rows


# ---------------------------------------------------------------------------------------- ranking skill


def forecast_probability(conviction: pd.Series) -> np.ndarray:
    """The documented rule: a conviction c (1–10) forecasts a probability c / 10 of beating the benchmark."""
    return pd.to_numeric(conviction, errors="coerce").to_numpy(dtype=np.float64) / CONVICTION_SCALE


def _ranking_row(key: str, group: pd.DataFrame, horizons: Sequence[int]) -> dict[str, Any]:
    cars = group[[f"car_{h}" for h in horizons]].to_numpy(dtype=np.float64)
    ic = skill.ic_by_horizon(group["entry"].to_numpy(), group["conviction"].to_numpy(dtype=np.float64), cars, horizons)
    beat = np.where(group["car"].notna(), group["car"] > 0, np.nan)
    return {
        "key": key,
        "signals": len(group),
        "ic_mean": {str(h): number(ic[h].mean) for h in horizons},
        "ic_t": {str(h): number(ic[h].t_stat) for h in horizons},
        "ic_t_hac": {str(h): number(ic[h].t_stat_hac) for h in horizons},
        "ic_dates": {str(h): ic[h].n_dates for h in horizons},
        "brier": number(skill.brier_score(forecast_probability(group["conviction"]), beat)),
    }


def ranking_panel(events: pd.DataFrame, horizons: Sequence[int]) -> dict[str, Any] | None:
    """Per source and overall (key ``all``): per-date Spearman IC of conviction against abnormal return at each
    horizon (its decay), and the Brier score of conviction/10 as the probability of beating the benchmark at
    the primary horizon; the overall reliability table by conviction. None when no signal has a conviction."""
    scored = events[events["conviction"].notna()]
    if scored.empty:
        return None
    rows = [_ranking_row(source, group, horizons) for (source,), group in _groups(scored, ["source"])]
    rows.append(_ranking_row("all", scored, horizons))
    beat = np.where(scored["car"].notna(), scored["car"] > 0, np.nan)
    table = skill.reliability(forecast_probability(scored["conviction"]), beat, bucket=scored["conviction"].astype(int))
    return {
        "probability_rule": "conviction / 10 = forecast probability of beating the benchmark at the primary horizon",
        "sources": rows,
        "reliability": [
            {"conviction": int(r.bucket), "predicted": r.predicted, "observed": r.observed, "signals": r.n}  # type: ignore[call-overload]
            for r in table
        ],
        "brier": rows[-1]["brier"],
    }


# ------------------------------------------------------------------------------------------- predictions

#: The horizon (sessions) of each predicted-return column a signal may carry (``policy.predictions``).
PREDICTION_HORIZONS: dict[int, str] = {3: "predicted_return_3d", 10: "predicted_return_10d", 30: "predicted_return_30d"}
#: ``probability`` is the chance of a positive return over this many sessions.
PROBABILITY_HORIZON = 10


def _prediction_row(source: str, group: pd.DataFrame, scored: list[int], skipped: list[int]) -> dict[str, Any]:
    ic = {
        h: skill.rank_ic(group["date"].to_numpy(), group[PREDICTION_HORIZONS[h]].to_numpy(dtype=np.float64),
                         group[f"realized_{h}"].to_numpy(dtype=np.float64), maxlags=h - 1)
        for h in scored
    }  # fmt: skip
    row: dict[str, Any] = {
        "source": source,
        "signals": len(group),
        "scored": [str(h) for h in scored],
        "skipped": [str(h) for h in skipped],
        "ic_mean": {str(h): number(ic[h].mean) for h in scored},
        "ic_t_hac": {str(h): number(ic[h].t_stat_hac) for h in scored},
        "ic_dates": {str(h): ic[h].n_dates for h in scored},
        "probability_signals": 0,
        "brier": None,
        "reliability": [],
    }
    if PROBABILITY_HORIZON in scored:
        realized = group[f"realized_{PROBABILITY_HORIZON}"].to_numpy(dtype=np.float64)
        positive = np.where(np.isnan(realized), np.nan, realized > 0)
        forecast = group["probability"].to_numpy(dtype=np.float64)
        row["probability_signals"] = int((~np.isnan(forecast) & ~np.isnan(positive)).sum())
        row["brier"] = number(skill.brier_score(forecast, positive))
        row["reliability"] = [
            {"bucket": float(r.bucket), "predicted": r.predicted, "observed": r.observed, "signals": r.n}  # type: ignore[arg-type]
            for r in skill.reliability(forecast, positive)
        ]
    return row


def prediction_rows(signals: pd.DataFrame, horizons: Sequence[int]) -> list[dict[str, Any]] | None:
    """The predictions panel, per source: for each predicted horizon h (3, 10, 30) that is one of the
    scorecard's ``horizons``, the per-date Spearman IC (:func:`skill.rank_ic`, dates = scoring entry sessions,
    Newey–West lags h − 1) of ``predicted_return_<h>d`` against the realized raw return over h sessions; and,
    when 10 is a horizon, the reliability table (ten equal-width bins of ``probability``) and Brier score of
    ``probability`` against a positive 10-session raw return. Predicted horizons that are not scorecard
    horizons are listed as ``skipped`` (no realized return is stored for them).

    ``signals``: one row per signal carrying at least one prediction, columns ``source``, ``date``, the four
    prediction columns (NaN where absent) and ``realized_<h>`` per scored horizon (the stock's simple return
    from the scoring entry to the h-th close, not side-adjusted, as the predictions are; NaN while pending).
    None when no signal carries a prediction."""
    if signals.empty:
        return None
    scored = [h for h in PREDICTION_HORIZONS if h in horizons]
    skipped = [h for h in PREDICTION_HORIZONS if h not in horizons]
    return [_prediction_row(key[0], group, scored, skipped) for key, group in _groups(signals, ["source"])]


# ------------------------------------------------------------------------------------------- leaderboard


def robust_mean(group: pd.DataFrame, rng: np.random.Generator, resamples: int) -> inf.MeanInference:
    """The date-block bootstrap mean of the primary-horizon CARs (blocks from the longest primary horizon)."""
    done = group[group["car"].notna()]
    block = inf.block_length(int(group["horizon"].max()), done["entry"].nunique())
    return inf.block_bootstrap_mean(done["car"].to_numpy(), done["entry"].to_numpy(), rng, block=block,
                                    resamples=resamples)  # fmt: skip


def leaderboard_rows(events: pd.DataFrame, rng: np.random.Generator, *, resamples: int) -> list[dict[str, Any]]:
    """Sources ordered by the normal-normal shrunk mean abnormal return (robust standard errors), the
    beta-binomial shrunk beat rate beside it; sources without a shrunk estimate come last."""
    groups = list(_groups(events, ["source"]))
    fits = [robust_mean(group, rng, resamples) for _, group in groups]
    means = np.array([f.mean for f in fits])
    board = skill.shrink_means(means, np.array([f.se for f in fits]))
    hits = np.array([int((g["car"] > 0).sum()) for _, g in groups])
    counts = np.array([int(g["car"].notna().sum()) for _, g in groups])
    beat = skill.shrink_hit_rates(hits, counts)
    rows = [
        {"source": key[0], "signals": int(counts[i]), "mean": number(means[i]), "se": number(fits[i].se),
         "shrunk_mean": number(board.posterior[i]), "shrink_weight": number(board.weight[i]),
         "beat_rate": number(hits[i] / counts[i]) if counts[i] else None,
         "shrunk_beat_rate": number(beat.posterior[i])}
        for i, (key, _) in enumerate(groups)
    ]  # fmt: skip
    # Highest shrunk mean first; sources without one (fewer than two sources with a robust error) last, by name.
    order = sorted(range(len(rows)), key=lambda i: (math.isnan(board.posterior[i]), -np.nan_to_num(board.posterior[i]),
                                                    rows[i]["source"]))  # fmt: skip
    return [{"rank": rank + 1, **rows[i]} for rank, i in enumerate(order)]


# ------------------------------------------------------------------------------------------ event window


def event_window_rows(
    events: pd.DataFrame, stock: np.ndarray, market: np.ndarray, rng: np.random.Generator, *, resamples: int
) -> list[dict[str, Any]]:
    """Per category and source: mean CAR from 20 sessions before to 60 after the entry with the date-block
    bootstrap band (:func:`autotrader.policy.event_study.event_profile`), printed every ``PROFILE_STEP``: a
    path of daily simple abnormal returns counted from the entry session's close (module docstring), not
    the picks' ``car``."""
    rows = []
    for (category, source), group in _groups(events, ["category", "source"]):
        symbol, entry = group["symbol"].to_numpy(), group["entry"].to_numpy()
        model = es.market_model(stock, market, symbol, entry)
        profile = es.event_profile(stock, market, symbol, entry, model, rng, side=group["side"].to_numpy(),
                                   resamples=resamples)  # fmt: skip
        shown = np.flatnonzero(profile.offsets % PROFILE_STEP == 0)
        rows.append(
            {"category": category, "source": source, "signals": len(group), "level": profile.level,
             "points": [{"offset": int(profile.offsets[j]), "mean": number(profile.mean[j]),
                         "lo": number(profile.lo[j]), "hi": number(profile.hi[j]), "n": int(profile.n[j])}
                        for j in shown]}
        )  # fmt: skip
    return rows


# ---------------------------------------------------------------------------------------------- stability


def stability_rows(events: pd.DataFrame, dates: Sequence[str], *, window: int = ROLLING_WINDOW) -> list[dict[str, Any]]:
    """Per source: the mean primary-horizon abnormal return of the signals entered in each trailing
    ``window`` of sessions (printed every ``ROLLING_STEP`` entry sessions and at the last), and the first
    alarm of a one-sided CUSUM on the abnormal returns in entry order
    (:func:`autotrader.policy.inference.cusum_drop`), or None. ``dates`` names each session index."""
    rows = []
    for (source,), group in _groups(events, ["source"]):
        done = group[group["car"].notna()]
        session, values = done["entry"].to_numpy(), done["car"].to_numpy()
        roll = inf.rolling_mean(session, values, window=window) if len(done) else None
        alarm = inf.cusum_drop(session, values) if len(done) else None
        points = []
        if roll is not None and len(roll.dates):
            shown = sorted({*range(0, len(roll.dates), ROLLING_STEP), len(roll.dates) - 1})
            points = [{"date": dates[int(roll.dates[j])], "mean": number(roll.mean[j]), "n": int(roll.n[j])}
                      for j in shown]  # fmt: skip
        rows.append(
            {"source": source, "window": window, "signals": len(done),
             "last": points[-1]["mean"] if points else None, "rolling": points,
             "alarm_date": dates[int(alarm.date)] if alarm is not None else None,  # type: ignore[call-overload]
             "alarm_statistic": number(alarm.statistic) if alarm is not None else None}
        )  # fmt: skip
    return rows


def alarm_notes(stability: Sequence[dict[str, Any]]) -> list[str]:
    """One report note per source whose CUSUM alarm fired, so notifications can announce it."""
    return [
        f"stability alarm: {row['source']}'s abnormal returns dropped (CUSUM) from {row['alarm_date']}"
        for row in stability
        if row["alarm_date"] is not None
    ]


# ---------------------------------------------------------------------------------------------- execution


def _bps(numerator: pd.Series, denominator: pd.Series, side: pd.Series) -> float | None:
    """Mean side-adjusted slippage in basis points: (fill − reference) / reference, positive = paid more (a buy)
    or received less (a sell)."""
    ok = numerator.notna() & denominator.notna() & (denominator > 0)
    if not ok.any():
        return None
    return number(float(((numerator[ok] / denominator[ok] - 1.0) * side[ok]).mean() * 10_000))


def action_alpha(legs: pd.DataFrame, rng: np.random.Generator, *, resamples: int) -> list[dict[str, Any]]:
    """Management alpha per action: the sum of ``pnl_vs_pick`` per position (signal), its mean over positions
    with a 95% percentile bootstrap interval resampling positions, and the total."""
    rows = []
    for (action,), group in _groups(legs, ["action"]):
        per_position = group.groupby("signal_id")["pnl_vs_pick"].sum().to_numpy(dtype=np.float64)
        n = len(per_position)
        lo = hi = None
        if n >= 2:
            means = per_position[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
            lo, hi = (number(v) for v in np.quantile(means, [0.025, 0.975]))
        rows.append({"action": action, "positions": n, "mean": number(per_position.mean()), "lo": lo, "hi": hi,
                     "total": number(per_position.sum())})  # fmt: skip
    return rows


def execution_rows(
    events: pd.DataFrame,
    fills: pd.DataFrame,
    lost: pd.DataFrame,
    legs: pd.DataFrame,
    rng: np.random.Generator,
    *,
    resamples: int,
) -> list[dict[str, Any]]:
    """Per source and category: fill rate (traded / signals), slippage of the entry fill against the signal's
    stated entry and against the scoring entry (bps), signals lost per gate (``lost``: signal_id, gate), the
    mean primary abnormal return of the traded signals next to all signals (the selection effect), and
    management alpha per action. ``fills``: signal_id, fill_price; events also carry ``signal_entry`` and
    ``entry_price``."""
    traded = events.merge(fills, on="signal_id", how="inner")
    rows = []
    for (source, category), group in _groups(events, ["source", "category"]):
        mine = traded[(traded["source"] == source) & (traded["category"] == category)]
        gates = lost[lost["signal_id"].isin(group["signal_id"])]["gate"].value_counts().sort_index()
        rows.append(
            {"source": source, "category": category, "signals": len(group), "traded": len(mine),
             "fill_rate": len(mine) / len(group),
             "slippage_vs_signal_bps": _bps(mine["fill_price"], mine["signal_entry"], mine["side"]),
             "slippage_vs_entry_bps": _bps(mine["fill_price"], mine["entry_price"], mine["side"]),
             "lost": {str(k): int(v) for k, v in gates.items()},
             "pick_all": number(group["car"].mean()), "pick_traded": number(mine["car"].mean()),
             "management": action_alpha(legs[legs["signal_id"].isin(group["signal_id"])], rng, resamples=resamples)}
        )  # fmt: skip
    return rows
