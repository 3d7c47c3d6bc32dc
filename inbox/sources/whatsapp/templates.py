"""WhatsApp message templates: fetched from the provider, described for the composer (which
parameters they take), previewed with the parameters filled, and turned into the Cloud API's
`template` object (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates).

Parameters are positional (`{{1}}`, `{{2}}`…) or named (`{{order_number}}`); each text part
(a text header, the body, a URL button's address) has its own list. A template whose header
is an image, video or document is sent with a file the agent attaches (`spec()["header"]
["media"]` says which kind): it is uploaded to WhatsApp and named in the header by its id.
Copy-code, flow and catalog buttons cannot be filled in yet (`spec()["sendable"]` says
why)."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from django.conf import settings

from inbox.models import Inbox, MessageTemplate
from inbox.sources.meta import Graph, GraphError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MAX_PARAM_CHARS = 1024
FIELDS = "id,name,language,category,status,components,parameter_format"
MAX_PAGES = 50
# Header kinds sent with a file, and the types WhatsApp takes for each ("" any document).
HEADER_MEDIA = {"IMAGE": "image/jpeg,image/png", "VIDEO": "video/mp4,video/3gpp", "DOCUMENT": ""}


class TemplateError(ValueError):
    """The parameters do not fit the template (the message says which)."""


def names(text: str) -> list[str]:
    """The template's parameters in order of first appearance, each once."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text or "")))


def _component(template: MessageTemplate, kind: str) -> dict[str, Any]:
    for component in template.components or []:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == kind:
            return component
    return {}


def spec(template: MessageTemplate) -> dict[str, Any]:
    """What the composer needs: the template's parts, their parameters, sendable or not."""
    header = _component(template, "HEADER")
    body = _component(template, "BODY")
    footer = _component(template, "FOOTER")
    buttons = _component(template, "BUTTONS").get("buttons") or []
    header_format = str(header.get("format") or "").upper()
    reason = ""
    if not template.approved:
        reason = f"Not approved by WhatsApp ({template.status.lower() or 'unknown status'})"
    elif header_format and header_format not in ("TEXT", *HEADER_MEDIA):
        reason = f"Its header is a {header_format.lower()}: send it from WhatsApp Manager"
    else:
        kinds = {str(b.get("type") or "").upper() for b in buttons if isinstance(b, dict)}
        unsupported = kinds - {"QUICK_REPLY", "URL", "PHONE_NUMBER"}
        if unsupported:
            named = ", ".join(sorted(k.lower().replace("_", " ") for k in unsupported))
            reason = f"Its {named} button cannot be filled in from Parley yet"
    button_specs = []
    for index, button in enumerate(buttons if isinstance(buttons, list) else []):
        kind = str(button.get("type") or "").upper()
        url = str(button.get("url") or "")
        button_specs.append(
            {
                "index": index,
                "type": kind,
                "text": str(button.get("text") or ""),
                "url": url,
                "params": names(url) if kind == "URL" else [],
            }
        )
    return {
        "id": template.pk,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "status": template.status,
        "header": {
            "format": header_format or None,
            "text": str(header.get("text") or ""),
            "params": names(str(header.get("text") or "")) if header_format == "TEXT" else [],
            "media": header_format.lower() if header_format in HEADER_MEDIA else None,
            "accept": HEADER_MEDIA.get(header_format, ""),
        },
        "body": {"text": str(body.get("text") or ""), "params": names(str(body.get("text") or ""))},
        "footer": str(footer.get("text") or ""),
        "buttons": button_specs,
        "sendable": not reason,
        "reason": reason,
    }


