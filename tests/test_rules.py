"""Rules files: reading, the line of every problem, writing back, and ``gridgov check``."""

from __future__ import annotations

import json
import math
import textwrap
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridgov import City, Problem, Rules, RulesError
from gridgov.cli import main
from gridgov.rules import (
    MAX_DAYS,
    OFF,
    SCOPE_LEVELS,
    ZONES,
    CaseRule,
    ModeRule,
    TicketCategory,
    TicketRule,
    ZoneStepDown,
    load_rules,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "rules"
URBAN = ("230803", "230804", "230805", "230811")


def toml(text: str) -> str:
    """The text of a rules file written indented in a test."""
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str) -> list[tuple[int, str, str]]:
    """(line, key, message) of every problem ``text`` has, as reported."""
    with pytest.raises(RulesError) as info:
        Rules.from_toml(toml(text), "r.toml")
    return [(p.line, p.key, p.message) for p in info.value.problems]


def where(text: str) -> list[tuple[int, str]]:
    """(line, key) of every problem ``text`` has."""
    return [(line, key) for line, key, _ in problems(text)]


def only(text: str) -> tuple[int, str, str]:
    """The one problem ``text`` has."""
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


class TestDefaults:
    """Missing keys and tables take the values of practice."""

    def test_empty_file_is_the_default(self) -> None:
        """An empty file gives the default rules, with the file as source."""
        rules = Rules.from_toml("", "empty.toml")
        assert rules == Rules.default()
        assert rules.source == "empty.toml"

    def test_partial_table_keeps_other_defaults(self) -> None:
        """A zone that sets only its days keeps its default step."""
        rules = Rules.from_toml("[zones.sealed]\nafter_quiet_days = 3\n")
        assert rules.zones["sealed"] == ZoneStepDown("controlled", 3.0)
        assert rules.zones["controlled"] == Rules.default().zones["controlled"]
        assert rules.case == CaseRule()

    def test_off_switches_a_measure_off(self) -> None:
        """'off' reads as None and is written back as 'off'."""
        rules = Rules.from_toml('[case]\ncontrol = "off"\n')
        assert rules.case.control is None
        assert 'control = "off"' in rules.to_toml()

    def test_numbers_are_days_as_floats(self) -> None:
        """Integer days read as floats, so 14 and 14.0 are the same rules."""
        rules = Rules.from_toml("[modes]\nrecovery_days = 14\nalert_quiet_days = 2.5\n")
        assert rules.modes == ModeRule(alert_quiet_days=2.5, recovery_days=14.0)
        assert isinstance(rules.modes.recovery_days, float)

    def test_source_and_lines_take_no_part_in_equality(self) -> None:
        """Rules from two files that say the same thing are equal."""
        one = Rules.from_toml("version = 1\n", "a.toml")
        other = Rules.from_toml("\n\n[case]\n", "b.toml")
        assert one == other
        assert one.lines != other.lines

    def test_scope_level(self) -> None:
        """A level scope names its Level; an area names none."""
        rules = Rules(areas={"urban": URBAN})
        assert rules.scope_level("street") == "street"
        assert rules.scope_level("urban") is None

    def test_areas_are_tuples(self) -> None:
        """Areas given as lists in code are kept as tuples."""
        assert Rules(areas={"a": ["x", "y"]}).areas == {"a": ("x", "y")}


class TestLocator:
    """Every problem is placed at the line of its key, whatever the TOML layout."""

    def test_table_header(self) -> None:
        """A key under [table] is placed at its own line."""
        assert where(
            """
            # comment
            [modes]

            recovery_days = 0
            """
        ) == [(4, "modes.recovery_days")]

    def test_sub_table_header(self) -> None:
        """A key under [table.sub] is placed at its own line."""
        assert where(
            """
            [zones.controlled]
            step_down_to = "open"
            [zones.sealed]
            step_down_to = "open"
            after_quiet_days = -2
            """
        ) == [(5, "zones.sealed.after_quiet_days")]

    def test_dotted_keys(self) -> None:
        """Dotted keys at the top and inside a table are placed at their line."""
        assert where(
            """
            modes.recovery_days = 3
            overrides.levels_above = 9
            [zones]
            controlled.after_quiet_days = -1
            """
        ) == [(2, "overrides.levels_above"), (4, "zones.controlled.after_quiet_days")]

    def test_inline_tables(self) -> None:
        """Keys inside inline tables are placed at the line of the inline table."""
        assert where(
            """
            version = 1
            zones = { sealed = { step_down_to = "open", after_quiet_days = 0 } }
            modes = { recovery_days = "x" }
            """
        ) == [(2, "zones.sealed.after_quiet_days"), (3, "modes.recovery_days")]

    def test_multi_line_array_elements(self) -> None:
        """Each element of a multi-line array is placed at its own line."""
        assert where(
            """
            [areas]
            urban = [
                "230803",  # Xiangyang
                "",
                "230803",
            ]
            """
        ) == [(4, "areas.urban[1]"), (5, "areas.urban[2]")]

    def test_strings_that_look_like_keys(self) -> None:
        """Text inside multi-line strings and after '#' is not mistaken for keys."""
        assert where(
            '''
            [areas]
            x = ["""
            recovery_days = 1
            [modes]
            """, \'\'\'
            seal = 2\'\'\']  # [case]
            y = [] # zones.sealed = 1
            '''
        ) == [(7, "areas.y")]

    def test_quoted_keys(self) -> None:
        """Quoted keys match the names tomllib gives, and are quoted back in the path."""
        assert where(
            """
            [areas]
            "east side" = []
            "a.b" = [1]
            """
        ) == [(2, 'areas."east side"'), (3, 'areas."a.b"[0]')]

    def test_missing_key_falls_back_to_its_table(self) -> None:
        """A problem caused by a default is placed at the table that made it one."""
        assert only(
            """
            version = 1

            [case]
            alert = "grid"
            """
        )[:2] == (4, "case.alert")

    def test_array_of_tables(self) -> None:
        """[[table]] headers are placed, one index per header."""
        assert where(
            """
            [[case]]
            seal = "grid"
            """
        ) == [(1, "case")]


