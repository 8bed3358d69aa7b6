"""`seedfeed clip URL`: a page becomes a seed that publishes as the same article."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer

from helpers import invoke, make_project, parse_feed, run_publish
from seedfeed.normalize import canonical_url
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
    assert again.exit_code == 0 and again.stdout == ""
    assert "clipped already as" in again.stderr and "nothing written" in again.stderr
    forced = invoke(["clip", url, "-c", str(config), "--allow-private", "--force"])
    assert Path(forced.stdout.strip()).name == "harbour-ferry-returns-2.txt"  # never overwrites


def test_clip_keeps_what_extract_shows(tmp_path: Path, httpserver: HTTPServer) -> None:
    ld = {"@type": "NewsArticle", "headline": "Harbour ferry returns",
          "author": [{"@type": "Person", "name": "Ines Costa"},
                     {"@type": "Person", "name": "https://coast.example/staff/joao"},
                     {"@type": "Person", "name": "By Joao Silva, Coast News Staff Writer"}],
          "datePublished": "2026-11-21T08:30:00+01:00"}  # fmt: skip
    httpserver.expect_request("/ferry").respond_with_data(
        PAGE.format(ld=json.dumps(ld)), content_type="text/html; charset=utf-8"
    )
    config = make_project(tmp_path)
    url = httpserver.url_for("/ferry")
    shown = invoke(["extract", url, "--allow-private"])
    assert shown.exit_code == 0, shown.output
    result = invoke(["clip", url, "-c", str(config), "--allow-private"])
    seed = Path(result.stdout.strip())
    text = seed.read_text(encoding="utf-8")
    assert "By " not in text and "https://coast.example/staff" not in text

    article = parse_clipped(text, seed.name)
    fields = dict(line.split(":", 1) for line in shown.stdout.splitlines()[:5])
    assert article.title == fields["title"].strip()
    assert ", ".join(article.authors) == fields["author"].strip() == "Ines Costa, Joao Silva"
    assert article.published is not None
    assert article.published.isoformat() == fields["date"].strip() == "2026-11-21T07:30:00+00:00"
    assert canonical_url(article.link) == fields["link"].strip() == url
    body = [line for line in shown.stdout.split("\n\n", 1)[1].splitlines() if line.strip()]
    assert len(body) >= 4
    seed_text = " ".join(text.split())
    assert all(" ".join(line.split()) in seed_text for line in body)


def test_a_first_paragraph_that_reads_as_a_byline_stays_body() -> None:
    from seedfeed.clip import clip_text
    from seedfeed.model import Article

    body = "By John Gruber\n\nDaring Fireball is written by John Gruber.\n\nSource: AP"
    text = clip_text(Article(origin="u", title="Colophon"), body, "https://df.example/c")
    article = parse_clipped(text, "c.txt")
    assert article.authors == [] and article.link.startswith("https://df.example/c")
    assert [(b.lead, b.text) for b in article.blocks] == [
        ("", "By John Gruber Daring Fireball is written by John Gruber."),
        ("Source:", "AP"),  # a lead-in, as in any later paragraph
    ]
