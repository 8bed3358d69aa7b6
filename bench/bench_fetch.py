"""Benchmark the source step of ``seedfeed publish``: listing pages and the articles they link.

``--pages`` article pages (default 1,000) are generated from ``random.Random(index)``, so
the same code gives the same bytes: a site's chrome (masthead, search form, navigation,
sidebar with "most read" links, a newsletter box, an ad slot, footer, analytics scripts),
JSON-LD ``NewsArticle`` metadata, Open Graph tags, and an article of 5-10 paragraphs with
a figure, a subheading and a quote; 5-15 KB each. Listing pages of ``--per-listing``
teasers (default 50, so 20 listings) link to them; each listing is one
``kind = "listing"`` source with ``limit`` equal to its number of links.

A threaded HTTP server on 127.0.0.1 serves the site. It answers ``If-None-Match`` with
304, counts the requests, the bodies and the body bytes it sends (per path, so a page
fetched twice shows), and refuses every request past a fixed budget. A project in a
temporary folder (``[fetch] allow_private = true``, ``max_entries`` large enough for
every page) is published twice by the real command line in a child process:

* first run: every listing and every article is fetched and extracted; wall time,
  throughput (pages per second over every page fetched, listings included) and the
  child's peak RSS (``ru_maxrss`` from ``os.wait4``);
* second run: every listing is answered 304, so no article is fetched again: the server
  must have sent no body at all, and the feeds must be left alone.

Then, in this process: the extraction cost per page (``extract.article_from_html`` and
``normalize.to_entry``, median and p95 over every page) and, for comparison, the fetch
cost alone (``Fetcher.fetch_many`` over every article URL, nothing extracted).

Usage: ``python bench/bench_fetch.py [--pages 1000] [--per-listing 50] [--concurrency N]
[--per-host N] [--timeout 600]`` (exit 1 when a correctness check fails)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import bench_extract  # one vocabulary and one writer for both page generators
from bench_extract import NOUNS
from bench_publish import code_version

SEEDFEED = Path(sys.executable).parent / "seedfeed"
SITE = "The Bench Gazette"
BASE_TIME = datetime(2025, 1, 6, 7, 0, tzinfo=UTC)  # article i is dated i hours before

# The targets, checked at the end (for the default 1,000 pages). The first run's is the
# issue "real pages" target on 2 cores.
FIRST_RUN_PAGES_PER_S = 250.0
SECOND_RUN_SECONDS = 2.0
EXTRACT_P95_MS = 30.0
PEAK_RSS_MB = 300.0

SECTIONS = ("World", "Politics", "Business", "Tech", "Science", "Health", "Culture", "Sport")
STYLE = (
    "body{font-family:Georgia,serif;margin:0}.masthead{display:flex;gap:1rem}"
    ".main-nav ul{display:flex;list-style:none}.story{max-width:42rem}"
    ".sidebar{float:right;width:18rem}.ad{min-height:250px;background:#eee}"
    ".share a{margin-right:.5rem}footer{font-size:.8rem;color:#555}"
)
ANALYTICS = (
    "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
    "gtag('js',new Date());gtag('config','G-BENCH0000',{anonymize_ip:true});"
    "(function(d){var s=d.createElement('script');s.async=1;"
    "s.src='https://analytics.example/t.js';d.head.appendChild(s)})(document);"
)


# --- the site ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """What a listing needs to know of one article."""

    index: int
    path: str
    title: str
    summary: str


class Writer(bench_extract.Writer):
    """bench_extract's news copy, with headlines made unique by their number."""

    def paragraph(self, low: int = 3, high: int = 6) -> str:
        """3-6 sentences."""
        return super().paragraph(low, high)

    def title(self, index: int) -> str:
        """A headline, unique by its number."""
        words = self.headline()
        return f"{words[0].upper()}{words[1:]} (report {index})"