class TestSyntaxAndFiles:
    """An unreadable file or invalid TOML is one problem, with its line."""

    def test_syntax_error_line(self) -> None:
        """tomllib's line and column are kept, and its '(at ...)' is not repeated."""
        line, key, message = only(
            """
            version = 1
            [case]
            seal = compound
            """
        )
        assert (line, key) == (3, "(syntax)")
        assert message == "invalid TOML (column 8): Invalid value"

    def test_error_at_end_of_document(self) -> None:
        """An error at the end of the document is placed at the last line."""
        assert only('version = 1\nx = "open')[:2] == (2, "(syntax)")

    def test_duplicate_key_is_a_syntax_error(self) -> None:
        """TOML itself refuses a key defined twice."""
        assert only("[modes]\nrecovery_days = 1\nrecovery_days = 2\n")[:2] == (3, "(syntax)")

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is one problem naming the file."""
        path = tmp_path / "nope.toml"
        with pytest.raises(RulesError) as info:
            load_rules(path)
        assert [str(p) for p in info.value.problems] == [
            f"{path}:0: (file): cannot read: No such file or directory"
        ]

    def test_directory(self, tmp_path: Path) -> None:
        """A directory is not a rules file."""
        with pytest.raises(RulesError) as info:
            load_rules(tmp_path)
        assert len(info.value.problems) == 1
        assert info.value.problems[0].key == "(file)"

    def test_not_utf8(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are placed at their line."""
        path = tmp_path / "latin1.toml"
        path.write_bytes(b"version = 1\n# caf\xe9\n")
        with pytest.raises(RulesError) as info:
            load_rules(path)
        (problem,) = info.value.problems
        assert (problem.line, problem.key) == (2, "(file)")
        assert "0xe9" in problem.message

    def test_byte_order_mark_and_crlf(self, tmp_path: Path) -> None:
        """A UTF-8 byte order mark and Windows line ends are accepted, lines still right."""
        path = tmp_path / "windows.toml"
        path.write_bytes(b"\xef\xbb\xbfversion = 1\r\n\r\n[modes]\r\nrecovery_days = 0\r\n")
        with pytest.raises(RulesError) as info:
            load_rules(path)
        assert [(p.line, p.key) for p in info.value.problems] == [(4, "modes.recovery_days")]

    def test_load_sets_source(self, tmp_path: Path) -> None:
        """Rules loaded from a file name it as their source."""
        path = tmp_path / "r.toml"
        path.write_text("version = 1\n", encoding="utf-8")
        assert load_rules(path).source == str(path)


class TestUnknownKeys:
    """A key the format does not know is a problem at any level, naming the allowed keys."""

    def test_top_level(self) -> None:
        """An unknown top-level key lists the tables."""
        assert only("version = 1\nrulez = 1\n") == (
            2,
            "rulez",
            "unknown key (allowed: version, areas, case, zones, modes, overrides, staffing, "
            "tickets)",
        )

    def test_in_case_with_hint(self) -> None:
        """A misspelt key suggests the close one."""
        assert only('[case]\nsael = "grid"\n') == (
            2,
            "case.sael",
            "unknown key; did you mean 'seal'? (allowed: seal, control, precaution, alert)",
        )

    def test_in_zone(self) -> None:
        """An unknown key inside a zone table."""
        assert only("[zones.sealed]\nafter_days = 3\n")[:2] == (2, "zones.sealed.after_days")

    def test_unknown_zone(self) -> None:
        """A zone that is not one of the zones that step down."""
        line, key, message = only("[zones.open]\nstep_down_to = 'open'\n")
        assert (line, key) == (1, "zones.open")
        assert message.startswith("open is the lowest zone and has no step-down")

    def test_in_modes_and_overrides(self) -> None:
        """Unknown keys in the other tables, all reported."""
        assert where(
            """
            [modes]
            alert_days = 3
            [overrides]
            levels = 1
            """
        ) == [(2, "modes.alert_days"), (4, "overrides.levels")]

    def test_inside_inline_table(self) -> None:
        """An unknown key inside an inline table."""
        assert where("zones = { sealed = { to = 'open' } }\n") == [(1, "zones.sealed.to")]


class TestTypes:
    """A value of the wrong type is a problem naming what was expected."""

    def test_string_for_number(self) -> None:
        """A quoted number is not a number."""
        assert only('[zones.sealed]\nafter_quiet_days = "14"\n') == (
            2,
            "zones.sealed.after_quiet_days",
            'expected a number of days, got a string ("14")',
        )

    @pytest.mark.parametrize("value", ["true", "false"])
    def test_bool_for_number(self, value: str) -> None:
        """A boolean is not a number, though Python's bool is an int."""
        assert only(f"[modes]\nrecovery_days = {value}\n") == (
            2,
            "modes.recovery_days",
            f"expected a number of days, got a boolean ({value})",
        )

    @pytest.mark.parametrize(
        ("value", "got"), [("true", "a boolean (true)"), ("1.0", "a float (1.0)")]
    )
    def test_levels_above_needs_an_integer(self, value: str, got: str) -> None:
        """overrides.levels_above is an integer, not a boolean or a float."""
        assert only(f"[overrides]\nlevels_above = {value}\n") == (
            2,
            "overrides.levels_above",
            f"expected an integer, got {got}",
        )

    def test_scope_must_be_a_string(self) -> None:
        """A scope is a string."""
        assert only("[case]\nalert = 3\n") == (
            2,
            "case.alert",
            "expected a scope (a level or an area name, as a string), got an integer (3)",
        )

    def test_step_down_to_must_be_a_string(self) -> None:
        """A zone name is a string."""
        assert only("[zones.controlled]\nstep_down_to = false\n")[:2] == (
            2,
            "zones.controlled.step_down_to",
        )

    def test_table_expected(self) -> None:
        """A table given as a scalar."""
        assert only('version = 1\ncase = "compound"\n') == (
            2,
            "case",
            'expected a table, got a string ("compound")',
        )

    def test_date_is_described(self) -> None:
        """A date where days are expected says it is a date."""
        assert only("[modes]\nrecovery_days = 2022-09-17\n")[2] == (
            "expected a number of days, got a date or time (2022-09-17)"
        )

    def test_no_cascade_from_a_rejected_value(self) -> None:
        """A rejected scope is not blamed again for what its default implies."""
        assert where(
            """
            [case]
            seal = 5
            control = "compound"
            """
        ) == [(2, "case.seal")]


