"""``python -m seedfeed``: the ``seedfeed`` command (what the cluster tests start)."""

from .cli import main

if __name__ == "__main__":
    main()
