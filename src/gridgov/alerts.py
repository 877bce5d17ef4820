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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NoReturn, Protocol
from xml.etree.ElementTree import Element, ParseError

import attrs
import defusedxml.ElementTree as SafeElementTree
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from gridgov.city import City
from gridgov.errors import AlertError, GridgovError, UnknownUnitError
from gridgov.model import Level
from gridgov.modes import units_compounds
from gridgov.vocabulary import ZONES

__all__ = [
    "ACTIONS",
    "ALERT_EVENTS",
    "CAP_NAMESPACE",
    "CATEGORIES",
    "CERTAINTIES",
    "CHAIN_STATES",
    "CHAIN_TRANSITIONS",
    "CPEAS_GEOCODE",
    "ENCODINGS",
    "MAX_ALERT_BYTES",
    "MSG_TYPES",
    "OUTCOMES",
    "RESPONSE_TYPES",
    "SCOPES",
    "SEVERITIES",
    "STATUSES",
    "URGENCIES",
    "VALUE_NAMES",
    "AlertBook",
    "AlertBookView",
    "AlertChain",
    "AlertError",
    "AlertPlan",
    "AlertRule",
    "AreaMatcher",
    "CapAlert",
    "CapArea",
    "CapInfo",
    "GeometryMatch",
    "Review",
    "message_key",
    "parse_cap",
    "plan_alert",
    "plan_approval",
    "plan_due",
    "resolve_area",
]

#: The XML namespace of CAP 1.2; the root ``<alert>`` must be in it.
CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
#: The geocode ``valueName`` of Chinese alerts: a 12-digit administrative code
#: (6 digits county-level division, 3 street or township, 3 community or village).
CPEAS_GEOCODE = "CPEAS Geographic Code"
#: Geocode ``valueName``s read as administrative division codes by default:
#: CPEAS's, the national standard's (GB/T 2260), its Chinese name, and the
#: "adcode" of Chinese map services.
VALUE_NAMES = (
    CPEAS_GEOCODE,
    "GB/T 2260",
    "GB/T2260",
    "GB 2260",
    "行政区划代码",
    "行政区域代码",
    "区划代码",
    "ADCODE",
    "Administrative Division Code",
)
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

    #: Geocode valueNames read as administrative codes (case and spacing ignored).
    value_names: tuple[str, ...] = attrs.field(default=VALUE_NAMES, converter=_tuple_of)
    #: One message may put at most this share of the city's compounds under
    #: measures without a person's approval.
    review_share: float = attrs.field(default=0.25, converter=float)
    #: Measures on a unit above this level (``district``: the whole city)
    #: need a person's approval.
    review_level: str = attrs.field(default="district", converter=str)

    def __attrs_post_init__(self) -> None:
        if not self.value_names:
            raise AlertError("AlertRule.value_names is empty; expected at least one valueName")
        if not 0 <= self.review_share <= 1:
            raise AlertError(
                f"AlertRule.review_share is {self.review_share}; expected a share from 0 to 1"
            )
        if self.review_level not in {level.value for level in Level}:
            raise AlertError(
                f"AlertRule.review_level is {self.review_level!r}; expected one of: "
                f"{', '.join(level.value for level in Level)}"
            )
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


class GeometryMatch(Protocol):
    """What a geometry matcher may return instead of plain ids (``gridgov.geo``'s
    ``AreaMatch`` is one): the compounds covered, and why a person should look."""

    #: Why the match needs a person ("" when it does not).
    needs_review: str

    def compound_ids(self) -> tuple[str, ...]:
        """The ids of the compounds covered."""
        ...


#: An optional geometry matcher: given an ``<area>`` with polygons or circles,
#: the ids of the units or compounds of the city it covers (empty when none),
#: or a :class:`GeometryMatch`. The geometry layer provides one once units have
#: shapes, e.g. ``lambda area: matcher.match_cap(area.polygons, area.circles)``
#: with a ``gridgov.geo.AreaMatcher``; without one, shape-only areas go to review.
AreaMatcher = Callable[[CapArea], "Sequence[str] | GeometryMatch"]


# Name indexes of the last few cities (a City is immutable, so its index is too).
_NAME_INDEXES: dict[int, tuple[City, dict[str, list[str]]]] = {}


class _Names:
    """Units of a city by folded name, built on first use and kept per city."""

    def __init__(self, city: City) -> None:
        self.city = city
        self._index: dict[str, list[str]] | None = None

    def find(self, name: str) -> list[str]:
        if self._index is None:
            cached = _NAME_INDEXES.get(id(self.city))
            if cached is not None and cached[0] is self.city:
                self._index = cached[1]
            else:
                index: dict[str, list[str]] = {}
                chain = self.city.chain
                for node in chain.units():
                    unit_name = chain.unit(node).name
                    if unit_name:
                        index.setdefault(_fold(unit_name), []).append(node)
                if len(_NAME_INDEXES) >= 4:
                    _NAME_INDEXES.pop(next(iter(_NAME_INDEXES)))
                _NAME_INDEXES[id(self.city)] = (self.city, index)
                self._index = index
        return self._index.get(_fold(name), [])


def _city_prefix(city: City) -> str:
    """The significant digits of the city's own code (``2308`` for 230800000000)."""
    code = city.chain.unit(city.chain.city).code or ""
    digits = code.rstrip("0")
    if len(digits) % 2:
        digits += "0"
    return digits


@attrs.frozen
class _Match:
    """What one ``<area>`` resolved to."""

    #: Units of the city (sorted), empty when none.
    units: tuple[str, ...] = ()
    #: Notes on codes that did not resolve directly.
    notes: tuple[str, ...] = ()
    #: Every accepted geocode points outside the city: nothing to do here.
    outside: bool = False
    #: A person must look: names no unit, ambiguous, geometry only, unknown valueName.
    review: bool = False
    #: Candidate units for a reviewer (an ambiguous name).
    candidates: tuple[str, ...] = ()


