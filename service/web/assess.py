"""The site page and the assessment it posts.

``/app/site`` shows the map and the project and loan form; ``/app/assess`` validates the form
and assesses through :func:`service.api.make_assessment`, the API's own validation and audit
record, then shows the stored result.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from flask import (
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from pydantic import ValidationError as PydanticValidationError

from climate_data.errors import SiteOutsideCoverage
from models.errors import ModelInputError
from service.problems import Problem
from service.requests import ProjectIn, SiteIn
from service.web.common import (
    app_state,
    bp,
    fmt_num,
    lang,
    require_login,
)
from service.web.forms import (
    DRIVER_INPUTS,
    AssessmentForm,
    Limits,
    driver_value,
    request_limits,
)
from service.web.site_map import LAYERS, available_layers, build_map, layer_names


def parse_power_curve(data: bytes) -> dict[str, list[float]]:
    """Read an uploaded power curve: two columns, wind speed [m/s] and power [kW].

    A header row is allowed; commas, semicolons or tabs separate the columns.

    Raises
    ------
    ValueError
        With a translated message naming the line at fault.
    """
    speeds: list[float] = []
    powers: list[float] = []
    for n, row in enumerate(_curve_rows(data), start=1):
        point = _curve_point(row, n)
        if point is not None:
            speeds.append(point[0])
            powers.append(point[1])
    if len(speeds) < 2:
        raise ValueError(_("The power curve needs at least two rows."))
    if len(speeds) > 500:
        raise ValueError(_("The power curve has more than 500 rows."))
    from models.turbines import PowerCurve

    try:
        PowerCurve.from_points(speeds, powers, None)
    except ModelInputError as exc:
        raise ValueError(_("The power curve is not valid: %(detail)s", detail=str(exc))) from None
    return {"wind_speed_ms": speeds, "power_kw": powers}


def _curve_rows(data: bytes) -> list[list[str]]:
    """The rows of an uploaded power-curve CSV (UTF-8; the delimiter is sniffed)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(_("The file is not UTF-8 text.")) from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise ValueError(_("The power curve is not valid: %(detail)s", detail=str(exc))) from None


def _curve_point(row: Sequence[str], n: int) -> tuple[float, float] | None:
    """Wind speed and power of line ``n``; None for a blank line or the header (line 1)."""
    cells = [c.strip() for c in row if c.strip() != ""]
    if not cells:
        return None
    if len(cells) < 2:
        raise ValueError(_("Line %(n)s: expected two columns, wind speed and power.", n=n))
    try:
        ws, pw = float(cells[0]), float(cells[1])
    except ValueError:
        if n == 1:
            return None  # header
        raise ValueError(_("Line %(n)s: not a number.", n=n)) from None
    if not (math.isfinite(ws) and math.isfinite(pw)):
        raise ValueError(_("Line %(n)s: not a number.", n=n))
    return ws, pw


def site_evidence_of(form: AssessmentForm) -> dict[str, Any] | None:
    """``project.site_evidence`` from the form's atlas fields or mast CSV (wind), or None.

    Raises
    ------
    ValueError
        Incomplete evidence or an unreadable mast CSV; the message is for the officer.
    """
    from service.errors import UsageError
    from service.site_evidence import parse_mast_csv

    if form.technology.data != "wind":
        return None
    upload = form.mast_csv.data
    has_mast = bool(getattr(upload, "filename", ""))
    atlas = form.atlas_mean_wind_ms.data
    if has_mast and atlas is not None:
        raise ValueError(_("Give either an atlas mean or a mast, not both."))
    if has_mast:
        if form.mast_height_m.data is None:
            raise ValueError(_("Give the height of the mast [m]."))
        try:
            text = upload.read().decode("utf-8-sig")
            mast = parse_mast_csv(text, float(form.mast_height_m.data), upload.filename)
        except UnicodeDecodeError:
            raise ValueError(_("The mast file is not UTF-8 text.")) from None
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return {"mast": mast}
    if atlas is not None:
        height = form.atlas_height_m.data
        if height is None:
            height = form.hub_height_m.data
        return {
            "atlas": {
                "mean_wind_ms": atlas,
                "height_m": height,
                "source": (form.atlas_source.data or "").strip(),
            }
        }
    return None


