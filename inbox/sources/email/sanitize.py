"""Email HTML as we keep it: layout and inline styles survive (the agent UI shows it in a
sandboxed iframe with a strict Content-Security-Policy, which also keeps remote images out
until the agent asks for them); scripts, handlers, forms, frames and unknown URL schemes
do not."""

from __future__ import annotations

import nh3

TAGS = nh3.ALLOWED_TAGS | {"font", "tfoot"}  # <style> blocks go: inline styles stay
GENERIC_ATTRIBUTES = {
    "style", "align", "valign", "width", "height", "bgcolor", "dir", "lang", "title", "border",
}  # fmt: skip
ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": GENERIC_ATTRIBUTES,
    "font": {"color", "face", "size"},
    "table": {"cellpadding", "cellspacing", "summary", "align"},
    "td": {"colspan", "rowspan", "nowrap"},
    "th": {"colspan", "rowspan", "nowrap", "scope"},
    "img": {"src", "alt", "width", "height"},
    "a": {"href", "name", "hreflang"},
}
# CSS a message may use for its own layout; nothing that positions over the page or loads.
STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "line-height", "letter-spacing", "text-align", "text-decoration",
    "text-transform", "text-indent", "vertical-align", "white-space", "word-break",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-color",
    "border-style", "border-width", "border-radius", "border-collapse", "border-spacing",
    "width", "max-width", "min-width", "height", "max-height", "min-height", "display",
    "list-style-type", "table-layout",
}  # fmt: skip
URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def sanitize_email_html(html: str) -> str:
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags={"script", "style", "title", "head"},
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        filter_style_properties=STYLE_PROPERTIES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        url_relative="deny",  # a relative URL in a customer's email could only hit our own app
    )
