"""Sample events for the triggers Lambda users meet most (LAMBDA_REFERENCE §8).

Each template builds a fresh event (new ids and timestamps) from a few options, so the TUI's
template picker and ``workbench generate-event SERVICE EVENT [--key value …]`` share one source.
Standard library only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Template:
    service: str
    event: str
    description: str
    build: Callable[..., dict]
    options: dict[str, str] = field(default_factory=dict)  # option → default


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _s3_put(bucket: str, key: str, region: str) -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.0",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": _now(),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "EXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": uuid.uuid4().hex,
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "testConfigRule",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "EXAMPLE"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": key,
                        "size": 1024,
                        "eTag": "0123456789abcdef0123456789abcdef",
                        "sequencer": "0A1B2C3D4E5F678901",
                    },
                },
            }
        ]
    }


TEMPLATES: dict[tuple[str, str], Template] = {
    ("s3", "put"): Template(
        "s3",
        "put",
        "an object was uploaded (ObjectCreated:Put)",
        _s3_put,
        {"bucket": "example-bucket", "key": "test/key", "region": "us-east-1"},
    ),
}


def generate(service: str, event: str, **options: str) -> dict:
    """A fresh event; an unknown template raises ``KeyError``, an unknown option ``TypeError``."""
    template = TEMPLATES[(service, event)]
    unknown = set(options) - set(template.options)
    if unknown:
        raise TypeError(f"unknown option(s) for {service} {event}: {', '.join(sorted(unknown))}")
    return template.build(**{**template.options, **options})


def template_choices() -> list[tuple[str, str]]:
    """(label, "service event") for every template, for pickers."""
    return [
        (f"{t.service} {t.event} — {t.description}", f"{t.service} {t.event}")
        for t in TEMPLATES.values()
    ]
