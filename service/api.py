"""The API blueprint: endpoints of contract v1 under ``/api/v1``.

Every view is declared with :func:`endpoint`, which records an
:class:`~service.openapi.Operation` (for ``/openapi.json`` and ``/docs``) and wraps the view
with, in this order: API-key check and role (401/403), rate limit (429), content type (415),
JSON body (400/413), and pydantic validation of query and body (422). A view therefore only
sees validated input, and every error leaves as problem+json (:mod:`service.problems`).

An assessment is written to the audit store before its response is sent; when the store cannot
take it the client gets 503 and no decision.

Every assessment uses the production PD scorecard of the model registry
(:class:`ProductionScorecard`, held per worker and reloaded when the registry changes) and
records its id and sha256 in ``provenance.model_versions.scorecard``; a replay uses the card it
recorded.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, request
from pydantic import BaseModel, ValidationError

from climate_data.errors import ClimateDataError, SiteOutsideCoverage
from models import turbines
from models.assessment import assess, software_drift
from models.errors import ModelInputError
from models.policy import PolicyError, load_policy_version
from models.registry import ModelCard, Registry, RegistryError
from models.scorecard import ScorecardError, card_model
from service import assessments, auth, schemas
from service import exports as _exports
from service.config import ServiceConfig
from service.openapi import Operation, build_document, render_docs
from service.problems import Problem, field_error, validation_problem
from service.ratelimit import AuthThrottle, RequestLimiter
from service.requests import AssessmentRequest, to_model_inputs
from service.security import client_address, security_event
from service.store import (
    PUBLIC_DETAIL,
    ApiKeyRecord,
    AssessmentRecord,
    AuditStore,
    StoreUnavailable,
    utcnow,
)

API_PREFIX = "/api/v1"
#: Key of the per-app state in ``app.extensions``.
EXTENSION = "climate_loan"

_log = logging.getLogger("climate_loan.api")

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
root = Blueprint("root", __name__)

#: Every declared operation, in declaration order.
OPERATIONS: list[Operation] = []

F = TypeVar("F", bound=Callable[..., Any])


def models_folder(config: ServiceConfig) -> Path:
    """Registry folder of the service: ``models_dir``, else ``<instance>/models``."""
    return config.models_dir or config.resolved_instance_path() / "models"


#: Provenance entry of a scorecard (:func:`models.assessment.scorecard_version`).
_SCORECARD_ENTRY = re.compile(r"^(scorecard-v[0-9]+) \(sha256 ([0-9a-f]{12})\)$")


class ProductionScorecard:
    """The production PD scorecard of one worker, reloaded when the registry folder changes.

    Parameters
    ----------
    folder : Path
        The model registry (:class:`models.registry.Registry`; shipped ``scorecard-v0`` when
        it has no production scorecard).

    Notes
    -----
    :meth:`models.registry.Registry.production` reads and verifies every card in the folder:
    about 3 ms with the shipped card alone and 14 ms with five cards (measured on the 2-core
    development machine), too slow for every request. ``os.stat`` of the folder costs about
    5 µs. The registry writes each card through a temporary file renamed into the folder, so a
    save, promotion or retirement by any process changes the folder's mtime; :meth:`current`
    reloads when it has changed. File-system timestamps are coarse (a second write in the
    same clock tick leaves the mtime unchanged), so a folder changed less than
    :attr:`RACY_NS` before it was read is read again on the next call.
    """

    #: A folder modified this recently when read is read again next time [ns].
    RACY_NS = 2_000_000_000

    def __init__(self, folder: Path, pins: AuditStore | None = None) -> None:

        self.registry = Registry(folder)
        self.pins = pins
        self._lock = threading.Lock()
        self._card: ModelCard | None = None
        self._stamp: tuple[int, int] | None = None
        self._loaded = False
        self._fresh = False
        #: Why the registry's production card is not the one served (None when it is).
        self.problem: str | None = None

    def _check_pin(self, card: ModelCard) -> None:
        """Pin the card's sha256 on first use; refuse a card that differs from its pin.

        A card's own sha256 only proves that the file is consistent with itself: whoever can
        edit the file can recompute it. The pin in the audit database (written the first time
        any worker serves the card) is out of the registry folder's reach.
        """
        if self.pins is None:
            return
        try:
            pinned = self.pins.pin_card(card.id, card.sha256, card.to_json())
        except StoreUnavailable as exc:
            _log.warning("model card %s not checked against its pin: %s", card.id, exc)
            return
        if pinned != card.sha256:
            raise RegistryError(
                f"{card.id} in {self.registry.path} is not the card that went into production "
                f"(sha256 {card.sha256[:12]}, pinned {pinned[:12]} in the audit database): it "
                "was changed after it was first used"
            )

    def _last_pinned(self) -> ModelCard | None:
        """The most recently pinned scorecard that still verifies, or None."""
        if self.pins is None:
            return None
        try:
            texts = self.pins.latest_pinned_cards("scorecard-")
        except StoreUnavailable:
            return None
        for text in texts:
            try:
                return ModelCard.from_json(text, source="pinned card")
            except RegistryError:
                continue
        return None

    def _folder_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.registry.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def reload(self) -> ModelCard | None:
        """Read the production scorecard now (None when the registry has none at all).

        Raises
        ------
        models.registry.RegistryError
            A card in the folder fails its hash check.
        models.scorecard.ScorecardError
            The production card cannot be used for prediction.
        """
        with self._lock:
            stamp = self._folder_stamp()  # before reading: a later write gives a new stamp
            try:
                card = self.registry.production("scorecard")
                if card is not None:
                    card_model(card)
                    self._check_pin(card)
            except (RegistryError, ScorecardError) as exc:
                # Keep serving the last good card (this worker's, else the last pinned one)
                # and say so in health and the log, rather than stop lending decisions.
                good = self._card if self._loaded else self._last_pinned()
                if good is None:
                    raise
                if self.problem != str(exc):
                    _log.error("model registry damaged, still serving %s: %s", good.id, exc)
                self.problem = str(exc)
                self._card, self._stamp, self._loaded = good, stamp, True
                self._fresh = stamp is None or time.time_ns() - stamp[0] >= self.RACY_NS
                return good
            if self.problem is not None:
                _log.info("model registry usable again")
            self.problem = None
            before = self._card.id if self._card is not None else None
            if self._loaded and (card.id if card is not None else None) != before:
                _log.info("production scorecard is now %s", card.id if card else "none")
            self._card, self._stamp, self._loaded = card, stamp, True
            self._fresh = stamp is None or time.time_ns() - stamp[0] >= self.RACY_NS
            return card

    def current(self) -> ModelCard | None:
        """The production scorecard, reloaded first if the registry folder has changed."""
        stamp = self._folder_stamp()
        with self._lock:
            if self._loaded and self._fresh and stamp == self._stamp:
                return self._card
        return self.reload()

    def current_id(self) -> str | None:
        """Id of the scorecard last loaded (no reload), for logs."""
        return self._card.id if self._card is not None else None

    def recorded(self, entry: str) -> ModelCard:
        """The card named by a provenance entry ``"<id> (sha256 <12 hex>)"``, as it was used.

        A card's sha256 covers its status history, which grows when it is promoted or
        retired; the card as it was used is the stored card with its history cut back to the
        entry whose hash matches.

        Raises
        ------
        models.registry.RegistryError
            The entry is malformed, the card is no longer in the registry, or no state of the
            stored card has the recorded hash (it was replaced).
        """
        m = _SCORECARD_ENTRY.match(entry)
        if m is None:
            raise RegistryError(f"{entry!r} is not a scorecard provenance entry")
        card_id, sha12 = m.groups()
        try:
            card = self.registry.show(card_id)
        except RegistryError as exc:
            raise RegistryError(
                f"it was made with {entry}, which is no longer in the registry at "
                f"{self.registry.path} ({exc})"
            ) from None
        for k in range(len(card.history), -1, -1):
            history = card.history[:k]
            status = str(history[-1]["status"]) if history else card.status
            then = card if k == len(card.history) else replace(card, history=history, status=status)
            if then.sha256.startswith(sha12):
                return then
        raise RegistryError(
            f"it was made with {entry}, but {card_id} in {self.registry.path} has different "
            f"content (sha256 {card.sha256[:12]} with no earlier state matching): the card was "
            "replaced"
        )


@dataclass
class ServiceState:
    """What one worker process loads once in the factory and shares between requests.

    Attributes
    ----------
    config : ServiceConfig
        Validated settings.
    cube : climate_data.cube.Cube
        The indicator cube, in memory.
    store : AuditStore
        Audit database.
    policies : dict
        Lending policies by id (``models.policy.Policy``).
    default_policies : dict
        Default policy id per technology.
    code_version : str
        Version of this package.
    limiter : RateLimiter or service.ratelimit.StorageRateLimiter
        Per-key request counter (shared by the workers when a storage is configured).
    scorecards : ProductionScorecard or None
        The production PD scorecard; None runs assessments without one.
    auth_throttle : service.ratelimit.AuthThrottle or None
        Counter of failed keys and sign-ins per client address; None: no throttling.
    """

    config: ServiceConfig
    cube: Any
    store: AuditStore
    policies: dict[str, Any]
    default_policies: dict[str, str]
    code_version: str
    limiter: RequestLimiter
    scorecards: ProductionScorecard | None = None
    auth_throttle: AuthThrottle | None = None
    _document: dict[str, Any] | None = field(default=None, repr=False)

    def document(self) -> dict[str, Any]:
        """Return the OpenAPI document (built on first use)."""
        if self._document is None:
            self._document = build_document(
                OPERATIONS,
                title="Climate Loan Risk",
                version=self.code_version,
                description=(
                    "Whether a wind or solar project can repay its loan, judged from decades of "
                    "gridded weather data. Contract v1."
                ),
            )
        return self._document


def state() -> ServiceState:
    """Return the :class:`ServiceState` of the current app."""
    st: ServiceState = current_app.extensions[EXTENSION]
    return st


# ----- request handling ----------------------------------------------------------------------


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Make a JSON response with keys in the order given (no NaN: JSON has none)."""
    text = body if isinstance(body, str) else dumps_finite(body)
    response = Response(text, status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def dumps_finite(body: Any) -> str:
    """JSON text of ``body``; a NaN or infinity anywhere is a 500 problem, never output.

    The last guard before a response leaves: the models should never produce a non-finite
    number, and if one does, the client gets an error instead of ``NaN`` (which is not JSON
    and which a client might read as a figure).

    Raises
    ------
    Problem
        500 when ``body`` holds a non-finite float.
    """
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False)
    except ValueError:
        _log.error("response holds a non-finite number; not sent")
        raise Problem(
            500,
            "the computation produced a number that is not finite (NaN or infinity); no "
            "decision was given. Quote the request id to support",
        ) from None