class TestDurations:
    """Every duration is a positive, finite number of days."""

    @pytest.mark.parametrize(
        ("table", "key"),
        [
            ("zones.sealed", "after_quiet_days"),
            ("zones.controlled", "after_quiet_days"),
            ("zones.precaution", "after_quiet_days"),
            ("modes", "alert_quiet_days"),
            ("modes", "recovery_days"),
        ],
    )
    @pytest.mark.parametrize(("value", "shown"), [("0", "0"), ("-3", "-3"), ("-0.5", "-0.5")])
    def test_not_positive(self, table: str, key: str, value: str, shown: str) -> None:
        """Zero and negative durations are refused, at their line."""
        assert only(f"[{table}]\n{key} = {value}\n") == (
            2,
            f"{table}.{key}",
            f"must be a number of days in (0, 3650], got {shown}",
        )

    @pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
    def test_not_finite(self, value: str) -> None:
        """Infinite and not-a-number durations are refused."""
        assert only(f"[modes]\nalert_quiet_days = {value}\n")[:2] == (
            2,
            "modes.alert_quiet_days",
        )

    def test_huge_integer(self) -> None:
        """An integer too large for a float is refused, not crashed on."""
        assert only(f"[modes]\nrecovery_days = {10**400}\n")[2] == (
            "must be a number of days in (0, 3650], got inf"
        )

    def test_fraction_is_fine(self) -> None:
        """Half a day is a duration."""
        assert Rules.from_toml("[modes]\nrecovery_days = 0.5\n").modes.recovery_days == 0.5


class TestZones:
    """Every zone steps down, one way, until compounds are open again."""

    def test_steps_to_itself(self) -> None:
        """A zone that steps down to itself can never be left, nor the zones above it."""
        assert problems('[zones.controlled]\nstep_down_to = "controlled"\n') == [
            (
                1,  # sealed is not in the file: placed at the first [zones.*] table
                "zones.sealed",
                "sealed never steps down to open: sealed -> controlled -> controlled (a cycle)",
            ),
            (
                2,
                "zones.controlled.step_down_to",
                "controlled steps down to itself, so it could never be left "
                "(expected one of: open, precaution)",
            ),
        ]

    def test_steps_up(self) -> None:
        """A step to a more severe zone is refused, and what is stuck above is named."""
        assert problems(
            """
            [zones.sealed]
            step_down_to = "precaution"
            [zones.precaution]
            step_down_to = "controlled"
            """
        ) == [
            (1, "zones.sealed", "sealed never steps down to open: sealed -> precaution -> "
             "controlled -> precaution (a cycle)"),
            (1, "zones.controlled", "controlled never steps down to open: controlled -> "
             "precaution -> controlled (a cycle)"),
            (4, "zones.precaution.step_down_to", "'controlled' is more severe than precaution; "
             "a step-down goes to a lower zone (expected one of: open)"),
        ]  # fmt: skip

    def test_unknown_target(self) -> None:
        """A step to a zone that does not exist."""
        assert only('[zones.sealed]\nstep_down_to = "lockdown"\n') == (
            2,
            "zones.sealed.step_down_to",
            "unknown zone 'lockdown' (expected one of: open, precaution, controlled)",
        )

    def test_stuck_behind_an_unknown_target(self) -> None:
        """A sound zone whose step leads to an unknown zone says so."""
        assert problems('[zones.controlled]\nstep_down_to = "opened"\n')[0] == (
            1,
            "zones.sealed",
            "sealed never steps down to open: sealed -> controlled -> opened "
            "('opened' is not a zone)",
        )

    def test_step_up_that_still_ends_open(self) -> None:
        """An upward step is refused even when the zones still end open."""
        assert where(
            """
            [zones.controlled]
            step_down_to = "open"
            [zones.precaution]
            step_down_to = "controlled"
            """
        ) == [(4, "zones.precaution.step_down_to")]

    def test_cycle(self) -> None:
        """A cycle through two zones: each upward step, and each zone stuck behind it."""
        found = where(
            """
            [zones.sealed]
            step_down_to = "controlled"
            [zones.controlled]
            step_down_to = "sealed"
            """
        )
        assert found == [(1, "zones.sealed"), (4, "zones.controlled.step_down_to")]

    def test_stuck_below(self) -> None:
        """A zone whose own step is fine but leads to a zone that cannot step down."""
        found = problems('[zones.precaution]\nstep_down_to = "precaution"\n')
        # sealed and controlled are not in the file: placed at the first [zones.*] table.
        assert [(line, key) for line, key, _ in found] == [
            (1, "zones.sealed"),
            (1, "zones.controlled"),
            (2, "zones.precaution.step_down_to"),
        ]
        assert found[0][2] == (
            "sealed never steps down to open: "
            "sealed -> controlled -> precaution -> precaution (a cycle)"
        )

    def test_missing_zone_in_code(self) -> None:
        """Rules built in code without a zone's step-down are caught by check()."""
        rules = Rules(zones={"sealed": ZoneStepDown("open", 1.0)})
        assert [(p.key, p.message) for p in rules.check()] == [
            ("zones.controlled", "controlled has no step-down, so it could never be left"),
            ("zones.precaution", "precaution has no step-down, so it could never be left"),
        ]

    def test_skipping_zones_is_fine(self) -> None:
        """Sealed may step straight down to open."""
        rules = Rules.from_toml('[zones.sealed]\nstep_down_to = "open"\n')
        assert rules.zones["sealed"].step_down_to == "open"


