"""jot.api."""
