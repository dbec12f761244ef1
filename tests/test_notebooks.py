"""The modellers' notebooks run end to end, and their committed .ipynb pairs are clean.

Each ``notebooks/NN_*.py`` (jupytext py:percent) is converted to a notebook and executed with
nbclient on the venv's Python kernel, with ``NB_SMALL=1`` and a temporary registry folder and
working folder, so CI runs all three in about a minute. Any cell error fails the test, and so
does a warning printed by a cell (the project runs pytest with warnings as errors). After the
notebook's own cells, the test appends check cells that assert on the notebook's variables:
the figures it showed are the ones the package computes, within the tolerances stated there.

The committed ``.ipynb`` files must carry no outputs and hold the same cells as their ``.py``
pair (regenerate with ``jupytext --sync notebooks/*.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jupytext  # type: ignore[import-untyped]
import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

from models.registry import Registry

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
#: Seconds any one cell may take (a cube build on a busy 2-core machine takes ~20 s).
CELL_TIMEOUT_S = 240

#: Checks appended to each executed notebook (run in its kernel, on its variables).
CHECKS: dict[str, str] = {
    "01_climate_data": """
import math
assert cube.synthetic and summary["dataset"]["synthetic"] is True
assert wind_map.shape == (4, 4) and len(info["years"]) == 3
# The map layer and the site summary are two paths through the package to the same figure:
# the layer's value at the site's cell equals the summary's trailing mean (rounded to 3 digits).
cell = wind_map.sel(lat=summary["cell"]["lat"], lon=summary["cell"]["lon"]).item()
assert math.isclose(cell, w["trailing_3y_mean_ms"], abs_tol=5.1e-4), (cell, w)
# Every complete year's annual mean at hub height is shown; the trailing mean is their mean.
assert math.isclose(annual.mean(), w["trailing_3y_mean_ms"], abs_tol=1e-3)
assert w["monthly_cv"] is not None and 0 < w["monthly_cv"] < 1
""",
    "02_long_term_correction": """
import math
assert not cube.synthetic
# A: three years of the mast node corrected with its neighbour land within 1 % of the node's own
# long-term mean (tests/models/test_longterm.py measures 0.5 % on the same months).
assert res_a.n_months_used == 36 and res_a.fit.r_squared > 0.95
assert math.isclose(res_a.point_estimate, truth_a, rel_tol=0.01), (res_a.point_estimate, truth_a)
# B: the breakdown month is dropped for losses, both meter errors are flagged as outliers...
assert res_b.n_dropped_loss == 1
assert set(res_b.outlier_months) == {str(op_months[n // 5]), str(op_months[(3 * n) // 4])}
# ...and the grossed-up P50 lies within 3 % of the model's long-term potential energy
# (measured 1.2 % with seed 0), below it by less than three bootstrap sigmas plus 3 % noise.
assert math.isclose(res_b.p50 / keep, truth_potential, rel_tol=0.03), (res_b.p50, truth_potential)
assert res_b.p90 < res_b.p50
""",
    "03_retrain_pd_scorecard": """
assert synthetic and candidate.id == "scorecard-v1" and candidate.training_data["synthetic"]
assert all(checks.values()), checks
assert promoted.id == "scorecard-v1" and promoted.status == "production"
# The synthetic book's true coefficients lie in the 99.9 % intervals of the refit.
lo_hi = result.conf_int(alpha=0.001)
for k, name in enumerate(result.names):
    assert lo_hi[k, 0] <= TRUE_COEFFICIENTS[name] <= lo_hi[k, 1], name
""",
}
#: Fewest figures each notebook must show.
MIN_FIGURES = {"01_climate_data": 3, "02_long_term_correction": 2, "03_retrain_pd_scorecard": 1}


def test_the_three_notebooks_are_there() -> None:
    assert [p.stem for p in NOTEBOOKS] == sorted(CHECKS)


def _cells(nb: NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [
        (c.cell_type, c.source.strip(), list(c.get("metadata", {}).get("tags", [])))
        for c in nb.cells
    ]


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_ipynb_has_no_outputs_and_matches_its_py_pair(py: Path) -> None:
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} is missing; run jupytext --sync {py.name}"
    committed = nbformat.read(ipynb, as_version=4)  # type: ignore[no-untyped-call]
    nbformat.validate(committed)
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{ipynb.name}: a cell has outputs; strip them"
            assert cell.execution_count is None, f"{ipynb.name}: execution counts left"
    from_py = jupytext.read(py)
    assert _cells(committed) == _cells(from_py), (
        f"{ipynb.name} differs from {py.name}; run jupytext --sync notebooks/{py.name}"
    )
    assert committed.metadata["kernelspec"]["name"] == "python3"
    assert committed.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    # The first code cell is the papermill-style parameters cell.
    first_code = next(c for c in from_py.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
    assert "NB_SMALL" in first_code.source


def _kernel_manager() -> KernelManager:
    """The venv's python3 kernel; refuse any other interpreter."""
    km = KernelManager(kernel_name="python3")
    cmd = km.format_kernel_cmd()
    assert cmd[0] == sys.executable, f"kernel would run {cmd[0]}, not {sys.executable}"
    return km


@pytest.mark.slow
@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_small_data(py: Path, tmp_path: Path) -> None:
    nb = jupytext.read(py)
    nb.cells.append(nbformat.v4.new_code_cell(CHECKS[py.stem]))  # type: ignore[no-untyped-call]
    models_dir = tmp_path / "models"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLIMATE_LOAN_", "NB_"))}
    env.update(
        NB_SMALL="1",
        CLIMATE_LOAN_MODELS_DIR=str(models_dir),
        TMPDIR=str(tmp_path),  # the notebooks' temporary folders land here
        MPLCONFIGDIR=str(tmp_path / "mpl"),
        PYTHONWARNINGS="default",
    )
    client = NotebookClient(
        nb,
        km=_kernel_manager(),
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    # Raises CellExecutionError on the first failing cell; shuts the kernel down either way.
    client.execute(env=env, cleanup_kc=True)

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Warning" not in stderr, f"{py.name} printed warnings:\n{stderr}"
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    assert figures >= MIN_FIGURES[py.stem], f"{py.name} showed {figures} figures"
    if py.stem == "03_retrain_pd_scorecard":
        # The promotion landed in the registry folder given by the environment, hash-verified.
        prod = Registry(models_dir).production("scorecard")
        assert prod is not None and prod.id == "scorecard-v1"
        assert Registry(models_dir).show("scorecard-v1").status == "production"
