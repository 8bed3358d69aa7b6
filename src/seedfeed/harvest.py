"""One run's work on sources: fetch what is due, extract articles, keep them in the store.

A failing source never stops the others and never loses what it gave before: its stored
entries stay in the feeds, its failures back off (``fetch.next_retry``), a 410 disables
it, a permanent redirect updates the URL it is fetched from.
"""

from __future__ import annotations

import html
import logging
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from .budget import PARSE_SECONDS, BudgetExceeded, time_limit
from .config import Config
from .dates import from_timestamp
from .model import Article, Entry
from .normalize import content_hash, to_entry
from .scan import _die_with_parent, parse_workers
from .sources import Source, SourceError, kept_sources
from .store import Enrichment, FetchState, PendingPage, StateStore, WebEntry
from .web.fetch import (
    HOST_DOWN,
    HOST_FAILURES,
    Fetcher,
    FetchError,
    FetchResult,
    Validators,
    next_retry,
)
from .web.listings import feed_articles, listing_links
from .web.robots import DISALLOWED, FRESH, Robots, robots_txt_of

log = logging.getLogger("seedfeed")

# Entries kept per source: far more than a feed shows, so that a link still on a listing
# page is known as read and never comes back as new.
KEEP_PER_SOURCE = 2000
# An announced page that cannot be read is tried again on its own backoff for this long,
# then given up (a listing that announces it again after that starts it over).
GIVE_UP_SECONDS = 30 * 24 * 3600


@dataclass
class SourceRun:
    """What a run did with the sources."""

    sources: int = 0
    fetched: int = 0  # source documents (pages, listings, feeds) read
    pages: int = 0  # article pages they announced, read
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    updated_entries: int = 0
    disallowed: int = 0  # URLs robots.txt asks seedfeed to leave alone
    # Problems an earlier run named, still true: sources backing off (URL, why, when they
    # are tried again) and announced pages not read yet (URL, why): one summary line.
    backing_off: list[tuple[str, str, float]] = field(default_factory=list)
    unread_pages: list[tuple[str, str]] = field(default_factory=list)


Refresh = bool | Collection[str]  # fetch now regardless of backoff: all sources, or these


Warn = Callable[[str, str], None]
# (stage, done, total): what a progress display is told (report.Progress)
Tick = Callable[[str, int, int | None], None]


def _no_tick(stage: str, done: int, total: int | None) -> None:
    """No progress display."""


def refresh_sources(
    config: Config,
    store: StateStore,
    sources: list[Source],
    warn: Warn,
    *,
    now: float | None = None,
    fetcher: Fetcher | None = None,
    refresh: Refresh = False,
    tick: Tick = _no_tick,
) -> SourceRun:
    """Fetch every enabled source URL that is due, and the announced pages not read yet
    whose retry is due, and store the entries they give. ``refresh`` (``seedfeed
    refresh``) makes all sources, or the sources named, due now whatever their backoff."""
    run = SourceRun(sources=len(sources))
    now = time.time() if now is None else now
    due = due_sources(config, store, sources, now, refresh)
    enabled = {source.name: source for source in sources if source.enabled}
    unread = {(p.source, p.url): p for p in store.pending_pages() if p.source in enabled}
    retry = [
        p
        for p in unread.values()
        if p.next_try <= now
        or _named(refresh, p.source)
        # robots = false (again): what robots.txt refused is read now, not in a day
        or (p.reason == DISALLOWED and not config.fetch.robots)
    ]
    warned: set[str] = set()
    if due or retry:
        # The workers, when a first run is about to read many pages, start now: they get
        # ready while the listings are fetched, before the fetcher's threads exist.
        # Only with a fetcher of its own: one passed in (the cluster's, the daemon's) may
        # have threads running, and a fork then can leave their locks held in a child.
        many = fetcher is None and _many_pages_ahead(due)
        with _pool(start=many) as pool, _using(fetcher, config) as client:
            robots = Robots(client, store, now) if config.fetch.robots else None
            if robots is not None:
                robots.prepare(state.url for _source, state in due)
            waiting = {
                (p.source, p.url)
                for p in unread.values()
                if p not in retry and not (p.reason == DISALLOWED and not robots)
            }
            pages = _fetch_documents(client, store, due, run, now, warn, robots, waiting, tick)
            for page in retry:
                announcers = pages.setdefault(page.url, [])
                if enabled[page.source] not in announcers:
                    announcers.append(enabled[page.source])
            pages_run = _PageRun(store, unread, run, now, warn, warned, tick, pool)
            _fetch_pages(client, pages, pages_run, robots)
    for source in sources:
        store.prune_web(source.name, KEEP_PER_SOURCE)
    _standing(store, enabled, due, run, now, warned)
    return run


