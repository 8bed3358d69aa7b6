"""Measure main-text extractors on generated article pages whose main text is known.

Sixty pages (six of each of ten layouts) are generated from ``random.Random(index)``: the
same code gives the same bytes. Every page wraps one article in the boilerplate of real
sites: navigation, a header with a search form, cookie banners, sidebars with link lists,
share bars, ads and sponsored blocks, related-article teasers, comments, author boxes,
footers, scripts, styles, JSON-LD. The layouts:

* ``news-article``: semantic ``<article>``, ``<aside>``, ``<nav>``, ``<footer>``;
* ``news-div``: the same news page built from ``<div>``s only (no ``<article>``);
* ``blog-post-body``: WordPress-like, text in ``<div class="post-body">``, comments;
* ``blog-paged``: Blogger-like, "Pages: 1 2 3", newer/older links, archive widgets;
* ``br-text``: no ``<p>`` at all, paragraphs separated by ``<br><br>``;
* ``short``: one or two short paragraphs inside full site chrome;
* ``main-ads``: ``<main>`` with ads, "Read more" links and a newsletter box in the text;
* ``teaser-first``: a strip of ``<article class="card">`` teasers before the story;
* ``table-layout``: a legacy page laid out with nested tables;
* ``app-shell``: ``<div id="root">`` of data attributes, big inline scripts, SVG icons.

The ground truth is the article's own text: headings inside the body, paragraphs, list
items, quotes and figure captions; not the title, byline or date (a feed reader shows
those from the entry's metadata). Each extractor's output is reduced to plain text and
scored by token-level precision, recall and F1 (bags of lower-cased ``\\w+`` tokens),
averaged over pages; time is per page, the best of ``--repeat`` runs.

Candidates are measured when installed: the old bs4 heuristic and what ``seedfeed``
ships always; readability-lxml (``pip install readability-lxml``, the extractor before);
trafilatura in several configurations. Generated pages flatter: they ranked readability
first, real pages reverse that.

With ``../shared/extract-dev`` beside the clone, two public sets of real pages are scored
too, one line each (``real_pages.py``): the trafilatura evaluation set (snippet F1, their
scorer) and Mozilla Readability's test pages (title, author, published day, body F1
against Readability.js), with the median milliseconds per page of extraction and
normalization. ``--real-only`` skips the generated pages; ``--real seedfeed trafilatura
readability-lxml`` compares; ``--misses`` lists what each page missed.

Usage: ``python bench/bench_extract.py [--repeat 3] [--by-layout] [--show NAME] [--real-only]
[--real NAME ...] [--jobs N] [--misses]``
"""

from __future__ import annotations

import argparse
import hashlib
import html
import importlib.util
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bs4 import BeautifulSoup

LAYOUTS = (
    "news-article",
    "news-div",
    "blog-post-body",
    "blog-paged",
    "br-text",
    "short",
    "main-ads",
    "teaser-first",
    "table-layout",
    "app-shell",
)
PAGES_PER_LAYOUT = 6

FIRST = ("Ann", "Barak", "Chloé", "Dev", "Erica", "Felix", "Hana", "Ivan", "Jonah", "Kia")
LAST = ("Lee", "Ravid", "Okafor", "Marín", "Nguyen", "Walsh", "Kaplan", "Basu", "Reed")
SUBJECTS = (
    "The city council", "Federal regulators", "The company", "Researchers at the university",
    "State officials", "The central bank", "Local residents", "Two senior diplomats",
    "The health ministry", "Union leaders", "The school board", "Several investors",
)  # fmt: skip
VERBS = (
    "approved", "delayed", "rejected", "announced", "questioned", "defended", "expanded",
    "reviewed", "postponed", "welcomed", "criticized", "outlined",
)  # fmt: skip
OBJECTS = (
    "a plan to rebuild the harbor", "new rules for rental housing", "the budget proposal",
    "a study of air quality", "the merger with a regional rival", "a tax on sugary drinks",
    "changes to the bus network", "a ban on short-term leases", "the water treatment plant",
    "a pilot program for electric buses", "the contract with the port operator",
)  # fmt: skip
WHENS = (
    "on Tuesday", "last week", "after months of debate", "earlier this year",
    "despite strong opposition", "in a closed session", "ahead of the winter",
)  # fmt: skip
CLAUSES = (
    "which critics say will raise costs for families",
    "a decision that surprised many observers",
    "although the details remain unclear",
    "according to documents reviewed by reporters",
    "while the opposition called for more time",
    "even as prices continued to climb",
    "and the vote is expected next month",
    "because the previous plan had run out of money",
)  # fmt: skip
NOUNS = (
    "harbor", "budget", "housing", "transit", "schools", "water", "energy", "taxes",
    "elections", "hospitals", "parks", "bridges", "wages", "rents", "libraries",
)  # fmt: skip
SECTIONS = ("World", "Politics", "Business", "Tech", "Science", "Health", "Culture")

