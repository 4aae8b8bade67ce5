"""A REST destination for the fault suite, run as a process of its own so a test can kill it.

It keeps every row it receives and de-duplicates nothing (idempotency keys are ignored), so a
batch sent twice shows up twice. Each data request is appended to a JSON-lines log before it
is answered (``{"ids": [...], "stored": true|false}``), so what the destination held survives
``kill -9``. Behaviour is set by ``POST /_control`` with a JSON object:

- ``accept``: store this many more data requests, then hold (``hang``) or refuse (503) the rest;
  ``null`` accepts everything;
- ``hang``: hold requests over ``accept`` unanswered until a later control sets ``release``;
- ``reject_ids``: answer 400 to a request holding any of these ``customer_id`` values;
- ``delay``: seconds to wait before answering each data request.

Usage: ``python rest_destination.py PORT LOG`` (PORT 0 picks a free port); prints the port.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class State:
    """What the destination was told to do, and how many requests it stored."""

    def __init__(self, log_path: str) -> None:
        self.lock = threading.Lock()
        self.log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (open for the process)
        self.accept: int | None = None
        self.hang = False
        self.reject_ids: set[int] = set()
        self.delay = 0.0
        self.release = threading.Event()

    def control(self, settings: dict[str, Any]) -> None:
        with self.lock:
            if "accept" in settings:
                self.accept = settings["accept"]
            self.hang = bool(settings.get("hang", self.hang))
            self.reject_ids = set(settings.get("reject_ids", self.reject_ids))
            self.delay = float(settings.get("delay", self.delay))
            if settings.get("release"):
                self.release.set()

    def record(self, ids: list[int], stored: bool) -> None:
        with self.lock:
            self.log.write(json.dumps({"ids": ids, "stored": stored}) + "\n")
            self.log.flush()

    def take_slot(self) -> bool:
        """True when this request may be stored (one fewer left to accept)."""
        with self.lock:
            if self.accept is None:
                return True
            if self.accept <= 0:
                return False
            self.accept -= 1
            return True


def serve(port: int, log_path: str) -> None:
    state = State(log_path)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, payload: Any) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path == "/_control":
                state.control(json.loads(raw))
                self._answer(200, {"ok": True})
                return
            if self.command not in {"POST", "PUT", "PATCH"}:
                self._answer(200, {"ok": True})
                return
            ids = [int(record["customer_id"]) for record in json.loads(raw)]
            if state.delay:
                time.sleep(state.delay)
            if state.reject_ids.intersection(ids):
                state.record(ids, stored=False)
                self._answer(400, {"error": "customer refused"})
                return
            if not state.take_slot():
                state.record(ids, stored=False)
                if state.hang:
                    state.release.wait()
                self._answer(503, {"error": "unavailable"})
                return
            state.record(ids, stored=True)
            self._answer(200, {"ok": True})

        do_POST = do_PUT = do_PATCH = do_GET = do_HEAD = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
