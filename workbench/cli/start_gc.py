"""The garbage collector, paused while a long-running command (``serve``, the TUI) imports
what it needs.

Those imports make ~120,000 objects, nearly all of them kept for the life of the process
(modules, classes, functions), and almost none of them garbage; the collector would walk them
over and over as they are made (~170 young-generation passes and a full one at every start).
Paused, then frozen: what the start made moves to the permanent generation, which no later
collection walks, so the running workbench's collections walk only what it makes afterwards.
"""

from __future__ import annotations

import gc

from .. import code_cache


def pause() -> None:
    """From the very start of a long-running command, until ``imports_done``."""
    gc.disable()


def imports_done() -> None:
    """What was made so far stays: freeze it, and collect as usual from here on. The code the
    imports' dataclasses compiled is kept now (``code_cache.save``), not only at exit."""
    gc.freeze()
    gc.enable()
    code_cache.save()
