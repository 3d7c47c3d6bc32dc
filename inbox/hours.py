"""Business hours of an inbox: `{"time_zone": "Europe/Paris", "days": {"mon": [["09:00",
"17:00"]], ...}}`. Empty (no days) means always open. Used by automatic acknowledgements
("we will answer tomorrow at 9:00") and the website widget."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class HoursError(ValueError):
    """Business hours that cannot be understood; the message says what is wrong."""


def _clock(value: str) -> time:
    if value == "24:00":
        return time.max
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def clean(hours: dict[str, Any]) -> dict[str, Any]:
    """Validated business hours (raises HoursError naming the problem)."""
    if not hours:
        return {}
    zone = str(hours.get("time_zone") or "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HoursError(f"Unknown time zone “{zone}”.") from exc
    days: dict[str, list[list[str]]] = {}
    for day, spans in (hours.get("days") or {}).items():
        if day not in DAYS:
            raise HoursError(f"Unknown day “{day}”: use {', '.join(DAYS)}.")
        for span in spans or []:
            if len(span) != 2 or not all(isinstance(v, str) and HHMM.match(v) for v in span):
                raise HoursError(f"{day}: write hours as HH:MM–HH:MM, e.g. 09:00–17:30.")
            if _clock(span[0]) >= _clock(span[1]):
                raise HoursError(f"{day}: {span[0]}–{span[1]} ends before it starts.")
            days.setdefault(day, []).append([span[0], span[1]])
    return {"time_zone": zone, "days": days} if days else {}


def parse_line(text: str) -> list[list[str]]:
    """“09:00-12:00, 13:00-17:30” → [["09:00", "12:00"], ["13:00", "17:30"]]."""
    spans = []
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        pieces = re.split(r"\s*[-–]\s*", part)
        if len(pieces) != 2:
            raise HoursError(f"“{part}”: write a span as 09:00-17:00.")
        spans.append([pieces[0].zfill(5), pieces[1].zfill(5)])
    return spans


def _spans(hours: dict[str, Any], day: datetime) -> list[tuple[datetime, datetime]]:
    name = DAYS[day.weekday()]
    out = []
    for start, end in (hours.get("days") or {}).get(name, []):
        begin = datetime.combine(day.date(), _clock(start), day.tzinfo)
        if end == "24:00":
            finish = datetime.combine(day.date() + timedelta(days=1), time(0), day.tzinfo)
        else:
            finish = datetime.combine(day.date(), _clock(end), day.tzinfo)
        out.append((begin, finish))
    return out


def is_open(hours: dict[str, Any], at: datetime) -> bool:
    if not (hours or {}).get("days"):
        return True
    local = at.astimezone(ZoneInfo(hours.get("time_zone") or "UTC"))
    return any(begin <= local < end for begin, end in _spans(hours, local))


def next_opening(hours: dict[str, Any], at: datetime) -> datetime | None:
    """When the inbox next opens after `at` (now, if open); None when it never opens."""
    if not (hours or {}).get("days"):
        return at
    zone = ZoneInfo(hours.get("time_zone") or "UTC")
    local = at.astimezone(zone)
    for offset in range(8):
        day = local + timedelta(days=offset)
        for begin, end in sorted(_spans(hours, day)):
            if offset == 0 and begin <= local < end:
                return at
            if begin > local:
                return begin
    return None


def describe_wait(hours: dict[str, Any], at: datetime) -> str:
    """Words for an acknowledgement: “shortly”, “today at 14:00”, “tomorrow at 09:00”,
    “on Monday at 09:00”."""
    opening = next_opening(hours, at)
    if opening is None or opening <= at:
        return "shortly"
    local_now = at.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    clock = opening.strftime("%H:%M")
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    return f"on {opening.strftime('%A')} at {clock}"
