"""Fixtures of the service tests: audit databases (SQLite, PostgreSQL), a small cube, apps, keys.

PostgreSQL: when ``CLIMATE_LOAN_TEST_DATABASE_URL`` is set (``.ci/run`` sets it), every test
that takes ``db_url`` also runs against that server, in a schema of its own that is dropped
afterwards. If the variable is set and the server cannot be reached, those tests FAIL: a CI
run must not pass by silently skipping its database half.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_ENV = "CLIMATE_LOAN_TEST_DATABASE_URL"


def _backends() -> list[Any]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
        ),
    ]


@pytest.fixture(params=_backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty audit database: SQLite in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.sqlite3'}"
        return
    yield from _pg_schema(os.environ[PG_ENV])


def _pg_schema(base: str) -> Iterator[str]:
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base, connect_args={"connect_timeout": 5})
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.fail(
            f"{PG_ENV}={base} is set but PostgreSQL is unreachable: {exc.orig}", pytrace=False
        )
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


#: ``v2`` runs every service test on a version-2 store (``CLIMATE_LOAN_TEST_CUBE=v2 pytest
#: tests/service``); by default they use a version-1 cube, and ``test_store_service.py``
#: compares the two on a representative subset in every run.
CUBE_FORMAT_ENV = "CLIMATE_LOAN_TEST_CUBE"


@pytest.fixture(scope="session")
def sample_paths(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Synthetic hourly weather: 2 x 2 cells around Changji, 4 years."""
    from climate_data.sample import SampleSpec, write_sample

    spec = SampleSpec(lats=(44.5, 44.0), lons=(87.0, 87.5), years=(2021, 2022, 2023, 2024))
    return write_sample(tmp_path_factory.mktemp("sample"), spec)


@pytest.fixture(scope="session")
def cube_path(sample_paths: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic cube of ``sample_paths``, built once per session (see CUBE_FORMAT_ENV)."""
    from climate_data.cube import build_cube

    name = "cube.zarr" if os.environ.get(CUBE_FORMAT_ENV) == "v2" else "cube.nc"
    return build_cube(sample_paths, tmp_path_factory.mktemp("cube") / name, progress=False)


@pytest.fixture(scope="session")
def cube_path_v2(sample_paths: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same cube as a version-2 store (tiles of 1 x 1 cell: every site its own tile)."""
    from climate_data.cube import build_cube

    out = tmp_path_factory.mktemp("cube_v2") / "cube.zarr"
    return build_cube(sample_paths, out, progress=False, tile_cells=1)


def make_config(cube: Path, db: str, tmp: Path, **overrides: Any) -> dict[str, Any]:
    """Settings for create_app in a test."""
    cfg: dict[str, Any] = {
        "cube_path": cube,
        "database_url": db,
        "instance_path": tmp / "instance",
        "models_dir": tmp / "models",
        "rate_limit_per_minute": 0,
        "auth_failures_per_minute": 0,
        "mc_paths": 2000,
        "log_level": "WARNING",
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture
def app(cube_path: Path, tmp_path: Path) -> Any:
    """A migrated app on SQLite (the audit tests use ``db_app`` for both backends)."""
    from service.app import create_app

    application = create_app(
        make_config(cube_path, f"sqlite:///{tmp_path / 'audit.sqlite3'}", tmp_path)
    )
    yield application
    application.extensions["climate_loan"].store.dispose()


@pytest.fixture
def db_app(cube_path: Path, db_url: str, tmp_path: Path) -> Any:
    """A migrated app on each database backend."""
    from service.app import create_app

    application = create_app(make_config(cube_path, db_url, tmp_path))
    yield application
    application.extensions["climate_loan"].store.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    """Flask test client."""
    return app.test_client()


def new_key(app: Any, role: str, name: str = "test") -> str:
    """Create a key of ``role`` in the app's store and return it."""
    from service.auth import create_key

    return create_key(app.extensions["climate_loan"].store, role, name).key


@pytest.fixture
def officer(app: Any) -> dict[str, str]:
    """Headers with an officer key."""
    return {"X-API-Key": new_key(app, "officer", "Officer Test")}


@pytest.fixture
def admin(app: Any) -> dict[str, str]:
    """Headers with an admin key."""
    return {"X-API-Key": new_key(app, "admin", "Admin Test")}


#: A wind request inside the test cube (Changji, the 6.5 m/s rule's home).
WIND_REQUEST: dict[str, Any] = {
    "site": {"lat": 44.1, "lon": 87.3, "name": "Changji test"},
    "project": {
        "technology": "wind",
        "capacity_mw": 49.5,
        "turbine_type": "E-126/4200",
        "hub_height_m": 100,
    },
    "finance": {
        "loan_amount": 5_530_000,
        "currency": "CNY",
        "tenor_years": 10,
        "interest_rate_pct": 4.5,
        "repayment": "annuity",
        "tariff_per_mwh": 300,
        "opex_per_year": 2_000_000,
    },
    "seed": 7,
}
