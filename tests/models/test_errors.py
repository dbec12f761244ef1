"""One base class for the models' input errors, and one InsufficientData."""

from __future__ import annotations

import pytest

from models import longterm, registry, scorecard, turbines, uncertainty, wind
from models.errors import InsufficientData, ModelInputError


@pytest.mark.parametrize(
    "error",
    [
        wind.WindProjectError,
        longterm.OperatingHistoryError,
        turbines.PowerCurveError,
        turbines.UnknownTurbineError,
        registry.RegistryError,
        scorecard.LoanBookError,
        scorecard.ScorecardError,
        InsufficientData,
    ],
)
def test_model_input_errors_share_one_base(error: type[Exception]) -> None:
    assert issubclass(error, ModelInputError)
    assert issubclass(error, ValueError)  # callers written against ValueError keep working


def test_insufficient_data_is_one_class() -> None:
    # test_longterm and test_uncertainty check that each module raises it
    assert longterm.InsufficientData is uncertainty.InsufficientData is InsufficientData
