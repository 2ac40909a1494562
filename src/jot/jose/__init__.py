"""jot.jose."""
