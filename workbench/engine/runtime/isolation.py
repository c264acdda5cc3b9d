"""Which isolation an engine's environments get, and saying so.

``auto`` gives every environment a cgroup where the machine allows it (``cgroups.py``: v1, or a
delegated v2 subtree) on top of the rlimits; ``rlimits`` forces the fallback (and is what a
machine without usable cgroups gets, with the reason). Nothing here isolates the filesystem, the
network or other processes yet: ``not_stopped`` says so wherever the isolation is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .cgroups import Cgroups, EnvCgroup, cpu_share

IsolationMode = Literal["auto", "rlimits"]
CpuMode = Literal["proportional", "full"]
ISOLATION_MODES: tuple[IsolationMode, ...] = ("auto", "rlimits")
CPU_MODES: tuple[CpuMode, ...] = ("proportional", "full")

NOT_STOPPED = (
    "not isolated: the filesystem, the network and other processes (no namespaces yet: "
    "a handler can read and write what the user running the workbench can)"
)


@dataclass(slots=True)
class Isolation:
    cgroups: Cgroups | None
    why_not: str  # why there are no cgroups ("" when there are)
    cpu: CpuMode = "proportional"

    @classmethod
    def detect(cls, mode: str = "auto", cpu: str = "proportional") -> Isolation:
        if mode not in ISOLATION_MODES:
            raise ValueError(f"isolation {mode!r}: must be one of {', '.join(ISOLATION_MODES)}")
        if cpu not in CPU_MODES:
            raise ValueError(f"cpu {cpu!r}: must be one of {', '.join(CPU_MODES)}")
        cpu_mode: CpuMode = "full" if cpu == "full" else "proportional"
        if mode == "rlimits":
            return cls(None, "asked for with --isolation rlimits", cpu_mode)
        found = Cgroups.detect()
        if isinstance(found, str):
            return cls(None, found, cpu_mode)
        return cls(found, "", cpu_mode)

    @property
    def kind(self) -> str:
        """``cgroup v1`` / ``cgroup v2`` / ``rlimits``: what list and the TUI show."""
        return f"cgroup v{self.cgroups.version}" if self.cgroups else "rlimits"

    def create(self, env_id: str, memory_mb: int) -> EnvCgroup | None:
        """The environment's cgroup (None without cgroups); raises ``OSError``."""
        if self.cgroups is None:
            return None
        return self.cgroups.create(env_id, memory_mb)

    def vcpus(self, memory_mb: int) -> float | None:
        """The CPU quota an invocation runs under (None: unthrottled)."""
        if self.cgroups is None or self.cpu == "full" or "cpu" not in self.cgroups.bases:
            return None
        return cpu_share(memory_mb)

    def describe(self, memory_mb: int | None = None) -> str:
        """One line: what limits a function's environments, and how."""
        if self.cgroups is None:
            return f"rlimits: memory per process, CPU time, file size, open files ({self.why_not})"
        parts = [self.cgroups.describe() + ": memory for the whole environment"]
        vcpus = None if memory_mb is None else self.vcpus(memory_mb)
        if "cpu" in self.cgroups.bases:
            if self.cpu == "full":
                parts.append("CPU unthrottled (--cpu full)")
            elif vcpus is not None:
                parts.append(f"{vcpus:.2f} vCPU during invocations")
            else:
                parts.append("CPU in proportion to memory during invocations")
        if "pids" in self.cgroups.bases:
            parts.append("1,024 processes and threads")
        return ", ".join(parts) + "; rlimits for CPU time, file size and open files"

    def for_function(self, memory_mb: int, freeze: bool) -> str:
        """One short line for a function (the TUI's): ``cgroup v1 · 128 MB for all its processes
        · 0.07 vCPU · frozen when idle``."""
        parts = [self.kind]
        if self.cgroups is not None:
            parts.append(f"{memory_mb:,} MB for all its processes")
            vcpus = self.vcpus(memory_mb)
            if "cpu" in self.cgroups.bases:
                parts.append("full CPU" if vcpus is None else f"{vcpus:.2f} vCPU")
        else:
            parts.append(f"{memory_mb:,} MB per process")
        parts.append("frozen when idle" if freeze else "not frozen (freeze = false)")
        return " · ".join(parts)

    def close(self) -> None:
        if self.cgroups is not None:
            self.cgroups.close()

    def sweep(self) -> None:
        if self.cgroups is not None:
            self.cgroups.sweep()
