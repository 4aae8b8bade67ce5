"""Progress of a run: a rich progress bar on a terminal, plain log lines otherwise.

The bar appears as soon as the run starts, as a spinner while the project is compiled and
each destination prepared, then fills with the rows delivered, their rate and the time left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any, Protocol

from rich.progress import ProgressColumn, Task
from rich.text import Text

__all__ = ["BarProgress", "LogProgress", "Progress", "RowsColumn", "make_progress"]


class Progress(Protocol):
    """Told how far one destination's delivery has got."""

    def preparing(self, what: str) -> None:
        """Something is being done before rows flow (compiling, preparing a destination)."""

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

    def preparing(self, what: str) -> None:
        """Nothing to log: the run logs each destination it prepared."""

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
    """A rich progress bar (rows, rows/s, elapsed, time left) drawn on ``stream``."""

    def __init__(self, stream: IO[str], *, clock: Callable[[], float] | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            SpinnerColumn(finished_text="✓"),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            TaskProgressColumn(),
            RowsColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=False,
            get_time=clock,
        )
        self._task: Any = None

    def preparing(self, what: str) -> None:
        """Spin, saying what is being done, until rows flow."""
        description = f"{what}…"
        if self._task is None:
            self._task = self._bar.add_task(description, total=None)
        else:
            self._bar.update(self._task, description=description)

    def start(self, destination: str, total_rows: int | None) -> None:
        """The bar of ``destination`` (the spinner's, when it was preparing)."""
        if self._task is None:
            self._task = self._bar.add_task(destination, total=total_rows)
        else:
            self._bar.reset(self._task, total=total_rows, description=destination)

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
        if self._task is not None:  # still spinning: nothing was delivered, leave no line
            self._bar.remove_task(self._task)
            self._task = None
        self._bar.stop()


class RowsColumn(ProgressColumn):
    """Rows done of the total, rows per second and the time left (nothing while preparing)."""

    def render(self, task: Task) -> Text:
        if task.total is None and not task.completed:
            return Text("")
        total = f"{task.total:,.0f}" if task.total is not None else "?"
        text = Text(f"{task.completed:,.0f}/{total} rows", no_wrap=True, overflow="crop")
        speed = task.finished_speed or task.speed
        if speed:
            text.append(f" {speed:,.0f} rows/s", style="cyan")
        remaining = task.time_remaining
        if remaining is not None and not task.finished:
            minutes, seconds = divmod(int(remaining), 60)
            text.append(f" ETA {minutes}:{seconds:02d}", style="yellow")
        return text


def make_progress(
    stream: IO[str], logger: Any, *, enabled: bool = True
) -> BarProgress | LogProgress:
    """A bar when ``stream`` is a terminal (and ``enabled``), log lines otherwise."""
    if enabled and stream.isatty():
        return BarProgress(stream)
    return LogProgress(logger)
