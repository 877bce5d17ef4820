"""A journal's metadata: what a caller may write with ``set_meta``, what stays the journal's."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from gridgov.errors import GridgovError, JournalError
from gridgov.journal import SqliteJournal

#: The keys the journal writes itself (schema, format, hash-chain head, key table), written out
#: here rather than read from the module so that dropping one from the guard fails this test.
RESERVED = ("schema", "format", "head", "keys")


def _meta_rows(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as db, db:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())


def test_an_ordinary_key_round_trips_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = SqliteJournal(path)
    journal.set_meta("city", "佳木斯市:abc")
    journal.set_meta("city", "佳木斯市:def")
    assert journal.meta("city") == "佳木斯市:def"
    journal.close()
    again = SqliteJournal(path)
    assert again.meta("city") == "佳木斯市:def"
    assert again.meta("never written") is None
    again.close()


@pytest.mark.parametrize("key", RESERVED)
def test_a_reserved_key_is_refused_and_nothing_changes(tmp_path: Path, key: str) -> None:
    path = tmp_path / "j.sqlite"
    journal = SqliteJournal(path)
    journal.set_meta("city", "x")
    before = _meta_rows(path)
    with pytest.raises(JournalError, match=rf"metadata key '{key}' is kept by the journal"):
        journal.set_meta(key, "9")
    assert _meta_rows(path) == before
    journal.close()
    # The journal still opens, with its own values untouched.
    again = SqliteJournal(path)
    assert again.meta("city") == "x"
    again.close()
    assert _meta_rows(path) == before


@pytest.mark.parametrize(("key", "value"), [(1, "x"), ("city", 1), ("city", None), (None, None)])
def test_a_key_or_value_that_is_not_a_string_is_refused(
    tmp_path: Path, key: object, value: object
) -> None:
    path = tmp_path / "j.sqlite"
    journal = SqliteJournal(path)
    before = _meta_rows(path)
    with pytest.raises(GridgovError, match="expected a string key and a string value"):
        journal.set_meta(key, value)  # type: ignore[arg-type]
    assert _meta_rows(path) == before
    journal.close()
