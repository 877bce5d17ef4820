"""The base of a city's tables kept column by column (people, buildings, ...).

A city keeps its many records (people, buildings, compounds, organisations)
as one tuple per field rather than one object per record: Python's cyclic
garbage collector walks every object it tracks in each full collection, and
a tuple of strings or ints is dropped from its lists at its first collection
(a dict of strings to ints is never tracked at all). A record is made when
one is asked for.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from typing import Any, TypeVar

__all__ = ["Columns"]

_R = TypeVar("_R")


class Columns(Mapping[str, _R]):
    """A read-only mapping of id -> record, kept as one tuple per field.

    Subclasses give their columns (the ids first) and how a record is made.
    Records are made when asked for: equal to the ones given, not the same
    objects.
    """

    __slots__ = ("_index",)

    def _index_ids(self, ids: tuple[str, ...]) -> None:
        # A dict of strings to ints holds nothing the collector walks.
        self._index: dict[str, int] = dict(zip(ids, range(len(ids)), strict=True))

    def _columns(self) -> tuple[tuple[Any, ...], ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _make(self, i: int) -> _R:  # pragma: no cover - abstract
        raise NotImplementedError

    def _all(self) -> Iterator[_R]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_lengths(self, what: str) -> None:
        columns = self._columns()
        if any(len(c) != len(columns[0]) for c in columns):
            raise ValueError(f"every column of {type(self).__name__} needs one value per {what}")

    def duplicates(self) -> set[str]:
        """Ids given to more than one record (empty for a city's own)."""
        ids = self._columns()[0]
        if len(self._index) == len(ids):
            return set()
        seen: set[str] = set()
        return {i for i in ids if i in seen or seen.add(i)}  # type: ignore[func-returns-value]

    def __getitem__(self, key: str) -> _R:
        return self._make(self._index[key])

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def get(self, key: str, default: Any = None) -> Any:
        """The record with this id, made now, or ``default``."""
        index = self._index.get(key)
        return default if index is None else self._make(index)

    def values(self) -> ValuesView[_R]:
        """Every record, made as the view is walked, in the city's order."""
        return _Values(self)

    def items(self) -> ItemsView[str, _R]:
        """(id, record) pairs, made as the view is walked, in the city's order."""
        return _Items(self)

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            assert isinstance(other, Columns)
            return self._columns() == other._columns()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)}>"


class _Values(ValuesView[_R]):
    __slots__ = ()
    _mapping: Columns[_R]

    def __iter__(self) -> Iterator[_R]:
        return self._mapping._all()


class _Items(ItemsView[str, _R]):
    __slots__ = ()
    _mapping: Columns[_R]

    def __iter__(self) -> Iterator[tuple[str, _R]]:
        columns = self._mapping
        return zip(columns._columns()[0], columns._all(), strict=True)
