"""`seedfeed clip URL`: a page becomes a seed that publishes as the same article."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer

from helpers import invoke, make_project, parse_feed, run_publish
from seedfeed.seeds import parse_clipped

PAGE = """<html><head><title>Harbour ferry returns | Coast News</title>
<script type="application/ld+json">{ld}</script></head>
<body><nav><a href="/">Home</a> <a href="/sport">Sport</a></nav>
<article><h1>Harbour ferry returns</h1>
<p>The harbour ferry made its first crossing in three years on Saturday morning, carrying
forty passengers between the old town and the island.</p>
<p>Why it matters: The crossing cuts the trip to the island from an hour by road to twelve
minutes, and the island school has sixty pupils who live in town.</p>
<ul><li>Crossings every 30 minutes from 7:00 to 19:00.</li>
<li>A single ticket costs 2 euros.</li></ul>
<p>The town council will review the timetable in the spring.</p>
<script>track()</script></article><footer>Contact us</footer></body></html>"""


def test_clip_round_trip(tmp_path: Path, httpserver: HTTPServer) -> None:
    ld = {"@type": "NewsArticle", "headline": "Harbour ferry returns",
          "author": [{"name": "Ines Costa"}], "datePublished": "2026-11-21T08:00:00Z"}  # fmt: skip
    httpserver.expect_request("/ferry").respond_with_data(
        PAGE.format(ld=json.dumps(ld)), content_type="text/html; charset=utf-8"
    )
    config = make_project(tmp_path)
    url = httpserver.url_for("/ferry")
    result = invoke(["clip", url, "-c", str(config), "--allow-private"])
    assert result.exit_code == 0, result.output
    seed = Path(result.stdout.strip())
    assert seed.parent == tmp_path / "seeds" and seed.name == "harbour-ferry-returns.txt"
    text = seed.read_text(encoding="utf-8")
    assert "track()" not in text and "Contact us" not in text and "Sport" not in text

    article = parse_clipped(text, seed.name)
    assert article.title == "Harbour ferry returns"
    assert article.authors == ["Ines Costa"]
    assert article.published is not None and article.published.isoformat().startswith("2026-11-21")
    assert any(b.lead == "Why it matters:" for b in article.blocks)
    assert ("ul", 2) in [(b.kind, len(b.items)) for b in article.blocks]

    run_publish(config)
    [entry] = parse_feed(tmp_path / "feeds" / "all.atom.xml").entries
    assert (entry.title, entry.link, entry.author) == ("Harbour ferry returns", url, "Ines Costa")
    assert entry.summary.startswith("Why it matters: The crossing cuts")

    again = invoke(["clip", url, "-c", str(config), "--allow-private"])
    assert Path(again.stdout.strip()).name == "harbour-ferry-returns-2.txt"  # never overwrites


def test_clip_failures(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    config = make_project(tmp_path)
    result = invoke(["clip", httpserver.url_for("/gone"), "-c", str(config), "--allow-private"])
    assert result.exit_code == 1 and "HTTP 404" in result.stderr
    refused = invoke(["clip", httpserver.url_for("/gone"), "-c", str(config)])
    assert refused.exit_code == 1 and "refused" in refused.stderr
    assert list((tmp_path / "seeds").iterdir()) == []
