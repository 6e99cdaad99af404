"""Showing a message safely. Email HTML is hostile until proven otherwise: it is sanitised here
(nh3, the Ammonia sanitiser: no scripts, event handlers, forms, frames, styles sheets or unsafe
CSS), then shown in a sandboxed frame without scripts under a Content-Security-Policy that blocks
every load except images embedded in the message. Remote images stay blocked unless the reader
asks for them on that one page view.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import nh3

from mailvault.mime.parse import parse_for_display
from mailvault.mime.walk import Walker

# Inline (cid:) images are embedded as data: URIs up to this many bytes in total.
MAX_EMBEDDED = 8 * 1024 * 1024
_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
_TAGS = set(nh3.ALLOWED_TAGS) | {"font"}
_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(values) for tag, values in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"style", "title", "dir", "lang", "align", "valign", "bgcolor", "width", "height"},
    "font": {"color", "face", "size"},
    "td": {*nh3.ALLOWED_ATTRIBUTES["td"], "nowrap"},
}
# CSS that formats text; nothing that positions, overlays or loads (no url(), position, content).
_STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "line-height",
    "letter-spacing",
    "white-space",
    "vertical-align",
    "margin",
    "margin-top",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "padding",
    "padding-top",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "border",
    "border-top",
    "border-bottom",
    "border-left",
    "border-right",
    "border-color",
    "border-style",
    "border-width",
    "border-collapse",
    "border-spacing",
    "width",
    "max-width",
    "min-width",
    "height",
    "list-style-type",
    "direction",
}


@dataclass
class Body:
    text: str
    html: str | None  # sanitised; None when the message has no HTML part
    remote_blocked: int = 0  # remote images left out
    remote_shown: bool = False
    problems: list[str] = field(default_factory=list)


def body_of(raw: bytes, *, show_remote: bool = False) -> Body:
    walker = parse_for_display(raw)
    result = walker.result
    if not walker.html:
        return Body(result.text, None, problems=list(result.problems))
    return sanitise(walker.html[0], walker, result.text, show_remote=show_remote)


def sanitise(html: str, walker: Walker, text: str, *, show_remote: bool) -> Body:
    body = Body(text, None, remote_shown=show_remote, problems=list(walker.result.problems))
    budget = [MAX_EMBEDDED]

    def keep(element: str, attribute: str, value: str) -> str | None:
        if attribute in ("src", "background") and element != "img":
            return None
        if attribute == "src":
            return _image_source(value, walker, body, budget, show_remote)
        if attribute == "href":
            return value if value.lower().startswith(("http:", "https:", "mailto:")) else None
        return value

    body.html = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=keep,
        clean_content_tags={"script", "style", "title", "head", "noscript", "template", "object", "svg"},
        url_schemes={"http", "https", "mailto", "data", "cid"},
        filter_style_properties=_STYLE_PROPERTIES,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return body


def _image_source(value: str, walker: Walker, body: Body, budget: list[int], show_remote: bool) -> str | None:
    lowered = value.strip().lower()
    if lowered.startswith("cid:"):
        position = walker.content_ids.get(value.strip()[4:].strip("<>"))
        if position is None:
            return None
        attachment = walker.result.attachments[position]
        data = walker.contents[position]
        if attachment.content_type not in _IMAGE_TYPES or len(data) > budget[0]:
            return None
        budget[0] -= len(data)
        return f"data:{attachment.content_type};base64," + base64.b64encode(data).decode("ascii")
    if lowered.startswith(("http:", "https:", "//")):
        if show_remote:
            return value
        body.remote_blocked += 1
        return None
    if (
        lowered.startswith("data:image/")
        and ";base64," in lowered
        and not lowered.startswith("data:image/svg")
    ):
        return value
    return None


def frame_policy(show_remote: bool) -> str:
    """The CSP of a page that shows a message: nothing loads but our own stylesheet and script,
    embedded images, and (only when asked) remote images."""
    images = "'self' data: https: http:" if show_remote else "'self' data:"
    return (
        f"default-src 'none'; img-src {images}; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
