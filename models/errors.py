"""The base class of the errors the models raise about their input.

A :class:`ModelInputError` is an input the caller can correct (a project, a loan, an operating
history, a loan book, a model card): the API answers it with a 422 problem naming the field, and
the CLI with a one-line error and exit status 2. Any other exception from inside a model is a
fault of the code, not of the request, and leaves the service as a 500 with nothing of its text
shown. The service catches this class (and :class:`climate_data.errors.ClimateDataError`), never
a bare ``ValueError``: a ``ValueError`` that numpy or SciPy raises on a bug would otherwise reach
the client as if the request were wrong.

It subclasses ``ValueError`` so that callers written against the earlier ``ValueError`` of each
model keep working.
"""

from __future__ import annotations

__all__ = ["InsufficientData", "ModelInputError"]


class ModelInputError(ValueError):
    """A model input the caller can correct; the message says which and why."""


class InsufficientData(ModelInputError):
    """Too little usable data for an estimate (months of operating history, complete years).

    Raised by :func:`models.longterm.long_term_correction` (too few usable months, or months
    without a complete reanalysis month) and by :func:`models.uncertainty.exceedance`
    (too few complete years for an inter-annual variability).
    """
