"""The ``Notifier`` port over apprise: one list of URLs for email, SMS gateways, Telegram, Slack, Discord, ntfy,
webhooks (``json://``, ``form://``) and the rest of what apprise speaks.

apprise is imported on the first send, never before: it loads its plugins then (about a fifth of a second), and
most runs have nothing to say. Each URL is its own apprise object, so that a URL apprise cannot read or a service
that refuses fails alone and is reported by its masked label (``settings.mask_url``); what apprise says about a
failure is captured from its log (warnings only: its debug lines can name a whole URL) and scrubbed of every value
of the URL before it leaves this module. Nothing is retried: a failed delivery is reported, and the caller logs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from autotrader.policy.alerts import Alert, AlertLevel, reaches
from autotrader.ports import Delivery
from autotrader.settings import NotifyUrl

if TYPE_CHECKING:
    import apprise

# apprise's message kinds: how a channel that shows them (colour, icon) tells a failure from news.
_KIND = {AlertLevel.INFO: "info", AlertLevel.WARNING: "warning", AlertLevel.CRITICAL: "failure"}


class AppriseNotifier:
    def __init__(self, urls: Sequence[NotifyUrl], *, timeout_seconds: float) -> None:
        self._urls = tuple(urls)
        self._timeout = timeout_seconds
        self._services: dict[int, apprise.Apprise | None] = {}
        # Longest first, so a URL is masked whole before a token inside it; as the log's filter, nothing shorter
        # than 4 characters (masking every "1" would garble the message and hide nothing).
        values = {v for u in self._urls for v in u.secret_values() if len(v) >= 4}
        self._secrets = sorted(values, key=len, reverse=True)

    def send(self, alerts: Sequence[Alert], *, every_url: bool = False) -> list[Delivery]:
        out = []
        for alert in alerts:
            for i, url in enumerate(self._urls):
                if every_url or reaches(alert, url.level):
                    out.append(self._deliver(i, url, alert))
        return out

    def unreadable(self) -> list[tuple[int, str]]:
        """The URLs apprise cannot make a service of (an unknown scheme, a malformed URL) and why, sending
        nothing: ``doctor``'s check."""
        import apprise

        out = []
        for i, url in enumerate(self._urls):
            try:
                with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
                    service = self._service(i, url)
                why = self._why(captured.getvalue())
            except Exception as error:  # apprise is not ours
                service, why = None, self._scrub(f"{type(error).__name__}: {error}")
            if service is None:
                out.append((url.index, why or "apprise does not know this URL (check its scheme)"))
        return out

    def _deliver(self, i: int, url: NotifyUrl, alert: Alert) -> Delivery:
        try:
            service = self._service(i, url)
            if service is None:
                return Delivery(url.label, alert.key, False, "apprise does not know this URL (check its scheme)")
            import apprise

            with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
                sent = bool(service.notify(body=alert.body, title=alert.title, notify_type=_KIND[alert.level]))
            if sent:
                return Delivery(url.label, alert.key, True)
            return Delivery(url.label, alert.key, False, self._why(captured.getvalue()) or "not delivered")
        except Exception as error:  # apprise is not ours: whatever it raises is a failed delivery, not a crash
            return Delivery(url.label, alert.key, False, self._scrub(f"{type(error).__name__}: {error}"))

    def _service(self, i: int, url: NotifyUrl) -> apprise.Apprise | None:
        if i not in self._services:
            import apprise

            # Memory only: apprise would otherwise keep state files of its own (a cache of tokens) on disk.
            asset = apprise.AppriseAsset(storage_mode="memory")
            plugin: Any = apprise.Apprise.instantiate(url.url.get_secret_value(), asset=asset)
            service = None
            if plugin is not None:
                # The HTTP services' own timeouts (4 s to connect, 4 s to read by default), bounded by the setting.
                plugin.socket_connect_timeout = self._timeout
                plugin.socket_read_timeout = self._timeout
                service = apprise.Apprise(asset=asset)
                service.add(plugin)
            self._services[i] = service
        return self._services[i]

    def _why(self, log: str) -> str:
        # "2026-03-02 10:00:00,123 - WARNING - A Connection error occurred sending JSON notification to host."
        lines = [line.split(" - ", 2)[-1].strip() for line in log.splitlines() if line.strip()]
        return self._scrub("; ".join(dict.fromkeys(lines)))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "**********")
        return text
