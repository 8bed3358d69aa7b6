-- A state store as seedfeed 0.1 (schema 1) wrote it: its DDL and a few rows.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seeds (
    path        TEXT PRIMARY KEY,  -- relative to the seeds folder, '/'-separated
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    scanned_ns  INTEGER NOT NULL,  -- when size/mtime were read (see is_clean)
    digest      BLOB NOT NULL,     -- hash of the file's bytes
    entry_id    TEXT NOT NULL,     -- fixed at first sight, never recomputed
    entry_hash  BLOB NOT NULL,     -- hash of what readers see (normalize.content_hash)
    first_seen  INTEGER NOT NULL,  -- file mtime when first seen, POSIX seconds
    published   INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    ok          INTEGER NOT NULL DEFAULT 1  -- 0 while the file is unreadable or broken
);
CREATE INDEX IF NOT EXISTS seeds_by_date ON seeds (published DESC, entry_id);
CREATE INDEX IF NOT EXISTS seeds_by_entry ON seeds (entry_id, first_seen, path);
CREATE TABLE IF NOT EXISTS fetch_state (
    key           TEXT PRIMARY KEY,  -- Source.key(url): source name and configured URL
    url           TEXT NOT NULL,     -- where to fetch it now (after permanent redirects)
    etag          TEXT,              -- validators exactly as the server sent them
    last_modified TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,  -- in a row
    next_fetch    REAL NOT NULL DEFAULT 0,     -- POSIX seconds; backoff after failures
    last_success  INTEGER,
    last_error    TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0   -- 410 Gone
);
CREATE TABLE IF NOT EXISTS web_entries (
    id           TEXT NOT NULL,
    source       TEXT NOT NULL,  -- the source's name (its file's stem)
    feeds        TEXT NOT NULL,  -- ' all tech ': the feeds it goes into
    url          TEXT NOT NULL,  -- the page it was read from
    title        TEXT NOT NULL,
    link         TEXT NOT NULL,
    authors      TEXT NOT NULL,  -- joined with U+001F
    published    INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    content_html TEXT NOT NULL,
    summary      TEXT NOT NULL,
    tags         TEXT NOT NULL,
    entry_hash   BLOB NOT NULL,
    PRIMARY KEY (source, id)      -- two sources may carry one article, each to its feeds
);
CREATE TABLE IF NOT EXISTS enrichment (
    path        TEXT PRIMARY KEY,  -- the seed
    digest      BLOB NOT NULL,     -- the seed bytes it was fetched for: an edit fetches again
    link        TEXT NOT NULL,     -- the page's canonical link
    image       TEXT NOT NULL,
    description TEXT NOT NULL,
    error       TEXT               -- why the page could not be read (the seed is unaffected)
);
CREATE INDEX IF NOT EXISTS web_by_date ON web_entries (published DESC, id);
CREATE INDEX IF NOT EXISTS web_by_url ON web_entries (source, url);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO meta VALUES ('last_run', '{"at": 1700000100, "seeds": 2, "skipped": 0, "warnings": 1, "entries": 1, "written": ["all.atom.xml"], "sources_failed": 0}');
-- a.txt published https://news.example.org/story at T0; b.txt is its duplicate
INSERT INTO seeds VALUES ('a.txt', 100, 1700000000000000000, 1700000100000000000, x'00', 'https://news.example.org/story', x'01', 1700000000, 1700000000, 1700000000, 1);
INSERT INTO seeds VALUES ('b.txt', 100, 1700000050000000000, 1700000100000000000, x'02', 'https://news.example.org/story', x'03', 1700000050, 1700000050, 1700000050, 1);
-- a source whose name has a space, with validators and a failure
INSERT INTO fetch_state VALUES ('city news https://ex.org/list', 'https://ex.org/moved', '"v1"', NULL, 2, 1700003600, 1699990000, 'HTTP 500', 0);
INSERT INTO web_entries VALUES ('https://ex.org/a', 'city news', ' all city ', 'https://ex.org/a', 'A', 'https://ex.org/a', 'Ann' || char(31) || 'Bob', 1699990000, 1699990000, '<p>A</p>', 'A.', 'x', x'04');
