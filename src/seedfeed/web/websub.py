"""WebSub: tell a hub which feeds changed, so that subscribed readers get them at once."""

from __future__ import annotations

from collections.abc import Sequence

from .fetch import USER_AGENT

__all__ = ["ping_hub"]


def ping_hub(hub: str, topic_urls: Sequence[str], timeout: float = 10.0) -> list[str]:
    """Tell the WebSub ``hub`` that ``topic_urls`` changed (``hub.mode=publish``, one
    form-encoded POST per topic). Returns one-line errors; never raises.

    Stops at the first failure: a hub that failed once in a run rarely does better a
    moment later, and one line says so instead of one per feed file. The hub fetches the
    topics itself, so a missed ping only delays readers until their next poll.
    """
    import requests

    headers = {"User-Agent": USER_AGENT}
    with requests.Session() as session:
        for done, topic in enumerate(topic_urls):
            try:
                response = session.post(
                    hub,
                    data={"hub.mode": "publish", "hub.url": topic},
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                )
                response.close()
                # WebSub hubs accept with a 2xx; a redirect is not followed (requests
                # would turn the POST into a GET), so it counts as a failure too.
                ok = 200 <= response.status_code < 300
                reason = "" if ok else f"HTTP {response.status_code} {response.reason}"
            except requests.RequestException as exc:
                reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            if reason:
                left = len(topic_urls) - done - 1
                more = f" ({left} more not sent)" if left else ""
                return [f"publish ping for {topic} failed: {reason}{more}"]
    return []
