"""SAM / CloudFormation templates and ``cdk.out`` as a source of functions (issue 18, item 1):
what each resource becomes, the errors a broken one gives, and that it runs and reloads as a
folder function does."""

from __future__ import annotations

import asyncio
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import WAIT_S, make_function, until
from tests.template_projects import RUNTIME, SAM_TEMPLATE, make_cdk_out, make_sam_project
from workbench.engine import Engine, EngineSettings, LambdaError
from workbench.engine.config import (
    HttpTrigger,
    QueueTrigger,
    S3Trigger,
    ScheduleTrigger,
    SnsTrigger,
    TemplateOptions,
    discover,
    triggers_of,
)
from workbench.engine.sources import TopicError, publish_message


def sam(tmp_path: Path) -> Path:
    return make_sam_project(tmp_path / "app")


def write_template(root: Path, body: str, name: str = "template.yaml") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    path = root / name
    path.write_text(body)
    return path


def one_function(props: str, extra: str = "") -> str:
    """A template with one function whose Properties are ``props`` (indented 6)."""
    return (
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      CodeUri: src\n"
        "      Handler: app.handler\n"
        f"      Runtime: {RUNTIME}\n" + props + extra
    )


# --------------------------------------------------------------------------- the SAM project


def test_a_sam_template_yields_its_functions_with_globals_parameters_and_intrinsics(
    tmp_path: Path,
) -> None:
    root = sam(tmp_path)
    found = discover([root])
    assert sorted(found.functions) == ["ItemsFunction", "ZippedFunction", "dev-inline"]
    assert found.problems == {}
    items = found.functions["ItemsFunction"]
    assert items.resource == "ItemsFunction"
    assert items.config_file == (root / "template.yaml").resolve()
    assert items.origin == "template.yaml: ItemsFunction"
    assert items.folder == (root / "src" / "items").resolve()
    assert items.runtime == RUNTIME and items.handler == "app.handler"
    assert items.timeout == 10  # from Globals
    assert items.memory_size == 256  # !FindInMap [Sizes, !Ref Stage, Memory]
    assert items.layers == ((root / "layers" / "common").resolve(),)
    assert dict(items.environment) == {
        "STAGE": "dev",  # Globals' variable, merged under the function's
        "TABLE": "dev-table",  # !If [IsProd, ...] false -> !Sub "${Stage}-table"
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/Jobs",  # !Ref a queue
        "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:Jobs",  # !GetAtt Jobs.Arn
        "JOINED": "a-dev-c",
        "FIRST": "y",
    }


def test_events_become_the_triggers_and_the_rest_is_listed_as_not_run_here(
    tmp_path: Path,
) -> None:
    items = discover([sam(tmp_path)]).functions["ItemsFunction"]
    triggers = triggers_of(items)
    http = [t for t in triggers if isinstance(t, HttpTrigger)]
    assert [(t.route_key, t.payload_format) for t in http] == [
        ("GET /items/{id}", "1.0"),  # Api: REST API, payload 1.0
        ("POST /items", "2.0"),  # HttpApi: payload 2.0
    ]
    (queue,) = triggers_of(items, QueueTrigger)
    # the SQS event, with the queue resource's own settings (visibility, redrive)
    assert (queue.queue, queue.batch_size, queue.report_batch_item_failures) == ("Jobs", 5, True)
    assert (queue.visibility_timeout, queue.max_receive_count) == (60, 3)
    assert queue.dead_letter_queue == "app-jobs-dlq"  # !Sub "${AWS::StackName}-jobs-dlq"
    assert [t.topic for t in triggers_of(items, SnsTrigger)] == ["dev-alerts"]
    (s3,) = triggers_of(items, S3Trigger)
    assert (s3.bucket, s3.events, s3.suffix) == ("dev-uploads", ("s3:ObjectCreated:*",), ".jpg")
    nightly, weekly = triggers_of(items, ScheduleTrigger)
    assert (nightly.expression, dict(nightly.input or {}), nightly.enabled) == (
        "rate(1 day)",
        {"job": "nightly"},
        True,
    )
    assert (weekly.expression, weekly.enabled) == ("cron(0 12 ? * MON *)", False)
    assert items.notes == (
        "event Stream (Kinesis): not run here "
        "(runs: Api, HttpApi, S3, SQS, SNS, Schedule, ScheduleV2)",
    )
    assert (items.auto_publish_alias, items.deployment) == ("live", None)  # run: see below
    # SAM applies ProvisionedConcurrencyConfig to the AutoPublishAlias: so does the workbench
    assert dict(items.provisioned_concurrency) == {"live": 2}


