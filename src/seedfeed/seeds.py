"""Read seed files: clipped-article text, Markdown with front matter, and HTML.

``discover`` lists the seed files of a folder; ``read_seed`` turns one file into a raw
``Article``, raising ``SeedError`` (one line: the reason) when the file cannot be used.
Parsing never trusts the input: any text gives an ``Article`` or a ``SeedError``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache, partial
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from .dates import parse_date
from .errors import SeedfeedError
from .model import Article, Block
from .web.charset import mostly_utf8

TEXT_SUFFIXES = frozenset({".txt", ".text"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SEED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES


class SeedError(SeedfeedError):
    """A seed file cannot be published; the message is the reason, for one warning line."""


class SeedTooLarge(SeedError):
    """A seed file over the size limit (its bytes are the problem, not the disk)."""


class FolderError(SeedfeedError):
    """A folder of seeds cannot be listed. The run stops there: going on without its
    seeds would take their entries out of every feed."""


class SeedFile(NamedTuple):
    """A seed file found on disk. ``rel`` is its path below the seeds folder, with ``/``.
    (A tuple, and ``path`` a str, not a Path: a scan makes 100,000 of them.)"""

    rel: str
    path: str
    size: int
    mtime_ns: int


def discover(
    seeds_dir: Path,
    reject: Callable[[str, str], None] | None = None,
    outside: Iterable[Path] = (),
    unlisted: Callable[[str, str], None] | None = None,
) -> Iterator[SeedFile]:
    """Yield the seed files below ``seeds_dir`` in a stable (sorted) order.

    Hidden files and folders, other extensions and symlinked folders (loops) are
    skipped, and so are the folders ``outside`` (the feeds and the state, when they lie
    in the seeds folder: a feed's index.html is no seed). A seed name that is no regular
    file (a FIFO, a dangling or looping symlink) or cannot be looked at (EIO) is passed
    to ``reject`` with the reason; so is a file symlink whose target is outside
    ``seeds_dir``: a link to ``/etc/passwd`` must not publish it. A folder that cannot
    be listed is passed to ``unlisted`` (its path below ``seeds_dir``, with a ``/``,
    escaped as a store key where not printable, and why), which may raise
    ``FolderError``; without one, it raises ``FolderError``.
    """
    for batch in discover_batches(seeds_dir, reject, outside, unlisted):
        yield from batch


def discover_batches(
    seeds_dir: Path,
    reject: Callable[[str, str], None] | None = None,
    outside: Iterable[Path] = (),
    unlisted: Callable[[str, str], None] | None = None,
) -> Iterator[list[SeedFile]]:
    """``discover``, a folder's run of files at a time: a scan of 100,000 unchanged
    seeds spends its time per file, so the files do not pass one by one through a
    generator per folder level."""
    root = os.path.join(os.path.realpath(seeds_dir), "")  # ending in one "/" (also "/")
    skip = _inside(root, outside)
    refuse = unlisted or partial(_refuse, str(seeds_dir))
    yield from _walk(str(seeds_dir), "", root, reject, skip, refuse)


def _inside(root: str, folders: Iterable[Path]) -> frozenset[str]:
    """The ``folders`` that lie inside ``root`` (a real path ending in a separator), as
    the walk names them: their path below it, ending in ``/``. (The walk follows no
    symlinked folder, so its names are real paths: a string test, with no ``realpath``
    a subfolder.)"""
    inside = set()
    for folder in folders:
        real = os.path.realpath(folder)
        if real.startswith(root):
            inside.add(real[len(root) :].replace(os.sep, "/") + "/")
    return frozenset(inside)


def _refuse(seeds_dir: str, prefix: str, reason: str) -> None:
    """What an unlisted folder does by default: stop the run (see ``FolderError``)."""
    raise FolderError(folder_error(seeds_dir, prefix, reason))


def folder_path(seeds_dir: str | Path, prefix: str) -> str:
    """The folder ``prefix`` (a key prefix: escaped, ending in ``/``) of the seeds, as
    a warning names it: its whole path, escaped where not printable."""
    return _display(os.path.join(seeds_dir, prefix))


def folder_error(seeds_dir: str | Path, prefix: str, reason: str) -> str:
    """The message of a ``FolderError`` about the folder ``prefix`` of the seeds."""
    return (
        f"{folder_path(seeds_dir, prefix)}: cannot be listed ({reason}); nothing published,"
        " so that its seeds stay in the feeds"
    )


def _walk(
    folder: str,
    prefix: str,
    root: str,
    reject: Callable[[str, str], None] | None,
    skip: frozenset[str],
    unlisted: Callable[[str, str], None],
) -> Iterator[list[SeedFile]]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=_NAME)
    except (FileNotFoundError, NotADirectoryError) as exc:
        if prefix:
            return  # gone since its parent was listed: so are its seeds
        # The seeds folder itself, gone since the run checked it: all its seeds are
        # unknown, not gone (going on would empty every feed).
        unlisted(prefix, _reason(exc))
        return
    except OSError as exc:
        unlisted(prefix if prefix.isprintable() else _display(prefix), _reason(exc))
        return
    files: list[SeedFile] = []
    printable = prefix.isprintable()
    # This loop runs once per file of every publish, also when nothing changed: it
    # keeps to what the directory entry knows (d_type) until a file is a seed.
    for entry in entries:
        name = entry.name
        if name[0] == ".":
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                if skip and f"{prefix}{name}/" in skip:
                    continue  # the feeds folder, inside the seeds folder
                if files:  # in name order: this folder's files so far, then the subfolder's
                    yield files
                    files = []
                yield from _walk(entry.path, f"{prefix}{name}/", root, reject, skip, unlisted)
                continue
            dot = name.rfind(".")
            if dot < 1 or name[dot:].lower() not in SEED_SUFFIXES:
                continue
            try:  # (inline, not _is: once a seed of every publish)
                regular = entry.is_file()  # follows file symlinks
            except OSError:  # a symlink loop
                regular = False
            if not regular:  # a FIFO, a broken link
                if reject is not None and not _is(entry.is_dir):  # (a folder x.txt: not)
                    if files:
                        yield files
                        files = []
                    rel = prefix + name
                    reject(rel if rel.isprintable() else _display(rel), _not_a_file(entry))
                continue
            path = entry.path
            rel = prefix + name
            if not (printable and name.isprintable()):  # not UTF-8, control characters:
                rel = _display(rel)  # escaped as a key
            if entry.is_symlink():
                # Read the target itself (opened without following links), and only
                # when it lies inside the seeds folder.
                path = os.path.realpath(path)
                if not path.startswith(root):
                    if reject is not None:
                        if files:  # said in name order, after the files before it
                            yield files
                            files = []
                        reject(rel, "symlink to a file outside seeds/")
                    continue
            st = entry.stat()
        except FileNotFoundError:
            continue  # deleted since its folder was listed: gone
        except OSError as exc:  # there, but not to be read (EIO; a folder without x)
            dot = name.rfind(".")
            if reject is not None and dot > 0 and name[dot:].lower() in SEED_SUFFIXES:
                if files:
                    yield files
                    files = []
                rel = prefix + name
                reject(
                    rel if rel.isprintable() else _display(rel), f"cannot be read ({_reason(exc)})"
                )
            continue
        mtime_ns = st.st_mtime_ns
        if not _OLDEST_NS <= mtime_ns <= _NEWEST_NS:  # not a date, and not storable either
            mtime_ns = max(_OLDEST_NS, min(mtime_ns, _NEWEST_NS))
        files.append(_seed_file((rel, path, st.st_size, mtime_ns)))
    if files:
        yield files


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _is(test: Callable[[], bool]) -> bool:
    """``entry.is_file`` or ``entry.is_dir``, following a symlink: False for a loop."""
    try:
        return test()
    except OSError:  # ELOOP: DirEntry says False only for a missing target
        return False


def _not_a_file(entry: os.DirEntry[str]) -> str:
    """Why a seed name found in a folder is no file to read."""
    try:
        os.stat(entry.path)
    except OSError:
        return "symlink to nothing (a missing target, or a loop)"
    return "not a regular file (a FIFO, a socket or a device)"


_NAME = attrgetter("name")
# A SeedFile made in C: the NamedTuple's own __new__ is a Python call, once per file.
_seed_file = partial(tuple.__new__, SeedFile)
# File times a store keeps as 64-bit nanoseconds (1678 to 2262): a file set to the year
# 2446 (touch allows it) counts as made in 2262, and never ends a run.
_OLDEST_NS, _NEWEST_NS = -(2**63), 2**63 - 1


def _display(name: str) -> str:
    # A file name is a key in the store and is shown in one-line warnings: bytes that
    # are not UTF-8 and control characters (a newline!) are escaped.
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", name)


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def read_bytes(
    path: str | Path,
    limit: int,
    *,
    follow_symlinks: bool = False,
    setting: str = "publish.max_seed_bytes",
) -> bytes:
    """Read the whole file under a cap of ``limit`` bytes; ``SeedError`` when the file is
    larger or unreadable.

    The file is read to its end, never trusted to be ``st_size`` long: ``/proc`` files say
    0, a file being written grows, and ``/dev/zero`` never ends (the cap stops it). Without
    ``follow_symlinks`` the last path component must not be a symlink (``discover`` gives
    the resolved path of a link it accepted), so a link swapped in after the scan fails.
    ``setting`` names the limit in the message.
    """
    flags = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SeedError("vanished during the run") from None
    except PermissionError:
        raise SeedError("permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SeedError("became a symlink during the run") from None
        raise SeedError(f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SeedError("is a folder")
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode)):
            raise SeedError("not a regular file")
        # os.read with the file's own size first: one call for the usual file, a third
        # of the cost of open().read(), which matters at 100,000 seeds. Then on to EOF.
        want = min(st.st_size, limit) + 1
        parts: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, max(want - total, 65536))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
    except BlockingIOError:
        raise SeedError("not a regular file") from None
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise SeedError("is a folder") from None
        raise SeedError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > limit:
        raise SeedTooLarge(f"larger than the {_size(limit)} limit ({setting})")
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.0f} KB"


# --- decoding ---------------------------------------------------------------------------

# Bytes that text files do not hold: C0 controls but tab, LF and CR, and DEL. Deleting
# every other byte counts them, in C.
_TEXT_BYTES = bytes(b for b in range(256) if (b >= 0x20 and b != 0x7F) or b in b"\t\n\r")
_CONTROL_CHARS_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Files that start like this are not text whatever their bytes look like further on.
_MAGIC = (
    b"\x89PNG\r\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"%PDF-", b"PK\x03\x04",
    b"\x1f\x8b", b"\x7fELF", b"SQLite format 3\x00", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07", b"OggS\x00", b"\x1a\x45\xdf\xa3", b"wOFF", b"wOF2", b"\xca\xfe\xba\xbe",
    b"\xcf\xfa\xed\xfe", b"\x00\x00\x01\x00", b"\x00\x01\x00\x00\x00",
)  # fmt: skip
_RIFF_KINDS = (b"WAVE", b"AVI ", b"WEBP")
# More than this share of control bytes (and more than a couple) in the first 8 KB:
# binary. Random bytes hold 11.7%, most binary formats more; an article with a stray
# NUL, well under 1%.
_BINARY_SHARE = 0.10
_BINARY_MIN = 2


def is_binary(data: bytes) -> bool:
    """Whether ``data`` is not text: a known binary format, or too many control bytes.

    Judged by proportion, not by one byte: a stray NUL in an article is a typo to clean
    up, not a reason to drop the article.
    """
    return _binary(data, _controls(data[:_HEAD]))


_HEAD = 8192  # bytes judged by their proportion of control bytes


def _binary(data: bytes, head_controls: int) -> bool:
    if data.startswith(_MAGIC) or (data.startswith(b"RIFF") and data[8:12] in _RIFF_KINDS):
        return True
    return head_controls > max(_BINARY_MIN, min(len(data), _HEAD) * _BINARY_SHARE)


def _controls(data: bytes) -> int:
    """How many control bytes ``data`` holds (deleting all others counts them, in C)."""
    return len(data.translate(None, _TEXT_BYTES))


def decode(data: bytes) -> tuple[str, list[str]]:
    """Decode seed bytes to text; returns the text and any warnings.

    UTF-8 (with or without BOM) and UTF-16 with BOM are read as such. Text that is
    mostly UTF-8 keeps its good characters (bad bytes become U+FFFD); anything else is
    read as Windows-1252, then Latin-1. Binary data raises ``SeedError``. Control
    characters (but tab and line ends) are removed, with a warning that counts them.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text, warnings = data.decode("utf-16"), list[str]()
        except UnicodeDecodeError:
            raise SeedError("invalid UTF-16") from None
        return _without_controls(text, warnings)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head_controls = _controls(data[:_HEAD])  # counted once: for is_binary, and here
    if _binary(data, head_controls):
        raise SeedError("binary file, not text")
    try:
        text, warnings = data.decode("utf-8"), list[str]()
    except UnicodeDecodeError:
        text, warnings = _decode_legacy(data)
    # Rare: only then is the text searched.
    if head_controls or (len(data) > _HEAD and _controls(data[_HEAD:])):
        return _without_controls(text, warnings)
    return text, warnings


def _decode_legacy(data: bytes) -> tuple[str, list[str]]:
    text = data.decode("utf-8", "replace")
    if mostly_utf8(text):  # real UTF-8 with a few broken bytes: keep it, not mangle it all
        return text, [f"{text.count(chr(0xFFFD))} undecodable byte(s) replaced"]
    try:
        return data.decode("cp1252"), ["not UTF-8; read as Windows-1252"]
    except UnicodeDecodeError:
        return data.decode("latin-1"), ["not UTF-8; read as Latin-1"]


def _without_controls(text: str, warnings: list[str]) -> tuple[str, list[str]]:
    # A vertical tab or form feed separates words: it becomes a space, not nothing.
    cleaned, count = _CONTROL_CHARS_TEXT.subn(lambda m: " " if m[0] in "\x0b\x0c" else "", text)
    if count:
        warnings = [*warnings, f"{count} control character(s) removed"]
    return cleaned, warnings


def read_seed(seed: SeedFile, max_bytes: int) -> Article:
    """Read and parse one seed file into a raw ``Article``."""
    return parse_seed_bytes(read_bytes(seed.path, max_bytes), seed.rel)


def parse_seed_bytes(data: bytes, origin: str, *, head_only: bool = False) -> Article:
    """Decode and parse the bytes of a seed file; ``origin`` is its path below seeds/.

    The one seed reader: publish, check and the library all come through here. With
    ``head_only`` the body of text and Markdown seeds is not read (see ``parse_clipped``).
    """
    if not data:
        raise SeedError("empty file")
    text, warnings = decode(data)
    article = parse_seed_text(text, origin, head_only=head_only)
    article.warnings[:0] = warnings
    return article


def parse_seed_text(text: str, origin: str, *, head_only: bool = False) -> Article:
    """Parse decoded seed text; the format follows the extension of ``origin``."""
    if not text or text.isspace():
        raise SeedError("no text, only whitespace")
    suffix = os.path.splitext(origin)[1].lower()
    if suffix in MARKDOWN_SUFFIXES:
        return parse_markdown(text, origin, head_only=head_only)
    if suffix in HTML_SUFFIXES:
        from .web.extract import article_from_html  # lazily: seed-only runs never need it

        article = article_from_html(text, origin=origin)
        if not (article.title or article.content_html.strip()):
            raise SeedError("HTML with no title and no text")
        return article
    return parse_clipped(text, origin, head_only=head_only)


# --- the clipped-article format ---------------------------------------------------------

_RETRIEVED = re.compile(
    r"^(?:content\s+retrieved\s+from|retrieved\s+from|source|original\s+url)\s*:\s*(\S+)\s*$",
    re.IGNORECASE,
)
_HEADER = re.compile(
    r"^(published|date|updated|modified|author|authors|by|tags|link|url|source)\s*:\s*(\S.*)$",
    re.IGNORECASE,
)
_BYLINE_OF = re.compile(r"^(?P<names>[^,].{0,200}?),\s+authors?\s+of\b.*$", re.IGNORECASE)
_AUTHOR_OF = re.compile(r",\s+authors?\s+of\b", re.IGNORECASE)
_BYLINE_BY = re.compile(r"^by\s+(?P<names>\S.{0,200})$", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"\s*(?:,|;)\s*")
_AND_SPLIT = re.compile(r"\s+(?:and|&)\s+")
_NAME_WORD = re.compile(
    r"^(?:[A-Z\u00c0-\u024f][\w.'\u2019-]*|de|da|van|von|der|den|la|le|bin|al|el)$"
)
_BULLETS = ("\u2022", "\u25e6", "\u25aa", "\u2023", "\u25cf")  # • ◦ ▪ ‣ ●
# A lead-in is a short capitalised phrase closed by a colon: "Why it matters:", "Yes, but:".
_LEAD = r"([A-Z0-9][\w'\u2019-]*(?:,? [\w'\u2019-]+){0,3}:)"
_LEAD_IN = re.compile(_LEAD + r"\s+(\S.*)", re.DOTALL)
_LEAD_ALONE = re.compile(_LEAD + r"\Z")  # "By the numbers:" on its own, before a list


def parse_clipped(text: str, origin: str, *, head_only: bool = False) -> Article:
    """Parse the clipped-article text format (title, byline, paragraphs, source line).

    With ``head_only`` the body is not read: the title, the source line and the header
    blocks are what a publish needs of a seed no feed shows. Both ways read those
    through the same code, so they give the same id and dates.
    """
    # Clippers pad with no-break spaces; they are plain spaces here (str.replace is far
    # cheaper than collapsing every line with split/join, which render does anyway).
    # Only LF, CRLF and CR end a line here: str.splitlines would also cut at a form feed,
    # U+2028 or U+0085 inside a title.
    text = text.replace("\u00a0", " ")
    if "\r" in text:  # (a search for one character costs a tenth of a replace of two)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    title_at, title, after_title = next(
        (at, line, end) for at, line, end in _lines(text, 0, len(text)) if line
    )
    article = Article(origin=origin, title=title)
    # The last line names the source ("Content retrieved from: URL") unless it is the
    # title itself; what follows reads the text without it.
    end = len(text.rstrip())
    last_at = text.rfind("\n", 0, end) + 1
    if last_at > title_at and (m := _RETRIEVED.match(text[last_at:end].strip())):
        article.link = m.group(1)
        end = last_at
    # Header blocks (``Published: …`` lines, the byline) sit between title and body.
    body_at = end
    for block_at, block in _blocks(text, after_title, end):
        if not _read_header_block(block, article):
            body_at = block_at
            break
    if not head_only:
        for _at, block in _blocks(text, body_at, end):
            article.blocks.extend(_body_blocks(block))
    return article


