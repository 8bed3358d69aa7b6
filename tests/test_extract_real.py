"""Extraction on real pages that nobody here wrote: Mozilla Readability's test pages in
``../shared/extract-dev`` (read in memory, never copied). Skipped without ``../shared``.

The floors are the figures reached when extraction was chosen (bench/bench_extract.py
prints them all), less a small margin: a change that loses authors or dates on real
pages fails here, not in a reader's feed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from seedfeed.normalize import clean_text, html_to_plain, to_entry
from seedfeed.web.extract import article_from_html
from seedfeed.web.fetch import decode_body

BENCH = Path(__file__).resolve().parents[1] / "bench" / "real_pages.py"
URL = "http://fakehost/test/page.html"


def _real_pages() -> ModuleType:
    spec = importlib.util.spec_from_file_location("real_pages", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("real_pages", module)
    spec.loader.exec_module(module)
    return module


real = _real_pages()
pytestmark = [
    pytest.mark.skipif(
        not (real.DEV / real.READABILITY_ARCHIVE).is_file(), reason=f"{real.DEV} not found"
    ),
    pytest.mark.slow,  # 130 real pages: seconds, not for make quick
]


@pytest.fixture(scope="module")
def scores() -> Any:
    from datetime import UTC, datetime

    score = real.MetaScore()
    for case in real.readability_cases():
        article = article_from_html(decode_body(case.html, None)[0], origin=URL, url=URL)
        entry, _ = to_entry(article, datetime(2000, 1, 1, tzinfo=UTC))
        text = html_to_plain(entry.content_html)
        score.add(case, clean_text(article.title), entry.authors, article.published, text)
    return score


def test_metadata_of_real_pages(scores: Any) -> None:
    assert scores.pages == 130
    assert scores.titles >= 124  # the target (126 reached)
    assert scores.titles_suffix >= 125
    assert scores.authors >= 64
    assert scores.days >= 31


def test_body_of_real_pages(scores: Any) -> None:
    body_f1 = scores.body_f1
    assert sum(body_f1) / len(body_f1) >= 0.92
