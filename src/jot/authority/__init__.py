"""jot.authority."""
