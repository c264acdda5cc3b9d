"""Options more than one parser takes: ``-r``/``--state-dir`` (every verb, before or after it),
the engine's (ROOT…, ports, host, time scale, debug port, log limit) that the TUI and ``serve``
share, and ``--aws-credentials`` (every verb that runs functions)."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ..engine import EngineSettings
    from ..engine.config import TemplateOptions


def common_options(default: object) -> argparse.ArgumentParser:
    """Options taken before or after the verb (the verb's copy must not reset the other)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-r",
        "--root",
        action="append",
        metavar="DIR",
        default=default,
        help="a folder holding functions (repeatable; default: the current directory)",
    )
    common.add_argument(
        "--state-dir",
        metavar="DIR",
        default=default,
        help="where history lives (default: <first root>/.workbench)",
    )
    common.add_argument(
        "-t",
        "--template",
        action="append",
        metavar="FILE",
        default=default,
        help="a SAM / CloudFormation template (or a cdk.out folder) whose functions to load "
        "besides the roots' own template.yaml / cdk.out (repeatable)",
    )
    common.add_argument(
        "--parameter-overrides",
        action="append",
        metavar="'K=V ...'",
        default=default,
        help="template parameters, as SAM takes them: 'Stage=prod Size=2' or "
        "'ParameterKey=Stage,ParameterValue=prod' (repeatable)",
    )
    common.add_argument(
        "--env-vars",
        metavar="FILE",
        default=default,
        help='environment overrides for template functions, in SAM\'s JSON format: {"Parameters": '
        '{"VAR": "value"}, "FunctionLogicalId": {"VAR": "value"}}',
    )
    return common


Number = TypeVar("Number", int, float)


def _in_range(
    convert: Callable[[str], Number], text: str, low: Number, high: Number, refusal: str
) -> Number:
    """``text`` as ``convert`` reads it, from ``low`` to ``high``; else ``refusal``, argparse's
    error (a text that is no number at all is out of range too)."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(refusal) from None
    if not low <= value <= high:  # (float("nan") is not either)
        raise argparse.ArgumentTypeError(refusal)
    return value


def time_scale(text: str) -> float:
    return _in_range(
        float,
        text,
        0.0001,
        1.0,
        f"invalid time scale {text!r}: a number from 0.0001 to 1 (1 = Lambda's own timing)",
    )


def scaling_rate(text: str) -> int:
    """--scaling-rate: ``lambda`` (Lambda's 1,000) or a whole number of new environments."""
    from ..engine import LAMBDA_SCALING_RATE

    if text.strip().lower() == "lambda":
        return LAMBDA_SCALING_RATE
    return _in_range(
        int,
        text,
        1,
        1_000_000,
        f"invalid scaling rate {text!r}: lambda (Lambda's own: 1,000 new environments per "
        "function every 10 s) or a whole number of them from 1 to 1000000",
    )


def port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(
            f"port must be 0 to 65535 (0: any free port), not {number}"
        )
    return number


def debug_port(text: str) -> int:
    number = port(text)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"the debug port must be 1 to 65535, not {number}")
    return number


_SIZE = re.compile(r"(\d+) *(k|kb|kib|m|mb|mib)?")


def log_limit(text: str) -> int:
    """``--log-limit``: bytes, or with a unit (K, KB, KiB, M, MB, MiB: powers of 1024)."""
    from ..engine.runtime import MIN_LOG_LIMIT

    m = _SIZE.fullmatch(text.strip().lower())
    value = -1
    if m is not None:
        value = int(m[1]) * {None: 1, "k": 1024, "m": 1 << 20}[m[2] and m[2][0]]
    if value < MIN_LOG_LIMIT:
        raise argparse.ArgumentTypeError(
            f"invalid log limit {text!r}: a size of at least {MIN_LOG_LIMIT // 1024}K, in bytes "
            "or with K or M (powers of 1024), e.g. 512K or 4M"
        )
    return value


_REGION = re.compile(r"(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d")


def region(text: str) -> str:
    """``--region``: a Region name as Lambda's ARNs spell it (botocore's pattern)."""
    if not _REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"invalid region {text!r}: a Region name such as us-east-1 or eu-west-2"
        )
    return text


def account_id(text: str) -> str:
    """``--account-id``: twelve digits, as in every ARN."""
    if not re.fullmatch(r"\d{12}", text):
        raise argparse.ArgumentTypeError(
            f"invalid account id {text!r}: twelve digits, such as 123456789012"
        )
    return text


def aws_credentials_option(parser: argparse.ArgumentParser) -> None:
    """``--aws-credentials local|host``: which AWS credentials handlers get."""
    from ..engine.config import AWS_CREDENTIALS

    parser.add_argument(
        "--aws-credentials",
        choices=AWS_CREDENTIALS,
        default="local",
        help="the AWS credentials handlers get: local (default), the workbench's own, with "
        "AWS_ENDPOINT_URL pointing at its Lambda and SQS API, so SDK calls stay on this machine "
        "(`workbench credentials` prints them); host, this machine's (AWS_ACCESS_KEY_ID, "
        'AWS_PROFILE, ~/.aws...): SDK calls reach real AWS. A function\'s aws_credentials = "..." '
        "in function.toml goes over this",
    )


