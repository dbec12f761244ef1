"""The fleet-calibration notebook runs end to end and recovers the synthetic fleet's truth.

Executed as ``tests/test_notebooks.py`` executes the modellers' notebooks (jupytext ``.py`` ->
notebook -> nbclient on the venv's kernel, ``NB_SMALL=1``, temporary folders, no printed
warning), with check cells appended that assert on the notebook's variables. Its file name
has no ``NN_`` prefix, so that test's fixed list of three notebooks is not disturbed; the two
can be merged by renaming it ``04_fleet_calibration`` and adding its checks there.
"""

from __future__ import annotations

import os
from pathlib import Path

import jupytext  # type: ignore[import-untyped]
import nbformat
import pytest
from nbclient import NotebookClient

from tests.test_notebooks import CELL_TIMEOUT_S, _cells, _kernel_manager

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "fleet_calibration.py"

CHECKS = """
import math
assert synthetic, "the default run must use the labelled synthetic fleet"
assert K == 24 and len(fleet) == per_farm["n_years"].sum()
# the true bias and sigma_model lie in the notebook's intervals (seed 0)
assert b_ci[0] <= TRUE_BIAS <= b_ci[1], (b_ci, TRUE_BIAS)
assert sigma_ci[0] <= TRUE_SIGMA <= sigma_ci[1], (sigma_ci, TRUE_SIGMA)
assert abs(math.sqrt(tau2) - TRUE_YEAR_NOISE) < 0.01, tau2
# the bias is the mean of the farms' log ratios, each over the farm's own years
farm = per_farm.index[0]
rows = fleet[fleet["farm_id"] == farm]
want = math.log(rows["metered_mwh"].sum() / rows["modelled_mwh"].sum())
assert math.isclose(per_farm.loc[farm, "r"], want, rel_tol=1e-12)
assert math.isclose(b, float(per_farm["r"].mean()), rel_tol=1e-12)
# the estimates are the package's (models.calibration), not a copy in the notebook
from models.calibration import calibrate_fleet as _calibrate
assert _calibrate(fleet, CONFIDENCE).to_dict() == cal.to_dict()
assert (b, b_ci, sigma, sigma_ci) == (cal.bias, cal.bias_ci, cal.sigma_model, cal.sigma_model_ci)
# modelled energy is the package's: one farm-year recomputed with models.wind
site = cube.site(float(cube.lats[0]), float(cube.lons[0]))
turbine, hub, capacity = FARMS[0]
energy = wind_energy(site, WindProject(capacity, hub, get_turbine(turbine)))
label = f"{turbine} @ {float(cube.lats[0]):.1f}N {abs(float(cube.lons[0])):.3f}W"
one = fleet[fleet["farm_id"] == label].iloc[0]
assert math.isclose(
    one["modelled_mwh"], float(energy.net_mwh[energy.years == one["year"]][0]), rel_tol=1e-12
)
"""


def test_committed_ipynb_has_no_outputs_and_matches_its_py_pair() -> None:
    ipynb = NOTEBOOK.with_suffix(".ipynb")
    committed = nbformat.read(ipynb, as_version=4)  # type: ignore[no-untyped-call]
    nbformat.validate(committed)
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    from_py = jupytext.read(NOTEBOOK)
    assert _cells(committed) == _cells(from_py), "run jupytext --sync notebooks/*.py"
    assert committed.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    first_code = next(c for c in from_py.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
    assert "NB_SMALL" in first_code.source


@pytest.mark.slow
def test_fleet_calibration_notebook_recovers_the_synthetic_truth(tmp_path: Path) -> None:
    nb = jupytext.read(NOTEBOOK)
    nb.cells.append(nbformat.v4.new_code_cell(CHECKS))  # type: ignore[no-untyped-call]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLIMATE_LOAN_", "NB_"))}
    env.update(
        NB_SMALL="1",
        TMPDIR=str(tmp_path),
        MPLCONFIGDIR=str(tmp_path / "mpl"),
        PYTHONWARNINGS="default",
    )
    client = NotebookClient(
        nb,
        km=_kernel_manager(),
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute(env=env, cleanup_kc=True)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Warning" not in stderr, stderr
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1
    shown = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "Synthetic fleet" in shown
