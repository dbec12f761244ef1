"""OpenAPI 3.1 document and offline docs page, generated from the pydantic models.

Each view of :mod:`service.api` is declared with an :class:`Operation` (method, path, role,
query model, body model, response models); the same declaration drives request validation in
the view and the document here, so the two cannot disagree. OpenAPI 3.1 uses JSON Schema
2020-12, which is what pydantic v2 emits, so the model schemas go into ``components`` as they
are. The docs page is plain HTML rendered on the server from that document: no JavaScript, no
CDN, so it works on an air-gapped bank network.

References
----------
OpenAPI Initiative, "OpenAPI Specification v3.1.0", 2021. https://spec.openapis.org/oas/v3.1.0
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from service.problems import PROBLEM_MIME, PROBLEM_TYPES
from service.schemas import ProblemOut

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    400: "Malformed request (body is not JSON)",
    401: "API key missing or not valid",
    403: "The API key's role may not do this",
    404: "No such resource",
    409: "Conflicts with the resource's current state",
    413: "Request body larger than the server accepts",
    415: "Content type is not application/json",
    422: "Validation failed; `errors` lists each field",
    429: "Too many requests for this API key; retry after `Retry-After` seconds",
    500: "Internal error; no decision was given",
    503: "Audit store unavailable; no decision was given",
}


@dataclass(frozen=True)
class Operation:
    """One endpoint as documented and validated.

    Attributes
    ----------
    method : str
        HTTP method, upper case.
    path : str
        OpenAPI path, e.g. ``/api/v1/assessments/{assessment_id}``.
    operation_id : str
        Unique id (the view's name).
    summary : str
        One line.
    description : str
        Longer text (Markdown).
    tag : str
        Group on the docs page.
    role : str or None
        Lowest role allowed; None for a public endpoint.
    query : pydantic model class or None
        Query parameters.
    body : pydantic model class or None
        JSON request body.
    responses : mapping
        Success status to ``(model or None, description)``.
    path_params : mapping
        Path parameter name to description.
    media_type : str
        Media type of the success response.
    extra_errors : tuple of int
        Error statuses beyond those implied by the other attributes.
    body_required : bool
        Whether the JSON body must be present (an empty body means ``{}`` otherwise).
    """

    method: str
    path: str
    operation_id: str
    summary: str
    description: str = ""
    tag: str = "api"
    role: str | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    responses: Mapping[int, tuple[type[BaseModel] | None, str]] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    extra_errors: tuple[int, ...] = ()
    body_required: bool = True

    def error_statuses(self) -> list[int]:
        """Every error status this operation can return."""
        codes = set(self.extra_errors) | {500}
        if self.role is not None:
            codes |= {401, 403, 429, 503}
        if self.query is not None:
            codes.add(422)
        if self.body is not None:
            codes |= {400, 413, 415, 422}
        if self.path_params:
            codes.add(404)
        return sorted(codes)


def build_document(
    operations: Sequence[Operation],
    *,
    title: str,
    version: str,
    description: str = "",
) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document for ``operations``.

    Parameters
    ----------
    operations : sequence of Operation
        Declared endpoints.
    title, version, description : str
        ``info`` of the document.
    """
    ref, schemas = _schema_refs(operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _path_item(op, ref)

    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ApiKeyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": (
                        "Key from `climate-loan keys create`; roles officer < modeller < admin."
                    ),
                }
            },
        },
        "security": [{"ApiKeyAuth": []}],
    }


_Mode = Literal["validation", "serialization"]
_Ref = Callable[[type[BaseModel], _Mode], dict[str, Any]]


def _schema_refs(operations: Sequence[Operation]) -> tuple[_Ref, dict[str, Any]]:
    """The ``$ref`` of each request and response model, and the schemas they point to."""
    entries: list[tuple[type[BaseModel], _Mode]] = [(ProblemOut, "serialization")]
    for op in operations:
        if op.body is not None:
            entries.append((op.body, "validation"))
        for model, _ in op.responses.values():
            if model is not None:
                entries.append((model, "serialization"))
    unique = list(dict.fromkeys(entries))
    keyed, top = models_json_schema(unique, ref_template=_REF)

    def ref(model: type[BaseModel], mode: _Mode) -> dict[str, Any]:
        return dict(keyed[(model, mode)])

    return ref, dict(top.get("$defs", {}))


