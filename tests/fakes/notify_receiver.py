"""A local webhook that records what apprise's ``json://`` sends: one HTTP server on 127.0.0.1, never the internet."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Message:
    path: str  # which URL of the config it came to (each test URL has its own path)
    title: str
    body: str
    type: str  # apprise's kind: info, warning, failure


class Receiver:
    """``with Receiver() as r``: ``r.url("/all")`` is a ``json://`` URL to give ``[notify] urls``; ``r.messages``
    what arrived, in order."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.headers: list[dict[str, str]] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload: dict[str, Any] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.messages.append(Message(self.path, payload["title"], payload["message"], payload["type"]))
                received.headers.append(dict(self.headers))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet: the test reads what arrived
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        # A short poll: shutdown() waits for the loop to look, and the default half second is most of a test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def titles(self, path: str) -> list[str]:
        return [m.title for m in self.messages if m.path == path]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def dead_url(path: str = "/dead") -> str:
    """A URL where nothing listens: a port the system gave out and took back."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"json://127.0.0.1:{port}{path}"
