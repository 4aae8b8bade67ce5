"""The fingerprint store, in a local folder and in a shared PostgreSQL state store.

With a PostgreSQL state store the files are rows of ``floe_sync_files``: a second host (a
second process with its own project folder, the same state database) sees the fingerprints
the first one recorded, including those of a run killed before it compacted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from floe_core.egress.state import StateStore
from floe_core.sync.files import FolderFiles, StateFiles
from floe_core.sync.store import (
    COMPACT_FILES,
    FingerprintStore,
    SyncMeta,
    fingerprint_store,
)

MakeStore = Callable[[], FingerprintStore]


@pytest.fixture(params=["folder", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """``make_store()``: a new store object (as a new process makes) over the same files."""
    if request.param == "folder":
        yield lambda: FingerprintStore(tmp_path, "d")
        return
    url = request.getfixturevalue("pg_url")
    opened: list[StateStore] = []

    def make() -> FingerprintStore:
        state = StateStore(url)  # each "host" opens the state store itself
        opened.append(state)
        return fingerprint_store(state, tmp_path / f"host{len(opened)}", "d")

    yield make
    for state in opened:
        state.close()


def _keys(store: FingerprintStore) -> dict[str, int]:
    return dict(zip(*store.load().to_dict(as_series=False).values(), strict=True))


def test_recorded_rows_deletes_and_meta_are_seen_by_a_new_store(make_store: MakeStore) -> None:
    store = make_store()
    assert store.meta() == SyncMeta() and len(store.load()) == 0
    store.record(pa.array(["1", "2", "3"]), pa.array([11, 12, 13], pa.uint64()), "aaa")
    store.record(pa.array(["2"]), pa.array([22], pa.uint64()), "aaa")
    # killed here: no compaction; another process (or host) sees what was confirmed
    other = make_store()
    assert _keys(other) == {"1": 11, "2": 22, "3": 13}
    other.record(pa.array(["3"]), None, "bbb")
    other.compact(SyncMeta("cfg", 42, "bbb", "mirror"))
    again = make_store()
    assert _keys(again) == {"1": 11, "2": 22}
    assert again.meta() == SyncMeta("cfg", 42, "bbb", "mirror", base_rows=2)


def test_compaction_leaves_only_the_base_and_the_meta(make_store: MakeStore) -> None:
    store = make_store()
    for run in ("aaa", "bbb"):
        store.record(pa.array(["1", "2"]), pa.array([1, 2], pa.uint64()), run)
    store.compact(SyncMeta("cfg", 1, "bbb", "upsert"))
    assert sorted(store.files.names()) == ["base.parquet", "meta.json"]


def test_the_state_store_decides_where_the_files_live(tmp_path: Path, pg_url: str) -> None:
    with StateStore(f"sqlite:///{tmp_path / 'state.db'}") as local:
        store = fingerprint_store(local, tmp_path, "d")
        assert isinstance(store.files, FolderFiles)
        assert store.files.path == tmp_path / ".floe" / "sync" / "d"
    with StateStore(pg_url) as shared:
        store = fingerprint_store(shared, tmp_path, "d")
        assert isinstance(store.files, StateFiles)
        store.record(pa.array(["1"]), pa.array([1], pa.uint64()), "aaa")
        assert not (tmp_path / ".floe").exists()  # nothing on this host's disk


def test_compaction_after_a_killed_run_keeps_its_confirmed_rows(make_store: MakeStore) -> None:
    store = make_store()
    store.record(pa.array(["1", "2", "3"]), pa.array([1, 2, 3], pa.uint64()), "aaa")
    store.compact(SyncMeta("cfg", 1, "aaa", "mirror"))
    store.record(pa.array(["9"]), pa.array([9], pa.uint64()), "aaa")  # a killed run's delta
    run = make_store()
    run.record(pa.array(["2"]), None, "bbb")
    run.record(pa.array(["3"]), pa.array([33], pa.uint64()), "bbb")
    run.compact(SyncMeta("cfg", 2, "bbb", "mirror"))
    assert _keys(make_store()) == {"1": 1, "3": 33, "9": 9}


def test_writers_of_one_run_keep_files_of_their_own_and_all_are_folded(
    tmp_path: Path, make_store: MakeStore
) -> None:
    """The tasks of a run on Ray (and each attempt of one) record at once into the same store:
    each names its files, so none replaces another's, and the driver folds them all."""
    driver = make_store()
    files = driver.files
    first = FingerprintStore(None, "d", files, writer="a1")
    retry = FingerprintStore(None, "d", files, writer="a2")
    other = FingerprintStore(None, "d", files, writer="b1")
    first.record(pa.array(["1", "2"]), pa.array([1, 2], pa.uint64()), "aaa")
    retry.record(pa.array(["1", "2"]), pa.array([1, 2], pa.uint64()), "aaa")  # again, the same
    retry.record(pa.array(["3"]), pa.array([3], pa.uint64()), "aaa")
    other.record(pa.array(["7"]), pa.array([7], pa.uint64()), "aaa")
    driver.record(pa.array(["9"]), None, "aaa")  # the driver's delete of a key never stored

    names = files.names()
    assert len(names) == 5 and len(set(names)) == 5
    assert {"delta-aaa-a1-000001.parquet", "delta-aaa-a2-000002.parquet"} <= set(names)
    driver.compact(SyncMeta("cfg", 1, "aaa", "mirror"))
    assert _keys(make_store()) == {"1": 1, "2": 2, "3": 3, "7": 7}
    assert sorted(files.names()) == ["base.parquet", "meta.json"]


