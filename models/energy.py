"""What the yearly energy results of every technology share.

:class:`~models.wind.WindEnergy` and :class:`~models.solar.SolarEnergy` hold per-year
arrays over the site's calendar years with a completeness mask; the multi-year figures use
the complete years only (docs/conventions.rst, "Missing data is explicit, never filled").
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class YearlyEnergy:
    """Mixin for frozen dataclasses with ``years``, ``complete`` and ``net_mwh`` fields."""

    years: NDArray[np.int64]
    complete: NDArray[np.bool_]
    net_mwh: NDArray[np.float64]

    @property
    def complete_years(self) -> NDArray[np.int64]:
        """Years that meet the coverage rule."""
        return self.years[self.complete]

    @property
    def complete_net_mwh(self) -> NDArray[np.float64]:
        """Net energy of the complete years only [MWh] (input for the exceedance figures)."""
        return self.net_mwh[self.complete]
