"""The tamper-evident ledger: a hash chain over every arrival, audit event and purge."""
