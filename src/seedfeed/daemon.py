"""``seedfeed run``: publish on a schedule, and within seconds of a seed changing.

APScheduler 3's ``BlockingScheduler`` runs every job on one worker thread, so one
publish never overlaps another (and the publish lock keeps a manual ``seedfeed publish``
out while one runs). Jobs: the global ``[schedule] cron`` publish; a ticker that
publishes when a source's own schedule makes it due; a publish right after the seeds
folder changes (watchdog, debounced; the watch re-arms when the folder is deleted and
created again, and on every reload). SIGTERM/SIGINT let the running publish finish and
exit 0; SIGHUP reloads the configuration, keeping the old one when the new one is bad.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .config import Config, ConfigError, load_config
from .errors import SeedfeedError, UsageError
from .pipeline import publish
from .schedule import cron_trigger, zone
from .seeds import SEED_SUFFIXES
from .store import StoreError, open_store

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler

log = logging.getLogger("seedfeed")
# APScheduler's own notices ("skipped: maximum number of running instances") are about
# queued one-off jobs that run anyway; errors still show.
logging.getLogger("apscheduler").setLevel(logging.ERROR)

DEBOUNCE_SECONDS = 0.5  # a burst of file events (an editor's save) gives one publish
TICK_SECONDS = 60  # how often sources with their own schedule are checked for being due
# One-off jobs (a seed changed, SIGHUP, start-up) wait behind a running publish on the one
# worker instead of being dropped as "missed" or as a second instance of their id.
ONE_OFF: dict[str, Any] = {
    "misfire_grace_time": None,
    "coalesce": True,
    "max_instances": 2,
    "replace_existing": True,
}


class ServeError(UsageError):
    """``--serve`` cannot listen where it was asked to."""


class Daemon:
    """The long-running process behind ``seedfeed run``."""

    def __init__(self, config_path: Path, *, serve_address: tuple[str, int] | None = None) -> None:
        self.config_path = config_path
        self.config: Config = load_config(config_path)
        self.serve_address = serve_address
        self.failures = 0  # publishes in a row that failed
        self._executor = ThreadPoolExecutor(1)
        self.scheduler = BlockingScheduler(
            executors={"default": self._executor},
            timezone=zone(self.config.schedule.timezone),
        )
        self._watcher: Any = None  # the watchdog Observer, while watching
        self._seeds_watch: Any = None  # its recursive watch on the seeds folder, if armed
        self._rearm = False  # the seeds folder was replaced: arm a new watch, then publish
        # The feeds and state folders inside the seeds folder: the watch ignores them.
        self._own_outputs = _outputs_inside(self.config.paths.seeds, self.config)
        self._debounce: threading.Timer | None = None
        self._stop_serving = threading.Event()
        self._stopping = False
        self._changes: set[str] = set()  # seeds changed since the last publish they caused
        self._changes_lock = threading.Lock()

    # --- jobs -----------------------------------------------------------------------

    def publish_job(self, reason: str) -> None:
        """One publish; a failure is logged and the daemon keeps going."""
        if self._stopping:  # queued before SIGTERM: not run, the daemon is stopping
            return
        started = time.monotonic()
        try:
            report = publish(self.config, lock_timeout=600)
        except SeedfeedError as exc:  # said in one line, as the CLI says it
            self.failures += 1
            log.error("publish (%s) failed (%d in a row): %s", reason, self.failures, exc)
            return
        except Exception as exc:  # a bug or the disk: keep the daemon alive, say so
            self.failures += 1
            log.error("publish (%s) failed (%d in a row): %r", reason, self.failures, exc)
            log.debug("traceback", exc_info=True)
            return
        self.failures = 0
        log.info(
            "published (%s): %d entries, written: %s, %d skipped, %.2f s",
            reason,
            sum(report.entries.values()),
            ", ".join(report.written) or "none",
            len(report.skipped),
            time.monotonic() - started,
        )

    def tick(self) -> None:
        """Publish when a source with its own schedule has become due."""
        sources = [s for s in _enabled_sources(self.config) if s.schedule]
        if not sources or self._stopping:
            return
        try:
            due = _due_on_own_schedule(self.config)
        except StoreError as exc:
            log.error("checking due sources failed: %s", exc)
            return
        if due:
            self.publish_job("a source is due")

    def reload(self) -> None:
        """Read the configuration again; a bad one is refused and the old one kept."""
        if self._stopping:
            return
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload refused, the previous configuration stays: %s", exc)
            return
        old = self.config
        if self.serve_address is not None and config.paths.feeds != old.paths.feeds:
            log.warning(
                "paths.feeds changed: --serve keeps serving %s until the daemon restarts",
                old.paths.feeds,
            )
        self.config = config
        self._schedule_jobs()
        # Always, not only when the paths changed: the seeds folder (or its parent) may
        # have been replaced since, and a SIGHUP is how a user says "look again".
        self._stop_watching()
        self._start_watching()
        log.info("configuration reloaded from %s", self.config_path)
        self.publish_job("configuration reloaded")

    # --- running --------------------------------------------------------------------

    def _schedule_jobs(self) -> None:
        options = self.config.schedule
        defaults: dict[str, Any] = {
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": options.misfire_grace,
            "replace_existing": True,
        }
        self.scheduler.add_job(
            self.publish_job,
            cron_trigger(options.cron, options.timezone, options.jitter),
            args=["schedule"],
            id="publish",
            **defaults,
        )
        self.scheduler.add_job(
            self.tick, IntervalTrigger(seconds=TICK_SECONDS), id="tick", **defaults
        )

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; returns the exit code."""
        with daemon_lock(self.config.paths.state):
            return self._run()

    def _run(self) -> int:
        server = self._start_server()  # first: a port in use is an error before anything runs
        self._schedule_jobs()
        # a first publish at start, so a restarted daemon is current at once
        self.scheduler.add_job(self.publish_job, args=["start"], id="start", **ONE_OFF)
        self._start_watching()
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        log.info(
            "running: cron %r (%s)%s",
            self.config.schedule.cron,
            self.config.schedule.timezone,
            ", watching seeds" if self.config.schedule.watch else "",
        )
        try:
            self.scheduler.start()  # returns after shutdown
        finally:
            self._stop_watching()
            # let a publish in progress finish: feeds and state stay consistent
            self._executor.shutdown(wait=True)
            self._stop_serving.set()
            if server is not None:
                server.join(timeout=5)
        log.info("stopped")
        return 0

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        if self._stopping:  # a second Ctrl-C: already stopping
            return
        self._stopping = True
        log.info("%s: stopping after the running publish", signal.Signals(signum).name)
        if self._debounce is not None:
            self._debounce.cancel()
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)

    def _on_reload(self, _signum: int, _frame: FrameType | None) -> None:
        # The reload runs as a job: on the one worker, never in the middle of a publish.
        self.scheduler.add_job(self.reload, id="reload", **ONE_OFF)

    def _start_server(self) -> threading.Thread | None:
        if self.serve_address is None:
            return None
        from .serve import make_server

        # Bound here, in the main thread: a port in use stops `seedfeed run` at once.
        host, port = self.serve_address
        try:
            server = make_server(self.config.paths.feeds, host, port)
        except OSError as exc:
            raise ServeError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None

        def serve_until_stopped() -> None:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._stop_serving.wait()
            server.shutdown()
            server.server_close()

        thread = threading.Thread(target=serve_until_stopped, name="seedfeed-serve", daemon=True)
        thread.start()
        return thread

    # --- watching the seeds folder ------------------------------------------------

    def _start_watching(self) -> None:
        """Watch the seeds folder, and its parent for the folder being deleted or replaced.

        inotify watches an inode, not a path: once the folder is deleted, its watch sees
        nothing ever again, even when a folder of the same name comes back. The parent's
        (non-recursive) watch notices the folder (re)appearing, so the recursive watch can
        be armed anew; it also picks up a seeds folder that does not exist at start.
        """
        if not self.config.schedule.watch:
            return
        from watchdog.observers import Observer

        seeds = self.config.paths.seeds
        observer = Observer()
        observer.daemon = True
        # Started before any watch is scheduled, so that a watch that cannot be set up
        # raises in schedule() below rather than in start().
        observer.start()
        self._watcher = observer
        parent = seeds.parent
        if parent != seeds and parent.is_dir():
            on_parent = _handler(lambda event: self._on_parent_event(seeds, event))
            try:
                observer.schedule(on_parent, str(parent), recursive=False)
            except OSError as exc:
                log.error("cannot watch %s: %s", parent, exc)
        else:
            log.warning(
                "%s does not exist: after creating it and the seeds folder, send SIGHUP", parent
            )
        self._arm_seeds_watch()

    def _arm_seeds_watch(self) -> None:
        """(Re)place the recursive watch on the seeds folder with one on the folder now there."""
        observer = self._watcher
        if observer is None or self._stopping:
            return
        if self._seeds_watch is not None:
            # watchdog hands back the existing (dead) watch for the same path: drop it first.
            with contextlib.suppress(KeyError):
                observer.unschedule(self._seeds_watch)
            self._seeds_watch = None
        seeds = self.config.paths.seeds
        if not seeds.is_dir():
            return  # the parent's watch arms it once the folder is created
        self._own_outputs = _outputs_inside(seeds, self.config)
        try:
            self._seeds_watch = observer.schedule(
                _handler(self._on_seed_event), str(seeds), recursive=True
            )
        except OSError as exc:  # gone again in between, or out of inotify watches
            log.error("cannot watch %s: %s", seeds, exc)

    def _stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.join(timeout=5)
            self._watcher = None
        self._seeds_watch = None
        self._rearm = False

    def _on_seed_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [os.fsdecode(p) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        if self._own_outputs:
            outputs = self._own_outputs
            paths = [p for p in paths if not f"{p}{os.sep}".startswith(outputs)]
            if not paths:
                return
        if event.is_directory:  # a folder of seeds moved, added or deleted
            if event.event_type in ("created", "deleted", "moved"):
                self._seeds_changed()
            return
        seeds = [p for p in paths if _is_seed_path(p)]
        if seeds:
            self._seeds_changed(seeds)

    def _on_parent_event(self, seeds: Path, event: FileSystemEvent) -> None:
        # Only the folder itself coming or going: the parent may be busy with other
        # things (feeds/ being written, the state store) that must not cause a publish.
        if event.event_type not in ("created", "deleted", "moved"):
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if any(Path(os.fsdecode(p)) == seeds for p in paths if p):
            self._rearm = True
            self._seeds_changed()

    def _seeds_changed(self, paths: list[str] | None = None) -> None:
        with self._changes_lock:
            self._changes.update(self._below_seeds(path) for path in paths or ())
        if self._debounce is not None:
            self._debounce.cancel()
        self._debounce = threading.Timer(DEBOUNCE_SECONDS, self._publish_soon)
        self._debounce.daemon = True
        self._debounce.start()

    def _publish_soon(self) -> None:
        try:
            self.scheduler.add_job(self._watched_change, id="watch", **ONE_OFF)
        except Exception:  # the scheduler is shutting down
            log.debug("seed change after shutdown ignored", exc_info=True)

    def _watched_change(self) -> None:
        # On the worker, like reload(): once running, the watch is re-armed only here.
        # The publish comes after the re-arm, so it also finds seeds written before the
        # new watch was in place.
        if self._rearm:
            self._rearm = False
            self._arm_seeds_watch()
        with self._changes_lock:
            changed, self._changes = sorted(self._changes), set()
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if changed[3:] else "")
        self.publish_job(f"seeds changed: {shown}" if changed else "seeds changed")

    def _below_seeds(self, path: str) -> str:
        try:
            return str(Path(path).relative_to(self.config.paths.seeds))
        except ValueError:
            return path


