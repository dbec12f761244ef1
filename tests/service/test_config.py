"""Configuration from CLIMATE_LOAN_* variables: values, defaults, one-line errors."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.config import (
    _PARSERS,
    ENV_NAMES,
    SQLITE_FILE,
    ConfigError,
    ServiceConfig,
    check_cube_path,
    config_from_env,
    config_from_mapping,
)


def test_defaults_without_environment() -> None:
    cfg = config_from_env({})
    assert cfg == ServiceConfig()
    assert cfg.max_content_length == 1_000_000 and cfg.rate_limit_per_minute == 600


def test_every_variable_is_read(tmp_path: Path) -> None:
    env = {
        "CLIMATE_LOAN_CUBE": str(tmp_path / "cube.nc"),
        "CLIMATE_LOAN_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "CLIMATE_LOAN_INSTANCE_PATH": str(tmp_path / "inst"),
        "CLIMATE_LOAN_MODELS_DIR": str(tmp_path / "models"),
        "CLIMATE_LOAN_MAX_CONTENT_LENGTH": "2048",
        "CLIMATE_LOAN_RATE_LIMIT_PER_MINUTE": "0",
        "CLIMATE_LOAN_DB_TIMEOUT_S": "0.5",
        "CLIMATE_LOAN_MC_PATHS": "500",
        "CLIMATE_LOAN_LOG_LEVEL": "debug",
        "UNRELATED": "x",
    }
    cfg = config_from_env(env)
    assert cfg == ServiceConfig(
        cube_path=tmp_path / "cube.nc",
        database_url="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        instance_path=tmp_path / "inst",
        models_dir=tmp_path / "models",
        max_content_length=2048,
        rate_limit_per_minute=0,
        db_timeout_s=0.5,
        mc_paths=500,
        log_level="DEBUG",
    )
    assert cfg.resolved_database_url() == env["CLIMATE_LOAN_DATABASE_URL"]


def test_sqlite_default_lives_in_the_instance_folder(tmp_path: Path) -> None:
    cfg = config_from_mapping({"instance_path": tmp_path})
    assert cfg.resolved_database_url() == f"sqlite:///{tmp_path / SQLITE_FILE}"


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        (
            "MAX_CONTENT_LENGTH",
            "big",
            "CLIMATE_LOAN_MAX_CONTENT_LENGTH='big' is not a whole number",
        ),
        ("MAX_CONTENT_LENGTH", "0", "must be at least 1"),
        ("RATE_LIMIT_PER_MINUTE", "-1", "must be at least 0"),
        ("DB_TIMEOUT_S", "nan", "positive finite"),
        ("DB_TIMEOUT_S", "inf", "positive finite"),
        ("LOG_LEVEL", "LOUD", "is not one of"),
        ("DATABASE_URL", "not a url", "is not a database URL"),
        ("DATABASE_URL", "mysql://root@localhost/x", "not supported"),
    ],
)
def test_bad_values_give_one_line_naming_the_variable(name: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_env({f"CLIMATE_LOAN_{name}": value})
    message = str(info.value)
    assert needle in message and f"CLIMATE_LOAN_{name}" in message
    assert "\n" not in message


def test_unknown_setting_in_a_mapping() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        config_from_mapping({"cube": "x"})


def test_cube_path_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set CLIMATE_LOAN_CUBE"):
        check_cube_path(ServiceConfig())
    with pytest.raises(ConfigError, match="no such file"):
        check_cube_path(ServiceConfig(cube_path=tmp_path / "missing.nc"))


@given(st.integers(min_value=1, max_value=10**12))
def test_whole_numbers_round_trip(n: int) -> None:
    assert config_from_env({"CLIMATE_LOAN_MAX_CONTENT_LENGTH": f" {n} "}).max_content_length == n


def test_every_setting_has_one_parser() -> None:
    names = {f.name for f in fields(ServiceConfig)}
    assert set(_PARSERS) == names == set(ENV_NAMES)
