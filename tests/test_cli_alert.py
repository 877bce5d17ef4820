"""``gridgov alert FILE...``: alerts played in order on a fresh engine of a city."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gridgov.cities import save_city
from gridgov.cli import main
from gridgov.presets import small
from gridgov.testing import cap_message

CST = timezone(timedelta(hours=8))
T0 = datetime(2022, 9, 17, 9, 30, tzinfo=CST)
HOUR = timedelta(hours=1)
HEALTH = "230800-health-commission"
C1, C2 = "230803007001", "230803007002"


@pytest.fixture
def chain_files(tmp_path: Path) -> dict[str, Path]:
    """An Alert, its Update, its Cancel, and a file that is not CAP."""
    texts = {
        "alert": cap_message("A", T0, areas=[("东区", [C1])]),
        "update": cap_message(
            "U",
            T0 + HOUR,
            msg_type="Update",
            references=[(HEALTH, "A", T0)],
            areas=[("西区", [C2])],
        ),
        "cancel": cap_message(
            "C", T0 + 2 * HOUR, msg_type="Cancel", references=[(HEALTH, "A", T0)]
        ),
        "later": cap_message("L", T0, onset=T0 + 5 * HOUR, areas=[("东区", [C1])]),
        "broken": "<alert>",
    }
    out = {}
    for name, text in texts.items():
        path = tmp_path / f"{name}.xml"
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main(["alert", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


class TestAlertCommand:
    """Outcomes per alert, compounds per zone, exit codes."""

    def test_json_of_a_chain(
        self, capsys: pytest.CaptureFixture[str], chain_files: dict[str, Path]
    ) -> None:
        """Alert, Update, the Alert again, Cancel, a broken file: exit 1, every outcome listed."""
        f = chain_files
        code, out, err = run(
            capsys, f["alert"], f["update"], f["alert"], f["cancel"], f["broken"], "--json"
        )
        assert code == 1
        # The outcomes are the results; the refused file is also an error line.
        assert err.startswith(f"gridgov: error: {f['broken']}: refused: not a CAP alert: ")
        assert len(err.splitlines()) == 1
        data = json.loads(out)
        assert list(data) == ["alerts", "zones"]
        rows = data["alerts"]
        assert [r["outcome"] for r in rows] == ["declare", "update", "duplicate", "lift", "refused"]
        assert [r["identifier"] for r in rows] == ["A", "U", "A", "C", None]
        assert all(list(r) == ["identifier", "outcome", "zone", "units", "reasons"] for r in rows)
        assert rows[0]["zone"] == "sealed"
        assert rows[0]["units"] == [C1]
        assert rows[4]["reasons"][0].startswith("not a CAP alert: malformed XML")
        assert data["zones"] == {"sealed": 0, "controlled": 0, "precaution": 0}

    def test_every_file_read_exits_zero(
        self, capsys: pytest.CaptureFixture[str], chain_files: dict[str, Path]
    ) -> None:
        """Whatever the outcomes (a duplicate included), 0 when every file was read."""
        code, out, _ = run(capsys, chain_files["alert"], chain_files["alert"], "--json")
        assert code == 0
        data = json.loads(out)
        assert [r["outcome"] for r in data["alerts"]] == ["declare", "duplicate"]
        assert data["zones"]["sealed"] == 2

    def test_text_output(
        self, capsys: pytest.CaptureFixture[str], chain_files: dict[str, Path]
    ) -> None:
        """One line per alert, its reasons indented, the counts last."""
        code, out, _ = run(capsys, chain_files["alert"], chain_files["alert"])
        assert code == 0
        lines = out.splitlines()
        assert lines[0] == f"{chain_files['alert']}: A: declare sealed on {C1}"
        assert lines[1] == f"{chain_files['alert']}: A: duplicate - on -"
        assert lines[2].startswith("  - message 230800-health-commission,A,")
        assert lines[-1] == "compounds: sealed 2, controlled 0, precaution 0"

    def test_at_and_until(
        self, capsys: pytest.CaptureFixture[str], chain_files: dict[str, Path]
    ) -> None:
        """--at receives at that time (onset ahead: scheduled); --until plays the start."""
        at = (T0 + HOUR).isoformat()
        code, out, _ = run(capsys, chain_files["later"], "--at", at, "--json")
        assert code == 0
        assert json.loads(out)["zones"]["sealed"] == 0
        until = (T0 + 6 * HOUR).isoformat()
        code, out, _ = run(capsys, chain_files["later"], "--at", at, "--until", until, "--json")
        assert json.loads(out)["zones"]["sealed"] == 2

    def test_until_before_the_alerts(
        self, capsys: pytest.CaptureFixture[str], chain_files: dict[str, Path]
    ) -> None:
        """--until earlier than the alerts: one error line, exit 1."""
        code, _, err = run(
            capsys, chain_files["alert"], "--until", (T0 - HOUR).isoformat(), "--json"
        )
        assert code == 1
        assert err.startswith("gridgov: error: --until")
        assert len(err.splitlines()) == 1

    def test_time_without_offset_is_a_usage_error(
        self, capsys: pytest.CaptureFixture[str], chain_files: dict[str, Path]
    ) -> None:
        """--at 2022-09-17T09:30 (no offset): usage error, exit 2."""
        code, _, err = run(capsys, chain_files["alert"], "--at", "2022-09-17T09:30")
        assert code == 2
        assert "UTC offset" in err

    def test_missing_file_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A file that cannot be read is a refused alert: exit 1, the reason given."""
        code, out, _ = run(capsys, tmp_path / "nothing.xml", "--json")
        assert code == 1
        (row,) = json.loads(out)["alerts"]
        assert row["outcome"] == "refused"
        assert row["reasons"][0].startswith("cannot read ")

    def test_from_a_bundle(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """--from plays the alerts on a city bundle."""
        folder = save_city(small(), tmp_path / "small")
        text = cap_message("S", T0, sender="990101-hc", areas=[("东社区", ["990101001001"])])
        path = tmp_path / "s.xml"
        path.write_text(text, encoding="utf-8")
        # East Community is half of the small city: the default rule asks a person.
        code, out, _ = run(capsys, path, "--from", folder, "--json")
        assert code == 0
        (row,) = json.loads(out)["alerts"]
        assert row["outcome"] == "review"
        assert "review_share" in " ".join(row["reasons"])
