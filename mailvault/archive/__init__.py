"""The archive: raw messages in a content-addressed store, their metadata in SQL; the one write path."""
