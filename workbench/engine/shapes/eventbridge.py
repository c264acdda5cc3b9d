"""EventBridge's Scheduled Event (LAMBDA_REFERENCE §8, SAM's ``cloudwatch/ScheduledEvent.json``,
plus ``version``, which every EventBridge event carries and SAM's sample leaves out)."""

from __future__ import annotations

from ..model.ids import new_uuid
from .values import iso_s


def scheduled_event(
    rule: str, scheduled: float, *, region: str, account: str, event_id: str | None = None
) -> dict:
    """``time`` is the scheduled time (epoch seconds), to the second, not the time it was sent."""
    return {
        "version": "0",
        "id": event_id or new_uuid(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": iso_s(scheduled),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule}"],
        "detail": {},
    }
