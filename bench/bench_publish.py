"""Benchmark ``seedfeed publish`` on generated corpora, against a naive feedgen script.

For each size N (default 1,000, 10,000 and 100,000 seeds) a project is generated in a
temporary folder (not timed), then each measurement runs the real command line in a
child process and records its wall time and peak memory: the child's ``ru_maxrss`` from
``os.wait4`` (the largest single process) and, on Linux, the summed PSS of the child and
all its descendants (worker processes), sampled every 50 ms:

* cold: no state and no feeds (``.seedfeed/`` and ``feeds/`` deleted before each run);
* no change: a second run over the same seeds; it must not rewrite the feeds;
* one changed: the newest seed's text is edited (so its entry really changes), then a run;
* naive: ``bench/naive.py`` (every seed into feedgen, no normalization), cold.

Timings are the best of ``--repeat`` runs (default 3) below 100,000 seeds, one run at
100,000 and above. The page cache is warm: "cold" means no seedfeed state.

Usage: ``python bench/bench_publish.py [--sizes 1000,10000] [--repeat 3] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from make_corpus import make_corpus

BENCH_DIR = Path(__file__).resolve().parent
SEEDFEED = Path(sys.executable).parent / "seedfeed"
NAIVE = BENCH_DIR / "naive.py"
SINGLE_RUN_FROM = 100_000  # sizes at or above this are measured once

# The targets (issue "one owner per fact", the speed table), checked at the end.
VERSION_SECONDS = 0.15  # `seedfeed --version`
COLD_VS_NAIVE = {1_000: 1.3, 10_000: 1.0}  # cold publish, wall, times naive's
NO_CHANGE_100K_SECONDS = 1.0
TREE_100K_MB = 100.0  # peak summed PSS of the process and its workers


@dataclass(frozen=True)
class Run:
    """One child process: wall time in seconds and peak memory in MB.

    ``peak_mb`` is ``ru_maxrss``: the largest single process (the child or a reaped
    descendant). ``tree_mb`` is the largest sampled sum of PSS over the child and its
    descendants (0 where /proc is not available).
    """

    seconds: float
    peak_mb: float
    tree_mb: float = 0.0

    @property
    def memory_mb(self) -> float:
        """The memory the run needed: the larger of the two measures."""
        return max(self.peak_mb, self.tree_mb)


@dataclass
class SizeResult:
    """Every measurement for one corpus size."""

    n: int
    corpus_mb: float = 0.0
    cold: list[Run] = field(default_factory=list)
    no_change: list[Run] = field(default_factory=list)
    one_changed: list[Run] = field(default_factory=list)
    naive: list[Run] = field(default_factory=list)
    feeds_untouched: bool = True  # no-change runs left the feed files' mtimes alone
    feeds_rewritten: bool = True  # one-changed runs did write the feeds

    @staticmethod
    def best(runs: Sequence[Run]) -> float:
        """The fastest wall time of ``runs``."""
        return min(r.seconds for r in runs)

    @property
    def seedfeed_runs(self) -> list[Run]:
        """Every seedfeed run at this size."""
        return [*self.cold, *self.no_change, *self.one_changed]


class TreeSampler(threading.Thread):
    """Samples the summed PSS of a process and its descendants until stopped (Linux)."""

    INTERVAL = 0.05
    available = os.path.exists("/proc/self/smaps_rollup")

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_kb = 0
        self._done = threading.Event()

    def run(self) -> None:
        """Sample until ``stop``."""
        while not self._done.is_set():
            total = sum(_pss_kb(pid) for pid in _tree(self.root))
            self.peak_kb = max(self.peak_kb, total)
            self._done.wait(self.INTERVAL)

    def stop(self) -> float:
        """Stop sampling; returns the peak in MB."""
        self._done.set()
        self.join()
        return self.peak_kb * 1024 / 1e6


def _tree(root: int) -> list[int]:
    """``root`` and every live descendant, from the parent ids in /proc/PID/stat."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, ()))
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_child(argv: Sequence[str | Path]) -> Run:
    """Run ``argv``, wait for it and return its wall time and its own peak RSS.

    ``os.wait4`` returns the resource usage of that one child, so ``ru_maxrss`` is its
    peak (KB on Linux), not the maximum over every child this process has had.
    """
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=errors, stderr=errors
        )
        sampler = TreeSampler(proc.pid) if TreeSampler.available else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        tree_mb = sampler.stop() if sampler else 0.0
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        if proc.returncode != 0:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{argv} exited {proc.returncode}:\n{tail}")
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KB on Linux
    return Run(seconds, usage.ru_maxrss * scale / 1e6, tree_mb)


