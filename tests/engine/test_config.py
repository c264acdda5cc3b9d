"""function.toml parsing and validation, and discovery of function folders."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import pytest

from workbench.engine.config.api_functions import API_DIR, ApiFunctions
from workbench.engine.config.discovery import discover
from workbench.engine.config.function import (
    RUNTIMES,
    ConfigError,
    FunctionConfig,
    load_function,
    parse_function,
)

ACCEPTED = (
    "name, runtime, handler, runtime_client, debug, aws_credentials, memory_size, timeout, "
    "ephemeral_storage, "
    "description, reserved_concurrency, provisioned_concurrency, snap_start, freeze, "
    "logging_format, application_log_level, system_log_level, layers, environment, async, "
    "triggers, url, recursive_loop"
)
RUNTIME_LIST = (
    "python3.8, python3.9, python3.10, python3.11, python3.12, python3.13, python3.14, "
    "nodejs18.x, nodejs20.x, nodejs22.x, nodejs24.x, provided, provided.al2, provided.al2023"
)
ENV_NAME_RULE = (
    "invalid variable name: must start with a letter, be at least 2 characters "
    "and hold only letters, digits and underscores"
)
TRIGGER_LIST = "s3, http, queue, schedule, sns, kinesis"
PREAMBLE = '# a function\nname = "fn"\n\n'  # so the key under test sits on line 4


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative folders make error messages short and exact: "fn/function.toml:4: ...".
    monkeypatch.chdir(tmp_path)


def write(folder: str, text: str) -> Path:
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / "function.toml").write_text(text, encoding="utf-8")
    return path


def load(text: str, folder: str = "fn", **kwargs: int) -> FunctionConfig:
    return load_function(write(folder, text), **kwargs)


def error(text: str, folder: str = "fn", **kwargs: int) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(text, folder, **kwargs)
    return info.value


# --- defaults and a full file ------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    config = load("")
    assert config == FunctionConfig(
        name="fn",
        folder=tmp_path / "fn",
        config_file=tmp_path / "fn" / "function.toml",
    )
    assert config.folder.is_absolute()
    assert config.runtime == f"python3.{sys.version_info.minor}"
    assert config.handler == "lambda_function.lambda_handler"
    assert (config.memory_size, config.timeout, config.ephemeral_storage) == (128, 3, 512)
    assert config.description == ""
    assert config.reserved_concurrency is None
    assert config.layers == ()
    assert dict(config.environment) == {}
    assert dict(config.async_config) == {}
    assert config.triggers == ()
    hash(config)  # frozen and hashable despite the mapping fields


def test_full_file(tmp_path: Path) -> None:
    (tmp_path / "src" / "layers" / "pillow").mkdir(parents=True)
    (tmp_path / "src" / "layers" / "common").mkdir(parents=True)
    config = load(
        """
name = "thumbnail"
runtime = "python3.11"
handler = "app.handler"
memory_size = 256
timeout = 900
ephemeral_storage = 10240
description = "Makes thumbnails"
reserved_concurrency = 5
layers = ["../layers/pillow", "../layers/common"]

[environment]
STAGE = "dev"
"x2" = ""

[async]
maximum_retry_attempts = 2
maximum_event_age = 21600
on_success = "function:audit"
on_failure = "queue:failed-thumbnails"

[[triggers]]
type = "s3"
bucket = "uploads"
events = ["ObjectCreated:*"]
suffix = ".jpg"

