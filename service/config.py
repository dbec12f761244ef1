"""Configuration of the service, read from ``CLIMATE_LOAN_*`` environment variables.

The factory (:func:`service.app.create_app`) reads the environment when it runs, never at
import time (docs/conventions.rst, "Application factory"). Every setting is checked here, once; a
bad value raises
:class:`ConfigError` whose message is one line naming the variable, so that ``climate-loan
serve`` can print it and stop instead of showing a traceback.

========================================  ===============================================
variable                                  meaning (default)
========================================  ===============================================
``CLIMATE_LOAN_CUBE``                     indicator cube: a version-1 file or a version-2
                                          store (``.zarr``, ``.zarr.zip``); required by the API
``CLIMATE_LOAN_CUBE_TILE_CACHE``          version-2 store: tiles kept per worker (32)
``CLIMATE_LOAN_DATABASE_URL``             SQLAlchemy URL of the audit database (SQLite file
                                          ``audit.sqlite3`` in the instance folder)
``CLIMATE_LOAN_INSTANCE_PATH``            Flask instance folder (Flask's default)
``CLIMATE_LOAN_MODELS_DIR``               model registry folder (the registry's default)
``CLIMATE_LOAN_MAX_CONTENT_LENGTH``       largest request body [bytes] (1 000 000)
``CLIMATE_LOAN_RATE_LIMIT_PER_MINUTE``    requests per API key per minute and worker,
                                          0 = no limit (600)
``CLIMATE_LOAN_DB_TIMEOUT_S``             how long to wait for a locked or slow database
                                          before answering 503 [s] (5)
``CLIMATE_LOAN_MC_PATHS``                 Monte Carlo paths per assessment (the model's
                                          default)
``CLIMATE_LOAN_LOG_LEVEL``                DEBUG, INFO, WARNING or ERROR (INFO)
``CLIMATE_LOAN_RATELIMIT_STORAGE_URI``    where request counts are kept, shared by every
                                          worker: ``redis://host:6379/0`` (unset: in each
                                          worker's memory, so the real limit is the setting
                                          times the number of workers)
``CLIMATE_LOAN_RATELIMIT_PREFIX``         prefix of the counters in that storage
                                          (climate-loan)
``CLIMATE_LOAN_AUTH_FAILURES_PER_MINUTE`` failed sign-ins and bad API keys allowed per
                                          client address per minute, 0 = no limit (10)
``CLIMATE_LOAN_SECURE_COOKIES``           1 to send the session cookie only over HTTPS
                                          (0; set it to 1 behind HTTPS)
========================================  ===============================================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

#: Prefix of every environment variable the service reads.
ENV_PREFIX = "CLIMATE_LOAN_"
#: File name of the default SQLite audit database inside the instance folder.
SQLITE_FILE = "audit.sqlite3"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line naming the variable."""


