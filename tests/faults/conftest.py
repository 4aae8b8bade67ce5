"""Fixtures of the fault suite: a project with a real Iceberg SQL catalog, a REST destination
in a process of its own (``rest_destination.py``), fresh PostgreSQL schemas on the shared
server, a throwaway PostgreSQL server the test owns, and ``floe`` as real processes.

Every scenario measures, at a destination that does not de-duplicate, rows **lost** (source
rows missing), rows **duplicated** (extra copies), rows **re-sent** (sent by a later run to a
destination that already held them) and rows **skipped** (not sent again because the run
journal said they had arrived), and prints them on one line (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from floe_core.demo.data import create_customers_table
from floe_core.egress.state import StateStore, state_url_for

HERE = Path(__file__).resolve().parent
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition()`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def figure(scenario: str, *, lost: int, duplicated: int, resent: int, skipped: int) -> None:
    """Print a scenario's figures on one line."""
    print(
        f"\nFAULT {scenario}: lost={lost} duplicated={duplicated} re-sent={resent} "
        f"skipped={skipped}"
    )


def lost_and_duplicated(received: Counter[int], expected: set[int]) -> tuple[int, int]:
    """Expected ids missing from ``received``, and copies beyond the first."""
    lost = len(expected - set(received))
    duplicated = sum(count - 1 for count in received.values() if count > 1)
    return lost, duplicated


# --- floe as a process --------------------------------------------------------------------


def _floe() -> str:
    return str(Path(sys.executable).with_name("floe"))


@dataclass
class Project:
    """A data product directory: floe.yaml, manifest.yaml, secrets/ and an Iceberg catalog."""

    root: Path
    rows: int

    def write(self, destination: str) -> None:
        (self.root / "floe.yaml").write_text(
            "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: faults, version: 1.0.0}\n"
            "destinations:\n" + textwrap.indent(textwrap.dedent(destination), "  "),
            encoding="utf-8",
        )
        (self.root / "manifest.yaml").write_text(
            "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: faults}\n"
            "catalog:\n  type: sql\n  name: faults\n  uri: sqlite:///.floe/catalog.db\n"
            "  warehouse: .floe/warehouse\n",
            encoding="utf-8",
        )

    def secret(self, name: str, **keys: str) -> None:
        folder = self.root / "secrets" / name
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in keys.items():
            (folder / key).write_text(value, encoding="utf-8")

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """``floe ARGS --project ROOT --json`` in a process of its own, not waited for."""
        return subprocess.Popen(
            [_floe(), *args, "--project", str(self.root), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "FLOE_LEASE_SECONDS": "1", **(env or {})},
        )

    def run(self, *args: str) -> tuple[int, dict[str, Any], str]:
        """Run ``floe ARGS`` to the end: exit code, its JSON output, its stderr."""
        process = self.start(*args)
        out, err = process.communicate(timeout=300)
        return process.returncode, json.loads(out) if out.strip() else {}, err

    def state(self) -> StateStore:
        return StateStore(state_url_for(self.root, environ={}))

    def journaled(self) -> int:
        """Rows in the run journal (batches confirmed by runs that did not finish)."""
        with self.state() as state:
            table = state.table("journal")
            with state.transaction("read the journal of") as conn:
                return sum(int(row.rows) for row in conn.execute(table.select()))

    def history(self, destination: str) -> list[dict[str, Any]]:
        code, out, err = self.run("egress", "history", destination)
        assert code == 0, err
        return list(out["runs"])

    def expire_leases(self) -> None:
        """Wait until every lease has gone a lease time (1 s here) without renewal."""
        with self.state() as state:
            table = state.table("leases")
            with state.transaction("read the leases of") as conn:
                expiry = max((float(r.expires_at) for r in conn.execute(table.select())), default=0)
        wait_for(lambda: time.time() > expiry, "the killed run's lease to expire", 10)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    """``make_project(rows)``: a project whose Iceberg table gold.customers has ``rows`` rows."""

    def build(rows: int) -> Project:
        root = tmp_path / f"proj-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        catalog = {
            "type": "sql",
            "name": "faults",
            "uri": f"sqlite:///{root / '.floe' / 'catalog.db'}",
            "warehouse": (root / ".floe" / "warehouse").as_uri(),
        }
        create_customers_table(catalog, rows=rows)
        return Project(root, rows)

    return build


def sigkill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)


# --- the REST destination -----------------------------------------------------------------


