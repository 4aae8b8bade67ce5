"""prefetch: items come in order, errors after them, and the producer stays a few items ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from floe_core.iceberg.prefetch import prefetch


class _Counting:
    """An iterator of 0..n-1 that records how far it got and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n = n
        self.fail_at = fail_at
        self.produced = 0
        self.closed = threading.Event()
        self.thread_names: set[str] = set()

    def __iter__(self) -> Iterator[int]:
        return self._items()

    def _items(self) -> Iterator[int]:
        try:
            for value in range(self.n):
                self.thread_names.add(threading.current_thread().name)
                if value == self.fail_at:
                    raise OSError(f"cannot read item {value}")
                self.produced += 1
                yield value
        finally:
            self.closed.set()


def _settle(source: _Counting, at_least: int) -> None:
    deadline = time.monotonic() + 5
    while source.produced < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # give a runaway producer the chance to go further


def test_yields_every_item_in_order_from_another_thread() -> None:
    source = _Counting(50)
    assert list(prefetch(iter(source), 3, name="reader")) == list(range(50))
    assert source.thread_names == {"reader"}
    assert source.closed.is_set()


def test_the_producer_stays_at_most_depth_items_ahead() -> None:
    source = _Counting(1000)
    items = prefetch(iter(source), 2)
    assert next(items) == 0
    _settle(source, 3)
    # one taken, two queued, one produced and waiting for room in the queue
    assert source.produced <= 4
    items.close()


def test_an_error_is_raised_after_the_items_before_it() -> None:
    source = _Counting(10, fail_at=4)
    got: list[int] = []
    with pytest.raises(OSError, match="cannot read item 4"):
        for value in prefetch(iter(source), 2):
            got.append(value)
    assert got == [0, 1, 2, 3]


def test_closing_early_stops_and_closes_the_producer() -> None:
    source = _Counting(1000)
    items = prefetch(iter(source), 2)
    assert [next(items), next(items)] == [0, 1]
    items.close()
    assert source.closed.wait(5)
    produced = source.produced
    time.sleep(0.05)
    assert source.produced == produced < 10


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next(prefetch(iter([1]), 0))