def _named(refresh: Refresh, source: str) -> bool:
    return refresh is True or (not isinstance(refresh, bool) and source in refresh)


def _standing(
    store: StateStore,
    enabled: dict[str, Source],
    due: list[tuple[Source, FetchState]],
    run: SourceRun,
    now: float,
    warned: set[str],
) -> None:
    """The problems earlier runs named that are still true: the run's summary says them
    in one line (``seedfeed status`` says them one by one)."""
    tried = {(state.source, state.origin) for _source, state in due}
    for state in store.fetch_states():
        if (
            state.source in enabled
            and (state.source, state.origin) not in tried
            and state.failures
            and not state.disabled
            and state.next_fetch > now
        ):
            run.backing_off.append((state.url, state.last_error or "", state.next_fetch))
    unread = {p.url: p.reason for p in store.pending_pages() if p.source in enabled}
    run.unread_pages = [(url, reason) for url, reason in unread.items() if url not in warned]


def due_sources(
    config: Config,
    store: StateStore,
    sources: list[Source],
    now: float,
    refresh: Refresh = False,
) -> list[tuple[Source, FetchState]]:
    """The enabled sources' URLs that are due at ``now``, with their fetch state; with
    ``refresh``, those of all sources (``True``) or of the sources named, whatever their
    backoff or a 410 said.

    The store learns which URLs exist (new ones are due at once); the state and entries
    of deleted sources go, those of disabled sources and of files that do not parse now
    stay.
    """
    enabled = {(s.name, url): s for s in sources if s.enabled for url in s.urls}
    store.sync_sources(enabled, kept_sources(config.paths.sources, sources))
    states = store.due(now)
    forced = []
    if refresh:
        forced = [s for s in store.fetch_states() if _named(refresh, s.source)]
    if not config.fetch.robots:  # robots = false (again): what it refused is due now
        forced += [s for s in store.fetch_states() if s.last_error == DISALLOWED]
    if forced:
        states = sorted(
            {(s.source, s.origin): s for s in [*states, *forced]}.values(),
            key=lambda s: (s.source, s.origin),
        )
    return [
        (enabled[(state.source, state.origin)], state)
        for state in states
        if (state.source, state.origin) in enabled
    ]


@contextmanager
def _using(fetcher: Fetcher | None, config: Config) -> Iterator[Fetcher]:
    """``fetcher``, or one made for ``config`` and closed after."""
    if fetcher is not None:
        yield fetcher
        return
    with Fetcher(config.fetch) as own:
        yield own


# The article pages a run still has to read: link -> the sources that announced it (a
# page named by a listing and by the feed of the same site is fetched once).
_Pages = dict[str, list[Source]]


