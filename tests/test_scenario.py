"""Scenario files: reading, the line of every problem, writing back self-contained."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov import Problem, Rules, ScenarioError
from gridgov.sim.scenario import (
    CityChoice,
    OutbreakSpec,
    RunSpec,
    Scenario,
    SeedCase,
    StaffingLevels,
    load_scenario,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
RULES = EXAMPLES.parent / "rules"

#: A compound of the small preset.
EAST = "990101001001-C01"


def toml(text: str) -> str:
    """The text of a file written indented in a test."""
    return textwrap.dedent(text).lstrip("\n")


def small(text: str = "") -> str:
    """A scenario on the small preset: ``text`` first (lines from 1), the city last."""
    return toml(text) + '\n[city]\npreset = "small"\n'


def problems(text: str, base: Path | None = None) -> list[Problem]:
    """Every problem of ``text`` read as ``s.toml`` in ``base``."""
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml(text, "s.toml", base)
    return list(info.value.problems)


def where(text: str, base: Path | None = None) -> list[tuple[str, int, str]]:
    """(file, line, key) of every problem."""
    return [(p.file, p.line, p.key) for p in problems(text, base)]


def only(text: str, base: Path | None = None) -> Problem:
    """The one problem ``text`` has."""
    found = problems(text, base)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


class TestReading:
    """A valid file gives the scenario it says, defaults for what it leaves out."""

    def test_small_example(self) -> None:
        """The small example reads as written, paths resolved against its folder."""
        scenario = load_scenario(EXAMPLES / "small.toml")
        assert scenario.name == "small"
        assert scenario.seed == 1
        assert scenario.city == CityChoice(preset="small", scale=1.0, seed=0)
        assert scenario.outbreak.cases == (SeedCase(EAST, 0.0),)
        assert scenario.staffing == StaffingLevels(availability=0.9)
        assert scenario.run == RunSpec(days=30, step_hours=24)
        assert scenario.rules == Rules.default()
        assert scenario.rules_source == "<default>"
        assert scenario.base == EXAMPLES

    def test_name_defaults_to_the_file_name(self, tmp_path: Path) -> None:
        """Without a name, the scenario is named after its file."""
        path = tmp_path / "what-if.toml"
        path.write_text(small(), encoding="utf-8")
        assert load_scenario(path).name == "what-if"
        assert Scenario.from_toml(small()).name == "scenario"

    def test_integers_read_as_floats(self) -> None:
        """Rates and factors given as integers are floats, so 1 and 1.0 say the same."""
        scenario = Scenario.from_toml(small("[staffing]\ncadres = 1\nvolunteers = 0\n"))
        assert scenario.staffing.cadres == 1.0
        assert isinstance(scenario.staffing.volunteers, float)

    def test_requests_merge_over_the_defaults(self) -> None:
        """A zone's table changes the categories it names and keeps the others."""
        scenario = Scenario.from_toml(
            small("[requests.sealed]\nmedicine = 0.1\n[requests.precaution]\nrepair = 0.001\n")
        )
        assert scenario.requests["sealed"] == {
            "food_supplies": 0.02,
            "medicine": 0.1,
            "garbage": 0.01,
        }
        assert scenario.requests["controlled"] == Scenario().requests["controlled"]
        assert scenario.requests["precaution"] == {"repair": 0.001}

    def test_rules_path_relative_to_the_file(self, tmp_path: Path) -> None:
        """``rules.path`` is read from the scenario's folder and kept as written."""
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "r.toml").write_text('[case]\ncontrol = "off"\n', encoding="utf-8")
        path = tmp_path / "s.toml"
        path.write_text(small('[rules]\npath = "rules/r.toml"\n'), encoding="utf-8")
        scenario = load_scenario(path)
        assert scenario.rules.case.control is None
        assert scenario.rules_source == "rules/r.toml"

    def test_inline_rules(self) -> None:
        """``[rules.inline]`` holds a rules file's tables."""
        scenario = Scenario.from_toml(
            small("[rules.inline.zones.sealed]\nafter_quiet_days = 3\n[rules.inline.case]\n")
        )
        assert scenario.rules.zones["sealed"].after_quiet_days == 3.0
        assert scenario.rules_source == "<inline>"

    def test_cases_csv(self) -> None:
        """A cases CSV's rows become the cases, in file order; the file is remembered."""
        scenario = load_scenario(EXAMPLES / "replay.toml")
        assert scenario.outbreak.driver == "replay"
        assert scenario.outbreak.cases_csv == "cases.csv"
        assert [c.day for c in scenario.outbreak.cases] == [0.0, 2.5, 4.0, 9.0]
        assert scenario.outbreak.cases[0] == SeedCase(EAST, 0.0)

    def test_csv_columns_in_any_order(self, tmp_path: Path) -> None:
        """The header names the columns; extra columns and blank lines are ignored."""
        (tmp_path / "c.csv").write_text(
            f"note,compound,day\nfirst,{EAST},1\n\nsecond,{EAST},2\n", encoding="utf-8"
        )
        scenario = Scenario.from_toml(
            small('[outbreak]\ncases_csv = "c.csv"\n'), "s.toml", tmp_path
        )
        assert scenario.outbreak.cases == (SeedCase(EAST, 1.0), SeedCase(EAST, 2.0))

    def test_options_passed_through(self) -> None:
        """``[outbreak.options]`` is kept as given, for an external driver."""
        scenario = Scenario.from_toml(
            small('[outbreak]\ndriver = "covasim"\n[outbreak.options]\npop_size = 5000\n')
        )
        assert scenario.outbreak.options == {"pop_size": 5000}

    def test_city_built_once(self) -> None:
        """Validation and the runner share one built city per preset and seed."""
        scenario = Scenario.from_toml(small())
        assert scenario.build_city() is scenario.build_city()
        assert EAST in scenario.build_city().compounds


