"""Alerts in: OASIS CAP 1.2 alerts read safely and turned into a decision on measures.

A host platform (the "1 + 1 + 5 + N" command system) forwards public alerts
in the Common Alerting Protocol (CAP 1.2, the XML format of China's national
early-warning platform, CPEAS, and of most alerting systems). This module
does the pure part of receiving one:

1. :func:`parse_cap` reads the XML with ``defusedxml``: no DTD, no entity
   expansion, no external reference, a size limit, and every element gridgov
   maps checked against the CAP 1.2 enumerations. Anything malformed or
   hostile raises :class:`AlertError` with one line naming the element and
   what was expected; no other exception type escapes.
2. :func:`resolve_area` finds the units of the chain an ``<area>`` names: by
   its ``CPEAS Geographic Code`` geocodes (12-digit administrative codes; 6-
   and 9-digit prefixes name a district or street), else by an ``areaDesc``
   equal to one unit's name.
3. :func:`plan_alert` applies an :class:`AlertRule` (which categories are
   health emergencies, which severity calls for which zone, how certainty and
   urgency temper it, which statuses may change live state) and returns a
   frozen :class:`AlertDecision`: declare, lift or ignore, on which units,
   and a reason for every part of the alert that was left out.

Only the engine applies a decision (``Engine.receive_alert``); nothing here
changes state. The zones are those of the compound machine: ``sealed``
(nobody leaves), ``controlled`` (movement restricted), ``precaution`` (watch).
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn
from xml.etree.ElementTree import Element, ParseError

import attrs
import defusedxml.ElementTree as SafeElementTree
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from gridgov.city import City
from gridgov.errors import AlertError, UnknownUnitError
from gridgov.modes import ZONES

__all__ = [
    "ACTIONS",
    "CAP_NAMESPACE",
    "CATEGORIES",
    "CERTAINTIES",
    "CPEAS_GEOCODE",
    "ENCODINGS",
    "MAX_ALERT_BYTES",
    "MSG_TYPES",
    "RESPONSE_TYPES",
    "SCOPES",
    "SEVERITIES",
    "STATUSES",
    "URGENCIES",
    "AlertDecision",
    "AlertError",
    "AlertRule",
    "CapAlert",
    "CapArea",
    "CapInfo",
    "parse_cap",
    "plan_alert",
    "resolve_area",
]

#: The XML namespace of CAP 1.2; the root ``<alert>`` must be in it.
CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
#: The geocode ``valueName`` of Chinese alerts: a 12-digit administrative code
#: (6 digits county-level division, 3 street or township, 3 community or village).
CPEAS_GEOCODE = "CPEAS Geographic Code"
#: Inputs larger than this many bytes are refused before parsing.
MAX_ALERT_BYTES = 1 << 20

# The CAP 1.2 enumerations (OASIS standard, section 3.2).
#: ``<status>`` values.
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
#: ``<msgType>`` values.
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
#: ``<scope>`` values.
SCOPES = ("Public", "Restricted", "Private")
#: ``<category>`` values.
CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
#: ``<responseType>`` values.
RESPONSE_TYPES = (
    "Shelter",
    "Evacuate",
    "Prepare",
    "Execute",
    "Avoid",
    "Monitor",
    "Assess",
    "AllClear",
    "None",
)
#: ``<urgency>`` values.
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
#: ``<severity>`` values.
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
#: ``<certainty>`` values.
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")

_NS = "{" + CAP_NAMESPACE + "}"
# CAP's dateTime: 2003-04-02T14:39:01-05:00 (fractions and "Z" tolerated).
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([+-][0-9]{2}:[0-9]{2}|Z)"
)
_WHEN = "a date-time with its UTC offset, e.g. 2003-04-02T14:39:01-05:00"
_DECLARED_ENCODING = re.compile(
    rb"""\s*<\?xml\s[^>]{0,200}?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]{0,40})["']"""
)
#: Encodings an alert's XML declaration may name.
ENCODINGS = ("UTF-8", "UTF-16", "ISO-8859-1", "US-ASCII", "GB18030", "GBK", "GB2312", "Big5")
# Codecs' canonical names of those, and of the ones expat reads itself.
_ENCODINGS = frozenset(codecs.lookup(name).name for name in ENCODINGS)
_EXPAT_ENCODINGS = frozenset(codecs.lookup(n).name for n in ENCODINGS[:4])
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_ADMIN_CODE = re.compile(r"[0-9]{6}|[0-9]{9}|[0-9]{12}")
# identifier and sender: no whitespace, commas, "<" or "&" (CAP 1.2, 3.2.1).
_RESTRICTED = re.compile(r"[\s,<&]")


