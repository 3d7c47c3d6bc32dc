"""Variables in canned replies: `{{contact.first_name|there}}` is the contact's first name,
or "there" when it is empty. Checked when a reply is saved (an unknown or malformed
variable is an error naming it, never a blank in a customer's message) and filled when an
agent inserts the reply.

    {{contact.first_name}}  {{contact.name}}  {{contact.email}}  {{contact.custom.<key>}}
    {{agent.first_name}}  {{agent.name}}  {{inbox.name}}  {{conversation.number}}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

VARIABLE = re.compile(r"\{\{(.*?)\}\}", re.S)
NAME = re.compile(r"^[a-z_]+(\.[a-z_]+)+$|^contact\.custom\.[A-Za-z0-9_-]+$")
KNOWN = {
    "contact.first_name",
    "contact.name",
    "contact.email",
    "agent.first_name",
    "agent.name",
    "inbox.name",
    "conversation.number",
}
CUSTOM_PREFIX = "contact.custom."


class VariableError(ValueError):
    """A body uses a variable we cannot fill; the message names it."""


@dataclass(frozen=True)
class Variable:
    name: str
    fallback: str


def variables(body: str) -> list[Variable]:
    """The variables a body uses. Raises VariableError for a malformed or unknown one."""
    found = []
    for match in VARIABLE.finditer(body):
        inner = match.group(1)
        name, _, fallback = inner.partition("|")
        name = name.strip()
        if not NAME.match(name):
            raise VariableError(f"“{match.group(0)}” is not a variable we know.")
        if name not in KNOWN and not name.startswith(CUSTOM_PREFIX):
            raise VariableError(
                f"Unknown variable {{{{{name}}}}}: use one of "
                + ", ".join(sorted(KNOWN))
                + ", or contact.custom.<key>."
            )
        found.append(Variable(name, fallback.strip()))
    rest = VARIABLE.sub("", body)
    if "{{" in rest or "}}" in rest:
        raise VariableError("A variable is not closed: write it as {{contact.first_name}}.")
    return found


def _first_name(name: str) -> str:
    return name.split()[0] if name.split() else ""


def values(
    *, contact: Any = None, agent: Any = None, inbox: Any = None, conversation: Any = None
) -> dict[str, str]:
    """What each variable stands for, from the objects at hand (any may be None)."""
    out = {name: "" for name in KNOWN}
    if contact is not None:
        out["contact.name"] = contact.name or ""
        out["contact.first_name"] = _first_name(contact.name or "")
        out["contact.email"] = contact.email or ""
        for key, value in (contact.custom_attributes or {}).items():
            out[CUSTOM_PREFIX + str(key)] = "" if value is None else str(value)
    if agent is not None:
        out["agent.name"] = agent.name
        out["agent.first_name"] = _first_name(agent.name)
    if inbox is not None:
        out["inbox.name"] = inbox.name
    if conversation is not None:
        out["conversation.number"] = str(conversation.number)
    return out


def render(body: str, filled: dict[str, str]) -> str:
    """The body with every variable replaced by its value, or its fallback when empty."""
    variables(body)  # refuse what was never valid (a body saved before a rule changed)

    def one(match: re.Match[str]) -> str:
        name, _, fallback = match.group(1).partition("|")
        value = filled.get(name.strip(), "")
        return value if value.strip() else fallback.strip()

    return VARIABLE.sub(one, body)


SAMPLE_CONTACT_NAME = "Alex Martin"


def preview(body: str, *, agent: Any = None, inbox: Any = None) -> str:
    """The body as a sample contact (Alex Martin) would read it; custom attributes show as
    [key]. Raises VariableError like `render`."""
    from types import SimpleNamespace

    custom = {
        v.name.removeprefix(CUSTOM_PREFIX): f"[{v.name.removeprefix(CUSTOM_PREFIX)}]"
        for v in variables(body)
        if v.name.startswith(CUSTOM_PREFIX)
    }
    contact = SimpleNamespace(
        name=SAMPLE_CONTACT_NAME, email="alex.martin@example.com", custom_attributes=custom
    )
    conversation = SimpleNamespace(number=1234)
    sample_inbox = inbox or SimpleNamespace(name="Support")
    filled = values(contact=contact, agent=agent, inbox=sample_inbox, conversation=conversation)
    return render(body, filled)


def escape_variables(text: str) -> str:
    """Text with no variable in it, for text we did not write (a model's draft, an agent's
    past reply): `{{…}}` would be read as a variable and a lone `{{` refused, and there is
    no escape syntax, so brace pairs are split ("{ {"), which `render` leaves alone."""
    return re.sub(r"\}(?=\})", "} ", re.sub(r"\{(?=\{)", "{ ", text))