def interpreter(text: str) -> str:
    """``--python`` / ``--node``: an executable, as a path or a name on the PATH."""
    import shutil

    found = shutil.which(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an executable file (give a path, or a name on the PATH)"
        )
    return os.path.abspath(found)


CPU_CHOICES = ("proportional", "full")  # runtime/isolation.py's CPU_MODES, without importing it


ISOLATION_CHOICES = ("auto", "cgroups", "rlimits")  # runtime/isolation.py's ISOLATION_MODES
NETWORK_CHOICES = ("auto", "none", "host")  # runtime/netns.py's NETWORK_MODES


def cpu_from_environment() -> str | None:
    """``$WORKBENCH_CPU`` (--cpu's default) if it is set; raises ``ValueError`` if it is not
    one of ``CPU_CHOICES``. ``$WORKBENCH_ISOLATION`` (--isolation's) is checked too."""
    isolation = os.environ.get("WORKBENCH_ISOLATION")
    if isolation and isolation not in ISOLATION_CHOICES:
        raise ValueError(
            f"WORKBENCH_ISOLATION={isolation!r}: must be one of {', '.join(ISOLATION_CHOICES)}"
        )
    network = os.environ.get("WORKBENCH_NETWORK")
    if network and network not in NETWORK_CHOICES:
        raise ValueError(
            f"WORKBENCH_NETWORK={network!r}: must be one of {', '.join(NETWORK_CHOICES)}"
        )
    value = os.environ.get("WORKBENCH_CPU")
    if value and value not in CPU_CHOICES:
        raise ValueError(f"WORKBENCH_CPU={value!r}: must be one of {', '.join(CPU_CHOICES)}")
    return value or None


_OVERRIDE_RE = re.compile(r"ParameterKey=([^,\s]+),ParameterValue=(\S*)|([A-Za-z0-9]+)=(\S*)")


def parameter_overrides(given: list[str] | None) -> dict[str, str]:
    """``--parameter-overrides``' pairs, in SAM's two spellings; ``BadInput`` for another."""
    from .common import BadInput

    pairs: dict[str, str] = {}
    for text in given or []:
        for word in text.split():
            m = _OVERRIDE_RE.fullmatch(word)
            if m is None:
                raise BadInput(
                    f"--parameter-overrides: {word!r} is not KEY=VALUE "
                    "(or ParameterKey=KEY,ParameterValue=VALUE)"
                )
            key, value = (m[1], m[2]) if m[1] else (m[3], m[4])
            pairs[key] = value
    return pairs


def template_options_of(args: argparse.Namespace, state_dir: Path) -> TemplateOptions:
    """``--template``, ``--parameter-overrides`` and ``--env-vars``, checked: a missing file
    or a broken env-vars file is one line and exit 2."""
    from ..engine.config import TemplateOptions, read_env_vars
    from .common import BadInput

    files = []
    for name in getattr(args, "template", None) or []:
        path = Path(name)
        if not path.exists():
            raise BadInput(f"template not found: {name}")
        files.append(path.resolve())
    env_vars = getattr(args, "env_vars", None)
    if env_vars is not None:
        try:
            read_env_vars(Path(env_vars))
        except Exception as e:  # ConfigError: file, line and what is accepted
            raise BadInput(f"--env-vars: {e}") from None
    return TemplateOptions(
        files=tuple(files),
        parameter_overrides=parameter_overrides(getattr(args, "parameter_overrides", None)),
        env_vars=Path(env_vars).resolve() if env_vars is not None else None,
        code_dir=state_dir / "template-code",
        # --region / --account-id where the verb takes them (serve, the TUI): ARNs, pseudo
        # parameters
        **({"region": args.region} if getattr(args, "region", None) else {}),
        **({"account_id": args.account_id} if getattr(args, "account_id", None) else {}),
    )


def served_settings(args: argparse.Namespace, state_dir: Path) -> EngineSettings:
    """The engine settings `serve` and the TUI run with, from ``engine_options``' flags."""
    from ..engine import EngineSettings

    return EngineSettings.served(
        state_dir=state_dir,
        prewarm=args.prewarm,
        time_scale=args.time_scale,
        scaling_rate=args.scaling_rate,
        debug_port=args.debug_port,
        log_limit=args.log_limit,
        **({"isolation": args.isolation} if args.isolation else {}),  # else $WORKBENCH_ISOLATION
        **({"cpu": args.cpu} if args.cpu else {}),  # else EngineSettings' ($WORKBENCH_CPU)
        **({"network": args.network} if args.network else {}),  # else $WORKBENCH_NETWORK
        aws_credentials=args.aws_credentials,
        python=args.python,
        node=args.node,
        region=args.region,
        account_id=args.account_id,
        templates=template_options_of(args, state_dir),
    )


