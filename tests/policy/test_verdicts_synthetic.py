"""The scorecard's verdict statistics on the synthetic world, whose sources' true abnormal returns are known.

The news desks' picks are exactly their episodes' pick days (the feed publishes them, a test of the world
checks it), so each window of sessions gives one desk's picks without replaying the feed. Abnormal returns
come from the policy's own market model (``event_study.market_model`` on daily log returns and
``outcomes.abnormal_return``) and the intervals from ``verdicts.horizon_figures`` / ``scorecard.build_rows``,
the code the scorecard runs. Windows are the demo's length (63 sessions of picks) and 150 sessions apart.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from autotrader.adapters import synthetic_data
from autotrader.adapters.synthetic_data import BAD, GOOD, NEWS_KINDS, SyntheticMarketData
from autotrader.adapters.synthetic_signals import CATALYST, HYPE, SyntheticSignalFeed
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.policy import event_study, metrics
from autotrader.policy import outcomes as policy
from autotrader.policy.scorecard import build_rows
from autotrader.policy.verdicts import HorizonSample, horizon_figures

CAL = MarketCalendar.xnys()
LATE = datetime(2035, 6, 1, tzinfo=UTC)
SPAN = list(synthetic_data._span(CAL).dates)
DESKS = ((CATALYST, GOOD), (HYPE, BAD))
WINDOW = 63
# The big versions take minutes: run them with AUTOTRADER_LONG_CHECKS=1.
LONG = pytest.mark.skipif(not os.environ.get("AUTOTRADER_LONG_CHECKS"), reason="set AUTOTRADER_LONG_CHECKS=1")
PRIMARY = 10  # the swing category's primary horizon: both desks publish swing picks
HORIZONS = (1, 5, 10, 20, 60)


def _logs(seed: int, symbol: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    path = synthetic_data._symbol_path(CAL, seed, symbol, kind)
    return np.log(path.open), np.log(path.close)


def _close_returns(close: np.ndarray) -> np.ndarray:
    return np.concatenate([[np.nan], np.diff(close)])


class World:
    """One seed's news symbols: log prices over the whole span and each session's pick kind."""

    def __init__(self, seed: int, kind: str = "default") -> None:
        self.data = SyntheticMarketData(SimulatedClock(LATE), CAL, seed=seed, world=kind)
        self.feed = SyntheticSignalFeed(self.data, CAL, SimulatedClock(LATE), seed=7)
        self.spy = _logs(seed, "SPY", kind)
        self.symbols = {}
        index = {s: i for i, s in enumerate(SPAN)}
        for symbol in self.data.news_symbols():
            kinds = np.full(len(SPAN), -1)
            for e in self.data.episodes(symbol, SPAN[0], SPAN[-1]):
                kinds[index[e.start] : index[e.start] + e.pick_days] = NEWS_KINDS.index(e.kind)
            self.symbols[symbol] = (_logs(seed, symbol, kind), kinds)

    def picks(self, news: str, start: int, horizons: tuple[int, ...]) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """Per horizon, the abnormal log CAR of a desk's picks entered in [start, start+WINDOW), and their
        entry sessions. Each symbol's market model is fitted once, on the panel cut to the sessions it needs."""
        values: dict[int, list[float]] = {h: [] for h in horizons}
        dates: list[int] = []
        lo, hi = start - 260, start + WINDOW + max(horizons)
        spy_open, spy_close = (v[lo:hi] for v in self.spy)
        market = _close_returns(spy_close)
        for (o, c), kinds in self.symbols.values():
            entries = np.flatnonzero(kinds[start : start + WINDOW] == NEWS_KINDS.index(news)) + (start - lo)
            if not len(entries):
                continue
            o, c = o[lo:hi], c[lo:hi]
            model = event_study.market_model(_close_returns(c)[:, None], market, np.zeros(len(entries)), entries)
            for i, e in enumerate(entries):
                fit = policy.MarketFit(float(model.alpha[i]), float(model.beta[i]), bool(model.fallback[i]))
                for h in horizons:
                    last = e + h - 1
                    prices = np.exp([o[e], c[last], spy_open[e], spy_close[last]])
                    values[h].append(policy.abnormal_return(1, fit, h, *prices))
                dates.append(lo + e)
        return {h: np.array(v, dtype=float) for h, v in values.items()}, np.array(dates)


