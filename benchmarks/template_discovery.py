"""What a template costs each reload: ``discover()`` of N functions from one SAM template, against
``discover()`` of the same N as folders with a ``function.toml`` (the baseline), in one run.

    python benchmarks/template_discovery.py [--functions N] [--rounds R]

Every debounced save under a root runs ``discover()`` again (hot reload), so this is the time a
template adds to each reload: "template" for a save elsewhere (the parsed template is reused),
"saved" for a save of the template itself (parsed again). Each function has a layer, four
events, Globals, and !Sub / !GetAtt / !If in its environment, as the realistic SAM project of
the tests. Rounds alternate baseline and template, so a shared machine's drift weighs on both
alike; medians and p99 are printed, and the template's as a ratio of the baseline's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from figures import pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.engine.config import discover  # noqa: E402

HEAD = """\
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
    Environment:
      Variables:
        STAGE: !Ref Stage
Resources:
  Common:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer}
"""
FUNCTION = """\
  Jobs{i}:
    Type: AWS::SQS::Queue
  Fn{i}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      MemorySize: 256
      Layers: [!Ref Common]
      Environment:
        Variables:
          TABLE: !If [IsProd, prod-table, !Sub "${{Stage}}-table-{i}"]
          QUEUE: !GetAtt Jobs{i}.Arn
      Events:
        Get: {{Type: Api, Properties: {{Path: "/items{i}/{{id}}", Method: get}}}}
        Post: {{Type: HttpApi, Properties: {{Path: /items{i}, Method: post}}}}
        Work: {{Type: SQS, Properties: {{Queue: !GetAtt Jobs{i}.Arn, BatchSize: 5}}}}
        Nightly: {{Type: Schedule, Properties: {{Schedule: rate(1 day)}}}}
"""


def folders(root: Path, n: int) -> None:
    for i in range(n):
        folder = root / f"fn{i}"
        folder.mkdir(parents=True)
        (folder / "app.py").write_text("def handler(e, c):\n    return 1\n")
        (folder / "function.toml").write_text(
            'runtime = "python3.12"\nhandler = "app.handler"\nmemory_size = 256\ntimeout = 10\n'
            f'[environment]\nSTAGE = "dev"\nTABLE = "dev-table-{i}"\n'
            f'[[triggers]]\ntype = "http"\npath = "/items{i}/{{id}}"\nmethod = "GET"\n'
            f'[[triggers]]\ntype = "queue"\nqueue = "jobs{i}"\nbatch_size = 5\n'
        )


def template(root: Path, n: int) -> None:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (root / "layer" / "python").mkdir(parents=True)
    (root / "template.yaml").write_text(HEAD + "".join(FUNCTION.format(i=i) for i in range(n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base, tpl = Path(tmp) / "folders", Path(tmp) / "template"
        folders(base, args.functions)
        template(tpl, args.functions)
        assert len(discover([base]).functions) == args.functions
        found = discover([tpl])
        assert len(found.functions) == args.functions and not found.problems, found.problems
        times: dict[str, list[float]] = {"folders": [], "template": [], "saved": []}
        text = (tpl / "template.yaml").read_text()
        for n in range(args.rounds):
            for name, root in (("folders", base), ("template", tpl), ("saved", tpl)):
                if name == "saved":  # the template itself was saved: parsed again
                    (tpl / "template.yaml").write_text(text + f"# save {n}\n")
                start = time.perf_counter()
                discover([root])
                times[name].append((time.perf_counter() - start) * 1000)
    baseline = statistics.median(times["folders"])
    print(f"discover() of {args.functions} functions, {args.rounds} rounds each")
    for name, xs in times.items():
        median, p99 = statistics.median(xs), pct(xs, 99)
        print(
            f"  {name:9} median {median:7.2f} ms ({median / baseline:4.2f}x)  "
            f"p99 {p99:7.2f} ms ({p99 / baseline:4.2f}x of the baseline's median)"
        )


if __name__ == "__main__":
    main()
