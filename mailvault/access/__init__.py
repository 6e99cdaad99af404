"""Who may use the archive and what they did: users, roles and grants, sessions, the audit trail."""