Block = tuple[str, str]  # (kind, html) with kind in p, h2, h3, ul, ol, quote, figure, img


@dataclass
class Page:
    """One generated page and the text an ideal extractor returns for it."""

    name: str
    layout: str
    url: str
    html: str
    truth: str


@dataclass
class Result:
    """Scores and timings of one extractor over all pages."""

    name: str
    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    empty: int = 0
    layouts: list[str] = field(default_factory=list)


# --- text -------------------------------------------------------------------------------


class Writer:
    """Deterministic text in the shape of news copy and site chrome."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def name(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def sentence(self) -> str:
        r = self.rng
        shape = r.randrange(4)
        if shape == 0:
            text = f"{r.choice(SUBJECTS)} {r.choice(VERBS)} {r.choice(OBJECTS)} {r.choice(WHENS)}"
        elif shape == 1:
            text = (
                f"{r.choice(SUBJECTS)} {r.choice(VERBS)} {r.choice(OBJECTS)}, {r.choice(CLAUSES)}"
            )
        elif shape == 2:
            text = (
                f"The debate over {r.choice(NOUNS)} and {r.choice(NOUNS)} has shaped the "
                f"campaign {r.choice(WHENS)}, {r.choice(CLAUSES)}"
            )
        else:
            text = (
                f"\u201cWe have {r.choice(VERBS)} {r.choice(OBJECTS)},\u201d said "
                f"{self.name()}, who has followed the {r.choice(NOUNS)} file for years"
            )
        return text + "."

    def paragraph(self, low: int = 2, high: int = 5) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(low, high)))

    def headline(self) -> str:
        r = self.rng
        return f"{r.choice(SUBJECTS)} {r.choice(VERBS)} {r.choice(OBJECTS)}"

    def slug(self, text: str) -> str:
        return "-".join(re.findall(r"[a-z0-9]+", text.lower())[:7])


def _text(fragment: str) -> str:
    """Plain text of an HTML fragment, blocks separated by spaces."""
    if not fragment:
        return ""
    return BeautifulSoup(fragment, "lxml").get_text(" ")


def tokens(text: str) -> Counter[str]:
    """The bag of lower-cased word tokens of ``text``."""
    return Counter(re.findall(r"\w+", text.lower()))


def score(extracted: str, truth: str) -> tuple[float, float, float]:
    """Token-level precision, recall and F1 of ``extracted`` against ``truth``."""
    got, want = tokens(extracted), tokens(truth)
    common = sum((got & want).values())
    precision = common / sum(got.values()) if got else 0.0
    recall = common / sum(want.values()) if want else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# --- the article body --------------------------------------------------------------------


def body_blocks(w: Writer, short: bool = False) -> list[Block]:
    """The article's own blocks: paragraphs with inline links, subheads, lists, figures."""
    r = w.rng
    if short:
        return [("p", html.escape(w.sentence())) for _ in range(r.randint(1, 2))]
    blocks: list[Block] = []
    for i in range(r.randint(6, 14)):
        roll = r.random()
        if i and roll < 0.12:
            blocks.append(("h2", html.escape(w.headline())))
        elif i and roll < 0.2:
            items = "".join(f"<li>{html.escape(w.sentence())}</li>" for _ in range(3))
            blocks.append(("ul" if r.random() < 0.7 else "ol", items))
        elif i and roll < 0.26:
            blocks.append(("quote", html.escape(w.sentence())))
        elif roll < 0.34:
            caption = f"{w.sentence()} Photo: {w.name()}"
            blocks.append(("figure", html.escape(caption)))
        else:
            text = html.escape(w.paragraph())
            if r.random() < 0.5:  # an inline link on a few words, as editors do
                words = text.split(" ")
                at = r.randrange(max(1, len(words) - 3))
                href = f"/{r.choice(SECTIONS).lower()}/{w.slug(w.headline())}"
                words[at] = f'<a href="{href}">{words[at]}'
                words[at + 2] = f"{words[at + 2]}</a>"
                text = " ".join(words)
            if r.random() < 0.3:
                text = text.replace(" the ", " <em>the</em> ", 1)
            blocks.append(("p", text))
            if r.random() < 0.08:
                blocks.append(("img", ""))
    return blocks


