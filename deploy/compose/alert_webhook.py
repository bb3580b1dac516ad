"""Stand-in Alertmanager webhook receiver for the compose stack: logs every POST body.

Alertmanager (deploy/alertmanager/alertmanager.yml) posts to http://alert-webhook:8080/alerts.
Each request is printed as one JSON line on stdout, so ``docker compose logs alert-webhook``
shows exactly what a real receiver would get. GET /healthz answers 200 for the healthcheck.
Standard library only: it runs on the plain python:3.11-slim image.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY_BYTES = 1024 * 1024


class AlertLogHandler(BaseHTTPRequestHandler):
    """Logs POSTed bodies as JSON lines; answers GET /healthz."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413, "body too large")
            return
        raw = self.rfile.read(length)
        try:
            body: object = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        print(json.dumps({"path": self.path, "body": body}), flush=True)
        self._reply(200, b'{"status":"ok"}')

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._reply(200, b'{"status":"ok"}')
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        # The access log goes to stderr so stdout carries only the alert bodies.
        sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _reply(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main() -> None:
    """Serve until killed, on ``ALERT_WEBHOOK_PORT`` (default 8080)."""
    port = int(os.environ.get("ALERT_WEBHOOK_PORT", "8080"))
    ThreadingHTTPServer(("0.0.0.0", port), AlertLogHandler).serve_forever()


if __name__ == "__main__":
    main()
