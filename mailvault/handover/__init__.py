"""The handover of a departing employee: secure, reconcile, customers, successor, evidence."""
