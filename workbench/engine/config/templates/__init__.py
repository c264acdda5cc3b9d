"""SAM / CloudFormation templates (and CDK's ``cdk.out``) as a source of functions.

``parse`` reads a template with CloudFormation's tags and line numbers, ``intrinsics`` resolves
``!Ref``/``!Sub``/``!GetAtt``/... against a local stack, ``events`` maps ``Events`` onto the
triggers, ``code`` finds (or extracts) the code, ``properties`` maps the other properties,
``resources`` builds each function through function.toml's own validation (``context`` is what
they share), and ``load`` finds the templates under the roots.
"""

from __future__ import annotations

from .load import (
    BUILT_TEMPLATE,
    TEMPLATE_NAMES,
    QueueResource,
    TemplateOptions,
    TemplateProblem,
    find_templates,
    load_all,
    read_env_vars,
)

__all__ = [
    "BUILT_TEMPLATE",
    "TEMPLATE_NAMES",
    "QueueResource",
    "TemplateOptions",
    "TemplateProblem",
    "find_templates",
    "load_all",
    "read_env_vars",
]