def build_request(
    form: AssessmentForm,
    curve: Mapping[str, list[float]] | None,
    evidence: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The assessment request (contract v1, service/requests.py) from a validated form."""
    tech = form.technology.data
    wind = tech == "wind"
    project = _wind_project(form, curve, evidence) if wind else _solar_project(form)
    site: dict[str, Any] = {"lat": form.lat.data, "lon": form.lon.data}
    if form.site_name.data:
        site["name"] = form.site_name.data.strip()
    out: dict[str, Any] = {"site": site, "project": project, "finance": _finance(form)}
    _add_drivers(out, form, tech)
    if form.policy.data:
        out["policy"] = form.policy.data
    return out


def _wind_project(
    form: AssessmentForm,
    curve: Mapping[str, list[float]] | None,
    evidence: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The request's wind ``project``: turbine or uploaded curve, hub, losses, site evidence."""
    project: dict[str, Any] = {"technology": "wind", "capacity_mw": form.capacity_mw.data}
    if curve is not None:
        project["power_curve"] = dict(curve)
    else:
        from models.turbines import get_turbine

        project["turbine_type"] = get_turbine(str(form.turbine_type.data)).turbine_type
    project["hub_height_m"] = form.hub_height_m.data
    losses = {
        name: getattr(form, name).data
        for name in ("availability_pct", "wake_pct", "electrical_pct", "other_pct")
        if getattr(form, name).data is not None
    }
    if losses:
        project["losses"] = losses
    if evidence is not None:
        project["site_evidence"] = dict(evidence)
    return project


def _solar_project(form: AssessmentForm) -> dict[str, Any]:
    """The request's solar ``project``: capacity and the optional plant figures typed."""
    project: dict[str, Any] = {"technology": form.technology.data}
    project["capacity_mw"] = form.capacity_mw.data
    for name in ("dc_ac_ratio", "losses_pct", "degradation_pct_per_year"):
        if getattr(form, name).data is not None:
            project[name] = getattr(form, name).data
    return project


def _finance(form: AssessmentForm) -> dict[str, Any]:
    """The request's ``finance``: the loan and the project's revenue and costs."""
    finance: dict[str, Any] = {
        "loan_amount": form.loan_amount.data,
        "currency": form.currency.data,
        "tenor_years": form.tenor_years.data,
        "interest_rate_pct": form.interest_rate_pct.data,
        "repayment": form.repayment.data,
        "tariff_per_mwh": form.tariff_per_mwh.data,
        "opex_per_year": form.opex_per_year.data,
    }
    if form.project_cost.data is not None:
        finance["project_cost"] = form.project_cost.data
    return finance


def _add_drivers(out: dict[str, Any], form: AssessmentForm, tech: str | None) -> None:
    """Put the risk drivers the officer typed into the request (the rest: the product's)."""
    for d in DRIVER_INPUTS:
        value = form._fields[d.field].data
        if value is None or (d.wind_only and tech != "wind"):
            continue
        node = out
        for part in d.request[:-1]:
            node = node.setdefault(part, {})
        node[d.request[-1]] = value


#: Form field that shows an error at each request location (first two path parts).
_FIELD_OF: dict[tuple[str, ...], str] = {
    ("site", "lat"): "lat",
    ("site", "lon"): "lon",
    ("site", "name"): "site_name",
    ("site",): "lat",
    ("project", "power_curve"): "power_curve_csv",
    ("project", "site_evidence", "mast"): "mast_csv",
    ("project", "site_evidence", "atlas"): "atlas_mean_wind_ms",
    ("project", "site_evidence"): "atlas_mean_wind_ms",
    ("project", "losses"): "availability_pct",
    ("project",): "turbine_type",
    ("policy",): "policy",
    ("(body)",): "",
    ("project", "curtailment"): "curtailment_mean_pct",
    **{d.request: d.field for d in DRIVER_INPUTS},
}


def _field_for(loc: Sequence[str], form: AssessmentForm) -> str:
    parts = tuple(p for p in loc if p)
    if parts[:3] == ("project", "site_evidence", "atlas") and parts[-1] == "source":
        return "atlas_source"
    for n in (3, 2, 1):
        if parts[:n] in _FIELD_OF:
            return _FIELD_OF[parts[:n]]
    name = parts[-1] if parts else ""
    if name in ("availability_pct", "wake_pct", "electrical_pct", "other_pct"):
        return name
    return name if name in form._fields else ""


def _attach(form: AssessmentForm, loc: Sequence[str], message: str) -> str | None:
    """Put ``message`` next to the field of ``loc``; return it when no field fits."""
    name = _field_for(loc, form)
    field = form._fields.get(name) if name else None
    if field is None:
        return message
    field.errors = [*list(field.errors or []), message]
    return None


def _form_defaults(form: AssessmentForm) -> None:
    """Fill an empty form with a typical wind project (the officer edits it)."""
    defaults = {
        "capacity_mw": 49.5,
        "turbine_type": "E-82/2300",
        "hub_height_m": 100.0,
        "loan_amount": 200_000_000.0,
        "tenor_years": 15,
        "interest_rate_pct": 4.2,
        "tariff_per_mwh": 250.0,
        "opex_per_year": 6_000_000.0,
    }
    for name, value in defaults.items():
        field = form._fields[name]
        if field.data is None or field.data == "":
            field.data = value


def _policy_choices(form: AssessmentForm) -> None:
    st = app_state()
    key = "name_zh" if lang() == "zh" else "name_en"
    choices = [("", _("Default product for the technology"))]
    for pid, policy in sorted(st.policies.items()):
        tech = _("Wind") if policy.technology == "wind" else _("Solar")
        choices.append((pid, f"{getattr(policy, key)} ({tech}, v{policy.version})"))
    form.policy.choices = choices


def _turbine_options() -> list[dict[str, str]]:
    from models.turbines import list_turbines

    out = []
    for t in list_turbines(with_curve_only=True):
        out.append(
            {
                "value": t.turbine_type,
                "label": f"{t.manufacturer} · {fmt_num(t.rated_power_kw, 0)} kW",
            }
        )
    return out


def _number_arg(name: str, limits: Limits) -> float | None:
    """A number of the query string within ``limits``, else None."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        v = float(raw)
    except ValueError:
        return None
    return v if math.isfinite(v) and limits.contains(v) else None


def driver_defaults() -> dict[str, Any]:
    """Each lending product's default of every driver field, for the form's placeholders.

    ``{"policies": {policy id: {field: value}}, "default": {technology: policy id}}``; a
    product without ``risk_drivers`` has every driver at zero.
    """
    from models.drivers import RiskDrivers

    st = app_state()
    policies: dict[str, dict[str, float | None]] = {}
    for pid, policy in st.policies.items():
        defaults = policy.risk_drivers
        drivers = defaults.drivers if defaults is not None else RiskDrivers()
        policies[pid] = {d.field: driver_value(drivers, d.attr) for d in DRIVER_INPUTS}
    return {"policies": policies, "default": dict(st.default_policies)}


def _placeholders(form: AssessmentForm, defaults: Mapping[str, Any]) -> dict[str, str]:
    """The driver placeholders of the product the form names (or the technology's default)."""
    tech = form.technology.data if form.technology.data in ("wind", "solar") else "wind"
    pid = form.policy.data or defaults["default"].get(tech, "")
    values = defaults["policies"].get(pid, {})
    return {name: "" if v is None else f"{v:g}" for name, v in values.items()}


def _site_page(form: AssessmentForm, status: int = 200, general: Sequence[str] = ()) -> Any:
    st = app_state()
    layers = available_layers(st.cube)
    layer = request.args.get("layer", LAYERS[0])
    if layer not in layers:
        layer = LAYERS[0]
    hub_limits = request_limits(ProjectIn, "hub_height_m")
    hub = _number_arg("hub_height_m", hub_limits)
    if hub is None:
        typed = form.hub_height_m.data
        in_range = isinstance(typed, int | float) and hub_limits.contains(typed)
        hub = float(typed) if in_range and typed is not None else 100.0
    selected = None
    lat, lon = form.lat.data, form.lon.data
    # a coordinate the form rejects (out of range) is neither marked nor looked up
    if (
        isinstance(lat, float)
        and isinstance(lon, float)
        and request_limits(SiteIn, "lat").contains(lat)
        and request_limits(SiteIn, "lon").contains(lon)
    ):
        selected = (lat, lon)

    def link(lat: float, lon: float) -> str:
        return (
            url_for("web.site", layer=layer, hub_height_m=_short(hub), lat=lat, lon=lon)
            + "#project"
        )

    grid = build_map(st.cube, layer, float(hub), selected, link)
    cell_info = None
    if selected is not None:
        try:
            site = st.cube.site(*selected)
        except SiteOutsideCoverage:
            cell_info = {"outside": True}
        else:
            cell_info = {
                "outside": False,
                "lat": site.cell_lat,
                "lon": site.cell_lon,
                "distance_km": site.distance_km,
            }
    _policy_choices(form)
    defaults = driver_defaults()
    return (
        render_template(
            "site.html",
            form=form,
            grid=grid,
            layer=layer,
            layers=[(name, layer_names()[name]) for name in layers],
            hub_height_m=hub,
            hub_limits=hub_limits,
            drivers=DRIVER_INPUTS,
            driver_defaults=defaults,
            driver_placeholders=_placeholders(form, defaults),
            cell_info=cell_info,
            turbines=_turbine_options(),
            general_errors=list(general),
            dataset=st.cube.dataset,
            bounds={
                "lat": (float(np.min(st.cube.lats)), float(np.max(st.cube.lats))),
                "lon": (float(np.min(st.cube.lons)), float(np.max(st.cube.lons))),
            },
        ),
        status,
    )


def _short(v: float) -> str:
    return f"{v:g}"


@bp.route("/app/site")
def site() -> Any:
    """The map and the project and loan form."""
    require_login()
    form = AssessmentForm(formdata=None)
    form.lat.data = _number_arg("lat", request_limits(SiteIn, "lat"))
    form.lon.data = _number_arg("lon", request_limits(SiteIn, "lon"))
    hub = _number_arg("hub_height_m", request_limits(ProjectIn, "hub_height_m"))
    if hub is not None:
        form.hub_height_m.data = hub
    _form_defaults(form)
    return _site_page(form)


def _add_error(field: Any, message: str) -> None:
    """Show ``message`` next to a form field, after the errors it has."""
    field.errors = [*list(field.errors or []), message]


def _uploads(form: AssessmentForm) -> tuple[bool, Mapping[str, Any] | None, dict[str, Any] | None]:
    """Read the uploaded power curve and the site evidence, each error next to its field.

    Returns whether both were readable, the curve (None: the listed turbine) and the evidence.
    """
    ok = True
    curve = None
    upload = form.power_curve_csv.data
    if form.technology.data == "wind" and getattr(upload, "filename", ""):
        try:
            curve = parse_power_curve(upload.read())
        except ValueError as exc:
            _add_error(form.power_curve_csv, str(exc))
            ok = False
    evidence = None
    try:
        evidence = site_evidence_of(form)
    except ValueError as exc:
        target = form.mast_csv if getattr(form.mast_csv.data, "filename", "") else None
        _add_error(target or form.atlas_mean_wind_ms, str(exc))
        ok = False
    return ok, curve, evidence


def _schema_errors(form: AssessmentForm, exc: PydanticValidationError) -> list[str]:
    """Put each error of the request schema next to its field; return those that fit none."""
    general: list[str] = []
    for err in exc.errors(include_url=False):
        msg = str(err["msg"]).removeprefix("Value error, ")
        left = _attach(form, [str(p) for p in err["loc"]], msg)
        if left:
            general.append(left)
    return general


def _problem_errors(form: AssessmentForm, problem: Problem) -> list[str]:
    """Put the errors of the API's problem next to their fields; return those that fit none."""
    general: list[str] = []
    if problem.status == 422 and problem.errors:
        for perr in problem.errors:
            loc = str(perr.get("field", "")).split(".")
            text = str(perr.get("message", problem.detail))
            if loc and loc[0] == "site":
                text = _("This site is outside the data or lacks usable years: %(d)s", d=text)
            left = _attach(form, loc, text)
            if left:
                general.append(left)
    elif problem.status == 503:
        general.append(
            _("The assessment could not be recorded, so no decision was given. Try again later.")
        )
    else:
        general.append(problem.detail)
    return general


@bp.route("/app/assess", methods=["POST"])
def assess() -> Any:
    """Validate the form, assess through the API view (stored first), show the stored result."""
    record = require_login()
    form = AssessmentForm()
    _policy_choices(form)
    ok = form.validate()
    uploads_ok, curve, evidence = _uploads(form)
    if not (ok and uploads_ok):
        return _site_page(form, 400)
    raw = build_request(form, curve, evidence)
    from service.api import make_assessment
    from service.requests import AssessmentRequest

    try:
        parsed = AssessmentRequest.model_validate(raw)
    except PydanticValidationError as exc:
        return _site_page(form, 400, _schema_errors(form, exc))
    wait = app_state().limiter.check(record.id)
    if wait is not None:
        return _site_page(form, 429, [_("Too many requests; try again in %(s)s s.", s=wait)])
    g.api_key = record
    try:
        stored, _replayed = make_assessment(app_state(), parsed, raw, record)
    except Problem as problem:
        return _site_page(form, problem.status, _problem_errors(form, problem))
    return redirect(url_for("web.result", assessment_id=stored.id), 303)