def render_blocks(w: Writer, blocks: list[Block], br_text: bool = False) -> str:
    """Blocks as HTML: ``<p>`` and friends, or text runs split by ``<br><br>``."""
    out = []
    for kind, inner in blocks:
        img = f'<img src="/media/{w.rng.getrandbits(32):08x}.jpg" alt="" width="800">'
        if kind == "figure":
            out.append(f"<figure>{img}<figcaption>{inner}</figcaption></figure>")
        elif kind == "img":
            out.append(f"<p>{img}</p>" if not br_text else img)
        elif br_text:
            if kind in ("ul", "ol"):
                inner = "<br>".join("\u2022 " + li for li in re.findall(r"<li>(.*?)</li>", inner))
            elif kind.startswith("h"):
                inner = f"<b>{inner}</b>"
            out.append(inner)
        elif kind == "quote":
            out.append(f"<blockquote><p>{inner}</p></blockquote>")
        elif kind in ("ul", "ol"):
            out.append(f"<{kind}>{inner}</{kind}>")
        else:
            out.append(f"<{kind}>{inner}</{kind}>")
    return ("\n<br><br>\n" if br_text else "\n").join(out)


def truth_of(blocks: list[Block]) -> str:
    """The ground-truth text of the article's blocks."""
    return "\n".join(_text(inner) for _, inner in blocks if inner)


# --- site chrome -------------------------------------------------------------------------


def nav(w: Writer, semantic: bool = True) -> str:
    links = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in SECTIONS)
    links += '<li><a href="/newsletters">Newsletters</a></li><li><a href="/login">Sign in</a></li>'
    if semantic:
        return f'<nav class="site-nav"><ul>{links}</ul></nav>'
    return f'<div class="menu" id="topmenu"><ul class="menu-items">{links}</ul></div>'


def header(w: Writer, semantic: bool = True) -> str:
    inner = (
        '<a class="logo" href="/"><img src="/logo.svg" alt="The Daily Example"></a>'
        '<form action="/search"><input name="q" placeholder="Search"><button>Go</button></form>'
        f'<span class="date">Tuesday, April {w.rng.randint(1, 28)}, 2021</span>'
        '<a class="subscribe" href="/subscribe">Subscribe for $1 a week</a>'
    )
    tag = "header" if semantic else "div"
    return f'<{tag} class="masthead">{inner}{nav(w, semantic)}</{tag}>'


def cookie_banner(w: Writer) -> str:
    return (
        '<div id="cookie-consent" class="cookie-banner" role="dialog"><p>We use cookies and '
        "similar technologies to personalise content and ads, to provide social media "
        "features and to analyse our traffic. We also share information about your use of "
        "our site with our social media, advertising and analytics partners. By clicking "
        "Accept all you agree to the storing of cookies on your device.</p>"
        '<button class="accept">Accept all</button><button>Manage preferences</button>'
        '<a href="/privacy">Privacy policy</a></div>'
    )


def link_list(w: Writer, title: str, n: int, cls: str = "widget") -> str:
    items = "".join(
        f'<li><a href="/{w.slug(h)}">{html.escape(h)}</a></li>'
        for h in (w.headline() for _ in range(n))
    )
    return f'<div class="{cls}"><h3>{title}</h3><ol>{items}</ol></div>'


def sidebar(w: Writer, semantic: bool = True) -> str:
    newsletter = (
        '<div class="widget newsletter"><h3>Get the morning briefing</h3><p>The most '
        "important stories of the day, delivered to your inbox every morning. Free for "
        'subscribers.</p><form><input type="email" placeholder="Email"><button>Sign up'
        "</button></form></div>"
    )
    tags = " ".join(f'<a href="/tag/{n}">{n}</a>' for n in w.rng.sample(NOUNS, 8))
    inner = (
        link_list(w, "Most read", 5)
        + newsletter
        + f'<div class="widget tags"><h3>Topics</h3>{tags}</div>'
    )
    tag = "aside" if semantic else "div"
    return f'<{tag} class="sidebar" id="sidebar">{inner}</{tag}>'


def share_bar() -> str:
    return (
        '<div class="share"><a href="https://facebook.com/share">Share on Facebook</a>'
        '<a href="https://twitter.com/intent">Share on Twitter</a>'
        '<a href="mailto:?subject=x">Email</a><button>Copy link</button></div>'
    )


def ad_slot(w: Writer) -> str:
    return (
        f'<div class="ad ad-slot" id="div-gpt-ad-{w.rng.randrange(10**6)}">'
        "<span>Advertisement</span><div></div></div>"
    )


