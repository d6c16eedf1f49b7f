"""template.yaml as `sam deploy` sees it: SAM transform, parameter overrides, intrinsic functions.

The local deployment and `make invoke` read the template through this module, so what runs
locally is derived from the same file that deploys, never from a hand-kept copy.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str
from samtranslator.metrics.metrics import Metrics
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

from harness.paths import SAMCONFIG, TEMPLATE

NO_VALUE = object()  # AWS::NoValue: the key it sits under is dropped


class TemplateError(ValueError):
    """The template or a parameter override cannot be read or resolved."""


def load_sam_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """Parse template.yaml, short-form tags (!Ref, !Sub, ...) included, into plain dicts."""
    document, matches = decode_str(path.read_text())
    if matches:
        raise TemplateError(f"{path} does not parse: {matches[0]}")
    return json.loads(json.dumps(document))


def samconfig_overrides(config_env: str, command: str = "deploy", path: Path = SAMCONFIG) -> dict[str, str]:
    """Return the parameter_overrides that `sam <command> --config-env <config_env>` would use."""
    config = tomllib.loads(path.read_text())
    if config_env not in config:
        raise TemplateError(f"samconfig.toml has no environment {config_env!r}; known: {', '.join(config)}")
    environment = config[config_env]
    raw = ""
    for section in (command, "global"):
        raw = environment.get(section, {}).get("parameters", {}).get("parameter_overrides", raw) or raw
        if raw:
            break
    overrides: dict[str, str] = {}
    for token in shlex.split(raw):
        name, sep, value = token.partition("=")
        if not sep:
            raise TemplateError(f"parameter override {token!r} in samconfig.toml [{config_env}] is not Name=Value")
        overrides[name] = value
    return overrides


def stack_name_for(config_env: str, path: Path = SAMCONFIG) -> str:
    config = tomllib.loads(path.read_text())
    try:
        return str(config[config_env]["global"]["parameters"]["stack_name"])
    except KeyError as exc:
        raise TemplateError(f"samconfig.toml [{config_env}.global.parameters] has no stack_name") from exc


def resolve_parameters(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """Apply defaults and overrides, and check AllowedValues, AllowedPattern and MinValue as CloudFormation does."""
    declared = template.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"parameter overrides name unknown parameters: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            value: Any = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default and no override")
        kind = spec.get("Type", "String")
        if kind == "CommaDelimitedList":
            value = [part.strip() for part in str(value).split(",")] if value != "" else []
        else:
            value = str(value)
            allowed = [str(v) for v in spec.get("AllowedValues", [])]
            if allowed and value not in allowed:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            pattern = spec.get("AllowedPattern")
            if pattern and not re.fullmatch(pattern, value):
                raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
            if kind == "Number":
                try:
                    number = float(value)
                except ValueError:
                    raise TemplateError(f"parameter {name}={value!r} is not a number") from None
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    raise TemplateError(f"parameter {name}={value} is below MinValue {spec['MinValue']}")
                if "MaxValue" in spec and number > float(spec["MaxValue"]):
                    raise TemplateError(f"parameter {name}={value} is above MaxValue {spec['MaxValue']}")
        values[name] = value
    return values


@dataclass
class CodeLocation:
    """A function's or layer's local source folder, replaced by an S3 URI before the SAM transform."""

    logical_id: str
    path: Path


def to_cloudformation(sam_template: dict[str, Any], region: str) -> tuple[dict[str, Any], dict[str, CodeLocation]]:
    """Run the SAM transform, as `sam deploy` does, and return the CloudFormation template.

    Local CodeUri/ContentUri paths become placeholder S3 URIs (the transform accepts only S3), and
    state machine DefinitionUri files are inlined as Definition; the local paths are returned.
    """
    template = json.loads(json.dumps(sam_template))
    root = TEMPLATE.parent
    code: dict[str, CodeLocation] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.setdefault("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            code[logical_id] = CodeLocation(logical_id, root / properties["CodeUri"])
            properties["CodeUri"] = f"s3://local-code/{logical_id}.zip"
        elif kind == "AWS::Serverless::LayerVersion" and isinstance(properties.get("ContentUri"), str):
            code[logical_id] = CodeLocation(logical_id, root / properties["ContentUri"])
            properties["ContentUri"] = f"s3://local-code/{logical_id}.zip"
        elif kind == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
            definition_path = root / properties.pop("DefinitionUri")
            properties["Definition"] = json.loads(definition_path.read_text())

    # The translator records usage metrics for its own service and warns at exit when they are not
    # published. Publishing them sends them to its no-op publisher.
    metrics = Metrics()
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region  # the transform reads the region for ARNs it builds
    try:
        to_py27_compatible_template(template, {})
        translator = Translator(None, Parser(), metrics=metrics)
        # Policy templates and inline statements expand offline; managed policy names would need IAM.
        translated = undo_mark_unicode_str_in_template(
            translator.translate(template, parameter_values={}, get_managed_policy_map=dict)
        )
        metrics.publish()
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous
    return translated, code


@dataclass
class Resolver:
    """Evaluates CloudFormation intrinsic functions against parameters and created resources."""

    parameters: dict[str, Any]
    pseudo: dict[str, str]
    conditions_source: dict[str, Any]
    # Called for Ref/GetAtt of a resource: (logical_id, attribute or None) -> value.
    resource_value: Callable[[str, str | None], Any]
    _conditions: dict[str, bool] = field(default_factory=dict)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.conditions_source:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(self.conditions_source[name]))
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.resource_value(name, None)

    def sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(variables[expression])
            if "." in expression and expression.split(".", 1)[0] not in self.pseudo:
                logical_id, attribute = expression.split(".", 1)
                return str(self.resource_value(logical_id, attribute))
            return str(self.ref(expression))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.resource_value(logical_id, attribute)
            if key == "Fn::Sub":
                if isinstance(value, str):
                    return self.sub(value, {})
                text, variables = value
                return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key == "Fn::If":
                name, when_true, when_false = value
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in value)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(value[0])
            if key == "Fn::And":
                return all(self.resolve(v) for v in value)
            if key == "Fn::Or":
                return any(self.resolve(v) for v in value)
            if key == "Condition":
                return self.condition(value)
            if key == "Fn::Join":
                separator, parts = value
                return str(separator).join(str(p) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = value
                return str(self.resolve(text)).split(separator)
            if key == "Fn::ToJsonString":
                return json.dumps(self.resolve(value), separators=(",", ":"))
            if key.startswith("Fn::"):
                raise TemplateError(f"intrinsic function {key} is not supported by the local deployment")
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def references(node: Any) -> set[str]:
    """Logical ids a template fragment refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(value, list):
                    found |= references(value[1])
            else:
                found |= references(value)
    return found