def slug(text: str) -> str:
    """URL path segment from a title."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def story(index: int) -> Story:
    """Article ``index``'s path, title and summary (the same every time)."""
    writer = Writer(index)
    title = writer.title(index)
    when = BASE_TIME - timedelta(hours=index)
    path = f"/{when:%Y/%m/%d}/{slug(title)}-{index}.html"
    return Story(index, path, title, writer.sentence())


def _chrome_top(rng: random.Random) -> str:
    sections = "".join(
        f'<li><a href="/{s.lower()}/">{s}</a></li>' for s in rng.sample(SECTIONS, len(SECTIONS))
    )
    return (
        '<header class="masthead"><a href="/"><img src="/static/logo.svg" '
        f'alt="{SITE}" width="180" height="40"></a>'
        '<form action="/search" role="search"><input name="q" placeholder="Search">'
        "<button>Search</button></form>"
        '<a class="subscribe" href="/subscribe">Subscribe</a></header>'
        f'<nav class="main-nav" aria-label="Sections"><ul>{sections}'
        '<li><a href="/opinion/">Opinion</a></li><li><a href="/podcasts/">Podcasts</a></li>'
        "</ul></nav>"
    )


def _footer() -> str:
    links = "".join(
        f'<li><a href="/{slug(t)}">{t}</a></li>'
        for t in (
            "About us", "Contact", "Careers", "Advertise", "Privacy policy", "Terms of use",
            "Cookie settings", "Accessibility", "Corrections", "Newsletters", "RSS feeds",
        )
    )  # fmt: skip
    return (
        f'<footer class="site-footer"><nav aria-label="Footer"><ul>{links}</ul></nav>'
        f"<p>&copy; 2025 {SITE}. All rights reserved. Reproduction without permission is "
        "prohibited.</p></footer>"
        '<script src="/static/app.js" defer></script>'
    )


def article_page(index: int, base: str, total: int) -> bytes:
    """Article ``index`` as a complete HTML page (UTF-8), linking to ``base`` absolutely."""
    s = story(index)
    writer = Writer(10_000_000 + index)
    rng = writer.rng
    url = base + s.path.lstrip("/")
    authors = [writer.name() for _ in range(rng.choice((1, 1, 1, 2)))]
    published = BASE_TIME - timedelta(hours=index)
    modified = published + timedelta(minutes=rng.randint(5, 600))
    tags = rng.sample(NOUNS, 3)
    image = f"{base}img/{index}.jpg"
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": s.title,
        "description": s.summary,
        "author": [
            {"@type": "Person", "name": a, "url": f"{base}authors/{slug(a)}"} for a in authors
        ],
        "datePublished": published.isoformat(),
        "dateModified": modified.isoformat(),
        "image": [image],
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "publisher": {
            "@type": "NewsMediaOrganization",
            "name": SITE,
            "logo": {"@type": "ImageObject", "url": f"{base}static/logo.png"},
        },
        "keywords": tags,
    }
    body: list[str] = []
    count = rng.randint(5, 10)
    for k in range(count):
        if k == count // 2:
            body.append(f"<h2>What happens to the {rng.choice(NOUNS)} now</h2>")
        if k == 2 and rng.random() < 0.5:
            body.append(f"<blockquote><p>&ldquo;{writer.sentence()}&rdquo;</p></blockquote>")
        body.append(f"<p>{writer.paragraph()}</p>")
    byline = " and ".join(f'<a href="/authors/{slug(a)}" rel="author">{a}</a>' for a in authors)
    others = [story((index + d) % total) for d in (1, 3, 7, 11, 13)]
    most_read = "".join(f'<li><a href="{o.path}">{o.title}</a></li>' for o in others)
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{s.title} | {SITE}</title>"
        f'<meta name="description" content="{s.summary}">'
        f'<meta name="keywords" content="{", ".join(tags)}">'
        f'<meta property="og:type" content="article"><meta property="og:title" content="{s.title}">'
        f'<meta property="og:description" content="{s.summary}">'
        f'<meta property="og:url" content="{url}"><meta property="og:image" content="{image}">'
        f'<meta property="article:published_time" content="{published.isoformat()}">'
        f'<link rel="canonical" href="{url}"><link rel="stylesheet" href="/static/site.css">'
        f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        f"<script>{ANALYTICS}</script><style>{STYLE}</style></head><body>"
        '<div id="cookie-consent" class="cookie-banner"><p>We use cookies to personalise '
        "content and ads and to analyse our traffic.</p><button>Accept all</button></div>"
        f"{_chrome_top(rng)}<main>"
        f'<article class="story"><header><p class="kicker">{rng.choice(SECTIONS)}</p>'
        f'<h1>{s.title}</h1><p class="byline">By {byline}</p>'
        f'<time datetime="{published.isoformat()}">{published:%B %d, %Y %H:%M} UTC</time>'
        f'</header><figure><img src="/img/{index}.jpg" alt="{s.summary}" width="800" '
        f'height="450"><figcaption>{writer.sentence()} Photo: {writer.name()}</figcaption>'
        f"</figure>{''.join(body)}"
        '<div class="share">Share: <a href="https://social.example/share">Social</a> '
        '<a href="mailto:?subject=story">Email</a> <a href="#comments">Comments</a></div>'
        f"</article>"
        f'<aside class="sidebar"><h2>Most read</h2><ol>{most_read}</ol>'
        '<div class="newsletter"><h3>The morning briefing</h3><p>Everything you need to '
        'know, in your inbox before 7 a.m.</p><form action="/newsletter"><input name="email" '
        'type="email" placeholder="you@example.com"><button>Sign up</button></form></div>'
        '<div class="ad" data-slot="sidebar-1">Advertisement</div></aside></main>'
        f"{_footer()}</body></html>"
    )
    return page.encode("utf-8")