def _path_item(op: Operation, ref: _Ref) -> dict[str, Any]:
    """The OpenAPI operation object of ``op``."""
    item: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.description:
        item["description"] = op.description
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": text,
            "schema": {"type": "string"},
        }
        for name, text in op.path_params.items()
    ]
    if op.query is not None:
        params.extend(_query_parameters(op.query))
    if params:
        item["parameters"] = params
    if op.body is not None:
        item["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": ref(op.body, "validation")}},
        }
    item["responses"] = _responses(op, ref)
    if op.role is not None:
        item["security"] = [{"ApiKeyAuth": []}]
        item["x-required-role"] = op.role
    else:
        item["security"] = []
    return item


def _responses(op: Operation, ref: _Ref) -> dict[str, Any]:
    """The declared responses of ``op``, then a problem+json one for each error status."""
    responses: dict[str, Any] = {}
    for status, (model, text) in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": text}
        if model is not None:
            entry["content"] = {op.media_type: {"schema": ref(model, "serialization")}}
        if status == 201:
            entry["headers"] = {
                "Location": {
                    "description": "Path of the new resource",
                    "schema": {"type": "string"},
                }
            }
        responses[str(status)] = entry
    problem_ref = ref(ProblemOut, "serialization")
    for status in op.error_statuses():
        entry = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {PROBLEM_MIME: {"schema": problem_ref}},
        }
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
        responses.setdefault(str(status), entry)
    return responses


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One OpenAPI parameter per field of a query model (null removed from optional types)."""
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        text = prop.pop("description", "")
        prop.pop("title", None)
        variants = prop.get("anyOf")
        if isinstance(variants, list):
            kept = [v for v in variants if v != {"type": "null"}]
            prop.pop("anyOf")
            if prop.get("default", "") is None:
                prop.pop("default")
            if len(kept) == 1:
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if text:
            param["description"] = text
        out.append(param)
    return out


# ----- docs page -----------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 2rem;
color:#1d2430}
h1{font-size:1.6rem}h2{border-bottom:2px solid #d8dee6;padding-bottom:.2rem;margin-top:2.2rem}
h3{font-size:1.05rem;margin:1.6rem 0 .3rem}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}
pre{background:#f4f6f8;padding:.6rem;overflow:auto}.m{display:inline-block;min-width:3.6rem;
font-weight:700;color:#fff;border-radius:3px;padding:0 .4rem;text-align:center;margin-right:.4rem}
.get{background:#2f6fb3}.post{background:#2f8a4c}.delete{background:#b33b2f}
table{border-collapse:collapse;width:100%;margin:.4rem 0}td,th{border:1px solid #d8dee6;
padding:.25rem .45rem;text-align:left;vertical-align:top}th{background:#f4f6f8}
.role{color:#6b4a00;background:#fff3d6;padding:0 .3rem;border-radius:3px}
"""