class TestScopes:
    """Case scopes name a level or an area, and widen from seal to alert."""

    def test_unknown_scope(self) -> None:
        """A scope that is neither a level nor an area lists both."""
        assert only('[areas]\nurban = ["1"]\n[case]\nalert = "distrct"\n') == (
            4,
            "case.alert",
            "unknown scope 'distrct' (expected a level: compound, grid, community, street, "
            "district, city; an area: urban, or 'off')",
        )

    def test_unknown_seal_scope_without_areas(self) -> None:
        """seal cannot be 'off', so its message does not offer it."""
        assert only('[case]\nseal = "block"\n')[2] == (
            "unknown scope 'block' (expected a level: compound, grid, community, street, "
            "district, city; an area: none defined in [areas])"
        )

    def test_area_scope(self) -> None:
        """An area defined in [areas] is a scope."""
        rules = Rules.from_toml('[areas]\nurban = ["1"]\n[case]\nseal = "urban"\n')
        assert rules.case.seal == "urban"
        assert rules.scope_level("urban") is None

    def test_seal_cannot_be_off(self) -> None:
        """A case always seals something."""
        assert only('[case]\nseal = "off"\n')[:2] == (2, "case.seal")

    def test_narrowing(self) -> None:
        """A scope narrower than an earlier one is placed at the narrower key."""
        assert problems(
            """
            [case]
            seal = "grid"
            control = "community"
            precaution = "compound"
            alert = "grid"
            """
        ) == [
            (4, "case.precaution", "'compound' is narrower than case.control 'community'; "
             "scopes must widen: seal <= control <= precaution <= alert"),
            (5, "case.alert", "'grid' is narrower than case.control 'community'; "
             "scopes must widen: seal <= control <= precaution <= alert"),
        ]  # fmt: skip

    def test_narrowing_against_a_default(self) -> None:
        """When the narrower scope is a default, the given wider one is blamed."""
        rule = "scopes must widen: seal <= control <= precaution <= alert"
        assert problems('[case]\nseal = "street"\n') == [
            (2, "case.seal", f"'street' is wider than case.control 'grid' (the default); {rule}"),
            (
                2,
                "case.seal",
                f"'street' is wider than case.precaution 'community' (the default); {rule}",
            ),
        ]

    def test_equal_scopes_and_off_are_fine(self) -> None:
        """Equal scopes widen (not strictly) and switched-off measures are skipped."""
        rules = Rules.from_toml(
            '[case]\nseal = "grid"\ncontrol = "off"\nprecaution = "grid"\nalert = "off"\n'
        )
        assert rules.case == CaseRule("grid", None, "grid", None)

    def test_areas_are_not_ordered(self) -> None:
        """An area is not compared with levels (its extent depends on the city)."""
        rules = Rules.from_toml(
            '[areas]\nurban = ["1"]\n[case]\nseal = "street"\ncontrol = "urban"\n'
            'precaution = "off"\nalert = "city"\n'
        )
        assert rules.case.control == "urban"


class TestAreas:
    """Areas are named, non-empty lists of unit ids."""

    def test_not_a_list(self) -> None:
        """An area given as one string."""
        assert only('[areas]\nurban = "230803"\n') == (
            2,
            "areas.urban",
            'expected an array of unit ids, got a string ("230803")',
        )

    def test_empty(self) -> None:
        """An empty area."""
        assert only("[areas]\nurban = []\n") == (
            2,
            "areas.urban",
            "an area needs at least one unit id",
        )

    def test_element_not_a_string(self) -> None:
        """A unit id given as a number, and the scope naming that area is not blamed."""
        assert where('[areas]\nurban = ["230803", 230804]\n[case]\nseal = "urban"\n') == [
            (2, "areas.urban[1]")
        ]

    def test_blank_and_duplicate_ids(self) -> None:
        """Blank ids and ids listed twice."""
        assert problems('[areas]\nurban = ["a", " ", "a"]\n') == [
            (2, "areas.urban[1]", "a unit id cannot be blank"),
            (2, "areas.urban[2]", "unit 'a' is listed twice (also at [0])"),
        ]

    def test_reserved_names(self) -> None:
        """An area cannot take the name of a level or 'off'."""
        assert where('[areas]\nstreet = ["a"]\noff = ["b"]\n') == [
            (2, "areas.street"),
            (3, "areas.off"),
        ]

    def test_check_against_chain(self, small_city: City) -> None:
        """Unit ids missing from a chain are reported at their line; known ones pass."""
        chain = small_city.chain
        community = chain.units("community")[0]
        text = f"""
            [areas]
            mixed = [
                "{community}",
                "230803",
            ]
            whole = ["{chain.city}"]
            """
        rules = Rules.from_toml(toml(text), "r.toml")
        assert [str(p) for p in rules.check_against(chain)] == [
            "r.toml:4: areas.mixed[1]: no unit with id '230803' in the command chain"
        ]

    def test_check_against_in_code(self) -> None:
        """Rules built in code are checked too, at line 0."""
        rules = Rules(areas={"a": ("x", "y")})
        assert rules.check_against({"x"}) == [
            Problem("<default>", 0, "areas.a[1]", "no unit with id 'y' in the command chain")
        ]


