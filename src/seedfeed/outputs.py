"""Where the feeds go: a folder (the default) or S3-compatible object storage, behind one
interface, ``Outputs``, each with writer.py's rule: a set of files is written all or
none.

Both also take a *generation* (a number that grows with what the files are made of) and
refuse to replace a file that a newer generation wrote: a cluster worker that stalled
while rendering (its job was taken over and done again) cannot put an older feed back
over a newer one. ``StaleOutput`` says so; nothing is written.

- ``FolderOutputs``: ``writer.write_all`` (temporary files, fsync, renames), under an
  exclusive ``flock`` on ``.seedfeed-outputs.lock`` in the folder (workers on several
  machines sharing the folder over NFS take turns), with each file's generation in
  ``.seedfeed-generations``.
- ``BucketOutputs`` (``[paths] feeds = "s3://bucket/prefix"``, through boto3; the
  endpoint, region and keys come from boto3's usual settings, e.g. ``AWS_ENDPOINT_URL``
  for MinIO, R2 or Ceph): each file's previous version is copied aside, then each
  changed file is put with ``If-Match`` the version checked (``If-None-Match: *`` for a
  new one), so a concurrent writer makes the put fail rather than be overwritten; a
  failure puts the previous versions back. The generation is object metadata.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from .errors import SeedfeedError
from .formats import media_type
from .writer import WriteError, remove_obsolete, remove_stale_temp_files, write_all

__all__ = [
    "BucketOutputs",
    "FolderOutputs",
    "Outputs",
    "StaleOutput",
    "WriteError",
    "bucket_url",
    "outputs_for",
]

LOCK_NAME = ".seedfeed-outputs.lock"
GENERATIONS_NAME = ".seedfeed-generations"  # no served suffix: `seedfeed serve` skips it
GENERATION_META = "seedfeed-generation"  # S3 user metadata (x-amz-meta-seedfeed-generation)
_BACKUPS = ".seedfeed-backup/"  # below the prefix: previous versions during a switch


class StaleOutput(SeedfeedError):
    """A newer generation of these files is already written; this one was dropped."""


class Outputs(Protocol):
    """Where a publish's files go."""

    def write(self, files: Mapping[str, bytes], generation: int | None = None) -> list[str]:
        """Replace the files whose bytes differ, all or none; returns the names written.
        With ``generation``, raises ``StaleOutput`` (writing nothing) when one of the
        files was written by a newer generation. Raises ``WriteError``."""
        ...

    def missing(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that are not there."""
        ...

    def remove_obsolete(self, keep: Iterable[str], subfolders: Iterable[str]) -> None:
        """Delete the files of ``subfolders`` that ``keep`` does not name."""
        ...

    def describe(self) -> str:
        """Where the files go, for messages."""
        ...


def bucket_url(feeds: Path) -> str | None:
    """The ``s3://bucket/prefix`` URL that ``[paths] feeds`` named, else None.

    config.py resolves every path against the project folder, so ``s3://bucket/prefix``
    arrives as ``<project>/s3:/bucket/prefix``; the part from ``s3:`` on is the URL.
    """
    parts = feeds.parts
    if "s3:" not in parts:
        return None
    rest = parts[parts.index("s3:") + 1 :]
    return "s3://" + "/".join(rest) if rest else None


def outputs_for(feeds: Path) -> Outputs:
    """The outputs that ``[paths] feeds`` names: a bucket for ``s3://…``, else a folder."""
    url = bucket_url(feeds)
    return BucketOutputs(url) if url else FolderOutputs(feeds)


# --- a folder ---------------------------------------------------------------------------


class FolderOutputs:
    """Files in a folder (``writer.write_all``), safe for writers on several machines."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def describe(self) -> str:
        """The folder."""
        return str(self.folder)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / LOCK_NAME, "a")  # noqa: SIM115  # held below
        except OSError as exc:
            raise WriteError(f"{self.folder}: cannot lock: {exc.strerror or exc}") from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _generations(self) -> dict[str, int]:
        try:
            raw = json.loads((self.folder / GENERATIONS_NAME).read_text(encoding="utf-8"))
            return {str(name): int(value) for name, value in raw.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def _save_generations(self, generations: dict[str, int]) -> None:
        data = json.dumps(generations, sort_keys=True).encode()
        fd, tmp = tempfile.mkstemp(prefix=f"{GENERATIONS_NAME}.", suffix=".tmp", dir=self.folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.folder / GENERATIONS_NAME)

    def write(self, files: Mapping[str, bytes], generation: int | None = None) -> list[str]:
        """``writer.write_all`` under the folder's lock, refusing a stale generation."""
        with self._locked():
            # No other writer runs now: what a killed one left behind can go.
            remove_stale_temp_files(self.folder)
            known = self._generations()
            if generation is not None:
                newer = [name for name in files if known.get(name, 0) > generation]
                if newer:
                    raise StaleOutput(
                        f"{self.folder / newer[0]}: a newer render (generation"
                        f" {known[newer[0]]}) is there; this one ({generation}) was dropped"
                    )
            written = write_all(self.folder, files)
            if generation is not None:
                changed = {name: generation for name in files if known.get(name) != generation}
                if changed:
                    try:
                        self._save_generations({**known, **changed})
                    except OSError as exc:  # the feeds are right; only the guard is stale
                        raise WriteError(
                            f"{self.folder / GENERATIONS_NAME}: cannot write:"
                            f" {exc.strerror or exc}; the feeds were written"
                        ) from None
            return written

    def missing(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that are not files in the folder."""
        return [name for name in names if not (self.folder / name).is_file()]

    def remove_obsolete(self, keep: Iterable[str], subfolders: Iterable[str]) -> None:
        """``writer.remove_obsolete`` under the folder's lock."""
        kept = dict.fromkeys(keep, b"")
        with self._locked():
            remove_obsolete(self.folder, kept, subfolders)


# --- a bucket ---------------------------------------------------------------------------


class BucketOutputs:
    """Objects below ``s3://bucket/prefix`` on S3 or an S3-compatible store."""

    def __init__(self, url: str, *, client: Any = None) -> None:
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not url.startswith("s3://") or not bucket:
            raise WriteError(f"{url}: not an s3://bucket/prefix URL")
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if client is None:
            import boto3  # lazily: only a cluster writing to a bucket needs it

            client = boto3.client("s3")
        self._s3 = client

    def describe(self) -> str:
        """The bucket URL."""
        return self.url

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _head(self, name: str) -> tuple[str, int] | None:
        """The ETag and generation of an object, or None when there is none."""
        from botocore.exceptions import ClientError

        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise WriteError(f"{self.url}/{name}: cannot read: {_reason(exc)}") from None
        try:
            generation = int(head.get("Metadata", {}).get(GENERATION_META, "0"))
        except ValueError:
            generation = 0
        return str(head["ETag"]), generation

    def write(self, files: Mapping[str, bytes], generation: int | None = None) -> list[str]:
        """Put the changed files, each on the condition that it is still the version
        checked; on a failure the previous versions are put back."""
        from botocore.exceptions import BotoCoreError, ClientError

        seen = {name: self._head(name) for name in files}
        if generation is not None:
            for name, found in seen.items():
                if found is not None and found[1] > generation:
                    raise StaleOutput(
                        f"{self.url}/{name}: a newer render (generation {found[1]}) is"
                        f" there; this one ({generation}) was dropped"
                    )
        changed = {
            name: data
            for name, data in files.items()
            if (found := seen[name]) is None or found[0].strip('"') != _md5(data)
        }
        if generation is not None:
            self._mark(files.keys() - changed.keys(), seen, generation)
        if not changed:
            return []
        backup = f"{self.prefix}{_BACKUPS}{secrets.token_hex(8)}/"
        done: dict[str, str] = {}  # name: the ETag this write put
        name = ""
        try:
            for name in changed:  # previous versions aside first: a failure can undo
                if (found := seen[name]) is not None:
                    self._s3.copy_object(
                        Bucket=self.bucket,
                        Key=backup + name,
                        CopySource={"Bucket": self.bucket, "Key": self._key(name)},
                        CopySourceIfMatch=found[0],
                    )
            for name, data in changed.items():
                condition = {"IfMatch": found[0]} if (found := seen[name]) else {"IfNoneMatch": "*"}
                put = self._s3.put_object(
                    Bucket=self.bucket,
                    Key=self._key(name),
                    Body=data,
                    ContentType=_content_type(name),
                    Metadata={GENERATION_META: str(generation or 0)},
                    **condition,
                )
                done[name] = str(put["ETag"])
        except (ClientError, BotoCoreError) as exc:
            lost = self._undo(done, seen, backup)
            if isinstance(exc, ClientError) and _status(exc) in (409, 412):
                reason = "written by another worker meanwhile"
            else:
                reason = _reason(exc)
            state = (
                "no feed file was changed"
                if not lost
                else f"these files are new and the others as they were: {', '.join(lost)}"
            )
            raise WriteError(f"{self.url}/{name}: cannot write: {reason}; {state}") from None
        finally:
            self._delete_below(backup)
        return list(changed)

    def _mark(
        self, names: Iterable[str], seen: Mapping[str, tuple[str, int] | None], generation: int
    ) -> None:
        """Raise the generation of files whose bytes this render left as they were: a
        stalled render of an older generation must find them newer too. Best effort: a
        file changed meanwhile was written by a newer render."""
        from botocore.exceptions import BotoCoreError, ClientError

        for name in names:
            found = seen[name]
            if found is None or found[1] >= generation:
                continue
            with contextlib.suppress(ClientError, BotoCoreError):
                self._s3.copy_object(
                    Bucket=self.bucket,
                    Key=self._key(name),
                    CopySource={"Bucket": self.bucket, "Key": self._key(name)},
                    CopySourceIfMatch=found[0],
                    MetadataDirective="REPLACE",
                    Metadata={GENERATION_META: str(generation)},
                    ContentType=_content_type(name),
                )

    def _undo(
        self, done: Mapping[str, str], seen: Mapping[str, tuple[str, int] | None], backup: str
    ) -> list[str]:
        """Put back the previous version of each file this write replaced, only where it
        is still what this write put (a newer worker's file is never undone); returns the
        names that could not be."""
        from botocore.exceptions import BotoCoreError, ClientError

        lost = []
        for name, etag in reversed(list(done.items())):
            try:
                head = self._head(name)
                if head is None or head[0] != etag:
                    continue  # replaced since by another writer: theirs stays
                if (found := seen[name]) is None:
                    self._s3.delete_object(Bucket=self.bucket, Key=self._key(name))
                    continue
                previous = self._s3.get_object(Bucket=self.bucket, Key=backup + name)
                self._s3.put_object(
                    Bucket=self.bucket,
                    Key=self._key(name),
                    Body=previous["Body"].read(),
                    ContentType=_content_type(name),
                    Metadata={GENERATION_META: str(found[1])},
                    IfMatch=etag,
                )
            except (ClientError, BotoCoreError, WriteError):
                lost.append(name)
        return lost

    def _names(self, below: str = "") -> list[str]:
        """The object names below ``prefix + below``, relative to the prefix."""
        names = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + below):
            names += [item["Key"][len(self.prefix) :] for item in page.get("Contents", ())]
        return names

    def _delete_below(self, prefix: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        with contextlib.suppress(ClientError, BotoCoreError):
            keys = [self.prefix + name for name in self._names(prefix[len(self.prefix) :])]
            for start in range(0, len(keys), 1000):
                chunk = [{"Key": key} for key in keys[start : start + 1000]]
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk})

    def missing(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that are not objects below the prefix."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            present = set(self._names())
        except (ClientError, BotoCoreError) as exc:
            raise WriteError(f"{self.url}: cannot list: {_reason(exc)}") from None
        return [name for name in names if name not in present]

    def remove_obsolete(self, keep: Iterable[str], subfolders: Iterable[str]) -> None:
        """Delete the objects of ``subfolders`` that ``keep`` does not name."""
        from botocore.exceptions import BotoCoreError, ClientError

        kept = set(keep)
        with contextlib.suppress(ClientError, BotoCoreError):
            for sub in subfolders:
                for name in self._names(f"{sub}/"):
                    if name not in kept and not name.rsplit("/", 1)[-1].startswith("."):
                        self._s3.delete_object(Bucket=self.bucket, Key=self._key(name))


def _content_type(name: str) -> str:
    return media_type(name.rsplit("/", 1)[-1]) or "application/octet-stream"


def _md5(data: bytes) -> str:
    # What S3 gives as the ETag of an object put in one piece without KMS encryption;
    # otherwise the ETag differs, and an unchanged file is written again (harmless).
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _reason(exc: Any) -> str:
    error = getattr(exc, "response", {}).get("Error", {}) if hasattr(exc, "response") else {}
    return str(error.get("Message") or error.get("Code") or exc)