class TestRoundTrip:
    """``to_toml`` writes a self-contained scenario that loads back equal."""

    @pytest.mark.parametrize("name", ["small", "replay"])
    def test_examples_load_back_equal_elsewhere(self, name: str, tmp_path: Path) -> None:
        """Written into another folder, without the files it came from, it loads back equal."""
        scenario = load_scenario(EXAMPLES / f"{name}.toml")
        path = tmp_path / "scenario.toml"
        path.write_text(scenario.to_toml(), encoding="utf-8")
        again = load_scenario(path)
        assert again == scenario

        def uncommented(text: str) -> list[str]:
            return [line for line in text.splitlines() if not line.startswith("#")]

        # Only the comments naming where the rules and cases came from differ.
        assert uncommented(again.to_toml()) == uncommented(scenario.to_toml())

    def test_sept17_example(self) -> None:
        """The 17 September example: Jiamusi, its rules inline, two urban cases."""
        scenario = load_scenario(EXAMPLES / "sept17.toml")
        assert scenario.city == CityChoice("jiamusi", 1.0, 0)
        assert scenario.rules.case.seal == "urban"
        assert scenario.rules_source == "../rules/sept17.toml"
        assert [c.compound[:6] for c in scenario.outbreak.cases] == ["230803", "230804"]
        text = scenario.to_toml()
        assert "[rules.inline.areas]" in text
        again = Scenario.from_toml(text, "written.toml")
        assert again == scenario
        assert again.rules_source == "<inline>"

    def test_missing_request_categories_written_as_zero(self) -> None:
        """A scenario built in code without a default category keeps meaning 'none'."""
        scenario = Scenario(city=CityChoice("small"), requests={"sealed": {"medicine": 0.1}})
        again = Scenario.from_toml(scenario.to_toml())
        assert again.requests["sealed"] == {"medicine": 0.1, "food_supplies": 0.0, "garbage": 0.0}
        assert again.requests["controlled"] == {"food_supplies": 0.0, "medicine": 0.0}

    def test_options_and_awkward_strings(self) -> None:
        """Driver options of every TOML type and names needing quotes survive."""
        scenario = Scenario(
            name="佳木斯-0.9",
            city=CityChoice("small"),
            outbreak=OutbreakSpec(
                driver="covasim",
                options={"a b": [1, 2.5, 'x"y'], "t": {"on": True}, "empty": {}},
            ),
        )
        assert Scenario.from_toml(scenario.to_toml()) == scenario

    @settings(max_examples=30, deadline=None)
    @given(
        seed=st.integers(0, 2**63 - 1),
        rate=st.floats(0, 10, allow_nan=False),
        share=st.floats(0, 1),
        day=st.floats(0, 29.99),
        days=st.integers(30, 400),
        step=st.sampled_from([1, 2, 3, 4, 6, 8, 12, 24]),
    )
    def test_any_valid_values(
        self, seed: int, rate: float, share: float, day: float, days: int, step: int
    ) -> None:
        """Any valid numbers are written and read back exactly."""
        scenario = Scenario(
            seed=seed,
            city=CityChoice("small"),
            outbreak=OutbreakSpec(
                cases=(SeedCase(EAST, day),), within_compound=rate, sealed_factor=share
            ),
            staffing=StaffingLevels(in_service_members=share),
            requests={
                "sealed": {"medicine": rate, "food_supplies": 0.0, "garbage": 0.0},
                "controlled": {"food_supplies": share, "medicine": 0.0},
            },
            run=RunSpec(days, step),
        )
        assert Scenario.from_toml(scenario.to_toml()) == scenario


