"""Wrapper scripts (``AWS_LAMBDA_EXEC_WRAPPER``): the runtime is started through them, as on
Lambda's managed runtimes; ``provided`` ignores the variable; a missing one fails INIT clearly."""

from __future__ import annotations

import shutil
import stat
import textwrap
from pathlib import Path

import pytest

from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime import cannot_start

from ..helpers import add_function, body, toml_value

# AWS's Python example ("Modifying the runtime environment"): options go in before the last
# argument, the runtime's script. This one also records what it was given and sets a variable.
PY_WRAPPER = r"""#!/bin/bash
printf '%s\n' "$@" > "$WRAPPER_LOG"
export WRAPPED_BY="$0"
args=("$@")
extra_args=("-X" "wrapped_option=yes")
args=("${args[@]:0:$#-1}" "${extra_args[@]}" "${args[@]: -1}")
exec "${args[@]}"
"""

PY_HANDLER = """
import os, sys
def handler(event, context):
    return {"wrapped_by": os.environ.get("WRAPPED_BY"), "xoptions": dict(sys._xoptions),
            "task_root": os.environ["LAMBDA_TASK_ROOT"]}
"""


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


async def test_a_python_runtime_starts_through_its_wrapper_with_the_script_last(
    engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "wrapper.log"
    folder = add_function(
        engine,
        "wrapped",
        PY_HANDLER,
        environment={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper", "WRAPPER_LOG": str(log)},
    )
    _executable(folder / "wrapper", PY_WRAPPER)

    first = await engine.invoke("wrapped", b"{}")
    second = await engine.invoke("wrapped", b"{}")

    assert first.function_error is None, body(first)
    out = body(first)
    assert out["wrapped_by"] == str(folder / "wrapper")
    assert out["xoptions"]["wrapped_option"] == "yes"  # the wrapper's option reached it
    args = log.read_text().splitlines()
    assert Path(args[0]).name.startswith("python")  # the interpreter's path first, ...
    assert args[-1].endswith("workbench_start.py")  # ... the runtime's script last
    # warm: the wrapper ran once, for the environment
    assert not second.record.cold and second.record.env_id == first.record.env_id
    assert body(second)["wrapped_by"] == str(folder / "wrapper")


async def test_a_wrapper_in_a_layer_is_found_at_opt_and_a_later_layer_wins(
    engine: Engine, function_root: Path
) -> None:
    for layer, word in (("first", "one"), ("second", "two")):
        _executable(
            function_root / "layers" / layer / "wrap",
            f'#!/bin/sh\nexport WRAPPED_BY="{word}"\nexec "$@"\n',
        )
    add_function(
        engine,
        "layered",
        PY_HANDLER,
        layers=["../layers/first", "../layers/second"],
        environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrap"},
    )

    result = await engine.invoke("layered", b"{}")

    assert result.function_error is None, body(result)
    assert body(result)["wrapped_by"] == "two"


async def test_the_wrapped_runtime_keeps_its_memory_limit(engine: Engine) -> None:
    folder = add_function(
        engine,
        "hungry",
        "def handler(event, context):\n    b = bytearray(400 * 1024 * 1024)\n    return len(b)\n",
        memory_size=128,
        environment={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper"},
    )
    _executable(folder / "wrapper", '#!/bin/sh\nexec "$@"\n')

    result = await engine.invoke("hungry", b"{}")

    assert result.function_error == "Unhandled"
    # as Lambda reports a memory kill
    assert body(result)["errorType"] == "Runtime.ExitError"
    assert body(result)["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert result.record.max_memory_mb is not None and result.record.max_memory_mb <= 128


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/var/task/nope", "AWS_LAMBDA_EXEC_WRAPPER=/var/task/nope: no such file (looked for "),
        ("/opt/nope", "AWS_LAMBDA_EXEC_WRAPPER=/opt/nope: no such file (looked for no layer"),
        ("wrapper", "AWS_LAMBDA_EXEC_WRAPPER=wrapper: not an absolute path (use /var/task/"),
    ],
)
async def test_a_wrapper_that_is_not_there_fails_init_and_says_what_was_looked_for(
    engine: Engine, value: str, expected: str
) -> None:
    add_function(engine, "lost", PY_HANDLER, environment={"AWS_LAMBDA_EXEC_WRAPPER": value})
    problem = cannot_start(engine.functions["lost"])  # said before any invoke
    assert problem is not None and problem.message.startswith(expected)

    result = await engine.invoke("lost", b"{}")

    assert result.function_error == "Unhandled"
    payload = body(result)
    assert payload["errorType"] == "Runtime.ExitError"
    assert expected in payload["errorMessage"]
    assert not engine.environments("lost")


async def test_a_wrapper_that_is_not_executable_says_so(engine: Engine) -> None:
    folder = add_function(
        engine, "noexec", PY_HANDLER, environment={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/w"}
    )
    (folder / "w").write_text('#!/bin/sh\nexec "$@"\n')

    result = await engine.invoke("noexec", b"{}")

    assert body(result)["errorType"] == "Runtime.ExitError"
    assert f"{folder / 'w'} is not executable (chmod +x it)" in body(result)["errorMessage"]


async def test_a_wrapper_that_never_starts_the_runtime_is_a_runtime_exit_error(
    engine: Engine,
) -> None:
    folder = add_function(
        engine, "quitter", PY_HANDLER, environment={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/w"}
    )
    _executable(folder / "w", '#!/bin/sh\necho "wrapper gives up" >&2\nexit 4\n')

    result = await engine.invoke("quitter", b"{}")

    assert body(result)["errorType"] == "Runtime.ExitError"
    assert "exit status 4" in body(result)["errorMessage"]
    assert "wrapper gives up" in result.record.log_lines


async def test_a_provided_runtime_ignores_the_variable_as_lambda_does(engine: Engine) -> None:
    folder = engine.roots[0] / "custom"
    folder.mkdir()
    env = {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/not-there"}
    (folder / "function.toml").write_text(
        f'runtime = "provided.al2023"\nhandler = "x"\nenvironment = {toml_value(env)}\n'
    )
    _executable(
        folder / "bootstrap",
        textwrap.dedent(
            """\
            #!/bin/sh
            API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
            while true; do
              ID=$(curl -sS -D - -o /dev/null "$API/next" | tr -d '\\r' \\
                | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
              curl -sS -o /dev/null -X POST "$API/$ID/response" \\
                -d "{\\"wrapper\\": \\"$AWS_LAMBDA_EXEC_WRAPPER\\"}"
            done
            """
        ),
    )
    engine.load_functions()
    if shutil.which("curl") is None:
        pytest.skip("needs curl")

    result = await engine.invoke("custom", b"{}")

    assert result.function_error is None, body(result)
    assert body(result) == {"wrapper": "/var/task/not-there"}  # kept, not honoured


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
async def test_a_node_runtime_starts_through_its_wrapper(engine: Engine) -> None:
    folder = engine.roots[0] / "nodewrap"
    folder.mkdir()
    env = {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper"}
    (folder / "function.toml").write_text(
        f'runtime = "nodejs20.x"\nhandler = "index.handler"\nenvironment = {toml_value(env)}\n'
    )
    (folder / "index.mjs").write_text(
        "export const handler = async () => "
        "({wrapped: process.env.WRAPPED, execArgv: process.execArgv});\n"
    )
    # as AWS's Node examples do: a variable set, the rest exec'd unchanged
    _executable(folder / "wrapper", '#!/bin/sh\nexport WRAPPED=node-wrapper\nexec "$@"\n')
    engine.load_functions()

    result = await engine.invoke("nodewrap", b"{}")

    assert result.function_error is None, body(result)
    out = body(result)
    assert out["wrapped"] == "node-wrapper"
    assert any(a.startswith("--max-old-space-size=") for a in out["execArgv"])


NODE_WRAPPED = (
    "import fs from 'node:fs';\n"
    "export const handler = async () => ({wrapped: process.env.WRAPPED ?? null,"
    " seen: process.env.WRAPPER_SAW ?? null, pid: process.pid,"
    " taskRoot: process.env.LAMBDA_TASK_ROOT,"
    " hostFolder: fs.existsSync(process.env.HOST_FOLDER)});\n"
)


def _node_wrapped(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    env = {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper", "HOST_FOLDER": str(folder)}
    (folder / "function.toml").write_text(
        f'runtime = "nodejs20.x"\nhandler = "index.handler"\nenvironment = {toml_value(env)}\n'
    )
    (folder / "index.mjs").write_text(NODE_WRAPPED)
    wrapper = (
        '#!/bin/sh\nexport WRAPPED=node-wrapper\nexport WRAPPER_SAW="$(id -u) $0"\nexec "$@"\n'
    )
    _executable(folder / "wrapper", wrapper)
    return folder


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
async def test_every_cold_start_of_a_wrapped_node_function_goes_through_its_wrapper(
    engine: Engine,
) -> None:
    """A started Node kept ready for the next cold start (a standby) would skip the wrapper:
    a wrapped function never takes one."""
    _node_wrapped(engine.roots[0], "nodewrap")
    engine.load_functions()
    first = body(await engine.invoke("nodewrap", b"{}"))
    assert first["wrapped"] == "node-wrapper"
    assert engine.pool.standbys is not None and engine.pool.standbys.keys() == []
    engine.pool.retire_idle("nodewrap", "idle", latest_only=False)
    second = body(await engine.invoke("nodewrap", b"{}"))
    assert second["wrapped"] == "node-wrapper" and second["pid"] != first["pid"]
    assert not any(e.from_standby for e in engine.pool.environments("nodewrap"))


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
async def test_a_node_wrapper_runs_inside_the_functions_namespaces(
    function_root: Path, tmp_path: Path
) -> None:
    """Under ``auto`` a Node.js wrapper at its Lambda path starts inside the namespaces, as
    the runtime it execs: it is /var/task/wrapper, run as sbx_user1051, the host's folder gone."""
    settings = EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", isolation="auto"
    )
    async with Engine([function_root], settings) as engine:
        _node_wrapped(function_root, "nodewrapns")
        engine.load_functions()
        result = await engine.invoke("nodewrapns", b"{}")

        assert result.function_error is None, body(result)
        out = body(result)
        assert out["wrapped"] == "node-wrapper"
        assert out["seen"] == "993 /var/task/wrapper"
        assert out["taskRoot"] == "/var/task" and out["hostFolder"] is False
        [env] = engine.environments("nodewrapns")
        assert env.namespaced is True


async def test_a_python_wrapper_runs_inside_the_namespaces_and_one_at_a_host_path_outside(
    function_root: Path, tmp_path: Path
) -> None:
    """Under ``auto`` a wrapper at its Lambda path (AWS's Python example: options in before the
    runtime's script) starts inside the function's namespaces, as does the runtime it execs; a
    wrapper named by a host path is the host's, and the function runs outside them (with its
    cgroup and rlimits, its task root the folder)."""
    settings = EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", isolation="auto"
    )
    async with Engine([function_root], settings) as engine:
        handler = PY_HANDLER.replace(
            '"task_root"',
            '"uid": os.getuid(), "argv0": os.environ.get("WRAPPER_ARGV"), "task_root"',
        )
        folder = add_function(
            engine,
            "wrappedns",
            handler,
            environment={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper"},
        )
        wrapper = PY_WRAPPER.replace(
            'printf \'%s\\n\' "$@" > "$WRAPPER_LOG"', 'export WRAPPER_ARGV="$*"'
        )
        _executable(folder / "wrapper", wrapper)

        result = await engine.invoke("wrappedns", b"{}")

        assert result.function_error is None, body(result)
        out = body(result)
        assert out["wrapped_by"] == "/var/task/wrapper" and out["uid"] == 993
        assert out["task_root"] == "/var/task"
        assert out["xoptions"] == {"wrapped_option": "yes"}  # in before the script, as AWS's
        assert out["argv0"].endswith(" -I -S /var/runtime/workbench_start.py")
        [env] = engine.environments("wrappedns")
        assert env.namespaced is True

        outside = add_function(engine, "wrappedhost", PY_HANDLER)
        _executable(outside / "wrapper", '#!/bin/sh\nexport WRAPPED_BY=sh\nexec "$@"\n')
        add_function(
            engine,
            "wrappedhost",
            PY_HANDLER,
            environment={"AWS_LAMBDA_EXEC_WRAPPER": str(outside / "wrapper")},
        )
        result = await engine.invoke("wrappedhost", b"{}")
        assert result.function_error is None, body(result)
        assert body(result)["wrapped_by"] == "sh"
        assert body(result)["task_root"] == str(outside)
        [env] = engine.environments("wrappedhost")
        assert env.namespaced is False
