"""Escaping end to end: whatever a seed holds, the published outputs hold no live markup.

A seed of any format (clipped text, Markdown with YAML, TOML or no front matter, HTML) with
hostile strings in any field (title, first paragraph, "Why it matters:", bullets, author,
tags, summary, link) goes through the whole publish (``publish(load_config(path))``); then
``escaping_check`` reads every output the way readers do (render.py's table: which field
carries text, which HTML) and finds nothing live. The words of the seed survive: a plain
token in the body is in the text of the entry's content, in every format alike.
"""

from __future__ import annotations

import json
import re
import tempfile
import tomllib
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from escaping_check import check_outputs, html_problems, html_text, text_problems
from helpers import NS, atom_entries, examples, make_project, rss_items, run_publish

# --- hostile strings -------------------------------------------------------------------

HOSTILE = (
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<script>",
    "&lt;img src=x onerror=alert(1)&gt;",
    "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;img src=x onerror=alert(1)&#x3E;",
    "]]>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<svg onload=alert(1)>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '"><img src=x onerror=alert(1)>',
    "'\"--><!--",
    "<!-- <script>alert(1)</script> -->",
    '<a href="javascript:alert(1)">click</a>',
    '<a href=" JaVaScRiPt:alert(1)">click</a>',
    '<a href="java&#x09;script:alert(1)">click</a>',
    '<a href="vbscript:msgbox(1)">click</a>',
    '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">click</a>',
    "[click](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[x]: javascript:alert(1)",
    "javascript:alert(1)",
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    "<details open ontoggle=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>@import 'https://evil.example/x.css';</style>",
    "<body onload=alert(1)>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<template><img src=x onerror=alert(1)></template>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
    "\u202e<script>alert(1)</script>",
    "\x00<scr\x00ipt>alert(1)</script>",
    "\u2028<img src=x onerror=alert(1)>\u2029",
    "\x0cform\x0bfeed\x85next\x1b[31m",
    "<plaintext>",
)
# Links for "Content retrieved from:", front matter and canonical tags.
HOSTILE_LINKS = (
    "javascript:alert(1)",
    "JAVASCRIPT:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    'https://ex.com/"><script>alert(1)</script>',
    "https://ex.com/a?utm_source=x&q=<img src=x onerror=alert(1)>",
    "https://ex.com/a#<img src=x onerror=alert(1)>",
    "https://ex.com/%3Cscript%3Ealert(1)%3C/script%3E",
    "https://u:p@ex.com/",
    "http://[::1",
    "//evil.example/x",
    "https://ex.com/ok",
)

# Characters that seeds really hold and the ones that break naive code (as in
# test_properties.py); control characters are few, or the seed reads as binary.
SPECIAL = (
    "\u00a0\u2022\u25e6\u2014\u201c\u201d\u2019\ufeff\u200b\u2028\u2029\u202e\x85"
    "\x00\x0c\x1b\x7f\ufffd\t :#-+*_`[]()!<>&;\"'/=\\"
)
chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL))
# A field: a hostile string, random text, or both run together.
field_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(chars, max_size=60),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(chars, max_size=20)), max_size=4).map(
        " ".join
    ),
)
tokens = st.from_regex(r"[a-z0-9]{6,10}", fullmatch=True).map(lambda s: f"tok{s}")
FORMATS = ("txt", "md-yaml", "md-toml", "md", "html-text", "html-markup")
ONE_LINE = re.compile(r"[\r\n]+")


def one_line(text: str) -> str:
    """A field as one line: a line break would change the seed's layout, not its text."""
    return ONE_LINE.sub(" ", text)


@dataclass(frozen=True)
class Fields:
    """What a seed says, in whichever format it is written."""

    title: str
    first: str
    why: str
    bullets: tuple[str, ...]
    author: str
    tags: tuple[str, ...]
    summary: str
    link: str

    def lines(self) -> Fields:
        return Fields(
            one_line(self.title),
            one_line(self.first),
            one_line(self.why),
            tuple(map(one_line, self.bullets)),
            one_line(self.author),
            tuple(map(one_line, self.tags)),
            one_line(self.summary),
            one_line(self.link),
        )


fields = st.builds(
    Fields,
    title=field_text,
    first=field_text,
    why=field_text,
    bullets=st.lists(field_text, max_size=3).map(tuple),
    author=field_text,
    tags=st.lists(field_text, max_size=3).map(tuple),
    summary=field_text,
    link=st.one_of(st.sampled_from(HOSTILE_LINKS), field_text),
).map(Fields.lines)


# --- seeds in every format ---------------------------------------------------------------