def _fill(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def check_header_file(template: MessageTemplate, files: list[tuple[str, str]]) -> None:
    """The files sent with the template, `(filename, content type)` each: exactly one, of
    the header's kind, when its header is an image, video or document; else none. Raises
    TemplateError."""
    media = spec(template)["header"]["media"]
    if media is None:
        if files:
            raise TemplateError("This template takes no file: its header is not a file.")
        return
    if len(files) != 1:
        raise TemplateError(f"Attach the header's {media} (one file).")
    filename, content_type = files[0]
    accepted = HEADER_MEDIA[media.upper()]
    if accepted and content_type not in accepted.split(","):
        raise TemplateError(
            f"The header takes a {media} ({accepted.replace(',', ', ')}); "
            f"{filename} is {content_type or 'of an unknown type'}."
        )


def clean_params(template: MessageTemplate, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters, checked against the template: {"header": {name: value}, "body":
    {name: value}, "buttons": {index: {name: value}}}. Raises TemplateError."""
    described = spec(template)
    if not described["sendable"]:
        raise TemplateError(described["reason"])
    cleaned: dict[str, Any] = {"header": {}, "body": {}, "buttons": {}}

    def take(part: str, wanted: list[str], given: Any, where: str) -> dict[str, str]:
        if isinstance(given, list):  # positional values: {{1}}, {{2}}…
            given = {str(i + 1): v for i, v in enumerate(given)}
        given = given if isinstance(given, dict) else {}
        values = {}
        for name in wanted:
            value = " ".join(str(given.get(name) or "").split())
            if not value:
                raise TemplateError(f"Fill in {{{{{name}}}}} of the {where}.")
            if len(value) > MAX_PARAM_CHARS:
                raise TemplateError(f"{{{{{name}}}}} of the {where} is too long.")
            values[name] = value
        return values

    cleaned["header"] = take(
        "header", described["header"]["params"], params.get("header"), "header"
    )
    cleaned["body"] = take("body", described["body"]["params"], params.get("body"), "message")
    given_buttons = params.get("buttons") if isinstance(params.get("buttons"), dict) else {}
    for button in described["buttons"]:
        if button["params"]:
            values = take(
                "button",
                button["params"],
                (given_buttons or {}).get(str(button["index"])),
                f"“{button['text']}” button",
            )
            cleaned["buttons"][str(button["index"])] = values
    return cleaned


def render(template: MessageTemplate, params: dict[str, Any]) -> str:
    """The text an agent sees in the thread for a template send: header, body, footer and
    the buttons' labels, with the parameters filled."""
    described = spec(template)
    parts = []
    if described["header"]["format"] == "TEXT" and described["header"]["text"]:
        parts.append(_fill(described["header"]["text"], params.get("header") or {}))
    parts.append(_fill(described["body"]["text"], params.get("body") or {}))
    if described["footer"]:
        parts.append(described["footer"])
    labels = [f"[{b['text']}]" for b in described["buttons"] if b["text"]]
    if labels:
        parts.append(" ".join(labels))
    return "\n\n".join(part for part in parts if part)


def _parameters(values: dict[str, str], named: bool) -> list[dict[str, Any]]:
    rows = []
    # Positional parameters go in their number's order ({{1}}, {{2}}…), whatever order the
    # stored JSON kept them in.
    ordered = values.items() if named else sorted(values.items(), key=lambda kv: int(kv[0]))
    for name, value in ordered:
        row: dict[str, Any] = {"type": "text", "text": value}
        if named:
            row["parameter_name"] = name
        rows.append(row)
    return rows


def api_object(stored: dict[str, Any], header_file: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Cloud API `template` object for a template send kept on a message
    (`message.data["template"]`: name, language, params, named, header_media);
    `header_file`: the uploaded header file (`{"id": media id}`, a document's filename)."""
    params, named = stored.get("params") or {}, bool(stored.get("named"))
    components: list[dict[str, Any]] = []
    media = stored.get("header_media")
    if media and header_file is not None:
        components.append({"type": "header", "parameters": [{"type": media, media: header_file}]})
    elif params.get("header"):
        components.append({"type": "header", "parameters": _parameters(params["header"], named)})
    if params.get("body"):
        components.append({"type": "body", "parameters": _parameters(params["body"], named)})
    for index, values in sorted((params.get("buttons") or {}).items()):
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": str(index),
                "parameters": _parameters(values, False),
            }
        )
    body: dict[str, Any] = {"name": stored["name"], "language": {"code": stored["language"]}}
    if components:
        body["components"] = components
    return body


def fetch(inbox: Inbox) -> list[dict[str, Any]]:
    """All of the WhatsApp Business Account's templates, page by page. Raises GraphError."""
    waba = str((inbox.settings or {}).get("business_account_id") or "")
    if not waba:
        raise GraphError("Set the WhatsApp Business Account id first.")
    graph = Graph(str(inbox.get_secrets().get("access_token") or ""))
    url = graph.url(f"{waba}/message_templates", {"fields": FIELDS, "limit": 100})
    base = urllib.parse.urlsplit(settings.META_GRAPH_URL).netloc
    rows: list[dict[str, Any]] = []
    for _page in range(MAX_PAGES):
        answer = graph.request(url, method="GET")
        rows.extend(row for row in answer.get("data") or [] if isinstance(row, dict))
        following = str((answer.get("paging") or {}).get("next") or "")
        if not following or urllib.parse.urlsplit(following).netloc != base:
            break  # never follow a "next" link off the Graph API's host
        url = following
    return rows
