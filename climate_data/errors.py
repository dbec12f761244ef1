"""Errors raised by the climate-data layer.

Every error names the file and, where there is one, the variable, so that the CLI can print it
as one line and the API can turn it into a problem+json response without a traceback.
"""

from __future__ import annotations


class ClimateDataError(Exception):
    """Base class for every problem with weather input or the indicator cube."""


class UnitsError(ClimateDataError):
    """A variable has missing, unknown or incompatible units."""


class MissingVariableError(ClimateDataError):
    """A variable the caller asked for is not in the file."""


class TimeAxisError(ClimateDataError):
    """The time axis is missing, not monotonic, or has duplicated steps."""


class CorruptFileError(ClimateDataError):
    """A file cannot be read as NetCDF (truncated, wrong format, bad ZIP)."""


class CubeFormatError(ClimateDataError):
    """A cube file is not a version-1 indicator cube."""


class SiteOutsideCoverage(ClimateDataError):
    """A site lies farther from the nearest cell than the cube's tolerance.

    Parameters
    ----------
    lat, lon : float
        Requested site [degrees].
    cell_lat, cell_lon : float
        Nearest cell centre [degrees].
    distance_km : float
        Great-circle distance from the site to that cell [km].
    tolerance_km : float
        Largest distance the cube accepts [km].
    """

    def __init__(
        self,
        lat: float,
        lon: float,
        cell_lat: float,
        cell_lon: float,
        distance_km: float,
        tolerance_km: float,
    ) -> None:
        self.lat = lat
        self.lon = lon
        self.cell_lat = cell_lat
        self.cell_lon = cell_lon
        self.distance_km = distance_km
        self.tolerance_km = tolerance_km
        super().__init__(
            f"site ({lat:.4f}, {lon:.4f}) is outside the data: the nearest cell "
            f"({cell_lat:.4f}, {cell_lon:.4f}) is {distance_km:.1f} km away, "
            f"more than the {tolerance_km:.1f} km this dataset allows"
        )
