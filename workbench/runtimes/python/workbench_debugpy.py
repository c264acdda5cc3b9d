"""Start the runtime under debugpy and wait for the IDE, before any of the function's code runs.

Imported only when the launch asks for it (``_WORKBENCH_DEBUGPY=127.0.0.1:PORT``, with
``_WORKBENCH_DEBUGPY_PATH``: the folder holding the debugpy package). The runtime runs without
site-packages, so that folder is put on ``sys.path`` just for the import and taken off again:
the host's packages never leak into the handler's imports. Both variables leave
``os.environ`` here, so the handler sees exactly Lambda's variables.

Our bootstrap calls ``start()``; for AWS's client it is the command itself:
``python -S -m workbench_debugpy awslambdaric HANDLER`` waits, then runs
``python -m awslambdaric HANDLER`` in this process.
"""

import os
import sys
import time


class DebuggerUnavailable(Exception):
    """debugpy could not be imported or could not listen; the message says why."""


def _now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def start():
    """Listen on the address the launch gave, say so on the log, wait for a client."""
    address = os.environ.pop("_WORKBENCH_DEBUGPY", "")
    folder = os.environ.pop("_WORKBENCH_DEBUGPY_PATH", "")
    host, _, port = address.rpartition(":")
    added = bool(folder) and folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        import debugpy
    except ImportError as e:
        raise DebuggerUnavailable(
            f"cannot import debugpy from {folder or 'sys.path'} ({e}): "
            "pip install 'workbench[debug]'"
        ) from None
    finally:
        if added:
            sys.path.remove(folder)
    try:
        debugpy.listen((host or "127.0.0.1", int(port)))
    except Exception as e:  # noqa: BLE001 - debugpy raises RuntimeError and OSError alike
        raise DebuggerUnavailable(f"debugpy cannot listen on {address}: {e}") from None
    sys.stdout.write(
        f"[INFO]\t{_now_iso()}\t\tdebugpy listening on {address}: "
        "waiting for a debugger to attach\n"
    )
    sys.stdout.flush()
    debugpy.wait_for_client()


def main():
    """``-m workbench_debugpy MODULE ARGS…``: start, then run MODULE as ``-m MODULE ARGS…``."""
    import runpy

    try:
        start()
    except DebuggerUnavailable as e:
        sys.stdout.write(f"[ERROR]\t{_now_iso()}\t\t{e}\n")
        sys.stdout.flush()
        sys.exit(1)
    module = sys.argv[1]
    del sys.argv[1]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
