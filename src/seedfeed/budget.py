"""Time budgets for parsing untrusted input.

Bytes, expansion and depth are capped where each parser is called (seeds.py, extract.py,
normalize.py); this module caps time. ``time_limit`` raises ``BudgetExceeded`` in the
thread that runs a parse once it has taken longer than allowed, so a seed or page that
drives a parser into a near-endless loop is skipped with a warning instead of hanging
the run (or the daemon, whose publishes run on a worker thread, where signals cannot
reach).

How: one watchdog thread per process looks at the parses in progress a few times a
second and raises the exception into an overdue one with ``PyThreadState_SetAsyncExc``.
Entering and leaving a budget costs a lock and a dict update, cheap enough to wrap every
seed of a cold run. The exception arrives at the next Python instruction, so time spent
inside one C call (lxml, nh3) is not cut short: those are kept short by the size caps.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["PARSE_SECONDS", "BudgetExceeded", "time_limit"]

# A seed or page that takes longer than this to parse and normalize is skipped. A legit
# 2 MB Markdown seed takes about a second; an ordinary one, a tenth of a millisecond.
PARSE_SECONDS = 5.0
_CHECK_EVERY = 0.1  # seconds between the watchdog's looks


class BudgetExceeded(BaseException):
    """A parse ran out of time. A BaseException, like KeyboardInterrupt, so that the
    ``except Exception`` that keeps a bad page from ending a run does not swallow it."""


class _Watchdog:
    """The parses in progress in this process, by thread, and the thread that times them."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        # thread id -> [deadline (monotonic), fired]
        self.slots: dict[int, list[float | bool]] = {}
        thread = threading.Thread(target=self._watch, name="seedfeed-budget", daemon=True)
        thread.start()

    def _watch(self) -> None:
        while True:
            time.sleep(_CHECK_EVERY)
            now = time.monotonic()
            with self.lock:
                for tid, slot in self.slots.items():
                    if not slot[1] and now > slot[0]:
                        slot[1] = True
                        _raise_in(tid, BudgetExceeded)


_watchdog: _Watchdog | None = None
_start_lock = threading.Lock()


def _current() -> _Watchdog:
    global _watchdog
    watchdog = _watchdog
    # A forked child (a parse worker) has the parent's table but not its thread.
    if watchdog is None or watchdog.pid != os.getpid():
        with _start_lock:
            if _watchdog is None or _watchdog.pid != os.getpid():
                _watchdog = _Watchdog()
            watchdog = _watchdog
    return watchdog


def _raise_in(tid: int, exc: type[BaseException] | None) -> None:
    # None clears an exception that was set but not yet raised. (ctypes is imported the
    # first time a budget runs out: 4 ms that a run where every parse keeps to its
    # budget does not spend.)
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(tid), ctypes.py_object(exc) if exc is not None else ctypes.c_void_p()
    )


class time_limit:  # used as a function: ``with time_limit(5):``
    """Raise ``BudgetExceeded`` inside the block once it has run for ``seconds``.

    Nested blocks share the outermost budget. Leaving the block, however it is left,
    withdraws an exception that was set but not raised yet, so it never escapes later.
    (A class, not a generator: it wraps every seed of a cold run.)
    """

    __slots__ = ("_seconds", "_slot", "_tid", "_watchdog")

    def __init__(self, seconds: float = PARSE_SECONDS) -> None:
        self._seconds = seconds
        self._slot: list[float | bool] | None = None

    def __enter__(self) -> None:
        self._watchdog = watchdog = _current()
        self._tid = tid = threading.get_ident()
        with watchdog.lock:
            stale = watchdog.slots.get(tid)
            if stale is not None and (stale[1] or time.monotonic() > stale[0]):
                # Left behind by a block whose exit the exception interrupted: that block
                # is over, its exception withdrawn, and this one gets its own budget.
                _raise_in(tid, None)
                stale = None
            if stale is None:
                self._slot = watchdog.slots[tid] = [time.monotonic() + self._seconds, False]

    def __exit__(self, *exc: object) -> None:
        slot = self._slot
        if slot is None:  # nested: the outer block owns the budget
            return
        self._slot = None
        with self._watchdog.lock:
            if self._watchdog.slots.get(self._tid) is slot:
                del self._watchdog.slots[self._tid]
            if slot[1]:
                _raise_in(self._tid, None)