def test_a_default_http_route_and_a_schedules_time_zone(tmp_path: Path) -> None:
    root = tmp_path / "app"
    props = (
        "      Events:\n"
        "        Everything:\n          Type: HttpApi\n          Properties: {Path: $default}\n"
        "        Morning:\n          Type: ScheduleV2\n          Properties:\n"
        "            ScheduleExpression: cron(0 8 * * ? *)\n"
        "            ScheduleExpressionTimezone: Europe/Paris\n"
    )
    write_template(root, one_function(props))
    fn = discover([root]).functions["Fn"]
    (route,) = triggers_of(fn, HttpTrigger)
    assert (route.route_key, route.payload_format) == ("ANY /{proxy+}", "2.0")
    (schedule,) = triggers_of(fn, ScheduleTrigger)
    assert schedule.expression == "cron(0 8 * * ? *)"
    assert fn.notes == (
        "event Morning: ScheduleExpressionTimezone not applied here (schedules run in UTC)",
    )


def test_inline_and_zipped_code_land_content_addressed_in_the_state_dir(tmp_path: Path) -> None:
    root = sam(tmp_path)
    state = tmp_path / "state"
    options = TemplateOptions(code_dir=state / "template-code")
    found = discover([root], templates=options)
    inline = found.functions["dev-inline"]  # FunctionName: !Sub "${Stage}-inline"
    assert inline.resource == "InlineFunction"
    assert inline.folder.parent == (state / "template-code").resolve()
    assert "def handler" in (inline.folder / "index.py").read_text()  # as CloudFormation writes it
    assert dict(inline.async_config) == {"on_failure": "queue:app-jobs-dlq"}  # DeadLetterConfig
    assert inline.notes == ("Role: not run here (IAM is not enforced locally)",)
    zipped = found.functions["ZippedFunction"]
    assert zipped.folder.parent == (state / "template-code").resolve()
    assert (zipped.folder / "main.py").is_file()
    assert (zipped.ephemeral_storage, zipped.reserved_concurrency) == (1024, 2)
    # the same bytes, the same folder; changed bytes, a new one
    assert discover([root], templates=options).functions["ZippedFunction"].folder == zipped.folder
    with zipfile.ZipFile(root / "dist" / "zipped.zip", "w") as archive:
        archive.writestr("main.py", "def handler(event, context):\n    return 2\n")
    again = discover([root], templates=options).functions["ZippedFunction"]
    assert again.folder != zipped.folder and "return 2" in (again.folder / "main.py").read_text()


def test_parameter_overrides_flip_conditions_mappings_and_names(tmp_path: Path) -> None:
    options = TemplateOptions(parameter_overrides={"Stage": "prod"})
    found = discover([sam(tmp_path)], templates=options)
    items = found.functions["ItemsFunction"]
    assert items.environment["TABLE"] == "prod-table"
    assert items.memory_size == 1024
    assert "prod-inline" in found.functions
    bad = discover(
        [tmp_path / "app"], templates=TemplateOptions(parameter_overrides={"Stage": "x"})
    )
    assert bad.functions == {}  # every function depends on it: each says so
    assert sorted(bad.problems) == ["InlineFunction", "ItemsFunction", "ZippedFunction"]
    error = bad.problems["ItemsFunction"].error
    assert error.line == SAM_TEMPLATE.splitlines().index("  Stage:") + 1
    assert error.key == "Parameters.Stage"
    assert error.message == "value 'x' is not one of AllowedValues: dev, prod"