@dataclass(frozen=True)
class ServiceConfig:
    """Validated settings of one service process.

    Attributes
    ----------
    cube_path : Path or None
        Indicator cube file; required to serve the API, not to manage keys.
    database_url : str or None
        SQLAlchemy URL of the audit database; None means SQLite in ``instance_path``.
    instance_path : Path or None
        Flask instance folder; None means Flask's default for the ``service`` package.
    models_dir : Path or None
        Model registry folder; None means the registry's own default.
    max_content_length : int
        Largest accepted request body [bytes].
    rate_limit_per_minute : int
        Requests per API key per minute in each worker process; 0 disables the limit.
    db_timeout_s : float
        Time to wait for a locked or unreachable database before giving up [s].
    mc_paths : int or None
        Monte Carlo paths per assessment; None keeps the model's default.
    log_level : str
        Logging level name.
    ratelimit_storage_uri : str or None
        Storage of the rate-limit counters shared by all workers (``redis://...``,
        ``memory://``); None keeps them in each worker's memory.
    ratelimit_prefix : str
        Prefix of the counters in that storage.
    auth_failures_per_minute : int
        Failed sign-ins and bad API keys allowed per client address per minute; 0 = no limit.
    secure_cookies : bool
        Mark the session cookie ``Secure`` (sent over HTTPS only).
    cube_tile_cache : int or None
        Decoded tiles of a version-2 cube store each worker keeps; None keeps the store's
        default (:data:`climate_data.store.DEFAULT_TILE_CACHE`).
    """

    cube_path: Path | None = None
    database_url: str | None = None
    instance_path: Path | None = None
    models_dir: Path | None = None
    max_content_length: int = 1_000_000
    rate_limit_per_minute: int = 600
    db_timeout_s: float = 5.0
    mc_paths: int | None = None
    log_level: str = "INFO"
    ratelimit_storage_uri: str | None = None
    ratelimit_prefix: str = "climate-loan"
    auth_failures_per_minute: int = 10
    secure_cookies: bool = False
    cube_tile_cache: int | None = None

    def resolved_instance_path(self) -> Path:
        """Return the instance folder: the configured one or Flask's default for ``service``."""
        if self.instance_path is not None:
            return self.instance_path
        from flask import Flask  # lazy: the CLI reads its settings without Flask

        return Path(Flask("service").instance_path)

    def resolved_database_url(self) -> str:
        """Return the audit database URL: the configured one or SQLite in the instance folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_instance_path() / SQLITE_FILE}"


#: Environment variable (without prefix) for each field of :class:`ServiceConfig`.
ENV_NAMES: dict[str, str] = {
    "cube_path": "CUBE",
    "database_url": "DATABASE_URL",
    "instance_path": "INSTANCE_PATH",
    "models_dir": "MODELS_DIR",
    "max_content_length": "MAX_CONTENT_LENGTH",
    "rate_limit_per_minute": "RATE_LIMIT_PER_MINUTE",
    "db_timeout_s": "DB_TIMEOUT_S",
    "mc_paths": "MC_PATHS",
    "log_level": "LOG_LEVEL",
    "ratelimit_storage_uri": "RATELIMIT_STORAGE_URI",
    "ratelimit_prefix": "RATELIMIT_PREFIX",
    "auth_failures_per_minute": "AUTH_FAILURES_PER_MINUTE",
    "secure_cookies": "SECURE_COOKIES",
    "cube_tile_cache": "CUBE_TILE_CACHE",
}

#: Schemes of rate-limit storages (those of the ``limits`` library this service supports).
RATELIMIT_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster", "memory")


def config_from_env(environ: Mapping[str, str] | None = None) -> ServiceConfig:
    """Read and validate the ``CLIMATE_LOAN_*`` variables.

    Parameters
    ----------
    environ : mapping, optional
        Environment to read; ``os.environ`` when omitted.

    Returns
    -------
    ServiceConfig

    Raises
    ------
    ConfigError
        A value cannot be parsed or is out of range.
    """
    env = os.environ if environ is None else environ
    raw = {
        name: env[ENV_PREFIX + var]
        for name, var in ENV_NAMES.items()
        if env.get(ENV_PREFIX + var, "").strip() != ""
    }
    return config_from_mapping(raw, source="env")


def config_from_mapping(values: Mapping[str, Any], *, source: str = "config") -> ServiceConfig:
    """Build a :class:`ServiceConfig` from field names (as in a test configuration).

    Parameters
    ----------
    values : mapping
        Field name to value; strings are parsed as they would be from the environment.
    source : {"config", "env"}
        How to name a bad setting in the error: by field or by environment variable.

    Returns
    -------
    ServiceConfig

    Raises
    ------
    ConfigError
        Unknown field, or a value that cannot be parsed or is out of range.
    """
    known = {f.name for f in fields(ServiceConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )

    def label(name: str) -> str:
        return ENV_PREFIX + ENV_NAMES[name] if source == "env" else name

    out = {
        name: _PARSERS[name](value, label(name))
        for name, value in values.items()
        if value is not None
    }
    return replace(ServiceConfig(), **out)


def check_cube_path(config: ServiceConfig) -> Path:
    """Return the cube path, or raise :class:`ConfigError` saying how to set it.

    Raises
    ------
    ConfigError
        No cube configured, or the file does not exist.
    """
    path = config.cube_path
    if path is None:
        raise ConfigError(
            f"no indicator cube configured: set {ENV_PREFIX}CUBE to a cube file "
            "(make one with `climate-loan cube build`)"
        )
    if not (path.is_file() or path.is_dir()):
        raise ConfigError(f"{ENV_PREFIX}CUBE={path}: no such file or store directory")
    return path


def _database_url(value: str, label: str) -> str:
    # lazy: the CLI reads its settings at start-up; SQLAlchemy takes about 0.4 s to load
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(
            f"{label}={value!r} is not a database URL "
            "(e.g. postgresql+psycopg://user@host:5432/db or sqlite:////path/audit.sqlite3)"
        ) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"{label}: backend {url.get_backend_name()!r} is not supported (sqlite, postgresql)"
        )
    return value


def _storage_uri(value: str, label: str) -> str:
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in RATELIMIT_SCHEMES:
        raise ConfigError(
            f"{label}: {scheme or value!r} is not a supported storage; use "
            "redis://host:6379/0 (shared by every worker) or memory:// (each worker alone)"
        )
    return value


def _boolean(value: Any, label: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{label}={value!r} is not a yes/no value (1 or 0)")


def _integer(value: Any, label: str, lowest: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{label}={value!r} is not a whole number") from None
    if number < lowest:
        raise ConfigError(f"{label}={number} must be at least {lowest}")
    return number


def _positive_float(value: Any, label: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError(f"{label}={value!r} is not a number") from None
    if not number > 0 or number == float("inf"):
        raise ConfigError(f"{label}={value!r} must be a positive finite number")
    return number


def _path(value: Any, label: str) -> Path:
    return Path(value).expanduser()


def _prefix(value: Any, label: str) -> str:
    prefix = str(value).strip()
    if not prefix or not all(c.isalnum() or c in "-_.:" for c in prefix):
        raise ConfigError(f"{label}={value!r}: use letters, digits and -_.:")
    return prefix


def _log_level(value: Any, label: str) -> str:
    level = str(value).strip().upper()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"{label}={value!r} is not one of {', '.join(_LOG_LEVELS)}")
    return level


def _at_least(lowest: int) -> Callable[[Any, str], int]:
    return lambda value, label: _integer(value, label, lowest)


#: How each setting is parsed and checked: ``parse(value, label)``, label naming it in errors.
_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "cube_path": _path,
    "database_url": lambda value, label: _database_url(str(value), label),
    "instance_path": _path,
    "models_dir": _path,
    "max_content_length": _at_least(1),
    "rate_limit_per_minute": _at_least(0),
    "db_timeout_s": _positive_float,
    "mc_paths": _at_least(1),
    "log_level": _log_level,
    "ratelimit_storage_uri": lambda value, label: _storage_uri(str(value).strip(), label),
    "ratelimit_prefix": _prefix,
    "auth_failures_per_minute": _at_least(0),
    "secure_cookies": _boolean,
    "cube_tile_cache": _at_least(1),
}