class TestTopLevelProblems:
    """Problems of the top-level keys, each at its line."""

    def test_syntax_error(self) -> None:
        """Text that is not TOML is one problem at the line of the error."""
        problem = only('name = "x"\nseed = \n')
        assert (problem.line, problem.key) == (2, "(syntax)")

    def test_unknown_key_with_hint(self) -> None:
        """An unknown key names the allowed ones and the closest."""
        problem = only(small("seeds = 3\n"))
        assert (problem.file, problem.line, problem.key) == ("s.toml", 1, "seeds")
        assert "did you mean 'seed'?" in problem.message

    def test_unknown_nested_key(self) -> None:
        """Unknown keys in a table are placed at their own line."""
        assert where(small("[run]\ndays = 3\nsteps = 2\n")) == [("s.toml", 3, "run.steps")]

    def test_wrong_type(self) -> None:
        """A value of the wrong type says what was expected and what came."""
        problem = only(small('seed = "7"\n'))
        assert (problem.line, problem.key) == (1, "seed")
        assert problem.message == 'expected an integer, got a string ("7")'

    def test_table_expected(self) -> None:
        """A key that should be a table is reported as such."""
        assert where(small("staffing = 1\n")) == [("s.toml", 1, "staffing")]

    def test_version(self) -> None:
        """Only version 1 is known."""
        assert only(small("version = 2\n")).message == "unsupported version 2 (expected 1)"

    def test_name_usable_as_folder(self) -> None:
        """A name with a path separator is refused."""
        problem = only(small('name = "../x"\n'))
        assert (problem.line, problem.key) == (1, "name")

    def test_negative_seed(self) -> None:
        """Seeds are 0 or more."""
        assert where(small("seed = -1\n")) == [("s.toml", 1, "seed")]


class TestCityProblems:
    """Problems of ``[city]``."""

    def test_unknown_preset(self) -> None:
        """An unknown preset lists the known ones, with a hint."""
        problem = only('[city]\npreset = "jiamusy"\n')
        assert (problem.line, problem.key) == (2, "city.preset")
        assert "did you mean 'jiamusi'?" in problem.message

    @pytest.mark.parametrize("scale", ["0", "7.5", "-1", "nan", "inf"])
    def test_scale_out_of_range(self, scale: str) -> None:
        """A scale is a share of the published size, in (0, 7] (7: the preset's tiles run out)."""
        problem = only(f'[city]\npreset = "jiamusi"\nscale = {scale}\n')
        assert (problem.line, problem.key) == (3, "city.scale")

    def test_a_megacity_scale_is_accepted_and_builds_the_tiled_city(self) -> None:
        """Above 1 the preset tiles its districts: the scenario's city has the tiles' grids."""
        scenario = Scenario.from_toml('[city]\npreset = "jiamusi"\nscale = 1.5\n', "s.toml")
        assert scenario.city.scale == 1.5
        assert len(scenario.build_city().chain.units("grid")) > 8886

    def test_scale_beyond_the_tiles_names_the_megacity_range(self) -> None:
        problem = only('[city]\npreset = "jiamusi"\nscale = 8\n')
        assert "in (0, 7] (above 1 a megacity of tiled districts), got 8" in problem.message

    def test_scale_the_preset_refuses(self) -> None:
        """A scale the preset cannot build is reported with the preset's reason."""
        problem = only('[city]\npreset = "jiamusi"\nscale = 0.01\n')
        assert (problem.line, problem.key) == (3, "city.scale")
        assert "scale must be in" in problem.message

    def test_scale_for_a_preset_without_one(self) -> None:
        """The small preset has one size."""
        problem = only('[city]\npreset = "small"\nscale = 0.5\n')
        assert (problem.line, problem.key) == (3, "city.scale")
        assert "presets with a scale: jiamusi" in problem.message

    def test_negative_city_seed(self) -> None:
        """The preset's seed is 0 or more."""
        assert where('[city]\npreset = "small"\nseed = -2\n') == [("s.toml", 3, "city.seed")]