def clipped(f: Fields, token: str) -> str:
    """The clipped-article format; the token opens the first paragraph (a paragraph that
    starts with a lowercase word is never a header, byline or lead-in)."""
    parts = [f.title, f"Author: {f.author}\nTags: {', '.join(f.tags)}", f"{token} {f.first}"]
    parts.append(f"Why it matters: {f.why}")
    if f.bullets:
        parts.append("\n".join(f"\u2022 {b}" for b in f.bullets))
    parts.append(f"Content retrieved from: {f.link}")
    return "\n\n".join(parts) + "\n"


def markdown_body(f: Fields, token: str) -> str:
    """The token comes first: raw HTML is Markdown, and an unclosed ``<script>`` or
    ``<!--`` after it hides the rest of the page, as it would in a browser."""
    bullets = "".join(f"- {b}\n" for b in f.bullets)
    return f"{token} {f.first}\n\nWhy it matters: {f.why}\n\n{bullets}"


def yaml_front_matter(f: Fields) -> str:
    data = {
        "title": f.title,
        "author": f.author,
        "tags": list(f.tags),
        "summary": f.summary,
        "link": f.link,
    }
    dumped = yaml.safe_dump(data, allow_unicode=True, width=1_000_000, sort_keys=False)
    # Not always read back as written (PyYAML folds U+0085 into a space): no matter,
    # nothing here depends on the front matter's exact text.
    return f"---\n{dumped}---\n\n"


def toml_string(value: str) -> str:
    """A TOML basic string (tomllib reads but does not write)."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_front_matter(f: Fields) -> str:
    tags = ", ".join(map(toml_string, f.tags))
    text = (
        f"title = {toml_string(f.title)}\nauthor = {toml_string(f.author)}\n"
        f"tags = [{tags}]\nsummary = {toml_string(f.summary)}\nlink = {toml_string(f.link)}"
    )
    assert tomllib.loads(text)["title"] == f.title
    return f"+++\n{text}\n+++\n\n"


def html_page(f: Fields, token: str, *, markup: bool) -> str:
    """An HTML page; with ``markup`` the body's fields go in as they are (the seed's own
    markup), else as text. Metadata is always in attributes, escaped as HTML requires."""

    def body(text: str) -> str:
        return text if markup else escape(text, quote=False)

    ld = json.dumps({"@type": "NewsArticle", "headline": f.title, "author": {"name": f.author}})
    # JSON in a <script> must not close it ("</script>") nor escape it ("<!--" then
    # "<script" keeps the script open to the end of the page, in browsers as in lxml).
    ld = ld.replace("<", "\\u003c")
    bullets = "".join(f"<li>{body(b)}</li>" for b in f.bullets)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(f.title)}</title>'
        f'<meta name="author" content="{escape(f.author)}">'
        f'<meta name="description" content="{escape(f.summary)}">'
        f'<meta name="keywords" content="{escape(", ".join(f.tags))}">'
        f'<link rel="canonical" href="{escape(f.link)}">'
        f'<script type="application/ld+json">{ld}</script>'
        f"</head><body><article><h1>{escape(f.title)}</h1>"
        f"<p>{token} {escape(f.first, quote=False)}</p>"
        f"<p>Why it matters: {body(f.why)}</p><ul>{bullets}</ul></article></body></html>\n"
    )


def seed_file(kind: str, f: Fields, token: str) -> tuple[str, str]:
    """(file name, text) of a seed of ``kind`` that says ``f``."""
    if kind == "txt":
        return "seed.txt", clipped(f, token)
    if kind == "md-yaml":
        return "seed.md", yaml_front_matter(f) + markdown_body(f, token)
    if kind == "md-toml":
        return "seed.md", toml_front_matter(f) + markdown_body(f, token)
    if kind == "md":
        retrieved = f"\nContent retrieved from: {f.link}\n"
        return "seed.md", f"# {f.title}\n\n{markdown_body(f, token)}{retrieved}"
    return "seed.html", html_page(f, token, markup=kind == "html-markup")


def site_config(title: str, description: str) -> tuple[str, str]:
    """make_project's ``title`` (it adds the quotes) and extra ``[site]`` lines."""
    return toml_string(f"Site {title}")[1:-1], f"description = {toml_string(description)}\n"


# --- reading one published entry back ----------------------------------------------------


@dataclass
class Published:
    """One entry as each format publishes it."""

    atom_title: str
    rss_title: str
    json_title: str
    atom_content: str
    rss_content: str
    json_content: str
    atom_summary: str  # HTML: the text summary, escaped
    rss_description: str  # the same (see read_entry)
    json_summary: str  # text