def _lines(text: str, start: int, stop: int) -> Iterator[tuple[int, str, int]]:
    """The lines of ``text[start:stop]``, stripped: (offset, line, offset after it)."""
    at = start
    while at < stop:
        end = text.find("\n", at, stop)
        if end < 0:
            end = stop
        yield at, text[at:end].strip(), end + 1
        at = end + 1


def _blocks(text: str, start: int, stop: int) -> Iterator[tuple[int, list[str]]]:
    """The blocks of ``text[start:stop]``: runs of lines with text, stripped, with the
    offset of their first line."""
    # Found by searching, not line by line: the next character that is not whitespace
    # starts a block (at the start of its line), the next line of whitespace alone ends
    # it. (Regular expressions' \s and str.strip agree on what whitespace is.)
    at = start
    while (first := _NOT_SPACE.search(text, at, stop)) is not None:
        block_at = max(start, text.rfind("\n", start, first.start()) + 1)
        blank = _BLANK_LINE.search(text, first.start(), stop)
        end = blank.start() if blank is not None else stop
        yield block_at, [line.strip() for line in text[block_at:end].split("\n")]
        at = end


_NOT_SPACE = re.compile(r"\S")
_BLANK_LINE = re.compile(r"\n[^\S\n]*(?:\n|\Z)")


