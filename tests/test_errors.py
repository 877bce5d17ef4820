"""The error tree: every class in gridgov.errors, drawn in its docstring, with its ids."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import gridgov
from gridgov import errors
from gridgov.errors import (
    ChainError,
    CommandError,
    GridgovError,
    MissingExtraError,
    NotFoundError,
    RunFolderError,
    UnknownUnitError,
)


def exception_classes() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }


class TestTree:
    """errors.py holds the whole tree, and its docstring draws it."""

    def test_every_error_of_gridgov_is_defined_in_errors(self) -> None:
        """No public exception class of the package is defined outside gridgov.errors
        (a private one used for control flow inside a module, never raised out of
        it, may stay there)."""
        src = Path(gridgov.__file__).parent
        outside = []
        for path in sorted(src.rglob("*.py")):
            if path.name == "errors.py":
                continue
            text = path.read_text(encoding="utf-8")
            outside += [
                f"{path.relative_to(src)}: {m[1]}"
                for m in re.finditer(
                    r"^class ([A-Za-z]\w*)\((?:[\w.]*Error|Exception)\b", text, re.M
                )
            ]
        assert outside == []

    def test_docstring_draws_every_class(self) -> None:
        """Each public exception class appears in the tree of the module docstring."""
        doc = errors.__doc__ or ""
        drawn = set(re.findall(r"[├└]── (\w+)", doc)) | set(re.findall(r"^    (\w+)$", doc, re.M))
        public = {name for name in exception_classes() if not name.startswith("_")}
        assert public == drawn

    def test_all_derive_from_gridgov_error_and_are_exported(self) -> None:
        """Every public class is a GridgovError, in errors.__all__ and gridgov.__all__."""
        for name, cls in exception_classes().items():
            if name.startswith("_"):
                continue
            assert issubclass(cls, GridgovError), name
            assert name in errors.__all__, name
            assert name in gridgov.__all__, name


class TestNotFound:
    """NotFoundError is the base of every 'no such id'; units keep their own class."""

    def test_unknown_unit_is_a_not_found_chain_and_key_error(self) -> None:
        """Old handlers (ChainError, KeyError) and the new one all catch an unknown unit."""
        error = UnknownUnitError("X1", "building")
        for cls in (NotFoundError, ChainError, KeyError, GridgovError):
            assert isinstance(error, cls)
        assert str(error) == "no building with id 'X1' in this city"
        assert (error.id, error.unit, error.kind, error.ids) == ("X1", "X1", "building", ("X1",))

    def test_not_found_message_and_attributes(self) -> None:
        """The message names the kind and the id; the id and kind are attributes."""
        error = NotFoundError("T9", "ticket")
        assert str(error) == "no ticket with id 'T9'"
        assert (error.id, error.kind) == ("T9", "ticket")
        assert not isinstance(error, ChainError)
        phrase = NotFoundError("x", "grid, compound or building named;")
        assert str(phrase) == "no grid, compound or building named 'x'"

    def test_board_lookup_is_not_found(self) -> None:
        """A state board asked for a unit it lacks raises NotFoundError naming it."""
        from gridgov.modes import zone_board
        from gridgov.presets import small

        board = zone_board(small().compounds)
        with pytest.raises(NotFoundError, match="no compound with id 'nowhere' on the zone board"):
            board.fire("nowhere", "seal")


class TestOthers:
    """The errors that carry more than a message."""

    def test_command_error_reason(self) -> None:
        """CommandError keeps its reason (the message when none is given)."""
        assert CommandError("refused: already open", reason="already open").reason == (
            "already open"
        )
        assert CommandError("plain").reason == "plain"

    def test_missing_extra_names_the_extra(self) -> None:
        """MissingExtraError says which extra installs the module."""
        error = MissingExtraError("pyarrow", "parquet", ModuleNotFoundError("pyarrow"))
        assert str(error) == (
            "pyarrow is not installed; install the 'parquet' extra: pip install 'gridgov[parquet]'"
        )
        assert (error.module, error.extra) == ("pyarrow", "parquet")
        custom = MissingExtraError("dask", "dask", ImportError("x"), message="needs dask")
        assert str(custom) == "needs dask"

    def test_run_folder_error_folder(self) -> None:
        """RunFolderError keeps the folder."""
        assert RunFolderError("bad", Path("runs/a")).folder == Path("runs/a")