# ------------------------------------------------------------------ the model


@attrs.frozen
class CapArea:
    """One ``<area>`` of an info block."""

    #: ``<areaDesc>``: the area in words.
    area_desc: str
    #: ``<geocode>`` pairs (valueName, value), in document order.
    geocodes: tuple[tuple[str, str], ...] = ()
    #: ``<polygon>``s, each a closed ring of (latitude, longitude) pairs.
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    #: ``<circle>``s, each (latitude, longitude, radius in km).
    circles: tuple[tuple[float, float, float], ...] = ()

    def codes(self, value_name: str = CPEAS_GEOCODE) -> tuple[str, ...]:
        """The values of the geocodes named ``value_name`` (case and spacing ignored)."""
        want = _fold(value_name)
        return tuple(value for name, value in self.geocodes if _fold(name) == want)


@attrs.frozen
class CapInfo:
    """One ``<info>`` block: what happens, how bad, where."""

    #: ``<category>`` values (at least one).
    categories: tuple[str, ...]
    #: ``<event>``: the kind of event in words.
    event: str
    #: ``<urgency>``.
    urgency: str
    #: ``<severity>``.
    severity: str
    #: ``<certainty>``.
    certainty: str
    #: ``<language>`` (CAP's default is ``en-US``).
    language: str = "en-US"
    #: ``<responseType>`` values.
    response_types: tuple[str, ...] = ()
    #: ``<effective>``, ``<onset>``, ``<expires>``: aware datetimes or None.
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    #: ``<senderName>``, ``<headline>``, ``<description>``, ``<instruction>``.
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    #: ``<parameter>`` pairs (valueName, value).
    parameters: tuple[tuple[str, str], ...] = ()
    #: ``<area>`` blocks.
    areas: tuple[CapArea, ...] = ()


@attrs.frozen
class CapAlert:
    """A parsed CAP 1.2 ``<alert>`` (the fields gridgov maps)."""

    #: ``<identifier>``: unique for the sender.
    identifier: str
    #: ``<sender>``.
    sender: str
    #: ``<sent>``: an aware datetime.
    sent: datetime
    #: ``<status>``: one of :data:`STATUSES`.
    status: str
    #: ``<msgType>``: one of :data:`MSG_TYPES`.
    msg_type: str
    #: ``<scope>``: one of :data:`SCOPES`.
    scope: str
    #: ``<references>``: the earlier alerts this one updates or cancels, as
    #: (sender, identifier, sent) triples.
    references: tuple[tuple[str, str, datetime], ...] = ()
    #: ``<note>``.
    note: str | None = None
    #: ``<info>`` blocks (CAP allows none, e.g. in a Cancel).
    infos: tuple[CapInfo, ...] = ()

    @property
    def key(self) -> tuple[str, str, datetime]:
        """(sender, identifier, sent): how later alerts reference this one."""
        return (self.sender, self.identifier, self.sent)


# ------------------------------------------------------------------- parsing


def parse_cap(data: bytes | str, *, max_bytes: int = MAX_ALERT_BYTES) -> CapAlert:
    """Parse an OASIS CAP 1.2 alert, safely.

    The parser refuses any DTD (so no entity can be declared: no
    billion-laughs, no external entity, no DTD retrieval), any input over
    ``max_bytes``, a root other than ``<alert>`` in the CAP 1.2 namespace,
    and required elements that are missing, repeated or outside the CAP
    enumerations. Elements gridgov does not map (``<resource>``,
    ``<eventCode>``, signatures, ...) are skipped.

    Args:
        data: the XML document, as bytes (any encoding its XML declaration
            names) or text.
        max_bytes: the size limit (UTF-8 bytes for text input).

    Returns:
        The alert, every text value stripped of surrounding whitespace.

    Raises:
        AlertError: the input is not a well-formed, safe CAP 1.2 alert; the
            one-line message names the element and what was expected.
    """
    root = _parse_xml(data, max_bytes)
    return _Reader().alert(root)


