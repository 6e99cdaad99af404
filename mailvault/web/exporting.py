"""Exports from the web app: a message, a conversation or a search result, as a zip of .eml
files or as mbox, each with manifest.json and SHA256SUMS (archive/bundle.py). Only messages the
user may read go in; the audit record holds what went out and the SHA-256 of the file handed
over, so an export produced as evidence can be matched to its record."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO

from fastapi import Response
from fastapi.responses import StreamingResponse

from mailvault.access.audit import Action
from mailvault.archive.bundle import write_mbox_zip, write_zip
from mailvault.errors import MailvaultError
from mailvault.index.engine import Sort
from mailvault.index.query import parse
from mailvault.web import reading
from mailvault.web.context import Viewer, WebState
from mailvault.web.responses import content_disposition

AUDITED_IDS = 2000  # the audit record lists at most this many message ids (and counts them all)


class ExportError(MailvaultError):
    """What was asked cannot be exported (too many messages, nothing chosen)."""


def messages_for(
    state: WebState, viewer: Viewer, *, message: int | None, thread: int | None, query: str | None
) -> tuple[list[int], str]:
    """The ids to export, each readable by the viewer, and a description for the manifest."""
    if message is not None:
        reading.readable(state, viewer, message, Action.EXPORT, f"export of message {message}")
        return [message], f"message {message}"
    if thread is not None:
        found = reading.thread(state, viewer, thread)
        return [node.archive_id for _, node in found.messages()], f"conversation of message {thread}"
    if query is not None:
        limit = state.settings.web.export_limit
        tree = viewer.scope.restrict(parse(query))
        if tree is None:
            return [], f"search: {query}"
        with state.search as engine:
            page = engine.search(tree, sort=Sort.DATE, offset=0, limit=limit + 1)
        if page.total > limit:
            raise ExportError(
                f"the search finds {page.total:,} messages; one export holds at most {limit:,} "
                "([web] export_limit): narrow it, e.g. with after: and before:"
            )
        with state.archive.db.reading() as session:
            allowed = viewer.scope.visible(session, [hit.archive_id for hit in page.hits])
        return [hit.archive_id for hit in page.hits if hit.archive_id in allowed], f"search: {query}"
    raise ExportError("choose what to export: a message, a conversation or a search")


def export_response(state: WebState, viewer: Viewer, ids: list[int], what: str, fmt: str) -> Response:
    if not ids:
        raise ExportError("nothing to export: no message you may read matches")
    writer = write_mbox_zip if fmt == "mbox" else write_zip
    spool_dir = state.settings.archive.data_dir / "tmp"
    spool_dir.mkdir(parents=True, exist_ok=True)
    # An unnamed file: nothing is left behind, whether the download completes or not.
    handle = tempfile.TemporaryFile(dir=spool_dir, prefix="export-")  # noqa: SIM115 (closed by _chunks)
    try:
        manifest = writer(
            handle,
            state.archive,
            ids,
            title=f"mailvault export: {what}",
            exported_by=viewer.user.username,
            query=what,
        )
        size, digest = os.fstat(handle.fileno()).st_size, _sha256(handle)
    except BaseException:
        handle.close()
        raise
    reading.record(
        state,
        viewer,
        Action.EXPORT,
        target=what,
        count=manifest.count,
        detail={"format": fmt, "sha256": digest, "archive_ids": ids[:AUDITED_IDS]},
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"mailvault-export-{stamp}{'-mbox' if fmt == 'mbox' else ''}.zip"
    headers = {
        "Content-Disposition": content_disposition(name),
        "Content-Length": str(size),
        "X-Export-SHA256": digest,
    }
    return StreamingResponse(chunks_of(handle), media_type="application/zip", headers=headers)


def chunks_of(handle: IO[bytes]) -> Iterator[bytes]:
    """The spooled file's bytes, from the start; closes (and so removes) it at the end."""
    with handle:
        handle.seek(0)
        yield from iter(lambda: handle.read(1 << 20), b"")


def _sha256(handle: IO[bytes]) -> str:
    handle.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()