def listing_page(number: int, stories: Sequence[Story]) -> bytes:
    """Listing ``number``: a section front with one teaser per story (relative links)."""
    rng = random.Random(-1 - number)
    teasers = "".join(
        f'<article class="teaser"><h2><a href="{s.path}">{s.title}</a></h2>'
        f'<p>{s.summary}</p><a class="more" href="{s.path}">Read more</a></article>'
        for s in stories
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Section {number} | {SITE}</title><style>{STYLE}</style>"
        f"<script>{ANALYTICS}</script></head><body>{_chrome_top(rng)}"
        f"<main><h1>Section {number}</h1>{teasers}"
        f'<p class="pager"><a href="/section-{number}/?page=2">Older stories</a></p></main>'
        f"{_footer()}</body></html>"
    )
    return page.encode("utf-8")


@dataclass
class Site:
    """Every page by path, with its ETag."""

    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    listings: list[str] = field(default_factory=list)  # paths
    articles: list[str] = field(default_factory=list)  # paths

    def add(self, path: str, body: bytes) -> None:
        """Serve ``body`` at ``path``."""
        etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        self.pages[path] = (body, etag)


def build_site(pages: int, per_listing: int, base: str) -> Site:
    """Generate ``pages`` articles and the listings that link to all of them."""
    site = Site()
    stories = [story(i) for i in range(pages)]
    for i in range(pages):
        site.add(stories[i].path, article_page(i, base, pages))
        site.articles.append(stories[i].path)
    for number in range(1, math.ceil(pages / per_listing) + 1):
        path = f"/section-{number}/"
        chunk = stories[(number - 1) * per_listing : number * per_listing]
        site.add(path, listing_page(number, chunk))
        site.listings.append(path)
    return site


# --- the server -------------------------------------------------------------------------


@dataclass
class Tally:
    """What the server did since the last ``take``."""

    connections: int = 0
    requests: int = 0
    bodies: int = 0  # 200 responses
    not_modified: int = 0
    other: int = 0  # 404, 503 (over budget)
    body_bytes: int = 0
    by_path: Counter[str] = field(default_factory=Counter)  # 200s per path


