"""jot.destination."""
