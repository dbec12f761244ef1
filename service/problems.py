"""Errors as ``application/problem+json`` (RFC 9457) for every status the API returns.

A view raises :class:`Problem` (or lets Flask raise an HTTP error); :func:`register` installs
handlers that turn both, and any unexpected exception, into a problem document with ``type``,
``title``, ``status``, ``detail``, ``instance`` (the request id) and, for field problems,
``errors`` — a list of ``{field, pointer, message, type}`` a client can show next to a form field.

References
----------
M. Nottingham, E. Wilde, S. Dalal, "Problem Details for HTTP APIs", RFC 9457, 2023.
https://doi.org/10.17487/RFC9457
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Flask, Response, g, json
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

#: Media type of every error response.
PROBLEM_MIME = "application/problem+json"
#: Base of the ``type`` URIs; each resolves to a section of the docs page.
TYPE_BASE = "/docs#problem-"

#: Problem slugs with their titles; the docs page lists them.
PROBLEM_TYPES: dict[str, str] = {
    "bad-request": "Malformed request",
    "unauthorized": "API key missing or not valid",
    "forbidden": "API key lacks the role for this action",
    "not-found": "No such resource",
    "method-not-allowed": "Method not allowed on this resource",
    "conflict": "Conflicts with the resource's current state",
    "payload-too-large": "Request body too large",
    "uri-too-long": "Request line too long",
    "headers-too-large": "Request header fields too large",
    "unsupported-media-type": "Unsupported content type",
    "validation-error": "Request failed validation",
    "rate-limited": "Too many requests",
    "internal-error": "Internal error",
    "store-unavailable": "Audit store unavailable",
}
_STATUS_SLUG = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    414: "uri-too-long",
    431: "headers-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    503: "store-unavailable",
}
_log = logging.getLogger("climate_loan.service")


class Problem(Exception):
    """An error to send as problem+json.

    Parameters
    ----------
    status : int
        HTTP status code.
    detail : str
        What went wrong, in words a loan officer can act on.
    slug : str, optional
        Key of :data:`PROBLEM_TYPES`; derived from ``status`` when omitted.
    errors : sequence of dict, optional
        Field problems, each ``{field, pointer, message, type}``.
    headers : mapping, optional
        Extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _STATUS_SLUG.get(status, "bad-request")
        self.errors = [dict(e) for e in errors] if errors else None
        self.headers = dict(headers or {})


def field_error(field: str, message: str, type_: str = "value_error") -> dict[str, str]:
    """One entry of ``errors`` for a dotted field path such as ``project.turbine_type``."""
    parts = [p for p in field.split(".") if p]
    return {
        "field": field,
        "pointer": "/" + "/".join(parts),
        "message": message,
        "type": type_,
    }


def validation_problem(exc: ValidationError, *, prefix: Iterable[str] = ()) -> Problem:
    """Turn a pydantic :class:`ValidationError` into a 422 :class:`Problem` with field errors.

    Parameters
    ----------
    exc : pydantic.ValidationError
        The validation failure.
    prefix : iterable of str
        Location of the validated object in the request (``("query",)`` for parameters).
    """
    errors = []
    for err in exc.errors(include_url=False):
        loc = [*prefix, *(str(p) for p in err["loc"])]
        field = ".".join(loc) if loc else "(body)"
        errors.append(
            {
                "field": field,
                "pointer": "/" + "/".join(loc),
                "message": _message(err),
                "type": err["type"],
            }
        )
    n = len(errors)
    first = errors[0]
    detail = f"{first['field']}: {first['message']}"
    if n > 1:
        detail += f" (and {n - 1} more problem{'s' if n > 2 else ''})"
    return Problem(422, detail, errors=errors)


def _message(err: Mapping[str, Any]) -> str:
    """Pydantic's message without its "Value error, " prefix; plainer words for two kinds."""
    if err["type"] == "extra_forbidden":
        return "unknown field (not part of the request format)"
    if err["type"] == "missing":
        return "required field is missing"
    return str(err["msg"]).removeprefix("Value error, ")


def problem_response(problem: Problem) -> Response:
    """Render a :class:`Problem` as an ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + problem.slug,
        "title": PROBLEM_TYPES.get(problem.slug, "Error"),
        "status": problem.status,
        "detail": problem.detail,
    }
    request_id = g.get("request_id")
    if request_id:
        body["instance"] = f"urn:request:{request_id}"
    if problem.errors is not None:
        body["errors"] = problem.errors
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_MIME)
    for key, value in problem.headers.items():
        response.headers[key] = value
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    detail = {
        404: "no such resource; see /openapi.json for the endpoints of this API",
        413: "the request body is larger than this server accepts",
    }.get(status, exc.description or "")
    headers: dict[str, str] = {}
    if status == 405:
        valid = exc.valid_methods if hasattr(exc, "valid_methods") else None
        if valid:
            headers["Allow"] = ", ".join(sorted(valid))
            detail = f"use one of {', '.join(sorted(valid))} on this resource"
    return problem_response(Problem(status, detail, headers=headers))


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    _log.exception("unhandled error: %s", exc.__class__.__name__)
    return problem_response(
        Problem(
            500,
            "an internal error occurred; no decision was given. Quote the request id to support",
        )
    )


def register(app: Flask) -> None:
    """Install the problem+json error handlers on ``app``."""
    app.register_error_handler(Problem, problem_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
