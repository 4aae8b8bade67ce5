"""Progress of a run: a rich progress bar on a terminal, plain log lines otherwise.

The bar appears as soon as the run starts, as a spinner while the project is compiled and
each destination prepared, then fills with the rows delivered, their rate and the time left,
each labelled, on one line that fits the terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any, Protocol

from rich.progress import ProgressColumn, Task
from rich.text import Text

__all__ = ["BarProgress", "LogProgress", "Progress", "RunColumn", "make_progress"]


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
    """Progress as ``egress.progress`` log events: one as a destination starts, then one
    every ``interval`` seconds while rows flow, and a last one (``final``) when it is done,
    each with the rows done, the total, the rate and the time since the start.

    Args:
        logger: Where the events go (the egress logger).
        interval: Seconds between two events while rows flow.
        clock: Monotonic seconds (a test passes a fake).
    """

    def __init__(
        self,
        logger: Any,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._destination = ""
        self._total: int | None = None
        self._started = 0.0
        self._last = 0.0
        self._rows = 0
        self._running = False

    def preparing(self, what: str) -> None:
        """Nothing to log: the run logs each destination it prepared."""

    def start(self, destination: str, total_rows: int | None) -> None:
        """Log the start of a destination."""
        self._destination, self._total, self._rows = destination, total_rows, 0
        self._started = self._last = self._clock()
        self._running = True
        self._log(self._started)

    def update(self, rows_done: int) -> None:
        """Log when ``interval`` has passed since the last line."""
        self._rows = rows_done
        now = self._clock()
        if now - self._last >= self.interval:
            self._last = now
            self._log(now)

    def finish(self, complete: bool = True) -> None:
        """Log where the destination ended (``complete`` False: it stopped early)."""
        if self._running:
            self._running = False
            self._log(self._clock(), final=True, complete=complete)

    def _log(self, now: float, **final: bool) -> None:
        elapsed = now - self._started
        self.logger.info(
            "egress.progress",
            rows_done=self._rows,
            rows_total=self._total,
            rows_per_second=round(self._rows / elapsed) if elapsed > 0 else 0,
            elapsed_seconds=round(elapsed, 1),
            **final,
        )

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class BarProgress:
    """A rich progress bar drawn on ``stream``: one line per destination (see
    :class:`RunColumn`), fitted to the terminal's width."""

    def __init__(
        self,
        stream: IO[str],
        *,
        clock: Callable[[], float] | None = None,
        width: int | None = None,
    ) -> None:
        from rich.console import Console
        from rich.progress import Progress as RichProgress
        from rich.progress import SpinnerColumn

        console = Console(file=stream, width=width)
        self._bar = RichProgress(
            SpinnerColumn(finished_text="✓"),
            # the spinner and the space after it take two columns
            RunColumn(lambda: console.width - 2),
            console=console,
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
        """The bar of ``destination`` (the spinner's, when it was preparing); its clock, and
        so its rate, starts now."""
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


class RunColumn(ProgressColumn):
    """One destination's line: its name, a bar, then what fits of ``60%``, ``6,000/10,000
    rows``, ``3,000 rows/s``, ``ETA 0:01`` and ``elapsed 0:02``.

    The rate is the rows the destination confirmed over the time since its start, what the
    receipt reports, not a recent burst. When the line does not fit ``width()`` columns, the
    bar narrows (to 10), then ``elapsed``, the percentage, the ETA and the rate go, in that
    order, then the bar, then the name is shortened; the rows count always stays.
    """

    def __init__(self, width: Callable[[], int] = lambda: 80) -> None:
        super().__init__()
        self._width = width

    def render(self, task: Task) -> Text:
        width = max(self._width(), 20)
        if task.total is None and not task.completed:  # preparing: what, beside the spinner
            return Text(task.description, no_wrap=True, overflow="ellipsis", end="")
        facts = _facts(task)
        name = task.description
        for kept in _DROPS:
            shown = [text for key, text in facts if key in kept]
            stats = " ".join(shown)
            room = width - len(name) - len(stats) - 2
            if room >= _MIN_BAR:
                return _line(name, _bar(task, min(room, _MAX_BAR)), stats)
        stats = " ".join(text for key, text in facts if key == "rows")
        room = width - len(stats) - 1
        if len(name) > room:
            name = name[: max(room - 1, 1)] + "…"
        return _line(name, None, stats)


#: The bar's width: at most, and the least worth drawing.
_MAX_BAR, _MIN_BAR = 30, 10

#: The facts kept, widest line first: each next one drops the least useful fact left.
_DROPS = (
    {"percent", "rows", "rate", "eta", "elapsed"},
    {"percent", "rows", "rate", "eta"},
    {"rows", "rate", "eta"},
    {"rows", "rate"},
    {"rows"},
)


def _facts(task: Task) -> list[tuple[str, str]]:
    """What can be said of ``task``, in the order shown."""
    done = int(task.completed)
    elapsed = task.finished_time if task.finished else task.elapsed
    rate = done / elapsed if done and elapsed else None
    facts = []
    if task.total is not None:
        percent = 100 * done / task.total if task.total else 100
        facts.append(("percent", f"{percent:.0f}%"))
        facts.append(("rows", f"{done:,}/{task.total:,.0f} rows"))
    else:
        facts.append(("rows", f"{done:,} rows"))
    if rate is not None:
        facts.append(("rate", f"{rate:,.0f} rows/s"))
        if task.total is not None and not task.finished and task.total > done:
            facts.append(("eta", f"ETA {_clock((task.total - done) / rate)}"))
    if elapsed:
        facts.append(("elapsed", f"elapsed {_clock(elapsed)}"))
    return facts


def _clock(seconds: float) -> str:
    """``1:05``, or ``1:02:05`` from an hour on."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _bar(task: Task, width: int) -> Text:
    done = task.completed / task.total if task.total else (1.0 if task.finished else 0.0)
    filled = min(width, round(width * done))
    style = "bar.finished" if task.finished else "bar.complete"
    return Text.assemble(("━" * filled, style), ("━" * (width - filled), "bar.back"))


def _line(name: str, bar: Text | None, stats: str) -> Text:
    line = Text(name, style="bold", no_wrap=True, overflow="crop", end="")
    if bar is not None:
        line.append(" ")
        line.append_text(bar)
    line.append(" ")
    line.append(stats, style="cyan")
    return line


def make_progress(
    stream: IO[str], logger: Any, *, enabled: bool = True
) -> BarProgress | LogProgress:
    """A bar when ``stream`` is a terminal (and ``enabled``), log lines otherwise."""
    if enabled and stream.isatty():
        return BarProgress(stream)
    return LogProgress(logger)
