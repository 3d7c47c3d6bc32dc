"""SMS segment counting, as shown to an agent typing an SMS reply.

A message is sent in GSM-7 when every character is in the GSM 03.38 basic set or its
extension table, otherwise in UCS-2. GSM-7 counts septets (an extension-table character is
an escape plus a character: 2 septets); UCS-2 counts UTF-16 code units (an emoji outside the
Basic Multilingual Plane is a surrogate pair: 2 units).

One segment holds 160 septets or 70 UCS-2 units; a longer message is split into segments of
153 septets or 67 units (the rest of each is the concatenation header).

Choice: characters are never split across segments. An escape pair (e.g. "€") that would
straddle a GSM-7 segment boundary starts the next segment, and so does a surrogate pair in
UCS-2, as handsets and most carriers do. Segments are therefore filled greedily, and
`remaining` is what is left in the last one. `static/js/inbox/segments.js` mirrors this
module exactly; change both together.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 basic character set, in table order (0x1B, the escape to the extension table, is
# not a character of its own and is left out).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs an escape septet plus its own.
GSM_EXTENSION = frozenset("\x0c^{}\\[~]|€")

LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int  # 0 for an empty text
    per_segment: int  # 160/153 (GSM-7) or 70/67 (UCS-2), for the current segment count
    remaining: int  # units still free in the last segment


def _gsm_cost(char: str) -> int:
    if char in GSM_BASIC:
        return 1
    if char in GSM_EXTENSION:
        return 2
    return 0  # not encodable in GSM-7


def count(text: str) -> Segments:
    """Encoding, size and segment count of `text` sent as one SMS."""
    costs = [_gsm_cost(char) for char in text]
    if all(costs):
        encoding = GSM7
    else:
        encoding = UCS2
        costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
    single, multi = LIMITS[encoding]
    units = sum(costs)
    if units == 0:
        return Segments(encoding, 0, 0, single, single)
    if units <= single:
        return Segments(encoding, units, 1, single, single - units)
    # Greedy fill: a character that does not fit whole starts the next segment.
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments += 1
            used = 0
        used += cost
    return Segments(encoding, units, segments, multi, multi - used)
