"""One run's work on sources: fetch what is due, extract articles, keep them in the store.

A failing source never stops the others and never loses what it gave before: its stored
entries stay in the feeds, its failures back off (``fetch.next_retry``), a 410 disables
it, a permanent redirect updates the URL it is fetched from.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from .config import Config
from .dates import from_timestamp
from .fetch import Fetcher, FetchError, FetchResult, FetchSettings, Validators, next_retry
from .model import Article, Entry
from .normalize import content_hash, to_entry
from .sources import Source, SourceError, feed_articles, listing_links
from .store import FetchState, Store, WebEntry

log = logging.getLogger("seedfeed")

_SEP = "\x1f"
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


def settings_for(config: Config) -> FetchSettings:
    """The fetch settings of ``config``'s ``[fetch]`` section."""
    options = config.fetch
    return FetchSettings(
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        deadline=options.deadline,
        max_bytes=options.max_bytes,
        allow_private=options.allow_private,
        concurrency=options.concurrency,
        per_host=options.per_host,
    )


def refresh_sources(
    config: Config,
    store: Store,
    sources: list[Source],
    warn: Warn,
    *,
    now: float | None = None,
    fetcher: Fetcher | None = None,
) -> SourceRun:
    """Fetch every enabled source URL that is due and store the entries it gives."""
    run = SourceRun(sources=len(sources))
    now = time.time() if now is None else now
    names = {s.name for s in sources}
    # Files that exist but did not parse keep their entries: only deleted sources go.
    names |= (
        {p.stem for p in config.sources_dir.glob("*.toml")}
        if config.sources_dir.is_dir()
        else set()
    )
    store.forget_sources_except(names)

    jobs = []
    for source in sources:
        if not source.enabled:
            continue
        for url in source.urls:
            state = store.fetch_state(source.key(url), url)
            if state.disabled or state.next_fetch > now:
                continue
            jobs.append(((source, state), state.url, Validators(state.etag, state.last_modified)))
    if not jobs:
        return run

    own = fetcher is None
    fetcher = fetcher or Fetcher(settings_for(config))
    try:
        # Article pages announced by listings and feeds, once each per source, with the
        # fetch state of the document that announced them.
        pages: dict[tuple[str, str], tuple[Source, FetchState]] = {}
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
        page_jobs = [
            ((source, state, url), url, None) for (_, url), (source, state) in pages.items()
        ]
        for (source, state, url), outcome in fetcher.fetch_many(page_jobs):
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
    finally:
        if own:
            fetcher.close()
    for source in sources:
        store.prune_web(source.name, KEEP_PER_SOURCE)
    return run


def enrich_seeds(
    config: Config, store: Store, warn: Warn, *, fetcher: Fetcher | None = None
) -> int:
    """Fetch the page of each seed's link (once per version of the seed) to fill what the
    seed lacks: its date, canonical link, lead image and description. A page that cannot
    be read is one warning; the seed is published as it is. Returns the pages read."""
    todo = store.seeds_to_enrich()
    if not todo:
        return 0
    jobs = [
        ((path, digest, published, first_seen), link, None)
        for path, digest, link, published, first_seen in todo
    ]
    own = fetcher is None
    fetcher = fetcher or Fetcher(settings_for(config))
    read = 0
    try:
        for (path, digest, published, first_seen), outcome in fetcher.fetch_many(jobs):
            if isinstance(outcome, FetchError):
                warn(path, f"not enriched: {outcome}")
                store.put_enrichment(path, digest, error=outcome.reason)
                continue
            page = _page_article(outcome)
            store.put_enrichment(
                path, digest, link=page.link, image=page.image, description=page.summary
            )
            # Only a seed dated by its first sight takes the page's date; a date the seed
            # states itself wins.
            if page.published is not None and published == first_seen:
                store.set_seed_published(path, int(page.published.timestamp()))
            read += 1
    finally:
        if own:
            fetcher.close()
    return read


def enrich_entry(entry: Entry, link: str, image: str, description: str) -> Entry:
    """``entry`` with what its page adds: canonical link, lead image, description."""
    from .normalize import LinkError, canonical_url, clean_text, sanitize_html, shorten

    changes: dict[str, str] = {}
    try:
        if link:
            changes["link"] = canonical_url(link)
    except LinkError:
        pass
    if image and "<img" not in entry.content_html:
        figure = sanitize_html(f'<p><img src="{html.escape(image)}" alt=""></p>')
        if figure:
            changes["content_html"] = f"{figure}\n{entry.content_html}"
    if description and not entry.summary:
        changes["summary"] = shorten(clean_text(description), 1000)
    return replace(entry, **changes) if changes else entry


def _next_scheduled(expression: str, now: float) -> float:
    from .schedule import next_fire

    when = next_fire(expression, from_timestamp(now))
    return when.timestamp() if when else 0.0


def _failed(store: Store, state: FetchState, error: FetchError, now: float, warn: Warn) -> None:
    state.failures += 1
    state.last_error = error.reason
    state.next_fetch = next_retry(state.failures, error.retry_after, now)
    if error.gone:
        state.disabled = 1
        warn(state.url, f"{error.reason}: gone for good; source disabled (its entries stay)")
    else:
        retry = from_timestamp(state.next_fetch).strftime("%Y-%m-%d %H:%M UTC")
        warn(state.url, f"{error.reason} (failure {state.failures} in a row; next try {retry})")
    store.put_fetch_state(state)


def _succeeded(
    store: Store, state: FetchState, result: FetchResult, now: float, warn: Warn
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
    source: Source, result: FetchResult, store: Store, run: SourceRun, now: float
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
    from .extract import article_from_html  # lazily: the extractor is heavy to import

    return article_from_html(result.text, origin=result.final_url, url=result.final_url)


def _save(
    source: Source, article: Article, url: str, store: Store, run: SourceRun, now: float
) -> None:
    """Normalize ``article`` and keep it; an unchanged entry is left exactly as it was."""
    if source.author and not article.authors:
        article.authors = [source.author]
    entry, _warnings = to_entry(article, from_timestamp(now))
    old = store.web_entry(source.name, entry.id)
    if old is not None and article.published is None:
        # An undated page keeps the date it was first seen at, or every fetch would
        # look like an edit.
        entry = replace(entry, published=from_timestamp(old.published))
        entry = replace(entry, updated=max(entry.updated, entry.published))
    digest = content_hash(entry)
    if old is not None:
        if old.entry_hash == digest:
            return
        entry = replace(entry, updated=max(entry.updated, from_timestamp(now)))
        run.updated_entries += 1
    else:
        run.new_entries += 1
    store.put_web_entry(
        WebEntry(
            id=entry.id,
            source=source.name,
            feeds=" " + " ".join(source.feeds) + " ",
            url=url,
            title=entry.title,
            link=entry.link,
            authors=_SEP.join(entry.authors),
            published=int(entry.published.timestamp()),
            updated=int(entry.updated.timestamp()),
            content_html=entry.content_html,
            summary=entry.summary,
            tags=_SEP.join(entry.tags),
            entry_hash=digest,
        )
    )


def web_entry_to_entry(web: WebEntry) -> Entry:
    """A stored web entry as a feed ``Entry``."""
    return Entry(
        id=web.id,
        title=web.title,
        link=web.link,
        authors=tuple(a for a in web.authors.split(_SEP) if a),
        published=from_timestamp(web.published),
        updated=from_timestamp(web.updated),
        content_html=web.content_html,
        summary=web.summary,
        tags=tuple(t for t in web.tags.split(_SEP) if t),
        origin=web.url,
    )
