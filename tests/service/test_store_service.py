"""The service on a version-2 cube store answers exactly as on the version-1 cube.

A representative subset (site climate, assessments, health, the site map page) runs in every
test run against both formats of the same input. The whole service suite also runs on a store
with ``CLIMATE_LOAN_TEST_CUBE=v2`` (see ``conftest.py``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import zarr

from service.app import create_app
from tests.service.conftest import WIND_REQUEST, make_config, new_key
from tests.service.test_web import EN, login

V1 = "/api/v1"
#: Keys that name the cube itself (file or store digest) or the call, not a figure.
_IDENTITY = {"id", "sha256", "dataset_id", "dataset_sha256", "created_at", "request_id", "links"}
SITES = [(44.1, 87.3), (44.5, 87.0), (44.02, 87.49), (44.3, 87.2)]


@pytest.fixture
def apps(cube_path: Path, cube_path_v2: Path, tmp_path: Path) -> Any:
    made = []
    for name, cube in (("v1", cube_path), ("v2", cube_path_v2)):
        folder = tmp_path / name
        made.append(create_app(make_config(cube, f"sqlite:///{folder}.sqlite3", folder)))
    yield made
    for app in made:
        app.extensions["climate_loan"].store.dispose()


def _without_identity(body: Any) -> Any:
    """The response less what names the cube itself (its file or store digest) or the call."""
    if isinstance(body, dict):
        return {k: _without_identity(v) for k, v in body.items() if k not in _IDENTITY}
    if isinstance(body, list):
        return [_without_identity(v) for v in body]
    return body


def test_site_climate_equal_on_v1_and_v2(apps: Any) -> None:
    bodies = []
    for app in apps:
        client = app.test_client()
        headers = {"X-API-Key": new_key(app, "officer")}
        bodies.append(
            [
                client.get(
                    f"{V1}/sites/climate?lat={la}&lon={lo}&hub_height_m=110", headers=headers
                ).get_json()
                for la, lo in SITES
            ]
        )
    v1, v2 = bodies
    assert all(b["wind"]["annual_mean_ms"] for b in v1)
    assert _without_identity(v1) == _without_identity(v2)


@pytest.mark.parametrize("technology", ["wind", "solar"])
def test_assessment_equal_on_v1_and_v2(apps: Any, technology: str) -> None:
    request = copy.deepcopy(WIND_REQUEST)
    if technology == "solar":
        request["project"] = {"technology": "solar", "capacity_mw": 20.0}
    results = []
    for app in apps:
        client = app.test_client()
        headers = {"X-API-Key": new_key(app, "officer")}
        r = client.post(f"{V1}/assessments", json=request, headers=headers)
        assert r.status_code == 201, r.get_json()
        results.append(r.get_json())
    v1, v2 = results
    assert v1["decision"] == v2["decision"]
    assert _without_identity(v1) == _without_identity(v2)


def test_health_names_the_store_digest(apps: Any, cube_path_v2: Path) -> None:
    body = apps[1].test_client().get(f"{V1}/health").get_json()
    # the store's content digest, read here with zarr, independently of the service
    expected = zarr.open_group(str(cube_path_v2), mode="r").attrs["content_sha256"]
    assert body["cube"]["sha256"] == expected
    assert body["cube"]["synthetic"] is True


def test_site_map_page_on_v2(apps: Any) -> None:
    pages = []
    for app in apps:
        client = app.test_client()
        login(client, new_key(app, "officer"))
        r = client.get("/app/site?hub_height_m=100&lat=44.1&lon=87.3", headers=EN)
        assert r.status_code == 200
        pages.append(r.get_data(as_text=True).count('class="cell cell-'))
    assert pages[0] == pages[1] == 4
