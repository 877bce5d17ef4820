"""Privacy: no personal item leaves through any publication path; ordinary text survives."""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator, Sequence

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridgov import Engine, Event, ManualClock
from gridgov.cloudevents import to_cloudevent, to_cloudevent_json
from gridgov.open311 import service_requests
from gridgov.presets import small
from gridgov.privacy import REMOVED, redact
from gridgov.tickets import Private

CITY = small()
GRID = "990101001001-G001"

_FULL = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")
SURNAMES_ZH = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN_ZH = "芳伟娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
HONORIFICS_ZH = ("先生", "女士", "阿姨", "大爷", "大妈", "老师", "师傅", "奶奶", "小姐")
SURNAMES_EN = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu")
GIVEN_EN = ("Fang", "Wei", "Na", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yang")
TITLES_EN = ("Mr", "Mrs", "Ms", "Miss", "Dr", "Aunt", "Uncle")


# ------------------------------------------------------------ the generator


def mobile(rng: random.Random) -> str:
    """A mobile number written as residents write them."""
    digits = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    style = rng.randrange(8)
    groups = (digits[:3], digits[3:7], digits[7:])
    if style == 0:
        out = digits
    elif style == 1:
        out = " ".join(groups)
    elif style == 2:
        out = ".".join(groups)
    elif style == 3:
        out = "-".join(groups)
    elif style == 4:
        out = "+86 " + " ".join(groups)
    elif style == 5:
        out = "+86-" + digits
    elif style == 6:
        out = "(+86) " + digits[:3] + " " + digits[3:]
    else:
        out = "-".join(groups)
    return out.translate(_FULL) if rng.random() < 0.15 else out


def landline(rng: random.Random) -> str:
    """A landline number with its area code."""
    area = rng.choice(("0454", "010", "021", "0451", "0755"))
    number = str(rng.randrange(2, 10)) + "".join(rng.choice("0123456789") for _ in range(6))
    if rng.random() < 0.5:
        number += rng.choice("0123456789")
    style = rng.randrange(4)
    out = (
        f"{area}-{number}",
        f"({area}) {number}",
        f"{area} {number[:3]} {number[3:]}",
        f"+86 {area[1:]} {number}",
    )[style]
    return out.translate(_FULL) if rng.random() < 0.1 else out


def id_number(rng: random.Random) -> str:
    """An 18-digit resident identity number (the last character may be X)."""
    region = rng.choice(("230803", "230804", "110105", "440305"))
    born = f"{rng.randrange(1940, 2010)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    tail = "".join(rng.choice("0123456789") for _ in range(3)) + rng.choice("0123456789X")
    full = region + born + tail
    return full if rng.random() < 0.7 else f"{full[:6]} {full[6:14]} {full[14:]}"


def email(rng: random.Random) -> str:
    """An e-mail address."""
    user = rng.choice(SURNAMES_EN).lower() + rng.choice((".", "_", "")) + str(rng.randrange(100))
    return f"{user}@{rng.choice(('qq.com', '163.com', 'jms.gov.cn', 'example.org'))}"


def chat_id(rng: random.Random) -> tuple[str, str]:
    """(text, the id): a WeChat or QQ id with its keyword."""
    handle = (
        rng.choice(SURNAMES_EN).lower()
        + rng.choice(("_", "", "-"))
        + rng.choice(GIVEN_EN).lower()
        + str(rng.randrange(10, 9999))
    )
    qq = str(rng.randrange(10_000, 9_999_999_999))
    style = rng.randrange(7)
    if style == 0:
        return f"微信: {handle}", handle
    if style == 1:
        return f"微信号{handle}", handle
    if style == 2:
        return f"WeChat ID: {handle}", handle
    if style == 3:
        return f"QQ {qq}", qq
    if style == 4:
        return f"QQ号：{qq}", qq
    if style == 5:
        wx = "wx_" + handle
        return wx, wx
    return f"vx {handle}", handle


def address(rng: random.Random) -> str:
    """An address below the street: building, unit, room."""
    b, u, r = rng.randrange(1, 40), rng.randrange(1, 8), rng.randrange(101, 2999)
    return rng.choice(
        (
            f"{b}栋{u}单元{r}",
            f"{b}栋{u}单元{r}室",
            f"{b}号楼{u}单元{r}室",
            f"{b}幢{r}室",
            f"{r}室",
            f"Room {r}, Building {b}",
            f"Bldg {b} Unit {u} Rm {r}",
            f"Apt {r}",
            f"{b}号楼",
        )
    )


def person(rng: random.Random) -> str:
    """A surname with an honorific."""
    if rng.random() < 0.6:
        given = rng.choice(("", "", rng.choice(GIVEN_ZH)))
        return rng.choice(SURNAMES_ZH) + given + rng.choice(HONORIFICS_ZH)
    return f"{rng.choice(TITLES_EN)} {rng.choice(SURNAMES_EN)}"


@attrs.frozen
class Sample:
    """One generated request: its text, the personal items in it, the resident."""

    text: str
    items: tuple[str, ...]
    resident: Private


FILLERS_ZH = (
    "家里老人需要胰岛素",
    "楼道垃圾三天没清",
    "请尽快送菜",
    "小区门口排队做核酸",
    "孩子发烧需要买药",
    "9月17日封控以来",
    "每天14:30送物资",
    "共有120户居民",
    "昨天来了3辆车",
)
FILLERS_EN = (
    "needs insulin for an elderly parent",
    "garbage not collected for three days",
    "please deliver vegetables",
    "queue at the gate for testing",
    "child has a fever and needs medicine",
    "since 2022-09-17",
    "deliveries at 14:30 every day",
    "45 people in the building",
    "the water has been off since Monday",
)


def sample(rng: random.Random) -> Sample:
    """A realistic request description mixing ordinary text and personal items."""
    zh = rng.random() < 0.6
    name = (
        rng.choice(SURNAMES_ZH) + rng.choice(GIVEN_ZH) + rng.choice(("", rng.choice(GIVEN_ZH)))
        if zh
        else f"{rng.choice(SURNAMES_EN)} {rng.choice(GIVEN_EN)}"
    )
    resident = Private(name=name, phone=mobile(rng), address=address(rng))
    parts: list[str] = []
    items: list[str] = []
    fillers = FILLERS_ZH if zh else FILLERS_EN
    for _ in range(rng.randrange(2, 6)):
        parts.append(rng.choice(fillers))
        kind = rng.randrange(9)
        if kind == 0:
            item = mobile(rng)
        elif kind == 1:
            item = landline(rng)
        elif kind == 2:
            item = id_number(rng)
        elif kind == 3:
            item = email(rng)
        elif kind == 4:
            text, item = chat_id(rng)
            parts.append(text)
            items.append(item)
            continue
        elif kind == 5:
            item = address(rng)
        elif kind == 6:
            item = person(rng)
        elif kind == 7:  # the resident's registered name, in another case
            item = resident.name.upper() if not zh else resident.name
        else:  # the registered phone, grouped another way
            digits = re.sub(
                r"\D",
                "",
                resident.phone.translate(str.maketrans("０１２３４５６７８９", "0123456789")),
            )
            digits = digits[2:] if len(digits) > 11 else digits
            item = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
        label = rng.choice(("电话", "联系", "住", "", "tel", "call", "at", "contact"))
        parts.append(f"{label} {item}".strip())
        items.append(item)
    sep = "，" if zh else ", "
    return Sample(sep.join(parts), tuple(items), resident)


def samples(count: int, seed: int = 2022) -> Iterator[Sample]:
    rng = random.Random(seed)
    for _ in range(count):
        yield sample(rng)


_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def leaked(item: str, published: str) -> bool:
    """True when ``item`` (or, for numbers, its digits in any grouping) is in ``published``."""
    if item.lower() in published.lower():
        return True
    digits = re.sub(r"\D", "", item.translate(_DIGITS))
    if len(digits) >= 7:
        flat = re.sub(r"[\s.\-()/+]", "", published.translate(_DIGITS))
        return digits[-7:] in flat
    return False


def known(s: Sample) -> tuple[str, str, str]:
    return (s.resident.name, s.resident.phone, s.resident.address)


def check_redact(count: int) -> None:
    for s in samples(count):
        out = redact(s.text, known=known(s))
        for item in (*s.items, s.resident.phone, s.resident.address, s.resident.name):
            assert not leaked(item, out), (item, s.text, out)


def opened_ticket(events: Sequence[Event]) -> str:
    """The ticket number a ticket.opened event carries."""
    opened = next(e for e in events if e.type == "ticket.opened")
    return str(opened.data["ticket"])


def check_publication(count: int) -> None:
    """Open one ticket per sample and look at everything published about it."""
    engine = Engine(CITY, clock=ManualClock())
    for n, s in enumerate(samples(count, seed=17)):
        opened = engine.open_ticket(GRID, "garbage", description=s.text, resident=s.resident)
        ticket_id = opened_ticket(opened.events)
        withdrawn = engine.handle_ticket(ticket_id, "withdraw", reason=f"moved; {s.text}")
        ticket = engine.tickets.ticket(ticket_id)
        published = [
            json.dumps(ticket.public(), ensure_ascii=False),
            json.dumps(ticket.record(), ensure_ascii=False),
            json.dumps(service_requests(engine.tickets, [ticket_id]), ensure_ascii=False),
        ]
        published += [
            to_cloudevent_json(e, engine.source) for e in (*opened.events, *withdrawn.events)
        ]
        text = "\n".join(published)
        for item in (*s.items, s.resident.phone, s.resident.address, s.resident.name):
            assert not leaked(item, text), (n, item, s.text, text)


#: The property run's size: 100,000 texts (slow); the default run, 5,000.
FULL = 100_000
QUICK = int(os.environ.get("GRIDGOV_PRIVACY_TEXTS", "5000"))


class TestRedactProperty:
    """No generated personal item survives redaction, in any publication path."""

    def test_quick(self) -> None:
        """5,000 generated texts: redact() leaves no personal item."""
        check_redact(QUICK)

    @pytest.mark.slow
    def test_hundred_thousand(self) -> None:
        """100,000 generated texts (Chinese and English): redact() leaves no personal item."""
        check_redact(FULL)

    def test_publication_paths(self) -> None:
        """Ticket.public(), record(), Open311 and CloudEvents carry no personal item."""
        check_publication(150)

    @pytest.mark.slow
    def test_publication_paths_many(self) -> None:
        """The same over 2,000 tickets."""
        check_publication(2_000)

    @given(st.integers(min_value=0, max_value=2**32 - 1))
    def test_any_seed(self, seed: int) -> None:
        """Any seed of the generator: no item leaks."""
        for s in samples(5, seed):
            out = redact(s.text, known=known(s))
            for item in s.items:
                assert not leaked(item, out), (item, s.text, out)


class TestPatterns:
    """Each listed pattern is removed (examples written out, not generated)."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("call 139.9603.0824 now", "call [removed] now"),
            ("电话 139 9603 0824", "电话 [removed]"),
            ("+86-139-9603-0824", "[removed]"),
            ("１３９９６０３０８２４", "[removed]"),
            ("座机 (0454) 8123456", "座机 [removed]"),
            ("身份证 23080319800101123X 已登记", "身份证 [removed] 已登记"),
            ("mail wang.fang@163.com today", "mail [removed] today"),
            ("微信: wang_fang88", "微信: [removed]"),
            ("QQ号：12345678", "QQ号：[removed]"),
            ("加我 wx_lily2022", "加我 [removed]"),
            ("住16栋3单元1356", "住[removed]"),
            ("3号楼2单元502室漏水", "[removed]漏水"),
            ("Room 1356, Building 16", "[removed], [removed]"),
            ("李先生说", "[removed]说"),
            ("联系王女士", "联系[removed]"),
            ("张阿姨家", "[removed]家"),
            ("Mr Li called", "[removed] called"),
        ],
    )
    def test_pattern(self, text: str, expected: str) -> None:
        """The personal part is replaced by [removed], the rest kept."""
        assert redact(text) == expected

    def test_known_values(self) -> None:
        """Registered name, phone and address go in any case, spacing or grouping."""
        text = "WANG fang at 5栋 said ring 139-9603-0824 or +86 13996030824"
        out = redact(text, known=("Wang Fang", "13996030824", "5栋"))
        assert out == f"{REMOVED} at {REMOVED} said ring {REMOVED} or {REMOVED}"


class TestSurvives:
    """Ordinary words, dates, times and counts survive redaction."""

    @pytest.mark.parametrize(
        "text",
        [
            "on 2022-09-17 at 14:30, 120 households",
            "2022年9月17日 08:00 共有120户居民",
            "9月17号起 3个小区封控",
            "1,200 residents in 45 buildings",
            "garbage not collected for three days",
            "老百姓需要蔬菜",
            "小区门口 14:30:05",
            "since 2022.09.17, 5 days",
            "the street office sent 12 volunteers",
        ],
    )
    def test_kept(self, text: str) -> None:
        """The text comes back unchanged."""
        assert redact(text) == text

    @given(
        st.lists(
            st.sampled_from(
                [
                    *FILLERS_ZH,
                    *FILLERS_EN,
                    "2022-09-17",
                    "14:30",
                    "120户",
                    "45 people",
                    "3 days",
                    "9月17日",
                ]
            ),
            min_size=1,
            max_size=6,
        )
    )
    def test_any_mix_of_ordinary_text(self, parts: list[str]) -> None:
        """Any mix of ordinary phrases, dates, times and counts is left alone."""
        text = ", ".join(parts)
        assert redact(text) == text


class TestCloudEventPrivacy:
    """to_cloudevent leaves out data.private unless asked."""

    def test_private_left_out(self) -> None:
        """ticket.opened goes out without the resident's data; include_private keeps it."""
        engine = Engine(CITY, clock=ManualClock())
        resident = Private(name="Wang Fang", phone="13996030824", address="5栋2单元301")
        result = engine.open_ticket(
            GRID, "garbage", description="王芳 139 9603 0824", resident=resident
        )
        opened = result.events[0]
        assert "private" in opened.data
        out = to_cloudevent(opened, engine.source)
        assert "private" not in out["data"]
        assert "13996030824" not in json.dumps(out, ensure_ascii=False)
        inside = to_cloudevent(opened, engine.source, include_private=True)
        assert inside["data"]["private"]["phone"] == "13996030824"

    def test_withdraw_reason_redacted(self) -> None:
        """A withdraw reason is published redacted in the record and the events."""
        engine = Engine(CITY, clock=ManualClock())
        resident = Private(name="Wang Fang", phone="13996030824")
        opened = engine.open_ticket(GRID, "garbage", description="x", resident=resident)
        ticket = opened_ticket(opened.events)
        result = engine.handle_ticket(
            ticket, "withdraw", reason="Wang Fang moved, call 139 9603 0824"
        )
        record = json.dumps(engine.tickets.ticket(ticket).record(), ensure_ascii=False)
        assert "Wang Fang" not in record
        assert "9603" not in record
        for event in result.events:
            text = to_cloudevent_json(event, engine.source)
            assert "Wang Fang" not in text
            assert "9603" not in text
