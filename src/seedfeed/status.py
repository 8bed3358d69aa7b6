"""``seedfeed status``: what the last run did, when the next ones are, how sources fare.

``status`` gathers it as plain data (what ``--json`` prints); ``status_lines`` says it.
A next publish is announced only while a daemon runs (``seedfeed run`` holds a lock).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from .config import Config
from .dates import from_timestamp
from .sources import SourceError, load_sources
from .store import STATE_FILE, open_store
from .web.robots import DISALLOWED


def _when(seconds: float | None) -> str:
    if not seconds:
        return "never"
    return from_timestamp(seconds).strftime("%Y-%m-%d %H:%M:%S UTC")


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def status(config: Config, now: float | None = None) -> dict[str, Any]:
    """The state of a project: the daemon, the last run, every source's health."""
    from .daemon import daemon_running

    now = time.time() if now is None else now
    running = daemon_running(config.paths.state)
    result: dict[str, Any] = {
        "project": str(config.file or config.root),
        "schedule": {"cron": config.schedule.cron, "timezone": config.schedule.timezone},
        "daemon": running,
        "next_publish": None,
        "last_run": None,
        "sources": [],
        "unread_pages": [],
        "source_errors": [],
    }
    if running:
        from .schedule import next_fire

        options = config.schedule
        upcoming = next_fire(options.cron, from_timestamp(now), options.timezone)
        result["next_publish"] = int(upcoming.timestamp()) if upcoming else None
    if not (config.paths.state / STATE_FILE).exists():
        return result
    try:
        sources, errors = load_sources(config.paths.sources)
    except SourceError as exc:
        sources, errors = [], [str(exc)]
    result["source_errors"] = errors
    enabled = {source.name for source in sources if source.enabled}
    with open_store(config.paths.state) as store:
        last = store.last_run()
        result["last_run"] = asdict(last) if last is not None else None
        for source in sources:
            for url in source.urls:
                state = store.fetch_state(source.name, url)
                if not source.enabled:
                    health = "disabled in its file"
                elif state.disabled:
                    health = "gone"
                elif state.failures:
                    health = "failing"
                elif state.last_error == DISALLOWED:
                    health = "disallowed"
                else:
                    health = "ok"
                result["sources"].append(
                    {
                        "source": source.name,
                        "title": source.title,
                        "url": state.url,
                        "health": health,
                        "last_success": state.last_success,
                        "last_error": state.last_error,
                        "failures": state.failures,
                        "next_fetch": None if state.disabled else max(state.next_fetch, now),
                    }
                )
        result["unread_pages"] = [
            {
                "source": page.source,
                "url": page.url,
                "reason": page.reason,
                "failures": page.failures,
                "first_failed": page.first_failed,
                "next_try": max(page.next_try, now),
            }
            for page in store.pending_pages()
            if page.source in enabled  # a disabled source's pages are not tried
        ]
    return result


def status_lines(config: Config, now: float | None = None) -> Iterator[str]:
    """The lines ``seedfeed status`` prints."""
    now = time.time() if now is None else now
    data = status(config, now)
    cron = f"{data['schedule']['cron']} ({data['schedule']['timezone']})"
    yield f"project:      {data['project']}"
    if data["daemon"]:
        yield f"daemon:       running; next publish {_when(data['next_publish'])} ({cron})"
    else:
        yield f"daemon:       not running (seedfeed run would publish on {cron})"
    last = data["last_run"]
    if not (config.paths.state / STATE_FILE).exists():
        yield "last run:     never (no state yet)"
        return
    if last is None:
        yield "last run:     never"
    else:
        yield (
            f"last run:     {_when(last['at'])}: {last['entries']} entries,"
            f" {last['seeds']} seeds ({last['skipped']} skipped),"
            f" written: {', '.join(last['written']) or 'none'}"
        )
    if not data["sources"] and not data["source_errors"]:
        return
    yield "sources:"
    for item in data["sources"]:
        due = item["next_fetch"]
        when = "now" if due is not None and due <= now else _when(due)
        health = {
            "disabled in its file": "disabled in its file",
            "gone": f"disabled: {item['last_error']}",
            "failing": (
                f"FAILING ({item['failures']} in a row: {item['last_error']}); next try {when}"
            ),
            "disallowed": f"disallowed by robots.txt; asked again {when}",
            "ok": f"ok; next fetch {when}",
        }[item["health"]]
        label = f"{item['source']} ({item['title']})" if item["title"] else item["source"]
        yield f"  {label}  {item['url']}"
        yield f"      last success {_when(item['last_success'])}; {health}"
    for line in data["source_errors"]:
        yield f"  {line}"
    if data["unread_pages"]:
        yield "announced pages not read yet (tried again on their own; seedfeed refresh: now):"
    for page in data["unread_pages"]:
        yield f"  {page['url']}  (from {page['source']})"
        yield (
            f"      {page['reason']}; {_count(page['failures'], 'failure')} since"
            f" {_when(page['first_failed'])}; next try {_when(page['next_try'])}"
        )
