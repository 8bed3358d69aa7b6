"""The two public sets of real pages in ``../shared/extract-dev``, and how each is scored.

Nothing is unpacked to disk and nothing is copied into the repository: the archives are
read in memory, page by page. ``None`` when the archives are not there (a clone without
``../shared``); callers skip.

* **trafilatura-eval** (the trafilatura project's evaluation set): per page, snippets the
  main text must contain and snippets it must not. Scored as their scorer does: a snippet
  is found when it is a substring of the extracted text, whitespace collapsed in both;
  precision, recall and F1 over all snippets of all pages.
* **readability** (Mozilla Readability's test pages): title, byline and published time
  per page, and the article Readability.js extracts (``expected.html``): title exact,
  author found, published day right, and the body's token F1 against that article.
"""

from __future__ import annotations

import json
import re
import tarfile
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

DEV = Path(__file__).resolve().parents[2] / "shared" / "extract-dev"
TRAFILATURA_ARCHIVE = "trafilatura-eval.tar.xz"
READABILITY_ARCHIVE = "readability-test-pages.tar.xz"


@dataclass(frozen=True)
class SnippetCase:
    """One page of the trafilatura set: must contain ``with_``, must not contain ``without``."""

    url: str
    name: str
    html: bytes
    with_: tuple[str, ...]
    without: tuple[str, ...]


@dataclass(frozen=True)
class MetaCase:
    """One page of the Readability set and what Readability.js found in it."""

    name: str
    html: bytes
    title: str
    byline: str
    published: str
    expected_html: str


@dataclass
class Snippets:
    """Snippet counts over a set: true and false positives, false and true negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, case: SnippetCase, text: str) -> tuple[int, int]:
        """Score ``text`` for ``case``; returns the (missed, unwanted) snippets."""
        found = norm(text)
        hits = sum(norm(s) in found for s in case.with_)
        junk = sum(norm(s) in found for s in case.without)
        self.tp += hits
        self.fn += len(case.with_) - hits
        self.fp += junk
        self.tn += len(case.without) - junk
        return len(case.with_) - hits, junk

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0


@dataclass
class MetaScore:
    """Metadata and body scores over the Readability set."""

    pages: int = 0
    titles: int = 0
    titles_suffix: int = 0  # exact, or exact but for a trailing " | Site name"
    with_byline: int = 0
    authors: int = 0
    with_date: int = 0
    days: int = 0
    body_f1: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)  # "name: field: got vs expected"

    def add(
        self,
        case: MetaCase,
        title: str,
        authors: list[str],
        published: datetime | None,
        text: str,
    ) -> None:
        """Score what was extracted from ``case``."""
        self.pages += 1
        if same_title(title, case.title):
            self.titles += 1
            self.titles_suffix += 1
        elif same_title(title, without_suffix(case.title)):
            self.titles_suffix += 1
            self.misses.append(f"{case.name}: title suffix: {title!r} vs {case.title!r}")
        else:
            self.misses.append(f"{case.name}: title: {title!r} vs {case.title!r}")
        if case.byline.strip():
            self.with_byline += 1
            if author_found(authors, case.byline):
                self.authors += 1
            else:
                self.misses.append(f"{case.name}: author: {authors!r} vs {case.byline!r}")
        if case.published.strip():
            self.with_date += 1
            if day_right(published, case.published):
                self.days += 1
            else:
                self.misses.append(f"{case.name}: date: {published} vs {case.published!r}")
        self.body_f1.append(token_f1(text, html_text(case.expected_html)))


def norm(text: str) -> str:
    """Whitespace collapsed, as the trafilatura scorer does."""
    return re.sub(r"\s+", " ", text).strip()


def _loose(text: str) -> str:
    """Case, accents aside: NFKC, casefolded, whitespace collapsed."""
    return norm(unicodedata.normalize("NFKC", text)).casefold()


def same_title(got: str, expected: str) -> bool:
    """The title exactly, whitespace and Unicode normalization aside."""
    return norm(unicodedata.normalize("NFKC", got)) == norm(unicodedata.normalize("NFKC", expected))


def without_suffix(title: str) -> str:
    """``title`` without its last " | part" (" - ", " · " and dashes too)."""
    return re.split(r"\s+[|\-\u2013—·:]\s+(?=[^|\-\u2013—·:]*$)", title)[0]


def author_found(authors: list[str], byline: str) -> bool:
    """An author whose name is in the byline, or a byline that is in an author's name
    ("By Jane Doe, Staff Writer" finds "Jane Doe"; "Jane Doe" finds "Jane Doe, Reporter")."""
    line = _loose(byline)
    names = [_loose(a) for a in authors if a.strip() and "://" not in a]
    return any(name in line or line.removeprefix("by ") in name for name in names)


def day_right(published: datetime | None, expected: str) -> bool:
    """The published day is the expected one: as written on the page (its own time zone)
    or in UTC."""
    if published is None:
        return False
    from seedfeed.dates import parse_date

    written = re.match(r"\d{4}-\d\d-\d\d", expected.strip())
    parsed = parse_date(expected)
    days = {written.group(0)} if written else set()
    if parsed is not None:
        days.add(parsed.date().isoformat())
    return published.date().isoformat() in days


def token_f1(got: str, want: str) -> float:
    """F1 of the bags of lower-cased word tokens."""
    a = Counter(re.findall(r"\w+", got.lower()))
    b = Counter(re.findall(r"\w+", want.lower()))
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def html_text(fragment: str) -> str:
    """The text of an HTML fragment, blocks apart."""
    from seedfeed.normalize import html_to_plain

    return html_to_plain(fragment)


def trafilatura_cases(dev: Path = DEV) -> list[SnippetCase] | None:
    """Every case of the trafilatura set, in its order; ``None`` without the archive."""
    archive = dev / TRAFILATURA_ARCHIVE
    if not archive.is_file():
        return None
    files = dict(_members(archive))
    data = json.loads(files["tests/evaldata.json"])
    cases = []
    for url, item in data.items():
        body = files.get(f"tests/cache/{item['file']}") or files.get(f"tests/eval/{item['file']}")
        if body is not None:
            cases.append(
                SnippetCase(url, item["file"], body, tuple(item["with"]), tuple(item["without"]))
            )
    return cases


def readability_cases(dev: Path = DEV) -> list[MetaCase] | None:
    """Every page of the Readability set, by name; ``None`` without the archive."""
    archive = dev / READABILITY_ARCHIVE
    if not archive.is_file():
        return None
    pages: dict[str, dict[str, bytes]] = {}
    for name, body in _members(archive):
        parts = name.split("/")
        if len(parts) == 4 and parts[:2] == ["test", "test-pages"]:
            pages.setdefault(parts[2], {})[parts[3]] = body
    cases = []
    for name, files in sorted(pages.items()):
        if not {"source.html", "expected-metadata.json"} <= files.keys():
            continue
        meta = json.loads(files["expected-metadata.json"])
        cases.append(
            MetaCase(
                name=name,
                html=files["source.html"],
                title=meta.get("title") or "",
                byline=meta.get("byline") or "",
                published=meta.get("publishedTime") or "",
                expected_html=files.get("expected.html", b"").decode("utf-8", "replace"),
            )
        )
    return cases


def _members(archive: Path) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar:
            if member.isfile():
                handle = tar.extractfile(member)
                if handle is not None:
                    yield member.name.removeprefix("./"), handle.read()
