"""The builder of synthetic cities moved to :mod:`gridgov.synthesis`; kept for old imports."""

from gridgov.synthesis import CityBuilder, allocate

__all__ = ["CityBuilder", "allocate"]