def publish_argv(project: Path) -> list[str | Path]:
    """The command line of a quiet publish of ``project``."""
    return [SEEDFEED, "-q", "publish", "-c", project / "config.toml"]


def feed_mtimes(project: Path) -> dict[str, int]:
    """The mtime (ns) of every file in ``project/feeds``."""
    return {p.name: p.stat().st_mtime_ns for p in sorted((project / "feeds").iterdir())}


def reset_state(project: Path) -> None:
    """Forget every earlier run: delete the state folder and the feeds."""
    shutil.rmtree(project / ".seedfeed", ignore_errors=True)
    shutil.rmtree(project / "feeds", ignore_errors=True)


def edit_seed(path: Path, original: str, k: int) -> None:
    """Give ``path`` a new paragraph (number ``k``) before its source line."""
    head, sep, tail = original.rpartition("\nContent retrieved from:")
    if not sep:
        raise ValueError(f"{path}: no source line")
    update = f"\nUpdate {k}: the story was revised for benchmark run {k}, adding details.\n"
    path.write_text(head + update + sep + tail, encoding="utf-8")


def bench_size(n: int, workdir: Path, repeat: int) -> SizeResult:
    """Generate a corpus of ``n`` seeds in ``workdir`` and take every measurement."""
    project = workdir / f"corpus-{n}"
    t0 = time.perf_counter()
    paths = make_corpus(project, n)
    result = SizeResult(n, corpus_mb=sum(p.stat().st_size for p in paths) / 1e6)
    _say(f"N={n:,}: corpus {result.corpus_mb:.1f} MB generated in {time.perf_counter() - t0:.1f} s")
    runs = 1 if n >= SINGLE_RUN_FROM else repeat

    for _ in range(runs):
        reset_state(project)
        result.cold.append(run_child(publish_argv(project)))
    _say(f"  cold       {_runs(result.cold)}")

    for _ in range(runs):
        before = feed_mtimes(project)
        result.no_change.append(run_child(publish_argv(project)))
        result.feeds_untouched &= feed_mtimes(project) == before
    _say(f"  no change  {_runs(result.no_change)}")

    newest = max(paths, key=lambda p: p.stat().st_mtime_ns)  # its entry is in the feed
    original = newest.read_text(encoding="utf-8")
    for k in range(runs):
        before = feed_mtimes(project)
        edit_seed(newest, original, k)
        result.one_changed.append(run_child(publish_argv(project)))
        result.feeds_rewritten &= feed_mtimes(project) != before
    _say(f"  one change {_runs(result.one_changed)}")

    out = workdir / f"naive-{n}.atom.xml"
    for _ in range(runs):
        out.unlink(missing_ok=True)
        result.naive.append(run_child([sys.executable, NAIVE, project, "-o", out]))
    _say(f"  naive      {_runs(result.naive)}")
    return result


def _runs(runs: Sequence[Run]) -> str:
    return ", ".join(f"{r.seconds:.3f} s / {r.peak_mb:.0f} / {r.tree_mb:.0f} MB" for r in runs)


def code_version() -> str:
    """Which seedfeed is measured: the git commit, and a hash of the package's sources."""
    spec = importlib.util.find_spec("seedfeed")
    if spec is None or not spec.submodule_search_locations:
        return "seedfeed not found"
    package = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.blake2b(digest_size=4)
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    try:
        git = ["git", "-C", str(package)]
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=True
        ).stdout.strip()
        commit += "+uncommitted" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "no git"
    return f"{commit}, sources {digest.hexdigest()}"