class TestVersionAndOverrides:
    """version is 1 when given; overrides.levels_above is 0..5."""

    def test_version_two(self) -> None:
        """A version this library does not know."""
        assert only("version = 2\n") == (1, "version", "unsupported version 2 (expected 1)")

    def test_version_string(self) -> None:
        """A version given as a string."""
        assert only('version = "1"\n')[:2] == (1, "version")

    @pytest.mark.parametrize("value", [-1, 6])
    def test_levels_above_out_of_range(self, value: int) -> None:
        """levels_above beyond the chain's five levels (or negative)."""
        assert only(f"[overrides]\nlevels_above = {value}\n") == (
            2,
            "overrides.levels_above",
            f"must be between 0 and 5 (the city is 5 levels above a compound), got {value}",
        )

    @pytest.mark.parametrize("value", [0, 5])
    def test_levels_above_in_range(self, value: int) -> None:
        """The ends of the range are allowed."""
        text = f"[overrides]\nlevels_above = {value}\n"
        assert Rules.from_toml(text).override_levels_above == value


SEVERAL = """\
version = 3
[areas]
urban = []

[case]
seal = "compound"
control = "ring"
alert = "compound"

[zones.sealed]
step_down_to = "sealed"
after_quiet_days = 0

[modes]
recovery_days = true
extra = 1
"""


class TestAllAtOnce:
    """A file with several problems reports every one of them, in line order."""

    def test_every_problem_in_line_order(self) -> None:
        """Nine problems across every table, each at its line."""
        with pytest.raises(RulesError) as info:
            Rules.from_toml(SEVERAL, "several.toml")
        lines = [str(p) for p in info.value.problems]
        assert lines == [
            "several.toml:1: version: unsupported version 3 (expected 1)",
            "several.toml:3: areas.urban: an area needs at least one unit id",
            "several.toml:7: case.control: unknown scope 'ring' (expected a level: compound, "
            "grid, community, street, district, city; an area: urban, or 'off')",
            "several.toml:8: case.alert: 'compound' is narrower than case.precaution "
            "'community'; scopes must widen: seal <= control <= precaution <= alert",
            "several.toml:11: zones.sealed.step_down_to: sealed steps down to itself, so it "
            "could never be left (expected one of: open, precaution, controlled)",
            "several.toml:12: zones.sealed.after_quiet_days: must be a number of days in "
            "(0, 3650], got 0",
            "several.toml:15: modes.recovery_days: expected a number of days, got a boolean (true)",
            "several.toml:16: modes.extra: unknown key (allowed: alert_quiet_days, recovery_days)",
        ]
        assert str(info.value) == "\n".join(lines)

    def test_check_gives_the_same_problems_for_rules_in_code(self) -> None:
        """check() finds the value problems of rules built in code."""
        rules = Rules(
            case=CaseRule(seal="street"),
            modes=ModeRule(recovery_days=0),
            override_levels_above=9,
        )
        assert [p.key for p in rules.check()] == [
            "case.control",
            "case.precaution",
            "modes.recovery_days",
            "overrides.levels_above",
        ]
        assert Rules.default().check() == []


# --------------------------------------------------------------- strategies

area_names = st.text(min_size=1, max_size=10).filter(
    lambda s: s.strip() != "" and s not in SCOPE_LEVELS and s != OFF
)
unit_ids = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "")
days = st.floats(min_value=0, max_value=MAX_DAYS, exclude_min=True, allow_nan=False) | (
    st.integers(1, 60).map(float)
)


@st.composite
def valid_rules(draw: st.DrawFn) -> Rules:
    """Random rules that break none of the format's rules."""
    areas = draw(
        st.dictionaries(
            area_names, st.lists(unit_ids, min_size=1, max_size=4, unique=True), max_size=3
        )
    )
    narrowest = 0  # index in SCOPE_LEVELS (lowest first) a later level scope may take

    def scope(optional: bool) -> str | None:
        nonlocal narrowest
        choices: list[str | None] = [*SCOPE_LEVELS[narrowest:], *areas]
        if optional:
            choices.append(None)
        chosen = draw(st.sampled_from(choices))
        if chosen in SCOPE_LEVELS:
            narrowest = SCOPE_LEVELS.index(chosen)
        return chosen

    seal = scope(optional=False)
    assert seal is not None
    case = CaseRule(seal, scope(True), scope(True), scope(True))
    zones = {
        zone: ZoneStepDown(draw(st.sampled_from(ZONES[: ZONES.index(zone)])), draw(days))
        for zone in ("sealed", "controlled", "precaution")
    }
    return Rules(
        areas=areas,
        case=case,
        zones=zones,
        modes=ModeRule(draw(days), draw(days)),
        override_levels_above=draw(st.integers(0, 5)),
    )


toml_scalars = (
    st.integers(-3, 30)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.sampled_from([*SCOPE_LEVELS, *ZONES, OFF, "urban", ""])
    | st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=8)
)
toml_keys = st.sampled_from(
    [
        "version",
        "areas",
        "case",
        "zones",
        "modes",
        "overrides",
        "seal",
        "control",
        "precaution",
        "alert",
        "sealed",
        "controlled",
        "open",
        "step_down_to",
        "after_quiet_days",
        "alert_quiet_days",
        "recovery_days",
        "levels_above",
        "urban",
        "x y",
    ]
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(toml_keys, inner, max_size=3),
    max_leaves=8,
)