def sponsored(w: Writer) -> str:
    items = "".join(
        f'<div class="ob-item"><a href="https://ads.example/{i}">{html.escape(w.headline())}'
        f"</a><span>Sponsored by Brand {i}</span></div>"
        for i in range(4)
    )
    return f'<div class="OUTBRAIN sponsored"><h4>Around the web</h4>{items}</div>'


def related(w: Writer, semantic: bool = True) -> str:
    cards = []
    for _ in range(w.rng.randint(3, 5)):
        h = w.headline()
        teaser = w.sentence()
        cards.append(
            f'<li class="teaser"><a href="/{w.slug(h)}"><h4>{html.escape(h)}</h4></a>'
            f"<p>{html.escape(teaser)}</p></li>"
        )
    tag = "section" if semantic else "div"
    return f'<{tag} class="related"><h3>Related stories</h3><ul>{"".join(cards)}</ul></{tag}>'


def comments(w: Writer) -> str:
    items = []
    for _ in range(w.rng.randint(3, 7)):
        items.append(
            f'<li class="comment"><div class="comment-author">{w.name()} says:</div>'
            f'<div class="comment-meta"><a href="#c">{w.rng.randint(2, 9)} hours ago</a></div>'
            f'<div class="comment-content"><p>{html.escape(w.paragraph(1, 3))}</p></div>'
            '<a class="reply" href="#reply">Reply</a></li>'
        )
    form = (
        '<div id="respond"><h3>Leave a Reply</h3><form><textarea name="comment"></textarea>'
        "<p>Your email address will not be published. Required fields are marked *</p>"
        "<button>Post Comment</button></form></div>"
    )
    return (
        f'<div id="comments" class="comments-area"><h2>{len(items)} thoughts on this story'
        f'</h2><ol class="commentlist">{"".join(items)}</ol>{form}</div>'
    )


def author_box(w: Writer, name: str) -> str:
    return (
        f'<div class="author-bio"><img src="/authors/x.jpg" alt=""><p>{name} covers '
        "city hall and regional politics. Previously at the Morning Ledger. Send tips to "
        'tips@example.com.</p><a href="/authors/x">More by this author</a></div>'
    )


def footer(w: Writer, semantic: bool = True) -> str:
    links = " | ".join(
        f'<a href="/{s.lower().replace(" ", "-")}">{s}</a>'
        for s in ("About us", "Contact", "Careers", "Privacy policy", "Terms of use",
                  "Cookie settings", "Accessibility", "Advertise")
    )  # fmt: skip
    inner = (
        f"<div>{links}</div><p>\u00a9 2021 Example Media Inc. All rights reserved. "
        "Reproduction in whole or in part without permission is prohibited.</p>"
    )
    tag = "footer" if semantic else "div"
    return f'<{tag} id="footer" class="site-footer">{inner}</{tag}>'


def scripts(w: Writer) -> str:
    return (
        "<script>window.dataLayer = window.dataLayer || []; dataLayer.push({'event': "
        "'pageview', 'section': 'news', 'message': 'Thanks for reading our journalism'});"
        '</script><script src="/static/app.js" async></script>'
        '<noscript><img src="/pixel.gif" alt="">Please enable JavaScript to view the '
        "comments.</noscript>"
    )


def head(w: Writer, title: str, url: str, author: str, with_ld: bool, body: str = "") -> str:
    ld = ""
    if with_ld:
        data = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "author": [{"@type": "Person", "name": author}],
            "datePublished": "2021-04-13T09:00:00Z",
            "mainEntityOfPage": url,
        }
        if body:
            data["articleBody"] = body
        ld = f'<script type="application/ld+json">{json.dumps(data)}</script>'
    return (
        f'<head><meta charset="utf-8"><title>{html.escape(title)} | The Daily Example</title>'
        f'<meta property="og:title" content="{html.escape(title)}">'
        f'<meta name="author" content="{author}"><link rel="canonical" href="{url}">'
        "<style>.ad{min-height:250px}.cookie-banner{position:fixed;bottom:0}</style>"
        f"{ld}</head>"
    )


def obfuscate(fragment: str) -> str:
    """Replace every class and id with a hash, as CSS-in-JS sites do."""

    def hashed(match: re.Match[str]) -> str:
        digest = hashlib.blake2b(match.group(2).encode(), digest_size=3).hexdigest()
        return f"{match.group(1)}='css-{digest}'"

    return re.sub(r"""\b(class|id)=['"]([^'"]*)['"]""", hashed, fragment)


