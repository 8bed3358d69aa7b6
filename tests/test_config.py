"""Unit tests for seedfeed.config: loading, validation, path resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seedfeed.config import (
    CONFIG_NAME,
    DEFAULT_FEED,
    Config,
    ConfigError,
    FeedSpec,
    SiteSettings,
    find_config,
    load_config,
    parse_config,
)

MINIMAL = '[site]\ntitle = "My Feed"\nbase_url = "https://ex.com/feeds"\n'


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_NAME
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message  # every message names the file
    assert "\n" not in message.strip()  # and is one line
    return message


class TestMinimal:
    def test_minimal(self, tmp_path: Path) -> None:
        path = _write(tmp_path, MINIMAL)
        cfg = load_config(path)
        assert isinstance(cfg, Config)
        assert cfg.site.title == "My Feed"
        assert cfg.site.base_url == "https://ex.com/feeds/"
        assert cfg.file == path
        assert cfg.root == tmp_path
        assert cfg.site.author == ""
        assert cfg.publish.max_entries == 50
        assert cfg.publish.max_seed_bytes == 2 * 1024 * 1024

    def test_default_paths_relative_to_config(self, tmp_path: Path) -> None:
        cfg = load_config(_write(tmp_path / "proj", MINIMAL))
        root = (tmp_path / "proj").resolve()
        assert cfg.paths.seeds == root / "seeds"
        assert cfg.paths.feeds == root / "feeds"
        assert cfg.paths.state == root / ".seedfeed"

    def test_paths_resolved_from_config_folder_not_cwd(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        text = MINIMAL + '[paths]\nseeds = "in/seeds"\nfeeds = "../public"\nstate = "st"\n'
        _write(tmp_path / "proj", text)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        cfg = load_config(Path("..") / "proj" / CONFIG_NAME)
        root = (tmp_path / "proj").resolve()
        assert cfg.paths.seeds == root / "in" / "seeds"
        assert cfg.paths.feeds == tmp_path.resolve() / "public"
        assert cfg.paths.state == root / "st"
        assert cfg.file.is_absolute()

    def test_folder_argument(self, tmp_path: Path) -> None:
        _write(tmp_path, MINIMAL)
        assert load_config(tmp_path).site.title == "My Feed"
        assert find_config(tmp_path) == (tmp_path / CONFIG_NAME).absolute()

    def test_default_is_cwd(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        _write(tmp_path, MINIMAL)
        monkeypatch.chdir(tmp_path)
        assert load_config().site.title == "My Feed"

    def test_bom_accepted(self, tmp_path: Path) -> None:
        path = tmp_path / CONFIG_NAME
        path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
        assert load_config(path).site.title == "My Feed"

    def test_base_url_keeps_trailing_slash(self, tmp_path: Path) -> None:
        cfg = load_config(_write(tmp_path, MINIMAL.replace("/feeds", "/feeds/")))
        assert cfg.site.base_url == "https://ex.com/feeds/"

    def test_default_feed(self, tmp_path: Path) -> None:
        text = MINIMAL + 'description = "D"\n[publish]\nmax_entries = 7\n'
        cfg = load_config(_write(tmp_path, text))
        (feed,) = cfg.all_feeds()
        assert feed.name == DEFAULT_FEED
        assert feed.title == "My Feed"
        assert feed.description == "D"
        assert feed.include == ("*",)
        assert feed.max_entries == 7

    def test_full(self, tmp_path: Path) -> None:
        text = (
            "[site]\n"
            'title = "  Site  "\n'
            'base_url = "http://localhost:8080/"\n'
            'author = "Ann"\n'
            'language = "en"\n'
            "[publish]\n"
            "max_entries = 20\n"
            "max_seed_bytes = 4096\n"
            "[feeds.iran]\n"
            'title = "Iran"\n'
            'include = ["iran/*", "*iran*"]\n'
            "max_entries = 5\n"
            "[feeds.all-news]\n"
            'include = ["news/*"]\n'
        )
        cfg = load_config(_write(tmp_path, text))
        assert cfg.site.title == "Site"
        assert cfg.site.author == "Ann"
        assert cfg.site.language == "en"
        assert cfg.publish.max_entries == 20
        assert cfg.publish.max_seed_bytes == 4096
        assert [f.name for f in cfg.all_feeds()] == ["all", "all-news", "iran"]
        news, iran = cfg.feeds
        assert news.title == "Site: all-news"
        assert news.max_entries == 20
        assert iran.title == "Iran"
        assert iran.include == ("iran/*", "*iran*")
        assert iran.max_entries == 5


class TestErrors:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="no such file"):
            load_config(tmp_path / CONFIG_NAME)

    def test_broken_toml(self, tmp_path: Path) -> None:
        assert "invalid TOML" in _error(tmp_path, '[site\ntitle = "x"\n')

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / CONFIG_NAME
        path.write_bytes(b'[site]\ntitle = "caf\xe9"\nbase_url = "https://ex.com/"\n')
        with pytest.raises(ConfigError, match="cannot read"):
            load_config(path)

    def test_unknown_section(self, tmp_path: Path) -> None:
        assert "[sites]" in _error(tmp_path, MINIMAL + "[sites]\nx = 1\n")

    def test_unknown_top_level_key(self, tmp_path: Path) -> None:
        assert "title" in _error(tmp_path, 'title = "x"\n' + MINIMAL)

    @pytest.mark.parametrize("text", ["[by_tag]\n", "[by_author]\nx = 1\n", "by_tag = true\n"])
    def test_a_feeds_option_outside_feeds(self, tmp_path: Path, text: str) -> None:
        # Config has by_tag and by_author fields, but they are no sections of the file.
        name = text.strip("[\n").split("]")[0].split(" ")[0]
        message = _error(tmp_path, text + MINIMAL)
        assert message.endswith(f"{name} belongs in [feeds] (as {name} = true)"), message

    @pytest.mark.parametrize(
        ("extra", "key"),
        [
            ('[site]\ntitle = "T"\nbase_url = "https://e.x/"\ncolour = "red"\n', "site.colour"),
            ('[paths]\nseed = "s"\n', "paths.seed"),
            ("[publish]\nmax_entry = 3\n", "publish.max_entry"),
        ],
    )
    def test_unknown_key(self, tmp_path: Path, extra: str, key: str) -> None:
        text = extra if extra.startswith("[site]") else MINIMAL + extra
        message = _error(tmp_path, text)
        assert key in message
        assert "unknown key" in message

    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ('[site]\ntitle = 5\nbase_url = "https://e.x/"\n', "site.title"),
            ('[site]\ntitle = "T"\nbase_url = ["https://e.x/"]\n', "site.base_url"),
            ('[site]\ntitle = "T"\nbase_url = "https://e.x/"\nauthor = true\n', "site.author"),
            (MINIMAL + '[publish]\nmax_entries = "50"\n', "publish.max_entries"),
            (MINIMAL + "[publish]\nmax_entries = true\n", "publish.max_entries"),
            (MINIMAL + "[publish]\nmax_seed_bytes = false\n", "publish.max_seed_bytes"),
            (MINIMAL + "[publish]\nmax_entries = 10.0\n", "publish.max_entries"),
            (MINIMAL + "[paths]\nseeds = 1\n", "paths.seeds"),
            ('site = "x"\n', "[site]"),
            ("feeds = 3\n" + MINIMAL, "[feeds]"),
        ],
    )
    def test_wrong_types(self, tmp_path: Path, text: str, key: str) -> None:
        message = _error(tmp_path, text)
        assert key in message
        assert "must be" in message

    def test_bool_where_int_names_types(self, tmp_path: Path) -> None:
        message = _error(tmp_path, MINIMAL + "[publish]\nmax_entries = true\n")
        assert "an integer" in message
        assert "a boolean" in message

    @pytest.mark.parametrize(
        "text",
        [
            '[site]\nbase_url = "https://ex.com/"\n',
            '[site]\ntitle = "   "\nbase_url = "https://ex.com/"\n',
            "[paths]\n",
            "",
        ],
    )
    def test_missing_title(self, tmp_path: Path, text: str) -> None:
        message = _error(tmp_path, text)
        assert "site.title" in message
        assert "required" in message

    def test_missing_base_url(self, tmp_path: Path) -> None:
        assert "site.base_url" in _error(tmp_path, '[site]\ntitle = "T"\n')

    @pytest.mark.parametrize(
        "url", ["ftp://ex.com/", "ex.com/feeds", "/feeds/", "https://", "javascript:alert(1)"]
    )
    def test_bad_base_url(self, tmp_path: Path, url: str) -> None:
        message = _error(tmp_path, f'[site]\ntitle = "T"\nbase_url = "{url}"\n')
        assert "site.base_url" in message

    @pytest.mark.parametrize("value", [0, -1, 10_001])
    def test_max_entries_range(self, tmp_path: Path, value: int) -> None:
        message = _error(tmp_path, MINIMAL + f"[publish]\nmax_entries = {value}\n")
        assert "publish.max_entries" in message

    def test_max_seed_bytes_minimum(self, tmp_path: Path) -> None:
        message = _error(tmp_path, MINIMAL + "[publish]\nmax_seed_bytes = 100\n")
        assert "publish.max_seed_bytes" in message

    def test_control_character_title(self, tmp_path: Path) -> None:
        # TOML escapes allow control characters, which XML (and feedgen) refuse.
        path = _write(tmp_path, '[site]\ntitle = "A\\u0001B"\nbase_url = "https://ex.com/"\n')
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            assert "site.title" in str(exc)
        else:
            assert cfg.site.title.isprintable()


class TestFeedsErrors:
    @pytest.mark.parametrize(
        ("body", "key"),
        [
            ('include = ["*"]\ncolour = "red"\n', "feeds.news.colour"),
            ('include = "*"\n', "feeds.news.include"),
            ("include = [1]\n", "feeds.news.include"),
            ('include = ["*"]\ntitle = 5\n', "feeds.news.title"),
            ('include = ["*"]\ndescription = []\n', "feeds.news.description"),
            ('include = ["*"]\nmax_entries = "5"\n', "feeds.news.max_entries"),
            ('include = ["*"]\nmax_entries = true\n', "feeds.news.max_entries"),
        ],
    )
    def test_feed_validation(self, tmp_path: Path, body: str, key: str) -> None:
        message = _error(tmp_path, MINIMAL + "[feeds.news]\n" + body)
        assert key in message

    def test_feed_without_include_takes_no_seeds(self, tmp_path: Path) -> None:
        path = tmp_path / "config.toml"
        path.write_text(MINIMAL + '[feeds.news]\ntitle = "Only sources"\n', encoding="utf-8")
        (news,) = load_config(path).feeds
        assert (news.name, news.title, news.include) == ("news", "Only sources", ())

    @pytest.mark.parametrize("value", [0, -5, 10_001])
    def test_feed_max_entries_range(self, tmp_path: Path, value: int) -> None:
        body = f'include = ["*"]\nmax_entries = {value}\n'
        message = _error(tmp_path, MINIMAL + "[feeds.news]\n" + body)
        assert "feeds.news.max_entries" in message

    @pytest.mark.parametrize("name", ["Bad", "all", "has space", "-dash", "dot.name", "x" * 65])
    def test_bad_feed_name(self, tmp_path: Path, name: str) -> None:
        message = _error(tmp_path, MINIMAL + f'[feeds."{name}"]\ninclude = ["*"]\n')
        assert f"feeds.{name}" in message

    def test_feed_not_a_table(self, tmp_path: Path) -> None:
        message = _error(tmp_path, MINIMAL + "[feeds]\nnews = 3\n")
        assert "feeds.news" in message


class TestParseConfig:
    def test_parse_config_directly(self, tmp_path: Path) -> None:
        raw = {"site": {"title": "T", "base_url": "https://ex.com"}}
        cfg = parse_config(raw, tmp_path / CONFIG_NAME)
        assert cfg.site.base_url == "https://ex.com/"
        assert cfg.paths.seeds == (tmp_path / "seeds").resolve()

    def test_error_type(self) -> None:
        assert issubclass(ConfigError, Exception)
        with pytest.raises(ConfigError):
            parse_config({"site": {"title": "T"}}, Path("/nowhere/config.toml"))


def test_settings_built_in_code_are_checked_like_a_file() -> None:
    from seedfeed.config import FetchSettings, PublishSettings, ScheduleSettings, SiteSettings

    for build, said in [
        (lambda: PublishSettings(max_entries="50"), "publish.max_entries must be an integer"),  # type: ignore[arg-type]
        (lambda: PublishSettings(max_entries=True), "publish.max_entries must be an integer"),
        (lambda: SiteSettings(title=5, base_url="http://x/"), "site.title must be a string"),  # type: ignore[arg-type]
        (lambda: FetchSettings(max_bytes=float("inf")), "fetch.max_bytes must be a finite"),  # type: ignore[arg-type]
        (lambda: ScheduleSettings(jitter=float("nan")), "schedule.jitter must be a finite"),  # type: ignore[arg-type]
    ]:
        with pytest.raises(ConfigError, match=said):
            build()


class TestCluster:
    """``[cluster]``: absent by default; when present, checked like every section."""

    DB = "postgresql://seedfeed:secret@db.internal/seedfeed"

    def test_absent_means_one_machine(self, tmp_path: Path) -> None:
        assert not load_config(_write(tmp_path, MINIMAL)).cluster.enabled

    def test_database_from_the_file_or_the_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        cfg = load_config(_write(tmp_path, MINIMAL + f'[cluster]\ndatabase = "{self.DB}"\n'))
        assert cfg.cluster.enabled and cfg.cluster.database == self.DB
        assert "secret" not in repr(cfg)  # the password stays out of logs
        monkeypatch.setenv("SEEDFEED_DATABASE_URL", self.DB)
        cfg = load_config(_write(tmp_path / "env", MINIMAL + "[cluster]\ntick = 5\n"))
        assert cfg.cluster.database == self.DB and cfg.cluster.tick == 5

    @pytest.mark.parametrize(
        ("section", "expected"),
        [
            ("", "cluster.database is required"),
            ('database = "mysql://x/y"', "postgresql:// URL"),
            ('database = "postgresql://u:secret%zz@h/db"', "percent-encode"),
            (f'database = "{DB}"\nschema = "Public; DROP"', "cluster.schema"),
            (f'database = "{DB}"\ntick = 7', "cluster.tick"),
            (f'database = "{DB}"\nbatch = 0', "cluster.batch"),
            (f'database = "{DB}"\nhost_interval = nan', "cluster.host_interval"),
            (f'database = "{DB}"\nheartbeat = 0', "cluster.heartbeat"),
        ],
    )
    def test_bad_settings(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, expected: str
    ) -> None:
        monkeypatch.delenv("SEEDFEED_DATABASE_URL", raising=False)
        message = _error(tmp_path, MINIMAL + f"[cluster]\n{section}\n")
        assert expected in message and "secret" not in message

    def test_a_bucket_needs_the_cluster(self, tmp_path: Path) -> None:
        text = MINIMAL + '[paths]\nfeeds = "s3://bucket/feeds"\n'
        assert "written by a cluster" in _error(tmp_path, text)
        cfg = load_config(_write(tmp_path / "c", text + f'[cluster]\ndatabase = "{self.DB}"\n'))
        assert "s3:" in cfg.paths.feeds.parts


@pytest.mark.parametrize(
    ("build", "said"),
    [
        (lambda site: Config(root=".", site=None), "site must be SiteSettings"),  # type: ignore[arg-type]
        (lambda site: Config(root=".", site=site, publish=None), "publish must be"),  # type: ignore[arg-type]
        (lambda site: Config(root=".", site=site, paths={"seeds": "x"}), "paths must be"),  # type: ignore[arg-type]
        (lambda site: Config(root=".", site=site, feeds=["x"]), "feeds must be a list of FeedSpec"),  # type: ignore[list-item]
        (lambda site: Config(root=5, site=site), "root must be a path"),  # type: ignore[arg-type]
        (lambda site: FeedSpec("x", "t", include=(1,)), "feeds.x.include must be a list"),  # type: ignore[arg-type]
        (
            lambda site: FeedSpec("x", "t", max_entries=2.5),
            "feeds.x.max_entries must be an integer",
        ),  # type: ignore[arg-type]
        # A string is no list of words: it would filter on its letters.
        (lambda site: FeedSpec("x", "t", words="climate"), "feeds.x.words must be a list"),  # type: ignore[arg-type]
    ],
)
def test_a_config_built_in_code_is_checked_as_a_file_is(build: Any, said: str) -> None:
    site = SiteSettings(title="T", base_url="http://x.example/")
    with pytest.raises(ConfigError, match=said):
        build(site)