def _type_text(schema: Mapping[str, Any]) -> str:
    """Short human description of a JSON schema."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f'<a href="#schema-{html.escape(name)}">{html.escape(name)}</a>'
    if "anyOf" in schema:
        return " | ".join(_type_text(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(html.escape(json.dumps(v)) for v in schema["enum"])
    if "const" in schema:
        return html.escape(json.dumps(schema["const"]))
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_text(schema.get('items', {}))}"
    if (
        kind == "object"
        and "additionalProperties" in schema
        and isinstance(schema["additionalProperties"], Mapping)
    ):
        return f"map to {_type_text(schema['additionalProperties'])}"
    text = html.escape(str(kind))
    if "format" in schema:
        text += f" ({html.escape(str(schema['format']))})"
    bounds = [
        f"{sym} {schema[key]}"
        for key, sym in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if key in schema
    ]
    if bounds:
        text += " " + html.escape(", ".join(bounds))
    return text


_CODE_RE = re.compile(r"`([^`]+)`")


def _md(text: str) -> str:
    """Escape ``text`` for HTML, turning `backticked` spans into <code>."""
    return _CODE_RE.sub(r"<code>\1</code>", html.escape(text))


def render_docs(document: Mapping[str, Any]) -> str:
    """Render the OpenAPI document as a self-contained HTML page (no scripts, no CDN)."""
    e = html.escape
    info = document["info"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{e(info['title'])} — API</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(info['title'])} <small>v{e(info['version'])}</small></h1>",
        f"<p>{e(info.get('description', ''))}</p>",
        "<p>Machine-readable document: <a href=/openapi.json><code>/openapi.json</code></a> "
        "(OpenAPI 3.1). Send the key from <code>climate-loan keys create</code> in the "
        "<code>X-API-Key</code> header. Roles: officer &lt; modeller &lt; admin.</p>",
        "<h2 id=endpoints>Endpoints</h2>",
    ]
    for path, item in document["paths"].items():
        for method, op in item.items():
            parts += _docs_operation(path, method, op)
    parts += _docs_problem_types()
    parts.append("</table><h2 id=schemas>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        parts += _docs_schema(name, schema)
    parts.append("</body></html>")
    return "\n".join(parts)


def _docs_operation(path: str, method: str, op: Mapping[str, Any]) -> list[str]:
    """Heading, summary, parameters, body and responses of one operation."""
    e = html.escape
    anchor = e(op["operationId"])
    role = op.get("x-required-role")
    access = f"<span class=role>{e(role)}</span>" if role else "public"
    parts = [
        f"<h3 id={anchor}><span class='m {e(method)}'>{e(method.upper())}</span>"
        f"<code>{e(path)}</code></h3><p>{_md(op['summary'])} — {access}</p>"
    ]
    if op.get("description"):
        parts.append(f"<p>{_md(op['description'])}</p>")
    params = op.get("parameters", [])
    if params:
        parts.append(
            "<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>"
        )
        for p in params:
            req = " (required)" if p.get("required") else ""
            parts.append(
                f"<tr><td><code>{e(p['name'])}</code>{req}</td><td>{e(p['in'])}</td>"
                f"<td>{_type_text(p['schema'])}</td>"
                f"<td>{_md(p.get('description', ''))}</td></tr>"
            )
        parts.append("</table>")
    body = op.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        parts.append(f"<p>Body (application/json): {_type_text(schema)}</p>")
    parts.append("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>")
    for status, resp in op["responses"].items():
        content = resp.get("content", {})
        body_text = ", ".join(f"{e(mt)}: {_type_text(c['schema'])}" for mt, c in content.items())
        parts.append(
            f"<tr><td>{e(status)}</td><td>{_md(resp['description'])}</td><td>{body_text}</td></tr>"
        )
    parts.append("</table>")
    return parts


def _docs_problem_types() -> list[str]:
    """The table of problem types (the anchors the ``type`` of each problem points to), open."""
    e = html.escape
    parts = [
        "<h2 id=problems>Problem types</h2><p>Every error is <code>application/problem+json</code> "
        "(RFC 9457) with <code>type</code>, <code>title</code>, <code>status</code>, "
        "<code>detail</code>, <code>instance</code> (the request id) and, for invalid "
        "fields, <code>errors</code>.</p><table><tr><th>type</th><th>title</th></tr>"
    ]
    for slug, title in PROBLEM_TYPES.items():
        parts.append(
            f"<tr id=problem-{e(slug)}><td><code>{e(slug)}</code></td><td>{e(title)}</td></tr>"
        )
    return parts  # the caller closes the table


def _docs_schema(name: str, schema: Mapping[str, Any]) -> list[str]:
    """Heading, description and fields (or values) of one schema."""
    e = html.escape
    parts = [f"<h3 id=schema-{e(name)}>{e(name)}</h3>"]
    if schema.get("description"):
        parts.append(f"<p>{_md(str(schema['description']))}</p>")
    props = schema.get("properties")
    if props:
        required = set(schema.get("required", []))
        parts.append("<table><tr><th>field</th><th>type</th><th>description</th></tr>")
        for pname, pschema in props.items():
            req = " (required)" if pname in required else ""
            parts.append(
                f"<tr><td><code>{e(pname)}</code>{req}</td><td>{_type_text(pschema)}</td>"
                f"<td>{_md(str(pschema.get('description', '')))}</td></tr>"
            )
        parts.append("</table>")
    elif "enum" in schema:
        parts.append(f"<p>One of {_type_text(schema)}</p>")
    return parts


def operation_paths(document: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """Yield ``(method, path)`` of every operation in a document."""
    for path, item in document["paths"].items():
        for method in item:
            yield method.upper(), path
