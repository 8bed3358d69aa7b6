"""One run's work on sources: fetch what is due, extract articles, keep them in the store.

A failing source never stops the others and never loses what it gave before: its stored
entries stay in the feeds, its failures back off (``fetch.next_retry``), a 410 disables
it, a permanent redirect updates the URL it is fetched from.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from .config import Config
from .dates import from_timestamp
from .model import Article, Entry
from .normalize import content_hash, to_entry
from .sources import Source, SourceError, kept_sources
from .store import Enrichment, FetchState, StateStore, WebEntry
from .web.fetch import Fetcher, FetchError, FetchResult, Validators, next_retry
from .web.listings import feed_articles, listing_links

log = logging.getLogger("seedfeed")

# Entries kept per source: far more than a feed shows, so that a link still on a listing
# page is known as read and never comes back as new.
KEEP_PER_SOURCE = 2000


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


Warn = Callable[[str, str], None]


def refresh_sources(
    config: Config,
    store: StateStore,
    sources: list[Source],
    warn: Warn,
    *,
    now: float | None = None,
    fetcher: Fetcher | None = None,
) -> SourceRun:
    """Fetch every enabled source URL that is due and store the entries it gives."""
    run = SourceRun(sources=len(sources))
    now = time.time() if now is None else now
    due = due_sources(config, store, sources, now)
    if due:
        with _using(fetcher, config) as client:
            pages = _fetch_documents(client, store, due, run, now, warn)
            _fetch_pages(client, store, pages, run, now, warn)
    for source in sources:
        store.prune_web(source.name, KEEP_PER_SOURCE)
    return run


def due_sources(
    config: Config, store: StateStore, sources: list[Source], now: float
) -> list[tuple[Source, FetchState]]:
    """The enabled sources' URLs that are due at ``now``, with their fetch state.

    The store learns which URLs exist (new ones are due at once); the state and entries
    of deleted sources go, those of disabled sources and of files that do not parse now
    stay.
    """
    enabled = {(s.name, url): s for s in sources if s.enabled for url in s.urls}
    store.sync_sources(enabled, kept_sources(config.paths.sources, sources))
    return [
        (enabled[(state.source, state.origin)], state)
        for state in store.due(now)
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


# The article pages a run still has to read: (source name, link) -> who announced it.
_Pages = dict[tuple[str, str], tuple[Source, FetchState]]


def _fetch_documents(
    fetcher: Fetcher,
    store: StateStore,
    due: list[tuple[Source, FetchState]],
    run: SourceRun,
    now: float,
    warn: Warn,
) -> _Pages:
    """Fetch the due source documents (pages, listings, feeds); save what they hold and
    return the article pages they announce, once each per source."""
    jobs = [((source, state), state.url, Validators(state.etag, state.last_modified))
            for source, state in due]  # fmt: skip
    pages: _Pages = {}
    for (source, state), outcome in fetcher.fetch_many(jobs):
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
            for link in _read_document(source, outcome, store, run, now):
                pages.setdefault((source.name, link), (source, state))
        except SourceError as exc:
            # A failure like any other: it backs off, shows in `status`, and the
            # validators go, or the next run's 304 would hide the problem.
            state.etag = state.last_modified = None
            _failed(store, state, FetchError(outcome.final_url, str(exc)), now, warn)
            run.failed += 1
    return pages


def _fetch_pages(
    fetcher: Fetcher, store: StateStore, pages: _Pages, run: SourceRun, now: float, warn: Warn
) -> None:
    """Fetch the announced article pages and save their entries."""
    jobs = [((source, state, url), url, None) for (_, url), (source, state) in pages.items()]
    for (source, state, url), outcome in fetcher.fetch_many(jobs):
        if isinstance(outcome, FetchError):
            warn(url, f"{outcome.reason} (announced by {state.url}; tried again next run)")
            run.failed += 1
            # Forget the announcing page's validators, so that the next run reads it
            # again instead of getting a 304 and never retrying this article.
            state.etag = state.last_modified = None
            store.put_fetch_state(state)
            continue
        run.pages += 1
        article = _page_article(outcome)
        if not (article.title or article.content_html.strip()):
            warn(url, "page with no title and no text; not published")
            continue
        # Kept under the link as announced: a redirect must not make it look new.
        _save(source, article, url, store, run, now)


def enrich_seeds(
    config: Config, store: StateStore, warn: Warn, *, fetcher: Fetcher | None = None
) -> int:
    """Fetch the page of each seed's link (once per version of the seed) to fill what the
    seed lacks: its date, canonical link, lead image and description. A page that cannot
    be read is one warning; the seed is published as it is. Returns the pages read."""
    todo = store.seeds_to_enrich()
    if not todo:
        return 0
    read = 0
    with _using(fetcher, config) as client:
        for task, outcome in client.fetch_many((task, task.link, None) for task in todo):
            if isinstance(outcome, FetchError):
                warn(task.path, f"not enriched: {outcome}")
                store.put_enrichment(task.path, task.digest, None, error=outcome.reason)
                continue
            page = _page_article(outcome)
            found = Enrichment(link=page.link, image=page.image, description=page.summary)
            store.put_enrichment(task.path, task.digest, found)
            # Only a seed that states no date takes the page's.
            if page.published is not None and not task.dated:
                store.set_seed_published(task.path, int(page.published.timestamp()))
            read += 1
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
    state.last_success = int(now)
    state.etag = result.validators.etag
    state.last_modified = result.validators.last_modified
    store.put_fetch_state(state)


def _read_document(
    source: Source, result: FetchResult, store: StateStore, run: SourceRun, now: float
) -> list[str]:
    """Handle one fetched source document; return the article pages it announces."""
    if source.kind == "article":
        article = _page_article(result)
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


def _page_article(result: FetchResult) -> Article:
    from .web.extract import article_from_html  # lazily: the extractor is heavy to import

    return article_from_html(result.text, origin=result.final_url, url=result.final_url)


def _save(
    source: Source, article: Article, url: str, store: StateStore, run: SourceRun, now: float
) -> None:
    """Normalize ``article`` and keep it; an unchanged entry is left exactly as it was."""
    if source.author and not article.authors:
        article.authors = [source.author]
    entry, _warnings = to_entry(article, from_timestamp(now))
    old = store.web_entry(source.name, entry.id)
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
