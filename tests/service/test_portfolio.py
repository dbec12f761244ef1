"""Loan books through ``climate-loan portfolio assess`` (service.portfolio, service.cli_portfolio).

Real files (CSV and Parquet books, the session's NetCDF cube), real worker processes and a
real dask.distributed LocalCluster. The oracle of a loan's assessment is ``climate-loan
assess --json`` on the same request and seed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from service.cli import main
from service.portfolio import BOOK_COLUMNS, REQUIRED_COLUMNS, loan_seed, read_book

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "portfolio_book.csv"
PATHS = "400"


def _rows(n: int | None = None) -> list[dict[str, str]]:
    with EXAMPLE.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows if n is None else rows[:n]


def _write(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    cols = columns or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def _run(*args: str) -> int:
    return main(["portfolio", "assess", *args])


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # one line, never a traceback
    return err[0]


def test_example_book_is_valid_and_uses_every_extra_column() -> None:
    book = read_book(EXAMPLE)
    assert len(book.loans) == 40
    assert {loan.request.project.technology for loan in book.loans} == {"wind", "solar"}
    header = _rows(1)[0].keys()
    assert {"exposure", "lgd_pct", "guarantee_pct", "compensation_pct", "region"} <= header
    assert set(header) <= set(BOOK_COLUMNS)
    assert "finance.tenor_years" in REQUIRED_COLUMNS and "loan_id" in REQUIRED_COLUMNS
    # lists cannot be a column
    assert not any(c.startswith(("project.power_curve", "operating_history")) for c in BOOK_COLUMNS)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda rows, cols: (rows, [c for c in cols if c != "finance.tenor_years"]),
            "header, column finance.tenor_years: required column is missing",
        ),
        (
            lambda rows, cols: ([{**rows[0], "finance.tariff_per_mwh": "cheap"}, *rows[1:]], cols),
            "row 1, column finance.tariff_per_mwh: 'cheap' is not a number",
        ),
        (
            lambda rows, cols: ([rows[0], {**rows[1], "finance.tenor_years": "45"}], cols),
            "row 2, column finance.tenor_years: Input should be less than or equal to 30",
        ),
        (
            lambda rows, cols: ([rows[0], {**rows[1], "loan_id": rows[0]["loan_id"]}], cols),
            "row 2, column loan_id: 'PF-001' appears again (first in row 1)",
        ),
        (
            lambda rows, cols: ([{**rows[0], "site.lat": "30.0"}, rows[1]], cols),
            "row 1, column site.lat: site (30, 87.278) is outside the cube",
        ),
        (
            lambda rows, cols: ([{**rows[0], "guarantee_pct": "90"}, rows[1]], cols),
            "row 1, column compensation_pct: guarantee_pct + compensation_pct is 110 %",
        ),
        (
            lambda rows, cols: ([{**rows[0], "project.hub_height_m": ""}, rows[1]], cols),
            "row 1, column project: a wind project needs hub_height_m",
        ),
        (
            lambda rows, cols: (rows, [*cols, "project.power_curve.power_kw"]),
            "header, column project.power_curve.power_kw: unknown column (lists",
        ),
    ],
    ids=[
        "missing-column",
        "not-a-number",
        "out-of-range",
        "duplicate-id",
        "outside-cube",
        "shares-above-100",
        "wind-without-hub",
        "list-column",
    ],
)
def test_bad_book_names_row_and_column_and_assesses_nothing(
    edit: Any, expected: str, cube_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, cols = edit(_rows(2), list(_rows(1)[0]))
    book = _write(tmp_path / "book.csv", rows, cols)
    out = tmp_path / "out.json"
    status = _run("--cube", str(cube_path), "--book", str(book), "--out", str(out))
    assert status == 2
    line = _error(capsys)
    assert line.startswith("climate-loan portfolio: error: loan book ")
    assert "no loan was assessed" in line
    assert expected in line
    assert not out.exists()


def test_every_problem_is_listed(tmp_path: Path) -> None:
    rows = _rows(3)
    rows[0]["finance.tenor_years"] = "x"
    rows[2]["site.lon"] = "200"
    rows[2]["lgd_pct"] = "120"
    book = _write(tmp_path / "book.csv", rows)
    with pytest.raises(Exception) as info:
        read_book(book)
    problems = [(p.row, p.column) for p in info.value.problems]  # type: ignore[attr-defined]
    assert problems == [(1, "finance.tenor_years"), (3, "lgd_pct"), (3, "site.lon")]


def test_parquet_bad_value_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.read_csv(EXAMPLE).head(3)
    frame.loc[1, "finance.opex_per_year"] = float("nan")  # a missing required value
    frame["finance.tenor_years"] = frame["finance.tenor_years"].astype(float)
    frame.loc[2, "finance.tenor_years"] = 12.5
    path = tmp_path / "book.parquet"
    frame.to_parquet(path, index=False)
    assert _run("--cube", "unused.nc", "--book", str(path)) == 2
    line = _error(capsys)
    assert "row 2, column finance.opex_per_year: required value is missing" in line
    assert "row 3, column finance.tenor_years: 12.5 is not a whole number" in line


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(obj))
    out.pop("id")
    out["provenance"].pop("created_at")
    return out


@pytest.fixture(scope="module")
def small_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # two wind loans and a solar one, in three regions
    rows = [r for r in _rows() if r["loan_id"] in ("PF-001", "PF-002", "PF-008")]
    return _write(tmp_path_factory.mktemp("book") / "book.csv", rows)


@pytest.fixture(scope="module")
def processes_result(
    small_book: Path, cube_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("out") / "result.json"
    args = ["--cube", str(cube_path), "--book", str(small_book), "--paths", PATHS]
    assert _run(*args, "--seed", "77", "--workers", "2", "--out", str(out)) == 0
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def test_each_loan_is_its_single_assessment(
    processes_result: dict[str, Any],
    small_book: Path,
    cube_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    book = read_book(small_book)
    loans = processes_result["loans"]
    assert [r["loan_id"] for r in loans] == ["PF-001", "PF-002", "PF-008"]
    for loan, row in zip(book.loans, loans, strict=True):
        assert row["seed"] == loan_seed(77, loan.loan_id)
        request = loan.request.model_dump(exclude_none=True) | {"seed": row["seed"]}
        path = tmp_path / f"{loan.loan_id}.json"
        path.write_text(json.dumps(request), encoding="utf-8")
        assert (
            main(
                [
                    "assess",
                    "--cube",
                    str(cube_path),
                    "--request",
                    str(path),
                    "--json",
                    "--paths",
                    PATHS,
                ]
            )
            == 0
        )
        single = json.loads(capsys.readouterr().out)
        assert row["pd_tenor"] == single["repayment"]["pd_tenor"]
        assert row["decision"] == single["decision"]
        assert row["expected_loss_tenor"] == single["repayment"]["expected_loss_tenor"]
    # the independent simulation reproduces each loan's PD (same seed, same paths)
    p = processes_result["portfolio"]
    assert p["n_loans"] == 3 and p["n_paths"] == int(PATHS)
    assert p["seed"] == processes_result["run_seed"] == 77
    row0 = loans[0]
    assert row0["exposure"] == pytest.approx(0.9 * row0["loan_amount"], rel=0.01)
    assert row0["lgd"] == 0.35 and row0["guarantee_share"] == 0.4
    assert loans[1]["lgd"] == 0.2 and loans[1]["exposure"] == loans[1]["loan_amount"]
    assert {r["name"] for r in p["concentration"]["by_region"]} == {"Changji", "Urumqi", "Fukang"}
    assert {r["name"] for r in p["concentration"]["by_technology"]} == {"wind", "solar"}


def test_same_loan_same_figures_wherever_it_stands(
    processes_result: dict[str, Any], small_book: Path, cube_path: Path, tmp_path: Path
) -> None:
    # reversed order, Parquet, one process: every loan's assessment is the same
    frame = pd.read_csv(small_book).iloc[::-1]
    path = tmp_path / "book.parquet"
    frame.to_parquet(path, index=False)
    out = tmp_path / "result.json"
    args = ["--cube", str(cube_path), "--book", str(path), "--paths", PATHS, "--seed", "77"]
    assert _run(*args, "--workers", "1", "--out", str(out)) == 0
    again = {r["loan_id"]: r for r in json.loads(out.read_text(encoding="utf-8"))["loans"]}
    for row in processes_result["loans"]:
        other = again[row["loan_id"]]
        for key in ("seed", "pd_tenor", "pd_annual", "decision", "grade", "dscr_p90_min"):
            assert other[key] == row[key], key


def test_dask_cluster_gives_the_same_result(
    processes_result: dict[str, Any], small_book: Path, cube_path: Path, tmp_path: Path
) -> None:
    from distributed import LocalCluster

    out = tmp_path / "result.json"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        args = ["--cube", str(cube_path), "--book", str(small_book), "--paths", PATHS]
        assert (
            _run(*args, "--seed", "77", "--scheduler", cluster.scheduler_address, "--out", str(out))
            == 0
        )
    result = json.loads(out.read_text(encoding="utf-8"))
    strip = {"assessment_id"}
    assert [{k: v for k, v in r.items() if k not in strip} for r in result["loans"]] == [
        {k: v for k, v in r.items() if k not in strip} for r in processes_result["loans"]
    ]
    assert result["portfolio"] == processes_result["portfolio"]


def test_csv_and_parquet_outputs_hold_the_loan_table(
    small_book: Path, cube_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--cube", str(cube_path), "--book", str(small_book), "--paths", PATHS, "--seed", "5"]
    assert _run(*args, "--workers", "1", "--out", str(tmp_path / "r.csv")) == 0
    table = capsys.readouterr().out
    assert "shared years" in table and "P(NPL > 3 %)" in table
    assert _run(*args, "--workers", "1", "--out", str(tmp_path / "r.parquet")) == 0
    from_csv = pd.read_csv(tmp_path / "r.csv")
    from_pq = pd.read_parquet(tmp_path / "r.parquet")
    assert list(from_csv["loan_id"]) == list(from_pq["loan_id"]) == ["PF-001", "PF-002", "PF-008"]
    pd.testing.assert_series_equal(from_csv["pd_tenor"], from_pq["pd_tenor"])
    assert from_csv["error"].isna().all()
    assert _run(*args, "--workers", "1", "--out", str(tmp_path / "r.xlsx")) == 0
    assert _run(*args, "--workers", "1", "--out", str(tmp_path / "r.json")) == 0
    result = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    sheets = pd.read_excel(tmp_path / "r.xlsx", sheet_name=None)
    assert list(sheets) == ["Loans", "Portfolio", "NPL by year", "Concentration"]
    assert list(sheets["Loans"]["pd_tenor"]) == list(from_csv["pd_tenor"])
    figures = sheets["Portfolio"].set_index("figure")
    joint = result["portfolio"]["joint"]
    assert figures.loc["loss_q99", "shared_years"] == joint["var_99"]
    assert (
        figures.loc["expected_loss_bank", "shared_years"]
        == (result["portfolio"]["risk_sharing"]["expected_loss"]["bank"])
    )
    assert len(sheets["NPL by year"]) == result["portfolio"]["horizon_years"]


def test_bad_options_are_one_line(
    small_book: Path, cube_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--cube", str(cube_path), "--book", str(small_book)]
    assert _run(*base, "--paths", "0") == 2
    assert "--paths must be from 2" in _error(capsys)
    assert _run(*base, "--npl-tolerance-pct", "150") == 2
    assert "--npl-tolerance-pct" in _error(capsys)
    assert _run(*base, "--out", "result.ods") == 2
    assert "use a .json, .xlsx, .csv or .parquet" in _error(capsys)
    assert _run("--cube", str(cube_path), "--book", "missing.csv") == 2
    assert "does not exist" in _error(capsys)
    assert _run(*base, "--paths", "10", "--scheduler", "tcp://127.0.0.1:1") == 2
    assert "cannot reach the dask scheduler" in _error(capsys)
