"""Live quotes: publish, read, and the checked quote a fill needs."""
