"""The installed version of this package, the one copy every layer records.

Cubes record it as ``code_version``, model cards and assessments in their ``software`` block;
it lives in the lowest layer so that ``models`` and ``service`` read the same function without
importing the cube machinery.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["code_version"]


@cache
def code_version() -> str:
    """Version of the installed ``climate-loan-risk`` (``0+unknown`` from a bare source tree)."""
    try:
        return version("climate-loan-risk")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"
