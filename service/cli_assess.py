"""``climate-loan assess``: assess a loan request against an indicator cube.

::

    climate-loan assess --cube CUBE.nc --request request.json [--json] [--paths N]
                        [--models-dir DIR] [--mast MAST.csv --mast-height-m H]

The request file holds the assessment request of service contract v1
(:mod:`service.requests`); ``-`` reads it from standard input. The request is validated before
the cube is opened, so a bad field is reported at once, in one line naming the field. With
``--json`` the assessment object is printed (what ``POST /api/v1/assessments`` returns);
otherwise a table for a person: decision, rules with value and threshold, energy, DSCR and PD.

The PD scorecard is the production one of the model registry (``--models-dir``, else
``$CLIMATE_LOAN_MODELS_DIR``, else the registry's default folder; the shipped ``scorecard-v0``
when it has none), as in the service; its id is recorded in ``provenance.model_versions``.

``--mast`` reads an on-site mast CSV (``timestamp,wind_speed_ms[,wind_direction_deg]``, UTC,
10- or 60-minute values; :func:`service.site_evidence.read_mast_csv`) measured at
``--mast-height-m`` and puts it into the request as ``project.site_evidence.mast`` (replacing
any site evidence of the file): the energy then comes from an MCP (:mod:`models.evidence`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service import formatting
from service.cli_climate import add_cube_option, resolve_cube_path
from service.cli_output import add_format_option, flatten, print_json, write_csv
from service.errors import UsageError
from service.site_evidence import evidence_summary, read_mast_csv

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: SubParsers) -> None:
    """Add the ``assess`` subcommand."""
    p = sub.add_parser(
        "assess",
        help="assess a loan request (JSON file) against an indicator cube",
        description="Print the lending decision, rules, energy, DSCR and PD of a request.",
    )
    add_cube_option(p)
    p.add_argument(
        "--request",
        required=True,
        help="assessment request, JSON (see service/requests.py); '-' for standard input",
    )
    add_format_option(p)  # json: the assessment object of the API; csv: field,value rows
    p.add_argument(
        "--paths",
        type=int,
        default=None,
        help="Monte Carlo paths (default: the model's 10,000)",
    )
    p.add_argument(
        "--models-dir",
        default=None,
        help="model registry folder for the production PD scorecard "
        "(default: $CLIMATE_LOAN_MODELS_DIR, else the registry's default)",
    )
    p.add_argument(
        "--mast",
        default=None,
        metavar="FILE.csv",
        help="on-site mast CSV (timestamp,wind_speed_ms[,wind_direction_deg]; UTC, 10 or 60 "
        "min) for a measure-correlate-predict; needs --mast-height-m",
    )
    p.add_argument(
        "--mast-height-m", type=float, default=None, help="measurement height of --mast [m]"
    )
    p.add_argument(
        "--mcp-method",
        choices=("variance_ratio", "linear_regression"),
        default="variance_ratio",
        help="MCP method for --mast (default: variance_ratio)",
    )
    p.set_defaults(func=cmd_assess)


def add_mast(data: Any, args: argparse.Namespace) -> Any:
    """Put ``--mast`` into the request as ``project.site_evidence`` (a copy; others kept)."""
    mast = getattr(args, "mast", None)
    height = getattr(args, "mast_height_m", None)
    if mast is None:
        if height is not None:
            raise UsageError("--mast-height-m needs --mast FILE.csv")
        return data
    if height is None:
        raise UsageError("--mast needs --mast-height-m (the measurement height in m)")
    if not isinstance(data, dict) or not isinstance(data.get("project"), dict):
        return data  # the request's own validation names what is missing
    evidence = {"mast": read_mast_csv(mast, height), "mcp_method": args.mcp_method}
    return {**data, "project": {**data["project"], "site_evidence": evidence}}


def read_request(source: str) -> Any:
    """Read and decode the request file (``-`` for standard input).

    Raises
    ------
    UsageError
        The file cannot be read or is not JSON; the message says where.
    """
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read request file {source}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"request file {source} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"request file {source} is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None


def cmd_assess(args: argparse.Namespace) -> int:
    """Run one assessment and print it."""
    # lazy: CLI start-up (the model chain and the cube load pvlib, dask and pint, about 2 s,
    # which every other command and `--help` would pay)
    from climate_data.cube import Cube
    from models.assessment import DEFAULT_N_PATHS, assess
    from models.errors import ModelInputError
    from models.registry import Registry
    from service.requests import parse_request, to_model_inputs

    if args.paths is not None and not 1 <= args.paths <= 1_000_000:
        raise UsageError(f"--paths must be from 1 to 1,000,000, got {args.paths}")
    request = parse_request(add_mast(read_request(args.request), args))
    inputs = to_model_inputs(request)
    cube = Cube.open(resolve_cube_path(args.cube))
    site = cube.site(inputs.lat, inputs.lon)
    scorecard = Registry(args.models_dir).production("scorecard")  # RegistryError: one line
    try:
        result = assess(
            site,
            inputs.project,
            inputs.terms,
            inputs.policy,
            inputs.seed,
            n_paths=DEFAULT_N_PATHS if args.paths is None else args.paths,
            operating_history=inputs.operating_history,
            scorecard=scorecard,
            project_cost=inputs.project_cost,
            driver_overrides=inputs.driver_overrides,
            site_evidence=inputs.site_evidence,
        )
    except ModelInputError as exc:
        # any other exception is a fault of the code, not of the request: keep its traceback
        raise UsageError(str(exc)) from None
    obj = result.to_dict()
    try:
        json.dumps(obj, allow_nan=False)  # never print "nan" as a figure
    except ValueError:
        raise UsageError(
            "the assessment produced a number that is not finite (NaN or infinity); "
            "no decision was given"
        ) from None
    if args.format == "json":
        print_json(obj)
    elif args.format == "csv":
        write_csv(["field", "value"], flatten(obj))
    else:
        print(format_table(obj, inputs.site_name))
    return 0


# ----------------------------------------------------------------------------- table


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def _ratio(value: float | None) -> str:
    return formatting.ratio(value)  # 1.23×, as on the web page and the memo


def _pct(value: float | None, digits: int = 2) -> str:
    return formatting.percent(value, digits)  # 4.1 %, as on the web page and the memo


def format_table(obj: dict[str, Any], site_name: str | None = None) -> str:
    """Readable summary of an assessment object (the ``--json`` output, for a person)."""
    c, e, r, prov = obj["climate"], obj["energy"], obj["repayment"], obj["provenance"]
    lines: list[str] = []
    where = f"{c['site']['lat']:.4f}, {c['site']['lon']:.4f}"
    if site_name:
        where = f"{site_name} ({where})"
    synthetic = " — SYNTHETIC DATA" if prov.get("synthetic") else ""
    lines.append(f"Assessment {obj['id']}")
    lines.append(
        f"Site        {where}; data cell {c['cell']['lat']:.3f}, {c['cell']['lon']:.3f} "
        f"({c['cell']['distance_km']} km away)"
    )
    lines.append(
        f"Policy      {prov['policy_id']} v{prov['policy_version']}; dataset "
        f"{c['dataset']['id']}{synthetic}"
    )
    lines.append(f"Decision    {obj['decision'].upper()}")
    lines += _rule_lines(obj)
    lines += _energy_lines(e)
    lines.append(
        f"Loan        {_fmt(r['loan_amount'])} {r['currency']}, {r['tenor_years']} years at "
        f"{r['interest_rate_pct']} %, {r['repayment']}"
    )
    lines.append(
        f"DSCR min    P50 {_ratio(r['dscr_p50_min'])}  P90 1y {_ratio(r.get('dscr_p90_1y_min'))}"
        f"  P90 10y {_ratio(r['dscr_p90_min'])}  P99 1y {_ratio(r['dscr_p99_min'])}"
        f"  LLCR {_ratio(r['llcr'])}"
    )
    lines.append(
        f"Risk        PD tenor {_pct(r['pd_tenor'])}"
        f"  PD annual {formatting.probability(r['pd_annual'])}"
        f"  expected loss {_fmt(r['expected_loss'])} {r['currency']}  grade {r['grade'] or 'n/a'}"
    )
    lines += _scorecard_lines(r)
    lines += _sizing_lines(r)
    lines.extend(_drivers_lines(obj.get("risk_drivers")))
    lines.extend(_sensitivity_lines(obj.get("sensitivities"), r["currency"]))
    lines.append(f"Seed        {prov['seed']} ({prov['n_paths']:,} paths)")
    return "\n".join(lines)


def _rule_lines(obj: dict[str, Any]) -> list[str]:
    """The rules as a table, then the reasons of the decision."""
    lines = [""]
    header = ("rule", "metric", "value", "op", "threshold", "result")
    rows = [
        (
            rule["id"],
            rule["metric"],
            formatting.metric_value(rule["metric"], rule.get("unit", ""), rule["value"]),
            rule["operator"],
            formatting.metric_value(rule["metric"], rule.get("unit", ""), rule["threshold"]),
            "pass" if rule["passed"] else f"FAIL -> {rule['outcome']}",
        )
        for rule in obj["rules"]
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        cells = (str(x).ljust(w) for x, w in zip(row, widths, strict=True))
        lines.append(("  " + "  ".join(cells)).rstrip())
    if obj["reasons"]:
        lines += ["", "Reasons"]
        lines += [f"  {reason['code']}: {reason['message']}" for reason in obj["reasons"]]
    return lines


def _energy_lines(e: dict[str, Any]) -> list[str]:
    """Energy figures, their uncertainty, site evidence and operating losses."""
    lines = [
        "",
        f"Energy      {e['method']}, {e['n_years']} year(s); net MWh/yr: P50 {_fmt(e['p50_mwh'])}"
        f"  P90 {_fmt(e['p90_mwh'])}  P90 10y {_fmt(e['p90_10y_mwh'])}"
        f"  P99 {_fmt(e['p99_mwh'])}  sigma {formatting.iav(e['sigma'])}",
    ]
    sc = e.get("sigma_components")
    if sc:
        lines.append(
            f"Uncertainty IAV {_pct(sc.get('iav_1y'), 1)}  long-term mean "
            f"{_pct(sc.get('lt_mean'), 1)} ({sc.get('n_record_years')} record years)  model "
            f"{_pct(sc.get('model'), 1)}  total 1y {_pct(sc.get('total_1y'), 1)}"
            f"  total 10y {_pct(sc.get('total_10y'), 1)}"
        )
    if sc and sc.get("model_basis"):
        lines.append(f"Model basis {sc['model_basis']}")
    ev = e.get("evidence")
    if ev:
        lines.append(f"Evidence    {evidence_summary(ev)}")
    ol = e.get("operating_losses")
    if ol:
        lines.append(
            f"Op. losses  availability {_pct(ol['availability_fraction'], 1)}  curtailment "
            f"{_pct(ol['curtailment_fraction'], 1)}; {ol['months_dropped_high_loss']} of "
            f"{ol['months_input']} months dropped (loss above "
            f"{_pct(ol['loss_threshold_fraction'], 0)})"
        )
    return lines


def _scorecard_lines(r: dict[str, Any]) -> list[str]:
    """The PD scorecard's result, if one was applied."""
    sc = r.get("scorecard")
    if not sc:
        return []
    synthetic = " (SYNTHETIC training data)" if sc.get("synthetic") else ""
    return [
        f"Scorecard   {sc['card']}{synthetic}: PD {_pct(r['pd_scorecard'])}"
        f"  grade {r['scorecard_grade'] or 'n/a'}"
    ]