def _read_header_block(block: list[str], article: Article) -> bool:
    """Consume a block of header lines or a byline into ``article``; False if it is body."""
    if len(block) == 1 and (names := _byline_names(block[0])):
        article.authors = names
        return True
    matches = [_HEADER.match(line) for line in block]
    if not all(matches):
        return False
    for m in matches:
        assert m is not None
        key, value = m.group(1).lower(), m.group(2).strip()
        if key in ("published", "date"):
            article.published = parse_date(value) or article.published
        elif key in ("updated", "modified"):
            article.updated = parse_date(value) or article.updated
        elif key in ("author", "authors", "by"):
            article.authors = _split_names(value)
        elif key == "tags":
            article.tags = [t.strip() for t in value.split(",") if t.strip()]
        elif not article.link:  # link, url, source
            article.link = value
    return True


def _byline_names(line: str) -> list[str]:
    # The first paragraph is a one-line block too: a search for ", author of" first (a
    # fast scan for a comma) spares it the byline pattern's 200 tries (8x slower).
    m = (_AUTHOR_OF.search(line) and _BYLINE_OF.match(line)) or _BYLINE_BY.match(line)
    if not m:
        return []
    names = _split_names(m.group("names"))
    # "By the end of the year, …" is a sentence, not a byline: every word of a name
    # must look like part of a name.
    if not names or any(not _looks_like_name(n) for n in names):
        return []
    return names