def _load() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def report(results: Sequence[SizeResult], startup: Run, version: str, load: str) -> str:
    """The results table and the targets, as text."""
    header = (
        f"{'seeds':>8} {'corpus':>8} {'cold s':>8} {'no-chg s':>9} {'1-chg s':>8}"
        f" {'naive s':>8} {'cold/nv':>8} {'rss MB':>7} {'tree MB':>8} {'naive MB':>9}"
        "  feeds kept/rewritten"
    )
    lines = [
        f"seedfeed publish benchmark: seedfeed {version}; python {sys.version.split()[0]},"
        f" {os.cpu_count()} CPUs; load average {load} (other work on the machine skews times)",
        "best of runs; wall seconds including interpreter start"
        f" (`seedfeed --version` alone: {startup.seconds:.3f} s)",
        "rss = max ru_maxrss of one seedfeed process; tree = max sampled PSS sum of the"
        " process and its workers; naive = naive's rss",
        "feeds kept = no-change runs left the feed files' mtimes alone;"
        " rewritten = one-changed runs wrote them",
        header,
        "-" * len(header),
    ]
    for r in results:
        cold, naive = SizeResult.best(r.cold), SizeResult.best(r.naive)
        lines.append(
            f"{r.n:>8,} {r.corpus_mb:>6.1f}MB {cold:>8.3f} {SizeResult.best(r.no_change):>9.3f}"
            f" {SizeResult.best(r.one_changed):>8.3f} {naive:>8.3f} {cold / naive:>7.2f}x"
            f" {max(x.peak_mb for x in r.seedfeed_runs):>7.0f}"
            f" {max(x.tree_mb for x in r.seedfeed_runs):>8.0f}"
            f" {max(x.memory_mb for x in r.naive):>9.0f}"
            f"  {_yes(r.feeds_untouched)} / {_yes(r.feeds_rewritten)}"
        )
    lines += ["", "targets:"]
    lines.append(
        _target(
            f"`seedfeed --version` <= {VERSION_SECONDS:g} s",
            startup.seconds <= VERSION_SECONDS,
            f"{startup.seconds:.3f} s",
        )
    )
    by_n = {r.n: r for r in results}
    for n, times in COLD_VS_NAIVE.items():
        if r := by_n.get(n):
            cold, naive = SizeResult.best(r.cold), SizeResult.best(r.naive)
            lines.append(
                _target(
                    f"cold {n:,} <= {times:g}x naive",
                    cold <= times * naive,
                    f"{cold / naive:.2f}x ({cold:.3f} s vs {naive:.3f} s)",
                )
            )
        else:
            lines.append(f"  (cold {n:,} not measured)")
    if r100 := by_n.get(100_000):
        no_change = SizeResult.best(r100.no_change)
        tree = max(x.tree_mb for x in r100.seedfeed_runs)
        rss = max(x.peak_mb for x in r100.seedfeed_runs)
        lines += [
            _target(
                f"no-change 100,000 <= {NO_CHANGE_100K_SECONDS:g} s",
                no_change <= NO_CHANGE_100K_SECONDS,
                f"{no_change:.3f} s",
            ),
            _target(
                f"peak memory 100,000, whole process tree <= {TREE_100K_MB:g} MB",
                0 < tree <= TREE_100K_MB,
                f"{tree:.0f} MB PSS (largest single process: {rss:.0f} MB RSS)",
            ),
        ]
    else:
        lines.append("  (100,000 not measured: no-change and memory targets not checked)")
    lines.append(
        _target(
            "no-change runs leave the feed files' mtimes alone",
            all(r.feeds_untouched for r in results),
            ", ".join(f"{r.n:,}: {_yes(r.feeds_untouched)}" for r in results),
        )
    )
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _target(name: str, ok: bool, value: str) -> str:
    return f"  [{'PASS' if ok else 'FAIL'}] {name}: {value}"


def main(argv: list[str] | None = None) -> None:
    """Command line: ``bench_publish.py [--sizes 1000,10000] [--repeat 3] [--workdir DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated seed counts (default 1000,10000,100000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (default 3)")
    parser.add_argument(
        "--workdir", type=Path, help="keep the corpora here instead of a temporary folder"
    )
    args = parser.parse_args(argv)
    # As `make publish` does: an editable install leaves src/ uncompiled, and with
    # PYTHONDONTWRITEBYTECODE every measured run would compile seedfeed again.
    compileall.compile_dir(BENCH_DIR.parent / "src", quiet=1)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if not SEEDFEED.exists():
        parser.error(f"{SEEDFEED} not found: install seedfeed in this interpreter's venv")

    version = code_version()
    load = _load()
    startup = min((run_child([SEEDFEED, "--version"]) for _ in range(3)), key=lambda r: r.seconds)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results = [bench_size(n, args.workdir, args.repeat) for n in sizes]
    else:
        with tempfile.TemporaryDirectory(prefix="seedfeed-bench-") as tmp:
            results = [bench_size(n, Path(tmp), args.repeat) for n in sizes]
    if code_version() != version:
        version += f" -> {code_version()} (SOURCES CHANGED DURING THE RUN)"
    print(report(results, startup, version, f"{load} -> {_load()}"))


if __name__ == "__main__":
    main()
