"""The ``Monitor`` port's outlets: an uptime service's ping URL and a Prometheus textfile.

Pings follow the healthchecks.io convention: ``<url>/start`` when a run begins, ``<url>/<exit code>`` when it
ends (0 is a success, anything else a failure), both carrying ``?rid=<run id as a UUID>`` so the service pairs
an end with its start and can time the run. The service notices what no run can report itself: a slot that never
ran, and a run that started and never ended (killed, hung past its ``timeout``).

The metrics file is for node_exporter's textfile collector, which reads every ``*.prom`` file of its folder on
each scrape; the folder is made (parents too) when it is missing. ``prometheus_client.write_to_textfile`` writes
a temporary file in the same folder and renames it over the old one, so a scrape sees the old file or the new
one, never half of one.

The ping URL is a secret (its last part is the check's key): nothing here repeats it, or any error text that
could contain it. Only the host appears in what a failure says.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from autotrader.ports import Metric

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric as Family


class ServiceMonitor:
    """Pings ``ping_url`` (when set) and writes the metrics to ``textfile`` (when set)."""

    def __init__(self, *, ping_url: str | None, timeout_seconds: float, textfile: Path | None) -> None:
        self._ping_url = ping_url.rstrip("/") if ping_url else None
        self._timeout = timeout_seconds
        self._textfile = textfile
        self.ping_host = urlsplit(ping_url).hostname if ping_url else None

    def ping(self, event: str, run_id: str) -> str | None:
        if self._ping_url is None:
            return None
        request = urllib.request.Request(
            ping_target(self._ping_url, event, run_id), method="GET", headers={"User-Agent": "autotrader"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read(1024)  # healthchecks answers "OK"; read it so the connection closes cleanly
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}"
        except urllib.error.URLError as error:
            return self._why(error.reason)
        except (OSError, http.client.HTTPException) as error:
            return self._why(error)
        return None

    def _why(self, reason: object) -> str:
        """A failure in words of our own: an exception's text may quote the URL."""
        if isinstance(reason, TimeoutError):
            return f"no answer within {self._timeout:g} s"
        if isinstance(reason, ConnectionRefusedError):
            return "connection refused"
        if isinstance(reason, OSError) and reason.strerror:
            return reason.strerror
        return type(reason).__name__

    def publish(self, metrics: Sequence[Metric]) -> str | None:
        if self._textfile is None:
            return None
        from prometheus_client import CollectorRegistry, write_to_textfile

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(metrics))
        try:
            # The folder is made when missing (parents too): a typo'd or not yet created folder must not mean
            # metrics that silently never appear. One that cannot be made is the caller's to log.
            self._textfile.parent.mkdir(parents=True, exist_ok=True)
            write_to_textfile(str(self._textfile), registry)
        except OSError as error:
            return f"{self._textfile}: {error.strerror or type(error).__name__}"
        return None

    def textfile_problem(self) -> str | None:
        """The metrics file's folder, or the nearest folder above it that exists (``publish`` makes the rest),
        must be a folder this user may write into."""
        if self._textfile is None:
            return None
        folder = self._textfile.parent
        try:
            existing = folder
            while not existing.exists() and existing != existing.parent:
                existing = existing.parent
            if not existing.is_dir():
                return f"{existing} is not a folder, so {folder} cannot be made"
            if not os.access(existing, os.W_OK | os.X_OK):
                unmade = "" if existing == folder else f", so {folder} cannot be made"
                return f"{existing} is not writable by this user{unmade}"
        except OSError as error:
            return f"{folder}: {error.strerror or type(error).__name__}"
        return None


def ping_target(base: str, event: str, run_id: str) -> str:
    """``<base>/<event>?rid=<uuid>``, keeping a query the base URL already has (``?create=1`` of a slug URL)."""
    parts = urlsplit(base)
    rid = f"rid={uuid.UUID(run_id)}"  # healthchecks wants the canonical form; run ids are uuid4().hex
    query = f"{parts.query}&{rid}" if parts.query else rid
    return urlunsplit((parts.scheme, parts.netloc, f"{parts.path.rstrip('/')}/{event}", query, ""))


class _Families:
    """A prometheus_client collector yielding exactly the given metrics (the client's registry wants one)."""

    def __init__(self, metrics: Sequence[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Family]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for metric in self._metrics:
            kind = GaugeMetricFamily if metric.kind == "gauge" else CounterMetricFamily
            family = kind(metric.name, metric.help, labels=metric.labels)
            for sample in metric.samples:
                family.add_metric(sample.labels, sample.value)
            yield family