def test_env_vars_file_overrides_declared_variables_as_sam_does(tmp_path: Path) -> None:
    env = tmp_path / "env.json"
    env.write_text(
        json.dumps(
            {
                "Parameters": {"STAGE": "from-file"},
                "ItemsFunction": {"TABLE": "local-table", "UNDECLARED": "ignored"},
            }
        )
    )
    found = discover([sam(tmp_path)], templates=TemplateOptions(env_vars=env))
    items = found.functions["ItemsFunction"]
    assert items.environment["STAGE"] == "from-file"
    assert items.environment["TABLE"] == "local-table"
    assert "UNDECLARED" not in items.environment  # sam local overrides only what is declared
    assert found.functions["ZippedFunction"].environment["STAGE"] == "from-file"


def test_the_built_template_is_used_when_sam_build_made_one_and_says_so(tmp_path: Path) -> None:
    root = sam(tmp_path)
    build = root / ".aws-sam" / "build"
    (build / "ItemsFunction").mkdir(parents=True)
    (build / "ItemsFunction" / "app.py").write_text("def handler(e, c):\n    return 'built'\n")
    (build / "template.yaml").write_text(
        one_function("").replace("CodeUri: src", "CodeUri: ItemsFunction")
    )
    found = discover([root])
    assert sorted(found.functions) == ["Fn"]
    fn = found.functions["Fn"]
    assert fn.folder == (build / "ItemsFunction").resolve()
    assert fn.notes[0].startswith(f"from the built template {build.resolve() / 'template.yaml'}")


# --------------------------------------------------------------------------- cdk.out


def test_cdk_out_stacks_yield_functions_from_their_assets(tmp_path: Path) -> None:
    root = tmp_path / "cdk-app"
    out = make_cdk_out(root)
    found = discover([root])
    assert found.problems == {}
    fn = found.functions["Handler886CB40B"]
    assert fn.folder == (out / "asset.3f1c0a").resolve()  # aws:asset:path, not the S3 key
    assert fn.config_file == (out / "AppStack.template.json").resolve()
    assert fn.environment["QUEUE_URL"].endswith("/123456789012/JobsQueue6D8C7E3C")
    (queue,) = triggers_of(fn, QueueTrigger)  # the AWS::Lambda::EventSourceMapping
    assert (queue.queue, queue.batch_size) == ("JobsQueue6D8C7E3C", 3)
    # a cdk.out given with --template reads the same
    (tmp_path / "empty").mkdir()
    given = discover([tmp_path / "empty"], templates=TemplateOptions(files=(out,)))
    assert sorted(given.functions) == ["Handler886CB40B"]


def test_a_broken_event_source_mapping_is_its_own_problem(tmp_path: Path) -> None:
    root = tmp_path / "cdk-app"
    out = make_cdk_out(root)
    stack = out / "AppStack.template.json"
    data = json.loads(stack.read_text())
    data["Resources"]["Other"] = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {"FunctionName": {"Fn::ImportValue": "SharedFunction"}},
    }
    stack.write_text(json.dumps(data, indent=1))
    found = discover([root])
    assert list(found.functions) == ["Handler886CB40B"]
    error = found.problems["Other"].error
    assert error.key == "Resources.Other.Properties.FunctionName.Fn::ImportValue"
    assert error.message.startswith("Fn::ImportValue 'SharedFunction': another stack's export")


def test_a_cdk_templates_error_has_its_json_line(tmp_path: Path) -> None:
    root = tmp_path / "cdk-app"
    out = make_cdk_out(root)
    stack = out / "AppStack.template.json"
    data = json.loads(stack.read_text())
    data["Resources"]["Handler886CB40B"]["Properties"]["Runtime"] = "java21"
    stack.write_text(json.dumps(data, indent=1))
    error = discover([root]).problems["Handler886CB40B"].error
    line = next(i for i, text in enumerate(stack.read_text().splitlines(), 1) if "java21" in text)
    assert (error.file, error.line) == (stack.resolve(), line)
    assert error.key == "Resources.Handler886CB40B.Properties.Runtime"