def byline(author: str) -> str:
    return (
        f'<div class="byline">By <a href="/authors/x" rel="author">{author}</a> '
        '<time datetime="2021-04-13T09:00:00Z">April 13, 2021</time></div>'
    )


# --- layouts -----------------------------------------------------------------------------


def make_page(index: int) -> Page:
    """The page number ``index``: its layout is ``LAYOUTS[index % len(LAYOUTS)]``."""
    layout = LAYOUTS[index % len(LAYOUTS)]
    w = Writer(index)
    r = w.rng
    title = w.headline()
    author = w.name()
    url = f"https://news.example.com/{r.choice(SECTIONS).lower()}/{w.slug(title)}"
    blocks = body_blocks(w, short=layout == "short")
    truth = truth_of(blocks)
    body_html = render_blocks(w, blocks, br_text=layout == "br-text")
    h1 = f"<h1>{html.escape(title)}</h1>"
    cookie = cookie_banner(w) if r.random() < 0.7 else ""
    with_ld = r.random() < 0.6

    if layout in ("news-article", "short"):
        story = f"<article>{h1}{byline(author)}{share_bar()}{body_html}</article>"
        page = (
            f"{cookie}{header(w)}<div class='container'><main>{story}{related(w)}</main>"
            f"{sidebar(w)}</div>{footer(w)}"
        )
    elif layout == "news-div":
        story = (
            f'<div class="story-header">{h1}{byline(author)}</div>{share_bar()}'
            f'<div id="story" class="story-body">{body_html}</div>'
        )
        page = (
            f"{header(w, False)}{cookie}<div class='wrapper'><div class='col-main'>{story}"
            f"{related(w, False)}{sponsored(w)}</div>{sidebar(w, False)}</div>"
            f"{footer(w, False)}"
        )
    elif layout == "blog-post-body":
        post = (
            f'<div class="post hentry"><h1 class="entry-title">{html.escape(title)}</h1>'
            f'<div class="post-meta">Posted by {author} in <a href="/c/x">Uncategorized</a>'
            f'</div><div class="post-body entry-content">{body_html}</div>'
            f'<div class="post-footer">Tags: <a href="/t/a">harbor</a>, <a href="/t/b">city</a>'
            f"</div>{author_box(w, author)}</div>"
        )
        page = (
            f"{header(w, False)}<div id='content'>{post}{comments(w)}</div>"
            f"{sidebar(w, False)}{footer(w, False)}{cookie}"
        )
    elif layout == "blog-paged":
        pages = " ".join(f'<a href="?page={i}">{i}</a>' for i in range(2, 5))
        post = (
            f'<div class="date-outer"><h2 class="date-header"><span>Tuesday, April 13, 2021'
            f'</span></h2><div class="post-outer"><div class="post">'
            f'<h3 class="post-title">{html.escape(title)}</h3>'
            f'<div class="post-body entry-content">{body_html}</div>'
            f'<div class="page-links">Pages: <span>1</span> {pages} '
            f'<a href="?page=2">Next \u00bb</a></div>'
            f'<div class="post-footer">Posted by {author} at 9:00 AM '
            f'<a href="#comments">{r.randint(0, 9)} comments</a></div></div></div></div>'
            '<div class="blog-pager"><a href="/newer">Newer Post</a> <a href="/">Home</a> '
            '<a href="/older">Older Post</a></div>'
        )
        archive = "".join(
            f'<li><a href="/2021/{m:02d}">{m:02d}/2021</a> ({r.randint(1, 30)})</li>'
            for m in range(12, 0, -1)
        )
        side = (
            f'<div class="sidebar-wrapper">{link_list(w, "Popular Posts", 6)}'
            f'<div class="widget"><h2>Blog Archive</h2><ul>{archive}</ul></div>'
            f'<div class="widget"><h2>About Me</h2><p>{author}. Writer, walker, '
            "occasional gardener. Opinions are my own.</p></div></div>"
        )
        page = f"{cookie}<div class='outer'>{header(w, False)}<div>{post}</div>{side}</div>"
        page += f"{footer(w, False)}"
    elif layout == "br-text":
        story = (
            f"<div class='headline'>{h1}</div><div class='text' id='articleText'>{body_html}</div>"
        )
        page = (
            f"{cookie}{header(w, False)}<table width='100%'><tr><td>{story}</td>"
            f"<td width='200'>{link_list(w, 'Latest', 8)}</td></tr></table>{footer(w, False)}"
        )
    elif layout == "main-ads":
        parts = body_html.split("\n")
        mixed: list[str] = []
        for i, part in enumerate(parts):
            mixed.append(part)
            if i == 1:
                mixed.append(ad_slot(w))
            if i == 3:
                h = w.headline()
                mixed.append(
                    f'<div class="read-more"><strong>Read more:</strong> '
                    f'<a href="/{w.slug(h)}">{html.escape(h)}</a></div>'
                )
            if i == 5:
                mixed.append(
                    '<div class="inline-newsletter"><p>Sign up for our newsletter to get the '
                    "latest updates delivered straight to your inbox.</p><form><input>"
                    "<button>Subscribe</button></form></div>"
                )
        page = (
            f"{header(w)}<main id='main'>{h1}{byline(author)}<div class='article-content'>"
            f"{''.join(mixed)}</div>{ad_slot(w)}{sponsored(w)}</main>{footer(w)}{cookie}"
        )
    elif layout == "teaser-first":
        cards = "".join(
            f'<article class="card"><a href="/{w.slug(h)}"><h3>{html.escape(h)}</h3></a>'
            f"<p>{html.escape(w.sentence())}</p></article>"
            for h in (w.headline() for _ in range(4))
        )
        page = (
            f"{header(w)}<section class='trending'><h2>Trending now</h2>{cards}</section>"
            f"{cookie}<article class='story'>{h1}{byline(author)}{body_html}</article>"
            f"{related(w)}{footer(w)}"
        )
    elif layout == "table-layout":
        left = "".join(f'<a href="/{s.lower()}">{s}</a><br>' for s in SECTIONS)
        page = (
            "<table width='100%' border='0'><tr><td colspan='3'><img src='/banner.gif'>"
            f"</td></tr><tr><td width='150' valign='top'>{left}</td><td valign='top'>"
            f"<font face='Arial'><b>{html.escape(title)}</b><br>by {author}<br><br>"
            f"{body_html}</font></td><td width='160' valign='top'>"
            f"{link_list(w, 'Links', 6)}</td></tr><tr><td colspan='3'>{footer(w, False)}"
            "</td></tr></table>"
        )
    else:  # app-shell
        icons = '<svg viewBox="0 0 24 24"><path d="M0 0h24v24H0z"></path></svg>'
        state = json.dumps(
            {
                "user": None,
                "flags": {"paywall": True},
                "strings": {
                    "cta": "Subscribe now and get unlimited access to award winning journalism"
                },
            }
        )
        page = (
            f"<div id='root'><div data-component='Header'>{icons}{nav(w, False)}</div>"
            f"{cookie}<div data-component='ArticlePage'><div data-component='Headline'>{h1}"
            f"</div><div data-component='Byline'>{author}</div>"
            f"<div data-component='ArticleBody' class='css-1x9ab3'>{body_html}</div>"
            f"<div data-component='Recirculation'>{related(w, False)}</div></div>"
            f"<div data-component='Footer'>{footer(w, False)}</div></div>"
            f"<script>window.__INITIAL_STATE__ = {state};</script>"
        )
        page = obfuscate(page)  # CSS modules: no class or id says what a block is
    document = (
        f'<!doctype html><html lang="en">{head(w, title, url, author, with_ld)}'
        f"<body>{page}{scripts(w)}</body></html>"
    )
    return Page(f"{index:02d}-{layout}", layout, url, document, truth)