def _parse_xml(data: bytes | str, max_bytes: int) -> Element:
    if not isinstance(data, bytes | str):
        raise AlertError(f"not a CAP alert: got {type(data).__name__}; expected bytes or str")
    if len(data) > max_bytes:  # a str is at least as many bytes as characters
        raise AlertError(_too_big(len(data), max_bytes))
    if isinstance(data, str):
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise AlertError(
                f"not a CAP alert: the text cannot be encoded ({exc.reason} at position "
                f"{exc.start}); expected XML text"
            ) from None
        if size > max_bytes:
            raise AlertError(_too_big(size, max_bytes))
    if not data.strip():
        raise AlertError("not a CAP alert: the input is empty; expected a CAP 1.2 <alert> (XML)")
    if isinstance(data, bytes):
        data = _decode_for_expat(data)
    try:
        root: Element = SafeElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DTDForbidden as exc:
        raise AlertError(
            f"refused: the document declares a DTD (<!DOCTYPE {exc.name}>); CAP alerts never "
            "need one, and a DTD is how entity bombs and external entities get in"
        ) from None
    except EntitiesForbidden as exc:
        raise AlertError(
            f"refused: the document declares entity {exc.name!r}; entity expansion is forbidden"
        ) from None
    except ExternalReferenceForbidden as exc:
        raise AlertError(
            f"refused: the document references external {exc.sysid!r}; "
            "external references are forbidden"
        ) from None
    except ParseError as exc:
        line, column = exc.position
        reason = _one_line(exc).rsplit(": line ", 1)[0]
        raise AlertError(
            f"not a CAP alert: malformed XML at line {line}, column {column}: {reason}"
        ) from None
    except (LookupError, ValueError) as exc:  # a last guard: expat's encoding troubles
        raise AlertError(f"not a CAP alert: unreadable XML ({_one_line(exc)})") from None
    return root


def _decode_for_expat(data: bytes) -> bytes | str:
    """Bytes in a Chinese encoding decoded in Python; other declared encodings refused.

    Chinese alerts are often sent in GB18030, GBK or GB2312, which expat
    cannot read (it reads UTF-8, UTF-16, ISO-8859-1 and US-ASCII itself);
    text handed to expat is read as Unicode whatever its declaration says.
    Encodings outside :data:`ENCODINGS` (UTF-7, the escape codecs, EBCDIC)
    are refused rather than decoded: they are how markup is smuggled past
    filters.
    """
    declared = _DECLARED_ENCODING.match(data)
    if declared is None:
        return data
    name = declared.group(1).decode("ascii")
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        codec = ""
    if codec not in _ENCODINGS:
        raise AlertError(
            f"not a CAP alert: encoding {name!r} is not accepted (accepted: {', '.join(ENCODINGS)})"
        )
    if codec in _EXPAT_ENCODINGS:
        return data
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise AlertError(
            f"not a CAP alert: the bytes are not {name} as declared ({_one_line(exc)})"
        ) from None


def _too_big(size: int, limit: int) -> str:
    return f"refused: the input is {size:,} bytes; an alert may be at most {limit:,} (max_bytes)"


