"""jot: short-lived signed identity tokens."""

__all__ = ["__version__"]

__version__ = "0.1.0"
