"""Run a command as a fresh process and measure it from outside: wall time and peak memory."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcessRun", "run_measured"]


@dataclass
class ProcessRun:
    """What one process did: exit code, output, wall time, peak resident memory."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float

    def tail(self, lines: int = 8) -> str:
        """The last lines of its output, on one line, for an error message."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()[-lines:]
        return " | ".join(text)


def run_measured(cmd: list[str], cwd: Path, env: Mapping[str, str], timeout: float) -> ProcessRun:
    """Start ``cmd``, wait for it (killing it after ``timeout``), and measure it."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sampler = _PeakRss(proc.pid)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    finally:
        sampler.stop()
    seconds = time.perf_counter() - start
    return ProcessRun(proc.returncode, out, err, seconds, sampler.peak / 2**20)


class _PeakRss(threading.Thread):
    """Peak resident memory of a process (its kernel high-water mark, VmHWM) plus the resident
    memory of its children, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._halt = threading.Event()

    def _hwm(self) -> int:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def run(self) -> None:
        import psutil

        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._halt.is_set():
            try:
                total = max(self._hwm(), proc.memory_info().rss)
                for child in proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        total += child.memory_info().rss
            except psutil.Error:
                return
            self.peak = max(self.peak, total)
            self._halt.wait(0.01)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)