class Server(ThreadingHTTPServer):
    """Serves a ``Site`` on 127.0.0.1, with a budget of requests over its lifetime."""

    daemon_threads = True

    def __init__(self, budget: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.site = Site()
        self.budget = budget
        self.served = 0
        self.tally = Tally()
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        """The site's root URL."""
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def start(self) -> None:
        """Serve from a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self._thread.join(5)
        self.server_close()

    def take(self) -> Tally:
        """The tally so far; counting starts again from zero."""
        with self.lock:
            tally, self.tally = self.tally, Tally()
        return tally


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the fetcher's connection pool expects
    server_version = "bench-fetch/1"
    timeout = 30  # an idle keep-alive connection's thread ends after this
    # Headers and body are two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK of the headers, 40 ms a response on Linux. Real servers don't.
    disable_nagle_algorithm = True
    server: Server
    _tags: ClassVar[re.Pattern[str]] = re.compile(r'(?:W/)?"[^"]*"|\*')

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.tally.connections += 1

    def do_GET(self) -> None:
        server = self.server
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        found = server.site.pages.get(path)
        with server.lock:
            server.served += 1
            over = server.served > server.budget
            tally = server.tally
            tally.requests += 1
            if over or found is None:
                tally.other += 1
            elif self._matches(found[1]):
                tally.not_modified += 1
            else:
                tally.bodies += 1
                tally.body_bytes += len(found[0])
                tally.by_path[path] += 1
        if over:
            self._send(503, b"over the request budget\n", "text/plain")
        elif found is None:
            self._send(404, b"not found\n", "text/plain")
        elif self._matches(found[1]):
            self.send_response(304)
            self.send_header("ETag", found[1])
            self.end_headers()
        else:
            self._send(200, found[0], "text/html; charset=utf-8", found[1])

    def _matches(self, etag: str) -> bool:
        header = self.headers.get("If-None-Match")
        if not header:
            return False
        tags = self._tags.findall(header)
        return "*" in tags or etag in (t.removeprefix("W/") for t in tags)

    def _send(self, status: int, body: bytes, content_type: str, etag: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # a line per request would be the benchmark's cost


# --- the child process ------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One ``seedfeed publish`` child: wall seconds, peak RSS in MB, its stderr."""

    seconds: float
    peak_mb: float
    stderr: str
    returncode: int


def run_child(argv: Sequence[str | Path], timeout: float) -> Run:
    """Run ``argv`` to its end (killed after ``timeout`` seconds); time and peak RSS.

    ``os.wait4`` gives the resource usage of that one child: ``ru_maxrss`` is its peak.
    """
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=errors, stderr=errors
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KB on Linux
    return Run(seconds, usage.ru_maxrss * scale / 1e6, stderr, proc.returncode)


_SOURCES_LINE = re.compile(
    r"sources: (?P<sources>\d+); (?P<fetched>\d+) documents and (?P<pages>\d+) article pages"
    r" fetched, (?P<not_modified>\d+) not modified, (?P<failed>\d+) failed;"
    r" (?P<new>\d+) new and (?P<updated>\d+) updated entries"
)
_PUBLISHED_LINE = re.compile(r"published (?P<entries>[\d,]+) (?:entries|articles?)\b")


def summary(stderr: str) -> dict[str, int]:
    """The counts of the publish summary lines (empty when they are missing)."""
    counts: dict[str, int] = {}
    for pattern in (_SOURCES_LINE, _PUBLISHED_LINE):
        if match := pattern.search(stderr):
            counts.update({k: int(v.replace(",", "")) for k, v in match.groupdict().items()})
    return counts


def make_project(
    root: Path, site: Site, base: str, per_listing: int, fetch_options: dict[str, int]
) -> Path:
    """A project publishing every listing of ``site``; returns its config file."""
    max_entries = max(1, min(len(site.articles), 10_000))
    fetch = "".join(f"{k} = {v}\n" for k, v in fetch_options.items())
    config = root / "config.toml"
    config.write_text(
        f'[site]\ntitle = "Fetch bench"\nbase_url = "http://feeds.bench.test/"\n\n'
        f"[publish]\nmax_entries = {max_entries}\n\n[fetch]\nallow_private = true\n{fetch}",
        encoding="utf-8",
    )
    (root / "seeds").mkdir()
    (root / "sources").mkdir()
    for number, path in enumerate(site.listings, 1):
        (root / "sources" / f"section-{number:03d}.toml").write_text(
            f'url = "{base}{path.lstrip("/")}"\nkind = "listing"\nlimit = {per_listing}\n',
            encoding="utf-8",
        )
    return config


def feed_mtimes(project: Path) -> dict[str, int]:
    """The mtime (ns) of every file in ``project/feeds``."""
    folder = project / "feeds"
    return (
        {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())} if folder.exists() else {}
    )


