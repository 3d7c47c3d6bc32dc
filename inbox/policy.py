"""An inbox's drafts and human-touch policy, kept in `Inbox.settings["policy"]` and edited
on the inbox's “Drafts & human touch” page (admins). Defaults are what a support team
expects on day one: suggestions on, people flagged for the moments that matter, no
automatic message of any kind until an admin turns one on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from django.conf import settings

from inbox import canned

DEFAULT_KEYWORDS = ["cancel", "complaint", "lawyer", "legal action", "chargeback", "refund"]
DEFAULT_ACK = (
    "Hi {{contact.first_name|there}}, thanks for your message. A member of our team will "
    "answer you {{reply_eta}}."
)
TONES = ("friendly", "formal", "concise")


class PolicyError(ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass
class Policy:
    # Suggested drafts
    suggestions: bool = True
    threshold: float | None = None  # None: settings.DRAFT_CONFIDENCE_THRESHOLD
    tone: str = "friendly"
    greeting: str = ""  # email greeting line; empty: one in the customer's language
    # Needs a person
    flag_vip: bool = True
    segments: list[str] = field(default_factory=list)  # "plan=enterprise" (custom attribute)
    flag_person_request: bool = True
    flag_negative: bool = True
    flag_vulnerable: bool = True
    repeat_hours: int = 48  # 0: off
    keywords: list[str] = field(default_factory=lambda: list(DEFAULT_KEYWORDS))
    flag_priority: int = 3  # Conversation.Priority.HIGH
    flag_team_id: int | None = None
    # Automatic acknowledgement (off by default)
    ack_enabled: bool = False
    ack_outside_hours: bool = True
    ack_first_contact: bool = False
    ack_text: str = DEFAULT_ACK
    throttle_hours: int = 24  # at most one automated message per contact in this window

    @property
    def confidence_threshold(self) -> float:
        if self.threshold is None:
            return float(settings.DRAFT_CONFIDENCE_THRESHOLD)
        return self.threshold

    def segment_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for entry in self.segments:
            key, _, value = entry.partition("=")
            pairs.append((key.strip(), value.strip()))
        return pairs

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def policy_for(inbox: Any) -> Policy:
    """The inbox's policy; unknown stored keys are ignored, missing ones take defaults."""
    stored = (inbox.settings or {}).get("policy") or {}
    known = {f.name for f in fields(Policy)}
    return Policy(**{key: value for key, value in stored.items() if key in known})


def clean(data: dict[str, Any]) -> Policy:
    """A policy from submitted values, checked (raises PolicyError naming the field)."""
    unknown = set(data) - {f.name for f in fields(Policy)}
    if unknown:
        raise PolicyError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    policy = Policy(**{f.name: data[f.name] for f in fields(Policy) if f.name in data})
    for name in ("keywords", "segments"):
        value = getattr(policy, name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyError("Give a list of words.", name)
    for name in ("repeat_hours", "throttle_hours", "flag_priority"):
        if not isinstance(getattr(policy, name), int) or isinstance(getattr(policy, name), bool):
            raise PolicyError("Give a whole number.", name)
    if policy.threshold is not None and not isinstance(policy.threshold, (int, float)):
        raise PolicyError("Give a number between 0 and 1.", "threshold")
    if policy.threshold is not None and not 0 <= policy.threshold <= 1:
        raise PolicyError("Use a confidence between 0 and 1.", "threshold")
    if policy.tone not in TONES:
        raise PolicyError(f"Choose a tone among {', '.join(TONES)}.", "tone")
    if not 0 <= policy.repeat_hours <= 24 * 30:
        raise PolicyError("Use 0 (off) to 720 hours.", "repeat_hours")
    if not 1 <= policy.throttle_hours <= 24 * 30:
        raise PolicyError("Use 1 to 720 hours.", "throttle_hours")
    if policy.flag_priority not in range(0, 5):
        raise PolicyError("Unknown priority.", "flag_priority")
    policy.keywords = _unique(k.strip() for k in policy.keywords if k.strip())
    policy.segments = _unique(s.strip() for s in policy.segments if s.strip())
    for entry in policy.segments:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise PolicyError(f"“{entry}”: write a segment as attribute=value.", "segments")
    for name in ("greeting", "ack_text"):
        try:
            used = canned.variables(str(getattr(policy, name)).replace("{{reply_eta}}", ""))
        except canned.VariableError as exc:
            raise PolicyError(str(exc), name) from exc
        if any(v.name.startswith("agent.") for v in used):
            # Automated messages have no agent: it would be a blank in a customer's message.
            raise PolicyError("No agent writes this: leave out the agent variables.", name)
    if policy.ack_enabled and not policy.ack_text.strip():
        raise PolicyError("Write the acknowledgement.", "ack_text")
    if policy.ack_enabled and not (policy.ack_outside_hours or policy.ack_first_contact):
        raise PolicyError(
            "Choose when to acknowledge: outside business hours, on first contact or both.",
            "ack_outside_hours",
        )
    return policy


def _unique(values: Any) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.lower(), value)
    return list(seen.values())