def store_problem(exc: StoreUnavailable) -> Problem:
    """503 for an unusable audit store; the driver's words (hosts, ports) go to the log only."""
    _log.error("audit store unavailable: %s", exc)
    return Problem(503, f"{PUBLIC_DETAIL}; retry later", headers={"Retry-After": "30"})


def _authorize(role: str) -> Any:
    st = state()
    header = request.headers.get(auth.HEADER)
    challenge = {"WWW-Authenticate": f'ApiKey header="{auth.HEADER}"'}
    address = client_address()
    throttle = st.auth_throttle
    blocked = throttle.blocked(address) if throttle is not None else None
    if blocked is not None:
        security_event("auth_throttled", "API request refused: too many bad keys from address")
        raise Problem(
            429,
            f"too many requests with a bad API key from this address; retry in {blocked} s",
            headers={"Retry-After": str(blocked)},
        )
    if not header:
        raise Problem(401, f"send your API key in the {auth.HEADER} header", headers=challenge)
    try:
        record, reason = auth.check_key(st.store, header)
    except StoreUnavailable as exc:
        _log.error("API key not checked: %s", exc)
        raise Problem(
            503,
            f"{PUBLIC_DETAIL}; no decision was given, retry later",
            headers={"Retry-After": "30"},
        ) from exc
    if record is None:
        if throttle is not None:
            throttle.failed(address)
        security_event(
            "api_key_refused",
            f"API key refused: {reason}",
            api_key_id=auth.key_id_of(header.strip()),
        )
        raise Problem(
            401, "the API key is not valid, was revoked or has expired", headers=challenge
        )
    g.api_key = record
    if not auth.has_role(record.role, role):
        raise Problem(
            403, f"this action needs the {role} role; the key {record.id} is {record.role}"
        )
    wait = st.limiter.check(record.id)
    if wait is not None:
        raise Problem(
            429,
            f"more than {st.limiter.per_minute} requests in a minute for this key; "
            f"retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    return record


def _json_body() -> Any:
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        shown = mimetype or "none"
        raise Problem(415, f"send the body as application/json (Content-Type was {shown})")
    data = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        parsed = json.loads(data)
    except UnicodeDecodeError:
        raise Problem(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise Problem(
            400, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise Problem(400, f"the body is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise Problem(400, f"the body is not usable JSON: {exc}") from None
    check_json_input(parsed)
    return parsed


#: Deepest nesting of arrays and objects a request body may have (a request needs 4).
MAX_JSON_DEPTH = 32


def check_json_input(value: Any) -> None:
    """Refuse a body nested deeper than :data:`MAX_JSON_DEPTH` or holding a NUL character.

    Iterative, so that no input can exhaust the stack. NUL cannot be stored in a PostgreSQL
    text column (and nothing in a request needs it): it is refused here, with the field, instead
    of failing later as an unavailable store.

    Raises
    ------
    Problem
        400 for too deep a nesting, 422 naming the field for a NUL.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise Problem(400, f"the body is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, str):
            if "\x00" in item:
                name = ".".join(path) or "(body)"
                raise Problem(
                    422,
                    f"{name}: must not contain the NUL character",
                    errors=[field_error(name, "must not contain the NUL character")],
                )
        elif isinstance(item, dict):
            for k, v in item.items():
                if "\x00" in k:
                    raise Problem(400, "a field name contains the NUL character")
                stack.append((v, (*path, k)))
        elif isinstance(item, list):
            stack.extend((v, (*path, str(i))) for i, v in enumerate(item))


def endpoint(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    responses: Mapping[int, tuple[type[BaseModel] | None, str]],
    role: str | None = "officer",
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    description: str = "",
    path_params: Mapping[str, str] | None = None,
    extra_errors: tuple[int, ...] = (),
    blueprint: Blueprint = bp,
    prefix: str = API_PREFIX,
    media_type: str = "application/json",
    document: bool = True,
    body_required: bool = True,
) -> Callable[[F], F]:
    """Declare a view: register the route, validate its input, and document it.

    The wrapped view receives ``query=`` and ``body=`` (validated pydantic instances) when
    ``query`` or ``body`` models are given, plus the path parameters. With
    ``body_required=False`` an empty body counts as ``{}``.
    """

    def decorate(view: F) -> F:
        path = prefix + rule.replace("<", "{").replace(">", "}")
        if document:
            OPERATIONS.append(
                Operation(
                    method=method,
                    path=path,
                    operation_id=view.__name__,
                    summary=summary,
                    description=description,
                    tag=tag,
                    role=role,
                    query=query,
                    body=body,
                    responses=responses,
                    path_params=path_params or {},
                    media_type=media_type,
                    extra_errors=extra_errors,
                    body_required=body_required,
                )
            )

        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            if role is not None:
                _authorize(role)
            if query is not None:
                try:
                    kwargs["query"] = query.model_validate(request.args.to_dict(flat=True))
                except ValidationError as exc:
                    raise validation_problem(exc) from None
            if body is not None:
                raw = {} if not body_required and not request.get_data(cache=True) else _json_body()
                g.raw_body = raw
                try:
                    kwargs["body"] = body.model_validate(raw)
                except ValidationError as exc:
                    raise validation_problem(exc) from None
            try:
                return view(**kwargs)
            except _Replay as replay:
                return replay.response

        blueprint.add_url_rule(rule, view.__name__, wrapper, methods=[method])
        return view

    return decorate


# ----- health, docs --------------------------------------------------------------------------


@endpoint(
    "GET",
    "/health",
    summary="Service health: cube and audit database",
    tag="service",
    role=None,
    responses={
        200: (schemas.HealthOut, "Cube loaded and audit database usable"),
        503: (schemas.HealthOut, "Degraded: the audit database is unavailable"),
    },
)
def health() -> Response:
    """Report the cube loaded by this worker and the audit database status."""
    st = state()
    ds = st.cube.dataset
    cube = {
        "status": "ok",
        "id": ds.id,
        "sha256": st.cube.sha256,
        "synthetic": bool(ds.synthetic),
        "start": ds.start,
        "end": ds.end,
    }
    database = st.store.status()
    ok = database["status"] == "ok"
    body: dict[str, Any] = {
        "status": "ok" if ok else "degraded",
        "version": st.code_version,
        "cube": cube,
        "database": database,
    }
    if st.scorecards is not None:
        served = st.scorecards.current_id()
        problem = st.scorecards.problem
        # a damaged registry degrades the service but does not take it out of a load
        # balancer: it keeps lending with the last good card (named here)
        body["scorecard"] = {"status": "ok" if problem is None else "degraded", "serving": served}
        if problem is not None:
            body["status"] = "degraded"
            body["scorecard"]["detail"] = problem
    return json_response(body, 200 if ok else 503)


@endpoint(
    "GET",
    "/openapi.json",
    summary="This API's OpenAPI 3.1 document",
    tag="service",
    role=None,
    responses={200: (None, "OpenAPI document")},
    blueprint=root,
    prefix="",
)
def openapi_json() -> Response:
    """Serve the OpenAPI document generated from the pydantic models."""
    return json_response(state().document())


@endpoint(
    "GET",
    "/docs",
    summary="Human-readable API documentation (works offline)",
    tag="service",
    role=None,
    responses={200: (None, "HTML page")},
    blueprint=root,
    prefix="",
    media_type="text/html",
)
def docs() -> Response:
    """Serve the docs page rendered from the OpenAPI document."""
    return Response(render_docs(state().document()), mimetype="text/html")


# ----- site climate --------------------------------------------------------------------------


def _site(lat: float, lon: float, where: str) -> Any:
    try:
        return state().cube.site(lat, lon)
    except SiteOutsideCoverage as exc:
        raise Problem(
            422, str(exc), errors=[field_error(where, str(exc), "site_outside_coverage")]
        ) from None


@endpoint(
    "GET",
    "/sites/climate",
    summary="Climate of a site: wind and sunshine years of the nearest cell",
    tag="sites",
    query=schemas.SiteClimateQuery,
    responses={200: (schemas.SiteClimateOut, "Site-climate object")},
)
def site_climate(query: schemas.SiteClimateQuery) -> Response:
    """Return the site-climate object at ``hub_height_m``."""
    site = _site(query.lat, query.lon, "lat")
    return json_response(site.summary(query.hub_height_m))


# ----- assessments ---------------------------------------------------------------------------


def _replay_policy(policy_id: str, version: str) -> Any:
    """The policy ``policy_id`` at ``version`` for a replay, or a 409 problem if it is gone."""
    try:
        return load_policy_version(policy_id, version)
    except PolicyError as exc:
        raise Problem(
            409, f"the assessment cannot be replayed with the policy that made it: {exc}"
        ) from None


def run_assessment(
    st: ServiceState,
    parsed: AssessmentRequest,
    *,
    seed: int,
    created_at: datetime | None = None,
    assessment_id: str | None = None,
    replay_of: Mapping[str, Any] | None = None,
    policy_version: str | None = None,
) -> dict[str, Any]:
    """Compute (not store) the assessment object of a validated request with ``seed``.

    The same request, seed, cube, policy, scorecard and code give the same object.
    ``created_at`` and ``assessment_id``, when given, replace the fresh ones (a replay of a
    stored record). The PD scorecard is the production one, or with ``replay_of`` (the
    ``model_versions`` of a stored assessment) the card recorded there, or none if none is.
    ``policy_version`` (a replay) applies the policy at that version, the current one or an
    archived earlier one (:func:`models.policy.load_policy_version`).

    Raises
    ------
    Problem
        422 for a site outside the data; 409 when a replay's scorecard or policy version is
        gone; 500 when the model registry is damaged.
    """
    inputs = to_model_inputs(parsed.model_copy(update={"seed": seed}))
    if policy_version is not None and policy_version != inputs.policy.version:
        inputs = replace(inputs, policy=_replay_policy(inputs.policy.id, policy_version))
    site = _site(inputs.lat, inputs.lon, "site")
    kwargs: dict[str, Any] = {
        "seed": seed,
        "code_version": st.code_version,
        "scorecard": _scorecard(st, replay_of),
        "project_cost": inputs.project_cost,
        "driver_overrides": inputs.driver_overrides,
    }
    optional = {
        "created_at": created_at,
        "assessment_id": assessment_id,
        "n_paths": st.config.mc_paths,
        "operating_history": inputs.operating_history,
        "site_evidence": inputs.site_evidence,
    }
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    try:
        result = assess(site, inputs.project, inputs.terms, inputs.policy, **kwargs)
    except ClimateDataError as exc:
        raise Problem(422, str(exc), errors=[field_error("site", str(exc))]) from None
    except ScorecardError as exc:  # the card, not the request, is at fault
        raise Problem(500, f"the PD scorecard cannot be used: {exc}") from None
    except ModelInputError as exc:
        # A request the schema accepts but the models cannot use (e.g. too few usable months
        # of operating history): the message names the problem. Site evidence
        # (models.evidence.EvidenceError) names its request field. Any other exception is a
        # fault of the code and leaves as a 500 with nothing of its text (service.problems).
        where = str(getattr(exc, "field", "(body)"))
        raise Problem(422, str(exc), errors=[field_error(where, str(exc))]) from None
    out: dict[str, Any] = result.to_dict()
    return out


@endpoint(
    "POST",
    "/assessments",
    summary="Assess a project: decision, rules, energy and repayment; stored before it is returned",
    description=(
        "Send an `Idempotency-Key` header (e.g. a UUID) to make the request safe to retry: a "
        "retry with the same key and body returns the stored assessment (same id and body, "
        "header `Idempotent-Replayed: true`) instead of making another; the same key with a "
        "different body is 422. Keys are per API key and kept with the audit records."
    ),
    tag="assessments",
    body=AssessmentRequest,
    responses={201: (schemas.AssessmentOut, "Assessment object (stored)")},
)
def create_assessment(body: AssessmentRequest) -> Response:
    """Assess a request, write it to the audit store, then return it (201).

    With an ``Idempotency-Key`` header, a retry of the same request by the same API key
    returns the assessment stored the first time (same id, same body) instead of making a
    second one; the same key with a different request is 422.
    """
    st = state()
    raw: dict[str, Any] = g.raw_body
    idempotency = _idempotency(st, raw)
    stored, replayed = make_assessment(st, body, raw, g.api_key, idempotency=idempotency)
    if replayed:  # a concurrent retry with the same Idempotency-Key won
        return _replayed(stored)
    return json_response(
        stored.response_json, 201, {"Location": f"{API_PREFIX}/assessments/{stored.id}"}
    )


def make_assessment(
    st: ServiceState,
    body: AssessmentRequest,
    raw: Any,
    caller: ApiKeyRecord,
    *,
    idempotency: tuple[str, str] | None = None,
) -> tuple[AssessmentRecord, bool]:
    """Assess a validated request and record it for ``caller``; what the API and web page run.

    Returns the stored record and whether it is an earlier one (a concurrent retry with the
    same Idempotency-Key was stored first).

    Raises
    ------
    Problem
        As :func:`run_assessment`; 503 (no decision) when the audit store cannot take it; 422
        for an Idempotency-Key used with another request.
    """
    seed = body.seed if body.seed is not None else secrets.randbelow(2**32)
    created_at = utcnow()
    out = run_assessment(st, body, seed=seed, created_at=created_at)
    text = dumps_finite(out)
    prov = out["provenance"]
    record = AssessmentRecord(
        id=str(out["id"]),
        created_at=created_at,
        request_id=g.get("request_id", ""),
        api_key_id=caller.id,
        decision=str(out["decision"]),
        technology=body.project.technology,
        site_lat=body.site.lat,
        site_lon=body.site.lon,
        site_name=body.site.name,
        dataset_sha256=str(prov["dataset_sha256"]),
        policy_id=str(prov["policy_id"]),
        policy_version=str(prov["policy_version"]),
        model_versions=dict(prov.get("model_versions") or {}),
        code_version=str(prov["code_version"]),
        seed=seed,
        request_json=json.dumps(raw, ensure_ascii=False, allow_nan=False),
        response_json=text,
    )
    try:
        stored = assessments.record(st.store, caller, record, idempotency=idempotency)
    except assessments.IdempotencyMismatch as exc:
        raise _idempotency_problem(exc) from None
    except StoreUnavailable as exc:
        _log.error(
            "assessment %s not stored: %s", record.id, exc, extra={"assessment_id": record.id}
        )
        raise Problem(
            503,
            f"the assessment could not be recorded ({PUBLIC_DETAIL}); no decision was given, "
            "retry later",
            headers={"Retry-After": "30"},
        ) from None
    return stored, stored is not record


#: Request header that makes ``POST /assessments`` safe to retry.
IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


def _idempotency(st: ServiceState, raw: Any) -> tuple[str, str] | None:
    """``(key, request sha256)`` of the request's Idempotency-Key, or None without one.

    Raises
    ------
    Problem
        400 for a malformed key; 201 with the stored assessment is raised as a
        :class:`_Replay`; 422 when the key was used with another request.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None or request.blueprint != bp.name:  # the web form has its own CSRF token
        return None
    if not _IDEMPOTENCY_RE.match(key):
        raise Problem(
            400,
            f"{IDEMPOTENCY_HEADER} must be 1 to 255 visible ASCII characters (e.g. a UUID)",
        )
    sha = assessments.request_sha256(raw)
    try:
        found = assessments.find_idempotent(st.store, g.api_key, key, sha)
    except assessments.IdempotencyMismatch as exc:
        raise _idempotency_problem(exc) from None
    except StoreUnavailable as exc:
        _log.error("idempotency key not checked: %s", exc)
        raise Problem(
            503,
            f"{PUBLIC_DETAIL}; no decision was given, retry later",
            headers={"Retry-After": "30"},
        ) from None
    if found is not None:
        raise _Replay(_replayed(found))
    return key, sha


class _Replay(Exception):
    """Carries the response of a retried request out of the checks (see :func:`endpoint`)."""

    def __init__(self, response: Response) -> None:
        super().__init__("replayed")
        self.response = response


def _replayed(stored: AssessmentRecord) -> Response:
    return json_response(
        stored.response_json,
        201,
        {"Location": f"{API_PREFIX}/assessments/{stored.id}", "Idempotent-Replayed": "true"},
    )


def _idempotency_problem(exc: assessments.IdempotencyMismatch) -> Problem:
    return Problem(
        422,
        str(exc),
        errors=[field_error(f"header.{IDEMPOTENCY_HEADER}", str(exc), "idempotency_mismatch")],
    )


def _scorecard(st: ServiceState, replay_of: Mapping[str, Any] | None) -> ModelCard | None:
    """The scorecard of an assessment: production, or the one a replayed record names."""
    if st.scorecards is None:
        return None
    if replay_of is not None:
        entry = replay_of.get("scorecard")
        if entry is None:
            return None  # made without a scorecard: replayed without one
        try:
            return st.scorecards.recorded(str(entry))
        except RegistryError as exc:
            raise Problem(
                409,
                f"the assessment cannot be replayed with the scorecard that made it: {exc}",
            ) from None
    try:
        return st.scorecards.current()
    except (RegistryError, ScorecardError) as exc:
        _log.error("production scorecard unavailable: %s", exc)
        raise Problem(500, f"the model registry is damaged: {exc}") from None


def replay_assessment(st: ServiceState, record: AssessmentRecord) -> dict[str, Any]:
    """Recompute a stored assessment from its request and seed (same id and time).

    Uses the PD scorecard recorded in ``record.model_versions`` even when another is now in
    production. Equal to ``record.response`` when the cube, policy, models and code are those
    that made it.

    Raises
    ------
    Problem
        409 when the recorded scorecard is no longer in the registry (the message names it).
    """
    drift = software_drift(record.response.get("provenance", {}).get("software"))
    if drift:
        changes = ", ".join(
            f"{name} {was or 'unrecorded'} -> {now}" for name, (was, now) in drift.items()
        )
        _log.warning(
            "replaying assessment %s with other software than made it (%s); figures may differ "
            "in the last digits",
            record.id,
            changes,
        )
    parsed = AssessmentRequest.model_validate(record.request)
    return run_assessment(
        st,
        parsed,
        seed=record.seed,
        created_at=record.created_at,
        assessment_id=record.id,
        replay_of=record.model_versions,
        policy_version=record.policy_version,
    )


@endpoint(
    "GET",
    "/assessments/<assessment_id>",
    summary="A stored assessment, exactly as it was returned",
    description=(
        "Only the key that created it (or an admin key) may read it; any other key gets 404, "
        "as for an id that does not exist."
    ),
    tag="assessments",
    path_params={"assessment_id": "Assessment id"},
    responses={200: (schemas.AssessmentOut, "Assessment object")},
)
def get_assessment(assessment_id: str) -> Response:
    """Return a stored assessment (the response text as it was sent) if the key may see it.

    Another key's assessment is 404, exactly as a missing one (:mod:`service.assessments`).
    """
    st = state()
    try:
        record = assessments.get(st.store, g.api_key, assessment_id)
    except assessments.AssessmentNotFound as exc:
        raise Problem(404, str(exc)) from None
    except StoreUnavailable as exc:
        raise store_problem(exc) from None
    return json_response(record.response_json)


@endpoint(
    "GET",
    "/assessments",
    summary="Stored assessments, newest first, paged and filtered by decision and date",
    description="The key's own assessments; an admin key sees every officer's.",
    tag="assessments",
    query=schemas.AssessmentListQuery,
    responses={200: (schemas.AssessmentList, "A page of assessments")},
)
def list_assessments(query: schemas.AssessmentListQuery) -> Response:
    """Page through the audit records the key may see (its own; an admin's: all)."""
    st = state()
    start, end = query.window()
    try:
        records, total = assessments.list_page(
            st.store,
            g.api_key,
            limit=query.limit,
            offset=query.offset,
            decision=query.decision,
            created_from=start,
            created_to=end,
        )
    except StoreUnavailable as exc:
        raise store_problem(exc) from None
    items = [
        {
            "id": r.id,
            "created_at": r.created_at.isoformat(),
            "decision": r.decision,
            "technology": r.technology,
            "site": {"lat": r.site_lat, "lon": r.site_lon, "name": r.site_name},
            "policy_id": r.policy_id,
            "policy_version": r.policy_version,
            "dataset_sha256": r.dataset_sha256,
            "api_key_id": r.api_key_id,
            "request_id": r.request_id,
        }
        for r in records
    ]
    nxt = None
    if query.offset + len(records) < total:
        args = request.args.to_dict(flat=True)
        args.update(offset=str(query.offset + query.limit), limit=str(query.limit))

        nxt = f"{API_PREFIX}/assessments?{urlencode(args)}"
    return json_response(
        {"items": items, "total": total, "limit": query.limit, "offset": query.offset, "next": nxt}
    )


# ----- policies, turbines, models ------------------------------------------------------------


@endpoint(
    "GET",
    "/policies",
    summary="Lending policies (products) and their rules",
    tag="reference",
    responses={200: (schemas.PolicyList, "Policies")},
)
def list_policies() -> Response:
    """List the lending policies loaded by this worker."""
    st = state()
    return json_response(
        {
            "items": [p.to_dict() for p in st.policies.values()],
            "defaults": dict(st.default_policies),
        }
    )


@endpoint(
    "GET",
    "/turbines",
    summary="Wind turbines of the library, optionally searched",
    tag="reference",
    query=schemas.TurbineQuery,
    responses={200: (schemas.TurbineList, "Turbines")},
)
def list_turbines(query: schemas.TurbineQuery) -> Response:
    """List or search the turbine library."""
    if query.q:
        found = turbines.search_turbines(query.q, with_curve_only=query.with_curve_only)
    else:
        found = turbines.list_turbines(with_curve_only=query.with_curve_only)
    items = [
        {
            "turbine_type": t.turbine_type,
            "manufacturer": t.manufacturer,
            "rated_power_kw": t.rated_power_kw,
            "rotor_diameter_m": t.rotor_diameter_m,
            "hub_heights_m": list(t.hub_heights_m),
            "has_power_curve": t.has_power_curve,
        }
        for t in found
    ]
    return json_response({"items": items, "count": len(items)})


def _registry(st: ServiceState) -> Any:

    return Registry(models_folder(st.config))


def _registry_problem(exc: Exception) -> Problem:
    text = str(exc)
    status = 404 if text.startswith("no model card") or "unknown model kind" in text else 409
    return Problem(status, text)


@endpoint(
    "GET",
    "/models",
    summary="Statistical model versions in the registry",
    tag="models",
    responses={200: (schemas.ModelList, "Model cards")},
)
def list_models() -> Response:
    """List model cards (id, kind, version, status, sha256, in use) of the registry."""
    try:
        rows = _registry(state()).table()
    except RegistryError as exc:
        raise Problem(500, f"the model registry is damaged: {exc}") from None
    return json_response({"items": rows})


def _change_status(card_id: str, action: str, note: str) -> Response:

    st = state()
    registry = _registry(st)
    by = f"{g.api_key.name} (key {g.api_key.id})"
    try:
        if action == "promote" and card_id.startswith("scorecard-"):
            card_model(registry.show(card_id))  # the service must be able to use it
        card = getattr(registry, action)(card_id, by=by, note=note)
    except RegistryError as exc:
        raise _registry_problem(exc) from None
    except ScorecardError as exc:
        raise Problem(409, f"{card_id} cannot be used by the service: {exc}") from None
    _log.info("model %s: %s by key %s", action, card_id, g.api_key.id)
    if card.kind == "scorecard" and st.scorecards is not None:
        try:
            st.scorecards.reload()  # this worker at once; the others see the folder change
        except (RegistryError, ScorecardError) as exc:
            _log.error("production scorecard unavailable after %s: %s", action, exc)
    return json_response(card.summary())


@endpoint(
    "POST",
    "/models/<card_id>/promote",
    summary="Promote a candidate model card to production (the previous one is retired)",
    tag="models",
    role="modeller",
    body=schemas.ModelStatusChange,
    body_required=False,
    path_params={"card_id": "Card id, e.g. `scorecard-v3`"},
    responses={200: (schemas.ModelCardOut, "The promoted card")},
    extra_errors=(409,),
)
def promote_model(card_id: str, body: schemas.ModelStatusChange) -> Response:
    """Promote a model card."""
    return _change_status(card_id, "promote", body.note)


@endpoint(
    "POST",
    "/models/<card_id>/retire",
    summary="Retire a model card",
    tag="models",
    role="modeller",
    body=schemas.ModelStatusChange,
    body_required=False,
    path_params={"card_id": "Card id, e.g. `scorecard-v3`"},
    responses={200: (schemas.ModelCardOut, "The retired card")},
    extra_errors=(409,),
)
def retire_model(card_id: str, body: schemas.ModelStatusChange) -> Response:
    """Retire a model card."""
    return _change_status(card_id, "retire", body.note)


# ----- keys ----------------------------------------------------------------------------------


def _key_out(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role,
        "created_at": record.created_at.isoformat(),
        "revoked_at": None if record.revoked_at is None else record.revoked_at.isoformat(),
        "expires_at": None if record.expires_at is None else record.expires_at.isoformat(),
    }


@endpoint(
    "POST",
    "/keys",
    summary="Create an API key (shown once)",
    tag="keys",
    role="admin",
    body=schemas.KeyCreate,
    responses={201: (schemas.KeyCreated, "The new key; store it now")},
)
def create_key(body: schemas.KeyCreate) -> Response:
    """Create a key for a person or system."""
    try:
        new = auth.create_key(state().store, body.role, body.name, expires_days=body.expires_days)
    except auth.KeyInputError as exc:
        field = "expires_days" if "expires" in str(exc) else "name"
        raise Problem(422, f"{field}: {exc}", errors=[field_error(field, str(exc))]) from None
    except StoreUnavailable as exc:
        raise store_problem(exc) from None
    return json_response(
        {**_key_out(new.record), "key": new.key},
        201,
        {"Location": f"{API_PREFIX}/keys/{new.record.id}"},
    )


@endpoint(
    "GET",
    "/keys",
    summary="List API keys (never the keys themselves)",
    tag="keys",
    role="admin",
    responses={200: (schemas.KeyList, "Keys")},
)
def list_keys() -> Response:
    """List every key with its role and state."""
    try:
        records = state().store.list_keys()
    except StoreUnavailable as exc:
        raise store_problem(exc) from None
    return json_response({"items": [_key_out(r) for r in records]})


@endpoint(
    "POST",
    "/keys/<key_id>/revoke",
    summary="Revoke an API key (the record stays)",
    tag="keys",
    role="admin",
    path_params={"key_id": "Key id"},
    responses={200: (schemas.KeyOut, "The revoked key")},
)
def revoke_key(key_id: str) -> Response:
    """Revoke a key; later requests with it get 401."""
    try:
        record = state().store.revoke_key(key_id)
    except StoreUnavailable as exc:
        raise store_problem(exc) from None
    if record is None:
        raise Problem(404, f"no API key with id {key_id!r}")
    return json_response(_key_out(record))


# ----- memo and exports ----------------------------------------------------------------------
# The credit memo (PDF) and the CSV/Excel exports of the loan officers' web page, for API-key
# clients. A record is visible to the key that made it and to admin keys (404 otherwise, as on
# the web page); the history export applies the history page's filters and scoping.


def _scoped_record(assessment_id: str) -> AssessmentRecord:
    """The stored record if the calling key made it or is an admin key; else 404."""
    try:
        return assessments.get(state().store, g.api_key, assessment_id)
    except assessments.AssessmentNotFound as exc:
        raise Problem(404, str(exc)) from None
    except StoreUnavailable as exc:
        raise store_problem(exc) from None


@endpoint(
    "GET",
    "/assessments/<assessment_id>/memo.pdf",
    summary="The credit memo of a stored assessment as a PDF (A4, fonts embedded)",
    description=(
        "The memo of the web page: decision and rule results in words, key figures, charts, "
        "provenance, a sign-off block (the officer who made the assessment, the date, the "
        "assessment id) and the glossary; a watermark on every page when the data is "
        "synthetic. Language from `Accept-Language` (`zh-CN` or English). Only the key that "
        "made the assessment, or an admin key, may read it (404 otherwise)."
    ),
    tag="assessments",
    path_params={"assessment_id": "Assessment id"},
    responses={200: (None, "PDF document (application/pdf)")},
    media_type="application/pdf",
)
def get_assessment_memo_pdf(assessment_id: str) -> Response:
    """Return the PDF credit memo of a stored assessment."""
    # service.web imports this module (state, make_assessment): imported here to avoid a cycle
    from service.web import memo_pdf_response

    return memo_pdf_response(_scoped_record(assessment_id))


_EXPORT_ONE = (
    "One row per figure, columns `section, key, year, value, unit` (sections assessment, "
    "rule, energy, repayment, dscr); the Excel workbook adds the sheets `Rules` and "
    "`DSCR by year`. Stored values, unformatted; text cells starting with = + - @ are "
    "prefixed with `'`. Only the key that made the assessment, or an admin key (404 "
    "otherwise)."
)


@endpoint(
    "GET",
    "/assessments/<assessment_id>/export.csv",
    summary="A stored assessment as CSV: rules, energy, repayment figures, DSCR by year",
    description=_EXPORT_ONE,
    tag="assessments",
    path_params={"assessment_id": "Assessment id"},
    responses={200: (None, "CSV file (text/csv, UTF-8 with BOM)")},
    media_type="text/csv",
)
def export_assessment_csv(assessment_id: str) -> Response:
    """Return one stored assessment as CSV."""
    # service.web imports this module (state, make_assessment): imported here to avoid a cycle
    from service.web import export_assessment

    return export_assessment(_scoped_record(assessment_id), "csv")


@endpoint(
    "GET",
    "/assessments/<assessment_id>/export.xlsx",
    summary="A stored assessment as an Excel workbook",
    description=_EXPORT_ONE,
    tag="assessments",
    path_params={"assessment_id": "Assessment id"},
    responses={200: (None, "Excel workbook (.xlsx)")},
    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
def export_assessment_xlsx(assessment_id: str) -> Response:
    """Return one stored assessment as an Excel workbook."""
    # service.web imports this module (state, make_assessment): imported here to avoid a cycle
    from service.web import export_assessment

    return export_assessment(_scoped_record(assessment_id), "xlsx")


def _export_history(query: Any, fmt: str) -> Response:
    # service.web imports this module (state, make_assessment): imported here to avoid a cycle
    from service.web import HistoryFilter, export_history_rows, export_response

    f = HistoryFilter(
        decision=query.decision,
        technology=query.technology,
        text=query.q.strip(),
        date_from=query.date_from,
        date_to=query.date_to,
        page=1,
    )
    try:
        rows = export_history_rows(state().store, g.api_key, f)
    except StoreUnavailable as exc:
        raise store_problem(exc) from None
    data = _exports.history_file(rows, "csv" if fmt == "csv" else "xlsx")
    return export_response(data, fmt, "history")


_EXPORT_HISTORY = (
    "The history of the web page: the key's own assessments (all of them for an admin key), "
    "newest first, filtered like `/app/history` (`decision`, `technology`, `q`, `from`, "
    "`to`), every page, at most 10,000 rows; one row per assessment with its key figures."
)


@endpoint(
    "GET",
    "/assessments/export.csv",
    summary="The caller's assessments (history) as CSV, filtered",
    description=_EXPORT_HISTORY,
    tag="assessments",
    query=_exports.HistoryExportQuery,
    responses={200: (None, "CSV file (text/csv, UTF-8 with BOM)")},
    media_type="text/csv",
)
def export_history_csv(query: _exports.HistoryExportQuery) -> Response:
    """Return the filtered history as CSV."""
    return _export_history(query, "csv")


@endpoint(
    "GET",
    "/assessments/export.xlsx",
    summary="The caller's assessments (history) as an Excel workbook, filtered",
    description=_EXPORT_HISTORY,
    tag="assessments",
    query=_exports.HistoryExportQuery,
    responses={200: (None, "Excel workbook (.xlsx)")},
    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
def export_history_xlsx(query: _exports.HistoryExportQuery) -> Response:
    """Return the filtered history as an Excel workbook."""
    return _export_history(query, "xlsx")
