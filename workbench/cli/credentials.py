"""``workbench credentials``: the AWS credentials the workbench gives its handlers, for a client
outside (``eval "$(workbench credentials)"``, or ``--json`` as a profile's ``credential_process``).

They are the state dir's own (made on first use, the same across restarts), so this needs no
running workbench; ``serve`` and the TUI on the same state dir give their handlers the same.
"""

from __future__ import annotations

import argparse
import shlex

from .common import EXIT_OK, BadInput, roots_of, state_dir_of


def cmd_credentials(args: argparse.Namespace) -> int:
    from ..engine.runtime import CredentialsError, local_credentials

    try:
        credentials = local_credentials(state_dir_of(args, roots_of(args)))
    except CredentialsError as e:
        raise BadInput(str(e)) from None
    if args.json:
        print(credentials.process_json())
        return EXIT_OK
    for name, value in credentials.environment().items():
        print(f"export {name}={shlex.quote(value)}")
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``credentials`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "credentials",
        parents=[common],
        help="print the AWS credentials handlers get (the workbench's own, never the host's)",
        description="Print the workbench's own AWS credentials for the state dir: the ones its "
        "handlers get by default (an ASIA... key, a secret and a session token, as Lambda's), "
        'as export lines for a shell (eval "$(workbench credentials)") or, with --json, in the '
        "credential_process format, so a client outside signs its calls with them. They are "
        "made on first use and kept in the state dir (credentials.json).",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='JSON as a credential_process prints it: {"Version": 1, "AccessKeyId": ..., '
        '"SecretAccessKey": ..., "SessionToken": ...}',
    )
    p.set_defaults(func=cmd_credentials)
