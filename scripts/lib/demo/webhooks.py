"""The demo's webhook receiver: where its alert rules post, so a user sees each alert arrive.

It stands in for Slack or a ticketing system: it accepts the hub's Slack-compatible body, prints
one line per delivery and appends the body to ``webhooks.jsonl`` in the demo's data directory.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class WebhookReceiver:
    def __init__(self, log_path: Path, on_delivery: Callable[[dict[str, Any]], None]) -> None:
        self.log_path = log_path
        self.deliveries = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.send_error(400, "expected a JSON body")
                    return
                receiver._received(body if isinstance(body, dict) else {"body": body})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass  # one line per delivery is printed by on_delivery instead

        self._on_delivery = on_delivery
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/alerts"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _received(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.deliveries += 1
            with self.log_path.open("a") as log:
                log.write(json.dumps(body) + "\n")
        self._on_delivery(body)