# --- in-process measurements -------------------------------------------------------------


def extraction_ms(site: Site, base: str) -> tuple[float, list[float]]:
    """Milliseconds of ``article_from_html`` + ``to_entry`` for the first call (imports
    included) and for every article page after it."""
    from seedfeed.normalize import to_entry
    from seedfeed.web.extract import article_from_html

    first_seen = datetime.now(UTC).replace(microsecond=0)
    times: list[float] = []
    first = 0.0
    for n, path in enumerate([site.articles[0], *site.articles]):
        url = base + path.lstrip("/")
        html = site.pages[path][0].decode("utf-8")
        started = time.perf_counter()
        entry, _ = to_entry(article_from_html(html, origin=url, url=url), first_seen)
        elapsed = (time.perf_counter() - started) * 1000
        if not entry.content_html:
            raise RuntimeError(f"{url}: no content extracted")
        if n == 0:
            first = elapsed
        else:
            times.append(elapsed)
    return first, times


def fetch_only(site: Site, base: str, **options: int) -> tuple[float, int]:
    """Seconds to fetch every article with ``Fetcher.fetch_many``, and the failures."""
    from seedfeed.web.fetch import Fetcher, FetchError, FetchSettings

    jobs = [(path, base + path.lstrip("/"), None) for path in site.articles]
    started = time.perf_counter()
    failures = 0
    with Fetcher(FetchSettings(allow_private=True, **options)) as fetcher:
        for _, outcome in fetcher.fetch_many(jobs):
            failures += isinstance(outcome, FetchError)
    return time.perf_counter() - started, failures


