"""The deploy API through boto3 against a live server: CreateFunction, UpdateFunctionCode,
DeleteFunction, GetFunction's Code.Location, as a CI script or `aws lambda` uses them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .live_server import LiveServer


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            # a fixed time: the same files make the same bytes (the time of day made two builds
            # differ across a two-second boundary, and a comparison of them fail)
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o600 << 16  # (what writestr gives a name)
            archive.writestr(info, text)
    return buffer.getvalue()


def code(answer: str) -> bytes:
    return package({"app.py": f"def handler(event, context):\n    return {answer!r}\n"})


def create(client, name: str = "deployed", zip_bytes: bytes | None = None, **extra):
    request = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::123456789012:role/lambda",
        "Handler": "app.handler",
        "Code": {"ZipFile": code("v1") if zip_bytes is None else zip_bytes},
    }
    return client.create_function(**{**request, **extra})


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    err = excinfo.value.response
    return (
        err["Error"]["Code"],
        err["ResponseMetadata"]["HTTPStatusCode"],
        err["Error"]["Message"],
    )


def invoke(client, name: str, qualifier: str | None = None) -> object:
    extra = {"Qualifier": qualifier} if qualifier else {}
    return json.loads(client.invoke(FunctionName=name, **extra)["Payload"].read())


def test_create_invoke_update_publish_alias_delete(live: LiveServer, client) -> None:
    created = create(
        client,
        MemorySize=256,
        Timeout=10,
        Environment={"Variables": {"STAGE": "dev"}},
        Description="from CI",
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == "deployed"
    assert created["MemorySize"] == 256 and created["Timeout"] == 10
    assert created["Environment"] == {"Variables": {"STAGE": "dev"}}
    assert created["State"] == "Active"
    client.get_waiter("function_active_v2").wait(FunctionName="deployed")
    assert invoke(client, "deployed") == "v1"

    updated = client.update_function_code(FunctionName="deployed", ZipFile=code("v2"))
    assert updated["LastUpdateStatus"] == "Successful"
    client.get_waiter("function_updated_v2").wait(FunctionName="deployed")
    assert invoke(client, "deployed") == "v2"

    version = client.publish_version(FunctionName="deployed")["Version"]
    assert version == "1"
    client.create_alias(FunctionName="deployed", Name="live", FunctionVersion=version)
    client.update_function_code(FunctionName="deployed", ZipFile=code("v3"))
    assert invoke(client, "deployed") == "v3"
    assert invoke(client, "deployed", "live") == "v2"  # the alias keeps the published code

    client.delete_function(FunctionName="deployed")
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName="deployed")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName="deployed", Qualifier="live")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_create_with_publish_returns_version_1(client) -> None:
    created = create(client, Publish=True)
    assert created["Version"] == "1"
    assert invoke(client, "deployed", "1") == "v1"


def test_update_code_with_publish_and_revision_id(client) -> None:
    created = create(client)
    updated = client.update_function_code(
        FunctionName="deployed",
        ZipFile=code("v2"),
        Publish=True,
        RevisionId=created["RevisionId"],
    )
    assert updated["Version"] == "1"
    assert invoke(client, "deployed", "1") == "v2"
    with pytest.raises(ClientError) as excinfo:
        client.update_function_code(
            FunctionName="deployed", ZipFile=code("v3"), RevisionId=created["RevisionId"]
        )
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)
    assert invoke(client, "deployed") == "v2"


def test_code_location_serves_the_uploaded_bytes(client) -> None:
    uploaded = code("same bytes")
    create(client, zip_bytes=uploaded)
    location = client.get_function(FunctionName="deployed")["Code"]["Location"]
    with urllib.request.urlopen(location) as response:
        assert response.read() == uploaded


def test_a_function_created_survives_a_restart(api_root, tmp_path) -> None:
    first = LiveServer(api_root, tmp_path / "state").start()
    try:
        create(first.client())
    finally:
        first.stop()
    again = LiveServer(api_root, tmp_path / "state").start()
    try:
        client = again.client()
        config = client.get_function_configuration(FunctionName="deployed")
        assert config["Handler"] == "app.handler"
        assert invoke(client, "deployed") == "v1"
        assert again.sync(lambda engine: engine.functions["deployed"].origin) == "API"
    finally:
        again.stop()


def test_create_from_a_local_bucket(live: LiveServer, client) -> None:
    key = live.root / "buckets" / "artifacts" / "builds" / "fn.zip"
    key.parent.mkdir(parents=True)
    key.write_bytes(code("from s3"))
    client.create_function(
        FunctionName="froms3",
        Runtime="python3.12",
        Role="arn:aws:iam::123456789012:role/lambda",
        Handler="app.handler",
        Code={"S3Bucket": "artifacts", "S3Key": "builds/fn.zip"},
    )
    assert invoke(client, "froms3") == "from s3"
    key.write_bytes(code("s3 v2"))
    client.update_function_code(FunctionName="froms3", S3Bucket="artifacts", S3Key="builds/fn.zip")
    assert invoke(client, "froms3") == "s3 v2"
    with pytest.raises(ClientError) as excinfo:
        client.update_function_code(FunctionName="froms3", S3Bucket="artifacts", S3Key="nope.zip")
    code_, status, message = error_of(excinfo)
    assert (code_, status) == ("InvalidParameterValueException", 400)
    assert "NoSuchKey" in message


def test_a_name_taken_is_a_conflict(client) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(client, name="echo")  # a folder function
    assert error_of(excinfo) == ("ResourceConflictException", 409, "Function already exist: echo")
    create(client)
    with pytest.raises(ClientError) as excinfo:
        create(client)
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)


def test_a_bad_zip_is_refused_and_nothing_is_created(client) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(client, zip_bytes=b"this is not a zip")
    code_, status, message = error_of(excinfo)
    assert (code_, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Could not unzip uploaded file")
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName="deployed")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_a_zip_escaping_its_folder_is_refused(client, tmp_path: Path) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(client, zip_bytes=package({"../evil.py": "x = 1\n", "app.py": "x = 2\n"}))
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    assert not (tmp_path / "state" / "api-functions" / "evil.py").exists()


def test_bad_settings_are_lambdas_errors(client) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(client, Timeout=901)
    code_, status, message = error_of(excinfo)
    assert (code_, status) == ("ValidationException", 400)
    assert "Value '901' at 'timeout' failed to satisfy constraint" in message
    with pytest.raises(ClientError) as excinfo:
        client.create_function(
            FunctionName="nohandler",
            Runtime="python3.12",
            Role="arn:aws:iam::123456789012:role/lambda",
            Code={"ZipFile": code("x")},
        )
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        create(client, Runtime="cobol85")
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_folder_functions_are_not_changed_through_the_api(client) -> None:
    for call in (
        lambda: client.update_function_code(FunctionName="echo", ZipFile=code("x")),
        lambda: client.delete_function(FunctionName="echo"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        code_, status, message = error_of(excinfo)
        assert (code_, status) == ("InvalidParameterValueException", 400)
        assert "function.toml" in message
    assert invoke(client, "echo")["function_name"] == "echo"


def test_delete_one_version(client) -> None:
    create(client, Publish=True)
    client.update_function_code(FunctionName="deployed", ZipFile=code("v2"), Publish=True)
    client.create_alias(FunctionName="deployed", Name="live", FunctionVersion="2")
    with pytest.raises(ClientError) as excinfo:
        client.delete_function(FunctionName="deployed", Qualifier="2")
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)
    with pytest.raises(ClientError) as excinfo:
        client.delete_function(FunctionName="deployed", Qualifier="$LATEST")
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    client.delete_function(FunctionName="deployed", Qualifier="1")
    versions = client.list_versions_by_function(FunctionName="deployed")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "2"]
    assert invoke(client, "deployed", "live") == "v2"
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName="deployed", Qualifier="1")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_a_recreated_function_starts_without_the_old_versions(client) -> None:
    create(client, Publish=True)
    client.delete_function(FunctionName="deployed")
    create(client, zip_bytes=code("again"))
    versions = client.list_versions_by_function(FunctionName="deployed")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]
    assert invoke(client, "deployed") == "again"


def test_list_and_the_tui_say_a_function_came_from_the_api(
    live: LiveServer, client, api_root: Path, tmp_path: Path
) -> None:
    from workbench.engine import Engine, EngineSettings
    from workbench.tui.widgets.function_rows import cells, detail, function_rows

    create(client)
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "-r", str(api_root)]
        + ["--state-dir", str(tmp_path / "state"), "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    row = next(line.split() for line in done.stdout.splitlines() if line.startswith("deployed"))
    assert row[row.index("app.handler") + 1] == "API"
    echo = next(line.split() for line in done.stdout.splitlines() if line.startswith("echo"))
    assert "folder" in echo
    engine = Engine([api_root], EngineSettings(state_dir=tmp_path / "state"))
    rows = {r.name: r for r in function_rows(engine)}
    assert str(cells(rows["deployed"])[0]) == "deployed ·API"
    assert "from the deploy API" in detail(rows["deployed"]).plain


def test_the_aws_cli_deploys_and_updates(live: LiveServer, tmp_path: Path) -> None:
    aws = Path(sys.executable).parent / "aws"
    if not aws.exists():
        pytest.skip("the AWS CLI is not installed in this environment")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}

    def cli(*args: str) -> dict:
        command = [str(aws), "lambda", *args, "--endpoint-url", live.url]
        command += ["--region", "us-east-1", "--output", "json"]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    first, second = tmp_path / "v1.zip", tmp_path / "v2.zip"
    first.write_bytes(code("cli v1"))
    second.write_bytes(code("cli v2"))
    out = tmp_path / "out.json"
    created = cli(
        "create-function", "--function-name", "clifn", "--runtime", "python3.12",
        "--role", "arn:aws:iam::123456789012:role/x", "--handler", "app.handler",
        "--zip-file", f"fileb://{first}",
    )  # fmt: skip
    assert created["FunctionName"] == "clifn"
    cli("wait", "function-active-v2", "--function-name", "clifn")
    cli("invoke", "--function-name", "clifn", str(out))
    assert json.loads(out.read_text()) == "cli v1"
    cli("update-function-code", "--function-name", "clifn", "--zip-file", f"fileb://{second}")
    cli("wait", "function-updated-v2", "--function-name", "clifn")
    cli("invoke", "--function-name", "clifn", str(out))
    assert json.loads(out.read_text()) == "cli v2"
    assert cli("publish-version", "--function-name", "clifn")["Version"] == "1"
    cli("create-alias", "--function-name", "clifn", "--name", "prod", "--function-version", "1")
    cli("delete-function", "--function-name", "clifn")
    with pytest.raises(AssertionError, match="ResourceNotFoundException"):
        cli("get-function", "--function-name", "clifn")


def test_a_request_past_50_mb_zipped_is_too_large(live: LiveServer, client) -> None:
    zip_file = "A" * 69905068  # base64 of a zip just past 50 MiB
    request = urllib.request.Request(
        f"{live.url}/2015-03-31/functions",
        data=json.dumps(
            {
                "FunctionName": "big",
                "Runtime": "python3.12",
                "Handler": "app.handler",
                "Role": "arn:aws:iam::123456789012:role/x",
                "Code": {"ZipFile": zip_file},
            }
        ).encode(),  # fmt: skip
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request)
    assert excinfo.value.code == 413
    assert excinfo.value.headers["x-amzn-ErrorType"] == "RequestEntityTooLargeException"
    assert json.loads(excinfo.value.read())["message"] == (
        "Request must be smaller than 69905067 bytes for the CreateFunction operation"
    )
    with pytest.raises(ClientError) as missing:
        client.get_function(FunctionName="big")
    assert error_of(missing)[:2] == ("ResourceNotFoundException", 404)


def test_a_package_past_250_mb_unzipped_is_refused(client) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
        with archive.open("blob.bin", "w", force_zip64=True) as blob:
            chunk = bytes(1024 * 1024)
            for _ in range(251):
                blob.write(chunk)
    with pytest.raises(ClientError) as excinfo:
        create(client, zip_bytes=buffer.getvalue())
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        400,
        "Unzipped size must be smaller than 262144000 bytes",
    )


def test_configuration_and_concurrency_of_an_api_function_are_kept(client) -> None:
    create(client)
    client.update_function_configuration(
        FunctionName="deployed", Timeout=30, Environment={"Variables": {"AB": "1"}}
    )
    client.put_function_concurrency(FunctionName="deployed", ReservedConcurrentExecutions=2)
    client.update_function_code(FunctionName="deployed", ZipFile=code("v2"))
    config = client.get_function(FunctionName="deployed")
    assert config["Configuration"]["Timeout"] == 30
    assert config["Configuration"]["Environment"] == {"Variables": {"AB": "1"}}
    assert config["Concurrency"] == {"ReservedConcurrentExecutions": 2}
    assert invoke(client, "deployed") == "v2"


def test_concurrent_creates_of_one_name_make_one_function(client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def attempt(n: int) -> str:
        try:
            create(client, zip_bytes=code(f"n{n}"))
            return "created"
        except ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    assert outcomes == ["ResourceConflictException"] * 3 + ["created"]


def test_code_sha256_is_the_uploaded_zips(client) -> None:
    import base64
    import hashlib

    uploaded = code("hashed")
    expected = base64.b64encode(hashlib.sha256(uploaded).digest()).decode()
    created = create(client, zip_bytes=uploaded)
    assert (created["CodeSha256"], created["CodeSize"]) == (expected, len(uploaded))
    assert client.get_function(FunctionName="deployed")["Configuration"]["CodeSha256"] == expected
    published = client.publish_version(FunctionName="deployed", CodeSha256=expected)
    assert published["Version"] == "1"
    with pytest.raises(ClientError) as excinfo:
        other = ("y" if expected[0] == "x" else "x") + expected[1:]  # (the zip's times vary it)
        client.publish_version(FunctionName="deployed", CodeSha256=other)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_a_deployed_function_runs_in_its_namespaces(api_root: Path, tmp_path: Path) -> None:
    """Under the default isolation a function made by CreateFunction runs in its namespaces:
    its code folder is /var/task for the sandbox's user, who does not own it (as on Lambda,
    where a package's files are readable by all), and so is a published version's."""
    server = LiveServer(api_root, tmp_path / "state", isolation="auto").start()
    try:
        client = server.client()
        files = {
            "app.py": "import os\ndef handler(event, context):\n"
            "    return [os.getcwd(), os.getuid(), open('/var/task/data.txt').read()]\n",
            "data.txt": "packaged",
        }
        create(client, "boxed", package(files))
        client.get_waiter("function_active_v2").wait(FunctionName="boxed")
        assert invoke(client, "boxed") == ["/var/task", 993, "packaged"]
        version = client.publish_version(FunctionName="boxed")["Version"]
        assert invoke(client, "boxed", qualifier=version) == ["/var/task", 993, "packaged"]
    finally:
        server.stop()