def _fetch_documents(
    fetcher: Fetcher,
    store: StateStore,
    due: list[tuple[Source, FetchState]],
    run: SourceRun,
    now: float,
    warn: Warn,
    robots: Robots | None,
    waiting: set[tuple[str, str]],
    tick: Tick,
) -> _Pages:
    """Fetch the due source documents (pages, listings, feeds) robots.txt allows; save
    what they hold and return the article pages they announce, once each per source
    (but those in ``waiting``: announced before, not read yet, their retry not due)."""
    allowed = []
    for source, state in due:
        refusal = robots.refusal(state.url) if robots is not None else None
        if refusal is None:
            allowed.append((source, state))
        elif refusal == DISALLOWED:
            _disallowed(store, state, now, warn)
            run.disallowed += 1
        else:  # robots.txt cannot be read now: a failure like any other, backing off
            _failed(store, state, FetchError(state.url, refusal), now, warn)
            run.failed += 1
    jobs = [((source, state), state.url, Validators(state.etag, state.last_modified))
            for source, state in allowed]  # fmt: skip
    pages: _Pages = {}
    unsent = _Unsent("source")
    tick("fetching sources", 0, len(jobs))
    for done, ((source, state), outcome) in enumerate(fetcher.fetch_many(jobs), 1):
        tick("fetching sources", done, len(jobs))
        if isinstance(outcome, FetchError) and outcome.unsent:
            unsent.add(outcome)  # a Crawl-delay, or its host is down: still due, next run
            continue
        if isinstance(outcome, FetchError):
            _failed(store, state, outcome, now, warn)
            run.failed += 1
            continue
        _succeeded(store, state, outcome, now, warn)
        if source.schedule:  # fetched again when its own schedule next fires
            state.next_fetch = _next_scheduled(source.schedule, now)
            store.put_fetch_state(state)
        if outcome.not_modified:
            run.not_modified += 1
            continue
        run.fetched += 1
        try:
            for link in _read_document(source, outcome, store, run, now, warn):
                if (source.name, link) in waiting:  # not read yet, its retry not due
                    continue
                announcers = pages.setdefault(link, [])
                if source not in announcers:
                    announcers.append(source)
        except SourceError as exc:
            # A failure like any other: it backs off, shows in `status`, and the
            # validators go, or the next run's 304 would hide the problem.
            state.etag = state.last_modified = None
            _failed(store, state, FetchError(outcome.final_url, str(exc)), now, warn)
            run.failed += 1
    unsent.say(warn)
    return pages


@dataclass
class _PageRun:
    """What fetching the announced pages works with and on."""

    store: StateStore
    unread: dict[tuple[str, str], PendingPage]  # (source, url): not read on an earlier run
    run: SourceRun
    now: float
    warn: Warn
    warned: set[str]  # pages this run warned about (not in the standing line)
    tick: Tick
    pool: ProcessPoolExecutor | None = None  # workers started ahead (_many_pages_ahead)


def _fetch_pages(fetcher: Fetcher, pages: _Pages, ctx: _PageRun, robots: Robots | None) -> None:
    """Fetch the announced article pages robots.txt allows, each once however many
    sources announced it, extract each once (in worker processes when there are many)
    and save its entry for every source that announced it. A page that cannot be read is
    kept to be tried again on its own backoff: the page that announced it keeps its
    validators, so one dead link does not make a listing be read whole every run."""
    if robots is not None:
        robots.prepare(pages)
    jobs = []
    for url in pages:
        refusal = robots.refusal(url) if robots is not None else None
        if refusal is None:
            jobs.append((url, url, None))
        else:
            _unread(url, FetchError(url, refusal), pages[url], ctx)

    unsent = _Unsent("page")

    def fetched() -> Iterator[tuple[str, FetchResult]]:
        for url, outcome in fetcher.fetch_many(jobs):
            if isinstance(outcome, FetchError):
                _unread(url, outcome, pages[url], ctx)
                if unsent.add(outcome):  # said in its host's line, not again as not read
                    ctx.warned.add(url)
            else:
                yield url, outcome
        unsent.say(ctx.warn)

    store, run, now = ctx.store, ctx.run, ctx.now
    if jobs:
        ctx.tick("reading article pages", 0, len(jobs))
    with _readers(len(jobs), from_timestamp(now), ctx.pool) as read:
        for done, (url, page) in enumerate(read(fetched()), 1):
            ctx.tick("reading article pages", done, len(jobs))
            run.pages += 1
            for source in pages[url]:
                if (source.name, url) in ctx.unread:
                    store.drop_pending_page(source.name, url)
            if page is None:
                ctx.warn(url, f"took more than {PARSE_SECONDS:g} s to extract; not published")
                continue
            article, entry = page
            if not (article.title or article.content_html.strip()):
                ctx.warn(url, "page with no title and no text; not published")
                continue
            for source in pages[url]:
                # Kept under the link as announced: a redirect must not make it look new.
                # A copy each: _save sets the source's default author.
                copy = replace(article, authors=list(article.authors))
                _save(source, copy, url, store, run, now, entry)