def _starts(count: int) -> list[int]:
    return [300 + 150 * k for k in range(count)]


def coverage(seeds: range, windows: int, resamples: int = 1000) -> tuple[float, float, int]:
    """Share of (seed, window, desk) cases whose 95% interval of the mean abnormal return at the primary
    horizon contains the desk's true value: the scorecard's date-block interval, and the iid bootstrap."""
    block_hits = iid_hits = cases = 0
    for seed in seeds:
        world = World(seed)
        rng = np.random.default_rng(seed)
        for start in _starts(windows):
            for source, news in DESKS:
                truth = world.feed.true_abnormal_return(source, PRIMARY)
                by_h, dates = world.picks(news, start, (PRIMARY,))
                values = by_h[PRIMARY]
                sample = HorizonSample(values, dates, np.full(len(values), 0.5), values)
                lo, hi = horizon_figures(sample, PRIMARY, rng, resamples=resamples)[0]["abnormal_return_ci"]
                ilo, ihi = metrics.bootstrap_ci(values, "mean", rng, resamples=resamples)
                block_hits += lo <= truth <= hi
                iid_hits += ilo <= truth <= ihi
                cases += 1
    return block_hits / cases, iid_hits / cases, cases


@pytest.mark.slow
def test_the_date_block_interval_covers_the_true_edge_and_the_iid_one_does_not():
    block, iid, cases = coverage(range(11, 12), windows=12)
    assert cases == 24
    assert block >= 0.9, (block, iid)
    # The same bar fails the iid interval: clustered, overlapping picks make it too narrow.
    assert iid < 0.9 and iid < block, (block, iid)


@pytest.mark.slow
@LONG
def test_coverage_over_fifty_seeds():
    block, iid, cases = coverage(range(100, 150), windows=10)
    print(f"coverage over {cases} cases: date-block {block:.3f}, iid {iid:.3f}")
    assert block >= 0.9 and iid < block - 0.1


def _report_outcomes(world: World, start: int) -> pd.DataFrame:
    frames = []
    next_id = 0
    for source, news in DESKS:
        by_h, dates = world.picks(news, start, HORIZONS)
        for h, values in by_h.items():
            ids = np.arange(next_id, next_id + len(values))
            frames.append(pd.DataFrame({
                "signal_id": ids, "category": "swing", "source": source, "conviction": np.nan, "horizon": h,
                "status": "complete", "ret": values, "excess": values, "hit": values > 0, "abnormal": values,
                "entry_date": [str(SPAN[d]) for d in dates],
            }))  # fmt: skip
        next_id += len(values)
    return pd.concat(frames, ignore_index=True)


def false_discoveries(seeds: range, windows: int, resamples: int = 500) -> tuple[float, float, int]:
    """On the world without skill: the share of reports with any "beats SPY" verdict, and the share with any
    row whose old iid excess interval at the primary horizon lies above 0 (the rule before this one)."""
    empty = pd.DataFrame()
    ours = old = reports = 0
    for seed in seeds:
        world = World(seed, "no_skill")
        for start in _starts(windows):
            rows = build_rows(
                _report_outcomes(world, start), empty, empty, empty, horizons=HORIZONS, primary_horizon=PRIMARY,
                primary_horizons={"swing": PRIMARY}, min_signals=20, rng=np.random.default_rng(seed + start),
                resamples=resamples, fdr=0.10, exact_above=0,  # the old iid intervals in closed form: faster
            )  # fmt: skip
            ours += any(r["verdict"] == "beats SPY" for r in rows)
            old += any((r["excess_return_ci"][str(PRIMARY)] or [0, 0])[0] > 0 for r in rows)
            reports += 1
    return ours / reports, old / reports, reports


@pytest.mark.slow
def test_false_discoveries_stay_near_the_fdr_without_skill():
    ours, old, reports = false_discoveries(range(21, 22), windows=10)
    assert reports == 10
    assert ours <= 0.1, (ours, old)
    assert old >= ours + 0.2, (ours, old)  # the iid intervals call luck a discovery far more often


@pytest.mark.slow
@LONG
def test_false_discoveries_over_many_seeds():
    ours, old, reports = false_discoveries(range(200, 240), windows=10)
    print(f"reports with any 'beats SPY' over {reports} no-skill reports: {ours:.3f} (iid rule {old:.3f})")
    assert ours <= 0.15 and old > ours