class TestOutbreakProblems:
    """Problems of ``[outbreak]``: driver, rates, factors, durations, cases."""

    def test_unknown_driver(self) -> None:
        """An unknown driver lists the known ones."""
        problem = only(small('[outbreak]\ndriver = "agents"\n'))
        assert (problem.line, problem.key) == (2, "outbreak.driver")
        assert "compound, replay, covasim" in problem.message

    def test_negative_rate(self) -> None:
        """Infection rates are 0 or more."""
        problem = only(small("[outbreak]\nstreet = -0.1\n"))
        assert (problem.line, problem.key) == (2, "outbreak.street")
        assert problem.message == "must be a rate of 0 or more per day, got -0.1"

    def test_unbounded_values(self) -> None:
        """What would be unbounded is bounded, each at its line with the bound named."""
        found = problems(
            small(
                "[outbreak]\nwithin_compound = 51\ninfectious_days = 400\n"
                "detection_delay_days = 366\n[requests.sealed]\nmedicine = 11\n"
                "[run]\ndays = 3661\n"
            )
        )
        got = sorted((p.line, p.key, p.message) for p in found)
        assert got == [
            (
                2,
                "outbreak.within_compound",
                "must be at most 50 infections per infectious case per day, got 51",
            ),
            (
                3,
                "outbreak.infectious_days",
                "must be a positive number of days, at most 365, got 400",
            ),
            (4, "outbreak.detection_delay_days", "must be at most 365 days, got 366"),
            (
                6,
                "requests.sealed.medicine",
                "must be at most 10 requests per household per day, got 11",
            ),
            (8, "run.days", "must be at most 3660 days (ten years), got 3661"),
        ]

    def test_bounds_are_inclusive(self) -> None:
        """The bounds themselves are valid values."""
        text = small(
            "[outbreak]\nwithin_compound = 50\ninfectious_days = 365\n"
            "[requests.sealed]\nmedicine = 10\n[run]\ndays = 3660\n"
        )
        scenario = Scenario.from_toml(text, "s.toml")
        assert (scenario.run.days, scenario.outbreak.within_compound) == (3660, 50.0)

    @pytest.mark.parametrize("value", ["1.5", "-0.5"])
    def test_factor_out_of_range(self, value: str) -> None:
        """Sealed and controlled factors are shares in [0, 1]."""
        problem = only(small(f"[outbreak]\n\ncontrolled_factor = {value}\n"))
        assert (problem.line, problem.key) == (3, "outbreak.controlled_factor")

    @pytest.mark.parametrize("value", ["0", "-1", "inf"])
    def test_infectious_days_positive(self, value: str) -> None:
        """A case is infectious for a positive, finite number of days."""
        assert where(small(f"[outbreak]\ninfectious_days = {value}\n")) == [
            ("s.toml", 2, "outbreak.infectious_days")
        ]

    def test_detection_delay(self) -> None:
        """The detection delay may be 0 but not negative."""
        Scenario.from_toml(small("[outbreak]\ndetection_delay_days = 0\n"))
        assert where(small("[outbreak]\ndetection_delay_days = -1\n")) == [
            ("s.toml", 2, "outbreak.detection_delay_days")
        ]

    def test_case_unknown_compound(self) -> None:
        """A case in a compound the city lacks is placed at its key, with a hint."""
        text = small(
            f"""
            [outbreak]
            cases = [
              {{ compound = "{EAST}" }},
              {{ compound = "990101001001-C1", day = 1 }},
            ]
            """
        )
        problem = only(text)
        assert (problem.line, problem.key) == (4, "outbreak.cases[1].compound")
        assert problem.message == (
            "no compound '990101001001-C1' in the city (Smalltown); "
            "did you mean '990101001001-C01'?"
        )

    def test_case_after_the_run(self) -> None:
        """A case on or after the last day of the run could never be reported."""
        text = small(f'[run]\ndays = 5\n[outbreak]\ncases = [{{ compound = "{EAST}", day = 5 }}]\n')
        problem = only(text)
        assert (problem.line, problem.key) == (4, "outbreak.cases[0].day")
        assert problem.message == "day 5 is past the end of the run (run.days = 5)"

    def test_case_shape(self) -> None:
        """A case needs a compound, and knows no other keys than compound and day."""
        text = small('[outbreak]\ncases = [{ day = 1 }, { compound = "x", when = 2 }, 3]\n')
        assert where(text) == [
            ("s.toml", 2, "outbreak.cases[0]"),
            ("s.toml", 2, "outbreak.cases[1].when"),
            ("s.toml", 2, "outbreak.cases[1].compound"),
            ("s.toml", 2, "outbreak.cases[2]"),
        ]

    def test_cases_and_csv(self, tmp_path: Path) -> None:
        """Cases are given in the file or in a CSV, not both."""
        (tmp_path / "c.csv").write_text(f"day,compound\n0,{EAST}\n", encoding="utf-8")
        text = small(f'[outbreak]\ncases = [{{ compound = "{EAST}" }}]\ncases_csv = "c.csv"\n')
        assert where(text, tmp_path) == [("s.toml", 3, "outbreak.cases_csv")]