def make_pages(n: int = len(LAYOUTS) * PAGES_PER_LAYOUT) -> list[Page]:
    """``n`` pages, the same bytes on every run."""
    return [make_page(i) for i in range(n)]


# --- extractors --------------------------------------------------------------------------

Extractor = Callable[[Page], str]


def _heuristic(page: Page) -> str:
    from seedfeed.web.extract import _heuristic_html

    return _text(_heuristic_html(page.html))


def _seedfeed(page: Page) -> str:
    from seedfeed.web.extract import article_from_html

    return _text(article_from_html(page.html, origin=page.url, url=page.url).content_html)


def _readability() -> Extractor:
    def run(page: Page) -> str:
        from readability import Document

        return _text(Document(page.html, url=page.url).summary(html_partial=True))

    return run


def _trafilatura(**options: object) -> Extractor:
    def run(page: Page) -> str:
        import trafilatura

        out = trafilatura.extract(page.html, url=page.url, **options) or ""  # type: ignore[arg-type]
        if options.get("output_format", "txt") in ("html", "xml"):
            return _text(out)
        return out

    return run


def extractors() -> dict[str, Extractor]:
    """Every candidate that is installed, by the name printed in the table."""
    found: dict[str, Extractor] = {"bs4 heuristic (old)": _heuristic}
    if importlib.util.find_spec("readability"):
        found["readability-lxml"] = _readability()
    if importlib.util.find_spec("trafilatura"):
        html_opts = {"output_format": "html", "include_links": True, "include_images": True}
        found |= {
            "traf txt, defaults": _trafilatura(),
            "traf txt, no comments": _trafilatura(include_comments=False),
            "traf xml, no comments": _trafilatura(output_format="xml", include_comments=False),
            "traf html+links+img": _trafilatura(include_comments=False, **html_opts),
            "traf html, precision": _trafilatura(
                include_comments=False, favor_precision=True, **html_opts
            ),
            "traf html, recall": _trafilatura(
                include_comments=False, favor_recall=True, **html_opts
            ),
            "traf html, fast": _trafilatura(include_comments=False, fast=True, **html_opts),
        }
    found["seedfeed article_from_html"] = _seedfeed
    return found


