"""How much a client may hold of a server: connections, and how long each may idle or dawdle.

The Lambda API and the HTTP trigger both take a ``ConnectionLimits``. Without these, ~1,000 idle
clients at ``ulimit -n 1024`` exhausted the process's file descriptors and a client that sent
its request a byte at a time, or never finished its body, held a connection forever.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every synchronous Invoke holds its connection while the function runs: at Lambda's default
# account limit (1,000 concurrent) that is 1,000 connections, plus the control plane's.
DEFAULT_MAX_CONNECTIONS = 2048
DEFAULT_IDLE_TIMEOUT_S = 75.0  # nginx's keepalive_timeout; SDKs reconnect a dropped idle socket
DEFAULT_HEADER_TIMEOUT_S = 20.0
DEFAULT_BODY_TIMEOUT_S = 60.0  # Invoke takes up to 6 MB (64 MB drained): ~1 MB/s at worst
DEFAULT_BACKLOG = 1024  # a burst of a thousand connects waits here, not dropped (Linux caps it
# at net.core.somaxconn, 4096 since 5.4)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Per-server limits; every timeout is in seconds.

    - ``max_connections``: open at once; past it new connections wait in the kernel's backlog
      (``backlog`` of them; the kernel drops the rest's SYNs until there is room).
    - ``idle_timeout``: a keep-alive connection with no request in progress is closed after it.
    - ``header_timeout``: from a request's first byte to the end of its head.
    - ``body_timeout``: from the end of the head to the end of the body.
    """

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S
    header_timeout: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout: float = DEFAULT_BODY_TIMEOUT_S
    backlog: int = DEFAULT_BACKLOG

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {self.max_connections}")
        for name in ("idle_timeout", "header_timeout", "body_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.backlog < 1:
            raise ValueError(f"backlog must be at least 1, not {self.backlog}")