def read_entry(feeds: Path) -> Published:
    """The feeds' one entry. An entry without a summary has its content in RSS
    <description> and no <content:encoded> (render.py's table; see
    test_rss_item_without_summary_keeps_the_table): it is read as content then."""
    [entry] = atom_entries(feeds / "all.atom.xml")
    [item] = rss_items(feeds / "all.rss.xml")
    [json_item] = json.loads((feeds / "all.json").read_text(encoding="utf-8"))["items"]
    description = item.findtext("description", "")
    content = item.findtext("content:encoded", None, NS)
    if content is None and "summary" not in json_item:
        content, description = description, ""
    return Published(
        atom_title=entry.findtext("atom:title", "", NS),
        rss_title=item.findtext("title", ""),
        json_title=json_item["title"],
        atom_content=entry.findtext("atom:content", "", NS),
        rss_content=content or "",
        json_content=json_item.get("content_html", ""),
        atom_summary=entry.findtext("atom:summary", "", NS),
        rss_description=description,
        json_summary=json_item.get("summary", ""),
    )


def printable_ascii(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


def words(text: str) -> str:
    return " ".join(text.split())


def check_publish(root: Path, kind: str, f: Fields, token: str, site: tuple[str, str]) -> None:
    """Publish one seed of ``kind`` saying ``f`` and check everything the module promises."""
    name, text = seed_file(kind, f, token)
    title, extra = site_config(*site)
    config = make_project(root, {name: text}, title=title, extra_config=extra)
    report = run_publish(config)
    feeds = root / "feeds"

    # Strict XML, feedparser without bozo, JSON, and nothing live anywhere.
    problems = check_outputs(feeds)
    assert not problems, "\n".join(problems[:20])

    if report.skipped:
        # Only one reason to skip a seed made of text: it holds so many control
        # characters that it reads as binary.
        [(_, reason)] = report.skipped
        assert reason == "binary file, not text", report.skipped
        assert len(re.findall("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)) > 2
        event("skipped as binary")
        return

    entry = read_entry(feeds)
    # One entry, the same in every format.
    assert entry.atom_title == entry.rss_title == entry.json_title
    assert entry.atom_content == entry.rss_content == entry.json_content
    assert html_text(entry.atom_summary) == html_text(entry.rss_description) == entry.json_summary
    # The summary is text, escaped once: as HTML it is no element at all.
    for where, summary in (("Atom summary", entry.atom_summary), ("RSS", entry.rss_description)):
        assert html_problems(where, summary, allow_elements=False) == []
    # The words of the seed survive, escaped once: a plain token, and whole fields of
    # plain characters (a field escaped twice would show "&lt;" where the seed says "<").
    content = html_text(entry.atom_content)
    assert token in content, (token, entry.atom_content[:500])
    if kind in ("txt", "html-text") and printable_ascii(f.first):
        assert words(f"{token} {f.first}") in content
    if kind == "txt" and printable_ascii(f.title) and f.title.strip() and len(f.title) <= 300:
        assert entry.atom_title == words(f.title)
    if kind == "txt" and printable_ascii(f.why) and f.why.strip() and len(f.why) < 900:
        assert entry.json_summary == words(f"Why it matters: {f.why}")


# --- the checker itself ------------------------------------------------------------------

LIVE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '<a href=" java\tscript:alert(1)">x</a>',
    '<a href="data:text/html,x">x</a>',
    "<iframe></iframe>",
    "<svg onload=alert(1)>",
    "<body onload=alert(1)>",
    "<p style=color:red>x</p>",
    "<!-- comment -->",
    "</div><script>alert(1)</script>",
    "<head><script>alert(1)</script></head>",
]
INERT = [
    "",
    "plain &lt;script&gt; text & more",
    '<p lang="en" title="t">a <strong>b</strong></p>',
    '<a href="https://ex.com/a" rel="noopener noreferrer nofollow">x</a>',
    '<a href="/relative">x</a> <a href="mailto:a@ex.com">m</a>',
    '<img src="https://ex.com/i.png" alt="i">',
]


@pytest.mark.parametrize("fragment", LIVE)
def test_checker_finds_live_markup(fragment: str) -> None:
    assert html_problems("field", fragment)


@pytest.mark.parametrize("fragment", INERT)
def test_checker_passes_sanitized_markup(fragment: str) -> None:
    assert html_problems("field", fragment) == []


def test_checker_text_fields_hold_no_element() -> None:
    assert text_problems("title", "<script>alert(1)</script> & <img src=x onerror=1>") == []
    assert html_problems("summary", "<b>x</b>", allow_elements=False)


# --- every hostile string in every field, deterministically ------------------------------


@pytest.mark.slow  # publishes a project per example
def test_every_hostile_string_in_every_field_is_inert(tmp_path: Path) -> None:
    """One project, one seed per format and hostile string (the string in every field)."""
    seeds: dict[str, str] = {}
    expected: dict[str, str] = {}  # token -> seed
    for kind in FORMATS:
        for number, hostile in enumerate(HOSTILE):
            f = Fields(
                title=f"Title {hostile}",
                first=hostile,
                why=hostile,
                bullets=(hostile, f"Second {hostile}"),
                author=hostile,
                tags=(hostile, "plain"),
                summary=hostile,
                # A path of its own: one link is one article, published once.
                link=HOSTILE_LINKS[number % len(HOSTILE_LINKS)].replace(
                    "ex.com/", f"ex.com/{kind}/{number}/"
                ),
            ).lines()
            token = f"tok{kind.replace('-', '')}{number}x"
            name, text = seed_file(kind, f, token)
            stem, suffix = name.split(".")
            seeds[f"{kind}/{number:02d}-{stem}.{suffix}"] = text
            expected[token] = f"{kind}/{number:02d}-{stem}.{suffix}"
    config = make_project(
        tmp_path,
        seeds,
        title=site_config(HOSTILE[0], HOSTILE[1])[0],
        extra_config=site_config("", HOSTILE[0])[1] + "\n[publish]\nmax_entries = 1000\n",
    )
    report = run_publish(config)
    assert report.skipped == []
    feeds = tmp_path / "feeds"
    problems = check_outputs(feeds)
    assert not problems, "\n".join(problems[:40])

    # Every seed published once, its token in the text of its content, in every format.
    entries = atom_entries(feeds / "all.atom.xml")
    assert len(entries) == len(seeds)
    json_items = json.loads((feeds / "all.json").read_text(encoding="utf-8"))["items"]
    rss = rss_items(feeds / "all.rss.xml")
    texts = {
        "atom": [html_text(e.findtext("atom:content", "", NS)) for e in entries],
        # (without a summary, the content is in <description>: see read_entry)
        "rss": [
            html_text(i.findtext("content:encoded", i.findtext("description"), NS)) for i in rss
        ],
        "json": [html_text(i.get("content_html", "")) for i in json_items],
    }
    for token, seed in expected.items():
        for fmt, contents in texts.items():
            found = [text for text in contents if re.search(rf"\b{token}\b", text)]
            assert len(found) == 1, f"{seed}: token {token} in {len(found)} {fmt} entries"


# --- the property -------------------------------------------------------------------------

PROPERTY = settings(
    max_examples=examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PLAIN = Fields("Title", "first paragraph", "why", ("one",), "Ann Lee", ("t",), "s", "https://e.x/")


@pytest.mark.slow  # publishes a project per example
@PROPERTY
@given(
    kind=st.sampled_from(FORMATS),
    f=fields,
    token=tokens,
    site=st.tuples(field_text, field_text).map(lambda s: (one_line(s[0]), one_line(s[1]))),
)
@example(kind="txt", f=PLAIN, token="tokplain1", site=("", ""))
@example(
    kind="html-markup",
    f=replace(PLAIN, why="<svg><style><img src=x onerror=alert(1)>", link="javascript:x"),
    token="tokmarkup1",
    site=("<script>", "&lt;img src=x onerror=alert(1)&gt;"),
)
@example(
    kind="md",
    f=replace(PLAIN, title="]]> <script>", first="&amp;lt;script&amp;gt; [x](javascript:1)"),
    token="tokmd1",
    site=("]]>", "<img src=x onerror=alert(1)>"),
)
def test_publish_is_inert_for_any_seed(
    kind: str, f: Fields, token: str, site: tuple[str, str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        check_publish(Path(folder), kind, f, token, site)


# --- summaries: bugs this module found, fixed ------------------------------------------------


def test_rss_item_without_summary_keeps_the_table(tmp_path: Path) -> None:
    seed = "---\ntitle: Photo\n---\n\n![A heron](https://ex.com/heron.jpg)\n"
    config = make_project(tmp_path, {"photo.md": seed})
    run_publish(config)
    feeds = tmp_path / "feeds"
    [entry] = atom_entries(feeds / "all.atom.xml")
    [item] = rss_items(feeds / "all.rss.xml")
    content = entry.findtext("atom:content", "", NS)
    assert "<img" in content
    # Without a summary, RSS's <description> carries the content itself (sanitized HTML,
    # as render.py's table says), and there is no content:encoded to repeat it.
    assert item.findtext("description", "") == content
    assert item.find("content:encoded", NS) is None
    assert html_problems("RSS description", content) == []


def test_summary_of_only_markup_falls_back_to_the_text(tmp_path: Path) -> None:
    seed = (
        "---\ntitle: Only markup\nsummary: '<img src=x onerror=alert(1)>'\n---\n\n"
        "The first paragraph.\n\nThe second one.\n"
    )
    config = make_project(tmp_path, {"markup.md": seed})
    run_publish(config)
    [item] = json.loads((tmp_path / "feeds" / "all.json").read_text(encoding="utf-8"))["items"]
    assert item.get("summary") == "The first paragraph."