@dataclass
class RestDestination:
    """``rest_destination.py`` in a process of its own; ``kill`` and ``start`` it at will."""

    log: Path
    port: int = 0
    process: subprocess.Popen[str] | None = None
    marks: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "rest_destination.py"), str(self.port), str(self.log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def kill(self) -> None:
        """``kill -9`` the server: open connections are reset, new ones refused."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def control(self, **settings: Any) -> None:
        request = urllib.request.Request(
            f"{self.url}/_control", data=json.dumps(settings).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    def requests(self) -> list[dict[str, Any]]:
        """Every data request received, in order (a line cut by ``kill -9`` is left out)."""
        if not self.log.exists():
            return []
        entries = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return entries

    def stored(self, since: int = 0) -> Counter[int]:
        """How often each ``customer_id`` was stored (from request number ``since`` on)."""
        return Counter(
            i for entry in self.requests()[since:] if entry["stored"] for i in entry["ids"]
        )

    def held(self) -> int:
        """Requests received and not stored (held unanswered, or refused)."""
        return sum(1 for entry in self.requests() if not entry["stored"])


@pytest.fixture
def rest_destination(tmp_path: Path) -> Iterator[RestDestination]:
    destination = RestDestination(tmp_path / f"received-{uuid.uuid4().hex[:6]}.jsonl")
    destination.start()
    try:
        yield destination
    finally:
        if destination.process is not None:
            destination.kill()


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_count(dsn: str, schema: str, table: str) -> int:
    """Rows of ``schema.table``; -1 while it does not exist (or the server is down)."""
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            row = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
    except psycopg.Error:
        return -1
    return int(row[0]) if row else -1


def pg_ids(dsn: str, schema: str, table: str) -> Counter[int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f'SELECT customer_id FROM "{schema}"."{table}"').fetchall()
    return Counter(int(row[0]) for row in rows)


@dataclass
class Blocker:
    """Holds an EXCLUSIVE lock on a table from its own connection: writers queue behind it."""

    dsn: str
    schema: str
    conn: psycopg.Connection[Any] | None = None

    def lock(self, table: str) -> None:
        self.conn = psycopg.connect(self.dsn)
        self.conn.execute(f'LOCK TABLE "{self.schema}"."{table}" IN EXCLUSIVE MODE')

    def writers_waiting(self) -> int:
        """Other sessions waiting for a lock (a batch in flight, blocked)."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND pid <> pg_backend_pid() AND query LIKE %s",
                (f"%{self.schema}%",),
            ).fetchone()
        return int(row[0]) if row else 0

    def others(self) -> int:
        """Other sessions busy with the schema (in a statement or a transaction)."""
        mine = self.conn.info.backend_pid if self.conn is not None else 0
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                " AND pid <> %s AND state <> 'idle' AND query LIKE %s",
                (mine, f"%{self.schema}%"),
            ).fetchone()
        return int(row[0]) if row else 0

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL server of the test's own (initdb, pg_ctl), on a free port of 127.0.0.1."""

    bin: Path
    folder: Path
    port: int

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.folder / "data"),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            *args,
        ]
        done = subprocess.run(_unprivileged(command), capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr + self.log()

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """Stop (fast: every session is ended, transactions rolled back) and start again."""
        self._ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(encoding="utf-8", errors="replace")[-2000:] if path.exists() else ""


def _unprivileged(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: as root, run ``command`` as nobody."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "nobody", "--", *command]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A fresh PostgreSQL server (never the shared one), removed afterwards."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: "
            "install them with: apt-get install postgresql"
        )
    bin_dir = found[-1].parent
    # Not under pytest's tmp_path: its parents are closed to the unprivileged server user.
    folder = Path(tempfile.mkdtemp(prefix="floe-fault-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
    initdb = [str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", "postgres"]
    init = subprocess.run(
        _unprivileged([*initdb, "-A", "trust", "--no-sync", "-E", "UTF8"]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    server = ThrowawayPostgres(bin_dir, folder, _free_port())
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Helpers:
    """The suite's helper functions (test modules cannot import conftest directly)."""

    pg_dsn: str = PG_DSN
    wait_for = staticmethod(wait_for)
    figure = staticmethod(figure)
    lost_and_duplicated = staticmethod(lost_and_duplicated)
    sigkill = staticmethod(sigkill)
    pg_count = staticmethod(pg_count)
    pg_ids = staticmethod(pg_ids)
    blocker = staticmethod(Blocker)


@pytest.fixture
def f() -> Helpers:
    """Helper functions: ``f.wait_for``, ``f.figure``, ``f.pg_count``, ..."""
    return Helpers()
