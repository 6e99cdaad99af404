"""The web app for managers, auditors and IT: server-rendered pages and a JSON API under /api."""
