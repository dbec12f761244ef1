"""The canonical weather schema: one table of variable names, units and source names.

Every reader maps its source onto these names (docs/conventions.rst, "One nomenclature"). Dims are
``time`` (UTC,
``datetime64[ns]``), ``lat`` (ascending, degrees_north) and ``lon`` (ascending, [-180, 180)).
Wind speed has an extra ``height`` dimension [m] holding every height the source provides.
Instantaneous variables are valid at ``time``; flux variables are the mean over the hour
ending at ``time``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CanonicalVariable:
    """One row of the canonical variable table."""

    name: str
    units: str
    standard_name: str
    description: str
    source_names: tuple[str, ...]


CANONICAL_VARIABLES: tuple[CanonicalVariable, ...] = (
    CanonicalVariable(
        "wind_speed",
        "m s-1",
        "wind_speed",
        "horizontal wind speed, dims (time, height, lat, lon); from speed or u/v components",
        (
            "u10/v10",
            "u100/v100",
            "ws50m",
            "U50M/V50M",
            "wind_speed",
            "eastward_wind/northward_wind",
        ),
    ),
    CanonicalVariable(
        "air_temperature",
        "K",
        "air_temperature",
        "air temperature near the surface (2 m)",
        ("t2m", "T2M", "air_temperature"),
    ),
    CanonicalVariable(
        "surface_air_pressure",
        "Pa",
        "surface_air_pressure",
        "surface air pressure",
        ("sp", "PS", "ps", "surface_air_pressure"),
    ),
    CanonicalVariable(
        "ghi",
        "W m-2",
        "surface_downwelling_shortwave_flux_in_air",
        "global horizontal irradiance, mean over the hour ending at time",
        ("ssrd", "SWGDN", "surface_downwelling_shortwave_flux_in_air"),
    ),
    CanonicalVariable(
        "direct_horizontal_irradiance",
        "W m-2",
        "surface_direct_downwelling_shortwave_flux_in_air",
        "direct (beam) irradiance on a horizontal plane, mean over the hour ending at time",
        ("fdir",),
    ),
    CanonicalVariable(
        "sunshine_duration",
        "s",
        "duration_of_sunshine",
        "sunshine duration within the hour ending at time",
        ("sund", "duration_of_sunshine"),
    ),
    CanonicalVariable(
        "surface_roughness",
        "m",
        "surface_roughness_length",
        "surface roughness length",
        ("fsr", "surface_roughness_length"),
    ),
)

CANONICAL: dict[str, CanonicalVariable] = {v.name: v for v in CANONICAL_VARIABLES}
