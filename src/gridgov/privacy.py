"""Privacy: what may leave gridgov, and the one function every publication goes through.

Residents' requests (see :mod:`gridgov.tickets`) carry personal data: their
name, phone, exact address and own words. Nothing published (the Open311
export, :meth:`~gridgov.tickets.Ticket.public`, archive records, CloudEvents
sent outside) may carry any of it. :func:`redact` is the single place that
decides: every publication path calls it, so a pattern added here is covered
everywhere.

It removes, replacing each with ``[removed]``:

* the resident's registered name, phone and address (``known``), in any
  case, spacing or digit grouping;
* phone numbers (mobile and landline) in any grouping: spaces, dots, dashes,
  brackets, a ``+86`` prefix, full-width digits (``１３９``);
* 18-digit resident identity numbers (the last one may be ``X``);
* e-mail addresses;
* WeChat and QQ ids (``微信``, ``WeChat``, ``vx``, ``QQ`` followed by an id;
  ``wx_...`` and ``wxid_...`` anywhere);
* addresses below the street: ``16栋3单元1356``, ``3号楼``, ``502室``,
  ``12号``, ``Room 1356``, ``Building 16``, ``Apt 3B``;
* a surname with an honorific (``李先生``, ``王女士``, ``张阿姨``, ``老王``,
  ``Mr Li``, ``Aunt Wang``).

Over-redaction is the safe side, but ordinary words, dates (``2022-09-17``,
``9月17日``), times (``14:30``) and counts (``120户``, ``45 people``) are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REMOVED", "redact"]

#: What every personal item is replaced with.
REMOVED = "[removed]"

# Full-width forms read as their ASCII twins (one character for one, so a
# match found in the folded text has the same span in the original).
_FOLD = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
        "\uff0b": "+",
        "\uff0d": "-",
        "\uff0e": ".",
        "\u3000": " ",
        "\uff08": "(",
        "\uff09": ")",
        "\uff3f": "_",
        "\uff20": "@",
        "\uff1a": ":",
        "\u2014": "-",
        "\u2013": "-",
        "\u2012": "-",
        "\u00a0": " ",
    }
)

# Dates and times are masked before numbers are looked for, so that
# 2022-09-17 or 14:30 is never taken for part of a phone number.
_TIME = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])")
_DATE = re.compile(
    r"(?<![\d.\-/])(?:19|20)\d{2}(?P<sep>[-./])(?:0?[1-9]|1[0-2])(?P=sep)(?:0?[1-9]|[12]\d|3[01])"
    r"(?![\d]|[-./ ]\d)"
    r"|(?:(?:19|20)\d{2}年)?(?:0?[1-9]|1[0-2])月(?:0?[1-9]|[12]\d|3[01])[日号]"
    r"|(?:19|20)\d{2}年(?:0?[1-9]|1[0-2])月"
)
# Seven or more digits, groups split by at most two separators (space, dot,
# dash, slash, brackets), an optional + in front and an X at the end (ids).
_NUMBER = re.compile(r"\+?\(?\d(?:[\s.\-/()]{0,2}\d){6,}(?:\s?[Xx](?![A-Za-z]))?")
_EMAIL = re.compile(r"[\w.+%-]+\s?@\s?[\w-]+(?:\.[\w-]+)+")
_WX_ID = re.compile(r"(?<![A-Za-z0-9])wx(?:id)?_[A-Za-z0-9_-]+", re.IGNORECASE)
_CHAT = re.compile(
    r"(?:微信号?|威信|V信|vx|wx|WeChat(?:\s?ID)?|weixin|QQ号?|QQ\s?number|企鹅号?)"
    r"(?:\s*(?:ID|id|号)?\s*[:=]\s*|\s*是?\s*)"
    r"(?P<id>[A-Za-z][A-Za-z0-9_-]{4,19}|\d{5,12})",
    re.IGNORECASE,
)
_NUM_ZH = r"[0-9一二三四五六七八九十百零〇两]+"
# A Chinese address below the street: number + 栋/幢/号楼/座/楼/单元/室/号,
# repeated, with the trailing room number that often has no 室.
_ADDRESS_ZH = re.compile(
    rf"(?:{_NUM_ZH}[A-Za-z]?\s?(?:号楼|栋|幢|座|单元|室|号院|号|楼|门))+(?:\s?\d{{2,5}}[A-Za-z]?(?![\d年月日号]))?"
    r"|[A-Za-z]\d{1,4}室"
)
_ADDRESS_EN = re.compile(
    r"\b(?:building|bldg|block|blk|unit|room|rm|apt|apartment|flat|suite|floor|house|no)\b\.?"
    r"\s*(?:no\.?\s*)?#?\s*\d+[A-Za-z]?(?:\s*[-/]\s*\d+[A-Za-z]?)*"
    r"|#\s?\d{2,5}\b",
    re.IGNORECASE,
)
# Common surnames (single and compound); a surname then up to two given-name
# characters then an honorific is a person.
_SURNAMES = (
    "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|令狐|长孙|宇文|司徒|夏侯|端木|"
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳"
    "甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解"
    "牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边"
    "卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_COMPOUND, _SINGLE = _SURNAMES.split("|")[:-1], _SURNAMES.split("|")[-1]
_HONORIFICS = (
    "先生|女士|小姐|太太|夫人|阿姨|大姨|大爷|大妈|大娘|大叔|大哥|大姐|奶奶|爷爷|姥姥|姥爷|"
    "老师|师傅|同志|老人|老太|老汉|书记|主任|医生|护士|经理|局长|科长|社长|队长|姐|哥|叔|婶"
)
_PERSON_ZH = re.compile(
    rf"(?:{'|'.join(_COMPOUND)}|[{_SINGLE}])[\u4e00-\u9fff]{{0,2}}?(?:{_HONORIFICS})"
    rf"|[老小](?:{'|'.join(_COMPOUND)}|[{_SINGLE}])(?![\u4e00-\u9fff]{{0,1}}(?:区|县|街|路|镇|乡|村|社区|小区))"
)
_PERSON_EN = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Madam|Mme|Aunt|Auntie|Uncle|Grandpa|Grandma|Granny|Old|Sir)\b\.?"
    r"\s+[A-Z][a-z]+(?:[\s-][A-Z][a-z]+)?"
)
_SEPARATORS = re.compile(r"[\s.\-/()+]")


def _fold(text: str) -> str:
    return text.translate(_FOLD)


_DIGIT_RUN = re.compile(r"\d(?:[\s.\-/()+]{0,2}\d)*")
_SPACE = re.compile(r"\s+")


def _known_spans(folded: str, value: str) -> list[tuple[int, int]]:
    """Where a registered value occurs, in any case, spacing or digit grouping."""
    want = _SPACE.sub("", _fold(value)).lower()
    if not want:
        return []
    digits = re.sub(r"\D", "", want)
    spans: list[tuple[int, int]] = []
    if len(digits) >= 5 and len(digits) >= len(_SEPARATORS.sub("", want)) - 1:
        # A phone number (or the like): any run of digits holding it, however
        # grouped, with or without the country code in front.
        body = digits[2:] if digits.startswith("86") and len(digits) > 11 else digits
        for m in _DIGIT_RUN.finditer(folded):
            if body in re.sub(r"\D", "", m.group()):
                spans.append(m.span())
        return spans
    # Text: compared without spaces, case folded; positions mapped back.
    keep = [i for i, ch in enumerate(folded) if not ch.isspace()]
    squeezed = "".join(folded[i] for i in keep).lower()
    at = squeezed.find(want)
    while at >= 0:
        spans.append((keep[at], keep[at + len(want) - 1] + 1))
        at = squeezed.find(want, at + len(want))
    return spans


def redact(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every personal item replaced by ``[removed]``.

    Args:
        text: what is about to be published.
        known: personal values registered for the person concerned (their
            name, phone, address): removed wherever they occur, in any case,
            spacing or, for numbers, digit grouping.

    Returns:
        The text, with ordinary words, dates, times and counts kept.
    """
    if not text:
        return text
    spans: list[tuple[int, int]] = []
    folded = _fold(text)
    for value in known:
        spans += _known_spans(folded, str(value))
    spans += [m.span() for m in _EMAIL.finditer(folded)]
    spans += [m.span() for m in _WX_ID.finditer(folded)]
    spans += [m.span("id") for m in _CHAT.finditer(folded)]
    # Numbers are searched with dates and times masked out.
    masked = _TIME.sub(lambda m: "t" * len(m.group()), folded)
    masked = _DATE.sub(lambda m: "d" * len(m.group()), masked)
    spans += [m.span() for m in _NUMBER.finditer(masked)]
    spans += [m.span() for m in _ADDRESS_ZH.finditer(masked)]
    spans += [m.span() for m in _ADDRESS_EN.finditer(folded)]
    spans += [m.span() for m in _PERSON_ZH.finditer(folded)]
    spans += [m.span() for m in _PERSON_EN.finditer(folded)]
    if not spans:
        return text
    spans.sort()
    merged: list[list[int]] = []
    for start, stop in spans:
        if start >= stop:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    out: list[str] = []
    pos = 0
    for start, stop in merged:
        out.append(text[pos:start])
        out.append(REMOVED)
        pos = stop
    out.append(text[pos:])
    return "".join(out)
