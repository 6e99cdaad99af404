"""The SMTP gateway: journals every message durably before answering, relays where configured."""
