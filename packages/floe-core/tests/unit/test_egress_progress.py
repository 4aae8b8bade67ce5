"""Progress: a bar on a terminal, throttled log lines elsewhere."""

from __future__ import annotations

import io
from typing import Any

from floe_core.egress.progress import BarProgress, LogProgress, RowsColumn, make_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Events:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})


def test_a_terminal_gets_a_bar_and_a_pipe_gets_log_lines() -> None:
    assert isinstance(make_progress(Terminal(), Events()), BarProgress)
    assert isinstance(make_progress(io.StringIO(), Events()), LogProgress)


def test_log_lines_are_throttled() -> None:
    events = Events()
    with LogProgress(events, interval=3600) as progress:
        progress.start("crm", 1000)
        for done in range(100, 1001, 100):
            progress.update(done)
        progress.finish()
    assert events.lines == [{"event": "egress.progress", "rows_done": 0, "rows_total": 1000}]

    every = Events()
    progress = LogProgress(every, interval=0)
    progress.start("crm", None)
    progress.update(10)
    assert every.lines[-1] == {"event": "egress.progress", "rows_done": 10, "rows_total": None}


def test_bar_shows_destination_and_rows() -> None:
    screen = Terminal()
    with BarProgress(screen) as progress:
        progress.start("customers_to_crm", 2000)
        progress.update(2000)
        progress.finish()
    assert "customers_to_crm" in screen.getvalue()
    assert "2,000/2,000 rows" in screen.getvalue()


def test_the_bar_spins_while_preparing_then_shows_rate_and_time_left() -> None:
    now = [100.0]
    screen = Terminal()
    with BarProgress(screen, clock=lambda: now[0]) as progress:
        progress.preparing("preparing customers_to_crm")
        task = progress._bar.tasks[-1]
        assert RowsColumn().render(task).plain == ""  # a spinner alone while preparing
        progress.start("customers_to_crm", 4000)
        for done in (1000, 2000):
            now[0] += 1.0
            progress.update(done)
        shown = RowsColumn().render(progress._bar.tasks[-1]).plain
        progress.finish()
    assert shown == "2,000/4,000 rows 1,000 rows/s ETA 0:02"
    assert "customers_to_crm" in screen.getvalue()


def test_a_run_that_never_started_leaves_no_spinner_behind() -> None:
    screen = Terminal()
    with BarProgress(screen) as progress:
        progress.preparing("reading the project")
    assert "reading the project" not in screen.getvalue().splitlines()[-1:]
