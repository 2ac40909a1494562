"""Route handlers: ``(ctx, ...) -> response model``, listed in :mod:`jot.authority.routes`."""
