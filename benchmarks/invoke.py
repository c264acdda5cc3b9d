"""Invoke latency through the engine API, beside baselines measured in the same run.

    python benchmarks/invoke.py [--warm N] [--cold N]

Warm: a no-op handler invoked N times (default 2000) in one warm environment, timing
``await engine.invoke(...)`` end to end (payload check, dispatch over the Runtime API, the
handler, the response, the record, the store queue). Baseline: a JSON round trip to a
long-lived child process over a pipe.

Cold: a new environment to its first response (default 30 times): spawn, sandbox, runtime
init, function init, invoke. Baseline: ``python -c pass`` with the same interpreter
(``sys.executable``, not a shim on PATH).

Baseline and engine samples are taken in alternating rounds, so drift in a shared machine's
speed weighs on both alike. On a 2-vCPU VM most of a round trip is the cross-CPU wake-up:
``taskset -c 0 python benchmarks/invoke.py`` shows the same code with both ends on one CPU.

Isolation: the same runs with the rlimit sandbox only (``--isolation rlimits``, a function with
``freeze = false``), with a cgroup per environment plus freezing between invocations
(``cgroups``), and with namespaces on top (``auto``, the default), engines alternating, so the
sandbox's own cost shows as the difference (target: at most +3 ms p50 cold, +0.05 ms p50 warm).
CPU quotas are off in both (``cpu="full"``): they slow the handler, not the workbench.

Fork server: the same cold starts forked from a started interpreter (``fork_server=True``,
the default), beside exec'd ones; ``fork-rlimits``, ``fork-cgroups`` and ``fork`` are the three
sandboxes on that path, so the sandbox's cost shows there too (the default path's).

SnapStart: cold starts of a published ``python3.12`` version with ``snap_start =
"PublishedVersions"``, each restored (forked) from the version's stopped snapshot, beside the
rest (``snap``, a no-op handler like the others; ``snap-imports``, a handler that imports
``json``, ``email``, ``http.client`` and ``decimal`` at INIT, beside the same handler through
the fork server, where every cold start pays those imports).

Network: ``fork-net`` (a network of its own, no outbound traffic) and ``fork-slirp`` (with
slirp4netns), the namespaces made by the engine (a root engine's way); ``fork-maker`` and
``fork-maker-slirp``, the same made by the maker process (``netns_helper.py``, an unprivileged
engine's way, forced with ``WORKBENCH_NETNS_HELPER=1``).

Extensions: cold starts and warm invokes of a no-op function with one external Python
extension registered for INVOKE (``ext``), beside ``fork-cgroups`` (the same without it);
``ext-auto``, the same in the environment's namespaces (its extension in them too).
``--only ext,ext-auto`` runs those rows alone (the summaries of rows not run are left out).

Targets: warm p50 <= 0.25 ms (issue #2); cold p50 <= 5 ms and <= 0.5x the bare interpreter
start through the fork server (issue #17).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import row

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

import engine_loop  # noqa: E402  (after the path to workbench is set)

from workbench.engine import Engine, EngineSettings  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
IMPORTS = "import json, email.parser, http.client, decimal\n" + NOOP
# one external extension (extensions/ of the function): registers for INVOKE, loops on next
EXTENSION = """#!/usr/bin/env python3
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))
conn.request("POST", "/2020-01-01/extension/register", json.dumps({"events": ["INVOKE"]}),
             {"Lambda-Extension-Name": "bench-ext"})
r = conn.getresponse(); r.read()
ident = r.getheader("Lambda-Extension-Identifier")
while True:
    conn.request("GET", "/2020-01-01/extension/event/next", headers={
        "Lambda-Extension-Identifier": ident})
    conn.getresponse().read()
