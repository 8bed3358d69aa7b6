"""seedfeed: publish clipped articles and followed web pages as Atom and RSS feeds.

The library under the ``seedfeed`` command::

    import seedfeed

    config = seedfeed.load_config("~/clippings")            # or build one in code:
    config = seedfeed.Config(
        root="~/clippings",
        site=seedfeed.SiteSettings("My clippings", "https://example.org/feeds/"),
    )
    report = seedfeed.publish(config)                        # writes feeds/
    report = seedfeed.check(config)                          # reads everything, writes nothing
    entry = seedfeed.extract(html, url="https://example.org/a")  # a page as a feed entry

Every error raised on purpose is a ``SeedfeedError`` whose message is one line naming
the file, key or URL. Names are imported when first used, so that ``import seedfeed``
(and ``seedfeed --version``) stays cheap.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"
PROJECT_URL = "https://github.com/seedfeed/seedfeed"

__all__ = [
    "Config",
    "ConfigError",
    "Entry",
    "Report",
    "SeedfeedError",
    "SiteSettings",
    "__version__",
    "check",
    "extract",
    "load_config",
    "publish",
]

# A library logs; the application decides where it goes (the CLI: one line each).
logging.getLogger("seedfeed").addHandler(logging.NullHandler())

_LAZY = {
    "Config": "config",
    "ConfigError": "config",
    "SiteSettings": "config",
    "load_config": "config",
    "Entry": "model",
    "Report": "report",
    "SeedfeedError": "errors",
    "publish": "api",
    "check": "api",
    "extract": "api",
}

if TYPE_CHECKING:
    from .api import check, extract, publish
    from .config import Config, ConfigError, SiteSettings, load_config
    from .errors import SeedfeedError
    from .model import Entry
    from .report import Report


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seedfeed' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
