"""``climate-loan serve`` (gunicorn) and ``climate-loan keys create|list``.

``serve`` checks the configuration in the master process first — the cube loads, the audit
database is reachable and migrated — so that a bad setting stops it with one line instead of
every worker failing with a traceback. Gunicorn then forks sync workers, each of which builds
its own app with :func:`service.app.create_app` after the fork (no ``preload_app``): the cube
and policies are loaded once per worker and no database connection crosses a fork.

``keys create`` uses the same database configuration as the server (``CLIMATE_LOAN_DATABASE_URL``
or the SQLite file in the instance folder) and prints the new key alone on its last line.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import platform
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.config import ConfigError, ServiceConfig, config_from_env
from service.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_WORKERS = 2
#: Longest request line (method, path, query) gunicorn accepts [bytes]; longer is 414.
LIMIT_REQUEST_LINE = 8190
#: Largest single request header [bytes]; larger is 431.
LIMIT_REQUEST_FIELD_SIZE = 8190
#: Most request headers; more is 431.
LIMIT_REQUEST_FIELDS = 100
#: glibc ``mallopt`` parameters (malloc.h) and the values ``serve`` gives them: blocks up to
#: 4 MiB come from the heap rather than from fresh ``mmap`` pages, and the heap keeps up to
#: 64 MiB of freed memory instead of returning it to the kernel after every request.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MALLOC_MMAP_THRESHOLD = 4 * 2**20
MALLOC_TRIM_THRESHOLD = 64 * 2**20


def tune_malloc() -> bool:
    """Keep freed memory in the process for the next request (glibc only); True if applied.

    An assessment allocates and frees a few dozen arrays of about 1 MB (10,000 Monte Carlo
    paths). With glibc's defaults each one above the dynamic mmap threshold is a fresh
    ``mmap`` that the kernel zero-fills page by page and ``munmap`` returns at once: measured
    at about 1,000 page faults and 2.5 ms of the 17 ms of worker CPU a national-cube
    assessment took. Fixed thresholds (:data:`MALLOC_MMAP_THRESHOLD`,
    :data:`MALLOC_TRIM_THRESHOLD`) reuse the heap instead; the cost is that a worker keeps
    up to the trim threshold of freed memory resident. Set in the gunicorn master before it
    forks, the setting holds in every worker. Other C libraries (musl, macOS) are left as
    they are.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD) == 1
        return bool(ok and libc.mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD) == 1)
    except (OSError, AttributeError):
        return False


def _config(config_env: Mapping[str, str] | None) -> ServiceConfig:
    env = dict(os.environ)
    if config_env:
        env.update(config_env)
    try:
        return config_from_env(env)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _store(cfg: ServiceConfig) -> Any:
    # lazy: CLI start-up (the store loads SQLAlchemy, about 0.3 s)
    from service.store import AuditStore, StoreUnavailable

    store = AuditStore(cfg.resolved_database_url(), timeout_s=cfg.db_timeout_s)
    try:
        store.migrate()
    except StoreUnavailable as exc:
        raise UsageError(f"{exc} ({_safe_url(cfg)})") from None
    return store


def _safe_url(cfg: ServiceConfig) -> str:
    from sqlalchemy.engine import make_url  # lazy: CLI start-up (about 0.4 s)

    return make_url(cfg.resolved_database_url()).render_as_string(hide_password=True)


def create_key(
    role: str,
    name: str,
    config_env: Mapping[str, str] | None = None,
    *,
    expires_days: int | None = None,
) -> str:
    """Create an API key in the configured audit database and return it.

    Parameters
    ----------
    role : {"officer", "modeller", "admin"}
        Role of the key.
    name : str
        Holder of the key.
    config_env : mapping, optional
        ``CLIMATE_LOAN_*`` variables overriding the environment.
    expires_days : int, optional
        Days until the key is refused; never when omitted.

    Raises
    ------
    UsageError
        Bad role, name or lifetime, or the database cannot be reached.
    """
    # lazy: CLI start-up (the store loads SQLAlchemy, about 0.3 s)
    from service import auth
    from service.store import StoreUnavailable

    cfg = _config(config_env)
    store = _store(cfg)
    try:
        return auth.create_key(store, role, name, expires_days=expires_days).key
    except auth.KeyInputError as exc:
        raise UsageError(str(exc)) from None
    except StoreUnavailable as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.dispose()


