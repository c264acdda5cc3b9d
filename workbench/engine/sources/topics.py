"""Topics (SNS-like): a published message fans out to every function subscribed to its topic.

A topic exists where a ``[[triggers]] type = "sns"`` names it (a disabled subscription still
declares it, and just receives nothing); publishing to a topic nobody declares is SNS's
``NotFound``, with the topics that do exist. Each enabled subscriber gets one Event invocation
with one SNS record, shaped as SAM's ``Sns.json``; the MessageId, Timestamp and the message are
the same for all of them, the subscription ARN is each subscriber's own (stable across runs).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..config.triggers import SnsTrigger, triggers_of
from ..model.trace import in_chain
from ..shapes.sns import sns_event
from .topic_attributes import (
    TopicAttribute,
    TopicError,
    check_attributes,
    check_subject,
)

if TYPE_CHECKING:
    from .host import SourceHost

MAX_MESSAGE_BYTES = 256 * 1024  # SNS: message and attributes together, 262,144 bytes
_SUBSCRIPTIONS = uuid.UUID("6f0b1c9e-5a43-4f4e-9d57-1b2f3e8c7a10")  # namespace for their ids


def topic_subscribers(engine: SourceHost) -> dict[str, dict[str, bool]]:
    """topic → {function: enabled}, from the sns triggers of the loaded functions (and the
    templates' topics).

    A function subscribed twice is one subscription (SNS returns the existing one).
    """
    # a template's AWS::SNS::Topic exists with no subscriber yet (SNS accepts a publish to it)
    found: dict[str, dict[str, bool]] = {topic: {} for topic in engine.catalog.topics}
    for name, fn in engine.functions.items():
        for trigger in triggers_of(fn, SnsTrigger):
            subscribers = found.setdefault(trigger.topic, {})
            subscribers[name] = subscribers.get(name, False) or trigger.enabled
    return dict(sorted(found.items()))


def topic_arn(engine: SourceHost, topic: str) -> str:
    s = engine.settings
    return f"arn:aws:sns:{s.region}:{s.account_id}:{topic}"


def subscription_arn(engine: SourceHost, topic: str, function: str) -> str:
    """``<topic ARN>:<subscription id>``; the id is derived, so it stays the same across runs."""
    return f"{topic_arn(engine, topic)}:{uuid.uuid5(_SUBSCRIPTIONS, f'{topic}/{function}')}"


def parse_attribute(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` (the CLI's ``--attribute``) → (name, value)."""
    name, sep, value = text.partition("=")
    if not sep:
        raise TopicError("InvalidParameter", f"attribute {text!r}: expected NAME=VALUE")
    return name, value


def check_message(
    message: str, subject: str | None, attributes: Mapping[str, TopicAttribute | str]
) -> dict[str, dict[str, str]]:
    """SNS's checks of a Publish; the MessageAttributes as the event carries them."""
    if not isinstance(message, str) or not message:
        raise TopicError("InvalidParameter", "Empty message: give a message to publish")
    check_subject(subject)
    shaped, size = check_attributes(attributes)
    size += len(message.encode())
    if size > MAX_MESSAGE_BYTES:
        raise TopicError(
            "InvalidParameter",
            f"Message too long: {size} bytes with its attributes; the limit is "
            f"{MAX_MESSAGE_BYTES} bytes (256 KB)",
        )
    return shaped


def publish_message(
    engine: SourceHost,
    topic: str,
    message: str,
    *,
    subject: str | None = None,
    attributes: Mapping[str, TopicAttribute | str] | None = None,
    trace_header: str | None = None,
) -> str:
    """Publish to ``topic``: one Event invocation per enabled subscriber; the MessageId.

    Raises ``TopicError`` before anything is accepted (unknown topic, empty or oversized
    message, bad subject or attribute); once it returns, every subscriber's event is in the
    durable queue. ``trace_header``: the publisher's ``X-Amzn-Trace-Id`` (a handler's
    ``_X_AMZN_TRACE_ID``): the subscribers' invocations continue its chain, and recursive loop
    detection counts it (none: each starts a new chain).
    """
    shaped = check_message(message, subject, attributes or {})
    known = topic_subscribers(engine)
    if topic not in known:
        listing = ", ".join(known) or "none: no function has an sns trigger"
        raise TopicError(
            "NotFound",
            f"Topic does not exist: {topic!r}; topics (from the sns triggers): {listing}",
        )
    message_id = str(uuid.uuid4())
    at = time.time()
    for function, enabled in known[topic].items():
        if not enabled:
            continue
        event = sns_event(
            topic_arn=topic_arn(engine, topic),
            subscription_arn=subscription_arn(engine, topic, function),
            region=engine.settings.region,
            message_id=message_id,
            message=message,
            subject=subject,
            attributes=shaped,
            at=at,
        )
        with in_chain(trace_header):
            engine.invoke_event(
                function, json.dumps(event, separators=(",", ":")), trigger=f"sns:{topic}"
            )
    return message_id
