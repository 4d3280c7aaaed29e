"""The composition root: Settings → Deps. The only module that imports adapters.

Heavy imports (pandas, exchange-calendars, vendor SDKs) happen here, when a command runs, never when the
CLI is imported: ``autotrader --help`` stays fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from autotrader.clock import MarketCalendar
from autotrader.errors import ConfigError, SafetyRefusal
from autotrader.ledger.db import Ledger, open_ledger
from autotrader.ports import (
    Broker,
    BrokerCalendar,
    Clock,
    DataQuality,
    MarketData,
    Monitor,
    Notifier,
    OptionChains,
    OptionsBroker,
    OrderChanges,
    PositionQuantities,
    RateLimitGauge,
    Reference,
    SignalSource,
    SplitSource,
    UniverseDailyBars,
    VolatilityProxy,
)
from autotrader.settings import Config

if TYPE_CHECKING:
    from autotrader.policy.signal_archive import SignalFolder


@dataclass(frozen=True)
class Deps:
    broker: Broker
    market_data: MarketData
    reference: Reference
    calendar: MarketCalendar
    clock: Clock
    signal_sources: tuple[SignalSource, ...] = ()
    # What the adapters offer beyond their ports (see ports.py), checked once here; None where absent.
    split_source: SplitSource | None = None
    data_quality: DataQuality | None = None
    volatility_proxy: VolatilityProxy | None = None
    broker_calendar: BrokerCalendar | None = None
    rate_limit: RateLimitGauge | None = None
    universe_bars: UniverseDailyBars | None = None
    option_chains: OptionChains | None = None
    options_broker: OptionsBroker | None = None  # the broker's option listings (submission is Broker.submit)
    order_changes: OrderChanges | None = None  # the broker's numbered feed of order changes (the simulated one's)
    position_quantities: PositionQuantities | None = None  # the broker's quantities held, not valued (simulated)


def check_live_safety(config: Config) -> None:
    """Live trading needs two independent confirmations (config and environment): refuse before any request.
    The confirmation is exactly ``yes``: a ``YES`` or `` yes`` is not read as a deliberate choice to risk money."""
    settings = config.settings
    if settings.broker.kind == "alpaca" and settings.broker.mode == "live":
        if os.environ.get("AUTOTRADER_LIVE_CONFIRM", "") != "yes":
            raise SafetyRefusal(
                "live trading refused: [broker] mode = 'live' also needs AUTOTRADER_LIVE_CONFIRM=yes",
                hint="set AUTOTRADER_LIVE_CONFIRM=yes in the environment of the live cron job only",
            )


def build_monitor(config: Config, mode: str) -> Monitor | None:
    """The ``[monitor]`` outlets that are configured, or None when neither is. One metrics file per mode
    (``autotrader_<mode>.prom``): a paper and a live workspace may share the collector's folder."""
    settings = config.settings.monitor
    if settings.ping_url is None and settings.textfile_dir is None:
        return None
    from autotrader.adapters.monitoring import ServiceMonitor

    folder = config.resolve(settings.textfile_dir) if settings.textfile_dir is not None else None
    return ServiceMonitor(
        ping_url=settings.ping_url.get_secret_value() if settings.ping_url is not None else None,
        timeout_seconds=settings.timeout_seconds,
        textfile=folder / f"autotrader_{mode}.prom" if folder is not None else None,
    )


def build_notifier(config: Config) -> Notifier | None:
    """The ``[notify] urls`` behind the ``Notifier`` port, or None when there are none (nothing is imported)."""
    if not config.notify_urls:
        return None
    from autotrader.adapters.apprise_notifier import AppriseNotifier

    return AppriseNotifier(config.notify_urls, timeout_seconds=config.settings.notify.timeout_seconds)


def build_market_data(config: Config, clock: Clock, calendar: MarketCalendar, ledger: Ledger) -> MarketData:
    data = config.settings.data
    if data.kind == "synthetic":
        from autotrader.adapters.synthetic_data import SyntheticMarketData

        return SyntheticMarketData(clock, calendar, seed=data.seed, extra_symbols=data.symbols)
    if data.kind == "local":
        from autotrader.adapters.local_files import LocalFilesData

        path = config.resolve(data.path)
        if not path.is_dir():
            raise ConfigError(f"[data] path: {path} is not a folder", hint="point it at a folder of SYMBOL.csv files")
        return LocalFilesData(path, clock, calendar)
    if data.kind == "polygon":
        from autotrader.adapters.polygon_data import build_polygon_data

        # The ledger caches daily bars: a run pays requests only for sessions it has never fetched.
        return build_polygon_data(config, clock, calendar, ledger)
    raise ConfigError(
        f"[data] kind = {data.kind!r}: this adapter is not available in this version",
        hint="use kind = 'synthetic', 'local' or 'polygon'",
    )