class _Resolver:
    """Resolves areas of one alert to units: code first, name only when the alert has no geocode."""

    def __init__(
        self,
        city: City,
        rule: AlertRule,
        names: _Names,
        *,
        any_geocode: bool,
        matcher: AreaMatcher | None,
    ) -> None:
        self.city = city
        self.names = names
        self.value_names = frozenset(_fold(n) for n in rule.value_names)
        self.shown_names = ", ".join(rule.value_names)
        self.any_geocode = any_geocode
        self.matcher = matcher
        self.prefix = _city_prefix(city)

    def codes(self, area: CapArea) -> tuple[list[str], list[str]]:
        """(accepted codes, other valueNames) of an area."""
        accepted = [
            value.strip() for name, value in area.geocodes if _fold(name) in self.value_names
        ]
        others = sorted({name for name, _ in area.geocodes if _fold(name) not in self.value_names})
        return accepted, others

    def code(self, code: str) -> tuple[str | None, str | None, bool]:
        """(unit, note, outside) for one code."""
        chain = self.city.chain
        if not _ADMIN_CODE.fullmatch(code):
            return None, f"geocode {_show(code)} is not 6, 9 or 12 digits", False
        full = code.ljust(12, "0")
        if not full.startswith(self.prefix):
            return None, f"geocode {code} is outside {self.city.name} ({self.prefix}...)", True
        try:
            return chain.by_code(full), None, False
        except UnknownUnitError:
            pass
        # A sub-code this city does not list: its nearest listed ancestor.
        for cut in (9, 6, len(self.prefix)):
            if cut >= len(full.rstrip("0")):
                continue
            ancestor = full[:cut].ljust(12, "0")
            try:
                unit = chain.by_code(ancestor)
            except UnknownUnitError:
                continue
            return (
                unit,
                f"geocode {code} names no unit; its nearest known ancestor is {unit}",
                False,
            )
        return None, f"geocode {code} names no unit of {self.city.name}", False

    def area(self, area: CapArea) -> _Match:
        codes, others = self.codes(area)
        notes: list[str] = []
        found: set[str] = set()
        outside = 0
        for code in codes:
            unit, note, out = self.code(code)
            if unit is not None:
                found.add(unit)
            else:
                outside += out
            if note:
                notes.append(note)
        if found:
            return _Match(tuple(sorted(found)), tuple(notes))
        if codes and outside == len(codes):
            return _Match((), tuple(notes), outside=True)
        if others and not codes:
            notes.append(
                f"geocode valueName {', '.join(map(repr, others))} is not accepted "
                f"(accepted: {self.shown_names})"
            )
        if area.polygons or area.circles:
            shapes = f"{len(area.polygons)} polygon(s), {len(area.circles)} circle(s)"
            if self.matcher is not None:
                try:
                    result = self.matcher(area)
                except GridgovError as exc:  # a ring the geometry layer cannot use
                    notes.append(f"geometry ({shapes}) not matched: {_one_line(exc)}")
                    return _Match((), tuple(notes), review=True)
                if isinstance(result, Sequence):
                    ids, concern = tuple(result), ""
                else:
                    ids, concern = tuple(result.compound_ids()), result.needs_review
                matched = tuple(sorted({i for i in ids if i in self.city.chain}))
                if matched and not concern:
                    return _Match(matched, (*notes, f"matched by geometry ({shapes})"))
                if matched:
                    notes.append(f"geometry ({shapes}) matched {len(matched)}: {concern}")
                    return _Match((), tuple(notes), review=True, candidates=matched)
                notes.append(f"geometry ({shapes}) covers no unit")
            else:
                notes.append(f"{shapes} and no geometry to match them by")
            return _Match((), tuple(notes), review=True)
        if codes or others or self.any_geocode:
            if not codes and not others:
                notes.append("no geocode, and the alert carries geocodes: areaDesc is not matched")
            return _Match((), tuple(notes), review=True)
        matches = self.names.find(area.area_desc)
        if len(matches) == 1:
            return _Match((matches[0],), ("matched by areaDesc (no geocode in the alert)",))
        if matches:
            shown = ", ".join(sorted(matches)[:3]) + (", ..." if len(matches) > 3 else "")
            notes.append(f"areaDesc names {len(matches)} units ({shown})")
            return _Match((), tuple(notes), review=True, candidates=tuple(sorted(matches)))
        notes.append("no geocode, and areaDesc names no unit")
        return _Match((), tuple(notes), review=True)


def resolve_area(
    city: City,
    area: CapArea,
    rule: AlertRule | None = None,
    *,
    matcher: AreaMatcher | None = None,
) -> tuple[str, ...]:
    """The units of ``city`` that a CAP area names.

    Geocodes under the rule's ``value_names`` come first: a 12-digit code (or
    a 6- or 9-digit prefix) of a unit gives that unit; a code of this city
    that names no unit gives its nearest known ancestor; a code outside the
    city gives nothing, and then the name is never tried. An ``areaDesc``
    equal to the name of exactly one unit is used only for an area without
    any geocode (here the area alone is looked at; :func:`plan_alert` also
    refuses names when any area of the alert carries a geocode). Polygons and
    circles are matched by ``matcher`` when given.

    Args:
        city: the city whose chain the area is resolved in.
        area: a parsed ``<area>``.
        rule: its ``value_names`` (default: ``AlertRule()``).
        matcher: the geometry matcher, if any.

    Returns:
        The unit ids, sorted; empty when the area names no unit of the city.
    """
    rule = AlertRule() if rule is None else rule
    resolver = _Resolver(city, rule, _Names(city), any_geocode=bool(area.geocodes), matcher=matcher)
    return resolver.area(area).units


def _topmost(city: City, units: Iterable[str]) -> list[str]:
    """``units`` sorted, without those inside another of them."""
    chosen = set(units)
    chain = city.chain
    return sorted(
        u for u in chosen if not any(up in chosen for up in chain.chain_of_command(u)[1:])
    )


# ------------------------------------------------------------ the lifecycle

#: The outcomes of one message (``refused`` is the engine's: unreadable input).
OUTCOMES = ("declare", "update", "lift", "duplicate", "stale", "review", "ignore", "refused")
#: Kept for callers of the first version: the three actions of a decision.
ACTIONS = ("declare", "lift", "ignore")
#: The states of a reference chain (see docs/alerts.md for the diagram).
CHAIN_STATES = ("scheduled", "active", "ended")
#: How a chain moves: (from, what happens, to); ``new`` is before its first
#: message. ``*_later`` is a message whose onset/effective is still ahead.
CHAIN_TRANSITIONS = (
    ("new", "alert", "active"),
    ("new", "alert_later", "scheduled"),
    ("new", "cancel", "ended"),
    ("scheduled", "start", "active"),
    ("scheduled", "expire", "ended"),
    ("scheduled", "update", "active"),
    ("scheduled", "update_later", "scheduled"),
    ("scheduled", "approve", "scheduled"),
    ("scheduled", "cancel", "ended"),
    ("scheduled", "superseded", "ended"),
    ("active", "update", "active"),
    ("active", "update_later", "scheduled"),
    ("active", "approve", "active"),
    ("active", "cancel", "ended"),
    ("active", "expire", "ended"),
    ("active", "superseded", "ended"),
    ("ended", "update", "active"),
    ("ended", "update_later", "scheduled"),
    ("ended", "cancel", "ended"),
)

_STATUS_REASONS = {
    "Exercise": "an exercise never changes live state (pass exercise=True to play it)",
    "Test": "a technical test, never acted on",
    "Draft": "a draft, never acted on",
    "System": "a message between alerting systems, never acted on",
}
_RANK = {zone: rank for rank, zone in enumerate(ZONES)}

Measures = tuple[tuple[str, tuple[str, ...]], ...]


def message_key(sender: str, identifier: str, sent: datetime) -> str:
    """``sender,identifier,sent``: how CAP names a message; ``sent`` in UTC, so
    the same instant written with another offset is the same message."""
    return f"{sender},{identifier},{sent.astimezone(UTC).isoformat()}"


def _measures_json(measures: Measures) -> list[list[Any]]:
    return [[zone, list(units)] for zone, units in measures]


