"""What an execution environment's process may see and use: Lambda's variables and the rlimits.

The limits are applied with prlimit(2) to the freshly exec'd runtime, which waits on its stdin
for the engine's go-ahead before it runs any user code (see ``bootstrap.main``). Doing it from
the parent keeps ``subprocess`` on its fast vfork path (a ``preexec_fn`` forces a full fork of
the engine, 3x slower from a large process) and works for any runtime.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Mapping

from ..config.function import FunctionConfig, runtime_family
from .launch import Launch

MB = 1024 * 1024
NOFILE = 1024  # Lambda's file descriptor quota
NODE_STACK = 2 * MB
INIT_CPU_SECONDS = 10  # Lambda bounds INIT at 10 s

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def log_stream_name(version: str, env_id: str) -> str:
    """``2020/01/31/[$LATEST]3893xmpl7fac4485b47bb75b671a283c``, as Lambda names streams."""
    return time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{version}]{env_id}"


def lambda_environment(
    fn: FunctionConfig,
    launch: Launch,
    *,
    version: str,
    runtime_api: str,
    tmpdir: str,
    region: str,
    log_stream: str,
    aws: Mapping[str, str] | None = None,
    task_root: str | None = None,
) -> dict[str, str]:
    """Exactly Lambda's variables (LAMBDA_REFERENCE §5), the runtime's own, the AWS credentials
    and endpoints (``aws``: see ``credentials.aws_variables``), then the function's, plus TMPDIR.

    Nothing of the engine's own environment is passed on: the host's AWS credentials reach a
    handler only through ``aws``, when its function asks for them. ``task_root``: where the
    function's code is as the runtime sees it (``/var/task`` in its namespaces)."""
    runtime_dir = launch.runtime_dir
    on_host = task_root is None
    task_root = task_root or str(fn.folder)
    env = {
        "_HANDLER": fn.handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "LD_LIBRARY_PATH": (
            f"/lib64:/usr/lib64:{runtime_dir}:{runtime_dir}/lib:{task_root}:{task_root}/lib:/opt/lib"
        ),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "TMPDIR": tmpdir,
        **launch.env,
    }
    if runtime_family(fn.runtime) != "provided":  # Lambda sets none for provided runtimes
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{fn.runtime}"
    env.update(fn.logging.runtime_env())  # AWS_LAMBDA_LOG_FORMAT / _LEVEL, as Lambda sets them
    env.update(aws or {})
    env.update(fn.environment)
    if on_host and fn.environment.get("PYTHONPATH"):  # written with Lambda's paths
        env["PYTHONPATH"] = host_paths(fn.environment["PYTHONPATH"], fn)
    return env


def host_paths(value: str, fn: FunctionConfig) -> str:
    """A PATH-like list written with Lambda's paths, for a runtime on the host's: ``/var/task``
    is the function's folder, ``/opt`` each of its layers (later layers first, as files
    extracted later into /opt win); other entries stay."""
    out: list[str] = []
    for entry in value.split(":"):
        for root, folders in (("/var/task", [fn.folder]), ("/opt", list(reversed(fn.layers)))):
            if entry == root or entry.startswith(root + "/"):
                rest = entry[len(root) + 1 :]
                out += [str(folder / rest) if rest else str(folder) for folder in folders]
                break
        else:
            out.append(entry)
    return ":".join(out)


def apply_limits(
    pid: int, fn: FunctionConfig, *, guard_cpu: bool = True, memory_rlimit: bool = True
) -> None:
    """The sandbox's rlimits, set on the runtime process before it runs user code.

    ``guard_cpu=False`` (an environment under an IDE's debugger) leaves out the CPU guard: a
    handler being stepped through must never be killed. ``memory_rlimit=False``: a memory
    cgroup limits the whole environment instead (``cgroups.py``), and thread stacks no longer
    count against a per-process data limit (a 128 MB function may start its threads).

    Memory is ``RLIMIT_DATA`` (private writable memory: heap and anonymous mappings), which
    tracks what a program allocates; ``RLIMIT_AS`` would also count shared libraries and
    address space that threads and malloc arenas reserve but never touch.
    """
    if memory_rlimit:
        memory = fn.memory_size * MB
        resource.prlimit(pid, resource.RLIMIT_DATA, (memory, memory))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
    resource.prlimit(pid, resource.RLIMIT_CORE, (0, 0))
    if memory_rlimit and runtime_family(fn.runtime) == "nodejs":
        # glibc sizes each thread's stack from RLIMIT_STACK (8 MiB by default) and those
        # mappings count against RLIMIT_DATA: Node's five threads would take 40 MB of a 128 MB
        # function. V8's own stack limit (984 KB) fits well within 2 MiB.
        resource.prlimit(pid, resource.RLIMIT_STACK, (NODE_STACK, NODE_STACK))
    storage = fn.ephemeral_storage * MB
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (storage, storage))
    if guard_cpu:
        arm_cpu_guard(pid, cpu_guard(0.0, INIT_CPU_SECONDS + fn.timeout))


def cpu_guard(cpu_used: float, budget_s: float) -> int:
    """The RLIMIT_CPU soft limit that allows ``budget_s`` more CPU seconds (SIGXCPU past it)."""
    return int(cpu_used) + int(budget_s) + 1


def arm_cpu_guard(pid: int, soft: int) -> None:
    """Set the soft CPU limit. Only the soft limit moves: lowering a hard limit is for good."""
    hard = resource.prlimit(pid, resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.prlimit(pid, resource.RLIMIT_CPU, (soft, hard))


class ProcUsage:
    """Peak RSS and CPU time of a live process, read from /proc on every invocation.

    The files stay open and are re-read with pread(2): opening /proc files costs more than
    reading them, and this runs once per invocation.
    """

    def __init__(self, pid: int) -> None:
        self._status = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        self._stat = os.open(f"/proc/{pid}/stat", os.O_RDONLY)

    def read(self) -> tuple[int, float]:
        """(peak RSS in kB, CPU seconds used); (0, 0.0) once the process is gone."""
        try:
            stat = os.pread(self._stat, 4096, 0)
            fields = stat[stat.rindex(b")") + 2 :].split()
            return self.peak_kb(), (int(fields[11]) + int(fields[12])) / _CLK_TCK
        except (OSError, ValueError, IndexError):
            return 0, 0.0

    def peak_kb(self) -> int:
        """Peak RSS in kB (``VmHWM``); 0 once the process is gone."""
        try:
            status = os.pread(self._status, 8192, 0)
            i = status.find(b"VmHWM:")
            return int(status[i + 6 : status.index(b"kB", i)]) if i >= 0 else 0
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        for fd in (self._status, self._stat):
            try:
                os.close(fd)
            except OSError:
                pass
        self._status = self._stat = -1
