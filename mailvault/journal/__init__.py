"""The receive journal: raw messages and how they arrived, fsynced before they are acknowledged,
then archived by a drain through the one ingest path (used by the SMTP gateway and IMAP import)."""
