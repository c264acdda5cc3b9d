"""Who may drive the API: requests addressed to this machine, not pages in a browser.

The API binds to loopback, but a web page can still reach loopback: through DNS rebinding (a
name of the attacker's that resolves to 127.0.0.1, sent as the ``Host`` header) or by posting
straight to ``http://127.0.0.1:3001`` (which a browser marks with an ``Origin`` header). So a
request is refused unless its ``Host`` is a loopback name (or the address given with ``--host``),
and unless any ``Origin`` it carries is one too. boto3, the AWS CLI and curl send no ``Origin``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def split_host(value: str) -> str:
    """``127.0.0.1:3001`` → ``127.0.0.1``; ``[::1]:3001`` → ``::1``; lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


ALLOWED_CACHE = 64  # distinct allowed Host values remembered


class HostPolicy:
    """Which ``Host`` and ``Origin`` values a server bound to ``bind_host`` accepts.

    Bound to loopback (the default): loopback names only. Bound elsewhere with ``--host``: also
    that name, and IP literals (a rebinding attack needs a DNS name; an IP cannot be rebound).
    """

    def __init__(self, bind_host: str) -> None:
        self.bind_host = split_host(bind_host) if bind_host else "127.0.0.1"
        self.open = not is_loopback(self.bind_host)
        self._allowed: set[str] = set()  # Host values seen and allowed (parsing one is ~5 µs)

    def allows_host(self, host: str) -> bool:
        if host in self._allowed:
            return True
        name = split_host(host)
        allowed = is_loopback(name) or (self.open and (name == self.bind_host or _is_ip(name)))
        if allowed and len(self._allowed) < ALLOWED_CACHE:
            self._allowed.add(host)
        return allowed

    def refusal(self, host: str | None, origin: str | None) -> str | None:
        """Why the request is refused, or None."""
        if host is not None and not self.allows_host(host):
            return (
                f"Host {host!r} is not a loopback name; the workbench API answers only "
                "requests addressed to 127.0.0.1, localhost or [::1] (start it with --host to "
                "serve another address)"
            )
        if origin is not None:
            origin_host = urlsplit(origin).hostname if origin != "null" else None
            if origin_host is None or not self.allows_host(origin_host):
                return (
                    f"requests from web pages (Origin {origin!r}) are refused: the workbench "
                    "API is for SDKs, the AWS CLI and tools on this machine"
                )
        return None