class _Unsent:
    """The jobs ``fetch_many`` did not send because their host gave no answer to the
    ones before: one line a host says how many (each failure of those it asked said its
    own), rather than one a job."""

    def __init__(self, noun: str, verb: str = "not fetched") -> None:
        self.noun, self.verb = noun, verb  # "3 more pages not fetched"
        self.hosts: dict[str, int] = {}

    def add(self, error: FetchError) -> bool:
        """Count ``error`` if its host's silence left it unsent; whether it did."""
        if error.reason != HOST_DOWN:
            return False
        parts = urlsplit(error.url)
        site = f"{parts.scheme}://{parts.netloc}"
        self.hosts[site] = self.hosts.get(site, 0) + 1
        return True

    def say(self, warn: Warn) -> None:
        """One warning for each host that left jobs unsent."""
        for site, count in self.hosts.items():
            what = f"{count} more {self.noun}{'' if count == 1 else 's'} {self.verb}"
            warn(site, f"gave no answer to {HOST_FAILURES} requests in a row; {what} in this "
                       "run (tried on the next)")  # fmt: skip
        self.hosts.clear()


def _unread(url: str, error: FetchError, announcers: list[Source], ctx: _PageRun) -> None:
    """An announced page that could not be read (or robots.txt refuses): kept to be tried
    again on its own backoff (a refusal: when robots.txt is read again, after a day). Said
    once per reason; a page still unread 30 days after it first failed is given up."""
    if error.unsent:  # not a failure: read on the next run
        for source in announcers:
            if (source.name, url) not in ctx.unread:
                ctx.store.put_pending_page(
                    PendingPage(source.name, url, 0, ctx.now, int(ctx.now), error.reason)
                )
        return
    ctx.run.failed += error.reason != DISALLOWED
    ctx.run.disallowed += error.reason == DISALLOWED
    said = False
    for source in announcers:
        old = ctx.unread.get((source.name, url))
        page = PendingPage(source.name, url, first_failed=int(ctx.now), reason=error.reason)
        if old is not None:
            page.failures, page.first_failed = old.failures, old.first_failed
        page.failures += 1
        if error.reason == DISALLOWED:
            page.next_try = ctx.now + FRESH
        else:
            page.next_try = next_retry(page.failures, error.retry_after, ctx.now)
        if ctx.now - page.first_failed >= GIVE_UP_SECONDS:
            ctx.store.drop_pending_page(source.name, url)
            if not said:
                ctx.warn(url, f"{error.reason}; unread for 30 days, given up")
                said = True
            continue
        ctx.store.put_pending_page(page)
        if (old is None or old.reason != error.reason) and not said:
            names = ", ".join(s.name for s in announcers)
            retry = from_timestamp(page.next_try).strftime("%Y-%m-%d %H:%M UTC")
            ctx.warn(url, f"{error.reason} (announced by {names}; next try {retry})")
            said = True
    if said:
        ctx.warned.add(url)


# Below this many pages, starting worker processes costs more than it saves.
PARALLEL_PAGES = 64
_Page = tuple[Article, Entry]
_Read = Callable[[Iterable[tuple[str, FetchResult]]], Iterator[tuple[str, _Page | None]]]


def _many_pages_ahead(due: list[tuple[Source, FetchState]]) -> bool:
    """Whether the run may well read ``PARALLEL_PAGES`` article pages or more: the
    sources never read before that announce pages (listings, feeds read in full) may
    announce up to their ``limit`` each. A source read before announces only what is new."""
    ahead = sum(
        source.limit
        for source, state in due
        if state.last_success is None
        and (source.kind == "listing" or (source.kind == "feed" and source.full_text))
    )
    return ahead >= PARALLEL_PAGES


