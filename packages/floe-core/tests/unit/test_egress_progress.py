"""Progress: a bar on a terminal, throttled log lines elsewhere."""

from __future__ import annotations

import io
from typing import Any

from floe_core.egress.progress import BarProgress, LogProgress, make_progress


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
    assert "2000/2000" in screen.getvalue()
