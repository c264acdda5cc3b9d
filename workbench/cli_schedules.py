"""``workbench schedules``: every schedule trigger and its next fire times.

PLACEHOLDER (issue 6): the schedules helper fills this in.
"""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare the verbs this module holds on the ``workbench`` parser."""
