"""The interpreter's own standard-library bytecode, found through the engine's bytecode folder.

A runtime outside namespaces runs with ``-X pycache_prefix=<state dir>/pycache``, so that the
bytecode of a function's code (and of this runtime client) is cached there rather than written
into the function's folder. But with a prefix set, Python looks for *every* module's bytecode
under it, the standard library's too, and ignores the ``__pycache__`` the interpreter was
installed with: a handler's ``import logging`` in a fresh state dir compiled ``logging`` and what
it imports again (~140 ms of its first cold start), as every standard module a function imported
for the first time was.

``link`` fills the prefix's copy of the standard library's folders with links to the bytecode
the interpreter ships, once per state dir and interpreter (a marker file says it is done): the
import system reads through them, and checks each against its source as it always does (a stale
one is compiled again and its link replaced by the new file; a link whose file is gone reads as
missing). Standard library only: the fork server, and a runtime exec'd outside namespaces,
call it first thing (``engine/runtime/forkserver.py``, ``launch.py``).
"""

import os
import sys

MARKER = ".workbench-stdlib-linked"
SKIPPED = {"__pycache__", "site-packages", "dist-packages", "test", "idlelib", "turtledemo"}


def link():
    """Link the standard library's bytecode into ``sys.pycache_prefix`` (if one is set and
    it is not done yet); never raises: without it, the bytecode is compiled as before."""
    prefix = sys.pycache_prefix
    tag = sys.implementation.cache_tag
    if not prefix or not tag:
        return
    stdlib = os.path.dirname(os.__file__)
    mirror = os.path.join(prefix, stdlib.lstrip(os.sep))
    marker = os.path.join(mirror, MARKER)
    if os.path.exists(marker):
        return
    suffix = f".{tag}.pyc"  # (not the -O / -OO files: .opt-1.pyc)
    try:
        for folder, subfolders, _ in os.walk(stdlib):
            subfolders[:] = [d for d in subfolders if d not in SKIPPED]
            cache = os.path.join(folder, "__pycache__")
            try:
                names = [n for n in os.listdir(cache) if n.endswith(suffix) and n.count(".") == 2]
            except OSError:
                continue
            target = os.path.join(prefix, folder.lstrip(os.sep))
            os.makedirs(target, exist_ok=True)
            for name in names:
                try:
                    os.symlink(os.path.join(cache, name), os.path.join(target, name))
                except FileExistsError:
                    pass  # (compiled there already, or linked by another server)
        with open(marker, "w"):
            pass
    except OSError:
        pass  # (a read-only or full state dir: modules are compiled as before)