class TestCsvProblems:
    """Problems of a cases CSV, at the CSV's own lines."""

    def csv_problems(self, tmp_path: Path, content: str) -> list[tuple[str, int, str]]:
        (tmp_path / "c.csv").write_text(content, encoding="utf-8")
        text = small('[run]\ndays = 10\n[outbreak]\ncases_csv = "c.csv"\n')
        return [(Path(f).name, line, key) for f, line, key in where(text, tmp_path)]

    def test_missing_file(self) -> None:
        """A CSV that is not there is a problem at ``outbreak.cases_csv``."""
        problem = only(small('[outbreak]\ncases_csv = "nowhere.csv"\n'))
        assert (problem.line, problem.key) == (2, "outbreak.cases_csv")
        assert problem.message.startswith("no CSV file 'nowhere.csv'")

    @pytest.mark.parametrize(
        "content", ["", "when,compound\n", "day,day,compound\n", "day;compound\n"]
    )
    def test_bad_header(self, tmp_path: Path, content: str) -> None:
        """The first row must name a day and a compound column, once each."""
        assert self.csv_problems(tmp_path, content) == [("c.csv", 1, "(header)")]

    def test_bad_rows(self, tmp_path: Path) -> None:
        """Bad days, unknown compounds and short rows at their lines, every one."""
        content = f"day,compound\n1,{EAST}\nx,{EAST}\n-1,{EAST}\n10,{EAST}\n\n2,NOPE\n3\n4,\n"
        assert self.csv_problems(tmp_path, content) == [
            ("c.csv", 3, "day"),
            ("c.csv", 4, "day"),
            ("c.csv", 5, "day"),
            ("c.csv", 7, "compound"),
            ("c.csv", 8, "(row)"),
            ("c.csv", 9, "compound"),
        ]

    def test_quoted_field_over_two_lines(self, tmp_path: Path) -> None:
        """A row after a quoted field spanning lines is placed at its own line."""
        content = f'day,compound,note\n1,{EAST},"two\nlines"\nx,{EAST},\n'
        assert self.csv_problems(tmp_path, content) == [("c.csv", 4, "day")]

    def test_not_utf8(self, tmp_path: Path) -> None:
        """A CSV that is not UTF-8 says where the bad byte is."""
        (tmp_path / "c.csv").write_bytes(b"day,compound\n0,\xff\n")
        text = small('[outbreak]\ncases_csv = "c.csv"\n')
        problem = only(text, tmp_path)
        assert (Path(problem.file).name, problem.line, problem.key) == ("c.csv", 2, "(file)")


