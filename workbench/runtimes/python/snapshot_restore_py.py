"""Runtime hooks for SnapStart, as Lambda's Python runtimes (3.12+) provide them to handlers:
``from snapshot_restore_py import register_before_snapshot, register_after_restore``.

The same interface as AWS's ``snapshot-restore-py`` package: each ``register_*`` takes a
callable and its arguments (or decorates a function) and returns the callable unchanged.
Before-snapshot hooks run once per snapshot, in the reverse order of registration; after-restore
hooks once in each restored environment, in order of registration (``workbench_snapstart.py``).
Standard library only: it runs inside the sandbox.
"""

_before_snapshot_registry: list = []  # (func, args, kwargs)
_after_restore_registry: list = []


def register_before_snapshot(func, *args, **kwargs):
    """Run ``func(*args, **kwargs)`` just before the snapshot is taken."""
    _before_snapshot_registry.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    """Run ``func(*args, **kwargs)`` just after an environment is restored from the snapshot."""
    _after_restore_registry.append((func, args, kwargs))
    return func


def get_before_snapshot():
    return _before_snapshot_registry


def get_after_restore():
    return _after_restore_registry