def quote(text: str) -> str:
    """A TOML basic string (JSON's, without surrogate pairs, which TOML refuses)."""
    return json.dumps(text, ensure_ascii=False)


def dump_value(value: object) -> str:
    """A TOML value on one line (inline tables for tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "inf" if value == math.inf else "-inf" if value == -math.inf else repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list):
        return "[" + ", ".join(dump_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    items = ", ".join(f"{quote(k)} = {dump_value(v)}" for k, v in value.items())
    return "{ " + items + " }"


def dump(document: dict[str, object]) -> str:
    """A TOML document: scalars and arrays first, then one [table] per table."""
    scalars = [
        f"{quote(k)} = {dump_value(v)}" for k, v in document.items() if not isinstance(v, dict)
    ]
    tables = []
    for key, value in document.items():
        if isinstance(value, dict):
            tables.append(f"\n[{quote(key)}]")
            tables += [f"{quote(k)} = {dump_value(v)}" for k, v in value.items()]
    return "\n".join(scalars + tables) + "\n"


class TestProperties:
    """Properties over generated rules and generated files."""

    @given(valid_rules())
    def test_round_trip(self, rules: Rules) -> None:
        """Valid rules written with to_toml read back equal, and check clean."""
        assert rules.check() == []
        text = rules.to_toml()
        assert Rules.from_toml(text) == rules
        assert Rules.from_toml(text).to_toml() == text

    @given(valid_rules())
    def test_every_area_id_is_placed(self, rules: Rules) -> None:
        """check_against places every unknown id at the line that lists it."""
        text = rules.to_toml()
        found = Rules.from_toml(text, "r.toml").check_against(frozenset())
        assert len(found) == sum(len(ids) for ids in rules.areas.values())
        for problem in found:
            # The writer puts each element of an array on a line of its own.
            # split, not splitlines: ids may hold characters splitlines breaks at.
            element = text.split("\n")[problem.line - 1].strip().removesuffix(",")
            listed = tomllib.loads(f"v = {element}")["v"]
            assert repr(listed) in problem.message

    @given(st.dictionaries(toml_keys, toml_values | st.dictionaries(toml_keys, toml_values)))
    def test_any_document_is_rules_or_rules_error(self, document: dict[str, object]) -> None:
        """Any TOML document gives rules or a RulesError whose problems are in line order."""
        text = dump(document)
        try:
            Rules.from_toml(text, "fuzz.toml")
            found: tuple[Problem, ...] = ()
        except RulesError as exc:
            found = exc.problems
        lines = [p.line for p in found]
        assert lines == sorted(lines)
        assert all(1 <= line <= text.count("\n") for line in lines)


class TestExamples:
    """The example rules files are valid, and default.toml is the default."""

    def test_default_file_is_the_default(self) -> None:
        """examples/rules/default.toml says exactly what Rules.default() says."""
        assert load_rules(EXAMPLES / "default.toml") == Rules.default()

    def test_sept17(self) -> None:
        """The 17 September response seals the urban streets of the urban districts at once."""
        from gridgov.presets import URBAN_AREA

        rules = load_rules(EXAMPLES / "sept17.toml")
        assert rules.areas == {"urban": URBAN_AREA}
        assert rules.case == CaseRule(seal="urban", control=None, precaution=None, alert="city")
        assert rules.zones["sealed"] == ZoneStepDown("controlled", 7.0)
        assert rules.zones["controlled"] == ZoneStepDown("open", 7.0)
        assert rules.check() == []

    def test_sept17_fits_jiamusi(self) -> None:
        """Every unit id of the urban area is an urban street of an urban district."""
        from gridgov.presets import URBAN_DISTRICTS, jiamusi

        chain = jiamusi(scale=0.05).chain
        for street in load_rules(EXAMPLES / "sept17.toml").areas["urban"]:
            assert chain.district_of(street) in URBAN_DISTRICTS
            assert chain.unit(street).kind == "street"
        assert load_rules(EXAMPLES / "sept17.toml").check_against(chain) == []

    def test_readme_transcript(self) -> None:
        """The broken.toml shown in examples/rules/README.md gives the problems shown there."""
        readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
        after = readme.split("`broken.toml`:", 1)[1]
        broken = after.split("```toml\n", 1)[1].split("```", 1)[0]
        shown = after.split("```text\n", 1)[1].split("```", 1)[0]
        with pytest.raises(RulesError) as info:
            Rules.from_toml(broken, "broken.toml")
        assert str(info.value) + "\n" == shown

    def test_default_written_out(self) -> None:
        """Rules.default().to_toml() reads back as the default."""
        assert Rules.from_toml(Rules.default().to_toml()) == Rules.default()


class TestCheckCommand:
    """``gridgov check RULES.toml``: 'ok (rules)' and exit 0, or one error line per problem."""

    @pytest.mark.parametrize("name", ["default.toml", "sept17.toml"])
    def test_valid_file(self, name: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A valid file prints ok and its kind."""
        assert main(["check", str(EXAMPLES / name)]) == 0
        assert capsys.readouterr() == ("ok (rules)\n", "")

    def test_invalid_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An invalid file prints every problem on stderr, one prefixed line each, and exits 1."""
        path = tmp_path / "several.toml"
        path.write_text(SEVERAL, encoding="utf-8")
        assert main(["check", str(path)]) == 1
        out, err = capsys.readouterr()
        lines = err.splitlines()
        assert len(lines) == 8
        assert lines[0] == f"gridgov: error: {path}:1: version: unsupported version 3 (expected 1)"
        assert lines[-1].startswith(f"gridgov: error: {path}:16: modes.extra: unknown key")
        assert out == ""

    def test_syntax_error(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Invalid TOML is one line with its line number."""
        path = tmp_path / "broken.toml"
        path.write_text("version = 1\n[case\n", encoding="utf-8")
        assert main(["check", str(path)]) == 1
        _, err = capsys.readouterr()
        assert err.splitlines() == [
            f"gridgov: error: {path}:2: (syntax): invalid TOML (column 6): "
            "Expected ']' at the end of a table declaration"
        ]

    def test_missing_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing file is a one-line error and exit 1, without a traceback."""
        path = tmp_path / "missing.toml"
        assert main(["check", str(path)]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert err.splitlines() == [
            f"gridgov: error: {path}:0: (file): cannot read: No such file or directory"
        ]


class TestStaffingRules:
    """The [staffing] table: posts per zone, ratios, pools."""

    def test_defaults_from_practice(self) -> None:
        """Without a [staffing] table the rules of practice apply."""
        staffing = Rules.from_toml("").staffing
        assert staffing.posts["sealed"][0] == "point_lead"
        assert staffing.pools == (
            "community",
            "big_party_committee",
            "street",
            "district",
            "city",
        )

    def test_values_read(self) -> None:
        """Given values replace the defaults."""
        rules = Rules.from_toml(
            "[staffing]\ncheckpoint_shifts = 2\nmax_staff_share = 0.5\n"
            'pools = ["community", "city"]\nauto_claim = false\n'
            '[staffing.posts]\ncontrolled = ["building_lead"]\n'
        )
        assert rules.staffing.checkpoint_shifts == 2
        assert rules.staffing.max_staff_share == 0.5
        assert rules.staffing.pools == ("community", "city")
        assert rules.staffing.auto_claim is False
        assert rules.staffing.posts["controlled"] == ("building_lead",)

    def test_problems_with_lines(self) -> None:
        """Bad ratios, pools, zones and roles are each reported at their line."""
        text = (
            "[staffing]\n"
            "checkpoint_shifts = 0\n"
            'households_per_volunteer = "many"\n'
            "max_staff_share = 1.5\n"
            'pools = ["community", "galaxy", "community"]\n'
            "[staffing.posts]\n"
            'sealed = ["point_lead", "astronaut"]\n'
            "open = []\n"
        )
        assert problems(text) == [
            (2, "staffing.checkpoint_shifts", "must be from 1 to 24, got 0"),
            (3, "staffing.households_per_volunteer", 'expected an integer, got a string ("many")'),
            (4, "staffing.max_staff_share", "must be a share in (0, 1], got 1.5"),
            (
                5,
                "staffing.pools[1]",
                "unknown pool level 'galaxy' (expected one of: "
                "community, big_party_committee, street, district, city)",
            ),
            (5, "staffing.pools[2]", "pool level 'community' is listed twice"),
            (
                7,
                "staffing.posts.sealed[1]",
                "unknown role 'astronaut' (expected one of: "
                "point_lead, building_lead, checkpoint, registration, disinfection, volunteer, "
                "front_line)",
            ),
            (8, "staffing.posts.open", "unknown key (allowed: sealed, controlled, precaution)"),
        ]


class TestTicketRules:
    """The [tickets] table: routing per category, time limits per state and mode, scores."""

    def test_defaults_from_practice(self) -> None:
        """Without a [tickets] table: garbage at the grid, a hospital transfer at the district,
        medicine from a sealed compound in hours."""
        tickets = Rules.from_toml("").tickets
        assert tickets == TicketRule()
        assert {name: c.level for name, c in tickets.categories.items()} == {
            "garbage": "grid",
            "repair": "community",
            "dispute": "community",
            "hardship": "street",
            "food_supplies": "community",
            "medicine": "community",
            "supply_shortage": "street",
            "medical_transport": "district",
            "hospital_transfer": "district",
        }
        assert tickets.limit_hours("medicine", "emergency", "tracking") == 2.0
        assert tickets.limit_hours("medicine", "normal", "tracking") == 72.0
        assert tickets.limit_hours("medicine", "normal", "archived") is None
        assert (
            tickets.limit_key("medicine", "normal", "tracking") == "tickets.hours.normal.tracking"
        )
        assert (
            tickets.limit_key("medicine", "emergency", "tracking")
            == "tickets.categories.medicine.hours.emergency.tracking"
        )
        assert (tickets.low_score, tickets.reopens) == (3, 1)
        assert tickets.emergency_zones == ("sealed", "controlled")
        assert Rules.default().check() == []

    def test_values_merge_over_the_defaults(self) -> None:
        """Given keys replace the defaults one by one; categories are added or amended."""
        rules = Rules.from_toml(
            toml(
                """
                [tickets]
                low_score = 2
                emergency_zones = ["sealed"]
                [tickets.hours.normal]
                tracking = 48
                [tickets.categories.medicine]
                hours.emergency = { tracking = 1.5 }
                [tickets.categories.heating]
                level = "street"
                responsible = "heating_office"
                """
            )
        )
        tickets = rules.tickets
        assert (tickets.low_score, tickets.emergency_zones) == (2, ("sealed",))
        assert tickets.hours["normal"]["tracking"] == 48.0
        assert tickets.hours["normal"]["accepted"] == 2.0
        assert tickets.categories["medicine"] == TicketCategory(
            "community",
            "building_lead",
            {"emergency": {"accepted": 0.25, "classified": 0.5, "tracking": 1.5, "supervising": 1}},
        )
        assert tickets.categories["heating"] == TicketCategory("street", "heating_office")
        assert "garbage" in tickets.categories

    def test_problems_with_lines(self) -> None:
        """Bad scores, zones, hours, modes, levels and categories, each at its line."""
        text = """
            [tickets]
            low_score = 7
            reopens = "once"
            emergency_zones = ["sealed", "open", "sealed"]
            colour = 1

            [tickets.hours.normal]
            tracking = 0
            classify = 3

            [tickets.hours.panic]
            accepted = 1

            [tickets.categories.noise]
            responsible = "police"

            [tickets.categories.potholes]
            level = "galaxy"
            responsible = ""
            hours.emergency = { tracking = "fast" }
            """
        assert problems(text) == [
            (
                2,
                "tickets.low_score",
                "must be a score from 1 to 5 (scores below it are low), got 7",
            ),
            (3, "tickets.reopens", 'expected an integer, got a string ("once")'),
            (
                4,
                "tickets.emergency_zones[1]",
                "unknown zone 'open' (expected one of: precaution, controlled, sealed)",
            ),
            (4, "tickets.emergency_zones[2]", "zone 'sealed' is listed twice"),
            (
                5,
                "tickets.colour",
                "unknown key (allowed: low_score, reopens, emergency_zones, hours, categories)",
            ),
            (
                8,
                "tickets.hours.normal.tracking",
                "must be a number of hours in (0, 8760], got 0",
            ),
            (
                9,
                "tickets.hours.normal.classify",
                "unknown key; did you mean 'classified'? (allowed: accepted, classified, "
                "tracking, supervising, fed_back, scored, published)",
            ),
            (11, "tickets.hours.panic", "unknown key (allowed: normal, emergency)"),
            (
                14,
                "tickets.categories.noise",
                "a new category needs level (level: one of grid, community, street, district, "
                "city; responsible: a department or post)",
            ),
            (
                18,
                "tickets.categories.potholes.level",
                "unknown level 'galaxy' (expected one of: grid, community, street, district, city)",
            ),
            (
                19,
                "tickets.categories.potholes.responsible",
                "needs a department or post that is not blank",
            ),
            (
                20,
                "tickets.categories.potholes.hours.emergency.tracking",
                'expected a number of hours, got a string ("fast")',
            ),
        ]

    def test_emergency_longer_than_normal(self) -> None:
        """An emergency limit longer than the normal one is placed at the key that was given."""
        assert only("[tickets.hours.emergency]\ntracking = 100\n") == (
            2,
            "tickets.hours.emergency.tracking",
            "the emergency limit for tracking is longer than the normal one (100 h against "
            "72 h); emergency limits are the shorter ones",
        )
        assert only("[tickets.hours.normal]\ntracking = 10\n")[:2] == (
            2,
            "tickets.hours.normal.tracking",
        )
        line, key, message = only(
            "[tickets.categories.medicine]\nhours.normal = { supervising = 0.5 }\n"
        )
        assert (line, key) == (2, "tickets.categories.medicine.hours.normal.supervising")
        assert "normal limit for medicine supervising is shorter" in message

    def test_check_rules_in_code(self) -> None:
        """check() finds missing modes and states, unknown ones and blank names."""
        rule = TicketRule(
            hours={"normal": {"accepted": 1.0}, "urgent": {}},
            categories={"": TicketCategory("grid", " ", {"normal": {"lunch": 1.0}})},
            reopens=-1,
        )
        keys = [p.key for p in Rules(tickets=rule).check()]
        assert "tickets.reopens" in keys
        assert "tickets.hours.emergency" in keys
        assert "tickets.hours.normal" in keys  # missing states
        assert "tickets.hours.urgent" in keys
        assert 'tickets.categories."".responsible' in keys
        assert 'tickets.categories."".hours.normal.lunch' in keys

    @given(
        st.dictionaries(
            st.sampled_from(["garbage", "medicine", "heating", "a b", "ß"]),
            st.tuples(
                st.sampled_from(["grid", "community", "street", "district", "city"]),
                st.text(min_size=1, max_size=6).filter(str.strip),
                # Normal limits no shorter, emergency ones no longer, than any default.
                st.fixed_dictionaries(
                    {},
                    optional={
                        "normal": st.dictionaries(
                            st.sampled_from(["accepted", "tracking", "published"]),
                            st.sampled_from([24.0, 36.0, 48.0]),
                        ),
                        "emergency": st.dictionaries(
                            st.sampled_from(["accepted", "tracking", "published"]),
                            st.sampled_from([0.25, 0.5]),
                        ),
                    },
                ),
            ),
            max_size=3,
        ),
        st.integers(1, 5),
        st.integers(0, 3),
    )
    def test_round_trip(
        self,
        categories: dict[str, tuple[str, str, dict[str, dict[str, float]]]],
        low_score: int,
        reopens: int,
    ) -> None:
        """Ticket rules written with to_toml read back equal."""
        given_categories = {
            name: TicketCategory(level, who, hours)
            for name, (level, who, hours) in categories.items()
        }
        rule = TicketRule(
            categories={**TicketRule().categories, **given_categories},
            low_score=low_score,
            reopens=reopens,
        )
        rules = Rules(tickets=rule)
        assert rules.check() == []
        text = rules.to_toml()
        assert Rules.from_toml(text) == rules
        assert Rules.from_toml(text).to_toml() == text

    def test_docs_example_is_valid(self) -> None:
        """The [tickets] example of docs/tickets.md reads without problems."""
        doc = (Path(__file__).resolve().parent.parent / "docs" / "tickets.md").read_text("utf-8")
        block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
        rules = Rules.from_toml(block, "tickets.md")
        assert rules.tickets.categories["heating"].level == "street"
        assert rules.tickets.limit_hours("medicine", "emergency", "tracking") == 1.0

    def test_sept17_tickets(self) -> None:
        """The 17 September rules give sealed households' food and garbage hours, not days."""
        tickets = load_rules(EXAMPLES / "sept17.toml").tickets
        assert tickets.limit_hours("food_supplies", "emergency", "tracking") == 4.0
        assert tickets.categories["garbage"].responsible == "building_lead"
