"""seedfeed: publish clipped articles and followed web pages as Atom and RSS feeds."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seedfeed")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

PROJECT_URL = "https://github.com/seedfeed/seedfeed"
