"""Progress: a bar on a terminal, throttled log lines elsewhere."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from floe_core.egress.progress import BarProgress, LogProgress, RunColumn, make_progress


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


def test_log_lines_are_throttled_and_the_last_one_says_where_it_ended() -> None:
    now = [0.0]
    events = Events()
    with LogProgress(events, interval=5, clock=lambda: now[0]) as progress:
        progress.start("crm", 300_000)
        for done in range(10_000, 300_001, 10_000):  # 30 batches over 15 seconds
            now[0] += 0.5
            progress.update(done)
        progress.finish()

    counts = [(line["rows_done"], line["elapsed_seconds"]) for line in events.lines]
    assert counts == [(0, 0.0), (100_000, 5.0), (200_000, 10.0), (300_000, 15.0), (300_000, 15.0)]
    assert events.lines[-1] == {
        "event": "egress.progress",
        "rows_done": 300_000,
        "rows_total": 300_000,
        "rows_per_second": 20_000,
        "elapsed_seconds": 15.0,
        "final": True,
        "complete": True,
    }
    assert all(line["rows_total"] == 300_000 for line in events.lines)


def test_a_run_shorter_than_the_interval_logs_its_real_count_at_the_end() -> None:
    now = [0.0]
    events = Events()
    progress = LogProgress(events, interval=5, clock=lambda: now[0])
    progress.start("crm", None)
    now[0] = 2.0
    progress.update(10)
    progress.finish(complete=False)
    progress.finish()  # once only

    assert [(line["rows_done"], line.get("final")) for line in events.lines] == [
        (0, None),
        (10, True),
    ]
    assert (events.lines[-1]["complete"], events.lines[-1]["rows_per_second"]) == (False, 5)


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
        assert RunColumn().render(task).plain == "preparing customers_to_crm…"  # no numbers yet
        now[0] += 30.0  # preparing takes no part in the rate
        progress.start("customers_to_crm", 4000)
        for done in (1000, 2000):
            now[0] += 1.0
            progress.update(done)
        shown = RunColumn(lambda: 120).render(progress._bar.tasks[-1]).plain
        progress.finish()
    bar = "━" * 30
    assert (
        shown == f"customers_to_crm {bar} 50% 2,000/4,000 rows 1,000 rows/s ETA 0:02 elapsed 0:02"
    )
    assert "customers_to_crm" in screen.getvalue()


def _task_at(rows: int, total: int, seconds: float, name: str = "customers_to_sqlite") -> Any:
    """The bar's task after ``rows`` of ``total`` were confirmed over ``seconds``, in bursts."""
    now = [0.0]
    progress = BarProgress(Terminal(), clock=lambda: now[0])
    progress.start(name, total)
    for step in range(1, 11):  # one burst at the end: a windowed speed would be far higher
        now[0] = seconds * step / 10
        progress.update(rows if step == 10 else rows // 100)
    return progress._bar.tasks[-1]


def test_the_rate_is_the_rows_confirmed_over_the_time_since_the_start() -> None:
    task = _task_at(6_000, 10_000, 2.0)

    shown = RunColumn(lambda: 200).render(task).plain

    assert "6,000/10,000 rows 3,000 rows/s ETA 0:01 elapsed 0:02" in shown


@pytest.mark.parametrize(
    ("width", "facts"),
    [
        (120, "60% 6,000/10,000 rows 3,000 rows/s ETA 0:01 elapsed 0:02"),
        (78, "60% 6,000/10,000 rows 3,000 rows/s ETA 0:01"),
        (62, "6,000/10,000 rows 3,000 rows/s"),
        (55, "6,000/10,000 rows"),
        (40, "6,000/10,000 rows"),
    ],
)
def test_the_line_fits_the_width_dropping_the_least_useful_facts_first(
    width: int, facts: str
) -> None:
    shown = RunColumn(lambda: width).render(_task_at(6_000, 10_000, 2.0)).plain

    assert len(shown) <= width
    assert shown.endswith(" " + facts)
    assert shown.startswith("customers_to_sqlite" if width > 40 else "customers")


def test_an_80_column_terminal_shows_every_label_on_one_line() -> None:
    now = [0.0]
    screen = Terminal()
    with BarProgress(screen, clock=lambda: now[0], width=80) as progress:
        progress.start("customers_to_sqlite", 10_000)
        now[0] = 2.0
        progress.update(6_000)
        progress._bar.refresh()
        lines = [line for line in screen.getvalue().splitlines() if "rows" in line]
        progress.finish()
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", lines[-1]).replace("\r", "")
    assert len(drawn.rstrip()) <= 80, drawn
    assert "6,000/10,000 rows 3,000 rows/s ETA 0:01" in drawn


def test_a_run_that_never_started_leaves_no_spinner_behind() -> None:
    screen = Terminal()
    with BarProgress(screen) as progress:
        progress.preparing("reading the project")
    assert "reading the project" not in screen.getvalue().splitlines()[-1:]