# --- the report ---------------------------------------------------------------------------


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, or "?"."""
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _target(name: str, ok: bool, value: str) -> str:
    return f"  [{'PASS' if ok else 'FAIL'}] {name}: {value}"


def _counts(c: dict[str, int]) -> str:
    if not c:
        return "(no summary line)"
    return (
        f"sources {c.get('sources')}, fetched {c.get('fetched')} + {c.get('pages')} pages,"
        f" not modified"
        f" {c.get('not_modified')}, failed {c.get('failed')}, new {c.get('new')},"
        f" updated {c.get('updated')}; published {c.get('entries')}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line; returns 1 when a correctness check failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="article pages (default 1000)")
    parser.add_argument(
        "--per-listing", type=int, default=50, help="links per listing page (default 50)"
    )
    parser.add_argument("--concurrency", type=int, help="[fetch] concurrency (default: seedfeed's)")
    parser.add_argument("--per-host", type=int, help="[fetch] per_host (default: seedfeed's)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="kill a publish after this many s (600)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.pages <= 100_000:
        parser.error("--pages must be between 1 and 100000")
    if not 1 <= args.per_listing <= 500:
        parser.error("--per-listing must be between 1 and 500 (a source's limit)")
    if not SEEDFEED.exists():
        parser.error(f"{SEEDFEED} not found: install seedfeed in this interpreter's venv")
    fetch_options = {
        k: v
        for k, v in (("concurrency", args.concurrency), ("per_host", args.per_host))
        if v is not None
    }

    from seedfeed.web.fetch import FetchSettings

    settings = FetchSettings(allow_private=True, **fetch_options)
    version, load = code_version(), load_average()
    listings = math.ceil(args.pages / args.per_listing)
    # Every request the benchmark should make, four times over: a runaway loop stops here.
    server = Server(budget=4 * (3 * (args.pages + listings) + 2 * args.pages) + 100)
    base = server.base
    t0 = time.perf_counter()
    server.site = site = build_site(args.pages, args.per_listing, base)
    sizes = [len(site.pages[p][0]) for p in site.articles]
    _say(
        f"site: {args.pages:,} articles ({min(sizes) / 1e3:.1f}-{max(sizes) / 1e3:.1f} KB,"
        f" median {statistics.median(sizes) / 1e3:.1f} KB) and {listings} listings generated"
        f" in {time.perf_counter() - t0:.1f} s; serving at {base}"
    )
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="seedfeed-bench-fetch-") as tmp:
            project = Path(tmp)
            config = make_project(project, site, base, args.per_listing, fetch_options)
            argv_publish = [SEEDFEED, "publish", "-c", config]

            first = run_child(argv_publish, args.timeout)
            first_tally = server.take()
            _say(f"first run: {first.seconds:.2f} s, exit {first.returncode}")
            mtimes = feed_mtimes(project)
            second = run_child(argv_publish, args.timeout)
            second_tally = server.take()
            _say(f"second run: {second.seconds:.2f} s, exit {second.returncode}")
            feeds_untouched = bool(mtimes) and feed_mtimes(project) == mtimes

        first_counts, second_counts = summary(first.stderr), summary(second.stderr)
        _say("measuring extraction in-process ...")
        first_call_ms, ms = extraction_ms(site, base)
        _say("measuring fetch alone in-process ...")
        fetch_default = fetch_only(site, base, **fetch_options)
        fetch_wide = fetch_only(site, base, concurrency=8, per_host=8)
        server.take()
    finally:
        server.stop()

    twice = sorted(p for p, n in first_tally.by_path.items() if n > 1)
    missing = [p for p in site.articles if not first_tally.by_path[p]]
    warnings_first = [line for line in first.stderr.splitlines() if line.startswith("warning")]
    fetched_pages = first_tally.bodies
    if code_version() != version:
        version += f" -> {code_version()} (SOURCES CHANGED DURING THE RUN)"

    lines = [
        f"seedfeed fetch benchmark: seedfeed {version}; python {sys.version.split()[0]},"
        f" {os.cpu_count()} CPUs; load average {load} -> {load_average()}"
        " (other work on the machine skews times)",
        f"site: {args.pages:,} article pages ({min(sizes) / 1e3:.1f}-{max(sizes) / 1e3:.1f} KB,"
        f" median {statistics.median(sizes) / 1e3:.1f} KB), {listings} listing sources of"
        f" {args.per_listing} links; 127.0.0.1, HTTP/1.1 keep-alive, ETag, no compression",
        f"fetch settings: concurrency {settings.concurrency}, per_host {settings.per_host}"
        " (one host: per_host bounds the requests in flight)",
        "wall seconds of `seedfeed publish` in a child process, interpreter start included;"
        " rss = its ru_maxrss",
        "",
        f"{'run':<8} {'wall s':>7} {'pages/s':>8} {'conns':>6} {'requests':>9} {'200':>6}"
        f" {'304':>6} {'body MB':>8} {'rss MB':>7}  publish summary line",
    ]
    for name, run, tally in (("first", first, first_tally), ("second", second, second_tally)):
        lines.append(
            f"{name:<8} {run.seconds:>7.2f} {tally.bodies / run.seconds:>8.1f}"
            f" {tally.connections:>6,} {tally.requests:>9,} {tally.bodies:>6,}"
            f" {tally.not_modified:>6,}"
            f" {tally.body_bytes / 1e6:>8.2f} {run.peak_mb:>7.0f}  {_counts(summary(run.stderr))}"
        )
    median, p95 = statistics.median(ms), percentile(ms, 95)
    lines += [
        "",
        f"extraction (article_from_html + to_entry, in-process, {len(ms):,} pages): median"
        f" {median:.1f} ms, p95 {p95:.1f} ms, max {max(ms):.1f} ms, total {sum(ms) / 1e3:.2f} s;"
        f" first call {first_call_ms:.0f} ms (imports)",
        f"fetch alone (Fetcher.fetch_many, in-process, {args.pages:,} articles):"
        f" {args.pages / fetch_default[0]:.0f} pages/s at per_host {settings.per_host}"
        f" ({fetch_default[0]:.2f} s, {fetch_default[1]} failed),"
        f" {args.pages / fetch_wide[0]:.0f} pages/s at per_host 8"
        f" ({fetch_wide[0]:.2f} s, {fetch_wide[1]} failed)",
        f"first run: {len(warnings_first)} warning line(s)"
        + (f", e.g. {warnings_first[0]!r}" if warnings_first else ""),
    ]

    expected_first = args.pages + listings
    checks = [
        (
            "publish exits 0 (both runs)",
            first.returncode == 0 and second.returncode == 0,
            f"{first.returncode}, {second.returncode}",
        ),
        (
            "first run fetches every listing and every article exactly once",
            fetched_pages == expected_first and not twice and not missing,
            f"{fetched_pages:,} bodies for {expected_first:,} pages; {len(twice)} fetched twice,"
            f" {len(missing)} never" + (f" (e.g. {twice[0]})" if twice else ""),
        ),
        (
            "first run publishes every article",
            first_counts.get("new") == args.pages
            and first_counts.get("pages") == args.pages
            and first_counts.get("entries") == args.pages,
            f"{first_counts.get('new')} new, {first_counts.get('entries')} published",
        ),
        (
            "summary line: fetched + not modified + failed = listing URLs",
            sum(first_counts.get(k, -1) for k in ("fetched", "not_modified", "failed")) == listings,
            f"{_counts(first_counts)} for {listings} listings",
        ),
        (
            "second run: every listing answered 304, the server sent NO body",
            second_tally.bodies == 0
            and second_tally.body_bytes == 0
            and second_tally.not_modified == listings
            and second_tally.requests == listings,
            f"{second_tally.requests} requests, {second_tally.not_modified} x 304,"
            f" {second_tally.bodies} bodies, {second_tally.body_bytes} body bytes",
        ),
        (
            "second run: summary says all not modified, nothing new",
            second_counts.get("not_modified") == listings
            and second_counts.get("new") == 0
            and second_counts.get("updated") == 0,
            _counts(second_counts),
        ),
        ("second run leaves the feed files alone", feeds_untouched, _yes(feeds_untouched)),
    ]
    speed = [
        (
            f"first run >= {FIRST_RUN_PAGES_PER_S:g} pages/s",
            fetched_pages / first.seconds >= FIRST_RUN_PAGES_PER_S,
            f"{fetched_pages / first.seconds:.1f} pages/s",
        ),
        (
            f"second run < {SECOND_RUN_SECONDS:g} s",
            second.seconds < SECOND_RUN_SECONDS,
            f"{second.seconds:.2f} s",
        ),
        (f"extraction p95 < {EXTRACT_P95_MS:g} ms", p95 < EXTRACT_P95_MS, f"{p95:.1f} ms"),
        (
            f"first run peak RSS < {PEAK_RSS_MB:g} MB",
            first.peak_mb < PEAK_RSS_MB,
            f"{first.peak_mb:.0f} MB",
        ),
    ]
    lines += ["", "checks:", *(_target(*c) for c in checks), "", "targets:"]
    if args.pages == 1000:
        lines += [_target(*t) for t in speed]
    else:
        lines.append("  (set for --pages 1000: not checked)")
    print("\n".join(lines))
    if first.returncode or second.returncode:
        _say(f"--- first run stderr (tail) ---\n{first.stderr[-2000:]}")
        _say(f"--- second run stderr (tail) ---\n{second.stderr[-2000:]}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


if __name__ == "__main__":
    sys.exit(main())
