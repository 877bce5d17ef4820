"""The geo extra's guard: shapely 2.1+ or a clear error naming the extra."""

from __future__ import annotations

from gridgov.errors import MissingExtraError

__all__ = ["require_shapely"]


def require_shapely() -> None:
    """Check that shapely 2.1 or newer can be imported.

    Raises:
        MissingExtraError: shapely is missing or too old; the message says to
            ``pip install 'gridgov[geo]'``.
    """
    try:
        import shapely
    except ImportError as exc:
        raise MissingExtraError("shapely", "geo", exc) from None
    major, minor = (int(part) for part in shapely.__version__.split(".")[:2])
    if (major, minor) < (2, 1):
        raise MissingExtraError(
            "shapely", "geo", ImportError(f"shapely {shapely.__version__} is older than 2.1")
        )