class _Reader:
    """Reads the element tree of one alert; knows its identifier for messages."""

    def __init__(self) -> None:
        self.identifier: str | None = None

    # ----------------------------------------------------------- the blocks

    def alert(self, root: Element) -> CapAlert:
        if root.tag != _NS + "alert":
            namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
            local = _local(root.tag)
            where = f"namespace {namespace}" if namespace else "no namespace"
            self.fail(
                None,
                f"root element is <{local}> in {where}; expected <alert> in the CAP 1.2 "
                f"namespace {CAP_NAMESPACE}",
            )
        path = "alert"
        identifier = self.word(root, "identifier", path)
        self.identifier = identifier
        sender = self.word(root, "sender", path)
        sent = self.parse_datetime(self.required(root, "sent", path, _WHEN), f"{path}/sent")
        status = self.enum(root, "status", path, STATUSES)
        msg_type = self.enum(root, "msgType", path, MSG_TYPES)
        scope = self.enum(root, "scope", path, SCOPES)
        references = self.references(root, path)
        note = self.text(root, "note", path)
        infos = tuple(
            self.info(element, f"{path}/info[{i}]")
            for i, element in enumerate(root.findall(_NS + "info"), 1)
        )
        return CapAlert(
            identifier=identifier,
            sender=sender,
            sent=sent,
            status=status,
            msg_type=msg_type,
            scope=scope,
            references=references,
            note=note,
            infos=infos,
        )

    def info(self, element: Element, path: str) -> CapInfo:
        categories = self.enums(element, "category", path, CATEGORIES, required=True)
        return CapInfo(
            language=self.text(element, "language", path) or "en-US",
            categories=categories,
            event=self.required(element, "event", path, "the kind of event, in words"),
            response_types=self.enums(element, "responseType", path, RESPONSE_TYPES),
            urgency=self.enum(element, "urgency", path, URGENCIES),
            severity=self.enum(element, "severity", path, SEVERITIES),
            certainty=self.enum(element, "certainty", path, CERTAINTIES),
            effective=self.moment(element, "effective", path),
            onset=self.moment(element, "onset", path),
            expires=self.moment(element, "expires", path),
            sender_name=self.text(element, "senderName", path),
            headline=self.text(element, "headline", path),
            description=self.text(element, "description", path),
            instruction=self.text(element, "instruction", path),
            parameters=self.pairs(element, "parameter", path),
            areas=tuple(
                self.area(child, f"{path}/area[{i}]")
                for i, child in enumerate(element.findall(_NS + "area"), 1)
            ),
        )

    def area(self, element: Element, path: str) -> CapArea:
        return CapArea(
            area_desc=self.required(element, "areaDesc", path, "the area in words"),
            geocodes=self.pairs(element, "geocode", path),
            polygons=tuple(
                self.polygon(self.content(child, f"{path}/polygon[{i}]"), f"{path}/polygon[{i}]")
                for i, child in enumerate(element.findall(_NS + "polygon"), 1)
            ),
            circles=tuple(
                self.circle(self.content(child, f"{path}/circle[{i}]"), f"{path}/circle[{i}]")
                for i, child in enumerate(element.findall(_NS + "circle"), 1)
            ),
        )

    # ---------------------------------------------------------------- values

    def fail(self, path: str | None, problem: str) -> NoReturn:
        who = f"CAP alert {_show(self.identifier)}" if self.identifier else "CAP alert"
        where = f"{path} " if path else ""
        raise AlertError(f"{who}: {where}{problem}", element=path, alert=self.identifier)

    def content(self, element: Element, path: str) -> str:
        """The text of a simple element (an element inside one is an error)."""
        if len(element):
            self.fail(path, f"holds element <{_local(element[0].tag)}>; expected text only")
        return (element.text or "").strip()

    def text(self, parent: Element, name: str, path: str) -> str | None:
        """The text of an optional element that may appear at most once."""
        found = parent.findall(_NS + name)
        if len(found) > 1:
            self.fail(f"{path}/{name}", f"appears {len(found)} times; expected at most once")
        if not found:
            return None
        return self.content(found[0], f"{path}/{name}")

    def required(self, parent: Element, name: str, path: str, expected: str) -> str:
        value = self.text(parent, name, path)
        if value is None:
            self.fail(f"{path}/{name}", f"is missing; expected {expected}")
        if not value:
            self.fail(f"{path}/{name}", f"is empty; expected {expected}")
        return value

    def word(self, parent: Element, name: str, path: str) -> str:
        expected = "a non-empty value without spaces, commas, '<' or '&'"
        value = self.required(parent, name, path, expected)
        if _RESTRICTED.search(value):
            self.fail(f"{path}/{name}", f"is {_show(value)}; expected {expected}")
        return value

    def enum(self, parent: Element, name: str, path: str, allowed: Sequence[str]) -> str:
        expected = f"one of: {', '.join(allowed)}"
        value = self.required(parent, name, path, expected)
        if value not in allowed:
            self.fail(f"{path}/{name}", f"is {_show(value)}; expected {expected}")
        return value

    def enums(
        self,
        parent: Element,
        name: str,
        path: str,
        allowed: Sequence[str],
        *,
        required: bool = False,
    ) -> tuple[str, ...]:
        expected = f"one of: {', '.join(allowed)}"
        found = parent.findall(_NS + name)
        if required and not found:
            self.fail(f"{path}/{name}", f"is missing; expected at least one, {expected}")
        values: list[str] = []
        for i, element in enumerate(found, 1):
            where = f"{path}/{name}[{i}]" if len(found) > 1 else f"{path}/{name}"
            value = self.content(element, where)
            if value not in allowed:
                self.fail(where, f"is {_show(value)}; expected {expected}")
            values.append(value)
        return tuple(values)

    def moment(self, parent: Element, name: str, path: str) -> datetime | None:
        """An optional date-time element."""
        value = self.text(parent, name, path)
        return self.parse_datetime(value, f"{path}/{name}") if value else None

    def parse_datetime(self, value: str, path: str) -> datetime:
        if not _DATETIME.fullmatch(value):
            self.fail(path, f"is {_show(value)}; expected {_WHEN}")
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:  # the shape is right, a field is out of range
            self.fail(path, f"is {_show(value)}: {exc}; expected {_WHEN}")

    def pairs(self, parent: Element, name: str, path: str) -> tuple[tuple[str, str], ...]:
        """``<parameter>`` or ``<geocode>`` elements as (valueName, value) pairs."""
        out: list[tuple[str, str]] = []
        for i, element in enumerate(parent.findall(_NS + name), 1):
            where = f"{path}/{name}[{i}]"
            value_name = self.required(element, "valueName", where, "the name of the value")
            value = self.text(element, "value", where)
            if value is None:
                self.fail(f"{where}/value", "is missing; expected the value")
            out.append((value_name, value))
        return tuple(out)

    def references(self, parent: Element, path: str) -> tuple[tuple[str, str, datetime], ...]:
        text = self.text(parent, "references", path)
        if not text:
            return ()
        where = f"{path}/references"
        out: list[tuple[str, str, datetime]] = []
        for entry in text.split():
            parts = entry.split(",")
            if len(parts) != 3 or not parts[0] or not parts[1]:
                self.fail(where, f"entry {_show(entry)} is not sender,identifier,sent")
            out.append((parts[0], parts[1], self.parse_datetime(parts[2], where)))
        return tuple(out)

    def point(self, text: str, path: str) -> tuple[float, float]:
        expected = "latitude,longitude in WGS 84 degrees, e.g. 38.47,-120.14"
        lat_text, comma, lon_text = text.partition(",")
        if not comma or not _NUMBER.fullmatch(lat_text) or not _NUMBER.fullmatch(lon_text):
            self.fail(path, f"point {_show(text)} is not {expected}")
        lat, lon = float(lat_text), float(lon_text)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            self.fail(path, f"point {_show(text)} is off the globe; expected {expected}")
        return (lat, lon)

    def polygon(self, text: str, path: str) -> tuple[tuple[float, float], ...]:
        points = tuple(self.point(pair, path) for pair in text.split())
        if len(points) < 4 or points[0] != points[-1]:
            self.fail(
                path,
                f"has {len(points)} points; expected at least 4, the last equal to the first",
            )
        return points

    def circle(self, text: str, path: str) -> tuple[float, float, float]:
        parts = text.split()
        if len(parts) != 2:
            self.fail(path, f"is {_show(text)}; expected 'latitude,longitude radius_km'")
        lat, lon = self.point(parts[0], path)
        if not _NUMBER.fullmatch(parts[1]) or not 0 <= float(parts[1]) < math.inf:
            self.fail(path, f"radius {_show(parts[1])} is not a distance in km (0 or more)")
        return (lat, lon, float(parts[1]))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _show(value: str | None, limit: int = 60) -> str:
    """``value`` quoted on one line, cut to ``limit`` characters."""
    if value is None:
        return "None"
    if len(value) > limit:
        value = value[: limit - 3] + "..."
    return repr(value)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _fold(text: str) -> str:
    """Case and spacing folded, for names compared by people's rules."""
    return " ".join(text.split()).casefold()


