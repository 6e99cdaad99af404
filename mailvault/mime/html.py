"""HTML body to readable plain text (for reading, snippets and the index); no script survives."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_BLANK_LINES = re.compile(r"\n[ \t\u00a0]*(?:\n[ \t\u00a0]*)+")
_SPACES = re.compile(r"[ \t\u00a0]+")


def html_to_text(html: str) -> str:
    tree = LexborHTMLParser(html)
    for node in tree.css("script, style, head, title, noscript, template"):
        node.decompose()
    root = tree.body or tree.root
    if root is None:
        return ""
    text = root.text(separator="\n", strip=True)
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip()
