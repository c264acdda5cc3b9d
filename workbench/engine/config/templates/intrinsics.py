"""CloudFormation's intrinsic functions, resolved locally for the properties a function needs.

Resolution is lazy: only the properties the workbench reads are resolved, so a template full of
IAM roles and ``!GetAtt`` on resources we never model still loads. What a resource's ``Ref`` or
attribute yields follows CloudFormation's return values for that type (a queue's ``Ref`` is its
URL, a topic's its ARN, a bucket's its name), with the names a local stack would have: the
resource's name property, else its logical id. ``Fn::ImportValue`` cannot be resolved without a
deployed stack: a clear error naming the export.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KeyPath = tuple[str | int, ...]

NO_VALUE = object()  # AWS::NoValue: the property (or list item) is removed
_SUB_RE = re.compile(r"\$\{([^}]*)\}")
SUPPORTED = (
    "Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::Equals, Fn::And, "
    "Fn::Or, Fn::Not, Fn::FindInMap, Fn::Base64, Condition"
)
# Ref of a resource: its "physical id" as CloudFormation returns it, per type
_NAME_PROPERTY = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::Lambda::LayerVersion": "LayerName",
}


class TemplateError(Exception):
    """A problem at ``path`` in the template (``("Resources", "Fn", "Properties", ...)``)."""

    def __init__(self, path: KeyPath, message: str) -> None:
        super().__init__(path, message)
        self.path = path
        self.message = message


def dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass
class Stack:
    """What intrinsics resolve against: the template's sections and the local stack's facts."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str]  # overrides (--parameter-overrides)
    region: str
    account_id: str
    stack_name: str
    _params: dict[str, Any] = field(default_factory=dict)
    _conditions: dict[str, bool] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)
    # memos: each function's events and layers look resources up (one pass, not one per use)
    _types: dict[str, str] | None = None
    _names: dict[str, str] = field(default_factory=dict)
    _by_reference: dict[str, dict[str, str]] = field(default_factory=dict)

    # ------------------------------------------------------------------ sections

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.template.get(name) or {}
        if not isinstance(value, Mapping):
            raise TemplateError((name,), "must be a mapping")
        return value

    @property
    def resources(self) -> Mapping[str, Any]:
        return self.section("Resources")

    def resource_type(self, logical_id: str) -> str | None:
        if self._types is None:
            self._types = {
                lid: str(resource["Type"])
                for lid, resource in self.resources.items()
                if isinstance(resource, Mapping) and isinstance(resource.get("Type"), str)
            }
        return self._types.get(logical_id)

    def referenced(self, *kinds: str) -> dict[str, str]:
        """Logical ids of the resources of ``kinds``, by their ARN and by their ``Ref`` value
        (what an event's ``Queue: !GetAtt Q.Arn`` or ``Layers: [!Ref L]`` hold)."""
        key = "|".join(kinds)
        if key not in self._by_reference:
            found: dict[str, str] = {}
            for lid in self.resources:
                if self.resource_type(lid) in kinds:
                    found.setdefault(self.arn(lid), lid)
                    found.setdefault(str(self.ref(lid, ())), lid)
            self._by_reference[key] = found
        return self._by_reference[key]

    def local_name(self, logical_id: str) -> str:
        """The name a resource has here: its name property if literal, else its logical id
        (lower-cased for a bucket, as bucket names are)."""
        if logical_id in self._names:
            return self._names[logical_id]
        kind = self.resource_type(logical_id) or ""
        resource = self.resources.get(logical_id) or {}
        props = resource.get("Properties") or {} if isinstance(resource, Mapping) else {}
        prop = _NAME_PROPERTY.get(kind)
        if prop and isinstance(props, Mapping) and prop in props:
            value = self.resolve(props[prop], ("Resources", logical_id, "Properties", prop))
            if isinstance(value, str) and value:
                self._names[logical_id] = value
                return value
        name = logical_id.lower() if kind == "AWS::S3::Bucket" else logical_id
        self._names[logical_id] = name
        return name

    def arn(self, logical_id: str) -> str:
        kind = self.resource_type(logical_id) or ""
        name, region, account = self.local_name(logical_id), self.region, self.account_id
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{region}:{account}:{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{region}:{account}:{name}"
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return f"arn:aws:lambda:{region}:{account}:function:{name}"
        if kind.endswith("::LayerVersion"):
            return f"arn:aws:lambda:{region}:{account}:layer:{name}:1"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{account}:role/{name}"
        service = kind.split("::")[1].lower() if kind.count("::") == 2 else "cloudformation"
        return f"arn:aws:{service}:{region}:{account}:{logical_id}"

    # ------------------------------------------------------------------ Ref, GetAtt

    def ref(self, name: Any, path: KeyPath) -> Any:
        if not isinstance(name, str):
            raise TemplateError(path, "Ref takes the name of a parameter or a resource")
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/"
            f"{self.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.section("Parameters"):
            return self.parameter(name)
        kind = self.resource_type(name)
        if kind is None:
            raise TemplateError(
                path, f"Ref {name}: no parameter, resource or pseudo parameter of that name"
            )
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/" + (
                self.local_name(name)
            )
        if kind in ("AWS::SNS::Topic",) or kind.endswith("::LayerVersion"):
            return self.arn(name)
        return self.local_name(name)

    def get_att(self, args: Any, path: KeyPath) -> Any:
        if isinstance(args, str):
            args = args.split(".", 1)
        if not (isinstance(args, list) and len(args) == 2):
            raise TemplateError(path, "Fn::GetAtt takes [LogicalId, Attribute]")
        logical_id, attribute = args[0], self.resolve(args[1], (*path, 1))
        kind = self.resource_type(logical_id) if isinstance(logical_id, str) else None
        if kind is None:
            raise TemplateError(path, f"Fn::GetAtt {logical_id}.{attribute}: no such resource")
        name = self.local_name(logical_id)
        values = {
            "Arn": self.arn(logical_id),
            # SQS
            "QueueName": name,
            "QueueUrl": f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}",
            # SNS
            "TopicArn": self.arn(logical_id),
            "TopicName": name,
            # S3
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            # IAM
            "RoleId": logical_id,
        }
        if attribute not in values:
            raise TemplateError(
                path,
                f"Fn::GetAtt {logical_id}.{attribute} ({kind}): not known here; accepted: "
                + ", ".join(values),
            )
        return values[attribute]

    def parameter(self, name: str) -> Any:
        if name in self._params:
            return self._params[name]
        spec = self.section("Parameters")[name]
        path: KeyPath = ("Parameters", name)
        if not isinstance(spec, Mapping):
            raise TemplateError(path, "must be a mapping with a Type")
        if name in self.parameters:
            value: Any = self.parameters[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(
                path,
                f"parameter {name} has no Default: give it with --parameter-overrides {name}=VALUE",
            )
        value = "" if value is None else value
        allowed = spec.get("AllowedValues")
        if isinstance(allowed, list) and str(value) not in [str(a) for a in allowed]:
            raise TemplateError(
                path,
                f"value {value!r} is not one of AllowedValues: {', '.join(map(str, allowed))}",
            )
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            value = value if isinstance(value, list) else [s.strip() for s in str(value).split(",")]
        elif not isinstance(value, list):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        self._params[name] = value
        return value

    # ------------------------------------------------------------------ conditions

    def condition(self, name: Any, path: KeyPath) -> bool:
        conditions = self.section("Conditions")
        if not isinstance(name, str) or name not in conditions:
            known = ", ".join(conditions) or "none are defined"
            raise TemplateError(path, f"condition {name!r} not found (Conditions: {known})")
        if name in self._conditions:
            return self._conditions[name]
        if name in self._evaluating:
            raise TemplateError(("Conditions", name), "the condition refers to itself")
        self._evaluating.add(name)
        try:
            value = self.resolve(conditions[name], ("Conditions", name))
        finally:
            self._evaluating.discard(name)
        if not isinstance(value, bool):
            raise TemplateError(
                ("Conditions", name), "must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition"
            )
        self._conditions[name] = value
        return value

    # ------------------------------------------------------------------ resolve

    def resolve(self, value: Any, path: KeyPath) -> Any:
        """``value`` with every intrinsic function in it evaluated (``NO_VALUE`` removed)."""
        if isinstance(value, list):
            items = [self.resolve(v, (*path, i)) for i, v in enumerate(value)]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
                return self._function(key, arg, (*path, key))
        result = {}
        for key, item in value.items():
            resolved = self.resolve(item, (*path, key))
            if resolved is not NO_VALUE:
                result[key] = resolved
        return result

    def _function(self, key: str, arg: Any, path: KeyPath) -> Any:
        if key == "Ref":
            return self.ref(arg, path)
        if key == "Condition":
            return self.condition(arg, path)
        if key == "Fn::GetAtt":
            return self.get_att(arg, path)
        if key == "Fn::Sub":
            return self._sub(arg, path)
        if key == "Fn::If":
            if not (isinstance(arg, list) and len(arg) == 3):
                raise TemplateError(path, "Fn::If takes [Condition, ValueIfTrue, ValueIfFalse]")
            chosen = 1 if self.condition(arg[0], (*path, 0)) else 2
            return self.resolve(arg[chosen], (*path, chosen))
        if key == "Fn::ImportValue":
            export = self.resolve(arg, path)
            raise TemplateError(
                path,
                f"Fn::ImportValue {export!r}: another stack's export cannot be resolved locally; "
                "replace it with a parameter (and --parameter-overrides) or a literal",
            )
        args = self.resolve(arg, path)
        if key == "Fn::Join":
            if not (isinstance(args, list) and len(args) == 2 and isinstance(args[1], list)):
                raise TemplateError(path, "Fn::Join takes [Delimiter, [Values...]]")
            return str(args[0]).join(_text(v, path) for v in args[1])
        if key == "Fn::Select":
            if not (isinstance(args, list) and len(args) == 2 and isinstance(args[1], list)):
                raise TemplateError(path, "Fn::Select takes [Index, [Values...]]")
            try:
                return args[1][int(args[0])]
            except (ValueError, IndexError):
                raise TemplateError(
                    path, f"Fn::Select index {args[0]!r} is not in 0..{len(args[1]) - 1}"
                ) from None
        if key == "Fn::Split":
            if not (isinstance(args, list) and len(args) == 2 and isinstance(args[1], str)):
                raise TemplateError(path, "Fn::Split takes [Delimiter, String]")
            return args[1].split(str(args[0]))
        if key == "Fn::Equals":
            if not (isinstance(args, list) and len(args) == 2):
                raise TemplateError(path, "Fn::Equals takes [Value1, Value2]")
            return _text(args[0], path) == _text(args[1], path)
        if key in ("Fn::And", "Fn::Or"):
            if not (isinstance(args, list) and all(isinstance(a, bool) for a in args)):
                raise TemplateError(path, f"{key} takes a list of conditions")
            return all(args) if key == "Fn::And" else any(args)
        if key == "Fn::Not":
            if not (isinstance(args, list) and len(args) == 1 and isinstance(args[0], bool)):
                raise TemplateError(path, "Fn::Not takes [Condition]")
            return not args[0]
        if key == "Fn::FindInMap":
            return self._find_in_map(args, path)
        if key == "Fn::Base64":
            import base64

            return base64.b64encode(_text(args, path).encode()).decode()
        raise TemplateError(path, f"{key} is not supported here; supported: {SUPPORTED}")

    def _find_in_map(self, args: Any, path: KeyPath) -> Any:
        if not (isinstance(args, list) and len(args) in (3, 4)):
            raise TemplateError(path, "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]")
        node: Any = self.section("Mappings")
        for depth, key in enumerate(args[:3]):
            if not isinstance(node, Mapping) or str(key) not in node:
                if len(args) == 4 and isinstance(args[3], Mapping) and "DefaultValue" in args[3]:
                    return args[3]["DefaultValue"]
                where = " > ".join(str(a) for a in args[:depth]) or "Mappings"
                raise TemplateError(path, f"Fn::FindInMap: no key {key!r} in {where}")
            node = node[str(key)]
        return node

    def _sub(self, arg: Any, path: KeyPath) -> str:
        variables: Mapping[str, Any] = {}
        if isinstance(arg, list):
            if not (len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], Mapping)):
                raise TemplateError(path, "Fn::Sub takes a String or [String, {Var: Value}]")
            variables = self.resolve(arg[1], (*path, 1))
            template = arg[0]
        elif isinstance(arg, str):
            template = arg
        else:
            raise TemplateError(path, "Fn::Sub takes a String or [String, {Var: Value}]")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is written as ${Literal}
            name = name.strip()
            if name in variables:
                return _text(variables[name], path)
            if "." in name and self.resource_type(name.split(".", 1)[0]) is not None:
                return _text(self.get_att(name.split(".", 1), path), path)
            return _text(self.ref(name, path), path)

        return _SUB_RE.sub(replace, template)


def _text(value: Any, path: KeyPath) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(path, f"expected a string here, got {type(value).__name__}: {value!r}")
