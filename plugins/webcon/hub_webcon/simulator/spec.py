"""The published WEBCON BPS OpenAPI document, turned into validators the simulator applies.

The file beside this module is WEBCON BPS 2024's "Public API" v6.0 as published (copy of
``../shared/specs/webcon-bps-v6.0-openapi.json``; see docs/webcon.md). Every request body the
simulator receives, and every body it answers with, is checked against the schema the document
names for that operation, so neither the connector nor the simulator can drift from the API.

OpenAPI 3.0 schemas are not quite JSON Schema; :func:`to_json_schema` bridges the differences
once, at load time:

* ``nullable: true`` becomes a ``null`` alternative (in ``type`` or ``enum``);
* ``"type": "String"`` (how the generator writes enums) becomes ``"string"``;
* siblings of ``$ref`` are dropped, as OpenAPI 3.0 says;
* a schema with ``anyOf`` *and* its own ``additionalProperties: false`` (the generator's way of
  writing polymorphic fields, e.g. ``5.0.Fields.BaseField``) keeps only the ``anyOf``: read
  literally it would reject the ``value`` every field carries, which the real server accepts.

Formats are checked for ``date-time`` (ISO 8601, as .NET parses it) and ``int32`` ranges.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

__all__ = ["SPEC_PATH", "Operation", "WebconSpec", "load_spec", "to_json_schema"]

SPEC_PATH = Path(__file__).with_name("webcon-bps-v6.0-openapi.json")
_BASE = "urn:webcon-bps-openapi"
_PERMISSIONS = re.compile(r"At least one permission required:\s*(.+)", re.IGNORECASE)

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("int32")  # type: ignore[untyped-decorator]
def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def to_json_schema(node: Any) -> Any:
    """One OpenAPI 3.0 schema (recursively) as a JSON Schema draft 4 schema."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = str(node["$ref"])
        return {"$ref": _BASE + ref if ref.startswith("#") else ref}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable", "readOnly", "writeOnly", "example", "xml", "discriminator"):
            continue
        if key == "properties" and isinstance(value, dict):
            # A map of schemas: convert its values, not the map itself.
            out[key] = {name: to_json_schema(v) for name, v in value.items()}
        else:
            out[key] = to_json_schema(value)
    if out.get("type") == "String":
        out["type"] = "string"
    if "anyOf" in out and out.get("additionalProperties") is False:
        out = {k: v for k, v in out.items() if k not in ("properties", "additionalProperties")}
    if node.get("nullable"):
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
    return out


class Operation:
    """One (method, path template) of the document: its body schema, answers and scopes."""

    def __init__(self, method: str, template: str, raw: dict[str, Any]) -> None:
        self.method = method
        self.template = template
        self.raw = raw
        self.parameters: list[dict[str, Any]] = raw.get("parameters", [])
        content = (raw.get("requestBody") or {}).get("content") or {}
        body = content.get("application/json") or next(iter(content.values()), None)
        self.body_schema: str | None = _ref_name(body["schema"]) if body else None
        self.responses: dict[int, str | None] = {}
        for code, answer in raw.get("responses", {}).items():
            schemas = [c.get("schema") for c in (answer.get("content") or {}).values()]
            self.responses[int(code)] = _ref_name(schemas[0]) if schemas and schemas[0] else None
        match = _PERMISSIONS.search(html.unescape(raw.get("description") or ""))
        #: Scopes of which a token needs at least one (empty: any valid token will do).
        self.scopes: frozenset[str] = frozenset(
            s.strip() for s in (match.group(1).split(";") if match else []) if s.strip()
        )


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if ref else None


class WebconSpec:
    """Validators for the schemas of the published document, built lazily and cached."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        raw = json.loads(path.read_bytes())
        self.version: str = raw["info"]["version"]
        self.schemas: dict[str, Any] = raw["components"]["schemas"]
        converted = {name: to_json_schema(s) for name, s in self.schemas.items()}
        self._converted = converted
        self._inline_cache: dict[str, Any] = {}
        resource = Resource.from_contents(
            {"components": {"schemas": converted}}, default_specification=DRAFT4
        )
        self._registry: Registry[Any] = Registry().with_resource(_BASE, resource)
        self._validators: dict[str, Draft4Validator] = {}
        self.operations: dict[tuple[str, str], Operation] = {
            (method.upper(), template): Operation(method.upper(), template, op)
            for template, item in raw["paths"].items()
            for method, op in item.items()
            if method in ("get", "post", "put", "patch", "delete")
        }

    def validator(self, schema_name: str) -> Draft4Validator:
        found = self._validators.get(schema_name)
        if found is None:
            if schema_name not in self.schemas:
                raise KeyError(f"schema {schema_name!r} is not in the document")
            found = Draft4Validator(
                self._inlined(schema_name, ()),
                registry=self._registry,
                format_checker=FORMATS,
            )
            self._validators[schema_name] = found
        return found

    def _inlined(self, name: str, stack: tuple[str, ...]) -> Any:
        """The converted schema with its ``$ref``s replaced by what they point at (a reference
        back into ``stack`` stays a reference): validation then never looks anything up, which
        makes it several times faster."""
        cached = self._inline_cache.get(name)
        if cached is not None:
            return cached

        def walk(node: Any) -> Any:
            if isinstance(node, list):
                return [walk(n) for n in node]
            if not isinstance(node, dict):
                return node
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_BASE + "#/components/schemas/"):
                target = ref.rsplit("/", 1)[-1]
                return node if target in stack else self._inlined(target, (*stack, name))
            return {k: (walk(v) if k != "enum" else v) for k, v in node.items()}

        out = walk(self._converted[name])
        if not stack:
            self._inline_cache[name] = out
        return out

    def errors(self, schema_name: str, instance: Any) -> list[str]:
        """Problems of ``instance`` against the named schema, each as ``path: message``."""
        validator = self.validator(schema_name)
        if validator.is_valid(instance):
            return []
        out = []
        for err in sorted(validator.iter_errors(instance), key=str):
            where = "/".join(str(p) for p in err.absolute_path) or "(body)"
            out.append(f"{where}: {_short(err.message)}")
        return out

    def operation(self, method: str, template: str) -> Operation:
        return self.operations[(method.upper(), template)]


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


@cache
def load_spec(path: Path = SPEC_PATH) -> WebconSpec:
    """The document, parsed once per process."""
    return WebconSpec(path)