def build_reference(
    config: Config, market_data: MarketData, *, ledger: Ledger | None = None, clock: Clock | None = None
) -> Reference:
    """The reference source ``[reference] kind`` names. ``auto`` follows ``[data] kind``; with Polygon it is
    Finnhub when FINNHUB_API_KEY is set (sectors and earnings dates), else Polygon's SIC-code sectors (earnings
    unknown: the ``[risk] unknown_earnings`` policy applies).

    Polygon and Finnhub are asked over the network, so they come wrapped in the one ``CachedReference``
    (ledger-backed; the adapters only fetch). The offline sources are not cached: they answer from memory."""
    kind = config.settings.reference.kind
    data_kind = config.settings.data.kind
    if kind == "auto":
        if data_kind == "polygon":
            kind = "finnhub" if "finnhub_api_key" in config.secrets.present() else "polygon"
        else:
            kind = "local" if data_kind == "local" else "synthetic"
    if kind in ("polygon", "finnhub"):
        if ledger is None or clock is None:
            raise ValueError(f"[reference] kind = {kind!r} needs the ledger and the clock")
        source = _network_reference(config, kind, market_data, ledger, clock)
        return _cached_reference(config, source, kind, ledger, clock)
    if kind == "local":
        from autotrader.adapters.local_files import LocalFilesReference

        return LocalFilesReference(config.resolve(config.settings.data.path))
    from autotrader.adapters.synthetic_data import SyntheticMarketData
    from autotrader.adapters.synthetic_reference import SyntheticReference

    if not isinstance(market_data, SyntheticMarketData):
        raise ConfigError("[reference] kind = 'synthetic' needs [data] kind = 'synthetic'")
    return SyntheticReference(market_data)


def _network_reference(config: Config, kind: str, market_data: MarketData, ledger: Ledger, clock: Clock) -> Reference:
    if kind == "finnhub":
        from autotrader.adapters.finnhub_reference import build_finnhub_reference

        return build_finnhub_reference(config)
    from autotrader.adapters.polygon_data import PolygonData, build_polygon_data
    from autotrader.adapters.sic_sectors import PolygonReference

    # Same key, same rate limit: share the market data's client when it is Polygon's.
    if not isinstance(market_data, PolygonData):
        market_data = build_polygon_data(config, clock, MarketCalendar.xnys(), ledger)
    assert isinstance(market_data, PolygonData)
    return PolygonReference(market_data.api)


def _cached_reference(config: Config, source: Reference, kind: str, ledger: Ledger, clock: Clock) -> Reference:
    from datetime import timedelta

    from autotrader.adapters.cached_reference import FINNHUB_SECTOR_TTL, POLYGON_SECTOR_TTL, CachedReference

    return CachedReference(
        source,
        ledger,
        clock,
        sector_ttl=FINNHUB_SECTOR_TTL if kind == "finnhub" else POLYGON_SECTOR_TTL,
        unknown_sector_ttl=timedelta(hours=config.settings.reference.unknown_sector_retry_hours),
    )


def build_sim_broker(config: Config, ledger: Ledger, market_data: MarketData, calendar: MarketCalendar, clock: Clock):
    from autotrader.adapters.sim_broker import SimBroker

    b = config.settings.broker
    return SimBroker(
        ledger,
        market_data,
        calendar,
        clock,
        starting_cash=b.starting_cash,
        slippage_bps=b.slippage_bps,
        commission_per_share=b.commission_per_share,
        commission_min=b.commission_min,
        max_volume_pct=b.max_volume_pct,
        option_fill_pct=b.option_fill_pct,
        option_commission_per_contract=b.option_commission_per_contract,
    )


def open_bar_cache(config: Config, path: Path, *, dry_run: bool) -> Ledger | None:
    """Under ``dry_run``, the ledger file itself for the market data's daily-bar cache, when the data source
    keeps one (Polygon); None otherwise (the run's own ledger serves).

    Cached bars are reference data, the vendor's record of past sessions, not trading state: a dry run that
    fetched them and then threw them away with its in-memory snapshot would pay the same requests again on
    every dry run (a cold 500-symbol universe: about a request per session of history, an hour at 5 a minute).
    So a dry run reads and fills the bar cache of the real file (created if there is none yet) while
    everything else it does stays in the snapshot. ``doctor`` does not call this: it writes nothing."""
    if not dry_run or config.settings.data.kind != "polygon":
        return None
    return open_ledger(path)


