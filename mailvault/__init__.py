"""mailvault: the company, not the employee, keeps every business message."""

__version__ = "0.1.0"
