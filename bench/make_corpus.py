"""Generate a synthetic seedfeed project for benchmarks: ``config.toml`` and ``seeds/``.

The seeds follow the clipped-article format (see ``../shared/seeds/``): a title line,
blank and no-break-space lines, an optional byline, 4-8 paragraphs with lead-ins such as
``Why it matters:``, ``  • `` bullet lines, and a last ``Content retrieved from: URL.``
line whose link carries tracking parameters and a trailing period.

Everything comes from ``random.Random(seed)``: the same ``n`` and ``seed`` give the same
bytes, file names and modification times. About 2% of the seeds are a second clip of an
earlier article (same link, other tracking parameters), as happens with real clippings.

Usage: ``python bench/make_corpus.py DIR -n 10000 [--seed 0]``
"""

from __future__ import annotations

import argparse
import os
import random
from dataclasses import dataclass
from pathlib import Path

FILES_PER_FOLDER = 1000
DUPLICATE_SHARE = 0.02
NBSP = "\u00a0"
BULLET = "  \u2022 "
# Seeds are dated from here on, one slot of SLOT_SECONDS per seed (shuffled), so every
# file has its own mtime, all of them far in the past.
BASE_TIME = 1_609_459_200  # 2021-01-01T00:00:00Z
SLOT_SECONDS = 600

FIRST_NAMES = (
    "Barak", "Alayna", "Jonathan", "Hans", "Margaret", "Sara", "Kadia", "Dave", "Erica",
    "Ivana", "Mike", "Zachary", "Felix", "Ursula", "Tina", "Andrew", "Nathan", "Caitlin",
    "Oriana", "Bryan", "Sophia", "Jacob", "Emily", "Rashaan", "Joann", "Marisa", "Kia",
    "Shawna", "Stef", "Lachlan", "Ines", "Tomás", "Chloé", "Jürgen", "Akira", "Priya",
)  # fmt: skip
LAST_NAMES = (
    "Ravid", "Treene", "Swan", "Nichols", "Talev", "Fischer", "Goba", "Lawler", "Pandey",
    "Saric", "Allen", "Basu", "Salmon", "Kight", "Reed", "Muller", "Bhattarai", "Kaplan",
    "Gold", "Walsh", "Solender", "Primack", "Hart", "Knutson", "Chen", "Okafor",
    "de la Cruz", "van Dijk", "O'Neill", "Nguyen", "Marín", "Østergaard", "Kowalski",
)  # fmt: skip
CITIES = (
    "Tel Aviv", "Washington", "New York", "San Francisco", "London", "Berlin", "Denver",
    "Chicago", "Austin", "Paris", "Tokyo", "Nairobi", "São Paulo", "Toronto", "Seattle",
)  # fmt: skip
DOMAINS = (
    "www.axios.com", "www.example-news.com", "news.example.org", "www.dailywire.test",
    "reports.example.net", "www.citydesk.example", "blog.example.io",
)  # fmt: skip
SECTIONS = ("politics", "world", "technology", "science", "economy", "health", "energy")
SUBJECTS = (
    "U.S. and Israel", "The Biden administration", "Congress", "The Senate", "Apple",
    "Google", "The Federal Reserve", "European regulators", "A coalition of states",
    "Researchers", "City officials", "Tesla", "The White House", "China", "NATO allies",
    "Health officials", "Microsoft", "The Supreme Court", "Climate scientists", "Amazon",
)  # fmt: skip
VERBS = (
    "hold", "announce", "weigh", "reject", "launch", "delay", "expand", "review",
    "unveil", "pause", "back", "challenge", "approve", "debate", "prepare",
)  # fmt: skip
OBJECTS = (
    "strategic Iran talks", "new chip export rules", "a climate package", "rate hikes",
    "an antitrust probe", "vaccine boosters", "a privacy bill", "offshore wind leases",
    "a spending deal", "AI safety standards", "a trade agreement", "rail investments",
    "drug price caps", "election security funding", "a housing plan",
)  # fmt: skip
WHENS = (
    "on Tuesday", "this week", "next month", "amid pressure", "after months of talks",
    "before the deadline", "in a surprise move", "as tensions rise", "for the first time",
)  # fmt: skip
LEAD_INS = (
    "Why it matters:", "Details:", "Between the lines:", "The other side:",
    "What\u2019s next:", "By the numbers:", "Yes, but:", "The big picture:",
    "Driving the news:", "Flashback:", "Go deeper:", "What they\u2019re saying:",
    "State of play:", "The bottom line:", "Context:",
)  # fmt: skip
WORDS = (
    "officials", "talks", "nuclear", "program", "agency", "security", "intelligence",
    "market", "investors", "policy", "regional", "activities", "coordination", "deal",
    "prospect", "anxiety", "levels", "sources", "round", "virtually", "dialogue",
    "counterpart", "participating", "secure", "video", "link", "focused", "expected",
    "discussed", "recent", "attacks", "ships", "concerns", "increasingly", "vocal",
    "continuing", "operations", "administration", "distanced", "impression", "unhappy",
    "actions", "understandings", "emerged", "mutual", "surprises", "unclear", "budget",
    "analysts", "growth", "quarter", "percent", "billion", "lawmakers", "proposal",
    "committee", "hearing", "vote", "support", "opposition", "governors", "cities",
    "residents", "schools", "hospitals", "researchers", "data", "study", "results",
    "evidence", "risks", "benefits", "costs", "timeline", "deadline", "framework",
    "negotiations", "partners", "allies", "rivals", "pressure", "response", "statement",
    "spokesperson", "briefing", "reporters", "interview", "according", "people",
    "familiar", "matter", "plans", "changes", "rules", "standards", "industry",
    "companies", "workers", "consumers", "prices", "supply", "demand", "energy",
    "climate", "emissions", "technology", "platform", "users", "privacy", "safety",
)  # fmt: skip
GLUE = (
    "the", "the", "the", "a", "of", "of", "to", "to", "and", "and", "in", "in", "on",
    "for", "with", "that", "as", "by", "from", "over", "after", "before", "about",
    "is", "are", "was", "were", "has", "have", "will", "would", "could", "said",
)  # fmt: skip
ATTRIBUTIONS = (
    "three officials tell me", "a source said", "the officials say",
    "according to people familiar with the matter", "a spokesperson confirmed",
    "the report found", "analysts said",
)  # fmt: skip
TRACKING = (
    "utm_campaign=organic&utm_medium=socialshare&utm_source=twitter",
    "utm_source=newsletter&utm_medium=email&utm_campaign=newsletter_axiosam&stream=top",
    "utm_source=facebook&utm_medium=social&fbclid=IwAR0{token}",
    "utm_source=rss&utm_medium=feed&utm_campaign={slug}",
    "utm_medium=referral&utm_source=linkedin&mc_cid={token}&mc_eid=7{token}",
    "ref_src=twsrc%5Etfw&utm_source=twitter",
)  # fmt: skip


