"""``seedfeed status``: what the last run did, when the next ones are, how sources fare."""

from __future__ import annotations

import time
from collections.abc import Iterator

from .config import Config
from .dates import from_timestamp
from .sources import load_sources
from .store import STATE_FILE, open_store


def _when(seconds: float | None) -> str:
    if not seconds:
        return "never"
    return from_timestamp(seconds).strftime("%Y-%m-%d %H:%M:%S UTC")


def status_lines(config: Config, now: float | None = None) -> Iterator[str]:
    """The lines ``seedfeed status`` prints."""
    from .schedule import next_fire

    now = time.time() if now is None else now
    options = config.schedule
    upcoming = next_fire(options.cron, from_timestamp(now), options.timezone)
    next_publish = _when(upcoming.timestamp() if upcoming else None)
    yield f"project:      {config.file or config.root}"
    yield f"schedule:     {options.cron} ({options.timezone}); next publish {next_publish}"
    if not (config.paths.state / STATE_FILE).exists():
        yield "last run:     never (no state yet)"
        return
    sources, errors = load_sources(config.paths.sources)
    with open_store(config.paths.state) as store:
        last = store.last_run()
        if last is not None:
            yield (
                f"last run:     {_when(last.at)}: {last.entries} entries,"
                f" {last.seeds} seeds ({last.skipped} skipped),"
                f" written: {', '.join(last.written) or 'none'}"
            )
        else:
            yield "last run:     never"
        if not sources and not errors:
            return
        yield "sources:"
        for source in sources:
            for url in source.urls:
                state = store.fetch_state(source.name, url)
                if not source.enabled:
                    health = "disabled in its file"
                elif state.disabled:
                    health = f"disabled: {state.last_error}"
                elif state.failures:
                    health = (
                        f"FAILING ({state.failures} in a row: {state.last_error});"
                        f" next try {_when(state.next_fetch)}"
                    )
                else:
                    due = "now" if state.next_fetch <= now else _when(state.next_fetch)
                    health = f"ok; next fetch {due}"
                label = f"{source.name} ({source.title})" if source.title else source.name
                yield f"  {label}  {state.url}"
                yield f"      last success {_when(state.last_success)}; {health}"
        for line in errors:
            yield f"  {line}"
