"""An Alertmanager webhook receiver run by the test: it keeps every notification it is sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from pipeline.localkafka.ports import HOST, free_port


class WebhookReceiver:
    """A threaded HTTP server on a free loopback port collecting webhook JSON bodies.

    Alertmanager posts one payload (version 4) per notification of an alert group; the
    payloads are kept in arrival order behind a lock, as the server answers from many threads.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self._lock = threading.Lock()
        self._payloads: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer((HOST, self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/alerts"

    def payloads(self) -> list[dict[str, Any]]:
        """A snapshot of the payloads received so far."""
        with self._lock:
            return list(self._payloads)

    def _keep(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self._payloads.append(payload)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        keep = self._keep

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    payload = json.loads(body)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                # A non-object body is kept as is: the assertions will say what arrived.
                keep(payload if isinstance(payload, dict) else {"unexpected_body": payload})
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output for assertion messages

        return Handler

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
