"""``workbench package NAME``: the deployment zip Lambda takes, and its CodeSha256 as Lambda
computes it — checked against the deploy API, which hashes what it is sent."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import make_function

from .live_server import LiveServer

CODE = """
import helper

def handler(event, context):
    return {"packaged": helper.WORD}
"""


def package(root: Path, name: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "-r", str(root), "package", name, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_package_is_what_lambda_takes_and_its_digest_is_lambdas(
    api_root: Path, tmp_path: Path
) -> None:
    folder = make_function(api_root, "packed", CODE)
    (folder / "helper.py").write_text("WORD = 'zipped'\n")
    out = tmp_path / "packed.zip"
    done = package(api_root, "packed", out)
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert done.stdout.splitlines() == [str(out), f"CodeSize: {len(data)}", f"CodeSha256: {sha}"]
    # the code, not the workbench's own config
    assert sorted(zipfile.ZipFile(out).namelist()) == ["app.py", "helper.py"]
    # deterministic: the same code is the same package
    again = tmp_path / "again.zip"
    assert package(api_root, "packed", again).returncode == 0
    assert again.read_bytes() == data
    live = LiveServer(api_root, tmp_path / "state").start()
    try:
        client = live.client()
        made = client.create_function(
            FunctionName="uploaded",
            Runtime="python3.11",
            Role="arn:aws:iam::123456789012:role/any",
            Handler="app.handler",
            Code={"ZipFile": data},
        )
        assert made["CodeSha256"] == sha and made["CodeSize"] == len(data)
        answer = client.invoke(FunctionName="uploaded", Payload=b"{}")
        assert json.loads(answer["Payload"].read()) == {"packaged": "zipped"}
    finally:
        live.stop()
    # an API function's package is the zip that was uploaded
    state = ["--state-dir", str(tmp_path / "state")]
    back = tmp_path / "back.zip"
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "-r", str(api_root), *state, "package", "uploaded"]
        + ["-o", str(back)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert back.read_bytes() == data


def test_bad_names_and_outputs_are_one_line_and_exit_2(api_root: Path, tmp_path: Path) -> None:
    make_function(api_root, "packed", CODE)
    unknown = package(api_root, "nope", tmp_path / "x.zip")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("workbench: no function named 'nope' (functions: ")
    assert "packed" in unknown.stderr and len(unknown.stderr.splitlines()) == 1
    nowhere = package(api_root, "packed", tmp_path / "missing" / "x.zip")
    assert nowhere.returncode == 2
    assert "does not exist" in nowhere.stderr and "Traceback" not in nowhere.stderr
