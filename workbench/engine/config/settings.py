"""How an engine is set up: limits, timings, where its state lives, which interpreters it runs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .function import AwsCredentials
from .templates import TemplateOptions


@dataclass
class EngineSettings:
    account_limit: int = 1000  # Lambda's default concurrent executions per Region
    keep_alive_s: float = 300.0  # idle environments are reaped after this long
    region: str = "us-east-1"
    account_id: str = "123456789012"
    state_dir: Path | None = None  # default: <first root>/.workbench
    # The interpreter every Python runtime runs on (--python), whatever version it declares;
    # None: each runs on the Python it declares, or the nearest installed (runtime/interpreters.py)
    python: str | None = None
    node: str | None = None  # the same for nodejs runtimes (--node)
    reap_interval_s: float = 1.0
    watch: bool = False  # hot reload: follow the roots with watchfiles
    prewarm: bool = False  # after a reload, start one environment so the next call is warm
    reload_step_ms: int = 50  # hot reload's quiet window
    # process the async queue and run the event sources (buckets, schedules, queue mappings)
    background: bool = False
    # multiplies the waits Lambda would make (retry delays, throttle backoff, maximum event age,
    # rate() schedules), so demos and tests need not wait minutes; 1.0 is Lambda's own timing
    time_scale: float = 1.0
    # IDE attach (--debug-port): every Python and Node.js environment starts under its debugger,
    # listening from this port up on 127.0.0.1 and waiting for the IDE; None: only functions
    # with `debug = ...` do, from debugpy's 5678 / Node's 9229 up (see runtime/debug_attach.py)
    debug_port: int | None = None
    # Lambda's concurrency scaling rate (--scaling-rate): at most this many new environments
    # per function every 10 s (Lambda's: 1,000), past it a call needing one is throttled;
    # None: no rate, as fast as this machine starts them (invoke/scaling.py)
    scaling_rate: int | None = None
    # how many runtimes may start at once (the rest wait their turn, fairly); 0: four per CPU,
    # at least 8 (see invoke/start_gate.py)
    start_concurrency: int = 0
    # bytes of its function's output an invocation record keeps (past it: the first and the last
    # part, and a line saying what was left out): runtime/output.py's DEFAULT_LOG_LIMIT, at
    # least its MIN_LOG_LIMIT (--log-limit)
    log_limit: int = 1024 * 1024
    # "auto": namespaces and a cgroup per environment where the machine allows them
    # (runtime/isolation.py); "cgroups": no namespaces; "rlimits": the rlimit sandbox only
    # (--isolation). $WORKBENCH_ISOLATION sets the default.
    isolation: str = field(default_factory=lambda: os.environ.get("WORKBENCH_ISOLATION") or "auto")
    # "auto": a network namespace per environment where environments get namespaces, the engine
    # can make them, and a user-mode stack (slirp4netns) carries their outbound traffic;
    # "none": a namespace with no outbound traffic (loopback only); "host": the host's
    # network (--network; runtime/netns.py). $WORKBENCH_NETWORK sets the default.
    network: str = field(default_factory=lambda: os.environ.get("WORKBENCH_NETWORK") or "auto")
    # "proportional": invocations get CPU in proportion to memory, as on Lambda (1,769 MB = one
    # vCPU); "full": no quota (--cpu full). $WORKBENCH_CPU sets the default.
    cpu: str = field(default_factory=lambda: os.environ.get("WORKBENCH_CPU") or "proportional")
    # Python environments forked from a started interpreter (runtime/forkserver.py) instead of
    # exec'd; $WORKBENCH_FORK_SERVER=0 turns it off (benchmarks compare the two)
    fork_server: bool = field(
        default_factory=lambda: os.environ.get("WORKBENCH_FORK_SERVER", "1") != "0"
    )
    # Node environments handed to a started standby Node (runtime/standby.py) instead of
    # exec'd; $WORKBENCH_STANDBY=0 turns it off (benchmarks and tests compare the two)
    standby: bool = field(default_factory=lambda: os.environ.get("WORKBENCH_STANDBY", "1") != "0")
    # which AWS credentials handlers get, unless their function.toml says (--aws-credentials):
    # "local", the workbench's own (runtime/credentials.py), or "host", this machine's
    aws_credentials: AwsCredentials = "local"
    # where the workbench's Lambda and SQS APIs listen (http://127.0.0.1:3001), set by the API
    # server once it does: local-credential environments started from then on get it as
    # AWS_ENDPOINT_URL (and _LAMBDA, _SQS), so their SDK calls reach this workbench
    aws_endpoint_url: str | None = None
    # the HTTP trigger server's port once it listens (it serves the function URLs; None: not
    # listening, URLs are shown with its default port)
    http_port: int | None = None
    # SAM / CloudFormation templates besides the roots' own (--template), their parameters
    # (--parameter-overrides) and SAM's --env-vars file (config/templates/)
    templates: TemplateOptions = field(default_factory=TemplateOptions)

    @classmethod
    def served(cls, *, log_limit: int | None = None, **options: Any) -> EngineSettings:
        """What `serve` and the TUI run: hot reload and the event sources on, with the engine
        options the user gave (a log limit only when given: else the default)."""
        settings = cls(watch=True, background=True, **options)
        if log_limit is not None:
            settings.log_limit = log_limit
        return settings

    def arn(self, name: str, qualifier: str | None = None) -> str:
        """A function's ARN in this engine's Region and account, qualified if asked."""
        base = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{base}:{qualifier}" if qualifier else base