"""
ECHO_CHILD = (
    "import sys, json\n"
    "r, w = sys.stdin.buffer, sys.stdout.buffer\n"
    "for line in r:\n"
    "    w.write(json.dumps(json.loads(line)).encode() + b'\\n'); w.flush()\n"
)


class PipeChild:
    """The warm baseline: a long-lived child echoing JSON lines over a pipe."""

    def __init__(self) -> None:
        self.child = subprocess.Popen(
            [sys.executable, "-c", ECHO_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.round_trips(200)  # warm up

    def round_trips(self, n: int) -> list[float]:
        stdin, stdout = self.child.stdin, self.child.stdout
        assert stdin is not None and stdout is not None
        out = []
        for _ in range(n):
            t = time.perf_counter()
            stdin.write(b"{}\n")
            stdin.flush()
            json.loads(stdout.readline())
            out.append((time.perf_counter() - t) * 1000)
        return out

    def close(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.close()
        self.child.wait()


def interpreter_starts(n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        out.append((time.perf_counter() - t) * 1000)
    return out


async def engine_runs(
    root: Path,
    warm_n: int,
    cold_n: int,
    rounds: int,
    isolation: str = "auto",
    fn: str = "noop",
    fork_server: bool = False,
    qualifier: str | None = None,
) -> tuple[list[float], list[float], list[float], list[float]]:
    """(pipe baseline, warm, interpreter baseline, cold) samples, in alternating rounds."""
    state = Path(tempfile.mkdtemp(prefix="wb-bench-state-"))
    isolation, _, network = isolation.partition("/")  # "auto/private": with --network private
    network = network.removesuffix("+maker")  # (the caller set the maker's switch)
    settings = EngineSettings(
        state_dir=state,
        keep_alive_s=3600,
        isolation=isolation,
        network=network or "host",
        cpu="full",
        fork_server=fork_server,
    )
    pipe: list[float] = []
    warm: list[float] = []
    bare: list[float] = []
    cold: list[float] = []
    pipe_child = PipeChild()
    async with Engine([root], settings) as engine:
        assert engine.pool.isolation is not None
        isolation_now = engine.pool.isolation
        print(f"  [{isolation}] {isolation_now.describe()}", file=sys.stderr)
        print(f"  [{isolation}] {isolation_now.describe_namespaces()}", file=sys.stderr)
        if qualifier is not None:  # a published version (SnapStart: its snapshot is taken)
            await engine.publish(fn)
        await engine.invoke(fn, b"{}", qualifier=qualifier)  # cold, then warm
        for _ in range(200):
            await engine.invoke(fn, b"{}", qualifier=qualifier)
        for _ in range(rounds):  # (at least one sample a round: --warm 5 splits into 0s)
            pipe += pipe_child.round_trips(max(1, warm_n // rounds))
            for _ in range(max(1, warm_n // rounds)):
                t = time.perf_counter()
                await engine.invoke(fn, b"{}", qualifier=qualifier)
                warm.append((time.perf_counter() - t) * 1000)
        for _ in range(rounds):
            bare += interpreter_starts(max(1, cold_n // rounds))
            for _ in range(max(1, cold_n // rounds)):
                # retire the warm environment: the next call is cold
                engine.pool.retire_idle(fn, "idle", latest_only=False)
                t = time.perf_counter()
                result = await engine.invoke(fn, b"{}", qualifier=qualifier)
                cold.append((time.perf_counter() - t) * 1000)
                assert result.record.cold and result.function_error is None
                if qualifier is not None:
                    assert "Restore Duration" in result.record.log_lines[-1]
    pipe_child.close()
    return pipe, warm, bare, cold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warm", type=int, default=2000)
    ap.add_argument("--cold", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated rows (default: all)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    (root / "noop").mkdir()
    (root / "noop" / "function.toml").write_text('handler = "app.handler"\n')
    (root / "noop" / "app.py").write_text(NOOP)
    (root / "unfrozen").mkdir()  # the bare sandbox's: never frozen
    (root / "unfrozen" / "function.toml").write_text('handler = "app.handler"\nfreeze = false\n')
    (root / "unfrozen" / "app.py").write_text(NOOP)
    snap = 'handler = "app.handler"\nruntime = "python3.12"\nsnap_start = "PublishedVersions"\n'
    for name, code in (("snap", NOOP), ("snap-imports", IMPORTS), ("imports", IMPORTS)):
        (root / name).mkdir()
        toml = snap if name.startswith("snap") else 'handler = "app.handler"\n'
        (root / name / "function.toml").write_text(toml)
        (root / name / "app.py").write_text(code)

    (root / "withext" / "extensions").mkdir(parents=True)
    (root / "withext" / "function.toml").write_text('handler = "app.handler"\n')
    (root / "withext" / "app.py").write_text(NOOP)
    (root / "withext" / "extensions" / "bench-ext").write_text(EXTENSION)
    (root / "withext" / "extensions" / "bench-ext").chmod(0o755)

    # name -> (isolation, the function it runs, fork server, its name in the table); the
    # sandboxes are compared exec'd (each started as ``python``), the fork server on its own
    configs = {
        "rlimits": ("rlimits", "unfrozen", False, "rlimits, unfrozen, exec"),
        "cgroups": ("cgroups", "noop", False, "cgroup + freeze, exec"),
        "auto": ("auto", "noop", False, "namespaces + cgroup + freeze, exec"),
        "fork": ("auto", "noop", True, "namespaces + cgroup + freeze, fork server"),
        "fork-net": ("auto/none", "noop", True, "the same + its own network, fork server"),
        "fork-slirp": ("auto/auto", "noop", True, "the same + slirp4netns, fork server"),
        "fork-maker": ("auto/none+maker", "noop", True, "own network by the maker, fork server"),
        "fork-maker-slirp": ("auto/auto+maker", "noop", True, "by the maker + slirp4netns"),
        "fork-cgroups": ("cgroups", "noop", True, "cgroup + freeze, fork server"),
        "fork-rlimits": ("rlimits", "unfrozen", True, "rlimits, unfrozen, fork server"),
        "snap": ("auto", "snap", True, "SnapStart restore (cgroup + freeze)"),
        "imports": ("auto", "imports", True, "imports at INIT, fork server"),
        "snap-imports": ("auto", "snap-imports", True, "imports at INIT, SnapStart restore"),
        "ext": ("cgroups", "withext", True, "one extension (Python), cgroup + fork server"),
        "ext-auto": ("auto", "withext", True, "one extension (Python), namespaces + fork srv"),
    }
    if args.only:
        wanted = args.only.split(",")
        unknown = [name for name in wanted if name not in configs]
        if unknown:
            ap.error(f"--only: no row {', '.join(unknown)} (rows: {', '.join(configs)})")
        configs = {name: configs[name] for name in wanted}
    runs: dict[str, tuple[list[float], list[float], list[float], list[float]]] = {
        name: ([], [], [], []) for name in configs
    }
    for _ in range(2):  # the sandboxes in alternating halves
        for name, samples in runs.items():
            isolation, function, fork, _ = configs[name]
            qualifier = "1" if function.startswith("snap") else None
            # an unprivileged engine's way (netns_helper.py), forced: its environments' uid shared
            maker = {"WORKBENCH_NETNS_HELPER": "1", "WORKBENCH_SANDBOX_UIDS": "shared"}
            for key, value in maker.items():
                if isolation.endswith("+maker"):
                    os.environ[key] = value
                else:
                    os.environ.pop(key, None)
            got = engine_loop.run(
                engine_runs(
                    root,
                    args.warm // 2,
                    args.cold // 2,
                    args.rounds,
                    isolation,
                    function,
                    fork,
                    qualifier,
                )
            )
            for into, new in zip(samples, got, strict=True):
                into.extend(new)
    pipe = [x for samples in runs.values() for x in samples[0]]
    bare = [x for samples in runs.values() for x in samples[2]]
    pipe50, bare50 = statistics.median(pipe), statistics.median(bare)
    print(f"workbench invoke benchmark — {engine_loop.describe()}")
    print("warm invoke (ratio: against the pipe round trip)")
    print(row("baseline: JSON round trip over a pipe", pipe, pipe50, width=52))
    for key, (*_, name) in configs.items():
        print(row(f"warm, {name}", runs[key][1], pipe50, width=52))
    print("cold start (ratio: against `python -c pass`)")
    print(row("baseline: python -c pass", bare, bare50, width=52))
    for key, (*_, name) in configs.items():
        print(row(f"cold, {name}", runs[key][3], bare50, width=52))
    if "ext" in runs and "ext-auto" in runs:
        before, after = (statistics.median(runs[k][3]) for k in ("ext", "ext-auto"))
        print(
            f"extension in namespaces (p50 cold): {after:.2f} ms vs {before:.2f} ms without "
            f"({after / before:.2f}x)"
        )
    # the sandbox's cost: each sandbox minus the bare rlimit one, exec'd and forked
    for bare_key, keys in (
        ("rlimits", ("cgroups", "auto")),
        ("fork-rlimits", ("fork-cgroups", "fork")),
    ):
        if bare_key not in runs:
            continue
        _, warm_r, _, cold_r = runs[bare_key]
        for isolation in (k for k in keys if k in runs):
            _, warm_i, _, cold_i = runs[isolation]
            dw = statistics.median(warm_i) - statistics.median(warm_r)
            dc = statistics.median(cold_i) - statistics.median(cold_r)
            print(
                f"sandbox cost ({configs[isolation][3]} minus rlimits, p50): warm {dw:+.3f} ms "
                f"(<= 0.05: {'met' if dw <= 0.05 else 'MISSED'}), cold {dc:+.3f} ms "
                f"(<= 3: {'met' if dc <= 3 else 'MISSED'})"
            )
    if not {"snap", "imports", "snap-imports", "fork"} <= set(runs):
        return
    snap50 = statistics.median(runs["snap"][3])
    imports50 = statistics.median(runs["imports"][3])
    snap_imports50 = statistics.median(runs["snap-imports"][3])
    print(
        f"SnapStart (p50): a no-op restore {snap50:.2f} ms ({snap50 / bare50:.2f}x python -c "
        f"pass); with imports at INIT {snap_imports50:.2f} ms restored vs {imports50:.2f} ms "
        f"through the fork server ({snap_imports50 / imports50:.2f}x)"
    )
    w50, c50 = statistics.median(runs["fork"][1]), statistics.median(runs["fork"][3])
    print(
        f"targets (the default: namespaces, fork server): warm p50 {w50:.3f} ms <= 0.25 ms: "
        f"{'met' if w50 <= 0.25 else 'MISSED'}; cold p50 {c50:.2f} ms <= 5 ms: "
        f"{'met' if c50 <= 5 else 'MISSED'}, {c50 / bare50:.2f}x <= 0.5x python -c pass: "
        f"{'met' if c50 <= 0.5 * bare50 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
