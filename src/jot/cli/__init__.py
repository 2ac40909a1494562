"""jot.cli."""
