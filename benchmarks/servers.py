"""A local HTTP destination in its own process, so the client measured shares no GIL with it.

Routes (any path below the prefix is accepted, e.g. ``/fast/customers``):

- ``POST /fast/...``  answers at once; ``POST /slow/...`` waits ``--slow-ms`` (default 50 ms)
  first, like a remote API with a round trip of that length. Bodies are stored unparsed, so
  the server does the same small amount of work for every client.
- ``GET /_stats``  parses what was stored and returns the requests, rows, distinct
  ``Idempotency-Key`` headers, peak concurrent requests and the checksum of the values;
  ``GET /_stats?path=/fast/x`` the same for the requests to paths starting ``/fast/x``
  (upserts and deletes of one destination told apart).
- ``POST /_reset`` forgets everything.  Any other ``GET`` or ``HEAD`` answers 200
  (reachability checks).

Run ``python -m benchmarks.servers`` to start one by hand; it prints ``PORT <n>``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from benchmarks.settings import REPO_ROOT
from benchmarks.verify import from_records

__all__ = ["HttpServer"]

try:
    import orjson

    _loads: Any = orjson.loads
except ImportError:  # the server also runs under plain interpreters
    _loads = json.loads


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list[tuple[str, bytes]] = []  # (path, body)
        self.keys: set[str] = set()
        self.in_flight = 0
        self.max_in_flight = 0

    def reset(self) -> None:
        with self.lock:
            self.bodies, self.keys = [], set()
            self.in_flight = self.max_in_flight = 0

    def stats(self, prefix: str = "") -> dict[str, Any]:
        with self.lock:
            bodies = [body for path, body in self.bodies if path.startswith(prefix)]
            keys, peak = len(self.keys), self.max_in_flight
        records: list[dict[str, Any]] = []
        for body in bodies:
            records.extend(_flat(record) for record in _records(_loads(body)))
        return {
            "requests": len(bodies),
            "bytes": sum(len(b) for b in bodies),
            "idempotency_keys": keys,
            "max_in_flight": peak,
            "checksum": from_records(records) if all(_whole(r) for r in records) else None,
            "ids": sorted({int(r["id"]) for r in records if "id" in r}),
        }


def _whole(record: dict[str, Any]) -> bool:
    """A record with every column the checksum sums (a delete carries only its key)."""
    return "lifetime_value" in record


def _records(doc: Any) -> list[dict[str, Any]]:
    """Records in a body: an array, an envelope ``{"key": [...]}`` or one record."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and len(doc) == 1:
        (inner,) = doc.values()
        if isinstance(inner, list):
            return inner
    return [doc]


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """A record with the fields of its nested objects lifted to the top (``properties.email``
    counts as ``email``), so shaped records are checked against the same values."""
    if not any(isinstance(value, dict) for value in record.values()):
        return record
    flat: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, dict):
            flat.update(_flat(value))
        else:
            flat.setdefault(name, value)
    return flat


def _handler(state: _State, slow_seconds: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/_stats" or self.path.startswith("/_stats?path="):
                prefix = unquote(self.path.partition("?path=")[2])
                self._answer(200, json.dumps(state.stats(prefix)).encode())
            else:
                self._answer(200, b'{"ok":true}')

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/_reset":
                state.reset()
                self._answer(200, b'{"ok":true}')
                return
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                if self.path.startswith("/slow"):
                    time.sleep(slow_seconds)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                rows = len(_records(_loads(body)))
                with state.lock:
                    state.bodies.append((self.path, body))
                    key = self.headers.get("Idempotency-Key")
                    if key:
                        state.keys.add(key)
            finally:
                with state.lock:
                    state.in_flight -= 1
            self._answer(200, b'{"received":%d}' % rows)

        do_PUT = do_POST
        do_PATCH = do_POST

    return Handler


def serve(port: int, slow_ms: float) -> None:
    """Serve until killed; print ``PORT <n>`` once listening."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(_State(), slow_ms / 1000))
    server.daemon_threads = True
    server.request_queue_size = 256
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)


class HttpServer:
    """Handle on a server subprocess: ``base_url``, ``reset()``, ``stats()``; a context manager."""

    def __init__(self, slow_ms: float = 50.0) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.servers", "--port", "0", "--slow-ms", str(slow_ms)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            self._proc.kill()
            raise RuntimeError(f"benchmark HTTP server did not start (said {line!r})")
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        import httpx

        self._client = httpx.Client(base_url=self.base_url, timeout=120)

    def reset(self) -> None:
        """Forget every stored request."""
        self._client.post("/_reset").raise_for_status()

    def stats(self, path: str = "") -> dict[str, Any]:
        """Requests, bytes, idempotency keys, peak concurrency and checksum since the reset
        (of the requests to paths starting with ``path``, when given)."""
        resp = self._client.get("/_stats", params={"path": path} if path else None)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def close(self) -> None:
        """Stop the server process."""
        self._client.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def main() -> None:
    """Command line entry: ``python -m benchmarks.servers [--port N] [--slow-ms MS]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--slow-ms", type=float, default=50.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port, args.slow_ms)


if __name__ == "__main__":
    main()