def demo_key(path: Path, config_env: Mapping[str, str]) -> tuple[str, bool]:
    """Return the demo officer key kept in ``path`` if it is still valid, else a new one.

    The demo keeps its key in a file readable by the owner only (mode 0600) beside its
    database, so that running the demo again does not pile up keys. Returns ``(key, reused)``.
    """
    from service import auth  # lazy: CLI start-up (SQLAlchemy, about 0.3 s)

    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        cfg = _config(config_env)
        store = _store(cfg)
        try:
            if auth.authenticate(store, key) is not None:
                return key, True
        finally:
            store.dispose()
    key = create_key("officer", "demo officer", config_env)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key, False


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`UsageError` in one line when ``host:port`` cannot be listened on.

    Gunicorn would otherwise retry for five seconds, logging ``Connection in use`` each time,
    and then exit with status 1.
    """
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host}: {exc.strerror}") from None
    family, socktype, proto, _, address = infos[0]
    with socket.socket(family, socktype, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise UsageError(
                f"port {port} on {host} {reason} (is a server already running?); "
                "stop it or choose another port: --port N, or make demo PORT=N"
            ) from None


def check_startup(cfg: ServiceConfig) -> str:
    """Load the cube and migrate the database once; return a one-line summary.

    Raises
    ------
    UsageError
        The cube or database is not usable (one line).
    """
    from service.app import open_cube  # lazy: CLI start-up (the whole app, about 2 s)

    try:
        cube = open_cube(cfg)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    store = _store(cfg)
    store.dispose()
    return f"cube {cube.dataset.id} (sha256 {cube.sha256[:12]}), database {_safe_url(cfg)}"


def gunicorn_logconfig(level: str) -> dict[str, Any]:
    """Return a logging configuration that makes gunicorn's own messages JSON lines too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "service.app.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
        },
        "root": {"level": "WARNING", "handlers": []},
    }


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = DEFAULT_WORKERS,
    config_env: Mapping[str, str] | None = None,
    *,
    timeout_s: int = 30,
) -> None:
    """Run the API with gunicorn until interrupted.

    Parameters
    ----------
    host : str
        Address to bind (loopback by default; put a reverse proxy in front for anything else).
    port : int
        TCP port.
    workers : int
        Number of sync worker processes.
    config_env : mapping, optional
        ``CLIMATE_LOAN_*`` variables overriding the environment (e.g. the demo's cube).
    timeout_s : int
        Seconds before a silent worker is restarted.

    Raises
    ------
    UsageError
        Bad settings, cube or database (one line, before any worker starts).
    """
    # lazy: only `serve` needs gunicorn, which runs on POSIX systems only
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be within 0-65535, got {port}")
    if config_env:
        os.environ.update(config_env)
    cfg = _config(None)
    check_port_free(host, port)
    summary = check_startup(cfg)
    print(
        f"climate-loan serve: {summary}; http://{host}:{port} with {workers} workers",
        file=sys.stderr,
    )
    if workers > 1 and cfg.rate_limit_per_minute > 0 and not cfg.ratelimit_storage_uri:
        print(
            "climate-loan serve: note: CLIMATE_LOAN_RATELIMIT_STORAGE_URI is not set, so each "
            f"worker counts alone: a key may make up to {cfg.rate_limit_per_minute * workers} "
            f"requests a minute ({cfg.rate_limit_per_minute} x {workers} workers); set it to "
            "redis://host:6379/0 to share one limit",
            file=sys.stderr,
        )

    tune_malloc()

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "bind": f"{host}:{port}",
                "workers": workers,
                # gunicorn's own 400/414/431 answers as problem+json (service/gunicorn_worker.py)
                "worker_class": "service.gunicorn_worker.ProblemSyncWorker",
                "limit_request_line": LIMIT_REQUEST_LINE,
                "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
                "limit_request_fields": LIMIT_REQUEST_FIELDS,
                "preload_app": False,
                "timeout": timeout_s,
                "graceful_timeout": 10,
                "accesslog": None,
                "logconfig_dict": gunicorn_logconfig(cfg.log_level),
                "proc_name": "climate-loan",
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from service.app import create_app  # lazy: CLI start-up (about 2 s)

            return create_app(cfg)

    _App().run()


