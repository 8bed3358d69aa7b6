"""Write the outputs of one publish into the feeds folder: all new, or all as they were.

Every changed file is first written to a temporary file beside its target and fsynced;
only when all of them are on disk are they renamed over their targets, one after the
other. A failure while writing (a full disk) removes the temporary files and changes
nothing; a failure while renaming puts back the files already replaced (kept as hard
links until the end). Readers and crashes see whole files, and between publishes, one
publish's set of files.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import SeedfeedError

__all__ = ["TEMP_SUFFIX", "WriteError", "remove_stale_temp_files", "write_all"]

TEMP_SUFFIX = ".tmp"


class WriteError(SeedfeedError):
    """The outputs could not be written; the message says which file, why, and whether
    the previous files are all still in place."""


def write_all(folder: Path, outputs: Mapping[str, bytes]) -> list[str]:
    """Replace the files of ``folder`` named in ``outputs`` whose bytes differ, all or none.

    Returns the names written, in the order of ``outputs``. Raises ``WriteError``.
    """
    changed = {name: data for name, data in outputs.items() if not _holds(folder / name, data)}
    if not changed:
        return []
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{folder}: cannot create the folder: {_reason(exc)}") from None
    temps: dict[str, str] = {}
    try:
        for name, data in changed.items():
            temps[name] = _write_temp(folder, name, data)
    except OSError as exc:
        _remove(temps.values())
        raise WriteError(
            f"{folder / name}: cannot write: {_reason(exc)}; no feed file was changed"
        ) from None
    except BaseException:
        _remove(temps.values())
        raise
    _switch(folder, temps)
    for parent in sorted({(folder / name).parent for name in changed}):
        _fsync_dir(parent)
    return list(changed)


def remove_stale_temp_files(folder: Path) -> None:
    """Delete temporary files that a killed run left behind (in the folder and its
    sub-folders). Called under the publish lock, so no other run is writing them."""
    try:
        leftovers = [*folder.glob(f".*{TEMP_SUFFIX}"), *folder.glob(f"*/.*{TEMP_SUFFIX}")]
    except OSError:
        return
    for path in leftovers:
        with contextlib.suppress(OSError):
            path.unlink()


def remove_obsolete(folder: Path, outputs: Mapping[str, bytes], subfolders: Iterable[str]) -> None:
    """Delete the files of ``subfolders`` that ``outputs`` no longer names (the feed of a
    tag no seed has any more), after the new files are in place."""
    for sub in subfolders:
        try:
            present = [path for path in (folder / sub).iterdir() if path.is_file()]
        except OSError:
            continue
        for path in present:
            if f"{sub}/{path.name}" not in outputs and not path.name.startswith("."):
                with contextlib.suppress(OSError):
                    path.unlink()


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _write_temp(folder: Path, name: str, data: bytes) -> str:
    """``data`` in a new temporary file beside ``name`` (which may be in a sub-folder,
    ``tag/x.atom.xml``), fsynced; returns its path."""
    # Imported when a file is written, not by every publish: a run that changes nothing
    # writes nothing, and tempfile brings shutil, random, bz2 and lzma (5 ms).
    import tempfile

    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _switch(folder: Path, temps: dict[str, str]) -> None:
    """Rename every temporary file over its target; on a failure, undo the renames."""
    import secrets  # (as tempfile above: only when files are written)

    backups: dict[str, str | None] = {}  # target -> hard link to its previous version
    done: list[str] = []
    name = ""
    try:
        for name, tmp in temps.items():
            target = str(folder / name)
            if os.path.lexists(target):
                backups[target] = None  # it existed: without a link, it cannot be put back
                parent, _, base = target.rpartition("/")
                backup = f"{parent}/.{base}.{secrets.token_hex(6)}.old{TEMP_SUFFIX}"
                with contextlib.suppress(OSError):
                    os.link(target, backup)
                    backups[target] = backup
            os.replace(tmp, target)
            done.append(target)
    except OSError as exc:
        _remove(t for n, t in temps.items() if str(folder / n) not in done)
        lost = _undo(done, backups)
        state = (
            "no feed file was changed"
            if not lost
            else f"these files are new and the others as they were: {', '.join(lost)}"
        )
        raise WriteError(f"{folder / name}: cannot replace: {_reason(exc)}; {state}") from None
    finally:
        _remove(b for b in backups.values() if b)


def _undo(done: list[str], backups: dict[str, str | None]) -> list[str]:
    """Put back the previous version of each replaced file; returns the names of those
    that could not be (their new version stays)."""
    lost = []
    for target in reversed(done):
        try:
            if target not in backups:
                os.unlink(target)  # it did not exist before this publish
            elif (backup := backups[target]) is not None:
                os.replace(backup, target)
                backups[target] = None
            else:
                raise OSError("no copy of the previous version")
        except OSError:
            lost.append(os.path.basename(target))
    return lost


def _remove(paths: Iterable[str]) -> None:
    for path in list(paths):
        with contextlib.suppress(OSError):
            os.unlink(path)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on folders; the renames are still atomic
    finally:
        os.close(fd)
