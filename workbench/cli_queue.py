"""``workbench queue …``: local (SQS-like) queues from the command line.

PLACEHOLDER (issue 6): the queues helper fills this in.
"""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare the verbs this module holds on the ``workbench`` parser."""