def build_deps(
    config: Config,
    ledger: Ledger,
    clock: Clock,
    *,
    force_sim: bool = False,
    dry_run: bool = False,
    bar_cache: Ledger | None = None,
) -> Deps:
    """Wire the adapters the configuration asks for. ``force_sim`` is replay's: the simulated broker always.

    Under ``dry_run`` the broker is wrapped so that reads go through and nothing is ever sent. ``bar_cache``
    (``open_bar_cache``) is where the market data caches daily bars when that is not ``ledger``.
    """
    calendar = MarketCalendar.xnys()
    market_data = build_market_data(config, clock, calendar, bar_cache or ledger)
    reference = build_reference(config, market_data, ledger=ledger, clock=clock)
    if force_sim or config.settings.broker.kind == "sim":
        broker: Broker = build_sim_broker(config, ledger, market_data, calendar, clock)
    else:
        check_live_safety(config)
        from autotrader.adapters.alpaca_broker import build_alpaca_broker

        broker = build_alpaca_broker(config, clock)
    # The broker's extras are read from the adapter itself: the dry-run wrapper only guards submissions.
    broker_calendar = broker if isinstance(broker, BrokerCalendar) else None
    rate_limit = broker if isinstance(broker, RateLimitGauge) else None
    options_broker = broker if isinstance(broker, OptionsBroker) else None
    order_changes = broker if isinstance(broker, OrderChanges) else None
    position_quantities = broker if isinstance(broker, PositionQuantities) else None
    if dry_run:
        from autotrader.adapters.dry_run import DryRunBroker

        broker = DryRunBroker(broker, clock)
    return Deps(
        broker=broker,
        market_data=market_data,
        reference=reference,
        calendar=calendar,
        clock=clock,
        signal_sources=build_signal_sources(config, market_data, calendar, clock),
        broker_calendar=broker_calendar,
        rate_limit=rate_limit,
        options_broker=options_broker,
        order_changes=order_changes,
        position_quantities=position_quantities,
        **market_capabilities(market_data),
    )


class MarketCapabilities(TypedDict):
    split_source: SplitSource | None
    data_quality: DataQuality | None
    volatility_proxy: VolatilityProxy | None
    universe_bars: UniverseDailyBars | None
    option_chains: OptionChains | None


def market_capabilities(market_data: MarketData) -> MarketCapabilities:
    """The optional capabilities (``Deps`` fields) the market data adapter offers, None where it does not."""
    return {
        "split_source": market_data if isinstance(market_data, SplitSource) else None,
        "data_quality": market_data if isinstance(market_data, DataQuality) else None,
        "volatility_proxy": market_data if isinstance(market_data, VolatilityProxy) else None,
        "universe_bars": market_data if isinstance(market_data, UniverseDailyBars) else None,
        "option_chains": market_data if isinstance(market_data, OptionChains) else None,
    }


def build_signal_sources(
    config: Config, market_data: MarketData, calendar: MarketCalendar, clock: Clock
) -> tuple[SignalSource, ...]:
    """The synthetic world's labelled demo feed (synthetic data only) and the enabled built-in scanners, over
    ``[scanners] universe``, else ``[data] symbols``, else (synthetic data) the synthetic world's universe."""
    settings = config.settings
    sources: list[SignalSource] = []
    universe: tuple[str, ...] = tuple(settings.scanners.universe or settings.data.symbols)
    if settings.data.kind == "synthetic":
        from autotrader.adapters.synthetic_data import SyntheticMarketData

        assert isinstance(market_data, SyntheticMarketData)
        universe = universe or market_data.universe
        if settings.signals.synthetic_feed:
            from autotrader.adapters.synthetic_signals import SyntheticSignalFeed

            sources.append(SyntheticSignalFeed(market_data, calendar, clock, seed=settings.data.seed))
    if settings.scanners.enabled or settings.scanners.combinations:
        from autotrader.pipeline.scanners import BuiltinScanners

        predictions_dir = config.resolve(settings.scanners.predictions_dir)
        sources.append(BuiltinScanners(settings.scanners, market_data, calendar, clock, universe, predictions_dir))
    if settings.intraday.enabled:
        from autotrader.pipeline.intraday import IntradayScanners

        # [intraday] universe first, else the daily scanners' (with its own fallbacks above).
        window = (settings.size.trading_window_start, settings.size.trading_window_end)
        intraday_universe = tuple(settings.intraday.universe) or universe
        sources.append(IntradayScanners(settings.intraday, window, market_data, calendar, clock, intraday_universe))
    return tuple(sources)


def read_signal_folder(config: Config, folder: Path) -> SignalFolder:
    """``replay --signals FOLDER``: the owner's recommendation files, read and checked once, before anything runs
    (``adapters.archive_signals``; a structurally bad file or no CSV at all: ``InputError``). Paths inside the
    workspace are shown relative to it, as ``scan`` shows the inbox's."""
    from autotrader.adapters.archive_signals import read_folder

    def display(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(config.workspace))
        except ValueError:
            return str(path)

    return read_folder(folder.expanduser(), display)


def with_signal_folder(deps: Deps, config: Config, folder: SignalFolder) -> Deps:
    """``deps`` with the folder's files as a signal source, fed by ``deps.clock``, in place of the synthetic world's
    demo feed: the owner's picks replace the made-up ones, whatever ``[signals] synthetic_feed`` says. The built-in
    scanners stay."""
    from autotrader.adapters.archive_signals import ArchiveSignals
    from autotrader.adapters.synthetic_signals import SyntheticSignalFeed

    max_age = timedelta(days=config.settings.signals.max_age_days)
    kept = tuple(source for source in deps.signal_sources if not isinstance(source, SyntheticSignalFeed))
    return replace(deps, signal_sources=(ArchiveSignals(folder, deps.clock, max_age=max_age), *kept))
