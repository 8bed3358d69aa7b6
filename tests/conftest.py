"""Shared test setup: nothing here may reach beyond 127.0.0.1."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback servers are reached directly, even where a proxy is configured (requests,
    urllib and newsboat's libcurl all honour http_proxy)."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
