"""SNS notifications, shaped as SAM's ``sns/Sns.json`` (LAMBDA_REFERENCE §8): one record per
delivery, the subscription's own ARN on it."""

from __future__ import annotations

from collections.abc import Mapping

from .values import iso_ms


def sns_event(
    *,
    topic_arn: str,
    subscription_arn: str,
    region: str,
    message_id: str,
    message: str,
    subject: str | None,
    attributes: Mapping[str, Mapping[str, str]],
    at: float,
) -> dict:
    """``attributes`` as the event carries them: name → ``{"Type": ..., "Value": ...}``."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": iso_ms(at),
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/"
                    "SimpleNotificationService-EXAMPLE.pem",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/"
                    f"?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
                    "MessageAttributes": {k: dict(v) for k, v in attributes.items()},
                },
            }
        ]
    }