def engine_options(parser: argparse.ArgumentParser) -> None:
    """ROOT…, --prewarm, --port, --http-port, --host, --time-scale, --scaling-rate,
    --debug-port, --log-limit, --isolation, --cpu, --aws-credentials, --python and --node: what
    the TUI and `serve` both take."""
    from ..api.defaults import DEFAULT_HOST, DEFAULT_PORT

    parser.add_argument("roots", nargs="*", metavar="ROOT", help="folders holding functions")
    parser.add_argument(
        "--prewarm",
        action="store_true",
        help="after each hot reload, start one environment of the new code, so the first "
        "invocation after a save is warm",
    )

    parser.add_argument(
        "--port",
        type=port,
        default=DEFAULT_PORT,
        help=f"port of the Lambda API for boto3 and the AWS CLI (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--http-port",
        type=port,
        default=3000,
        help="port of the API Gateway-style HTTP trigger (default: 3000)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, loopback only); another address "
        "makes the API reachable from the network, without authentication",
    )
    parser.add_argument(
        "--time-scale",
        type=time_scale,
        default=1.0,
        metavar="FACTOR",
        help="multiply Lambda's waits (async retry delays, throttle backoff, maximum event age, "
        "rate() schedules) by FACTOR, e.g. 0.01 for demos (default: 1, Lambda's timing)",
    )
    parser.add_argument(
        "--scaling-rate",
        type=scaling_rate,
        default=None,
        metavar="RATE",
        help="scale each function as Lambda does: at most RATE new environments every 10 s "
        "(times --time-scale), refilled continuously; a call that needs one past it is "
        "throttled (429). RATE: lambda (Lambda's own, 1,000) or a number, e.g. 5 to watch it "
        "happen (default: no rate, environments start as fast as this machine starts them)",
    )
    parser.add_argument(
        "--debug-port",
        type=debug_port,
        default=None,
        metavar="PORT",
        help="start every Python environment under debugpy and every Node.js one under "
        "--inspect, listening on 127.0.0.1 from PORT up (one port per environment) and waiting "
        "for your IDE to attach; timeouts are suspended for them. Without it, only functions "
        "with debug = ... in function.toml do, from 5678 (debugpy) / 9229 (Node) up. "
        "Python needs debugpy: pip install 'workbench[debug]'",
    )
    parser.add_argument(
        "--log-limit",
        type=log_limit,
        default=None,
        metavar="SIZE",
        help="how much of its function's output an invocation's record keeps: past it, the "
        "first and the last part and a line saying what was left out (default: 1M; e.g. 256K)",
    )
    parser.add_argument(
        "--isolation",
        choices=ISOLATION_CHOICES,
        default=None,
        help="auto (default, or $WORKBENCH_ISOLATION): where the machine allows it, each "
        "environment in its own namespaces (its own /var/task, /opt, /tmp and processes; "
        "nothing else of the host) and "
        "a cgroup (memory for the whole environment, CPU in proportion to memory, 1,024 "
        "processes), on top of the rlimits; cgroups: the cgroup and rlimits, no namespaces; "
        "rlimits: the rlimit sandbox only",
    )
    parser.add_argument(
        "--network",
        choices=NETWORK_CHOICES,
        default=None,
        help="auto (default, or $WORKBENCH_NETWORK): where environments get namespaces and "
        "slirp4netns is installed, each in a network of its own (its Runtime API at "
        "127.0.0.1:9001, the workbench's APIs at their ports, outbound traffic through "
        "slirp4netns; nothing else of the host's loopback, nothing can connect in), else the "
        "host's; none: a network of its own with no outbound traffic (its loopback and the "
        "workbench's APIs only); host: the host's network",
    )
    parser.add_argument(
        "--cpu",
        choices=CPU_CHOICES,
        default=None,
        help="proportional (default, or $WORKBENCH_CPU): invocations get CPU in proportion to "
        "memory, as on Lambda (1,769 MB = one vCPU; needs cgroups); full: no CPU quota",
    )
    aws_credentials_option(parser)
    parser.add_argument(
        "--region",
        type=region,
        default="us-east-1",
        help="the Region the workbench plays (default: us-east-1): in every ARN, in AWS_REGION "
        "and the events; an ARN of another Region is not found here, as on Lambda",
    )
    parser.add_argument(
        "--account-id",
        type=account_id,
        default="123456789012",
        metavar="ID",
        help="the account id the workbench plays (default: 123456789012): in every ARN and "
        "queue URL; an ARN of another account is refused (AccessDeniedException), never run as "
        "the local function of the same name",
    )
    parser.add_argument(
        "--python",
        type=interpreter,
        default=None,
        metavar="EXE",
        help="run every Python function on this interpreter, whatever version it declares "
        "(default: each on the python3.X it declares, found on the PATH, in pyenv or uv, or "
        "else the nearest installed one, which list, serve and the TUI then name)",
    )
    parser.add_argument(
        "--node",
        type=interpreter,
        default=None,
        metavar="EXE",
        help="run every Node.js function on this node (default: the major it declares, found "
        "on the PATH, in nvm, fnm or volta, or else the nearest one)",
    )