[[triggers]]
type = "http"
path = "/thumbs/{id}"
""",
        folder="src/thumb",
    )
    assert config.name == "thumbnail"
    assert config.folder == tmp_path / "src" / "thumb"
    assert config.config_file == tmp_path / "src" / "thumb" / "function.toml"
    assert config.runtime == "python3.11"
    assert config.handler == "app.handler"
    assert (config.memory_size, config.timeout, config.ephemeral_storage) == (256, 900, 10240)
    assert config.description == "Makes thumbnails"
    assert config.reserved_concurrency == 5
    # Relative to the function's folder, not the working directory.
    assert config.layers == (tmp_path / "src/layers/pillow", tmp_path / "src/layers/common")
    assert dict(config.environment) == {"STAGE": "dev", "x2": ""}
    assert dict(config.async_config) == {
        "maximum_retry_attempts": 2,
        "maximum_event_age": 21600,
        "on_success": "function:audit",
        "on_failure": "queue:failed-thumbnails",
    }
    assert [dict(t) for t in config.triggers] == [
        {"type": "s3", "bucket": "uploads", "events": ["ObjectCreated:*"], "suffix": ".jpg"},
        {"type": "http", "path": "/thumbs/{id}"},
    ]
    with pytest.raises(TypeError):
        config.environment["STAGE"] = "prod"  # type: ignore[index]


def test_layers_resolved_relative_to_folder(tmp_path: Path) -> None:
    (tmp_path / "src" / "layers" / "pillow").mkdir(parents=True)
    write(str(tmp_path / "src" / "thumb"), 'layers = ["../layers/pillow"]\n')
    (tmp_path / "elsewhere").mkdir()
    os.chdir(tmp_path / "elsewhere")  # the working directory must not matter
    config = load_function(tmp_path / "src" / "thumb" / ".." / "thumb")
    assert config.layers == (tmp_path / "src" / "layers" / "pillow",)
    assert config.folder == tmp_path / "src" / "thumb"


# --- integers ----------------------------------------------------------------------------

INT_CASES = [
    ("memory_size", "64", "must be an integer from 128 to 10240 (MB)"),
    ("memory_size", "10241", "must be an integer from 128 to 10240 (MB)"),
    ("memory_size", "128.0", "must be an integer from 128 to 10240 (MB)"),
    ("memory_size", '"256"', "must be an integer from 128 to 10240 (MB)"),
    ("memory_size", "true", "must be an integer from 128 to 10240 (MB)"),
    ("timeout", "0", "must be an integer from 1 to 900 (seconds)"),
    ("timeout", "901", "must be an integer from 1 to 900 (seconds)"),
    ("timeout", "2.5", "must be an integer from 1 to 900 (seconds)"),
    ("ephemeral_storage", "511", "must be an integer from 512 to 10240 (MB)"),
    ("ephemeral_storage", "10241", "must be an integer from 512 to 10240 (MB)"),
    ("ephemeral_storage", "false", "must be an integer from 512 to 10240 (MB)"),
    (
        "reserved_concurrency",
        "901",
        "must be an integer from 0 to 900 (the account limit 1000 minus the 100 Lambda "
        "keeps unreserved)",
    ),
    (
        "reserved_concurrency",
        "-1",
        "must be an integer from 0 to 900 (the account limit 1000 minus the 100 Lambda "
        "keeps unreserved)",
    ),
]


@pytest.mark.parametrize(("key", "value", "message"), INT_CASES)
def test_integer_bounds(key: str, value: str, message: str) -> None:
    err = error(f"{PREAMBLE}{key} = {value}\n")
    assert (err.file, err.line, err.key) == (Path("fn/function.toml"), 4, key)
    assert err.message == message
    assert str(err) == f"fn/function.toml:4: {key} = {value}: {message}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("memory_size", 128),
        ("memory_size", 10240),
        ("timeout", 1),
        ("timeout", 900),
        ("ephemeral_storage", 512),
        ("ephemeral_storage", 10240),
        ("reserved_concurrency", 0),
        ("reserved_concurrency", 900),
    ],
)
def test_integer_bounds_inclusive(key: str, value: int) -> None:
    assert getattr(load(f"{key} = {value}\n"), key) == value


def test_reserved_concurrency_follows_account_limit() -> None:
    assert load("reserved_concurrency = 150\n", account_limit=250).reserved_concurrency == 150
    err = error("reserved_concurrency = 151\n", account_limit=250)
    assert err.message == (
        "must be an integer from 0 to 150 (the account limit 250 minus the 100 Lambda "
        "keeps unreserved)"
    )
    assert err.line == 1
    # A tiny account can reserve nothing but zero.
    assert load("reserved_concurrency = 0\n", account_limit=10).reserved_concurrency == 0
    assert error("reserved_concurrency = 1\n", account_limit=10).message.startswith(
        "must be an integer from 0 to 0 "
    )


# --- strings -----------------------------------------------------------------------------


def test_name_valid_and_default() -> None:
    assert load('name = "a-b_C9"\n').name == "a-b_C9"
    assert load('name = "' + "x" * 64 + '"\n').name == "x" * 64
    assert load("", folder="my-func_2").name == "my-func_2"


@pytest.mark.parametrize("value", ['"bad name"', '"' + "x" * 65 + '"', '""', "7", '"a.b"'])
def test_name_invalid(value: str) -> None:
    err = error(f'runtime = "python3.12"\nname = {value}\n')
    assert str(err) == (
        f"fn/function.toml:2: name = {value}: "
        "must be 1 to 64 letters, digits, hyphens or underscores"
    )


def test_folder_name_invalid_without_name_key() -> None:
    err = error("", folder="my func")
    assert (err.line, err.key) == (None, None)
    assert str(err) == (
        "my func/function.toml: folder name 'my func' is not a valid function name "
        '(1 to 64 letters, digits, hyphens or underscores); set name = "..." in function.toml'
    )
    assert load('name = "ok"\n', folder="my.func").name == "ok"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runtime_valid(runtime: str) -> None:
    assert load(f'runtime = "{runtime}"\n').runtime == runtime


@pytest.mark.parametrize("value", ['"python3.7"', '"python3.15"', '"java21"', "3.12"])
def test_runtime_invalid(value: str) -> None:
    err = error(f"{PREAMBLE}runtime = {value}\n")
    assert str(err) == f"fn/function.toml:4: runtime = {value}: must be one of: {RUNTIME_LIST}"


@pytest.mark.parametrize(
    ("value", "suggestion"),
    [("nodejs20", "nodejs20.x"), ("python311", "python3.11"), ("Python3.12", "python3.12")],
)
def test_runtime_suggestion(value: str, suggestion: str) -> None:
    err = error(f'runtime = "{value}"\n')
    assert err.message == f"must be one of: {RUNTIME_LIST} (did you mean {suggestion!r}?)"


def test_handler() -> None:
    assert load('handler = "app.main"\n').handler == "app.main"
    assert load('handler = "' + "h" * 128 + '"\n').handler == "h" * 128
    message = "must be a non-empty string without whitespace, at most 128 characters"
    for value in ['""', '"app. main"', '"app.main\\t"', '"' + "h" * 129 + '"', "1"]:
        err = error(f"{PREAMBLE}handler = {value}\n")
        assert (err.line, err.key, err.message) == (4, "handler", message), value


def test_description() -> None:
    assert load('description = "' + "d" * 256 + '"\n').description == "d" * 256
    for value in ['"' + "d" * 257 + '"', "1"]:
        err = error(f"{PREAMBLE}description = {value}\n")
        assert (err.line, err.key) == (4, "description")
        assert err.message == "must be a string of at most 256 characters"


def test_freeze_default_and_accepted_values() -> None:
    assert load("").freeze is True
    assert load("freeze = false\n").freeze is False
    err = error(f'{PREAMBLE}freeze = "yes"\n')
    assert (err.line, err.key) == (4, "freeze")
    assert str(err) == 'fn/function.toml:4: freeze = "yes": must be true or false'


def test_long_value_is_shortened_on_one_line() -> None:
    err = error('description = "' + "d" * 300 + '"\n')
    assert str(err) == (
        'fn/function.toml:1: description = "' + "d" * 76 + "...: "
        "must be a string of at most 256 characters"
    )


# --- debug (IDE attach) ------------------------------------------------------------------


def test_debug_default_and_accepted_values() -> None:
    assert load("").debug is None
    assert load(f'{PREAMBLE}debug = "debugpy"\n').debug == "debugpy"
    node = load(f'{PREAMBLE}runtime = "nodejs20.x"\ndebug = "inspect"\n')
    assert (node.runtime, node.debug) == ("nodejs20.x", "inspect")
    # the runtime may come after debug: the pairing is checked once both are known
    assert load(f'{PREAMBLE}debug = "inspect"\nruntime = "nodejs22.x"\n').debug == "inspect"


@pytest.mark.parametrize("value", ['"pdb"', "true", '["debugpy"]', '""', '"Debugpy"'])
def test_debug_invalid_value(value: str) -> None:
    err = error(f"{PREAMBLE}debug = {value}\n")
    assert (err.line, err.key) == (4, "debug")
    assert str(err) == (
        f"fn/function.toml:4: debug = {value}: must be one "
        'of: "debugpy" (python runtimes), "inspect" (nodejs runtimes)'
    )


def test_debug_must_suit_the_runtime() -> None:
    err = error(f'{PREAMBLE}runtime = "python3.12"\ndebug = "inspect"\n')
    assert (err.line, err.key, err.value) == (5, "debug", "inspect")
    assert str(err) == (
        'fn/function.toml:5: debug = "inspect": a python3.12 function takes debug = "debugpy"'
    )
    err = error(f'{PREAMBLE}debug = "debugpy"\nruntime = "nodejs20.x"\n')
    assert (err.line, err.key) == (4, "debug")
    assert str(err).endswith('a nodejs20.x function takes debug = "inspect"')


def test_debug_is_not_for_provided_runtimes() -> None:
    err = error(f'{PREAMBLE}runtime = "provided.al2023"\ndebug = "debugpy"\n')
    assert (err.line, err.key) == (5, "debug")
    assert str(err) == (
        'fn/function.toml:5: debug = "debugpy": a provided.al2023 function runs its own '
        'bootstrap: debug applies only to python (debug = "debugpy") and nodejs '
        '(debug = "inspect") runtimes'
    )


# --- unknown keys and TOML syntax --------------------------------------------------------


def test_unknown_key_with_suggestion() -> None:
    err = error(f"{PREAMBLE}memory = 256\n")
    assert (err.line, err.key, err.value) == (4, "memory", 256)
    assert str(err) == (
        "fn/function.toml:4: memory = 256: unknown key 'memory' "
        f"(did you mean 'memory_size'?); accepted keys: {ACCEPTED}"
    )


def test_unknown_key_without_suggestion() -> None:
    err = error('zzz = "q"\n')
    assert (
        str(err) == f"fn/function.toml:1: zzz = \"q\": unknown key 'zzz'; accepted keys: {ACCEPTED}"
    )


def test_unknown_table() -> None:
    err = error(f'{PREAMBLE}timeout = 5\n\n[envirnoment]\nA1 = "x"\n')
    assert (err.line, err.key) == (6, "envirnoment")
    assert str(err).startswith(
        "fn/function.toml:6: envirnoment = { A1 = \"x\" }: unknown key 'envirnoment' "
        "(did you mean 'environment'?)"
    )


def test_first_problem_in_document_order_is_reported() -> None:
    err = error("timeout = 0\nmemory_size = 1\n")
    assert (err.line, err.key) == (1, "timeout")


def test_bad_toml_syntax() -> None:
    err = error('name = "x"\n\nmemory_size 256\n')
    assert (err.line, err.key) == (3, None)
    assert str(err) == (
        "fn/function.toml:3: invalid TOML: Expected '=' after a key in a key/value pair "
        "(at line 3, column 13)"
    )


def test_bad_toml_at_end_of_document() -> None:
    err = error('name = "x"\ntimeout =\n')
    assert str(err) == "fn/function.toml:2: invalid TOML: Invalid value (at line 2, column 10)"
    err = error('name = "x"\ntimeout = ')
    assert str(err) == "fn/function.toml:2: invalid TOML: Invalid value (at end of document)"


def test_duplicate_key_is_a_syntax_error() -> None:
    err = error("timeout = 1\ntimeout = 2\n")
    assert err.line == 2
    assert err.message.startswith("invalid TOML: ")


# --- files -------------------------------------------------------------------------------


def test_missing_file() -> None:
    Path("fn").mkdir()
    with pytest.raises(ConfigError) as info:
        load_function(Path("fn"))
    assert str(info.value) == "fn/function.toml: file not found"


def test_not_utf8() -> None:
    Path("fn").mkdir()
    Path("fn/function.toml").write_bytes(b'name = "x"\ndescription = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_function(Path("fn"))
    assert str(info.value) == "fn/function.toml:2: not valid UTF-8 (byte 0xe9 at offset 29)"


def test_utf8_bom_is_accepted() -> None:
    Path("fn").mkdir()
    Path("fn/function.toml").write_bytes(b'\xef\xbb\xbfname = "x"\n')
    assert load_function(Path("fn")).name == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file() -> None:
    path = write("fn", "")
    (path / "function.toml").chmod(0)
    try:
        with pytest.raises(ConfigError) as info:
            load_function(path)
    finally:
        (path / "function.toml").chmod(0o644)
    assert str(info.value) == "fn/function.toml: cannot read file: Permission denied"


def test_read_error_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    path = write("fn", "")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError) as info:
        load_function(path)
    assert str(info.value) == "fn/function.toml: cannot read file: Permission denied"


def test_crlf_line_endings() -> None:
    err = error('name = "fn"\r\n\r\n[environment]\r\nA1 = "x"\r\nB2 = 2\r\n')
    assert (err.line, err.key) == (5, "environment.B2")


def test_config_file_that_is_a_directory() -> None:
    Path("fn/function.toml").mkdir(parents=True)
    with pytest.raises(ConfigError) as info:
        load_function(Path("fn"))
    assert str(info.value) == "fn/function.toml: cannot read file: Is a directory"


def test_parse_function_uses_the_given_file_name(tmp_path: Path) -> None:
    config = parse_function('name = "p"\n', tmp_path, Path("x/function.toml"))
    assert (config.name, config.folder) == ("p", tmp_path)
    with pytest.raises(ConfigError) as info:
        parse_function("\ntimeout = 0\n", tmp_path, Path("x/function.toml"))
    assert str(info.value) == (
        "x/function.toml:2: timeout = 0: must be an integer from 1 to 900 (seconds)"
    )


def test_config_error_format_and_pickle() -> None:
    err = ConfigError(Path("a/function.toml"), None, "environment", None, "too big")
    assert str(err) == "a/function.toml: environment: too big"
    err = ConfigError(Path("a/function.toml"), 3, "layers", ["x", 1, True, 1.5], "bad")
    assert str(err) == 'a/function.toml:3: layers = ["x", 1, true, 1.5]: bad'
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.file, copy.line, copy.key, copy.value, copy.message) == (
        Path("a/function.toml"),
        3,
        "layers",
        ["x", 1, True, 1.5],
        "bad",
    )
    assert str(copy) == str(err)


# --- environment -------------------------------------------------------------------------


def test_environment_valid() -> None:
    config = load('[environment]\nSTAGE = "dev"\nab = "x"\nA_1 = ""\n')
    assert dict(config.environment) == {"STAGE": "dev", "ab": "x", "A_1": ""}


@pytest.mark.parametrize("name", ["1FOO", "A", "FOO-BAR", '"FOO BAR"', "_PRIVATE"])
def test_environment_name_rules(name: str) -> None:
    err = error(f'{PREAMBLE}[environment]\nOK = "1"\n{name} = "v"\n')
    assert err.line == 6
    assert str(err) == f'fn/function.toml:6: environment.{name} = "v": {ENV_NAME_RULE}'


@pytest.mark.parametrize("name", ["AWS_REGION", "_HANDLER", "TZ", "LAMBDA_TASK_ROOT"])
def test_environment_reserved_names(name: str) -> None:
    err = error(f'{PREAMBLE}[environment]\n{name} = "v"\n')
    assert str(err) == (
        f'fn/function.toml:5: environment.{name} = "v": '
        f"{name} is reserved by Lambda and cannot be set"
    )


@pytest.mark.parametrize("value", ["1", "true", "1.5", "[1]"])
def test_environment_value_must_be_string(value: str) -> None:
    err = error(f"{PREAMBLE}[environment]\nA1 = 'x'\nFOO = {value}\n")
    assert str(err) == f"fn/function.toml:6: environment.FOO = {value}: must be a string (quote it)"


def test_environment_inline_table_line() -> None:
    err = error(f'{PREAMBLE}timeout = 3\nenvironment = {{ OK = "x", FOO = 1 }}\n')
    assert (err.line, err.key, err.value) == (5, "environment.FOO", 1)


def test_environment_dotted_key_line() -> None:
    err = error(f"{PREAMBLE}timeout = 3\nenvironment.FOO = 1\n")
    assert (err.line, err.key) == (5, "environment.FOO")


def test_environment_not_a_table() -> None:
    err = error('environment = "FOO=1"\n')
    assert str(err) == (
        'fn/function.toml:1: environment = "FOO=1": must be a table of NAME = "value" strings'
    )


def test_environment_total_size() -> None:
    # Names plus values: 3 + 4093 = 4096 is Lambda's limit exactly.
    assert len(load(f'[environment]\nBIG = "{"v" * 4093}"\n').environment["BIG"]) == 4093
    err = error(f'{PREAMBLE}[environment]\nBIG = "{"v" * 4090}"\nB2 = "xx"\n')
    assert (err.line, err.key, err.value) == (4, "environment", None)
    assert str(err) == (
        "fn/function.toml:4: environment: variables total 4097 bytes (names plus values); "
        "Lambda allows at most 4096 (4 KB)"
    )


# --- layers ------------------------------------------------------------------------------


def test_layer_missing(tmp_path: Path) -> None:
    (tmp_path / "libs" / "ok").mkdir(parents=True)
    err = error(f'{PREAMBLE}layers = [\n  "../libs/ok",\n  "../libs/nope",\n]\n')
    assert (err.line, err.key, err.value) == (6, "layers[1]", "../libs/nope")
    assert str(err) == (
        'fn/function.toml:6: layers[1] = "../libs/nope": '
        f"layer folder not found: {tmp_path / 'libs' / 'nope'}"
    )


def test_layer_not_a_directory(tmp_path: Path) -> None:
    write("fn", "")
    err = error('layers = ["function.toml"]\n')
    assert err.message == f"layer folder is not a directory: {tmp_path / 'fn' / 'function.toml'}"


@pytest.mark.parametrize(
    ("value", "key", "message"),
    [
        ('"../libs"', "layers", "must be an array of folder paths (strings)"),
        ("[1]", "layers[0]", "must be a folder path (a non-empty string)"),
        ('[""]', "layers[0]", "must be a folder path (a non-empty string)"),
        ('["a", "a", "a", "a", "a", "a"]', "layers", "at most 5 layers (Lambda's limit)"),
    ],
)
def test_layers_invalid(tmp_path: Path, value: str, key: str, message: str) -> None:
    (tmp_path / "fn" / "a").mkdir(parents=True)
    err = error(f"{PREAMBLE}layers = {value}\n")
    assert (err.line, err.key, err.message) == (4, key, message)


# --- async -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ("maximum_retry_attempts = 3", "maximum_retry_attempts", "must be an integer from 0 to 2"),
        ("maximum_retry_attempts = -1", "maximum_retry_attempts", "must be an integer from 0 to 2"),
        (
            "maximum_event_age = 59",
            "maximum_event_age",
            "must be an integer from 60 to 21600 (seconds)",
        ),
        (
            "maximum_event_age = 21601",
            "maximum_event_age",
            "must be an integer from 60 to 21600 (seconds)",
        ),
        ('on_success = "audit"', "on_success", 'must be "function:NAME" or "queue:NAME"'),
        ('on_failure = "topic:x"', "on_failure", 'must be "function:NAME" or "queue:NAME"'),
        ('on_failure = "function:"', "on_failure", 'must be "function:NAME" or "queue:NAME"'),
        ("on_failure = 1", "on_failure", 'must be "function:NAME" or "queue:NAME"'),
        (
            "max_retry_attempts = 1",
            "max_retry_attempts",
            "unknown key 'max_retry_attempts' (did you mean 'maximum_retry_attempts'?); "
            "accepted keys: maximum_retry_attempts, maximum_event_age, on_success, on_failure",
        ),
    ],
)
def test_async_invalid(line: str, key: str, message: str) -> None:
    err = error(f"{PREAMBLE}[async]\n# event-invoke settings\n{line}\n")
    assert (err.line, err.key, err.message) == (6, f"async.{key}", message)


def test_async_valid_bounds() -> None:
    config = load(
        "[async]\nmaximum_retry_attempts = 0\nmaximum_event_age = 60\n"
        'on_success = "queue:done.fifo"\non_failure = "function:dead-letters"\n'
    )
    assert dict(config.async_config) == {
        "maximum_retry_attempts": 0,
        "maximum_event_age": 60,
        "on_success": "queue:done.fifo",
        "on_failure": "function:dead-letters",
    }


def test_async_not_a_table() -> None:
    err = error("async = 1\n")
    assert str(err) == "fn/function.toml:1: async = 1: must be a table ([async])"


# --- triggers ----------------------------------------------------------------------------


def test_triggers_keep_the_table_as_written() -> None:
    config = load(
        '[[triggers]]\ntype = "schedule"\nexpression = "rate(5 minutes)"\ninput = { a = 1 }\n'
    )
    assert [dict(t) for t in config.triggers] == [
        {"type": "schedule", "expression": "rate(5 minutes)", "input": {"a": 1}}
    ]


def test_trigger_unknown_type() -> None:
    text = (
        f'{PREAMBLE}[[triggers]]\ntype = "s3"\nbucket = "bkt"\n\n[[triggers]]\nbucket = "b"\n'
        'type = "sqs"\n'
    )
    err = error(text)
    assert (err.line, err.key, err.value) == (10, "triggers[1].type", "sqs")
    assert (
        str(err) == f'fn/function.toml:10: triggers[1].type = "sqs": must be one of: {TRIGGER_LIST}'
    )


def test_trigger_missing_type() -> None:
    err = error(f'{PREAMBLE}[[triggers]]\ntype = "sns"\ntopic = "t"\n[[triggers]]\nbucket = "b"\n')
    assert str(err) == (
        f"fn/function.toml:7: triggers[1]: missing type; must be one of: {TRIGGER_LIST}"
    )


def test_triggers_not_an_array_of_tables() -> None:
    err = error("triggers = 1\n")
    assert str(err) == "fn/function.toml:1: triggers = 1: must be an array of tables ([[triggers]])"
    err = error('triggers = [\n  { type = "http", path = "/" },\n  "s3",\n]\n')
    assert str(err) == 'fn/function.toml:3: triggers[1] = "s3": must be a table ([[triggers]])'


def test_trigger_inline_array_line() -> None:
    err = error('triggers = [\n  { type = "http", path = "/" },\n  { type = "ftp" },\n]\n')
    assert (err.line, err.key) == (3, "triggers[1].type")


def test_line_numbers_survive_multiline_strings_and_comments() -> None:
    text = (
        'description = """\n'
        "[environment]\n"
        'FOO = 1 # not a key\n"""\n'
        "# timeout = 0\n"
        "[environment] # the real one\n"
        "FOO = 1\n"
    )
    err = error(text)
    assert (err.line, err.key) == (7, "environment.FOO")


