"""The address policy: which URLs seedfeed may fetch.

Only http(s) URLs with a host are fetched, and unless ``[fetch] allow_private`` is set,
never one whose host resolves to a private, loopback, link-local, multicast, reserved
or otherwise non-global address: a source must not reach into the machine's own network.
The check runs on every redirect hop (``check_url``) and again on the address each
connection actually reached (``is_forbidden``, see transport.py), which closes the gap
of a name that resolves differently the second time (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import FetchError

__all__ = ["DEFAULT_PORTS", "ForbiddenPeer", "check_url", "is_forbidden"]

DEFAULT_PORTS = {"http": 80, "https": 443}


def check_url(url: str, allow_private: bool) -> None:
    """Raise ``FetchError`` unless ``url`` is an http(s) URL with a host that may be fetched.

    Unless ``allow_private``, the host is resolved and every address it resolves to must
    be public: private, loopback, link-local, multicast, reserved and unspecified
    addresses are refused, IPv4-mapped IPv6 addresses by the IPv4 address they carry.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError(url, "invalid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise FetchError(url, f"unsupported URL scheme {scheme!r}" if scheme else "not a URL")
    host = parts.hostname
    if not host:
        raise FetchError(url, "URL has no host")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port or DEFAULT_PORTS[scheme], type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise FetchError(url, "cannot resolve host") from None
    except UnicodeError:
        raise FetchError(url, "invalid host name") from None
    for info in infos:
        address = str(info[4][0])
        if is_forbidden(address):
            reason = (
                f"refused: {address} is not a public address"
                if _same_address(host, address)
                else f"refused: {host} resolves to {address}, not a public address"
            )
            raise FetchError(url, reason)


def is_forbidden(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        # also what no flag above names, such as carrier-grade NAT (100.64.0.0/10)
        or not ip.is_global
    )


def _same_address(host: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False


class ForbiddenPeer(Exception):
    """A connection reached an address the policy refuses (the name resolved differently
    for the connection than for ``check_url``)."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address
