BEGIN TRANSACTION;
CREATE TABLE enrichment (
    path        TEXT PRIMARY KEY,  -- the seed
    digest      BLOB NOT NULL,     -- the seed bytes it was fetched for: an edit fetches again
    link        TEXT NOT NULL,     -- the page's canonical link
    image       TEXT NOT NULL,
    description TEXT NOT NULL,
    error       TEXT               -- why the page could not be read (the seed is unaffected)
);
CREATE TABLE entries (
    entry_id    TEXT PRIMARY KEY,
    published   INTEGER NOT NULL,
    updated     INTEGER NOT NULL,  -- never decreases
    entry_hash  BLOB NOT NULL,     -- what readers were last shown
    dated       INTEGER NOT NULL   -- published is the seed's own date
);
CREATE TABLE fetch_state (
    source        TEXT NOT NULL,     -- the source's name (its file's stem)
    origin        TEXT NOT NULL,     -- the URL as its file gives it
    url           TEXT NOT NULL,     -- where to fetch it now (after permanent redirects)
    etag          TEXT,              -- validators exactly as the server sent them
    last_modified TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,  -- in a row
    next_fetch    REAL NOT NULL DEFAULT 0,     -- POSIX seconds: due from then on
    last_success  INTEGER,
    last_error    TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,  -- 410 Gone
    PRIMARY KEY (source, origin)
);
CREATE TABLE links (
    link        TEXT PRIMARY KEY,
    entry_id    TEXT NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','3');
INSERT INTO "meta" VALUES('duplicates','0');
INSERT INTO "meta" VALUES('outputs','{"key": "6a81f85927bf8d438d1d3e289221539d", "entries": {"all": 2}, "articles": 2, "generation": 1}');
INSERT INTO "meta" VALUES('generation','1');
INSERT INTO "meta" VALUES('last_run','{"at": 1795827921, "seeds": 2, "skipped": 0, "warnings": 0, "entries": 2, "written": [], "sources_failed": 0}');
CREATE TABLE pending_pages (
    source       TEXT NOT NULL,
    url          TEXT NOT NULL,
    failures     INTEGER NOT NULL,  -- in a row
    next_try     REAL NOT NULL,     -- POSIX seconds
    first_failed INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (source, url)
);
CREATE TABLE robots (
    origin        TEXT PRIMARY KEY,  -- scheme://host[:port]
    body          TEXT NOT NULL,     -- '' for none (a 4xx: everything allowed)
    etag          TEXT,
    last_modified TEXT,
    fetched_at    REAL NOT NULL
);
CREATE TABLE seeds (
    path        TEXT PRIMARY KEY,  -- relative to the seeds folder, '/'-separated
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    scanned_ns  INTEGER NOT NULL,  -- when size/mtime were read (see is_clean)
    digest      BLOB NOT NULL,     -- hash of the file's bytes
    entry_id    TEXT NOT NULL,     -- fixed at first sight, never recomputed
    entry_hash  BLOB NOT NULL,     -- hash of what readers see; x'' until a feed shows it
    first_seen  INTEGER NOT NULL,  -- file mtime when first seen, POSIX seconds
    published   INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    ok          INTEGER NOT NULL DEFAULT 1,  -- 0 while the file is unreadable or broken
    link        TEXT NOT NULL DEFAULT '',    -- its canonical link now ('' for none)
    dated       INTEGER NOT NULL DEFAULT 0,  -- 1 when the seed states its own date
    problem     TEXT,                        -- why it is skipped, while it is (ok = 0)
    known_ns    INTEGER NOT NULL DEFAULT 0,  -- when a scan first found it: of duplicates,
                                             -- the one known first publishes the entry
                                             -- (then the one first dated, by its file)
    authors     TEXT NOT NULL DEFAULT '',    -- joined with U+001F (tag and author feeds)
    tags        TEXT NOT NULL DEFAULT ''
);
INSERT INTO "seeds" VALUES('a.txt',92,1700000000000000000,1795827920721515668,X'A2B694E9418818C4AA0EADE9F4E722E2','https://news.example.org/alpha',X'0D90C8966C76B3D35956AA6ADC870129',1700000000,1700000000,1700000000,1,'https://news.example.org/alpha',0,NULL,1795827920721515668,'','');
INSERT INTO "seeds" VALUES('b.txt',20,1700000000000000000,1795827920721515668,X'8354583B033B7413041407191BE82580','urn:uuid:293c6372-6faa-5632-8837-bc6d9853136e',X'CAD823ABE66ADEA24C6B067E747CD0C8',1700000000,1700000000,1700000000,1,'',0,NULL,1795827920721515668,'','');
CREATE TABLE web_entries (
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
CREATE INDEX seeds_by_date ON seeds (published DESC, entry_id);
CREATE INDEX seeds_by_entry_known ON seeds (entry_id, known_ns, first_seen, path);
CREATE INDEX fetch_by_due ON fetch_state (next_fetch) WHERE disabled = 0;
CREATE INDEX web_by_date ON web_entries (published DESC, id);
CREATE INDEX web_by_url ON web_entries (source, url);
COMMIT;