# --- discovery ---------------------------------------------------------------------------


def test_discover_several_with_one_broken(tmp_path: Path) -> None:
    write("root/alpha", "")
    write("root/nested/beta", 'name = "beta"\n')
    write("root/gamma", '# gamma\nname = "gamma"\n\nmemory_size = 64\n')
    write("root/delta", "handler = \n")
    found = discover([Path("root")])
    assert list(found.functions) == ["alpha", "beta"]
    assert found.functions["beta"].folder == tmp_path / "root" / "nested" / "beta"
    assert list(found.problems) == ["delta", "gamma"]
    problem = found.problems["gamma"]
    assert (problem.name, problem.folder) == ("gamma", tmp_path / "root" / "gamma")
    err = problem.error
    assert (err.file, err.line, err.key, err.value) == (
        Path("root/gamma/function.toml"),
        4,
        "memory_size",
        64,
    )
    assert str(err) == (
        "root/gamma/function.toml:4: memory_size = 64: must be an integer from 128 to 10240 (MB)"
    )
    assert found.problems["delta"].error.line == 1
    assert found.problems["delta"].error.message.startswith("invalid TOML: ")


def test_discover_problem_named_by_its_name_key() -> None:
    write("root/folder", 'name = "real"\ntimeout = 0\n')
    found = discover([Path("root")])
    assert list(found.problems) == ["real"]
    assert found.problems["real"].error.key == "timeout"