def _sizing_lines(r: dict[str, Any]) -> list[str]:
    """The largest loan meeting every DSCR rule, if the policy sizes the debt."""
    s = r.get("sizing")
    if not s:
        return []
    cases = {"p50": "P50", "p90_1y": "P90 1y", "p90_10y": "P90 10y", "p99_1y": "P99 1y"}
    rules = ", ".join(
        f"{c['target']:g} at {cases.get(c['case'], c['case'])}" for c in s["covenants"]
    )
    return [
        f"Sizing      largest loan meeting every DSCR rule ({rules}): "
        f"{_fmt(s['max_loan_amount'])} {r['currency']}; binding: {s['binding_rule']} "
        f"({s['binding_target']:g} at {cases.get(s['binding_case'], s['binding_case'])})"
    ]


def _drivers_lines(rd: dict[str, Any] | None) -> list[str]:
    """The risk drivers applied, one line."""
    if not rd:
        return []
    c = rd["curtailment"]
    return [
        f"Drivers     curtailment {c['mean_pct']:g} % (sd {c['sd_pct']:g}, persistent "
        f"{c['persistent_share']:g}; applied mean {c['effective_mean_pct']:.2f} %)"
        f"  merchant {rd['merchant_share_pct']:g} % (price sd {rd['price_sd_pct']:g} %, "
        f"corr {rd['price_wind_corr']:g})  availability sd {rd['availability_sd_pct']:g} pt"
        f"  opex sd {rd['opex_sd_pct']:g} %  ageing {rd['ageing_pct_per_year']:g} %/yr"
        f"  trend {rd['energy_trend_pct_per_year']:g} %/yr"
    ]


