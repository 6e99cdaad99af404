"""Risk signals: the patterns that precede customer theft, found in archived mail."""
