"""CAP alerts: a mixed feed through the lifecycle on the Jiamusi preset.

``alerts_feed``
    10,000 bilingual CPEAS-shaped messages (1,000 with ``--quick``), one a
    minute, received by ``Engine.receive_alert`` (parse, plan by the CAP
    lifecycle against everything received before, apply with staffing,
    journal): Alerts on random communities and streets at every severity,
    some with an expiry or a future onset; Updates that move or downgrade
    them; Cancels; redelivered duplicates; stale Updates; weather alerts;
    another city's codes; and parts bound for review (districts, shared
    names, polygons). The figure is the time per message (lower is better;
    the rate is beside it), with the review queue's size and the outcomes.
    Baseline: ``parse_cap`` alone on the same messages, measured in the same
    run, so the ratio is what the lifecycle and applying cost over reading.
"""

from __future__ import annotations

import functools
import gc
import random
import statistics
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from benchmarks import benchmark, figure
from gridgov import City, Engine, ManualClock
from gridgov.alerts import parse_cap
from gridgov.presets import jiamusi
from gridgov.testing import cap_message

FEED_TARGET_US = 5000.0  # per message: 200 messages a second, plan and apply
CST = timezone(timedelta(hours=8))
T0 = datetime(2022, 9, 17, 9, 30, tzinfo=CST)
SENDERS = ("230800-health-commission", "230803-health-bureau", "230804-health-bureau")
SEVERITIES = ("Extreme", "Severe", "Moderate")
RING = "46.80,130.30 46.81,130.30 46.81,130.32 46.80,130.30"


@functools.cache
def _city() -> City:
    return jiamusi()


def feed(count: int, seed: int = 13) -> list[str]:
    """``count`` messages of mixed types, one a minute, as CAP text."""
    city = _city()
    chain = city.chain
    communities = chain.units("community")
    streets = chain.units("street")
    districts = chain.units("district")
    rng = random.Random(seed)
    sent: list[tuple[str, str, datetime]] = []  # (sender, identifier, sent) of Alerts
    texts: list[str] = []
    for n in range(count):
        at = T0 + timedelta(minutes=n)
        sender = rng.choice(SENDERS)
        kind = rng.random()
        ident = f"M{n:06d}"
        severity = rng.choice(SEVERITIES)
        if kind < 0.40 or not sent:
            unit = rng.choice(communities) if rng.random() < 0.85 else rng.choice(streets)
            onset = at + timedelta(hours=rng.randint(1, 12)) if rng.random() < 0.1 else None
            expires = at + timedelta(days=rng.randint(1, 5)) if rng.random() < 0.3 else None
            texts.append(
                cap_message(
                    ident,
                    at,
                    sender=sender,
                    severity=severity,
                    onset=onset,
                    expires=expires,
                    areas=[(chain.unit(unit).name, [unit])],
                )
            )
            sent.append((sender, ident, at))
        elif kind < 0.60:
            ref = rng.choice(sent)
            unit = rng.choice(communities)
            texts.append(
                cap_message(
                    ident,
                    at,
                    sender=ref[0],
                    msg_type="Update",
                    references=[ref],
                    severity=severity,
                    areas=[(chain.unit(unit).name, [unit])],
                )
            )
        elif kind < 0.75:
            ref = rng.choice(sent)
            texts.append(cap_message(ident, at, sender=ref[0], msg_type="Cancel", references=[ref]))
        elif kind < 0.80:
            texts.append(texts[rng.randrange(len(texts))])  # redelivered
        elif kind < 0.85:
            ref = rng.choice(sent)
            unit = rng.choice(communities)
            texts.append(
                cap_message(
                    ident,
                    ref[2] - timedelta(minutes=1) if ref[2] > T0 else ref[2],
                    sender=ref[0],
                    msg_type="Update",
                    references=[ref],
                    areas=[("x", [unit])],
                )
            )
        elif kind < 0.90:
            texts.append(
                cap_message(
                    ident, at, sender=sender, category="Met", areas=[("x", [rng.choice(streets)])]
                )
            )
        elif kind < 0.95:
            texts.append(
                cap_message(ident, at, sender="230400-health", areas=[("向阳区", ["230402000000"])])
            )
        else:
            review = rng.choice(
                [
                    ("向阳区", [rng.choice(districts)]),
                    ("Grid 1", []),
                    ("江边", [], RING),
                ]
            )
            texts.append(cap_message(ident, at, sender=sender, areas=[review]))  # type: ignore[list-item]
    return texts


def _play(texts: list[str]) -> tuple[float, Engine, Counter[str]]:
    """Seconds to receive every message (the clock set to each one's sent time)."""
    times = [parse_cap(t).sent for t in texts]
    clock = ManualClock(T0)
    engine = Engine(_city(), clock=clock)
    engine.pools  # noqa: B018 - built before timing, as a running engine has them
    outcomes: Counter[str] = Counter()
    gc.collect()
    start = time.perf_counter()
    for text, when in zip(texts, times, strict=True):
        if when > clock.now():
            engine.advance(when)
        try:
            events = engine.receive_alert(text).events
        except Exception:  # pragma: no cover - the feed holds only readable messages
            outcomes["refused"] += 1
            continue
        first = next(e for e in events if e.type in ("alert.received", "alert.refused"))
        outcomes[str(first.data["outcome"])] += 1
    return time.perf_counter() - start, engine, outcomes


def _parse_only(texts: list[str]) -> float:
    gc.collect()
    start = time.perf_counter()
    for text in texts:
        parse_cap(text)
    return time.perf_counter() - start


@benchmark("alerts_feed")
def alerts_feed(quick: bool) -> dict[str, dict[str, object]]:
    """A mixed CAP feed (Alerts, Updates, Cancels, duplicates, stale, review) on Jiamusi."""
    count = 1_000 if quick else 10_000
    texts = feed(count)
    seconds, engine, outcomes = _play(texts)
    parse = statistics.median(_parse_only(texts) for _ in range(1 if quick else 3))
    per = seconds / count
    return {
        "per_message": figure(
            per * 1e6,
            "us",
            FEED_TARGET_US,
            f"Engine.receive_alert: {count:,} mixed bilingual CAP messages on Jiamusi, "
            "parsed, planned by the lifecycle against everything before, applied with "
            "staffing and journaled, per message",
            baseline=parse / count * 1e6,
            baseline_what="parse_cap alone on the same messages, per message",
            alerts_per_second=round(1 / per),
            review_queue=len(engine.reviews),
            live_chains=len(engine.alert_book.live()),
            events=len(engine.journal),
            outcomes=dict(sorted(outcomes.items())),
        ),
    }