class TestRulesProblems:
    """Problems of the rules: path, inline, and their own lines."""

    def test_missing_rules_file(self) -> None:
        """A rules path that names no file is a problem at ``rules.path``."""
        problem = only(small('[rules]\npath = "nowhere.toml"\n'))
        assert (problem.line, problem.key) == (2, "rules.path")

    def test_invalid_rules_file(self, tmp_path: Path) -> None:
        """A rules file's problems come with the rules file's lines."""
        (tmp_path / "r.toml").write_text('version = 1\n[case]\nseal = "compund"\n', "utf-8")
        problem = only(small('[rules]\npath = "r.toml"\n'), tmp_path)
        assert (Path(problem.file).name, problem.line, problem.key) == ("r.toml", 3, "case.seal")

    def test_rules_file_areas_against_the_city(self, tmp_path: Path) -> None:
        """Area ids the city lacks are placed in the rules file."""
        (tmp_path / "r.toml").write_text('[areas]\nx = ["990101", "230803"]\n', "utf-8")
        problem = only(small('[rules]\npath = "r.toml"\n'), tmp_path)
        assert (Path(problem.file).name, problem.line, problem.key) == ("r.toml", 2, "areas.x[1]")

    def test_path_and_inline(self) -> None:
        """The rules are given by a path or inline, not both."""
        text = small('[rules]\npath = "r.toml"\n[rules.inline.case]\nseal = "grid"\n')
        assert where(text) == [("s.toml", 3, "rules.inline")]

    def test_inline_problems_at_scenario_lines(self) -> None:
        """Inline rules' problems are placed in the scenario, under ``rules.inline``."""
        text = small(
            """
            seed = 1
            [rules.inline.case]
            seal = "grid"
            control = "compound"
            [rules.inline.zones.sealed]
            after_quiet_days = "two"
            """
        )
        assert where(text) == [
            ("s.toml", 4, "rules.inline.case.control"),
            ("s.toml", 6, "rules.inline.zones.sealed.after_quiet_days"),
        ]

    def test_inline_areas_against_the_city(self) -> None:
        """Inline area ids the city lacks are placed at the scenario's lines."""
        text = small('[rules.inline.areas]\nx = [\n  "990101",\n  "nope",\n]\n')
        assert where(text) == [("s.toml", 4, "rules.inline.areas.x[1]")]


class TestStaffingRequestsRunProblems:
    """Problems of ``[staffing]``, ``[requests]`` and ``[run]``."""

    @pytest.mark.parametrize("key", ["cadres", "availability"])
    def test_staffing_shares(self, key: str) -> None:
        """Staffing levels are shares in [0, 1]."""
        problem = only(small(f"[staffing]\n{key} = 1.2\n"))
        assert (problem.line, problem.key) == (2, f"staffing.{key}")
        assert problem.message == "must be a share in [0, 1], got 1.2"

    def test_unknown_zone(self) -> None:
        """Request zones are the compound zones."""
        assert where(small("[requests.lockdown]\nmedicine = 1\n")) == [
            ("s.toml", 1, "requests.lockdown")
        ]

    def test_unknown_category(self) -> None:
        """Request categories are the rules' ticket categories."""
        problem = only(small("[requests.sealed]\nmedecine = 0.1\n"))
        assert (problem.line, problem.key) == (2, "requests.sealed.medecine")
        assert "did you mean 'medicine'?" in problem.message

    def test_negative_request_rate(self) -> None:
        """Request rates are 0 or more."""
        assert where(small("[requests.controlled]\n\nmedicine = -1\n")) == [
            ("s.toml", 3, "requests.controlled.medicine")
        ]

    @pytest.mark.parametrize("days", ["0", "-3", "2.5"])
    def test_days(self, days: str) -> None:
        """A run lasts a whole number of days, at least one."""
        assert where(small(f"[run]\ndays = {days}\n")) == [("s.toml", 2, "run.days")]

    def test_step_divides_a_day(self) -> None:
        """A step is a number of hours that divides a day."""
        problem = only(small("[run]\nstep_hours = 5\n"))
        assert (problem.line, problem.key) == (2, "run.step_hours")
        assert problem.message == "must divide a day (1, 2, 3, 4, 6, 8, 12, 24), got 5"


