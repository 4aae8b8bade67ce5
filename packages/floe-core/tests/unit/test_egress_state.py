"""The state store on embedded SQLite and on the real PostgreSQL service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from floe_core.egress.errors import StateStoreError
from floe_core.egress.receipt import Receipt, RunStatus, new_run_id
from floe_core.egress.rejects import RejectedRows
from floe_core.egress.state import StateStore, state_store_exists, state_url_for


def _receipt(destination: str, started: datetime, **kw: object) -> Receipt:
    return Receipt(
        run_id=new_run_id(),
        destination=destination,
        sink_type="sql_database",
        started_at=started,
        source_table="gold.customers",
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.requirement("B9")
def test_run_lifecycle_and_history(store: StateStore) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    first = _receipt("crm", t0)
    store.start_run(first)
    assert store.runs()[0].status is RunStatus.RUNNING

    first.status = RunStatus.PARTIAL
    first.finished_at = t0 + timedelta(seconds=3)
    first.rows_read, first.rows_delivered, first.rows_rejected = 10, 9, 1
    first.bytes_transmitted, first.duration_seconds = 1234, 3.0
    first.checksum, first.idempotency_key = "ab" * 32, "key-1"
    first.snapshot_id = 2**62 + 5
    first.errors = ["1 row rejected: bad email"]
    first.plugin = "dlt"
    store.finish_run(first)
    second = _receipt("warehouse", t0 + timedelta(minutes=1), status=RunStatus.SUCCESS)
    store.start_run(second)

    history = store.runs()
    assert [r.run_id for r in history] == [second.run_id, first.run_id]
    stored = history[1]
    assert stored == first
    assert stored.started_at == t0 and stored.finished_at is not None
    assert [r.run_id for r in store.runs("crm")] == [first.run_id]
    assert store.runs(limit=1)[0].run_id == second.run_id
    assert store.runs("nobody") == []


def test_runs_by_run_id_prefix_and_the_destinations_with_runs(store: StateStore) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    older = _receipt("crm", t0)
    older.run_id = "ab12" + "0" * 28
    newer = _receipt("warehouse", t0 + timedelta(minutes=1))
    newer.run_id = "ab13" + "0" * 28
    for receipt in (older, newer):
        store.start_run(receipt)

    assert [r.run_id for r in store.runs_by_id("ab1")] == [newer.run_id, older.run_id]
    assert [r.destination for r in store.runs_by_id("ab12")] == ["crm"]
    assert [r.run_id for r in store.runs_by_id(older.run_id)] == [older.run_id]
    assert store.runs_by_id("ab1_") == store.runs_by_id("%") == []  # LIKE wildcards are literal
    assert store.destinations() == ["crm", "warehouse"]


def test_only_a_sqlite_file_not_yet_created_counts_as_missing(tmp_path: Path) -> None:
    url = state_url_for(tmp_path, environ={})

    assert not state_store_exists(url)
    assert not (tmp_path / ".floe").exists()
    StateStore(url).close()
    assert state_store_exists(url)
    assert state_store_exists("postgresql://floe@db.internal:5432/floe")
    assert state_store_exists("sqlite://")


@pytest.mark.requirement("B9")
def test_checkpoints(store: StateStore) -> None:
    assert store.checkpoint("crm") is None
    store.save_checkpoint("crm", "gold.customers", 11, "run-a")
    store.save_checkpoint("crm", "gold.customers", 12, "run-b")
    checkpoint = store.checkpoint("crm")
    assert checkpoint is not None
    assert (checkpoint.snapshot_id, checkpoint.run_id) == (12, "run-b")
    assert checkpoint.updated_at.tzinfo is not None


@pytest.mark.requirement("B9")
def test_row_fingerprints_replace_per_key(store: StateStore) -> None:
    store.save_fingerprints("crm", {"1": "f1", "2": "f2"}, "run-a")
    store.save_fingerprints("crm", {"2": "f2b", "3": "f3"}, "run-b")
    store.save_fingerprints("other", {"1": "x"}, "run-b")
    assert store.fingerprints("crm") == {"1": "f1", "2": "f2b", "3": "f3"}


@pytest.mark.requirement("B9")
def test_rejected_rows_kept_once_per_identity_with_attempts_and_resolved(
    store: StateStore,
) -> None:
    bad = {"id": 1, "email": "not-an-email", "name": "Zoë"}
    gone = {"id": 2, "email": "x", "name": "Al"}
    store.save_rejected_rows("crm", "run-a", [bad, gone], "HTTP 422: bad email")
    store.save_rejected_rows("crm", "run-b", [bad], "HTTP 422: still bad")
    store.save_rejected_rows("crm", "run-b", [bad], "HTTP 422: bad email", key_columns=["id"])

    by_content, by_gone, by_key = store.rejected_rows("crm")
    assert (by_content.row, by_content.reason, by_content.run_id) == (
        bad,
        "HTTP 422: still bad",
        "run-b",
    )
    assert by_content.attempts == 2 and by_content.key.startswith("sha256:")
    assert by_content.first_seen <= by_content.rejected_at
    assert (by_gone.attempts, by_key.key, by_key.attempts) == (1, "[1]", 1)

    rejects = RejectedRows(store)
    resolved, dropped = rejects.settle(
        "crm", "run-c", seen={by_content.key, by_key.key}, refused={by_key.key}
    )

    assert (resolved, dropped) == (1, 1)  # refused again: stays; not in the source: dropped
    assert [r.key for r in store.rejected_rows("crm")] == [by_key.key]
    everything = store.rejected_rows("crm", unresolved_only=False)
    assert {r.key: r.resolved_run_id for r in everything} == {
        by_content.key: "run-c",
        by_key.key: None,
    }


@pytest.mark.requirement("B9")
def test_sqlite_default_lives_under_project_dot_floe(tmp_path: Path) -> None:
    url = state_url_for(tmp_path, environ={})
    assert url == f"sqlite:///{tmp_path / '.floe' / 'state.db'}"
    with StateStore(url):
        pass
    assert (tmp_path / ".floe" / "state.db").is_file()


def test_state_url_precedence(tmp_path: Path) -> None:
    assert state_url_for(tmp_path, "sqlite:///m.db", environ={}) == "sqlite:///m.db"
    env = {"FLOE_STATE_URL": "postgresql://h/db"}
    assert state_url_for(tmp_path, "sqlite:///m.db", environ=env) == "postgresql://h/db"


def test_unreachable_state_database_is_a_clear_error_without_password() -> None:
    with pytest.raises(StateStoreError) as caught:
        StateStore("postgresql://floe:hunter2-state@127.0.0.1:1/floe?connect_timeout=2")
    text = str(caught.value)
    assert "cannot open the state store at postgresql+psycopg://floe:***@127.0.0.1:1/floe" in text
    assert "hunter2-state" not in text


def test_invalid_state_url() -> None:
    with pytest.raises(StateStoreError, match="not a valid SQLAlchemy URL"):
        StateStore("not a url")


def test_a_mysql_state_store_is_refused_before_connecting_without_its_password() -> None:
    # Leases need SQLite's or PostgreSQL's locking: refused at once, not a run that hangs.
    with pytest.raises(StateStoreError) as caught:
        StateStore("mysql+pymysql://root:hunter2-state@127.0.0.1:3306/test")
    text = f"{caught.value} {caught.value.hint}"
    assert "mysql database; floe keeps its state in SQLite or PostgreSQL only" in text
    assert "postgresql://user@host:5432/floe" in text
    assert "hunter2-state" not in text


@pytest.mark.requirement("B9")
def test_a_store_made_by_an_older_floe_gets_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    url = state_url_for(tmp_path, environ={})
    old = _receipt("crm", datetime(2026, 1, 1, tzinfo=UTC), rows_delivered=5)
    with StateStore(url) as store:
        store.start_run(old)
    with sqlite3.connect(tmp_path / ".floe" / "state.db") as conn:
        conn.execute("ALTER TABLE floe_runs DROP COLUMN rows_skipped")

    with StateStore(url) as store:
        new = _receipt("crm", datetime(2026, 1, 2, tzinfo=UTC), rows_skipped=7)
        store.start_run(new)
        runs = store.runs("crm")

    assert [(r.rows_delivered, r.rows_skipped) for r in runs] == [(0, 7), (5, 0)]


@pytest.mark.requirement("R17")
def test_a_store_without_destination_hosts_keeps_working_and_records_them_from_now_on(
    tmp_path: Path,
) -> None:
    import sqlite3

    url = state_url_for(tmp_path, environ={})
    old = _receipt("crm", datetime(2026, 1, 1, tzinfo=UTC), rows_delivered=5)
    with StateStore(url) as store:
        store.start_run(old)
    with sqlite3.connect(tmp_path / ".floe" / "state.db") as conn:
        conn.execute("ALTER TABLE floe_runs DROP COLUMN destination_host")

    with StateStore(url) as store:
        new = _receipt(
            "crm", datetime(2026, 1, 2, tzinfo=UTC), destination_host="api.acme.test:443"
        )
        store.start_run(new)
        new.rows_delivered = 3
        store.finish_run(new)
        runs = store.runs("crm")

    assert [(r.rows_delivered, r.destination_host) for r in runs] == [
        (3, "api.acme.test:443"),
        (5, ""),
    ]


@pytest.mark.requirement("B12")
def test_runs_opening_a_new_state_store_at_once_all_open_it(tmp_path: Path) -> None:
    import threading

    errors: list[BaseException] = []

    def open_store(url: str, start: threading.Barrier) -> None:
        start.wait()
        try:
            StateStore(url).close()
        except BaseException as exc:
            errors.append(exc)

    for attempt in range(5):
        url = f"sqlite:///{tmp_path / f'state-{attempt}.db'}"
        start = threading.Barrier(4)
        threads = [threading.Thread(target=open_store, args=(url, start)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with StateStore(url) as store:
            assert store.runs() == []