def _split_names(value: str) -> list[str]:
    """The names in an author line: split at commas, and at "and" and "&" where every
    part then looks like a whole name ("Jane Doe and John Roe"; not the magazine
    "Mac & i", nor "Fauna & Flora International")."""
    names = []
    for part in _NAME_SPLIT.split(value):
        part = part.strip()
        pair = _AND_SPLIT.split(part)
        names += pair if len(pair) > 1 and all(map(_whole_name, pair)) else [part]
    return [name for name in names if name]


def reads_as_header(lines: list[str]) -> bool:
    """Whether a block of ``lines`` after a seed's title would be read as header lines
    or a byline, not as body (``seedfeed clip`` writes such a paragraph otherwise)."""
    return _read_header_block([line.strip() for line in lines], Article(origin=""))


def _whole_name(name: str) -> bool:
    return " " in name and _looks_like_name(name)


def _looks_like_name(name: str) -> bool:
    words = name.split()
    return 1 <= len(words) <= 6 and all(_NAME_WORD.match(w) for w in words)


def _body_blocks(block: list[str]) -> Iterator[Block]:
    paragraph: list[str] = []
    items: list[str] = []
    for line in block:
        if line.startswith(_BULLETS):
            if paragraph:
                yield _paragraph(paragraph)
                paragraph = []
            items.append(" ".join(line[1:].split()))
        else:
            if items:
                yield Block("ul", items=tuple(i for i in items if i))
                items = []
            paragraph.append(line)
    if paragraph:
        yield _paragraph(paragraph)
    if items:
        yield Block("ul", items=tuple(i for i in items if i))


