"""``workbench publish-message TOPIC MESSAGE``: SNS-like topics, fanned out to subscribers.

PLACEHOLDER (issue 6): the topics helper fills this in.
"""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare the verbs this module holds on the ``workbench`` parser."""
