"""The AWS credentials a handler gets: by default the workbench's own, never the host's.

On Lambda a handler holds its execution role's temporary credentials (``ASIA…`` key, secret,
session token) in its environment (LAMBDA_REFERENCE §5). Here it gets credentials of the same
shape that only the workbench knows, and ``AWS_ENDPOINT_URL`` (plus ``_LAMBDA`` and ``_SQS``)
pointing at the workbench's own API, so ``boto3.client("lambda").invoke(...)`` in a handler
reaches the local functions out of the box, and a local run can never act on the real account.
The host's credentials go in only when asked (``--aws-credentials host``, or
``aws_credentials = "host"`` in function.toml).

The local credentials are random, kept per state dir (``credentials.json``, mode 0600): the same
across restarts, so a client outside (``workbench credentials``, or as a ``credential_process``)
is set up once; and secret, so that checking request signatures against them can be added.

UNVERIFIED: the session token's contents are the workbench's own (base64 of a note and random
bytes); a real one is an opaque, longer base64 blob (``IQoJb3JpZ2luX2Vj…``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config.function import AwsCredentials

CREDENTIALS_FILE = "credentials.json"
# No shared config or credentials file: botocore (and the other SDKs) would otherwise fall back
# to the host's ~/.aws (HOME is the host's) once a handler drops the variables. /dev/null is an
# empty file everywhere: every SDK reads it as "no profiles".
NO_FILE = "/dev/null"
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_SQS")
# What ``host`` passes through: the credentials themselves and what selects or finds them.
HOST_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
)
_KEY_ID_RE = re.compile(r"ASIA[A-Z2-7]{16}")  # 20 characters, base32's alphabet, as AWS's
_SECRET_RE = re.compile(r"[A-Za-z0-9+/]{40}")
_TOKEN_NOTE = b"workbench local credentials: they reach only the workbench that made them\n"


class CredentialsError(Exception):
    """The state dir's credentials cannot be read or written: one line for the user."""


@dataclass(frozen=True, slots=True)
class LocalCredentials:
    """Temporary credentials shaped as Lambda's, which only this workbench's state dir holds."""

    access_key_id: str
    secret_access_key: str
    session_token: str

    @classmethod
    def generate(cls) -> LocalCredentials:
        return cls(
            "ASIA" + base64.b32encode(os.urandom(10)).decode(),
            base64.b64encode(os.urandom(30)).decode(),
            base64.b64encode(_TOKEN_NOTE + os.urandom(240)).decode(),
        )

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def process_json(self) -> str:
        """The ``credential_process`` format (``Version`` 1; no ``Expiration``: they last)."""
        return json.dumps(
            {
                "Version": 1,
                "AccessKeyId": self.access_key_id,
                "SecretAccessKey": self.secret_access_key,
                "SessionToken": self.session_token,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> LocalCredentials | None:
        """Parsed from ``process_json``'s output; None if it is not that."""
        try:
            data = json.loads(text)
            found = cls(data["AccessKeyId"], data["SecretAccessKey"], data["SessionToken"])
        except (ValueError, KeyError, TypeError):
            return None
        valid = (
            isinstance(found.session_token, str)
            and isinstance(found.access_key_id, str)
            and isinstance(found.secret_access_key, str)
            and _KEY_ID_RE.fullmatch(found.access_key_id) is not None
            and _SECRET_RE.fullmatch(found.secret_access_key) is not None
            and len(found.session_token) > 0
        )
        return found if valid else None


def local_credentials(state_dir: Path) -> LocalCredentials:
    """The state dir's credentials, made on first use (several processes may race: one wins)."""
    path = state_dir / CREDENTIALS_FILE
    try:
        found = LocalCredentials.from_json(path.read_text())
    except FileNotFoundError:
        found = None
    except (OSError, UnicodeDecodeError) as e:
        raise CredentialsError(f"cannot read the workbench's credentials {path}: {e}") from None
    if found is not None:
        return found
    made = LocalCredentials.generate()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        partial = state_dir / f".{CREDENTIALS_FILE}.{os.getpid()}.{os.urandom(4).hex()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(made.process_json() + "\n")
        try:
            if path.exists():  # unreadable as credentials (damaged): replaced
                os.replace(partial, path)
                return made
            os.link(partial, path)  # fails if another process made them meanwhile
        except FileExistsError:
            return local_credentials(state_dir)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
    except OSError as e:
        raise CredentialsError(f"cannot write the workbench's credentials {path}: {e}") from None
    return made


def aws_variables(
    mode: AwsCredentials,
    local: LocalCredentials | None,
    *,
    endpoint_url: str | None,
    function_env: Mapping[str, str],
    host_env: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The AWS variables an environment gets (the function's own ``environment`` goes over them).

    ``host``: the host's credential variables, as they are. ``local``: ``local``'s credentials,
    no shared files, and the endpoints once the API listens (``endpoint_url``), unless the
    function names its own ``AWS_ENDPOINT_URL``: a service-specific one of ours would win over it.
    """
    if mode == "host":
        return {name: host_env[name] for name in HOST_VARIABLES if name in host_env}
    env = local.environment() if local is not None else {}
    env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_CONFIG_FILE"] = NO_FILE
    if endpoint_url is not None and "AWS_ENDPOINT_URL" not in function_env:
        env.update(dict.fromkeys(ENDPOINT_VARIABLES, endpoint_url))
    return env
