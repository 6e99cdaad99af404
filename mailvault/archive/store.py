"""The opened archive: database, blob store and the ingest path, built from settings."""

from __future__ import annotations

from types import TracebackType

from mailvault.archive.blobs import LocalBlobStore
from mailvault.archive.db import Database
from mailvault.archive.ingest import Ingestor, ParseMap, parse_in_process
from mailvault.archive.migrate import ensure_schema
from mailvault.config import Settings


class Archive:
    """Everything that reads or writes archived mail goes through one of these."""

    def __init__(self, settings: Settings, *, parse_map: ParseMap = parse_in_process) -> None:
        self.settings = settings
        self.db = Database(settings.archive.resolved_database_url)
        try:
            ensure_schema(self.db)
        except BaseException:
            self.db.dispose()
            raise
        self.blobs = LocalBlobStore(settings.archive.resolved_blob_dir, settings.archive.compression_level)
        self.ingestor = Ingestor(
            self.db,
            self.blobs,
            company_domains=settings.archive.company_domains,
            parse_map=parse_map,
        )

    def close(self) -> None:
        self.blobs.close()
        self.db.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