def measure(name: str, run: Extractor, pages: list[Page], repeat: int) -> Result:
    """Score ``run`` on every page; time is the best of ``repeat`` calls per page."""
    result = Result(name)
    run(pages[0])  # imports and caches are not the extractor's per-page cost
    for page in pages:
        best = float("inf")
        out = ""
        for _ in range(repeat):
            start = time.perf_counter()
            out = run(page)
            best = min(best, time.perf_counter() - start)
        p, r, f = score(out, page.truth)
        result.precision.append(p)
        result.recall.append(r)
        result.f1.append(f)
        result.ms.append(best * 1000)
        result.layouts.append(page.layout)
        result.empty += not out.strip()
    return result


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


# --- real pages ----------------------------------------------------------------------------

# What the Readability test pages were saved from: they name no address of their own.
READABILITY_URL = "http://fakehost/test/page.html"


@dataclass(frozen=True)
class Extracted:
    """What one extractor made of a real page, and the milliseconds it took."""

    text: str
    title: str = ""
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    ms: float = 0.0


RealExtractor = Callable[[bytes, str], Extracted]


def _decoded(data: bytes) -> str:
    """The page as the fetcher decodes a body that came without a charset header."""
    from seedfeed.web.fetch import decode_body

    return decode_body(data, None)[0]


def seedfeed_real(data: bytes, url: str) -> Extracted:
    """What a feed shows of the page: ``article_from_html`` + ``to_entry``, timed."""
    from seedfeed.normalize import clean_text, html_to_plain, to_entry
    from seedfeed.web.extract import article_from_html

    html = _decoded(data)
    started = time.perf_counter()
    article = article_from_html(html, origin=url, url=url)
    entry, _ = to_entry(article, datetime(2000, 1, 1, tzinfo=UTC))
    ms = (time.perf_counter() - started) * 1000
    # The title the page gives (to_entry makes one from the text when it gives none).
    title = clean_text(article.title)
    return Extracted(html_to_plain(entry.content_html), title, entry.authors, article.published, ms)


def trafilatura_real(data: bytes, url: str) -> Extracted:
    """trafilatura as its own evaluation runs it (``fast=False``: with its fallbacks)."""
    import trafilatura

    html = _decoded(data)
    started = time.perf_counter()
    text = trafilatura.extract(
        html, url=url, fast=False, include_comments=False, include_tables=True,
        include_formatting=False,
    )  # fmt: skip
    return Extracted(text or "", ms=(time.perf_counter() - started) * 1000)


def readability_real(data: bytes, url: str) -> Extracted:
    """readability-lxml alone, on the whole page."""
    from readability import Document

    html = _decoded(data)
    started = time.perf_counter()
    doc = Document(html, url=url)
    text = _text(doc.summary(html_partial=True))
    return Extracted(text, doc.title(), ms=(time.perf_counter() - started) * 1000)


REAL_EXTRACTORS: dict[str, RealExtractor] = {
    "seedfeed": seedfeed_real,
    "trafilatura": trafilatura_real,
    "readability-lxml": readability_real,
}


def _run_real(job: tuple[str, bytes, str]) -> Extracted:
    name, data, url = job
    return REAL_EXTRACTORS[name](data, url)


def _map(name: str, jobs: list[tuple[bytes, str]], workers: int) -> list[Extracted]:
    tasks = [(name, data, url) for data, url in jobs]
    if workers <= 1:
        return [_run_real(t) for t in tasks]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(_run_real, tasks, chunksize=4)


