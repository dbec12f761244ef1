"""Application factory of the loan-officer service.

``create_app(config=None)`` reads the ``CLIMATE_LOAN_*`` environment (when no configuration is
given), loads the indicator cube, the lending policies and the production PD scorecard of the
model registry once for this process (the scorecard is reloaded when the registry changes,
:class:`service.api.ProductionScorecard`), opens the audit store (migrating it to the latest
schema), and registers the API blueprint and problem+json error handlers. Under gunicorn each
worker calls it after the fork, so no worker shares a database connection or file handle with
another.

Logs are JSON lines on stderr; each request gets an id (the client's ``X-Request-ID`` when it
is a safe token, else a new one) that appears in every log line of that request, in the
``X-Request-ID`` response header, in problem+json ``instance`` and in the audit record.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from climate_data.cube import Cube, code_version
from climate_data.errors import ClimateDataError
from models.policy import default_policy, list_policies
from models.registry import RegistryError
from models.scorecard import ScorecardError
from service import api_portfolio, problems, security, web, web_map, web_portfolio
from service.api import (
    EXTENSION,
    ProductionScorecard,
    ServiceState,
    bp,
    models_folder,
    root,
)
from service.config import (
    ConfigError,
    ServiceConfig,
    check_cube_path,
    config_from_env,
    config_from_mapping,
)
from service.ratelimit import AuthThrottle, make_request_limiter
from service.store import AuditStore, StoreUnavailable

LOGGER_NAME = "climate_loan"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

#: Modules that add their routes to ``bp`` when imported: imported above, so before ``bp``
#: is registered on the app.
_ROUTE_MODULES = (api_portfolio,)


#: ``extra`` fields a log call may pass that appear in the JSON line.
_EXTRA_FIELDS = (
    "method",
    "path",
    "status",
    "duration_ms",
    "api_key_id",
    "remote_addr",
    "cube",
    "database",
    "assessment_id",
    "scorecard",
    "event",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, with the request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            # gunicorn logs everything, start-up lines included, as "gunicorn.error".
            "logger": "gunicorn" if record.name == "gunicorn.error" else record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None)
        if request_id is None and has_request_context():
            request_id = g.get("request_id")
        if request_id:
            entry["request_id"] = request_id
        for key in _EXTRA_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> logging.Logger:
    """Send the ``climate_loan`` loggers to stderr as JSON lines (once per process)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(getattr(h, "_climate_loan", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._climate_loan = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    return logger


def load_config(config: ServiceConfig | Mapping[str, Any] | None) -> ServiceConfig:
    """Turn the factory argument into a validated :class:`ServiceConfig`.

    ``None`` reads the environment; a mapping uses field names of :class:`ServiceConfig`.
    """
    if config is None:
        return config_from_env()
    if isinstance(config, ServiceConfig):
        return config
    return config_from_mapping(config)


def open_cube(config: ServiceConfig) -> Any:
    """Load the configured cube, or raise :class:`ConfigError` in one line."""
    path = check_cube_path(config)
    try:
        return Cube.open(path, tile_cache=config.cube_tile_cache)
    except (ClimateDataError, OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"CLIMATE_LOAN_CUBE={path}: cannot load the cube: {exc}") from None


def load_scorecard(config: ServiceConfig, pins: AuditStore | None = None) -> ProductionScorecard:
    """Load the production PD scorecard of the configured registry, or raise ConfigError.

    With ``pins`` (the audit store) each production card is pinned on first use and a card
    changed afterwards is refused; a damaged registry then falls back to the last pinned card
    (reported by health) instead of raising.
    """
    holder = ProductionScorecard(models_folder(config), pins)
    try:
        holder.reload()
    except (RegistryError, ScorecardError) as exc:
        raise ConfigError(
            f"CLIMATE_LOAN_MODELS_DIR={holder.registry.path}: cannot load the production "
            f"scorecard: {exc}"
        ) from None
    return holder


def create_app(config: ServiceConfig | Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    Parameters
    ----------
    config : ServiceConfig or mapping, optional
        Settings; read from ``CLIMATE_LOAN_*`` environment variables when omitted.

    Returns
    -------
    flask.Flask

    Raises
    ------
    ConfigError
        A setting is invalid, or the cube or the production scorecard cannot be loaded; the
        message is one line.
    """
    cfg = load_config(config)
    logger = configure_logging(cfg.log_level)
    cube = open_cube(cfg)

    instance_path = cfg.resolved_instance_path()
    app = Flask("service", instance_path=str(instance_path))
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_content_length
    app.config["SESSION_COOKIE_SECURE"] = cfg.secure_cookies
    app.json.sort_keys = False  # type: ignore[attr-defined]

    store = AuditStore(cfg.resolved_database_url(), timeout_s=cfg.db_timeout_s)
    try:
        store.migrate()
    except StoreUnavailable as exc:
        # Start anyway: health reports it, and requests that need the store get 503.
        logger.error("audit store not ready at start-up: %s", exc)
    scorecards = load_scorecard(cfg, store)

    policies = {p.id: p for p in list_policies()}
    defaults = {tech: default_policy(tech).id for tech in ("wind", "solar")}
    app.extensions[EXTENSION] = ServiceState(
        config=cfg,
        cube=cube,
        store=store,
        policies=policies,
        default_policies=defaults,
        code_version=code_version(),
        limiter=make_request_limiter(
            cfg.rate_limit_per_minute, cfg.ratelimit_storage_uri, cfg.ratelimit_prefix
        ),
        scorecards=scorecards,
        auth_throttle=AuthThrottle(
            cfg.auth_failures_per_minute, cfg.ratelimit_storage_uri, cfg.ratelimit_prefix
        ),
    )
    problems.register(app)
    security.install(app)  # CSP, X-Frame-Options, nosniff, Referrer-Policy
    app.register_blueprint(bp)
    app.register_blueprint(root)
    web.register(app)  # loan-officer pages, sessions, translations (service/web/)
    web_map.register(app)  # the national map and its tiles (service/web_map.py)
    web_portfolio.register(app)  # loan books and portfolio runs (service/web_portfolio.py)
    _install_request_log(app, logger)
    logger.info(
        "service ready",
        extra={
            "cube": cube.dataset.id,
            "database": store.status()["status"],
            "scorecard": scorecards.current_id(),
        },
    )
    return app


def _install_request_log(app: Flask, logger: logging.Logger) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        started = g.get("started")
        key = g.get("api_key")
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                if started
                else None,
                "api_key_id": key.id if key is not None else None,
                "remote_addr": request.remote_addr,
            },
        )
        return response
