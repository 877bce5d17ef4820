"""The immutable city model and the error tree."""

from __future__ import annotations

import attrs
import pytest

import gridgov
from gridgov import (
    AuthorityError,
    Building,
    ChainError,
    Compound,
    GriddingError,
    GridgovError,
    JournalError,
    Level,
    Organisation,
    Person,
    PersonKind,
    PresetError,
    Problem,
    RulesError,
    ScenarioError,
    TransitionError,
    Unit,
    UnknownUnitError,
)


class TestLevel:
    """Levels of the command chain."""

    def test_order_top_down(self) -> None:
        """Levels rank from the city (0) down to the compound."""
        ranks = [Level(name).rank for name in ("city", "district", "street", "community", "grid")]
        assert ranks == [0, 1, 2, 3, 4]
        assert Level.COMPOUND.rank > Level.GRID.rank

    @pytest.mark.parametrize(
        ("level", "commander"),
        [
            ("city", None),
            ("district", "city"),
            ("street", "district"),
            ("community", "street"),
            ("grid", "community"),
            ("compound", "community"),
        ],
    )
    def test_commander(self, level: str, commander: str | None) -> None:
        """Each level answers to the one above; a compound answers to its community."""
        assert Level(level).commander == commander

    def test_parse_known(self) -> None:
        """parse() accepts the code names of DOMAIN.md."""
        assert Level.parse("street") is Level.STREET

    def test_parse_unknown_lists_levels(self) -> None:
        """parse() of an unknown name says what it got and what was expected."""
        with pytest.raises(ValueError, match="unknown level 'block'") as info:
            Level.parse("block")
        assert "city, district, street, community, grid, compound" in str(info.value)


class TestUnit:
    """Units of the chain."""

    def test_level_converted_from_string(self) -> None:
        """A level given as a string is stored as a Level."""
        unit = Unit(id="x", level="grid")
        assert unit.level is Level.GRID

    def test_unknown_level_refused(self) -> None:
        """A unit cannot be made at a level that does not exist."""
        with pytest.raises(ValueError, match="block"):
            Unit(id="x", level="block")

    def test_id_must_be_a_string(self) -> None:
        """A non-string id is refused."""
        with pytest.raises(TypeError):
            Unit(id=7, level="grid")  # type: ignore[arg-type]

    def test_frozen(self) -> None:
        """Units are immutable."""
        unit = Unit(id="x", level="grid")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            unit.parent = "y"  # type: ignore[misc]


class TestPlaces:
    """Compounds, buildings and organisations validate their counts."""

    def test_negative_households_refused(self) -> None:
        """A building cannot have a negative number of households."""
        with pytest.raises(ValueError, match="households"):
            Building(id="b", grid="g", compound=None, households=-1)

    def test_zero_households_allowed(self) -> None:
        """Premises with no households (an exclusive grid's site) are valid."""
        assert Building(id="b", grid="g", compound=None, households=0).households == 0

    def test_compound_needs_an_entrance(self) -> None:
        """A compound has at least one entrance."""
        with pytest.raises(ValueError, match="entrances"):
            Compound(id="k", community="c", entrances=0)

    def test_negative_staff_refused(self) -> None:
        """An organisation cannot have negative staff."""
        with pytest.raises(ValueError, match="staff"):
            Organisation(id="o", kind="enterprise", community="c", staff=-1)

    def test_person_equality_is_by_value(self) -> None:
        """Two people with the same attributes compare equal (attrs value semantics)."""
        post = gridgov.Post("cadre", "c")
        a = Person(id="p", kind=PersonKind.CADRE, home="c", normal_post=post)
        b = Person(id="p", kind=PersonKind.CADRE, home="c", normal_post=gridgov.Post("cadre", "c"))
        assert a == b
        assert a != attrs.evolve(b, home="d")


class TestErrorTree:
    """Every gridgov error derives from GridgovError and carries its ids."""

    @pytest.mark.parametrize(
        "error",
        [
            AuthorityError,
            ChainError,
            GriddingError,
            JournalError,
            PresetError,
            RulesError,
            ScenarioError,
            TransitionError,
            UnknownUnitError,
        ],
    )
    def test_derives_from_root(self, error: type[Exception]) -> None:
        """Each error class is a GridgovError."""
        assert issubclass(error, GridgovError)

    def test_unknown_unit_is_a_chain_error_and_key_error(self) -> None:
        """UnknownUnitError can be caught as ChainError or as KeyError."""
        assert issubclass(UnknownUnitError, ChainError)
        assert issubclass(UnknownUnitError, KeyError)

    def test_chain_error_ids_sorted(self) -> None:
        """ChainError.ids holds the offending ids, sorted."""
        assert ChainError("bad", ["b", "a"]).ids == ("a", "b")

    def test_unknown_unit_message_not_quoted_twice(self) -> None:
        """str(UnknownUnitError) is the plain message, not KeyError's quoted repr."""
        error = UnknownUnitError("X1", "building")
        assert str(error) == "no building with id 'X1' in this city"
        assert error.unit == "X1"
        assert error.ids == ("X1",)

    def test_transition_error_message(self) -> None:
        """TransitionError says the unit, its state, the trigger and what is allowed."""
        error = TransitionError("K1", "sealed", "seal", ["lift", "step_down"])
        assert str(error) == "K1 is sealed; 'seal' is not allowed there (allowed: lift, step_down)"
        assert error.allowed == ("lift", "step_down")

    def test_transition_error_nothing_allowed(self) -> None:
        """With no allowed trigger the message says 'none'."""
        assert str(TransitionError("K1", "closed", "open", [])).endswith("(allowed: none)")

    def test_authority_error_message(self) -> None:
        """AuthorityError names actor, target and rule."""
        error = AuthorityError("S1", "C9", "outside its jurisdiction")
        assert (error.actor, error.target, error.rule) == ("S1", "C9", "outside its jurisdiction")
        assert str(error) == "S1 may not command C9: outside its jurisdiction"

    def test_problems_rendered_one_per_line(self) -> None:
        """RulesError lists every problem as file:line: key: message."""
        problems = [
            Problem("r.toml", 3, "case.seal", "expected a bool"),
            Problem("r.toml", 0, "x", "y"),
        ]
        error = RulesError(problems)
        assert str(error) == "r.toml:3: case.seal: expected a bool\nr.toml:0: x: y"
        assert error.problems == tuple(problems)