def _paragraph(lines: list[str]) -> Block:
    text = " ".join(" ".join(lines).split())  # joins wrapped lines, tidies spaces
    if m := _LEAD_IN.match(text):
        return Block("p", text=m.group(2), lead=m.group(1))
    if _LEAD_ALONE.match(text):
        return Block("p", lead=text)
    return Block("p", text=text)


# --- Markdown with front matter ---------------------------------------------------------


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt  # imported lazily: most projects have no Markdown

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


_FRONT_MATTER = re.compile(r"\A(---|\+\+\+)[ \t]*\n(.*?)\n\1[ \t]*(?:\n|\Z)", re.DOTALL)
_H1 = re.compile(r"\A\s*#[ \t]+(.+?)[ \t#]*(?:\n|\Z)")


def parse_markdown(text: str, origin: str, *, head_only: bool = False) -> Article:
    """Parse a Markdown seed: YAML (``---``) or TOML (``+++``) front matter, then the body
    (not rendered with ``head_only``: the front matter, the heading and the source line
    are what a publish needs of a seed no feed shows)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    article = Article(origin=origin)
    meta: Any = {}
    if m := _FRONT_MATTER.match(text):
        import yaml  # lazily, like markdown_it: most projects have only text seeds

        text = text[m.end() :]
        if len(m.group(2)) > MAX_FRONT_MATTER:
            raise SeedError(f"front matter larger than {MAX_FRONT_MATTER // 1024} KB")
        try:
            meta = tomllib.loads(m.group(2)) if m.group(1) == "+++" else _load_yaml(m.group(2))
        except FrontMatterBudget as exc:
            raise SeedError(f"front matter refused: {exc}") from None
        # PyYAML raises ValueError for date-like values that are no dates (2021-13-45).
        except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
            article.warnings.append(f"front matter ignored: {_yaml_problem(exc)}")
            meta = {}
        if not isinstance(meta, dict):
            if meta is not None:
                article.warnings.append("front matter ignored: not a mapping")
            meta = {}
    _apply_front_matter(article, {str(k).lower(): v for k, v in meta.items()})

    lines = text.rstrip().split("\n")
    if lines and (r := _RETRIEVED.match(lines[-1].strip())):
        article.link = article.link or r.group(1)
        text = "\n".join(lines[:-1])
    if not article.title and (h := _H1.match(text)):
        article.title = h.group(1)
        text = text[h.end() :]
    if not article.title:
        article.title = Path(origin).stem.replace("-", " ").replace("_", " ")
    if not head_only:
        article.content_html = _markdown().render(text)
    return article


# The budget of front matter: a few fields of metadata need no more. YAML aliases are
# refused outright (a 364-byte "billion laughs" expands to gigabytes), nesting is capped.
MAX_FRONT_MATTER = 64 * 1024
MAX_FRONT_MATTER_DEPTH = 20


class FrontMatterBudget(SeedfeedError):
    """Front matter that exceeds its budget (aliases, nesting); the seed is skipped."""


def _load_yaml(text: str) -> Any:
    loader = _budget_loader()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


@lru_cache(maxsize=1)
def _budget_loader() -> type:
    """PyYAML's safe loader with the budget: no aliases, bounded nesting."""
    import yaml

    class BudgetLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise FrontMatterBudget("YAML aliases are not allowed")
            self.depth += 1
            if self.depth > MAX_FRONT_MATTER_DEPTH:
                raise FrontMatterBudget(f"nested deeper than {MAX_FRONT_MATTER_DEPTH} levels")
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BudgetLoader