def _measures_of(data: Any) -> Measures:
    return tuple((str(zone), tuple(str(u) for u in units)) for zone, units in data or ())


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@attrs.frozen
class AlertChain:
    """One reference chain: an Alert and the Updates and Cancels that refer to it.

    Kept per sender (a chain never mixes senders).
    """

    #: The chain's id: the key of its first message.
    id: str
    #: The sender of every message in it.
    sender: str
    #: The keys of its messages, in the order received.
    messages: tuple[str, ...]
    #: ``sent`` of the newest message applied: anything older is stale.
    latest: datetime
    #: ``scheduled`` (not in force yet), ``active`` or ``ended``.
    state: str = attrs.field(validator=attrs.validators.in_(CHAIN_STATES))
    #: What its newest message asks for: (zone, units), most severe first.
    measures: Measures = ()
    #: What is in force now (empty while scheduled and once ended).
    applied: Measures = ()
    #: When it takes effect (onset/effective), while scheduled.
    start: datetime | None = None
    #: When it expires, while scheduled or active.
    end: datetime | None = None
    #: Why it ended (Cancel, expiry, superseded), once ended.
    ended_by: str | None = None
    #: What Updates and the expiry released to the rules' step-down: a Cancel
    #: (the all-clear) lifts what of it is still in force.
    released: Measures = ()

    def due(self) -> datetime | None:
        """Its next deadline: the start while scheduled, the end while active."""
        if self.state == "scheduled":
            return self.start
        if self.state == "active":
            return self.end
        return None

    def to_json(self) -> dict[str, Any]:
        """The chain as JSON-friendly data (as recorded in events)."""
        return {
            "id": self.id,
            "sender": self.sender,
            "messages": list(self.messages),
            "latest": self.latest.isoformat(),
            "state": self.state,
            "measures": _measures_json(self.measures),
            "applied": _measures_json(self.applied),
            "start": _iso(self.start),
            "end": _iso(self.end),
            "ended_by": self.ended_by,
            "released": _measures_json(self.released),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertChain:
        """The chain :meth:`to_json` gave."""
        latest = _time(data["latest"])
        assert latest is not None
        return cls(
            id=str(data["id"]),
            sender=str(data["sender"]),
            messages=tuple(str(m) for m in data["messages"]),
            latest=latest,
            state=str(data["state"]),
            measures=_measures_of(data.get("measures")),
            applied=_measures_of(data.get("applied")),
            start=_time(data.get("start")),
            end=_time(data.get("end")),
            ended_by=data.get("ended_by"),
            released=_measures_of(data.get("released")),
        )


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


@attrs.frozen
class Review:
    """A part of an alert a person must look at before it changes anything."""

    #: The review's id (``R000001``).
    id: str
    #: The chain it belongs to.
    chain: str
    #: The message it came from.
    message: str
    #: The alert's identifier.
    alert: str
    #: The zone the alert asks for.
    zone: str
    #: The units it would apply to (empty: a reviewer must name them).
    units: tuple[str, ...]
    #: Units a reviewer may choose from (an ambiguous name).
    candidates: tuple[str, ...]
    #: Why it needs a person.
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly data (as recorded in ``alert.needs_review``)."""
        return {
            "review": self.id,
            "chain": self.chain,
            "message": self.message,
            "alert": self.alert,
            "zone": self.zone,
            "units": list(self.units),
            "candidates": list(self.candidates),
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Review:
        """The review :meth:`to_json` gave."""
        return cls(
            id=str(data["review"]),
            chain=str(data["chain"]),
            message=str(data["message"]),
            alert=str(data["alert"]),
            zone=str(data["zone"]),
            units=tuple(data.get("units", ())),
            candidates=tuple(data.get("candidates", ())),
            reasons=tuple(data.get("reasons", ())),
        )


#: The event types of the alert lifecycle (the engine's reducer hands them to
#: :meth:`AlertBook.apply`).
ALERT_EVENTS = frozenset(
    {"alert.received", "alert.refused", "alert.needs_review", "alert.reviewed", "alert.due"}
)


class AlertBook:
    """What the engine remembers of alerts: messages seen, chains, open reviews.

    Only the engine changes it, and only by applying recorded events (the
    reducer's step for alerts), so replaying the journal rebuilds it exactly.
    Planners read it; an engine shows it as a read-only :class:`AlertBookView`.
    """

    def __init__(self) -> None:
        #: Keys of every readable message received.
        self.seen: set[str] = set()
        #: Chains by id.
        self.chains: dict[str, AlertChain] = {}
        #: Chain id by message key (also keys only referenced so far).
        self.index: dict[str, str] = {}
        #: Open reviews by id.
        self.reviews: dict[str, Review] = {}
        #: Reviews ever opened (numbers the next one).
        self.review_count = 0
        # unit -> chains with measures in force on it.
        self._by_unit: dict[str, set[str]] = {}

    def chain_of(self, key: str) -> AlertChain | None:
        """The chain a message key belongs to, if any."""
        chain = self.index.get(key)
        return None if chain is None else self.chains.get(chain)

    def requiring(self, unit: str) -> Iterator[AlertChain]:
        """Chains with a measure in force on ``unit`` itself."""
        for chain in self.chains_on(unit):
            yield self.chains[chain]

    def chains_on(self, unit: str) -> set[str]:
        """Ids of chains with a measure in force on ``unit`` itself."""
        return self._by_unit.get(unit, set())

    def live(self) -> list[AlertChain]:
        """Scheduled and active chains, by id."""
        return [c for _, c in sorted(self.chains.items()) if c.state != "ended"]

    def deadlines(self) -> list[tuple[datetime, str]]:
        """(due, chain id) of every chain with a deadline."""
        out = []
        for chain in self.chains.values():
            due = chain.due()
            if due is not None:
                out.append((due, chain.id))
        return out

    def _apply(self, type: str, data: Mapping[str, Any]) -> None:
        """Take one recorded alert event (the reducer's step for alerts)."""
        message = data.get("message")
        if type in ("alert.received", "alert.refused") and isinstance(message, str):
            self.seen.add(message)
        for raw in data.get("chains", ()):
            self._put(AlertChain.from_json(raw))
        for key, chain in (data.get("index") or {}).items():
            self.index[str(key)] = str(chain)
        if type == "alert.needs_review":
            review = Review.from_json(data)
            self.reviews[review.id] = review
            self.review_count = max(self.review_count, int(review.id[1:]))
        elif type == "alert.reviewed":
            self.reviews.pop(str(data["review"]), None)

    def _apply_event(self, event: Any) -> None:
        """The reducer's step for an event object (anything with ``type`` and ``data``)."""
        self._apply(event.type, event.data)

    def _dump(self) -> dict[str, Any]:
        """JSON-ready data of the whole book (for data-only snapshots)."""
        return self.state()

    def _load(self, data: Mapping[str, Any]) -> None:
        """Take what :meth:`_dump` wrote; only on a fresh book."""
        loaded = AlertBook.restore(data)
        self.seen, self.chains, self.index = loaded.seen, loaded.chains, loaded.index
        self.reviews, self.review_count = loaded.reviews, loaded.review_count
        self._by_unit = loaded._by_unit

    def _put(self, chain: AlertChain) -> None:
        old = self.chains.get(chain.id)
        if old is not None:
            for _, units in old.applied:
                for unit in units:
                    self._by_unit.get(unit, set()).discard(chain.id)
        self.chains[chain.id] = chain
        for _, units in chain.applied:
            for unit in units:
                self._by_unit.setdefault(unit, set()).add(chain.id)

    def snapshot(self) -> dict[str, Any]:
        """The whole book, comparable with ``==`` (for replay checks)."""
        return {
            "seen": sorted(self.seen),
            "chains": {k: v.to_json() for k, v in sorted(self.chains.items())},
            "index": dict(sorted(self.index.items())),
            "reviews": {k: v.to_json() for k, v in sorted(self.reviews.items())},
            "review_count": self.review_count,
        }

    def state(self) -> dict[str, Any]:
        """Data to restore the book from (durable snapshots)."""
        return self.snapshot()

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> AlertBook:
        """The book :meth:`state` gave."""
        book = cls()
        book.seen = set(state["seen"])
        for raw in state["chains"].values():
            book._put(AlertChain.from_json(raw))
        book.index = dict(state["index"])
        book.reviews = {k: Review.from_json(v) for k, v in state["reviews"].items()}
        book.review_count = int(state["review_count"])
        return book


class AlertBookView:
    """The read-only face of an engine's :class:`AlertBook` (:attr:`gridgov.Engine.alert_book`).

    Queries only; what it returns cannot change the book (read-only
    mappings, frozensets, fresh lists). Only the engine's commands change the
    book, through recorded events.

    Args:
        book: the book viewed.
    """

    __slots__ = ("_book",)

    def __init__(self, book: AlertBook) -> None:
        self._book = book

    def __repr__(self) -> str:
        book = self._book
        return f"<AlertBookView: {len(book.chains)} chains, {len(book.reviews)} open reviews>"

    @property
    def seen(self) -> frozenset[str]:
        """Keys of every readable message received."""
        return frozenset(self._book.seen)

    @property
    def chains(self) -> Mapping[str, AlertChain]:
        """Chains by id."""
        return MappingProxyType(self._book.chains)

    @property
    def index(self) -> Mapping[str, str]:
        """Chain id by message key (also keys only referenced so far)."""
        return MappingProxyType(self._book.index)

    @property
    def reviews(self) -> Mapping[str, Review]:
        """Open reviews by id."""
        return MappingProxyType(self._book.reviews)

    @property
    def review_count(self) -> int:
        """Reviews ever opened."""
        return self._book.review_count

    def chain_of(self, key: str) -> AlertChain | None:
        """The chain a message key belongs to, if any."""
        return self._book.chain_of(key)

    def requiring(self, unit: str) -> Iterator[AlertChain]:
        """Chains with a measure in force on ``unit`` itself."""
        return self._book.requiring(unit)

    def chains_on(self, unit: str) -> frozenset[str]:
        """Ids of chains with a measure in force on ``unit`` itself."""
        return frozenset(self._book.chains_on(unit))

    def live(self) -> list[AlertChain]:
        """Scheduled and active chains, by id."""
        return self._book.live()

    def deadlines(self) -> list[tuple[datetime, str]]:
        """(due, chain id) of every chain with a deadline."""
        return self._book.deadlines()

    def snapshot(self) -> dict[str, Any]:
        """The whole book, comparable with ``==`` (for replay checks)."""
        return self._book.snapshot()

    def state(self) -> dict[str, Any]:
        """JSON-ready data of the whole book (what :meth:`AlertBook.restore` takes)."""
        return self._book.state()


class ZoneView(Protocol):
    """The read-only view of zones the planner needs."""

    def __call__(self, compound: str) -> str: ...


@attrs.frozen
class AlertPlan:
    """What one message (or one deadline) asks of the engine; the engine applies it all or nothing.

    ``declares`` only ever step zones up (held while the chain is live);
    ``lowers`` and ``releases`` are computed compound by compound so that
    nothing another live alert requires is lowered.
    """

    #: The message's identifier (the chain's id for a deadline).
    alert: str
    #: One of :data:`OUTCOMES` (``declare``, ``update``, ``lift``, ...).
    outcome: str = attrs.field(validator=attrs.validators.in_(OUTCOMES))
    #: The most severe zone declared, ``open`` for a lift, None otherwise.
    zone: str | None
    #: The units acted on (declared, or lifted/released), sorted.
    units: tuple[str, ...]
    #: Why each part was left out, scheduled, sent to review, kept.
    reasons: tuple[str, ...]
    #: The message's key (``sender,identifier,sent``), "" for a deadline.
    message: str = ""
    #: The message's sender, ``<msgType>`` and ``<status>``.
    sender: str = ""
    msg_type: str = ""
    status: str = "Actual"
    #: The references: (sender, identifier, sent).
    references: tuple[tuple[str, str, datetime], ...] = ()
    #: (zone, units) to step up to now, held (most severe first).
    declares: Measures = ()
    #: (compound, zone, hold): compounds lowered now.
    lowers: tuple[tuple[str, str, bool], ...] = ()
    #: Compounds released to the rules' normal step-down from now.
    releases: tuple[str, ...] = ()
    #: Chains after this plan (new or changed).
    chains: tuple[AlertChain, ...] = ()
    #: Message keys newly mapped to chains.
    index: tuple[tuple[str, str], ...] = ()
    #: Reviews opened by this plan.
    reviews: tuple[Review, ...] = ()
    #: Reviews closed because a newer message superseded them.
    superseded: tuple[str, ...] = ()

    # The first version's names, kept for callers.
    @property
    def action(self) -> str:
        """``declare``/``lift``/``ignore`` (the first version's vocabulary)."""
        if self.outcome in ("declare", "update"):
            return "declare" if self.declares else ("lift" if self.lowers else "ignore")
        return "lift" if self.outcome == "lift" else "ignore"

    @property
    def targets(self) -> tuple[str, ...]:
        """The units of the most severe measure declared (or lifted)."""
        return self.declares[0][1] if self.declares else self.units

    @property
    def measures(self) -> Measures:
        """Every (zone, units) declared, most severe first."""
        return self.declares

    def event_data(self) -> dict[str, Any]:
        """The ``alert.received`` data (what the book needs to replay it)."""
        return {
            "message": self.message,
            "outcome": self.outcome,
            "action": self.action,
            "zone": self.zone,
            "units": list(self.units),
            "measures": _measures_json(self.declares),
            "targets": list(self.units),
            "reasons": list(self.reasons),
            "chains": [c.to_json() for c in self.chains],
            "index": dict(self.index),
            "superseded": list(self.superseded),
        }


class _Wanted:
    """What one message asks for, once its infos and areas are resolved."""

    def __init__(self) -> None:
        self.by_zone: dict[str, set[str]] = {}
        self.reasons: list[str] = []
        self.review: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
        self.start: datetime | None = None
        self.end: datetime | None = None
        self.expired: datetime | None = None
        self.handled = 0
        # Infos of a handled category, not expired (whatever measure they call for).
        self.health = 0


def _measures(city: City, by_zone: Mapping[str, Iterable[str]], reasons: list[str]) -> Measures:
    """(zone, topmost units) most severe first, a unit inside a more severe one dropped."""
    measures: list[tuple[str, tuple[str, ...]]] = []
    covered: dict[str, str] = {}
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
    return tuple(measures)


def _wanted(
    city: City,
    alert: CapAlert,
    rule: AlertRule,
    now: datetime,
    matcher: AreaMatcher | None,
) -> _Wanted:
    """Resolve every handled info of an Alert or Update."""
    out = _Wanted()
    names = _Names(city)
    any_geocode = any(a.geocodes for info in alert.infos for a in info.areas)
    resolver = _Resolver(city, rule, names, any_geocode=any_geocode, matcher=matcher)
    languages_resolved: set[str] = set()
    pending: list[tuple[str, str, str, CapArea, _Match]] = []
    starts: list[datetime | None] = []
    ends: list[datetime | None] = []
    for i, info in enumerate(alert.infos, 1):
        label = f"info {i} {_show(info.event, 40)}"
        if not rule.handles(info):
            what = (
                f"category {info.categories[0]} is not a health emergency"
                if len(info.categories) == 1
                else f"categories {', '.join(info.categories)} are not health emergencies"
            )
            out.reasons.append(f"{label}: {what} (handled: {', '.join(rule.categories)})")
            continue
        if info.expires is not None and info.expires <= now:
            out.reasons.append(f"{label}: expired at {info.expires.isoformat()}")
            out.expired = info.expires
            continue
        out.health += 1
        zone, why = rule.measure(info)
        if zone is None:
            out.reasons.append(f"{label}: {why}")
            continue
        if not info.areas:
            out.reasons.append(f"{label}: has no <area>; nothing to resolve")
            continue
        out.handled += 1
        begins = [t for t in (info.effective, info.onset) if t is not None]
        starts.append(max(begins) if begins else None)
        ends.append(info.expires)
        for j, area in enumerate(info.areas, 1):
            match = resolver.area(area)
            where = f"{label} area {j} {_show(area.area_desc, 40)}"
            if match.units:
                out.by_zone.setdefault(zone, set()).update(match.units)
                out.reasons.extend(f"{where}: {note}" for note in match.notes)
                languages_resolved.add(info.language)
            elif match.outside:
                out.reasons.append(f"{where}: not in {city.name} ({'; '.join(match.notes)})")
            else:
                pending.append((where, zone, info.language, area, match))
    _review_pending(out, alert, pending, languages_resolved)
    if starts:
        # The earliest info start, but only when every info has one.
        out.start = None if any(t is None for t in starts) else min(t for t in starts if t)
        out.end = None if any(t is None for t in ends) else max(t for t in ends if t)
    return out


def _review_pending(
    out: _Wanted,
    alert: CapAlert,
    pending: list[tuple[str, str, str, CapArea, _Match]],
    languages_resolved: set[str],
) -> None:
    """Areas no unit matched: dropped as translations, or one review per zone."""
    coded = {
        info.language
        for info in alert.infos
        if any(a.geocodes or a.polygons or a.circles for a in info.areas)
    }
    unresolved: dict[str, tuple[list[str], list[str]]] = {}
    for where, zone, language, area, match in pending:
        notes = "; ".join(match.notes)
        # The plain-words copy of an area, in an info of another language
        # that carries no code at all, needs nobody once the coded info resolved.
        translation = (
            language not in coded
            and not (area.geocodes or area.polygons or area.circles)
            and bool(languages_resolved - {language})
        )
        if translation:
            out.reasons.append(f"{where}: {notes} (the alert's other language resolved)")
        else:
            # One review per zone: a person looks at every unresolved area at once.
            cands, whys = unresolved.setdefault(zone, ([], []))
            cands.extend(c for c in match.candidates if c not in cands)
            whys.append(f"{where}: {notes}")
    for zone, (cands, whys) in unresolved.items():
        out.review.append((zone, (), tuple(cands), tuple(whys)))


def _by_unit(measures: Measures) -> dict[str, str]:
    out: dict[str, str] = {}
    for zone, units in measures:
        for unit in units:
            if unit not in out or _RANK[zone] > _RANK[out[unit]]:
                out[unit] = zone
    return out


def _required(city: City, by_unit: Mapping[str, str], compound: str) -> str | None:
    """The most severe zone ``by_unit`` asks of ``compound`` (through its chain of command)."""
    best: str | None = None
    for unit in city.chain_of_command(compound):
        zone = by_unit.get(unit)
        if zone is not None and (best is None or _RANK[zone] > _RANK[best]):
            best = zone
    return best


def _merge(city: City, *parts: Measures) -> Measures:
    by_zone: dict[str, set[str]] = {}
    for measures in parts:
        for zone, units in measures:
            by_zone.setdefault(zone, set()).update(units)
    return _measures(city, by_zone, [])


class _Planner:
    """Computes the compound-level consequences of chains changing what they apply."""

    def __init__(self, city: City, book: AlertBook, zones: Callable[[str], str]) -> None:
        self.city = city
        self.book = book
        self.zones = zones

    def floor(self, compound: str, excluded: set[str]) -> str:
        """The most severe zone live chains other than ``excluded`` hold ``compound`` at."""
        best = "open"
        for unit in self.city.chain_of_command(compound):
            for chain_id in self.book.chains_on(unit):
                if chain_id in excluded:
                    continue
                zone = _by_unit(self.book.chains[chain_id].applied).get(unit)
                if zone is not None and _RANK[zone] > _RANK[best]:
                    best = zone
        return best

    def step_down(
        self,
        old: Measures,
        new: Measures,
        excluded: set[str],
        *,
        lift: bool,
        remnants: Measures = (),
    ) -> tuple[list[tuple[str, str, bool]], list[str], list[str]]:
        """(lowers, releases, units) taking what ``old`` applied down to what ``new`` asks.

        A compound is lowered only while it is at the zone ``old`` put it in
        (a more severe zone came from something else: a case, a manager),
        and never below what another live alert still requires. With
        ``lift`` the compounds left with no measure open now (a Cancel);
        otherwise they go back to the rules' normal step-down.
        """
        old_units, new_units = _by_unit(old), _by_unit(new)
        # Released earlier and stepping down since: at or below what was set.
        rest = _by_unit(remnants)
        lowers: list[tuple[str, str, bool]] = []
        releases: list[str] = []
        touched: set[str] = set()
        for compound in units_compounds(self.city, [*old_units, *rest]):
            was = _required(self.city, old_units, compound)
            current = self.zones(compound)
            if was is None or current != was:
                was = _required(self.city, rest, compound)
                if was is None or _RANK[current] > _RANK[was]:
                    continue
                was = current
            wanted = _required(self.city, new_units, compound) or "open"
            if _RANK[wanted] >= _RANK[was]:
                continue
            floor = self.floor(compound, excluded)
            target = wanted if _RANK[wanted] >= _RANK[floor] else floor
            if _RANK[target] >= _RANK[current]:
                continue
            touched.update(
                u for u in self.city.chain_of_command(compound) if u in old_units or u in rest
            )
            if target == "open":
                if lift:
                    lowers.append((compound, "open", False))
                else:
                    releases.append(compound)
            else:
                lowers.append((compound, target, True))
        return lowers, releases, sorted(touched)


def _new_part(city: City, applied: Measures, wanted: Measures) -> Measures:
    """The measures of ``wanted`` not already in force by ``applied``."""
    held = _by_unit(applied)
    out: list[tuple[str, tuple[str, ...]]] = []
    for zone, units in wanted:
        fresh = tuple(
            u
            for u in units
            if not any(
                _RANK[held[a]] >= _RANK[zone] for a in city.chain.chain_of_command(u) if a in held
            )
        )
        if fresh:
            out.append((zone, fresh))
    return tuple(out)


def _too_high(city: City, rule: AlertRule, measures: Measures) -> Measures:
    """The measures on units above ``rule.review_level``."""
    chain = city.chain
    limit = Level(rule.review_level).rank
    out = []
    for zone, units in measures:
        high = tuple(u for u in units if chain.level(u).rank < limit)
        if high:
            out.append((zone, high))
    return tuple(out)


def _high_reason(city: City, rule: AlertRule, units: Iterable[str]) -> str:
    chain = city.chain
    shown = ", ".join(f"{u} ({chain.level(u)})" for u in sorted(units)[:3])
    return f"measures on {shown}: above review_level {rule.review_level} need a person's approval"


def _too_wide(city: City, rule: AlertRule, measures: Measures) -> str:
    """Why a set of measures is too large a share of the city ("" when it is not)."""
    total = len(city.compounds)
    if not measures or not total:
        return ""
    covered = len(units_compounds(city, [u for _, units in measures for u in units]))
    if covered / total <= rule.review_share:
        return ""
    return (
        f"measures on {covered} of {total} compounds ({covered / total:.0%}) exceed "
        f"review_share {rule.review_share:.0%} of the city"
    )


def plan_alert(
    city: City,
    alert: CapAlert,
    rule: AlertRule | None = None,
    *,
    now: datetime,
    book: AlertBook | None = None,
    zones: Callable[[str], str] | None = None,
    exercise: bool = False,
    matcher: AreaMatcher | None = None,
) -> AlertPlan:
    """Decide what one CAP message asks of the city, by the CAP lifecycle; a pure function.

    * Only ``Actual`` changes live state (``Exercise`` too with ``exercise``).
    * A message already received (same sender, identifier and sent) is a
      ``duplicate``; one older than the newest message applied to its
      reference chain is ``stale``. Both change nothing.
    * ``Alert`` starts a chain; ``Update`` supersedes the chain it refers to
      (its areas and severity replace the old ones: areas no longer named go
      back to the rules' normal step-down, a lower severity lowers the zone);
      ``Cancel`` ends the chains it refers to and lifts what they applied.
      Nothing is lowered below what another live chain requires, nor where a
      more severe zone came from something else.
    * ``onset``/``effective`` after ``now`` schedule the measure (the
      chain's start deadline); ``expires`` schedules its end; a message
      already expired does nothing.
    * Areas resolve by geocode first (see :func:`resolve_area`); what names
      no unit, is ambiguous, has only a shape without a matcher, or would put
      more than ``rule.review_share`` of the city (or a unit above
      ``rule.review_level``) under measures goes to review instead.

    Args:
        city: the city.
        alert: the parsed message.
        rule: the mapping to measures and the review thresholds.
        now: the time it is received (aware; required: nothing is applied
            without knowing the time).
        book: what was received before (default: nothing).
        zones: the compounds' current zones (default: all open).
        exercise: play ``Exercise`` alerts as if they were ``Actual``.
        matcher: the geometry matcher for polygons and circles, if any.

    Returns:
        The plan, with a reason for everything left out.

    Raises:
        AlertError: ``now`` has no time zone.
    """
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise AlertError(f"now={now!r} is not an aware datetime; expected one with its UTC offset")
    planning = _MessagePlanning(
        city,
        alert,
        AlertRule() if rule is None else rule,
        now,
        AlertBook() if book is None else book,
        zones if zones is not None else (lambda _compound: "open"),
        matcher,
    )
    return planning.run(exercise)


class _MessagePlanning:
    """The steps of :func:`plan_alert` for one message (a pure computation)."""

    def __init__(
        self,
        city: City,
        alert: CapAlert,
        rule: AlertRule,
        now: datetime,
        book: AlertBook,
        zones: Callable[[str], str],
        matcher: AreaMatcher | None,
    ) -> None:
        self.city, self.alert, self.rule, self.now = city, alert, rule, now
        self.book, self.zones, self.matcher = book, zones, matcher
        self.key = message_key(alert.sender, alert.identifier, alert.sent)
        self.reasons: list[str] = []
        #: The chains this message belongs to: those of its references (same
        #: sender only) and its own.
        self.chains: dict[str, AlertChain] = {}
        #: References to messages never received.
        self.unknown: list[str] = []

    def plan(self, outcome: str, reasons: Iterable[str], **fields: Any) -> AlertPlan:
        alert = self.alert
        return AlertPlan(
            alert=alert.identifier,
            outcome=outcome,
            zone=fields.pop("zone", None),
            units=tuple(fields.pop("units", ())),
            reasons=tuple(reasons),
            message=self.key,
            sender=alert.sender,
            msg_type=alert.msg_type,
            status=alert.status,
            references=alert.references,
            **fields,
        )

    def run(self, exercise: bool) -> AlertPlan:
        alert, key, book = self.alert, self.key, self.book
        if key in book.seen:
            return self.plan("duplicate", [f"message {key} was received before: nothing changes"])
        if alert.status != "Actual" and not (exercise and alert.status == "Exercise"):
            return self.plan("ignore", [f"status {alert.status}: {_STATUS_REASONS[alert.status]}"])
        if alert.msg_type in ("Ack", "Error"):
            return self.plan("ignore", [f"msgType {alert.msg_type} carries no measure"])
        self._find_chains()
        chains = self.chains
        newer = sorted(c.latest for c in chains.values() if c.latest > alert.sent)
        if newer:
            return self.plan(
                "stale",
                [
                    f"sent {alert.sent.isoformat()} is older than {newer[-1].isoformat()}, the "
                    "newest message applied to its chain: refused as stale",
                    *self.reasons,
                ],
                index=tuple((key, c) for c in sorted(chains)[:1]),
            )
        if alert.msg_type == "Cancel":
            return self.cancel()
        return self.alert_or_update()

    def _find_chains(self) -> None:
        alert, book = self.alert, self.book
        for sender, identifier, sent in alert.references:
            ref = message_key(sender, identifier, sent)
            if sender != alert.sender:
                self.reasons.append(
                    f"reference {ref} is another sender's: a sender updates or cancels only its own"
                )
                continue
            found = book.chain_of(ref)
            if found is None:
                self.unknown.append(ref)
            else:
                self.chains[found.id] = found
        own = book.chain_of(self.key)
        if own is not None:
            self.chains[own.id] = own

    def cancel(self) -> AlertPlan:
        """A Cancel: end the chains it refers to and lift what they applied."""
        alert, key, chains, unknown, reasons = (
            self.alert,
            self.key,
            self.chains,
            self.unknown,
            self.reasons,
        )
        if not alert.references:
            return self.plan("ignore", ["Cancel names no reference: nothing is known to cancel"])
        planner = _Planner(self.city, self.book, self.zones)
        ended = set(chains)
        lowers: list[tuple[str, str, bool]] = []
        units: set[str] = set()
        out: list[AlertChain] = []
        for chain in sorted(chains.values(), key=lambda c: c.id):
            # After an expiry the compounds step down by the rules; a Cancel
            # (the all-clear) lifts those still at the chain's zones at once.
            low, _, hit = planner.step_down(
                chain.applied, (), ended, lift=True, remnants=chain.released
            )
            lowers += low
            units.update(hit)
            out.append(
                attrs.evolve(
                    chain,
                    messages=(*chain.messages, key),
                    latest=alert.sent,
                    state="ended",
                    applied=(),
                    start=None,
                    end=None,
                    ended_by=f"Cancel {alert.identifier}",
                    released=(),
                )
            )
        if not out:
            return self._cancel_unknown()
        superseded = tuple(sorted(r.id for r in self.book.reviews.values() if r.chain in ended))
        kept = sum(1 for c in chains.values() for _ in c.applied) and not lowers
        if kept:
            reasons.append("nothing lowered: what the chain applied is still required or changed")
        return self.plan(
            "lift",
            reasons,
            zone="open",
            units=sorted(units),
            lowers=tuple(lowers),
            chains=tuple(out),
            index=((key, out[0].id), *((k, out[0].id) for k in unknown)),
            superseded=superseded,
        )

    def _cancel_unknown(self) -> AlertPlan:
        """A Cancel of messages not received (yet): their chain is closed, so that a
        late copy of them is refused as stale."""
        alert, key, unknown = self.alert, self.key, self.unknown
        closed = AlertChain(
            id=key,
            sender=alert.sender,
            messages=(*unknown, key),
            latest=alert.sent,
            state="ended",
            ended_by=f"Cancel {alert.identifier}",
        )
        return self.plan(
            "ignore",
            [
                *self.reasons,
                f"Cancel refers to {', '.join(unknown) or 'nothing'} not received: nothing "
                "to lift (a late copy of them will be refused as stale)",
            ],
            chains=(closed,),
            index=tuple((k, key) for k in (*unknown, key)),
        )

    def alert_or_update(self) -> AlertPlan:
        """An Alert or an Update: start a chain, or supersede the one it refers to."""
        alert, chains, unknown, reasons = self.alert, self.chains, self.unknown, self.reasons
        if not alert.infos:
            return self.plan(
                "ignore", [*reasons, f"{alert.msg_type} carries no <info>: no measure"]
            )
        wanted = _wanted(self.city, alert, self.rule, self.now, self.matcher)
        reasons += wanted.reasons
        base = min(chains.values(), key=lambda c: c.id) if chains else None
        if base is None and unknown and (wanted.handled or wanted.review):
            reasons.append(
                f"refers to {', '.join(unknown)} not received: taken as the start of a chain"
            )
        if not wanted.handled and not wanted.review:
            if wanted.expired is not None and not wanted.by_zone:
                reasons.append("already expired when received: does nothing")
            if base is None:
                return self.plan("ignore", reasons)
            if not wanted.health:
                # Nothing this rule reads (another category, or expired): the
                # chain stays as it is; only a health info can supersede it.
                reasons.append(f"the chain {base.id} stays as it is")
                return self.plan("ignore", reasons, index=((self.key, base.id),))
        chain_id = base.id if base is not None else self.key
        old_applied = _merge(self.city, *(c.applied for c in chains.values()))
        measures, reviews = self._screen(wanted, chain_id, old_applied)
        return self._supersede(wanted, base, chain_id, old_applied, measures, reviews)

    def _screen(
        self, wanted: _Wanted, chain_id: str, old_applied: Measures
    ) -> tuple[Measures, list[Review]]:
        """The measures to apply, and the parts that need a person: unresolved areas,
        and new measures too high or too wide."""
        city, rule, alert = self.city, self.rule, self.alert
        measures = _measures(city, wanted.by_zone, self.reasons)
        reviews: list[Review] = []
        count = self.book.review_count

        def review(
            zone: str, units: tuple[str, ...], candidates: tuple[str, ...], why: Sequence[str]
        ) -> None:
            nonlocal count
            count += 1
            reviews.append(
                Review(
                    f"R{count:06d}",
                    chain_id,
                    self.key,
                    alert.identifier,
                    zone,
                    units,
                    candidates,
                    tuple(why),
                )
            )

        for r_zone, r_units, candidates, why in wanted.review:
            review(r_zone, r_units, candidates, why)
        fresh = _new_part(city, old_applied, measures)
        high = _too_high(city, rule, fresh)
        trimmed = {z: set(us) for z, us in wanted.by_zone.items()}
        if high:
            # Units too high go to a person; what they would have covered is
            # planned without them, so a community named beside them still applies.
            high_units = {u for _, us in high for u in us}
            high_why = _high_reason(city, rule, high_units)
            for h_zone, h_units in high:
                review(h_zone, h_units, (), [high_why])
            trimmed = {z: us - high_units for z, us in trimmed.items()}
            measures = _measures(city, trimmed, [])
            fresh = _new_part(city, old_applied, measures)
        wide = _too_wide(city, rule, fresh)
        if wide:
            # The largest new units go to a person, one by one, until what is
            # left is within the share.
            moved: dict[str, list[str]] = {}
            while _too_wide(city, rule, fresh):
                zone_of = {u: z for z, us in fresh for u in us}
                biggest = max(sorted(zone_of), key=lambda u: len(units_compounds(city, [u])))
                moved.setdefault(zone_of[biggest], []).append(biggest)
                trimmed = {z: us - {biggest} for z, us in trimmed.items()}
                measures = _measures(city, trimmed, [])
                fresh = _new_part(city, old_applied, measures)
            for w_zone in _MEASURES[::-1]:
                if w_zone in moved:
                    review(w_zone, tuple(sorted(moved[w_zone])), (), [wide])
        return measures, reviews

    def _supersede(
        self,
        wanted: _Wanted,
        base: AlertChain | None,
        chain_id: str,
        old_applied: Measures,
        measures: Measures,
        reviews: list[Review],
    ) -> AlertPlan:
        """The new chain in force (or scheduled), the chains it ends, and the plan."""
        city, key, chains, reasons, now = self.city, self.key, self.chains, self.reasons, self.now
        start = wanted.start if wanted.start is not None and wanted.start > now else None
        end = wanted.end
        ended = set(chains)
        declares: Measures
        if start is not None:
            # Scheduled: what is in force stays until the start deadline.
            state, applied, declares = "scheduled", old_applied, ()
            lowers: list[tuple[str, str, bool]] = []
            releases: list[str] = []
            touched: list[str] = []
            reasons.append(f"takes effect at {start.isoformat()} (onset/effective): scheduled")
        else:
            state, applied, declares = "active", measures, measures
            planner = _Planner(city, self.book, self.zones)
            lowers, releases, touched = planner.step_down(old_applied, measures, ended, lift=False)
        released = _merge(city, *(c.released for c in chains.values()))
        if state == "active":
            released = _merge(city, released, old_applied)
        new_chain = AlertChain(
            id=chain_id,
            sender=self.alert.sender,
            messages=(*(base.messages if base is not None else ()), key),
            latest=self.alert.sent,
            state=state,
            measures=measures,
            applied=applied,
            start=start,
            end=end,
            released=released,
        )
        others = [
            attrs.evolve(
                c, state="ended", applied=(), start=None, end=None, ended_by=f"superseded by {key}"
            )
            for c in sorted(chains.values(), key=lambda c: c.id)
            if c.id != chain_id
        ]
        superseded = tuple(sorted(r.id for r in self.book.reviews.values() if r.chain in ended))
        if lowers or releases:
            reasons.append(
                f"superseded: {len(lowers)} compound(s) lowered, {len(releases)} back to the "
                "rules' normal step-down (no longer named, or milder)"
            )
        if end is not None:
            reasons.append(f"ends at {end.isoformat()} (expires)")
        outcome, top, acted = _outcome(
            base is not None, declares, start, measures, lowers, releases, touched, reviews
        )
        reasons.extend(f"review {r.id}: {'; '.join(r.reasons)}" for r in reviews)
        return self.plan(
            outcome,
            reasons,
            zone=top,
            units=acted,
            declares=declares,
            lowers=tuple(lowers),
            releases=tuple(releases),
            chains=(new_chain, *others),
            index=((key, chain_id), *((k, chain_id) for k in self.unknown)),
            reviews=tuple(reviews),
            superseded=superseded,
        )


def _outcome(
    updates: bool,
    declares: Measures,
    start: datetime | None,
    measures: Measures,
    lowers: list[tuple[str, str, bool]],
    releases: list[str],
    touched: list[str],
    reviews: list[Review],
) -> tuple[str, str | None, list[str]]:
    """(outcome, top zone, units acted on) of an Alert or Update."""
    acted = sorted({u for _, us in declares for u in us} | set(touched))
    if declares:
        return ("update" if updates else "declare"), declares[0][0], acted
    if start is not None and measures:
        units = sorted({u for _, us in measures for u in us})
        return ("update" if updates else "declare"), measures[0][0], units
    if lowers or releases:
        return ("update" if measures else "lift"), ("open" if not measures else None), acted
    if reviews:
        return "review", reviews[0].zone, sorted({u for r in reviews for u in r.units})
    return ("update" if updates else "ignore"), None, acted


def plan_due(
    city: City, book: AlertBook, chain_id: str, now: datetime, zones: Callable[[str], str]
) -> AlertPlan:
    """What a chain's deadline asks at ``now``: its scheduled start, or its expiry.

    Raises:
        AlertError: no such chain, or it has no deadline due at ``now``.
    """
    chain = book.chains.get(chain_id)
    due = None if chain is None else chain.due()
    if chain is None or due is None or due > now:
        raise AlertError(f"alert chain {chain_id!r} has no deadline due at {now.isoformat()}")
    planner = _Planner(city, book, zones)
    identifier = chain.messages[-1].split(",")[1] if chain.messages else chain.id
    if chain.state == "scheduled":
        lowers, releases, touched = planner.step_down(
            chain.applied, chain.measures, {chain.id}, lift=False
        )
        released = _merge(city, chain.released, chain.applied)
        changed = attrs.evolve(
            chain, state="active", applied=chain.measures, start=None, released=released
        )
        declares = chain.measures
        if changed.end is not None and changed.end <= now:
            # It expired before it started: nothing of it comes into force.
            changed = attrs.evolve(changed, state="ended", applied=(), end=None, ended_by="expired")
            declares = ()
        units = sorted({u for _, us in declares for u in us} | set(touched))
        return AlertPlan(
            alert=identifier,
            outcome="declare" if declares else "lift",
            zone=declares[0][0] if declares else None,
            units=tuple(units),
            reasons=(f"chain {chain.id}: takes effect (scheduled for {due.isoformat()})",),
            sender=chain.sender,
            declares=declares,
            lowers=tuple(lowers),
            releases=tuple(releases),
            chains=(changed,),
        )
    lowers, releases, touched = planner.step_down(chain.applied, (), {chain.id}, lift=False)
    superseded = tuple(sorted(r.id for r in book.reviews.values() if r.chain == chain.id))
    return AlertPlan(
        alert=identifier,
        outcome="lift",
        zone="open",
        units=tuple(touched),
        reasons=(
            f"chain {chain.id}: expired at {due.isoformat()}; its compounds go back to the "
            "rules' normal step-down",
        ),
        sender=chain.sender,
        lowers=tuple(lowers),
        releases=tuple(releases),
        chains=(
            attrs.evolve(
                chain,
                state="ended",
                applied=(),
                end=None,
                ended_by="expired",
                released=_merge(city, chain.released, chain.applied),
            ),
        ),
        superseded=superseded,
    )


def plan_approval(
    city: City,
    book: AlertBook,
    review_id: str,
    units: Sequence[str] | None,
    zones: Callable[[str], str],
) -> AlertPlan:
    """What approving a review asks: its measure (on ``units`` when given) joins its chain.

    Raises:
        AlertError: no such open review; no units to apply; a unit not of the city.
    """
    review = book.reviews.get(review_id)
    if review is None:
        raise AlertError(
            f"no open review {review_id!r} (open: {', '.join(sorted(book.reviews)) or 'none'})"
        )
    chosen = tuple(sorted(set(units))) if units is not None else review.units
    if not chosen:
        raise AlertError(
            f"review {review_id} names no unit; approve it with units=[...] "
            f"(candidates: {', '.join(review.candidates) or 'none'})"
        )
    for unit in chosen:
        if unit not in city.chain:
            raise UnknownUnitError(unit, f"unit (approving review {review_id}) named")
    chain = book.chains.get(review.chain)
    if chain is None or chain.state == "ended":
        raise AlertError(f"review {review_id}: its alert chain {review.chain} has ended")
    added: Measures = ((review.zone, chosen),)
    measures = _merge(city, chain.measures, added)
    if chain.state == "scheduled":
        changed = attrs.evolve(chain, measures=measures)
        declares: Measures = ()
    else:
        changed = attrs.evolve(chain, measures=measures, applied=_merge(city, chain.applied, added))
        declares = added
    return AlertPlan(
        alert=review.alert,
        outcome="declare",
        zone=review.zone,
        units=chosen,
        reasons=(f"review {review_id} approved",),
        sender=chain.sender,
        declares=declares,
        chains=(changed,),
    )