def _cmd_serve(args: argparse.Namespace) -> int:
    workers = args.workers
    if workers is None:
        text = os.environ.get("CLIMATE_LOAN_WORKERS", str(DEFAULT_WORKERS))
        try:
            workers = int(text)
        except ValueError:
            raise UsageError(f"CLIMATE_LOAN_WORKERS={text!r} is not a whole number") from None
    serve(args.host, args.port, workers, timeout_s=args.timeout)
    return 0


def _cmd_keys_create(args: argparse.Namespace) -> int:
    key = create_key(args.role, args.name, expires_days=args.expires_days)
    until = f", valid for {args.expires_days} days" if args.expires_days else ""
    print(
        f"Created {args.role} key for {args.name!r}{until}. "
        "It is shown only this once; store it now."
    )
    print(key)
    return 0


def _existing_store(cfg: ServiceConfig) -> Any:
    """The configured store, refusing to create an SQLite file that is not there yet."""
    from sqlalchemy.engine import make_url  # lazy: CLI start-up (about 0.4 s)

    url = make_url(cfg.resolved_database_url())
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if not path.is_file():
            raise UsageError(
                f"no audit database at {path}: nothing to list (`keys create` makes one; "
                "set CLIMATE_LOAN_INSTANCE_PATH or CLIMATE_LOAN_DATABASE_URL to use another)"
            )
    return _store(cfg)


def _cmd_keys_list(args: argparse.Namespace) -> int:
    cfg = _config(None)
    store = _existing_store(cfg)
    try:
        for record in store.list_keys():
            if record.revoked_at is not None:
                state = f"revoked {record.revoked_at:%Y-%m-%d}"
            elif record.expires_at is not None:
                word = "expired" if record.expired else "expires"
                state = f"{word} {record.expires_at:%Y-%m-%d}"
            else:
                state = "active"
            print(
                f"{record.id}  {record.role:<8}  {record.created_at:%Y-%m-%d}  "
                f"{state:<18}  {record.name}"
            )
    finally:
        store.dispose()
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` and ``keys`` to the ``climate-loan`` command line."""
    from service.auth import ROLES  # lazy: CLI start-up (SQLAlchemy, about 0.3 s)

    p = subparsers.add_parser(
        "serve",
        help="run the API with gunicorn",
        description="Serve the API (configuration from CLIMATE_LOAN_* environment variables).",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"sync worker processes (default $CLIMATE_LOAN_WORKERS or {DEFAULT_WORKERS})",
    )
    p.add_argument(
        "--timeout", type=int, default=30, help="seconds before a stuck worker is restarted"
    )
    p.set_defaults(func=_cmd_serve)

    keys = subparsers.add_parser("keys", help="manage API keys", description="Manage API keys.")
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    c = ksub.add_parser("create", help="create a key; prints it alone on the last line")
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--name", required=True, help="who or what holds the key")
    c.add_argument(
        "--expires-days",
        type=int,
        default=None,
        metavar="N",
        help="refuse the key N days from now (default: never)",
    )
    c.set_defaults(func=_cmd_keys_create)
    ls = ksub.add_parser("list", help="list keys (ids, roles, names; never the keys)")
    ls.set_defaults(func=_cmd_keys_list)