@dataclass(frozen=True)
class _Story:
    """What two clips of one article share: the title and the canonical link."""

    title: str
    url: str


def make_corpus(root: Path, n: int, seed: int = 0) -> list[Path]:
    """Write a project of ``n`` seeds under ``root`` (``config.toml`` and ``seeds/``).

    Seeds go to ``seeds/0000/``, ``seeds/0001/``, ... with at most 1,000 files per folder,
    each with its own modification time. Returns the seed paths, in generation order.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(
        "[site]\n"
        f'title = "seedfeed benchmark ({n:,} seeds)"\n'
        'base_url = "http://127.0.0.1:8080/"\n',
        encoding="utf-8",
    )
    seeds_dir = root / "seeds"
    slots = list(range(n))
    rng.shuffle(slots)  # file order is not date order
    stories: list[_Story] = []
    paths: list[Path] = []
    for i in range(n):
        if stories and rng.random() < DUPLICATE_SHARE:
            story = rng.choice(stories)  # clipped again, maybe from another share link
        else:
            story = _new_story(rng)
            stories.append(story)
        text = _seed_text(rng, story)
        folder = seeds_dir / f"{i // FILES_PER_FOLDER:04d}"
        if i % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i % FILES_PER_FOLDER:03d}_{rng.getrandbits(64):016x}.txt"
        path.write_text(text, encoding="utf-8")
        when_ns = (BASE_TIME + slots[i] * SLOT_SECONDS + rng.randrange(SLOT_SECONDS)) * 10**9
        os.utime(path, ns=(when_ns, when_ns))
        paths.append(path)
    return paths


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _new_story(rng: random.Random) -> _Story:
    title = f"{rng.choice(SUBJECTS)} to {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    if rng.random() < 0.6:
        title += f" {rng.choice(WHENS)}"
    roll = rng.random()
    if roll < 0.15:
        title = f"Scoop: {title}"
    elif roll < 0.25:
        title = f"Exclusive: {title}"
    slug = "-".join(title.lower().replace(":", "").replace(".", "").split()[:8])
    domain = rng.choice(DOMAINS)
    section = rng.choice(SECTIONS)
    if rng.random() < 0.8:
        url = f"https://{domain}/{section}/{slug}-{rng.getrandbits(128):032x}.html"
    else:
        url = f"https://{domain}/{section}/article?id={rng.randrange(10**6, 10**7)}"
    return _Story(title, url)


def _sentence(rng: random.Random) -> str:
    words = [
        rng.choice(WORDS) if rng.random() < 0.55 else rng.choice(GLUE)
        for _ in range(rng.randint(10, 24))
    ]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(SUBJECTS))
    text = " ".join(words)
    if rng.random() < 0.2:
        text += f", {rng.choice(ATTRIBUTIONS)}"
    if rng.random() < 0.1:
        text += f" \u2014 a \u201c{rng.choice(WORDS)} {rng.choice(WORDS)}\u201d moment"
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random, budget: int) -> str:
    """Sentences up to ``budget`` characters (at least one sentence)."""
    sentences = [_sentence(rng)]
    used = len(sentences[0])
    while True:
        nxt = _sentence(rng)
        if used + 1 + len(nxt) > budget:
            return " ".join(sentences)
        sentences.append(nxt)
        used += 1 + len(nxt)


def _seed_text(rng: random.Random, story: _Story) -> str:
    head = [story.title, "", NBSP, "", NBSP, ""]
    roll = rng.random()
    city = rng.choice(CITIES)
    if roll < 0.55:
        head += [f"{_name(rng)}, author of{NBSP}from {city}", "", NBSP, ""]
    elif roll < 0.70:
        head += [f"{_name(rng)} and {_name(rng)}, authors of{NBSP}from {city}", "", NBSP, ""]
    elif roll < 0.85:
        head += [f"By {_name(rng)}", "", NBSP, ""]
    # else: no byline at all

    tracking = rng.choice(TRACKING).format(
        token=f"{rng.getrandbits(48):012x}", slug=story.url.rsplit("/", 1)[-1][:20]
    )
    joiner = "&" if "?" in story.url else "?"
    tail = ["", f"Content retrieved from: {story.url}{joiner}{tracking}."]

    target = rng.randint(1500, 3000)
    n_paragraphs = rng.randint(4, 8)
    lists = rng.randint(0, 2)
    list_after = set(rng.sample(range(1, n_paragraphs), min(lists, n_paragraphs - 1)))
    fixed = sum(len(line.encode()) + 1 for line in head + tail)
    # Each bullet list takes about two paragraph budgets.
    # A paragraph stops short of its budget by half a sentence on average: allow for it.
    budget = max(120, (target - fixed) // (n_paragraphs + 2 * len(list_after)) + 60)
    leads = rng.sample(LEAD_INS, n_paragraphs - 1)
    if rng.random() < 0.8:  # most clips say why it matters right after the opening
        leads = ["Why it matters:", *(lead for lead in leads if lead != "Why it matters:")]

    body: list[str] = [_paragraph(rng, budget), ""]  # the opening has no lead-in
    for k in range(1, n_paragraphs):
        body += [f"{leads[k - 1]} {_paragraph(rng, budget)}", ""]
        if k in list_after:
            items = rng.randint(2, 4)
            body += [BULLET + _paragraph(rng, 2 * budget // items) for _ in range(items)]
            body.append("")
    return "\n".join(head + body[:-1] + tail)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``make_corpus.py DIR -n N [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="project folder to create")
    parser.add_argument("-n", type=int, default=1000, help="number of seeds (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    paths = make_corpus(args.root, args.n, args.seed)
    size = sum(p.stat().st_size for p in paths)
    print(f"{args.root}: {len(paths):,} seeds, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