def _deltas(store: FingerprintStore) -> list[str]:
    return [name for name in store.files.names() if name.startswith("delta-")]


def test_a_small_change_is_not_folded_into_a_large_base_until_it_is_worth_it(
    make_store: MakeStore,
) -> None:
    """Rewriting the base costs time in proportion to the table: a run that changed a few rows
    of it leaves its deltas, which every load applies, until they hold a tenth of the base."""
    store = make_store()
    keys = [str(k) for k in range(1000)]
    store.record(pa.array(keys), pa.array(range(1000), pa.uint64()), "a0")
    store.compact(SyncMeta("cfg", 1, "a0", "mirror"))
    assert store.meta().base_rows == 1000 and _deltas(store) == []

    store.record(pa.array(["1", "2"]), pa.array([10, 20], pa.uint64()), "a1")
    store.record(pa.array(["3"]), None, "a1")  # deleted at the destination
    store.compact(SyncMeta("cfg", 2, "a1", "mirror"))
    later = make_store()  # another process, or host
    assert later.meta() == SyncMeta("cfg", 2, "a1", "mirror", base_rows=1000)
    assert len(_deltas(later)) == 2  # kept: 3 rows against a base of 1,000
    stored = _keys(later)
    assert (stored["1"], stored["2"], stored["0"]) == (10, 20, 0) and "3" not in stored
    assert len(stored) == 999

    later.record(pa.array(["1"]), pa.array([11], pa.uint64()), "a2")  # a later run wins
    later.compact(SyncMeta("cfg", 3, "a2", "mirror"))
    assert _keys(make_store())["1"] == 11

    many = make_store()
    many.record(pa.array(keys[500:600]), pa.array(range(5500, 5600), pa.uint64()), "a3")
    many.compact(SyncMeta("cfg", 4, "a3", "mirror"))  # a tenth of the base: folded
    assert _deltas(many) == [] and many.meta().base_rows == 999
    folded = _keys(make_store())
    assert (folded["1"], folded["2"], folded["500"], folded["600"]) == (11, 20, 5500, 600)
    assert "3" not in folded and len(folded) == 999


def test_many_small_deltas_are_folded_and_force_folds_any(make_store: MakeStore) -> None:
    store = make_store()
    store.record(
        pa.array([str(k) for k in range(10_000)]), pa.array(range(10_000), pa.uint64()), "a0"
    )
    store.compact(SyncMeta("cfg", 1, "a0", "mirror"))
    for run in range(COMPACT_FILES - 1):
        store.record(pa.array([str(run)]), pa.array([run + 1], pa.uint64()), f"b{run:03d}")
    store.compact(SyncMeta("cfg", 2, "b", "mirror"))
    assert len(_deltas(store)) == COMPACT_FILES - 1
    store.record(pa.array(["x"]), pa.array([1], pa.uint64()), "c")
    store.compact(SyncMeta("cfg", 3, "c", "mirror"))
    assert _deltas(store) == [] and store.meta().base_rows == 10_001

    store.record(pa.array(["y"]), pa.array([1], pa.uint64()), "d")
    store.compact(SyncMeta("cfg", 4, "d", "mirror"), force=True)
    assert _deltas(store) == [] and store.meta().base_rows == 10_002
    assert _keys(make_store())["30"] == 31
