"""The SigV4 check against botocore's own signers (header and presigned query)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from workbench.api.sigv4 import Secret, SignatureError, Signed, verify

CREDS = Credentials("ASIAABCDEFGHIJKLMNOP", "s3cr3t" * 6 + "ab", "token-123")
SECRET = Secret(CREDS.access_key, CREDS.secret_key, CREDS.token)
NOW = dt.datetime.now(dt.UTC)


def signed(method: str, url: str, body: bytes = b"", *, query: bool = False, **kw) -> Signed:
    request = AWSRequest(method=method, url=url, data=body, headers=kw.pop("headers", {}))
    auth = (
        SigV4QueryAuth(CREDS, "lambda", "us-east-1", 60)
        if query
        else SigV4Auth(CREDS, "lambda", "us-east-1")
    )
    auth.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = [*prepared.headers.items(), ("Host", parts.netloc)]
    return Signed(method, parts.path, parts.query, headers, body)


def check(request: Signed, **kw) -> str:
    options = {"region": "us-east-1", "service": "lambda", "now": NOW, **kw}
    return verify(request, SECRET, **options)


@pytest.mark.parametrize(
    "url",
    [
        "http://x.lambda-url.us-east-1.localhost:3000/",
        "http://127.0.0.1:3000/lambda-url/f/a%20b/%C3%A9~x?b=2&a=1&a=0&e=",
        "http://h.localhost:3000/p/./q/../r?x=a%2Fb&y=%20",
    ],
)
def test_header_signatures_verify(url: str) -> None:
    assert check(signed("GET", url)) == CREDS.access_key
    body = b'{"k": [1, 2]}'
    assert check(signed("POST", url, body, headers={"Content-Type": "application/json"})) == (
        CREDS.access_key
    )


def test_presigned_url_verifies() -> None:
    assert check(signed("GET", "http://h.localhost:3000/p?x=1", query=True)) == CREDS.access_key
    with pytest.raises(SignatureError, match="expired"):
        check(
            signed("GET", "http://h.localhost:3000/p", query=True), now=NOW + dt.timedelta(hours=1)
        )


def test_tampering_is_refused() -> None:
    good = signed("POST", "http://h.localhost:3000/p?x=1", b"body")
    for changed in (
        Signed(good.method, good.raw_path, good.raw_query, good.headers, b"bodx"),
        Signed(good.method, "/q", good.raw_query, good.headers, good.body),
        Signed(good.method, good.raw_path, "x=2", good.headers, good.body),
        Signed("PUT", good.raw_path, good.raw_query, good.headers, good.body),
    ):
        with pytest.raises(SignatureError, match="does not match"):
            check(changed)


def test_wrong_scope_key_token_and_clock_are_refused() -> None:
    good = signed("GET", "http://h.localhost:3000/")
    with pytest.raises(SignatureError, match="expected lambda in eu-west-1"):
        check(good, region="eu-west-1")
    with pytest.raises(SignatureError, match="15 minutes"):
        check(good, now=NOW + dt.timedelta(minutes=20))
    with pytest.raises(SignatureError, match="not the workbench's"):
        verify(good, Secret("ASIAOTHER", SECRET.secret_access_key, SECRET.session_token),
               region="us-east-1", service="lambda", now=NOW)  # fmt: skip
    with pytest.raises(SignatureError, match="session token"):
        verify(good, Secret(SECRET.access_key_id, SECRET.secret_access_key, "other"),
               region="us-east-1", service="lambda", now=NOW)  # fmt: skip
    with pytest.raises(SignatureError, match="not signed"):
        check(Signed("GET", "/", "", [("Host", "h")], b""))