@contextmanager
def _pool(*, start: bool) -> Iterator[ProcessPoolExecutor | None]:
    """The seed scan's kind of worker processes, ready, when ``start`` and this system
    forks; else ``None``."""
    workers = parse_workers()
    if not start or workers < 2:
        yield None
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent) as pool:
        # Forked now, before the fetcher's threads start: a child forked while one of
        # them holds a lock (logging's, say) would wait for it forever.
        for started in [pool.submit(_ready) for _ in range(workers)]:
            started.result()
        for _ in range(workers):  # not waited for: they import while pages are fetched
            pool.submit(_warm)
        yield pool


@contextmanager
def _readers(
    pages: int, first_seen: datetime, pool: ProcessPoolExecutor | None = None
) -> Iterator[_Read]:
    """A function from fetched pages to their articles and entries (``read_page``), in
    the same order: in ``pool``; else in workers started now when there are
    ``PARALLEL_PAGES`` or more; else here. Each runs ``read_page`` on every page: the
    results are the same."""
    with ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(_pool(start=pages >= PARALLEL_PAGES))
        if pool is None:
            yield lambda fetched: (
                (url, read_page(r.text, r.final_url, first_seen)) for url, r in fetched
            )
            return
        window = 2 * parse_workers()  # batches in flight

        def read(fetched: Iterable[tuple[str, FetchResult]]) -> Iterator[tuple[str, _Page | None]]:
            # Pages go in batches: a task costs the pool about 0.4 ms of CPU, a tenth of
            # an extraction, and a batch of 8 an eighth of that. A bounded window in
            # flight keeps memory flat; results come back in order.
            pending: deque[tuple[list[str], Future[list[_Page | None]]]] = deque()
            for urls, batch in _batches(fetched):
                pending.append((urls, pool.submit(read_pages, batch, first_seen)))
                while pending and (pending[0][1].done() or len(pending) > window):
                    urls, future = pending.popleft()
                    yield from zip(urls, future.result(), strict=True)
            while pending:
                urls, future = pending.popleft()
                yield from zip(urls, future.result(), strict=True)

        yield read


_BATCH_PAGES = 8
_BATCH_CHARS = 1_000_000  # a batch of big pages holds no more than this (and one page)


def _batches(
    fetched: Iterable[tuple[str, FetchResult]],
) -> Iterator[tuple[list[str], list[tuple[str, str]]]]:
    """The fetched pages in batches for ``read_pages``: their URLs as announced, and
    each one's text and final URL."""
    urls: list[str] = []
    batch: list[tuple[str, str]] = []
    chars = 0
    for url, result in fetched:
        urls.append(url)
        batch.append((result.text, result.final_url))
        chars += len(result.text)
        if len(batch) >= _BATCH_PAGES or chars >= _BATCH_CHARS:
            yield urls, batch
            urls, batch, chars = [], [], 0
    if batch:
        yield urls, batch


def read_pages(pages: list[tuple[str, str]], first_seen: datetime) -> list[_Page | None]:
    """``read_page`` of each ``(text, url)``, in order: a batch for a worker process."""
    return [read_page(text, url, first_seen) for text, url in pages]


def _ready() -> None:
    """A job that only makes a worker start."""


def _warm() -> None:
    """A job that imports what ``read_page`` needs (the extractor and trafilatura, which
    it imports lazily), so that the first page read does not wait for it."""
    import trafilatura  # noqa: F401

    from .web import extract  # noqa: F401


def read_page(text: str, url: str, first_seen: datetime) -> _Page | None:
    """The article of the page ``text`` fetched from ``url`` (``extract_page``) and its
    entry, normalized as first seen at ``first_seen``: both in the worker, where there
    are workers, since sanitizing a body costs about as much as fetching it."""
    article = extract_page(text, url)
    if article is None:
        return None
    return article, to_entry(article, first_seen)[0]


def extract_page(text: str, url: str, origin: str = "") -> Article | None:
    """The article of the page ``text`` fetched from ``url`` (``origin``: where it came
    from, default ``url``), extracted within the time budget of one parse; ``None`` past
    it."""
    from .web.extract import article_from_html  # lazily: the extractor is heavy to import

    try:
        with time_limit(PARSE_SECONDS):
            return article_from_html(text, origin=origin or url, url=url)
    except BudgetExceeded:
        return None