def test_discover_duplicates(tmp_path: Path) -> None:
    write("a/one", 'name = "same"\n')
    write("b/two", 'name = "same"\n')
    found = discover([Path("b"), Path("a")])  # sorted path order decides, not root order
    assert found.functions["same"].folder == tmp_path / "a" / "one"
    # keyed by name and file: the name itself is the loaded function's
    [(key, problem)] = found.problems.items()
    assert key == "same (b/two/function.toml)"
    assert problem.name == "same" and problem.folder == tmp_path / "b" / "two"
    assert str(problem.error) == (
        "b/two/function.toml: duplicate function name 'same' (also defined in a/one/function.toml)"
    )


def test_discover_a_deploy_api_function_whose_name_a_folder_also_defines(
    tmp_path: Path,
) -> None:
    """A folder made after CreateFunction took the name (the API refuses a name in use, a
    folder cannot be refused): the folder's function is loaded, the API's is the problem, and
    says which file holds the other."""
    write("root/same", 'handler = "app.handler"\n')
    api = ApiFunctions(tmp_path / "state" / API_DIR)
    digest = "0" * 64
    (api.home / "code" / digest).mkdir(parents=True)
    api.write("same", {"handler": "app.handler"}, digest)
    api.write("other", {"handler": "app.handler"}, digest)
    found = discover([Path("root")], api=api)
    assert found.functions["same"].folder == tmp_path / "root" / "same"
    assert found.functions["other"].config_file == api.config_file("other")
    [(key, problem)] = found.problems.items()
    assert key == f"same ({api.config_file('same')})"
    assert str(problem.error) == (
        f"{api.config_file('same')}: duplicate function name 'same' "
        "(also defined in root/same/function.toml)"
    )


