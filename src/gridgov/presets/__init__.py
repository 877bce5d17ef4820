"""Synthetic cities: :func:`jiamusi` (the published figures) and :func:`small` (tests)."""

from gridgov.presets.jiamusi import PUBLISHED, URBAN_AREA, URBAN_DISTRICTS, jiamusi
from gridgov.presets.small import small

__all__ = ["PRESETS", "PUBLISHED", "URBAN_AREA", "URBAN_DISTRICTS", "jiamusi", "small"]

#: Presets by name, as the command line knows them.
PRESETS = {"jiamusi": jiamusi, "small": small}
