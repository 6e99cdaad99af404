"""Responses that hand files to the browser."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Response

# Downloads are never rendered: an attachment may be hostile HTML or SVG.
_DOWNLOAD_POLICY = "default-src 'none'; sandbox"


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback for old clients and the real (e.g. Chinese) name in filename*."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_response(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(filename),
            "Content-Security-Policy": _DOWNLOAD_POLICY,
        },
    )
