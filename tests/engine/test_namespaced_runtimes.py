"""Node.js, custom runtimes and AWS's Python client in their own namespaces, entered by the
launcher before the runtime starts (``engine/runtime/sandboxed_launch.py``): each sees what a
Lambda environment sees — its code read-only at /var/task, a private /tmp, its own processes,
``sbx_user1051`` — and nothing else of the host."""

from __future__ import annotations

import json
import os
import shutil
import stat
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import body, tmp_of, toml_value
from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime.namespaces import probe

pytestmark = pytest.mark.skipif(
    bool(probe()), reason=f"this machine gives no namespaces: {probe()}"
)


@pytest.fixture(params=[True, False], ids=["fork-server", "exec"])
async def sandboxed(
    function_root: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Engine]:
    """An engine whose environments get namespaces: the launcher forked from the fork server
    (the default), or exec'd."""
    settings = EngineSettings(
        keep_alive_s=5.0,
        reap_interval_s=0.2,
        state_dir=tmp_path / "state",
        isolation="auto",
        fork_server=request.param,
    )
    async with Engine([function_root], settings) as eng:
        yield eng


def _folder(engine: Engine, name: str, files: dict[str, str], **config: object) -> Path:
    folder = engine.roots[0] / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{key} = {toml_value(value)}" for key, value in config.items()]
    (folder / "function.toml").write_text("\n".join(lines) + "\n")
    for rel, text in files.items():
        path = folder / rel
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        if rel == "bootstrap":
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    engine.load_functions()
    return folder


def _host_paths(engine: Engine, tmp_path: Path) -> list[str]:
    """What must not be there: the state dir, the roots (other functions), ~/.aws."""
    return [str(tmp_path / "state"), str(engine.roots[0]), str(Path.home() / ".aws")]


