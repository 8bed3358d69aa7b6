"""seedfeed on many machines: workers sharing PostgreSQL through procrastinate.

Only imported when ``config.toml`` has a ``[cluster]`` section (``pip install
'seedfeed[cluster]'``): the embedded default (SQLite, APScheduler) never loads it.

- ``pgstore``: the PostgreSQL ``StateStore`` and the schema of seedfeed's tables.
- ``app``: the procrastinate app and its tasks (dispatch, fetch, render, scan, recover).
- ``worker``: ``seedfeed worker``, a process that runs those tasks.
- ``cli``: the ``seedfeed cluster ...`` and ``seedfeed worker`` commands.
- ``status``: what ``seedfeed status`` says of a cluster.
"""