class TestEveryProblem:
    """Validation reports everything at once, ordered by file and line."""

    def test_all_at_once(self, tmp_path: Path) -> None:
        """The scenario's problems in line order, then its CSV's."""
        (tmp_path / "c.csv").write_text("day,compound\nsoon,NOPE\n", encoding="utf-8")
        text = toml(
            """
            seed = -1
            [city]
            preset = "small"
            [outbreak]
            driver = "agents"
            cases_csv = "c.csv"
            sealed_factor = 2
            [run]
            step_hours = 7
            """
        )
        found = [(Path(p.file).name, p.line, p.key) for p in problems(text, tmp_path)]
        assert found == [
            ("s.toml", 1, "seed"),
            ("s.toml", 5, "outbreak.driver"),
            ("s.toml", 7, "outbreak.sealed_factor"),
            ("s.toml", 9, "run.step_hours"),
            ("c.csv", 2, "day"),
            ("c.csv", 2, "compound"),
        ]

    def test_rendered(self) -> None:
        """A problem reads ``file:line: key.path: what is wrong``."""
        with pytest.raises(ScenarioError) as info:
            Scenario.from_toml(small("[run]\ndays = 0\n"), "s.toml")
        assert str(info.value) == "s.toml:2: run.days: must be at least 1 day, got 0"

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A scenario file that cannot be read is one problem."""
        with pytest.raises(ScenarioError) as info:
            load_scenario(tmp_path / "missing.toml")
        assert info.value.problems[0].key == "(file)"


class TestWithValues:
    """``with_values`` sets dotted keys and validates again."""

    def test_sets_values(self) -> None:
        """New values replace the old ones; the rest stays."""
        scenario = load_scenario(EXAMPLES / "small.toml")
        changed = scenario.with_values({"run.days": 5, "outbreak.within_compound": 0.2})
        assert changed.run.days == 5
        assert changed.outbreak.within_compound == 0.2
        assert changed.staffing == scenario.staffing
        assert changed.name == scenario.name

    def test_keeps_where_rules_and_cases_came_from(self) -> None:
        """Unless replaced, the rules' and cases' sources stay."""
        scenario = load_scenario(EXAMPLES / "replay.toml")
        changed = scenario.with_values({"run.days": 20})
        assert (changed.rules_source, changed.outbreak.cases_csv) == ("<default>", "cases.csv")
        changed = scenario.with_values({"outbreak.cases": []})
        assert changed.outbreak.cases_csv is None

    def test_rules_path_replaces_inline_rules(self) -> None:
        """Setting ``rules.path`` (resolved against the scenario's folder) replaces its rules."""
        scenario = Scenario(city=CityChoice("small"), base=RULES)
        changed = scenario.with_values({"rules.path": "default.toml"})
        assert changed.rules == Rules.default()
        assert changed.rules_source == "default.toml"

    def test_bad_value(self) -> None:
        """A bad value is reported under its dotted key."""
        with pytest.raises(ScenarioError) as info:
            Scenario(city=CityChoice("small")).with_values({"staffing.cadres": 3})
        assert [str(p) for p in info.value.problems] == [
            "<values>:0: staffing.cadres: must be a share in [0, 1], got 3"
        ]

    def test_unknown_and_malformed_keys(self) -> None:
        """Unknown and malformed keys are reported as such."""
        with pytest.raises(ScenarioError) as info:
            Scenario(city=CityChoice("small")).with_values({"run..days": 3})
        assert info.value.problems[0].key == "run..days"
        with pytest.raises(ScenarioError) as info:
            Scenario(city=CityChoice("small")).with_values({"runs.days": 3})
        assert info.value.problems[0].message.startswith("runs: unknown key")
