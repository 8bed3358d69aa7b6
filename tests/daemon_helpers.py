"""The daemon as a real subprocess, for the tests that run ``seedfeed run``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

SEEDFEED = Path(sys.executable).parent / "seedfeed"


def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``predicate`` held; fails the test after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if predicate():
                return time.monotonic() - start
        except (OSError, AssertionError, ValueError):
            pass
        time.sleep(0.05)
    pytest.fail(f"condition not met within {timeout} s")


class Daemon:
    def __init__(self, config: Path, *options: str, log_name: str = "daemon.log") -> None:
        self.log = config.parent / log_name
        self.handle = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(SEEDFEED), "run", "-c", str(config), *options],
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                pytest.fail("daemon did not stop within 5 s of SIGTERM")
            finally:
                self.handle.close()
        self.handle.close()
        return self.process.returncode
