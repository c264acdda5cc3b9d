"""Recursive loop detection at the event sources, as Lambda's (DG: invocation-recursion).

Before a source hands an event to a function, the event's trace header (SQS's
``AWSTraceHeader``) says how many times that function already ran in the event's chain
(``model/trace.py``). At ``MAX_CHAIN`` the event is stopped, unless the function's recursion
config (``PutFunctionRecursionConfig``, or ``recursive_loop = "Allow"`` in function.toml) allows
loops: a warning line in the log and a ``RecursionStopped`` event (the TUI shows it). What
becomes of the stopped event is the source's to say (a queue mapping: its dead-letter queue).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ..config.api_functions import API_DIR
from ..config.api_meta import FunctionMeta
from ..config.function_urls import FunctionUrls
from ..model.events import RecursionStopped
from ..model.trace import MAX_CHAIN, chain_count

if TYPE_CHECKING:
    from .host import SourceHost

log = logging.getLogger("workbench.recursion")


def allows_loops(host: SourceHost, function: str) -> bool:
    settings = host.settings
    urls = FunctionUrls(
        host.functions,
        FunctionMeta(host.state_dir / API_DIR),
        account_id=settings.account_id,
        region=settings.region,
    )
    return urls.recursive_loop(function) == "Allow"


def stops(host: SourceHost, function: str, header: str | None) -> int | None:
    """The chain count when an event with ``header`` must not invoke ``function``; else None."""
    count = chain_count(header, host.arn(function))
    if count < MAX_CHAIN or allows_loops(host, function):
        return None
    return count


def report(host: SourceHost, function: str, source: str, count: int, disposition: str) -> None:
    log.warning(
        "%s -> %s: recursive loop detected (the function already ran %d times in this chain); "
        'the event is %s. Set recursive_loop = "Allow" (or PutFunctionRecursionConfig) if '
        "the loop is intended",
        source,
        function,
        count,
        disposition,
    )
    if host.bus.wants(RecursionStopped):
        host.bus.publish(RecursionStopped(function, source, count, disposition, time.time()))