def enrich_seeds(
    config: Config,
    store: StateStore,
    warn: Warn,
    *,
    fetcher: Fetcher | None = None,
    tick: Tick = _no_tick,
) -> int:
    """Fetch the page of each seed's link (once per version of the seed) to fill what the
    seed lacks: its date, canonical link, lead image and description. A page that cannot
    be read is one warning; the seed is published as it is. Returns the pages read."""
    todo = store.seeds_to_enrich()
    if not todo:
        return 0
    read = 0
    with _using(fetcher, config) as client:
        allowed = todo
        if config.fetch.robots:
            robots = Robots(client, store)
            robots.prepare(task.link for task in todo)
            allowed = []
            later: dict[str, int] = {}  # site -> seeds left for a later run
            for task in todo:
                if (refusal := robots.refusal(task.link)) is None:
                    allowed.append(task)
                elif refusal == DISALLOWED:  # said once: not asked again until it changes
                    warn(task.path, f"not enriched: {task.link}: {refusal}")
                    store.put_enrichment(task.path, task.digest, None, error=refusal)
                else:  # robots.txt cannot be read now: enriched on a later run
                    site = robots_txt_of(task.link)
                    later[site] = later.get(site, 0) + 1
            for site, count in later.items():
                seeds = "1 seed" if count == 1 else f"{count} seeds"
                warn(site, f"cannot be read now; {seeds} not enriched yet (tried next run)")
        tick("enriching seeds", 0, len(allowed))
        jobs = ((task, task.link, None) for task in allowed)
        unsent = _Unsent("seed", "not enriched")
        for done, (task, outcome) in enumerate(client.fetch_many(jobs), 1):
            tick("enriching seeds", done, len(allowed))
            if isinstance(outcome, FetchError) and outcome.unsent:
                unsent.add(outcome)  # a Crawl-delay, or its host is down: a later run
                continue
            if isinstance(outcome, FetchError):
                warn(task.path, f"not enriched: {outcome}")
                store.put_enrichment(task.path, task.digest, None, error=outcome.reason)
                continue
            page = extract_page(outcome.text, outcome.final_url)
            if page is None:
                reason = f"took more than {PARSE_SECONDS:g} s to extract"
                warn(task.path, f"not enriched: {task.link}: {reason}")
                store.put_enrichment(task.path, task.digest, None, error=reason)
                continue
            found = Enrichment(link=page.link, image=page.image, description=page.summary)
            store.put_enrichment(task.path, task.digest, found)
            # Only a seed that states no date takes the page's.
            if page.published is not None and not task.dated:
                store.set_seed_published(task.path, int(page.published.timestamp()))
            read += 1
        unsent.say(warn)
    return read


def enrich_entry(entry: Entry, found: Enrichment) -> Entry:
    """``entry`` with what its page adds: canonical link, lead image, description."""
    from .normalize import LinkError, canonical_url, clean_text, sanitize_html, shorten

    link, content, summary = entry.link, entry.content_html, entry.summary
    try:
        if found.link:
            link = canonical_url(found.link)
    except LinkError:
        pass
    if found.image and "<img" not in content:
        figure = sanitize_html(f'<p><img src="{html.escape(found.image)}" alt=""></p>')
        if figure:
            content = f"{figure}\n{content}"
    if found.description and not summary:
        summary = shorten(clean_text(found.description), 1000)
    return replace(entry, link=link, content_html=content, summary=summary)


def _next_scheduled(expression: str, now: float) -> float:
    from .schedule import next_fire

    when = next_fire(expression, from_timestamp(now))
    return when.timestamp() if when else 0.0


def _disallowed(store: StateStore, state: FetchState, now: float, warn: Warn) -> None:
    """A source URL robots.txt asks seedfeed to leave alone: said once, asked again when
    robots.txt is read again (a day later); its earlier entries stay."""
    if state.last_error != DISALLOWED:
        warn(state.url, f"{DISALLOWED}; not fetched ([fetch] robots = false for your own sites)")
    state.last_error = DISALLOWED
    state.failures = 0  # not failing: asked, and told no
    state.next_fetch = now + FRESH
    store.put_fetch_state(state)