def test_discover_two_problems_with_one_name() -> None:
    write("a/x", "timeout = 0\n")
    write("b/x", "timeout = 0\n")
    found = discover([Path("a"), Path("b")])
    assert list(found.problems) == ["x", "x (b/x/function.toml)"]
    assert found.problems["x"].error.file == Path("a/x/function.toml")


def test_discover_skips_hidden_and_ignored(tmp_path: Path) -> None:
    write("root/ok", "")
    for skipped in [".git/h", ".workbench/w", ".venv/v", "__pycache__/p", "node_modules/n"]:
        write(f"root/{skipped}", "")
        write(f"root/ok2/{skipped}", "")
    found = discover([Path("root")])
    assert list(found.functions) == ["ok"]
    assert found.problems == {}


def test_discover_skips_the_roots_bucket_folders() -> None:
    """``<root>/buckets/NAME/`` holds bucket objects: a function.toml dropped there is an
    object, not a function. Deeper ``buckets`` folders are ordinary folders."""
    write("root/fn", "")
    write("root/buckets/uploads/dropped", "")
    write("root/group/buckets/real", "")
    found = discover([Path("root")])
    assert list(found.functions) == ["fn", "real"]


def test_discover_does_not_descend_into_functions() -> None:
    write("root/outer", "")
    write("root/outer/vendor/inner", "")
    write("root/outer/lib/broken", "timeout = 0\n")
    found = discover([Path("root")])
    assert list(found.functions) == ["outer"]
    assert found.problems == {}


