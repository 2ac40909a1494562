"""The page functions of the web console, one module per area."""

__all__: list[str] = []
