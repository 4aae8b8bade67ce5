"""Progress of a run: a rich progress bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import time
from types import TracebackType
from typing import IO, Any, Protocol

__all__ = ["BarProgress", "LogProgress", "Progress", "make_progress"]


class Progress(Protocol):
    """Told how far one destination's delivery has got."""

    def start(self, destination: str, total_rows: int | None) -> None:
        """A destination starts; ``total_rows`` is None when unknown."""

    def update(self, rows_done: int) -> None:
        """``rows_done`` rows delivered so far for the current destination."""

    def finish(self, complete: bool = True) -> None:
        """The current destination is done; ``complete`` False when it stopped early."""

    def __enter__(self) -> Progress:
        """Start drawing (if anything is drawn)."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop drawing."""


class LogProgress:
    """Progress as ``egress.progress`` log events, at most one every ``interval`` seconds."""

    def __init__(self, logger: Any, interval: float = 5.0) -> None:
        self.logger = logger
        self.interval = interval
        self._destination = ""
        self._total: int | None = None
        self._last = 0.0
        self._rows = 0

    def start(self, destination: str, total_rows: int | None) -> None:
        """Log the start of a destination."""
        self._destination, self._total, self._rows = destination, total_rows, 0
        self._last = time.monotonic()
        self.logger.info("egress.progress", rows_done=0, rows_total=total_rows)

    def update(self, rows_done: int) -> None:
        """Log when ``interval`` has passed since the last line."""
        self._rows = rows_done
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.logger.info("egress.progress", rows_done=rows_done, rows_total=self._total)

    def finish(self, complete: bool = True) -> None:
        """Nothing to do: the run logs its own completion."""

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class BarProgress:
    """A rich progress bar (rows, rows/s, elapsed) drawn on ``stream``."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._task: Any = None

    def start(self, destination: str, total_rows: int | None) -> None:
        """Add a bar for ``destination``."""
        self._task = self._bar.add_task(destination, total=total_rows)

    def update(self, rows_done: int) -> None:
        """Move the bar."""
        if self._task is not None:
            self._bar.update(self._task, completed=rows_done)

    def finish(self, complete: bool = True) -> None:
        """Fill the bar when the destination went through; leave it where it stopped if not."""
        if self._task is not None:
            if complete:
                task = self._bar.tasks[-1]
                self._bar.update(self._task, total=task.completed)
            self._task = None

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()


def make_progress(
    stream: IO[str], logger: Any, *, enabled: bool = True
) -> BarProgress | LogProgress:
    """A bar when ``stream`` is a terminal (and ``enabled``), log lines otherwise."""
    if enabled and stream.isatty():
        return BarProgress(stream)
    return LogProgress(logger)
