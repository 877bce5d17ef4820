"""``gridgov check``: recognise what a file is, and validate it as that.

A path is one of six kinds:

* ``rules``: a rules file (TOML with ``[case]``, ``[zones]``, ``[modes]``,
  ``[areas]``, ``[overrides]``, ``[tickets]`` or rules' ``[staffing]`` keys);
* ``scenario``: a scenario file (TOML with ``[city]``, ``[rules]``,
  ``[outbreak]``, ``[requests]``, ``[run]``, ``name``, ``seed`` or
  scenario's ``[staffing]`` shares);
* ``sweep``: a sweep file (TOML with ``scenario``, ``replicates`` or
  ``[parameters]``);
* ``alert``: a CAP 1.2 alert (XML: the first thing in the file is ``<``);
* ``bundle``: a city bundle (a folder);
* ``journal``: a SQLite journal (the file starts with SQLite's header): its
  whole hash chain and its idempotency records are checked, whatever its
  snapshots vouch for (what ``Engine.open(..., verify="full")`` does).

The kind is the one whose keys the file uses; a file using none (an empty
TOML file) or the keys of two kinds is a problem that says so, and
``--kind`` names the kind outright. Every problem is a
:class:`gridgov.errors.Problem` (``file:line: key.path: what is wrong``);
nothing from a file that turned out not to be of a known kind is quoted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gridgov._files import FileProblem, read_bytes
from gridgov.errors import GridgovError, Problem, RulesError, ScenarioError

if TYPE_CHECKING:
    from gridgov.alerts import AlertRule, CapAlert, CapArea, CapInfo

__all__ = ["KINDS", "Checked", "alert_findings", "check_path", "recognise"]

#: The kinds ``gridgov check`` knows, as ``--kind`` names them.
KINDS = ("rules", "scenario", "sweep", "bundle", "alert", "journal")

#: The first bytes of every SQLite database file.
_SQLITE_MAGIC = b"SQLite format 3\x00"

_RULES_ONLY = {"areas", "case", "zones", "modes", "overrides", "tickets"}
_SCENARIO_ONLY = {"name", "seed", "city", "rules", "outbreak", "requests", "run"}
_SWEEP_ONLY = {"scenario", "replicates", "parameters"}
_RULES_STAFFING = {
    "households_per_building_lead",
    "households_per_registration",
    "disinfection_per_compound",
    "checkpoint_shifts",
    "households_per_volunteer",
    "max_staff_share",
    "pools",
    "auto_claim",
    "posts",
}
_SCENARIO_STAFFING = {"cadres", "in_service_members", "volunteers", "grid_workers", "availability"}


@attrs.frozen
class Checked:
    """The outcome of checking one path."""

    #: The path as given.
    path: str
    #: The kind it was checked as (``unknown`` when it could not be told).
    kind: str
    #: Every problem; empty when the file is valid.
    problems: tuple[Problem, ...] = ()
    #: What a valid file will do that its author may not expect.
    warnings: tuple[str, ...] = ()


def recognise(path: str) -> str | Problem:
    """The kind of the file or folder at ``path``, or the problem that stops telling it.

    Reads at most ``gridgov._files.LIMITS["checked"]`` bytes; quotes nothing of the file.
    """
    if os.path.isdir(path):
        return "bundle"
    # Only a regular file is peeked at (a pipe or a device is refused by
    # read_bytes below before a byte is read).
    if os.path.isfile(path):
        try:
            with open(path, "rb") as file:
                if file.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
                    return "journal"
        except OSError:
            pass  # read_bytes below says what is wrong
    try:
        data = read_bytes(path, "checked")
    except FileProblem as exc:
        return Problem(path, exc.line, "(file)", exc.reason)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") or Path(path).suffix.lower() in (".xml", ".cap"):
        return "alert"
    from gridgov._toml import parse

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return Problem(path, line, "(file)", "not UTF-8 text: not a rules, scenario or sweep file")
    parsed = parse(text, path)
    if isinstance(parsed, Problem):
        return parsed
    return _kind_of(parsed, path)


def _kind_of(data: Mapping[str, Any], path: str) -> str | Problem:
    keys = set(data)
    votes = {
        "rules": keys & _RULES_ONLY,
        "scenario": keys & _SCENARIO_ONLY,
        "sweep": keys & _SWEEP_ONLY,
    }
    staffing = data.get("staffing")
    if isinstance(staffing, dict):
        if set(staffing) & _RULES_STAFFING:
            votes["rules"] = votes["rules"] | {"staffing"}
        if set(staffing) & _SCENARIO_STAFFING:
            votes["scenario"] = votes["scenario"] | {"staffing"}
    kinds = [kind for kind, found in votes.items() if found]
    if len(kinds) == 1:
        return kinds[0]
    if not kinds:
        return Problem(
            path,
            0,
            "(file)",
            "cannot tell what this file is: it has no key of a rules file ([case], [zones], "
            "...), a scenario ([outbreak], [run], ...) or a sweep (parameters, scenario); "
            "name the kind with --kind",
        )
    mixed = "; ".join(f"{kind}: {', '.join(sorted(votes[kind]))}" for kind in kinds)
    return Problem(
        path,
        0,
        "(file)",
        f"cannot tell what this file is: it has keys of several kinds ({mixed}); "
        "name the kind with --kind",
    )


def check_path(path: str, kind: str | None = None) -> Checked:
    """Check one path as ``kind``, or as the kind :func:`recognise` finds.

    Returns:
        The kind and every problem (none when valid), and the warnings.
    """
    if kind is None:
        found = recognise(path)
        if isinstance(found, Problem):
            return Checked(path, "unknown", (found,))
        kind = found
    return _CHECKERS[kind](path)


def _check_rules(path: str) -> Checked:
    from gridgov.rules import load_rules

    try:
        load_rules(path)
    except RulesError as exc:
        return Checked(path, "rules", exc.problems)
    return Checked(path, "rules")


def _check_scenario(path: str) -> Checked:
    from gridgov.sim.scenario import load_scenario

    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        return Checked(path, "scenario", exc.problems)
    return Checked(path, "scenario", warnings=tuple(f"{path}: {w}" for w in scenario.warnings()))


def _check_sweep(path: str) -> Checked:
    from gridgov.sim.sweep import load_sweep

    try:
        sweep = load_sweep(path)
    except ScenarioError as exc:
        return Checked(path, "sweep", exc.problems)
    warnings = tuple(f"{path}: {w}" for w in sweep.scenario.warnings())
    return Checked(path, "sweep", warnings=warnings)


def _check_alert(path: str) -> Checked:
    from gridgov.alerts import AlertError, parse_cap

    try:
        data = read_bytes(path, "CAP alert")
    except FileProblem as exc:
        return Checked(path, "alert", (Problem(path, exc.line, "(file)", exc.reason),))
    try:
        alert = parse_cap(data)
    except AlertError as exc:
        return Checked(path, "alert", (Problem(path, 0, "alert", " ".join(str(exc).split())),))
    findings = alert_findings(alert)
    problems = tuple(Problem(path, 0, key, what) for key, what, bad in findings if bad)
    warnings = tuple(f"{path}: {key}: {what}" for key, what, bad in findings if not bad)
    return Checked(path, "alert", problems, warnings)


def alert_findings(alert: CapAlert, rule: AlertRule | None = None) -> list[tuple[str, str, bool]]:
    """What the alert intake will make of a parsed alert, in any city.

    The checks of :func:`gridgov.alerts.plan_alert` that need no city and no
    history: the status and message type it acts on, the references an
    ``Update`` or ``Cancel`` needs, times that contradict each other, the
    infos the rule maps to a measure, and the areas it can resolve (an
    accepted geocode of 6, 9 or 12 digits, or a shape). Which units an area
    names, and what was received before, depend on the city and are left to
    ``gridgov alert``.

    Args:
        alert: the parsed alert (:func:`gridgov.alerts.parse_cap`).
        rule: the intake's rule (default: :class:`gridgov.alerts.AlertRule`'s).

    Returns:
        ``(key, what, is_problem)`` for each finding, in document order:
        problems make the alert wrong, the others say what will be ignored.
    """
    from gridgov.alerts import AlertRule

    rule = AlertRule() if rule is None else rule
    found: list[tuple[str, str, bool]] = []
    if alert.status != "Actual":
        found.append(("alert/status", f"{alert.status}: the intake changes nothing for it", False))
    if alert.msg_type in ("Ack", "Error"):
        found.append(("alert/msgType", f"{alert.msg_type} carries no measure", False))
    elif alert.msg_type in ("Update", "Cancel") and not alert.references:
        what = "update" if alert.msg_type == "Update" else "cancel"
        found.append(
            ("alert/references", f"a {alert.msg_type} names no earlier alert to {what}", True)
        )
    for sender, identifier, sent in alert.references:
        if sender != alert.sender:
            found.append(
                (
                    "alert/references",
                    f"{sender},{identifier},{sent.isoformat()} is another sender's: the intake "
                    "ignores it (a sender updates or cancels only its own)",
                    False,
                )
            )
        elif sent > alert.sent:
            found.append(
                (
                    "alert/references",
                    f"{identifier} was sent {sent.isoformat()}, after this alert "
                    f"({alert.sent.isoformat()}); expected an earlier alert",
                    True,
                )
            )
    measures = 0
    for number, info in enumerate(alert.infos, 1):
        found += _info_findings(alert, info, f"alert/info[{number}]", rule)
        measures += rule.handles(info) and rule.measure(info)[0] is not None and bool(info.areas)
    if alert.msg_type in ("Alert", "Update") and alert.status == "Actual" and not measures:
        found.append(
            ("alert/info", "no info calls for a measure: the alert changes nothing", False)
        )
    return found


def _info_findings(
    alert: CapAlert, info: CapInfo, where: str, rule: AlertRule
) -> list[tuple[str, str, bool]]:
    found: list[tuple[str, str, bool]] = []
    if info.expires is not None:
        if info.expires <= alert.sent:
            found.append(
                (
                    f"{where}/expires",
                    f"{info.expires.isoformat()} is not after the alert was sent "
                    f"({alert.sent.isoformat()}): expired before it was issued",
                    True,
                )
            )
        for name, start in (("effective", info.effective), ("onset", info.onset)):
            if start is not None and start >= info.expires:
                found.append(
                    (
                        f"{where}/{name}",
                        f"{start.isoformat()} is not before expires ({info.expires.isoformat()}): "
                        "never in force",
                        True,
                    )
                )
    if not rule.handles(info):
        handled = ", ".join(rule.categories)
        found.append(
            (
                f"{where}/category",
                f"{', '.join(info.categories)} is not a health emergency (handled: {handled}): "
                "the intake ignores this info",
                False,
            )
        )
        return found
    zone, why = rule.measure(info)
    if zone is None:
        found.append((where, f"{why}: the intake ignores this info", False))
    if not info.areas:
        found.append((f"{where}/area", "none: a measure needs an area", zone is not None))
    for number, area in enumerate(info.areas, 1):
        found += _area_findings(area, f"{where}/area[{number}]", rule)
    return found


def _area_findings(area: CapArea, where: str, rule: AlertRule) -> list[tuple[str, str, bool]]:
    found: list[tuple[str, str, bool]] = []
    codes = [code.strip() for name in rule.value_names for code in area.codes(name)]
    for code in codes:
        if not re.fullmatch(r"[0-9]{6}|[0-9]{9}|[0-9]{12}", code):
            shown = code if len(code) <= 40 else code[:37] + "..."
            found.append(
                (
                    f"{where}/geocode",
                    f"{shown!r} is not an administrative code of 6, 9 or 12 digits",
                    True,
                )
            )
    if not codes and area.geocodes:
        names = ", ".join(sorted({name for name, _ in area.geocodes}))
        accepted = ", ".join(rule.value_names)
        found.append(
            (
                f"{where}/geocode",
                f"valueName {names} is not read (accepted: {accepted}): "
                + (
                    "the area is matched by its shapes"
                    if area.polygons or area.circles
                    else "the area goes to review"
                ),
                False,
            )
        )
    return found


def _check_bundle(path: str) -> Checked:
    from gridgov.cities import check_bundle, is_bundle

    if not is_bundle(path):
        if not os.path.exists(path):
            reason = "does not exist"
        elif os.path.isdir(path):
            reason = "is a folder without city.toml, not a city bundle"
        else:
            reason = "is a file, not a city bundle (a folder with city.toml)"
        return Checked(path, "bundle", (Problem(path, 0, "(file)", reason),))
    try:
        problems = check_bundle(path)
    except GridgovError as exc:
        found = getattr(exc, "problems", None) or (Problem(path, 0, "(bundle)", str(exc)),)
        return Checked(path, "bundle", tuple(found))
    if problems:
        return Checked(path, "bundle", tuple(problems))
    return _check_coverage(path)


def _check_coverage(bundle: str) -> Checked:
    """A valid bundle's geometry.geojson against its city: ids, shapes, then coverage."""
    from gridgov.cities import load_city
    from gridgov.errors import CityError, MissingExtraError

    shown = os.path.join(bundle, "geometry.geojson")
    if not os.path.exists(shown):
        return Checked(bundle, "bundle")
    try:
        from gridgov.geo import CityGeometry, check_coverage
    except MissingExtraError as missing:
        return Checked(bundle, "bundle", warnings=(f"{shown}: geometry not checked: {missing}",))
    try:
        city = load_city(bundle)
    except CityError as exc:
        return Checked(bundle, "bundle", tuple(exc.problems))
    assert isinstance(city.geometry, CityGeometry)
    problems = tuple(
        Problem(shown, 0, f"coverage.{p.kind}", p.message)
        for p in check_coverage(city, city.geometry)
    )
    return Checked(bundle, "bundle", problems)


