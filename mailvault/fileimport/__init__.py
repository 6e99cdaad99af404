"""Import of mail files from disk (mbox, Maildir, single messages) through the ingest path."""
