"""``seedfeed init``: lay out a new project that publishes as it is."""

from __future__ import annotations

import json
from pathlib import Path

from .config import CONFIG_NAME
from .errors import SeedfeedError

EXAMPLE_SEED = """\
Welcome to seedfeed: your clippings, as a feed

\u00a0

Your Name, author of\u00a0from Your Town

\u00a0

Every text file in seeds/ becomes one entry in feeds/all.atom.xml and feeds/all.rss.xml.

Why it matters: A folder of clipped articles is now something your feed reader follows.

How it works: The first line is the title, a byline names the author, and each paragraph
stays a paragraph.

  \u2022 Lines that start with a bullet become a list.
  \u2022 A last line "Content retrieved from: URL" gives the entry its link.

Content retrieved from: https://example.org/welcome-to-seedfeed?utm_source=init.
"""


class ScaffoldError(SeedfeedError):
    """The project cannot be created there (it exists already, or the folder is not writable)."""


def scaffold(directory: Path, *, title: str, base_url: str) -> list[Path]:
    """Create ``config.toml``, ``seeds/welcome.txt`` and ``feeds/`` in ``directory``.

    Existing files are never overwritten; returns the paths created.
    """
    config = directory / CONFIG_NAME
    try:
        exists = config.exists()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        reason = getattr(exc, "strerror", None) or exc
        raise ScaffoldError(f"{str(directory)[:200]!r}: not a usable folder: {reason}") from None
    if exists:
        raise ScaffoldError(f"{config}: already exists; nothing changed")
    from .config import SiteSettings  # what publish will check, checked before writing

    SiteSettings(title=title, base_url=base_url)
    if not base_url.endswith("/"):
        base_url += "/"
    created = []
    try:
        (directory / "seeds").mkdir(parents=True, exist_ok=True)
        (directory / "feeds").mkdir(exist_ok=True)
        config.write_text(
            "[site]\n"
            f"title = {_toml_string(title)}\n"
            f"base_url = {_toml_string(base_url)}\n"
            '# author = "Your Name"\n'
            '# description = "What this feed is about"\n'
            '# language = "en"\n\n'
            "[publish]\n"
            "max_entries = 50\n\n"
            "# [schedule]            # for `seedfeed run`\n"
            '# cron = "*/15 * * * *"  # crontab syntax, UTC\n'
            "# [websub]\n"
            '# hub = "https://hub.example.org/"\n',
            encoding="utf-8",
        )
        created.append(config)
        seed = directory / "seeds" / "welcome.txt"
        if not seed.exists():
            seed.write_text(EXAMPLE_SEED, encoding="utf-8")
            created.append(seed)
    except OSError as exc:
        raise ScaffoldError(f"{directory}: {exc.strerror or exc}") from None
    return created


def _toml_string(value: str) -> str:
    # JSON string escapes (\n, \", \uXXXX) are valid TOML basic-string escapes.
    return json.dumps(value)
