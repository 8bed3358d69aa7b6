"""``seedfeed extract``: a saved page or a URL shown as the entry it would become.

URLs are served by pytest-httpserver on 127.0.0.1; nothing here touches the internet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

from seedfeed.cli import cli

PAGE_URL = "https://news.example.com/city/harbor-plan.html"
SCRIPT_TEXT = "stealCookies"  # in every <script> of the page: must never be shown


def page(*, canonical: str = "/city/harbor-plan") -> str:
    """A news page with chrome, scripts, JSON-LD, a relative canonical link and links."""
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Harbor plan clears council vote",
        "author": [{"@type": "Person", "name": "Ann Lee"}, {"@type": "Person", "name": "Dev Basu"}],
        "datePublished": "2026-03-04T09:30:00Z",
    }
    paragraphs = "".join(
        f"<p>Paragraph {i}: the council approved the plan to rebuild the harbor after months"
        " of debate, and the first works start in the spring, officials said.</p>"
        for i in range(1, 5)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Harbor plan clears council vote | The Daily Example</title>
<link rel="canonical" href="{canonical}">
<meta name="description" content="The council approved the harbor plan after months of debate.">
<script type="application/ld+json">{json.dumps(ld)}</script>
<script>window.{SCRIPT_TEXT} = function () {{ return document.cookie; }};</script>
<style>.ad {{ min-height: 250px }}</style>
</head><body>
<nav><a href="/">Home</a> <a href="/city/">City</a> <a href="/sport/">Sport</a></nav>
<article>
<h1>Harbor plan clears council vote</h1>
{paragraphs}
<script>{SCRIPT_TEXT}(); console.log("{SCRIPT_TEXT}");</script>
<p>Read the <a href="/docs/harbor-plan.pdf">full plan</a> and the <a href="minutes.html"
>meeting minutes</a>.</p>
<noscript>Enable JavaScript to {SCRIPT_TEXT}.</noscript>
</article>
<aside><h2>Most read</h2><ul><li><a href="/a">Something else entirely</a></li></ul></aside>
<footer>&copy; The Daily Example</footer>
</body></html>
"""


def extract(*args: str) -> Result:
    """``seedfeed extract ARGS`` in-process; stdout and stderr kept apart."""
    return CliRunner().invoke(cli, ["extract", *args], catch_exceptions=False)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_saved_file_with_url(tmp_path: Path) -> None:
    saved = tmp_path / "harbor.html"
    saved.write_text(page(), encoding="utf-8")
    result = extract(str(saved), "--url", PAGE_URL)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "title:   Harbor plan clears council vote",
        "author:  Ann Lee, Dev Basu",
        "date:    2026-03-04T09:30:00+00:00",
        # the relative canonical link, resolved against --url
        "link:    https://news.example.com/city/harbor-plan",
        "summary: The council approved the harbor plan after months of debate.",
        "",
    ]
    body = lines[6:]  # one line per paragraph, plain text
    assert body[0].startswith("Paragraph 1: the council approved the plan to rebuild")
    assert [line[:11] for line in body[:4]] == [f"Paragraph {i}" for i in range(1, 5)]
    assert "Read the full plan and the meeting minutes." in body
    text = "\n".join(body)
    assert "<" not in text
    for chrome in ("Home", "Most read", "Something else entirely", "The Daily Example"):
        assert chrome not in text
    assert SCRIPT_TEXT not in result.stdout  # neither <script> nor <noscript> text
    assert result.stderr == ""


def test_saved_file_without_url_cannot_resolve_a_relative_link(tmp_path: Path) -> None:
    saved = tmp_path / "harbor.html"
    saved.write_text(page(), encoding="utf-8")
    result = extract(str(saved))
    assert result.exit_code == 0, result.output
    assert "title:   Harbor plan clears council vote" in result.stdout
    assert "link:    (none)" in result.stdout  # "/city/harbor-plan" alone is no link
    assert SCRIPT_TEXT not in result.stdout


def test_url_served_locally(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/city/harbor-plan.html").respond_with_data(
        page(), content_type="text/html; charset=utf-8"
    )
    url = httpserver.url_for("/city/harbor-plan.html")
    result = extract(url, "--allow-private")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "title:   Harbor plan clears council vote"
    assert lines[1] == "author:  Ann Lee, Dev Basu"
    assert lines[2] == "date:    2026-03-04T09:30:00+00:00"
    # without --url the page's own address resolves its links
    assert lines[3] == f"link:    {httpserver.url_for('/city/harbor-plan')}"
    assert lines[4] == "summary: The council approved the harbor plan after months of debate."
    assert "Paragraph 4: the council approved the plan" in result.stdout
    assert SCRIPT_TEXT not in result.stdout
    assert len(httpserver.log) == 1
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"].startswith("seedfeed/")


def test_private_url_refused_without_allow_private(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/secret").respond_with_data("<p>internal</p>")
    url = httpserver.url_for("/secret")
    result = extract(url)
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = error_lines(result)
    assert line.startswith(f"error: {url}: refused")
    assert "not a public address" in line
    assert len(httpserver.log) == 0  # refused before connecting


def test_http_404(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("not here", status=404)
    url = httpserver.url_for("/gone")
    result = extract(url, "--allow-private")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert error_lines(result) == [f"error: {url}: HTTP 404"]


@pytest.mark.parametrize("name", ["missing.html", "no/such/folder/page.html"])
def test_missing_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    result = extract(str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = error_lines(result)
    assert line.startswith(f"error: {path}: ")
    assert "No such file or directory" in line


# --- known bugs of the plain-text body (normalize.html_to_plain) ------------------------


def _body(tmp_path: Path, article: str) -> list[str]:
    paragraphs = "".join(
        f"<p>Paragraph {i} of the story, long enough to be read as the main text of the page.</p>"
        for i in range(3)
    )
    saved = tmp_path / "page.html"
    saved.write_text(
        f"<html><head><title>T</title></head><body><article>{article}{paragraphs}"
        "</article></body></html>",
        encoding="utf-8",
    )
    result = extract(str(saved), "--url", PAGE_URL)
    assert result.exit_code == 0, result.output
    return result.stdout.split("\n\n", 1)[1].splitlines()


def test_source_line_breaks_are_not_text(tmp_path: Path) -> None:
    body = _body(tmp_path, "<p>One sentence that the page's source\nwraps onto two lines.</p>")
    assert "One sentence that the page's source wraps onto two lines." in body


def test_adjacent_blocks_stay_apart(tmp_path: Path) -> None:
    body = "\n".join(_body(tmp_path, "<dl><dt>Cost</dt><dd>40 million</dd></dl>"))
    assert "Cost" in body
    assert "Cost40 million" not in body
    assert "40 millionParagraph 0" not in body
