"""Shared test setup: nothing here may reach beyond 127.0.0.1."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback servers are reached directly, even where a proxy is configured (requests,
    urllib and newsboat's libcurl all honour http_proxy)."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def httpserver(httpserver: HTTPServer) -> HTTPServer:
    """pytest-httpserver's server with no robots.txt (404: every page may be fetched), as
    most sites have; seedfeed asks for it before a source or an enriched page. A test of
    robots.txt calls ``clear()`` first and serves its own."""
    httpserver.expect_request("/robots.txt").respond_with_data("not found", status=404)
    return httpserver


# What starts the real command or daemon in a child process: the tests that do are
# marked "slow", so that `pytest -m "not slow"` (make quick) stays under 30 seconds.
# (So are the few that publish hundreds of projects; they say so themselves.)
_SUBPROCESS_NAMES = frozenset(
    {"run_subprocess", "subprocess", "Popen", "corpus_run", "_spawn_publisher", "Daemon"}
)
_SLOW_MODULES = frozenset({"test_daemon", "test_newsboat"})


def _starts_processes(function: object) -> bool:
    code = getattr(function, "__code__", None)
    return code is not None and not _SUBPROCESS_NAMES.isdisjoint(code.co_names)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that run seedfeed in a subprocess (or use a fixture that does)."""
    for item in items:
        function = getattr(item, "function", None)
        module = getattr(item, "module", None)
        fixtures = getattr(item, "_fixtureinfo", None)
        fixture_functions = [
            definition.func
            for name in (fixtures.names_closure if fixtures else ())
            for definition in item.session._fixturemanager.getfixturedefs(name, item) or ()
        ]
        if (
            (module is not None and module.__name__ in _SLOW_MODULES)
            or _starts_processes(function)
            or any(map(_starts_processes, fixture_functions))
        ):
            item.add_marker(pytest.mark.slow)
