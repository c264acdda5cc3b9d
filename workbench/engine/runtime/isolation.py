"""Which isolation an engine's environments get, and saying so.

``auto`` gives every environment its own namespaces where the machine allows it
(``namespaces.py``: its own filesystem view and processes) and a cgroup (``cgroups.py``: v1, or
a delegated v2 subtree) on top of the rlimits; ``cgroups`` leaves out the namespaces; ``rlimits``
forces the fallback (and is what a machine without either gets, with the reason). What a
function's environments do not stop is said wherever the isolation is shown (``not_stopped``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from . import namespaces
from .cgroups import Cgroups, EnvCgroup, cpu_share
from .namespaces import own_uids
from .netns import NETWORK_VAR, Network
from .tmp_images import TmpImages

IsolationMode = Literal["auto", "cgroups", "rlimits"]
CpuMode = Literal["proportional", "full"]
ISOLATION_MODES: tuple[IsolationMode, ...] = ("auto", "cgroups", "rlimits")
CPU_MODES: tuple[CpuMode, ...] = ("proportional", "full")

NOT_STOPPED = (
    "not isolated: the filesystem, the network and other processes (no namespaces: "
    "a handler can read and write what the user running the workbench can)"
)
NOT_STOPPED_IN_NAMESPACES = (
    "not isolated: the network (the host's loopback and outbound traffic; the Runtime API "
    "answers only the environment's own processes)"
)
NOT_STOPPED_IN_OWN_NETWORK = (
    "not isolated: outbound traffic to other hosts (as on Lambda), the host's own addresses "
    "other than its loopback included"
)
NOT_STOPPED_WITHOUT_OUTBOUND = (
    "not isolated: nothing of the network (--network none: no outbound traffic either, "
    "only its own loopback and the workbench's APIs)"
)
# what runs in namespaces: every runtime (our Python client enters them itself; Node.js, custom
# runtimes and awslambdaric behind a launcher; external extensions behind the same launcher:
# extension_sandbox.py; a wrapper script at its Lambda path behind the same launcher), except one
# whose wrapper script is named by a host path
NAMESPACED = (
    "every function (its extensions and wrapper script too), except one whose wrapper is a "
    "host path"
)


def namespaces_here() -> str:
    """'' if the engine would give environments namespaces (``$WORKBENCH_ISOLATION`` as the
    engine reads it, and this machine), else why not; without starting an engine."""
    mode = os.environ.get("WORKBENCH_ISOLATION") or "auto"
    if mode != "auto":
        return f"asked for with isolation {mode}"
    return namespaces.probe()


def network_here(namespaced: bool) -> str:
    """One line: the network environments would get (``$WORKBENCH_NETWORK`` as the engine
    reads it, and this machine), without starting an engine."""
    mode = os.environ.get(NETWORK_VAR) or "auto"
    try:
        network = Network.detect(mode, namespaced, None)
    except ValueError as e:
        return f"network: {e}"
    try:
        return network.describe()
    finally:
        network.close()  # (an unprivileged engine's maker, started to find out)


@dataclass(slots=True)
class Isolation:
    cgroups: Cgroups | None
    why_not: str  # why there are no cgroups ("" when there are)
    cpu: CpuMode = "proportional"
    namespaces: bool = False  # environments that can enter namespaces do
    why_no_namespaces: str = ""
    # each environment's TMPDIR a filesystem of its own, capped at its ephemeral storage
    tmp: TmpImages | None = None
    why_no_tmp_cap: str = "not set up"
    # a network namespace per namespaced environment, or the host's network (netns.py)
    network: Network = field(default_factory=lambda: Network(False, None, "not set up"))

    @classmethod
    def detect(
        cls,
        mode: str = "auto",
        cpu: str = "proportional",
        scratch: Path | None = None,
        network: str = "auto",
    ) -> Isolation:
        """``scratch``: the engine's own folder, where TMPDIR images live (None: none).
        ``network``: ``netns.NETWORK_MODES``' (--network)."""
        isolation = cls._detect(mode, cpu, scratch)
        isolation.network = Network.detect(network, isolation.namespaces, scratch)
        return isolation

    @classmethod
    def _detect(cls, mode: str, cpu: str, scratch: Path | None) -> Isolation:
        if mode not in ISOLATION_MODES:
            raise ValueError(f"isolation {mode!r}: must be one of {', '.join(ISOLATION_MODES)}")
        if cpu not in CPU_MODES:
            raise ValueError(f"cpu {cpu!r}: must be one of {', '.join(CPU_MODES)}")
        cpu_mode: CpuMode = "full" if cpu == "full" else "proportional"
        if mode == "rlimits":
            why = "asked for with --isolation rlimits"
            return cls(None, why, cpu_mode, why_no_namespaces=why, why_no_tmp_cap=why)
        found = Cgroups.detect()
        if mode == "cgroups":
            why_ns = "asked for with --isolation cgroups"
        else:
            why_ns = namespaces.probe()
        tmp = TmpImages.open(scratch) if scratch is not None else "no engine folder"
        images, why_tmp = (None, tmp) if isinstance(tmp, str) else (tmp, "")
        if isinstance(found, str):
            return cls(None, found, cpu_mode, not why_ns, why_ns, images, why_tmp)
        return cls(found, "", cpu_mode, not why_ns, why_ns, images, why_tmp)

    @property
    def kind(self) -> str:
        """``namespaces + cgroup v1`` / ``cgroup v2`` / ``rlimits``: what list and the TUI
        show (the namespaces where the function's runtime enters them: ``kind_for``)."""
        base = f"cgroup v{self.cgroups.version}" if self.cgroups else "rlimits"
        return f"namespaces + {base}" if self.namespaces else base

    def kind_for(self, namespaced: bool) -> str:
        base = f"cgroup v{self.cgroups.version}" if self.cgroups else "rlimits"
        return f"namespaces + {base}" if self.namespaces and namespaced else base

    def not_stopped(self, namespaced: bool = True) -> str:
        """What a function's environments are not isolated from."""
        if self.namespaces and namespaced:
            if self.network.private:
                return (
                    NOT_STOPPED_IN_OWN_NETWORK
                    if self.network.slirp
                    else NOT_STOPPED_WITHOUT_OUTBOUND
                )
            return NOT_STOPPED_IN_NAMESPACES
        return NOT_STOPPED

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

    def describe_namespaces(self) -> str:
        """One line: whether environments get their own namespaces, and which."""
        if self.namespaces:
            net = ", net" if self.network.private else ""
            return (
                f"namespaces (user, mount, pid, ipc, uts{net}) for {NAMESPACED}: /var/task "
                "read-only, /opt, a private /tmp, nothing else of the host"
                + ("; a uid of its own per environment" if own_uids() else "")
                + "; others run without"
            )
        return f"no namespaces ({self.why_no_namespaces})"

    def describe_tmp(self) -> str:
        """One line: how much an environment may write to its /tmp (TMPDIR)."""
        why = self.tmp.wait_probed() if self.tmp is not None else self.why_no_tmp_cap
        if not why:
            return (
                "/tmp: a filesystem of its own per environment (an ext4 image on disk, not in "
                "memory), ephemeral_storage in total (ENOSPC past it)"
            )
        return f"/tmp: ephemeral_storage per file only, not in total ({why})"

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

    def for_function(self, memory_mb: int, freeze: bool, namespaced: bool = False) -> str:
        """One short line for a function (the TUI's): ``namespaces + cgroup v1 · own network ·
        128 MB for all its processes · 0.07 vCPU · frozen when idle``."""
        parts = [self.kind_for(namespaced)]
        if self.namespaces and namespaced:
            parts.append("own network" if self.network.private else "host's network")
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
        self.network.close()
        if self.cgroups is not None:
            self.cgroups.close()
        if self.tmp is not None:
            self.tmp.close()

    def sweep(self) -> None:
        if self.cgroups is not None:
            self.cgroups.sweep()
