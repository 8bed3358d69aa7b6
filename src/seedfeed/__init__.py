"""seedfeed: publish clipped articles and followed web pages as Atom and RSS feeds."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/seedfeed/seedfeed"
