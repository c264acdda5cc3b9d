"""``workbench generate-event SERVICE EVENT [--option value …]``: a fresh sample event as JSON.

A template's options are free-form (``--bucket NAME``), so they are not declared on the parser:
``main`` hands the words argparse did not know to this verb as ``args.template_options``.
"""

from __future__ import annotations

import argparse
import json
import shlex

from .common import EXIT_OK, BadInput


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _template_options(words: list[str]) -> dict[str, str]:
    """``--key value`` and ``--key=value`` pairs; ``-`` and ``_`` in a name mean the same."""
    options: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--") or word == "--":
            raise BadInput(f"expected --option value pairs after SERVICE EVENT, got {word!r}")
        name, has_value, value = word[2:].partition("=")
        if not has_value:
            if i + 1 == len(words):
                raise BadInput(f"option {word} needs a value")
            i += 1
            value = words[i]
        options[name.replace("-", "_")] = value
        i += 1
    return options


def _template_listing() -> str:
    from ..engine.shapes import TEMPLATES

    lines = ["templates (workbench generate-event SERVICE EVENT [--option value …]):"]
    for t in TEMPLATES.values():
        lines.append(f"  {t.service} {t.event} — {t.description}")
        width = max((len(_flag(o)) for o in t.options), default=0)
        for option, default in t.options.items():
            lines.append(f"      {_flag(option).ljust(width)}  {shlex.quote(default)}")
    return "\n".join(lines)


def cmd_generate_event(args: argparse.Namespace) -> int:
    from ..engine.shapes import TEMPLATES, generate

    if args.list or args.service is None:
        if args.template_options:
            raise BadInput(
                f"unexpected {' '.join(args.template_options)}: options follow SERVICE EVENT "
                "(workbench generate-event s3 put --bucket NAME)"
            )
        print(_template_listing())
        return EXIT_OK
    services = list(dict.fromkeys(service for service, _ in TEMPLATES))
    if args.service not in services:
        raise BadInput(f"unknown service {args.service!r}; accepted: {', '.join(services)}")
    events = [event for service, event in TEMPLATES if service == args.service]
    if args.event not in events:
        what = f"unknown event {args.event!r}" if args.event else "missing EVENT"
        raise BadInput(f"{what} for {args.service}; accepted: {', '.join(events)}")
    template = TEMPLATES[(args.service, args.event)]
    options = _template_options(args.template_options)
    unknown = [name for name in options if name not in template.options]
    if unknown:
        accepted = ", ".join(_flag(o) for o in template.options)
        raise BadInput(
            f"unknown option {_flag(unknown[0])} for {args.service} {args.event}; "
            f"accepted: {accepted}"
        )
    print(json.dumps(generate(args.service, args.event, **options), indent=2))
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``generate-event`` on the ``workbench`` parser (it takes no -r/--state-dir)."""
    p = sub.add_parser(
        "generate-event",
        allow_abbrev=False,  # --l must not pass for --list: template options are free-form
        usage="workbench generate-event [-h] [--list] [SERVICE EVENT [--option value …]]",
        help="print a sample event (S3, SNS, SQS, API Gateway, …) as JSON",
        description="Print a fresh sample event for SERVICE EVENT as JSON, with new ids and "
        "timestamps. Set a template's options with --option value (or --option=value). With no "
        "arguments, or --list, list the templates with their options and defaults.",
    )
    p.add_argument("service", nargs="?", metavar="SERVICE", help="e.g. s3, sqs, apigateway")
    p.add_argument("event", nargs="?", metavar="EVENT", help="e.g. put, receive-message")
    p.add_argument("--list", action="store_true", help="list the templates and their options")
    p.set_defaults(func=cmd_generate_event, template_options_allowed=True)
