"""Running an iterator in a background thread, a bounded number of items ahead of its reader."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")

_ITEM, _END, _ERROR = range(3)


def prefetch(
    items: Iterator[T], depth: int, *, name: str = "floe-prefetch"
) -> Generator[T, None, None]:
    """Yield what ``items`` yields, produced in a thread of its own at most ``depth`` items ahead.

    The producer thread starts with the first ``next()``. An exception raised by ``items`` is
    raised here, after the items produced before it. Closing this generator early (``close()``,
    or dropping it) stops the producer and closes ``items`` in the producer's thread.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    handoff: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                handoff.put((_ITEM, item))
                if stop.is_set():
                    return
            handoff.put((_END, None))
        except BaseException as exc:  # handed to the reader, which raises it
            handoff.put((_ERROR, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == _ITEM:
                yield value  # type: ignore[misc]
            elif kind == _END:
                return
            else:
                assert isinstance(value, BaseException)
                raise value
    finally:
        stop.set()
        # A producer blocked on a full queue gets room, puts at most once more, sees the stop.
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.05)
        thread.join()