def test_event_invoke_config_dead_letters_and_foreign_layers(tmp_path: Path) -> None:
    root = tmp_path / "app"
    props = (
        "      Layers:\n"
        "        - arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV2:78\n"
        "      DeadLetterQueue:\n        Type: SNS\n        TargetArn: !Ref Topic\n"
        "      EventInvokeConfig:\n"
        "        MaximumRetryAttempts: 1\n"
        "        MaximumEventAgeInSeconds: 600\n"
        "        DestinationConfig:\n"
        "          OnSuccess: {Type: Lambda, Destination: !GetAtt Audit.Arn}\n"
        "          OnFailure: {Type: SQS, Destination: !GetAtt Failed.Arn}\n"
    )
    extra = (
        "  Topic:\n    Type: AWS::SNS::Topic\n"
        "  Failed:\n    Type: AWS::SQS::Queue\n"
        "  Audit:\n    Type: AWS::Serverless::Function\n"
        f"    Properties: {{CodeUri: src, Handler: app.handler, Runtime: {RUNTIME}}}\n"
    )
    write_template(root, one_function(props, extra))
    found = discover([root])
    assert found.problems == {}
    fn = found.functions["Fn"]
    assert dict(fn.async_config) == {
        "maximum_retry_attempts": 1,
        "maximum_event_age": 600,
        "on_success": "function:Audit",
        "on_failure": "queue:Failed",
    }
    assert fn.layers == ()
    assert fn.notes == (
        "layer arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV2:78: not in "
        "this template, not run here (the function runs without it)",
        "DeadLetterQueue arn:aws:sns:us-east-1:123456789012:Topic: only an SQS queue is run here",
    )


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("props", "line", "key", "message"),
    [
        (
            "      Timeout: 901\n",
            8,
            "Resources.Fn.Properties.Timeout",
            "must be an integer from 1 to 900 (seconds)",
        ),
        (
            "      Environment:\n        Variables:\n          TABLE: !ImportValue shared-table\n",
            10,
            "Resources.Fn.Properties.Environment.Variables.TABLE.Fn::ImportValue",
            "Fn::ImportValue 'shared-table': another stack's export cannot be resolved locally; "
            "replace it with a parameter (and --parameter-overrides) or a literal",
        ),
        (
            "      Environment:\n        Variables:\n          QUEUE: !GetAtt Nowhere.Arn\n",
            10,
            "Resources.Fn.Properties.Environment.Variables.QUEUE.Fn::GetAtt",
            "Fn::GetAtt Nowhere.Arn: no such resource",
        ),
        (
            "      MemorySize: !Ref Size\n",
            8,
            "Resources.Fn.Properties.MemorySize.Ref",
            "Ref Size: no parameter, resource or pseudo parameter of that name",
        ),
        (
            "      Events:\n        Get:\n          Type: Api\n          Properties:\n"
            "            Method: get\n",
            11,
            "Resources.Fn.Properties.Events.Get.Properties",
            "missing Path (e.g. /items/{id})",
        ),
        (
            "      Events:\n        Get:\n          Type: Api\n          Properties:\n"
            "            Path: items\n            Method: get\n",
            9,
            "Resources.Fn.Properties.Events.Get (path)",
            'must be a path starting with "/", e.g. "/items/{id}"',
        ),
        (
            "      CodeUri: s3://bucket/code.zip\n",
            8,
            "Resources.Fn.Properties.CodeUri",
            "s3://bucket/code.zip: code in S3 is not run here; accepted: a local folder or .zip "
            "(relative to the template), or inline code",
        ),
        (
            "      AutoPublishAlias: live\n      DeploymentPreference:\n        Type: Canary10\n",
            10,
            "Resources.Fn.Properties.DeploymentPreference.Type",
            "must be AllAtOnce, Canary<N>Percent<M>Minutes or Linear<N>PercentEvery<M>Minutes "
            "(e.g. Canary10Percent5Minutes, Linear10PercentEvery1Minute)",
        ),
        (
            "      AutoPublishAlias: '123'\n",
            8,
            "Resources.Fn.Properties.AutoPublishAlias",
            "an alias name is 1 to 128 letters, digits, - and _, and not all digits",
        ),
        (
            "      Environment:\n        Variables:\n"
            "          OK_VAR: x\n          AWS_REGION: y\n",
            11,
            "Resources.Fn.Properties.Environment.Variables.AWS_REGION",
            "AWS_REGION is reserved by Lambda and cannot be set",
        ),
        (
            "      PackageType: Image\n",
            8,
            "Resources.Fn.Properties.PackageType",
            "container image functions are not run here; accepted: Zip",
        ),
    ],
)
def test_a_bad_property_names_file_line_resource_property_and_what_is_accepted(
    tmp_path: Path, props: str, line: int, key: str, message: str
) -> None:
    root = tmp_path / "app"
    # a later CodeUri wins over the helper's (YAML keeps the last)
    path = write_template(root, one_function(props))
    found = discover([root])
    assert found.functions == {}
    error = found.problems["Fn"].error
    assert (error.file, error.line, error.key, error.message) == (path, line, key, message)