def _apply_front_matter(article: Article, meta: dict[str, Any]) -> None:
    def text(*keys: str) -> str:
        for key in keys:
            value = meta.get(key)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return str(value).strip()
        return ""

    def strings(*keys: str) -> list[str]:
        for key in keys:
            value = meta.get(key)
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if isinstance(value, list):
                return [
                    str(v).strip() for v in value if isinstance(v, (str, int)) and str(v).strip()
                ]
        return []

    article.title = text("title")
    author = meta.get("author") or meta.get("authors")
    if isinstance(author, dict):  # author: {name: …}
        author = author.get("name")
    if isinstance(author, str):
        article.authors = _split_names(author)
    elif isinstance(author, list):
        article.authors = [
            str(a.get("name", "")) if isinstance(a, dict) else str(a) for a in author if a
        ]
    article.link = text("link", "url", "source", "canonical")
    article.summary = text("summary", "description")
    article.tags = strings("tags", "categories", "keywords")
    for keys, name in (
        (("date", "published"), "published"),
        (("updated", "modified", "lastmod"), "updated"),
    ):
        for key in keys:
            if key not in meta or meta[key] in (None, ""):
                continue
            if when := parse_date(meta[key]):
                setattr(article, name, when)
                break
            article.warnings.append(f"{key}: {str(meta[key])[:40]!r} is not a date; ignored")


def _yaml_problem(exc: Exception) -> str:
    """One line for a front matter error, with its line and column in the file (YAML's
    marks count from the line after ``---``)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 2}, column {mark.column + 1}: {problem}"
    return _first_line(exc)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
