"""IMAP import and continuous sync of employee mailboxes."""
