"""Gunicorn sync worker whose own error answers are problem+json, not HTML.

Gunicorn answers a request it cannot parse — a request line over ``limit_request_line``
(414), a header over ``limit_request_field_size`` or too many headers (431), a malformed line
(400) — itself, before the application sees it, with a small HTML page. This worker makes those
answers ``application/problem+json`` like every other error of the API (:mod:`service.problems`).

Gunicorn writes them through :func:`gunicorn.util.write_error`; the worker replaces that
function in its own process when it starts (gunicorn offers no hook for it). The limits are set
by ``climate-loan serve`` (:mod:`service.cli_server`).
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util  # type: ignore[import-untyped]
from gunicorn.workers.sync import SyncWorker  # type: ignore[import-untyped]

from service.problems import PROBLEM_MIME, PROBLEM_TYPES, TYPE_BASE

#: Problem slug of each status gunicorn answers by itself.
_SLUGS = {400: "bad-request", 403: "forbidden", 414: "uri-too-long", 431: "headers-too-large"}
_DETAILS = {
    414: "the request line (method, path and query) is longer than this server accepts",
    431: "a request header is larger than this server accepts, or there are too many",
}


def problem_bytes(status_int: int, reason: str, mesg: str) -> bytes:
    """The raw HTTP response of a problem that gunicorn answers by itself."""
    slug = _SLUGS.get(status_int, "bad-request" if status_int < 500 else "internal-error")
    detail = _DETAILS.get(status_int) or (mesg if status_int < 500 else "internal error")
    body = json.dumps(
        {
            "type": TYPE_BASE + slug,
            "title": PROBLEM_TYPES.get(slug, reason),
            "status": status_int,
            "detail": detail[:500],
        }
    ).encode("utf-8")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_MIME}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


def write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for :func:`gunicorn.util.write_error` that writes problem+json."""
    util.write_nonblock(sock, problem_bytes(status_int, reason, mesg))


class ProblemSyncWorker(SyncWorker):  # type: ignore[misc]
    """Gunicorn's sync worker, answering its own errors as problem+json."""

    def init_process(self) -> None:
        """Install :func:`write_problem`, then run as the sync worker does."""
        util.write_error = write_problem
        super().init_process()
