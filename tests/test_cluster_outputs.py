"""The outputs: a folder or an S3 bucket (a local moto server, never the internet), all
or none, and never an older generation over a newer one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seedfeed.outputs import (
    GENERATIONS_NAME,
    BucketOutputs,
    FolderOutputs,
    StaleOutput,
    WriteError,
    bucket_url,
    outputs_for,
)

FILES = {"all.atom.xml": b"<feed>1</feed>", "all.json": b"{}", "index.html": b"<p>1</p>"}


# --- a folder ---------------------------------------------------------------------------


def test_a_folder_is_written_all_then_only_what_changed(tmp_path: Path) -> None:
    outputs = FolderOutputs(tmp_path / "feeds")
    assert outputs.write(FILES, generation=1) == list(FILES)
    assert (tmp_path / "feeds" / "all.json").read_bytes() == b"{}"
    assert outputs.write(FILES, generation=2) == []
    assert outputs.write({**FILES, "all.json": b"[]"}, generation=3) == ["all.json"]
    assert outputs.missing(["all.json", "tag/x.atom.xml"]) == ["tag/x.atom.xml"]


def test_a_folder_refuses_an_older_generation(tmp_path: Path) -> None:
    outputs = FolderOutputs(tmp_path)
    outputs.write(FILES, generation=5)
    with pytest.raises(StaleOutput, match="generation 5"):
        outputs.write({"all.atom.xml": b"<feed>old</feed>"}, generation=4)
    assert (tmp_path / "all.atom.xml").read_bytes() == FILES["all.atom.xml"]
    # The same generation again (a file went missing and is written back) is fine.
    (tmp_path / "index.html").unlink()
    assert outputs.write(FILES, generation=5) == ["index.html"]
    assert json.loads((tmp_path / GENERATIONS_NAME).read_text())["all.json"] == 5


def test_a_folder_without_generations_is_the_plain_writer(tmp_path: Path) -> None:
    outputs = FolderOutputs(tmp_path)
    assert outputs.write(FILES) == list(FILES)
    assert not (tmp_path / GENERATIONS_NAME).exists()


def test_obsolete_label_feeds_go(tmp_path: Path) -> None:
    outputs = FolderOutputs(tmp_path)
    outputs.write({"tag/a.atom.xml": b"a", "tag/b.atom.xml": b"b"}, generation=1)
    outputs.remove_obsolete(["tag/a.atom.xml"], ["tag", "author"])
    assert sorted(p.name for p in (tmp_path / "tag").iterdir()) == ["a.atom.xml"]


def test_paths_feeds_may_name_a_bucket(tmp_path: Path) -> None:
    from seedfeed.config import PathSettings

    resolved = PathSettings(feeds=Path("s3://news-feeds/site/feeds")).resolved(tmp_path)
    assert bucket_url(resolved.feeds) == "s3://news-feeds/site/feeds"
    assert bucket_url(PathSettings().resolved(tmp_path).feeds) is None
    assert isinstance(outputs_for(tmp_path / "feeds"), FolderOutputs)


# --- a bucket ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1."""
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> tuple[Any, str]:
    client = _client(s3_endpoint)
    name = f"feeds-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name


def _objects(client: Any, bucket: str) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listed
    }


@pytest.mark.slow  # a moto server (and boto3) start
def test_a_bucket_is_written_with_types_and_generations(bucket: tuple[Any, str]) -> None:
    client, name = bucket
    outputs = BucketOutputs(f"s3://{name}/site/feeds", client=client)
    assert outputs.write(FILES, generation=3) == list(FILES)
    assert _objects(client, name) == {f"site/feeds/{key}": data for key, data in FILES.items()}
    head = client.head_object(Bucket=name, Key="site/feeds/all.atom.xml")
    assert head["ContentType"] == "application/atom+xml"
    assert head["Metadata"] == {"seedfeed-generation": "3"}
    assert outputs.write(FILES, generation=4) == []  # the same bytes: nothing is put
    assert outputs.missing(["all.json", "all.rss.xml"]) == ["all.rss.xml"]
    # ... but they are generation 4's too: a stalled render of generation 3 with other
    # bytes (an entry added in 3, gone in 4) is refused.
    head = client.head_object(Bucket=name, Key="site/feeds/index.html")
    assert head["Metadata"] == {"seedfeed-generation": "4"}
    assert head["ContentType"] == "text/html"
    with pytest.raises(StaleOutput):
        outputs.write({**FILES, "index.html": b"<p>old</p>"}, generation=3)


