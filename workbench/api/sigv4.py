"""Checking an AWS Signature Version 4 on a request, with the standard library only.

Used by function URLs with ``AuthType = AWS_IAM``: the request must be signed for service
``lambda`` in the workbench's Region with the credentials the workbench hands its handlers
(``workbench credentials``), in the ``Authorization`` header or as a presigned query string.
What is computed is AWS's documented algorithm as botocore's ``SigV4Auth`` signs (the tests sign
with botocore and check here): the canonical request (method, the path URI-encoded once more as
non-S3 services do, the query sorted and encoded, the signed headers lower-cased with their
whitespace folded, the payload's SHA-256), the string to sign, and the HMAC chain
``AWS4<secret>`` → date → region → service → ``aws4_request``.

Local credentials are the only identity: a signature by any other key, a session token that is
not the workbench's, a clock more than 15 minutes off (or a presigned URL past its expiry) is
refused, each with a reason the caller can log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=15)
_UNSIGNED = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True, slots=True)
class Secret:
    access_key_id: str
    secret_access_key: str
    session_token: str | None


@dataclass(frozen=True, slots=True)
class Signed:
    """A request as the signature covers it: raw path and query as they came on the wire."""

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes


class SignatureError(Exception):
    """Why a request's signature is not accepted (for the log; the caller answers 403)."""


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    return _hmac(_hmac(_hmac(key, region), service), "aws4_request")


def _canonical_path(raw_path: str) -> str:
    # botocore normalises the path (dot segments) and quotes it again, keeping '/' and '~'
    path = posixpath.normpath(raw_path) if raw_path not in ("", "/") else "/"
    if raw_path.endswith("/") and path != "/":
        path += "/"
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return quote(path, safe="/~")


def _canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _header_values(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    return {name: ",".join(v) for name, v in values.items()}


def _fields(authorization: str) -> dict[str, str]:
    if not authorization.startswith(ALGORITHM + " "):
        raise SignatureError(f"the Authorization header is not {ALGORITHM}")
    fields: dict[str, str] = {}
    for part in authorization[len(ALGORITHM) + 1 :].split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    for key in ("Credential", "SignedHeaders", "Signature"):
        if key not in fields:
            raise SignatureError(f"the Authorization header has no {key}")
    return fields


def verify(request: Signed, secret: Secret, *, region: str, service: str, now: dt.datetime) -> str:
    """The access key id of a valid signature; ``SignatureError`` saying why not."""
    headers = _header_values(request.headers)
    query = parse_qsl(request.raw_query, keep_blank_values=True)
    presigned = any(k == "X-Amz-Signature" for k, _ in query)
    if presigned:
        q = dict(query)
        if q.get("X-Amz-Algorithm") != ALGORITHM:
            raise SignatureError(f"X-Amz-Algorithm is not {ALGORITHM}")
        credential, signed_names = q.get("X-Amz-Credential", ""), q.get("X-Amz-SignedHeaders", "")
        signature, stamp = q["X-Amz-Signature"], q.get("X-Amz-Date", "")
        token = q.get("X-Amz-Security-Token")
        query = [(k, v) for k, v in query if k != "X-Amz-Signature"]
        # botocore's presigned URLs for non-S3 services hash the (empty) body; S3's say UNSIGNED
        payload_hashes = [hashlib.sha256(request.body).hexdigest(), _UNSIGNED]
    else:
        authorization = headers.get("authorization")
        if authorization is None:
            raise SignatureError("the request is not signed (no Authorization header)")
        fields = _fields(authorization)
        credential, signed_names = fields["Credential"], fields["SignedHeaders"]
        signature = fields["Signature"]
        stamp = headers.get("x-amz-date", "")
        token = headers.get("x-amz-security-token")
        given = headers.get("x-amz-content-sha256")
        payload_hashes = [given or hashlib.sha256(request.body).hexdigest()]
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SignatureError(f"the credential scope {credential!r} is not key/date/region/service")
    key_id, date, scope_region, scope_service = scope[:4]
    if key_id != secret.access_key_id:
        raise SignatureError(f"the access key {key_id} is not the workbench's")
    if secret.session_token is not None and token != secret.session_token:
        raise SignatureError("the session token is missing or not the workbench's")
    if scope_region != region or scope_service != service:
        raise SignatureError(
            f"signed for {scope_service} in {scope_region}; expected {service} in {region}"
        )
    try:
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise SignatureError("X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ") from None
    if stamp[:8] != date:
        raise SignatureError("X-Amz-Date is not on the credential scope's date")
    if presigned:
        try:
            expires = int(dict(query).get("X-Amz-Expires", "0"))
        except ValueError:
            expires = 0
        if not when - MAX_SKEW <= now <= when + dt.timedelta(seconds=expires):
            raise SignatureError("the presigned request has expired")
    elif abs(now - when) > MAX_SKEW:
        raise SignatureError("the signature's time is more than 15 minutes from now")
    names = signed_names.split(";")
    if "host" not in names:
        raise SignatureError("the Host header is not signed")
    missing = [n for n in names if n not in headers]
    if missing:
        raise SignatureError(f"signed header {missing[0]} is not in the request")
    key = signing_key(secret.secret_access_key, date, region, service)
    for payload_hash in payload_hashes:
        canonical = "\n".join(
            [
                request.method,
                _canonical_path(request.raw_path),
                _canonical_query(query),
                "".join(f"{n}:{headers[n]}\n" for n in names),
                signed_names,
                payload_hash,
            ]
        )
        to_sign = "\n".join(
            [
                ALGORITHM,
                stamp,
                f"{date}/{region}/{service}/aws4_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature):
            return key_id
    raise SignatureError("the signature does not match the request")