def real_pages(names: list[str], workers: int, misses: bool) -> list[str]:
    """One line per set of real pages and extractor; ``[]`` without ``../shared``."""
    import real_pages as real

    snippet_cases, meta_cases = real.trafilatura_cases(), real.readability_cases()
    if snippet_cases is None or meta_cases is None:
        return [f"real pages: skipped ({real.DEV} not found)"]
    lines = []
    for name in names:
        snippets = real.Snippets()
        outs = _map(name, [(c.html, c.url) for c in snippet_cases], workers)
        for case, out in zip(snippet_cases, outs, strict=True):
            missed, unwanted = snippets.add(case, out.text)
            if misses and (missed or unwanted):
                print(f"  {case.name}: {missed} missed, {unwanted} unwanted")
        meta = real.MetaScore()
        meta_outs = _map(name, [(c.html, READABILITY_URL) for c in meta_cases], workers)
        for meta_case, out in zip(meta_cases, meta_outs, strict=True):
            meta.add(meta_case, out.title, list(out.authors), out.published, out.text)
        if misses:
            print("\n".join(f"  {m}" for m in meta.misses))
        ms = [o.ms for o in outs + meta_outs]
        lines.append(
            f"{name:17} trafilatura-eval ({len(snippet_cases)} pages): snippet F1 "
            f"{snippets.f1:.3f} (P {snippets.precision:.3f}, R {snippets.recall:.3f}); "
            f"median {statistics.median([o.ms for o in outs]):.1f} ms/page"
        )
        lines.append(
            f"{name:17} readability ({meta.pages} pages): title exact {meta.titles}/"
            f"{meta.pages} ({meta.titles_suffix} but for a site-name suffix), "
            f"author found {meta.authors}/{meta.with_byline}, published day "
            f"right {meta.days}/{meta.with_date}, body F1 {statistics.mean(meta.body_f1):.3f}; "
            f"median {statistics.median([o.ms for o in meta_outs]):.1f} ms/page"
        )
        lines.append(
            f"{name:17} both sets: median {statistics.median(ms):.1f} ms/page, p95 {p95(ms):.1f} ms"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--by-layout", action="store_true", help="F1 per layout too")
    parser.add_argument("--show", help="print each page's output of this extractor")
    parser.add_argument(
        "--real", nargs="*", default=["seedfeed"], choices=sorted(REAL_EXTRACTORS),
        help="extractors scored on the real pages of ../shared/extract-dev (default seedfeed)",
    )  # fmt: skip
    parser.add_argument("--real-only", action="store_true", help="skip the generated pages")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the real pages")
    parser.add_argument("--misses", action="store_true", help="print each real page's misses")
    args = parser.parse_args(argv)
    if args.real_only:
        print("\n".join(real_pages(args.real, args.jobs, args.misses)))
        return 0

    pages = make_pages()
    words = [sum(tokens(p.truth).values()) for p in pages]
    kb = [len(p.html.encode()) / 1024 for p in pages]
    print(
        f"{len(pages)} pages, {len(LAYOUTS)} layouts; truth {min(words)}-{max(words)} words "
        f"(median {statistics.median(words):.0f}); pages {min(kb):.0f}-{max(kb):.0f} KiB"
    )
    runners = extractors()
    if args.show:
        for page in pages:
            print(f"\n=== {page.name}\n{runners[args.show](page)}")
        return 0

    results = [measure(name, run, pages, args.repeat) for name, run in runners.items()]
    print(
        f"\n{'extractor':28} {'P':>6} {'R':>6} {'F1':>6} {'minF1':>6} {'empty':>5} "
        f"{'med ms':>7} {'p95 ms':>7}"
    )
    for res in results:
        print(
            f"{res.name:28} {statistics.mean(res.precision):6.3f} "
            f"{statistics.mean(res.recall):6.3f} {statistics.mean(res.f1):6.3f} "
            f"{min(res.f1):6.3f} {res.empty:5d} {statistics.median(res.ms):7.2f} "
            f"{p95(res.ms):7.2f}"
        )
    if args.by_layout:
        print(f"\nF1 by layout\n{'extractor':28} " + " ".join(f"{x[:8]:>8}" for x in LAYOUTS))
        for res in results:
            cells = []
            for layout in LAYOUTS:
                f1s = [f for f, la in zip(res.f1, res.layouts, strict=True) if la == layout]
                cells.append(f"{statistics.mean(f1s):8.3f}")
            print(f"{res.name:28} " + " ".join(cells))
    if args.real:
        print("\nreal pages (../shared/extract-dev)")
        print("\n".join(real_pages(args.real, args.jobs, args.misses)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