DAEMON_LOCK = "daemon.lock"


class DaemonRunning(SeedfeedError):
    """Another ``seedfeed run`` already runs for this project."""


def _outputs_inside(seeds: Path, config: Config) -> tuple[str, ...]:
    """The feeds and state folders that lie inside the seeds folder, as the watch of
    ``seeds`` names them, each ending in a separator. The publish writes them itself
    (feeds/index.html is no seed): their changes must not publish again. A seeds folder
    inside the feeds folder (feeds "public", seeds "public/clips") is watched whole."""
    root = os.path.join(os.path.realpath(seeds), "")
    inside = []
    for folder in (config.paths.feeds, config.paths.state):
        real = os.path.realpath(folder)
        if real.startswith(root):
            inside.append(os.path.join(seeds, real[len(root) :], ""))
    return tuple(inside)


@contextlib.contextmanager
def daemon_lock(state_dir: Path) -> Iterator[None]:
    """Hold the project's daemon lock while a daemon runs: one daemon per project, and
    ``seedfeed status`` can tell whether one runs."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / DAEMON_LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DaemonRunning(
                f"{state_dir}: a seedfeed run already runs for this project"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def daemon_running(state_dir: Path) -> bool:
    """Whether a ``seedfeed run`` holds the daemon lock of the project at ``state_dir``."""
    try:
        with open(state_dir / DAEMON_LOCK, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except BlockingIOError:
        return True
    except OSError:  # no state folder yet: no daemon
        return False


def _handler(callback: Callable[[FileSystemEvent], None]) -> FileSystemEventHandler:
    """A watchdog event handler that passes every event to ``callback``."""
    from watchdog.events import FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            callback(event)

    return Handler()


def _is_seed_path(path: str) -> bool:
    name = Path(path).name
    return not name.startswith(".") and Path(name).suffix.lower() in SEED_SUFFIXES


def _due_on_own_schedule(config: Config) -> bool:
    """Whether a source with a schedule of its own is due now (the store's due rule; a
    URL the store does not know yet is due). Reads only: what sources exist is the
    publish's to record, under the publish lock."""
    from .sources import SourceError, load_sources

    try:
        sources, _errors = load_sources(config.paths.sources)
    except SourceError:  # the publish says it
        return False
    scheduled = {(s.name, url) for s in sources if s.enabled and s.schedule for url in s.urls}
    if not scheduled:
        return False
    with open_store(config.paths.state) as store:
        due = {(state.source, state.origin) for state in store.due(time.time())}
        known = {(state.source, state.origin) for state in store.fetch_states()}
    return bool(scheduled & due or scheduled - known)


def _enabled_sources(config: Config) -> list[Any]:
    from .sources import SourceError, load_sources

    try:
        sources, _errors = load_sources(config.paths.sources)
    except SourceError:  # the publish says it
        return []
    return [s for s in sources if s.enabled]


def run_daemon(config_path: Path, serve_address: tuple[str, int] | None = None) -> int:
    """Entry point of ``seedfeed run``."""
    return Daemon(config_path, serve_address=serve_address).run()