def test_discover_root_itself_is_a_function(tmp_path: Path) -> None:
    write("solo", "")
    write("solo/sub", "")
    found = discover([Path("solo")])
    assert list(found.functions) == ["solo"]
    os.chdir(tmp_path / "solo")
    assert list(discover([Path(".")]).functions) == ["solo"]


def test_discover_overlapping_roots_and_symlink_loop() -> None:
    write("root/fn", "")
    os.symlink("..", "root/loop")
    found = discover([Path("root"), Path("root/fn"), Path("root")])
    assert list(found.functions) == ["fn"]
    assert found.problems == {}


def test_discover_bad_roots() -> None:
    with pytest.raises(ValueError, match=r"^function root not found: nowhere$"):
        discover([Path("nowhere")])
    Path("file").write_text("x")
    with pytest.raises(ValueError, match=r"^function root is not a directory: file$"):
        discover([Path("file")])


def test_discover_orders_by_name() -> None:
    write("root/a", 'name = "zeta"\n')
    write("root/b", 'name = "alpha"\n')
    write("root/c", 'name = "mid"\n')
    assert list(discover([Path("root")]).functions) == ["alpha", "mid", "zeta"]


def test_a_problem_with_an_invalid_name_is_named_by_its_folder_shown_safely(
    tmp_path: Path,
) -> None:
    # an invalid `name` was the problem's name as written, a terminal's control sequence
    # included, printed as it was by `workbench list` and serve
    write("root/titled", 'name = "x\\u001b]0;pwned\\u0007"\nhandler = "app.handler"\n')
    write("root/be\x1b[2Jll", 'name = "no spaces allowed"\n')
    found = discover([Path("root")])
    assert set(found.problems) == {"titled", "be\\x1b[2Jll"}
    said = str(found.problems["titled"].error)
    assert "must be 1 to 64 letters" in said and "\x1b" not in said  # the value is escaped
    # the folder's own name, in the error's path, is escaped too (it was printed as written)
    folder_said = str(found.problems["be\\x1b[2Jll"].error)
    assert "\x1b" not in folder_said and "be\\x1b[2Jll" in folder_said


def test_a_config_error_is_one_printable_line_whatever_its_parts_hold(tmp_path: Path) -> None:
    error = ConfigError(
        Path("/fns/a\x1b]0;t\x07\u009b2J\u2028b/function.toml"), 3, "memory_size", None, "bad"
    )
    said = str(error)
    assert said.isprintable()
    assert said == "/fns/a\\x1b]0;t\\x07\\x9b2J\\u2028b/function.toml:3: memory_size: bad"
    plain = ConfigError(Path("/fns/ok/function.toml"), None, None, None, "no handler")
    assert str(plain) == "/fns/ok/function.toml: no handler"  # printable text is left as is
