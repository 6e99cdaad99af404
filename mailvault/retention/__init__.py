"""Retention rules, legal holds, and the purge: the only code path that deletes archived mail."""