NODE = """
import fs from 'fs';
export const handler = async (event) => {
  let write;
  try { fs.writeFileSync('/var/task/new.txt', 'x'); write = 'written'; }
  catch (e) { write = e.code; }
  fs.writeFileSync('/tmp/private', 'mine');
  const pids = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map(Number);
  let kill;  // its init (PID 1) cannot be killed from inside; the engine is not there
  try { process.kill(1, 'SIGKILL'); process.kill(process.ppid, 'SIGKILL'); kill = 'sent'; }
  catch (e) { kill = e.code; }
  return {
    cwd: process.cwd(), taskRoot: process.env.LAMBDA_TASK_ROOT, runtimeDir:
    process.env.LAMBDA_RUNTIME_DIR, tmpdir: process.env.TMPDIR, pid: process.pid, pids, write,
    uid: process.getuid(), user: fs.readFileSync('/etc/passwd', 'utf8').includes('sbx_user1051'),
    exists: Object.fromEntries(event.paths.map((p) => [p, fs.existsSync(p)])), kill,
  };
};
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
async def test_a_node_function_runs_in_its_namespaces(sandboxed: Engine, tmp_path: Path) -> None:
    folder = _folder(
        sandboxed, "node", {"index.mjs": NODE}, runtime="nodejs20.x", handler="index.handler"
    )
    hidden = _host_paths(sandboxed, tmp_path)

    result = await sandboxed.invoke("node", json.dumps({"paths": hidden}).encode())

    assert result.function_error is None, result.record.log_lines
    seen = body(result)
    assert (seen["cwd"], seen["taskRoot"], seen["tmpdir"]) == ("/var/task", "/var/task", "/tmp")
    assert seen["runtimeDir"] == "/var/runtime"
    assert seen["write"] == "EROFS" and not (folder / "new.txt").exists()
    assert seen["exists"] == {p: False for p in hidden}
    assert seen["uid"] == 993 and seen["user"]
    assert seen["pid"] == 2 and max(seen["pids"]) < 100 and os.getpid() not in seen["pids"]
    assert not Path("/tmp/private").exists()  # its /tmp is its own
    again = await sandboxed.invoke("node", json.dumps({"paths": []}).encode())
    assert again.function_error is None and not again.record.cold  # it lived through the kills
    [env] = sandboxed.environments("node")
    assert env.namespaced and env.forked == sandboxed.settings.fork_server
    assert (tmp_of(env) / "private").read_text() == "mine"


BOOTSTRAP = r"""
#!/bin/sh
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  ID=$(curl -sS -D - -o /dev/null "$API/next" | tr -d '\r' \
    | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  if touch /var/task/new.txt 2>/dev/null; then W=written; else W=refused; fi
  SEEN=""
  for p in $PATHS; do [ -e "$p" ] && SEEN="$SEEN $p"; done
  curl -sS -o /dev/null -X POST "$API/$ID/response" -d "{\"pwd\": \"$(pwd)\", \
\"user\": \"$(id -un)\", \"pid\": $$, \"write\": \"$W\", \"seen\": \"$SEEN\"}"
done
"""


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_a_custom_runtime_runs_in_its_namespaces(sandboxed: Engine, tmp_path: Path) -> None:
    hidden = _host_paths(sandboxed, tmp_path)
    folder = _folder(
        sandboxed,
        "custom",
        {"bootstrap": BOOTSTRAP},
        runtime="provided.al2023",
        handler="x",
        environment={"PATHS": " ".join(hidden)},
    )

    result = await sandboxed.invoke("custom", b"{}")

    assert result.function_error is None, result.record.log_lines
    seen = body(result)
    assert seen["pwd"] == "/var/task" and seen["user"] == "sbx_user1051"
    assert seen["pid"] == 2  # PID 1 is its init
    assert seen["write"] == "refused" and not (folder / "new.txt").exists()
    assert seen["seen"] == ""  # none of the host's paths


async def test_a_runtime_that_cannot_enter_its_namespaces_fails_init_and_says_why(
    sandboxed: Engine,
) -> None:
    # a path the engine cannot describe to the launcher (a control character in it)
    (sandboxed.roots[0].parent / "lay\x1eer").mkdir()
    _folder(
        sandboxed,
        "badlayer",
        {"bootstrap": "#!/bin/sh\nexit 0\n"},
        runtime="provided.al2023",
        handler="x",
        layers=["../../lay\x1eer"],
    )
    name = "badlayer"

    result = await sandboxed.invoke(name, b"{}")

    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.ExitError"
    assert any(
        "could not enter the environment's namespaces" in line
        and "--isolation cgroups runs functions without them" in line
        for line in result.record.log_lines
    ), result.record.log_lines


async def test_awslambdaric_runs_in_its_namespaces(sandboxed: Engine, tmp_path: Path) -> None:
    ric = pytest.importorskip("tests.engine.test_awslambdaric")
    target = tmp_path / "vendored"
    ric.vendor("awslambdaric", target)
    code = """
        import json, os
        def handler(event, context):
            try:
                open("/var/task/new.txt", "w")
                write = "written"
            except OSError as e:
                write = e.errno
            return {"cwd": os.getcwd(), "root": os.environ["LAMBDA_TASK_ROOT"], "write": write,
                    "pid": os.getpid(), "exists": {p: os.path.exists(p) for p in event["paths"]}}
    """
    folder = _folder(
        sandboxed, "ric", {"app.py": code}, handler="app.handler", runtime_client="awslambdaric"
    )
    shutil.copytree(target, folder, dirs_exist_ok=True)
    hidden = _host_paths(sandboxed, tmp_path)

    result = await sandboxed.invoke("ric", json.dumps({"paths": hidden}).encode())

    assert result.function_error is None, result.record.log_lines
    seen = body(result)
    assert (seen["cwd"], seen["root"]) == ("/var/task", "/var/task")
    assert seen["write"] == 30 and seen["pid"] == 2  # EROFS; PID 1 its init
    assert seen["exists"] == {p: False for p in hidden}


async def test_a_python_runtime_that_cannot_enter_its_namespaces_fails_init_saying_why(
    sandboxed: Engine,
) -> None:
    """Our Python client enters them itself (forked or exec'd): the same reason, as its INIT
    error."""
    (sandboxed.roots[0].parent / "lay\x1eer").mkdir()
    _folder(
        sandboxed,
        "badpython",
        {"app.py": "def handler(event, context):\n    return 1\n"},
        handler="app.handler",
        layers=["../../lay\x1eer"],
    )

    result = await sandboxed.invoke("badpython", b"{}")

    assert result.function_error == "Unhandled"
    error = body(result)
    assert error["errorType"] == "Runtime.SandboxError"
    assert "cannot describe the namespaces" in error["errorMessage"]
    assert "control character" in error["errorMessage"]