# ------------------------------------------------------------------ the rule

#: The measures, mildest first (the zones of the compound machine but ``open``).
_MEASURES = ZONES[1:]


def _tuple_of(values: Iterable[str]) -> tuple[str, ...]:
    return (values,) if isinstance(values, str) else tuple(values)


def _zone_pairs(
    zones: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    items = zones.items() if isinstance(zones, Mapping) else zones
    return tuple((severity, zone) for severity, zone in items)


def _all_in(allowed: Sequence[str], what: str) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: every value of the tuple is one of ``allowed``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        values = value if isinstance(value, tuple) else (value,)
        bad = [repr(v) for v in values if v not in allowed]
        if bad:
            raise AlertError(
                f"AlertRule.{attribute.name}: {', '.join(bad)} is not a CAP {what}; "
                f"expected some of: {', '.join(allowed)}"
            )

    return check


def _zone_table(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    for severity, zone in value:
        if severity not in SEVERITIES:
            raise AlertError(
                f"AlertRule.zones: {severity!r} is not a CAP severity; "
                f"expected some of: {', '.join(SEVERITIES)}"
            )
        if zone not in _MEASURES:
            raise AlertError(
                f"AlertRule.zones: severity {severity} -> {zone!r}; "
                f"expected one of: {', '.join(_MEASURES)}"
            )


@attrs.frozen
class AlertRule:
    """How the ``<info>`` of an alert maps to a measure: a small table.

    =============  ==========================  ================  ==============
    element        full measure                one zone milder   no measure
    =============  ==========================  ================  ==============
    ``category``   Health, CBRNE               -                 all others
    ``severity``   Extreme: sealed,            -                 Minor, Unknown
                   Severe: controlled,
                   Moderate: precaution
    ``certainty``  Observed, Likely            Possible          Unlikely,
                                                                 Unknown
    ``urgency``    Immediate, Expected         Future            Past, Unknown
    =============  ==========================  ================  ==============

    A hedged certainty and a hedged urgency together make the measure two
    zones milder; stepping below ``precaution`` means no measure. Which
    statuses may change live state is not part of the rule but of
    :func:`plan_alert`: only ``Actual``, and ``Exercise`` when asked.

    Raises:
        AlertError: a value is not a CAP enumeration value or a zone, or a
            certainty or urgency is listed both as full and as hedged.
    """

    #: Categories handled as health emergencies; infos of others are ignored.
    categories: tuple[str, ...] = attrs.field(
        default=("Health", "CBRNE"), converter=_tuple_of, validator=_all_in(CATEGORIES, "category")
    )
    #: (severity, zone) pairs: the measure each severity calls for; a
    #: severity not listed calls for none. A mapping is accepted too.
    zones: tuple[tuple[str, str], ...] = attrs.field(
        default=(("Extreme", "sealed"), ("Severe", "controlled"), ("Moderate", "precaution")),
        converter=_zone_pairs,
        validator=_zone_table,
    )
    #: Certainties that get the full measure.
    certainties: tuple[str, ...] = attrs.field(
        default=("Observed", "Likely"),
        converter=_tuple_of,
        validator=_all_in(CERTAINTIES, "certainty"),
    )
    #: Certainties that get a measure one zone milder.
    hedged_certainties: tuple[str, ...] = attrs.field(
        default=("Possible",), converter=_tuple_of, validator=_all_in(CERTAINTIES, "certainty")
    )
    #: Urgencies that get the full measure.
    urgencies: tuple[str, ...] = attrs.field(
        default=("Immediate", "Expected"),
        converter=_tuple_of,
        validator=_all_in(URGENCIES, "urgency"),
    )
    #: Urgencies that get a measure one zone milder.
    hedged_urgencies: tuple[str, ...] = attrs.field(
        default=("Future",), converter=_tuple_of, validator=_all_in(URGENCIES, "urgency")
    )

    def __attrs_post_init__(self) -> None:
        for full, hedged, what in (
            (self.certainties, self.hedged_certainties, "certainties"),
            (self.urgencies, self.hedged_urgencies, "urgencies"),
        ):
            both = sorted(set(full) & set(hedged))
            if both:
                raise AlertError(
                    f"AlertRule: {', '.join(both)} listed in both {what} and hedged_{what}; "
                    "expected each in at most one"
                )

    def handles(self, info: CapInfo) -> bool:
        """True when one of the info's categories is a handled health emergency."""
        return any(c in self.categories for c in info.categories)

    def measure(self, info: CapInfo) -> tuple[str | None, str]:
        """The zone an info calls for, by the table above.

        The category is not looked at here (see :meth:`handles`).

        Returns:
            ``(zone, "")``, or ``(None, reason)`` when it calls for no measure.
        """
        table = dict(self.zones)
        zone = table.get(info.severity)
        if zone is None:
            listed = ", ".join(f"{s} -> {z}" for s, z in self.zones) or "none"
            return None, f"severity {info.severity} calls for no measure (measures: {listed})"
        steps = 0
        for value, full, hedged, what in (
            (info.certainty, self.certainties, self.hedged_certainties, "certainty"),
            (info.urgency, self.urgencies, self.hedged_urgencies, "urgency"),
        ):
            if value in hedged:
                steps += 1
            elif value not in full:
                acted = ", ".join((*full, *hedged)) or "none"
                return None, f"{what} {value} is not acted on (acted on: {acted})"
        rank = _MEASURES.index(zone) - steps
        if rank < 0:
            return None, (
                f"severity {info.severity} ({zone}) with certainty {info.certainty} and "
                f"urgency {info.urgency} is {steps} zone(s) milder: no measure"
            )
        return _MEASURES[rank], ""


# ---------------------------------------------------------------- the areas


class _Names:
    """Units of a city by folded name, built on first use."""

    def __init__(self, city: City) -> None:
        self.city = city
        self._index: dict[str, list[str]] | None = None

    def find(self, name: str) -> list[str]:
        if self._index is None:
            index: dict[str, list[str]] = {}
            chain = self.city.chain
            for node in chain.units():
                unit_name = chain.unit(node).name
                if unit_name:
                    index.setdefault(_fold(unit_name), []).append(node)
            self._index = index
        return self._index.get(_fold(name), [])


def _resolve(city: City, area: CapArea, names: _Names) -> tuple[tuple[str, ...], list[str]]:
    """The units an area names, and notes on what did not resolve."""
    notes: list[str] = []
    found: set[str] = set()
    codes = area.codes()
    for code in codes:
        if not _ADMIN_CODE.fullmatch(code):
            notes.append(f"{CPEAS_GEOCODE} {_show(code)} is not 6, 9 or 12 digits")
            continue
        try:
            found.add(city.chain.by_code(code))
        except UnknownUnitError:
            notes.append(f"{CPEAS_GEOCODE} {code} names no unit")
    if found:
        return tuple(sorted(found)), notes
    matches = names.find(area.area_desc)
    if len(matches) == 1:
        return (matches[0],), notes
    if not codes:
        others = sorted({name for name, _ in area.geocodes})
        has = f" (has: {', '.join(others)})" if others else ""
        notes.append(f"no {CPEAS_GEOCODE} geocode{has}")
    if matches:
        shown = ", ".join(sorted(matches)[:3]) + (", ..." if len(matches) > 3 else "")
        notes.append(
            f"areaDesc names {len(matches)} units ({shown}); give a {CPEAS_GEOCODE} geocode"
        )
    else:
        notes.append("no unit is named so")
    return (), notes


def resolve_area(city: City, area: CapArea) -> tuple[str, ...]:
    """The units of ``city`` that a CAP area names.

    Its ``CPEAS Geographic Code`` geocodes come first: each 12-digit code (or
    6- or 9-digit prefix of a district or street) that names a unit gives that
    unit. When none does, an ``areaDesc`` equal to the name of exactly one
    unit (case and spacing ignored) gives that unit; a name shared by several
    units (``Grid 1``) gives none.

    Args:
        city: the city whose chain the area is resolved in.
        area: a parsed ``<area>``.

    Returns:
        The unit ids, sorted; empty when the area names no unit of the city.
    """
    units, _ = _resolve(city, area, _Names(city))
    return units


def _topmost(city: City, units: Iterable[str]) -> list[str]:
    """``units`` sorted, without those inside another of them."""
    chosen = set(units)
    chain = city.chain
    return sorted(
        u for u in chosen if not any(up in chosen for up in chain.chain_of_command(u)[1:])
    )


# ---------------------------------------------------------------- the plan

#: The actions of a decision: step targets up to a zone, lift them to open, or nothing.
ACTIONS = ("declare", "lift", "ignore")

_STATUS_REASONS = {
    "Exercise": "an exercise never changes live state (pass exercise=True to play it)",
    "Test": "a technical test, never acted on",
    "Draft": "a draft, never acted on",
    "System": "a message between alerting systems, never acted on",
}


@attrs.frozen
class AlertDecision:
    """What gridgov does with one alert; the engine applies it, all or nothing.

    ``zone`` and ``targets`` are the most severe measure; ``measures`` lists
    every measure (zone, targets), most severe first, for an alert whose infos
    call for different zones on different areas.
    """

    #: The alert's ``<identifier>``.
    alert: str
    #: ``declare`` (step the targets up to ``zone``), ``lift`` (down to
    #: ``open``) or ``ignore`` (see ``reasons``).
    action: str = attrs.field(validator=attrs.validators.in_(ACTIONS))
    #: The zone declared, ``open`` for a lift, None when ignored.
    zone: str | None
    #: Unit ids, sorted, without units inside another target.
    targets: tuple[str, ...]
    #: Why each info or area (or the whole alert) was left out.
    reasons: tuple[str, ...]
    #: The alert's ``<msgType>``.
    msg_type: str
    #: The alert's ``<sender>`` (identifiers are unique per sender).
    sender: str = ""
    #: The alert's ``<status>``.
    status: str = "Actual"
    #: Every (zone, targets) measure, most severe first.
    measures: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: The alerts an Update or Cancel refers to: (sender, identifier, sent).
    references: tuple[tuple[str, str, datetime], ...] = ()


def plan_alert(
    city: City,
    alert: CapAlert,
    rule: AlertRule | None = None,
    *,
    exercise: bool = False,
    now: datetime | None = None,
) -> AlertDecision:
    """Decide what an alert asks of the city; a pure function.

    * ``status``: only ``Actual`` changes live state; ``Exercise`` does when
      ``exercise`` is true; ``Test``, ``Draft`` and ``System`` never.
    * ``msgType`` ``Alert`` and ``Update``: every info whose category the rule
      handles and that is not expired at ``now`` gets the rule's measure on
      the units its areas resolve to. An Update is treated as a new Alert: the
      engine only steps zones up, so an Update that lowers the severity
      changes nothing; lower with a Cancel, then a new Alert.
    * ``Cancel``: ``lift`` (to ``open``) on the units of its own handled
      infos' areas, whatever their severity. A Cancel with no info carries no
      area: the decision is ``lift`` with no targets and the references, and
      the engine lifts what it applied for the referenced alerts.
    * ``Ack`` and ``Error`` carry no measure.

    Args:
        city: the city whose units the areas are resolved to.
        alert: the parsed alert.
        rule: the mapping to measures (default: ``AlertRule()``).
        exercise: play ``Exercise`` alerts as if they were ``Actual``.
        now: infos that expired at or before this aware time are ignored.

    Returns:
        The decision, with a reason for every info or area left out.

    Raises:
        AlertError: ``now`` has no time zone.
    """
    if now is not None and now.utcoffset() is None:
        raise AlertError(f"now={now.isoformat()} has no time zone; expected an aware datetime")
    rule = AlertRule() if rule is None else rule

    def decide(
        action: str,
        zone: str | None = None,
        measures: Sequence[tuple[str, tuple[str, ...]]] = (),
        reasons: Iterable[str] = (),
    ) -> AlertDecision:
        return AlertDecision(
            alert=alert.identifier,
            action=action,
            zone=zone,
            targets=measures[0][1] if measures else (),
            reasons=tuple(reasons),
            msg_type=alert.msg_type,
            sender=alert.sender,
            status=alert.status,
            measures=tuple(measures),
            references=alert.references,
        )

    if alert.status != "Actual" and not (exercise and alert.status == "Exercise"):
        return decide("ignore", reasons=[f"status {alert.status}: {_STATUS_REASONS[alert.status]}"])
    if alert.msg_type in ("Ack", "Error"):
        return decide("ignore", reasons=[f"msgType {alert.msg_type} carries no measure"])
    cancel = alert.msg_type == "Cancel"
    if not alert.infos:
        if cancel and alert.references:
            refs = " ".join(f"{s},{i},{t.isoformat()}" for s, i, t in alert.references)
            return decide(
                "lift",
                "open",
                reasons=[f"Cancel carries no area: lift what the referenced alerts set ({refs})"],
            )
        return decide("ignore", reasons=[f"{alert.msg_type} carries no <info>: no measure"])

    names = _Names(city)
    reasons: list[str] = []
    by_zone: dict[str, set[str]] = {}
    for i, info in enumerate(alert.infos, 1):
        label = f"info {i} {_show(info.event, 40)}"
        if not rule.handles(info):
            what = (
                f"category {info.categories[0]} is not a health emergency"
                if len(info.categories) == 1
                else f"categories {', '.join(info.categories)} are not health emergencies"
            )
            reasons.append(f"{label}: {what} (handled: {', '.join(rule.categories)})")
            continue
        if not cancel and now is not None and info.expires is not None and info.expires <= now:
            reasons.append(f"{label}: expired at {info.expires.isoformat()}")
            continue
        zone, why = ("open", "") if cancel else rule.measure(info)
        if zone is None:
            reasons.append(f"{label}: {why}")
            continue
        if not info.areas:
            reasons.append(f"{label}: has no <area>; nothing to resolve")
            continue
        for j, area in enumerate(info.areas, 1):
            units, notes = _resolve(city, area, names)
            where = f"{label} area {j} {_show(area.area_desc, 40)}"
            if units:
                by_zone.setdefault(zone, set()).update(units)
                reasons.extend(f"{where}: {note}" for note in notes)
            else:
                reasons.append(f"{where}: matches no unit of {city.name} ({'; '.join(notes)})")

    if cancel:
        lifted = _topmost(city, by_zone.get("open", ()))
        if not lifted:
            return decide("ignore", reasons=reasons)
        return decide("lift", "open", [("open", tuple(lifted))], reasons)

    measures: list[tuple[str, tuple[str, ...]]] = []
    covered: dict[str, str] = {}  # unit -> the more severe zone it already gets
    chain = city.chain
    for zone in reversed(_MEASURES):
        targets: list[str] = []
        for unit in _topmost(city, by_zone.get(zone, ())):
            above = next((u for u in chain.chain_of_command(unit) if u in covered), None)
            if above is not None:
                reasons.append(f"{zone} on {unit}: already inside {covered[above]} {above}")
            else:
                targets.append(unit)
        covered.update((unit, zone) for unit in targets)
        if targets:
            measures.append((zone, tuple(targets)))
    if not measures:
        return decide("ignore", reasons=reasons)
    return decide("declare", measures[0][0], measures, reasons)