def _sensitivity_lines(sens: dict[str, Any] | None, currency: str) -> list[str]:
    """The sensitivity table and break-even values."""
    if not sens:
        return []
    lines = [
        "",
        f"Sensitivities (common random numbers; changes measured on {sens['n_stress_paths']:,}"
        " paths)",
    ]
    header = ("case", "PD tenor", "change", "min DSCR P90 10y")
    rows = [
        (
            case["label"],
            _pct(case["pd_tenor"]),
            "" if case["id"] == "base" else f"{100 * case['delta_pd_tenor']:+.2f} pt",
            _ratio(case["dscr_p90_min"]),
        )
        for case in sens["cases"]
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        cells = (str(x).ljust(w) for x, w in zip(row, widths, strict=True))
        lines.append(("  " + "  ".join(cells)).rstrip())
    be = sens["break_even"]
    if be["tariff_per_mwh"] is not None:
        lines.append(
            f"Break-even  tariff {_fmt(be['tariff_per_mwh'])} {currency}/MWh "
            f"({be['tariff_headroom_pct']:+.1f} % headroom)  P50 {_fmt(be['p50_mwh'])} MWh/yr "
            f"({be['p50_headroom_pct']:+.1f} %); binding rule {be['binding_rule']}, "
            f"year {be['binding_year']}"
        )
    else:
        lines.append("Break-even  n/a (no DSCR rule in the policy)")
    lines.append("")
    return lines