@pytest.mark.slow  # a moto server (and boto3) start
def test_a_bucket_refuses_an_older_generation(bucket: tuple[Any, str]) -> None:
    client, name = bucket
    outputs = BucketOutputs(f"s3://{name}", client=client)
    outputs.write(FILES, generation=7)
    with pytest.raises(StaleOutput):
        outputs.write({**FILES, "all.json": b"[1]"}, generation=6)
    assert _objects(client, name) == FILES


class _Interfering:
    """A client through which, just before the ``after``-th put, another writer puts
    ``body`` at ``key`` (if given), and then that put fails (``fail``, or no ``key``)."""

    def __init__(
        self, client: Any, *, after: int, key: str | None = None, fail: bool = False
    ) -> None:
        self._client = client
        self._after = after
        self._key = key
        self._fail = fail or key is None
        self._puts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_object(self, **kwargs: Any) -> Any:
        self._puts += 1
        if self._puts == self._after:
            from botocore.exceptions import EndpointConnectionError

            if self._key is not None:
                body = b"newer" if self._fail else b"theirs"
                self._client.put_object(Bucket=kwargs["Bucket"], Key=self._key, Body=body)
            if self._fail:
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return self._client.put_object(**kwargs)


@pytest.mark.slow  # a moto server (and boto3) start
def test_another_writer_is_never_overwritten_and_nothing_is_half_done(
    bucket: tuple[Any, str],
) -> None:
    client, name = bucket
    BucketOutputs(f"s3://{name}", client=client).write(FILES, generation=1)
    new = {key: data + b"2" for key, data in FILES.items()}
    # Another writer puts index.html between our check and our put of it: our put is
    # refused (If-Match), and the files we had already replaced are put back.
    racing = BucketOutputs(f"s3://{name}", client=_Interfering(client, after=3, key="index.html"))
    with pytest.raises(WriteError, match=r"another worker.*no feed file was changed"):
        racing.write(new, generation=2)
    assert _objects(client, name) == {**FILES, "index.html": b"theirs"}


@pytest.mark.slow  # a moto server (and boto3) start
def test_a_failure_halfway_puts_the_previous_files_back(bucket: tuple[Any, str]) -> None:
    client, name = bucket
    BucketOutputs(f"s3://{name}", client=client).write(FILES, generation=1)
    failing = BucketOutputs(f"s3://{name}", client=_Interfering(client, after=2))
    with pytest.raises(WriteError, match="no feed file was changed"):
        failing.write({key: data + b"2" for key, data in FILES.items()}, generation=2)
    assert _objects(client, name) == FILES  # and no backup copy is left behind


@pytest.mark.slow  # a moto server (and boto3) start
def test_undoing_a_failed_write_never_replaces_a_newer_writers_file(
    bucket: tuple[Any, str],
) -> None:
    client, name = bucket
    BucketOutputs(f"s3://{name}", client=client).write(FILES, generation=1)
    overtaken = _Interfering(client, after=2, key="all.atom.xml", fail=True)
    failing = BucketOutputs(f"s3://{name}", client=overtaken)
    with pytest.raises(WriteError):
        failing.write({key: data + b"2" for key, data in FILES.items()}, generation=2)
    # all.atom.xml was put by this write, then replaced by another: it is not undone.
    assert _objects(client, name) == {**FILES, "all.atom.xml": b"newer"}