def _check_journal(path: str) -> Checked:
    """Check a SQLite journal without changing it: every event's hash, the idempotency
    records, the last commit's record, and every event decoded."""
    import sqlite3

    from gridgov.errors import JournalError
    from gridgov.journal import SqliteJournal

    # Opening a journal creates what is missing: only a file that already
    # holds a journal's event (or block) table with its chain is opened as one.
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            columns = {r[1] for r in db.execute("PRAGMA table_info(events)").fetchall()}
            blocks = {r[1] for r in db.execute("PRAGMA table_info(blocks)").fetchall()}
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return Checked(path, "journal", (Problem(path, 0, "(file)", f"unreadable: {exc}"),))
    # Format 4 keeps its events in blocks; formats 2 and 3 a row per event.
    block_table = {"first", "last", "command", "final", "body", "hash"}
    row_table = {"seq", "command", "record", "last", "hash"}
    if not block_table <= blocks and not row_table <= columns:
        what = "without the hash chain (an older gridgov)" if columns else "without events"
        return Checked(
            path, "journal", (Problem(path, 0, "(file)", f"not a gridgov journal: {what}"),)
        )
    try:
        journal = SqliteJournal(path, verify="full")
        try:
            # Every event decoded as a replay reads it: a block or row whose chain
            # was forged to match but that holds no events is found too.
            for _ in journal.replay_chunks(0, 4096):
                pass
        finally:
            journal.close()
    except JournalError as exc:
        message = str(exc).removeprefix(f"{path}: ")
        return Checked(path, "journal", (Problem(path, 0, "events", message),))
    return Checked(path, "journal")


_CHECKERS: dict[str, Callable[[str], Checked]] = {
    "rules": _check_rules,
    "scenario": _check_scenario,
    "sweep": _check_sweep,
    "alert": _check_alert,
    "bundle": _check_bundle,
    "journal": _check_journal,
}