def _failed(
    store: StateStore, state: FetchState, error: FetchError, now: float, warn: Warn
) -> None:
    state.failures += 1
    state.last_error = error.reason
    state.next_fetch = next_retry(state.failures, error.retry_after, now)
    if error.gone:
        state.disabled = True
        warn(state.url, f"{error.reason}: gone for good; source disabled (its entries stay)")
    else:
        retry = from_timestamp(state.next_fetch).strftime("%Y-%m-%d %H:%M UTC")
        warn(state.url, f"{error.reason} (failure {state.failures} in a row; next try {retry})")
    store.put_fetch_state(state)


def _succeeded(
    store: StateStore, state: FetchState, result: FetchResult, now: float, warn: Warn
) -> None:
    if result.moved_to and result.moved_to != state.url:
        warn(state.url, f"moved permanently to {result.moved_to}; fetching that from now on")
        state.url = result.moved_to
    state.failures = 0
    state.next_fetch = 0.0
    state.last_error = None
    state.disabled = False  # a 410'd source read again (seedfeed refresh NAME)
    state.last_success = int(now)
    state.etag = result.validators.etag
    state.last_modified = result.validators.last_modified
    store.put_fetch_state(state)


def _read_document(
    source: Source, result: FetchResult, store: StateStore, run: SourceRun, now: float,
    warn: Warn,
) -> list[str]:  # fmt: skip
    """Handle one fetched source document; return the article pages it announces."""
    if source.kind == "article":
        article = extract_page(result.text, result.final_url)
        if article is None:
            raise SourceError(f"took more than {PARSE_SECONDS:g} s to extract")
        if not (article.title or article.content_html.strip()):
            raise SourceError("page with no title and no text")
        _save(source, article, result.final_url, store, run, now)
        return []
    if source.kind == "listing":
        if "html" not in result.content_type and "xml" not in result.content_type:
            raise SourceError(f"expected an HTML listing page, got {result.content_type}")
        links = listing_links(result.text, result.final_url, source.items, source.limit)
        return [link for link in links if not store.has_web_url(source.name, link)]
    articles = feed_articles(result.body, result.final_url, source.limit)
    if source.full_text:
        return [a.link for a in articles if a.link and not store.has_web_url(source.name, a.link)]
    for article in articles:
        _save(source, article, article.link or article.origin, store, run, now)
    return []


def _save(
    source: Source,
    article: Article,
    url: str,
    store: StateStore,
    run: SourceRun,
    now: float,
    entry: Entry | None = None,
) -> None:
    """Normalize ``article`` and keep it; an unchanged entry is left exactly as it was.
    ``entry``: the article normalized already (``read_page``), for a source that adds no
    author to it."""
    when = from_timestamp(now)
    if source.author and not article.authors:
        article.authors = [source.author]
        entry = None  # normalized again, with the author
    if entry is None:
        entry, _warnings = to_entry(article, when)
    old = store.web_entry(source.name, entry.id)
    if entry.published > when:
        # A page dated in the future would sit atop every feed until then: it is dated
        # when first seen, as an undated page is (not "now" on each fetch: no churn).
        entry = replace(entry, published=old.entry.published if old else when)
    if entry.updated > when:
        entry = replace(entry, updated=max(entry.published, old.entry.updated if old else when))
    if old is not None and article.published is None:
        # An undated page keeps the date it was first seen at, or every fetch would
        # look like an edit.
        entry = replace(entry, published=old.entry.published)
        entry = replace(entry, updated=max(entry.updated, entry.published))
    digest = content_hash(entry)
    if old is not None:
        if old.entry_hash == digest:
            return
        entry = replace(entry, updated=max(entry.updated, from_timestamp(now)))
        run.updated_entries += 1
    else:
        run.new_entries += 1
    store.put_web_entry(WebEntry(source.name, source.feeds, url, entry, digest))
