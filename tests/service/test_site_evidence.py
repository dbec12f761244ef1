"""``project.site_evidence`` through the request models, the API (422 naming the field, replay)
and ``climate-loan assess --mast`` on the real MERRA-2 subset.

Truth of the CLI test: as in tests/models/test_evidence.py, the "mast" is the 53.0 N 6.25 W
node's 2014-2015 hours times 1.08 (here without noise, as a CSV) and the site is the
53.5 N 6.25 W cell; the MCP's long-term mean must be within 1 % of 1.08 times the node's own
2000-2016 mean (8.4050 m/s, independent reference value).
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from pydantic import ValidationError

from service import cli, schemas
from service.api import replay_assessment
from service.errors import UsageError
from service.requests import AssessmentRequest, describe_error, to_model_inputs
from service.site_evidence import read_mast_csv
from tests.service.conftest import WIND_REQUEST
from tests.service.test_api import assert_problem, post_json

V1 = "/api/v1"
DATA = Path(__file__).resolve().parents[1] / "data"
MERRA2 = DATA / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"
YEAR_H = 8760


def mast(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "height_m": 80,
        "interval_minutes": 60,
        "start": "2010-01-01T00:00Z",
        "wind_speed_ms": [7.5] * (YEAR_H + 24),
    }
    base.update(over)
    return base


def request_with(evidence: Any, base: dict[str, Any] = WIND_REQUEST) -> dict[str, Any]:
    body = copy.deepcopy(base)
    body["project"]["site_evidence"] = evidence
    return body


def problems(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as err:
        AssessmentRequest.model_validate(body)
    return describe_error(err.value)


# ----- request validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "field", "text"),
    [
        ({"mast": mast(height_m=0)}, "site_evidence.mast.height_m", "greater than 0"),
        ({"mast": mast(height_m=301)}, "site_evidence.mast.height_m", "less than or equal"),
        ({"mast": mast(interval_minutes=30)}, "site_evidence.mast.interval_minutes", "10 or 60"),
        ({"mast": mast(start="2010-01-01 00:00")}, "site_evidence.mast.start", "UTC"),
        ({"mast": mast(start="2010-01-01T00:30Z")}, "site_evidence.mast", "60-minute"),
        ({"mast": mast(wind_speed_ms=[80.0] * 9000)}, "wind_speed_ms.0", "less than or equal"),
        ({"mast": mast(wind_speed_ms=[-1.0] * 9000)}, "wind_speed_ms.0", "greater than"),
        ({"mast": mast(wind_speed_ms=[7.0] * 8000)}, "site_evidence.mast", "at least 12 months"),
        ({"mast": mast(wind_speed_ms=[None] * 9000)}, "site_evidence.mast", "no value"),
        (
            {"mast": mast(wind_speed_ms=[1.0] * 100_001)},
            "site_evidence.mast.wind_speed_ms",
            "at most 100000",
        ),
        (
            {"mast": mast(wind_direction_deg=[10.0])},
            "site_evidence.mast",
            "one value per wind_speed_ms",
        ),
        ({"mast": mast(wind_speed_ms=["7"] * 9000)}, "wind_speed_ms.0", "valid number"),
        ({"atlas": {"mean_wind_ms": 0, "height_m": 100, "source": "GWA"}}, "mean_wind_ms", ""),
        ({"atlas": {"mean_wind_ms": 31, "height_m": 100, "source": "GWA"}}, "mean_wind_ms", ""),
        ({"atlas": {"mean_wind_ms": 7, "height_m": 100, "source": "   "}}, "atlas.source", ""),
        ({"atlas": {"mean_wind_ms": 7, "height_m": 100}}, "atlas.source", "missing"),
        ({}, "project.site_evidence", "exactly one"),
        (
            {"mast": mast(), "atlas": {"mean_wind_ms": 7, "height_m": 100, "source": "GWA"}},
            "project.site_evidence",
            "exactly one",
        ),
        ({"atlas": {"mean_wind_ms": 7, "height_m": 100, "source": "x", "k": 2}}, "atlas", ""),
        ({"mast": mast(), "mcp_method": "matrix"}, "mcp_method", ""),
    ],
)
def test_site_evidence_bounds_name_the_field(evidence: Any, field: str, text: str) -> None:
    msg = problems(request_with(evidence))
    assert field in msg and text in msg, msg


def test_site_evidence_is_wind_only() -> None:
    solar = {
        "site": {"lat": 44.1, "lon": 87.3},
        "project": {"technology": "solar", "capacity_mw": 10},
        "finance": WIND_REQUEST["finance"],
    }
    body = request_with({"atlas": {"mean_wind_ms": 7, "height_m": 100, "source": "GWA"}}, solar)
    assert "project.site_evidence: applies to wind projects only" in problems(body)


def test_request_carries_the_evidence_to_the_model() -> None:
    body = request_with({"mast": mast(wind_direction_deg=[180.0] * (YEAR_H + 24))})
    inputs = to_model_inputs(AssessmentRequest.model_validate(body))
    ev = inputs.site_evidence
    assert ev is not None and ev.mast is not None and ev.atlas is None
    assert ev.mcp_method == "variance_ratio"
    assert ev.mast.start == np.datetime64("2010-01-01T00:00")
    assert ev.mast.wind_speed_ms.size == YEAR_H + 24
    assert ev.mast.wind_direction_deg is not None


# ----- API ------------------------------------------------------------------------------------

ATLAS = {"atlas": {"mean_wind_ms": 7.0, "height_m": 100, "source": "Global Wind Atlas 3.3"}}


def test_atlas_assessment_through_the_api_and_its_replay(app: Any, officer: dict[str, str]) -> None:
    client = app.test_client()
    r = post_json(client, f"{V1}/assessments", request_with(ATLAS), officer)
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    schemas.AssessmentOut.model_validate(body)
    e = body["energy"]
    assert e["method"] == "atlas_scaled"
    assert e["evidence"]["corrected_mean_ms"] == pytest.approx(7.0, abs=1e-4)
    assert e["evidence"]["source"] == "Global Wind Atlas 3.3"
    assert "atlas" in e["sigma_components"]["model_basis"]
    assert e["sigma_components"]["model"] == pytest.approx(0.065)
    # the stored request carries the evidence: the replay is identical
    st = app.extensions["climate_loan"]
    record = st.store.get_assessment(body["id"])
    assert json.loads(record.request_json)["project"]["site_evidence"] == ATLAS
    with app.test_request_context():
        assert replay_assessment(st, record) == body


def test_unusable_mast_is_a_422_naming_the_field(app: Any, officer: dict[str, str]) -> None:
    # the synthetic cube covers 2021-2024; a 2010 mast has no concurrent month
    r = post_json(app.test_client(), f"{V1}/assessments", request_with({"mast": mast()}), officer)
    body = assert_problem(r, 422, "project.site_evidence.mast")
    assert "concurrent" in body["detail"] and "at least 12" in body["detail"]


def test_openapi_documents_site_evidence(client: Any) -> None:
    doc = client.get("/openapi.json").get_json()
    text = json.dumps(doc)
    assert "SiteEvidenceIn" in text and "EvidenceOut" in text and "atlas_scaled" in text


# ----- CSV and the command line ---------------------------------------------------------------


def write_mast_csv(path: Path, times: np.ndarray, values: np.ndarray) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "wind_speed_ms", "wind_direction_deg"])
        for t, v in zip(times, values, strict=True):
            w.writerow([f"{str(t)[:16]}Z", "" if np.isnan(v) else f"{v:.3f}", "270"])
    return path


def test_read_mast_csv_fills_gaps_with_null(tmp_path: Path) -> None:
    t = np.datetime64("2020-01-01T00:00") + np.array([0, 10, 30], dtype="timedelta64[m]")
    out = read_mast_csv(write_mast_csv(tmp_path / "m.csv", t, np.array([5.0, np.nan, 6.0])), 90)
    assert out["interval_minutes"] == 10 and out["start"] == "2020-01-01T00:00Z"
    assert out["wind_speed_ms"] == [5.0, None, None, 6.0]
    assert out["wind_direction_deg"] == [270.0, 270.0, None, 270.0]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("time,speed\n2020-01-01T00:00Z,5\n", "fewer than two rows"),
        ("just one column\n2020-01-01T00:00Z\n", "needs the columns"),
        ("timestamp,wind_speed_ms\n2020-01-01T00:00Z,5\n2020-01-01T00:30Z,5\n", "10 or 60"),
        ("timestamp,wind_speed_ms\n2020-01-01T00:00Z,x\n2020-01-01T01:00Z,5\n", "row 2"),
        ("timestamp,wind_speed_ms\n2020-01-01T00:00Z,5\n2020-01-01T00:00Z,5\n", "duplicates"),
        (
            "timestamp,wind_speed_ms\n2020-01-01T00:00Z,1\n2020-01-01T01:00Z,1\n"
            "2020-01-01T02:30Z,1\n",
            "off the 60-minute grid",
        ),
    ],
)
def test_read_mast_csv_errors(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "m.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=match):
        read_mast_csv(p, 80)


@pytest.fixture(scope="module")
def merra2_cube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from climate_data.cube import build_cube

    out = tmp_path_factory.mktemp("cube") / "merra2.nc"
    return build_cube(MERRA2, out, reference_height_m=50.0, progress=False)


def test_cli_mast_mcp_on_merra2(
    merra2_cube: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with xr.open_dataset(MERRA2) as ds:
        ws = ds["ws50m"].sel(latitude=53.0, longitude=-6.25).astype("float64")
        seg = ws.sel(time=slice("2014-01-01", "2015-12-31T23:00"))
        times, values = seg["time"].values, seg.values
        truth = 1.08 * float(ws.sel(time=slice("2000", "2016")).groupby("time.year").mean().mean())
    csv_path = write_mast_csv(tmp_path / "mast.csv", times, 1.08 * values)
    req = copy.deepcopy(WIND_REQUEST)
    req["site"] = {"lat": 53.5, "lon": -6.25, "name": "Irish mast test"}
    (tmp_path / "r.json").write_text(json.dumps(req), encoding="utf-8")
    argv = ["assess", "--cube", str(merra2_cube), "--request", str(tmp_path / "r.json")]
    argv += ["--paths", "500", "--mast", str(csv_path), "--mast-height-m", "50"]
    assert cli.main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    ev = d["energy"]["evidence"]
    assert d["energy"]["method"] == "mcp"
    assert ev["mcp"]["concurrent_months"] == 24 and ev["mcp"]["r_squared"] > 0.95
    assert ev["corrected_mean_ms"] == pytest.approx(truth, rel=0.01)
    assert cli.main(argv) == 0
    table = capsys.readouterr().out
    assert "Evidence    MCP (variance ratio) on 24 months 2014-01..2015-12" in table
    assert "Model basis on-site mast, MCP" in table
    # --mast without its height is one line, status 2
    assert cli.main(argv[:-2]) == 2
    assert "--mast needs --mast-height-m" in capsys.readouterr().err


# ----- result page and memo -------------------------------------------------------------------


def test_page_and_memo_show_the_atlas_scaling(app: Any) -> None:
    import io

    from pypdf import PdfReader

    from tests.service.conftest import new_key
    from tests.service.test_web import EN, ZH, login

    key = new_key(app, "officer", "Officer Li")
    client = app.test_client()
    made = post_json(client, f"{V1}/assessments", request_with(ATLAS), {"X-API-Key": key})
    aid = made.get_json()["id"]
    factor = made.get_json()["energy"]["evidence"]["scale_factor"]
    login(client, key)
    en = client.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True)
    assert "Wind-atlas scaling" in en and "Global Wind Atlas 3.3" in en
    assert f"{factor:.4f}" in en
    assert "Basis of the energy-model uncertainty" in en
    zh = client.get(f"/app/assessments/{aid}", headers=ZH).get_data(as_text=True)
    assert "风能图谱校准" in zh and "发电量模型不确定性的依据" in zh
    memo = client.get(f"/app/assessments/{aid}/memo", headers=EN).get_data(as_text=True)
    assert "Wind-atlas scaling" in memo
    pdf = client.get(f"/app/assessments/{aid}/memo.pdf", headers=EN)
    assert pdf.status_code == 200
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Wind-atlas scaling" in text and "Global Wind Atlas 3.3" in " ".join(text.split())


def test_web_form_atlas_fields_and_mast_upload(app: Any) -> None:
    import io

    from tests.service.conftest import new_key
    from tests.service.test_web import EN, ZH, assess_via_form, login

    client = app.test_client()
    login(client, new_key(app, "officer", "Officer Zhao"))
    form = {
        "lat": "44.1",
        "lon": "87.3",
        "site_name": "evidence form test",
        "technology": "wind",
        "capacity_mw": "49.5",
        "turbine_type": "E-82/2300",
        "hub_height_m": "100",
        "loan_amount": "200000000",
        "currency": "CNY",
        "tenor_years": "15",
        "interest_rate_pct": "4.2",
        "repayment": "annuity",
        "tariff_per_mwh": "250",
        "opex_per_year": "6000000",
        "policy": "",
    }
    page = client.get("/app/site", headers=ZH).get_data(as_text=True)
    assert 'id="site-evidence"' in page and 'name="mast_csv"' in page
    r = assess_via_form(client, {**form, "atlas_mean_wind_ms": "7.1", "atlas_source": "GWA 3.3"})
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]
    aid = r.location.rsplit("/", 1)[-1]
    stored = app.extensions["climate_loan"].store.get_assessment(aid)
    req = json.loads(stored.request_json)
    assert req["project"]["site_evidence"] == {
        "atlas": {"mean_wind_ms": 7.1, "height_m": 100.0, "source": "GWA 3.3"}
    }
    assert stored.response["energy"]["method"] == "atlas_scaled"
    # an atlas without a source: the error sits next to the source field
    r = assess_via_form(client, {**form, "atlas_mean_wind_ms": "7.1"})
    assert r.status_code == 400
    assert 'id="atlas_source-error"' in r.get_data(as_text=True)
    # a mast of a few hours: refused next to the upload, the form kept
    csv_text = "timestamp,wind_speed_ms\n2022-01-01T00:00Z,7\n2022-01-01T01:00Z,8\n"
    data = {**form, "mast_height_m": "80"}
    from tests.service.test_web import csrf

    data["csrf_token"] = csrf(client, "/app/site")
    data["mast_csv"] = (io.BytesIO(csv_text.encode()), "mast.csv")  # type: ignore[assignment]
    r = client.post("/app/assess", data=data, headers=EN, content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="mast_csv-error"' in html
    assert "at least 12 months" in html


def test_read_mast_csv_by_position_without_header(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("2020-01-01 00:00,5.5\n2020-01-01 01:00,\n2020-01-01 02:00,6\n", encoding="utf-8")
    out = read_mast_csv(p, 60)
    assert out["interval_minutes"] == 60 and out["wind_speed_ms"] == [5.5, None, 6.0]
    assert "wind_direction_deg" not in out


def test_export_rows_carry_the_evidence() -> None:
    from service.exports import assessment_rows

    a = {
        "energy": {
            "method": "atlas_scaled",
            "evidence": {
                "method": "atlas_scaled",
                "used": True,
                "height_m": 100.0,
                "corrected_mean_ms": 7.0,
                "scale_factor": 1.0384,
                "sigma_model": 0.065,
                "source": "=GWA",
                "mcp": None,
            },
        }
    }
    rows = {(r[0], r[1]): r[3] for r in assessment_rows(a)}
    assert rows[("energy", "evidence.scale_factor")] == 1.0384
    assert rows[("energy", "evidence.source")] == "=GWA"  # escaped when written, not here