def test_a_runtime_we_cannot_run_lists_the_runtimes_we_can(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_template(root, one_function("").replace(f"Runtime: {RUNTIME}", "Runtime: java21"))
    error = discover([root]).problems["Fn"].error
    assert error.key == "Resources.Fn.Properties.Runtime" and error.line == 7
    assert error.message.startswith("must be one of: python3.8, ") and "nodejs20.x" in error.message


def test_a_parameter_without_default_says_how_to_give_it(tmp_path: Path) -> None:
    root = tmp_path / "app"
    body = "Parameters:\n  Table:\n    Type: String\n" + one_function(
        "      Environment:\n        Variables:\n          TABLE_NAME: !Ref Table\n"
    )
    write_template(root, body)
    error = discover([root]).problems["Fn"].error
    assert (error.line, error.key) == (2, "Parameters.Table")
    assert error.message == (
        "parameter Table has no Default: give it with --parameter-overrides Table=VALUE"
    )
    given = discover([root], templates=TemplateOptions(parameter_overrides={"Table": "t1"}))
    assert given.functions["Fn"].environment["TABLE_NAME"] == "t1"


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    root = tmp_path / "app"
    path = write_template(root, one_function("      Timeout: [3\n"))
    problem = discover([root]).problems["template.yaml"]
    assert problem.error.file == path and problem.error.line == 9
    assert problem.error.message.startswith("invalid YAML: ")


def test_a_broken_template_never_stops_folder_functions_or_other_templates(
    tmp_path: Path,
) -> None:
    root = tmp_path / "app"
    write_template(root, "Resources: [not, a, mapping\n")
    make_function(root / "functions", "folder_fn", "def handler(e, c):\n    return 1\n")
    other = tmp_path / "other"
    write_template(other, one_function(""), name="other.yaml")
    found = discover([root], templates=TemplateOptions(files=(other / "other.yaml",)))
    assert sorted(found.functions) == ["Fn", "folder_fn"]
    assert list(found.problems) == ["template.yaml"]
    assert found.problems["template.yaml"].error.line == 2  # the unclosed flow sequence


def test_another_tools_template_yaml_in_a_root_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_template(root, "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n")
    make_function(root / "functions", "folder_fn", "def handler(e, c):\n    return 1\n")
    found = discover([root])
    assert (list(found.functions), found.problems) == (["folder_fn"], {})
    # given by name, it is meant as a template: said so
    given = discover([root], templates=TemplateOptions(files=(root / "template.yaml",)))
    error = given.problems["template.yaml"].error
    assert (error.line, error.key) == (1, "Resources")
    assert error.message == "a template needs a Resources mapping"


def test_a_template_function_named_like_a_folder_function_is_a_duplicate(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_template(root, one_function(""))
    make_function(root, "Fn", "def handler(e, c):\n    return 1\n")
    found = discover([root])
    assert found.functions["Fn"].resource is None  # the folder's, found first
    problem = next(p for p in found.problems.values() if p.error.file.name == "template.yaml")
    assert problem.error.message.startswith("duplicate function name 'Fn' (also defined in ")


def test_a_resource_whose_condition_is_false_is_not_created(tmp_path: Path) -> None:
    root = tmp_path / "app"
    body = (
        "Parameters:\n  On:\n    Type: String\n    Default: 'no'\n"
        "Conditions:\n  Wanted: !Not [!Equals [!Ref On, 'no']]\n"
        + one_function("").replace(
            "    Type: AWS::Serverless::Function\n",
            "    Type: AWS::Serverless::Function\n    Condition: Wanted\n",
        )
    )
    write_template(root, body)
    assert discover([root]).functions == {}
    on = discover([root], templates=TemplateOptions(parameter_overrides={"On": "yes"}))
    assert list(on.functions) == ["Fn"]


def test_a_property_if_no_value_is_as_if_not_given(tmp_path: Path) -> None:
    root = tmp_path / "app"
    props = "      Timeout: !If [Never, 30, !Ref AWS::NoValue]\n"
    conditions = "Conditions:\n  Never: !Equals [a, b]\n"
    write_template(root, conditions + one_function(props))
    assert discover([root]).functions["Fn"].timeout == 3  # the default, as CloudFormation's


def test_sub_in_both_forms_with_literals_and_attributes(tmp_path: Path) -> None:
    root = tmp_path / "app"
    props = (
        "      Environment:\n        Variables:\n"
        '          AA: !Sub "${AWS::Region}/${AWS::AccountId}/${!Literal}/${Q.QueueName}"\n'
        "          BB: !Sub\n            - '${Name}-${AWS::Partition}'\n"
        "            - Name: !Select [0, [first, second]]\n"
        "          CC: !GetAtt Q.QueueUrl\n"
    )
    write_template(root, one_function(props, "  Q:\n    Type: AWS::SQS::Queue\n"))
    options = TemplateOptions(region="eu-west-1", account_id="111122223333")
    env = discover([root], templates=options).functions["Fn"].environment
    assert env["AA"] == "eu-west-1/111122223333/${Literal}/Q"
    assert env["BB"] == "first-aws"
    assert env["CC"] == "https://sqs.eu-west-1.amazonaws.com/111122223333/Q"


# --------------------------------------------------------------------------- running them


async def test_template_functions_run_and_reload_like_folder_functions(tmp_path: Path) -> None:
    root = sam(tmp_path)
    settings = EngineSettings(state_dir=tmp_path / "state", watch=True)
    async with Engine([root], settings) as engine:
        result = await engine.invoke("ItemsFunction", json.dumps({"version": 1}))
        assert result.function_error is None, result.payload
        seen = json.loads(json.loads(result.payload)["body"])
        assert seen["layer"] == "from the layer" and seen["memory"] == "256"
        assert seen["table"] == "dev-table" and seen["version"] == 1
        inline = await engine.invoke("dev-inline", b'{"x": 1}')
        assert json.loads(inline.payload) == {"inline": True, "got": {"x": 1}}
        zipped = await engine.invoke("ZippedFunction", b"{}")
        assert json.loads(zipped.payload) == {"zipped": True}

        await engine.wait_watching()
        # a save of the template: its new settings serve the next call
        template = root / "template.yaml"
        template.write_text(template.read_text().replace('!Sub "${Stage}-table"', "edited-table"))
        await _until_body(engine, "ItemsFunction", lambda seen: seen["table"] == "edited-table")
        # a save under its CodeUri: the new code serves the next call
        app = root / "src" / "items" / "app.py"
        app.write_text(app.read_text().replace('"layer": shared.VALUE', '"layer": "edited"'))
        await _until_body(engine, "ItemsFunction", lambda seen: seen["layer"] == "edited")
        # a template broken by a save keeps the others and says where
        template.write_text(template.read_text().replace("Timeout: 10", "Timeout: 0"))
        await until(lambda: "ItemsFunction" in engine.problems, "the broken save")
        assert engine.problems["ItemsFunction"].error.key == "Globals.Function.Timeout"


async def _until_body(engine: Engine, name: str, check: Callable[[dict], bool]) -> None:
    """Invoke ``name`` until its body passes ``check`` (the reload is applied on the loop)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        result = await engine.invoke(name, b"{}")
        if check(json.loads(json.loads(result.payload)["body"])):
            return
        assert time.monotonic() < deadline, f"{name} never served the saved change"
        await asyncio.sleep(0.05)


async def test_a_template_given_from_outside_the_roots_reloads_on_save(tmp_path: Path) -> None:
    project = tmp_path / "elsewhere"
    template = write_template(
        project,
        one_function("      Environment:\n        Variables:\n          WHO: first\n"),
        name="stack.yaml",
    )
    (project / "src" / "app.py").write_text(
        "import os, json\n"
        "def handler(event, context):\n"
        "    return {'body': json.dumps({'who': os.environ['WHO']})}\n"
    )
    (tmp_path / "root").mkdir()
    settings = EngineSettings(
        state_dir=tmp_path / "state", watch=True, templates=TemplateOptions(files=(template,))
    )
    async with Engine([tmp_path / "root"], settings) as engine:
        await _until_body(engine, "Fn", lambda seen: seen["who"] == "first")
        await engine.wait_watching()
        template.write_text(template.read_text().replace("WHO: first", "WHO: second"))
        await _until_body(engine, "Fn", lambda seen: seen["who"] == "second")


async def test_the_templates_queues_exist_locally_even_with_no_consumer(tmp_path: Path) -> None:
    root = sam(tmp_path)
    settings = EngineSettings(state_dir=tmp_path / "state", background=True)
    async with Engine([root], settings) as engine:
        assert engine.queues is not None
        outbox = engine.queues.get("dev-outbox")  # AWS::SQS::Queue that no function consumes
        assert outbox.visibility_timeout == 45
        jobs = engine.queues.get("Jobs")  # the one the SQS event consumes, with its redrive
        assert (jobs.visibility_timeout, jobs.dead_letter_queue, jobs.max_receive_count) == (
            60,
            "app-jobs-dlq",
            3,
        )


async def test_the_templates_topics_and_buckets_exist_without_subscribers(tmp_path: Path) -> None:
    root = tmp_path / "app"
    extra = (
        "  Quiet:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: quiet-topic}\n"
        "  Archive:\n    Type: AWS::S3::Bucket\n"
    )
    write_template(root, one_function("", extra))
    settings = EngineSettings(state_dir=tmp_path / "state", background=True)
    async with Engine([root], settings) as engine:
        # SNS accepts a publish to a topic nothing subscribes to
        assert publish_message(engine, "quiet-topic", "hello")
        with pytest.raises(TopicError):
            publish_message(engine, "no-such-topic", "hello")
        # the bucket's folder, where its objects go (named as CloudFormation would not: the
        # logical id lower-cased, as a bucket name must be)
        await until(lambda: (root / "buckets" / "archive").is_dir(), "the bucket folder")


async def test_update_function_configuration_refuses_a_template_function(tmp_path: Path) -> None:
    root = sam(tmp_path)
    before = (root / "template.yaml").read_text()
    async with Engine([root], EngineSettings(state_dir=tmp_path / "state")) as engine:
        with pytest.raises(LambdaError) as refused:
            await engine.control.update_configuration("ItemsFunction", {"timeout": 30})
    assert refused.value.code == "ResourceConflictException"
    assert "defined by the resource ItemsFunction in" in refused.value.message
    assert (root / "template.yaml").read_text() == before  # never rewritten as TOML


def with_deployment(root: Path, kind: str) -> None:
    template = root / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "      AutoPublishAlias: live\n",
            f"      AutoPublishAlias: live\n      DeploymentPreference:\n        Type: {kind}\n",
        )
    )


def save_new_code(root: Path) -> None:
    app = root / "src" / "items" / "app.py"
    app.write_text(app.read_text().replace('"layer": shared.VALUE', '"layer": "v2"'))


async def test_auto_publish_alias_publishes_each_change_and_canaries_it(tmp_path: Path) -> None:
    root = sam(tmp_path)
    with_deployment(root, "Canary10Percent5Minutes")
    settings = EngineSettings(state_dir=tmp_path / "state", watch=True)
    async with Engine([root], settings) as engine:
        auto = engine.hot_reload.auto_publish
        assert auto is not None
        await auto.settle()
        live = engine.alias("ItemsFunction", "live")  # the first version, at once
        assert (live.function_version, dict(live.routing)) == ("1", {})
        assert engine.versions("ZippedFunction") == []  # no AutoPublishAlias: not published
        await engine.wait_watching()
        save_new_code(root)
        await until(lambda: engine.alias("ItemsFunction", "live").routing, "the canary")
        live = engine.alias("ItemsFunction", "live")
        # 10 % to the new version for 5 minutes (time_scale 1: it is still shifting here)
        assert (live.function_version, dict(live.routing)) == ("1", {"2": 0.1})
        assert [v.number for v in engine.versions("ItemsFunction")] == [1, 2]
        new = await engine.invoke("ItemsFunction:2", b"{}")
        assert json.loads(json.loads(new.payload)["body"])["layer"] == "v2"


async def test_a_linear_deployment_ends_on_the_new_version(tmp_path: Path) -> None:
    root = sam(tmp_path)
    with_deployment(root, "Linear10PercentEvery1Minute")
    settings = EngineSettings(state_dir=tmp_path / "state", watch=True, time_scale=0.0001)
    async with Engine([root], settings) as engine:
        assert engine.hot_reload.auto_publish is not None
        await engine.hot_reload.auto_publish.settle()
        await engine.wait_watching()
        seen: set[tuple[str, tuple[tuple[str, float], ...]]] = set()

        def done() -> bool:
            live = engine.alias("ItemsFunction", "live")
            seen.add((live.function_version, tuple(live.routing.items())))
            return live.function_version == "2" and not live.routing

        save_new_code(root)
        await until(done, "the alias to reach version 2")
        assert ("2", ()) in seen and all(v in ("1", "2") for v, _ in seen)


async def test_a_sam_build_is_picked_up_as_a_save(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_template(root, one_function(""))
    build = root / ".aws-sam" / "build"
    (build / "Fn").mkdir(parents=True)
    built_code = build / "Fn" / "app.py"
    built_code.write_text("def handler(e, c):\n    return {'body': '{\"build\": 1}'}\n")
    (build / "template.yaml").write_text(one_function("").replace("CodeUri: src", "CodeUri: Fn"))
    settings = EngineSettings(state_dir=tmp_path / "state", watch=True)
    async with Engine([root], settings) as engine:
        await _until_body(engine, "Fn", lambda seen: seen["build"] == 1)
        await engine.wait_watching()
        built_code.write_text("def handler(e, c):\n    return {'body': '{\"build\": 2}'}\n")
        await _until_body(engine, "Fn", lambda seen: seen["build"] == 2)


def test_function_url_config_becomes_the_functions_url(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_template(
        root,
        one_function(
            "      FunctionUrlConfig:\n"
            "        AuthType: AWS_IAM\n"
            "        InvokeMode: RESPONSE_STREAM\n"
            "        Cors:\n"
            "          AllowOrigins: ['https://a.example']\n"
            "          MaxAge: 60\n"
        ),
    )
    fn = discover([root]).functions["Fn"]
    assert fn.url is not None
    assert (fn.url.auth_type, fn.url.invoke_mode) == ("AWS_IAM", "RESPONSE_STREAM")
    assert fn.url.cors is not None and fn.url.cors.allow_origins == ("https://a.example",)
    assert fn.url.cors.max_age == 60
    assert not any("FunctionUrlConfig" in note for note in fn.notes)
    # a bad one is reported at its property, with what is accepted
    path = write_template(
        root, one_function("      FunctionUrlConfig:\n        AuthType: PUBLIC\n")
    )
    error = discover([root]).problems["Fn"].error
    assert (error.file, error.line) == (path, 8)
    assert error.key == "Resources.Fn.Properties.FunctionUrlConfig (auth_type)"
    assert error.message == "must be one of 'NONE', 'AWS_IAM'"
